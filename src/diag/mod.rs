//! One diagnostic model for every stage (load, schema, semantic checks, lint, transforms), and the
//! renderers that turn it into text for people and machines.
//!
//! A [`Diagnostic`] points at a [`Span`] in a file held by [`Sources`]; renderers look the file up
//! to print the offending line with a caret. Positions are 1-based lines and 1-based columns
//! counted in characters, as editors and SARIF count them.

mod render;
pub mod xml;

pub use render::{render, render_with, shown_path, Format, RenderExtra, RuleMeta};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Text from outside cxsync (an event's id, a CRM's response body, an object key in a bucket) as
/// a terminal may be shown it: every control character but tab (C0 including CR and LF, DEL,
/// C1) and every bidirectional override, isolate or mark (U+202A–U+202E, U+2066–U+2069, U+200E,
/// U+200F, U+061C: text that reads in another order than it is stored) is written as a JSON-style escape (`\u001b`), as the
/// JSON outputs already write it. An ESC in a CRM's 503 body could otherwise clear the screen,
/// recolour the verdict or retitle the window. The one function for every such string that
/// human-readable output prints; borrowed when nothing needs escaping.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\t')
            || matches!(
                c,
                '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
            )
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A position in a source file: 1-based line, 1-based column (in characters) and the character
/// offset from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A half-open range `[start, end)` in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn new(start: Pos, end: Pos) -> Self {
        Span { start, end }
    }

    /// An empty span at one position.
    pub fn point(at: Pos) -> Self {
        Span { start: at, end: at }
    }

    /// The span of `len` characters starting at character `offset` of `text`.
    pub fn from_offsets(text: &str, start: usize, end: usize) -> Self {
        Span::new(pos_at(text, start), pos_at(text, end))
    }
}

/// The line/column of a character offset in `text`; offsets past the end clamp to the end.
pub fn pos_at(text: &str, offset: usize) -> Pos {
    let mut line = 1;
    let mut column = 1;
    for (i, ch) in text.chars().enumerate() {
        if i == offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Pos {
        line,
        column,
        offset,
    }
}

/// One finding: what is wrong, where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file the diagnostic is about, as the user named it.
    pub file: Option<PathBuf>,
    pub span: Option<Span>,
    pub severity: Severity,
    /// A stable code: `E…` for load/schema/semantic errors, `CX…` for lint rules, `JSONATA-…`
    /// style codes from the transform engine.
    pub code: String,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            span: None,
            severity: Severity::Error,
            code: code.into(),
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span.or(self.span);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Orders diagnostics by file, position, then code: the order every renderer prints.
    pub fn sort_key(&self) -> (Option<&Path>, Option<Span>, &str, &str) {
        (
            self.file.as_deref(),
            self.span,
            self.code.as_str(),
            self.message.as_str(),
        )
    }
}

/// Sorts diagnostics into the stable order renderers print and removes exact duplicates.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// The text of every file diagnostics may point into, so renderers can show source lines.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: BTreeMap<PathBuf, String>,
    /// Secret values written in those files (a literal client secret, an API key header, a
    /// URL's password or `?api_key=`), which a source snippet shows as `(sensitive)`.
    secrets: Vec<String>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Every file held, with its text.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    pub fn extend(&mut self, other: Sources) {
        self.files.extend(other.files);
        self.hide(other.secrets);
    }

    /// Marks values as secret: every source line a renderer prints shows them as
    /// `(sensitive)`. Values shorter than 4 characters are left (they would mangle ordinary
    /// words; no credential is that short).
    pub fn hide(&mut self, values: impl IntoIterator<Item = String>) {
        for v in values {
            if v.chars().count() >= 4 && !self.secrets.contains(&v) {
                self.secrets.push(v);
            }
        }
        // Longest first, so a secret that contains another is hidden whole.
        self.secrets
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// A source line as a renderer may print it, with every hidden value replaced by
    /// `(sensitive)`, and a map from byte offsets of `line` to offsets of the result (an offset
    /// inside a hidden value goes to the start of its replacement, or its end with `end`).
    pub fn shown_line(&self, line: &str) -> (String, LineMap) {
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        for s in &self.secrets {
            let mut from = 0;
            while let Some(i) = line[from..].find(s.as_str()) {
                let (a, b) = (from + i, from + i + s.len());
                if !cuts.iter().any(|&(x, y)| a < y && x < b) {
                    cuts.push((a, b));
                }
                from = b;
            }
        }
        cuts.sort_unstable();
        let mut out = String::with_capacity(line.len());
        let mut map = LineMap(Vec::new());
        let mut last = 0;
        for (a, b) in cuts {
            out.push_str(&line[last..a]);
            let start = out.len();
            out.push_str(HIDDEN);
            map.0.push((a, b, start, out.len()));
            last = b;
        }
        out.push_str(&line[last..]);
        (out, map)
    }
}

/// What a hidden value is shown as.
pub const HIDDEN: &str = "(sensitive)";

/// Byte offsets of a source line mapped onto its shown form ([`Sources::shown_line`]): each
/// replaced range as `(old start, old end, new start, new end)`, in order.
#[derive(Debug, Clone, Default)]
pub struct LineMap(Vec<(usize, usize, usize, usize)>);

impl LineMap {
    /// Where byte `at` of the original line is in the shown one; `end` says the offset ends a
    /// span (inside a hidden value it then goes to the replacement's end).
    pub fn map(&self, at: usize, end: bool) -> usize {
        let mut delta: isize = 0;
        for &(os, oe, ns, ne) in &self.0 {
            if at < os || (end && at == os) {
                break;
            }
            if at < oe || (end && at == oe) {
                return if end { ne } else { ns };
            }
            delta = ne as isize - oe as isize;
        }
        (at as isize + delta).max(0) as usize
    }
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_is_borrowed() {
        assert!(matches!(
            printable("plain é 😀\ttab"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("a\u{1b}[31mb\r\n\u{7f}\u{9b}\u{202e}c\u{2066}"),
            "a\\u001b[31mb\\u000d\\u000a\\u007f\\u009b\\u202ec\\u2066"
        );
    }
}
