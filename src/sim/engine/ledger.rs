//! The settlement ledger of a run: one byte per matched event (pending, delivered, in the DLQ,
//! lost) and the idempotency keys seen. At the end it checks the four invariants against the CRM
//! model's record of side effects and finishes the report.

use rustc_hash::FxHashMap;

use crate::delivery::drive::Observer;
use crate::delivery::{Machine, Output, Time};
use crate::diag::printable;
use crate::sim::crm::{halves, hash128, CrmModel, DedupMode, Halves};
use crate::sim::report::{Invariant, Report};

const PENDING: u8 = 0;
const DELIVERED: u8 = 1;
const DLQ_STORED: u8 = 2;
const DLQ_LOST: u8 = 3;

/// Per-run bookkeeping shared by every driver of a scenario: the settlement of every matched
/// event and the idempotency keys seen, from which the invariants are checked.
#[derive(Default)]
pub struct Ledger {
    state: Vec<u8>,
    keys: FxHashMap<Halves, u64>,
    /// The first submission of the event being submitted (its rules are submitted in a row).
    event_start: u64,
    last_event: String,
    /// The rules of the event being submitted, by submission from `event_start`.
    event_rules: Vec<String>,
    /// The rule of the submission about to be told ([`Observer::rule`]).
    next_rule: String,
    key_clash_count: u64,
    /// The submissions whose key another submission has too: a CRM that deduplicates on the
    /// header drops whichever of them reaches it after another was written.
    clashed: Vec<u64>,
    /// Clashes between two rules' deliveries of one event: how many, and up to five examples.
    rule_clashes: (u64, Vec<String>),
    /// Clashes between two events: how many, and up to five examples.
    event_clashes: (u64, Vec<String>),
    /// The subject hash of every submission ([`Observer::subject`]), kept only against a CRM
    /// that upserts ([`Ledger::upserting`]): it tells an update of one interaction's record
    /// from an overwrite of another's.
    subjects: Option<Vec<u64>>,
    /// Beside `subjects`: each submission's event (its first submission's number, so events
    /// compare in arrival order) and rule (an index into `rule_names`).
    writers: Option<Vec<(u64, u32)>>,
    /// Beside `subjects`: each submission's event time ([`Observer::occurred`], ms since the
    /// Unix epoch; [`NO_TIME`] when it has none), by which the set-back check tells the older
    /// of two events about one record.
    times: Option<Vec<i64>>,
    /// Rule ids by the index the drivers tell ([`Observer::rule`]).
    rule_names: Vec<String>,
    /// The rule index of the submission about to be told.
    next_rule_index: u32,
    /// Why a key collides when the key reads no field that tells events apart.
    key_hint: Option<String>,
    /// Every event's id (at most [`MAX_ID_KEPT`] bytes of it), one after the other, so that an
    /// example names events as the DLQ lines do.
    id_text: String,
    /// Per event: its first submission and where its id ends in `id_text`.
    id_ends: Vec<(u64, usize)>,
}

/// An event without a readable time ([`Ledger::times`]).
const NO_TIME: i64 = i64::MIN;

/// Bytes of an event id kept to name it in an example (ids come from event data).
const MAX_ID_KEPT: usize = 200;

impl Observer for Ledger {
    fn submitted(&mut self, seq: u64, event_id: &str, key: Option<&str>) {
        debug_assert_eq!(seq, self.state.len() as u64, "dense submission numbers");
        self.state.push(PENDING);
        if seq == 0 || event_id != self.last_event {
            self.event_start = seq;
            event_id.clone_into(&mut self.last_event);
            self.event_rules.clear();
            let mut cut = event_id.len().min(MAX_ID_KEPT);
            while !event_id.is_char_boundary(cut) {
                cut -= 1;
            }
            self.id_text.push_str(&event_id[..cut]);
            if cut < event_id.len() {
                self.id_text.push('…');
            }
            self.id_ends.push((seq, self.id_text.len()));
        }
        let rule = std::mem::take(&mut self.next_rule);
        if let Some(key) = key {
            if let Some(first) = self.keys.insert(halves(hash128(key)), seq) {
                self.key_clash_count += 1;
                self.clashed.extend([first, seq]);
                if first >= self.event_start {
                    let other = self
                        .event_rules
                        .get((first - self.event_start) as usize)
                        .map_or("?", String::as_str);
                    let (n, examples) = &mut self.rule_clashes;
                    *n += 1;
                    if examples.len() < 5 {
                        examples.push(format!(
                            "`{}` (event {}, rules {other} and {rule})",
                            printable(key),
                            printable(event_id)
                        ));
                    }
                } else {
                    let earlier = (self.event_clashes.1.len() < 5).then(|| self.event_name(first));
                    let (n, examples) = &mut self.event_clashes;
                    *n += 1;
                    if let Some(earlier) = earlier {
                        examples.push(format!(
                            "`{}` is the key of event {} and of event {earlier}",
                            printable(key),
                            printable(event_id)
                        ));
                    }
                }
            }
        }
        self.event_rules.push(rule);
        if let Some(w) = &mut self.writers {
            w.push((self.event_start, self.next_rule_index));
        }
    }

