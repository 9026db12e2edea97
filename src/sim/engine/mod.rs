//! The discrete-event engine: runs one scenario against one spec in virtual time.
//!
//! The run is the one driver loop of [`crate::delivery::drive`] in virtual time, with the CRM
//! model as the transport: [`feed`] makes the events and submits what the rules match,
//! [`ledger`] keeps the settlement of every matched event and checks the invariants, `run`
//! wires them to the machine, and the [`Report`] watches it all as an observer. Per-event state
//! is one byte per matched event; outcomes and DLQ records stream out through [`Sinks`] as they
//! happen.

mod curve;
mod feed;
mod ledger;
pub mod preview;
mod run;
pub mod vary;

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde_json::Value;

use super::crm::CrmModel;
use super::report::Report;
use super::scenario::{Fault, Scenario};
use crate::delivery::drive::Observer;
use crate::delivery::{Config, DeadLettered, HubSettings, Output, Reason, Time};
use crate::spec::model::Jitter;
use crate::spec::Spec;
pub use feed::{identity, key_hint, Feed, Oversized, Traffic};
pub use ledger::Ledger;
pub use run::{max_steps, run};

/// The default seed: fixed, so the README's command is reproducible.
pub const DEFAULT_SEED: u64 = 20240115;

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Overrides the scenario's event count.
    pub events: Option<u64>,
    /// Forces `jitter: none`.
    pub no_jitter: bool,
    /// Overrides the step bound (tests use it to prove the bound works).
    pub max_steps: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: DEFAULT_SEED,
            events: None,
            no_jitter: false,
            max_steps: None,
        }
    }
}

/// One line of `--outcomes`: what became of one matched event (one line per rule that matched
/// it), with its times in ms of virtual time and RFC 3339, so that a person (or another model)
/// can check each event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOutcome {
    pub event_id: String,
    /// The rule whose delivery this is.
    pub rule_id: String,
    /// The fixture the event is, or is a copy of (`builtin` without fixtures).
    pub fixture: String,
    /// `delivered`, `deadLettered` (kept in the DLQ), or `lost`: dead-lettered with
    /// `deadLetterQueue.enabled: false`, so nothing keeps it and there is nothing to replay
    /// (tester #238). The hub's view: a `lost` event the CRM had written before its response
    /// was lost is in the CRM all the same (the report's `deadLetters.appliedWithoutDlq`).
    pub outcome: &'static str,
    pub attempts: u32,
    pub reason: Option<&'static str>,
    /// When the event arrived and the rule's delivery was submitted.
    pub arrival_ms: Time,
    pub arrival_at: String,
    /// The first attempt (`null` when none was made: dead-lettered before any send).
    pub first_attempt_ms: Option<Time>,
    pub first_attempt_at: Option<String>,
    /// When it was delivered or dead-lettered.
    pub settled_ms: Time,
    pub settled_at: String,
}

/// A dead letter's original event. The machine does not hold events (only what it resends), so
/// the event is made again from the feed, on demand: [`OriginalEvent::get`] costs what generating
/// it cost, and a sink that writes no record pays nothing.
pub struct OriginalEvent<'f> {
    feed: &'f Feed<'f>,
    k: u64,
}

impl OriginalEvent<'_> {
    /// The event as it arrived.
    pub fn get(&self) -> Value {
        self.feed.event(self.k)
    }
}

/// Where the run streams per-event results.
pub struct Sinks<'a> {
    /// Each settled event's outcome (`None`: no one reads them, and none is made: an outcome
    /// costs three RFC 3339 times and four strings).
    pub outcome: Option<&'a mut dyn FnMut(&EventOutcome)>,
    /// A dead letter, with its original event to make when a DLQ record is written.
    pub dead_letter: &'a mut dyn FnMut(&DeadLettered, &OriginalEvent<'_>),
    /// `(events arrived, events total)`, every few thousand events.
    pub progress: &'a mut dyn FnMut(u64, u64),
}

