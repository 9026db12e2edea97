//! ## What it does
//! Flags `auth.type: bearer`, a static bearer token instead of OAuth client credentials.
//!
//! ## Why is this bad?
//! A static token expires or is rotated by the CRM, and the Event Hub cannot re-authenticate on its
//! own: it caches the authentication context and never runs an interactive flow. Deliveries then
//! fail with 401 until someone pastes a new token (guide §1).
//!
//! ## Example
//! ```yaml
//! auth:
//!   type: bearer
//!   token: ${VAULT_SECRET:CRM_TOKEN}
//! ```
//!
//! Use instead:
//! ```yaml
//! auth:
//!   type: oauth2_client_credentials
//!   tokenEndpoint: https://auth.example.com/oauth2/token
//!   clientId: cxone_eventhub_client
//!   clientSecret: ${VAULT_SECRET:CRM_CLIENT_SECRET}
//!   tokenCacheTtlSeconds: 3300
//!   retryOnTokenExpiry: true
//! ```
//!
//! ## Fix safety
//! No automatic fix: client credentials need a client registered at the CRM.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if let Auth::Bearer { .. } = cx.spec.raw.channel.auth {
        out.push(
            cx.at_value(
                "/channel/auth/type",
                "a static bearer token cannot be refreshed; deliveries fail with 401 once it expires",
            )
            .with_help("use `type: oauth2_client_credentials` with `retryOnTokenExpiry: true`"),
        );
    }
}
