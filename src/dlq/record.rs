//! One DLQ record: everything needed to understand and replay one failed event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why an event was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// One dead-lettered event, as written to `bucket/prefix/…` (one JSON object per record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    /// Record format version (1).
    pub version: u32,
    /// The event's id (`event.id`), or its position when it has none.
    pub event_id: String,
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
    pub reason: Reason,
    /// Last HTTP status received (absent for timeouts, resets and local failures).
    pub last_status: Option<u16>,
    /// Last response body (truncated to 4 KiB).
    pub last_body: Option<String>,
    /// Last transport error (`timeout`, `connection reset`, …).
    pub last_error: Option<String>,
    /// Attempts made (the first send counts).
    pub attempts: u32,
    /// Token refreshes made for this event.
    pub token_refreshes: u32,
    /// RFC 3339 times of the first and last attempt.
    pub first_attempt_at: String,
    pub last_attempt_at: String,
    /// When the record was written (RFC 3339).
    pub dead_lettered_at: String,
}