impl<'a> Sinks<'a> {
    /// Sinks that drop everything.
    pub fn none<R>(f: impl FnOnce(&mut Sinks<'_>) -> R) -> R {
        let mut d = |_: &DeadLettered, _: &OriginalEvent<'_>| {};
        let mut p = |_: u64, _: u64| {};
        f(&mut Sinks {
            outcome: None,
            dead_letter: &mut d,
            progress: &mut p,
        })
    }

    /// The sinks as an observer of a run of `feed` with this epoch (the feed names each event's
    /// fixture and makes a dead letter's event again).
    pub fn watch<'s, 'f>(&'s mut self, epoch: SystemTime, feed: &'f Feed<'f>) -> Watch<'s, 'a, 'f> {
        Watch {
            sinks: self,
            epoch,
            feed,
        }
    }
}

/// [`Sinks`] watching a run: settled events become [`EventOutcome`]s and DLQ records.
pub struct Watch<'s, 'a, 'f> {
    sinks: &'s mut Sinks<'a>,
    epoch: SystemTime,
    feed: &'f Feed<'f>,
}

impl Watch<'_, '_, '_> {
    fn outcome(
        &self,
        (event_id, rule_id, source): (&str, &str, u32),
        (outcome, attempts, reason): (&'static str, u32, Option<&'static str>),
        (arrival, first, settled): (Time, Option<Time>, Time),
    ) -> EventOutcome {
        let at = |t: Time| crate::delivery::rfc3339(self.epoch, t);
        EventOutcome {
            event_id: event_id.to_string(),
            rule_id: rule_id.to_string(),
            fixture: self
                .feed
                .names()
                .get(source as usize)
                .cloned()
                .unwrap_or_default(),
            outcome,
            attempts,
            reason,
            arrival_ms: arrival,
            arrival_at: at(arrival),
            first_attempt_ms: first,
            first_attempt_at: first.map(at),
            settled_ms: settled,
            settled_at: at(settled),
        }
    }
}

impl Observer for Watch<'_, '_, '_> {
    fn arrived(&mut self, done: u64, total: u64) {
        (self.sinks.progress)(done, total);
    }

    fn settled(&mut self, output: &Output) {
        if let Output::DeadLettered(d) = output {
            let event = OriginalEvent {
                feed: self.feed,
                k: d.id.origin,
            };
            (self.sinks.dead_letter)(d, &event);
        }
        if self.sinks.outcome.is_none() {
            return;
        }
        let o = match output {
            Output::Delivered(d) => self.outcome(
                (&d.id.event_id, &d.id.rule_id, d.id.source),
                ("delivered", d.attempts, None),
                (d.submitted, Some(d.first_attempt), d.at),
            ),
            Output::DeadLettered(d) => self.outcome(
                (&d.id.event_id, &d.id.rule_id, d.id.source),
                (
                    if d.stored { "deadLettered" } else { "lost" },
                    d.attempts,
                    Some(d.reason.as_str()),
                ),
                (
                    d.submitted,
                    (d.attempts > 0).then_some(d.first_attempt),
                    d.at,
                ),
            ),
        };
        if let Some(sink) = self.sinks.outcome.as_mut() {
            sink(&o);
        }
    }
}

/// The instant `cxsync test` evaluates the spec's fixtures at (`test.now`, else the default):
/// the generator's check compares generated payloads with the fixtures' at that instant.
pub fn test_now(spec: &Spec) -> DateTime<Utc> {
    crate::transform::runner::snapshot_now(spec, None)
        .unwrap_or_else(|_| crate::transform::default_now())
}

/// Why a run could not complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Config(String),
    #[error("the simulation did not settle after {steps} steps (virtual time {at}); seed {seed} reproduces it")]
    Livelock { steps: u64, at: String, seed: u64 },
    #[error("the transform of rule {rule} ran past the {ms} ms wall-clock guard on event {event}: how long a transform takes depends on the machine, so this run has no verdict (seed {seed}); make the transform cheaper (a recursion or a nested map over a large array?)")]
    WallClockGuard {
        rule: String,
        event: String,
        ms: u64,
        seed: u64,
    },
}

/// The epoch of a run: the scenario's `start`, else the spec's `test.now`, else the guide's
/// example instant.
pub fn epoch(spec: &Spec, sc: &Scenario) -> SystemTime {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| SystemTime::from(d.with_timezone(&Utc)))
    };
    sc.start
        .as_deref()
        .and_then(parse)
        .or_else(|| {
            spec.raw
                .test
                .as_ref()
                .and_then(|t| t.now.as_deref())
                .and_then(parse)
        })
        .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200))
}

/// Picks a metrics interval giving about 60 points.
pub fn auto_interval(duration: Time) -> Time {
    const STEPS: &[Time] = &[
        1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
    ];
    *STEPS
        .iter()
        .find(|s| duration / **s <= 60)
        .unwrap_or(&3_600_000)
}

/// The note of a run whose spec sets `retry.circuitBreaker`, which is not sent to the hub: the
/// guide's retry-policy API has no such field, so `compile` and `apply` leave it out, and the
/// delivery machine, like the hub, runs no breaker (#122; lint CX038).
pub const BREAKER_NOT_SENT: &str = "retry.circuitBreaker is not sent to the Event Hub (its retry-policy API has no such field; `cxsync compile` leaves it out) and not simulated: this run has no breaker, as production has none (lint CX038)";

