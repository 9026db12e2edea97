//! Field-level differences between a live object and the compiled one, and the redaction every
//! value passes through before anyone sees it: a secret is `{"sensitive": true}` in typed output
//! and `(sensitive)` in text.

use serde::Serialize;
use serde_json::{json, Value};

use crate::spec::secret::{mask_at, Origins, Side};

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

/// A value a server returns in place of a secret it will not reveal.
pub(super) fn is_masked(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() || s.chars().all(|c| c == '*' || c == '•'),
        _ => false,
    }
}

/// `v` as it may be shown: every field [`crate::spec::secret::masked`] hides replaced by
/// [`sensitive`]. `origins` are the payload fields' origins ([`crate::compile::Secrets`]; empty
/// for an object the spec does not make), `side` which value `v` is (the hub's, or the one sent).
pub fn redact(v: &Value, origins: &Origins, side: Side) -> Value {
    mask_at(v, "", false, origins, side, &sensitive())
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

/// Where a field is, as a plan line names it (`path`) and as its payload's origins key it
/// (`pointer`), and whether its name names a credential.
#[derive(Debug, Clone)]
pub(super) struct At {
    pub path: String,
    pub pointer: String,
    pub credential: bool,
}

impl At {
    /// The whole object.
    pub fn root() -> At {
        At {
            path: String::new(),
            pointer: String::new(),
            credential: false,
        }
    }

    /// Its field `key`; a credential below a credential stays one.
    fn key(&self, key: &str) -> At {
        let path = join_path(&self.path, key);
        let credential = self.credential || is_secret_name(key);
        At {
            path,
            pointer: crate::spec::yaml::child(&self.pointer, key),
            credential,
        }
    }

    /// Its item `i`.
    fn item(&self, i: usize) -> At {
        At {
            path: format!("{}[{i}]", self.path),
            pointer: format!("{}/{i}", self.pointer),
            credential: self.credential,
        }
    }
}

fn change(
    at: &At,
    before: Option<&Value>,
    after: Option<&Value>,
    origins: &Origins,
) -> FieldChange {
    let shown =
        |v: &Value, side| mask_at(v, &at.pointer, at.credential, origins, side, &sensitive());
    FieldChange {
        path: at.path.clone(),
        before: before.map(|v| shown(v, Side::Live)),
        after: after.map(|v| shown(v, Side::Sent)),
        resent: false,
    }
}

/// Field-level differences between two JSON values (`old` → `new`), credential-named fields
/// redacted; used for payload diffs as well as object diffs.
pub fn field_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff(old, new, &At::root(), &Origins::new(), &mut out);
    out
}

/// Every leaf of `v` as an added field (what a create shows).
pub(super) fn leaves(v: &Value, at: &At, origins: &Origins, out: &mut Vec<FieldChange>) {
    match v {
        Value::Object(m) if !m.is_empty() && !at.credential => {
            for (k, x) in m {
                leaves(x, &at.key(k), origins, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) && !at.credential => {
            for (i, x) in a.iter().enumerate() {
                let item = At {
                    credential: false,
                    ..at.item(i)
                };
                leaves(x, &item, origins, out);
            }
        }
        _ => out.push(change(at, None, Some(v), origins)),
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Appends the differences of `live` → `desired` at `at`. Comparison knows credentials by name
/// (a hub masks those, or leaves them out: neither is a change); what is shown is masked by
/// name and by `origins`.
pub(super) fn diff(
    live: &Value,
    desired: &Value,
    at: &At,
    origins: &Origins,
    out: &mut Vec<FieldChange>,
) {
    if at.credential && is_masked(live) {
        return;
    }
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            for (k, dv) in d {
                let a = at.key(k);
                match l.get(k) {
                    Some(lv) => diff(lv, dv, &a, origins, out),
                    None if a.credential => {}
                    None => out.push(change(&a, None, Some(dv), origins)),
                }
            }
            for (k, lv) in l {
                if !d.contains_key(k) {
                    out.push(change(&at.key(k), Some(lv), None, origins));
                }
            }
        }
        (Value::Array(l), Value::Array(d))
            if l.len() == d.len() && d.iter().any(Value::is_object) =>
        {
            for (i, (lv, dv)) in l.iter().zip(d).enumerate() {
                diff(lv, dv, &at.item(i), origins, out);
            }
        }
        (Value::Array(l), Value::Array(d)) if l.len() == d.len() => {
            if l.iter().zip(d).any(|(a, b)| !(a == b || same_number(a, b))) {
                out.push(change(at, Some(live), Some(desired), origins));
            }
        }
        (l, d) if l == d || same_number(l, d) => {}
        (l, d) => out.push(change(at, Some(l), Some(d), origins)),
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
        let r = redact(&v, &Origins::new(), Side::Live);
        assert_eq!(r["authentication"]["clientSecret"], sensitive());
        assert_eq!(r["headers"]["Authorization"], sensitive());
        // A vault reference where the spec made none is a reference, not a secret.
        assert_eq!(r["ref"], json!("${VAULT_SECRET:K}"));
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
