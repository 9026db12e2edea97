//! The DLQ alert webhook body, and the key a dead letter is stored under.
//!
//! One type ([`Alert`]) is the body every sender POSTs to `deadLetterQueue.alertEndpoint`: the
//! machine builds it (so the simulator and the HTTP drivers send the same bytes), and
//! `dlq::alert` re-exports it for readers of stored records. `schemas/dlq-alert.v1.json` is
//! generated from it and a test keeps the two equal; the format is documented in `docs/dlq.md`.
//!
//! An alert names records by their key below the DLQ's root, so the key layout lives here too
//! ([`record_key`]), on the lowest floor, and the DLQ's store writes records under the same
//! function: `YYYY/MM/DD/<ruleId>/<eventId>.json`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Reason;

/// The alert format version written by this build.
pub const ALERT_VERSION: u32 = 1;

/// How many records an alert names in `sample`.
pub const ALERT_SAMPLE: usize = 5;

/// One DLQ alert: the records dead-lettered on one channel in one window, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "cxsync DLQ alert v1")]
pub struct Alert {
    /// Alert format version (1).
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The channel whose events were dead-lettered.
    pub channel: String,
    /// Where the records are: `s3://<bucketName>/<prefix>`.
    pub location: String,
    /// Records dead-lettered in the window.
    #[schemars(range(min = 1))]
    pub count: u64,
    /// The window the alert covers.
    pub window: Window,
    /// The spec's `alerts.dlqVolume`, when set; `count` above it is what an on-call acts on.
    pub threshold: Option<u64>,
    /// Whether `count` exceeds `threshold` (false without a threshold).
    pub threshold_exceeded: bool,
    /// Records per reason.
    pub reasons: BTreeMap<Reason, u64>,
    /// Records per last HTTP status (`"none"` for timeouts, resets and local failures).
    pub statuses: BTreeMap<String, u64>,
    /// Records per event type.
    pub event_types: BTreeMap<String, u64>,
    /// The first record of the window (by dead-letter time, then event id).
    pub first_event_id: String,
    /// The last record of the window.
    pub last_event_id: String,
    /// Up to five records, first ones first, enough to start `cxsync dlq show`.
    #[schemars(length(max = 5))]
    pub sample: Vec<AlertSample>,
}

/// The time window of an alert, RFC 3339: the dead-letter time of its first record and the
/// instant the alert was made (both inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// When the window's first record was dead-lettered.
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    /// When the alert was made; every record of the window was dead-lettered at or before it.
    #[schemars(extend("format" = "date-time"))]
    pub end: String,
}

/// One record named by an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertSample {
    /// The record's event id.
    pub event_id: String,
    /// The record's event type.
    pub event_type: String,
    /// The rule whose delivery was dead-lettered.
    pub rule_id: String,
    /// Why it was dead-lettered.
    pub reason: Reason,
    /// Its last HTTP status, if any.
    pub last_status: Option<u16>,
    /// Its object key below the location (`YYYY/MM/DD/<ruleId>/<eventId>.json`).
    pub key: String,
    /// When it was dead-lettered.
    #[schemars(extend("format" = "date-time"))]
    pub dead_lettered_at: String,
}

/// What an alert needs to know of one dead letter.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub rule_id: &'a str,
    pub reason: Reason,
    pub last_status: Option<u16>,
    pub at: DateTime<Utc>,
}

/// Collects one window's dead letters into an [`Alert`], in bounded memory: counts, the first
/// and last record, and the [`ALERT_SAMPLE`] first records. The order records are added in does
/// not matter: "first" is by dead-letter time, then event id.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    count: u64,
    reasons: BTreeMap<Reason, u64>,
    statuses: BTreeMap<String, u64>,
    event_types: BTreeMap<String, u64>,
    first: Option<(DateTime<Utc>, String)>,
    last: Option<(DateTime<Utc>, String)>,
    /// Sorted by `(time, event id)`, at most [`ALERT_SAMPLE`] long.
    sample: Vec<(DateTime<Utc>, AlertSample)>,
}

