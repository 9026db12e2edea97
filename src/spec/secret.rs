//! Resolving a secret reference at run time, for the commands that talk to a real CRM
//! (`sim --http --target`, `dlq replay`). The loader has already replaced `${env:…}` where the
//! variable was set; what can remain is a `${VAULT_SECRET:NAME}` (the Event Hub's vault, not
//! reachable from a laptop) or an `${env:NAME}` the loader did not resolve.
//!
//! The rule, one for every caller:
//! - a variable named by the caller (`--client-secret-env VAR`) wins for any reference;
//! - `${env:NAME}` reads `NAME`;
//! - `${VAULT_SECRET:NAME}` reads the variable `NAME`, the convention `docs/http.md` documents
//!   (the vault entry's name as a variable on the machine that runs cxsync);
//! - any other `${…}` is an error, never sent as written; text without a reference is used as it
//!   is (the loader resolved it);
//! - an empty variable is as good as an unset one: an empty secret is never right.
//!
//! Errors name the reference and the variable, never a value.

use super::interp::{scan, RefKind};

/// Keys whose values are credentials (compared case-insensitively; header names included).
const SECRET_KEYS: &[&str] = &[
    "clientsecret",
    "token",
    "password",
    "accesskeysecret",
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "apikey",
];

/// Whether a field or header name names a credential: the known names, and any name with
/// `secret` or `password` in it or ending in `token`, `apikey`, `api-key`, `api_key`, `cookie`,
/// `signature` (also with its hash after it: `X-Hub-Signature-256`) or `subscription-key`
/// (`X-Custom-Token`, `CRM_API_KEY`, `X-Hub-Signature`, `Ocp-Apim-Subscription-Key`);
/// `Proxy-Authorization` is RFC 9110's. `tokenEndpoint`,
/// `X-Token-Type` and `X-Idempotency-Key` are not. The one answer for the loader (what is
/// sensitive), compile and plan (what is masked), import (what becomes a placeholder) and lint
/// CX004 (what must not be written in plain text).
pub fn is_secret_name(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    // A signature named with its hash (`X-Hub-Signature-256`, `X-Signature-SHA256`) is one.
    let unhashed = k.trim_end_matches(|c: char| c.is_ascii_digit());
    let unhashed = unhashed.strip_suffix("sha").unwrap_or(unhashed);
    let unhashed = unhashed.trim_end_matches(['-', '_']);
    unhashed != k.as_str() && unhashed.ends_with("signature")
        || SECRET_KEYS.contains(&k.as_str())
        || k.contains("secret")
        || k.contains("password")
        || [
            "token",
            "apikey",
            "api-key",
            "api_key",
            "cookie",
            "signature",
            "subscription-key",
        ]
        .iter()
        .any(|end| k.ends_with(end))
}

/// Where a spec field's value came from, when that makes it secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// An `${env:…}` reference (resolved by the loader, or deferred): the value is a secret
    /// wherever it is shown, whatever the field is called.
    Env,
    /// A `${VAULT_SECRET:…}` reference: what cxsync sends is the reference (not a secret; the
    /// Event Hub resolves it), but what the hub holds for the field may be the secret.
    Vault,
}

/// Which value of a field a printer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The spec's value, what cxsync writes or sends (`compile`, the `→` side of `plan`).
    Sent,
    /// What the Event Hub holds (the side of `plan` before `→`, `import`).
    Live,
}

/// Whether a printer masks a field: the one answer for compile, plan (text and JSON, both sides)
/// and import. `origin` is where the spec's value came from ([`origins`]), `credential` whether
/// the field's name names a credential ([`is_secret_name`]). An `${env:}` value is masked on both
/// sides (the hub's value is the previous secret, a rotated one); a vault reference is shown as
/// written and the hub's value masked; a credential-named field is masked unless it is a vault
/// reference on the sent side.
pub fn masked(origin: Option<Origin>, credential: bool, side: Side) -> bool {
    match (origin, side) {
        (Some(Origin::Env), _) => true,
        (Some(Origin::Vault), Side::Sent) => false,
        (Some(Origin::Vault), Side::Live) => true,
        (None, _) => credential,
    }
}

/// The origin of a string as the spec wrote it: [`Origin::Env`] when it holds an `${env:…}`
/// reference (anywhere: `Basic ${env:S}`), else [`Origin::Vault`] for a `${VAULT_SECRET:…}`.
pub fn origin_of(text: &str) -> Option<Origin> {
    let refs = scan(text).ok()?;
    if refs.iter().any(|r| matches!(r.kind(), RefKind::Env(_))) {
        Some(Origin::Env)
    } else if refs.iter().any(|r| matches!(r.kind(), RefKind::Vault(_))) {
        Some(Origin::Vault)
    } else {
        None
    }
}

