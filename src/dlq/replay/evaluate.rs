//! Judging a record under the current spec, without sending anything: the rule that matches
//! now, the new payload, the target schema, the size guards and the key to send.

use crate::transform::transformed::{transformed, Transformed};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::dlq::inspect::Found;
use crate::dlq::record::Reason;
use crate::spec::payload::PayloadSchemas;
use crate::spec::Spec;
use crate::transform::Transform;

/// A rule of the current spec, ready to run.
struct PreparedRule {
    id: String,
    event_type: String,
    conditions: indexmap::IndexMap<String, Vec<Value>>,
    enabled: bool,
    transform: Transform,
}

/// The spec's current rules, transforms and checks, compiled once for many records.
pub struct Replayer {
    rules: Vec<PreparedRule>,
    /// Each rule's payload schema (its own `payloadSchema`, else `crm.payloadSchema`).
    schemas: PayloadSchemas,
    /// `crm.maxPayloadBytes`, the size guard.
    pub max_payload_bytes: Option<u64>,
    max_body_bytes: Option<u64>,
    template: String,
    /// The idempotency header of the current spec.
    pub header: String,
    /// Where deliveries go (`channel.destinationUri` or `--target`).
    pub url: String,
    /// Whether the CRM deduplicates by the idempotency header (`crm::dedup`), which it does only
    /// while it holds the key (its idempotency window).
    pub dedup_by_header: bool,
    /// Whether the CRM does not deduplicate at all (`crm::dedup`'s `none`, as `sim` models it):
    /// a record it may already hold ([`Evaluation::may_be_written`]) is written again.
    pub dedup_none: bool,
    now: DateTime<Utc>,
}

/// Rules named in a [`Problem::NoMatchingRule`] (the rest are counted).
const MAX_REASONS: usize = 3;

/// Why a record would not be delivered now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Problem {
    /// No enabled rule of the spec matches the event's type and conditions; `why` says, for the
    /// rule that dead-lettered it and the other rules of its event type, what each does not
    /// accept (the matcher's own reason, as `cxsync test` gives it).
    NoMatchingRule { why: Vec<String> },
    /// The matched rule's transform failed.
    TransformFailed { message: String },
    /// The transform produced nothing (JSONata's undefined).
    TransformUndefined,
    /// The payload is over `crm.maxPayloadBytes`.
    PayloadTooLarge { bytes: u64, limit: u64 },
    /// The payload is over `crm.maxBodyBytes` (the CRM would answer 413).
    BodyTooLarge { bytes: u64, limit: u64 },
    /// The payload violates the CRM target schema.
    SchemaViolation { errors: Vec<String> },
    /// The record has no idempotency key and the current template does not render.
    NoIdempotencyKey { message: String },
    /// The key to send (the record's, or the current template's) cannot travel in the header as
    /// it is (`delivery::idempotency::unsendable`): the machine would dead-letter it unsent.
    UnsendableIdempotencyKey { message: String },
    /// The record's batch may have been written by the CRM and is re-sent only whole, with its
    /// key, which `why` says cannot be done now (`replay::batch`).
    BatchNotWhole { size: u32, why: Vec<String> },
    /// Another record of this replay goes first with the same key (`--allow-duplicate-keys`): a
    /// CRM that deduplicates on the key would drop this one, so it is not sent (#218).
    DuplicateKey { key: String, first: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoMatchingRule { why } if why.is_empty() => {
                write!(f, "no enabled rule matches the event")
            }
            Problem::NoMatchingRule { why } => {
                write!(f, "no enabled rule matches the event: {}", why.join("; "))
            }
            Problem::TransformFailed { message } => write!(f, "transform failed: {message}"),
            Problem::TransformUndefined => write!(
                f,
                "the transform now gives no output for it: {} (the hub would skip the event; there is nothing to replay)",
                crate::transform::transformed::NOTHING_SENT
            ),
            Problem::PayloadTooLarge { bytes, limit } => write!(
                f,
                "payload is {bytes} bytes, over the size guard crm.maxPayloadBytes = {limit}"
            ),
            Problem::BodyTooLarge { bytes, limit } => write!(
                f,
                "payload is {bytes} bytes, over crm.maxBodyBytes = {limit} (the CRM answers 413)"
            ),
            Problem::SchemaViolation { errors } => {
                write!(f, "target schema: {}", errors.join("; "))
            }
            Problem::NoIdempotencyKey { message } => write!(f, "no idempotency key: {message}"),
            Problem::UnsendableIdempotencyKey { message } => {
                write!(f, "the idempotency key {message}")
            }
            Problem::BatchNotWhole { size, why } => write!(
                f,
                "it was sent in a batch of {size} the CRM may have written (an attempt timed out, was reset or got a 5xx), which is re-sent only whole with the batch's key, so each event is written once; but {}",
                why.join("; ")
            ),
            Problem::DuplicateKey { key, first } => write!(
                f,
                "not applied: duplicate key {} (already sent by {first}); give the rules distinct keys and replay it again",
                crate::diag::printable(key)
            ),
        }
    }
}

