//! `cxsync schema`: print the JSON Schema (draft 2020-12) of the spec format, the same bytes as
//! the checked-in `schemas/cxsync-spec.v1.json`.

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn exec(_args: Args) -> anyhow::Result<ExitStatus> {
    super::print_stdout(&crate::spec::schema::to_pretty())?;
    Ok(ExitStatus::Success)
}
