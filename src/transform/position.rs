//! Maps character offsets in a transform's text back to `file:line:col`, whether the transform is
//! a `.jsonata` file, a YAML block scalar (`|`, `>`, with chomping and indentation indicators), a
//! quoted YAML string with escapes and line folding, or a plain multi-line scalar.
//!
//! The YAML parser gives the node's span and style, not where each decoded character came from,
//! so the scalar is decoded again here with a source offset kept for every character. The decoded
//! text is compared with the value the spec holds; if they differ (a YAML feature not modelled
//! here), the whole node's span is used rather than a wrong column.

use std::path::{Path, PathBuf};

use crate::diag::Span;
use crate::spec::yaml::{Loc, Style};
use crate::spec::{Spec, TransformOrigin};

/// The file and span of expression offsets `[start, end)`. Pure: the text is the one the spec was
/// loaded from (`Spec::text`, and each transform file's `TransformSource::text`), so positions are
/// right for an editor's unsaved buffer too.
pub fn locate(spec: &Spec, origin: &TransformOrigin, start: usize, end: usize) -> (PathBuf, Span) {
    match origin {
        TransformOrigin::File { path } => {
            let text = spec.rules.iter().find_map(|r| {
                r.transform
                    .as_ref()
                    .filter(|t| t.origin == *origin)
                    .map(|t| t.text.as_str())
            });
            let span = text
                .map(|text| Span::from_offsets(text, start, end))
                .unwrap_or_default();
            (path.clone(), span)
        }
        TransformOrigin::Inline { pointer } => {
            let fallback = spec.span(pointer).unwrap_or_default();
            let span = (|| {
                let loc = spec.map.get(pointer)?;
                let value = spec.tree.pointer(pointer)?.as_str()?;
                locate_in(&spec.text, loc, value, start, end)
            })();
            (spec.path.clone(), span.unwrap_or(fallback))
        }
    }
}

/// The span in `source` (a YAML file) of offsets `[start, end)` of the scalar `value` written at
/// `loc`; `None` when the scalar cannot be decoded to exactly `value`.
pub fn locate_in(source: &str, loc: &Loc, value: &str, start: usize, end: usize) -> Option<Span> {
    let src: Vec<char> = source.chars().collect();
    let map = decode(&src, loc, value)?;
    // Past the end: just after the last character.
    let after = map
        .last()
        .map(|&(_, e)| e)
        .unwrap_or(loc.value.start.offset);
    let s = map.get(start).map(|&(s, _)| s).unwrap_or(after);
    let e = if end > start {
        map.get(end - 1).map(|&(_, e)| e).unwrap_or(after)
    } else {
        s
    };
    Some(Span::from_offsets(source, s, e.max(s)))
}

/// The source range `[start, end)` (character offsets in `source`) of every character of the
/// scalar `value` written at `loc`; `None` when the scalar does not decode to exactly `value`.
pub fn scalar_ranges(source: &str, loc: &Loc, value: &str) -> Option<Vec<(usize, usize)>> {
    let src: Vec<char> = source.chars().collect();
    decode(&src, loc, value)
}

/// The source range of every character of the scalar at `loc`, if decoding it gives `value`.
fn decode(src: &[char], loc: &Loc, value: &str) -> Option<Vec<(usize, usize)>> {
    let want: Vec<char> = value.chars().collect();
    let start = loc.value.start.offset;
    let out = match loc.style {
        Style::DoubleQuoted => flow(src, start, '"', want.len())?,
        Style::SingleQuoted => flow(src, start, '\'', want.len())?,
        Style::Plain => flow(src, start, '\0', want.len())?,
        Style::Literal | Style::Folded => block(src, loc, loc.style == Style::Folded, want.len())?,
        Style::Collection => return None,
    };
    let chars: Vec<char> = out.iter().map(|&(c, _, _)| c).collect();
    (chars == want).then(|| out.into_iter().map(|(_, s, e)| (s, e)).collect())
}

