//! What a run submits before any fault or timing decides anything: the events of the [`Feed`]
//! (each fixture as it is, then copies of the fixture set generated as the run generates them),
//! matched against the rules, each match with the idempotency key it carries, its subject and
//! the record an upserting CRM writes it onto, read by the CRM model itself.
//!
//! Lint asks this instead of keeping a model of its own: CX016 (two events render one key: the
//! ledger's `unique-idempotency-keys` between events) and CX037 (two events of one subject write
//! one upserted record: the ledger's *set back*, once a retry reorders them) read what a run
//! reads, so lint fires exactly where the simulator can find the fault.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::feed::{event_name, subject_hash, Feed};
use super::EngineError;
use crate::delivery::Template;
use crate::diag::printable;
use crate::sim::crm::{sets_back, CrmModel, Field};
use crate::sim::inputs::Inputs;
use crate::sim::scenario::{self, Scenario};
use crate::spec::Spec;
use crate::transform::transformed::{transformed, Transformed};

/// One submission of the previewed run: one rule's delivery of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The event's number in the feed ([`Feed::event`]); writes come in arrival order
    /// ([`Feed::schedule`]).
    pub arrival: u64,
    /// The fixture the event is, or copies.
    pub fixture: String,
    /// The event's id as reports name it (`#k` when it has none).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The rule, by index into [`Inputs::rules`].
    pub rule: usize,
    /// The idempotency key it carries (`None`: the template does not render for the event).
    pub key: Option<String>,
    /// Its subject as the ledger compares subjects ([`subject_hash`]).
    pub subject: u64,
    /// The subject in words (`interaction.id="INT-1"`); `None` when the event carries no
    /// identity (the arrival is its own subject).
    pub subject_text: Option<String>,
    /// The record the CRM writes it onto when it upserts ([`CrmModel::record_of`]); `None` when
    /// the CRM does not upsert, the transform failed, or the CRM refuses the record.
    pub record: Option<String>,
    /// The fields the write sets when the CRM merges upserts ([`CrmModel::fields_of`]); `None`
    /// when an upsert replaces the whole record.
    pub fields: Option<Vec<Field>>,
    /// The payload's length in bytes as the machine measures it against `crm.maxPayloadBytes`
    /// (its JSON text, `delivery::machine::json_text`); `None` when the transform failed (the
    /// event is dead-lettered unsent, never batched).
    pub payload_len: Option<usize>,
}

/// How many copies of the fixture set a preview generates after the fixtures themselves: one
/// copy shows what two events of one interaction do, the second what two copies share.
pub const COPIES: u64 = 3;

/// The submissions of a run of `spec` over its fixtures and `copies` generated copies of them,
/// with no scenario's changes (no dropped agents, no oversized fields). The events, keys,
/// subjects and records are the run's own: the same [`Feed`], the same matcher, transform and
/// key template, and the CRM model's reading of each record.
pub fn writes(spec: &Spec, inputs: &Inputs, copies: u64) -> Result<Vec<Write>, EngineError> {
    let template = Template::parse(&spec.raw.idempotency.key)
        .map_err(|e| EngineError::Config(format!("idempotency key: {e}")))?;
    let templates = inputs.fixtures.len().max(1) as u64;
    let sc = preview_scenario(copies.saturating_mul(templates))?;
    let epoch = super::epoch(spec, &sc);
    let crm = CrmModel::new(&spec.raw, &sc, &inputs.schemas);
    let feed = Feed::new(inputs, &sc, None, epoch, &template)?;
    let mut scratch = feed.scratch();
    let mut out = Vec::new();
    let mut schedule = feed.schedule();
    while let Some((now, k)) = feed.take(&mut schedule) {
        let event = feed.event_in(k, &mut scratch);
        let matching: Vec<usize> = (0..inputs.rules.len())
            .filter(|&i| inputs.rules[i].matches(&event))
            .collect();
        if matching.is_empty() {
            continue;
        }
        let (event_id, event_type) = event_name(&event, k);
        let key = template.render(&event).ok();
        let subject_text = inputs.identity.subject(&event);
        let subject = subject_hash(&inputs.identity, &event, k);
        let when: DateTime<Utc> = (epoch_plus(epoch, now)).into();
        let fixture = feed
            .names()
            .get(feed.source_of(k) as usize)
            .cloned()
            .unwrap_or_default();
        for ri in matching {
            let rule = &inputs.rules[ri];
            let (record, fields, payload_len) = match transformed(rule.transform.eval(&event, when))
            {
                Transformed::Send(p) => (
                    crm.record_of(&rule.id, &p),
                    crm.fields_of(&p),
                    Some(crate::delivery::machine::json_text(&p).len()),
                ),
                Transformed::Nothing => continue,
                Transformed::Failed(_) => (None, None, None),
            };
            out.push(Write {
                arrival: k,
                fixture: fixture.clone(),
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                rule: ri,
                key: key.clone(),
                subject,
                subject_text: subject_text.clone(),
                record,
                fields,
                payload_len,
            });
        }
    }
    Ok(out)
}

