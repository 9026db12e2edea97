//! ## What it does
//! Flags rules whose deliveries of two different events about one subject (two events of one
//! interaction: `interaction.started` and `interaction.ended`, `ticket.created` and
//! `ticket.updated`) write one record of a CRM that upserts (`crm.idempotency: {by: upsert,
//! field}`, or the CRM profile's default, asked of `crm::dedup` as the simulator's CRM model
//! asks it). The events are the simulator's own (`sim::engine::preview`): each fixture as it is
//! and copies of the fixture set generated as `cxsync sim` generates them, where fixtures that
//! share an `interaction.id` (or the key's own id field) stay one interaction; each is run
//! through every rule it matches and the record is the CRM model's reading of the payload (its
//! upsert field's value; a payload the CRM refuses writes nothing). Where the CRM merges an
//! upsert's fields into the record (`crm::upsert_merges`: every profile for the Event Hub's
//! `POST`), two writes can set each other back only where they set one field to different
//! values (`crm::sets_back`, the model's own rule): rules that write fields of their own of one
//! record (a call's duration, its survey's score) are fine. The rule fires exactly where the
//! simulator can report a record *set back by an older event*. It also flags two rules that
//! write one record for **one event** with different values (a field both set, or any two
//! writes where the upsert replaces): the record keeps whichever lands last, which the
//! simulator reports as *overwritten by another rule of the same event* (#271).
//!
//! ## Why is this bad?
//! An upserting CRM keeps the last write of each field of a record. The Event Hub delivers each event on its
//! own, with retries: when the `started` delivery is throttled or meets a 503 and its retry lands
//! after the `ended` delivery, the record goes back to "open" and stays there. Every request got
//! a 2xx; nothing fails. `cxsync sim` counts such records as lost ("set back by an older
//! event"), and a `dlq replay` of an old record does the same.
//!
//! ## Example
//! ```yaml
//! crm:
//!   idempotency: { by: upsert, field: external_id }
//! rules:
//!   - id: OPEN
//!     eventType: interaction.started
//!     transform: '{"external_id": interaction.id, "status": "open"}'
//!   - id: CLOSE
//!     eventType: interaction.ended
//!     transform: '{"external_id": interaction.id, "status": "closed"}'
//! ```
//!
//! Use instead: a field per event type (`"opened_at"` and `"closed_at"`, no shared `status`),
//! or a record per event type (or per event), so no write replaces another event's:
//! ```yaml
//! rules:
//!   - id: OPEN
//!     transform: '{"external_id": interaction.id & "-" & event.type, "status": "open"}'
//! ```
//! A CRM that refuses an older write itself (it compares a version or the event's time it is
//! sent) is safe; the simulator does not model that: say so with
//! `# cxsync: ignore[CX037]` on the rule.
//!
//! ## Fix safety
//! No automatic fix: which record each event updates is the integration's decision.

use super::prelude::*;
use crate::diag::printable;
use crate::sim::engine::preview::{self, Write};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let (profile, dedup) = cx.crm();
    let Some(field) = dedup.upserts_on() else {
        return;
    };
    // A transform that does not compile is CX025's; the simulator refuses the spec.
    let Ok(inputs) = crate::sim::inputs::compile(cx.spec) else {
        return;
    };
    let Ok(writes) = preview::writes(cx.spec, &inputs, preview::COPIES) else {
        return;
    };
    // Each pair of rules once (a rule may pair with itself: two events of one subject), at the
    // later rule, with its first example.
    let mut seen = std::collections::BTreeSet::new();
    let shown = field.trim_start_matches('/').replace('/', ".");
    let rule_id = |i: usize| inputs.rules[i].id.as_str();
    // A pair of rules not reported yet: (the earlier rule, the later, where to report it).
    let mut new_pair = |a: &Write, b: &Write| {
        let (first, second) = (a.rule.min(b.rule), a.rule.max(b.rule));
        if !seen.insert((first, second)) {
            return None;
        }
        let (view, _) = cx.enabled_rules().find(|(_, r)| r.id == rule_id(second))?;
        Some((first, second, view.index))
    };
    for (a, b) in preview::shared_records(&writes) {
        let (a, b) = (&writes[a], &writes[b]);
        let Some((first, second, index)) = new_pair(a, b) else {
            continue;
        };
        let rules = if first == second {
            format!("rule `{}` writes", rule_id(first))
        } else {
            format!("rules `{}` and `{}` write", rule_id(first), rule_id(second))
        };
        let name = |w: &Write| {
            format!(
                "{} (`{}`, fixture `{}`)",
                printable(&w.event_id),
                w.event_type,
                w.fixture
            )
        };
        let about = b
            .subject_text
            .as_deref()
            .map(|s| {
                format!(
                    " about {}",
                    printable(&s.replace('=', " ").replace('\u{1f}', ", "))
                )
            })
            .unwrap_or_default();
        out.push(
            cx.at_value(
                &format!("/rules/{index}/id"),
                format!(
                    "{rules} one record for two events{about}: {} upserts on `{shown}`, which events {} and {} both fill with {}, and {}, so a retry of the `{}` delivery that lands after the `{}` one sets the record back",
                    profile.name,
                    name(a),
                    name(b),
                    printable(b.record.as_deref().unwrap_or_default()),
                    if a.fields.is_some() {
                        "the CRM merges each write's fields into the record, but both set a field to different values: the last write of it wins"
                    } else {
                        "each write replaces the whole record: the last write wins"
                    },
                    a.event_type,
                    b.event_type,
                ),
            )
            .with_help(format!(
                "give each event type a record of its own (e.g. `\"{shown}\": interaction.id & \"-\" & event.type`), or let one rule write the record; if the CRM itself refuses an older write (a version or event time it compares), suppress this with a reason"
            )),
        );
    }
    // Two rules of one event (#271): each pair of rules once, at the later rule.
    for (a, b) in preview::rule_conflicts(&writes) {
        let (a, b) = (&writes[a], &writes[b]);
        let Some((first, second, index)) = new_pair(a, b) else {
            continue;
        };
        out.push(
            cx.at_value(
                &format!("/rules/{index}/id"),
                format!(
                    "rules `{}` and `{}` write one record for one event, {} (`{}`, fixture `{}`): {} upserts on `{shown}`, which both fill with {}, and {}, so the record keeps whichever write lands last and a retry can reverse it",
                    rule_id(first),
                    rule_id(second),
                    printable(&a.event_id),
                    a.event_type,
                    a.fixture,
                    profile.name,
                    printable(a.record.as_deref().unwrap_or_default()),
                    if a.fields.is_some() {
                        "the CRM merges each write's fields into the record, but both set a field to different values"
                    } else {
                        "each write replaces the whole record"
                    },
                ),
            )
            .with_help(
                "let the rules write fields of their own, give each rule its own upsert value, or let one rule write the record".to_string(),
            ),
        );
    }
}
