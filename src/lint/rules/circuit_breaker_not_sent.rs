//! ## What it does
//! Flags a spec that sets `retry.circuitBreaker`. The Event Hub's retry-policy API has no
//! circuit-breaker field, so `cxsync compile` and `cxsync apply` never send it, and the hub runs
//! no breaker: neither does `cxsync sim`, whose verdict (and `lint --budget`) counts on none.
//!
//! ## Why is this bad?
//! The spec reads as if deliveries wait out a long 429/5xx storm without spending retries, but
//! in production each event keeps retrying on its own backoff and reaches the dead-letter queue
//! when `maxRetries` runs out. A review that trusts the block approves a policy that loses more
//! events to the DLQ than it appears to.
//!
//! ## Example
//! ```yaml
//! retry:
//!   maxRetries: 5
//!   respectRetryAfterHeader: false
//!   circuitBreaker:
//!     failureThreshold: 5
//!     openSeconds: 30
//! ```
//!
//! Use instead: let the hub wait as long as the CRM asks, and size the retries for the outages
//! you expect (`cxsync lint --budget` shows how long they last). If the CRM sends no
//! `Retry-After`, the guide's answer to sustained throttling is a breaker on the CRM's side, or a
//! secondary queue the events are routed to (edge case 1):
//! ```yaml
//! retry:
//!   maxRetries: 8
//!   maxDelaySeconds: 120
//!   respectRetryAfterHeader: true
//! ```
//!
//! ## Fix safety
//! No automatic fix: what replaces the breaker (more retries, a longer delay, a queue in
//! front of the CRM) is the integration's decision.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if cx.spec.raw.retry.circuit_breaker.is_none() {
        return;
    }
    out.push(
        cx.at_key(
            "/retry/circuitBreaker",
            "retry.circuitBreaker is not sent to the Event Hub (its retry-policy API has no such field): the hub runs no breaker, so nothing parks deliveries during a long 429/5xx storm, and `sim` does not simulate one",
        )
        .with_help(
            "remove it; set `respectRetryAfterHeader: true` and size maxRetries and maxDelaySeconds for the outage (`cxsync lint --budget`); a breaker belongs on the CRM's side or in a secondary queue in front of it (the guide's edge case 1)",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::spec_with;

    fn run(spec: &crate::spec::Spec) -> Vec<Diagnostic> {
        let cx = Context {
            spec,
            rules: Vec::new(),
        };
        let mut out = Vec::new();
        check(&cx, &mut out);
        out
    }

    #[test]
    fn fires_on_a_breaker_and_only_then() {
        let mut spec = spec_with("profile: generic");
        assert!(run(&spec).is_empty());
        spec.raw.retry.circuit_breaker = Some(crate::spec::model::CircuitBreaker {
            failure_threshold: 5,
            open_seconds: 30.0,
        });
        let d = run(&spec);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("not sent to the Event Hub"), "{d:?}");
        let help = d[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("respectRetryAfterHeader: true"), "{help}");
        assert!(help.contains("secondary queue"), "{help}");
    }
}
