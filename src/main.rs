//! The `cxsync` binary: parse arguments, run the subcommand, turn the result into an exit code
//! (0 clean, 1 findings/failures/pending changes, 2 tool error).

use std::process::ExitCode;

/// mimalloc: transforms allocate many small short-lived values per event (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cxsync::cli::main()
}
