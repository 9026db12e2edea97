//! ## What it does
//! Flags an idempotency key template variable that some events do not have: a path missing from
//! one of the rules' fixture events, or an agent field (absent on IVR-only interactions).
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
use crate::lint::context::lookup;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for var in template_vars(&cx.spec.raw.idempotency.key) {
        let mut missing_in: Vec<String> = Vec::new();
        let mut seen = 0;
        for (rule, raw) in cx.enabled_rules() {
            for f in &rule.fixtures {
                // Only events the rule would deliver are relevant.
                let ty = lookup(&f.event, "event.type").and_then(|v| v.as_str());
                if ty.is_some_and(|t| t != raw.event_type) {
                    continue;
                }
                seen += 1;
                if lookup(&f.event, &var).is_none() {
                    missing_in.push(f.name.clone());
                }
            }
        }
        missing_in.sort();
        missing_in.dedup();
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
