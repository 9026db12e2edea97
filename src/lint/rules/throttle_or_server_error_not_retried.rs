//! ## What it does
//! Flags 429 and the transient server errors 500, 502, 503 and 504 when the delivery machine
//! dead-letters them at once: they are listed in `nonRetryableStatusCodes` (a code in both lists
//! is non-retryable). The figure is the machine's own (`cxsync lint --budget`): codes in neither
//! list are retried by default (`docs/semantics.md`), and `unclassified-status-code` asks to
//! list them.
//!
//! ## Why is this bad?
//! Throttling and maintenance windows are the normal weather of a CRM API: a 429 or 503 heals by
//! waiting. Without a retry, every event that meets one goes straight to the dead-letter queue, and
//! a campaign launch turns into a DLQ spike (guide §3 and edge case 1).
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [500, 503]
//! nonRetryableStatusCodes: [400, 404, 429]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [429, 500, 502, 503, 504]
//! nonRetryableStatusCodes: [400, 404]
//! ```
//!
//! ## Fix safety
//! Safe with backoff and jitter in place; the CRM may see more requests during an outage.

use super::prelude::*;
use crate::delivery::Reason;
use crate::lint::budget::{Answer, Options, Prober, Schedule};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let Ok(machine) = Prober::new(raw, Options::default()) else {
        return;
    };
    // A named CRM profile's own throttling code is reported by `crm-throttle-code-not-retried`,
    // with what that CRM answers.
    let profile = crate::crm::profile(raw.crm.profile);
    let own = (raw.crm.profile != crate::spec::model::CrmProfile::Generic)
        .then_some(profile.throttle.status);
    let dead: Vec<u16> = [429u16, 500, 502, 503, 504]
        .into_iter()
        .filter(|c| Some(*c) != own)
        .filter(|c| {
            machine
                .run(Answer::Status(*c), Schedule::Fastest)
                .is_ok_and(|s| s.reason == Some(Reason::NonRetryableStatus))
        })
        .collect();
    let Some(first) = dead.first() else {
        return;
    };
    let pointer = raw
        .retry
        .non_retryable_status_codes
        .iter()
        .position(|c| c == first)
        .map_or_else(
            || "/retry/nonRetryableStatusCodes".to_string(),
            |i| format!("/retry/nonRetryableStatusCodes/{i}"),
        );
    let list = dead
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    out.push(
        cx.at_value(
            &pointer,
            format!(
                "{list} {} dead-lettered at once (listed in `nonRetryableStatusCodes`): throttling and transient server errors go straight to the DLQ",
                if dead.len() == 1 { "is" } else { "are" }
            ),
        )
        .with_help(format!(
            "move {list} from `nonRetryableStatusCodes` to `retryableStatusCodes`"
        )),
    );
}
