//! ## What it does
//! Flags an idempotency key that the idempotency header cannot carry as it is: the template's own
//! text, or the key it renders for one of the rules' fixture events, holds a non-ASCII character
//! (`Zoë`, `李`, an emoji), a control character, or a space or tab at either end; and a key part
//! that reads a person's name or other free text, which can hold any of these in production
//! although the fixtures do not. The judgement is the delivery machine's own
//! (`delivery::idempotency::unsendable`).
//!
//! ## Why is this bad?
//! A header value is visible ASCII (RFC 9110 §5.5). HTTP clients refuse other bytes or send them
//! as obsolete text that each server decodes its own way, so the CRM would hold another key than
//! the one rendered, or none, and its deduplication would fail silently. cxsync's delivery machine
//! therefore dead-letters such an event unsent as `IDEMPOTENCY_KEY_UNRESOLVED`, in `sim`,
//! `sim --http` and `dlq replay` alike: every event whose key holds one is lost to the DLQ.
//!
//! ## Example
//! ```yaml
//! idempotency:
//!   key: ${event.id}/${customer.name}
//! ```
//!
//! Use instead:
//! ```yaml
//! idempotency:
//!   key: ${event.id}
//! ```
//!
//! ## Fix safety
//! Changing the template changes every key; see `non-unique-idempotency-key`.

use super::prelude::*;
use super::{personal_data_at, template_vars};
use crate::delivery::idempotency::unsendable;
use crate::delivery::Template;
use crate::lint::context::lookup;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw.idempotency;
    let Ok(template) = Template::parse(&raw.key) else {
        return;
    };
    // The template's own text, every variable standing for a plain id: what every key holds.
    if let Some(why) = unsendable(&template.render_literal("1"), &raw.header) {
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "the key template's own text {why}: every event is dead-lettered unsent (IDEMPOTENCY_KEY_UNRESOLVED)"
                ),
            )
            .with_help("write the template's text in ASCII, without surrounding spaces"),
        );
        return;
    }
    // The keys of the fixture events the rules would deliver.
    let mut first: Option<String> = None;
    let mut names: Vec<String> = Vec::new();
    let mut seen = 0usize;
    for (rule, spec_rule) in cx.enabled_rules() {
        for f in &rule.fixtures {
            let ty = lookup(&f.event, "event.type").and_then(|v| v.as_str());
            if ty.is_some_and(|t| t != spec_rule.event_type) {
                continue;
            }
            let Ok(key) = template.render(&f.event) else {
                continue; // CX017's finding
            };
            seen += 1;
            if let Some(why) = unsendable(&key, &raw.header) {
                first.get_or_insert(why);
                names.push(f.name.clone());
            }
        }
    }
    names.sort();
    names.dedup();
    if let Some(why) = first {
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "the key rendered for {} of {seen} fixture events ({}) {why}: those events are dead-lettered unsent (IDEMPOTENCY_KEY_UNRESOLVED)",
                    names.len(),
                    names.join(", "),
                ),
            )
            .with_help("build the key from ids (`${event.id}`, `${interaction.id}_${event.type}`), not from names or free text"),
        );
        return;
    }
    // Free text the fixtures happen to spell in ASCII.
    for var in template_vars(&raw.key) {
        let segments: Vec<String> = var.split('.').map(str::to_string).collect();
        let Some(what) = free_text(&segments) else {
            continue;
        };
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "`${{{var}}}` is {what}, free text that can hold non-ASCII characters (`Zoë`, `李`), which the {} header cannot carry: such events are dead-lettered unsent (IDEMPOTENCY_KEY_UNRESOLVED)",
                    raw.header
                ),
            )
            .with_help(format!("build the key from ids, not from `${{{var}}}`")),
        );
    }
}

/// What a key part is when its path names free text: a person's name or another personal
/// field (lint's one reading of personal data), or a field whose name says it is prose.
fn free_text(segments: &[String]) -> Option<&'static str> {
    if let Some((_, what)) = personal_data_at(segments) {
        if matches!(
            what,
            "a person's name" | "a transcript" | "a personal identifier"
        ) {
            return Some(what);
        }
    }
    let last = segments
        .last()?
        .to_ascii_lowercase()
        .replace(['_', '-'], "");
    match last.as_str() {
        "name" | "fullname" | "displayname" | "firstname" | "lastname" | "surname" => {
            Some("a name")
        }
        "subject" | "title" | "description" | "comment" | "comments" | "note" | "notes"
        | "message" | "text" | "body" | "summary" => Some("prose"),
        _ => None,
    }
}
