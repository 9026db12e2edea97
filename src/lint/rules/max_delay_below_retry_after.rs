//! ## What it does
//! Flags `retry.maxDelaySeconds` below `crm.retryAfterHorizonSeconds` (the longest `Retry-After`
//! the CRM sends when throttling) while `respectRetryAfterHeader` is off. Without a declared
//! horizon, flags `respectRetryAfterHeader` off when the CRM profile throttles with a
//! `Retry-After` (generic, dynamics, zendesk, servicenow) and its throttle status is retried:
//! how long the CRM asks to wait is then unknown, and ignored.
//!
//! ## Why is this bad?
//! The Event Hub ignores the CRM's `Retry-After`, so every retry lands inside the throttling
//! window and is answered with another 429. Retries run out before the window opens and the
//! events are dead-lettered (guide, edge case 1).
//!
//! ## Example
//! ```yaml
//! retry:
//!   maxDelaySeconds: 60
//!   respectRetryAfterHeader: false
//! crm:
//!   retryAfterHorizonSeconds: 300
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   maxDelaySeconds: 60
//!   respectRetryAfterHeader: true
//! ```
//!
//! ## Fix safety
//! Safe: honouring `Retry-After` only waits as long as the CRM asks.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let Some(horizon) = raw.crm.retry_after_horizon_seconds else {
        unknown_horizon(cx, out);
        return;
    };
    if !raw.retry.respect_retry_after_header && raw.retry.max_delay_seconds < horizon as f64 {
        out.push(
            cx.at_value(
                "/retry/maxDelaySeconds",
                format!(
                    "maxDelaySeconds {} is below the CRM's Retry-After of up to {horizon} s, and Retry-After is ignored",
                    raw.retry.max_delay_seconds
                ),
            )
            .with_help("set `respectRetryAfterHeader: true`"),
        );
    }
}

/// The guide's edge case 1 without a declared horizon (tester #170): the profile's throttle
/// answer carries `Retry-After`, the machine retries it, and the header is ignored.
fn unknown_horizon(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let throttle = crate::crm::profile(raw.crm.profile).throttle;
    if raw.retry.respect_retry_after_header || !throttle.retry_after {
        return;
    }
    let retried = crate::lint::budget::Prober::new(raw, crate::lint::budget::Options::default())
        .ok()
        .and_then(|m| {
            m.run(
                crate::lint::budget::Answer::Status(throttle.status),
                crate::lint::budget::Schedule::Fastest,
            )
            .ok()
        })
        .is_some_and(|s| s.attempts > 1);
    if !retried {
        return;
    }
    let message = format!(
        "the {} CRM throttles with {} and a Retry-After, which is ignored: respectRetryAfterHeader is off, so retries land inside the throttling window",
        crate::crm::profile(raw.crm.profile).name,
        throttle.what
    );
    let d = if cx.written("/retry/respectRetryAfterHeader") {
        cx.at_value("/retry/respectRetryAfterHeader", message)
    } else {
        cx.at_key("/retry", message)
    };
    out.push(d.with_help(
        "set `respectRetryAfterHeader: true`; or declare `crm.retryAfterHorizonSeconds` (the longest Retry-After the CRM sends) to check maxDelaySeconds against it",
    ));
}
