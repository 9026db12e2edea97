//! ## What it does
//! Flags a CRM profile whose throttling status is not retried by the policy. Salesforce throttles
//! with `403 REQUEST_LIMIT_EXCEEDED`; the other profiles throttle with 429 (reported by
//! `throttle-or-server-error-not-retried`).
//!
//! ## Why is this bad?
//! The guide's policy lists 403 as non-retryable. Against Salesforce that turns every
//! rate-limit answer into a dead letter: a busy hour empties into the DLQ instead of waiting.
//!
//! ## Example
//! ```yaml
//! retry:
//!   nonRetryableStatusCodes: [400, 401, 403, 404, 422]
//! crm:
//!   profile: salesforce
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   retryableStatusCodes: [403, 429, 500, 502, 503, 504]
//!   nonRetryableStatusCodes: [400, 401, 404, 422]
//! crm:
//!   profile: salesforce
//! ```
//!
//! ## Fix safety
//! Retrying 403 also retries real permission errors, up to `maxRetries` times; that is the price
//! of Salesforce's choice of status code.

use super::prelude::*;
use crate::lint::budget::is_retried;
use crate::spec::model::CrmProfile;

/// The status codes a CRM profile throttles with, beyond 429 (and what it says).
pub fn extra_throttle_codes(p: CrmProfile) -> &'static [(u16, &'static str)] {
    match p {
        CrmProfile::Salesforce => &[(403, "403 REQUEST_LIMIT_EXCEEDED")],
        _ => &[],
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    for (code, what) in extra_throttle_codes(raw.crm.profile) {
        if !is_retried(raw, *code) {
            let pointer = raw
                .retry
                .non_retryable_status_codes
                .iter()
                .position(|c| c == code)
                .map(|i| format!("/retry/nonRetryableStatusCodes/{i}"))
                .unwrap_or_else(|| "/retry/retryableStatusCodes".into());
            out.push(
                cx.at_value(
                    &pointer,
                    format!(
                        "{} throttles with {what}, which this policy never retries",
                        raw.crm.profile.as_str()
                    ),
                )
                .with_help(format!(
                    "list {code} in `retryableStatusCodes` for this CRM"
                )),
            );
        }
    }
}
