//! Field-level differences between a live object and the compiled one, and the redaction every
//! value passes through before anyone sees it: a secret is `{"sensitive": true}` in typed output
//! and `(sensitive)` in text.

use serde::Serialize;
use serde_json::{json, Value};

/// One field that differs. Values are typed JSON with secrets replaced by [`sensitive`]; an
/// absent value (`None`) means the field is absent on that side (JSON `null` is a value).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// Dotted path, `[i]` for array items, `["…"]` for keys that are not identifiers
    /// (`actions[0].jsonataExpression`, `headers["Content-Type"]`).
    pub path: String,
    /// The live value; absent when the field is new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The proposed value; absent when the field is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// A secret re-sent by `--rotate-secrets` although it cannot be compared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
}

/// What stands in for a secret in typed output.
pub fn sensitive() -> Value {
    json!({ "sensitive": true })
}

/// Whether `v` is the [`sensitive`] marker.
pub fn is_sensitive(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.get("sensitive") == Some(&Value::Bool(true)))
}

pub use crate::spec::secret::is_secret_name;

/// Whether the last key of `path` names a credential.
pub(super) fn is_secret_key(path: &str) -> bool {
    let last = path.rsplit(['.', '[']).next().unwrap_or(path);
    let key = last.trim_end_matches([']', '"']).trim_start_matches('"');
    is_secret_name(key)
}

/// A value a server returns in place of a secret it will not reveal.
pub(super) fn is_masked(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() || s.chars().all(|c| c == '*' || c == '•'),
        _ => false,
    }
}

/// `v` with every secret in it (by key, or a `${VAULT_SECRET:…}` reference) replaced by
/// [`sensitive`]; `secret` says the value itself sits under a secret key.
pub fn redact(v: &Value, secret: bool) -> Value {
    match v {
        _ if secret => sensitive(),
        Value::String(s) if s.contains("${VAULT_SECRET") => sensitive(),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), redact(x, is_secret_key(k))))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| redact(x, false)).collect()),
        other => other.clone(),
    }
}

/// `base.key`, or `base["key"]` when the key is not a plain identifier (condition paths such as
/// `interaction.channel.type`, header names such as `Content-Type`).
pub(super) fn join_path(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", Value::String(key.to_string())),
    }
}

fn change(
    path: String,
    before: Option<&Value>,
    after: Option<&Value>,
    secret: bool,
) -> FieldChange {
    FieldChange {
        path,
        before: before.map(|v| redact(v, secret)),
        after: after.map(|v| redact(v, secret)),
        resent: false,
    }
}

/// Field-level differences between two JSON values (`old` → `new`), secrets redacted; used for
/// payload diffs as well as object diffs.
pub fn field_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff(old, new, String::new(), false, &mut out);
    out
}

/// Every leaf of `v` as an added field (what a create shows).
pub(super) fn leaves(v: &Value, path: String, secret: bool, out: &mut Vec<FieldChange>) {
    match v {
        Value::Object(m) if !m.is_empty() && !secret => {
            for (k, x) in m {
                let p = join_path(&path, k);
                let s = is_secret_key(&p);
                leaves(x, p, s, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) && !secret => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), false, out);
            }
        }
        _ => out.push(change(path, None, Some(v), secret)),
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Appends the differences of `live` → `desired` under `path`.
pub(super) fn diff(
    live: &Value,
    desired: &Value,
    path: String,
    secret: bool,
    out: &mut Vec<FieldChange>,
) {
    if secret && is_masked(live) {
        return;
    }
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            for (k, dv) in d {
                let p = join_path(&path, k);
                let s = secret || is_secret_key(&p);
                match l.get(k) {
                    Some(lv) => diff(lv, dv, p, s, out),
                    None if s => {}
                    None => out.push(change(p, None, Some(dv), s)),
                }
            }
            for (k, lv) in l {
                if !d.contains_key(k) {
                    let p = join_path(&path, k);
                    let s = secret || is_secret_key(&p);
                    out.push(change(p, Some(lv), None, s));
                }
            }
        }
        (Value::Array(l), Value::Array(d))
            if l.len() == d.len() && d.iter().any(Value::is_object) =>
        {
            for (i, (lv, dv)) in l.iter().zip(d).enumerate() {
                diff(lv, dv, format!("{path}[{i}]"), secret, out);
            }
        }
        (Value::Array(l), Value::Array(d)) if l.len() == d.len() => {
            if l.iter().zip(d).any(|(a, b)| !(a == b || same_number(a, b))) {
                out.push(change(path, Some(live), Some(desired), secret));
            }
        }
        (l, d) if l == d || same_number(l, d) => {}
        (l, d) => out.push(change(path, Some(l), Some(d), secret)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_values_keep_their_types() {
        let v = json!({"authentication": {"clientSecret": "s3cr3t", "clientId": "x"},
                       "headers": {"Authorization": "Bearer t0ken", "X-N": "1"},
                       "ref": "${VAULT_SECRET:K}", "n": 5});
        let r = redact(&v, false);
        assert_eq!(r["authentication"]["clientSecret"], sensitive());
        assert_eq!(r["headers"]["Authorization"], sensitive());
        assert_eq!(r["ref"], sensitive());
        assert_eq!(r["n"], json!(5));
        for (name, secret) in [
            ("X-Custom-Token", true),
            ("CRM_API_KEY", true),
            ("Cookie", true),
            ("tokenEndpoint", false),
            ("tokenCacheTtlSeconds", false),
            ("X-Idempotency-Key", false),
            ("Content-Type", false),
        ] {
            assert_eq!(is_secret_name(name), secret, "{name}");
        }
        // A whole object added where live has none is redacted inside, not printed raw.
        let d = field_diff(
            &json!({}),
            &json!({"authentication": {"clientSecret": "s3cr3t"}}),
        );
        assert_eq!(
            d[0].after,
            Some(json!({"clientSecret": {"sensitive": true}}))
        );
        let d = field_diff(&json!({"maxRetries": 1}), &json!({"maxRetries": 5}));
        assert_eq!(
            (d[0].before.clone(), d[0].after.clone()),
            (Some(json!(1)), Some(json!(5)))
        );
    }
}
