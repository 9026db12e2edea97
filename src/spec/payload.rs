//! The CRM payload schema of each rule, compiled once: the rule's own `payloadSchema`, else the
//! spec-wide `crm.payloadSchema`, else none. `cxsync test`, the simulator's CRM model (virtual
//! and HTTP) and `dlq replay` all judge a payload through [`PayloadSchemas::for_rule`], so a rule
//! is checked against the same schema everywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonschema::Validator;
use serde_json::Value;

use super::Spec;
use crate::diag::Diagnostic;

/// A payload schema as the loader read it (finding #210): the schema file's JSON and every
/// file its relative `$ref`s reach, transitively. [`SchemaDoc::compile`] is the one way a payload
/// schema becomes a validator, so the loader's check (E305), `test`, `sim`, `dlq replay` and the
/// mock CRM resolve a `$ref` the same way; nothing is fetched (no network, no file the loader did
/// not read and confine).
#[derive(Debug, Clone, Default)]
pub struct SchemaDoc {
    pub root: Value,
    /// The file `root` was read from (absolute, normalized): the base of its relative `$ref`s.
    /// `None` for a schema given as a value (tests).
    pub path: Option<PathBuf>,
    /// Every other schema file a `$ref` reaches, by absolute normalized path.
    pub files: BTreeMap<PathBuf, Value>,
}

impl SchemaDoc {
    /// A schema given as a value, with no files around it.
    pub fn inline(root: Value) -> Self {
        Self {
            root,
            ..Self::default()
        }
    }

    /// The validator of this schema; a `$ref` resolves only to a file the loader read.
    pub fn compile(&self) -> Result<Validator, jsonschema::ValidationError<'static>> {
        let mut o = jsonschema::options().with_retriever(Preloaded(Arc::new(self.files.clone())));
        if let Some(p) = &self.path {
            o = o.with_base_uri(file_uri(p));
        }
        o.build(&self.root)
    }
}

/// The `file://` URI of an absolute path, with every byte outside the unreserved set and `/`
/// percent-encoded (a space in a folder name must survive the URI round trip).
pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path a `file://` URI names (percent-decoded), else `None`.
fn uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.split(['#', '?']).next().unwrap_or_default();
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&rest[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out).into_owned()))
}

/// Serves the schema files the loader read, and nothing else.
struct Preloaded(Arc<BTreeMap<PathBuf, Value>>);

impl jsonschema::Retrieve for Preloaded {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        uri_path(uri.as_str())
            .and_then(|p| self.0.get(&crate::fsutil::normalize(&p)).cloned())
            .ok_or_else(|| {
                format!("`{uri}` was not loaded: cxsync resolves a `$ref` only to a relative path of a schema file beside it, and never fetches schemas").into()
            })
    }
}

/// The records a request body the CRM takes holds (`crm::body::judge`: an object, or, where
/// the CRM takes arrays, an array of objects): each element of an array (a transform's list of
/// records, or a batch's payloads), else the body itself. The CRM judges each record against
/// its rule's payload schema, never the list as a whole (docs/semantics.md, "What the CRM
/// accepts as a body"): the one reading of the CRM model's checks (`sim::crm::Checks`) and of
/// `cxsync test` (#249).
pub fn records(body: &Value) -> &[Value] {
    match body {
        Value::Array(records) => records,
        record => std::slice::from_ref(record),
    }
}

/// One compiled schema and the spec key that names it (for messages).
#[derive(Debug, Clone)]
pub struct PayloadSchema {
    pub validator: Arc<Validator>,
    /// `crm.payloadSchema` or `rules[i].payloadSchema`.
    pub key: String,
}

/// One way a record fails its payload schema: where (a JSON pointer into the record, empty for
/// the record itself) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

