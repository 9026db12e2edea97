//! `cxsync eval (--expr EXPR | --spec SPEC --rule NAME) (--event FILE | --events FILE) [--now T]`:
//! events through one transform.
//!
//! `--event`: one JSON event; prints the output as JSON (exit 0), nothing for an undefined result
//! (exit 0), or the JSONata error with its code on stderr (exit 1).
//!
//! `--events`: NDJSON, one event per line, streamed with constant memory (one line at a time, at
//! most [`MAX_EVENT_BYTES`] each); writes one compact JSON line per event to stdout, in input
//! order: the output, an empty line for undefined, or
//! `{"error":{"code":…,"message":…,"line":N}}` for an event that failed (`N` is its input line).
//! Errors stay on stdout so outputs line up with inputs; blank input lines are skipped. Exit 1
//! when any event failed (a count on stderr), 0 otherwise. A line `test` would refuse as a
//! fixture is an error line and is not evaluated: `EVENT_NOT_OBJECT` (an array, string, number,
//! boolean or null: an event is a JSON object, E307) and `DUPLICATE_KEY` (a key twice in one
//! object, with both columns: JSON readers disagree on which one counts, E308). With `--event`
//! the same two are warnings on stderr, and the file is evaluated as written (an expression
//! may be tried on any JSON).
//!
//! `--expr` gets the checks `validate` makes on a rule's transform: syntax (`E500`), the guide's
//! dialect (`E501`, `E502`, with the standard form) and paths the event does not have (`E503`,
//! a warning with a did-you-mean, checked against the event or the stream's first event).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use super::{ExitStatus, SpecArgs};
use crate::diag::{Diagnostic, Format, Severity, Sources, Span};
use crate::spec::{self, TransformOrigin};
use crate::transform::checks::{self, PathSource};
use crate::transform::{json, runner, Transform};

/// Longest event line `--events` reads (the size limit of every file cxsync reads).
pub const MAX_EVENT_BYTES: usize = spec::MAX_FILE_BYTES as usize;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["expr", "spec"])))]
#[command(group(clap::ArgGroup::new("input").required(true).args(["event", "events"])))]
#[command(mut_arg("now", |a| a.help(
    "The instant `$now()` and `$millis()` return (RFC 3339). Default: the current time",
)))]
pub struct Args {
    /// A JSONata expression (it may start with `-`: `--expr '-1.5 & ""'`).
    #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["spec", "rule"])]
    pub expr: Option<String>,
    /// A spec whose rule's transform to use (with --rule).
    #[arg(long, requires = "rule")]
    pub spec: Option<PathBuf>,
    /// The rule, by id or name.
    #[arg(long, requires = "spec")]
    pub rule: Option<String>,
    /// The event, a JSON file (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Events, one JSON object per line (NDJSON; `-` reads stdin): one compact JSON line out per
    /// event, errors as {"error": {"code", "message", "line"}} on stdout.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub now: super::load::Now,
    /// Print compact JSON on one line instead of pretty JSON (`--events` always does).
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub spec_args: SpecArgs,
}

/// A rule's event type and conditions, to say which events it would not send.
struct RuleFilter {
    id: String,
    event_type: String,
    conditions: indexmap::IndexMap<String, Vec<Value>>,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    // The CLI is the one place allowed to read the clock; `test` never does.
    let now = args.now.instant()?.unwrap_or_else(chrono::Utc::now);
    match (&args.event, &args.events) {
        (Some(file), _) => single(&args, file, now),
        (None, Some(file)) => stream(&args, file, now),
        (None, None) => anyhow::bail!("give --event FILE or --events FILE"),
    }
}