/// A decoded character and the source range `[start, end)` it was written as.
type Decoded = (char, usize, usize);

fn is_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Index just past the line break at `i` (`\r\n`, `\n` or `\r`).
fn skip_break(src: &[char], i: usize) -> usize {
    if src.get(i) == Some(&'\r') && src.get(i + 1) == Some(&'\n') {
        i + 2
    } else {
        i + 1
    }
}

/// Decodes a flow scalar: double-quoted (`quote == '"'`, escapes), single-quoted (`''`), or plain
/// (`quote == '\0'`, read until `limit` characters). Line breaks fold as YAML says: one break is a
/// space, each further empty line a newline; whitespace around breaks is dropped.
fn flow(src: &[char], start: usize, quote: char, limit: usize) -> Option<Vec<Decoded>> {
    let mut out: Vec<Decoded> = Vec::new();
    let mut i = start;
    if quote != '\0' {
        if src.get(i) != Some(&quote) {
            return None;
        }
        i += 1;
    }
    while i < src.len() {
        if quote == '\0' && out.len() >= limit {
            break;
        }
        let c = src[i];
        if quote != '\0' && c == quote {
            if quote == '\'' && src.get(i + 1) == Some(&'\'') {
                out.push(('\'', i, i + 2));
                i += 2;
                continue;
            }
            return Some(out);
        }
        if quote == '"' && c == '\\' {
            let e = *src.get(i + 1)?;
            if is_break(e) {
                // An escaped line break joins the lines with nothing between them.
                i = skip_break(src, i + 1);
                while src.get(i).copied().is_some_and(is_blank) {
                    i += 1;
                }
                continue;
            }
            let hex = |n: usize| -> Option<char> {
                let s: String = src.get(i + 2..i + 2 + n)?.iter().collect();
                char::from_u32(u32::from_str_radix(&s, 16).ok()?)
            };
            let (ch, len) = match e {
                '0' => ('\0', 2),
                'a' => ('\u{7}', 2),
                'b' => ('\u{8}', 2),
                't' | '\t' => ('\t', 2),
                'n' => ('\n', 2),
                'v' => ('\u{b}', 2),
                'f' => ('\u{c}', 2),
                'r' => ('\r', 2),
                'e' => ('\u{1b}', 2),
                ' ' => (' ', 2),
                '"' => ('"', 2),
                '/' => ('/', 2),
                '\\' => ('\\', 2),
                'N' => ('\u{85}', 2),
                '_' => ('\u{a0}', 2),
                'L' => ('\u{2028}', 2),
                'P' => ('\u{2029}', 2),
                'x' => (hex(2)?, 4),
                'u' => (hex(4)?, 6),
                'U' => (hex(8)?, 10),
                _ => return None,
            };
            out.push((ch, i, i + len));
            i += len;
            continue;
        }
        if is_blank(c) {
            // Whitespace before a line break is dropped; elsewhere it is content.
            let mut j = i;
            while src.get(j).copied().is_some_and(is_blank) {
                j += 1;
            }
            if src.get(j).copied().is_some_and(is_break) {
                i = j;
                continue;
            }
            out.extend((i..j).map(|k| (src[k], k, k + 1)));
            i = j;
            continue;
        }
        if is_break(c) {
            let first = i;
            let mut breaks = Vec::new();
            i = skip_break(src, i);
            loop {
                let mut j = i;
                while src.get(j).copied().is_some_and(is_blank) {
                    j += 1;
                }
                if src.get(j).copied().is_some_and(is_break) {
                    breaks.push(j);
                    i = skip_break(src, j);
                } else {
                    i = j;
                    break;
                }
            }
            if breaks.is_empty() {
                out.push((' ', first, first + 1));
            } else {
                out.extend(breaks.into_iter().map(|b| ('\n', b, b + 1)));
            }
            continue;
        }
        out.push((c, i, i + 1));
        i += 1;
    }
    (quote == '\0').then_some(out)
}

