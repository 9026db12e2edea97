//! The discrete-event engine: runs one scenario against one spec in virtual time.
//!
//! Pending happenings (the next arrival, CRM replies, token replies) sit in a binary heap keyed
//! by `(time, sequence)`, so ties resolve in insertion order and every run with one seed is
//! identical. The clock jumps to the earlier of the next happening and the machine's
//! `poll_timeout()`. The loop is bounded: a run that does not settle fails with an error naming
//! the seed instead of hanging. Per-event state is one byte per matched event; outcomes and DLQ
//! records stream out through [`Sinks`] as they happen.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde_json::Value;

use super::crm::{hash128, CrmModel, DedupMode, Reply};
use super::report::{Bucket, Invariant, Report};
use super::route::Inputs;
use super::scenario::{CurvePoint, Scenario};
use crate::delivery::{
    self, Config, CrmRequest, DeadLettered, Delivered, HubSettings, Machine, Output, Reason,
    Submission, Time, TokenResult, Transmit,
};
use crate::spec::model::Jitter;
use crate::spec::Spec;

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

/// One line of `--outcomes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub event_id: String,
    /// `delivered` or `deadLettered`.
    pub outcome: &'static str,
    pub attempts: u32,
    pub reason: Option<&'static str>,
}

/// Where the run streams per-event results.
pub struct Sinks<'a> {
    pub outcome: &'a mut dyn FnMut(&Outcome),
    pub dead_letter: &'a mut dyn FnMut(&DeadLettered),
    /// `(events arrived, events total)`, every few thousand events.
    pub progress: &'a mut dyn FnMut(u64, u64),
}

impl Sinks<'_> {
    /// Sinks that drop everything.
    pub fn none<R>(f: impl FnOnce(&mut Sinks<'_>) -> R) -> R {
        let mut o = |_: &Outcome| {};
        let mut d = |_: &DeadLettered| {};
        let mut p = |_: u64, _: u64| {};
        f(&mut Sinks {
            outcome: &mut o,
            dead_letter: &mut d,
            progress: &mut p,
        })
    }
}

/// Why a run could not complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Config(String),
    #[error("the simulation did not settle after {steps} steps (virtual time {at}); seed {seed} reproduces it")]
    Livelock { steps: u64, at: String, seed: u64 },
}

enum Happening {
    Arrival,
    CrmReply(u64, Reply),
    Token(u64, TokenResult),
}

