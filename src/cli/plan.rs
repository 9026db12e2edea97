//! `cxsync plan` (under construction).

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn exec(_args: Args) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`cxsync plan` is not implemented yet")
}