    fn rule(&mut self, _seq: u64, index: usize, rule_id: &str) {
        rule_id.clone_into(&mut self.next_rule);
        if self.writers.is_some() {
            if self.rule_names.len() <= index {
                self.rule_names.resize(index + 1, String::new());
            }
            if self.rule_names[index].is_empty() {
                rule_id.clone_into(&mut self.rule_names[index]);
            }
            self.next_rule_index = u32::try_from(index).unwrap_or(u32::MAX);
        }
    }

    fn subject(&mut self, seq: u64, subject: u64) {
        if let Some(v) = &mut self.subjects {
            debug_assert_eq!(seq, v.len() as u64, "one subject per submission");
            v.push(subject);
        }
    }

    fn occurred(&mut self, seq: u64, at: Option<i64>) {
        if let Some(v) = &mut self.times {
            debug_assert_eq!(seq, v.len() as u64, "one time per submission");
            v.push(at.unwrap_or(NO_TIME));
        }
    }

    fn settled(&mut self, output: &Output) {
        let (seq, state) = match output {
            Output::Delivered(d) => (d.id.seq, DELIVERED),
            Output::DeadLettered(d) => (d.id.seq, if d.stored { DLQ_STORED } else { DLQ_LOST }),
        };
        if let Some(s) = self.state.get_mut(seq as usize) {
            *s = state;
        }
    }
}

impl Ledger {
    /// The id of the event whose delivery is submission `seq`, escaped for the terminal.
    fn event_name(&self, seq: u64) -> String {
        let i = self.id_ends.partition_point(|(first, _)| *first <= seq);
        let Some(&(_, end)) = i.checked_sub(1).and_then(|i| self.id_ends.get(i)) else {
            return format!("#{seq}");
        };
        let start = i
            .checked_sub(2)
            .and_then(|j| self.id_ends.get(j))
            .map_or(0, |e| e.1);
        printable(self.id_text.get(start..end).unwrap_or("?")).into_owned()
    }

    /// What the shared keys were, each kind's explanation once and then its examples (`None`:
    /// no two deliveries shared a key).
    fn key_clash_detail(&self) -> Option<String> {
        if self.key_clash_count == 0 {
            return None;
        }
        let mut parts = Vec::new();
        let (n, examples) = &self.rule_clashes;
        if *n > 0 {
            parts.push(format!(
                "{n} between two rules' deliveries of one event (the key template is per channel, so every rule that matches an event sends the same key, and a CRM that deduplicates keeps only the first; make the rules' conditions disjoint, merge them into one rule, or move one to a channel whose key adds something rule-specific (lint: CX030)), e.g. {}",
                examples.join(", ")
            ));
        }
        let (n, examples) = &self.event_clashes;
        if *n > 0 {
            parts.push(format!(
                "{n} between two events{}, e.g. {}",
                self.key_hint
                    .as_deref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default(),
                examples.join("; ")
            ));
        }
        Some(format!(
            "{} shared keys: {}",
            self.key_clash_count,
            parts.join("; ")
        ))
    }

    /// A ledger for a run against `crm`; `key_hint` explains a key collision (the key reads no
    /// field generated events vary).
    pub fn new(crm: &CrmModel, key_hint: Option<String>) -> Ledger {
        Ledger {
            subjects: (*crm.dedup() == DedupMode::Upsert).then(Vec::new),
            writers: (*crm.dedup() == DedupMode::Upsert).then(Vec::new),
            times: (*crm.dedup() == DedupMode::Upsert).then(Vec::new),
            key_hint,
            ..Ledger::default()
        }
    }

