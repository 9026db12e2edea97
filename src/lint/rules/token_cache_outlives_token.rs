//! ## What it does
//! Flags `auth.tokenCacheTtlSeconds` longer than the lifetime of the CRM's access tokens
//! (`crm.tokenLifetimeSeconds`, else the CRM profile's session, docs/crm-profiles.md): an error
//! when the hub dead-letters the 401s that follow (no `retryOnTokenExpiry`), a warning when it
//! fetches a new token and resends (`retryOnTokenExpiry: true`).
//!
//! ## Why is this bad?
//! The Event Hub uses a token for the whole of `tokenCacheTtlSeconds` after it received it,
//! whatever the token's `expires_in` says, and fetches a new one at the next send after that
//! (docs/semantics.md, "Tokens"; the delivery machine `sim` runs does the same). A token that dies
//! first is sent on after it expired, for up to `TTL − lifetime` (the guide caches for 5,400 s,
//! typical tokens live 3,600 s: 1,800 s), and the CRM answers those requests 401:
//!
//! - without `retryOnTokenExpiry` the hub keeps the token and a 401 is final: every event sent in
//!   those `TTL − lifetime` of every `TTL` is dead-lettered `AUTH_FAILED` (an error);
//! - with `retryOnTokenExpiry` the first 401 drops the token (so the stale time ends there); the
//!   hub fetches a new one and sends the event again first, and a request already in flight with
//!   the old token is resent the same way. No event is lost: each such event costs one more request, each expiry one more
//!   token request, and the 401s show in the CRM's logs and the error rate (a warning).
//!
//! Which of the two applies is asked of the delivery machine (its answer to a 401), not
//! decided here.
//!
//! ## Example
//! ```yaml
//! auth:
//!   tokenCacheTtlSeconds: 5400
//! crm:
//!   tokenLifetimeSeconds: 3600
//! ```
//!
//! Use instead:
//! ```yaml
//! auth:
//!   tokenCacheTtlSeconds: 3300   # lifetime minus a safety margin
//! ```
//!
//! ## Fix safety
//! Safe: a shorter cache only fetches tokens more often.

use super::prelude::*;
use crate::diag::Severity;
use crate::lint::budget::{Answer, Options, Prober, Schedule};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Auth::OAuth2ClientCredentials {
        token_cache_ttl_seconds: ttl,
        ..
    } = cx.spec.raw.channel.auth
    else {
        return;
    };
    let raw = &cx.spec.raw;
    let profile = crate::crm::profile(raw.crm.profile);
    let life = crate::crm::token_lifetime_seconds(raw, &profile, None);
    if !crate::delivery::sends_expired_tokens(ttl, life) {
        return;
    }
    let source = match raw.crm.token_lifetime_seconds {
        Some(_) => "crm.tokenLifetimeSeconds".to_string(),
        None => format!(
            "the `{}` profile's token lifetime; set crm.tokenLifetimeSeconds if yours differs",
            profile.name
        ),
    };
    let margin = (life / 12).clamp(30, 300);
    let stale = ttl.saturating_sub(life);
    // What the machine does with a 401: resend with a new token, or dead-letter.
    let answer = Prober::new(raw, Options::default())
        .ok()
        .and_then(|m| m.run(Answer::Status(401), Schedule::Fastest).ok());
    let (resent, consequence) = match answer {
        Some(s) if s.token_refreshes > 0 => (
            true,
            "; the CRM answers 401 to a request sent with an expired token, and with `retryOnTokenExpiry` the hub fetches a new token and sends it again (as it does every request in flight with the old token): no event is lost, but each expiry costs those 401s and resends".to_string(),
        ),
        Some(s) => (
            false,
            format!(
                ", so each token is sent for {stale} s after it expired: the CRM answers 401 to every request in that time and the hub dead-letters each event at once ({})",
                s.reason.map_or("AUTH_FAILED", |r| r.as_str())
            ),
        ),
        None => (false, format!(", so each token is sent for {stale} s after it expired")),
    };
    let d = cx
        .at_value(
            "/channel/auth/tokenCacheTtlSeconds",
            format!(
                "tokens are cached for {ttl} s but expire after {life} s ({source}){consequence}"
            ),
        )
        .with_help(format!(
            "cache for less than the token lifetime, e.g. `tokenCacheTtlSeconds: {}`",
            life.saturating_sub(margin).max(1)
        ));
    out.push(if resent {
        d.with_severity(Severity::Warning)
    } else {
        d
    });
}
