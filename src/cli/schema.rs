//! `cxsync schema [spec|plan]`: print a JSON Schema (draft 2020-12): the spec format (the same
//! bytes as the checked-in `schemas/cxsync-spec.v1.json`) or the `plan --json` document
//! (`schemas/plan.v1.json`).

use super::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which schema.
    #[arg(value_enum, default_value_t = Which::Spec)]
    pub which: Which,
}

/// A schema `cxsync schema` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// The spec format, `schemas/cxsync-spec.v1.json`.
    Spec,
    /// The `plan --json` document, `schemas/plan.v1.json`.
    Plan,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let text = match args.which {
        Which::Spec => crate::spec::schema::to_pretty(),
        Which::Plan => crate::cxone::plan::json::schema_pretty(),
    };
    super::print_stdout(&text)?;
    Ok(ExitStatus::Success)
}