/// Line boundaries: (start, end-before-break, next-line-start).
fn lines_from(src: &[char], mut i: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    while i < src.len() {
        let s = i;
        while i < src.len() && !is_break(src[i]) {
            i += 1;
        }
        let e = i;
        let next = if i < src.len() { skip_break(src, i) } else { i };
        out.push((s, e, next));
        i = next;
    }
    out
}

/// Decodes a block scalar (`|` literal or `>` folded) whose content starts at `loc`.
fn block(src: &[char], loc: &Loc, folded: bool, limit: usize) -> Option<Vec<Decoded>> {
    // The node's span starts at its content; its header (`|2-`, `>+ # note`) is the nearest line
    // above that ends in one.
    let content_line_start = {
        let mut i = loc.value.start.offset.min(src.len());
        while i > 0 && !is_break(src[i - 1]) {
            i -= 1;
        }
        i
    };
    let mut header_end = content_line_start;
    let indicator = loop {
        if header_end == 0 {
            return None;
        }
        // Previous line.
        let mut e = header_end - 1;
        if e > 0 && src[e] == '\n' && src[e - 1] == '\r' {
            e -= 1;
        }
        let mut s = e;
        while s > 0 && !is_break(src[s - 1]) {
            s -= 1;
        }
        let line: String = src[s..e].iter().collect();
        let code = match line.find(" #") {
            Some(k) => &line[..k],
            None => line.as_str(),
        };
        if let Some(tok) = code.split_whitespace().last() {
            let mut cs = tok.chars();
            if matches!(cs.next(), Some('|' | '>'))
                && tok.len() <= 3
                && cs.all(|c| c.is_ascii_digit() || c == '+' || c == '-')
            {
                header_end = s;
                break tok.chars().find(|c| c.is_ascii_digit());
            }
        }
        if !line.trim().is_empty() {
            return None;
        }
        header_end = s;
    };
    let lines = lines_from(src, content_line_start_after(src, header_end));
    let indent_of =
        |(s, e, _): (usize, usize, usize)| (s..e).take_while(|&k| src[k] == ' ').count();
    let is_empty = |(s, e, _): (usize, usize, usize)| (s..e).all(|k| is_blank(src[k]));
    let indent = match indicator {
        Some(d) => {
            let parent = loc
                .key
                .map(|k| k.start.column.saturating_sub(1))
                .unwrap_or(0);
            parent + d.to_digit(10)? as usize
        }
        None => lines
            .iter()
            .find(|l| !is_empty(**l))
            .map(|l| indent_of(*l))?,
    };
    let mut out: Vec<Decoded> = Vec::new();
    // Breaks seen since the last content line, and whether that line was "more indented".
    let mut pending: Vec<usize> = Vec::new();
    let mut prev: Option<bool> = None;
    for &(s, e, next) in &lines {
        if out.len() >= limit {
            break;
        }
        let line = (s, e, next);
        if is_empty(line) && indent_of(line) <= indent {
            pending.push(e);
            continue;
        }
        if indent_of(line) < indent {
            break;
        }
        let body = s + indent;
        let spaced = src.get(body).copied().is_some_and(is_blank);
        if let Some(prev_spaced) = prev {
            // `pending[0]` is the break that ended the previous content line.
            if folded && !prev_spaced && !spaced {
                if pending.len() == 1 {
                    out.push((' ', pending[0], pending[0] + 1));
                } else {
                    out.extend(pending[1..].iter().map(|&b| ('\n', b, b + 1)));
                }
            } else {
                out.extend(pending.iter().map(|&b| ('\n', b, b + 1)));
            }
        } else {
            out.extend(pending.iter().map(|&b| ('\n', b, b + 1)));
        }
        pending.clear();
        out.extend((body..e).map(|k| (src[k], k, k + 1)));
        pending.push(e);
        prev = Some(spaced);
    }
    // Chomping: a trailing newline is kept (clip/keep) when the value has one.
    for b in pending {
        if out.len() < limit {
            out.push(('\n', b, b + 1));
        }
    }
    Some(out)
}

