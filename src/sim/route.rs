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
    pub conditions: Vec<(Vec<String>, Vec<Value>)>,
    pub transform: Transform,
}

impl CompiledRule {
    /// Whether the rule selects this event.
    pub fn matches(&self, event: &Value) -> bool {
        if lookup(event, &["event".into(), "type".into()]).and_then(Value::as_str)
            != Some(self.event_type.as_str())
        {
            return false;
        }
        self.conditions
            .iter()
            .all(|(path, allowed)| lookup(event, path).is_some_and(|v| allowed.contains(v)))
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
    let resolved = if spec.rules.is_empty() {
        super::fallback::resolve(spec)?
    } else {
        spec.rules
            .iter()
            .map(|r| super::fallback::Resolved {
                index: r.index,
                transform: r.transform.as_ref().map(|t| t.text.clone()),
                fixtures: r
                    .fixtures
                    .iter()
                    .map(|f| (f.path.clone(), f.event.clone()))
                    .collect(),
            })
            .collect()
    };
    let mut out = Inputs::default();
    let mut diags = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for r in resolved {
        let raw = &spec.raw.rules[r.index];
        for (path, ev) in r.fixtures {
            if !seen.contains(&path) {
                let name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                seen.push(path);
                out.fixtures.push((name, ev));
            }
        }
        if !raw.enabled {
            continue;
        }
        let pointer = format!("/rules/{}", r.index);
        let Some(text) = r.transform else {
            diags.push(
                spec.diag_at(
                    Diagnostic::error("E610", format!("rule `{}` has no transform", raw.id))
                        .with_help("add `transform:` or `transformFile:`"),
                    &pointer,
                ),
            );
            continue;
        };
        match Transform::compile(&text) {
            Ok(transform) => out.rules.push(CompiledRule {
                id: raw.id.clone(),
                event_type: raw.event_type.clone(),
                conditions: raw
                    .conditions
                    .iter()
                    .map(|(k, v)| (k.split('.').map(str::to_string).collect(), v.clone()))
                    .collect(),
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
    out.payload_schema = match &spec.payload_schema {
        Some(s) => Some(s.clone()),
        None => super::fallback::payload_schema(spec).map_err(|d| vec![d])?,
    };
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