    /// Deliveries whose record a delivery about another subject overwrote (an upsert field
    /// that does not identify the event), counted once each when they were delivered (a dead
    /// letter is kept in the DLQ), with the first example.
    fn overwritten(&self, state: &[u8], crm: &CrmModel) -> (u64, Option<String>) {
        let Some(subjects) = &self.subjects else {
            return (0, None);
        };
        let subject = |seq: u64| subjects.get(seq as usize).copied();
        let mut lost: Vec<u64> = Vec::new();
        let mut example = None;
        for (i, &(earlier, later)) in crm.overwrites().iter().enumerate() {
            if subject(earlier) == subject(later) {
                // An update of the subject's own record ([`Ledger::set_back`] asks whether
                // it came in order).
                continue;
            }
            if state.get(earlier as usize) == Some(&DELIVERED) {
                lost.push(earlier);
            }
            if example.is_none() {
                let (later, earlier) = (self.event_name(later), self.event_name(earlier));
                example = Some(match crm.overwrite_value(i) {
                    Some(v) => format!(
                        "event {later} overwrote the record of event {earlier}, another interaction's: both have {} {}",
                        crm.upsert_field().unwrap_or(""),
                        printable(v)
                    ),
                    None => format!(
                        "event {later} overwrote the record of event {earlier}, another interaction's"
                    ),
                });
            }
        }
        lost.sort_unstable();
        lost.dedup();
        (lost.len() as u64, example)
    }

    /// Deliveries of one subject's record whose values an **older** event's write changed
    /// afterwards ([`CrmModel::changes`]: a field both set, to different values, or the whole
    /// record where the upsert replaces it): a retried `started` landing after its `ended`
    /// leaves the record open; writes of disjoint fields merge and lose nothing. Older is by the events' own times when both have one and they
    /// differ ([`Observer::occurred`]), else by arrival: the order of the rules in the spec or
    /// of the fixtures in it decides nothing. Counted once each when delivered, with the first
    /// example.
    fn set_back(&self, state: &[u8], crm: &CrmModel) -> (u64, Option<String>) {
        self.lost_changes(
            crm,
            state,
            // Same subject, and the write that landed last is of the older event (another
            // rule of the same event is `rule_conflicts`'s).
            |(newer_write, ev1, _), (older_write, ev2, _)| {
                ev1 != ev2 && self.older((older_write, ev2), (newer_write, ev1))
            },
            |(newer_write, _, r1), (older_write, _, r2)| {
                format!(
                    "event {} (rule {}) landed after event {} (rule {}), a later event about the same record, and replaced it",
                    self.event_name(older_write),
                    self.rule_name(r2),
                    self.event_name(newer_write),
                    self.rule_name(r1)
                )
            },
        )
    }

    /// Deliveries of one event's record that another rule of the **same** event changed
    /// afterwards ([`CrmModel::changes`]: a field both set, to different values, or the whole
    /// record where the upsert replaces it): the record keeps one rule's write, and which one
    /// depends on the order they land (a retry reverses it), #271. Two rules writing the same
    /// values, or disjoint fields of a merging upsert, change nothing and are not counted.
    /// Counted once each when delivered, with the first example.
    fn rule_conflicts(&self, state: &[u8], crm: &CrmModel) -> (u64, Option<String>) {
        self.lost_changes(
            crm,
            state,
            |(_, ev1, r1), (_, ev2, r2)| ev1 == ev2 && r1 != r2,
            |(_, _, r1), (writer, _, r2)| {
                format!(
                    "rule {} of event {} changed what rule {} of the same event wrote",
                    self.rule_name(r2),
                    self.event_name(writer),
                    self.rule_name(r1)
                )
            },
        )
    }

    /// A rule's id by the index the drivers tell (`?` for one never told).
    fn rule_name(&self, i: u32) -> &str {
        self.rule_names.get(i as usize).map_or("?", String::as_str)
    }

    /// The deliveries [`CrmModel::changes`] changed afterwards, of the same subject, where
    /// `lost((delivery, its event, its rule), (writer, its event, its rule))` holds: counted once
    /// each when delivered, with `example` of the first such change.
    fn lost_changes(
        &self,
        crm: &CrmModel,
        state: &[u8],
        lost: impl Fn((u64, u64, u32), (u64, u64, u32)) -> bool,
        example: impl Fn((u64, u64, u32), (u64, u64, u32)) -> String,
    ) -> (u64, Option<String>) {
        let (Some(subjects), Some(writers)) = (&self.subjects, &self.writers) else {
            return (0, None);
        };
        let at = |seq: u64| Some((*subjects.get(seq as usize)?, *writers.get(seq as usize)?));
        let mut out: Vec<u64> = Vec::new();
        let mut first = None;
        for &(changed, writer) in crm.changes() {
            let (Some((s1, (ev1, r1))), Some((s2, (ev2, r2)))) = (at(changed), at(writer)) else {
                continue;
            };
            let (c, w) = ((changed, ev1, r1), (writer, ev2, r2));
            if s1 != s2 || !lost(c, w) {
                continue;
            }
            if state.get(changed as usize) == Some(&DELIVERED) {
                out.push(changed);
            }
            if first.is_none() {
                first = Some(example(c, w));
            }
        }
        out.sort_unstable();
        out.dedup();
        (out.len() as u64, first)
    }

