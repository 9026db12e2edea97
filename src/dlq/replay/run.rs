//! The replay itself: records in order, each sent through the sink, a marker written only after
//! a 2xx, and a stop after too many failures in a row.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::evaluate::{Evaluation, Replayer};
use super::sink::{Delivery, ReplaySink, SinkOutcome};
use crate::dlq::store::{Store, StoreError, MARKER_SUFFIX};

/// How a replay treats records and markers.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Delete replayed records (and their markers) after a delivery or from an earlier run.
    pub purge: bool,
    /// The time written into markers.
    pub now: DateTime<Utc>,
    /// Stop after this many records in a row ended without a 2xx, each after the sink's
    /// retries (the CRM is down: the rest would only wait out their retries). `None` never stops.
    pub max_consecutive_failures: Option<u32>,
}

/// What happened to one record in a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Disposition {
    /// Sent and answered 2xx; the marker is written.
    Delivered { status: u16, purged: bool },
    /// Already replayed by an earlier run; not sent.
    AlreadyReplayed { purged: bool },
    /// Not sent: the current spec would not deliver it.
    Skipped { problems: Vec<String> },
    /// Sent, settled without a 2xx (the last answer, and the delivery machine's reason); the
    /// record stays for the next run.
    Rejected {
        status: u16,
        body: String,
        reason: String,
    },
    /// Sent, no answer; the record stays for the next run.
    Failed { error: String },
    /// Delivered, but the marker could not be written: a resume resends it with the same key.
    MarkerFailed { status: u16, error: String },
    /// Not tried: the replay stopped after too many failures in a row.
    NotAttempted,
}

/// The marker object written after a record's successful delivery.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// Marker format version (1).
    pub version: u32,
    /// The replayed record's event id.
    pub event_id: String,
    /// When it was delivered (RFC 3339, `--now`).
    pub replayed_at: String,
    /// The CRM's 2xx status.
    pub status: u16,
    /// Where it was delivered.
    pub url: String,
    /// The key it was delivered with.
    pub idempotency_key: String,
}

/// Replays evaluated records in order, writing a marker after each 2xx.
pub async fn replay<S: ReplaySink>(
    store: &Store,
    replayer: &Replayer,
    evals: &[Evaluation],
    sink: &mut S,
    opts: &ReplayOptions,
) -> Vec<(String, Disposition)> {
    let mut out = Vec::new();
    let mut failures_in_a_row = 0;
    for ev in evals {
        if opts
            .max_consecutive_failures
            .is_some_and(|max| failures_in_a_row >= max)
        {
            out.push((ev.event_id.clone(), Disposition::NotAttempted));
            continue;
        }
        let outcome = replay_one(store, replayer, ev, sink, opts).await;
        match outcome {
            Disposition::Rejected { .. } | Disposition::Failed { .. } => failures_in_a_row += 1,
            Disposition::Delivered { .. } | Disposition::MarkerFailed { .. } => {
                failures_in_a_row = 0
            }
            _ => {}
        }
        out.push((ev.event_id.clone(), outcome));
    }
    out
}

async fn replay_one<S: ReplaySink>(
    store: &Store,
    replayer: &Replayer,
    ev: &Evaluation,
    sink: &mut S,
    opts: &ReplayOptions,
) -> Disposition {
    let marker_key = format!("{}{MARKER_SUFFIX}", ev.key);
    if ev.already_replayed {
        let purged = opts.purge && purge(store, &ev.key, &marker_key).await.is_ok();
        return Disposition::AlreadyReplayed { purged };
    }
    let (Some(body), Some(key), true) = (&ev.new_payload, &ev.idempotency_key, ev.deliverable())
    else {
        return Disposition::Skipped {
            problems: ev.problems.iter().map(|p| p.to_string()).collect(),
        };
    };
    let d = Delivery {
        event_id: &ev.event_id,
        event_type: &ev.event_type,
        rule_id: ev.rule.as_deref().unwrap_or(&ev.old_rule),
        method: "POST",
        url: &replayer.url,
        idempotency_header: &replayer.header,
        idempotency_key: key,
        body,
    };
    match sink.send(&d).await {
        SinkOutcome::Delivered { status } => {
            let marker = Marker {
                version: 1,
                event_id: ev.event_id.clone(),
                replayed_at: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                status,
                url: replayer.url.clone(),
                idempotency_key: key.clone(),
            };
            let bytes = serde_json::to_vec_pretty(&marker).unwrap_or_default();
            if let Err(e) = store.put(&marker_key, bytes).await {
                return Disposition::MarkerFailed {
                    status,
                    error: e.to_string(),
                };
            }
            let purged = opts.purge && purge(store, &ev.key, &marker_key).await.is_ok();
            Disposition::Delivered { status, purged }
        }
        SinkOutcome::Rejected {
            status,
            body,
            reason,
        } => Disposition::Rejected {
            status,
            body,
            reason,
        },
        SinkOutcome::Failed { error } => Disposition::Failed { error },
    }
}

/// Deletes a record, then its marker: a crash in between leaves only a harmless marker.
async fn purge(store: &Store, key: &str, marker_key: &str) -> Result<(), StoreError> {
    store.delete(key).await?;
    store.delete(marker_key).await
}
