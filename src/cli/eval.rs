//! `cxsync eval (--expr EXPR | --spec SPEC --rule NAME) --event FILE [--now T]`: one event through
//! one transform. Prints the output as JSON (exit 0), nothing for an undefined result (exit 0), or
//! the JSONata error with its code (exit 1).

use std::path::PathBuf;

use anyhow::Context as _;

use super::{load_or_report, ExitStatus, SpecArgs};
use crate::diag::Format;
use crate::spec::{self, TransformOrigin};
use crate::transform::{runner, Transform};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["expr", "spec"])))]
pub struct Args {
    /// A JSONata expression.
    #[arg(long, conflicts_with_all = ["spec", "rule"])]
    pub expr: Option<String>,
    /// A spec whose rule's transform to use (with --rule).
    #[arg(long, requires = "rule")]
    pub spec: Option<PathBuf>,
    /// The rule, by id or name.
    #[arg(long, requires = "spec")]
    pub rule: Option<String>,
    /// The event, a JSON file (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// The instant `$now()` and `$millis()` return (RFC 3339). Default: the current time.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Print compact JSON on one line instead of pretty JSON.
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub spec_args: SpecArgs,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let now = match &args.now {
        Some(t) => crate::transform::parse_instant(t).map_err(anyhow::Error::msg)?,
        // The CLI is the one place allowed to read the clock; `test` never does.
        None => chrono::Utc::now(),
    };
    let event_text = if args.event.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        s
    } else {
        spec::read_text(&args.event).map_err(|d| anyhow::anyhow!("{}", d.message))?
    };
    let event: serde_json::Value = serde_json::from_str(&event_text)
        .with_context(|| format!("{} is not JSON", args.event.display()))?;

    let transform = match (&args.expr, &args.spec, &args.rule) {
        (Some(expr), _, _) => match Transform::compile(expr) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                if let Some(o) = e.offset {
                    eprintln!("  {}", expr.replace('\n', " "));
                    eprintln!("  {}^", " ".repeat(o));
                }
                return Ok(ExitStatus::Failure);
            }
        },
        (None, Some(spec_path), Some(rule)) => {
            match rule_transform(spec_path, rule, &args, &event)? {
                Ok(t) => t,
                Err(status) => return Ok(status),
            }
        }
        _ => anyhow::bail!("give --expr, or --spec with --rule"),
    };
    match transform.eval(&event, now) {
        Ok(None) => Ok(ExitStatus::Success),
        Ok(Some(v)) => {
            let mut s = if args.compact {
                serde_json::to_string(&v)?
            } else {
                serde_json::to_string_pretty(&v)?
            };
            s.push('\n');
            super::print_stdout(&s)?;
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitStatus::Failure)
        }
    }
}

/// The rule's compiled transform, or the exit status after printing why there is none.
fn rule_transform(
    spec_path: &std::path::Path,
    rule: &str,
    args: &Args,
    event: &serde_json::Value,
) -> anyhow::Result<Result<Transform, ExitStatus>> {
    // A spec that cannot be used is a tool error here: there is nothing to evaluate.
    let (spec, mut sources) = match load_or_report(spec_path, &args.spec_args, Format::Full) {
        Ok(l) => (l.spec, l.sources),
        Err(_) => return Ok(Err(ExitStatus::Error)),
    };
    let Some((index, r)) = spec
        .raw
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.id == rule || r.name == rule)
    else {
        let known: Vec<&str> = spec.raw.rules.iter().map(|r| r.id.as_str()).collect();
        anyhow::bail!(
            "{} has no rule `{rule}`; its rules: {}",
            spec_path.display(),
            known.join(", ")
        );
    };
    let source = spec
        .rules
        .iter()
        .find(|x| x.index == index)
        .and_then(|resolved| resolved.transform.clone());
    let Some(source) = source else {
        anyhow::bail!("rule `{}` has no transform", r.id);
    };
    if let Some(why) = runner::filter(event, &r.event_type, &r.conditions) {
        eprintln!(
            "note: rule `{}` would not send this event ({why}); evaluating anyway",
            r.id
        );
    }
    match Transform::compile(&source.text) {
        Ok(t) => Ok(Ok(t)),
        Err(e) => {
            let d = runner::compile_diag(&spec, &source, &e);
            if let TransformOrigin::File { path } = &source.origin {
                sources.add(path, source.text.clone());
            }
            super::load::report(vec![d], &sources, Format::Full);
            Ok(Err(ExitStatus::Failure))
        }
    }
}
