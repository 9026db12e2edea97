//! ## What it does
//! Flags `auth.tokenCacheTtlSeconds` longer than the lifetime of the CRM's access tokens
//! (`crm.tokenLifetimeSeconds`, else the CRM profile's session, docs/crm-profiles.md).
//!
//! ## Why is this bad?
//! The Event Hub keeps using a cached token until its cache TTL runs out, whatever the token's
//! `expires_in` says (docs/semantics.md, "Tokens"; the simulator models the same rule). If the
//! token dies first (the guide caches for 5,400 s; typical tokens live 3,600 s), every delivery
//! in the gap is sent with an expired token and answered with 401: a burst of failures every
//! hour, dead letters (`AUTH_FAILED`) without `retryOnTokenExpiry`.
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
    let raw = &cx.spec.raw;
    let profile = crate::crm::profile(raw.crm.profile);
    let life = crate::crm::token_lifetime_seconds(raw, &profile, None);
    if crate::delivery::sends_expired_tokens(ttl, life) {
        let source = match raw.crm.token_lifetime_seconds {
            Some(_) => "crm.tokenLifetimeSeconds".to_string(),
            None => format!(
                "the `{}` profile's token lifetime; set crm.tokenLifetimeSeconds if yours differs",
                profile.name
            ),
        };
        let margin = (life / 12).clamp(30, 300);
        out.push(
            cx.at_value(
                "/channel/auth/tokenCacheTtlSeconds",
                format!("tokens are cached for {ttl} s but expire after {life} s ({source})"),
            )
            .with_help(format!(
                "cache for less than the token lifetime, e.g. `tokenCacheTtlSeconds: {}`",
                life.saturating_sub(margin).max(1)
            )),
        );
    }
}
