//! ## What it does
//! Flags `crm.maxPayloadBytes` (cxsync's guard on transform output) that is not below
//! `crm.maxBodyBytes` (the CRM's request limit). The guard applies to each event's payload, also
//! inside a batch; with `batchSize > 1` the body it lets through is a full batch of payloads at
//! the guard, as the delivery machine writes it (`delivery::machine::batch_body_len`: the
//! payloads, a comma between two, the brackets), and that body must be below the limit.
//!
//! ## Why is this bad?
//! The guard exists to stop oversized events before the CRM answers 413. A guard at or above the
//! CRM's limit lets through exactly the payloads it should catch; with `batchSize > 1` the body is
//! several payloads and the margin must be larger still (a batch of events each within the
//! guard is answered 413 and dead-lettered whole: CX041 computes it from the fixtures).
//!
//! ## Example
//! ```yaml
//! crm:
//!   maxBodyBytes: 1048576
//!   maxPayloadBytes: 2097152
//! ```
//!
//! Use instead:
//! ```yaml
//! crm:
//!   maxBodyBytes: 1048576
//!   maxPayloadBytes: 524288
//! ```
//!
//! ## Fix safety
//! Safe: a lower guard only routes more oversized events to the DLQ before sending.

use super::prelude::*;
use crate::delivery::machine::batch_body_len;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let (Some(guard), Some(limit)) = (raw.crm.max_payload_bytes, raw.crm.max_body_bytes) else {
        return;
    };
    let batch = raw.channel.batch_size.max(1) as usize;
    // The largest body the guard lets through: one payload at the guard, or a full batch of
    // them as the delivery machine writes it (brackets and commas included).
    let body_at = |g: u64| {
        if batch > 1 {
            batch_body_len(std::iter::repeat_n(g as usize, batch)) as u64
        } else {
            g
        }
    };
    if body_at(guard) < limit {
        return;
    }
    // The largest guard whose body is below the limit (a body grows with the guard).
    let (mut lo, mut hi) = (0u64, guard);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if body_at(mid) < limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let message = if batch > 1 {
        format!(
            "maxPayloadBytes {guard} lets through a full batch of {batch} such payloads, a {}-byte body, not below the CRM's limit of {limit} bytes",
            body_at(guard)
        )
    } else {
        format!("maxPayloadBytes {guard} is not below the CRM's limit of {limit} bytes")
    };
    out.push(
        cx.at_value("/crm/maxPayloadBytes", message)
            .with_help(format!("set `maxPayloadBytes` below {}", lo + 1)),
    );
}