/// Says why, when the DLQ holds throttled events the policy could have kept; and that a
/// circuit breaker the spec sets is neither sent nor simulated.
pub fn throttle_notes(rep: &mut Report, spec: &Spec, crm: &CrmModel) {
    if spec.raw.retry.circuit_breaker.is_some() {
        rep.notes.push(BREAKER_NOT_SENT.to_string());
    }
    let throttle = crm.profile().throttle.clone();
    let throttled_dlq = rep
        .dlq_by_status
        .get(&throttle.status)
        .copied()
        .unwrap_or(0);
    if throttled_dlq > 0 {
        let policy = &spec.raw.retry;
        if policy.non_retryable_status_codes.contains(&throttle.status) {
            rep.notes.push(format!(
                "{} throttles with {}, which retry.nonRetryableStatusCodes dead-letters at once: {} event(s) went to the DLQ on a throttle response; make {} retryable",
                crm.profile().name, throttle.status, throttled_dlq, throttle.status
            ));
        } else if throttle.retry_after && !policy.respect_retry_after_header {
            rep.notes.push(format!(
                "{} event(s) exhausted their retries on {} responses that carried Retry-After; retry.respectRetryAfterHeader is off, so retries fired before the CRM's window reopened: set retry.respectRetryAfterHeader: true (the hub then waits at least the Retry-After, the guide's edge case 1)",
                throttled_dlq, throttle.status
            ));
        } else {
            // Why the machine gave up decides the advice (tester #240): the delivery deadline
            // ends an event with retries left, so more retries keep none of those (lint CX023
            // says the same of the policy).
            let by_deadline = rep
                .dlq_by_status_reason
                .get(&(throttle.status, Reason::DeadlineExceeded))
                .copied()
                .unwrap_or(0);
            if by_deadline > 0 {
                rep.notes.push(deadline_note(
                    by_deadline,
                    throttle.status,
                    spec.raw.crm.delivery_deadline_seconds,
                    rep.dlq_enabled,
                ));
            }
            let rest = throttled_dlq - by_deadline;
            if rest > 0 {
                rep.notes.push(format!(
                    "{rest} event(s) were dead-lettered after a {} throttle response{}; more retries or a longer maxDelaySeconds keep them",
                    throttle.status,
                    if by_deadline > 0 {
                        " with their retries spent"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
}

/// The note on `n` events the delivery deadline cut after a throttle response (`status`): more
/// retries or a longer `maxDelaySeconds` keep none of them, as lint's CX023 says (it advises
/// fewer retries, so the policy promises no attempt the deadline forbids).
fn deadline_note(n: u64, status: u16, deadline: Option<u64>, dlq: bool) -> String {
    let deadline = deadline.map(|d| format!(" ({d} s)")).unwrap_or_default();
    format!(
        "{n} event(s) were dead-lettered as DEADLINE_EXCEEDED after a {status} throttle response: crm.deliveryDeadlineSeconds{deadline} ended them with retries left, so more retries or a longer maxDelaySeconds keep none of them (lint CX023); raise crm.deliveryDeadlineSeconds if the CRM allows a longer stay, {}",
        if dlq {
            "or replay them (`cxsync dlq replay`) once the throttling is over"
        } else {
            "or accept that they are lost (the DLQ is disabled)"
        }
    )
}

/// The machine configuration of a run: the spec's settings plus the scenario's hub settings.
pub fn machine_config(
    spec: &Spec,
    sc: &Scenario,
    opts: &Options,
    epoch: SystemTime,
) -> Result<Config, EngineError> {
    let hub = HubSettings {
        concurrency: sc.hub.concurrency.max(1) as usize,
        epoch,
        jitter: opts.no_jitter.then_some(Jitter::None),
        ..HubSettings::default()
    };
    Config::from_spec(&spec.raw, hub).map_err(|e| EngineError::Config(e.to_string()))
}

/// The machine's jitter RNG for a seed.
pub fn machine_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The CRM model's RNG for a seed (independent of the machine's).
pub fn crm_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15)
}

/// An empty report for a run of `total_events` events against `crm`.
pub fn new_report(
    spec: &Spec,
    sc: &Scenario,
    opts: &Options,
    epoch: SystemTime,
    total_events: u64,
    crm: &CrmModel,
) -> Report {
    let interval = sc
        .interval
        .map(|d| d.ms().max(1))
        .unwrap_or_else(|| auto_interval(sc.duration.ms()));
    let mut rep = Report::new(spec, sc, opts.seed, opts.no_jitter, interval, epoch);
    rep.totals.events = total_events;
    rep.crm_profile = crm.profile().name.to_string();
    rep.causes.limits = Some(crate::sim::verdict::Limits {
        checks: crm.checks(),
    });
    rep.notes.extend(profile_note(spec, sc));
    rep.notes.extend(crm.notes.iter().cloned());
    rep.notes.extend(horizon_note(spec, sc));
    rep.notes.extend(oversize_note(spec, sc));
    rep
}

/// The note of a run whose `events.oversize.path` no enabled rule's transform reads
/// (`transform::syntax::Analysis::reads`, the path analysis lint's rules read): no payload grew,
/// so the run did not test payload size and a PASS is no evidence about it (tester #244: the
/// built-in `payload-too-large` grows `interaction.analytics.transcript`, a Zendesk spec sent
/// `interaction.transcript`). Names a path the transforms read that looks like a transcript.
fn oversize_note(spec: &Spec, sc: &Scenario) -> Option<String> {
    let o = sc.events.oversize.as_ref()?;
    let field: Vec<&str> = o.path.split('.').collect();
    let mut analyses = Vec::new();
    for r in &spec.rules {
        if !spec.raw.rules.get(r.index).is_some_and(|raw| raw.enabled) {
            continue;
        }
        // A rule without a transform, or one the analysis cannot read, may read anything.
        let a = r
            .transform
            .as_ref()
            .and_then(|t| crate::transform::syntax::analyse(&t.text).ok())?;
        if a.reads(&field) {
            return None;
        }
        analyses.push((spec.raw.rules[r.index].id.clone(), a));
    }
    let instead = analyses.iter().find_map(|(rule, a)| {
        a.paths
            .iter()
            .find(|p| {
                !p.has_wildcard()
                    && p.segments
                        .last()
                        .is_some_and(|s| s.to_ascii_lowercase().contains("transcript"))
            })
            .map(|p| (p.dotted(), rule))
    });
    Some(format!(
        "events.oversize grows `{}`, which no rule's transform reads: no payload grew, so this run did not test payload size and its verdict is no evidence about it; {}",
        o.path,
        match instead {
            Some((path, rule)) => format!(
                "to test it, run a scenario whose events.oversize.path is the field the spec sends, e.g. `{path}` (read by rule {rule})"
            ),
            None => "to test it, run a scenario whose events.oversize.path is a large field the transforms send (docs/scenarios.md)".to_string(),
        }
    ))
}

/// The note of a run whose scenario sets its own `crm.profile`, other than the spec's: the run
/// models that CRM's behaviour (its throttle status, its deduplication), so advice about status
/// codes is for it, not for the spec's CRM (tester #227: `salesforce-throttle` on a Zendesk spec
/// advised "make 403 retryable", where Zendesk's 403 is a permission error).
fn profile_note(spec: &Spec, sc: &Scenario) -> Option<String> {
    let theirs = sc.crm.profile?;
    let ours = spec.raw.crm.profile;
    (theirs != ours).then(|| {
        format!(
            "the scenario models {t}'s behaviour; the spec's CRM is {o}: advice about status codes is for {t}",
            t = theirs.as_str(),
            o = ours.as_str()
        )
    })
}

/// The note of a run whose scenario sends a Retry-After longer than the spec declares its CRM
/// sends (`crm.retryAfterHorizonSeconds`): lint's CX012 checks `maxDelaySeconds` against the
/// declared horizon, so its silence does not cover this run (tester #216).
fn horizon_note(spec: &Spec, sc: &Scenario) -> Option<String> {
    let horizon = spec.raw.crm.retry_after_horizon_seconds?;
    let longest = sc
        .faults
        .iter()
        .filter_map(|f| match f {
            Fault::Throttle {
                retry_after_seconds,
                ..
            }
            | Fault::Respond {
                retry_after_seconds,
                ..
            }
            | Fault::Maintenance {
                retry_after_seconds,
                ..
            } => *retry_after_seconds,
            _ => None,
        })
        .max()?;
    (longest > horizon).then(|| {
        format!(
            "the scenario's CRM sends a Retry-After of {longest} s, longer than crm.retryAfterHorizonSeconds ({horizon}), the longest the spec says its CRM sends and what lint's CX012 checks maxDelaySeconds against: if the CRM can send {longest} s, raise crm.retryAfterHorizonSeconds to it"
        )
    })
}
