//! The DLQ alert webhook body: what the Event Hub (and `cxsync sim`) POSTs to
//! `deadLetterQueue.alertEndpoint` for a window in which events were dead-lettered. The format is
//! documented in `docs/dlq.md`; `schemas/dlq-alert.v1.json` is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::record::{Reason, Record};

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

/// The half-open time window `[start, end)` of an alert, RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// Start of the window (inclusive).
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    /// End of the window (exclusive).
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
    /// Why it was dead-lettered.
    pub reason: Reason,
    /// Its last HTTP status, if any.
    pub last_status: Option<u16>,
    /// Its object key below the location (`YYYY/MM/DD/<eventId>.json`).
    pub key: String,
    /// When it was dead-lettered.
    #[schemars(extend("format" = "date-time"))]
    pub dead_lettered_at: String,
}

impl Alert {
    /// Summarises the records of one window. Returns `None` when there are none: an empty window
    /// sends no alert. Order of `records` does not matter.
    pub fn from_records(
        channel: &str,
        location: &str,
        window: Window,
        threshold: Option<u64>,
        records: &[&Record],
    ) -> Option<Alert> {
        let mut sorted: Vec<&Record> = records.to_vec();
        sorted.sort_by(|a, b| {
            (a.dead_lettered(), &a.dead_lettered_at, &a.event_id).cmp(&(
                b.dead_lettered(),
                &b.dead_lettered_at,
                &b.event_id,
            ))
        });
        let first = sorted.first()?;
        let last = sorted.last()?;
        let mut reasons = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        let mut event_types = BTreeMap::new();
        for r in &sorted {
            *reasons.entry(r.reason).or_insert(0) += 1;
            *statuses.entry(status_label(r.last_status)).or_insert(0) += 1;
            *event_types.entry(r.event_type.clone()).or_insert(0) += 1;
        }
        let count = sorted.len() as u64;
        Some(Alert {
            version: ALERT_VERSION,
            channel: channel.to_string(),
            location: location.to_string(),
            count,
            window,
            threshold,
            threshold_exceeded: threshold.is_some_and(|t| count > t),
            reasons,
            statuses,
            event_types,
            first_event_id: first.event_id.clone(),
            last_event_id: last.event_id.clone(),
            sample: sorted
                .iter()
                .take(ALERT_SAMPLE)
                .map(|r| AlertSample {
                    event_id: r.event_id.clone(),
                    event_type: r.event_type.clone(),
                    reason: r.reason,
                    last_status: r.last_status,
                    key: super::store::record_key(r).to_string(),
                    dead_lettered_at: r.dead_lettered_at.clone(),
                })
                .collect(),
        })
    }
}

/// A status as a map key: `"413"`, or `"none"` when no response arrived.
pub fn status_label(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// The JSON Schema of [`Alert`] (what `schemas/dlq-alert.v1.json` holds).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Alert)).unwrap_or(serde_json::Value::Null)
}
