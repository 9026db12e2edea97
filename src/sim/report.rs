//! The result of a run: totals, DLQ reasons, attempts, latency percentiles, invariants and
//! expectations, and per-interval metrics in the shape of the guide's metrics API
//! (`GET /api/v2/eventhub/channels/{id}/metrics`). Rendered as a terminal summary, JSON
//! (`--report`) and an SVG timeline (`--svg`). Everything here is a function of the run: no
//! wall-clock time, no hash order, so one seed gives one byte-identical report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::crm::CrmStats;
use super::scenario::{fmt_measured, Band, Expect, Scenario};
use super::verdict::Causes;
use crate::delivery::drive::{Observer, Reply};
use crate::delivery::{self, DeadLettered, Delivered, Output, Reason, Stats, Time};
use crate::diag::xml::escape;
use crate::spec::Spec;

/// One metrics interval.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    pub requests: u64,
    pub retries: u64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Timeouts and connection resets.
    pub timeouts: u64,
    pub delivered: u64,
    pub dlq: u64,
    pub token_refreshes: u64,
    pub latencies: Vec<u32>,
    pub p95: u32,
}

/// The guide's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: u64,
    /// Deliveries submitted: one per (event, rule) the event matched whose transform gave a
    /// payload. An event two rules match is two deliveries (`totals.matched` and
    /// `totals.deliveries` in the JSON report).
    pub matched: u64,
    /// Distinct events at least one enabled rule matched (by event type and conditions),
    /// whatever their transforms then sent (tester #233).
    pub matched_events: u64,
    /// Of `matched_events`, those with at least one delivery (a rule's transform gave a
    /// payload): `matched` deliveries are of these events.
    pub events_with_payload: u64,
    /// Deliveries the hub saw succeed (a 2xx): `applied` plus `delivered_not_applied`.
    pub delivered: u64,
    /// Delivered and written by the CRM model; `None` where no CRM model watches the run (a
    /// `--target` run cannot see the CRM).
    pub applied: Option<u64>,
    /// Delivered (a 2xx) but never written by the CRM: counted in `lost` too.
    pub delivered_not_applied: u64,
    /// Of `delivered_not_applied`, those the CRM dropped as duplicates: their idempotency key
    /// was an earlier delivery's (two rules of one event, or two events, share a key).
    pub dropped_duplicates: u64,
    pub dead_lettered: u64,
    pub duplicates: u64,
    pub lost: u64,
    pub attempts: u64,
    pub token_refreshes: u64,
}

/// What a run gave one enabled rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleRun {
    pub id: String,
    pub event_type: String,
    /// Fixture files the rule lists.
    pub fixtures: usize,
    /// Deliveries submitted (events it matched and had a payload for).
    pub submitted: u64,
    /// Events it matched whose transform gave no output: nothing sent.
    pub sent_nothing: u64,
}

/// One invariant and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invariant {
    pub name: &'static str,
    pub statement: &'static str,
    pub holds: bool,
    /// False when the run cannot check it (e.g. duplicates against a CRM that does not
    /// deduplicate): it neither holds nor breaks, and `detail` says why and what counts instead.
    pub checked: bool,
    pub detail: String,
}

impl Invariant {
    pub fn new(name: &'static str, statement: &'static str, holds: bool, detail: String) -> Self {
        Invariant {
            name,
            statement,
            holds,
            checked: true,
            detail,
        }
    }

    /// An invariant this run cannot check; `why` is printed in its place.
    pub fn unchecked(name: &'static str, statement: &'static str, why: String) -> Self {
        Invariant {
            name,
            statement,
            holds: true,
            checked: false,
            detail: why,
        }
    }
}

/// One expectation of the scenario, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub actual: f64,
    pub met: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub spec: String,
    /// The environment overlay the spec ran with (`--env`), if any.
    pub environment: Option<String>,
    pub channel: String,
    pub scenario: String,
    pub seed: u64,
    pub jitter: String,
    pub crm_profile: String,
    pub dedup: String,
    pub epoch: SystemTime,
    pub interval: Time,
    pub end: Time,
    pub totals: Totals,
    pub by_reason: BTreeMap<Reason, u64>,
    pub attempts_histogram: BTreeMap<u32, u64>,
    /// What the CRM requests came to.
    pub responses: Responses,
    pub alerts: u64,
    pub peak_retry_rate: u64,
    /// Most events accepted by the hub but not yet settled at one time (the backlog).
    pub peak_pending: u64,
    pub latencies: Vec<u32>,
    pub buckets: Vec<Bucket>,
    pub dlq_examples: Vec<(Reason, String)>,
    pub dead_lettered_but_applied: u64,
    /// Delivered records an upsert by another event overwrote (counted in `totals.lost`), and
    /// the failure that says why.
    pub overwritten: u64,
    pub overwrite_detail: String,
    /// Delivered records an older event of the same subject overwrote afterwards (a retried
    /// write landing after a newer one: last writer wins), counted in `totals.lost`, and the
    /// failure that says why.
    pub set_back: u64,
    pub set_back_detail: String,
    /// Delivered records another rule of the **same** event changed afterwards (two rules of
    /// one event upserting one record, a field both set to different values: which write
    /// survives depends on the order they land, #271), counted in `totals.lost`, and the
    /// failure that says why.
    pub rule_conflicts: u64,
    pub rule_conflict_detail: String,
    /// Pairs of rules (the older event's, the newer's) whose writes of one upserted record can
    /// set it back (CX037's condition, `sim::engine::preview::set_back_rules_of`): a replay of
    /// an older event's dead letter can, so the "to replay" line says so (#217).
    pub replay_set_back: Vec<(String, String)>,
    /// Dead letters lost because `deadLetterQueue.enabled` is false (tester #224): none of them
    /// is "to replay", there is no DLQ to replay from.
    pub lost_without_dlq: u64,
    /// Dead letters with the DLQ disabled that the CRM had in fact written (response lost):
    /// not lost, and not counted in `lost_without_dlq` (tester #238).
    pub applied_without_dlq: u64,
    /// `deadLetterQueue.enabled`: whether a dead letter is kept to replay.
    pub dlq_enabled: bool,
    /// Dead-lettered events by the last HTTP status they saw.
    pub dlq_by_status: BTreeMap<u16, u64>,
    /// Dead-lettered events by the last HTTP status they saw and their reason: advice about a
    /// status depends on why the machine gave up (tester #240: a deadline is not kept by more
    /// retries).
    pub dlq_by_status_reason: BTreeMap<(u16, Reason), u64>,
    pub key_clash_count: u64,
    pub invariants: Vec<Invariant>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    pub machine: Stats,
    /// Percentiles of `latencies`, set by [`Report::finish`]; `None` when nothing was delivered
    /// (percentiles of nothing are not "0 ms").
    pub latency: Option<Latency>,
    pub crm: CrmStats,
    /// Dead letters by who must act on them (the spec, or a replay).
    pub causes: Causes,
    /// What the generator's built-in check found (empty: generated events keep their fixtures'
    /// shape); a finding fails the run.
    pub generation: Vec<String>,
    /// The fixture names events come from, by `source`.
    pub sources: Vec<String>,
    /// Every enabled rule, in spec order, and what the run gave it ([`Report::not_simulated`]).
    pub rules: Vec<RuleRun>,
    pub(crate) expect: Expect,
    /// `(second, retries sent in it)`, for the peak retry rate.
    retry_second: (u64, u64),
    /// The next submission is the matched event's first delivery.
    first_delivery: bool,
}