impl Problem {
    /// A short label for summaries (`schema`, `size-guard`, …).
    pub fn label(&self) -> &'static str {
        match self {
            Problem::NoMatchingRule { .. } => "no matching rule",
            Problem::TransformFailed { .. } => "transform failed",
            Problem::TransformUndefined => "transform undefined",
            Problem::PayloadTooLarge { .. } => "size guard",
            Problem::BodyTooLarge { .. } => "CRM body limit",
            Problem::SchemaViolation { .. } => "target schema",
            Problem::NoIdempotencyKey { .. } => "no idempotency key",
            Problem::UnsendableIdempotencyKey { .. } => "idempotency key not sendable",
            Problem::BatchNotWhole { .. } => "batch not whole",
            Problem::DuplicateKey { .. } => "duplicate key",
        }
    }
}

/// What replaying one record under the current spec would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The record's key below the source.
    pub key: String,
    /// The record's event id.
    pub event_id: String,
    /// The record's event type.
    pub event_type: String,
    /// The record's reason and last status, for context.
    pub reason: Reason,
    pub last_status: Option<u16>,
    /// The rule that matched at dead-letter time.
    pub old_rule: String,
    /// The rule that matches now.
    pub rule: Option<String>,
    /// The payload in the record.
    pub old_payload: Option<Value>,
    /// The payload the current spec produces.
    pub new_payload: Option<Value>,
    /// Size of the new payload as sent (compact JSON), in bytes.
    pub payload_bytes: Option<u64>,
    /// Whether the new payload passes the CRM target schema (absent without a schema or payload).
    pub schema_ok: Option<bool>,
    /// The key sent: the record's original one (or, when it had none, the current template's).
    pub idempotency_key: Option<String>,
    /// Whether `idempotency_key` is the record's own.
    pub original_key: bool,
    /// Why it would not be delivered (empty: it would be).
    pub problems: Vec<Problem>,
    /// Whether the record carries a replay marker (it is not sent again).
    pub already_replayed: bool,
    /// The batch the event was sent in (absent: sent alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::dlq::record::Batch>,
    /// When it was dead-lettered (RFC 3339).
    pub dead_lettered_at: String,
    /// Whether the CRM may already hold it ([`crate::dlq::record::Record::may_be_written`]).
    pub may_be_written: bool,
    /// The batch it is re-sent whole with, when the CRM may have written that batch.
    #[serde(skip)]
    pub batch_id: Option<super::batch::BatchId>,
}

impl Evaluation {
    /// Whether the current spec would deliver this record.
    pub fn deliverable(&self) -> bool {
        self.problems.is_empty()
    }

    /// The key the request carries: the batch's when the record is re-sent with its batch,
    /// else [`Evaluation::idempotency_key`].
    pub fn sent_key(&self) -> Option<&str> {
        match &self.batch_id {
            Some(b) => Some(b.key()),
            None => self.idempotency_key.as_deref(),
        }
    }
}

