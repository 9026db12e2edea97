//! ## What it does
//! Flags two enabled rules that can match the same event: the same `eventType` and conditions
//! one event can satisfy together. Conditions are compared the way the rule matcher reads them: a
//! path only one rule constrains matches anything, lists on the same path overlap when they share
//! a value (numbers by value), lists with no common value are disjoint. The idempotency key is
//! rendered per channel from the event alone, so both deliveries of such an event carry the same
//! key. It fires only when the spec's CRM reads that key (it deduplicates by header, asked of
//! `crm::dedup`, the fact the simulator's `unique-idempotency-keys` invariant asks too): a CRM
//! that upserts on a payload field, or does not deduplicate, writes both deliveries. The finding
//! names both rules, the event they share and the header the CRM drops the second one on.
//!
//! One finding per rule, at its `id`, for the earlier rules it can collide with: every colliding
//! pair is reported once, at its later rule, which names the first three earlier rules and counts
//! the rest ("and 296 more"). Rules with the same event type and conditions are compared once as
//! a group, so a spec of hundreds of copies of one rule is checked in time linear in its rules.
//!
//! ## Why is this bad?
//! A CRM that deduplicates on the idempotency key keeps the first delivery and drops the second as
//! a duplicate: one rule's write silently never happens (`cxsync sim` reports it as lost).
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
use crate::transform::runner::common_match;

/// The header a CRM that reads the key drops the second delivery of one event on, with the
/// profile's name; `None` when the CRM does not read the key ([`crate::crm::DedupMode::reads_key`]).
fn dropping_header(cx: &Context) -> Option<(&'static str, String)> {
    let (profile, d) = cx.crm();
    if !d.mode.reads_key() {
        return None;
    }
    Some((
        profile.name,
        d.header
            .unwrap_or_else(|| cx.spec.raw.idempotency.header.clone()),
    ))
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

/// How many earlier rules a finding names before "and N more".
const NAMED: usize = 3;

type Conditions = indexmap::IndexMap<String, Vec<serde_json::Value>>;
type Common = Vec<(String, Vec<serde_json::Value>)>;

/// Rules with the same event type and the same conditions: one class, compared with the other
/// classes once, so a spec of many copies of one rule costs one comparison, not one per pair.
struct Class<'r> {
    event_type: &'r str,
    conditions: &'r Conditions,
    /// Positions of the rules in the class, ascending.
    members: Vec<usize>,
}

/// A rule that can match an event an earlier rule also matches.
#[derive(Debug, PartialEq)]
struct Collision {
    /// Position of the rule.
    pos: usize,
    /// How many earlier rules it can collide with.
    count: usize,
    /// The first (at most [`NAMED`]) of them, ascending, each with the event they share.
    first: Vec<(usize, Common)>,
}