/// Which rules (by index into [`Inputs::rules`]) some event of the previewed run matches (the
/// same [`Feed`] and matcher as [`writes`], whatever the transform then gives): a rule that no
/// event matches is one a run reports "was not simulated: no event of the run matched it"
/// (lint: CX042).
pub fn matched_rules(spec: &Spec, inputs: &Inputs, copies: u64) -> Result<Vec<bool>, EngineError> {
    let template = Template::parse(&spec.raw.idempotency.key)
        .map_err(|e| EngineError::Config(format!("idempotency key: {e}")))?;
    let templates = inputs.fixtures.len().max(1) as u64;
    let sc = preview_scenario(copies.saturating_mul(templates))?;
    let epoch = super::epoch(spec, &sc);
    let feed = Feed::new(inputs, &sc, None, epoch, &template)?;
    let mut scratch = feed.scratch();
    let mut schedule = feed.schedule();
    let mut matched = vec![false; inputs.rules.len()];
    while let Some((_, k)) = feed.take(&mut schedule) {
        let event = feed.event_in(k, &mut scratch);
        for (hit, rule) in matched.iter_mut().zip(&inputs.rules) {
            *hit = *hit || rule.matches(&event);
        }
        if matched.iter().all(|m| *m) {
            break;
        }
    }
    Ok(matched)
}

fn epoch_plus(epoch: SystemTime, ms: u64) -> SystemTime {
    epoch + Duration::from_millis(ms)
}

/// A scenario of `count` generated events and nothing else: no faults, no CRM overrides, no
/// changes to the events.
fn preview_scenario(count: u64) -> Result<Scenario, EngineError> {
    let text = format!("version: 1\nname: preview\nduration: 10m\nevents: {{ count: {count} }}\n");
    scenario::parse(&text, std::path::Path::new("builtin:preview"))
        .map_err(|d| EngineError::Config(d.first().map_or_else(String::new, |d| d.message.clone())))
}

/// Pairs of writes of different events that carry one idempotency key: `(earlier, later)`
/// indexes into `writes`, each later write paired with the first write of its key (as the
/// ledger counts a clash between two events). Two rules' deliveries of one event are CX030's.
pub fn shared_keys(writes: &[Write]) -> Vec<(usize, usize)> {
    let mut first: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut out = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        let Some(key) = w.key.as_deref() else {
            continue;
        };
        match first.get(key) {
            Some(&j) if writes[j].arrival != w.arrival => out.push((j, i)),
            Some(_) => {}
            None => {
                first.insert(key, i);
            }
        }
    }
    out
}

