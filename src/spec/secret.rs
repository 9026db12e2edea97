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
/// `signature` or `subscription-key` (`X-Custom-Token`, `CRM_API_KEY`, `X-Hub-Signature`,
/// `Ocp-Apim-Subscription-Key`); `Proxy-Authorization` is RFC 9110's. `tokenEndpoint`,
/// `X-Token-Type` and `X-Idempotency-Key` are not. The one answer for the loader (what is
/// sensitive), compile and plan (what is masked), import (what becomes a placeholder) and lint
/// CX004 (what must not be written in plain text).
pub fn is_secret_name(name: &str) -> bool {
    let k = name.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
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
}
