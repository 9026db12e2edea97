//! Integration tests: they run the real `cxsync` binary, one module per area.

mod common;
mod compile;
mod cxone;
mod deliver;
mod dlq;
mod jsonata;
mod lint;
mod lsp;
mod sim;
mod transform;
mod validate;
