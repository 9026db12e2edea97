//! The delivery machine: the guide's channel and retry semantics on the lowest floor, sans-IO.
//!
//! Like quinn-proto, nothing here touches a network, a file, a clock or an entropy source, and
//! nothing here knows who drives it: the virtual-time engine (`sim`), the HTTP drivers (`http`)
//! and DLQ replay (`dlq`) all drive this one [`Machine`], so there is exactly one copy of the
//! retry logic. Inputs are stamped with `now` ([`inputs`]); outputs are plain values with times
//! as [`Time`] ([`outputs`]); a dead letter becomes a stored DLQ record only in the DLQ
//! (`dlq::Record::from`). An architecture test (`tests/architecture.rs`) keeps this floor clean.
//!
//! - [`config`]: the spec's channel, retry policy, idempotency and DLQ resolved once, plus the
//!   hub's runtime settings;
//! - [`machine`]: the state machine (jobs, timers, batching, pumping, dead-lettering), holding
//!   each queued payload as its differences from an earlier one of its rule (`body`);
//! - [`drive`]: the one driver loop every driver shares (arrivals in, transmits and outputs out,
//!   answers back, an observer watching), and its virtual-time form;
//! - `token`, the OAuth token cache, its sub-state (there is no circuit breaker: the hub runs
//!   none, so neither does the machine; `retry.circuitBreaker` is lint CX038's finding);
//! - [`classify`], [`backoff`], [`retry_after`], [`idempotency`]: the pure rules it applies;
//! - [`Reason`]: why an event was dead-lettered; [`alert`]: the DLQ alert webhook body the machine
//!   sends, and the key a dead letter is stored under.

pub mod alert;
pub mod backoff;
mod body;
pub mod classify;
pub mod config;
pub mod drive;
pub mod idempotency;
pub mod inputs;
pub mod machine;
pub mod outputs;
mod reason;
pub mod retry_after;
mod time;
mod token;

pub use alert::Alert;
pub use backoff::Backoff;
pub use classify::{Decision, Policy};
pub use config::{AuthMode, Config, ConfigError, HubSettings};
pub use idempotency::{Template, TemplateError};
pub use inputs::{Failure, Response, Submission, SubmissionId, TokenResult};
pub use machine::Machine;
pub use outputs::{BatchOf, CrmRequest, DeadLettered, Delivered, Output, Stats, Transmit};
pub use reason::Reason;
pub use time::{rfc3339, Time};
pub use token::{cached_for_ms, sends_expired_tokens};

/// Bodies kept in dead letters are cut to this many bytes.
pub const MAX_RECORD_BODY: usize = 4096;
