//! Batches the CRM may have written (tester #211). The CRM saw a batch's key, its events' keys
//! joined, never theirs: when the batch's outcome is unknown (a timeout, a reset, a 5xx) a CRM
//! that deduplicates on the key header may hold that key with every event written. Replaying
//! the events one by one with their own keys would write them again; with the batch's key, it
//! would keep only the first. So such a batch is re-sent as it was: one request, its events in
//! their order, the batch's key, or not at all. A batch every attempt of which was refused
//! with a 4xx (or never sent) left nothing in the CRM: its events replay alone, with their own
//! keys, which the CRM never saw.

use std::collections::{BTreeMap, BTreeSet};

use super::evaluate::{Evaluation, Problem};
use crate::dlq::inspect::Found;
use crate::dlq::record::Record;

/// Which batch a record was sent in, among the records of a DLQ: the batch's key and size, its
/// channel and the instant its events were dead-lettered together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BatchId {
    key: String,
    size: u32,
    channel: String,
    at: String,
}

impl BatchId {
    /// The batch a record must be re-sent whole with: one the CRM may have written.
    pub fn of(rec: &Record) -> Option<BatchId> {
        let b = rec.batch.as_ref().filter(|b| b.maybe_applied)?;
        Some(BatchId {
            key: b.idempotency_key.clone(),
            size: b.size,
            channel: rec.channel.clone(),
            at: rec.dead_lettered_at.clone(),
        })
    }

    /// The batch's key: what every attempt of it carried, and what its replay carries.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Adds [`Problem::BatchNotWhole`] to every selected member of a batch that must be re-sent
/// whole ([`BatchId::of`]) and cannot be: a member is not in the DLQ (deleted, or replaced by a
/// later dead letter of its event), not selected by the filters, or would not be delivered by
/// the current spec. `all` is every record of the DLQ, selected or not. A batch whose every
/// member is already replayed has nothing to send and is left alone.
pub fn check_whole(evals: &mut [Evaluation], all: &[Found]) {
    let mut groups: BTreeMap<BatchId, Vec<usize>> = BTreeMap::new();
    for (i, e) in evals.iter().enumerate() {
        if let Some(id) = e.batch_id.clone() {
            groups.entry(id).or_default().push(i);
        }
    }
    if groups.is_empty() {
        return;
    }
    // Every place of each such batch that the DLQ holds, selected or not: (index → record).
    let mut stored: BTreeMap<&BatchId, BTreeMap<u32, &Record>> = BTreeMap::new();
    let ids: Vec<(BatchId, &Record)> = all
        .iter()
        .filter_map(|f| BatchId::of(&f.record).map(|id| (id, &f.record)))
        .collect();
    for (id, rec) in &ids {
        if let (Some(b), Some((key, _))) = (&rec.batch, groups.get_key_value(id)) {
            stored.entry(key).or_default().insert(b.index, *rec);
        }
    }
    for (id, members) in &groups {
        if members.iter().all(|&i| evals[i].already_replayed) {
            continue;
        }
        let mut why = Vec::new();
        let mut places: BTreeMap<u32, usize> = BTreeMap::new();
        for &i in members {
            let index = evals[i].batch.as_ref().map_or(0, |b| b.index);
            if places.insert(index, i).is_some() {
                why.push(format!(
                    "two records claim its place {} (the same event dead-lettered twice?)",
                    index + 1
                ));
            }
        }
        let held = stored.get(id);
        let mut missing = Vec::new();
        let mut unselected = Vec::new();
        for index in 0..id.size {
            if places.contains_key(&index) {
                continue;
            }
            match held.and_then(|h| h.get(&index)) {
                Some(rec) => unselected.push(format!(
                    "{} (rule {})",
                    crate::diag::printable(&rec.event_id),
                    crate::diag::printable(&rec.rule_id)
                )),
                None => missing.push((index + 1).to_string()),
            }
        }
        if !missing.is_empty() {
            why.push(format!(
                "its place(s) {} of {} are not in the DLQ",
                missing.join(", "),
                id.size
            ));
        }
        if !unselected.is_empty() {
            why.push(format!(
                "the filters leave out {}; select the whole batch",
                unselected.join(", ")
            ));
        }
        let undeliverable: BTreeSet<String> = members
            .iter()
            .filter(|&&i| !evals[i].deliverable())
            .map(|&i| {
                let e = &evals[i];
                let labels: Vec<&str> = e.problems.iter().map(Problem::label).collect();
                format!(
                    "{} would not be delivered ({})",
                    crate::diag::printable(&e.event_id),
                    labels.join(", ")
                )
            })
            .collect();
        why.extend(undeliverable);
        if why.is_empty() {
            continue;
        }
        for &i in members {
            evals[i].problems.push(Problem::BatchNotWhole {
                size: id.size,
                why: why.clone(),
            });
        }
    }
}

/// What a replay hands the sink at once: one record, or a batch re-sent whole (the indexes of
/// its members' evaluations, in the batch's order, and its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    One(usize),
    Batch { members: Vec<usize>, key: String },
}

/// The deliveries of a replay, in the order of `evals` (a batch where its first member is):
/// each deliverable member of a batch to re-send whole ([`check_whole`] has refused the rest)
/// goes with its batch, already replayed members too (their 2xx may not have reached every
/// marker); every other record alone.
pub fn units(evals: &[Evaluation]) -> Vec<Unit> {
    let mut batches: BTreeMap<&BatchId, Vec<usize>> = BTreeMap::new();
    for (i, e) in evals.iter().enumerate() {
        if let Some(id) = e.batch_id.as_ref().filter(|_| e.deliverable()) {
            batches.entry(id).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    let mut done: BTreeSet<&BatchId> = BTreeSet::new();
    for (i, e) in evals.iter().enumerate() {
        let whole = e
            .batch_id
            .as_ref()
            .filter(|_| e.deliverable())
            .and_then(|id| batches.get_key_value(id))
            .filter(|(_, m)| m.iter().any(|&j| !evals[j].already_replayed));
        match whole {
            Some((id, members)) => {
                if done.insert(id) {
                    let mut members = members.clone();
                    members.sort_by_key(|&j| evals[j].batch.as_ref().map_or(0, |b| b.index));
                    out.push(Unit::Batch {
                        members,
                        key: id.key().to_string(),
                    });
                }
            }
            None => out.push(Unit::One(i)),
        }
    }
    out
}
