//! `cxsync lint SPEC...`: run the rule catalogue over specs (files or folders) and report
//! findings in any output format; `--budget` prints each spec's retry budget table instead.

use std::path::PathBuf;

use super::load::CheckedPaths;
use super::ExitStatus;
use crate::diag::{self, Format, RenderExtra, Severity};
use crate::lint::{self, budget, LintOptions};

/// Which findings fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Deny {
    /// Warnings fail the run too (exit 1).
    Warnings,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub specs: CheckedPaths,
    /// Only these rules (codes, prefixes like `CX0`, names, or `ALL`); replaces `select` of
    /// `cxsync.toml`.
    #[arg(long, value_delimiter = ',')]
    pub select: Vec<String>,
    /// Skip these rules (added to `ignore` of `cxsync.toml`).
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Also run preview rules.
    #[arg(long)]
    pub preview: bool,
    /// `--deny warnings`: exit 1 on warnings too.
    #[arg(long, value_enum)]
    pub deny: Option<Deny>,
    /// Use this config instead of the nearest `cxsync.toml`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print each spec's retry budget instead of findings: per CRM answer, the attempts, token
    /// refreshes and time to the DLQ the delivery machine gives one event (`--format json` for
    /// a pipeline).
    #[arg(long)]
    pub budget: bool,
    /// With --budget: run the machine with `jitter: none`, as `sim --no-jitter` does.
    #[arg(long, requires = "budget")]
    pub no_jitter: bool,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    // A path that names nothing is a mistake on the command line, not a finding in a spec.
    let (inputs, load) = match args.specs.paths.expand() {
        Ok(expanded) => expanded,
        Err(status) => return Ok(status),
    };
    let opts = LintOptions {
        load,
        config: args.config.clone(),
        select: args.select.clone(),
        ignore: args.ignore.clone(),
        preview: args.preview,
    };
    let mut outcome = match lint::lint_paths(&inputs.specs, &opts) {
        Ok(o) => o,
        Err(e) => {
            crate::errln!("error: {e}");
            return Ok(ExitStatus::Error);
        }
    };
    if args.budget {
        let json = match args.specs.format.format {
            Format::Json => true,
            Format::Full | Format::Concise => false,
            other => {
                crate::errln!(
                    "error: --budget prints text (`--format full`) or JSON (`--format json`), not {other:?}"
                );
                return Ok(ExitStatus::Error);
            }
        };
        let opts = budget::Options {
            no_jitter: args.no_jitter,
        };
        let mut text = String::new();
        let mut budgets = Vec::new();
        for spec in &outcome.specs {
            let file = spec.path.display().to_string();
            match budget::budget(&spec.raw, opts) {
                Ok(b) if json => budgets.push(b.to_json(&file)),
                Ok(b) => {
                    text.push_str(&budget::render(&file, &b));
                    text.push('\n');
                }
                Err(e) => {
                    crate::errln!("error: {file}: {e}");
                    return Ok(ExitStatus::Error);
                }
            }
        }
        if json {
            let doc = serde_json::json!({ "version": 1, "budgets": budgets });
            text = serde_json::to_string_pretty(&doc)? + "\n";
        }
        super::print_stdout(&text)?;
        // The table is information; a spec that did not load is still a failure, and one
        // that could not be read or named no `--env` environment a tool error (#246).
        if super::load::status_of(&outcome.diags) == ExitStatus::Error {
            super::load::report(outcome.diags, &outcome.sources, Format::Full);
            return Ok(ExitStatus::Error);
        }
        let failed = outcome.specs.len() < outcome.files.len();
        if failed {
            let errs: Vec<_> = outcome
                .diags
                .iter()
                .filter(|d| d.severity == Severity::Error && !d.code.starts_with("CX"))
                .cloned()
                .collect();
            super::load::report(errs, &outcome.sources, Format::Full);
        }
        return Ok(if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        });
    }
    // Scenario files are checked as scenarios, not as specs.
    super::load::check_scenarios(&inputs.scenarios, &mut outcome.diags, &mut outcome.sources);
    outcome.files.extend(inputs.scenarios.iter().cloned());
    diag::sort(&mut outcome.diags);
    let extra = RenderExtra {
        tool: "cxsync lint".into(),
        rules: lint::RULES.iter().map(|r| r.meta()).collect(),
        files: outcome.files.clone(),
    };
    let text = diag::render_with(
        &outcome.diags,
        &outcome.sources,
        args.specs.format.format,
        super::color::stdout(),
        &extra,
    );
    super::print_stdout(&text)?;
    if matches!(args.specs.format.format, Format::Full | Format::Concise) {
        let errors = super::load::error_count(&outcome.diags);
        let warnings = outcome.diags.len() - errors;
        let what = super::load::counted(inputs.specs.len(), inputs.scenarios.len());
        if outcome.diags.is_empty() {
            crate::errln!("Checked {what}: no findings.");
        } else {
            crate::errln!(
                "Found {errors} error{} and {warnings} warning{} in {what}.",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" },
            );
        }
    }
    let deny_warnings = args.deny == Some(Deny::Warnings) || outcome.deny_warnings;
    let fails = outcome.diags.iter().any(|d| {
        d.severity == Severity::Error || (deny_warnings && d.severity == Severity::Warning)
    });
    // An unreadable spec or an unknown `--env` is a mistake of the invocation, as for every
    // command that loads specs (`load::status_of`; #246).
    Ok(
        if super::load::status_of(&outcome.diags) == ExitStatus::Error {
            ExitStatus::Error
        } else if fails {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        },
    )
}