/// Arrival-to-delivery latency of the delivered events, in virtual ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub p50: u32,
    pub p95: u32,
    pub p99: u32,
    pub max: u32,
}

impl Latency {
    /// The percentiles of sorted samples; `None` for no samples.
    pub fn of(sorted: &[u32]) -> Option<Latency> {
        Some(Latency {
            p50: percentile(sorted, 50.0),
            p95: percentile(sorted, 95.0),
            p99: percentile(sorted, 99.0),
            max: *sorted.last()?,
        })
    }
}

/// What a run's CRM requests came to, as the machine saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Responses {
    /// Answers in time, by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// No answer within the channel's timeout.
    pub timeouts: u64,
    /// Connection resets (and other failures without a response).
    pub resets: u64,
}

/// Nearest-rank percentile of sorted data.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Counts as `key×count`, two spaces apart, in key order; `-` for none.
fn times<K: std::fmt::Display>(counts: &BTreeMap<K, u64>) -> String {
    if counts.is_empty() {
        return "-".into();
    }
    let each: Vec<String> = counts.iter().map(|(k, n)| format!("{k}×{n}")).collect();
    each.join("  ")
}

/// `text(n)` when `n` is not zero, else nothing: an optional part of a summary line.
fn if_any(n: u64, text: impl FnOnce(u64) -> String) -> String {
    if n > 0 {
        text(n)
    } else {
        String::new()
    }
}

