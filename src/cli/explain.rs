//! `cxsync explain CODE`: print a lint rule's documentation (by code or name).

use super::ExitStatus;
use crate::lint::registry;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule code (`CX005`) or name (`token-cache-outlives-token`).
    pub code: String,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let Some(rule) = registry::find(&args.code) else {
        let hint = registry::suggest(&args.code)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| "; `cxsync rules` lists every code".into());
        crate::errln!("error: unknown rule `{}`{hint}", args.code);
        return Ok(ExitStatus::Error);
    };
    super::print_stdout(&rule.explain())?;
    Ok(ExitStatus::Success)
}
