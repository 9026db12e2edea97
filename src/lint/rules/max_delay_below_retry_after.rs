//! ## What it does
//! Flags `retry.maxDelaySeconds` below `crm.retryAfterHorizonSeconds` (the longest `Retry-After`
//! the CRM sends when throttling) while `respectRetryAfterHeader` is off.
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
