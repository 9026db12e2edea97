//! ## What it does
//! Flags `retry.backoffMultiplier` of 1 or less: constant (or shrinking) delays instead of
//! exponential backoff; and `retry.initialDelaySeconds: 0`, where every delay is
//! 0 × multiplier^n = 0 s (jitter of 0 s is 0 s too), so all retries fire back to back.
//!
//! ## Why is this bad?
//! A CRM that is throttling needs the load to drop. Constant delays keep hammering it at the same
//! rate, so retries are spent in the throttling window and events reach the DLQ although the CRM
//! would have accepted them a little later (guide §3). With no delay at all every retry of an
//! event lands within milliseconds: the retry storm the guide warns of.
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
    let initial = cx.spec.raw.retry.initial_delay_seconds;
    if initial <= 0.0 && cx.spec.raw.retry.max_retries > 0 {
        out.push(
            cx.at_value(
                "/retry/initialDelaySeconds",
                "initialDelaySeconds 0 makes every retry delay 0 s: the retries reach the CRM back to back",
            )
            .with_help("start the backoff at a second or more, e.g. `initialDelaySeconds: 1`"),
        );
    }
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