fn single(
    args: &Args,
    file: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitStatus> {
    let event_text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(spec::MAX_FILE_BYTES + 1)
            .read_to_string(&mut s)
            .context("reading stdin")?;
        anyhow::ensure!(
            s.len() as u64 <= spec::MAX_FILE_BYTES,
            "the event on stdin is larger than {} bytes",
            spec::MAX_FILE_BYTES
        );
        s
    } else {
        spec::read_text(file).map_err(|d| anyhow::anyhow!("{}: {}", file.display(), d.message))?
    };
    // A fixture's reader: a byte order mark before the event is read (#169).
    let event_text = spec::files::json_text(&event_text).into_owned();
    let event: Value = match serde_json::from_str(&event_text) {
        Ok(v) => v,
        // Too deep for cxsync's JSON reader: said so, with the limit and a help line (#231).
        Err(e) if spec::json::error_help(&e).is_some() => {
            crate::errln!(
                "error: {} {}\n  = help: {}",
                file.display(),
                spec::json::error_message(&e),
                spec::json::error_help(&e).unwrap_or_default()
            );
            return Ok(ExitStatus::Error);
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("{} is not JSON", file.display())))
        }
    };
    if let Some((code, why)) = refusal(&event_text, true) {
        crate::errln!(
            "warning: {}: {why} ({code}); evaluating anyway",
            file.display()
        );
    }
    let (transform, filter, place) = match source(args, Some(&event))? {
        Ok(t) => t,
        Err(status) => return Ok(status),
    };
    if let Some(f) = &filter {
        if let Some(why) = runner::filter(&event, &f.event_type, &f.conditions) {
            crate::errln!(
                "note: rule `{}` would not send this event ({why}); evaluating anyway",
                f.id
            );
        }
    }
    match transform.eval(&event, now) {
        Ok(None) => Ok(ExitStatus::Success),
        Ok(Some(v)) => {
            let mut s = if args.compact {
                json::to_compact(&v)
            } else {
                json::to_pretty(&v)
            };
            s.push('\n');
            super::print_stdout(&s)?;
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            crate::errln!("error: {e}");
            if let Some(at) = place(&e) {
                crate::errln!("  --> {at}");
            }
            Ok(ExitStatus::Failure)
        }
    }
}

