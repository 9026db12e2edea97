//! The replay itself: records handed to the sink up to its window at a time (the hub's
//! concurrency), a marker written as soon as a record's 2xx is in and never before, and a stop
//! after too many failures in a row (records not yet handed over are not attempted), or at once
//! when interrupted (records in flight are abandoned unmarked, the rest not handed over).

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
    /// Not tried: the replay stopped (too many failures in a row, or interrupted) before it.
    NotAttempted,
    /// Sent, and the replay was interrupted before it settled: not marked, so the next run
    /// resends it with its original key.
    Interrupted,
}

/// What [`replay_until`] did: the records' results in the order of `evals`, and what
/// interrupted it, if anything did.
#[derive(Debug)]
pub struct Replayed<T> {
    pub results: Vec<(String, Disposition)>,
    pub interrupted: Option<T>,
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

/// Replays evaluated records, up to the sink's window at a time, writing a marker after each
/// 2xx as soon as it is answered. A batch the CRM may have written goes as one delivery, whole,
/// with its key ([`super::batch::units`]); its members are marked when its 2xx is in. Results
/// come back in the order of `evals`.
pub async fn replay<S: ReplaySink>(
    store: &Store,
    replayer: &Replayer,
    evals: &[Evaluation],
    sink: &mut S,
    opts: &ReplayOptions,
) -> Vec<(String, Disposition)> {
    let never = std::future::pending::<std::convert::Infallible>();
    replay_until(store, replayer, evals, sink, opts, never)
        .await
        .results
}

/// [`replay`] until `interrupt` completes (a signal): then nothing more is handed over and the
/// records in flight are left unmarked ([`Disposition::Interrupted`]) without waiting for their
/// answers or retries. Markers are written only between waits, never while `interrupt` is
/// watched, so every record whose 2xx was taken in has its marker and no other has one.
pub async fn replay_until<S: ReplaySink, T>(
    store: &Store,
    replayer: &Replayer,
    evals: &[Evaluation],
    sink: &mut S,
    opts: &ReplayOptions,
    interrupt: impl std::future::Future<Output = T>,
) -> Replayed<T> {
    tokio::pin!(interrupt);
    let mut interrupted = None;
    let mut out: Vec<Option<Disposition>> = vec![None; evals.len()];
    let window = sink.window().max(1);
    let units = super::batch::units(evals);
    // Per record: the unit it was sent in and whether it was reached; per unit: its members
    // not yet settled, and whether one of them ended without a 2xx.
    let mut unit_of: Vec<usize> = vec![usize::MAX; evals.len()];
    let mut reached: Vec<bool> = vec![false; evals.len()];
    let mut left: Vec<usize> = vec![0; units.len()];
    let mut unit_failed: Vec<bool> = vec![false; units.len()];
    let mut failures_in_a_row = 0u32;
    let (mut next, mut in_flight, mut stopped) = (0usize, 0usize, false);
    loop {
        // A signal that came while markers were written stops the handing over too.
        if let std::task::Poll::Ready(t) = futures::poll!(&mut interrupt) {
            interrupted = Some(t);
            break;
        }
        while !stopped && in_flight < window && next < units.len() {
            match &units[next] {
                super::batch::Unit::One(i) => {
                    let ev = &evals[*i];
                    reached[*i] = true;
                    match delivery_of(ev) {
                        Ok(d) => {
                            sink.submit(*i, &d);
                            unit_of[*i] = next;
                            left[next] = 1;
                            in_flight += 1;
                        }
                        Err(Unsent::AlreadyReplayed) => {
                            let purged =
                                opts.purge && purge(store, &ev.key, &marker_of(ev)).await.is_ok();
                            out[*i] = Some(Disposition::AlreadyReplayed { purged });
                        }
                        Err(Unsent::Skipped(problems)) => {
                            out[*i] = Some(Disposition::Skipped { problems })
                        }
                    }
                }
                super::batch::Unit::Batch { members, key } => {
                    let deliveries: Vec<(usize, Delivery<'_>)> = members
                        .iter()
                        .filter_map(|&i| batch_member(&evals[i], key).map(|d| (i, d)))
                        .collect();
                    if !deliveries.is_empty() {
                        for &(i, _) in &deliveries {
                            unit_of[i] = next;
                            reached[i] = true;
                        }
                        left[next] = deliveries.len();
                        sink.submit_batch(&deliveries, key);
                        in_flight += 1;
                    }
                }
            }
            next += 1;
        }
        if in_flight == 0 {
            break;
        }
        // Waiting for answers is cancel-safe: the sink's machine keeps its state between polls
        // and an answer not yet taken stays queued, unmarked.
        let settled = tokio::select! {
            biased;
            t = &mut interrupt => {
                interrupted = Some(t);
                break;
            }
            s = sink.settled() => s,
        };
        if settled.is_empty() {
            // The sink lost track of what it was handed: nothing more will settle.
            break;
        }
        for (tag, outcome) in settled {
            let Some(ev) = evals.get(tag) else { continue };
            let Some(unit) = unit_of.get(tag).copied().filter(|&u| u < units.len()) else {
                continue;
            };
            let d = settle(store, replayer, ev, outcome, opts, &units[unit]).await;
            unit_failed[unit] |=
                matches!(d, Disposition::Rejected { .. } | Disposition::Failed { .. });
            out[tag] = Some(d);
            left[unit] = left[unit].saturating_sub(1);
            if left[unit] > 0 {
                continue;
            }
            // A delivery (one record, or a batch) settled.
            in_flight = in_flight.saturating_sub(1);
            if unit_failed[unit] {
                failures_in_a_row += 1;
            } else {
                failures_in_a_row = 0;
            }
            if opts
                .max_consecutive_failures
                .is_some_and(|max| failures_in_a_row >= max)
            {
                stopped = true;
            }
        }
    }
    // A record reached without a result was in flight. One not reached is said as it is: only
    // a record the spec would send is "not attempted".
    let results = evals
        .iter()
        .zip(out)
        .enumerate()
        .map(|(i, (ev, d))| {
            let d = d.unwrap_or_else(|| match (&interrupted, reached[i]) {
                (Some(_), true) => Disposition::Interrupted,
                (None, true) if !stopped => Disposition::Failed {
                    error: "the sink never settled this record".into(),
                },
                (_, true) => Disposition::NotAttempted,
                (_, false) => match delivery_of(ev) {
                    Ok(_) => Disposition::NotAttempted,
                    Err(Unsent::AlreadyReplayed) => Disposition::AlreadyReplayed { purged: false },
                    Err(Unsent::Skipped(problems)) => Disposition::Skipped { problems },
                },
            });
            (ev.event_id.clone(), d)
        })
        .collect();
    Replayed {
        results,
        interrupted,
    }
}

/// A member of a batch re-sent whole: its payload, and the batch's key.
fn batch_member<'a>(ev: &'a Evaluation, key: &'a str) -> Option<Delivery<'a>> {
    Some(Delivery {
        event_id: &ev.event_id,
        event_type: &ev.event_type,
        rule_id: ev.rule.as_deref().unwrap_or(&ev.old_rule),
        idempotency_key: key,
        body: ev.new_payload.as_ref()?,
    })
}

/// Why a record is not sent.
enum Unsent {
    AlreadyReplayed,
    Skipped(Vec<String>),
}

fn marker_of(ev: &Evaluation) -> String {
    format!("{}{MARKER_SUFFIX}", ev.key)
}

/// The delivery of a record the current spec would send.
fn delivery_of(ev: &Evaluation) -> Result<Delivery<'_>, Unsent> {
    if ev.already_replayed {
        return Err(Unsent::AlreadyReplayed);
    }
    let (Some(body), Some(key), true) = (&ev.new_payload, &ev.idempotency_key, ev.deliverable())
    else {
        return Err(Unsent::Skipped(
            ev.problems.iter().map(|p| p.to_string()).collect(),
        ));
    };
    Ok(Delivery {
        event_id: &ev.event_id,
        event_type: &ev.event_type,
        rule_id: ev.rule.as_deref().unwrap_or(&ev.old_rule),
        idempotency_key: key,
        body,
    })
}

/// What a settled delivery comes to: after a 2xx the marker is written (then the purge).
async fn settle(
    store: &Store,
    replayer: &Replayer,
    ev: &Evaluation,
    outcome: SinkOutcome,
    opts: &ReplayOptions,
    unit: &super::batch::Unit,
) -> Disposition {
    match outcome {
        SinkOutcome::Delivered { status } => {
            let marker_key = marker_of(ev);
            let marker = Marker {
                version: 1,
                event_id: ev.event_id.clone(),
                replayed_at: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                status,
                url: replayer.url.clone(),
                // The key it was delivered with: its batch's when it went with its batch.
                idempotency_key: match unit {
                    super::batch::Unit::Batch { key, .. } => key.clone(),
                    super::batch::Unit::One(_) => ev.idempotency_key.clone().unwrap_or_default(),
                },
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
