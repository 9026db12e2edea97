//! What a run needs from a spec, compiled once: the enabled rules (which events each matches and
//! its compiled transform), the fixture events and each rule's CRM payload schema.

use std::path::PathBuf;

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::sim::engine::vary::Identity;
use crate::spec::payload::PayloadSchemas;
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

/// What the simulator needs from a spec: compiled rules, fixture events and the target schema.
#[derive(Debug, Default)]
pub struct Inputs {
    pub rules: Vec<CompiledRule>,
    /// `(file name, event)` of every fixture, in rule then file order: one file is one event of
    /// the feed however many rules list it, and however their globs spell its path
    /// ([`same_file`]).
    pub fixtures: Vec<(String, Value)>,
    /// Each rule's CRM payload schema ([`PayloadSchemas::for_rule`]).
    pub schemas: PayloadSchemas,
    /// What tells the spec's events apart ([`Identity::of_spec`]).
    pub identity: Identity,
}

/// What names one fixture file, however a rule spells it: `fixtures/*.json` expands to
/// `dir/fixtures/a.json`, a literal `./fixtures/a.json` is `dir/./fixtures/a.json`, a symlink or
/// `../x/fixtures/a.json` is another spelling again. Two rules listing one file list one event:
/// the hub receives it once and hands it to every rule that matches it.
pub fn same_file(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        path.components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect()
    })
}

/// Compiles a spec's enabled rules and gathers its fixtures. Every problem is reported.
pub fn compile(spec: &Spec) -> Result<Inputs, Vec<Diagnostic>> {
    let mut out = Inputs {
        identity: Identity::of_spec(spec),
        ..Inputs::default()
    };
    let mut diags = Vec::new();
    let mut seen: std::collections::BTreeSet<PathBuf> = Default::default();
    for r in &spec.rules {
        let raw = &spec.raw.rules[r.index];
        for f in &r.fixtures {
            if seen.insert(same_file(&f.path)) {
                let name = f
                    .path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                out.fixtures.push((name, f.event.clone()));
            }
        }
        if !raw.enabled {
            continue;
        }
        match crate::transform::runner::compile_rule(spec, r) {
            Ok(transform) => out.rules.push(CompiledRule {
                id: raw.id.clone(),
                event_type: raw.event_type.clone(),
                conditions: raw.conditions.clone(),
                transform,
            }),
            Err(d) => diags.push(d),
        }
    }
    match PayloadSchemas::of(spec, "E302") {
        Ok(s) => out.schemas = s,
        Err(d) => diags.extend(d),
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
