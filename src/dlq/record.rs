//! One DLQ record: everything needed to understand and replay one failed event. The format is
//! documented in `docs/dlq.md`; `schemas/dlq-record.v1.json` is generated from these types
//! (`cxsync dlq schema record`) and a test fails when the checked-in copy drifts.

use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::delivery::Reason;
use crate::delivery::{rfc3339, DeadLettered};

/// The record format version written by this build.
pub const RECORD_VERSION: u32 = 1;

/// One dead-lettered event, as written to `bucket/prefix/YYYY/MM/DD/<eventId>.json` (one JSON
/// object per record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "cxsync DLQ record v1")]
pub struct Record {
    /// Record format version (1).
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The event's id (`event.id`), or its position when it has none.
    #[schemars(length(min = 1))]
    pub event_id: String,
    /// The event's type as the Event Hub routed it (`event.type`, e.g. `interaction.ended`).
    pub event_type: String,
    /// The rule that matched the event.
    pub rule_id: String,
    /// The channel the event was routed to.
    pub channel: String,
    /// The `--env` overlay of the spec the event was dead-lettered under (null: the base spec).
    /// Absent in records written before cxsync recorded it.
    #[serde(default)]
    pub environment: Option<String>,
    /// Where the event was being delivered: the channel's `destinationUri` as the spec (after
    /// `--env`) named it, as scheme, host, port and path (no query, fragment or credentials;
    /// [`destination_of`]). `dlq replay` refuses to send a record elsewhere unless told to.
    /// Absent in records written before cxsync recorded it.
    #[serde(default)]
    pub destination: Option<String>,
    /// The idempotency key rendered from the spec's template (absent when it could not render).
    /// A batched event's own key: the CRM saw the batch's (`batch`).
    pub idempotency_key: Option<String>,
    /// The batch the event was sent in (`batchSize > 1`), whose key is the one the CRM saw.
    /// Absent for an event sent alone, and in records written before cxsync recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
    /// The original event, unchanged.
    pub event: Value,
    /// The compiled payload that was sent (absent when the transform failed).
    pub payload: Option<Value>,
    /// Why the event was dead-lettered.
    pub reason: Reason,
    /// Last HTTP status received (absent for timeouts, resets and local failures).
    #[schemars(range(min = 100, max = 599))]
    pub last_status: Option<u16>,
    /// Last response body (truncated to 4 KiB).
    pub last_body: Option<String>,
    /// Last transport error (`timeout`, `connection reset`, …).
    pub last_error: Option<String>,
    /// Attempts made (the first send counts).
    pub attempts: u32,
    /// Token refreshes made for this event.
    pub token_refreshes: u32,
    /// RFC 3339 time of the first attempt (the dead-letter time when none was made).
    #[schemars(extend("format" = "date-time"))]
    pub first_attempt_at: String,
    /// RFC 3339 time of the last attempt (the dead-letter time when none was made).
    #[schemars(extend("format" = "date-time"))]
    pub last_attempt_at: String,
    /// When the record was written (RFC 3339); its date names the record's folder.
    #[schemars(extend("format" = "date-time"))]
    pub dead_lettered_at: String,
}

impl Record {
    /// Whether the CRM may already hold the event although it was dead-lettered: its batch may
    /// have been written ([`Batch::maybe_applied`]), or, sent alone, its last attempt timed out,
    /// was reset or was answered with something other than a 4xx (the delivery machine's rule
    /// for a batch, applied to the one attempt a record keeps). A 4xx, or no attempt, wrote
    /// nothing. Against a CRM that does not deduplicate, replaying such a record may write it
    /// a second time (#251).
    pub fn may_be_written(&self) -> bool {
        if let Some(b) = &self.batch {
            return b.maybe_applied;
        }
        if self.attempts == 0 {
            return false;
        }
        match self.last_status {
            Some(s) => !(400..500).contains(&s),
            None => self.last_error.is_some(),
        }
    }
}

/// The batch a dead-lettered event was sent in: one request, its events' payloads as one JSON
/// array, every attempt carrying the batch's key (its events' keys joined with `,`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Batch {
    /// The idempotency key every attempt of the batch carried: the one the CRM saw.
    #[schemars(length(min = 1))]
    pub idempotency_key: String,
    /// The event's place in the batch's array (0-based).
    pub index: u32,
    /// How many events the batch held.
    #[schemars(range(min = 1))]
    pub size: u32,
    /// Whether the CRM may have written the batch: an attempt timed out, was reset or was
    /// answered with something other than a 4xx. `dlq replay` then re-sends the batch whole,
    /// with this key, so a CRM that deduplicates on the key header writes each event once;
    /// otherwise (every attempt refused with a 4xx, or never sent) it sends each event alone
    /// with its own key.
    pub maybe_applied: bool,
}

