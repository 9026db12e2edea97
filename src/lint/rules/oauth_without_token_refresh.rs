//! ## What it does
//! Flags OAuth client-credentials authentication without `retryOnTokenExpiry: true`.
//!
//! ## Why is this bad?
//! When the CRM's identity provider revokes or rotates a token before the cache expires, every
//! request answers `401`. Without `retryOnTokenExpiry` the Event Hub does not drop the cached token
//! and fetch a new one: the 401s are final and events silently fail until the cache runs out
//! (guide §1 and edge case 2).
//!
//! ## Example
//! ```yaml
//! auth:
//!   type: oauth2_client_credentials
//!   retryOnTokenExpiry: false
//! ```
//!
//! Use instead:
//! ```yaml
//! auth:
//!   type: oauth2_client_credentials
//!   retryOnTokenExpiry: true
//! ```
//!
//! ## Fix safety
//! Safe: turning it on only adds one token refresh and one resend on a 401.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if let Auth::OAuth2ClientCredentials {
        retry_on_token_expiry: false,
        ..
    } = cx.spec.raw.channel.auth
    {
        let d = if cx.written("/channel/auth/retryOnTokenExpiry") {
            cx.at_value(
                "/channel/auth/retryOnTokenExpiry",
                "`retryOnTokenExpiry` is off: a revoked or rotated token makes every 401 final",
            )
        } else {
            cx.at_key(
                "/channel/auth",
                "OAuth without `retryOnTokenExpiry`: a revoked or rotated token makes every 401 final",
            )
        };
        out.push(d.with_help("set `retryOnTokenExpiry: true`"));
    }
}
