//! Files a spec refers to, relative to the spec's folder: a rule's `transformFile`, its fixture
//! files and globs, `crm.payloadSchema` and each rule's own `payloadSchema`. Each is read bounded and as UTF-8; problems are
//! diagnostics at the key that names the file (or inside the file, for its own syntax errors).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::yaml::SourceMap;
use super::{Fixture, ResolvedRule, TextSource, TransformOrigin, TransformSource};
use crate::diag::{Diagnostic, Sources, Span};

/// What resolving file references produced.
#[derive(Debug, Default)]
pub struct Resolved {
    pub rules: Vec<ResolvedRule>,
    pub payload_schema: Option<Value>,
    /// Each rule's own `payloadSchema`, by index in `rules` of the tree.
    pub rule_payload_schemas: Vec<Option<Value>>,
}

/// Everything a diagnostic needs to point into the spec.
pub struct Ctx<'a> {
    pub spec_path: &'a Path,
    pub dir: &'a Path,
    pub map: &'a SourceMap,
    /// Where file text comes from.
    pub files: &'a dyn TextSource,
}

impl Ctx<'_> {
    fn at_value(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        d.in_file(self.spec_path)
            .at_opt(self.map.value_span(pointer))
    }
    fn at_key(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        d.in_file(self.spec_path).at_opt(self.map.key_span(pointer))
    }
}