/// ISO 8601 duration of an interval, as the metrics API writes it (`PT1H`).
pub fn iso_interval(ms: Time) -> String {
    if ms % 3_600_000 == 0 {
        format!("PT{}H", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("PT{}M", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("PT{}S", ms / 1000)
    } else {
        format!("PT{}S", ms as f64 / 1000.0)
    }
}

pub fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 7_200_000 {
        format!("{:.1} min", ms as f64 / 60_000.0)
    } else {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    }
}

impl Report {
    /// An empty report for a run about to start.
    pub fn new(
        spec: &Spec,
        sc: &Scenario,
        seed: u64,
        no_jitter: bool,
        interval: Time,
        epoch: SystemTime,
    ) -> Self {
        let jitter = if no_jitter {
            "none".to_string()
        } else {
            serde_json::to_value(spec.raw.retry.jitter)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        Report {
            spec: spec.raw.name.clone(),
            environment: None,
            channel: spec.raw.channel.name.clone(),
            scenario: sc.name.clone(),
            seed,
            jitter,
            crm_profile: String::new(),
            dedup: String::new(),
            epoch,
            interval,
            end: 0,
            totals: Totals::default(),
            by_reason: BTreeMap::new(),
            attempts_histogram: BTreeMap::new(),
            responses: Responses::default(),
            alerts: 0,
            peak_retry_rate: 0,
            peak_pending: 0,
            latencies: Vec::new(),
            buckets: Vec::new(),
            dlq_examples: Vec::new(),
            dead_lettered_but_applied: 0,
            overwritten: 0,
            overwrite_detail: String::new(),
            set_back: 0,
            set_back_detail: String::new(),
            rule_conflicts: 0,
            rule_conflict_detail: String::new(),
            replay_set_back: Vec::new(),
            lost_without_dlq: 0,
            applied_without_dlq: 0,
            dlq_enabled: spec.raw.dead_letter_queue.enabled,
            dlq_by_status: BTreeMap::new(),
            dlq_by_status_reason: BTreeMap::new(),
            key_clash_count: 0,
            invariants: Vec::new(),
            checks: Vec::new(),
            notes: Vec::new(),
            machine: Stats::default(),
            crm: CrmStats::default(),
            latency: None,
            causes: Causes {
                stale_tokens: super::verdict::sends_expired_tokens(&spec.raw, sc),
                no_refresh: super::verdict::refreshes_no_token(&spec.raw),
                batch_size: spec.raw.channel.batch_size.max(1) as usize,
                ..Causes::default()
            },
            generation: Vec::new(),
            sources: Vec::new(),
            rules: spec
                .rules
                .iter()
                .filter_map(|r| {
                    let raw = spec.raw.rules.get(r.index)?;
                    raw.enabled.then(|| RuleRun {
                        id: raw.id.clone(),
                        event_type: raw.event_type.clone(),
                        fixtures: r.fixtures.len(),
                        ..RuleRun::default()
                    })
                })
                .collect(),
            expect: sc.expect.clone(),
            retry_second: (0, 0),
            first_delivery: false,
        }
    }

    /// The interval holding virtual time `t`. A run that settles long after its duration has at
    /// most [`crate::sim::scenario::MAX_BUCKETS`] intervals: later time counts in the last one.
    pub fn bucket(&mut self, t: Time) -> &mut Bucket {
        let i = usize::try_from(t / self.interval.max(1))
            .unwrap_or(usize::MAX)
            .min(crate::sim::scenario::MAX_BUCKETS - 1);
        if self.buckets.len() <= i {
            self.buckets.resize_with(i + 1, Bucket::default);
        }
        &mut self.buckets[i]
    }

    /// Computes percentiles and checks the expectations once the run is over.
    pub fn finish(&mut self) {
        self.causes.finish();
        self.latencies.sort_unstable();
        self.latency = Latency::of(&self.latencies);
        for b in &mut self.buckets {
            b.latencies.sort_unstable();
            b.p95 = percentile(&b.latencies, 95.0);
            b.latencies = Vec::new();
        }
        let e = self.expect.clone();
        let t = self.totals.clone();
        let mut check = |name: &str, band: &Option<Band>, actual: f64| {
            if let Some(b) = band {
                self.checks.push(Check {
                    name: name.to_string(),
                    expected: b.describe(),
                    actual,
                    met: b.contains(actual),
                });
            }
        };
        check("lost", &e.lost, t.lost as f64);
        check("duplicates", &e.duplicates, t.duplicates as f64);
        check("delivered", &e.delivered, t.delivered as f64);
        check("deadLettered", &e.dead_lettered, t.dead_lettered as f64);
        // With nothing delivered there is no latency: a latency band is neither met nor missed
        // (as the dead-letter rate of nothing matched).
        if let Some(l) = self.latency {
            check("latencyP95Ms", &e.latency_p95_ms, f64::from(l.p95));
            check("latencyP99Ms", &e.latency_p99_ms, f64::from(l.p99));
        }
        check(
            "tokenRefreshes",
            &e.token_refreshes,
            t.token_refreshes as f64,
        );
        check("attempts", &e.attempts, t.attempts as f64);
        if t.matched > 0 {
            check(
                "deadLetterRate",
                &e.dead_letter_rate,
                t.dead_lettered as f64 / t.matched as f64,
            );
        }
        for (reason, band) in &e.dead_lettered_by_reason {
            let n = self
                .by_reason
                .iter()
                .find(|(r, _)| r.as_str() == reason)
                .map_or(0, |(_, n)| *n);
            self.checks.push(Check {
                name: format!("deadLetteredByReason.{reason}"),
                expected: band.describe(),
                actual: n as f64,
                met: band.contains(n as f64),
            });
        }
    }

    /// Whether the run passed: no [`Report::failures`].
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// Why the run fails, one phrase each (empty: it passes): a broken invariant, an unmet
    /// expectation, a failed generator check, dead letters the spec caused that the scenario
    /// does not expect, or nothing delivered.
    pub fn failures(&self) -> Vec<String> {
        let t = &self.totals;
        let mut why: Vec<String> = self
            .invariants
            .iter()
            .filter(|i| !i.holds)
            .map(|i| format!("invariant {} broken", i.name))
            .collect();
        why.extend(self.checks.iter().filter(|c| !c.met).map(|c| {
            let of = if c.name == "deadLetterRate" {
                format!(" ({} of {})", t.dead_lettered, self.matched_phrase())
            } else {
                String::new()
            };
            format!(
                "{} = {}{of} (expected {})",
                c.name,
                fmt_measured(c.actual, &c.expected),
                c.expected
            )
        }));
        if self.overwritten > 0 {
            why.push(self.overwrite_detail.clone());
        }
        if self.set_back > 0 {
            why.push(self.set_back_detail.clone());
        }
        if self.rule_conflicts > 0 {
            why.push(self.rule_conflict_detail.clone());
        }
        if !self.generation.is_empty() {
            why.push(format!(
                "generated events do not keep their fixtures' shape ({} finding{})",
                self.generation.len(),
                if self.generation.len() == 1 { "" } else { "s" }
            ));
        }
        // One total, then each reason × rule (#215: not the total's sentence once per rule).
        let by_spec: Vec<_> = self
            .causes
            .spec
            .iter()
            .filter(|c| !self.expected(c.reason))
            .collect();
        if !by_spec.is_empty() {
            let n: u64 = by_spec.iter().map(|c| c.count).sum();
            let labels: Vec<String> = by_spec.iter().map(|c| c.label()).collect();
            why.push(format!(
                "the spec dead-lettered {n} event{}: {}",
                if n == 1 { "" } else { "s" },
                labels.join(", ")
            ));
        }
        why.extend(self.not_simulated());
        if t.delivered == 0 {
            why.push(if t.matched == 0 && t.matched_events == 0 {
                "no event matched a rule, so nothing was delivered".to_string()
            } else if t.matched == 0 {
                format!(
                    "nothing was delivered: no transform gave a payload for the {} matched event{}",
                    t.matched_events,
                    if t.matched_events == 1 { "" } else { "s" }
                )
            } else {
                format!("nothing was delivered (0 of {})", self.matched_phrase())
            });
        }
        why
    }

    /// The enabled rules whose delivery the run never simulated, one phrase each: no event
    /// matched them (a rule without fixtures gets no generated events either: every generated
    /// event copies a fixture), or their transform gave no output for every event they matched.
    /// A PASS would say nothing about them, so each fails the run.
    pub fn not_simulated(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.submitted == 0)
            .map(|r| {
                if r.sent_nothing > 0 {
                    format!(
                        "rule {} was not simulated: its transform gave no output for all {} event{} it matched ({}), so none was delivered",
                        r.id,
                        r.sent_nothing,
                        if r.sent_nothing == 1 { "" } else { "s" },
                        crate::transform::transformed::NOTHING_SENT
                    )
                } else if r.fixtures == 0 {
                    format!(
                        "rule {} was not simulated: it has no fixtures, so no event of type {} was generated; add one (lint: CX029)",
                        r.id, r.event_type
                    )
                } else {
                    format!(
                        "rule {} was not simulated: no event of the run matched it (none of its {} fixture{} passes its event type and conditions; lint: CX042)",
                        r.id,
                        r.fixtures,
                        if r.fixtures == 1 { "" } else { "s" }
                    )
                }
            })
            .collect()
    }

    /// Whether the scenario expects dead letters of `reason` (it names them in
    /// `expect.deadLetteredByReason`, whose band then decides).
    fn expected(&self, reason: Reason) -> bool {
        self.expect
            .dead_lettered_by_reason
            .contains_key(reason.as_str())
    }

    /// The `--report` JSON.
    pub fn to_json(&self) -> Value {
        let t = &self.totals;
        let reasons: Map<String, Value> = reasons(&self.by_reason)
            .into_iter()
            .map(|(r, n)| (r.as_str().to_string(), json!(n)))
            .collect();
        let attempts: Map<String, Value> = self
            .attempts_histogram
            .iter()
            .map(|(a, n)| (a.to_string(), json!(n)))
            .collect();
        let statuses: Map<String, Value> = self
            .responses
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        let points: Vec<Value> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let error_rate = if b.requests == 0 {
                    0.0
                } else {
                    ((b.requests - b.ok) as f64 / b.requests as f64 * 1000.0).round() / 1000.0
                };
                json!({
                    "timestamp": delivery::rfc3339(self.epoch, i as u64 * self.interval).replace(".000Z", "Z"),
                    "throughput": b.delivered,
                    "latencyP95": b.p95,
                    "errorRate": error_rate,
                    "dlqVolume": b.dlq,
                    "tokenRefreshCount": b.token_refreshes,
                })
            })
            .collect();
        let report = json!({
            "version": 1,
            "spec": self.spec,
            "scenario": self.scenario,
            "seed": self.seed,
            "jitter": self.jitter,
            "crm": {
                "profile": self.crm_profile,
                "deduplication": self.dedup,
                "requests": self.crm.requests,
                "statuses": statuses,
                "timeouts": self.responses.timeouts,
                "resets": self.responses.resets,
                "throttled": self.crm.throttled,
                "sideEffects": self.crm.side_effects,
                "deduplicated": self.crm.deduplicated,
                "tokensIssued": self.crm.tokens_issued,
                "tokenRefusals": self.crm.token_refusals,
            },
            "verdict": if self.passed() { "pass" } else { "fail" },
            "failures": self.failures(),
            "rules": self.rules.iter().map(|r| json!({
                "id": r.id,
                "deliveries": r.submitted,
                "sentNothing": r.sent_nothing,
            })).collect::<Vec<_>>(),
            "deadLetters": {
                "causedBySpec": self.causes.spec.iter().map(|c| json!({
                    "reason": c.reason.as_str(),
                    "rule": c.rule,
                    "status": c.status,
                    "answered": c.answered,
                    "count": c.count,
                    "expectedByScenario": self.expected(c.reason),
                    "example": c.example,
                    "fix": c.fix(),
                    "member": match &c.member {
                        super::verdict::Member::None => Value::Null,
                        super::verdict::Member::Fails(m) => json!({"fails": m.schema, "at": m.at}),
                        super::verdict::Member::HeldByBatch => json!("heldByBatch"),
                    },
                })).collect::<Vec<_>>(),
                "lostWithoutDlq": self.lost_without_dlq,
                "appliedWithoutDlq": self.applied_without_dlq,
                "toReplay": {
                    "count": self.replayable(),
                    "refusedWithBatch": self.causes.refused_with_batch,
                    "reasons": self::reasons(&self.causes.to_replay)
                        .into_iter()
                        .map(|(r, n)| (r.as_str().to_string(), json!(n)))
                        .collect::<Map<String, Value>>(),
                },
            },
            "generationCheck": {
                "templates": self.sources.len(),
                "holds": self.generation.is_empty(),
                "findings": self.generation,
            },
            "totals": {
                "events": t.events,
                "matched": t.matched,
                "deliveries": t.matched,
                "matchedEvents": t.matched_events,
                "eventsWithPayload": t.events_with_payload,
                "delivered": t.delivered,
                "applied": t.applied,
                "deliveredNotApplied": t.delivered_not_applied,
                "droppedAsDuplicates": t.dropped_duplicates,
                "deadLettered": t.dead_lettered,
                "duplicates": t.duplicates,
                "lost": t.lost,
                "attempts": t.attempts,
                "tokenRefreshes": t.token_refreshes,
            },
            "deadLetteredByReason": reasons,
            "deadLetteredButApplied": self.dead_lettered_but_applied,
            "overwrittenByOtherEvents": self.overwritten,
            "setBackByOlderEvents": self.set_back,
            "overwrittenByAnotherRule": self.rule_conflicts,
            "attemptsHistogram": attempts,
            // null when nothing was delivered: there is no latency to report.
            "latencyMs": match self.latency {
                None => Value::Null,
                Some(l) => json!({"p50": l.p50, "p95": l.p95, "p99": l.p99, "max": l.max}),
            },
            "peakRetryRatePerSecond": self.peak_retry_rate,
            "peakPendingEvents": self.peak_pending,
            "dlqAlerts": self.alerts,
            "virtualDurationMs": self.end,
            "invariants": self.invariants.iter().map(|i| json!({
                "name": i.name, "statement": i.statement, "holds": i.holds, "checked": i.checked, "detail": i.detail,
            })).collect::<Vec<_>>(),
            "expectations": self.checks.iter().map(|c| json!({
                "name": c.name, "expected": c.expected, "actual": c.actual, "met": c.met,
            })).collect::<Vec<_>>(),
            "deadLetterExamples": self.dlq_examples.iter().map(|(r, s)| json!({"reason": r.as_str(), "example": s})).collect::<Vec<_>>(),
            "notes": self.notes,
            "metrics": {
                "channelId": self.channel,
                "interval": iso_interval(self.interval),
                "dataPoints": points,
            },
        });
        // `--env`: named after the spec, in a report only when an overlay was merged.
        match (&self.environment, report) {
            (Some(env), Value::Object(fields)) => Value::Object(
                fields
                    .into_iter()
                    .flat_map(|(k, v)| {
                        let env = (k == "spec").then(|| ("environment".to_string(), json!(env)));
                        std::iter::once((k, v)).chain(env)
                    })
                    .collect(),
            ),
            (_, report) => report,
        }
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let t = &self.totals;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "cxsync sim: {}{} × scenario {} (CRM profile {}, dedup {}, jitter {}, seed {})",
            self.spec,
            self.environment
                .as_deref()
                .map(|e| format!(" × env {}", crate::diag::printable(e)))
                .unwrap_or_default(),
            self.scenario,
            self.crm_profile,
            self.dedup,
            self.jitter,
            self.seed
        );
        let _ = writeln!(
            s,
            "  events     {} generated/fixture, {} matched a rule{}, virtual time {}",
            t.events,
            t.matched_events,
            if self.one_delivery_per_event() {
                String::new()
            } else {
                format!(
                    ": {} deliveries of {} events (one per rule that matched an event and had a payload for it)",
                    t.matched, t.events_with_payload
                )
            },
            fmt_ms(self.end)
        );
        let _ = writeln!(
            s,
            "  delivered  {}{}   dead-lettered {}   lost {}{}   duplicates {}",
            t.delivered,
            self.delivered_parts(),
            t.dead_lettered,
            t.lost,
            self.lost_parts(),
            t.duplicates
        );
        for (r, n) in reasons(&self.by_reason) {
            let _ = writeln!(s, "    DLQ {:<28} {n}", r.as_str());
        }
        for (_, ex) in &self.dlq_examples {
            let _ = writeln!(s, "    e.g. {ex}");
        }
        let spec_total = self.causes.spec_total();
        if spec_total > 0 {
            let _ = writeln!(
                s,
                "  the spec   {spec_total} dead-lettered because of the spec itself: no retry or replay delivers them until it changes"
            );
            for c in &self.causes.spec {
                let _ = writeln!(
                    s,
                    "    {} {}: {}; e.g. {}",
                    if self.expected(c.reason) {
                        "expected"
                    } else {
                        "FAIL"
                    },
                    c.label(),
                    c.fix(),
                    c.example
                );
            }
        }
        if self.lost_without_dlq > 0 {
            let _ = writeln!(
                s,
                "  lost       {}{} dead-lettered with the DLQ disabled ({}): nothing keeps them and there is nothing to replay{}; set deadLetterQueue.enabled: true (lint: CX013)",
                self.lost_without_dlq,
                if_any(self.applied_without_dlq, |_| format!(
                    " of the {}",
                    self.totals.dead_lettered
                )),
                super::verdict::reason_list(&self.by_reason),
                if_any(self.applied_without_dlq, |n| format!(
                    "; the other {n} are not lost: the CRM had written them before their response was lost"
                ))
            );
        } else if self.applied_without_dlq > 0 {
            let _ = writeln!(
                s,
                "  lost       none: the {} event(s) dead-lettered with the DLQ disabled had in fact been written by the CRM (response lost)",
                self.applied_without_dlq
            );
        }
        let replay = self.replayable();
        if replay > 0 {
            let _ = writeln!(
                s,
                "  to replay  {replay} dead-lettered by the scenario's faults{} ({}): the data is intact; once the cause is gone, `cxsync dlq replay <dlq> --spec <spec>` sends them with their original keys{}",
                if_any(self.causes.refused_with_batch, |_| " or refused with their batch".to_string()),
                super::verdict::reason_list(&self.causes.to_replay),
                super::engine::preview::replay_set_back_note(&self.replay_set_back)
            );
        }
        let with_batch = self.causes.refused_with_batch;
        if with_batch > 0 {
            let _ = writeln!(
                s,
                "    of which {with_batch} refused with their batch: to replay (replay sends them one by one); each passes its schema, but the CRM refused its batch (422) for another member's payload: with batchSize {} one bad event takes up to {} good ones with it",
                self.causes.batch_size,
                self.causes.batch_size.saturating_sub(1)
            );
        }
        if !self.sources.is_empty() && self.totals.events > 0 {
            if self.generation.is_empty() {
                let _ = writeln!(
                    s,
                    "  fixtures   {} template(s); generated events keep each fixture's shape (checked through every rule)",
                    self.sources.len()
                );
            } else {
                let _ = writeln!(
                    s,
                    "  fixtures   FAIL generated events differ from their fixtures beyond the varied fields (docs/semantics.md):"
                );
                for f in &self.generation {
                    let _ = writeln!(s, "    {f}");
                }
            }
        }
        let nothing: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.sent_nothing > 0)
            .map(|r| format!("{} event(s) in rule {}", r.sent_nothing, r.id))
            .collect();
        if !nothing.is_empty() {
            let _ = writeln!(
                s,
                "  no output  {} ({}, as `cxsync test` says; not submitted, not dead-lettered)",
                nothing.join(", "),
                crate::transform::transformed::NOTHING_SENT
            );
        }
        for r in self.not_simulated() {
            let _ = writeln!(s, "  rules      FAIL {r}");
        }
        let _ = writeln!(
            s,
            "  attempts   {} requests; per event: {}",
            t.attempts,
            times(&self.attempts_histogram)
        );
        let _ = writeln!(
            s,
            "  responses  {}{}{}",
            times(&self.responses.statuses),
            if_any(self.responses.timeouts, |n| format!("  timeout×{n}")),
            if_any(self.responses.resets, |n| format!("  reset×{n}")),
        );
        if self.machine.token_requests > 0 {
            // As the hub saw them: a token the CRM issued after the hub gave up is not granted.
            let m = &self.machine;
            let unanswered = m.token_failures.saturating_sub(m.token_refused);
            let open = m
                .token_requests
                .saturating_sub(m.tokens_granted + m.token_failures);
            let mut parts = vec![format!("{} granted", m.tokens_granted)];
            if m.token_refused > 0 {
                parts.push(format!("{} refused (an error response)", m.token_refused));
            }
            if unanswered > 0 {
                parts.push(format!("{unanswered} unanswered (timeout or reset)"));
            }
            if open > 0 {
                parts.push(format!("{open} still open at the end"));
            }
            let _ = writeln!(
                s,
                "  tokens     {} token requests: {}",
                m.token_requests,
                parts.join(", ")
            );
        }
        let latency = match self.latency {
            None => "none: no event was delivered".to_string(),
            Some(l) => format!(
                "p50 {}  p95 {}  p99 {}  max {} (arrival to delivery)",
                fmt_ms(l.p50.into()),
                fmt_ms(l.p95.into()),
                fmt_ms(l.p99.into()),
                fmt_ms(l.max.into())
            ),
        };
        let _ = writeln!(s, "  latency    {latency}");
        let _ = writeln!(
            s,
            "  retries    peak {} retries/s, peak backlog {} events{}",
            self.peak_retry_rate,
            self.peak_pending,
            if_any(self.alerts, |n| format!(", {n} DLQ alert webhook call(s)")),
        );
        // With the DLQ disabled there is nothing to replay: the `lost` line says which of them the
        // CRM wrote (tester #238).
        if self.dead_lettered_but_applied > 0 && self.dlq_enabled {
            let _ = writeln!(
                s,
                "  note       {} dead-lettered event(s) had in fact been written (response lost); replaying them {}",
                self.dead_lettered_but_applied,
                match self.dedup.as_str() {
                    "none" => "creates duplicates",
                    "upsert" => "updates their records (the CRM upserts), no duplicates",
                    // A header-idempotency API keeps keys for a limited time (its idempotency
                    // window, often 24 h): a replay after it is a new write.
                    _ => "writes nothing twice only while the CRM still holds their idempotency keys (its idempotency window, often 24 h): replay within it, or they are written a second time",
                }
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note       {n}");
        }
        let _ = writeln!(s, "  invariants");
        for i in &self.invariants {
            let (mark, text) = match (i.checked, i.holds) {
                (false, _) => ("n/a ", &i.detail),
                (true, true) => ("ok  ", &i.statement.to_string()),
                (true, false) => ("FAIL", &i.detail),
            };
            let _ = writeln!(s, "    {mark} {:<28} {text}", i.name);
        }
        if !self.checks.is_empty() {
            let _ = writeln!(s, "  expectations");
            for c in &self.checks {
                let _ = writeln!(
                    s,
                    "    {} {:<28} expected {}, got {}",
                    if c.met { "ok  " } else { "FAIL" },
                    c.name,
                    c.expected,
                    fmt_measured(c.actual, &c.expected)
                );
            }
        }
        let _ = writeln!(s, "{}", self.verdict_line());
        s
    }

    /// One line: pass or fail and why. A pass says what was delivered and what a person must
    /// replay; a failure names every reason and the seed that reproduces it.
    pub fn verdict_line(&self) -> String {
        let t = &self.totals;
        let why = self.failures();
        if !why.is_empty() {
            return format!(
                "FAIL: {} (seed {} reproduces this run).",
                why.join("; "),
                self.seed
            );
        }
        let replay = self.replayable();
        let expected = self.causes.spec_total();
        let mut parts = vec![format!(
            "{} of {} delivered",
            t.delivered,
            self.matched_phrase()
        )];
        if replay > 0 {
            parts.push(format!(
                "{replay} to replay ({})",
                super::verdict::reason_list(&self.causes.to_replay)
            ));
        }
        if expected > 0 {
            let mut by = BTreeMap::new();
            for c in &self.causes.spec {
                *by.entry(c.reason).or_insert(0) += c.count;
            }
            parts.push(format!(
                "{expected} dead-lettered as the scenario expects ({})",
                super::verdict::reason_list(&by)
            ));
        }
        if replay + expected == 0 {
            parts.push("none dead-lettered".to_string());
        }
        parts.push("none lost".to_string());
        format!("PASS: {}.", parts.join(", "))
    }

    /// What was matched, for "N of …": `484 matched events` when each matched event is one
    /// delivery, else `604 deliveries (of 453 events)` (tester #233: an event two rules
    /// match is two deliveries, and one whose transform sends nothing is none).
    pub fn matched_phrase(&self) -> String {
        let t = &self.totals;
        if self.one_delivery_per_event() {
            format!("{} matched events", t.matched)
        } else {
            format!(
                "{} deliveries (of {} events)",
                t.matched, t.events_with_payload
            )
        }
    }

    /// Whether every matched event made exactly one delivery, so events and deliveries are one
    /// count.
    fn one_delivery_per_event(&self) -> bool {
        let t = &self.totals;
        t.matched == t.matched_events && t.matched == t.events_with_payload
    }

    /// The split of `delivered` when some of it was not written: ` (418 applied, 127 dropped
    /// by the CRM as duplicates of another delivery's key)`; nothing when all of it was.
    fn delivered_parts(&self) -> String {
        let t = &self.totals;
        let Some(applied) = t.applied.filter(|_| t.delivered_not_applied > 0) else {
            return String::new();
        };
        let mut parts = vec![format!("{applied} applied")];
        if t.dropped_duplicates > 0 {
            parts.push(format!(
                "{} dropped by the CRM as duplicates of another delivery's key",
                t.dropped_duplicates
            ));
        }
        let other = t.delivered_not_applied - t.dropped_duplicates;
        if other > 0 {
            parts.push(format!("{other} answered 2xx but never written"));
        }
        format!(" ({})", parts.join(", "))
    }

    /// Where the lost are counted, when any is: ` (127 of the delivered)`, ` (93 of the
    /// dead-lettered)`, ` (2 never settled)`; `lost` is not a third column beside delivered
    /// and dead-lettered.
    fn lost_parts(&self) -> String {
        let t = &self.totals;
        if t.lost == 0 {
            return String::new();
        }
        let of_delivered =
            t.delivered_not_applied + self.overwritten + self.set_back + self.rule_conflicts;
        let unsettled = t.lost.saturating_sub(of_delivered + self.lost_without_dlq);
        let mut parts = Vec::new();
        if of_delivered > 0 {
            parts.push(format!("{of_delivered} of the delivered"));
        }
        if self.lost_without_dlq > 0 {
            parts.push(format!("{} of the dead-lettered", self.lost_without_dlq));
        }
        if unsettled > 0 {
            parts.push(format!("{unsettled} never settled"));
        }
        format!(" ({})", parts.join(", "))
    }

    /// The dead letters the scenario's faults caused that a replay can deliver: none when the
    /// DLQ is disabled, for then they are lost (tester #224: "the data is intact; replay" was
    /// printed beside "158 dead-lettered with the DLQ disabled").
    pub fn replayable(&self) -> u64 {
        if !self.dlq_enabled {
            0
        } else {
            self.causes.replay_total()
        }
    }

    /// A timeline chart: requests per second by status class (stacked bars), DLQ volume and
    /// token refreshes per interval.
    pub fn svg(&self) -> String {
        let (w, h) = (960.0_f64, 420.0_f64);
        let (left, right, top, chart_h) = (60.0, 20.0, 40.0, 260.0);
        let n = self.buckets.len().max(1);
        let bw = (w - left - right) / n as f64;
        let secs = self.interval as f64 / 1000.0;
        let rate = |x: u64| x as f64 / secs;
        let max_rate = self
            .buckets
            .iter()
            .map(|b| rate(b.requests))
            .fold(0.0, f64::max)
            .max(1e-9);
        let max_dlq = self.buckets.iter().map(|b| b.dlq).max().unwrap_or(0).max(1) as f64;
        let max_tok = self
            .buckets
            .iter()
            .map(|b| b.token_refreshes)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"##
        );
        let _ = writeln!(s, r##"<rect width="{w}" height="{h}" fill="#fff"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="{left}" y="20" font-size="14">{} — {} (seed {}): requests/s by status, DLQ, token refreshes</text>"##,
            escape(&self.spec),
            escape(&self.scenario),
            self.seed
        );
        let base = top + chart_h;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#333"/><text x="4" y="{}">{:.1}/s</text><text x="4" y="{base}">0</text>"##,
            w - right,
            top + 4.0,
            max_rate
        );
        let colours = [
            ("#2e7d32", "2xx"),
            ("#ef6c00", "4xx"),
            ("#c62828", "5xx"),
            ("#616161", "timeout/reset"),
        ];
        for (i, b) in self.buckets.iter().enumerate() {
            let x = left + i as f64 * bw;
            let mut y = base;
            for (count, (colour, _)) in [b.ok, b.client_errors, b.server_errors, b.timeouts]
                .iter()
                .zip(colours)
            {
                if *count == 0 {
                    continue;
                }
                let bh = rate(*count) / max_rate * chart_h;
                y -= bh;
                let _ = writeln!(
                    s,
                    r##"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{bh:.2}" fill="{colour}"/>"##,
                    (bw - 0.5).max(0.5)
                );
            }
        }
        let strip = |s: &mut String,
                     y0: f64,
                     label: &str,
                     colour: &str,
                     vals: Vec<u64>,
                     max: f64| {
            let _ = writeln!(s, r##"<text x="4" y="{}">{label}</text>"##, y0 + 24.0);
            for (i, v) in vals.iter().enumerate() {
                if *v == 0 {
                    continue;
                }
                let bh = *v as f64 / max * 30.0;
                let _ = writeln!(
                    s,
                    r##"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{bh:.2}" fill="{colour}"/>"##,
                    left + i as f64 * bw,
                    y0 + 30.0 - bh,
                    (bw - 0.5).max(0.5)
                );
            }
        };
        strip(
            &mut s,
            base + 10.0,
            "DLQ",
            "#6a1b9a",
            self.buckets.iter().map(|b| b.dlq).collect(),
            max_dlq,
        );
        strip(
            &mut s,
            base + 50.0,
            "tokens",
            "#1565c0",
            self.buckets.iter().map(|b| b.token_refreshes).collect(),
            max_tok,
        );
        let mut lx = left;
        for (colour, name) in colours {
            let _ = writeln!(
                s,
                r##"<rect x="{lx}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}">{name}</text>"##,
                h - 18.0,
                lx + 14.0,
                h - 9.0
            );
            lx += 110.0;
        }
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">interval {} · {} intervals</text>"##,
            w - right,
            h - 9.0,
            iso_interval(self.interval),
            n
        );
        s.push_str("</svg>\n");
        s
    }
}

