//! `cxsync compile` (under construction).

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn exec(_args: Args) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`cxsync compile` is not implemented yet")
}
