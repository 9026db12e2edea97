//! `cxsync validate SPEC...`: load, schema and semantic checks, and the transforms' syntax.

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
        // JSONata syntax, the guide's dialect and path typos, at their exact positions.
        if let Some(spec) = &loaded.spec {
            diags.extend(crate::transform::checks::check_spec(spec));
        }
        sources.extend(loaded.sources);
    }
    diag::sort(&mut diags);
    let text = diag::render(&diags, &sources, args.format, super::stdout_is_terminal());
    super::print_stdout(&text)?;
    if args.format != Format::Json {
        // A one-line summary on stderr, so a clean run says so without polluting stdout.
        let errors = diags
            .iter()
            .filter(|d| d.severity == diag::Severity::Error)
            .count();
        let warnings = diags.len() - errors;
        let n = args.specs.len();
        let specs = if n == 1 { "spec" } else { "specs" };
        if diags.is_empty() {
            eprintln!("{n} {specs} valid");
        } else {
            eprintln!("{n} {specs} checked: {errors} error(s), {warnings} warning(s)");
        }
    }
    Ok(status_of(&diags))
}

/// The exit status for a load's diagnostics: 2 when the tool could not read its input (an
/// unreadable path, an unknown `--env`), 1 for findings, 0 when clean.
pub fn status_of(diags: &[diag::Diagnostic]) -> ExitStatus {
    if diags.iter().any(|d| TOOL_ERRORS.contains(&d.code.as_str())) {
        ExitStatus::Error
    } else if diags.iter().any(|d| d.severity == diag::Severity::Error) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// Codes that mean "bad invocation" rather than "bad spec": the spec path cannot be read, or
/// `--env` names no environment.
const TOOL_ERRORS: [&str; 2] = ["E010", "E020"];
