//! ## What it does
//! Flags a value in a rule's `conditions` that none of the rule's fixture events has at that path.
//! A rule that selects no event at all is `rule-matches-no-fixture`'s finding (CX042) instead.
//!
//! ## Why is this bad?
//! Every condition value is a branch of the integration: `email` in
//! `interaction.channel.type: [voice, webchat, email]` means email interactions reach the CRM. If
//! no fixture is an email interaction, `cxsync test` never runs the transform on one, and a field
//! that only emails lack breaks in production first.
//!
//! ## Example
//! ```yaml
//! conditions:
//!   interaction.channel.type: [voice, webchat, email]
//! fixtures: [fixtures/voice.json, fixtures/webchat.json]
//! ```
//!
//! Use instead:
//! ```yaml
//! fixtures: [fixtures/voice.json, fixtures/webchat.json, fixtures/email.json]
//! ```
//!
//! ## Fix safety
//! No automatic fix: a fixture is a real event someone has to capture.

use super::prelude::*;
use crate::spec::yaml::child;
use crate::transform::runner::{filter, json_equal, lookup, matches};
use serde_json::Value;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    // A rule that selects no event at all is CX042's finding (sim fails it), not one untested
    // branch per value.
    let never = super::rule_matches_no_fixture::unmatched(cx);
    for (rule, raw) in cx.enabled_rules() {
        if rule.fixtures.is_empty() || never.contains(&rule.index) {
            continue;
        }
        for (path, values) in &raw.conditions {
            // A path that is a list or an object where the values are single values never
            // matches at all: CX033 says so, and "no fixture has it" would mislead.
            if super::condition_on_list_or_object::whole_value_mismatch(
                &rule.fixtures,
                &raw.event_type,
                path,
                values,
            )
            .is_some()
            {
                continue;
            }
            // The fixtures `cxsync test` runs the transform on: the ones the rule matcher selects.
            let selected: Vec<&Value> = rule
                .fixtures
                .iter()
                .map(|f| &f.event)
                .filter(|e| matches(e, &raw.event_type, &raw.conditions))
                .collect();
            for (j, v) in values.iter().enumerate() {
                // Covered when a selected fixture holds this value, compared as the matcher
                // compares (`8` is `8.0`, `null` is a value).
                let covered = selected
                    .iter()
                    .any(|e| lookup(e, path).is_some_and(|x| json_equal(x, v)));
                if covered {
                    continue;
                }
                let pointer = format!(
                    "{}/{j}",
                    child(&format!("/rules/{}/conditions", rule.index), path)
                );
                out.push(
                    cx.at_value(
                        &pointer,
                        format!(
                            "no fixture of rule `{}` has {path} = {v}; this branch is never tested",
                            raw.id
                        ),
                    )
                    .with_help(unselected_help(rule, raw, path, v)),
                );
            }
        }
    }
}

/// The help of a finding: add a fixture, or, when a fixture holds the value but the rule drops
/// it for another reason, why (the matcher's own words).
fn unselected_help(
    rule: &crate::lint::context::RuleView,
    raw: &crate::spec::model::Rule,
    path: &str,
    v: &Value,
) -> String {
    let dropped = rule.fixtures.iter().find_map(|f| {
        let holds = lookup(&f.event, path).is_some_and(|x| json_equal(x, v));
        holds
            .then(|| filter(&f.event, &raw.event_type, &raw.conditions))
            .flatten()
            .map(|why| (f, why))
    });
    match dropped {
        Some((f, why)) => format!(
            "fixture `{}` has it, but the rule does not select that event ({why}); add a fixture the rule selects",
            f.name
        ),
        None => "add a fixture event for it under `fixtures`".to_string(),
    }
}
