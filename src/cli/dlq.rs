//! `cxsync dlq list|show|stats|replay|schema`: inspect dead-lettered events in a folder or an S3
//! bucket, and prove a fix on them before re-sending them with their original idempotency keys.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ExitStatus;
use crate::delivery::Reason;
use crate::diag::{self, Sources};
use crate::dlq::inspect::{self, Filter, Found, Row, Scan};
use crate::dlq::replay::{self, DriverSink, Evaluation, Outcome, ReplayOptions, Replayer};
use crate::dlq::store::{Source, Store};
use crate::spec::{self, LoadOptions};

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
}

impl FilterArgs {
    fn filter(&self) -> Filter {
        Filter {
            since: self.since,
            until: self.until,
            reasons: self.reason.clone(),
            event_types: self.event_type.clone(),
        }
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
    /// An event id, or a key such as `2024/01/15/evt-1001.json`.
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
    /// Environment overlay of the spec.
    #[arg(long)]
    pub env: Option<String>,
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
    /// The time `$now()` returns in transforms and markers record (RFC 3339; default: now).
    #[arg(long, value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
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
        super::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
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
        eprintln!(
            "warning: {}/{}: {} (skipped)",
            store.location().trim_end_matches('/'),
            b.key,
            b.problem
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
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let filter = a.filter.filter();
    let found: Vec<&Found> = scan
        .records
        .iter()
        .filter(|f| filter.accepts(&f.record))
        .collect();
    let text = if stats {
        let s = inspect::stats(found.iter().copied());
        match a.format {
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&s)?),
            Format::Human => render_stats(&s, store.location(), scan.bad.len()),
        }
    } else {
        let rows: Vec<Row> = found.iter().map(|f| Row::of(f)).collect();
        match a.format {
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&rows)?),
            Format::Human => {
                let t = render_rows(&rows);
                let replayed = rows.iter().filter(|r| r.replayed).count();
                eprintln!(
                    "{} record{} ({replayed} replayed) in {}{}",
                    rows.len(),
                    plural(rows.len()),
                    store.location(),
                    bad_note(scan.bad.len())
                );
                t
            }
        }
    };
    super::print_stdout(&text)?;
    Ok(status_of(&scan))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn bad_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} unreadable object{} skipped", plural(n))
    }
}

fn status_text(s: Option<u16>) -> String {
    s.map_or_else(|| "-".to_string(), |s| s.to_string())
}

