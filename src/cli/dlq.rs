//! `cxsync dlq list|show|stats|replay|schema`: inspect dead-lettered events in a folder or an S3
//! bucket, and prove a fix on them before re-sending them with their original idempotency keys.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use super::{load_or_report, ExitStatus, SpecArgs};
use crate::delivery::Reason;
use crate::diag;
use crate::dlq::inspect::{self, Filter, Found, Row, Scan};
use crate::dlq::render;
use crate::dlq::replay::{self, Disposition, DriverSink, Evaluation, ReplayOptions, Replayer};
use crate::dlq::store::{Source, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// One line per record: time, event id, event type, reason, last status, attempts.
    List(ListArgs),
    /// One record, pretty-printed, by event id or key.
    Show(ShowArgs),
    /// Counts by reason, last status, event type, and over time.
    Stats(ListArgs),
    /// Re-run original events through the spec's current rules and transform, and deliver them.
    Replay(ReplayArgs),
    /// Print the JSON Schema of the DLQ record or of the alert webhook body.
    Schema(SchemaArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// One JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// The DLQ: a folder (e.g. `cxsync sim --dlq-dir` output) or `s3://bucket/prefix`. S3 reads
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and
    /// AWS_ENDPOINT_URL (S3-compatible servers; plain http only on loopback).
    pub source: String,
}

#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// Only records dead-lettered at or after this RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only records dead-lettered before this RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only records with this reason (repeatable), e.g. PAYLOAD_TOO_LARGE.
    #[arg(long, value_parser = parse_reason)]
    pub reason: Vec<Reason>,
    /// Only records of this event type (repeatable).
    #[arg(long)]
    pub event_type: Vec<String>,
    /// Only records of this rule (repeatable).
    #[arg(long)]
    pub rule: Vec<String>,
}

impl FilterArgs {
    /// The filter, or a usage error (exit 2) when `--since` is not before `--until`: the window
    /// `[since, until)` then holds no instant, so no record could match.
    fn filter(&self) -> anyhow::Result<Filter> {
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                bail!(
                    "--since {} is not before --until {}: records are selected from --since (inclusive) to --until (exclusive), so no record could match; swap them?",
                    since.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                );
            }
        }
        Ok(Filter {
            since: self.since,
            until: self.until,
            reasons: self.reason.clone(),
            event_types: self.event_type.clone(),
            rules: self.rule.clone(),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// An event id (every record of it: one per rule that matched), `RULE/EVENT`, or a key such
    /// as `2024/01/15/CRM_SYNC/evt-1001.json`.
    pub id: String,
    /// Output format (`json`: the record exactly as stored).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The spec whose current rules and transform the events run through.
    #[arg(long)]
    pub spec: PathBuf,
    #[command(flatten)]
    pub spec_args: SpecArgs,
    /// Show per record the old and new payload, the checks and what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Deliver here instead of the spec's `channel.destinationUri`.
    #[arg(long)]
    pub target: Option<String>,
    /// Fetch tokens here instead of the spec's `tokenEndpoint`.
    #[arg(long)]
    pub token_url: Option<String>,
    /// Environment variable holding the client secret (or bearer token), for specs whose secret
    /// is a `${VAULT_SECRET:…}` reference.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Delete records once replayed (this run or an earlier one). Without it nothing is deleted.
    #[arg(long, conflicts_with = "dry_run")]
    pub purge: bool,
    /// Stop after this many records in a row end without a 2xx, each after the spec's retries
    /// (0: never stop); the rest stay for the next run.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_failures: u32,
    /// Deliveries in flight at once (1–256; default: the hub's concurrency, 16). 1 sends one
    /// record at a time, in dead-letter order.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// The time `$now()` returns in transforms and markers record (RFC 3339; default: now).
    #[arg(long, value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// Replay records dead-lettered on another channel than the spec's (`channel.name`, after
    /// `--env`): without it such records are refused, since they belong to another integration
    /// or environment.
    #[arg(long)]
    pub allow_other_channel: bool,
    /// Replay records that were on their way to another endpoint than the spec's
    /// (`channel.destinationUri` after `--env`; each record names its destination and
    /// environment): without it such records are refused, since an overlay that keeps the
    /// channel name can point at another CRM (production's records replayed into staging).
    #[arg(long)]
    pub allow_other_endpoint: bool,
    /// Send records that share an idempotency key (two rules rendering one key for one event):
    /// only the first of each key is sent, the others are reported not applied and left
    /// unmarked. Without it such a replay is refused, since a CRM that deduplicates on the key
    /// would drop all but the first.
    #[arg(long)]
    pub allow_duplicate_keys: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which schema.
    #[arg(value_enum)]
    pub which: Which,
}

/// A schema `cxsync dlq schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// `schemas/dlq-record.v1.json`.
    Record,
    /// `schemas/dlq-alert.v1.json`.
    Alert,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    crate::dlq::record::parse_time(s)
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 time (e.g. 2024-01-15T14:00:00Z)"))
}