impl PayloadSchema {
    /// How `record` fails this schema (empty: it passes). The one per-record judgement of the
    /// CRM model's checks (`sim::crm::Checks::member_refusal`, which the sim verdict asks of
    /// each member of a refused batch, #257) and of `dlq replay`'s evaluation.
    pub fn violations(&self, record: &serde_json::Value) -> Vec<Violation> {
        self.validator
            .iter_errors(record)
            .map(|e| Violation {
                at: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect()
    }
}

/// Every rule's payload schema, by rule id.
#[derive(Debug, Clone, Default)]
pub struct PayloadSchemas {
    default: Option<PayloadSchema>,
    by_rule: BTreeMap<String, PayloadSchema>,
}

impl PayloadSchemas {
    /// Compiles the schemas the loader read. The loader has compiled each once already (E305),
    /// so an error here is reported under `code`, located at the key that names the schema.
    pub fn of(spec: &Spec, code: &str) -> Result<PayloadSchemas, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut compile = |value: &SchemaDoc, key: String, pointer: &str| match value.compile() {
            Ok(v) => Some(PayloadSchema {
                validator: Arc::new(v),
                key,
            }),
            Err(e) => {
                diags.push(spec.diag_at(
                    Diagnostic::error(code, format!("{key} is not a valid JSON Schema: {e}")),
                    pointer,
                ));
                None
            }
        };
        let mut out = PayloadSchemas::default();
        if let Some(v) = &spec.payload_schema {
            out.default = compile(v, "crm.payloadSchema".into(), "/crm/payloadSchema");
        }
        for (i, rule) in spec.raw.rules.iter().enumerate() {
            if let Some(Some(v)) = spec.rule_payload_schemas.get(i) {
                let key = format!("rules[{i}].payloadSchema");
                if let Some(s) = compile(v, key, &format!("/rules/{i}/payloadSchema")) {
                    out.by_rule.insert(rule.id.clone(), s);
                }
            }
        }
        if diags.is_empty() {
            Ok(out)
        } else {
            Err(diags)
        }
    }

    /// The schema a payload of rule `rule_id` must satisfy (`None`: the rule is unknown here,
    /// which gets the spec-wide default).
    pub fn for_rule(&self, rule_id: Option<&str>) -> Option<&PayloadSchema> {
        rule_id
            .and_then(|id| self.by_rule.get(id))
            .or(self.default.as_ref())
    }

    /// Whether no rule has a schema.
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.by_rule.is_empty()
    }

    /// A single spec-wide schema (tests and callers without a spec).
    pub fn spec_wide(value: &serde_json::Value) -> Option<PayloadSchemas> {
        SchemaDoc::inline(value.clone())
            .compile()
            .ok()
            .map(|v| PayloadSchemas {
                default: Some(PayloadSchema {
                    validator: Arc::new(v),
                    key: "crm.payloadSchema".into(),
                }),
                by_rule: BTreeMap::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_uri_round_trips_a_path_with_spaces_and_percent() {
        let p = Path::new("/tmp/my schemas/100%/a.json");
        let uri = file_uri(p);
        assert_eq!(uri, "file:///tmp/my%20schemas/100%25/a.json");
        assert_eq!(uri_path(&format!("{uri}#/definitions/x")).unwrap(), p);
    }

    /// The differential: the same schema inline and split over two files judges alike.
    #[test]
    fn a_split_schema_judges_like_the_same_schema_inline() {
        let common = serde_json::json!({"definitions": {"n": {"type": "integer", "minimum": 3}}});
        let split = SchemaDoc {
            root: serde_json::json!({"properties": {"n": {"$ref": "common.json#/definitions/n"}}}),
            path: Some(PathBuf::from("/p/s/root.json")),
            files: BTreeMap::from([(PathBuf::from("/p/s/common.json"), common)]),
        };
        let inline = SchemaDoc::inline(
            serde_json::json!({"properties": {"n": {"type": "integer", "minimum": 3}}}),
        );
        let (a, b) = (split.compile().unwrap(), inline.compile().unwrap());
        for n in [
            serde_json::json!(1),
            serde_json::json!(3),
            serde_json::json!("x"),
            serde_json::json!(9),
        ] {
            let v = serde_json::json!({ "n": n });
            assert_eq!(a.is_valid(&v), b.is_valid(&v), "{v}");
        }
        assert!(!a.is_valid(&serde_json::json!({"n": 1})));
    }

    /// A `$ref` to a file the loader did not read is an error, never a fetch.
    #[test]
    fn a_ref_not_preloaded_is_refused() {
        let doc = SchemaDoc {
            root: serde_json::json!({"$ref": "other.json"}),
            path: Some(PathBuf::from("/p/root.json")),
            files: BTreeMap::new(),
        };
        let e = doc.compile().unwrap_err().to_string();
        assert!(e.contains("never fetches schemas"), "{e}");
    }
}
