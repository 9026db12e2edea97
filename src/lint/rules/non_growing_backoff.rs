//! ## What it does
//! Flags `retry.backoffMultiplier` of 1 or less: constant (or shrinking) delays instead of
//! exponential backoff.
//!
//! ## Why is this bad?
//! A CRM that is throttling needs the load to drop. Constant delays keep hammering it at the same
//! rate, so retries are spent in the throttling window and events reach the DLQ although the CRM
//! would have accepted them a little later (guide §3).
//!
//! ## Example
//! ```yaml
//! retry:
//!   backoffMultiplier: 1.0
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   backoffMultiplier: 2.0
//! ```
//!
//! ## Fix safety
//! Safe, but the worst-case time before the DLQ grows; check `cxsync lint --budget`.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let m = cx.spec.raw.retry.backoff_multiplier;
    if m <= 1.0 && cx.spec.raw.retry.max_retries > 0 {
        out.push(
            cx.at_value(
                "/retry/backoffMultiplier",
                format!("backoffMultiplier {m} does not grow the delay between retries"),
            )
            .with_help("use an exponential backoff, e.g. `backoffMultiplier: 2.0`"),
        );
    }
}
