//! What every command that reads a spec shares: [`SpecArgs`] (the `--env` overlay) and
//! [`load_or_report`] (load the spec; on errors render them, with every env-resolved secret
//! scrubbed, and pick the exit status). Colour is not an argument here: it is the run-wide
//! `--color` decided once in [`super::color`].
//!
//! The commands that read many specs (`validate`, `lint`, `fix`) flatten [`SpecPaths`]: paths
//! expanded by [`inputs`] (files, folders, quoted globs) and `--env`. Elsewhere the spec path stays
//! a field of each command because its shape differs (`sim SPEC`, `eval --spec S`, `test [PATH...]`
//! with a default), and so does `--format` (`validate --format sarif`, but `dlq replay --format
//! json`); commands that report diagnostics flatten [`DiagFormat`].

use std::collections::BTreeMap;
use std::path::Path;

use super::ExitStatus;
use crate::cxone::Redactor;
use crate::diag::{self, Diagnostic, Format, Severity, Sources};
use crate::spec::{self, EnvSecrets, LoadOptions, Spec};

/// `--env`: the options every command that reads a spec takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SpecArgs {
    /// Environment overlay to merge before anything else (`environments.NAME` of the spec).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Let the spec name files outside its project folder (the folder of the nearest
    /// `cxsync.toml`, else the spec's own) or by absolute path.
    #[arg(long, env = "CXSYNC_ALLOW_OUTSIDE_PROJECT", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_outside_project: bool,
}

/// `SPEC [--env NAME]`: the one spec file of `compile`, `plan`, `apply` and `metrics`, with
/// [`load_or_report`] as a method.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecFile {
    /// The spec file.
    #[arg(id = "spec", value_name = "SPEC")]
    pub path: std::path::PathBuf,
    #[command(flatten)]
    pub args: SpecArgs,
}

impl SpecFile {
    /// [`load_or_report`] of this spec.
    pub fn load_or_report(
        &self,
        format: Format,
        secrets: EnvSecrets,
    ) -> Result<Loaded, ExitStatus> {
        load_or_report(&self.path, &self.args, format, secrets)
    }

    /// [`load_or_report`] of a spec a command turns into Event Hub payloads (`compile`, `plan`,
    /// `apply`), then [`check_transforms`]: a rule whose transform `validate` refuses is never
    /// written or sent.
    pub fn load_to_deploy(
        &self,
        format: Format,
        secrets: EnvSecrets,
    ) -> Result<Loaded, ExitStatus> {
        let loaded = self.load_or_report(format, secrets)?;
        check_transforms(&loaded, format)?;
        Ok(loaded)
    }
}

/// Stage 8 of the loader (`docs/spec.md`): the per-rule transform checks
/// ([`crate::transform::checks::check_spec`], the code path `validate` runs) of a spec that
/// loaded. With an error among them (`E500`, `E501`, `E505`, `E506`, …), every finding of the
/// stage is rendered on stderr as `validate` renders it, and the status is 1 (the spec has
/// errors; a command that needs a usable spec maps it to 2). Warnings alone (`E503`) pass.
pub fn check_transforms(loaded: &Loaded, format: Format) -> Result<(), ExitStatus> {
    let diags = crate::transform::checks::check_spec(&loaded.spec);
    if has_errors(&diags) {
        report_with(diags, &loaded.sources, format, &loaded.redactor);
        return Err(ExitStatus::Failure);
    }
    Ok(())
}

/// `PATH... [--env NAME]`: the specs (and scenarios) of `validate`, `lint` and `fix`, one or more
/// files, folders or quoted globs, as [`inputs`] expands them.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecPaths {
    /// Spec or scenario files, folders (every `*.yaml`/`*.yml` below), or quoted globs.
    #[arg(required = true, value_name = "PATH")]
    pub specs: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

impl SpecPaths {
    /// The files behind the paths ([`inputs`]: a path that names nothing is reported, exit 2)
    /// and the loader's options. Checking a spec sends nothing, so `${env:…}` secrets are not
    /// needed at load ([`EnvSecrets::Deferred`]).
    pub fn expand(&self) -> Result<(Inputs, LoadOptions), ExitStatus> {
        expand(&self.specs, &self.spec)
    }
}

/// [`SpecPaths::expand`] for a command whose paths have a default (`test`).
pub fn expand(
    paths: &[std::path::PathBuf],
    args: &SpecArgs,
) -> Result<(Inputs, LoadOptions), ExitStatus> {
    Ok((inputs(paths)?, args.load_options(EnvSecrets::Deferred)))
}

/// `PATH... [--env NAME] [--format F]`: all `validate` takes, and what `lint` takes before its
/// own options.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckedPaths {
    #[command(flatten)]
    pub paths: SpecPaths,
    #[command(flatten)]
    pub format: DiagFormat,
}

/// `--now T` of the commands that run transforms on events (`eval`, `test`): the instant `$now()`
/// and `$millis()` return, read as transforms read instants ([`crate::transform::parse_instant`]).
/// What holds without it is each command's (`test`: the spec's `test.now`; `eval`: the clock),
/// and its `--help` says so.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Now {
    /// The instant `$now()` and `$millis()` return (RFC 3339).
    #[arg(long = "now", value_name = "RFC3339")]
    pub now: Option<String>,
}

impl Now {
    /// The instant given, if one was.
    pub fn instant(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        let parse = |t: &String| crate::transform::parse_instant(t).map_err(anyhow::Error::msg);
        self.now.as_ref().map(parse).transpose()
    }
}

/// `--format` of a command whose output is diagnostics.
#[derive(Debug, Clone, clap::Args)]
pub struct DiagFormat {
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Full)]
    pub format: Format,
}