fn parse_reason(s: &str) -> Result<Reason, String> {
    s.parse()
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    if let Cmd::Schema(a) = &args.command {
        let v = match a.which {
            Which::Record => crate::dlq::record::schema(),
            Which::Alert => crate::dlq::alert::schema(),
        };
        super::print_stdout(&json_text(&v)?)?;
        return Ok(ExitStatus::Success);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(args.command))
}

async fn run(cmd: Cmd) -> anyhow::Result<ExitStatus> {
    match cmd {
        Cmd::List(a) => list(a, false).await,
        Cmd::Stats(a) => list(a, true).await,
        Cmd::Show(a) => show(a).await,
        Cmd::Replay(a) => replay_cmd(a).await,
        Cmd::Schema(_) => unreachable!("handled before the runtime starts"),
    }
}

fn env_vars() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

async fn open_and_scan(source: &str) -> anyhow::Result<(Store, Scan)> {
    let src = Source::parse(source)?;
    let store = Store::open(&src, &env_vars())?;
    let scan = inspect::scan(&store).await?;
    for b in &scan.bad {
        // A key and a parser's words about an object's bytes are outside text: escaped.
        crate::errln!(
            "warning: {}/{}: {} (skipped)",
            store.location().trim_end_matches('/'),
            crate::diag::printable(&b.key),
            crate::diag::printable(&b.problem)
        );
    }
    Ok((store, scan))
}

