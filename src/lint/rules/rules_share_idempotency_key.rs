//! ## What it does
//! Flags two enabled rules that can match the same event: the same `eventType` and conditions
//! one event can satisfy together. Conditions are compared the way the rule matcher reads them: a
//! path only one rule constrains matches anything, lists on the same path overlap when they share
//! a value (numbers by value), lists with no common value are disjoint. The idempotency key is
//! rendered per channel from the event alone, so both deliveries of such an event carry the same
//! key. The finding names both rules, the event they share and what the spec's CRM does with the
//! second delivery (asked of the CRM profile the simulator uses).
//!
//! ## Why is this bad?
//! A CRM that deduplicates on the idempotency key keeps the first delivery and drops the second as
//! a duplicate: one rule's write silently never happens (`cxsync sim` reports it as lost). A CRM
//! that does not deduplicate writes both, but the key no longer identifies one delivery, so its
//! retries cannot be told apart either.
//!
//! ## Example
//! ```yaml
//! idempotency:
//!   key: ${interaction.id}_${event.type}
//! rules:
//!   - id: CASE
//!     eventType: interaction.ended
//!   - id: VOICE_NOTE
//!     eventType: interaction.ended
//!     conditions:
//!       interaction.channel.type: [voice]
//! ```
//!
//! Use instead: make the conditions disjoint (`interaction.channel.type: [webchat, email]` on
//! `CASE`), merge the two into one rule whose transform writes both, or move one rule to a
//! channel of its own (a spec of its own) whose key adds something rule-specific:
//! ```yaml
//! idempotency:
//!   key: note-${interaction.id}_${event.type}
//! ```
//!
//! ## Fix safety
//! No automatic fix: which events each rule is for is the integration's decision.

use super::prelude::*;
use crate::crm::{self, DedupMode};
use crate::transform::runner::common_match;

/// What the CRM does with the second delivery of one event under one key.
fn consequence(cx: &Context) -> String {
    let raw = &cx.spec.raw;
    let profile = crm::profile(raw.crm.profile);
    let d = crm::dedup(raw, &profile, &Default::default());
    match (&d.mode, &d.header, &d.upsert_field) {
        (DedupMode::Header, Some(h), _) => format!(
            "{} deduplicates on `{h}`, so it keeps the first delivery and drops the other as a duplicate",
            profile.name
        ),
        (DedupMode::Upsert, _, Some(f)) => format!(
            "{} upserts on `{f}` and ignores the key, so both are written, but the key no longer identifies one delivery",
            profile.name
        ),
        _ => format!(
            "{} does not deduplicate, so both are written, but the key no longer identifies one delivery",
            profile.name
        ),
    }
}

/// An event both rules select, in words: the outermost constrained paths and a value each.
fn describe(common: &[(String, Vec<serde_json::Value>)]) -> String {
    let mut ty = String::new();
    let mut parts = Vec::new();
    for (path, values) in common {
        let shown = values.first().map(|v| v.to_string()).unwrap_or_default();
        if path == "event.type" {
            ty = values
                .first()
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
        } else {
            parts.push(format!("{path} = {shown}"));
        }
    }
    if parts.is_empty() {
        format!("every `{ty}` event")
    } else {
        format!("an `{ty}` event with {}", parts.join(" and "))
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let rules: Vec<_> = cx.enabled_rules().collect();
    let mut what = None;
    for (j, (later, b)) in rules.iter().enumerate() {
        for (earlier, a) in &rules[..j] {
            let Some(common) = common_match(&[
                (a.event_type.as_str(), &a.conditions),
                (b.event_type.as_str(), &b.conditions),
            ]) else {
                continue;
            };
            // A fixture of either rule that both select makes the example concrete.
            let fixture = earlier
                .fixtures
                .iter()
                .chain(&later.fixtures)
                .find(|f| {
                    [a, b].iter().all(|r| {
                        crate::transform::runner::matches(&f.event, &r.event_type, &r.conditions)
                    })
                })
                .map(|f| format!(" (fixture `{}`)", f.name))
                .unwrap_or_default();
            let what = what.get_or_insert_with(|| consequence(cx));
            out.push(
                cx.at_value(
                    &format!("/rules/{}/id", later.index),
                    format!(
                        "rules `{}` and `{}` both match {}{fixture}, and the idempotency key is per channel: both deliveries carry the same key, and {what}",
                        a.id,
                        b.id,
                        describe(&common)
                    ),
                )
                .with_help(format!(
                    "make the conditions of `{}` and `{}` disjoint, merge them into one rule, or give one its own channel whose `idempotency.key` adds something rule-specific (e.g. `{}-{}`)",
                    a.id, b.id, b.id, cx.spec.raw.idempotency.key
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::context::RuleView;
    use crate::lint::rules::tests_support::spec_with;

    fn run(extra: &str, crm_line: &str) -> Vec<Diagnostic> {
        let mut spec = spec_with(crm_line);
        let mut rules = serde_json::to_value(&spec.raw.rules).unwrap();
        let more: serde_json::Value = serde_json::from_str(extra).unwrap();
        rules
            .as_array_mut()
            .unwrap()
            .extend(more.as_array().unwrap().iter().cloned());
        spec.raw.rules = serde_json::from_value(rules).unwrap();
        let cx = Context {
            spec: &spec,
            rules: (0..spec.raw.rules.len())
                .map(|index| RuleView {
                    index,
                    transform: None,
                    fixtures: Vec::new(),
                })
                .collect(),
        };
        let mut out = Vec::new();
        check(&cx, &mut out);
        out
    }

    fn rule(id: &str, ty: &str, conditions: &str) -> String {
        format!(
            r#"{{"id": "{id}", "name": "{id}", "eventType": "{ty}", "conditions": {conditions}, "transform": "{{}}"}}"#
        )
    }

    #[test]
    fn a_second_rule_on_the_same_events_is_flagged_with_both_names() {
        let d = run(
            &format!("[{}]", rule("note", "interaction.ended", "{}")),
            "profile: generic",
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].message
                .contains("rules `r` and `note` both match every `interaction.ended` event"),
            "{}",
            d[0].message
        );
        assert!(
            d[0].message
                .contains("generic deduplicates on `X-Idempotency-Key`"),
            "{}",
            d[0].message
        );
        assert!(d[0].help.as_deref().unwrap().contains("note-${event.id}"));
    }

    #[test]
    fn disjoint_conditions_and_other_event_types_are_not_flagged() {
        let extra = format!(
            "[{}, {}, {}]",
            rule(
                "voice",
                "interaction.ended",
                r#"{"interaction.channel.type": ["voice"]}"#
            ),
            rule(
                "chat",
                "interaction.ended",
                r#"{"interaction.channel.type": ["webchat", "email"]}"#
            ),
            rule("start", "interaction.started", "{}"),
        );
        let d = run(&extra, "profile: generic");
        // `r` (no conditions) overlaps `voice` and `chat`; `voice` and `chat` are disjoint, and
        // `start` matches other events.
        let pairs: Vec<&str> = d
            .iter()
            .map(|x| x.message.split(" both").next().unwrap())
            .collect();
        assert_eq!(
            pairs,
            ["rules `r` and `voice`", "rules `r` and `chat`"],
            "{d:#?}"
        );
    }

    #[test]
    fn the_consequence_comes_from_the_crm_profile() {
        let extra = format!("[{}]", rule("x", "interaction.ended", "{}"));
        let d = run(&extra, "profile: salesforce");
        assert!(
            d[0].message
                .contains("salesforce does not deduplicate, so both are written"),
            "{}",
            d[0].message
        );
    }
}