/// Loads every rule's transform and fixtures and the CRM payload schema.
pub fn resolve(
    tree: &Value,
    cx: &Ctx,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Resolved {
    let mut out = Resolved::default();
    if let Some(rules) = tree.get("rules").and_then(Value::as_array) {
        for (i, rule) in rules.iter().enumerate() {
            let base = format!("/rules/{i}");
            let transform = resolve_transform(rule, &base, cx, sources, diags);
            let fixtures = resolve_fixtures(rule, &base, cx, sources, diags);
            out.rules.push(ResolvedRule {
                index: i,
                transform,
                fixtures,
            });
            out.rule_payload_schemas
                .push(match rule.get("payloadSchema") {
                    Some(Value::String(rel)) => load_payload_schema(
                        rel,
                        &format!("{base}/payloadSchema"),
                        cx,
                        sources,
                        diags,
                    ),
                    _ => None,
                });
        }
    }
    if let Some(Value::String(rel)) = tree.pointer("/crm/payloadSchema") {
        out.payload_schema = load_payload_schema(rel, "/crm/payloadSchema", cx, sources, diags);
    }
    out
}

fn resolve_transform(
    rule: &Value,
    base: &str,
    cx: &Ctx,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Option<TransformSource> {
    let inline = rule.get("transform");
    let file = rule.get("transformFile");
    match (inline, file) {
        (Some(_), Some(_)) => {
            diags.push(
                cx.at_key(
                    Diagnostic::error("E301", "a rule has both `transform` and `transformFile`"),
                    &format!("{base}/transformFile"),
                )
                .with_help("keep one: an inline `transform` or a `transformFile` beside the spec"),
            );
            None
        }
        (None, None) => {
            diags.push(
                cx.at_key(
                    Diagnostic::error("E301", "a rule needs a `transform` or a `transformFile`"),
                    base,
                )
                .with_help(
                    "add `transformFile: transforms/NAME.jsonata` or an inline `transform: |` block",
                ),
            );
            None
        }
        (Some(Value::String(text)), None) => Some(TransformSource {
            text: text.clone(),
            origin: TransformOrigin::Inline {
                pointer: format!("{base}/transform"),
            },
        }),
        (None, Some(Value::String(rel))) => {
            let pointer = format!("{base}/transformFile");
            let path = cx.dir.join(rel);
            match read_ref(&path, rel, "transform file", &pointer, cx) {
                Ok(text) => {
                    sources.add(&path, text.clone());
                    Some(TransformSource {
                        text,
                        origin: TransformOrigin::File { path },
                    })
                }
                Err(d) => {
                    diags.push(d);
                    None
                }
            }
        }
        // Wrong types were reported by the schema.
        _ => None,
    }
}

/// Reads a referenced file; a missing or unreadable file is reported at the key naming it, a
/// too-large or non-UTF-8 file in the file itself.
fn read_ref(
    path: &Path,
    rel: &str,
    what: &str,
    pointer: &str,
    cx: &Ctx,
) -> Result<String, Diagnostic> {
    if !cx.files.is_file(path) {
        let why = if cx.files.exists(path) {
            "is not a file"
        } else {
            "does not exist"
        };
        return Err(cx
            .at_value(
                Diagnostic::error("E302", format!("{what} `{rel}` {why}")),
                pointer,
            )
            .with_help(format!(
                "paths are relative to the spec's folder; this resolves to `{}`",
                path.display()
            )));
    }
    cx.files.read(path).map_err(|d| {
        if d.code == "E010" {
            cx.at_value(
                Diagnostic::error("E302", format!("cannot read {what} `{rel}`: {}", d.message)),
                pointer,
            )
        } else {
            d
        }
    })
}

fn resolve_fixtures(
    rule: &Value,
    base: &str,
    cx: &Ctx,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Fixture> {
    let Some(entries) = rule.get("fixtures").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut paths: Vec<(PathBuf, String)> = Vec::new();
    for (j, e) in entries.iter().enumerate() {
        let Some(rel) = e.as_str() else { continue };
        let pointer = format!("{base}/fixtures/{j}");
        if crate::fsutil::is_glob(rel) {
            match expand_glob(cx.dir, rel) {
                Ok(found) if found.is_empty() => diags.push(
                    cx.at_value(
                        Diagnostic::error("E303", format!("fixture glob `{rel}` matches no file")),
                        &pointer,
                    )
                    .with_help(
                        "globs are relative to the spec's folder; check the folder and extension",
                    ),
                ),
                Ok(found) => paths.extend(found.into_iter().map(|p| (p, pointer.clone()))),
                Err(msg) => diags.push(cx.at_value(Diagnostic::error("E303", msg), &pointer)),
            }
        } else {
            paths.push((cx.dir.join(rel), pointer));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (path, pointer) in paths {
        if !seen.insert(path.clone()) {
            continue;
        }
        let rel = path.display().to_string();
        let text = match read_ref(&path, &rel, "fixture", &pointer, cx) {
            Ok(t) => t,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(event) => out.push(Fixture {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: path.clone(),
                event,
            }),
            Err(e) => diags.push(json_error(&path, &text, &e, "fixture is not valid JSON")),
        }
        sources.add(&path, text);
    }
    out
}

/// A serde_json error as a diagnostic inside the JSON file.
fn json_error(path: &Path, text: &str, e: &serde_json::Error, what: &str) -> Diagnostic {
    let line = e.line().max(1);
    let col = e.column().max(1);
    let offset: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(|l| l.chars().count())
        .sum::<usize>()
        + col
        - 1;
    let at = crate::diag::Pos {
        line,
        column: col,
        offset,
    };
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    Diagnostic::error("E304", format!("{what}: {msg}"))
        .in_file(path)
        .at(Span::point(at))
}

/// Expands a fixture glob relative to `dir` into sorted existing files (on disk: an editor's
/// unsaved new file is not matched until it is saved), through the one bounded glob walker.
pub(crate) fn expand_glob(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    crate::fsutil::glob(&dir.join(pattern)).map_err(|e| format!("fixture {e}"))
}

fn load_payload_schema(
    rel: &str,
    pointer: &str,
    cx: &Ctx,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let path = cx.dir.join(rel);
    let text = match read_ref(&path, rel, "payload schema", pointer, cx) {
        Ok(t) => t,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    sources.add(&path, text.clone());
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(json_error(
                &path,
                &text,
                &e,
                "payload schema is not valid JSON",
            ));
            return None;
        }
    };
    if let Err(e) = jsonschema::validator_for(&value) {
        diags.push(
            cx.at_value(
                Diagnostic::error(
                    "E305",
                    format!("payload schema `{rel}` is not a valid JSON Schema: {e}"),
                ),
                pointer,
            )
            .with_help(format!("at `{}` in the schema", e.instance_path())),
        );
        return None;
    }
    Some(value)
}
