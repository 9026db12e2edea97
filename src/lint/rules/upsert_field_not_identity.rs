//! ## What it does
//! Flags a transform that fills the CRM's upsert field (`crm.idempotency: {by: upsert, field}`,
//! or the CRM profile's default) from input paths none of which identifies the event, or does not
//! write the field at all. Identity is the simulator's own (`docs/semantics.md`, "Generated
//! events"): `event.id` and `interaction.id`, and only in an event that has neither, the
//! idempotency key's id fields. A queue name, a region, an event kind, a constant identify
//! nothing. The upsert field and mode are asked of the CRM profile the simulator's CRM model uses
//! (`crm::dedup`); with fixtures, each fixture the rule matches is checked the way the
//! simulator's generator varies events copied from it. A field that reads the identity is also
//! checked by running the transform on events generated from each fixture as the simulator makes
//! them: two different interactions that get one value (`$substring(interaction.id, 0, 8)`) are
//! a finding.
//!
//! ## Why is this bad?
//! An upserting CRM keeps one record per upsert value. When the value does not identify the event
//! (`"region": interaction.queue.region`), every event of that region writes the same record:
//! all but the last are silently overwritten. Nothing fails and every request gets a 2xx;
//! `cxsync sim` counts such records as lost ("overwritten by other events").
//!
//! A record per customer or per region that later events are meant to replace (a "latest state"
//! record) is the exception: say so with `# cxsync: ignore[CX034]` on the line (or a
//! `/* cxsync: ignore[CX034] */` in the transform).
//!
//! ## Example
//! ```yaml
//! crm:
//!   profile: hubspot
//!   idempotency: { by: upsert, field: region }
//! rules:
//!   - transform: '{"id": interaction.id, "region": interaction.queue.region}'
//! ```
//!
//! Use instead: upsert on a field the transform fills from the event's identity:
//! ```yaml
//! crm:
//!   idempotency: { by: upsert, field: externalId }
//! rules:
//!   - transform: '{"externalId": interaction.id & "-" & event.type, "region": interaction.queue.region}'
//! ```
//!
//! ## Fix safety
//! No automatic fix: changing the upsert field changes which CRM records later events update.

use super::prelude::*;
use crate::sim::engine::vary::{Identity, Plan, IDENTITY};
use crate::transform::runner::matches;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let (profile, dedup) = cx.crm();
    let Some(field) = dedup.upserts_on() else {
        // No upsert field at all is CX031's.
        return;
    };
    // The simulator's identity for this spec (`vary::Identity::of_spec`): the id fields of the
    // key and of the upsert field's inputs, less the ones rules route on.
    let identity = Identity::of_spec(cx.spec);
    // A top-level field name, or a JSON pointer into the payload, as the CRM model reads it.
    let pointer = if field.starts_with('/') {
        field.to_string()
    } else {
        format!("/{}", field.replace('~', "~0").replace('/', "~1"))
    };
    let shown = field.trim_start_matches('/').replace('/', ".");
    for (rule, r) in cx.enabled_rules() {
        let Some(t) = &rule.transform else { continue };
        let Ok(a) = &t.analysis else { continue };
        // Computed keys (`*`) may write the field: nothing certain to say.
        if a.outputs.is_empty() || a.outputs.iter().any(|o| o.pointer.contains('*')) {
            continue;
        }
        let Some(f) = a.outputs.iter().find(|o| o.pointer == pointer) else {
            out.push(
                cx.at_value(
                    &format!("/rules/{}/id", rule.index),
                    format!(
                        "{} upserts on `{shown}`, and rule `{}`'s transform does not write it: every record of the rule upserts onto one empty value and overwrites the one before",
                        profile.name, r.id
                    ),
                )
                .with_help(format!(
                    "add `\"{shown}\": interaction.id` (or another field filled from `interaction.id` or `event.id`) to the transform"
                )),
            );
            continue;
        };
        let carried: Vec<String> = f.carries.iter().map(|p| p.dotted()).collect();
        // The events the simulator would copy for this rule: its fixtures that it matches. Without
        // any, the built-in event, which has both `event.id` and `interaction.id`.
        let events: Vec<_> = rule
            .fixtures
            .iter()
            .filter(|fx| matches(&fx.event, &r.event_type, &r.conditions))
            .collect();
        let unidentified = if events.is_empty() {
            (!carried.iter().any(|p| IDENTITY.contains(&p.as_str()))).then_some(None)
        } else {
            events
                .iter()
                .find(|fx| !carried.iter().any(|p| identity.varies(&fx.event, p)))
                .map(|fx| Some(&fx.name))
        };
        let Some(fixture) = unidentified else {
            // The field reads the identity; whether it keeps it is the transform's answer on
            // events generated as the simulator generates them (`$substring(interaction.id, 0,
            // 8)` gives one value for many interactions).
            if let Some(c) = generated_collision(cx, rule, r, &identity, &pointer, &events) {
                out.push(
                    cx.at_output(
                        &t.source,
                        f,
                        format!(
                            "{} upserts on `{shown}`, which rule `{}` fills from {}, but two events generated from fixture `{}` with different identities ({} and {}) both get {}: the transform keeps only part of the identity, so such events write one record and all but the last are overwritten",
                            profile.name, r.id, list(&carried), c.fixture, c.first, c.second, c.value
                        ),
                    )
                    .with_help(format!(
                        "fill `{shown}` from the whole `interaction.id` or `event.id` (not a part of it, such as a `$substring`)"
                    )),
                );
            }
            continue;
        };
        let reads = list(&carried);
        let example = fixture
            .map(|n| format!(" (fixture `{n}`)"))
            .unwrap_or_default();
        out.push(
            cx.at_output(
                &t.source,
                f,
                format!(
                    "{} upserts on `{shown}`, which rule `{}` fills from {reads}{example}: that identifies no event (not `interaction.id`, not `event.id`), so events sharing the value write one record and all but the last are overwritten",
                    profile.name, r.id
                ),
            )
            .with_help(format!(
                "upsert on a field the transform fills from `interaction.id` or `event.id` (e.g. `\"{shown}\": interaction.id`, or name another field in `crm.idempotency.field`)"
            )),
        );
    }
}

