//! ## What it does
//! Flags an idempotency key template that does not identify one event: it reads neither
//! `event.id` nor an id together with `event.type`.
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

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let vars = template_vars(&cx.spec.raw.idempotency.key);
    let has_event_id = vars.iter().any(|v| v == "event.id");
    let has_type = vars.iter().any(|v| v == "event.type");
    let has_id = vars.iter().any(|v| v == "id" || v.ends_with(".id"));
    if has_event_id || (has_type && has_id) {
        return;
    }
    let what = match (has_id, has_type) {
        (false, false) => "neither an id nor the event type",
        (true, false) => "no event type, so two events of one interaction share a key",
        _ => "the event type but no id",
    };
    out.push(
        cx.at_value(
            "/idempotency/key",
            format!("the idempotency key does not identify one event: it reads {what}"),
        )
        .with_help("use `${event.id}`, or `${interaction.id}_${event.type}`"),
    );
}
