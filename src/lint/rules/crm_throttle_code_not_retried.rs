//! ## What it does
//! Flags a CRM profile whose throttling status is not retried by the policy. Salesforce throttles
//! with `403 REQUEST_LIMIT_EXCEEDED`; Dynamics 365, Zendesk, HubSpot and ServiceNow with 429
//! (for the `generic` profile a missing 429 is reported by
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

/// The status codes a named CRM profile throttles with (and what it answers). `generic` has
/// none: its 429 is checked by `throttle-or-server-error-not-retried`.
pub fn throttle_codes(p: CrmProfile) -> &'static [(u16, &'static str)] {
    match p {
        CrmProfile::Generic => &[],
        CrmProfile::Salesforce => &[(403, "403 REQUEST_LIMIT_EXCEEDED")],
        CrmProfile::Dynamics => &[(429, "429 (service protection API limits)")],
        CrmProfile::Zendesk => &[(429, "429 Too Many Requests")],
        CrmProfile::Hubspot => &[(429, "429 (rolling rate limit)")],
        CrmProfile::Servicenow => &[(429, "429 Too Many Requests (rate limit rules)")],
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    for (code, what) in throttle_codes(raw.crm.profile) {
        if !is_retried(raw, *code) {
            let pointer = raw
                .retry
                .non_retryable_status_codes
                .iter()
                .position(|c| c == code)
                .map(|i| format!("/retry/nonRetryableStatusCodes/{i}"))
                .unwrap_or_else(|| "/crm/profile".into());
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
