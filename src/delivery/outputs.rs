//! What the machine hands back: requests to send ([`Transmit`]) and events that reached a final
//! state ([`Output`]). Outputs are plain values with times as [`Time`]; turning a dead letter
//! into a stored DLQ record (RFC 3339 times, a format version) is the DLQ's business
//! (`dlq::Record::from`).

use std::sync::Arc;

use serde_json::Value;

use super::alert::Alert;
use super::{Reason, SubmissionId, Time};

/// A request to the CRM.
#[derive(Debug, Clone)]
pub struct CrmRequest {
    pub id: u64,
    /// 1-based attempt number of this job (resends after a token refresh count too).
    pub attempt: u32,
    /// `Authorization: Bearer …` value, if any.
    pub bearer: Option<String>,
    /// Idempotency header name and value.
    pub idempotency: (String, String),
    /// The JSON body: the payload, or an array of them when `batchSize > 1`; the CRM judges it
    /// by its bytes (`crm::body::judge`). Shared with the machine's queue, which keeps it for the
    /// resends: a request costs no copy of its payload.
    pub body: Arc<str>,
    /// The events in the body (driver-side correlation only; not sent).
    pub seqs: Vec<u64>,
    /// The rule of each event in the body, in body order (driver-side correlation only: the
    /// CRM model judges each payload against its rule's schema).
    pub rules: Vec<String>,
}

/// Something the machine wants sent.
#[derive(Debug, Clone)]
pub enum Transmit {
    Crm(CrmRequest),
    /// A client-credentials token request.
    Token {
        id: u64,
    },
    /// A DLQ alert webhook call (fire and forget): the body to POST.
    Alert(Box<Alert>),
}

/// An event that reached a final state.
#[derive(Debug, Clone)]
pub enum Output {
    Delivered(Delivered),
    DeadLettered(Box<DeadLettered>),
}

/// An event the CRM accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The submission's identity, as it was handed in.
    pub id: SubmissionId,
    pub attempts: u32,
    pub token_refreshes: u32,
    /// The 2xx status the CRM accepted it with.
    pub status: Option<u16>,
    pub submitted: Time,
    /// The first attempt.
    pub first_attempt: Time,
    pub at: Time,
}

/// An event the machine gave up on: everything a DLQ record holds but the original event (the
/// machine never holds it: the driver finds it again by `origin`), with times as [`Time`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLettered {
    /// The submission's identity, as it was handed in.
    pub id: SubmissionId,
    pub channel: String,
    /// The key rendered from the template (absent when it could not render).
    pub idempotency_key: Option<String>,
    /// The payload that was (or would have been) sent; absent when the transform failed.
    pub payload: Option<Value>,
    pub reason: Reason,
    /// The last HTTP status received (absent for timeouts, resets and local failures).
    pub last_status: Option<u16>,
    /// The last response body, cut to [`MAX_RECORD_BODY`](super::MAX_RECORD_BODY) bytes.
    pub last_body: Option<String>,
    /// The last transport error (`timeout`, `connection reset`, …) or local failure.
    pub last_error: Option<String>,
    /// Attempts made (the first send counts).
    pub attempts: u32,
    pub token_refreshes: u32,
    /// When the machine accepted the event.
    pub submitted: Time,
    /// The first attempt (the dead-letter time when none was made).
    pub first_attempt: Time,
    /// The last attempt (the dead-letter time when none was made).
    pub last_attempt: Time,
    /// When it was dead-lettered.
    pub at: Time,
    /// False when the DLQ is disabled: the event is then lost.
    pub stored: bool,
    /// The `Retry-After` the last response carried, in ms (absent: none, or not a valid one, or
    /// no response).
    pub last_retry_after: Option<Time>,
    /// Whether a retry fired sooner than the `Retry-After` of the response it followed (the
    /// policy does not respect the header, `retry.respectRetryAfterHeader: false`).
    pub retry_after_ignored: bool,
    /// The batch the event was sent in (`batchSize > 1`): the key the CRM saw is the batch's,
    /// not the event's own (`None`: the event was sent alone, or never sent in a batch).
    pub batch: Option<BatchOf>,
}

#[cfg(test)]
impl DeadLettered {
    /// A test's dead letter: event `event_id` of type `t` and rule `R` on channel `C`,
    /// dead-lettered for `reason` at 0 after no attempt, with nothing else recorded.
    pub(crate) fn example(event_id: &str, reason: Reason) -> DeadLettered {
        DeadLettered {
            id: SubmissionId {
                seq: 0,
                source: 0,
                origin: 0,
                event_id: event_id.into(),
                event_type: "t".into(),
                rule_id: "R".into(),
            },
            channel: "C".into(),
            idempotency_key: None,
            payload: None,
            reason,
            last_status: None,
            last_body: None,
            last_error: None,
            attempts: 0,
            token_refreshes: 0,
            submitted: 0,
            first_attempt: 0,
            last_attempt: 0,
            at: 0,
            stored: true,
            last_retry_after: None,
            retry_after_ignored: false,
            batch: None,
        }
    }
}

/// The batch a dead-lettered event was sent in: what a replay needs to write each of its events
/// exactly once against a CRM that deduplicates on the key header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOf {
    /// The idempotency key every attempt of the batch carried (its members' keys joined).
    pub key: Arc<str>,
    /// The event's place in the batch's array (0-based).
    pub index: u32,
    /// How many events the batch held.
    pub size: u32,
    /// Whether the CRM may have written the batch: an attempt timed out, was reset or was
    /// answered with something other than a 4xx (a 5xx may come after the write). A CRM that
    /// deduplicates on the header then holds the batch's key, so only the batch re-sent whole
    /// with that key writes each event once. False: every attempt was refused with a 4xx or
    /// never reached the CRM, which holds nothing of it.
    pub maybe_applied: bool,
}

/// Counters the machine keeps about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub token_requests: u64,
    /// Token requests answered with a token.
    pub tokens_granted: u64,
    /// Token requests refused (an error response) or unanswered (timeout, reset).
    pub token_failures: u64,
    /// Of `token_failures`, those refused with an error response.
    pub token_refused: u64,
    pub crm_requests: u64,
    pub retries_scheduled: u64,
    pub alerts: u64,
}