/// Input paths as a finding names them: "`a`, `b`", or "no input at all".
fn list(paths: &[String]) -> String {
    if paths.is_empty() {
        return "no input at all".to_string();
    }
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Two generated events of one fixture whose upsert values are equal while their subjects
/// differ.
struct Collision {
    fixture: String,
    first: String,
    second: String,
    value: String,
}

/// Events generated per fixture for [`generated_collision`]: as many as a default `sim` run
/// makes of one fixture, so what collides there collides here.
const GENERATED_PER_FIXTURE: u64 = 256;

/// Runs the rule's transform on events generated from each of its fixtures as the simulator's
/// generator makes them ([`Plan`], with the simulator's [`Identity`]), and returns the first
/// pair with different subjects ([`Identity::subject`], the CRM model's record owner) and one
/// upsert value. `None` when every value is distinct, or the transform does not compile or
/// fails (other rules say so).
fn generated_collision(
    cx: &Context,
    rule: &crate::lint::context::RuleView,
    raw: &crate::spec::model::Rule,
    identity: &Identity,
    pointer: &str,
    events: &[&crate::spec::Fixture],
) -> Option<Collision> {
    let resolved = cx.spec.rules.iter().find(|x| x.index == rule.index)?;
    let transform = crate::transform::runner::compile_rule(cx.spec, resolved).ok()?;
    let templates: Vec<serde_json::Value> =
        events.iter().take(4).map(|f| f.event.clone()).collect();
    let n = templates.len() as u64;
    let plan = Plan::new(&templates, GENERATED_PER_FIXTURE * n, identity).ok()?;
    let now = crate::transform::default_now();
    let arrival = now.timestamp_millis();
    for (t, template) in templates.iter().enumerate() {
        // Upsert value → the subject of the first event that wrote it.
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        for j in 0..GENERATED_PER_FIXTURE {
            let g = j * n + t as u64;
            let ev = plan.apply(template, t, g, arrival + g as i64 * 1000);
            if !matches(&ev, &raw.event_type, &raw.conditions) {
                continue;
            }
            let Ok(Some(out)) = transform.eval(&ev, now) else {
                return None;
            };
            let (Some(value), Some(subject)) = (out.pointer(pointer), identity.subject(&ev)) else {
                continue;
            };
            let value = value.to_string();
            match seen.get(&value) {
                Some(other) if *other != subject => {
                    return Some(Collision {
                        fixture: events[t].name.clone(),
                        first: shown_subject(other),
                        second: shown_subject(&subject),
                        value,
                    })
                }
                Some(_) => {}
                None => {
                    seen.insert(value, subject);
                }
            }
        }
    }
    None
}

/// A subject as a finding shows it: `interaction.id="INT-00417"` → `interaction.id "INT-00417"`.
fn shown_subject(subject: &str) -> String {
    subject.replace('=', " ").replace('\u{1f}', ", ")
}
