//! ## What it does
//! Flags common CRM answers that are in neither status list: 408 Request Timeout, 409 Conflict,
//! 413 Payload Too Large, 429 Too Many Requests and the transient server errors 500, 502, 503
//! and 504.
//!
//! ## Why is this bad?
//! The guide does not say what the Event Hub does with an unlisted code, so the behaviour of the
//! integration depends on an undocumented default. cxsync's delivery machine retries an unlisted
//! 408, 429 or 5xx and dead-letters any other unlisted code (`docs/semantics.md`, and what
//! `cxsync lint --budget` and `sim` show), but a real Event Hub may decide otherwise. These codes
//! are common: 408, 429 and the 5xx heal by retrying, 409 is what an upserting CRM answers to a
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
    let unlisted: Vec<u16> = [408u16, 409, 413, 429, 500, 502, 503, 504]
        .into_iter()
        .filter(|c| {
            !r.retryable_status_codes.contains(c) && !r.non_retryable_status_codes.contains(c)
        })
        .collect();
    if unlisted.is_empty() {
        return;
    }
    let join = |cs: &[u16]| {
        cs.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (heal, never): (Vec<u16>, Vec<u16>) =
        unlisted.iter().partition(|c| **c != 409 && **c != 413);
    let mut help = Vec::new();
    if !heal.is_empty() {
        help.push(format!("{} as retryable", join(&heal)));
    }
    if !never.is_empty() {
        help.push(format!("{} as non-retryable", join(&never)));
    }
    out.push(
        cx.at_value(
            "/retry/nonRetryableStatusCodes",
            format!(
                "{} {} in neither status list; the Event Hub's handling of unlisted codes is undocumented",
                join(&unlisted),
                if unlisted.len() == 1 { "is" } else { "are" }
            ),
        )
        .with_help(format!("list {} (or as the CRM documents)", help.join(" and "))),
    );
}
