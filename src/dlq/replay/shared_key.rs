//! Records that would go with one idempotency key (tester #218). Two rules that match one event
//! and render the same key dead-letter two records with one key: a CRM that deduplicates on the
//! key header applies the first request and answers the second as a duplicate, writing nothing,
//! so replaying both would report both delivered and mark both while the second's payload is
//! lost. Replay refuses such a DLQ unless told to send only the first of each key.
//!
//! The members of a batch re-sent whole share the batch's key by design and go as one request
//! ([`super::batch`]): they are not grouped here.

use std::collections::BTreeMap;

use super::evaluate::{Evaluation, Problem};

/// A key that two or more records of a replay would be sent with: the key, and the indexes of
/// those records' evaluations in their order (the first is the one sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKey {
    pub key: String,
    pub records: Vec<usize>,
}

/// Every key two or more records would be sent alone with ([`Evaluation::sent_key`], the key the
/// request carries), in key order: only records the replay would send now (deliverable, not
/// already replayed, not re-sent with a batch).
pub fn shared_keys(evals: &[Evaluation]) -> Vec<SharedKey> {
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in evals.iter().enumerate() {
        if e.already_replayed || !e.deliverable() || e.batch_id.is_some() {
            continue;
        }
        if let Some(k) = e.sent_key() {
            by_key.entry(k).or_default().push(i);
        }
    }
    by_key
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(key, records)| SharedKey {
            key: key.to_string(),
            records,
        })
        .collect()
}

/// A record as the refusal names it: its event id and the rule that would send it.
pub fn describe(e: &Evaluation) -> String {
    format!(
        "{} (rule {})",
        crate::diag::printable(&e.event_id),
        crate::diag::printable(e.rule.as_deref().unwrap_or(&e.old_rule))
    )
}

/// Shared keys the refusal lists (the rest are counted).
const MAX_LISTED: usize = 20;

/// The refusal: each shared key with its records, and the fix.
pub fn refusal(evals: &[Evaluation], shared: &[SharedKey]) -> String {
    let mut lines: Vec<String> = shared
        .iter()
        .take(MAX_LISTED)
        .map(|s| {
            let who: Vec<String> = s.records.iter().map(|&i| describe(&evals[i])).collect();
            format!(
                "  key {}: {}",
                crate::diag::printable(&s.key),
                who.join(", ")
            )
        })
        .collect();
    if shared.len() > MAX_LISTED {
        lines.push(format!("  … and {} more key(s)", shared.len() - MAX_LISTED));
    }
    let n: usize = shared.iter().map(|s| s.records.len()).sum();
    format!(
        "{n} record(s) would be sent with {} shared idempotency key(s); a CRM that deduplicates on the key applies the first request of a key and drops the others as duplicates, so their data would be lost while reported delivered:\n{}\nfix: give the rules distinct keys. The key is rendered from the event alone (`idempotency.key`, one template per spec), so two rules that match one event send it with one key: merge them into one rule, make their conditions disjoint, or give one its own channel; `cxsync lint` flags such rules (CX030). Then replay with the fixed spec, or pass --allow-duplicate-keys to send only the first record of each key and leave the others unsent",
        shared.len(),
        lines.join("\n")
    )
}

/// With `--allow-duplicate-keys`: every record after the first of a shared key is not sent
/// ([`Problem::DuplicateKey`]), so no marker claims a delivery the CRM dropped.
pub fn hold_back_duplicates(evals: &mut [Evaluation], shared: &[SharedKey]) {
    for s in shared {
        let first = describe(&evals[s.records[0]]);
        for &i in &s.records[1..] {
            evals[i].problems.push(Problem::DuplicateKey {
                key: s.key.clone(),
                first: first.clone(),
            });
        }
    }
}
