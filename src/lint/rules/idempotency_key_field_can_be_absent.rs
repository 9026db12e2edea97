//! ## What it does
//! Flags an idempotency key template variable that some events cannot fill: a path missing (or
//! null) in one of the rules' fixture events, an object or a list there (a key part must be a
//! string, number or boolean), or an agent field (absent on IVR-only interactions).
//!
//! ## Why is this bad?
//! A missing template variable is an error, not an empty string: the event cannot get a key and
//! cannot be delivered. The guide's `${agent.id}` fails for every interaction that never reached an
//! agent.
//!
//! ## Example
//! ```yaml
//! idempotency:
//!   key: ${interaction.id}_${event.type}_${agent.id}
//! ```
//!
//! Use instead:
//! ```yaml
//! idempotency:
//!   key: ${interaction.id}_${event.type}
//! ```
//!
//! ## Fix safety
//! Changing the template changes every key; see `non-unique-idempotency-key`.

use super::prelude::*;
use super::template_vars;
use crate::delivery::{Template, TemplateError};
use crate::lint::context::lookup;
use serde_json::Value;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for var in template_vars(&cx.spec.raw.idempotency.key) {
        // The delivery machine's own reading of this one reference: what it renders for an
        // event is what lint reports on (missing or null, or an object or list).
        let Ok(part) = Template::parse(&format!("${{{var}}}")) else {
            continue;
        };
        let mut missing_in: Vec<String> = Vec::new();
        let mut whole_in: Vec<(String, &'static str)> = Vec::new();
        let mut seen = 0;
        for (rule, raw) in cx.enabled_rules() {
            for f in &rule.fixtures {
                // Only events the rule would deliver are relevant.
                let ty = lookup(&f.event, "event.type").and_then(|v| v.as_str());
                if ty.is_some_and(|t| t != raw.event_type) {
                    continue;
                }
                seen += 1;
                match part.render(&f.event) {
                    Ok(_) => {}
                    Err(TemplateError::NotScalar(_)) => {
                        let what = match lookup(&f.event, &var) {
                            Some(Value::Array(_)) => "a list",
                            _ => "an object",
                        };
                        whole_in.push((f.name.clone(), what));
                    }
                    Err(_) => missing_in.push(f.name.clone()),
                }
            }
        }
        missing_in.sort();
        missing_in.dedup();
        whole_in.sort();
        whole_in.dedup();
        if !whole_in.is_empty() {
            let names: Vec<&str> = whole_in.iter().map(|(n, _)| n.as_str()).collect();
            let kinds: Vec<&str> = {
                let mut k: Vec<&str> = whole_in.iter().map(|(_, w)| *w).collect();
                k.dedup();
                k
            };
            out.push(
                cx.at_value(
                    "/idempotency/key",
                    format!(
                        "`${{{var}}}` is {} in {} of {seen} fixture events ({}); a key part must be a string, number or boolean, so those events get no idempotency key",
                        kinds.join(" or "),
                        names.len(),
                        names.join(", ")
                    ),
                )
                .with_help(if kinds == ["a list"] {
                    format!("use one element (`${{{var}.0}}`), or a field every event has")
                } else {
                    format!("use one field inside it (`${{{var}.id}}`), or a field every event has")
                }),
            );
        }
        let agent = var.starts_with("agent.") || var.contains(".agent.");
        let msg = if !missing_in.is_empty() {
            format!(
                "`${{{var}}}` is absent in {} of {seen} fixture events ({}); those events get no idempotency key",
                missing_in.len(),
                missing_in.join(", ")
            )
        } else if agent && seen == 0 {
            format!("`${{{var}}}` is absent on interactions that never reach an agent (IVR-only)")
        } else {
            continue;
        };
        out.push(cx.at_value("/idempotency/key", msg).with_help(format!(
            "build the key from fields every event has; drop `${{{var}}}`"
        )));
    }
}
