//! ## What it does
//! Flags `crm.maxPayloadBytes` (cxsync's guard on transform output) that is not below
//! `crm.maxBodyBytes` (the CRM's request limit).
//!
//! ## Why is this bad?
//! The guard exists to stop oversized events before the CRM answers 413. A guard at or above the
//! CRM's limit lets through exactly the payloads it should catch; with `batchSize > 1` the body is
//! several payloads and the margin must be larger still.
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

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let (Some(guard), Some(limit)) = (raw.crm.max_payload_bytes, raw.crm.max_body_bytes) else {
        return;
    };
    let batch = u64::from(raw.channel.batch_size.max(1));
    if guard.saturating_mul(batch) >= limit {
        let per = if batch > 1 {
            format!(" × batchSize {batch}")
        } else {
            String::new()
        };
        out.push(
            cx.at_value(
                "/crm/maxPayloadBytes",
                format!(
                    "maxPayloadBytes {guard}{per} is not below the CRM's limit of {limit} bytes"
                ),
            )
            .with_help(format!("set `maxPayloadBytes` below {}", limit / batch)),
        );
    }
}