    /// Whether the event of submission `a` is older than that of `b` (each with its event's
    /// first submission, which orders events by arrival): by their own times when both have
    /// one and they differ, else by arrival.
    fn older(&self, (a, arrived_a): (u64, u64), (b, arrived_b): (u64, u64)) -> bool {
        let time = |seq: u64| {
            self.times
                .as_ref()
                .and_then(|t| t.get(seq as usize).copied())
                .filter(|t| *t != NO_TIME)
        };
        match (time(a), time(b)) {
            (Some(x), Some(y)) if x != y => x < y,
            _ => arrived_a < arrived_b,
        }
    }

    /// Checks the invariants against the CRM's record of side effects and finishes the report.
    pub fn finish<R: rand_core::Rng>(
        mut self,
        rep: &mut Report,
        now: Time,
        crm: &CrmModel,
        machine: &Machine<R>,
    ) {
        let state = std::mem::take(&mut self.state);
        self.clashed.sort_unstable();
        self.clashed.dedup();
        let key_clashes = self.key_clash_detail();
        rep.key_clash_count = self.key_clash_count;
        rep.end = now;
        rep.machine = machine.stats().clone();
        rep.crm = crm.stats.clone();
        let dedup = crm.dedup().clone();
        rep.dedup = dedup.as_str().to_string();
        // Invariants over the settled state.
        let mut unsettled = 0u64;
        let mut delivered_not_applied = 0u64;
        let mut duplicates = 0u64;
        let mut dlq_applied = 0u64;
        // Dead letters the CRM had in fact written, with the DLQ disabled: nothing is lost.
        let mut lost_dlq_applied = 0u64;
        let mut dropped_duplicates = 0u64;
        for (seq, s) in state.iter().enumerate() {
            let applied = crm.applied(seq as u64);
            match *s {
                PENDING => unsettled += 1,
                DELIVERED if applied == 0 => {
                    delivered_not_applied += 1;
                    if self.clashed.binary_search(&(seq as u64)).is_ok() {
                        dropped_duplicates += 1;
                    }
                }
                DLQ_STORED if applied > 0 => dlq_applied += 1,
                DLQ_LOST if applied > 0 => {
                    dlq_applied += 1;
                    lost_dlq_applied += 1;
                }
                _ => {}
            }
            if applied > 1 {
                duplicates += u64::from(applied - 1);
            }
        }
        // A dead letter with the DLQ disabled is lost unless the CRM wrote it (response lost).
        let lost_dlq = state.iter().filter(|s| **s == DLQ_LOST).count() as u64 - lost_dlq_applied;
        let (overwritten, example) = self.overwritten(&state, crm);
        let (set_back, set_back_example) = self.set_back(&state, crm);
        let (rule_conflicts, rule_conflict_example) = self.rule_conflicts(&state, crm);
        rep.totals.duplicates = duplicates;
        rep.totals.lost =
            unsettled + delivered_not_applied + lost_dlq + overwritten + set_back + rule_conflicts;
        rep.totals.applied = Some(rep.totals.delivered.saturating_sub(delivered_not_applied));
        rep.totals.delivered_not_applied = delivered_not_applied;
        rep.totals.dropped_duplicates = dropped_duplicates;
        rep.dead_lettered_but_applied = dlq_applied;
        rep.lost_without_dlq = lost_dlq;
        rep.applied_without_dlq = lost_dlq_applied;
        rep.overwritten = overwritten;
        rep.set_back = set_back;
        rep.rule_conflicts = rule_conflicts;
        if rule_conflicts > 0 {
            rep.rule_conflict_detail = format!(
                "{rule_conflicts} record(s) overwritten by another rule of the same event: the CRM upserts on `{}` and {}, and two rules of one event write one record with different values ({}), so the record keeps whichever write lands last and a retry can reverse it; let the rules write fields of their own, or give each rule its own upsert value",
                crm.upsert_field().unwrap_or(""),
                if crm.merges() {
                    "merges each write's fields into the record"
                } else {
                    "replaces the whole record with each write"
                },
                rule_conflict_example.unwrap_or_default()
            );
        }
        if set_back > 0 {
            rep.set_back_detail = format!(
                "{set_back} record(s) set back by an older event: the CRM upserts on `{}` and {}, so a retried delivery that lands after a newer event's write of the same record replaces the newer state ({}); write each event type to a field of its own, or send something the CRM orders writes by (a version or the event's time it checks) — `dlq replay` of old records does the same",
                crm.upsert_field().unwrap_or(""),
                if crm.merges() {
                    "merges each write's fields into the record, so a later write of a field both events set wins"
                } else {
                    "replaces the whole record with each write"
                },
                set_back_example.unwrap_or_default()
            );
        }
        if overwritten > 0 {
            rep.overwrite_detail = format!(
                "{overwritten} record(s) overwritten by other events: upsert field `{}` does not identify the event ({}); upsert on a field the transform fills from `interaction.id` or `event.id`",
                crm.upsert_field().unwrap_or(""),
                example.unwrap_or_default()
            );
        }
        rep.invariants = vec![
            Invariant::new(
                "conservation",
                "every matched event is applied in the CRM or sits in the DLQ with a reason",
                unsettled == 0
                    && delivered_not_applied == 0
                    && lost_dlq == 0
                    && overwritten == 0
                    && set_back == 0
                    && rule_conflicts == 0,
                format!(
                    "{} unsettled, {} delivered but never applied, {} dead-lettered with the DLQ disabled, {} overwritten by another event's upsert, {} set back by an older event's, {} overwritten by another rule of the same event",
                    unsettled, delivered_not_applied, lost_dlq, overwritten, set_back, rule_conflicts
                ),
            ),
            if dedup == DedupMode::None && rep.expect.duplicates.is_some() {
                // The scenario says how many second writes it accepts: its expectation decides.
                Invariant::unchecked(
                    "no-duplicate-side-effects",
                    "no event is written twice",
                    format!(
                        "not checked: the CRM does not deduplicate and the scenario bounds the second writes (expect.duplicates); {duplicates} duplicate write(s)"
                    ),
                )
            } else if dedup == DedupMode::None {
                Invariant::new(
                    "no-duplicate-side-effects",
                    "no event is written twice",
                    duplicates == 0,
                    format!(
                        "{duplicates} duplicate record(s) in the CRM: it does not deduplicate, so every resend after a lost response is a second write; let it upsert on a field it keeps unique (crm.idempotency: {{by: upsert, field: …}}) or accept them with expect.duplicates"
                    ),
                )
            } else {
                Invariant::new(
                    "no-duplicate-side-effects",
                    "no event is written twice",
                    duplicates == 0,
                    format!("{duplicates} duplicate side effects"),
                )
            },
            match key_clashes {
                // The CRM never reads the key (it upserts on a field, or does not deduplicate):
                // a shared key drops nothing (`DedupMode::reads_key`, what lint's CX030 asks).
                Some(_) if !dedup.reads_key() => Invariant::unchecked(
                    "unique-idempotency-keys",
                    "no two deliveries share an idempotency key (two events, or two rules of one event)",
                    format!(
                        "not checked: the CRM does not read the key (dedup {}), so the {} shared key(s) drop nothing",
                        dedup.as_str(),
                        self.key_clash_count
                    ),
                ),
                clashes => Invariant::new(
                    "unique-idempotency-keys",
                    "no two deliveries share an idempotency key (two events, or two rules of one event)",
                    clashes.is_none(),
                    clashes.unwrap_or_else(|| "0 shared keys".to_string()),
                ),
            },
            Invariant::new(
                "nothing-in-flight",
                "nothing is queued, parked or in flight at the end",
                machine.is_idle() && machine.pending_events() == 0,
                format!("{} events still pending in the machine", machine.pending_events()),
            ),
        ];
        rep.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared key's example names both events by their ids, escaped for the terminal, never
    /// by an internal submission number (#148, #155).
    #[test]
    fn a_shared_key_names_both_events_by_their_escaped_ids() {
        let mut l = Ledger::default();
        l.submitted(0, "e\u{1b}[31m-1", Some("ref-x\u{7}"));
        l.submitted(1, "e-2", Some("other"));
        l.submitted(2, "e-3", Some("ref-x\u{7}"));
        let detail = l.key_clash_detail().unwrap();
        assert!(
            detail.contains(r"`ref-x\u0007` is the key of event e-3 and of event e\u001b[31m-1"),
            "{detail}"
        );
        assert!(!detail.contains(['\u{1b}', '\u{7}']), "{detail}");
        assert!(!detail.contains('#'), "{detail}");
        assert_eq!(l.event_name(1), "e-2");
    }
}