impl SpecArgs {
    /// The loader's options: the overlay, the process environment (read here, once) and whether
    /// the command needs `${env:…}` secrets at load ([`EnvSecrets`]: only commands that write or
    /// send them at once do).
    pub fn load_options(&self, secrets: EnvSecrets) -> LoadOptions {
        LoadOptions {
            env: self.env.clone(),
            vars: std::env::vars().collect(),
            secrets,
            outside_project: self.allow_outside_project,
        }
    }
}

/// A spec that loaded without errors, with what the rest of a command needs from the load.
pub struct Loaded {
    pub spec: Spec,
    /// The text of every file the spec's diagnostics may point into.
    pub sources: Sources,
    /// The process environment the spec was resolved against.
    pub vars: BTreeMap<String, String>,
    /// Scrubs the secrets `${env:…}` resolved to out of anything printed.
    pub redactor: Redactor,
}

/// Loads `path`. On errors, renders them on stderr in `format` and returns the exit status
/// ([`status_of`]: 2 when the file cannot be read or `--env` names no environment, else 1).
/// Commands for which an unusable spec is a tool error map that 1 to 2 themselves.
pub fn load_or_report(
    path: &Path,
    args: &SpecArgs,
    format: Format,
    secrets: EnvSecrets,
) -> Result<Loaded, ExitStatus> {
    let opts = args.load_options(secrets);
    let loaded = spec::load(path, &opts);
    let mut redactor = Redactor::default();
    if let Some(text) = loaded.sources.get(path) {
        redactor.add(crate::cxone::env_secrets(text, &opts.vars));
    }
    match loaded.spec {
        Some(spec) if !has_errors(&loaded.diags) => Ok(Loaded {
            spec,
            sources: loaded.sources,
            vars: opts.vars,
            redactor,
        }),
        _ => {
            let status = status_of(&loaded.diags);
            report_with(loaded.diags, &loaded.sources, format, &redactor);
            Err(status)
        }
    }
}

/// Loads a spec a command runs (`sim`, `mock-crm`, `eval --spec`): errors are rendered and are a
/// tool error (exit 2), as there is nothing to run; secrets are not needed at load (a run that
/// sends one resolves it then).
pub fn load_to_run(path: &Path, args: &SpecArgs) -> Result<(Spec, Sources), ExitStatus> {
    match load_or_report(path, args, Format::Full, EnvSecrets::Deferred) {
        Ok(l) => Ok((l.spec, l.sources)),
        Err(_) => Err(ExitStatus::Error),
    }
}

/// Renders diagnostics on stderr (sorted, in `format`, coloured per `--color`).
pub fn report(diags: Vec<Diagnostic>, sources: &Sources, format: Format) {
    report_with(diags, sources, format, &Redactor::default());
}

fn report_with(mut diags: Vec<Diagnostic>, sources: &Sources, format: Format, r: &Redactor) {
    if diags.is_empty() {
        return;
    }
    diag::sort(&mut diags);
    let text = diag::render(&diags, sources, format, super::color::stderr());
    crate::stdio::stderr(&r.scrub(&text));
}

/// Whether any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// How many diagnostics are errors (for a command's summary line).
pub fn error_count(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// The exit status for a load's diagnostics: 2 when the tool could not read its input (an
/// unreadable path, an unknown `--env`), 1 for findings, 0 when clean.
pub fn status_of(diags: &[Diagnostic]) -> ExitStatus {
    if diags.iter().any(|d| TOOL_ERRORS.contains(&d.code.as_str())) {
        ExitStatus::Error
    } else if has_errors(diags) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// Codes that mean "bad invocation" rather than "bad spec": the spec path cannot be read, or
/// `--env` names no environment.
const TOOL_ERRORS: [&str; 2] = ["E010", "E020"];

/// The files behind command-line paths (files, folders, quoted globs), split into specs and
/// scenarios; a path that names nothing is reported and becomes exit 2.
pub fn inputs(paths: &[std::path::PathBuf]) -> Result<Inputs, ExitStatus> {
    match crate::project::expand(paths) {
        Ok(all) => {
            let mut i = Inputs::default();
            for input in all {
                match input.kind {
                    crate::project::Kind::Spec => i.specs.push(input.path),
                    crate::project::Kind::Scenario => i.scenarios.push(input.path),
                }
            }
            Ok(i)
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Err(ExitStatus::Error)
        }
    }
}

/// What [`inputs`] found.
#[derive(Debug, Default)]
pub struct Inputs {
    pub specs: Vec<std::path::PathBuf>,
    pub scenarios: Vec<std::path::PathBuf>,
}

/// Validates scenario files (schema and semantic checks, as `sim --scenario FILE` would),
/// adding their diagnostics and sources.
pub fn check_scenarios(
    paths: &[std::path::PathBuf],
    diags: &mut Vec<Diagnostic>,
    sources: &mut Sources,
) {
    for path in paths {
        match spec::read_text(path) {
            Ok(text) => {
                if let Err(ds) = crate::sim::scenario::parse(&text, path) {
                    diags.extend(ds);
                }
                sources.add(path, text);
            }
            Err(d) => diags.push(d),
        }
    }
}

/// "2 specs and 9 scenarios" (scenarios only when there are some).
pub fn counted(specs: usize, scenarios: usize) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    if scenarios == 0 {
        n(specs, "spec", "specs")
    } else if specs == 0 {
        n(scenarios, "scenario", "scenarios")
    } else {
        format!(
            "{} and {}",
            n(specs, "spec", "specs"),
            n(scenarios, "scenario", "scenarios")
        )
    }
}
