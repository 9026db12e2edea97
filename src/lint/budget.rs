//! The retry budget of a policy: per status class, how many attempts an event gets and the longest
//! it can take (upper bound, jitter at its maximum) before it lands in the dead-letter queue.
//!
//! The model is [`MODEL`]; `docs/rules.md` prints it.

use serde::Serialize;

use crate::spec::model::{Auth, Jitter, RawSpec};

/// How the budget is computed, in words (printed in `docs/rules.md`).
pub const MODEL: &str = "\
Attempt n+1 waits `delay_n = min(maxDelaySeconds, initialDelaySeconds × backoffMultiplier^(n-1))` \
after attempt n. Full and equal jitter never exceed `delay_n`; decorrelated jitter is bounded by \
`min(maxDelaySeconds, 3 × the previous bound)`. With `respectRetryAfterHeader`, a 429 or 5xx retry \
waits `max(delay_n, Retry-After)`, bounded by `crm.retryAfterHorizonSeconds` (unbounded when the \
CRM's horizon is not declared). Every attempt may use the whole `timeoutMilliseconds`. A code in \
both lists counts as non-retryable; a code in neither list is dead-lettered at once; network \
errors and timeouts are always retried; a 401 with `retryOnTokenExpiry` gets one token refresh \
and one immediate resend before the lists decide.";

/// One row of the budget table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetRow {
    /// Status class, e.g. `429`, `5xx`, `timeout/reset`.
    pub class: String,
    /// Attempts in total (the first send included).
    pub attempts: u32,
    /// Longest time from the first send to the DLQ, in seconds; `None` when unbounded.
    pub max_seconds: Option<f64>,
    /// How the class is handled, in words.
    pub note: String,
}

/// Whether a status code is retried by the policy (a code in both lists is not).
pub fn is_retried(spec: &RawSpec, code: u16) -> bool {
    spec.retry.retryable_status_codes.contains(&code)
        && !spec.retry.non_retryable_status_codes.contains(&code)
}

/// Upper bounds of the waits before retry 1..=retries.
pub fn delay_bounds(spec: &RawSpec, retries: u32, retry_after: bool) -> Option<Vec<f64>> {
    let r = &spec.retry;
    let mut out = Vec::with_capacity(retries as usize);
    let mut prev = r.initial_delay_seconds;
    for n in 1..=retries {
        let backoff = match r.jitter {
            Jitter::Decorrelated => {
                let b = (prev * 3.0).min(r.max_delay_seconds);
                prev = b;
                b
            }
            _ => (r.initial_delay_seconds * r.backoff_multiplier.powi(n as i32 - 1))
                .min(r.max_delay_seconds),
        };
        let wait = if retry_after && r.respect_retry_after_header {
            backoff.max(spec.crm.retry_after_horizon_seconds? as f64)
        } else {
            backoff
        };
        out.push(wait);
    }
    Some(out)
}

fn worst(spec: &RawSpec, attempts: u32, retry_after: bool) -> Option<f64> {
    let timeout = spec.channel.timeout_milliseconds as f64 / 1000.0;
    let waits = delay_bounds(spec, attempts.saturating_sub(1), retry_after)?;
    Some(attempts as f64 * timeout + waits.iter().sum::<f64>())
}

/// The worst case over every class that is retried: what `CX023` compares with deadlines.
pub fn worst_case(spec: &RawSpec) -> Option<f64> {
    table(spec)
        .iter()
        .map(|r| r.max_seconds)
        .try_fold(0.0f64, |acc, s| s.map(|s| acc.max(s)))
}

