//! The spec's JSON Schema (`spec::schema::schema()`, the one generated from the serde model) read
//! as an editor needs it: the node at a path, its description, the keys a mapping may have and
//! the values a field may take. Overlays under `environments.NAME` are partial specs, so a path
//! inside one is read as the same path at the top level.

use serde_json::Value;

use crate::spec::schema::schema;

/// One step of a path into the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Follows local `$ref`s.
fn deref(node: &Value) -> &Value {
    let root = schema();
    let mut n = node;
    for _ in 0..16 {
        match n
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        {
            Some(t) => n = t,
            None => break,
        }
    }
    n
}

/// The alternatives of a node (`oneOf`/`anyOf` branches, dereferenced), or the node itself.
fn branches(node: &Value) -> Vec<&Value> {
    let node = deref(node);
    for k in ["oneOf", "anyOf"] {
        if let Some(Value::Array(bs)) = node.get(k) {
            return bs.iter().flat_map(branches).collect();
        }
    }
    vec![node]
}

/// Drops a leading `environments.NAME`: an overlay holds spec fields.
fn unwrap_overlay(path: &[Seg]) -> &[Seg] {
    match path {
        [Seg::Key(e), Seg::Key(_), rest @ ..] if e == "environments" => rest,
        _ => path,
    }
}

/// A field's schema as written at its parent (with its own `description` and `default`), and
/// the dereferenced alternatives it may take.
#[derive(Debug, Clone)]
pub struct Field<'s> {
    pub declared: &'s Value,
    pub alternatives: Vec<&'s Value>,
}

/// The schema of the node at `path` (`[]` is the spec itself). `tree` is the document as far as
/// it parses: where a mapping has alternatives (the `auth` kinds), its `type` picks one.
pub fn field_at<'s>(path: &[Seg], tree: Option<&Value>) -> Option<Field<'s>> {
    let path = unwrap_overlay(path);
    let root: &'s Value = schema();
    let mut field = Field {
        declared: root,
        alternatives: vec![root],
    };
    let mut value = tree;
    for seg in path {
        // The field as every alternative the value allows declares it (`auth.type` is a
        // different constant in each kind of auth).
        let found: Vec<&'s Value> = narrow(&field.alternatives, value)
            .into_iter()
            .filter_map(|alt| match seg {
                Seg::Key(k) => alt
                    .get("properties")
                    .and_then(|p| p.get(k))
                    .or_else(|| alt.get("additionalProperties").filter(|a| a.is_object())),
                Seg::Index(_) => alt.get("items").filter(|a| a.is_object()),
            })
            .collect();
        let declared = *found.first()?;
        value = value.and_then(|v| match seg {
            Seg::Key(k) => v.get(k),
            Seg::Index(i) => v.get(i),
        });
        field = Field {
            declared,
            alternatives: found.into_iter().flat_map(branches).collect(),
        };
    }
    Some(field)
}

/// The alternatives a value can be: those whose `type` constant matches the value's `type`.
fn narrow<'s>(alts: &[&'s Value], value: Option<&Value>) -> Vec<&'s Value> {
    let kind = value.and_then(|v| v.get("type")).and_then(Value::as_str);
    let Some(kind) = kind else {
        return alts.to_vec();
    };
    let matching: Vec<&Value> = alts
        .iter()
        .copied()
        .filter(|a| a.pointer("/properties/type/const").and_then(Value::as_str) == Some(kind))
        .collect();
    if matching.is_empty() {
        alts.to_vec()
    } else {
        matching
    }
}

