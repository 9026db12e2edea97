//! Inline suppressions: `# cxsync: ignore[CX001, CX004]` at the end of a line suppresses those
//! codes on that line; on a line of its own it suppresses them on the next line (the key below
//! it). In JSONata (a `.jsonata` file or an inline transform) the comment is
//! `/* cxsync: ignore[CX020] */`. Comments that suppress nothing, or name unknown codes, are findings themselves
//! (`CX100 unused-suppression`).

use std::path::Path;

use crate::diag::{Diagnostic, Pos, Span};

/// One `ignore[...]` comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// 1-based line of the comment.
    pub line: usize,
    /// Whether the comment stands alone on its line (then it covers the next line).
    pub own_line: bool,
    pub codes: Vec<String>,
    /// Span of the comment text.
    pub span: Span,
}

impl Suppression {
    /// Whether the comment covers findings that start on `line`.
    pub fn covers(&self, line: usize) -> bool {
        line == self.line || (self.own_line && line == self.line + 1)
    }
}

/// Whether `rest` (the text after a comment opener) is a suppression.
fn is_suppression(rest: &[char]) -> bool {
    let rest: String = rest.iter().collect();
    rest.trim_start()
        .strip_prefix("cxsync:")
        .is_some_and(|r| r.trim_start().starts_with("ignore["))
}

/// Finds the suppression comments of a YAML or JSONata file.
pub fn parse(text: &str) -> Vec<Suppression> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split('\n').enumerate() {
        let chars: Vec<char> = line.chars().collect();
        // A YAML comment starts with `#` at the start of the line or after whitespace.
        let mut start = None;
        let mut quote: Option<char> = None;
        for (j, c) in chars.iter().enumerate() {
            if let Some(q) = quote {
                if *c == q {
                    quote = None;
                }
                continue;
            }
            if *c == '\'' || *c == '"' {
                // A quoted scalar starts after `: `, `- `, a flow indicator or at the line start.
                let prev = chars[..j].iter().rev().find(|c| !c.is_whitespace());
                if matches!(prev, None | Some(':' | '-' | '[' | ',' | '{' | '?')) {
                    quote = Some(*c);
                    continue;
                }
            }
            let yaml = *c == '#' && (j == 0 || chars[j - 1].is_whitespace());
            let jsonata = *c == '/' && chars.get(j + 1) == Some(&'*');
            let body = if jsonata { j + 2 } else { j + 1 };
            if (yaml || jsonata) && is_suppression(&chars[body..]) {
                start = Some(j);
                break;
            }
        }
        if let Some(j) = start {
            let mut comment: String = chars[j..].iter().collect();
            if let Some(k) = comment.find("*/") {
                comment.truncate(k + 2);
            }
            let inner = comment
                .split_once("ignore[")
                .map(|(_, r)| r.split(']').next().unwrap_or(""))
                .unwrap_or("");
            let codes = inner
                .split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect();
            let own_line = chars[..j].iter().all(|c| c.is_whitespace());
            let pos = |col: usize| Pos {
                line: i + 1,
                column: col + 1,
                offset: offset + col,
            };
            out.push(Suppression {
                line: i + 1,
                own_line,
                codes,
                span: Span::new(pos(j), pos(j + comment.chars().count())),
            });
        }
        offset += chars.len() + 1;
    }
    out
}

/// Drops the findings in `file` that a suppression covers and returns, as `CX100` findings, the
/// suppressions (or codes in them) that matched nothing or are unknown. `is_code` tells known
/// codes.
pub fn apply(
    file: &Path,
    text: &str,
    diags: &mut Vec<Diagnostic>,
    is_code: impl Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let sups = parse(text);
    if sups.is_empty() {
        return Vec::new();
    }
    let mut used = vec![vec![false; 0]; sups.len()];
    for (k, s) in sups.iter().enumerate() {
        used[k] = vec![false; s.codes.len()];
    }
    diags.retain(|d| {
        if d.file.as_deref() != Some(file) {
            return true;
        }
        let Some(span) = d.span else { return true };
        let mut keep = true;
        for (k, s) in sups.iter().enumerate() {
            if !s.covers(span.start.line) {
                continue;
            }
            if let Some(c) = s.codes.iter().position(|c| *c == d.code) {
                used[k][c] = true;
                keep = false;
            }
        }
        keep
    });
    let mut out = Vec::new();
    for (k, s) in sups.iter().enumerate() {
        if s.codes.is_empty() {
            out.push(
                Diagnostic::warning(
                    super::registry::UNUSED_SUPPRESSION,
                    "suppression names no code",
                )
                .in_file(file)
                .at(s.span)
                .with_help("write `# cxsync: ignore[CX001]`"),
            );
        }
        for (c, code) in s.codes.iter().enumerate() {
            if used[k][c] {
                continue;
            }
            let (msg, help) = if is_code(code) {
                (
                    format!("unused suppression: no {code} finding here"),
                    "remove it".to_string(),
                )
            } else {
                (
                    format!("suppression names an unknown code `{code}`"),
                    match super::registry::suggest(code) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "see `cxsync rules`".to_string(),
                    },
                )
            };
            out.push(
                Diagnostic::warning(super::registry::UNUSED_SUPPRESSION, msg)
                    .in_file(file)
                    .at(s.span)
                    .with_help(help),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_line(code: &str, line: usize) -> Diagnostic {
        let p = Pos {
            line,
            column: 3,
            offset: 0,
        };
        Diagnostic::error(code, "x")
            .in_file("s.yaml")
            .at(Span::point(p))
    }

    #[test]
    fn trailing_and_own_line_comments_suppress_and_unused_ones_are_reported() {
        let text = "a: 1 # cxsync: ignore[CX001]\n  # cxsync: ignore[cx002, CX003]\nb: 2\nc: 3 # cxsync: ignore[CX009]\nd: 'x # cxsync: ignore[CX001]'\n";
        let mut diags = vec![
            at_line("CX001", 1),
            at_line("CX002", 3),
            at_line("CX002", 4),
        ];
        let unused = apply(Path::new("s.yaml"), text, &mut diags, |c| {
            c.starts_with("CX00")
        });
        assert_eq!(diags, vec![at_line("CX002", 4)]);
        let msgs: Vec<_> = unused
            .iter()
            .map(|d| (d.span.unwrap().start.line, d.message.clone()))
            .collect();
        assert_eq!(
            msgs,
            vec![
                (2, "unused suppression: no CX003 finding here".to_string()),
                (4, "unused suppression: no CX009 finding here".to_string()),
            ]
        );
    }

    #[test]
    fn jsonata_block_comments_suppress_too() {
        let text = "{\n  /* cxsync: ignore[CX020] */\n  \"phone\": customer.phone /* cxsync: ignore[CX021] */\n}\n";
        let s = parse(text);
        assert_eq!(s.len(), 2);
        assert!(s[0].own_line && s[0].covers(3) && s[0].codes == ["CX020"]);
        assert!(!s[1].own_line && s[1].covers(3) && !s[1].covers(4));
        assert_eq!(s[1].span.end.column - s[1].span.start.column, 27);
    }

    #[test]
    fn unknown_codes_are_reported_with_a_suggestion() {
        let mut diags = vec![];
        let unused = apply(
            Path::new("s.yaml"),
            "a: 1 # cxsync: ignore[CX0001]\n",
            &mut diags,
            |c| super::super::registry::find(c).is_some(),
        );
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].help.as_deref(), Some("did you mean `CX001`?"));
    }
}
