//! ## What it does
//! Flags an idempotency key template that does not identify one event: it reads neither
//! `event.id` nor an id together with `event.type`. An id is what the simulator's generator
//! varies (`docs/semantics.md`, "Generated events"; one definition, `vary::Identity`):
//! `interaction.id`; an id-named field of the event's own call or conversation
//! (`conversation.conversationId`, `call.id`, `ticket_id`) that no rule routes on; and, in fixture
//! events that have neither `event.id` nor `interaction.id`, a party's id-named field
//! (`contactId`, `customer.id`, `agent.id`), which beside those ids many events share.
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
use super::template_vars;
use crate::delivery::Template;
use crate::lint::context::lookup;
use crate::sim::engine::vary::{Identity, IDENTITY};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let vars = template_vars(&cx.spec.raw.idempotency.key);
    let has_event_id = vars.iter().any(|v| v == "event.id");
    let has_type = vars.iter().any(|v| v == "event.type");
    // An id is what the simulator's generator varies (`vary::Identity`): `event.id`,
    // `interaction.id`, the id fields of the event's own call or conversation that the key or
    // the upsert field's inputs read, and, in an event that has neither standard id, a party's
    // id field of the key; none that rules route on (`Identity::of_spec`).
    let identity = Identity::of_spec(cx.spec);
    // The events the key is rendered for: each rule's fixtures of its event type whose key
    // renders (one that does not is CX017's). Without any, the simulator's built-in event, which
    // has both standard ids.
    let key = Template::parse(&cx.spec.raw.idempotency.key).ok();
    let events: Vec<&crate::spec::Fixture> = cx
        .enabled_rules()
        .flat_map(|(rule, raw)| {
            rule.fixtures.iter().filter(move |f| {
                lookup(&f.event, "event.type").and_then(|v| v.as_str()) == Some(&raw.event_type)
            })
        })
        .filter(|f| key.as_ref().is_some_and(|k| k.render(&f.event).is_ok()))
        .collect();
    // The first event in which no field of the key varies from event to event.
    let shared_in = events
        .iter()
        .find(|f| !vars.iter().any(|v| identity.varies(&f.event, v)));
    let has_id = if events.is_empty() {
        vars.iter().any(|v| IDENTITY.contains(&v.as_str()))
    } else {
        shared_in.is_none()
    };
    if has_event_id || (has_type && has_id) {
        return;
    }
    // An id-named field beside a standard id: whose id it is, a name cannot say.
    let named = shared_in.and_then(|f| {
        identity
            .fallback
            .iter()
            .find(|v| lookup(&f.event, v).is_some())
            .map(|v| (v, f))
    });
    let what = match (has_id, has_type, named) {
        (_, true, Some((v, f))) => format!(
            "the event type and `{v}`, which identifies no event that has an `event.id` or `interaction.id` (fixture `{}`): many events share it",
            f.name
        ),
        (false, false, _) => "neither an id nor the event type".to_string(),
        (true, false, _) => "no event type, so two events of one interaction share a key".to_string(),
        _ => "the event type but no id".to_string(),
    };
    out.push(
        cx.at_value(
            "/idempotency/key",
            format!("the idempotency key does not identify one event: it reads {what}"),
        )
        .with_help("use `${event.id}`, or `${interaction.id}_${event.type}`"),
    );
}