impl<'s> Field<'s> {
    /// The field's description: the one written where it is declared, else its type's.
    pub fn description(&self) -> Option<&'s str> {
        self.declared
            .get("description")
            .or_else(|| deref(self.declared).get("description"))
            .and_then(Value::as_str)
    }

    /// Keys the field's mapping may have, with their schemas (first declaration wins), for the
    /// alternatives `value` allows.
    pub fn keys(&self, value: Option<&Value>) -> Vec<(&'s str, &'s Value)> {
        let mut out: Vec<(&str, &Value)> = Vec::new();
        for alt in narrow(&self.alternatives, value) {
            if let Some(Value::Object(props)) = alt.get("properties") {
                for (k, v) in props {
                    if !out.iter().any(|(n, _)| n == k) {
                        out.push((k.as_str(), v));
                    }
                }
            }
        }
        out
    }

    /// Whether `key` is required in the field's mapping.
    pub fn required(&self, key: &str) -> bool {
        self.alternatives.iter().any(|a| {
            a.get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|k| k == key))
        })
    }

    /// The values the field may take when it is a closed set (enum, constants, booleans), each
    /// with its description.
    pub fn values(&self) -> Vec<(Value, Option<&'s str>)> {
        let mut out = Vec::new();
        for alt in &self.alternatives {
            if let Some(c) = alt.get("const") {
                out.push((c.clone(), alt.get("description").and_then(Value::as_str)));
            } else if let Some(Value::Array(e)) = alt.get("enum") {
                out.extend(e.iter().filter(|v| !v.is_null()).map(|v| (v.clone(), None)));
            } else if types(alt).contains(&"boolean") {
                out.push((Value::Bool(true), None));
                out.push((Value::Bool(false), None));
            }
        }
        out
    }

    /// A one-line summary of the type: `integer, 0–100, default 5`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut kinds: Vec<String> = Vec::new();
        for alt in &self.alternatives {
            for t in types(alt) {
                if t != "null" && !kinds.iter().any(|k| k == t) {
                    kinds.push(t.to_string());
                }
            }
        }
        let values = self.values();
        if !values.is_empty() && !kinds.iter().all(|k| k == "boolean") {
            let vs: Vec<String> = values.iter().map(|(v, _)| format!("`{v}`")).collect();
            parts.push(format!("one of {}", vs.join(", ")));
        } else if !kinds.is_empty() {
            parts.push(kinds.join(" or "));
        }
        for alt in &self.alternatives {
            let n = |k: &str| alt.get(k).filter(|v| v.is_number()).map(Value::to_string);
            match (n("minimum"), n("maximum")) {
                (Some(lo), Some(hi)) => parts.push(format!("{lo} to {hi}")),
                (Some(lo), None) => parts.push(format!("at least {lo}")),
                (None, Some(hi)) => parts.push(format!("at most {hi}")),
                _ => {}
            }
        }
        if let Some(d) = self.declared.get("default") {
            parts.push(format!("default `{d}`"));
        }
        parts.join(", ")
    }
}

fn types(node: &Value) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<Seg> {
        s.split('.')
            .filter(|p| !p.is_empty())
            .map(|p| match p.parse() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(p.to_string()),
            })
            .collect()
    }

    #[test]
    fn a_field_s_docs_come_from_the_schema() {
        let f = field_at(&path("retry.maxRetries"), None).unwrap();
        assert!(f
            .description()
            .unwrap()
            .contains("Retries after the first attempt"));
        assert_eq!(f.summary(), "integer, 0 to 100");
        let j = field_at(&path("retry.jitter"), None).unwrap();
        let vals: Vec<Value> = j.values().into_iter().map(|v| v.0).collect();
        assert!(vals.contains(&Value::from("full")) && vals.contains(&Value::from("none")));
        // Through a list, and inside an overlay.
        assert!(field_at(&path("rules.0.transformFile"), None).is_some());
        assert!(field_at(&path("environments.staging.channel.name"), None).is_some());
        assert!(field_at(&path("retry.nosuch"), None).is_none());
    }

    #[test]
    fn the_auth_type_picks_the_keys_offered() {
        let tree = serde_json::json!({"channel": {"auth": {"type": "bearer"}}});
        let f = field_at(&path("channel.auth"), Some(&tree)).unwrap();
        let auth = tree.pointer("/channel/auth");
        let keys: Vec<&str> = f.keys(auth).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["type", "token"]);
        let kinds: Vec<Value> = field_at(&path("channel.auth.type"), None)
            .unwrap()
            .values()
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(kinds, ["oauth2_client_credentials", "bearer", "none"]);
        let all: Vec<&str> = f.keys(None).into_iter().map(|k| k.0).collect();
        assert!(all.contains(&"tokenEndpoint") && all.contains(&"token"));
        let retry = field_at(&[], None).unwrap();
        let keys: Vec<&str> = retry.keys(None).into_iter().map(|k| k.0).collect();
        assert!(keys.contains(&"retry") && keys.contains(&"rules"));
    }
}
