//! ## What it does
//! Flags a status code listed both in `retryableStatusCodes` and in `nonRetryableStatusCodes`.
//!
//! ## Why is this bad?
//! The policy contradicts itself, and which list wins is up to the Event Hub's implementation.
//! cxsync's model lets the non-retryable list win; a reviewer cannot tell which the author meant.
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [429, 500, 503]
//! nonRetryableStatusCodes: [400, 500]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [429, 500, 503]
//! nonRetryableStatusCodes: [400]
//! ```
//!
//! ## Fix safety
//! No automatic fix: only the author knows which list the code belongs to.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let r = &cx.spec.raw.retry;
    for (i, code) in r.non_retryable_status_codes.iter().enumerate() {
        if let Some(j) = r.retryable_status_codes.iter().position(|c| c == code) {
            out.push(
                cx.at_value(
                    &format!("/retry/nonRetryableStatusCodes/{i}"),
                    format!(
                        "{code} is listed as non-retryable and as retryable (retryableStatusCodes[{j}])"
                    ),
                )
                .with_help(format!("keep {code} in one list")),
            );
        }
    }
}
