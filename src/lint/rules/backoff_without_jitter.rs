//! ## What it does
//! Flags `retry.jitter: none`.
//!
//! ## Why is this bad?
//! Without jitter, every event that failed during a CRM outage retries on the same schedule. When
//! the CRM recovers, they all arrive at once, the CRM throttles again, and the herd keeps
//! stampeding until retries run out (guide §3, "The Trap").
//!
//! ## Example
//! ```yaml
//! retry:
//!   jitter: none
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   jitter: full
//! ```
//!
//! ## Fix safety
//! Safe: jitter never makes a wait longer than the backoff bound.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if cx.spec.raw.retry.jitter == Jitter::None {
        out.push(
            cx.at_value(
                "/retry/jitter",
                "backoff without jitter: retries after an outage arrive together (thundering herd)",
            )
            .with_help("use `jitter: full`"),
        );
    }
}
