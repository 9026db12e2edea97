//! cxsync: a declarative config compiler, linter and chaos test harness for CXone Event Hub → CRM
//! integrations. See `README.md` for a tour and `docs/architecture.md` for how the pieces fit.
//!
//! The pipeline runs in one direction and is pure in the middle: `spec` loads YAML with spans,
//! `compile` turns a spec into Event Hub payloads, `transform` owns the JSONata engine, `lint`
//! holds the rule catalogue, `delivery` is the sans-IO delivery machine, `crm` what is known about
//! real CRMs (read by the simulator and lint alike), `sim` drives the machine in virtual time.
//! Only `cli`, `http`, `cxone`, `dlq` and the loaders touch files, network, clock or environment.

// Diagnostics are the error type of the loading stages and are returned by value on purpose.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod compile;
pub mod crm;
pub mod cxone;
pub mod delivery;
pub mod diag;
pub mod dlq;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod init;
pub mod jsjson;
pub mod lint;
pub mod lsp;
pub mod net;
pub mod project;
pub mod sim;
pub mod spec;
pub mod stdio;
pub mod transform;
