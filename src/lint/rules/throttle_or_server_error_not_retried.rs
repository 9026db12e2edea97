//! ## What it does
//! Flags 429 and the transient server errors 500, 502, 503 and 504 missing from
//! `retryableStatusCodes`.
//!
//! ## Why is this bad?
//! Throttling and maintenance windows are the normal weather of a CRM API: a 429 or 503 heals by
//! waiting. Without a retry, every event that meets one goes straight to the dead-letter queue, and
//! a campaign launch turns into a DLQ spike (guide §3 and edge case 1).
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [500, 503]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [429, 500, 502, 503, 504]
//! ```
//!
//! ## Fix safety
//! Safe with backoff and jitter in place; the CRM may see more requests during an outage.

use super::crm_throttle_code_not_retried::throttle_codes;
use super::prelude::*;
use crate::lint::budget::is_retried;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    // A named CRM profile's own throttling code is reported by `crm-throttle-code-not-retried`,
    // with what that CRM answers.
    let profile = throttle_codes(raw.crm.profile);
    let missing: Vec<String> = [429u16, 500, 502, 503, 504]
        .iter()
        .filter(|c| !is_retried(raw, **c) && !profile.iter().any(|(p, _)| p == *c))
        .map(|c| c.to_string())
        .collect();
    if missing.is_empty() {
        return;
    }
    out.push(
        cx.at_value(
            "/retry/retryableStatusCodes",
            format!(
                "{} {} not retried: throttling and transient server errors go straight to the DLQ",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
        )
        .with_help(format!(
            "add {} to `retryableStatusCodes`",
            missing.join(", ")
        )),
    );
}
