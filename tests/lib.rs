//! Integration tests: they run the real `cxsync` binary, one module per area.

mod common;
mod validate;
