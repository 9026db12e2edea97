//! ## What it does
//! Flags an idempotency key template that two different events render alike. The events are the
//! simulator's own (`sim::engine::preview`, the run's `Feed`): each fixture as it is, then copies
//! of the fixture set generated as `cxsync sim` generates them (`docs/semantics.md`, "Generated
//! events": `event.id`, `interaction.id` and the key's id fields vary, fixtures of one
//! interaction stay one interaction, a queue name or a region never varies), matched against the
//! enabled rules and rendered with the one key template (`delivery::Template`). The rule fires
//! exactly when the simulator's `unique-idempotency-keys` invariant finds two events sharing a
//! key: a key that reads no field that identifies an event (`${event.type}`,
//! `${queue.region}`, a party's id such as `${customer.contactId}` beside an `event.id`), a key
//! without the event type over fixtures of one interaction (`interaction.started` and
//! `interaction.ended` of one call), or `${interaction.id}_${event.type}` over two events of one
//! type about one interaction (two `interaction.updated`). A key any of whose fields tells the
//! events apart (`${event.id}`, a GUID of the event's own, `${interaction.id}` when each
//! interaction sends one event through the channel) is not flagged. Two rules matching one event
//! are CX030's. Like CX030 it fires only when the CRM reads the key (it deduplicates by the
//! header, asked of `crm::dedup` as the simulator's CRM model asks it): a CRM that upserts on a
//! payload field or does not deduplicate drops nothing on a shared key (an upsert field that does
//! not identify the event is CX034's).
//!
//! ## Why is this bad?
//! The CRM drops a request whose key it has seen before. If two different events render the same
//! key (`interaction.started` and `interaction.ended` of one interaction, say), the second one is
//! silently discarded as a duplicate.
//!
//! ## Example
//! ```yaml
//! idempotency:
//!   key: ${interaction.id}
//! rules:
//!   - id: OPEN
//!     eventType: interaction.started
//!     fixtures: [fixtures/started.json]   # interaction.id "INT-1"
//!   - id: CLOSE
//!     eventType: interaction.ended
//!     fixtures: [fixtures/ended.json]     # interaction.id "INT-1"
//! ```
//!
//! Use instead:
//! ```yaml
//! idempotency:
//!   key: ${interaction.id}_${event.type}
//! ```
//!
//! ## Fix safety
//! Changing the template changes every key: events in flight during the change can be applied
//! twice by a CRM that deduplicates by header.

use super::prelude::*;
use crate::delivery::Template;
use crate::diag::Severity;
use crate::sim::engine::preview::{self, Write};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.crm().1.mode.reads_key() {
        return;
    }
    let Ok(template) = Template::parse(&cx.spec.raw.idempotency.key) else {
        // The loader reports a template that does not parse (E403).
        return;
    };
    // A rule whose transform does not compile is reported by CX025; the simulator refuses the
    // spec, so there is no run to agree with.
    let Ok(inputs) = crate::sim::inputs::compile(cx.spec) else {
        return;
    };
    let Ok(writes) = preview::writes(cx.spec, &inputs, preview::COPIES) else {
        return;
    };
    let pairs = preview::shared_keys(&writes);
    let Some(&(a, b)) = pairs.first() else {
        return;
    };
    let (a, b) = (&writes[a], &writes[b]);
    let vars: Vec<String> = template.vars().collect();
    let why = match crate::sim::engine::key_hint(&template, &inputs) {
        // The key reads no field generated events vary: the simulator's own words.
        Some(hint) => hint.trim_end_matches(" (lint: CX016)").to_string(),
        None if a.subject == b.subject && !vars.iter().any(|v| v == "event.type") => {
            "they are two events of one interaction, and the key reads no event type".to_string()
        }
        None if a.subject == b.subject => format!(
            "they are two `{}` events of one interaction, which only `${{event.id}}` tells apart",
            b.event_type
        ),
        None => "no field of the key tells them apart".to_string(),
    };
    let more = match pairs.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} more pair(s) among the events `cxsync sim` makes of the fixtures)"),
    };
    let name = |w: &Write| {
        format!(
            "{} (`{}`, fixture `{}`, rule `{}`)",
            crate::diag::printable(&w.event_id),
            w.event_type,
            w.fixture,
            inputs.rules[w.rule].id
        )
    };
    // A field cxsync cannot judge (`bookingRef`, distinct id-like fixture values: not named or
    // written as an id): the events share the key in the simulation because it keeps the
    // fixtures' values, not because production events would share it (tester #250).
    let unsure: Vec<&String> = inputs
        .identity
        .unsure
        .iter()
        .filter(|u| vars.contains(u))
        .collect();
    if crate::sim::engine::key_hint(&template, &inputs).is_some() && !unsure.is_empty() {
        let fields = unsure
            .iter()
            .map(|u| format!("`{u}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "cxsync cannot tell whether {fields} is unique per event: it is not named as an id (`…Id`, `guid`, `…Sid`) and its fixture values are not written as one (a UUID, a long hex id); `cxsync sim` keeps the fixtures' values there, so its events {} and {} both render `{}`{more}, and it reports them as sharing a key",
                    name(a),
                    name(b),
                    crate::diag::printable(b.key.as_deref().unwrap_or_default()),
                ),
            )
            .with_help("if the field is unique per event in production, add `${event.id}` to the key (or suppress with `# cxsync: ignore[CX016]`); if it is not, use `${event.id}`")
            .with_severity(Severity::Warning),
        );
        return;
    }
    out.push(
        cx.at_value(
            "/idempotency/key",
            format!(
                "the idempotency key does not identify one event: events {} and {} both render `{}`{more}: {why}",
                name(a),
                name(b),
                crate::diag::printable(b.key.as_deref().unwrap_or_default()),
            ),
        )
        .with_help("use `${event.id}`, or `${interaction.id}_${event.type}` when an interaction sends one event of each type"),
    );
}
