//! ## What it does
//! Flags a retry policy whose retries do not fit the time they have, as the delivery machine
//! runs them on the slowest schedule of `cxsync lint --budget` (every answer 1 ms before the
//! timeout, `Retry-After` at the CRM's horizon when respected, jitter at its most), for every
//! retried answer (408, 429, 5xx, the profile's throttling status, the codes listed as
//! retryable, timeouts and resets):
//!
//! - `crm.deliveryDeadlineSeconds` cuts the sequence short: the machine dead-letters the event as
//!   `DEADLINE_EXCEEDED` before its `maxRetries` are spent;
//! - the sequence outlasts the OAuth token cache TTL, so its last attempts need a token refresh.
//!
//! ## Why is this bad?
//! A policy that promises more retries than the deadline allows dead-letters events that still
//! had retries left, and its `maxRetries` says something the delivery never does. A retry
//! sequence longer than the token cache spans a token refresh, so its last attempts depend on the
//! token endpoint being healthy too.
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
use crate::delivery::Reason;
use crate::lint::budget::{human_ms, Answer, Options, Prober, Schedule, Settled};

/// The answers the machine retries that the budget runs for this rule.
fn retried(raw: &crate::spec::model::RawSpec) -> Vec<Answer> {
    // The answers of a throttle or an outage first: a finding names the first that fits.
    let mut codes: Vec<u16> = vec![crate::crm::profile(raw.crm.profile).throttle.status];
    codes.extend([429, 503, 500, 502, 504, 408]);
    codes.extend(&raw.retry.retryable_status_codes);
    let mut seen = Vec::new();
    codes.retain(|c| {
        let fresh = !seen.contains(c);
        seen.push(*c);
        fresh
    });
    let mut out: Vec<Answer> = codes.into_iter().map(Answer::Status).collect();
    out.extend([Answer::Timeout, Answer::Reset]);
    out
}

fn name(a: Answer) -> String {
    match a {
        Answer::Status(c) | Answer::TokenStatus(c) => format!("a {c}"),
        Answer::Timeout | Answer::TokenTimeout => "a timeout".into(),
        Answer::Reset => "a connection reset".into(),
    }
}

/// The help: what shortens the retries. A respected `Retry-After` outlasts any
/// `maxDelaySeconds` (the wait is the longer of the two), so then only fewer retries or a declared
/// horizon do.
fn shorten(machine: &Prober, max_delay_seconds: f64, goal: &str) -> String {
    let goal = if goal.is_empty() {
        String::new()
    } else {
        format!(" {goal}")
    };
    match machine.slowest_retry_after() {
        Some(s) if machine.retry_after_is_the_cap() => format!(
            "lower `maxRetries`{goal}, or declare `crm.retryAfterHorizonSeconds` (the longest Retry-After your CRM sends; the machine waits up to {s} s otherwise, whatever `maxDelaySeconds` says); see `cxsync lint --budget`"
        ),
        Some(s) if s as f64 >= max_delay_seconds => format!(
            "lower `maxRetries`{goal} (a Retry-After of {s} s outlasts `maxDelaySeconds`); see `cxsync lint --budget`"
        ),
        _ => format!("lower `maxRetries` or `maxDelaySeconds`{goal}; see `cxsync lint --budget`"),
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let Ok(machine) = Prober::new(raw, Options::default()) else {
        return;
    };
    let runs: Vec<(Answer, Settled)> = retried(raw)
        .into_iter()
        .filter_map(|a| Some((a, machine.run(a, Schedule::Slowest).ok()?)))
        .filter(|(_, s)| s.attempts > 1 || s.reason == Some(Reason::DeadlineExceeded))
        .collect();
    let ra = machine
        .slowest_retry_after()
        .map(|s| format!(" with Retry-After {s} s"))
        .unwrap_or_default();
    let allowed = raw.retry.max_retries + 1;
    if let (Some(deadline), Some((a, s))) = (
        raw.crm.delivery_deadline_seconds,
        runs.iter()
            .find(|(_, s)| s.reason == Some(Reason::DeadlineExceeded)),
    ) {
        out.push(
            cx.at_value(
                "/retry/maxRetries",
                format!(
                    "{} answered 1 ms before the timeout{ra} reaches crm.deliveryDeadlineSeconds ({deadline} s) after {} of {allowed} attempts: events go to the DLQ as DEADLINE_EXCEEDED with retries left",
                    name(*a),
                    s.attempts
                ),
            )
            .with_help(shorten(&machine, raw.retry.max_delay_seconds, "so the retries fit the deadline")),
        );
    }
    if let Auth::OAuth2ClientCredentials {
        token_cache_ttl_seconds,
        ..
    } = raw.channel.auth
    {
        let ttl = token_cache_ttl_seconds.saturating_mul(1000);
        if let Some((a, s)) = runs
            .iter()
            .max_by_key(|(_, s)| s.ms)
            .filter(|(_, s)| s.ms > ttl)
        {
            out.push(
                cx.at_value(
                    "/retry/maxRetries",
                    format!(
                        "{} answered 1 ms before the timeout{ra} keeps an event retrying for {}, longer than the token cache TTL ({token_cache_ttl_seconds} s): its last attempts need a token refresh",
                        name(*a),
                        human_ms(s.ms)
                    ),
                )
                .with_help(shorten(&machine, raw.retry.max_delay_seconds, "")),
            );
        }
    }
}
