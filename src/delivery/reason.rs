//! Why an event was dead-lettered: one closed set of reasons, owned by the machine that decides
//! them. The wire names (`PAYLOAD_TOO_LARGE`, …) are what DLQ records, reports and scenario
//! expectations use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
