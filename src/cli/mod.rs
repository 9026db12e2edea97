//! Command-line interface: one file per subcommand, each an `Args` struct and an `exec` function;
//! the logic lives in the library modules.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub mod apply;
pub mod color;
pub mod compile;
pub mod completions;
pub mod dlq;
pub mod eval;
pub mod explain;
pub mod fix;
pub mod import;
pub mod init;
pub mod lint;
pub mod load;
pub mod lsp;
pub mod metrics;
pub mod mock_crm;
pub mod mock_hub;
pub mod plan;
pub mod progress;
pub mod rules;
pub mod schema;
pub mod sim;
pub mod test;
pub mod validate;

pub use load::{load_or_report, DiagFormat, Loaded, SpecArgs, SpecFile};

/// The exit-code contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: clean.
    Success,
    /// 1: findings, failures, or pending changes.
    Failure,
    /// 2: the tool could not do its job (bad arguments, unreadable input, I/O).
    Error,
    /// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM): stopped by a signal it
    /// handled, after saying what was done (`dlq replay`).
    Interrupted(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        match s {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
            ExitStatus::Interrupted(signal) => ExitCode::from(128u8.saturating_add(signal)),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "cxsync",
    version,
    about = "Compile, lint, test and chaos-simulate CXone Event Hub -> CRM integrations",
    propagate_version = true
)]
pub struct Cli {
    /// Colour: `auto` (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE forces it),
    /// `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = color::ColorChoice::Auto)]
    pub color: color::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a new project for a CRM: spec, transform, payload schema, fixtures, snapshots, a
    /// scenario and a CI workflow that every command passes on at once.
    Init(init::Args),
    /// Load specs and report schema and semantic errors.
    Validate(validate::Args),
    /// Compile a spec into the Event Hub channel, retry-policy and rule payloads.
    Compile(compile::Args),
    /// Print the JSON Schema of the spec format (or of `plan --json`).
    Schema(schema::Args),
    /// Run every fixture through its rule and compare with snapshots.
    Test(test::Args),
    /// Evaluate a JSONata expression or a rule's transform against one event.
    Eval(eval::Args),
    /// Rewrite the guide's JSONata dialect into standard JSONata, in place.
    Fix(fix::Args),
    /// Lint specs with the rule catalogue.
    Lint(lint::Args),
    /// List the lint rules.
    Rules(rules::Args),
    /// Explain a lint rule, or what a load error's code (E506) means.
    Explain(explain::Args),
    /// Run a chaos simulation of a spec against a modelled CRM.
    Sim(sim::Args),
    /// Serve a mock CRM and OAuth token endpoint on loopback.
    MockCrm(mock_crm::Args),
    /// Show what `apply` would change in the Event Hub.
    Plan(plan::Args),
    /// Apply compiled config to the Event Hub.
    Apply(apply::Args),
    /// Write a spec from a live channel, its retry policy and its rules.
    Import(import::Args),
    /// Show channel metrics and evaluate the spec's alert thresholds.
    Metrics(metrics::Args),
    /// Serve a mock Event Hub API on loopback.
    MockHub(mock_hub::Args),
    /// Inspect and replay dead-lettered events.
    Dlq(dlq::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the manual page, or write one per subcommand with --out DIR.
    Man(completions::ManArgs),
    /// Serve the Language Server Protocol over stdio (diagnostics, hover, completion, fixes).
    Lsp(lsp::Args),
}

/// Whether stdout is a terminal (progress bars, prompts; colour asks [`color`]).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal (progress bars; colour asks [`color`]).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Init(a) => init::exec(a),
        Command::Validate(a) => validate::exec(a),
        Command::Compile(a) => compile::exec(a),
        Command::Schema(a) => schema::exec(a),
        Command::Test(a) => test::exec(a),
        Command::Eval(a) => eval::exec(a),
        Command::Fix(a) => fix::exec(a),
        Command::Lint(a) => lint::exec(a),
        Command::Rules(a) => rules::exec(a),
        Command::Explain(a) => explain::exec(a),
        Command::Sim(a) => sim::exec(a),
        Command::MockCrm(a) => mock_crm::exec(a),
        Command::Plan(a) => plan::exec(a),
        Command::Apply(a) => apply::exec(a),
        Command::Import(a) => import::exec(a),
        Command::Metrics(a) => metrics::exec(a),
        Command::MockHub(a) => mock_hub::exec(a),
        Command::Dlq(a) => dlq::exec(a),
        Command::Completions(a) => completions::exec(a),
        Command::Man(a) => completions::man(a),
        Command::Lsp(a) => lsp::exec(a),
    }
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `--color` is read before parsing too, so clap's own help and errors follow it.
    let parsed = Cli::command()
        .color(color::from_args(&args).for_clap())
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    color::init(cli.color);
    match run(cli) {
        Ok(s) => s.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(0);
            }
            crate::errln!("error: {err}");
            for cause in err.chain().skip(1) {
                crate::errln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes to stdout through [`crate::stdio::stdout`]: a closed pipe (`cxsync lint | head`) is no
/// error, the command goes on and exits with its own code.
pub fn print_stdout(s: &str) -> anyhow::Result<()> {
    Ok(crate::stdio::stdout(s)?)
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand: among them, that each `mut_arg`
    /// (the per-command help of a shared option such as `load::Now`) names an argument that
    /// exists, and that no two flattened option groups declare one name twice.
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