impl Batch {
    /// The batch of a dead letter, as stored.
    pub fn of(b: &crate::delivery::BatchOf) -> Batch {
        Batch {
            idempotency_key: b.key.to_string(),
            index: b.index,
            size: b.size,
            maybe_applied: b.maybe_applied,
        }
    }
}

/// Where a record's events were going: the spec's environment and its channel's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The `--env` overlay (`None`: the base spec).
    pub environment: Option<String>,
    /// [`destination_of`] the channel's `destinationUri`.
    pub destination: String,
}

impl Provenance {
    /// The provenance of records a spec loaded with `--env environment` writes. A destination
    /// read from `${env:…}` is recorded as the hash of its identity, never as text: records
    /// hold no secret (docs/dlq.md).
    pub fn of(spec: &crate::spec::Spec, environment: Option<&str>) -> Provenance {
        use crate::spec::secret;
        let uri = &spec.raw.channel.destination_uri;
        let origin = secret::origins(spec)
            .get("/channel/destinationUri")
            .copied();
        let destination = if secret::masked(origin, false, secret::Side::Sent) {
            format!(
                "(sensitive) xxh3:{:032x}",
                xxhash_rust::xxh3::xxh3_128(destination_of(uri).as_bytes())
            )
        } else {
            destination_of(uri)
        };
        Provenance {
            environment: environment.map(str::to_string),
            destination,
        }
    }
}

/// A destination URL's identity: scheme, host, port and path, without the query, fragment or
/// credentials (which may hold secrets and do not name another endpoint). Text that does not
/// parse as a URL is kept as written.
pub fn destination_of(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            match u.port() {
                Some(p) => format!("{}://{host}:{p}{}", u.scheme(), u.path()),
                None => format!("{}://{host}{}", u.scheme(), u.path()),
            }
        }
        Err(_) => uri.to_string(),
    }
}

impl Record {
    /// The stored record of a dead letter and its original `event` (the machine does not hold
    /// events; the driver finds it again); `epoch` is the wall-clock instant of the run's time 0
    /// and dates the record's times; `at` says which environment and endpoint it was meant for.
    pub fn from(d: &DeadLettered, event: Value, epoch: SystemTime, at: &Provenance) -> Record {
        Record {
            version: RECORD_VERSION,
            event_id: d.id.event_id.to_string(),
            event_type: d.id.event_type.to_string(),
            rule_id: d.id.rule_id.to_string(),
            channel: d.channel.clone(),
            environment: at.environment.clone(),
            destination: Some(at.destination.clone()),
            idempotency_key: d.idempotency_key.clone(),
            batch: d.batch.as_ref().map(Batch::of),
            event,
            payload: d.payload.clone(),
            reason: d.reason,
            last_status: d.last_status,
            last_body: d.last_body.clone(),
            last_error: d.last_error.clone(),
            attempts: d.attempts,
            token_refreshes: d.token_refreshes,
            first_attempt_at: rfc3339(epoch, d.first_attempt),
            last_attempt_at: rfc3339(epoch, d.last_attempt),
            dead_lettered_at: rfc3339(epoch, d.at),
        }
    }

    /// The dead-letter time, parsed (the record's folder date and its place in time order).
    pub fn dead_lettered(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        parse_time(&self.dead_lettered_at)
    }

    /// Problems serde cannot see: a wrong version, times that are not RFC 3339, an empty id.
    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.version != RECORD_VERSION {
            out.push(format!(
                "version is {}; this build reads version {RECORD_VERSION}",
                self.version
            ));
        }
        if self.event_id.is_empty() {
            out.push("eventId is empty".to_string());
        }
        if let Some(b) = &self.batch {
            if b.size == 0 || b.index >= b.size {
                out.push(format!(
                    "batch.index is {} of a batch of {}; it must be below batch.size",
                    b.index, b.size
                ));
            }
            if b.idempotency_key.is_empty() {
                out.push("batch.idempotencyKey is empty".to_string());
            }
        }
        for (name, v) in [
            ("firstAttemptAt", &self.first_attempt_at),
            ("lastAttemptAt", &self.last_attempt_at),
            ("deadLetteredAt", &self.dead_lettered_at),
        ] {
            if parse_time(v).is_none() {
                out.push(format!("{name} is `{v}`, not an RFC 3339 time"));
            }
        }
        out
    }
}

/// Parses an RFC 3339 time into UTC.
pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The JSON Schema of [`Record`] (what `schemas/dlq-record.v1.json` holds).
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Record)).unwrap_or(Value::Null)
}