fn render_rows(rows: &[Row]) -> String {
    let mut table = vec![[
        "DEAD-LETTERED AT".to_string(),
        "EVENT ID".to_string(),
        "EVENT TYPE".to_string(),
        "REASON".to_string(),
        "STATUS".to_string(),
        "ATTEMPTS".to_string(),
        String::new(),
    ]];
    for r in rows {
        table.push([
            r.dead_lettered_at.clone(),
            r.event_id.clone(),
            r.event_type.clone(),
            r.reason.to_string(),
            status_text(r.last_status),
            r.attempts.to_string(),
            if r.replayed { "replayed" } else { "" }.to_string(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &table {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (i, (w, c)) in widths.iter().zip(row).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{c:<w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn render_stats(s: &inspect::Stats, location: &str, bad: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} record{} in {} ({} replayed){}",
        s.total,
        plural(s.total as usize),
        location,
        s.replayed,
        bad_note(bad)
    );
    if s.total == 0 {
        return out;
    }
    let max = [
        s.by_reason.values().max(),
        s.by_status.values().max(),
        s.by_event_type.values().max(),
    ]
    .into_iter()
    .flatten()
    .copied()
    .max()
    .unwrap_or(1)
    .max(1);
    let section = |out: &mut String, title: &str, items: Vec<(String, u64)>| {
        let _ = writeln!(out, "\n{title}");
        let w = items.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut items = items;
        // Largest first; ties in name order, so output is stable.
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (k, n) in items {
            let bar = "█".repeat(((n * 30).div_ceil(max)) as usize);
            let _ = writeln!(out, "  {k:<w$}  {n:>6}  {bar}");
        }
    };
    section(
        &mut out,
        "by reason",
        s.by_reason
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    );
    section(
        &mut out,
        "by last status",
        s.by_status.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    );
    section(
        &mut out,
        "by event type",
        s.by_event_type
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    );
    let unit = if s.bucket_seconds == 3600 {
        "hour".to_string()
    } else {
        format!("{} days", s.bucket_seconds / 86400)
    };
    let counts: Vec<u64> = s.over_time.iter().map(|b| b.count).collect();
    if let (Some(first), Some(last)) = (s.over_time.first(), s.over_time.last()) {
        let _ = writeln!(
            out,
            "\nover time (per {unit}, UTC)\n  {}  {}  {}  peak {}",
            first.start,
            inspect::sparkline(&counts),
            last.start,
            counts.iter().max().unwrap_or(&0)
        );
        for b in s.over_time.iter().filter(|b| b.count > 0) {
            let _ = writeln!(out, "  {}  {:>6}", b.start, b.count);
        }
    }
    out
}

async fn show(a: ShowArgs) -> anyhow::Result<ExitStatus> {
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let id = a.id.trim_start_matches('/');
    let hits: Vec<&Found> = scan
        .records
        .iter()
        .filter(|f| f.record.event_id == id || f.key == id || f.key.ends_with(&format!("/{id}")))
        .collect();
    if hits.is_empty() {
        bail!(
            "no record with event id or key `{}` in {} ({} records); `cxsync dlq list` shows them",
            a.id,
            store.location(),
            scan.records.len()
        );
    }
    let mut out = String::new();
    for (i, f) in hits.iter().enumerate() {
        match a.format {
            Format::Json => {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&f.record)?);
            }
            Format::Human => {
                if i > 0 {
                    out.push('\n');
                }
                let _ = writeln!(
                    out,
                    "# {}/{}{}",
                    store.location().trim_end_matches('/'),
                    f.key,
                    if f.replayed { "  (replayed)" } else { "" }
                );
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&f.record)?);
            }
        }
    }
    super::print_stdout(&out)?;
    Ok(status_of(&scan))
}

async fn replay_cmd(a: ReplayArgs) -> anyhow::Result<ExitStatus> {
    let vars = env_vars();
    let loaded = spec::load(
        &a.spec,
        &LoadOptions {
            env: a.env.clone(),
            vars: vars.clone(),
        },
    );
    let mut sources = Sources::new();
    sources.extend(loaded.sources);
    let fail = |diags: &mut Vec<diag::Diagnostic>, sources: &Sources| -> anyhow::Result<()> {
        diag::sort(diags);
        let text = diag::render(
            diags,
            sources,
            diag::Format::Full,
            super::stderr_is_terminal(),
        );
        eprint!("{text}");
        Ok(())
    };
    let mut diags = loaded.diags;
    let Some(spec) = loaded
        .spec
        .filter(|_| !diags.iter().any(|d| d.severity == diag::Severity::Error))
    else {
        fail(&mut diags, &sources)?;
        bail!("cannot replay: the spec `{}` has errors", a.spec.display());
    };
    let now = a.now.unwrap_or_else(Utc::now);
    let replayer = match Replayer::new(&spec, a.target.as_deref(), now) {
        Ok(r) => r,
        Err(mut ds) => {
            if let Ok(text) = std::fs::read_to_string(&spec.path) {
                sources.add(&spec.path, text);
            }
            fail(&mut ds, &sources)?;
            bail!("cannot replay: the spec `{}` has errors", a.spec.display());
        }
    };
    let (store, scan) = open_and_scan(&a.source.source).await?;
    let filter = a.filter.filter();
    let evals: Vec<Evaluation> = scan
        .records
        .iter()
        .filter(|f| filter.accepts(&f.record))
        .map(|f| replayer.evaluate(f))
        .collect();
    if a.dry_run {
        let text = match a.format {
            Format::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({
                    "source": store.location(),
                    "url": replayer.url,
                    "records": evals,
                    "summary": summary_json(&evals),
                }))?
            ),
            Format::Human => render_dry_run(&evals, &replayer, &store),
        };
        super::print_stdout(&text)?;
        let pending = evals.iter().filter(|e| !e.already_replayed);
        return Ok(
            if pending.clone().all(Evaluation::deliverable) && scan.bad.is_empty() {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            },
        );
    }
    let mut sink = DriverSink::from_spec(
        &spec,
        &replayer.url,
        a.token_url.as_deref(),
        a.client_secret_env.as_deref(),
        &vars,
        std::time::SystemTime::now(),
    )?;
    let opts = ReplayOptions {
        purge: a.purge,
        now,
        max_consecutive_failures: (a.max_failures > 0).then_some(a.max_failures),
    };
    let results = replay::replay(&store, &replayer, &evals, &mut sink, &opts).await;
    let text = match a.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "source": store.location(),
                "url": replayer.url,
                "records": results
                    .iter()
                    .map(|(id, o)| json!({"eventId": id, "result": o}))
                    .collect::<Vec<_>>(),
            }))?
        ),
        Format::Human => render_replay(&results),
    };
    super::print_stdout(&text)?;
    let clean = results.iter().all(|(_, o)| {
        matches!(
            o,
            Outcome::Delivered { .. } | Outcome::AlreadyReplayed { .. }
        )
    });
    Ok(if clean && scan.bad.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn summary_json(evals: &[Evaluation]) -> Value {
    let pending: Vec<&Evaluation> = evals.iter().filter(|e| !e.already_replayed).collect();
    let mut still: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &pending {
        for p in &e.problems {
            *still.entry(p.label()).or_insert(0) += 1;
        }
    }
    json!({
        "records": pending.len(),
        "wouldDeliver": pending.iter().filter(|e| e.deliverable()).count(),
        "stillFailing": pending.iter().filter(|e| !e.deliverable()).count(),
        "alreadyReplayed": evals.len() - pending.len(),
        "problems": still,
    })
}

/// Long strings (transcripts, blobs) shortened so a diff stays readable.
fn abbreviate(v: &Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > 80 => {
            let head: String = s.chars().take(60).collect();
            Value::String(format!("{head}… ({} chars)", s.chars().count()))
        }
        Value::Array(a) if a.len() > 3 => {
            let mut out: Vec<Value> = a.iter().take(2).map(abbreviate).collect();
            out.push(Value::String(format!("… {} more items", a.len() - 2)));
            Value::Array(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(abbreviate).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), abbreviate(v))).collect())
        }
        other => other.clone(),
    }
}

