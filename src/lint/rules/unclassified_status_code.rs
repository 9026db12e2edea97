//! ## What it does
//! Flags common CRM answers that are in neither status list: 408 Request Timeout, 409 Conflict
//! and 413 Payload Too Large.
//!
//! ## Why is this bad?
//! The guide does not say what the Event Hub does with an unlisted code, so the behaviour of the
//! integration depends on an undocumented default (cxsync's model dead-letters it at once). These
//! three codes are common: 408 heals by retrying, 409 is what an upserting CRM answers to a
//! duplicate, and 413 never heals.
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [429, 500, 502, 503, 504]
//! nonRetryableStatusCodes: [400, 401, 403, 404, 422]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [408, 429, 500, 502, 503, 504]
//! nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422]
//! ```
//!
//! ## Fix safety
//! No automatic fix: whether a 409 is a success (duplicate) or a failure depends on the CRM.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let r = &cx.spec.raw.retry;
    let unlisted: Vec<String> = [408u16, 409, 413]
        .iter()
        .filter(|c| {
            !r.retryable_status_codes.contains(c) && !r.non_retryable_status_codes.contains(c)
        })
        .map(|c| c.to_string())
        .collect();
    if unlisted.is_empty() {
        return;
    }
    out.push(
        cx.at_value(
            "/retry/nonRetryableStatusCodes",
            format!(
                "{} {} in neither status list; the Event Hub's handling of unlisted codes is undocumented",
                unlisted.join(", "),
                if unlisted.len() == 1 { "is" } else { "are" }
            ),
        )
        .with_help("list 408 as retryable and 409, 413 as non-retryable (or as the CRM documents)"),
    );
}
