//! What `cxsync dlq` prints: the record table, the stats, one record, the dry-run report and the
//! replay results, for people (`--format human`) and as JSON documents. Pure: strings and values
//! in, strings and values out; `cli/dlq.rs` wires arguments to these.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::inspect::{self, Found, Row};
use super::replay::{Disposition, Evaluation, Replayer};
use super::store::Store;

/// `dlq show` for people: each hit under a `# location/key` heading.
pub fn show(hits: &[&Found], store: &Store) -> anyhow::Result<String> {
    let mut out = String::new();
    for (i, f) in hits.iter().enumerate() {
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
    Ok(out)
}

/// The one-line summary `dlq list` prints on stderr.
pub fn list_summary(rows: &[Row], location: &str, bad: usize) -> String {
    let replayed = rows.iter().filter(|r| r.replayed).count();
    let whole = rows
        .iter()
        .filter(|r| r.batch.is_some_and(|b| b.maybe_applied))
        .count();
    let batched = if whole > 0 {
        format!(
            "; {whole} sent in batches the CRM may have written (BATCH `whole`): `dlq replay` re-sends each such batch whole with its key, so each event is written once"
        )
    } else {
        String::new()
    };
    format!(
        "{} record{} ({replayed} replayed) in {location}{}{batched}",
        rows.len(),
        plural(rows.len()),
        bad_note(bad)
    )
}

/// How the replay reports show the destination and the idempotency keys: the spec's fields
/// through the one masking rule (`spec::secret::shown_field`), so a `destinationUri` or key
/// template from `${env:…}` (a token in the query, a salt in the key) is never printed. A
/// `--target` is the user's own text; only its credential parts
/// (`spec::secret::url_credentials`) are hidden.
pub struct Shown {
    pub url: String,
    key_masked: Option<String>,
}

impl Shown {
    pub fn of(spec: &crate::spec::Spec, target: Option<&str>, r: &Replayer) -> Shown {
        use crate::spec::secret;
        let origins = secret::origins(spec);
        let url = match target {
            Some(t) => secret::replace_url_credentials(t, |_| crate::compile::SENSITIVE.into()),
            None => secret::shown_field(&origins, "/channel/destinationUri", &r.url),
        };
        let key = secret::shown_field(&origins, "/idempotency/key", "");
        Shown {
            url,
            key_masked: (!key.is_empty()).then_some(key),
        }
    }

    /// A key as printed: itself, or the marker when the template is secret.
    fn key<'a>(&'a self, k: &'a str) -> &'a str {
        self.key_masked.as_deref().unwrap_or(k)
    }
}

/// `dlq replay --dry-run --format json`.
pub fn dry_run_json(evals: &[Evaluation], shown: &Shown, store: &Store) -> Value {
    let records: Vec<Value> = evals
        .iter()
        .map(|e| {
            let mut v = json!(e);
            if let Some(k) = &shown.key_masked {
                for at in ["/idempotencyKey", "/batch/idempotencyKey"] {
                    if let Some(Value::String(s)) = v.pointer_mut(at) {
                        k.clone_into(s);
                    }
                }
            }
            v
        })
        .collect();
    json!({
        "source": store.location(),
        "url": shown.url,
        "records": records,
        "summary": summary_json(evals),
    })
}

/// `dlq replay --format json`.
pub fn replay_json(results: &[(String, Disposition)], shown: &Shown, store: &Store) -> Value {
    json!({
        "source": store.location(),
        "url": shown.url,
        "records": results
            .iter()
            .map(|(id, o)| json!({"eventId": id, "result": o}))
            .collect::<Vec<_>>(),
    })
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn bad_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} unreadable object{} skipped", plural(n))
    }
}

fn status_text(s: Option<u16>) -> String {
    s.map_or_else(|| "-".to_string(), |s| s.to_string())
}

/// Column widths stop growing here: a longer cell (an event id of 100,000 characters) is printed
/// whole and only its own row loses alignment. (`format!`'s `{:<w$}` panicked past a width of
/// 65,535, and one such id padded every other row to it.)
const MAX_COLUMN: usize = 100;

/// `cell` and the spaces that make it `width` characters wide.
fn pad(out: &mut String, cell: &str, width: usize) {
    out.push_str(cell);
    out.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(cell.chars().count()),
    ));
}

