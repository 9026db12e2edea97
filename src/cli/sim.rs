//! `cxsync sim SPEC [--scenario NAME|FILE] …`: run a chaos scenario against a spec in virtual
//! time and print a verdict. Exit 0 when every invariant holds and every expectation is met,
//! 1 when not, 2 when the spec or scenario cannot be used.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{ExitStatus, SpecArgs};
use crate::delivery::DeadLettered;
use crate::diag::{self, Format};
use crate::sim::engine::{self, EventOutcome, Options, OriginalEvent, Sinks};
use crate::sim::{inputs, scenario};
use crate::spec;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec to simulate.
    #[arg(required_unless_present = "list")]
    pub spec: Option<PathBuf>,
    /// A built-in scenario name or a scenario YAML file.
    #[arg(long, default_value = scenario::DEFAULT_SCENARIO)]
    pub scenario: String,
    /// Generated events (overrides the scenario's `events.count`; at most 10,000,000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=scenario::MAX_EVENTS))]
    pub events: Option<u64>,
    /// RNG seed; the same seed reproduces the run byte for byte.
    #[arg(long, default_value_t = engine::DEFAULT_SEED)]
    pub seed: u64,
    /// Disable retry jitter (the guide's `jitterEnabled: false`).
    #[arg(long)]
    pub no_jitter: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write one JSON line per matched event and rule here: `{eventId, ruleId, fixture,
    /// outcome, attempts, reason, arrivalMs/At, firstAttemptMs/At, settledMs/At}`.
    #[arg(long, value_name = "FILE")]
    pub outcomes: Option<PathBuf>,
    /// Fail when more than this fraction (0..1) of matched events is dead-lettered, whatever
    /// the cause (replaces the scenario's `expect.deadLetterRate`).
    #[arg(long, value_name = "RATE")]
    pub max_dead_letter_rate: Option<f64>,
    /// Write DLQ records as `<dir>/<bucketName>/<prefix><YYYY>/<MM>/<DD>/<ruleId>/<eventId>.json`.
    #[arg(long, value_name = "DIR")]
    pub dlq_dir: Option<PathBuf>,
    /// Write an SVG timeline here.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    #[command(flatten)]
    pub spec_args: SpecArgs,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Run over real HTTP (reqwest, loopback mock CRM and token endpoint) instead of virtual
    /// time; the same machine, report and invariants.
    #[arg(long)]
    pub http: bool,
    /// With --http: real seconds per simulated second (0.01: a simulated second lasts 10 ms).
    /// Default 0.01 against the mock (results do not depend on it), 1 with --target.
    #[arg(long, value_name = "F", requires = "http")]
    pub time_scale: Option<f64>,
    /// With --http: send the spec's fixture events to this CRM URL (a staging CRM) with the
    /// spec's real OAuth, instead of the mock.
    #[arg(long, value_name = "URL", requires = "http")]
    pub target: Option<String>,
    /// With --target: do not ask for confirmation.
    #[arg(long, requires = "target")]
    pub yes: bool,
    /// With --target: send this run's DLQ alert webhook calls here instead of
    /// `deadLetterQueue.alertEndpoint` (required with an `--env` whose overlay does not set its
    /// own alert endpoint, unless --no-alerts).
    #[arg(
        long,
        value_name = "URL",
        requires = "target",
        conflicts_with = "no_alerts"
    )]
    pub alert_url: Option<String>,
    /// With --target: send no DLQ alert webhook calls.
    #[arg(long, requires = "target")]
    pub no_alerts: bool,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    if args.list {
        let mut out = String::new();
        for (name, text) in scenario::BUILTIN {
            let desc = scenario::parse(text, Path::new(name))
                .ok()
                .and_then(|s| s.description)
                .unwrap_or_default();
            // The first sentence of the description.
            let joined = desc.split_whitespace().collect::<Vec<_>>().join(" ");
            let first = match joined.find(". ") {
                Some(i) => joined[..=i].to_string(),
                None => joined,
            };
            out.push_str(&format!("{name:<20} {first}\n"));
        }
        super::print_stdout(&out)?;
        return Ok(ExitStatus::Success);
    }
    let Some(spec_path) = args.spec.clone() else {
        anyhow::bail!("a spec file is required");
    };
    // A spec or scenario that cannot be used is a tool error: there is nothing to simulate.
    let (spec, mut sources) = match super::load::load_to_run(&spec_path, &args.spec_args) {
        Ok(loaded) => loaded,
        Err(status) => return Ok(status),
    };
    let inputs = match inputs::compile(&spec) {
        Ok(i) => i,
        Err(ds) => return fail(ds, &sources),
    };
    // E606 counts the machine's own bound on how long an event stays in it (tester #201).
    let run_end = scenario::RunEnd::of(&spec);
    let mut sc = match scenario::load_to_run(&args.scenario, &mut sources, &run_end) {
        Ok(l) => l.scenario,
        Err(ds) => return fail(ds, &sources),
    };
    if let Some(r) = args.max_dead_letter_rate {
        if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
            anyhow::bail!("--max-dead-letter-rate must be a fraction from 0 to 1, found {r}");
        }
        sc.expect.dead_letter_rate = Some(scenario::Band::Range(scenario::BandRange {
            min: None,
            max: Some(r),
        }));
    }
    if let Some(f) = args.time_scale {
        if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
            anyhow::bail!("--time-scale must be a number above 0 and at most 1000, found {f}");
        }
    }
    if let Some(url) = &args.target {
        return http_target(&spec, &inputs, url, &args);
    }
    if let (Some(n), Some(o)) = (args.events, &sc.events.oversize) {
        let total = scenario::oversized_bytes(n, o.every, o.bytes).unwrap_or(0);
        if total > u128::from(scenario::MAX_OVERSIZED_BYTES) {
            anyhow::bail!(
                "--events {n} with the scenario's `events.oversize` adds {total} bytes to the \
                 run's events; at most {} (256 MiB): fewer events, or a scenario that inflates \
                 fewer",
                scenario::MAX_OVERSIZED_BYTES
            );
        }
    }
    let run_opts = Options {
        seed: args.seed,
        events: args.events,
        no_jitter: args.no_jitter,
        max_steps: None,
    };

    let mut outcomes = match &args.outcomes {
        Some(p) => Some(AtomicLines::new(p)?),
        None => None,
    };
    // DLQ records go through the same store (layout, key encoding) that `cxsync dlq` reads.
    let dlq_store = match &args.dlq_dir {
        Some(dir) => Some(
            crate::dlq::store::Store::for_dlq_dir(dir, &spec.raw.dead_letter_queue)
                .with_context(|| format!("opening the DLQ folder {}", dir.display()))?,
        ),
        None => None,
    };
    let mut dlq_error: Option<anyhow::Error> = None;
    // Records name the environment and endpoint they were meant for (`dlq replay` checks it).
    let provenance = crate::dlq::record::Provenance::of(&spec, args.spec_args.env.as_deref());
    let epoch = engine::epoch(&spec, &sc);
    let mut dlq_written = 0u64;
    let wants_outcomes = outcomes.is_some();
    let mut on_outcome = |o: &EventOutcome| {
        if let Some(w) = outcomes.as_mut() {
            w.line(o);
        }
    };
    // On a terminal a bar over the events; a transform failing (or hitting its limit) is named
    // the first time it happens, not only in the report at the end.
    let progress = super::progress::Progress::new(0, "events");
    let mut transform_noted: std::collections::BTreeSet<(String, String)> = Default::default();
    let mut on_dead_letter = |d: &DeadLettered, event: &OriginalEvent<'_>| {
        if d.reason == crate::delivery::Reason::TransformFailed {
            if let Some(line) = transform_note(d, &mut transform_noted) {
                progress.note(&line);
            }
        }
        let Some(store) = &dlq_store else { return };
        if !d.stored || dlq_error.is_some() {
            return;
        }
        let record = crate::dlq::record::Record::from(d, event.get(), epoch, &provenance);
        match crate::dlq::store::write_record(store, &record) {
            Ok(_) => dlq_written += 1,
            Err(e) => {
                dlq_error = Some(
                    anyhow::Error::new(e)
                        .context(format!("writing the DLQ record of {}", d.id.event_id)),
                )
            }
        }
    };
    let mut on_progress = |done: u64, total: u64| progress.set(done, total);
    let mut sinks = Sinks {
        outcome: wants_outcomes.then_some(&mut on_outcome as &mut dyn FnMut(&EventOutcome)),
        dead_letter: &mut on_dead_letter,
        progress: &mut on_progress,
    };
    let result = if args.http {
        let http = crate::http::HttpOptions {
            time_scale: args.time_scale.unwrap_or(0.01),
            paced: true,
        };
        let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
        rt.block_on(crate::http::run(
            &spec, &inputs, &sc, &run_opts, &http, &mut sinks,
        ))
        .map_err(anyhow::Error::new)
    } else {
        engine::run(&spec, &inputs, &sc, &run_opts, &mut sinks).map_err(anyhow::Error::new)
    };
    drop(progress);
    let mut report = result.with_context(|| format!("simulating {}", spec_path.display()))?;
    report.environment.clone_from(&args.spec_args.env);
    if let Some(e) = dlq_error {
        return Err(e);
    }
    if let Some(w) = outcomes {
        w.finish()?;
    }
    if let Some(p) = &args.report {
        let mut s = serde_json::to_string_pretty(&report.to_json())?;
        s.push('\n');
        crate::fsutil::write_atomic(p, s.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.svg {
        crate::fsutil::write_atomic(p, report.svg().as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let mut text = report.summary();
    if let Some(dir) = &args.dlq_dir {
        text.push_str(&format!(
            "  ({dlq_written} DLQ record(s) written under {})
",
            dir.display()
        ));
    }
    super::print_stdout(&text)?;
    Ok(if report.passed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The line naming a rule's transform failure the first time it happens (per rule and error
/// code); `None` when this kind was named already.
fn transform_note(
    d: &DeadLettered,
    noted: &mut std::collections::BTreeSet<(String, String)>,
) -> Option<String> {
    let error = d.last_error.as_deref().unwrap_or("the transform failed");
    let code = error
        .split_once(": ")
        .map(|(c, _)| c)
        .filter(|c| !c.contains(' '))
        .unwrap_or("");
    if !noted.insert((d.id.rule_id.to_string(), code.to_string())) {
        return None;
    }
    let what = match crate::transform::limits::limit_hit(code) {
        Some(limit) => format!("hit its {limit}"),
        None => "failed".to_string(),
    };
    let error: String = error.chars().take(200).collect();
    Some(format!(
        "warning: rule `{}`: the transform {what} on event {} ({error}); such events are \
         dead-lettered as TRANSFORM_FAILED, the report counts them",
        d.id.rule_id, d.id.event_id
    ))
}

/// `--http --target URL`: the fixtures to a real CRM, after confirmation.
fn http_target(
    spec: &spec::Spec,
    inputs: &inputs::Inputs,
    url: &str,
    args: &Args,
) -> anyhow::Result<ExitStatus> {
    use std::io::IsTerminal as _;
    let env = |n: &str| std::env::var(n).ok();
    use crate::http::target::Alerts;
    let alerts = match (&args.alert_url, args.no_alerts) {
        (Some(u), _) => Alerts::To(u.clone()),
        (None, true) => Alerts::None,
        (None, false) => Alerts::Spec,
    };
    let (plan, ep) = crate::http::target::plan(
        spec,
        inputs,
        url,
        &env,
        args.spec_args.env.as_deref(),
        &alerts,
    )?;
    crate::stdio::stderr(&plan.describe(&ep));
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            crate::errln!("error: refusing to send to a real CRM without confirmation: stdin is not a terminal; pass --yes");
            return Ok(ExitStatus::Error);
        }
        crate::stdio::stderr("Send them? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            crate::errln!("nothing sent");
            return Ok(ExitStatus::Error);
        }
    }
    let opts = Options {
        seed: args.seed,
        events: Some(0),
        no_jitter: args.no_jitter,
        max_steps: None,
    };
    let mut lines = String::new();
    let mut on_outcome = |o: &EventOutcome| {
        lines.push_str(&format!(
            "  {:<13} {:<32} {} attempt(s){}\n",
            o.outcome,
            o.event_id,
            o.attempts,
            o.reason.map(|r| format!("  {r}")).unwrap_or_default()
        ));
    };
    let mut on_dead_letter = |_: &DeadLettered, _: &OriginalEvent<'_>| {};
    let progress = super::progress::Progress::new(0, "events");
    let mut on_progress = |done: u64, total: u64| progress.set(done, total);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = rt.block_on(crate::http::target::run(
        spec,
        inputs,
        ep,
        args.time_scale.unwrap_or(1.0),
        &opts,
        &mut Sinks {
            outcome: Some(&mut on_outcome),
            dead_letter: &mut on_dead_letter,
            progress: &mut on_progress,
        },
        &mut |line| progress.note(line),
    ));
    drop(progress);
    let report = report?;
    let statuses: Vec<String> = report
        .responses
        .statuses
        .iter()
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    let mut text = format!(
        "{} matched of {} fixture event(s):\n{lines}",
        report.totals.matched, report.totals.events
    );
    text.push_str(&format!(
        "HTTP statuses: {} · timeouts {} · resets {} · token requests {}\n",
        if statuses.is_empty() {
            "none".to_string()
        } else {
            statuses.join(", ")
        },
        report.responses.timeouts,
        report.responses.resets,
        report.totals.token_refreshes
    ));
    for (_, example) in &report.dlq_examples {
        text.push_str(&format!("  {example}\n"));
    }
    super::print_stdout(&text)?;
    Ok(if report.totals.delivered == report.totals.matched {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn fail(diags: Vec<diag::Diagnostic>, sources: &diag::Sources) -> anyhow::Result<ExitStatus> {
    super::load::report(diags, sources, Format::Full);
    Ok(ExitStatus::Error)
}

/// JSON lines written to a temporary file and renamed into place at the end (a device, FIFO or
/// `/dev/stdout` is written directly: `fsutil::OutputFile`).
struct AtomicLines {
    out: std::io::BufWriter<crate::fsutil::OutputFile>,
    path: PathBuf,
    error: Option<std::io::Error>,
}

impl AtomicLines {
    fn new(path: &Path) -> anyhow::Result<Self> {
        let file = crate::fsutil::OutputFile::create(path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(AtomicLines {
            out: std::io::BufWriter::new(file),
            path: path.to_path_buf(),
            error: None,
        })
    }

    fn line(&mut self, o: &EventOutcome) {
        if self.error.is_none() {
            let r = serde_json::to_writer(&mut self.out, o)
                .map_err(std::io::Error::other)
                .and_then(|_| self.out.write_all(b"\n"));
            if let Err(e) = r {
                self.error = Some(e);
            }
        }
    }

    fn finish(mut self) -> anyhow::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(anyhow::Error::new(e).context(format!("writing {}", self.path.display())));
        }
        let path = self.path;
        self.out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(crate::fsutil::OutputFile::commit)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}
