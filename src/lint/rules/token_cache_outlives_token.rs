//! ## What it does
//! Flags `auth.tokenCacheTtlSeconds` that is not below `crm.tokenLifetimeSeconds`, the lifetime of
//! the access tokens the CRM's identity provider issues.
//!
//! ## Why is this bad?
//! The Event Hub keeps using a cached token until its cache TTL runs out. If the token dies first
//! (the guide caches for 5,400 s; typical tokens live 3,600 s), every delivery in the gap is sent
//! with an expired token and answered with 401: a burst of failures every hour.
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

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Auth::OAuth2ClientCredentials {
        token_cache_ttl_seconds: ttl,
        ..
    } = cx.spec.raw.channel.auth
    else {
        return;
    };
    let Some(life) = cx.spec.raw.crm.token_lifetime_seconds else {
        return;
    };
    if ttl >= life {
        let margin = (life / 12).clamp(30, 300);
        out.push(
            cx.at_value(
                "/channel/auth/tokenCacheTtlSeconds",
                format!(
                    "tokens are cached for {ttl} s but expire after {life} s (crm.tokenLifetimeSeconds)"
                ),
            )
            .with_help(format!(
                "cache for less than the token lifetime, e.g. `tokenCacheTtlSeconds: {}`",
                life.saturating_sub(margin).max(1)
            )),
        );
    }
}
