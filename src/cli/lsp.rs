//! `cxsync lsp`: the language server, over stdin/stdout (see `docs/editor.md`).

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

/// Exit 0 after `shutdown` then `exit`, 1 when the client left without `shutdown` (as the
/// protocol asks), 2 when the protocol itself failed (no `initialize`).
pub fn exec(_args: Args) -> anyhow::Result<ExitStatus> {
    Ok(if crate::lsp::run()? {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