fn pretty(v: Option<&Value>) -> String {
    v.map(|v| serde_json::to_string_pretty(&abbreviate(v)).unwrap_or_default() + "\n")
        .unwrap_or_default()
}

/// Most diff lines shown per record.
const MAX_DIFF_LINES: usize = 30;

fn render_diff(old: Option<&Value>, new: Option<&Value>) -> String {
    let (a, b) = (pretty(old), pretty(new));
    let mut out = String::new();
    if a == b {
        out.push_str("    (unchanged)\n");
        return out;
    }
    let diff = similar::TextDiff::from_lines(&a, &b);
    let mut lines = 0;
    let mut hidden = 0;
    for group in diff.grouped_ops(1) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                if lines >= MAX_DIFF_LINES {
                    hidden += 1;
                    continue;
                }
                lines += 1;
                let _ = writeln!(out, "    {sign} {}", change.value().trim_end_matches('\n'));
            }
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "    … {hidden} more diff lines (--format json has both payloads)"
        );
    }
    out
}

fn render_dry_run(evals: &[Evaluation], r: &Replayer, store: &Store) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dry run: {} record{} from {}; nothing is sent\n",
        evals.len(),
        plural(evals.len()),
        store.location()
    );
    for e in evals {
        let verdict = if e.already_replayed {
            "ALREADY REPLAYED (not sent again)".to_string()
        } else if e.deliverable() {
            "WOULD DELIVER".to_string()
        } else {
            let labels: Vec<&str> = e.problems.iter().map(|p| p.label()).collect();
            format!("STILL FAILS ({})", labels.join(", "))
        };
        let _ = writeln!(out, "{}  {}  {verdict}", e.event_id, e.key);
        let _ = writeln!(
            out,
            "  was     {}, last status {}, rule {}",
            e.reason,
            status_text(e.last_status),
            e.old_rule
        );
        match &e.rule {
            Some(rule) if *rule == e.old_rule => {
                let _ = writeln!(out, "  rule    {rule} still matches {}", e.event_type);
            }
            Some(rule) => {
                let _ = writeln!(out, "  rule    {rule} matches now (was {})", e.old_rule);
            }
            None => {
                let _ = writeln!(
                    out,
                    "  rule    no enabled rule matches {} any more",
                    e.event_type
                );
            }
        }
        for p in &e.problems {
            let _ = writeln!(out, "  problem {p}");
        }
        if let Some(bytes) = e.payload_bytes {
            let guard = r
                .max_payload_bytes
                .map_or_else(|| "no size guard".to_string(), |l| format!("guard {l}"));
            let _ = writeln!(out, "  size    {bytes} bytes ({guard})");
        }
        if let Some(errs) = &e.schema_ok {
            let _ = writeln!(out, "  schema  {}", if *errs { "ok" } else { "violated" });
        }
        if e.new_payload.is_some() {
            let _ = writeln!(out, "  payload old → new");
            out.push_str(&render_diff(e.old_payload.as_ref(), e.new_payload.as_ref()));
        }
        if e.deliverable() && !e.already_replayed {
            let _ = writeln!(
                out,
                "  send    POST {}  {}: {}{}",
                r.url,
                r.header,
                e.idempotency_key.as_deref().unwrap_or(""),
                if e.original_key {
                    " (original key)"
                } else {
                    " (new key: the record had none)"
                }
            );
        }
        out.push('\n');
    }
    let pending: Vec<&Evaluation> = evals.iter().filter(|e| !e.already_replayed).collect();
    let would = pending.iter().filter(|e| e.deliverable()).count();
    let mut still: BTreeMap<&str, u64> = BTreeMap::new();
    for e in pending.iter().filter(|e| !e.deliverable()) {
        for p in &e.problems {
            *still.entry(p.label()).or_insert(0) += 1;
        }
    }
    let _ = write!(
        out,
        "{would} of {} record{} would now be delivered",
        pending.len(),
        plural(pending.len())
    );
    if !still.is_empty() {
        let parts: Vec<String> = still.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = write!(
            out,
            "; {} still fail ({})",
            pending.len() - would,
            parts.join(", ")
        );
    }
    let replayed = evals.len() - pending.len();
    if replayed > 0 {
        let _ = write!(out, "; {replayed} already replayed");
    }
    out.push('\n');
    out
}