struct Entry {
    at: Time,
    seq: u64,
    what: Happening,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// Arrival times spread in proportion to a piecewise-linear rate curve.
struct Arrivals {
    total: u64,
    duration: Time,
    /// Cumulative mass at each slice boundary (slices of equal length).
    cdf: Vec<f64>,
}

const SLICES: usize = 4096;

impl Arrivals {
    fn new(total: u64, duration: Time, curve: &[CurvePoint]) -> Self {
        let mut pts: Vec<(f64, f64)> = curve
            .iter()
            .map(|p| (p.at.ms() as f64, p.weight.max(0.0)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let weight = |t: f64| -> f64 {
            match pts.len() {
                0 => 1.0,
                _ => {
                    if t <= pts[0].0 {
                        return pts[0].1;
                    }
                    for w in pts.windows(2) {
                        if t <= w[1].0 {
                            let span = (w[1].0 - w[0].0).max(1e-9);
                            return w[0].1 + (w[1].1 - w[0].1) * (t - w[0].0) / span;
                        }
                    }
                    pts[pts.len() - 1].1
                }
            }
        };
        let d = duration as f64;
        let mut cdf = Vec::with_capacity(SLICES + 1);
        cdf.push(0.0);
        let mut acc = 0.0;
        for i in 0..SLICES {
            let mid = (i as f64 + 0.5) * d / SLICES as f64;
            acc += weight(mid);
            cdf.push(acc);
        }
        if acc <= 0.0 {
            // A curve of zeros: fall back to flat.
            for (i, c) in cdf.iter_mut().enumerate() {
                *c = i as f64;
            }
        }
        Arrivals {
            total,
            duration,
            cdf,
        }
    }

    /// The time of arrival `k`.
    fn time_of(&self, k: u64) -> Time {
        let total_mass = *self.cdf.last().expect("non-empty");
        let target = (k as f64 + 0.5) / self.total as f64 * total_mass;
        let i = self.cdf.partition_point(|c| *c < target).clamp(1, SLICES);
        let (lo, hi) = (self.cdf[i - 1], self.cdf[i]);
        let frac = if hi > lo {
            (target - lo) / (hi - lo)
        } else {
            0.0
        };
        let slice = self.duration as f64 / SLICES as f64;
        (((i - 1) as f64 + frac) * slice).floor() as Time
    }
}

/// A generated event: a fixture template with fresh identity and timestamps.
fn generate(templates: &[Value], k: u64, at: Time, epoch: SystemTime, sc: &Scenario) -> Value {
    let mut ev = templates[(k as usize) % templates.len()].clone();
    let wall = delivery::rfc3339(epoch, at);
    let ended = epoch
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
        + at;
    set(&mut ev, "event.id", Value::from(format!("sim-{k:07}")));
    set(&mut ev, "event.occurredAt", Value::from(wall));
    set(&mut ev, "interaction.id", Value::from(700_000_000 + k));
    set(&mut ev, "interaction.endedAt", Value::from(ended));
    set(
        &mut ev,
        "interaction.startedAt",
        Value::from(ended - 60_000 - (k * 7_919) % 900_000),
    );
    if let Some(n) = sc.events.without_agent_every {
        if (k + 1) % n == 0 {
            if let Some(o) = ev.as_object_mut() {
                o.remove("agent");
            }
            if let Some(i) = ev.get_mut("interaction").and_then(Value::as_object_mut) {
                i.remove("agent");
            }
        }
    }
    if let Some(o) = &sc.events.oversize {
        if (k + 1) % o.every == 0 {
            set(
                &mut ev,
                &o.path,
                Value::from("x".repeat(o.bytes.min(64 * 1024 * 1024) as usize)),
            );
        }
    }
    ev
}

fn set(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, s) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let obj = cur.as_object_mut().expect("just made an object");
        if i == segs.len() - 1 {
            obj.insert((*s).to_string(), new);
            return;
        }
        cur = obj
            .entry((*s).to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

/// The template used when a spec has no fixtures: the envelope of the guide's events.
fn builtin_template() -> Value {
    serde_json::json!({
        "event": {"id": "evt-0000", "type": "interaction.ended", "occurredAt": "2024-01-15T13:58:12Z"},
        "interaction": {
            "id": 0, "startedAt": 1705326702000u64, "endedAt": 1705327092400u64,
            "channel": {"type": "voice"},
            "customer": {"contactId": 55012},
            "agent": {"id": "agent-17", "email": "agent@example.com"},
            "queue": {"name": "Billing"},
            "disposition": {"code": "RESOLVED"},
            "wrapUp": {"code": "WU-12"},
            "analytics": {"sentiment": {"score": 0.5}}
        },
        "agent": {"id": "agent-17"}
    })
}

const PENDING: u8 = 0;
const DELIVERED: u8 = 1;
const DLQ_STORED: u8 = 2;
const DLQ_LOST: u8 = 3;

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

/// The events of a run in arrival order: each fixture once at the start (1 ms apart), then the
/// generated events spread along the scenario's rate curve. Shared by the virtual-time engine and
/// the HTTP driver so both see the same events at the same virtual instants.
pub struct Feed<'a> {
    fixtures: Vec<&'a Value>,
    templates: Vec<Value>,
    arrivals: Arrivals,
    total: u64,
    next: u64,
    epoch: SystemTime,
    sc: &'a Scenario,
}

impl<'a> Feed<'a> {
    /// The feed of `sc` (`events` overrides the scenario's count).
    pub fn new(
        inputs: &'a Inputs,
        sc: &'a Scenario,
        events: Option<u64>,
        epoch: SystemTime,
    ) -> Self {
        let generated = events.unwrap_or(sc.events.count);
        let fixtures: Vec<&Value> = if sc.events.fixtures {
            inputs.fixtures.iter().map(|(_, v)| v).collect()
        } else {
            Vec::new()
        };
        let templates: Vec<Value> = if inputs.fixtures.is_empty() {
            vec![builtin_template()]
        } else {
            inputs.fixtures.iter().map(|(_, v)| v.clone()).collect()
        };
        let total = generated + fixtures.len() as u64;
        Feed {
            arrivals: Arrivals::new(generated.max(1), sc.duration.ms(), &sc.events.curve),
            fixtures,
            templates,
            total,
            next: 0,
            epoch,
            sc,
        }
    }

    /// Events in the run.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Events handed out so far.
    pub fn arrived(&self) -> u64 {
        self.next
    }

    /// The scheduled arrival time of event `k`.
    pub fn time_of(&self, k: u64) -> Time {
        if (k as usize) < self.fixtures.len() {
            k
        } else {
            self.arrivals.time_of(k - self.fixtures.len() as u64)
        }
    }

    /// The scheduled time of the next arrival, if any remain.
    pub fn next_at(&self) -> Option<Time> {
        (self.next < self.total).then(|| self.time_of(self.next))
    }

    /// The next event, stamped as arriving at `now`.
    pub fn pop(&mut self, now: Time) -> (u64, Value) {
        let k = self.next;
        self.next += 1;
        let n = self.fixtures.len() as u64;
        let event = if k < n {
            self.fixtures[k as usize].clone()
        } else {
            generate(&self.templates, k - n, now, self.epoch, self.sc)
        };
        (k, event)
    }
}

/// Per-run bookkeeping shared by the virtual-time engine and the HTTP driver: the settlement of
/// every matched event and the idempotency keys seen, from which the invariants are checked.
#[derive(Default)]
pub struct Ledger {
    state: Vec<u8>,
    keys: HashMap<u128, u64>,
    key_clashes: Vec<String>,
}

impl Ledger {
    /// Matches an arrived event against the rules and submits every match to the machine.
    #[allow(clippy::too_many_arguments)]
    pub fn arrive<R: rand_core::Rng>(
        &mut self,
        rep: &mut Report,
        inputs: &Inputs,
        template: &delivery::Template,
        machine: &mut Machine<R>,
        now: Time,
        epoch: SystemTime,
        k: u64,
        event: Value,
    ) {
        let when: DateTime<Utc> = (epoch + Duration::from_millis(now)).into();
        let event_id = event
            .pointer("/event/id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{k}"), str::to_string);
        let event_type = event
            .pointer("/event/type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let matching: Vec<usize> = inputs
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&event))
            .map(|(i, _)| i)
            .collect();
        for ri in matching {
            let rule = &inputs.rules[ri];
            let seq = self.state.len() as u64;
            self.state.push(PENDING);
            rep.totals.matched += 1;
            if let Ok(key) = template.render(&event) {
                let h = hash128(&key);
                if let Some(first) = self.keys.insert(h, seq) {
                    rep.key_clash_count += 1;
                    if self.key_clashes.len() < 5 {
                        self.key_clashes.push(format!(
                            "`{key}` is the key of event {event_id} and of matched event #{first}"
                        ));
                    }
                }
            }
            let payload = match rule.transform.eval(&event, when) {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err("the transform produced no output (undefined)".to_string()),
                Err(e) => Err(e.to_string()),
            };
            machine.handle_submit(
                now,
                Submission {
                    seq,
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    rule_id: rule.id.clone(),
                    event: event.clone(),
                    payload,
                    idempotency_key: None,
                },
            );
        }
    }

