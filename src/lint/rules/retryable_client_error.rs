//! ## What it does
//! Flags a 4xx status that cannot heal on its own listed in `retryableStatusCodes`: 400, 401
//! (unless `retryOnTokenExpiry` refreshes the token), 403 (except for CRMs that throttle with it,
//! such as Salesforce), 404, 405, 410, 413, 414, 415 and 422.
//!
//! ## Why is this bad?
//! These answers mean the payload, the address or the credentials are wrong. Resending the same
//! request gives the same answer: retries waste the CRM's quota, delay the dead-letter queue and
//! can get the Event Hub's IPs banned (guide §3, "The Trap").
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [400, 429, 500, 502, 503, 504]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [429, 500, 502, 503, 504]
//! nonRetryableStatusCodes: [400, 401, 403, 404, 413, 422]
//! ```
//!
//! ## Fix safety
//! Moving the code to `nonRetryableStatusCodes` is safe: the event reaches the DLQ sooner.

use super::prelude::*;
use crate::spec::model::CrmProfile;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let refresh = matches!(
        raw.channel.auth,
        Auth::OAuth2ClientCredentials {
            retry_on_token_expiry: true,
            ..
        }
    );
    for (i, code) in raw.retry.retryable_status_codes.iter().enumerate() {
        let why = match code {
            400 => "a malformed request stays malformed",
            401 if !refresh => "without `retryOnTokenExpiry` the same token is resent",
            403 if raw.crm.profile != CrmProfile::Salesforce => {
                "a forbidden request stays forbidden"
            }
            404 | 410 => "a missing resource does not appear by resending",
            405 => "the method stays wrong",
            413 => "the payload does not shrink by resending",
            414 => "the URI does not shrink by resending",
            415 => "the content type stays wrong",
            422 => "the payload keeps failing the CRM's validation",
            _ => continue,
        };
        out.push(
            cx.at_value(
                &format!("/retry/retryableStatusCodes/{i}"),
                format!("{code} is retried, but it cannot heal: {why}"),
            )
            .with_help(format!("move {code} to `nonRetryableStatusCodes`")),
        );
    }
}
