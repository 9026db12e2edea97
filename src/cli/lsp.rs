//! `cxsync lsp`: the language server, over stdin/stdout (see `docs/editor.md`).

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn exec(_args: Args) -> anyhow::Result<ExitStatus> {
    crate::lsp::run()?;
    Ok(ExitStatus::Success)
}
