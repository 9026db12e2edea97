//! Rules as the simulator runs them: which events a rule matches (event type and conditions) and
//! the compiled transform that turns a matched event into the CRM payload.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::spec::Spec;
use crate::transform::Transform;

/// One enabled rule, compiled once.
#[derive(Debug)]
pub struct CompiledRule {
    pub id: String,
    pub event_type: String,
    pub conditions: indexmap::IndexMap<String, Vec<Value>>,
    pub transform: Transform,
}

impl CompiledRule {
    /// Whether the rule selects this event (the matcher `cxsync test` uses too).
    pub fn matches(&self, event: &Value) -> bool {
        crate::transform::runner::matches(event, &self.event_type, &self.conditions)
    }
}

/// The value at a dotted path.
pub fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| v.get(s))
}

/// What the simulator needs from a spec: compiled rules, fixture events and the target schema.
#[derive(Debug, Default)]
pub struct Inputs {
    pub rules: Vec<CompiledRule>,
    /// `(file name, event)` of every fixture, deduplicated by path, in rule then file order.
    pub fixtures: Vec<(String, Value)>,
    pub payload_schema: Option<Value>,
}

/// Compiles a spec's enabled rules and gathers its fixtures. Every problem is reported.
pub fn inputs(spec: &Spec) -> Result<Inputs, Vec<Diagnostic>> {
    let mut out = Inputs::default();
    let mut diags = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for r in &spec.rules {
        let raw = &spec.raw.rules[r.index];
        for f in &r.fixtures {
            if !seen.contains(&f.path) {
                let name = f
                    .path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                seen.push(f.path.clone());
                out.fixtures.push((name, f.event.clone()));
            }
        }
        if !raw.enabled {
            continue;
        }
        let pointer = format!("/rules/{}", r.index);
        let Some(text) = r.transform.as_ref().map(|t| t.text.as_str()) else {
            diags.push(
                spec.diag_at(
                    Diagnostic::error("E610", format!("rule `{}` has no transform", raw.id))
                        .with_help("add `transform:` or `transformFile:`"),
                    &pointer,
                ),
            );
            continue;
        };
        match Transform::compile(text) {
            Ok(transform) => out.rules.push(CompiledRule {
                id: raw.id.clone(),
                event_type: raw.event_type.clone(),
                conditions: raw.conditions.clone(),
                transform,
            }),
            Err(e) => diags.push(
                spec.diag_at(
                    Diagnostic::error(
                        "E611",
                        format!("rule `{}`: the transform does not compile: {e}", raw.id),
                    )
                    .with_help("run `cxsync lint` for the exact position"),
                    &format!("{pointer}/transform"),
                ),
            ),
        }
    }
    out.payload_schema = spec.payload_schema.clone();
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// Resolves `rel` against the spec's folder.
pub fn beside(spec: &Spec, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        spec.dir.join(p)
    }
}