/// Which rules (event type and conditions, in spec order) collide with earlier ones: every
/// colliding pair is counted once, at its later rule, from one [`common_match`] per pair of
/// classes.
fn collisions(rules: &[(&str, &Conditions)]) -> Vec<Collision> {
    let mut classes: Vec<Class> = Vec::new();
    let mut class_of = Vec::with_capacity(rules.len());
    let mut by_shape: std::collections::BTreeMap<(&str, String), usize> = Default::default();
    for (pos, (event_type, conditions)) in rules.iter().enumerate() {
        // Conditions as a canonical text (paths sorted): equal texts select the same events.
        let sorted: std::collections::BTreeMap<_, _> = conditions.iter().collect();
        let shape = (
            *event_type,
            serde_json::to_string(&sorted).unwrap_or_default(),
        );
        let c = *by_shape.entry(shape).or_insert_with(|| {
            classes.push(Class {
                event_type,
                conditions,
                members: Vec::new(),
            });
            classes.len() - 1
        });
        classes[c].members.push(pos);
        class_of.push(c);
    }
    // The classes each class overlaps (itself included when its conditions can be met), with the
    // event they share. Only classes of one event type can overlap.
    let mut overlaps: Vec<Vec<(usize, Common)>> = vec![Vec::new(); classes.len()];
    for q in 0..classes.len() {
        for p in 0..=q {
            if classes[p].event_type != classes[q].event_type {
                continue;
            }
            if let Some(common) = common_match(&[
                (classes[p].event_type, classes[p].conditions),
                (classes[q].event_type, classes[q].conditions),
            ]) {
                if p != q {
                    overlaps[p].push((q, common.clone()));
                }
                overlaps[q].push((p, common));
            }
        }
    }
    let mut out = Vec::new();
    for (pos, &class) in class_of.iter().enumerate() {
        // Earlier rules of every overlapping class: how many, and the first few.
        let mut count = 0;
        let mut first = Vec::new();
        for (p, common) in &overlaps[class] {
            let members = &classes[*p].members;
            let earlier = members.partition_point(|&m| m < pos);
            count += earlier;
            first.extend(members[..earlier.min(NAMED)].iter().map(|&m| (m, common)));
        }
        if count > 0 {
            first.sort_by_key(|(m, _)| *m);
            first.truncate(NAMED);
            let first = first.into_iter().map(|(m, c)| (m, c.clone())).collect();
            out.push(Collision { pos, count, first });
        }
    }
    out
}

