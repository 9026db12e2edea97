//! TEMPORARY: resolve rule transforms, fixtures and the payload schema relative to the spec's
//! folder while `spec::load` does not yet fill `Spec::rules` / `Spec::payload_schema`.
//! Delete this module once the spine loader is merged (used only when `spec.rules` is empty).

use std::path::PathBuf;

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::spec::Spec;

/// A rule's transform text and fixture events.
#[derive(Debug)]
pub struct Resolved {
    pub index: usize,
    pub transform: Option<String>,
    pub fixtures: Vec<(PathBuf, Value)>,
}

/// Reads every rule's `transform`/`transformFile` and `fixtures` (file names may be globs).
pub fn resolve(spec: &Spec) -> Result<Vec<Resolved>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for (i, rule) in spec.raw.rules.iter().enumerate() {
        let transform = match (&rule.transform, &rule.transform_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => match crate::spec::read_text(&super::route::beside(spec, f)) {
                Ok(t) => Some(t),
                Err(d) => {
                    diags.push(d);
                    None
                }
            },
            (None, None) => None,
        };
        let mut fixtures = Vec::new();
        for (j, pat) in rule.fixtures.iter().enumerate() {
            match expand(spec, pat) {
                Ok(paths) if paths.is_empty() => diags.push(spec.diag_at(
                    Diagnostic::error("E612", format!("`{pat}` matches no fixture file")),
                    &format!("/rules/{i}/fixtures/{j}"),
                )),
                Ok(paths) => {
                    for p in paths {
                        match crate::spec::read_text(&p).and_then(|t| {
                            serde_json::from_str::<Value>(&t).map_err(|e| {
                                Diagnostic::error("E613", format!("fixture is not JSON: {e}"))
                                    .in_file(&p)
                            })
                        }) {
                            Ok(v) => fixtures.push((p, v)),
                            Err(d) => diags.push(d),
                        }
                    }
                }
                Err(d) => diags.push(d),
            }
        }
        out.push(Resolved {
            index: i,
            transform,
            fixtures,
        });
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

fn expand(spec: &Spec, pat: &str) -> Result<Vec<PathBuf>, Diagnostic> {
    let full = super::route::beside(spec, pat);
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return Ok(vec![full]);
    }
    let dir = full
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let glob = globset::Glob::new(&name)
        .map_err(|e| Diagnostic::error("E612", format!("bad fixture glob `{pat}`: {e}")))?
        .compile_matcher();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Diagnostic::error("E010", format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| glob.is_match(n)))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Reads `crm.payloadSchema` relative to the spec.
pub fn payload_schema(spec: &Spec) -> Result<Option<Value>, Diagnostic> {
    let Some(rel) = &spec.raw.crm.payload_schema else {
        return Ok(None);
    };
    let path = super::route::beside(spec, rel);
    let text = crate::spec::read_text(&path)?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Diagnostic::error("E614", format!("payload schema is not JSON: {e}")).in_file(&path)
    })
}
