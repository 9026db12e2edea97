//! Reading a DLQ: scan a store into records, bad objects and replay markers; filter; count.
//! A bad object (not JSON, not a v1 record) is reported with its key and skipped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

use super::record::{Reason, Record};
use super::store::{Skipped, Store, StoreError, MARKER_SUFFIX};
use crate::delivery::alert::status_label;

/// A record found in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Key below the store's root.
    pub key: String,
    /// The record as parsed and checked.
    pub record: Record,
    /// Whether its `.replayed` marker exists.
    pub replayed: bool,
}

/// Everything read from a store.
#[derive(Debug, Default)]
pub struct Scan {
    /// Records in time order (dead-letter time, then event id, then key).
    pub records: Vec<Found>,
    /// Objects that are not records, or could not be listed.
    pub bad: Vec<Skipped>,
    /// Keys of records that carry a replay marker.
    pub markers: BTreeSet<String>,
}

/// Reads every `*.json` object below the store's root as a record.
pub async fn scan(store: &Store) -> Result<Scan, StoreError> {
    let listing = store.list().await?;
    let mut out = Scan::default();
    out.bad.extend(listing.skipped);
    let mut keys = Vec::new();
    for e in listing.entries {
        if let Some(rec_key) = e.key.strip_suffix(MARKER_SUFFIX) {
            out.markers.insert(rec_key.to_string());
        } else if e.key.ends_with(".json") {
            keys.push(e.key);
        }
    }
    let mut bodies = store.get_many(&keys).await;
    // One object that cannot be read (permissions, an object gone since the listing) is a bad
    // record, reported with the rest listed (tester #101); when every read of several failed, it
    // is the store that fails, and that is the error.
    if keys.len() > 1
        && bodies
            .iter()
            .all(|b| matches!(b, Err(e) if !matches!(e, StoreError::TooLarge { .. })))
    {
        if let Some(Err(e)) = bodies.drain(..).next() {
            return Err(e);
        }
    }
    for (key, body) in keys.into_iter().zip(bodies) {
        let bytes = match body {
            Ok(b) => b,
            Err(StoreError::TooLarge { size, .. }) => {
                out.bad.push(Skipped {
                    key,
                    problem: format!(
                        "{size} bytes is over the {}-byte record limit",
                        super::store::MAX_RECORD_BYTES
                    ),
                });
                continue;
            }
            Err(e) => {
                let problem = match e {
                    StoreError::Backend { message, .. } => format!("cannot be read: {message}"),
                    other => format!("cannot be read: {other}"),
                };
                out.bad.push(Skipped { key, problem });
                continue;
            }
        };
        match parse_record(&bytes) {
            Ok(record) => {
                let replayed = out.markers.contains(&key);
                out.records.push(Found {
                    key,
                    record,
                    replayed,
                })
            }
            Err(problem) => out.bad.push(Skipped { key, problem }),
        }
    }
    // Markers were collected before records of the same folder in key order; fix up late ones.
    for f in &mut out.records {
        f.replayed = out.markers.contains(&f.key);
    }
    out.records.sort_by(|a, b| {
        (a.record.dead_lettered(), &a.record.event_id, &a.key).cmp(&(
            b.record.dead_lettered(),
            &b.record.event_id,
            &b.key,
        ))
    });
    Ok(out)
}

/// Parses and checks one record; the error says what is wrong and where in the JSON.
pub fn parse_record(bytes: &[u8]) -> Result<Record, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let rec: Record = match serde_path_to_error::deserialize(&mut de) {
        Ok(r) => r,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(if crate::spec::json::error_help(&inner).is_some() {
                // #231: the limit, not "not JSON".
                format!("the record {}", crate::spec::json::error_message(&inner))
            } else if inner.is_syntax() || inner.is_eof() {
                format!("not JSON: {inner}")
            } else if path == "." {
                // serde's words for a record that is a list ("invalid length 0, expected struct
                // Record with 17 elements") say nothing to someone who did not write the type.
                match serde_json::from_slice::<serde_json::Value>(bytes) {
                    Ok(v) if !v.is_object() => format!(
                        "not a DLQ record: a record is a JSON object, found {}",
                        match v {
                            serde_json::Value::Array(_) => "an array",
                            serde_json::Value::String(_) => "a string",
                            serde_json::Value::Number(_) => "a number",
                            serde_json::Value::Bool(_) => "a boolean",
                            _ => "null",
                        }
                    ),
                    _ => format!("not a DLQ record: {inner}"),
                }
            } else {
                format!("not a DLQ record: at `{path}`: {inner}")
            });
        }
    };
    let problems = rec.check();
    if problems.is_empty() {
        Ok(rec)
    } else {
        Err(format!("not a DLQ record: {}", problems.join("; ")))
    }
}

/// Which records a command looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Dead-lettered at or after.
    pub since: Option<DateTime<Utc>>,
    /// Dead-lettered before.
    pub until: Option<DateTime<Utc>>,
    /// Any of these reasons (all when empty).
    pub reasons: Vec<Reason>,
    /// Any of these event types (all when empty).
    pub event_types: Vec<String>,
    /// Any of these rules (all when empty).
    pub rules: Vec<String>,
}