/// Pairs of writes of different events about one subject onto one upserted record that can set
/// each other back ([`sets_back`]: a field both set to different values, or any two writes where
/// the upsert replaces the record): `(earlier, later)` indexes into `writes`, every such pair (at
/// most [`PAIRS_PER_RECORD`] writes of each record are paired). A retry that lands the earlier
/// one after the later sets the record back (the ledger's `set_back`, from the CRM model's
/// `changes`, which follows the same rule).
pub fn shared_records(writes: &[Write]) -> Vec<(usize, usize)> {
    let mut by_record: std::collections::BTreeMap<(&str, u64), Vec<usize>> = Default::default();
    for (i, w) in writes.iter().enumerate() {
        if let Some(record) = w.record.as_deref() {
            by_record.entry((record, w.subject)).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for group in by_record.values() {
        let group = &group[..group.len().min(PAIRS_PER_RECORD)];
        for (n, &i) in group.iter().enumerate() {
            for &j in &group[n + 1..] {
                if writes[i].arrival != writes[j].arrival
                    && sets_back(writes[i].fields.as_deref(), writes[j].fields.as_deref())
                {
                    out.push((i, j));
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// Pairs of writes of **one event** by two rules onto one record that differ ([`sets_back`]: a
/// field both set to different values, or any two writes where the upsert replaces the record):
/// `(first rule's write, second's)` indexes into `writes`, at most one pair per record. The
/// record keeps whichever lands last; the ledger's `rule_conflicts` (from the CRM model's
/// `changes`, which follows the same rule) counts them lost (#271).
pub fn rule_conflicts(writes: &[Write]) -> Vec<(usize, usize)> {
    let mut by_record: std::collections::BTreeMap<(&str, u64, u64), Vec<usize>> =
        Default::default();
    for (i, w) in writes.iter().enumerate() {
        if let Some(record) = w.record.as_deref() {
            by_record
                .entry((record, w.subject, w.arrival))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for group in by_record.values() {
        let group = &group[..group.len().min(PAIRS_PER_RECORD)];
        'pairs: for (n, &i) in group.iter().enumerate() {
            for &j in &group[n + 1..] {
                if writes[i].rule != writes[j].rule
                    && sets_back(writes[i].fields.as_deref(), writes[j].fields.as_deref())
                {
                    out.push((i, j));
                    break 'pairs;
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// The pairs of rules whose writes of one record can set it back, CX037's condition: `(the
/// earlier write's rule, the later's)` by index into [`Inputs::rules`], each pair once, in order.
pub fn set_back_rules(writes: &[Write]) -> Vec<(usize, usize)> {
    let pairs: std::collections::BTreeSet<(usize, usize)> = shared_records(writes)
        .into_iter()
        .map(|(a, b)| (writes[a].rule, writes[b].rule))
        .collect();
    pairs.into_iter().collect()
}

/// [`set_back_rules`] of a run of `spec`'s fixtures, by rule id: what the verdict's "to replay"
/// line and `dlq replay` warn of, a replay of an older event's dead letter landing after a
/// newer event's write (#217). Empty when the preview cannot run (lint and the run say why).
pub fn set_back_rules_of(spec: &Spec, inputs: &Inputs) -> Vec<(String, String)> {
    let Ok(w) = writes(spec, inputs, COPIES) else {
        return Vec::new();
    };
    let id = |i: usize| {
        inputs
            .rules
            .get(i)
            .map_or_else(String::new, |r| r.id.clone())
    };
    set_back_rules(&w)
        .into_iter()
        .map(|(a, b)| (id(a), id(b)))
        .collect()
}

/// The words the "to replay" line adds for [`set_back_rules_of`]'s pairs (empty for none).
pub fn replay_set_back_note(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let named: Vec<String> = pairs
        .iter()
        .map(|(a, b)| {
            if a == b {
                format!("rule `{}` writes one record for two events", printable(a))
            } else {
                format!(
                    "rules `{}` and `{}` write one record",
                    printable(a),
                    printable(b)
                )
            }
        })
        .collect();
    format!(
        " — but {} and set a field to different values (lint: CX037): a replayed dead letter of an older event lands after the newer event's write and sets the record back; `dlq replay` names the records of the older events, check the CRM's record before sending them",
        named.join(", ")
    )
}

/// How many writes of one record [`shared_records`] pairs: the events of one subject in one copy
/// of the fixture set are few; a record every event writes (an upsert field the transform leaves
/// out) is CX034's.
pub const PAIRS_PER_RECORD: usize = 64;
