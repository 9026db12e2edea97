//! ## What it does
//! Flags a rule condition on a path that is a list or an object in the rule's fixtures, when none
//! of the condition's values is a list or an object. Conditions compare the whole value at the
//! path, as the rule matcher does (`docs/spec.md`): `interaction.tags: [vip]` asks whether the
//! tags *are* `"vip"`, not whether they contain it, and a list never equals a string.
//!
//! ## Why is this bad?
//! The rule never matches an event shaped like its fixtures: every such event is filtered out,
//! nothing reaches the CRM, and `cxsync test` reports the fixtures as filtered rather than
//! failing. Lint's other hint (CX027, "no fixture has this value") would send you looking for a
//! fixture that has the tag, which does not help: the fixture has it, inside a list.
//!
//! ## Example
//! ```yaml
//! conditions:
//!   interaction.tags: [vip]       # tags is ["VIP", "refund", "vip"] in the fixtures
//! ```
//!
//! Use instead: route on a field that holds one value (`interaction.queue.name: [VIP]`, or one
//! element: `interaction.tags.0: [vip]`), or, to compare the whole list on purpose, write the list
//! as the value:
//! ```yaml
//! conditions:
//!   interaction.tags: [[VIP, refund, vip]]
//! ```
//!
//! ## Fix safety
//! No automatic fix: which events the rule is for is the integration's decision.

use super::prelude::*;
use crate::spec::yaml::child;
use crate::spec::Fixture;
use crate::transform::runner::lookup;
use serde_json::Value;

/// What a value is when it is not one value: "a list" or "an object".
fn container(v: &Value) -> Option<&'static str> {
    match v {
        Value::Array(_) => Some("a list"),
        Value::Object(_) => Some("an object"),
        _ => None,
    }
}

/// The first fixture of a rule (of its event type) in which `path` is a list or an object while no
/// allowed value is one: the condition can never hold for it. Also asked by CX027, which then
/// leaves the path to this rule.
pub fn whole_value_mismatch<'f>(
    fixtures: &'f [Fixture],
    event_type: &str,
    path: &str,
    allowed: &[Value],
) -> Option<(&'f Fixture, &'f Value, &'static str)> {
    if allowed.is_empty() || allowed.iter().any(|a| container(a).is_some()) {
        return None;
    }
    fixtures
        .iter()
        .filter(|f| lookup(&f.event, "event.type").and_then(Value::as_str) == Some(event_type))
        .find_map(|f| {
            let v = lookup(&f.event, path)?;
            Some((f, v, container(v)?))
        })
}

/// A value shown briefly: its JSON text, cut after 60 characters.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (rule, raw) in cx.enabled_rules() {
        for (path, allowed) in &raw.conditions {
            let Some((fixture, value, what)) =
                whole_value_mismatch(&rule.fixtures, &raw.event_type, path, allowed)
            else {
                continue;
            };
            let shown: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            out.push(
                cx.at_key(
                    &child(&format!("/rules/{}/conditions", rule.index), path),
                    format!(
                        "conditions compare the whole value: `{path}` is {what} in fixture `{}` ({}), so {} never equals it and rule `{}` never matches such an event",
                        fixture.name,
                        brief(value),
                        shown.join(" or "),
                        raw.id
                    ),
                )
                .with_help(match value {
                    Value::Object(m) => format!(
                        "match a field inside it (`{path}.{}`), or write the whole object as the allowed value",
                        m.keys().next().map(String::as_str).unwrap_or("field")
                    ),
                    _ => format!(
                        "a condition cannot test membership: route on one element (`{path}.0`) or on a field that holds one value, or write the whole list as the allowed value"
                    ),
                }),
            );
        }
    }
}
