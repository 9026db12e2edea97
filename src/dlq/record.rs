//! One DLQ record: everything needed to understand and replay one failed event. The format is
//! documented in `docs/dlq.md`; `schemas/dlq-record.v1.json` is generated from these types
//! (`cxsync dlq schema record`) and a test fails when the checked-in copy drifts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The record format version written by this build.
pub const RECORD_VERSION: u32 = 1;

/// Why an event was dead-lettered.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// A status in `nonRetryableStatusCodes` (or an unlisted 4xx).
    NonRetryableStatus,
    /// Retries exhausted on retryable statuses, timeouts or resets.
    RetriesExhausted,
    /// 401 after the allowed token refreshes, or 401 without `retryOnTokenExpiry`.
    AuthFailed,
    /// The token endpoint refused the credentials (`invalid_grant`, …).
    TokenRequestFailed,
    /// The transform's output exceeded the payload size guard.
    PayloadTooLarge,
    /// The transform failed on this event.
    TransformFailed,
    /// A template variable of the idempotency key is missing from the event.
    IdempotencyKeyUnresolved,
    /// The event's delivery deadline passed.
    DeadlineExceeded,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 8] = [
        Reason::NonRetryableStatus,
        Reason::RetriesExhausted,
        Reason::AuthFailed,
        Reason::TokenRequestFailed,
        Reason::PayloadTooLarge,
        Reason::TransformFailed,
        Reason::IdempotencyKeyUnresolved,
        Reason::DeadlineExceeded,
    ];

    /// The wire name, e.g. `PAYLOAD_TOO_LARGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NonRetryableStatus => "NON_RETRYABLE_STATUS",
            Reason::RetriesExhausted => "RETRIES_EXHAUSTED",
            Reason::AuthFailed => "AUTH_FAILED",
            Reason::TokenRequestFailed => "TOKEN_REQUEST_FAILED",
            Reason::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Reason::TransformFailed => "TRANSFORM_FAILED",
            Reason::IdempotencyKeyUnresolved => "IDEMPOTENCY_KEY_UNRESOLVED",
            Reason::DeadlineExceeded => "DEADLINE_EXCEEDED",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Reason {
    type Err = String;

    /// Accepts the wire name in any case, with `-` or `_` (`payload-too-large`).
    fn from_str(s: &str) -> Result<Reason, String> {
        let norm = s.trim().replace('-', "_").to_ascii_uppercase();
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown reason `{s}`; expected one of {}", names.join(", "))
            })
    }
}

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
    /// The idempotency key rendered from the spec's template (absent when it could not render).
    pub idempotency_key: Option<String>,
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

/// Longest `lastBody` kept in a record, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;

/// Cuts a response body to [`MAX_BODY_BYTES`] on a character boundary, so writers agree on it.
pub fn truncate_body(body: &str) -> String {
    if body.len() <= MAX_BODY_BYTES {
        return body.to_string();
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_string()
}

impl Record {
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