pub fn rows(rows: &[Row]) -> String {
    // The BATCH column only when a record was sent in a batch: `3/5`, with `whole` when the
    // batch is re-sent whole.
    let batched = rows.iter().any(|r| r.batch.is_some());
    let batch_cell = |r: &Row| match r.batch {
        Some(b) if b.maybe_applied => format!("{}/{} whole", b.place, b.size),
        Some(b) => format!("{}/{}", b.place, b.size),
        None => String::new(),
    };
    let mut table = vec![[
        "DEAD-LETTERED AT".to_string(),
        "EVENT ID".to_string(),
        "EVENT TYPE".to_string(),
        "REASON".to_string(),
        "STATUS".to_string(),
        "ATTEMPTS".to_string(),
        "RULE".to_string(),
        if batched { "BATCH" } else { "" }.to_string(),
        String::new(),
    ]];
    for r in rows {
        table.push([
            r.dead_lettered_at.clone(),
            crate::diag::printable(&r.event_id).into_owned(),
            crate::diag::printable(&r.event_type).into_owned(),
            r.reason.to_string(),
            status_text(r.last_status),
            r.attempts.to_string(),
            crate::diag::printable(&r.rule_id).into_owned(),
            batch_cell(r),
            if r.replayed { "replayed" } else { "" }.to_string(),
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &table {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count()).min(MAX_COLUMN);
        }
    }
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        // A column no row fills (BATCH without batches) takes no room.
        for (i, (w, c)) in widths
            .iter()
            .zip(row)
            .enumerate()
            .filter(|(_, (w, _))| **w > 0)
        {
            if i > 0 {
                line.push_str("  ");
            }
            pad(&mut line, c, *w);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn stats(s: &inspect::Stats, location: &str, bad: usize) -> String {
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
        s.by_rule.values().max(),
    ]
    .into_iter()
    .flatten()
    .copied()
    .max()
    .unwrap_or(1)
    .max(1);
    let section = |out: &mut String, title: &str, items: Vec<(String, u64)>| {
        let _ = writeln!(out, "\n{title}");
        // Event types and rules are a record's text: escaped like the list's columns.
        let mut items: Vec<(String, u64)> = items
            .into_iter()
            .map(|(k, n)| (crate::diag::printable(&k).into_owned(), n))
            .collect();
        let w = items
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_COLUMN);
        // Largest first; ties in name order, so output is stable.
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (k, n) in items {
            let bar = "█".repeat(((n * 30).div_ceil(max)) as usize);
            out.push_str("  ");
            pad(out, &k, w);
            let _ = writeln!(out, "  {n:>6}  {bar}");
        }
    };
    let named = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let by_reason = s.by_reason.iter().map(|(k, v)| (k.to_string(), *v));
    section(&mut out, "by reason", by_reason.collect());
    section(&mut out, "by last status", named(&s.by_status));
    section(&mut out, "by event type", named(&s.by_event_type));
    section(&mut out, "by rule", named(&s.by_rule));
    let unit = match s.bucket_seconds {
        3600 => "hour".to_string(),
        86400 => "day".to_string(),
        n => format!("{} days", n / 86400),
    };
    let counts: Vec<u64> = s.over_time.iter().map(|b| b.count).collect();
    if let (Some(first), Some(last)) = (s.over_time.first(), s.over_time.last()) {
        let _ = writeln!(out, "\nover time (per {unit}, UTC)");
        // A sparkline of one bucket would name the same time three times.
        if counts.len() > 1 {
            let _ = writeln!(
                out,
                "  {}  {}  {}  peak {}",
                first.start,
                inspect::sparkline(&counts),
                last.start,
                counts.iter().max().unwrap_or(&0)
            );
        }
        for b in s.over_time.iter().filter(|b| b.count > 0) {
            let _ = writeln!(out, "  {}  {:>6}", b.start, b.count);
        }
    }
    out
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

fn diff(old: Option<&Value>, new: Option<&Value>) -> String {
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

pub fn dry_run(evals: &[Evaluation], r: &Replayer, shown: &Shown, store: &Store) -> String {
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
        let _ = writeln!(
            out,
            "{}  {}  {verdict}",
            crate::diag::printable(&e.event_id),
            crate::diag::printable(&e.key)
        );
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
            out.push_str(&diff(e.old_payload.as_ref(), e.new_payload.as_ref()));
        }
        if let Some(b) = &e.batch {
            let _ = writeln!(
                out,
                "  batch   place {} of {}, key {}: {}",
                b.index + 1,
                b.size,
                crate::diag::printable(shown.key(&b.idempotency_key)),
                if b.maybe_applied {
                    "the CRM may have written it, so it is re-sent whole with this key"
                } else {
                    "every attempt was refused (4xx) or never sent, so the event is sent alone with its own key"
                }
            );
        }
        if e.deliverable() && !e.already_replayed && r.dedup_none && e.may_be_written {
            let _ = writeln!(out, "  warning {WRITES_AGAIN}");
        }
        if e.deliverable() && !e.already_replayed {
            let _ = writeln!(
                out,
                "  send    POST {}  {}: {}{}",
                shown.url,
                r.header,
                crate::diag::printable(shown.key(e.sent_key().unwrap_or(""))),
                if e.batch_id.is_some() {
                    " (the batch's key, in one request with its batch)"
                } else if e.original_key {
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
    let original = pending
        .iter()
        .filter(|e| e.deliverable() && e.original_key)
        .count();
    if let Some(n) = writes_again(r, &pending) {
        let _ = writeln!(out, "{}", writes_again_summary(n));
    }
    if r.dedup_by_header && original > 0 {
        let _ = writeln!(
            out,
            "note: {original} record(s) go with their original key; the CRM deduplicates a record it had in fact written (its response lost) only while it still holds the key (its idempotency window, often 24 h): replayed after it, such a record is written a second time"
        );
    }
    out
}

/// What replaying a record the CRM may already hold does to a CRM that does not deduplicate
/// (#251): said per record in a dry run and counted before a replay sends.
pub const WRITES_AGAIN: &str = "may already be in the CRM (its last attempt timed out, was reset or got no 4xx), which does not deduplicate: replaying may write it again; check the CRM for it first";

/// How many of `evals` a replay would send that the CRM may already hold, when it does not
/// deduplicate (`None` otherwise, or when there are none).
pub fn writes_again(r: &Replayer, evals: &[&Evaluation]) -> Option<usize> {
    let n = evals
        .iter()
        .filter(|e| e.deliverable() && !e.already_replayed && e.may_be_written)
        .count();
    (r.dedup_none && n > 0).then_some(n)
}

/// The count of [`writes_again`] as one line, for the dry run's summary and a replay's stderr.
pub fn writes_again_summary(n: usize) -> String {
    format!(
        "warning: {n} record(s) may already be in the CRM (their last attempt timed out, was reset or got no 4xx), which does not deduplicate: replaying may write them again; check the CRM for them first"
    )
}

pub fn replay(results: &[(String, Disposition)]) -> String {
    let mut out = String::new();
    let (mut delivered, mut already, mut skipped, mut failed, mut left) = (0, 0, 0, 0, 0);
    let mut in_flight = 0;
    for (id, o) in results {
        // The id, a CRM's body and a transport error are outside text: escaped for the terminal.
        let id = crate::diag::printable(id);
        let line = match o {
            Disposition::Delivered { status, purged } => {
                delivered += 1;
                format!(
                    "delivered  {id}  {status}{}",
                    if *purged { "  (purged)" } else { "" }
                )
            }
            Disposition::AlreadyReplayed { purged } => {
                already += 1;
                format!(
                    "already    {id}  replayed earlier, not sent{}",
                    if *purged { "  (purged)" } else { "" }
                )
            }
            Disposition::Skipped { problems } => {
                skipped += 1;
                format!("skipped    {id}  {}", problems.join("; "))
            }
            Disposition::Rejected {
                status,
                body,
                reason,
            } => {
                failed += 1;
                let body: String = body.chars().take(120).collect();
                let body = crate::diag::printable(&body);
                format!("rejected   {id}  {status} ({reason}) {body}")
            }
            Disposition::Failed { error } => {
                failed += 1;
                format!("failed     {id}  {}", crate::diag::printable(error))
            }
            Disposition::NotAttempted => {
                left += 1;
                format!("not tried  {id}  (the replay stopped before it)")
            }
            Disposition::Interrupted => {
                in_flight += 1;
                format!("in flight  {id}  sent, interrupted before its answer: not marked; a resume resends it with the same key")
            }
            Disposition::MarkerFailed { status, error } => {
                failed += 1;
                format!(
                    "delivered  {id}  {status} but the marker was not written ({error}); a resume resends it with the same key"
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    // Only an interrupted run has records in flight at its end.
    let in_flight = if in_flight > 0 {
        format!(", {in_flight} in flight")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\n{delivered} delivered, {already} already replayed, {skipped} skipped, {failed} failed{in_flight}, {left} not tried (of {})",
        results.len()
    );
    out
}
