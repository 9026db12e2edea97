//! ## What it does
//! Flags a 4xx status that cannot heal on its own listed in `retryableStatusCodes` and retried by
//! the delivery machine: 400, 403 (except for CRMs that throttle with it, such as Salesforce), 404,
//! 405, 410, 413, 414, 415 and 422. A 401 listed there without `retryOnTokenExpiry` is flagged
//! too: the machine never resends a 401 with the same token, so the listing promises a retry
//! that does not happen (it is `AUTH_FAILED` at once). A code also listed as non-retryable is
//! left to `status-code-in-both-lists`.
//!
//! ## Why is this bad?
//! These answers mean the payload, the address or the credentials are wrong. Resending the same
//! request gives the same answer: retries waste the CRM's quota, delay the dead-letter queue and
//! can get the Event Hub's IPs banned (guide §3, "The Trap").
//!
//! ## Example
//! ```yaml
//! retryableStatusCodes: [400, 429, 500, 502, 503, 504]
//! ```
//!
//! Use instead:
//! ```yaml
//! retryableStatusCodes: [429, 500, 502, 503, 504]
//! nonRetryableStatusCodes: [400, 401, 403, 404, 413, 422]
//! ```
//!
//! ## Fix safety
//! Moving the code to `nonRetryableStatusCodes` is safe: the event reaches the DLQ sooner.

use super::prelude::*;
use crate::delivery::Reason;
use crate::lint::budget::{Answer, Options, Prober, Schedule};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let Ok(machine) = Prober::new(raw, Options::default()) else {
        return;
    };
    // The CRM's own throttling status heals by waiting, whatever its class.
    let throttle = crate::crm::profile(raw.crm.profile).throttle.status;
    for (i, code) in raw.retry.retryable_status_codes.iter().enumerate() {
        let why = match code {
            c if *c == throttle => continue,
            400 => "a malformed request stays malformed",
            401 => "",
            403 => "a forbidden request stays forbidden",
            404 | 410 => "a missing resource does not appear by resending",
            405 => "the method stays wrong",
            413 => "the payload does not shrink by resending",
            414 => "the URI does not shrink by resending",
            415 => "the content type stays wrong",
            422 => "the payload keeps failing the CRM's validation",
            _ => continue,
        };
        let Ok(run) = machine.run(Answer::Status(*code), Schedule::Fastest) else {
            continue;
        };
        let pointer = format!("/retry/retryableStatusCodes/{i}");
        if *code == 401 {
            // With `retryOnTokenExpiry` a 401 refreshes the token: listing it changes nothing.
            if run.reason == Some(Reason::AuthFailed) && run.attempts == 1 {
                out.push(
                    cx.at_value(
                        &pointer,
                        "401 is listed as retryable, but without `retryOnTokenExpiry` a 401 is dead-lettered at once (AUTH_FAILED): resending the same token cannot heal it",
                    )
                    .with_help("set `retryOnTokenExpiry: true` (OAuth), or move 401 to `nonRetryableStatusCodes`"),
                );
            }
            continue;
        }
        if run.attempts > 1 {
            out.push(
                cx.at_value(
                    &pointer,
                    format!("{code} is retried, but it cannot heal: {why}"),
                )
                .with_help(format!("move {code} to `nonRetryableStatusCodes`")),
            );
        }
    }
}