/// The start of the line after the one starting at `header_line_start`.
fn content_line_start_after(src: &[char], header_line_start: usize) -> usize {
    let mut i = header_line_start;
    while i < src.len() && !is_break(src[i]) {
        i += 1;
    }
    if i < src.len() {
        skip_break(src, i)
    } else {
        i
    }
}

/// The file a transform origin names, for messages.
pub fn origin_file<'a>(spec: &'a Spec, origin: &'a TransformOrigin) -> &'a Path {
    match origin {
        TransformOrigin::Inline { .. } => &spec.path,
        TransformOrigin::File { path } => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml;

    /// Parses `yaml`, takes the string at `/t`, finds `needle` in it and returns the line and
    /// column where `needle` starts and ends in the YAML.
    fn at(src: &str, needle: &str) -> ((usize, usize), (usize, usize)) {
        let doc = yaml::parse(src).unwrap();
        let value = doc.value.pointer("/t").unwrap().as_str().unwrap();
        let byte = value
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {value:?}"));
        let start = value[..byte].chars().count();
        let end = start + needle.chars().count();
        let loc = doc.map.get("/t").unwrap();
        let span = locate_in(src, loc, value, start, end)
            .unwrap_or_else(|| panic!("could not decode {:?} {value:?}", loc.style));
        (
            (span.start.line, span.start.column),
            (span.end.line, span.end.column),
        )
    }

    #[test]
    fn literal_block_scalar() {
        let src = "x: 1\nt: |\n  { \"a\": foo\n    bar }\n";
        assert_eq!(at(src, "bar"), ((4, 5), (4, 8)));
        let src = "t: |-\n    a\n\n    $if(x) 1\n";
        assert_eq!(at(src, "$if"), ((4, 5), (4, 8)));
    }

    #[test]
    fn block_scalar_with_indentation_indicator_and_comment() {
        let src = "t: |2 # leading spaces kept\n    a\n   b.c?.d\n";
        assert_eq!(at(src, "?."), ((3, 7), (3, 9)));
    }

    #[test]
    fn folded_block_scalar_joins_lines_with_spaces() {
        let src = "t: >\n  a &\n  b ?. c\n\n  d\n";
        assert_eq!(at(src, "b ?."), ((3, 3), (3, 7)));
        assert_eq!(at(src, "d"), ((5, 3), (5, 4)));
        // The folded space maps to the end of the line it replaced.
        assert_eq!(at(src, "& b"), ((2, 5), (3, 4)));
    }

    #[test]
    fn double_quoted_with_escapes_and_folding() {
        let src = "t: \"{ \\\"a\\\": $if(x) \\u00e9\\n\n   $end }\"\n";
        assert_eq!(at(src, "$if"), ((1, 14), (1, 17)));
        assert_eq!(at(src, "é"), ((1, 21), (1, 27)));
        assert_eq!(at(src, "$end"), ((2, 4), (2, 8)));
    }

    #[test]
    fn single_quoted_with_doubled_quotes() {
        let src = "t: '$x = ''it''''s'' ?. y'\n";
        assert_eq!(at(src, "?."), ((1, 22), (1, 24)));
    }

    #[test]
    fn plain_multi_line_scalar() {
        let src = "t: a.b\n  and c?.d\n";
        assert_eq!(at(src, "?."), ((2, 8), (2, 10)));
    }

    #[test]
    fn a_scalar_that_does_not_decode_to_the_value_gives_none() {
        let src = "t: \"abc\"\n";
        let doc = yaml::parse(src).unwrap();
        let loc = doc.map.get("/t").unwrap();
        assert!(locate_in(src, loc, "something else", 0, 1).is_none());
    }
}
