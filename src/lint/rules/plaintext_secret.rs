//! ## What it does
//! Flags credentials written in plain text: a literal bearer token or client secret, a header that
//! carries credentials (the headers `plan` masks: `Authorization`, `X-API-Key`, `*-Token`,
//! `*-Signature`, `*secret*`, `*password*`), a URL with `user:password@`, or a URL query parameter
//! such as `access_token=`, `api_key=` or `sig=`. The finding names the place, never the secret.
//!
//! ## Why is this bad?
//! A secret in the spec is in every clone, review, CI log and compiled payload, and it cannot be
//! rotated without a commit. The guide's edge case 2 ends with "replace static values with vault
//! references".
//!
//! ## Example
//! ```yaml
//! channel:
//!   destinationUri: https://crm.example.com/v1/interactions?api_key=sk_live_123
//!   headers:
//!     Authorization: Basic YWRtaW46aHVudGVyMg==
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   destinationUri: https://crm.example.com/v1/interactions
//!   headers:
//!     Authorization: ${VAULT_SECRET:CRM_BASIC_AUTH}
//! ```
//!
//! ## Fix safety
//! No automatic fix: the secret must be moved into the vault and rotated, since it has leaked.

use super::is_reference;
use super::prelude::*;
use crate::spec::yaml::child;

/// Why a URL holds credentials, if it does: every part [`crate::spec::secret::url_credentials`]
/// names (the one list of credential query parameters, which import also uses to write
/// placeholders), the user-info password first.
fn url_secret(url: &str) -> Option<String> {
    let parts: Vec<String> = crate::spec::secret::url_credentials(url)
        .into_iter()
        .map(|(range, what)| {
            if what == "password" && !url[..range.start].contains('?') {
                "a password in the URL's user-info (`user:password@`)".into()
            } else {
                format!("a credential in the query parameter `{what}`")
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The text the spec wrote at `pointer`: `${env:…}` references are resolved at load time, so a
/// value that came from the environment is judged by its original text, not by the secret.
fn written<'a>(cx: &'a Context, pointer: &str, value: &'a str) -> &'a str {
    cx.spec
        .interpolated
        .get(pointer)
        .map_or(value, String::as_str)
}

/// Whether text holds a `${VAULT_SECRET:…}` or `${env:…}` reference anywhere (`Bearer ${env:T}`
/// keeps the secret out of the spec as well as a whole reference does).
fn has_reference(text: &str) -> bool {
    text.contains("${VAULT_SECRET:") || text.contains("${env:")
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let (pointer, value, what) = match &raw.channel.auth {
        Auth::Bearer { token } => ("/channel/auth/token", token.as_str(), "the bearer token"),
        Auth::OAuth2ClientCredentials { client_secret, .. } => (
            "/channel/auth/clientSecret",
            client_secret.as_str(),
            "the client secret",
        ),
        Auth::None {} => ("", "", ""),
    };
    if !pointer.is_empty() && !is_reference(written(cx, pointer, value)) {
        out.push(
            cx.at_value(pointer, format!("{what} is written in plain text"))
                .with_help("use `${VAULT_SECRET:NAME}` or `${env:NAME}`"),
        );
    }
    for (name, value) in &raw.channel.headers {
        let secret_name = crate::spec::secret::is_secret_name(name);
        let pointer = child("/channel/headers", name);
        let text = written(cx, &pointer, value);
        if secret_name && !text.trim().is_empty() && !has_reference(text) {
            out.push(
                cx.at_value(
                    &pointer,
                    format!("header `{name}` carries a credential in plain text"),
                )
                .with_help("use `${VAULT_SECRET:NAME}` or `${env:NAME}` for the value"),
            );
        }
    }
    let mut urls = vec![(
        "/channel/destinationUri",
        raw.channel.destination_uri.as_str(),
    )];
    if let Auth::OAuth2ClientCredentials { token_endpoint, .. } = &raw.channel.auth {
        urls.push(("/channel/auth/tokenEndpoint", token_endpoint));
    }
    if let Some(a) = &raw.dead_letter_queue.alert_endpoint {
        urls.push(("/deadLetterQueue/alertEndpoint", a));
    }
    for (pointer, url) in urls {
        if let Some(why) = url_secret(written(cx, pointer, url)) {
            out.push(
                cx.at_value(pointer, format!("URL holds {why}"))
                    .with_help("pass credentials through `auth` or a vault-referenced header"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url_secret;

    #[test]
    fn credentials_in_urls_are_found_but_plain_urls_pass() {
        assert!(url_secret("https://a:b@x.com/p").is_some());
        assert!(url_secret("https://x.com/p?api_key=1&x=2").is_some());
        assert!(url_secret("https://x.com/p?Access_Token=abc").is_some());
        assert!(url_secret("https://x.com/p?page=2").is_none());
        assert!(url_secret("https://x.com/p?token=${VAULT_SECRET:T}").is_none());
        assert!(url_secret("https://user@x.com/p").is_none());
        // The names lint knew before it shared import's list, and import's own, are credentials.
        let names = [
            "token",
            "apikey",
            "key",
            "secret",
            "client_secret",
            "password",
            "pwd",
            "sig",
        ];
        for name in names.into_iter().chain(["signature", "access_key", "code"]) {
            assert!(
                url_secret(&format!("https://x.com/p?{name}=1")).is_some(),
                "{name}"
            );
        }
        // Where the credential is decides the wording, not its name.
        let query = url_secret("https://x.com/p?password=x").unwrap();
        assert!(query.contains("query parameter `password`"), "{query}");
        let userinfo = url_secret("https://u:p@x.com/p?password=x").unwrap();
        assert!(userinfo.contains("user-info"), "{userinfo}");
        // Every credential of a URL is named, not only the first (tester #113).
        assert!(
            userinfo.contains("and a credential in the query parameter `password`"),
            "{userinfo}"
        );
    }
}
