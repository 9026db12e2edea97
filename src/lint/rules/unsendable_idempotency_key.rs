//! ## What it does
//! Flags an idempotency key that the idempotency header cannot carry as it is: the template's own
//! text, or the key it renders for one of the rules' fixture events, holds a non-ASCII character
//! (`Zoë`, `李`, an emoji), a control character, or a space or tab at either end; and a key part
//! that reads a person's name or other free text, which can hold any of these in production
//! although the fixtures do not. The judgement is the delivery machine's own
//! (`delivery::idempotency::unsendable`), and so is each fixture's reason: fixtures whose keys
//! fail for different reasons are named with their own character and position, those that share
//! one are grouped.
//!
//! It also flags a key the header cannot carry for its length: with `batchSize > 1` a batch
//! request's header holds its members' keys joined with `,` (`delivery::idempotency::batch_key`,
//! the machine's own join), and a full batch of the longest key the run's events render (the
//! fixtures and the copies `cxsync sim` generates of them, `sim::engine::preview`; an event whose
//! transform fails or whose payload is above `crm.maxPayloadBytes` is never batched) is longer
//! than the 8,192 bytes of a header value servers take (`spec::model::MAX_HEADER_VALUE`, the
//! limit the simulated CRM answers `431` above: `sim::crm::header_too_long`). The finding is at
//! `batchSize` and names the largest `batchSize` whose full batch fits: `n` keys of `L` bytes
//! are `n × L + (n − 1)` bytes. Without batching, a single key above the limit is flagged.
//!
//! ## Why is this bad?
//! A header value is visible ASCII (RFC 9110 §5.5). HTTP clients refuse other bytes or send them
//! as obsolete text that each server decodes its own way, so the CRM would hold another key than
//! the one rendered, or none, and its deduplication would fail silently. cxsync's delivery machine
//! therefore dead-letters such an event unsent as `IDEMPOTENCY_KEY_UNRESOLVED`, in `sim`,
//! `sim --http` and `dlq replay` alike: every event whose key holds one is lost to the DLQ.
//! A header longer than the server takes is refused with `431 Request Header Fields Too Large`
//! before the CRM reads the body: every full batch is dead-lettered whole, on every retry, and
//! a replay of it gets the same answer.
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
//! A batch whose joined key is too long:
//! ```yaml
//! channel:
//!   batchSize: 200       # 200 keys of 54 bytes and 199 commas: 10,999 bytes
//! idempotency:
//!   key: ${interaction.id}_${event.type}_${event.id}
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   batchSize: 148       # 148 × 54 + 147 = 8,139 bytes, within 8,192
//! ```
//!
//! ## Fix safety
//! Changing the template changes every key; see `non-unique-idempotency-key`. A smaller batch
//! sends more requests against the CRM's rate limit.

use super::prelude::*;
use super::{personal_data_at, template_vars};
use crate::delivery::idempotency::{batch_key, unsendable};
use crate::delivery::Template;
use crate::lint::context::lookup;
use crate::sim::crm::header_too_long;
use crate::sim::engine::preview;
use crate::spec::model::MAX_HEADER_VALUE;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw.idempotency;
    let Ok(template) = Template::parse(&raw.key) else {
        return;
    };
    too_long(cx, out);
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
    // The keys of the fixture events the rules would deliver, grouped by what is wrong with
    // each (#241: each fixture's own character and position, not the first fixture's).
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
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
            let Some(why) = unsendable(&key, &raw.header) else {
                continue;
            };
            // A fixture two rules list is one event, reported once.
            if groups.iter().any(|(_, names)| names.contains(&f.name)) {
                continue;
            }
            match groups.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) => names.push(f.name.clone()),
                None => groups.push((why, vec![f.name.clone()])),
            }
        }
    }
    for (_, names) in &mut groups {
        names.sort();
    }
    groups.sort_by(|a, b| a.1.cmp(&b.1));
    if !groups.is_empty() {
        let bad: usize = groups.iter().map(|(_, n)| n.len()).sum();
        let what = match groups.as_slice() {
            [(why, names)] => format!(
                "the key rendered for {bad} of {seen} fixture events ({}) {why}",
                names.join(", ")
            ),
            _ => format!(
                "the key rendered for {bad} of {seen} fixture events cannot be sent: {}",
                groups
                    .iter()
                    .map(|(why, names)| format!("for {} it {why}", names.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "{what}: those events are dead-lettered unsent (IDEMPOTENCY_KEY_UNRESOLVED)"
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

/// A full batch's key (or, unbatched, one key) longer than the header limit: the longest key
/// of the run's events that the machine would batch, `batchSize` times, joined as the machine
/// joins them.
fn too_long(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let header = &raw.idempotency.header;
    // A transform that does not compile is CX025's; the simulator refuses the spec.
    let Ok(inputs) = crate::sim::inputs::compile(cx.spec) else {
        return;
    };
    let Ok(writes) = preview::writes(cx.spec, &inputs, preview::COPIES) else {
        return;
    };
    let guard = raw.crm.max_payload_bytes;
    // The longest key the machine sends (the first of equal lengths, in arrival order): the
    // event's transform gave a payload within the guard and its key renders sendable.
    let Some((w, key)) = writes
        .iter()
        .filter(|w| {
            w.payload_len
                .is_some_and(|l| guard.is_none_or(|g| l as u64 <= g))
        })
        .filter_map(|w| w.key.as_deref().map(|k| (w, k)))
        .filter(|(_, k)| unsendable(k, header).is_none())
        .reduce(|a, b| if b.1.len() > a.1.len() { b } else { a })
    else {
        return;
    };
    let batch = raw.channel.batch_size.max(1) as usize;
    let joined = |n: usize| batch_key(std::iter::repeat_n(key, n)).len();
    let full = joined(batch);
    if !header_too_long(full) {
        return;
    }
    // A batch's key grows with its members: the sizes that fit are 0..=fits, found by halving.
    let (mut fits, mut hi) = (0usize, batch);
    while fits < hi {
        let mid = fits + (hi - fits).div_ceil(2);
        if header_too_long(joined(mid)) {
            hi = mid - 1;
        } else {
            fits = mid;
        }
    }
    let shown: String = key.chars().take(40).collect();
    let cut = if shown.len() < key.len() { "…" } else { "" };
    let like = format!(
        "fixture `{}` (rule `{}`, key `{}{cut}`, {} bytes)",
        w.fixture,
        inputs.rules[w.rule].id,
        crate::diag::printable(&shown),
        key.len()
    );
    if fits == 0 {
        out.push(
            cx.at_value(
                "/idempotency/key",
                format!(
                    "the key rendered for {like} is longer than the {MAX_HEADER_VALUE} bytes of a {header} header servers take: the CRM answers 431 and the event is dead-lettered"
                ),
            )
            .with_help("build the key from ids (`${event.id}`), not from free text"),
        );
        return;
    }
    out.push(
        cx.at_value(
            "/channel/batchSize",
            format!(
                "a full batch of {batch} events like {like} carries their keys joined with `,` in one {header} header of {full} bytes, above the {MAX_HEADER_VALUE} bytes servers take: the CRM answers 431 and dead-letters every full batch; set batchSize to {fits} or less"
            ),
        )
        .with_help(format!(
            "set `batchSize` to {fits} or less ({fits} keys of {} bytes joined are {} bytes), or build a shorter key",
            key.len(),
            joined(fits)
        )),
    );
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
