//! Renderers: one diagnostic model, several output formats chosen by one enum.
//!
//! `full`, `concise` and `json` are for people and scripts; `sarif`, `github` and `junit` are for
//! CI systems (code scanning, workflow annotations, test reports). Each machine format lives in
//! its own file under `render/`.

mod github;
mod junit;
mod sarif;

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use serde_json::json;

use super::{Diagnostic, Severity, Sources};

/// How a diagnostic's file is spelled in every format: as the path was reached (relative to the
/// working folder when it was given so), without a leading `./`: `./transforms/x.jsonata` (a
/// transform beside `spec.yaml`) and `transforms/x.jsonata` are one file, and a tool matching
/// `file` against a diff must see one spelling. Machine formats add their own escaping on top.
pub fn shown_path(path: &std::path::Path) -> String {
    let mut parts = path.components().peekable();
    while parts.peek() == Some(&std::path::Component::CurDir) {
        parts.next();
    }
    let rest: std::path::PathBuf = parts.collect();
    if rest.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rest.display().to_string()
    }
}

/// How diagnostics are printed. `full` shows the source line with a caret; `concise` is one line
/// per finding; `json` is a JSON array with one object per finding; `sarif` is a SARIF 2.1.0 log;
/// `github` prints GitHub Actions workflow commands (annotations); `junit` is a JUnit XML report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Full,
    Concise,
    Json,
    Sarif,
    Github,
    Junit,
}

/// A rule as the machine formats describe it (SARIF `reportingDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable code, e.g. `CX001`.
    pub code: String,
    /// Kebab-case name of the bad pattern.
    pub name: String,
    /// One-sentence summary.
    pub summary: String,
    /// Full documentation (Markdown).
    pub help: String,
    /// Default severity.
    pub severity: Severity,
}

/// What the machine formats need beyond the diagnostics: the tool's rule catalogue and the files
/// that were checked (so a clean file still shows up as a passing JUnit test case).
#[derive(Debug, Clone, Default)]
pub struct RenderExtra {
    /// Name of the run, e.g. `cxsync lint`.
    pub tool: String,
    pub rules: Vec<RuleMeta>,
    pub files: Vec<std::path::PathBuf>,
}

/// Renders diagnostics (already sorted) in the given format. `color` only affects `full`.
pub fn render(diags: &[Diagnostic], sources: &Sources, format: Format, color: bool) -> String {
    render_with(diags, sources, format, color, &RenderExtra::default())
}

/// [`render`] with the rule catalogue and checked files the machine formats report.
pub fn render_with(
    diags: &[Diagnostic],
    sources: &Sources,
    format: Format,
    color: bool,
    extra: &RenderExtra,
) -> String {
    match format {
        Format::Full => render_full(diags, sources, color),
        Format::Concise => render_concise(diags),
        Format::Json => render_json(diags),
        Format::Sarif => sarif::render(diags, extra),
        Format::Github => github::render(diags),
        Format::Junit => junit::render(diags, extra),
    }
}

fn location(d: &Diagnostic) -> String {
    match (&d.file, &d.span) {
        (Some(f), Some(s)) => format!("{}:{}:{}", shown_path(f), s.start.line, s.start.column),
        (Some(f), None) => shown_path(f),
        (None, _) => "<input>".to_string(),
    }
}

fn render_concise(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let _ = writeln!(
            out,
            "{}: {}[{}] {}",
            location(d),
            d.severity.as_str(),
            d.code,
            d.message
        );
    }
    out
}

/// The JSON shape documented in the README: `{file, line, column, endLine, endColumn, severity,
/// code, message, help}` per diagnostic.
pub fn to_json_value(d: &Diagnostic) -> serde_json::Value {
    json!({
        "file": d.file.as_deref().map(shown_path),
        "line": d.span.map(|s| s.start.line),
        "column": d.span.map(|s| s.start.column),
        "endLine": d.span.map(|s| s.end.line),
        "endColumn": d.span.map(|s| s.end.column),
        "severity": d.severity.as_str(),
        "code": d.code,
        "message": d.message,
        "help": d.help,
    })
}

fn render_json(diags: &[Diagnostic]) -> String {
    let arr: Vec<_> = diags.iter().map(to_json_value).collect();
    let mut s = serde_json::to_string_pretty(&arr).expect("diagnostics serialize");
    s.push('\n');
    s
}

/// Byte offset in `line` of 1-based character column `col` (clamped to the line).
fn byte_col(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col.saturating_sub(1))
        .map(|(b, _)| b)
        .unwrap_or(line.len())
}

fn render_full(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Info => Level::NOTE,
        };
        let title = level.primary_title(d.message.as_str()).id(d.code.as_str());
        let path = d.file.as_deref().map(shown_path);
        let text = d.file.as_deref().and_then(|f| sources.get(f));
        let mut group = match (&path, d.span, text) {
            (Some(path), Some(span), Some(text)) => {
                let line_no = span.start.line.max(1);
                let line = text.lines().nth(line_no - 1).unwrap_or("");
                let start = byte_col(line, span.start.column);
                let end = if span.end.line == span.start.line && span.end.column > span.start.column
                {
                    byte_col(line, span.end.column)
                } else if span.end.line > span.start.line {
                    line.len().max(start)
                } else {
                    start
                };
                // A secret written in the file is never reprinted (`(sensitive)` instead).
                let (line, map) = sources.shown_line(line);
                let (start, end) = (map.map(start, false), map.map(end, true));
                let end = end.max(start);
                title.element(
                    Snippet::source(line)
                        .line_start(line_no)
                        .path(path.clone())
                        .annotation(AnnotationKind::Primary.span(start..end)),
                )
            }
            (Some(path), _, _) => title.element(
                annotate_snippets::Origin::path(path.clone())
                    .line(d.span.map(|s| s.start.line).unwrap_or(1))
                    .char_column(d.span.map(|s| s.start.column).unwrap_or(1)),
            ),
            // No file: the title alone (and its help below), no empty source line.
            _ => annotate_snippets::Group::with_title(title),
        };
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        // A blank line between findings, as rustc and ruff print them.
        let _ = writeln!(out, "{}\n", renderer.render(&[group]));
    }
    out
}