fn stream(
    args: &Args,
    file: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitStatus> {
    // A bar over the file's bytes when stderr is a terminal and stdout is not (the outputs would
    // garble it); none for stdin, whose length is unknown.
    let mut size = 0u64;
    let input: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        size = f.metadata().map_or(0, |m| m.len());
        Box::new(f)
    };
    let progress = if super::stdout_is_terminal() {
        super::progress::Progress::hidden()
    } else {
        super::progress::Progress::bytes(size)
    };
    let mut read = 0u64;
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut line_no = 0usize;

    // The first event, for the path checks of --expr; it is evaluated like every other.
    let mut first: Option<(usize, Result<Vec<u8>, usize>)> = None;
    while let Some(too_long) = read_line(&mut input, &mut buf, MAX_EVENT_BYTES)? {
        line_no += 1;
        if line_no == 1 {
            // A byte order mark before the first event is read as a fixture's is (#169).
            if let Ok(text) = std::str::from_utf8(&buf) {
                if let std::borrow::Cow::Owned(t) = spec::files::json_text(text) {
                    buf = t.into_bytes();
                }
            }
        }
        if too_long.is_none() && is_blank(&buf) {
            continue;
        }
        first = Some((
            line_no,
            match too_long {
                None => Ok(std::mem::take(&mut buf)),
                Some(n) => Err(n),
            },
        ));
        break;
    }
    let first_event: Option<Value> = match &first {
        Some((_, Ok(bytes))) => serde_json::from_slice(bytes).ok(),
        _ => None,
    };
    let (transform, filter, _) = match source(args, first_event.as_ref())? {
        Ok(t) => t,
        Err(status) => return Ok(status),
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut run = Run {
        progress: Some(&progress),
        ..Run::default()
    };
    // A closed stdout (`cxsync eval --events big.jsonl | head`) ends the stream: nobody reads
    // the rest, and the exit code is that of the events evaluated until then.
    let stream = || -> anyhow::Result<()> {
        if let Some((n, line)) = first {
            match line {
                Ok(bytes) => run.event(&transform, filter.as_ref(), &bytes, n, now, &mut out)?,
                Err(len) => run.too_large(len, n, &mut out)?,
            }
        }
        loop {
            // Write what is done before waiting for more input (`tail -f | cxsync eval --events -`).
            if input.buffer().is_empty() {
                out.flush()?;
            }
            let Some(too_long) = read_line(&mut input, &mut buf, MAX_EVENT_BYTES)? else {
                break;
            };
            line_no += 1;
            read += too_long.unwrap_or(buf.len()) as u64 + 1;
            progress.set(read.min(size), size);
            match too_long {
                Some(len) => run.too_large(len, line_no, &mut out)?,
                None if is_blank(&buf) => {}
                None => run.event(&transform, filter.as_ref(), &buf, line_no, now, &mut out)?,
            }
        }
        out.flush()?;
        Ok(())
    };
    match stream() {
        Err(e) if super::is_broken_pipe(&e) => {}
        r => r?,
    }
    drop(out);
    let status = run.finish(filter.as_ref());
    drop(progress);
    Ok(status)
}

/// Why `text`, a JSON event, is one `test` would refuse as a fixture (E307, E308): the code and
/// message of its error line. `None` for an object without repeated keys, and for text that is
/// not JSON at all (the evaluation reports that as INVALID_JSON).
/// Positions are columns of the line, or `line:column` of a file (`file`).
fn refusal(text: &str, file: bool) -> Option<(&'static str, String)> {
    if !text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).ok()?;
        let found = match v {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Some((
            "EVENT_NOT_OBJECT",
            format!("the line is {found}; an event is a JSON object"),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    spec::json::hidden(text).into_iter().find_map(|h| match h {
        spec::json::Hidden::DuplicateKey { key, at, first } => Some(("DUPLICATE_KEY", {
            let pos = |p: crate::diag::Pos| {
                if file {
                    format!("{}:{}", p.line, p.column)
                } else {
                    format!("column {}", p.column)
                }
            };
            format!(
                "duplicate key `{key}` at {} (first at {}): JSON readers disagree on which \
                     one counts",
                pos(at.start),
                pos(first)
            )
        })),
        spec::json::Hidden::InexactInteger { .. } => None,
    })
}

/// Counts of one `--events` run.
#[derive(Default)]
struct Run<'a> {
    /// Where a transform hitting a limit is named, the first time (per error code).
    progress: Option<&'a super::progress::Progress>,
    limits_named: BTreeSet<String>,
    events: usize,
    failed: usize,
    first_failed: Option<usize>,
    not_sent: usize,
    not_sent_lines: Vec<usize>,
}

impl Run<'_> {
    fn event(
        &mut self,
        t: &Transform,
        filter: Option<&RuleFilter>,
        bytes: &[u8],
        line: usize,
        now: chrono::DateTime<chrono::Utc>,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        self.events += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.error("INVALID_JSON", "the line is not UTF-8", line, out);
        };
        let text = text.trim_end_matches('\r');
        if let Some((code, msg)) = refusal(text, false) {
            return self.error(code, &msg, line, out);
        }
        if let Some(f) = filter {
            if let Ok(v) = serde_json::from_str::<Value>(text) {
                if runner::filter(&v, &f.event_type, &f.conditions).is_some() {
                    self.not_sent += 1;
                    if self.not_sent_lines.len() < 5 {
                        self.not_sent_lines.push(line);
                    }
                }
            }
        }
        // The engine's reader goes deeper than cxsync's others; the limit is one (#231).
        if spec::json::nests_too_deep(text) {
            let msg = format!(
                "the event nests deeper than {} levels of arrays and objects (cxsync's limit)",
                spec::json::MAX_JSON_DEPTH
            );
            return self.error("EVENT_TOO_DEEP", &msg, line, out);
        }
        match t.eval_json_text(text, now) {
            Ok(Some(s)) => {
                out.write_all(s.as_bytes())?;
                out.write_all(b"\n")?;
            }
            Ok(None) => out.write_all(b"\n")?,
            // The engine's JSON parser is the one that rejects the line (no JSONata code).
            Err(e) if e.code.is_none() => {
                let msg = e.message.clone();
                self.error("INVALID_JSON", &msg, line, out)?;
            }
            Err(e) => {
                let code = e.code.clone().unwrap_or_default();
                self.error(&code, &e.message, line, out)?;
            }
        }
        Ok(())
    }

    fn too_large(&mut self, len: usize, line: usize, out: &mut impl Write) -> anyhow::Result<()> {
        self.events += 1;
        let msg = format!("the line is {len} bytes; the limit is {MAX_EVENT_BYTES} bytes");
        self.error("EVENT_TOO_LARGE", &msg, line, out)
    }

    fn error(
        &mut self,
        code: &str,
        message: &str,
        line: usize,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        self.failed += 1;
        self.first_failed.get_or_insert(line);
        if let (Some(p), Some(limit)) = (self.progress, crate::transform::limits::limit_hit(code)) {
            if self.limits_named.insert(code.to_string()) {
                p.note(&format!(
                    "warning: line {line}: the transform hit its {limit} ({code}: {message})"
                ));
            }
        }
        let v = serde_json::json!({"error": {"code": code, "message": message, "line": line}});
        out.write_all(json::to_compact(&v).as_bytes())?;
        out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&self, filter: Option<&RuleFilter>) -> ExitStatus {
        if let (Some(f), true) = (filter, self.not_sent > 0) {
            let lines: Vec<String> = self.not_sent_lines.iter().map(|l| l.to_string()).collect();
            crate::errln!(
                "note: rule `{}` would not send {} of {} events (line {}{}); they were evaluated anyway",
                f.id,
                self.not_sent,
                self.events,
                lines.join(", "),
                if self.not_sent > lines.len() { ", …" } else { "" }
            );
        }
        if self.failed > 0 {
            crate::errln!(
                "{} of {} events failed (first at line {}); each has an {{\"error\": …}} line on stdout",
                self.failed,
                self.events,
                self.first_failed.unwrap_or(0)
            );
            return ExitStatus::Failure;
        }
        ExitStatus::Success
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Reads one line (without its `\n`) into `buf`, at most `max` bytes of it: `None` at the end of
/// the input, `Some(None)` for a line, `Some(Some(len))` for a longer line (`buf` is then empty
/// and the rest of the line is skipped, never held in memory).
fn read_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Option<usize>>> {
    buf.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok(any.then_some(if len > max { Some(len) } else { None }));
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        len += chunk.len();
        if len <= max {
            buf.extend_from_slice(chunk);
        } else {
            buf.clear();
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(if len > max { Some(len) } else { None }));
        }
    }
}

