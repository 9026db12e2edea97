//! `cxsync test`, `cxsync eval` and the JSONata engine behind them.

mod conformance;
mod corpus;
mod eval;
mod parity;
mod snapshots;