impl Report {
    /// The `index`-th enabled rule's entry (the drivers number rules as the spec enables them).
    fn rule_run(&mut self, index: usize, rule_id: &str) -> Option<&mut RuleRun> {
        match self.rules.get(index) {
            Some(r) if r.id == rule_id => self.rules.get_mut(index),
            _ => self.rules.iter_mut().find(|r| r.id == rule_id),
        }
    }
}

/// The report is built by watching the run: every driver of a scenario tells it what happened.
impl Observer for Report {
    fn matched(&mut self, _rules: usize) {
        self.totals.matched_events += 1;
        self.first_delivery = true;
    }

    fn submitted(&mut self, _seq: u64, _event_id: &str, _key: Option<&str>) {
        self.totals.matched += 1;
        if std::mem::take(&mut self.first_delivery) {
            self.totals.events_with_payload += 1;
        }
    }

    fn rule(&mut self, _seq: u64, index: usize, rule_id: &str) {
        if let Some(r) = self.rule_run(index, rule_id) {
            r.submitted += 1;
        }
    }

    fn sent_nothing(&mut self, index: usize, rule_id: &str) {
        if let Some(r) = self.rule_run(index, rule_id) {
            r.sent_nothing += 1;
        }
    }

    fn token_requested(&mut self, now: Time) {
        self.bucket(now).token_refreshes += 1;
        self.totals.token_refreshes += 1;
    }