fn render_replay(results: &[(String, Outcome)]) -> String {
    let mut out = String::new();
    let (mut delivered, mut already, mut skipped, mut failed, mut left) = (0, 0, 0, 0, 0);
    for (id, o) in results {
        let line = match o {
            Outcome::Delivered { status, purged } => {
                delivered += 1;
                format!(
                    "delivered  {id}  {status}{}",
                    if *purged { "  (purged)" } else { "" }
                )
            }
            Outcome::AlreadyReplayed { purged } => {
                already += 1;
                format!(
                    "already    {id}  replayed earlier, not sent{}",
                    if *purged { "  (purged)" } else { "" }
                )
            }
            Outcome::Skipped { problems } => {
                skipped += 1;
                format!("skipped    {id}  {}", problems.join("; "))
            }
            Outcome::Rejected {
                status,
                body,
                reason,
            } => {
                failed += 1;
                let body: String = body.chars().take(120).collect();
                format!("rejected   {id}  {status} ({reason}) {body}")
            }
            Outcome::Failed { error } => {
                failed += 1;
                format!("failed     {id}  {error}")
            }
            Outcome::NotAttempted => {
                left += 1;
                format!("not tried  {id}  (stopped after repeated failures)")
            }
            Outcome::MarkerFailed { status, error } => {
                failed += 1;
                format!(
                    "delivered  {id}  {status} but the marker was not written ({error}); a resume resends it with the same key"
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n{delivered} delivered, {already} already replayed, {skipped} skipped, {failed} failed, {left} not tried (of {})",
        results.len()
    );
    out
}