/// The spec fields (JSON pointers into [`Spec::tree`]) whose values are secret by where they
/// came from: every string the loader resolved from `${env:…}` ([`Spec::interpolated`]), every
/// one still holding an `${env:…}` or `${VAULT_SECRET:…}` reference (a deferred secret, a vault
/// secret). Environment overlays and transforms are no payload field and are left out. The
/// loader's record, not a search of any output: `compile` maps these onto the payloads
/// ([`crate::compile::Secrets`]).
///
/// [`Spec::tree`]: super::Spec::tree
/// [`Spec::interpolated`]: super::Spec::interpolated
pub fn origins(spec: &super::Spec) -> std::collections::BTreeMap<String, Origin> {
    let mut out: std::collections::BTreeMap<String, Origin> = spec
        .interpolated
        .keys()
        .map(|p| (p.clone(), Origin::Env))
        .collect();
    fn walk(
        v: &serde_json::Value,
        pointer: String,
        out: &mut std::collections::BTreeMap<String, Origin>,
    ) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(o) = origin_of(s) {
                    out.entry(pointer).or_insert(o);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{pointer}/{i}"), out);
                }
            }
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let p = super::yaml::child(&pointer, k);
                    let transform = p.starts_with("/rules/")
                        && p.ends_with("/transform")
                        && p.split('/').count() == 4;
                    if p != "/environments" && !transform {
                        walk(x, p, out);
                    }
                }
            }
            _ => {}
        }
    }
    walk(&spec.tree, String::new(), &mut out);
    out
}

/// How a printer shows one spec field's value (`/channel/destinationUri`, `/idempotency/key`)
/// that it prints by itself, not inside a payload: as it is, or, when [`masked`] hides it on the
/// sent side (an `${env:…}` value, a credential-named field), a marker that names the field and
/// never any part of the value. The one answer for `sim --http` and `dlq replay`.
pub fn shown_field(
    origins: &std::collections::BTreeMap<String, Origin>,
    field: &str,
    value: &str,
) -> String {
    let name = field.rsplit('/').next().unwrap_or(field);
    let origin = origins.get(field).copied();
    if !masked(origin, is_secret_name(name), Side::Sent) {
        return shown_text(value);
    }
    let dotted = field.trim_start_matches('/').replace('/', ".");
    match origin {
        Some(Origin::Env) => format!("(sensitive: `{dotted}` is from ${{env:…}})"),
        _ => format!("(sensitive: `{dotted}`)"),
    }
}

/// The origins of one payload's fields, by JSON pointer into the payload.
pub type Origins = std::collections::BTreeMap<String, Origin>;

/// `v`, the value at `pointer` of a payload or of the hub's object (`side`), with every field
/// [`masked`] says to hide replaced by `marker`. `credential` says the value itself sits under a
/// credential name; below it, each key is judged by [`is_secret_name`]. Walks fields, never text.
pub fn mask_at(
    v: &serde_json::Value,
    pointer: &str,
    credential: bool,
    origins: &Origins,
    side: Side,
    marker: &serde_json::Value,
) -> serde_json::Value {
    use serde_json::Value;
    if masked(origins.get(pointer).copied(), credential, side) {
        return marker.clone();
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let p = super::yaml::child(pointer, k);
                    (
                        k.clone(),
                        mask_at(x, &p, is_secret_name(k), origins, side, marker),
                    )
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| mask_at(x, &format!("{pointer}/{i}"), false, origins, side, marker))
                .collect(),
        ),
        // A URL's literal password and credential parameters, and a literal bearer or basic
        // credential under any header name (tester #165), are hidden inside the text.
        Value::String(text) => Value::String(shown_text(text)),
        other => other.clone(),
    }
}

/// `text` with the credentials written inside it hidden as [`crate::diag::HIDDEN`]: each of a
/// URL's [`url_credentials`], and the token of a `Bearer …`/`Basic …` value that is not a
/// `${…}` reference.
pub fn shown_text(text: &str) -> String {
    let hidden = || crate::diag::HIDDEN.to_string();
    for scheme in ["Bearer ", "Basic "] {
        if let Some(token) = text
            .get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &text[scheme.len()..])
        {
            if !token.trim().is_empty() && !token.contains("${") {
                return format!("{}{}", &text[..scheme.len()], hidden());
            }
        }
    }
    if text.contains("://") {
        return replace_url_credentials(text, |_| hidden());
    }
    text.to_string()
}

