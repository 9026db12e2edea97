//! One diagnostic model for every stage (load, schema, semantic checks, lint, transforms), and the
//! renderers that turn it into text for people and machines.
//!
//! A [`Diagnostic`] points at a [`Span`] in a file held by [`Sources`]; renderers look the file up
//! to print the offending line with a caret. Positions are 1-based lines and 1-based columns
//! counted in characters, as editors and SARIF count them.

mod render;
pub mod xml;

pub use render::{render, render_with, Format, RenderExtra, RuleMeta};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

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
    }
}