impl Replayer {
    /// Prepares a spec for replay. `target` overrides `channel.destinationUri`; `now` is what
    /// `$now()` returns in transforms. Every problem of the spec is returned, not the first.
    pub fn new(
        spec: &Spec,
        target: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Replayer, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in spec.raw.rules.iter().enumerate() {
            let resolved = spec.rules.iter().find(|r| r.index == i);
            let transform = match resolved.map(|r| crate::transform::runner::compile_rule(spec, r))
            {
                Some(Ok(t)) => t,
                Some(Err(d)) => {
                    diags.push(d);
                    continue;
                }
                None => continue,
            };
            rules.push(PreparedRule {
                id: rule.id.clone(),
                event_type: rule.event_type.clone(),
                conditions: rule.conditions.clone(),
                enabled: rule.enabled,
                transform,
            });
        }
        let schemas = PayloadSchemas::of(spec, "E803").unwrap_or_else(|d| {
            diags.extend(d);
            PayloadSchemas::default()
        });
        let url = target
            .map(str::to_string)
            .unwrap_or_else(|| spec.raw.channel.destination_uri.clone());
        if !diags.is_empty() {
            return Err(diags);
        }
        let dedup = crate::crm::dedup(
            &spec.raw,
            &crate::crm::profile(spec.raw.crm.profile),
            &crate::crm::DedupOverrides::default(),
        )
        .mode;
        Ok(Replayer {
            rules,
            schemas,
            max_payload_bytes: spec.raw.crm.max_payload_bytes,
            max_body_bytes: Some(crate::crm::max_body_bytes(
                &spec.raw,
                &crate::crm::profile(spec.raw.crm.profile),
                None,
            )),
            template: spec.raw.idempotency.key.clone(),
            header: spec.raw.idempotency.header.clone(),
            url,
            dedup_by_header: dedup == crate::crm::DedupMode::Header,
            dedup_none: dedup == crate::crm::DedupMode::None,
            now,
        })
    }

    /// Why no rule takes the record's event now: the rule that dead-lettered it first (gone,
    /// disabled, or the condition it drops the event on), then each other rule of the event's
    /// type; or that no rule handles the type at all.
    fn why_no_rule(&self, rec: &crate::dlq::record::Record) -> Vec<String> {
        let own = self.rules.iter().find(|r| r.id == rec.rule_id);
        let mut why = Vec::new();
        if own.is_none() {
            why.push(format!("rule {} is no longer in the spec", rec.rule_id));
        }
        let typed = self
            .rules
            .iter()
            .filter(|r| r.id == rec.rule_id || r.event_type == rec.event_type);
        let mut ordered: Vec<&PreparedRule> = own.into_iter().collect();
        ordered.extend(typed.filter(|r| r.id != rec.rule_id));
        for r in ordered.iter().take(MAX_REASONS) {
            if !r.enabled {
                why.push(format!("rule {} is disabled", r.id));
            } else if let Some(miss) =
                crate::transform::runner::filter(&rec.event, &r.event_type, &r.conditions)
            {
                why.push(format!("rule {}: {miss}", r.id));
            }
        }
        if ordered.len() > MAX_REASONS {
            why.push(format!(
                "{} more rule(s) of {}",
                ordered.len() - MAX_REASONS,
                rec.event_type
            ));
        }
        if ordered.iter().all(|r| r.id == rec.rule_id) && own.is_none() {
            why.push(format!("no rule handles {}", rec.event_type));
        }
        why
    }