impl Collector {
    /// Whether nothing was added since the last [`Collector::take`].
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one dead letter.
    pub fn add(&mut self, e: Entry<'_>) {
        self.count += 1;
        *self.reasons.entry(e.reason).or_default() += 1;
        *self
            .statuses
            .entry(status_label(e.last_status))
            .or_default() += 1;
        if let Some(n) = self.event_types.get_mut(e.event_type) {
            *n += 1;
        } else {
            self.event_types.insert(e.event_type.to_string(), 1);
        }
        let order = (e.at, e.event_id);
        if self
            .first
            .as_ref()
            .is_none_or(|(t, id)| order < (*t, id.as_str()))
        {
            self.first = Some((e.at, e.event_id.to_string()));
        }
        if self
            .last
            .as_ref()
            .is_none_or(|(t, id)| order >= (*t, id.as_str()))
        {
            self.last = Some((e.at, e.event_id.to_string()));
        }
        let pos = self
            .sample
            .partition_point(|(t, s)| (*t, s.event_id.as_str()) <= order);
        if pos < ALERT_SAMPLE {
            self.sample.insert(
                pos,
                (
                    e.at,
                    AlertSample {
                        event_id: e.event_id.to_string(),
                        event_type: e.event_type.to_string(),
                        rule_id: e.rule_id.to_string(),
                        reason: e.reason,
                        last_status: e.last_status,
                        key: record_key(Some(e.at), e.rule_id, e.event_id),
                        dead_lettered_at: time(e.at),
                    },
                ),
            );
            self.sample.truncate(ALERT_SAMPLE);
        }
    }

    /// The alert of everything added, made at `end`; the collector is empty afterwards. `None`
    /// when nothing was added: an empty window sends no alert.
    pub fn take(
        &mut self,
        channel: &str,
        location: &str,
        threshold: Option<u64>,
        end: DateTime<Utc>,
    ) -> Option<Alert> {
        let c = std::mem::take(self);
        let (start, first) = c.first?;
        let (_, last) = c.last?;
        Some(Alert {
            version: ALERT_VERSION,
            channel: channel.to_string(),
            location: location.to_string(),
            count: c.count,
            window: Window {
                start: time(start),
                end: time(end.max(start)),
            },
            threshold,
            threshold_exceeded: threshold.is_some_and(|t| c.count > t),
            reasons: c.reasons,
            statuses: c.statuses,
            event_types: c.event_types,
            first_event_id: first,
            last_event_id: last,
            sample: c.sample.into_iter().map(|(_, s)| s).collect(),
        })
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A status as a map key: `"413"`, or `"none"` when no response arrived.
pub fn status_label(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// The key of a dead letter below the DLQ's root: `YYYY/MM/DD/<ruleId>/<eventId>.json`, the UTC
/// date it was dead-lettered (`0000/00/00` when unknown), the rule and the event id each encoded
/// by [`encode_id`]. An event that two rules matched has two deliveries, and so two records.
pub fn record_key(dead_lettered: Option<DateTime<Utc>>, rule_id: &str, event_id: &str) -> String {
    let date = dead_lettered.map_or_else(
        || "0000/00/00".to_string(),
        |t| t.format("%Y/%m/%d").to_string(),
    );
    format!(
        "{date}/{}/{}.json",
        encode_id(rule_id),
        record_name(event_id)
    )
}

/// Longest file name of a record (`<name>.json`), in bytes: below the 255 bytes most file
/// systems allow for one name, with room for a `.tmp` suffix while it is written.
pub const MAX_RECORD_NAME: usize = 200;

/// The file name of an event's record, without `.json`: [`encode_id`] of its id, or, when that
/// would make the name longer than [`MAX_RECORD_NAME`], its first characters (never half of a
/// `!XX` escape), `!!` and the 128-bit XXH3 hash of the whole id in hex. An encoded id never
/// holds `!!` (each `!` is followed by two hex digits), so a cut name cannot equal a whole one;
/// `!` is kept as it is in S3 keys and in file names (object_store would encode `~` on disk). Readers take
/// every `*.json` and read the event id from the record, so `dlq list` and `replay` find both.
pub fn record_name(event_id: &str) -> String {
    let name = encode_id(event_id);
    if name.len() + ".json".len() <= MAX_RECORD_NAME {
        return name;
    }
    let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(event_id.as_bytes()));
    let mut cut = MAX_RECORD_NAME - ".json".len() - 2 - hash.len();
    if let Some(bang) = name[..cut].rfind('!') {
        if bang + 3 > cut {
            cut = bang;
        }
    }
    format!("{}!!{hash}", &name[..cut])
}

/// An id as one key segment: ASCII letters, digits, `-`, `_` and `.` stay; every other byte (and
/// a leading `.`) becomes `!XX`. `!` is safe in S3 keys and in file names, so the same name
/// appears in a bucket and in a folder (object_store would percent-encode `%` twice on disk). An
/// empty id is `!`.
pub fn encode_id(id: &str) -> String {
    if id.is_empty() {
        return "!".to_string();
    }
    let mut out = String::with_capacity(id.len());
    for (i, b) in id.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("!{b:02X}"));
        }
    }
    out
}