    fn alert_sent(&mut self) {
        self.alerts += 1;
    }

    fn answered(&mut self, attempt: u32, sent: Time, reply: &Reply, timeout: Time) {
        self.totals.attempts += 1;
        let retry = attempt > 1;
        if retry {
            let sec = sent / 1000;
            if self.retry_second.0 != sec {
                self.retry_second = (sec, 0);
            }
            self.retry_second.1 += 1;
            self.peak_retry_rate = self.peak_retry_rate.max(self.retry_second.1);
        }
        let (done, class) = match reply {
            Reply::Http { latency, response } if *latency < timeout => {
                *self.responses.statuses.entry(response.status).or_default() += 1;
                let class = match response.status {
                    200..=299 => Class::Ok,
                    400..=499 => Class::Client,
                    _ => Class::Server,
                };
                (sent + latency, class)
            }
            Reply::Reset { latency, .. } if *latency < timeout => (sent + latency, Class::Reset),
            _ => (sent + timeout, Class::Timeout),
        };
        let b: &mut Bucket = self.bucket(done);
        b.requests += 1;
        if retry {
            b.retries += 1;
        }
        match class {
            Class::Ok => b.ok += 1,
            Class::Client => b.client_errors += 1,
            Class::Server => b.server_errors += 1,
            Class::Timeout | Class::Reset => b.timeouts += 1,
        }
        match class {
            Class::Timeout => self.responses.timeouts += 1,
            Class::Reset => self.responses.resets += 1,
            _ => {}
        }
    }