    /// Judges one record under the current spec. Pure: nothing is sent or written.
    pub fn evaluate(&self, found: &Found) -> Evaluation {
        let rec = &found.record;
        let mut problems = Vec::new();
        let matching: Vec<&PreparedRule> = self
            .rules
            .iter()
            .filter(|r| {
                r.enabled
                    && crate::transform::runner::matches(&rec.event, &r.event_type, &r.conditions)
            })
            .collect();
        // The rule that dead-lettered the record wins when it still matches; otherwise the first
        // matching rule in spec order, as the Event Hub evaluates them.
        let rule = matching
            .iter()
            .find(|r| r.id == rec.rule_id)
            .or(matching.first())
            .copied();
        let mut new_payload = None;
        let mut payload_bytes = None;
        let mut schema_ok = None;
        match rule {
            None => problems.push(Problem::NoMatchingRule {
                why: self.why_no_rule(rec),
            }),
            Some(r) => match transformed(r.transform.eval(&rec.event, self.now)) {
                Transformed::Send(v) => new_payload = Some(v),
                Transformed::Nothing => problems.push(Problem::TransformUndefined),
                Transformed::Failed(e) => {
                    problems.push(Problem::TransformFailed { message: e.message })
                }
            },
        }
        if let Some(p) = &new_payload {
            // The same measure as the size guard in `test` and `sim` (compact JSON bytes).
            let bytes = crate::transform::compact_size(p) as u64;
            payload_bytes = Some(bytes);
            if let Some(limit) = self.max_payload_bytes.filter(|&l| bytes > l) {
                problems.push(Problem::PayloadTooLarge { bytes, limit });
            }
            if let Some(limit) = self.max_body_bytes.filter(|&l| bytes > l) {
                problems.push(Problem::BodyTooLarge { bytes, limit });
            }
            if let Some(schema) = self.schemas.for_rule(rule.map(|r| r.id.as_str())) {
                let errors: Vec<String> =
                    schema.violations(p).iter().map(|v| v.to_string()).collect();
                schema_ok = Some(errors.is_empty());
                if !errors.is_empty() {
                    problems.push(Problem::SchemaViolation { errors });
                }
            }
        }
        let (idempotency_key, original_key) = match &rec.idempotency_key {
            Some(k) => (Some(k.clone()), true),
            None => match render_key(&self.template, &rec.event) {
                Ok(k) => (Some(k), false),
                Err(message) => {
                    problems.push(Problem::NoIdempotencyKey { message });
                    (None, false)
                }
            },
        };
        let batch_id = super::batch::BatchId::of(rec);
        let sent = batch_id
            .as_ref()
            .map(|b| b.key())
            .or(idempotency_key.as_deref());
        if let Some(message) =
            sent.and_then(|k| crate::delivery::idempotency::unsendable(k, &self.header))
        {
            problems.push(Problem::UnsendableIdempotencyKey { message });
        }
        Evaluation {
            key: found.key.clone(),
            event_id: rec.event_id.clone(),
            event_type: rec.event_type.clone(),
            reason: rec.reason,
            last_status: rec.last_status,
            old_rule: rec.rule_id.clone(),
            rule: rule.map(|r| r.id.clone()),
            old_payload: rec.payload.clone(),
            new_payload,
            payload_bytes,
            schema_ok,
            idempotency_key,
            original_key,
            problems,
            already_replayed: found.replayed,
            batch: rec.batch.clone(),
            dead_lettered_at: rec.dead_lettered_at.clone(),
            may_be_written: rec.may_be_written(),
            batch_id,
        }
    }
}

/// Renders an idempotency template (`${interaction.id}_${event.type}`) with the simulator's
/// renderer, so replay and delivery agree; a missing field is an error, never an empty string.
pub fn render_key(template: &str, event: &Value) -> Result<String, String> {
    crate::delivery::idempotency::Template::parse(template)
        .and_then(|t| t.render(event))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_templates_render_and_refuse_missing_fields() {
        let ev = json!({"interaction": {"id": 42}, "event": {"type": "interaction.ended"}});
        assert_eq!(
            render_key("${interaction.id}_${event.type}", &ev).unwrap(),
            "42_interaction.ended"
        );
        assert!(render_key("${interaction.id}_${agent.id}", &ev).is_err());
    }
}