/// The JSON Schema of [`Alert`] (what `schemas/dlq-alert.v1.json` holds).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Alert)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_long_event_id_gets_a_bounded_name_that_still_tells_it_apart() {
        let long = "x".repeat(300);
        let name = record_name(&long);
        assert!(name.len() + 5 <= MAX_RECORD_NAME, "{}", name.len());
        assert!(name.starts_with("xxxx") && name.contains("!!"));
        assert_eq!(record_name(&long), name, "the same id, the same name");
        let other = format!("{}y", "x".repeat(299));
        assert_ne!(record_name(&other), name);
        // A cut never splits an escape: every `!` is followed by two hex digits.
        let escaped = "é".repeat(120);
        let n = record_name(&escaped);
        let stem = n.split("!!").next().unwrap();
        assert!(stem.len() % 3 == 0 && stem.starts_with("!C3!A9"), "{n}");
        // A short id is its encoding.
        assert_eq!(record_name("evt-1"), "evt-1");
        let exact = "a".repeat(MAX_RECORD_NAME - 5);
        assert_eq!(record_name(&exact), exact);
    }

    #[test]
    fn keys_carry_the_date_the_rule_and_the_event() {
        assert_eq!(
            record_key(Some(at("2024-01-15T23:59:59.999Z")), "R1", "evt/1 #2"),
            "2024/01/15/R1/evt!2F1!20!232.json"
        );
        assert_eq!(record_key(None, ".r", "e"), "0000/00/00/!2Er/e.json");
        assert_eq!(encode_id(""), "!");
        assert_eq!(encode_id(".."), "!2E.");
    }

    #[test]
    fn the_collector_keeps_the_first_records_whatever_the_order_they_come_in() {
        let mut c = Collector::default();
        for (id, t) in [
            ("e7", "2024-01-15T09:00:07Z"),
            ("e2", "2024-01-15T09:00:02Z"),
            ("e9", "2024-01-15T09:00:09Z"),
            ("e1", "2024-01-15T09:00:01Z"),
            ("e5", "2024-01-15T09:00:05Z"),
            ("e3", "2024-01-15T09:00:03Z"),
            ("e4", "2024-01-15T09:00:04Z"),
        ] {
            c.add(Entry {
                event_id: id,
                event_type: "interaction.ended",
                rule_id: "R",
                reason: Reason::RetriesExhausted,
                last_status: Some(503),
                at: at(t),
            });
        }
        let a = c
            .take("ch", "s3://b/p/", Some(5), at("2024-01-15T09:01:00Z"))
            .unwrap();
        assert_eq!((a.count, a.threshold_exceeded), (7, true));
        assert_eq!(
            (a.first_event_id.as_str(), a.last_event_id.as_str()),
            ("e1", "e9")
        );
        let ids: Vec<&str> = a.sample.iter().map(|s| s.event_id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2", "e3", "e4", "e5"]);
        assert_eq!(a.sample[0].key, "2024/01/15/R/e1.json");
        assert_eq!(a.window.start, "2024-01-15T09:00:01.000Z");
        assert_eq!(a.statuses["503"], 7);
        assert!(c.is_empty());
        assert!(c
            .take("ch", "l", None, at("2024-01-15T09:02:00Z"))
            .is_none());
    }
}