/// 1 when bad objects were found (a finding), else 0.
fn status_of(scan: &Scan) -> ExitStatus {
    if scan.bad.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

async fn list(a: ListArgs, stats: bool) -> anyhow::Result<ExitStatus> {
    let filter = a.filter.filter()?;
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let found: Vec<&Found> = scan
        .records
        .iter()
        .filter(|f| filter.accepts(&f.record))
        .collect();
    let text = if stats {
        let s = inspect::stats(found.iter().copied());
        match a.format {
            Format::Json => json_text(&serde_json::to_value(&s)?)?,
            Format::Human => render::stats(&s, store.location(), scan.bad.len()),
        }
    } else {
        let rows: Vec<Row> = found.iter().map(|f| Row::of(f)).collect();
        match a.format {
            Format::Json => json_text(&serde_json::to_value(&rows)?)?,
            Format::Human => {
                crate::errln!(
                    "{}",
                    render::list_summary(&rows, store.location(), scan.bad.len())
                );
                render::rows(&rows)
            }
        }
    };
    super::print_stdout(&text)?;
    Ok(status_of(&scan))
}

async fn show(a: ShowArgs) -> anyhow::Result<ExitStatus> {
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let id = a.id.trim_start_matches('/');
    let hits: Vec<&Found> = scan
        .records
        .iter()
        .filter(|f| {
            f.record.event_id == id
                || f.key == id
                || f.key.ends_with(&format!("/{id}"))
                || format!("{}/{}", f.record.rule_id, f.record.event_id) == id
        })
        .collect();
    if hits.is_empty() {
        bail!(
            "no record with event id or key `{}` in {} ({} records); `cxsync dlq list` shows them",
            a.id,
            store.location(),
            scan.records.len()
        );
    }
    let out = match a.format {
        // The records exactly as stored, one JSON document each.
        Format::Json => hits
            .iter()
            .map(|f| serde_json::to_string_pretty(&f.record).map(|s| s + "\n"))
            .collect::<Result<String, _>>()?,
        Format::Human => render::show(&hits, &store)?,
    };
    super::print_stdout(&out)?;
    Ok(status_of(&scan))
}

async fn replay_cmd(a: ReplayArgs) -> anyhow::Result<ExitStatus> {
    let filter = a.filter.filter()?;
    let Ok(loaded) = load_or_report(
        &a.spec,
        &a.spec_args,
        diag::Format::Full,
        crate::spec::EnvSecrets::Deferred,
    ) else {
        bail!("cannot replay: the spec `{}` has errors", a.spec.display());
    };
    let (spec, vars) = (&loaded.spec, &loaded.vars);
    let now = a.now.unwrap_or_else(Utc::now);
    let replayer = match Replayer::new(spec, a.target.as_deref(), now) {
        Ok(r) => r,
        Err(ds) => {
            super::load::report(ds, &loaded.sources, diag::Format::Full);
            bail!("cannot replay: the spec `{}` has errors", a.spec.display());
        }
    };
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let foreign = replay::foreign_channels(
        scan.records.iter().filter(|f| filter.accepts(&f.record)),
        spec,
    );
    if !foreign.is_empty() && !a.allow_other_channel {
        let theirs: Vec<String> = foreign
            .iter()
            .map(|(c, n)| format!("`{}` ({n} record(s))", diag::printable(c)))
            .collect();
        bail!(
            "the records in {} were dead-lettered on channel {}, not on the spec's channel `{}`{}: replaying them would send another integration's events to {}; replay them with the spec (and --env) that made them, select this channel's records with --rule, or pass --allow-other-channel",
            store.location(),
            theirs.join(", "),
            spec.raw.channel.name,
            a.spec_args
                .env
                .as_deref()
                .map(|e| format!(" (environment `{e}`)"))
                .unwrap_or_default(),
            replayer.url
        );
    }
    let elsewhere = replay::foreign_destinations(
        scan.records.iter().filter(|f| filter.accepts(&f.record)),
        spec,
    );
    if !elsewhere.is_empty() && !a.allow_other_endpoint {
        let env_name = |e: &Option<String>| match e {
            Some(e) => format!("environment `{}`", diag::printable(e)),
            None => "the base spec".to_string(),
        };
        let theirs: Vec<String> = elsewhere
            .iter()
            .map(|f| {
                let envs: Vec<String> = f.environments.iter().map(env_name).collect();
                format!(
                    "{} ({}, {} record(s))",
                    diag::printable(&f.destination),
                    envs.join(", "),
                    f.records
                )
            })
            .collect();
        bail!(
            "the records in {} were dead-lettered on their way to {}, not to the spec's endpoint {} ({}): they belong to another environment; replay them with the spec and --env that made them, select the others with filters, or pass --allow-other-endpoint",
            store.location(),
            theirs.join(", "),
            crate::dlq::record::Provenance::of(spec, None).destination,
            env_name(&a.spec_args.env)
        );
    }
    let mut evals: Vec<Evaluation> = scan
        .records
        .iter()
        .filter(|f| filter.accepts(&f.record))
        .map(|f| replayer.evaluate(f))
        .collect();
    // A batch the CRM may have written goes whole or not at all (#211).
    replay::check_whole(&mut evals, &scan.records);
    // Records sharing a key: the CRM would drop all but the first (#218).
    // Only a CRM that reads the key drops them (as lint CX030 asks, `crm::dedup`).
    let shared = if replayer.dedup_by_header {
        replay::shared_keys(&evals)
    } else {
        Vec::new()
    };
    if !shared.is_empty() {
        if !a.allow_duplicate_keys {
            // Refused, not a tool error: exit 1 like a replay that left records behind.
            crate::errln!(
                "error: cannot replay: {}{}",
                replay::refusal(&evals, &shared),
                if a.dry_run {
                    " (dry run: nothing would be sent)"
                } else {
                    "; nothing was sent"
                }
            );
            return Ok(ExitStatus::Failure);
        }
        replay::hold_back_duplicates(&mut evals, &shared);
    }
    // A replayed older event can set back a record a newer one wrote (#217).
    if let Some(w) = replay::set_back_warning(spec, &evals) {
        crate::errln!("warning: {w}");
    }
    // A filter that matches nothing is a typo more often than not: say so, and exit 1.
    let unmatched = replay::unmatched(&filter, &scan.records, spec, evals.len());
    for note in &unmatched {
        crate::errln!("note: {note}");
    }
    let shown = render::Shown::of(spec, a.target.as_deref(), &replayer);
    if a.dry_run {
        let text = match a.format {
            Format::Json => json_text(&render::dry_run_json(&evals, &shown, &store))?,
            Format::Human => render::dry_run(&evals, &replayer, &shown, &store),
        };
        super::print_stdout(&text)?;
        let pending = evals.iter().filter(|e| !e.already_replayed);
        return Ok(
            if pending.clone().all(Evaluation::deliverable)
                && scan.bad.is_empty()
                && unmatched.is_empty()
            {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            },
        );
    }
    let mut sink = DriverSink::from_spec(
        spec,
        &replayer.url,
        a.token_url.as_deref(),
        a.client_secret_env.as_deref(),
        vars,
        std::time::SystemTime::now(),
        a.concurrency.map(usize::from),
    )?;
    // A wrong --token-url or credentials: one line and exit 2, before anything is sent (#232).
    sink.check_token_endpoint().await?;
    let opts = ReplayOptions {
        purge: a.purge,
        now,
        max_consecutive_failures: (a.max_failures > 0).then_some(a.max_failures),
    };
    // On a terminal, a bar over the records that will be sent.
    let to_send = evals
        .iter()
        .filter(|e| e.deliverable() && !e.already_replayed)
        .count() as u64;
    // A CRM that does not deduplicate writes again what it may already hold (#251): said
    // before anything is sent.
    let pending: Vec<&Evaluation> = evals.iter().collect();
    if let Some(n) = render::writes_again(&replayer, &pending) {
        crate::errln!("{}", render::writes_again_summary(n));
    }
    // One replay of a DLQ at a time: a second would send every record again (#78).
    let lock = store.lock_replay(Utc::now()).await?;
    let mut sink = Counted {
        inner: sink,
        progress: super::progress::Progress::new(to_send, "records"),
    };
    // SIGINT and SIGTERM are heard from here on: the replay stops handing records over, leaves
    // those in flight unmarked, and says what was done (tester #200). Registered before anything
    // is sent, so no signal in between kills the run silently.
    let signals = Signals::listen()?;
    let replay::Replayed {
        results,
        interrupted,
    } = replay::replay_until(&store, &replayer, &evals, &mut sink, &opts, signals.next()).await;
    drop(sink);
    lock.release().await;
    let stopped = interrupted.map(|signal| Interruption::of(signal, &results, replayer.dedup_none));
    let text = match a.format {
        Format::Json => {
            let mut v = render::replay_json(&results, &shown, &store);
            if let Some(s) = &stopped {
                v["interrupted"] = s.to_json();
            }
            json_text(&v)?
        }
        Format::Human => render::replay(&results),
    };
    // The summary goes to stderr first: stdout may be a closed pipe by now.
    if let Some(s) = &stopped {
        crate::stdio::stderr(&s.summary());
    }
    super::print_stdout(&text)?;
    if let Some(s) = stopped {
        return Ok(ExitStatus::Interrupted(s.signal.number()));
    }
    let clean = results.iter().all(|(_, o)| {
        matches!(
            o,
            Disposition::Delivered { .. } | Disposition::AlreadyReplayed { .. }
        )
    });
    Ok(if clean && scan.bad.is_empty() && unmatched.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// A replay sink that moves the progress bar once per record settled.
struct Counted<S> {
    inner: S,
    progress: super::progress::Progress,
}

impl<S: replay::ReplaySink + Send> replay::ReplaySink for Counted<S> {
    fn window(&self) -> usize {
        self.inner.window()
    }

    fn submit(&mut self, tag: usize, d: &replay::Delivery<'_>) {
        self.progress.message(d.event_id);
        self.inner.submit(tag, d);
    }

    fn submit_batch(&mut self, members: &[(usize, replay::Delivery<'_>)], key: &str) {
        if let Some((_, d)) = members.first() {
            self.progress.message(d.event_id);
        }
        self.inner.submit_batch(members, key);
    }

    async fn settled(&mut self) -> Vec<(usize, replay::SinkOutcome)> {
        let done = self.inner.settled().await;
        self.progress.inc(done.len() as u64);
        done
    }
}

/// A signal a replay stops on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// Its number: the exit status is 128 plus it, as a shell reports a process it killed.
    fn number(self) -> u8 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }
}

/// SIGINT and SIGTERM, listened to from the moment of [`Signals::listen`].
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The first signal that comes.
    async fn next(mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Signal::Interrupt,
                _ = self.terminate.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signal::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// What an interrupted replay did, counted over the records it selected.
struct Interruption {
    signal: Signal,
    /// Delivered and marked in this run.
    delivered: usize,
    /// Settled without a 2xx (or delivered and not marked): left for the next run.
    failed: usize,
    /// Sent, no answer taken in before the signal: left unmarked for the next run.
    in_flight: usize,
    /// Not handed over.
    not_sent: usize,
    skipped: usize,
    already: usize,
    /// How to run it again.
    resume: String,
    /// Whether the CRM does not deduplicate ([`Replayer::dedup_none`]): a resend of one in
    /// flight that it wrote is a second record.
    dedup_none: bool,
}

impl Interruption {
    fn of(signal: Signal, results: &[(String, Disposition)], dedup_none: bool) -> Interruption {
        let count = |f: fn(&Disposition) -> bool| results.iter().filter(|(_, d)| f(d)).count();
        Interruption {
            signal,
            delivered: count(|d| matches!(d, Disposition::Delivered { .. })),
            failed: count(|d| {
                matches!(
                    d,
                    Disposition::Rejected { .. }
                        | Disposition::Failed { .. }
                        | Disposition::MarkerFailed { .. }
                )
            }),
            in_flight: count(|d| matches!(d, Disposition::Interrupted)),
            not_sent: count(|d| matches!(d, Disposition::NotAttempted)),
            skipped: count(|d| matches!(d, Disposition::Skipped { .. })),
            already: count(|d| matches!(d, Disposition::AlreadyReplayed { .. })),
            resume: resume_command(std::env::args_os()),
            dedup_none,
        }
    }

    fn sent(&self) -> usize {
        self.delivered + self.failed + self.in_flight
    }

    /// Records the next run sends: all but the delivered, skipped and already replayed.
    fn left(&self) -> usize {
        self.failed + self.in_flight + self.not_sent
    }

    fn summary(&self) -> String {
        let mut out = format!(
            "interrupted by {}: {} sent ({} delivered and marked replayed, {} failed, {} in flight without an answer), {} not sent, {} skipped, {} already replayed; {} left for the next run\n",
            self.signal.name(),
            self.sent(),
            self.delivered,
            self.failed,
            self.in_flight,
            self.not_sent,
            self.skipped,
            self.already,
            self.left()
        );
        if self.in_flight > 0 {
            let consequence = if self.dedup_none {
                "the CRM may have written them, and it does not deduplicate: a resend writes each it did write again; check the CRM for them before resuming"
            } else {
                "the CRM may have written them; one that honours the key applies each once"
            };
            out.push_str(&format!(
                "  the {} in flight are not marked: the next run resends them with their original keys ({consequence})\n",
                self.in_flight
            ));
        }
        out.push_str(&format!(
            "  resume: {}\n  (the same command: records marked replayed are not sent again)\n",
            self.resume
        ));
        out
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "signal": self.signal.name(),
            "exitCode": 128 + u32::from(self.signal.number()),
            "sent": self.sent(),
            "delivered": self.delivered,
            "failed": self.failed,
            "inFlight": self.in_flight,
            "notSent": self.not_sent,
            "skipped": self.skipped,
            "alreadyReplayed": self.already,
            "left": self.left(),
            "resume": self.resume,
        })
    }
}

/// The command line that was run, quoted for a POSIX shell, to be run again as it was. A URL's
/// password is the one thing shown otherwise: as `***`, never printed.
fn resume_command(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    args.map(|a| shell_quote(&hide_password(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ")
}

fn hide_password(arg: &str) -> String {
    match url::Url::parse(arg) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => arg.to_string(),
    }
}

/// `arg` as one word of a POSIX shell: bare when it is made of safe characters, else in single
/// quotes; a control character is escaped as the terminal must not act on it.
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    let arg = diag::printable(arg);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.into_owned();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// A JSON document as printed: pretty, with a final newline.
fn json_text(v: &serde_json::Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}
