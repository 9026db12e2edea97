//! ## What it does
//! Flags a CRM profile whose throttling status the delivery machine dead-letters at once under
//! this policy. Salesforce throttles with `403 REQUEST_LIMIT_EXCEEDED`, which is a 4xx: unlisted
//! or listed as non-retryable, the machine does not retry it. Dynamics 365, Zendesk, HubSpot and
//! ServiceNow throttle with 429 (for the `generic` profile a non-retried 429 is reported by
//! `throttle-or-server-error-not-retried`). The throttling status is the CRM profile's, the
//! same the simulator answers with.
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
use crate::delivery::Reason;
use crate::lint::budget::{Answer, Options, Prober, Schedule};
use crate::spec::model::CrmProfile;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    if raw.crm.profile == CrmProfile::Generic {
        return;
    }
    let Ok(machine) = Prober::new(raw, Options::default()) else {
        return;
    };
    let throttle = crate::crm::profile(raw.crm.profile).throttle;
    let code = throttle.status;
    let dead = machine
        .run(Answer::Status(code), Schedule::Fastest)
        .is_ok_and(|s| s.reason == Some(Reason::NonRetryableStatus));
    if !dead {
        return;
    }
    let pointer = raw
        .retry
        .non_retryable_status_codes
        .iter()
        .position(|c| *c == code)
        .map(|i| format!("/retry/nonRetryableStatusCodes/{i}"))
        .unwrap_or_else(|| "/crm/profile".into());
    out.push(
        cx.at_value(
            &pointer,
            format!(
                "{} throttles with {}, which this policy never retries",
                raw.crm.profile.as_str(),
                throttle.what
            ),
        )
        .with_help(format!(
            "list {code} in `retryableStatusCodes` for this CRM"
        )),
    );
}
