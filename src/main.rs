//! The `cxsync` binary: parse arguments, run the subcommand, turn the result into an exit code
//! (0 clean, 1 findings/failures/pending changes, 2 tool error).

use std::process::ExitCode;

fn main() -> ExitCode {
    cxsync::cli::main()
}
