//! What a driver hands the machine: matched events, CRM responses, transport failures and token
//! endpoint answers. Every input is stamped with `now` by the caller.

use std::sync::Arc;

use serde_json::Value;

/// One event a rule matched, with its transform result. The event itself is not handed in: the
/// machine holds only what it resends (the payload, once, and the key), so a backlog of large
/// events costs what their payloads cost. A driver that needs the event again (the simulator, for
/// a DLQ record) finds it by `origin` in its own source.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Which event and rule this is; the machine carries it untouched to a dead letter.
    pub id: SubmissionId,
    /// The transform's output, or its error message.
    pub payload: Result<Value, String>,
    /// The idempotency key sent on every attempt, or why it could not be rendered (the event is
    /// then dead-lettered `IDEMPOTENCY_KEY_UNRESOLVED`). The driver renders the channel's
    /// template ([`Config::idempotency`](super::Config)); `dlq replay` resends a record with its
    /// original key, whatever the current template says.
    pub idempotency_key: Result<String, String>,
}

#[cfg(test)]
impl Submission {
    /// A test's submission: event `e{seq}` of type `interaction.ended`, matched by rule `r`.
    pub(crate) fn example(seq: u64, payload: Value, key: Result<String, String>) -> Submission {
        Submission {
            id: SubmissionId {
                seq,
                source: 0,
                origin: seq,
                event_id: format!("e{seq}").into(),
                event_type: "interaction.ended".into(),
                rule_id: "r".into(),
            },
            payload: Ok(payload),
            idempotency_key: key,
        }
    }
}

/// Which matched event a submission is: the driver's handles on it and the event's identity. The
/// machine carries it from the [`Submission`] to the event's outcome
/// ([`Delivered`](super::Delivered) or [`DeadLettered`](super::DeadLettered)) untouched; it reads
/// only `seq` and `rule_id` (a request names the events and rules in its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionId {
    /// Dense sequence number the driver assigned (used to correlate side effects).
    pub seq: u64,
    /// Where the driver got the event (the simulator: the index of the fixture it is, or copies);
    /// carried to the outputs untouched, for reports.
    pub source: u32,
    /// The driver's own handle on the event (the simulator: its index in the run's feed, from
    /// which it regenerates the event for a DLQ record); carried to a dead letter untouched.
    pub origin: u64,
    /// The event's id, exactly sized: a queue of a million events holds a million of them.
    pub event_id: Box<str>,
    /// The event's type and the rule, shared: a driver hands every submission of one rule (of
    /// one event type) the same text, so a queued event holds no copy of either.
    pub event_type: Arc<str>,
    pub rule_id: Arc<str>,
}

/// An HTTP response from the CRM.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// The raw `Retry-After` header value, if present.
    pub retry_after: Option<String>,
    pub body: String,
}

/// A request that got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response within the channel's timeout (the machine detects this itself).
    Timeout,
    /// The connection was reset or closed mid-response.
    Reset,
    /// No connection at all (refused, or the host unreachable): the request was never received.
    Refused,
    /// The host name did not resolve: the request was never sent.
    Unresolved,
    /// The TLS handshake failed (the client checks every certificate and never sends without
    /// it): the request was never sent.
    Tls(TlsProblem),
}

/// Why a TLS handshake failed, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chains to no trusted root: self-signed, or a private CA.
    UnknownIssuer,
    /// The certificate is for another host name.
    WrongName,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The certificate was revoked.
    Revoked,
    /// The server presents a CA certificate (`basicConstraints CA:TRUE`) as its own.
    CaAsServer,
    /// Another reason the certificate was rejected.
    BadCertificate,
    /// The server did not speak TLS there, or the two sides agreed on no version or cipher.
    Handshake,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Reset => "connection reset",
            Failure::Refused => "connection refused",
            Failure::Unresolved => "the host name does not resolve",
            Failure::Tls(p) => match p {
                TlsProblem::UnknownIssuer => "the server's TLS certificate was rejected: it is not signed by a trusted authority (self-signed, or a private CA)",
                TlsProblem::WrongName => "the server's TLS certificate was rejected: it is not valid for this host name",
                TlsProblem::Expired => "the server's TLS certificate was rejected: it has expired",
                TlsProblem::NotYetValid => "the server's TLS certificate was rejected: it is not valid yet",
                TlsProblem::Revoked => "the server's TLS certificate was rejected: it has been revoked",
                TlsProblem::CaAsServer => "the server's TLS certificate was rejected: it is a CA certificate (basicConstraints CA:TRUE), which a server may not present as its own",
                TlsProblem::BadCertificate => "the server's TLS certificate was rejected",
                TlsProblem::Handshake => "the TLS handshake failed (the server does not speak TLS there, or offers no version or cipher the client accepts)",
            },
        }
    }
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenResult {
    Granted {
        access_token: String,
        expires_in: Option<u64>,
    },
    /// An error response (`invalid_grant`, a 5xx, …).
    Refused { status: u16, error: String },
    /// No response (timeout, reset).
    Failed(Failure),
}
