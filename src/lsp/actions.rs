//! Code actions and go-to-definition.
//!
//! - **Rewrite the guide's dialect**: the edit is `cxsync fix`'s own plan
//!   ([`checks::plan_fixes`]) for the file, as minimal line edits.
//! - **Did you mean**: an unknown key, a value outside its set, an input path no fixture has, an
//!   unknown code in a suppression — replaced by the suggestion the diagnostic's help names.
//! - **Suppress CXnnn on this line**: a `# cxsync: ignore[CXnnn]` comment (or `/* … */` inside
//!   a transform), or the code added to the line's existing one.
//! - **Definition** of `transformFile`, `fixtures` (each file a glob matches),
//!   `crm.payloadSchema` and a rule's own `payloadSchema`.

use std::path::{Path, PathBuf};

use ls_types::{Position, Range, TextEdit};

use crate::diag::Diagnostic;
use crate::lint::{registry, suppress};
use crate::spec::yaml::{self, Style};
use crate::transform::checks;

use super::overlay::normalize;
use super::place;
use super::text::{Encoding, Lines};
use super::world::World;

/// A code action, before it is put in protocol terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub title: String,
    /// The diagnostic it resolves.
    pub diagnostic: Diagnostic,
    /// Edits of the one file the diagnostic is in.
    pub edits: Vec<TextEdit>,
    pub preferred: bool,
}

/// The actions for the diagnostics of `path` on lines `range` touches.
pub fn actions(world: &World, path: &Path, range: Range) -> Vec<Action> {
    let Some(text) = world.checked_text(path) else {
        return Vec::new();
    };
    let lines = Lines::new(&text);
    let (first, last) = (range.start.line as usize + 1, range.end.line as usize + 1);
    let mut out = Vec::new();
    let mut dialect_done = false;
    for d in world.diagnostics(path) {
        let Some(span) = d.span else { continue };
        if span.end.line < first || span.start.line > last {
            continue;
        }
        let code = d.code.as_str();
        if matches!(
            code,
            "CX024" | checks::DIALECT_IF | checks::DIALECT_OPTIONAL_CHAIN
        ) && !dialect_done
        {
            if let Some(edits) = dialect_edits(world, path, &text, world.enc) {
                dialect_done = true;
                out.push(Action {
                    title: "Rewrite the guide's JSONata dialect (as `cxsync fix`)".into(),
                    diagnostic: d.clone(),
                    edits,
                    preferred: true,
                });
            }
        }
        if let Some((title, edit)) = did_you_mean(&d, &text, &lines, world.enc) {
            out.push(Action {
                title,
                diagnostic: d.clone(),
                edits: vec![edit],
                preferred: true,
            });
        }
        if code.starts_with("CX") && code != registry::UNUSED_SUPPRESSION {
            if let Some(edit) = suppress_edit(path, &text, &lines, span.start.line, code, world.enc)
            {
                out.push(Action {
                    title: format!("Suppress {code} on this line"),
                    diagnostic: d.clone(),
                    edits: vec![edit],
                    preferred: false,
                });
            }
        }
    }
    out
}

/// `cxsync fix`'s rewrite of `path` (by the spec that reads it), as edits of `text`.
fn dialect_edits(world: &World, path: &Path, text: &str, enc: Encoding) -> Option<Vec<TextEdit>> {
    let file = normalize(path);
    for spec_path in world.specs_reading(path) {
        let Some(spec) = world
            .results
            .get(&spec_path)
            .and_then(|r| r.checked.spec.as_ref())
        else {
            continue;
        };
        let Ok((fixes, _)) = checks::plan_fixes(spec) else {
            continue;
        };
        if let Some(f) = fixes.into_iter().find(|f| normalize(&f.path) == file) {
            if f.before == text {
                return Some(line_edits(&f.before, &f.after, enc));
            }
        }
    }
    None
}

/// Edits that turn `before` into `after`, one per changed run of lines.
pub fn line_edits(before: &str, after: &str, enc: Encoding) -> Vec<TextEdit> {
    let diff = similar::TextDiff::from_lines(before, after);
    let old: Vec<&str> = diff.iter_old_slices().collect();
    let new: Vec<&str> = diff.iter_new_slices().collect();
    let byte = |i: usize| old[..i].iter().map(|l| l.len()).sum::<usize>();
    let lines = Lines::new(before);
    diff.ops()
        .iter()
        .filter(|op| op.tag() != similar::DiffTag::Equal)
        .map(|op| {
            let (o, n) = (op.old_range(), op.new_range());
            TextEdit {
                range: Range::new(
                    lines.position_of_byte(byte(o.start), enc),
                    lines.position_of_byte(byte(o.end), enc),
                ),
                new_text: new[n].concat(),
            }
        })
        .collect()
}

/// The suggestion of a diagnostic whose help says "did you mean `X`?", as a replacement of the
/// word its span covers.
fn did_you_mean(
    d: &Diagnostic,
    text: &str,
    lines: &Lines,
    enc: Encoding,
) -> Option<(String, TextEdit)> {
    let help = d.help.as_deref()?;
    let rest = &help[help.find("did you mean `")? + "did you mean `".len()..];
    let suggestion = &rest[..rest.find('`')?];
    let span = d.span?;
    let chars: Vec<char> = text.chars().collect();
    let (mut s, mut e) = (span.start.offset, span.end.offset.min(chars.len()));
    match d.code.as_str() {
        // Span on the word itself: a key, a value, an input path.
        "E101" | "E104" | checks::UNKNOWN_PATH | "CX026" => {}
        // Span on the whole comment: find the unknown code in it.
        c if c == registry::UNUSED_SUPPRESSION => {
            let unknown = d.message.split('`').nth(1)?;
            let comment: String = chars.get(s..e)?.iter().collect();
            let at = comment
                .to_ascii_uppercase()
                .find(&unknown.to_ascii_uppercase())?;
            s += comment[..at].chars().count();
            e = s + unknown.chars().count();
        }
        _ => return None,
    }
    if s >= e || e > chars.len() {
        return None;
    }
    // A quoted key or value keeps its quotes.
    if e - s >= 2 && matches!(chars[s], '"' | '\'') && chars[e - 1] == chars[s] {
        s += 1;
        e -= 1;
    }
    let word: String = chars[s..e].iter().collect();
    if word.is_empty() || word.contains(char::is_whitespace) || word == suggestion {
        return None;
    }
    Some((
        format!("Replace `{word}` with `{suggestion}`"),
        TextEdit {
            range: lines.range_of_chars(s, e, enc),
            new_text: suggestion.to_string(),
        },
    ))
}