/// The budget table of a spec.
pub fn table(spec: &RawSpec) -> Vec<BudgetRow> {
    let full = spec.retry.max_retries + 1;
    let mut rows = Vec::new();
    let retried_row = |class: &str, retry_after: bool, note: String| {
        let max_seconds = worst(spec, full, retry_after);
        BudgetRow {
            class: class.into(),
            attempts: full,
            max_seconds,
            note,
        }
    };
    let once = |class: &str, note: String| BudgetRow {
        class: class.into(),
        attempts: 1,
        max_seconds: worst(spec, 1, false),
        note,
    };
    rows.push(if is_retried(spec, 429) {
        let ra = if spec.retry.respect_retry_after_header {
            "retried, waiting max(backoff, Retry-After)"
        } else {
            "retried with backoff; Retry-After ignored"
        };
        retried_row("429", true, ra.into())
    } else {
        once("429", "not retried: dead-lettered at once".into())
    });
    let fives = [500u16, 502, 503, 504];
    let not: Vec<String> = fives
        .iter()
        .filter(|c| !is_retried(spec, **c))
        .map(|c| c.to_string())
        .collect();
    rows.push(if not.len() == fives.len() {
        once("5xx", "not retried: dead-lettered at once".into())
    } else if !not.is_empty() {
        retried_row(
            "5xx",
            true,
            format!(
                "retried with backoff, except {} (dead-lettered)",
                not.join(", ")
            ),
        )
    } else {
        retried_row("5xx", true, "retried with backoff".into())
    });
    rows.push(retried_row(
        "timeout/reset",
        false,
        "network errors and timeouts are always retried".into(),
    ));
    let refresh = matches!(
        spec.channel.auth,
        Auth::OAuth2ClientCredentials {
            retry_on_token_expiry: true,
            ..
        }
    );
    rows.push(match (refresh, is_retried(spec, 401)) {
        (_, true) => retried_row("401", false, "retried with backoff".into()),
        (true, false) => BudgetRow {
            class: "401".into(),
            attempts: 2,
            max_seconds: worst(spec, 2, false).map(|s| {
                // The resend follows the refresh at once: no backoff wait, only a second timeout.
                let waits = delay_bounds(spec, 1, false).unwrap_or_default();
                s - waits.iter().sum::<f64>()
            }),
            note: "token refreshed once and resent, then dead-lettered".into(),
        },
        (false, false) => once("401", "no token refresh: dead-lettered at once".into()),
    });
    let listed: Vec<String> = spec
        .retry
        .non_retryable_status_codes
        .iter()
        .filter(|c| (400..500).contains(*c) && **c != 401)
        .map(|c| c.to_string())
        .collect();
    rows.push(once(
        "non-retryable 4xx",
        if listed.is_empty() {
            "none listed".into()
        } else {
            format!("dead-lettered at once: {}", listed.join(", "))
        },
    ));
    rows.push(once(
        "unlisted",
        "a code in neither list is dead-lettered at once".into(),
    ));
    rows
}

/// Seconds as `218.0 s (3m38s)`.
pub fn human_seconds(s: Option<f64>) -> String {
    match s {
        None => "unbounded (Retry-After without a horizon)".into(),
        Some(s) if s < 60.0 => format!("{s:.1} s"),
        Some(s) => {
            let whole = s.round() as u64;
            let (h, m, sec) = (whole / 3600, whole / 60 % 60, whole % 60);
            if h > 0 {
                format!("{s:.1} s ({h}h{m:02}m{sec:02}s)")
            } else {
                format!("{s:.1} s ({m}m{sec:02}s)")
            }
        }
    }
}

/// The table as aligned text.
pub fn render(file: &str, rows: &[BudgetRow]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("Retry budget for {file}\n");
    let _ = writeln!(
        out,
        "{:<18} {:>8}  {:<28} notes",
        "status class", "attempts", "max time to DLQ"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<18} {:>8}  {:<28} {}",
            r.class,
            r.attempts,
            human_seconds(r.max_seconds),
            r.note
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::spec_with;

    fn spec(retry: &str) -> RawSpec {
        let mut raw = spec_with("retryAfterHorizonSeconds: 120").raw;
        let extra: serde_json::Value = serde_json::from_str(retry).unwrap();
        let mut r = serde_json::to_value(&raw.retry).unwrap();
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        raw.retry = serde_json::from_value(r).unwrap();
        raw
    }

    #[test]
    fn backoff_bounds_grow_to_the_cap_and_retry_after_raises_them() {
        let s = spec(
            r#"{"maxRetries": 5, "initialDelaySeconds": 2, "maxDelaySeconds": 10, "backoffMultiplier": 2}"#,
        );
        assert_eq!(
            delay_bounds(&s, 5, false).unwrap(),
            vec![2.0, 4.0, 8.0, 10.0, 10.0]
        );
        let s = spec(r#"{"maxRetries": 2, "respectRetryAfterHeader": true}"#);
        assert_eq!(delay_bounds(&s, 2, true).unwrap(), vec![120.0, 120.0]);
        let s = spec(
            r#"{"maxRetries": 3, "initialDelaySeconds": 1, "maxDelaySeconds": 20, "jitter": "decorrelated"}"#,
        );
        assert_eq!(delay_bounds(&s, 3, false).unwrap(), vec![3.0, 9.0, 20.0]);
    }

    #[test]
    fn retry_after_without_a_known_horizon_is_unbounded() {
        let mut s = spec(r#"{"respectRetryAfterHeader": true}"#);
        s.crm.retry_after_horizon_seconds = None;
        let t = table(&s);
        assert_eq!(t[0].class, "429");
        assert_eq!(t[0].max_seconds, None);
        assert_eq!(worst_case(&s), None);
        // Timeouts never carry Retry-After.
        assert!(t[2].max_seconds.is_some());
    }

    #[test]
    fn unretried_classes_take_one_attempt_and_one_timeout() {
        let s = spec(r#"{"retryableStatusCodes": [503], "nonRetryableStatusCodes": [400, 429]}"#);
        let t = table(&s);
        assert_eq!((t[0].attempts, t[0].max_seconds), (1, Some(1.0)));
        assert!(t[1].note.contains("except 500, 502, 504"), "{}", t[1].note);
        assert_eq!(t[3].attempts, 1, "auth none: no refresh");
    }
}