/// One finding per rule that can match an event an earlier rule also matches, at the later rule's
/// `id`: every colliding pair is reported exactly once (at its later rule), the first few earlier
/// rules are named and the rest counted.
pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some((crm_name, header)) = dropping_header(cx) else {
        return;
    };
    let rules: Vec<_> = cx.enabled_rules().collect();
    let shapes: Vec<(&str, &Conditions)> = rules
        .iter()
        .map(|(_, r)| (r.event_type.as_str(), &r.conditions))
        .collect();
    let found = collisions(&shapes);
    for Collision { pos, count, first } in found {
        let (later, b) = rules[pos];
        let (nearest, common) = &first[0];
        let (earlier, a) = rules[*nearest];
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
        let many = count > 1;
        let others = if many {
            "the others as duplicates"
        } else {
            "the other as a duplicate"
        };
        let shared = format!(
            "and the idempotency key is per channel: {} carry the same key, and {crm_name} deduplicates on `{header}`, so it keeps the first delivery and drops {others}",
            if many {
                "the deliveries of such an event"
            } else {
                "both deliveries"
            }
        );
        let message = if many {
            let named: Vec<String> = first
                .iter()
                .map(|(m, _)| format!("`{}`", rules[*m].1.id))
                .collect();
            let more = match count - named.len() {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!(
                "rule `{}` can match the same event as {count} earlier rules ({}{more}): `{}` and `{}` both match {}{fixture}, {shared}",
                b.id,
                named.join(", "),
                a.id,
                b.id,
                describe(common)
            )
        } else {
            format!(
                "rules `{}` and `{}` both match {}{fixture}, {shared}",
                a.id,
                b.id,
                describe(common)
            )
        };
        let others = if many {
            format!("`{}` and the {count} earlier rules it collides with", b.id)
        } else {
            format!("`{}` and `{}`", a.id, b.id)
        };
        out.push(
            cx.at_value(&format!("/rules/{}/id", later.index), message)
                .with_help(format!(
                    "make the conditions of {others} disjoint, merge them into one rule, or give one its own channel whose `idempotency.key` adds something rule-specific (e.g. `{}-{}`)",
                    b.id, cx.spec.raw.idempotency.key
                )),
        );
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

    /// Asserts that `d`'s message holds `words`, showing the message when it does not.
    fn assert_says(d: &Diagnostic, words: &str) {
        assert!(d.message.contains(words), "{}", d.message);
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
        assert_says(
            &d[0],
            "rules `r` and `note` both match every `interaction.ended` event",
        );
        assert_says(&d[0], "generic deduplicates on `X-Idempotency-Key`");
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

    /// A CRM that does not read the key (it upserts on a field, or does not deduplicate)
    /// writes both deliveries: nothing to flag, as the simulator finds nothing dropped.
    #[test]
    fn only_a_crm_that_reads_the_key_is_flagged() {
        let extra = format!("[{}]", rule("x", "interaction.ended", "{}"));
        for crm in [
            "profile: salesforce",
            "profile: hubspot",
            "idempotency: { by: upsert, field: ref }",
            "idempotency: { by: none }",
        ] {
            assert!(run(&extra, crm).is_empty(), "{crm}");
        }
        let d = run(&extra, "profile: zendesk");
        // Zendesk's own header is not the spec's: it reads no key the spec sends (CX031).
        assert!(d.is_empty(), "{d:#?}");
        let d = run(&extra, "idempotency: { by: header }");
        assert_says(&d[0], "generic deduplicates on `X-Idempotency-Key`");
    }

    #[test]
    fn many_rules_on_one_key_give_one_finding_per_rule_naming_the_first_three() {
        let extra: Vec<String> = (1..300)
            .map(|i| rule(&format!("R{i:03}"), "interaction.ended", "{}"))
            .collect();
        let d = run(&format!("[{}]", extra.join(",")), "profile: generic");
        assert_eq!(d.len(), 299, "one per rule after the first");
        assert!(
            d[0].message
                .starts_with("rules `r` and `R001` both match every `interaction.ended` event"),
            "{}",
            d[0].message
        );
        let last = &d[298].message;
        assert!(
            last.starts_with(
                "rule `R299` can match the same event as 299 earlier rules (`r`, `R001`, `R002` and 296 more): `r` and `R299` both match every `interaction.ended` event"
            ),
            "{last}"
        );
        assert!(last.contains("drops the others as duplicates"), "{last}");
    }

    /// The grouped comparison reports exactly the pairs one `common_match` per pair of rules finds.
    mod grouped_equals_pairwise {
        use super::super::{collisions, Conditions, NAMED};
        use crate::transform::runner::common_match;
        use proptest::prelude::*;

        fn shape() -> impl Strategy<Value = (String, Conditions)> {
            let ty = prop::sample::select(vec!["interaction.ended", "interaction.started"]);
            let path = prop::sample::select(vec![
                "interaction.channel.type",
                "interaction.queue",
                "interaction.queue.name",
            ]);
            let value = prop::sample::select(vec![
                serde_json::json!("voice"),
                serde_json::json!("chat"),
                serde_json::json!({"name": "voice"}),
                serde_json::json!(1),
                serde_json::json!(1.0),
            ]);
            let conditions =
                prop::collection::vec((path, prop::collection::vec(value, 0..3)), 0..3);
            (ty, conditions).prop_map(|(ty, cs)| {
                let mut m = Conditions::new();
                for (p, v) in cs {
                    m.insert(p.to_string(), v);
                }
                (ty.to_string(), m)
            })
        }

        proptest! {
            #[test]
            fn on_random_rules(rules in prop::collection::vec(shape(), 0..24)) {
                let shapes: Vec<(&str, &Conditions)> =
                    rules.iter().map(|(t, c)| (t.as_str(), c)).collect();
                let found = collisions(&shapes);
                let mut expected = Vec::new();
                for j in 0..shapes.len() {
                    let earlier: Vec<usize> = (0..j)
                        .filter(|&i| common_match(&[shapes[i], shapes[j]]).is_some())
                        .collect();
                    if !earlier.is_empty() {
                        expected.push((j, earlier.len(), earlier[..earlier.len().min(NAMED)].to_vec()));
                    }
                }
                let got: Vec<_> = found
                    .iter()
                    .map(|c| (c.pos, c.count, c.first.iter().map(|(m, _)| *m).collect::<Vec<_>>()))
                    .collect();
                prop_assert_eq!(got, expected);
            }
        }
    }
}
