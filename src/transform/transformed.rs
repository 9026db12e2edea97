//! What the hub does with a transform's result for one event and one rule: the one answer
//! `cxsync test` (its snapshots), `cxsync sim` (what it submits) and `dlq replay` (what it would
//! resend) share.
//!
//! The guide does not say what the Event Hub does when a rule's transform gives JSONata's
//! `undefined`. cxsync's answer: **nothing is sent** for that rule — a conditional transform
//! (`interaction.n > 0 ? {…}`) is a common way to skip events — and nothing is dead-lettered:
//! there is no payload to keep or to replay. A transform that *fails* (an error) is a dead
//! letter, `TRANSFORM_FAILED`.

use serde_json::Value;

/// What becomes of one event under one rule once its transform has run.
#[derive(Debug, Clone, PartialEq)]
pub enum Transformed<E> {
    /// The payload the rule sends.
    Send(Value),
    /// The transform gave `undefined`: the rule sends nothing for this event ([`NOTHING_SENT`]).
    Nothing,
    /// The transform failed: the event is dead-lettered `TRANSFORM_FAILED`.
    Failed(E),
}

/// How an undefined result is described wherever it is shown.
pub const NOTHING_SENT: &str = "the transform produced nothing; nothing is sent";

/// The fate of a transform's result (`Ok(None)` is JSONata's `undefined`).
pub fn transformed<E>(result: Result<Option<Value>, E>) -> Transformed<E> {
    match result {
        Ok(Some(v)) => Transformed::Send(v),
        Ok(None) => Transformed::Nothing,
        Err(e) => Transformed::Failed(e),
    }
}
