//! The CRM payload schema of each rule, compiled once: the rule's own `payloadSchema`, else the
//! spec-wide `crm.payloadSchema`, else none. `cxsync test`, the simulator's CRM model (virtual
//! and HTTP) and `dlq replay` all judge a payload through [`PayloadSchemas::for_rule`], so a rule
//! is checked against the same schema everywhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonschema::Validator;

use super::Spec;
use crate::diag::Diagnostic;

/// One compiled schema and the spec key that names it (for messages).
#[derive(Debug, Clone)]
pub struct PayloadSchema {
    pub validator: Arc<Validator>,
    /// `crm.payloadSchema` or `rules[i].payloadSchema`.
    pub key: String,
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
        let mut compile = |value: &serde_json::Value, key: String, pointer: &str| {
            match jsonschema::validator_for(value) {
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
        jsonschema::validator_for(value)
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
