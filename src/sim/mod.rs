//! The chaos simulator: the guide's delivery semantics in virtual time against a modelled CRM.
//!
//! The delivery machine itself is one floor below, in [`crate::delivery`]; this module drives it
//! in virtual time.
//!
//! - [`crm`] is the sans-IO CRM model: rate limits, maintenance windows, token lifetime and
//!   revocation, latency, resets, size/array/schema rejections and idempotency, on the named
//!   profiles of real CRMs in [`crate::crm`] (which lint reads too). It records every side
//!   effect.
//! - [`scenario`] is the YAML scenario format (events, CRM profile, fault timeline,
//!   expectations) and the built-in scenarios.
//! - [`engine`] runs a scenario: a discrete-event loop ordered by `(time, sequence)`, a virtual
//!   clock that jumps to the next deadline and a seeded ChaCha8 RNG; [`report`] turns the run
//!   into a summary, JSON metrics in the guide's shape, and an SVG timeline.
//!
//! Nothing here reads the wall clock, the environment or an unseeded random source.

pub mod crm;
pub mod engine;
pub mod inputs;
pub mod report;
pub mod scenario;
#[cfg(test)]
mod tests;
pub mod verdict;