/// Whether a URL query parameter carries a credential: a credential name ([`is_secret_name`]:
/// `access_token`, `api_key`, `client_secret`) or one of the short names services use in URLs
/// (`key`, `sig`, `code`, `auth`).
pub fn is_secret_param(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    is_secret_name(&k) || ["key", "sig", "code", "auth", "access_key", "pwd"].contains(&k.as_str())
}

/// The credential parts of a URL as written: the user-info password and the value of each query
/// parameter [`is_secret_param`] names, as `(byte range, what)` (`what` is `password` or the
/// parameter's name). Parts already holding a `${…}` reference are not listed.
pub fn url_credentials(url: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let Some(scheme_end) = url.find("://") else {
        return out;
    };
    let start = scheme_end + 3;
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    if let Some(at) = url[start..authority_end].rfind('@') {
        let userinfo = &url[start..start + at];
        if let Some(colon) = userinfo.find(':') {
            let range = start + colon + 1..start + at;
            if !range.is_empty() && !url[range.clone()].contains("${") {
                out.push((range, "password".to_string()));
            }
        }
    }
    if let Some(q) = url[authority_end..]
        .find('?')
        .map(|i| authority_end + i + 1)
    {
        let end = url[q..].find('#').map_or(url.len(), |i| q + i);
        let mut at = q;
        for pair in url[q..end].split('&') {
            if let Some(eq) = pair.find('=') {
                let range = at + eq + 1..at + pair.len();
                let value = &url[range.clone()];
                if is_secret_param(&pair[..eq]) && !value.is_empty() && !value.contains("${") {
                    out.push((range, pair[..eq].to_string()));
                }
            }
            at += pair.len() + 1;
        }
    }
    out
}

/// `url` with each of its [`url_credentials`] replaced by `with(what)`.
pub fn replace_url_credentials(url: &str, mut with: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (range, what) in url_credentials(url) {
        out.push_str(&url[last..range.start]);
        out.push_str(&with(&what));
        last = range.end;
    }
    out.push_str(&url[last..]);
    out
}

/// Replaces every known secret value in an error text with `(sensitive)`: the last-resort belt
/// for text cxsync did not format itself (a server's answer, a library's message, load
/// diagnostics). Output cxsync formats (compile, plan, apply, import) is masked field by field
/// instead (`spec::secret::masked`): a text search rewrites any word that equals a secret.
/// Values shorter than 6 characters are not scrubbed (they would mangle ordinary words; no real
/// secret is that short).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds secret values.
    pub fn add(&mut self, values: impl IntoIterator<Item = String>) {
        for v in values {
            // Also the form a JSON string shows it in (`"` and `\` escaped, control characters as
            // `\n`, `\u0001`): plan and error texts quote values that way, and a secret holding
            // `"` or `\` was printed in clear.
            let quoted = serde_json::to_string(&v).unwrap_or_default();
            let escaped = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .map(str::to_string);
            for form in std::iter::once(v).chain(escaped) {
                if form.chars().count() >= 6 && !self.secrets.contains(&form) {
                    self.secrets.push(form);
                }
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if t.contains(s.as_str()) {
                t = t.replace(s.as_str(), "(sensitive)");
            }
        }
        t
    }
}

/// The values of the environment variables a spec's text references as `${env:NAME}`: they are
/// resolved into payloads (client secrets, tokens) and must never be printed.
pub fn env_secrets(
    spec_text: &str,
    vars: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = spec_text;
    while let Some(i) = rest.find("${env:") {
        rest = &rest[i + 6..];
        let end = rest.find('}').unwrap_or(rest.len());
        let name = &rest[..end];
        if let Some(v) = vars.get(name) {
            out.push(v.clone());
        }
    }
    out
}