impl Filter {
    /// Whether a record passes.
    pub fn accepts(&self, r: &Record) -> bool {
        let t = r.dead_lettered();
        if let (Some(since), Some(t)) = (self.since, t) {
            if t < since {
                return false;
            }
        }
        if let (Some(until), Some(t)) = (self.until, t) {
            if t >= until {
                return false;
            }
        }
        (self.reasons.is_empty() || self.reasons.contains(&r.reason))
            && (self.event_types.is_empty() || self.event_types.contains(&r.event_type))
            && (self.rules.is_empty() || self.rules.contains(&r.rule_id))
    }
}

/// One line of `cxsync dlq list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// When it was dead-lettered (RFC 3339).
    pub dead_lettered_at: String,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Why it was dead-lettered.
    pub reason: Reason,
    /// The last HTTP status, if any.
    pub last_status: Option<u16>,
    /// Sends made.
    pub attempts: u32,
    /// The rule whose delivery was dead-lettered.
    pub rule_id: String,
    /// Whether a replay marker exists.
    pub replayed: bool,
    /// Key below the source.
    pub key: String,
    /// The batch it was sent in (absent: sent alone). Its key is not listed: it may come from a
    /// secret template (`dlq show` prints the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<RowBatch>,
}

/// A listed record's batch: its place, the batch's size, and whether `dlq replay` re-sends the
/// batch whole (the CRM may have written it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowBatch {
    /// 1-based, as printed.
    pub place: u32,
    pub size: u32,
    pub maybe_applied: bool,
}

impl Row {
    /// The row of a found record.
    pub fn of(f: &Found) -> Row {
        Row {
            dead_lettered_at: f.record.dead_lettered_at.clone(),
            event_id: f.record.event_id.clone(),
            event_type: f.record.event_type.clone(),
            reason: f.record.reason,
            last_status: f.record.last_status,
            attempts: f.record.attempts,
            rule_id: f.record.rule_id.clone(),
            replayed: f.replayed,
            key: f.key.clone(),
            batch: f.record.batch.as_ref().map(|b| RowBatch {
                place: b.index + 1,
                size: b.size,
                maybe_applied: b.maybe_applied,
            }),
        }
    }
}

/// Counts for `cxsync dlq stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Records counted.
    pub total: u64,
    /// Of those, replayed (marker present).
    pub replayed: u64,
    /// By reason.
    pub by_reason: BTreeMap<Reason, u64>,
    /// By last status (`"none"` without a response).
    pub by_status: BTreeMap<String, u64>,
    /// By event type.
    pub by_event_type: BTreeMap<String, u64>,
    /// By rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Width of a time bucket in seconds (3600, or a whole number of days for long spans).
    pub bucket_seconds: i64,
    /// Records per bucket, every bucket from the first record's to the last one's.
    pub over_time: Vec<Bucket>,
}

/// Records dead-lettered in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Start of the bucket (RFC 3339).
    pub start: String,
    /// Records dead-lettered in it.
    pub count: u64,
}

/// Most buckets `over_time` holds before they widen from hours to days.
const MAX_BUCKETS: i64 = 168;

/// Counts records by reason, status, event type and time.
pub fn stats<'a>(records: impl IntoIterator<Item = &'a Found>) -> Stats {
    let mut s = Stats {
        total: 0,
        replayed: 0,
        by_reason: BTreeMap::new(),
        by_status: BTreeMap::new(),
        by_event_type: BTreeMap::new(),
        by_rule: BTreeMap::new(),
        bucket_seconds: 3600,
        over_time: Vec::new(),
    };
    let mut times = Vec::new();
    for f in records {
        let r = &f.record;
        s.total += 1;
        s.replayed += u64::from(f.replayed);
        *s.by_reason.entry(r.reason).or_insert(0) += 1;
        *s.by_status.entry(status_label(r.last_status)).or_insert(0) += 1;
        *s.by_event_type.entry(r.event_type.clone()).or_insert(0) += 1;
        *s.by_rule.entry(r.rule_id.clone()).or_insert(0) += 1;
        if let Some(t) = r.dead_lettered() {
            times.push(t);
        }
    }
    let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
        return s;
    };
    let hours = (last - first).num_hours() + 1;
    let days = (hours + MAX_BUCKETS * 24 - 1) / (MAX_BUCKETS * 24);
    let width = if hours <= MAX_BUCKETS {
        Duration::hours(1)
    } else {
        Duration::days(days.max(1))
    };
    s.bucket_seconds = width.num_seconds();
    let start = first.duration_trunc(width).unwrap_or(first);
    let n = ((last - start).num_seconds() / width.num_seconds() + 1) as usize;
    let mut counts = vec![0u64; n];
    for t in times {
        let i = ((t - start).num_seconds() / width.num_seconds()) as usize;
        counts[i.min(n - 1)] += 1;
    }
    s.over_time = counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| Bucket {
            start: (start + width * i as i32).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            count,
        })
        .collect();
    s
}

/// A one-line chart of counts: `▁` is zero, `█` the largest count.
pub fn sparkline(counts: &[u64]) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                TICKS[0]
            } else if max == 1 {
                TICKS[7]
            } else {
                // Non-zero counts never draw as the zero tick: 1 → ▂, max → █.
                TICKS[(1 + (c - 1) * 6 / (max - 1)) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_keeps_zero_apart_from_small_counts() {
        assert_eq!(sparkline(&[0, 1, 10]), "▁▂█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        assert!(parse_record(b"{").unwrap_err().starts_with("not JSON"));
        let e = parse_record(br#"{"version": 1}"#).unwrap_err();
        assert!(e.starts_with("not a DLQ record"), "{e}");
    }
}
