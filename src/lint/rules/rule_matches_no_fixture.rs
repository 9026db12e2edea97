//! ## What it does
//! Flags an enabled rule that has fixture events of its own, none of which (nor any other
//! event `cxsync sim` makes) the rule selects: each fixture has another `event.type`, lacks a
//! condition's path, or holds a value the condition does not list. The events and the matcher
//! are the simulator's own (`sim::engine::preview::matched_rules`: each fixture of every rule as
//! it is and the copies a run generates of them, through `transform::runner::matches`), so lint
//! fires exactly where `cxsync sim` fails the run with "rule … was not simulated: no event of
//! the run matched it". The finding says, for each fixture, why the rule drops it, in the
//! matcher's own words; a value that differs from a listed one only in its JSON type (the
//! string `"1"` where the condition lists the number `1`) is named as such and pointed at.
//!
//! ## Why is this bad?
//! Conditions compare whole values, JSON type included, as the Event Hub does: a condition
//! `interaction.priority: [1, 2]` never selects an event whose priority is the string `"1"`.
//! With no fixture selected, `cxsync test` runs the rule's transform on nothing, `sim` fails
//! ("not simulated"), and in production the rule may select no event at all: the integration
//! silently syncs nothing.
//!
//! ## Example
//! ```yaml
//! conditions: { interaction.priority: [1, 2] }   # the events carry "priority": "1"
//! ```
//!
//! Use instead:
//! ```yaml
//! conditions: { interaction.priority: ["1", "2"] }
//! ```
//!
//! ## Fix safety
//! No automatic fix: whether the condition or the fixture is wrong is for the author to say
//! (a fixture is a captured event; if the hub sends the number, the fixture is the mistake).

use super::prelude::*;
use crate::sim::engine::preview;
use crate::spec::yaml::child;
use crate::transform::runner::{filter, first_miss, json_equal, same_text_other_type, Miss};

/// Fixtures named, with their reasons, in one finding; the rest are counted.
const SHOWN: usize = 3;

/// The enabled rules (by index in `spec.raw.rules`) with fixtures of their own that no event of
/// the simulator's run matches. Empty when the spec cannot be simulated (another finding's).
pub fn unmatched(cx: &Context) -> Vec<usize> {
    let Ok(inputs) = crate::sim::inputs::compile(cx.spec) else {
        return Vec::new();
    };
    let Ok(matched) = preview::matched_rules(cx.spec, &inputs, preview::COPIES) else {
        return Vec::new();
    };
    cx.enabled_rules()
        .filter(|(rule, _)| !rule.fixtures.is_empty())
        .filter(|(_, raw)| {
            inputs
                .rules
                .iter()
                .zip(&matched)
                .any(|(r, m)| r.id == raw.id && !m)
        })
        .map(|(rule, _)| rule.index)
        .collect()
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let never = unmatched(cx);
    for (rule, raw) in cx.enabled_rules() {
        if !never.contains(&rule.index) {
            continue;
        }
        let n = rule.fixtures.len();
        let reasons: Vec<String> = rule
            .fixtures
            .iter()
            .take(SHOWN)
            .map(|f| {
                let why = filter(&f.event, &raw.event_type, &raw.conditions).unwrap_or_default();
                format!("`{}`: {why}", f.name)
            })
            .collect();
        let more = if n > SHOWN {
            format!("; {} more", n - SHOWN)
        } else {
            String::new()
        };
        // Where to point: the listed value a fixture's differs from only in type, else the
        // condition or event type the first fixture fails.
        let pointer = rule
            .fixtures
            .iter()
            .find_map(|f| {
                let Some(Miss::NotAllowed(path, v, allowed)) =
                    first_miss(&f.event, &raw.event_type, &raw.conditions)
                else {
                    return None;
                };
                let near = same_text_other_type(v, allowed)?;
                let j = allowed.iter().position(|a| json_equal(a, near))?;
                Some(format!(
                    "{}/{j}",
                    child(&format!("/rules/{}/conditions", rule.index), path)
                ))
            })
            .or_else(|| {
                let f = rule.fixtures.first()?;
                Some(
                    match first_miss(&f.event, &raw.event_type, &raw.conditions)? {
                        Miss::EventType(_) => format!("/rules/{}/eventType", rule.index),
                        Miss::Missing(path, _) | Miss::NotAllowed(path, _, _) => {
                            child(&format!("/rules/{}/conditions", rule.index), path)
                        }
                    },
                )
            })
            .unwrap_or_else(|| format!("/rules/{}/id", rule.index));
        out.push(
            cx.at_value(
                &pointer,
                format!(
                    "rule `{}` selects none of its {n} fixture event{} ({}{more}), nor any event `cxsync sim` generates from the fixtures: `sim` fails the run (\"rule {} was not simulated: no event of the run matched it\") and `cxsync test` never runs the transform",
                    raw.id,
                    if n == 1 { "" } else { "s" },
                    reasons.join("; "),
                    raw.id
                ),
            )
            .with_help(
                "make the event type and conditions match the events the hub sends (values are compared whole, JSON type included: `1` is not `\"1\"`), or add a fixture of an event the rule should select",
            ),
        );
    }
}
