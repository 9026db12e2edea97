//! ## What it does
//! Flags a `batchSize` whose full batch of the fixtures' largest payload is a request body
//! larger than the CRM takes (`crm.maxBodyBytes`, else the profile's limit:
//! `crm::max_body_bytes`, the number the CRM model answers 413 above), although that payload
//! alone fits. The body is computed as the delivery machine writes it
//! (`delivery::machine::batch_body_len`: the payloads' compact JSON in one array), from each
//! enabled rule's transform run on its fixture events; a payload above `crm.maxPayloadBytes` is
//! left out (the machine dead-letters it unsent, CX035). The finding names the largest
//! `batchSize` whose body of those payloads fits.
//!
//! ## Why is this bad?
//! With `batchSize > 1` the Event Hub sends up to `batchSize` events as one JSON array. A burst
//! of large events (transcripts, long notes) fills a batch whose body the CRM refuses with
//! `413 Payload Too Large`: the whole batch is dead-lettered, every event of it, though each
//! would have been taken alone. Trimming the payload is not the fix; a smaller batch is.
//!
//! ## Example
//! ```yaml
//! channel:
//!   batchSize: 50        # 50 × a 30 KB note is 1.5 MB
//! crm:
//!   maxBodyBytes: 1048576
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   batchSize: 33        # the largest batch of 30 KB payloads within 1 MiB
//! ```
//!
//! ## Fix safety
//! No automatic fix: a smaller batch sends more requests against the CRM's rate limit.

use super::payload_not_a_record::fixture_payloads;
use super::prelude::*;
use crate::crm::{self, max_body_bytes, max_body_bytes_source};
use crate::delivery::machine::{batch_body_len, largest_batch_within};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let batch = raw.channel.batch_size.max(1) as usize;
    if batch <= 1 {
        return;
    }
    let profile = crm::profile(raw.crm.profile);
    let limit = max_body_bytes(raw, &profile, None);
    let guard = raw.crm.max_payload_bytes;
    // The largest payload the machine would batch: within the guard (a larger one is never
    // sent), the first of equal sizes in spec and fixture order.
    let Some(largest) = fixture_payloads(cx)
        .into_iter()
        .filter(|p| guard.is_none_or(|g| p.text.len() as u64 <= g))
        .reduce(|a, b| if b.text.len() > a.text.len() { b } else { a })
    else {
        return;
    };
    let size = largest.text.len();
    let full = batch_body_len(std::iter::repeat_n(size, batch)) as u64;
    let fits = largest_batch_within(size, limit, batch);
    // Alone (a batch of one) above the limit is CX035's finding; a full batch within it is fine.
    if full <= limit || fits == 0 {
        return;
    }
    out.push(
        cx.at_value(
            "/channel/batchSize",
            format!(
                "a full batch of {batch} events like fixture `{}` (rule `{}`, a {size}-byte payload) is a {full}-byte body, above the {limit} bytes {} takes ({}): the CRM answers 413 and dead-letters the whole batch, though each event alone fits; set `batchSize` to {fits} or less",
                largest.fixture,
                largest.rule,
                profile.name,
                max_body_bytes_source(raw)
            ),
        )
        .with_help(format!(
            "set `batchSize` to {fits} or less: the largest batch of these payloads within the limit"
        )),
    );
}