/// A secret that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// Resolves `value` (the spec's field `what`) from `env`. `override_var` names a variable that
/// holds the secret whatever the reference says; `override_flag` is the option that sets it
/// (`--client-secret-env VAR`), named in the hint when there is one.
pub fn resolve(
    what: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    override_var: Option<&str>,
    override_flag: Option<&str>,
) -> Result<String, SecretError> {
    let get = |n: &str| env(n).filter(|v| !v.is_empty());
    if let Some(var) = override_var {
        return get(var).ok_or_else(|| {
            SecretError(format!(
                "{what}: the environment variable `{var}` is not set (or empty)"
            ))
        });
    }
    let trimmed = value.trim();
    let hint = override_flag
        .map(|f| format!(", or pass {f} naming a variable that holds it"))
        .unwrap_or_default();
    let cannot = || {
        SecretError(format!(
            "{what} is `{trimmed}`, which cxsync cannot resolve; use `${{env:NAME}}`"
        ))
    };
    let refs = scan(trimmed).map_err(|_| cannot())?;
    if refs.is_empty() {
        return Ok(value.to_string());
    }
    // Each reference by its variable (`Bearer ${env:T}` too); an event reference is not a secret.
    let chars: Vec<char> = trimmed.chars().collect();
    let mut out = String::new();
    let mut last = 0;
    for r in &refs {
        out.extend(&chars[last..r.start]);
        last = r.end;
        let v = match r.kind() {
            RefKind::Env(n) if !n.is_empty() => get(n).ok_or_else(|| {
                SecretError(format!(
                    "{what} is `{trimmed}`: set the environment variable `{n}`{hint}"
                ))
            })?,
            RefKind::Vault(n) if !n.is_empty() => get(n).ok_or_else(|| {
                SecretError(format!(
                    "{what} is `{trimmed}`, which lives in the Event Hub's vault: set the environment variable `{n}` to its value{hint}"
                ))
            })?,
            _ => return Err(cannot()),
        };
        out.push_str(&v);
    }
    out.extend(&chars[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(n: &str) -> Option<String> {
        match n {
            "CRM_SECRET" => Some("s3cr3t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn res(value: &str, over: Option<&str>) -> Result<String, SecretError> {
        resolve("x", value, &env, over, Some("--client-secret-env VAR"))
    }

    #[test]
    fn a_urls_credentials_are_its_password_and_credential_named_query_values() {
        let shown = |u: &str| replace_url_credentials(u, |w| format!("<{w}>"));
        for (url, want) in [
            (
                "https://h.example/cx?access_token=qT-1&v=2",
                "https://h.example/cx?access_token=<access_token>&v=2",
            ),
            (
                "https://svc:pw%40x@auth.example/token?sig=abc#frag",
                "https://svc:<password>@auth.example/token?sig=<sig>#frag",
            ),
            (
                "https://h.example/a?key=&api_key=${env:K}",
                "https://h.example/a?key=&api_key=${env:K}",
            ),
            (
                "https://h.example/keys/1?page=2",
                "https://h.example/keys/1?page=2",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(shown(url), want, "{url}");
        }
        for (name, secret) in [
            ("X-Hub-Signature-256", true),
            ("X-Signature-SHA256", true),
            ("X-Signature-Version", false),
            ("X-Idempotency-Key", false),
        ] {
            assert_eq!(is_secret_name(name), secret, "{name}");
        }
    }

    #[test]
    fn env_and_vault_references_read_the_variable_they_name() {
        assert_eq!(res("${env:CRM_SECRET}", None).unwrap(), "s3cr3t");
        assert_eq!(res("${VAULT_SECRET:CRM_SECRET}", None).unwrap(), "s3cr3t");
        assert_eq!(
            res("literal-resolved-by-the-loader", None).unwrap(),
            "literal-resolved-by-the-loader"
        );
    }

    #[test]
    fn references_inside_a_value_read_their_variables() {
        assert_eq!(
            res("Bearer ${env:CRM_SECRET}", None).unwrap(),
            "Bearer s3cr3t"
        );
        assert_eq!(
            res(" ${VAULT_SECRET:CRM_SECRET}/${env:CRM_SECRET} ", None).unwrap(),
            "s3cr3t/s3cr3t"
        );
    }

    #[test]
    fn a_named_variable_overrides_any_reference() {
        assert_eq!(
            res("${VAULT_SECRET:OTHER}", Some("CRM_SECRET")).unwrap(),
            "s3cr3t"
        );
        assert_eq!(res("${env:OTHER}", Some("CRM_SECRET")).unwrap(), "s3cr3t");
        assert!(res("${env:CRM_SECRET}", Some("MISSING")).is_err());
    }

    #[test]
    fn unset_empty_and_unknown_references_are_errors_that_name_the_variable_not_a_value() {
        for (v, name) in [
            ("${env:MISSING}", "MISSING"),
            ("${VAULT_SECRET:MISSING}", "MISSING"),
            ("${env:EMPTY}", "EMPTY"),
            ("${vault:other}", "vault:other"),
            ("Bearer ${env:CRM_SECRET}x${env:MISSING}", "env:"),
        ] {
            let e = res(v, None).unwrap_err().to_string();
            assert!(e.contains(name), "{v}: {e}");
            assert!(!e.contains("s3cr3t"), "{v}: {e}");
        }
        let e = res("${VAULT_SECRET:MISSING}", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--client-secret-env VAR"), "{e}");
    }

    #[test]
    fn env_references_are_collected_and_scrubbed() {
        let vars: std::collections::BTreeMap<String, String> =
            [("CRM_SECRET".to_string(), "abc-123-xyz".to_string())]
                .into_iter()
                .collect();
        let s = env_secrets("clientSecret: ${env:CRM_SECRET}\nx: ${env:MISSING}", &vars);
        let mut r = Redactor::default();
        r.add(s);
        assert_eq!(r.scrub("got abc-123-xyz!"), "got (sensitive)!");
    }

    #[test]
    fn a_secret_is_scrubbed_in_the_form_json_shows_it_too() {
        let mut r = Redactor::default();
        r.add([
            "TOP\"SECRET".to_string(),
            "TOP\\SECRET".to_string(),
            "TOPSECRET-xyz\r\nX-Evil: 1".to_string(),
        ]);
        for value in ["TOP\"SECRET", "TOP\\SECRET", "TOPSECRET-xyz\r\nX-Evil: 1"] {
            let json = serde_json::to_string(value).unwrap();
            let text = format!("+ headers[\"X-Trace\"]: {json}");
            assert_eq!(
                r.scrub(&text),
                "+ headers[\"X-Trace\"]: \"(sensitive)\"",
                "{text}"
            );
            assert_eq!(r.scrub(value), "(sensitive)");
        }
    }
}

/// Values that look like credentials in the text of a file a spec names (a transform, a fixture,
/// a payload schema), which a snippet of it then hides ([`crate::diag::Sources::hide`]): the
/// value after `NAME=`, `NAME:` or `"NAME":` where [`is_secret_name`] names a credential (a
/// `.env` or `.netrc` line, a JSON field), a word after `Bearer `/`Basic `, and the credential
/// parts of each URL ([`url_credentials`]). A heuristic for files that fail to parse as what the
/// spec said they are (tester #143): it errs on hiding.
pub fn text_secrets(text: &str) -> Vec<String> {
    fn word_end(s: &str) -> usize {
        s.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}' | ']'))
            .unwrap_or(s.len())
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
            if !is_name(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_name(bytes[i]) {
                i += 1;
            }
            let name = &line[start..i];
            let mut j = i;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'\t') {
                j += 1;
            }
            let assigns = j < bytes.len() && matches!(bytes[j], b'=' | b':');
            if assigns && is_secret_name(name) {
                j += 1;
                while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'\t') {
                    j += 1;
                }
                let rest = &line[j..];
                let rest = ["Bearer ", "Basic ", "bearer ", "basic "]
                    .iter()
                    .find_map(|p| rest.strip_prefix(p))
                    .unwrap_or(rest);
                let value = &rest[..word_end(rest)];
                if !value.is_empty() && !value.contains("${") {
                    out.push(value.to_string());
                }
            } else if ["Bearer", "Basic", "bearer", "basic"].contains(&name)
                && bytes.get(i) == Some(&b' ')
            {
                let rest = &line[i + 1..];
                out.push(rest[..word_end(rest)].to_string());
            }
        }
        let mut from = 0;
        while let Some(k) = line[from..].find("://") {
            let s = line[..from + k]
                .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+' && c != '.' && c != '-')
                .map_or(0, |b| b + 1);
            let end = from + k + 3 + word_end(&line[from + k + 3..]);
            let url = &line[s..end];
            out.extend(
                url_credentials(url)
                    .into_iter()
                    .map(|(r, _)| url[r].to_string()),
            );
            from = end.max(from + k + 3);
        }
    }
    out
}

#[cfg(test)]
mod text_secrets_tests {
    use super::text_secrets;

    #[test]
    fn credential_assignments_tokens_and_url_passwords_are_found_and_plain_text_is_not() {
        let text = "API_KEY=sk_live_abcdef\nclient_secret: \"s3cr3t-value\"\n\
            {\"password\": \"hunter22\", \"name\": \"Ann\"}\n\
            Authorization: Bearer eyJhbGciOi.x.y\n\
            url = https://bob:pa55word@crm.example.com/x?api_key=k3y1&q=1\n\
            tokenEndpoint: https://auth.example.com/token\nplain words here: yes\n";
        let found = text_secrets(text);
        for s in [
            "sk_live_abcdef",
            "s3cr3t-value",
            "hunter22",
            "eyJhbGciOi.x.y",
            "pa55word",
            "k3y1",
        ] {
            assert!(found.iter().any(|f| f == s), "{s} not found in {found:?}");
        }
        for s in ["Ann", "yes", "https://auth.example.com/token"] {
            assert!(!found.iter().any(|f| f == s), "{s} found in {found:?}");
        }
    }
}
