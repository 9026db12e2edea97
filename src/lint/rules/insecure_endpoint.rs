//! ## What it does
//! Flags a destination, token endpoint or DLQ alert endpoint that is not `https://`. Plain
//! `http://` is accepted only on loopback (`localhost`, `127.0.0.0/8`, `[::1]`) for local mocks.
//! The spec loader already refuses plain `http://` (error E402), so `cxsync lint` reports that
//! error for such specs; this rule is the same check for specs built in code.
//!
//! ## Why is this bad?
//! Interaction events carry customer data, the token endpoint receives the client secret, and the
//! alert webhook tells the world about failures. Over plain HTTP all of it can be read or changed
//! in transit; the guide requires TLS 1.2+ with certificate validation.
//!
//! ## Example
//! ```yaml
//! channel:
//!   destinationUri: http://crm-api.example.com/v1/interactions
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   destinationUri: https://crm-api.example.com/v1/interactions
//! ```
//!
//! ## Fix safety
//! Safe if the host serves HTTPS; otherwise the CRM must be fixed first.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let mut urls = vec![(
        "/channel/destinationUri",
        "destination",
        raw.channel.destination_uri.as_str(),
    )];
    if let Auth::OAuth2ClientCredentials { token_endpoint, .. } = &raw.channel.auth {
        urls.push((
            "/channel/auth/tokenEndpoint",
            "token endpoint",
            token_endpoint,
        ));
    }
    if let Some(a) = &raw.dead_letter_queue.alert_endpoint {
        urls.push(("/deadLetterQueue/alertEndpoint", "DLQ alert endpoint", a));
    }
    for (pointer, what, url) in urls {
        if crate::net::require_https_or_loopback_template(url).is_ok() {
            continue;
        }
        let lower = url.trim().to_ascii_lowercase();
        let scheme = lower.split_once("://").map(|(s, _)| s).unwrap_or("");
        let found = if scheme.is_empty() {
            "has no scheme".to_string()
        } else {
            format!("uses `{scheme}://`")
        };
        out.push(
            cx.at_value(
                pointer,
                format!("the {what} {found}; only https is allowed off loopback"),
            )
            .with_help("use an `https://` URL"),
        );
    }
}
