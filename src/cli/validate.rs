//! `cxsync validate SPEC...`: load, schema and semantic checks.

use std::path::PathBuf;

use super::ExitStatus;
use crate::diag::{self, Format, Sources};
use crate::spec::{self, LoadOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spec files to validate.
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Environment overlay to merge before validating.
    #[arg(long)]
    pub env: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Full)]
    pub format: Format,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let opts = LoadOptions {
        env: args.env.clone(),
        vars: std::env::vars().collect(),
    };
    let mut diags = Vec::new();
    let mut sources = Sources::new();
    for path in &args.specs {
        let loaded = spec::load(path, &opts);
        diags.extend(loaded.diags);
        sources.extend(loaded.sources);
    }
    diag::sort(&mut diags);
    let text = diag::render(&diags, &sources, args.format, super::stdout_is_terminal());
    super::print_stdout(&text)?;
    Ok(
        if diags.iter().any(|d| d.severity == diag::Severity::Error) {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        },
    )
}