/// The transform to evaluate (and, with --spec, the rule's filter), or the exit status after
/// printing why there is none. `event` is what --expr's path checks compare against.
/// Where an evaluation error arose (`file:line:col`, `--expr:1:5`), when its position is known.
type Placer = Box<dyn Fn(&crate::transform::TransformError) -> Option<String>>;

/// A transform to evaluate, the rule whose filter applies, and where its errors arose.
type Source = (Transform, Option<RuleFilter>, Placer);

fn source(args: &Args, event: Option<&Value>) -> anyhow::Result<Result<Source, ExitStatus>> {
    match (&args.expr, &args.spec, &args.rule) {
        (Some(expr), _, _) => Ok(expr_transform(expr, event).map(|t| {
            let expr = expr.clone();
            let place: Placer = Box::new(move |e| {
                let o = e.offset?;
                let at = Span::from_offsets(&expr, o, o + 1).start;
                Some(format!("--expr:{}:{}", at.line, at.column))
            });
            (t, None, place)
        })),
        (None, Some(spec_path), Some(rule)) => rule_transform(spec_path, rule, args),
        _ => anyhow::bail!("give --expr, or --spec with --rule"),
    }
}

/// Compiles `--expr` after the checks `validate` makes on a transform, shown against the
/// expression itself (`--expr:1:5`).
fn expr_transform(expr: &str, event: Option<&Value>) -> Result<Transform, ExitStatus> {
    let known: BTreeSet<String> = event
        .map(|e| checks::event_paths(std::iter::once(e)))
        .unwrap_or_default();
    let file = Path::new("--expr");
    let diags: Vec<Diagnostic> = checks::check_expression(expr, &known, PathSource::Event)
        .into_iter()
        .map(|(mut d, start, end)| {
            // There is no file for `cxsync fix` to rewrite; the standard form is the help.
            if let Some(h) = &mut d.help {
                if let Some(cut) = h.find("; `cxsync fix` rewrites it") {
                    h.truncate(cut);
                }
            }
            d.in_file(file).at(Span::from_offsets(expr, start, end))
        })
        .collect();
    let failed = diags.iter().any(|d| d.severity == Severity::Error);
    let mut sources = Sources::new();
    sources.add(file, expr.to_string());
    super::load::report(diags, &sources, Format::Full);
    if failed {
        return Err(ExitStatus::Failure);
    }
    match Transform::compile(expr) {
        Ok(t) => Ok(t),
        Err(e) => {
            // Our parser accepted what the engine's rejects: the engine's message is all there is.
            crate::errln!("error: {e}");
            if let Some(o) = e.offset {
                crate::errln!("  {}", expr.replace('\n', " "));
                crate::errln!("  {}^", " ".repeat(o));
            }
            Err(ExitStatus::Failure)
        }
    }
}

/// The rule's compiled transform, or the exit status after printing why there is none.
fn rule_transform(
    spec_path: &Path,
    rule: &str,
    args: &Args,
) -> anyhow::Result<Result<Source, ExitStatus>> {
    // A spec that cannot be used is a tool error here: there is nothing to evaluate.
    let (spec, mut sources) = match super::load::load_to_run(spec_path, &args.spec_args) {
        Ok(loaded) => loaded,
        Err(status) => return Ok(Err(status)),
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
    let filter = RuleFilter {
        id: r.id.clone(),
        event_type: r.event_type.clone(),
        conditions: r.conditions.clone(),
    };
    match Transform::compile(&source.text) {
        Ok(t) => {
            let place: Placer = Box::new(move |e| runner::error_place(&spec, &source, e));
            Ok(Ok((t, Some(filter), place)))
        }
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