/// The edit that suppresses `code` on 1-based line `line` of `path`.
fn suppress_edit(
    path: &Path,
    text: &str,
    lines: &Lines,
    line: usize,
    code: &str,
    enc: Encoding,
) -> Option<TextEdit> {
    if line == 0 {
        return None;
    }
    let line_text = lines.line(line - 1);
    let start = lines.char_of(Position::new((line - 1) as u32, 0), enc);
    let at_col = |col: usize| lines.range_of_chars(start + col, start + col, enc).start;
    let line_end = at_col(line_text.chars().count());
    // The line has a suppression already: add the code to it.
    if let Some(s) = suppress::parse(text)
        .into_iter()
        .find(|s| s.line == line && !s.own_line)
    {
        let comment_start = s.span.start.column - 1;
        let comment: String = line_text.chars().skip(comment_start).collect();
        let close = comment.find(']')?;
        let at = at_col(comment_start + comment[..close].chars().count());
        return Some(TextEdit {
            range: Range::new(at, at),
            new_text: format!(", {code}"),
        });
    }
    let jsonata = format!(" /* cxsync: ignore[{code}] */");
    let comment = if place::is_jsonata(path) {
        jsonata
    } else {
        match scalar_continuing(text, line) {
            // Inside a transform, a `#` would be part of the expression.
            Some(pointer) if place::transform_rule(&pointer).is_some() => jsonata,
            // Inside another multi-line string there is no comment to add.
            Some(_) => return None,
            None => format!(" # cxsync: ignore[{code}]"),
        }
    };
    Some(TextEdit {
        range: Range::new(line_end, line_end),
        new_text: comment,
    })
}

/// The pointer of the string that goes on past the end of 1-based line `line`, if any.
fn scalar_continuing(text: &str, line: usize) -> Option<String> {
    let doc = yaml::parse(text).ok()?;
    let found = doc
        .map
        .entries()
        .find(|(_, loc)| {
            loc.style != Style::Collection
                && loc.value.start.line <= line
                && loc.value.end.line > line
        })
        .map(|(p, _)| p.clone());
    found
}

/// The files the key or value under the cursor names.
pub fn definition(world: &World, path: &Path, pos: Position) -> Vec<PathBuf> {
    if place::is_jsonata(path) {
        return Vec::new();
    }
    let Some(text) = world.text(path) else {
        return Vec::new();
    };
    let lines = Lines::new(&text);
    let (doc, node) = place::node(&text, lines.char_of(pos, world.enc));
    let (Some(doc), Some(node)) = (doc, node) else {
        return Vec::new();
    };
    let pointer = match node.pointer.strip_prefix("/environments/") {
        Some(rest) => rest[rest.find('/').unwrap_or(rest.len())..].to_string(),
        None => node.pointer.clone(),
    };
    let segs: Vec<&str> = pointer.split('/').skip(1).collect();
    let names_file = matches!(
        segs.as_slice(),
        ["rules", _, "transformFile"]
            | ["crm", "payloadSchema"]
            | ["rules", _, "payloadSchema"]
            | ["rules", _, "fixtures", _]
    );
    if !names_file {
        return Vec::new();
    }
    let Some(rel) = doc.value.pointer(&node.pointer).and_then(|v| v.as_str()) else {
        return Vec::new();
    };
    let dir = normalize(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let candidates = if rel.contains(['*', '?', '[', '{']) {
        crate::spec::files::expand_glob(&dir, rel).unwrap_or_default()
    } else {
        vec![dir.join(rel)]
    };
    candidates
        .into_iter()
        .map(|p| normalize(&p))
        .filter(|p| world.overlay.get(p).is_some() || p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsp::text::apply_change;

    fn apply(before: &str, edits: &[TextEdit], enc: Encoding) -> String {
        let mut t = before.to_string();
        // Later edits first, so earlier positions stay valid.
        let mut edits = edits.to_vec();
        edits.sort_by_key(|e| std::cmp::Reverse((e.range.start.line, e.range.start.character)));
        for e in edits {
            apply_change(&mut t, Some(e.range), &e.new_text, enc);
        }
        t
    }

    #[test]
    fn line_edits_reproduce_the_new_text() {
        let cases = [
            ("a\nb\nc\n", "a\nB\nc\n"),
            ("é1\n𝄞2\nx", "é1\nnew\n𝄞2\nx2"),
            ("only", ""),
            ("", "added\n"),
            ("k: 1\r\nv: $if(a) b $end\r\n", "k: 1\r\nv: a ? b\r\n"),
        ];
        for (before, after) in cases {
            for enc in [Encoding::Utf8, Encoding::Utf16, Encoding::Utf32] {
                let edits = line_edits(before, after, enc);
                assert_eq!(apply(before, &edits, enc), after, "{before:?} {enc:?}");
            }
        }
    }
}