    fn settled(&mut self, output: &Output) {
        match output {
            Output::Delivered(d) => self.delivered(d),
            Output::DeadLettered(d) => self.dead_lettered(d),
        }
    }

    /// Records the backlog (matched events not yet settled) after a step.
    fn stepped(&mut self) {
        let pending = self.totals.matched - self.totals.delivered - self.totals.dead_lettered;
        self.peak_pending = self.peak_pending.max(pending);
    }
}

enum Class {
    Ok,
    Client,
    Server,
    Timeout,
    Reset,
}

impl Report {
    fn delivered(&mut self, d: &Delivered) {
        self.totals.delivered += 1;
        *self.attempts_histogram.entry(d.attempts).or_default() += 1;
        let latency = (d.at - d.submitted).min(u64::from(u32::MAX)) as u32;
        self.latencies.push(latency);
        let b = self.bucket(d.at);
        b.delivered += 1;
        b.latencies.push(latency);
    }

    fn dead_lettered(&mut self, d: &DeadLettered) {
        self.totals.dead_lettered += 1;
        *self.by_reason.entry(d.reason).or_default() += 1;
        *self.attempts_histogram.entry(d.attempts).or_default() += 1;
        self.bucket(d.at).dlq += 1;
        if let Some(st) = d.last_status {
            *self.dlq_by_status.entry(st).or_default() += 1;
            *self.dlq_by_status_reason.entry((st, d.reason)).or_default() += 1;
        }
        let (epoch, sources) = (self.epoch, &self.sources);
        self.causes.add(d, || {
            let from = sources
                .get(d.id.source as usize)
                .map(|f| format!(" (from {f})"))
                .unwrap_or_default();
            example_from(d, epoch, &from)
        });
        if self.dlq_examples.len() < 8 && !self.dlq_examples.iter().any(|(r, _)| *r == d.reason) {
            let example = example(d, self.epoch);
            self.dlq_examples.push((d.reason, example));
        }
    }
}

