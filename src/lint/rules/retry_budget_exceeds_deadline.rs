//! ## What it does
//! Flags a retry policy whose worst case (attempts × timeout + the sum of the backoff waits at
//! their upper bound, see `cxsync lint --budget`) is longer than `crm.deliveryDeadlineSeconds` or
//! than the OAuth token cache TTL.
//!
//! ## Why is this bad?
//! An event that is still retrying after its delivery deadline is late for whoever reads the CRM,
//! and a retry sequence longer than the token cache spans a token refresh, so its last attempts
//! depend on the token endpoint being healthy too. Either way the policy promises more than it can
//! keep.
//!
//! ## Example
//! ```yaml
//! retry:
//!   maxRetries: 10
//!   maxDelaySeconds: 600
//! crm:
//!   deliveryDeadlineSeconds: 900
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   maxRetries: 5
//!   maxDelaySeconds: 60
//! ```
//!
//! ## Fix safety
//! Fewer retries send events to the DLQ sooner; replay them with `cxsync dlq`.

use super::prelude::*;
use crate::lint::budget;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let worst = budget::worst_case(raw);
    let mut limits: Vec<(u64, &str)> = Vec::new();
    if let Some(d) = raw.crm.delivery_deadline_seconds {
        limits.push((d, "crm.deliveryDeadlineSeconds"));
    }
    if let Auth::OAuth2ClientCredentials {
        token_cache_ttl_seconds,
        ..
    } = raw.channel.auth
    {
        limits.push((token_cache_ttl_seconds, "the token cache TTL"));
    }
    for (limit, what) in limits {
        let over = worst.is_none_or(|w| w > limit as f64);
        if over {
            out.push(
                cx.at_value(
                    "/retry/maxRetries",
                    format!(
                        "the worst-case retry budget is {}, longer than {what} ({limit} s)",
                        budget::human_seconds(worst)
                    ),
                )
                .with_help("lower `maxRetries` or `maxDelaySeconds`; see `cxsync lint --budget`"),
            );
        }
    }
}