    /// Records an event that reached a final state and streams it to the sinks.
    pub fn settle(&mut self, rep: &mut Report, output: &Output, sinks: &mut Sinks<'_>) {
        match output {
            Output::Delivered(d) => settle_delivered(rep, &mut self.state, d, sinks),
            Output::DeadLettered(d) => settle_dead_letter(rep, &mut self.state, d, sinks),
        }
    }

    /// Checks the invariants against the CRM's record of side effects and finishes the report.
    pub fn finish<R: rand_core::Rng>(
        self,
        rep: &mut Report,
        now: Time,
        crm: &CrmModel,
        machine: &Machine<R>,
    ) {
        let state = self.state;
        let key_clashes = self.key_clashes;
        rep.end = now;
        rep.machine = machine.stats().clone();
        rep.crm = crm.stats.clone();
        let dedup = crm.dedup().clone();
        rep.dedup = match dedup {
            DedupMode::Header => "header",
            DedupMode::Upsert => "upsert",
            DedupMode::None => "none",
        }
        .to_string();
        // Invariants over the settled state.
        let mut unsettled = 0u64;
        let mut delivered_not_applied = 0u64;
        let mut duplicates = 0u64;
        let mut dlq_applied = 0u64;
        for (seq, s) in state.iter().enumerate() {
            let applied = crm.applied(seq as u64);
            match *s {
                PENDING => unsettled += 1,
                DELIVERED if applied == 0 => delivered_not_applied += 1,
                DLQ_STORED | DLQ_LOST if applied > 0 => dlq_applied += 1,
                _ => {}
            }
            if applied > 1 {
                duplicates += u64::from(applied - 1);
            }
        }
        let lost_dlq = state.iter().filter(|s| **s == DLQ_LOST).count() as u64;
        rep.totals.duplicates = duplicates;
        rep.totals.lost = unsettled + delivered_not_applied + lost_dlq;
        rep.dead_lettered_but_applied = dlq_applied;
        rep.invariants = vec![
            Invariant::new(
                "conservation",
                "every matched event is applied in the CRM or sits in the DLQ with a reason",
                unsettled == 0 && delivered_not_applied == 0 && lost_dlq == 0,
                format!(
                    "{} unsettled, {} delivered but never applied, {} dead-lettered with the DLQ disabled",
                    unsettled, delivered_not_applied, lost_dlq
                ),
            ),
            Invariant::new(
                "no-duplicate-side-effects",
                if dedup == DedupMode::None {
                    "no event is written twice (the CRM does not deduplicate: duplicates are counted, not prevented)"
                } else {
                    "no event is written twice"
                },
                dedup == DedupMode::None || duplicates == 0,
                format!("{duplicates} duplicate side effects"),
            ),
            Invariant::new(
                "unique-idempotency-keys",
                "no two distinct events share an idempotency key",
                key_clashes.is_empty(),
                if key_clashes.is_empty() {
                    "0 shared keys".to_string()
                } else {
                    format!("{} shared keys, e.g. {}", rep.key_clash_count, key_clashes.join("; "))
                },
            ),
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

/// Runs a scenario. The report is a pure function of (spec, inputs, scenario, options).
pub fn run(
    spec: &Spec,
    inputs: &Inputs,
    sc: &Scenario,
    opts: &Options,
    sinks: &mut Sinks<'_>,
) -> Result<Report, EngineError> {
    let epoch = epoch(spec, sc);
    let cfg = machine_config(spec, sc, opts, epoch)?;
    let template = cfg.idempotency.clone();
    let max_retries = cfg.max_retries;
    let timeout = cfg.timeout;
    let mut machine = Machine::new(cfg, machine_rng(opts.seed));
    let mut crm_rng = crm_rng(opts.seed);
    let mut crm = CrmModel::new(&spec.raw, sc, inputs.payload_schema.as_ref());

    let mut feed = Feed::new(inputs, sc, opts.events, epoch);
    let total_events = feed.total();
    let mut rep = new_report(spec, sc, opts, epoch, total_events, &crm);

    let mut heap: BinaryHeap<Entry> = BinaryHeap::new();
    let mut hseq: u64 = 0;
    let mut push = |heap: &mut BinaryHeap<Entry>, at: Time, what: Happening| {
        hseq += 1;
        heap.push(Entry {
            at,
            seq: hseq,
            what,
        });
    };
    if let Some(at) = feed.next_at() {
        push(&mut heap, at, Happening::Arrival);
    }

    let mut ledger = Ledger::default();
    let mut steps: u64 = 0;
    let max_steps = opts.max_steps.unwrap_or(
        1_000_000
            + total_events
                .saturating_mul(16)
                .saturating_mul(u64::from(max_retries) + 4),
    );
    let mut now: Time = 0;
    let mut retry_second: (u64, u64) = (0, 0);

    loop {
        steps += 1;
        if steps > max_steps {
            return Err(EngineError::Livelock {
                steps: max_steps,
                at: delivery::rfc3339(epoch, now),
                seed: opts.seed,
            });
        }
        let timer = machine.poll_timeout();
        let next = heap.peek().map(|e| e.at);
        let fire_timer = match (timer, next) {
            (None, None) => break,
            (Some(t), Some(n)) => t < n,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if fire_timer {
            now = now.max(timer.expect("checked"));
            machine.handle_timeout(now);
        } else {
            let e = heap.pop().expect("peeked");
            now = now.max(e.at);
            match e.what {
                Happening::Arrival => {
                    let (k, event) = feed.pop(now);
                    if let Some(at) = feed.next_at() {
                        push(&mut heap, at.max(now), Happening::Arrival);
                    }
                    let done = feed.arrived();
                    if done % 4096 == 0 || done == total_events {
                        (sinks.progress)(done, total_events);
                    }
                    ledger.arrive(
                        &mut rep,
                        inputs,
                        &template,
                        &mut machine,
                        now,
                        epoch,
                        k,
                        event,
                    );
                }
                Happening::CrmReply(id, Reply::Http { response, .. }) => {
                    machine.handle_response(now, id, response)
                }
                Happening::CrmReply(id, _) => {
                    machine.handle_failure(now, id, delivery::Failure::Reset)
                }
                Happening::Token(id, result) => machine.handle_token(now, id, result),
            }
        }
        // Drain the machine: send what it wants sent, record what it settled.
        while let Some(t) = machine.poll_transmit() {
            match t {
                Transmit::Crm(req) => {
                    let reply = crm.handle_request(now, &req, &mut crm_rng);
                    observe_request(&mut rep, &req, &reply, now, timeout, &mut retry_second);
                    match reply {
                        Reply::Silence => {}
                        Reply::Http { latency, .. } | Reply::Reset { latency }
                            if latency >= timeout => {}
                        Reply::Http { latency, .. } | Reply::Reset { latency } => {
                            push(&mut heap, now + latency, Happening::CrmReply(req.id, reply))
                        }
                    }
                }
                Transmit::Token { id } => {
                    observe_token_request(&mut rep, now);
                    let (latency, result) = crm.handle_token_request(now, &mut crm_rng);
                    if let Some(r) = result {
                        if latency < timeout {
                            push(&mut heap, now + latency, Happening::Token(id, r));
                        }
                    }
                }
                Transmit::Alert { .. } => rep.alerts += 1,
            }
        }
        while let Some(o) = machine.poll_output() {
            ledger.settle(&mut rep, &o, sinks);
        }
        observe_pending(&mut rep);
    }
    throttle_notes(&mut rep, spec, &crm);
    ledger.finish(&mut rep, now, &crm, &machine);
    Ok(rep)
}

/// Records the backlog (matched events not yet settled) after a step.
pub fn observe_pending(rep: &mut Report) {
    let pending = rep.totals.matched - rep.totals.delivered - rep.totals.dead_lettered;
    rep.peak_pending = rep.peak_pending.max(pending);
}

/// Says why, when the DLQ holds throttled events the policy could have kept.
pub fn throttle_notes(rep: &mut Report, spec: &Spec, crm: &CrmModel) {
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
                "{} throttles with {}, which retry.nonRetryableStatusCodes dead-letters at once: {} event(s) went to the DLQ on a throttle response; make {} retryable and add retry.circuitBreaker",
                crm.profile().name, throttle.status, throttled_dlq, throttle.status
            ));
        } else if throttle.retry_after && !policy.respect_retry_after_header {
            rep.notes.push(format!(
                "{} event(s) exhausted their retries on {} responses that carried Retry-After; retry.respectRetryAfterHeader is off, so retries fired before the CRM's window reopened",
                throttled_dlq, throttle.status
            ));
        } else {
            rep.notes.push(format!(
                "{throttled_dlq} event(s) were dead-lettered after a {} throttle response; more retries, a longer maxDelaySeconds or retry.circuitBreaker keep them",
                throttle.status
            ));
        }
    }
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
    let mut rep = Report::new(spec, sc, opts, interval, epoch);
    rep.totals.events = total_events;
    rep.crm_profile = crm.profile().name.to_string();
    rep.notes.extend(crm.notes.iter().cloned());
    rep
}

/// Counts a token request made at `now`.
pub fn observe_token_request(rep: &mut Report, now: Time) {
    rep.bucket(now).token_refreshes += 1;
    rep.totals.token_refreshes += 1;
}

/// Counts one CRM request and its reply in the report.
pub fn observe_request(
    rep: &mut Report,
    req: &CrmRequest,
    reply: &Reply,
    now: Time,
    timeout: Time,
    retry_second: &mut (u64, u64),
) {
    rep.totals.attempts += 1;
    let retry = req.attempt > 1;
    if retry {
        let sec = now / 1000;
        if retry_second.0 != sec {
            *retry_second = (sec, 0);
        }
        retry_second.1 += 1;
        rep.peak_retry_rate = rep.peak_retry_rate.max(retry_second.1);
    }
    let (done, class) = match reply {
        Reply::Silence => (now + timeout, Class::Timeout),
        Reply::Http { latency, .. } | Reply::Reset { latency } if *latency >= timeout => {
            (now + timeout, Class::Timeout)
        }
        Reply::Reset { latency } => (now + latency, Class::Reset),
        Reply::Http { latency, response } => (
            now + latency,
            match response.status {
                200..=299 => Class::Ok,
                400..=499 => Class::Client,
                _ => Class::Server,
            },
        ),
    };
    if let Reply::Http { latency, response } = reply {
        if *latency < timeout {
            *rep.statuses.entry(response.status).or_default() += 1;
        }
    }
    let b: &mut Bucket = rep.bucket(done);
    b.requests += 1;
    if retry {
        b.retries += 1;
    }
    match class {
        Class::Ok => b.ok += 1,
        Class::Client => b.client_errors += 1,
        Class::Server => b.server_errors += 1,
        Class::Timeout => b.timeouts += 1,
        Class::Reset => b.timeouts += 1,
    }
    match class {
        Class::Timeout => rep.timeouts += 1,
        Class::Reset => rep.resets += 1,
        _ => {}
    }
}

enum Class {
    Ok,
    Client,
    Server,
    Timeout,
    Reset,
}

fn settle_delivered(rep: &mut Report, state: &mut [u8], d: &Delivered, sinks: &mut Sinks<'_>) {
    state[d.seq as usize] = DELIVERED;
    rep.totals.delivered += 1;
    *rep.attempts_histogram.entry(d.attempts).or_default() += 1;
    let latency = (d.at - d.submitted).min(u64::from(u32::MAX)) as u32;
    rep.latencies.push(latency);
    let b = rep.bucket(d.at);
    b.delivered += 1;
    b.latencies.push(latency);
    (sinks.outcome)(&Outcome {
        event_id: d.event_id.clone(),
        outcome: "delivered",
        attempts: d.attempts,
        reason: None,
    });
}

fn settle_dead_letter(rep: &mut Report, state: &mut [u8], d: &DeadLettered, sinks: &mut Sinks<'_>) {
    state[d.seq as usize] = if d.stored { DLQ_STORED } else { DLQ_LOST };
    rep.totals.dead_lettered += 1;
    *rep.by_reason.entry(d.reason).or_default() += 1;
    *rep.attempts_histogram.entry(d.attempts).or_default() += 1;
    rep.bucket(d.at).dlq += 1;
    if let Some(st) = d.last_status {
        *rep.dlq_by_status.entry(st).or_default() += 1;
    }
    if rep.dlq_examples.len() < 8 && !rep.dlq_examples.iter().any(|(r, _)| *r == d.reason) {
        rep.dlq_examples.push((d.reason, example(d, rep.epoch)));
    }
    (sinks.dead_letter)(d);
    (sinks.outcome)(&Outcome {
        event_id: d.event_id.clone(),
        outcome: "deadLettered",
        attempts: d.attempts,
        reason: Some(d.reason.as_str()),
    });
}

fn example(r: &DeadLettered, epoch: SystemTime) -> String {
    let last = match (&r.last_status, &r.last_error) {
        (Some(s), _) => {
            let body = r.last_body.as_deref().unwrap_or("");
            let body: String = body.chars().take(100).collect();
            format!("last response {s} {body}")
        }
        (None, Some(e)) => e.clone(),
        (None, None) => "no response".to_string(),
    };
    format!(
        "{} after {} attempt(s) at {}: {}",
        r.event_id,
        r.attempts,
        delivery::rfc3339(epoch, r.at),
        last
    )
}

/// Per-reason totals in report order.
pub fn reasons(by: &BTreeMap<Reason, u64>) -> Vec<(Reason, u64)> {
    crate::delivery::Reason::ALL
        .iter()
        .filter_map(|r| by.get(r).map(|n| (*r, *n)))
        .collect()
}