fn example(r: &DeadLettered, epoch: SystemTime) -> String {
    example_from(r, epoch, "")
}

/// [`example`] with `from` (` (from e.json)`) after the event id, which may hold spaces.
fn example_from(r: &DeadLettered, epoch: SystemTime, from: &str) -> String {
    let last = match (&r.last_status, &r.last_error) {
        (Some(s), _) => {
            let body = r.last_body.as_deref().unwrap_or("");
            let body: String = body.chars().take(100).collect();
            // A CRM's body and an event's id are outside text: escaped for the terminal.
            format!("last response {s} {}", crate::diag::printable(&body))
        }
        (None, Some(e)) => crate::diag::printable(e).into_owned(),
        (None, None) => "no response".to_string(),
    };
    format!(
        "{}{from} after {} attempt(s) at {}: {}",
        crate::diag::printable(&r.id.event_id),
        r.attempts,
        delivery::rfc3339(epoch, r.at),
        last
    )
}

/// Per-reason totals in report order.
fn reasons(by: &BTreeMap<Reason, u64>) -> Vec<(Reason, u64)> {
    Reason::ALL
        .iter()
        .filter_map(|r| by.get(r).map(|n| (*r, *n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 95.0), 95);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[], 99.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
    }

    #[test]
    fn an_example_names_its_fixture_after_the_whole_event_id() {
        let d = DeadLettered {
            last_error: Some("boom".to_string()),
            ..DeadLettered::example("evt 7 of 9", Reason::TransformFailed)
        };
        let s = example_from(&d, SystemTime::UNIX_EPOCH, " (from e.json)");
        assert!(
            s.starts_with("evt 7 of 9 (from e.json) after 0 attempt(s)"),
            "{s}"
        );
    }

    #[test]
    fn intervals_print_as_iso_durations() {
        assert_eq!(iso_interval(3_600_000), "PT1H");
        assert_eq!(iso_interval(300_000), "PT5M");
        assert_eq!(iso_interval(10_000), "PT10S");
    }
}
