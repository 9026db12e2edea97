//! Integration tests: they run the real `cxsync` binary, one module per area.

mod architecture;
mod budget;
mod common;
mod compile;
mod cxone;
mod dlq;
mod exit_codes;
mod fuzz;
mod habits;
mod http;
mod init;
mod jsonata;
mod lint;
mod lint_sim;
mod lsp;
mod project;
mod sim;
mod transform;
mod validate;
