//! The delivery state machine: the guide's channel and retry semantics, sans-IO.
//!
//! Like quinn-proto, the machine contains no networking code and never reads a clock or an
//! entropy source. The driver feeds it inputs stamped with `now` (`handle_submit`,
//! `handle_response`, `handle_failure`, `handle_token`, `handle_timeout`) and drains its outputs
//! (`poll_transmit` for requests to send, `poll_output` for delivered and dead-lettered events,
//! `poll_timeout` for the next deadline). Randomness (jitter) comes from an RNG handed in at
//! construction.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand_core::Rng;
use serde_json::Value;

use super::alert::{Collector, Entry};
use super::backoff;
use super::body::{Base, Body};
use super::classify::Decision;
use super::config::{AuthMode, Config};
use super::idempotency;
use super::inputs::{Failure, Response, Submission, SubmissionId, TokenResult};
use super::outputs::{BatchOf, CrmRequest, DeadLettered, Delivered, Output, Stats, Transmit};
use super::retry_after;
use super::token::{TimerKey, TokenCache};
use super::{Reason, Time, MAX_RECORD_BODY};

#[derive(Debug)]
/// An accepted event: what its resends need and its dead letter names, no more. The payload is
/// kept once, as the compact JSON text that is sent, mostly as its differences from an earlier
/// payload of its rule and source ([`Body`]), never copied per state (a backlog of a long 429
/// storm then costs its payloads' differences); the event is not kept at all (the driver finds
/// it again by `origin`). A DLQ record parses the payload back.
struct Item {
    id: SubmissionId,
    payload: Body,
    key: Box<str>,
    submitted: Time,
}

/// The events of a job: one (the item itself, no list), or a batch with its joined key. A
/// batch's body is written from its members' payloads at each send, so a batch holds each
/// payload once, as a lone event does.
#[derive(Debug)]
enum Items {
    One(Item),
    Batch { items: Vec<Item>, key: Box<str> },
}

impl Items {
    fn as_slice(&self) -> &[Item] {
        match self {
            Items::One(item) => std::slice::from_ref(item),
            Items::Batch { items, .. } => items,
        }
    }

    fn into_vec(self) -> Vec<Item> {
        match self {
            Items::One(item) => vec![item],
            Items::Batch { items, .. } => items,
        }
    }

    /// The idempotency key every attempt carries.
    fn key(&self) -> &str {
        match self {
            Items::One(item) => &item.key,
            Items::Batch { key, .. } => key,
        }
    }

    /// The request body: the lone payload's text, or the batch's array.
    fn body(&self) -> Arc<str> {
        match self {
            Items::One(item) => item.payload.text(),
            Items::Batch { items, .. } => {
                let texts: Vec<Arc<str>> = items.iter().map(|i| i.payload.text()).collect();
                let parts: Vec<&str> = texts.iter().map(|t| &**t).collect();
                batch_body(&parts).into()
            }
        }
    }
}

/// A queued, parked or in-flight job. A job not yet tried (the whole of a burst's queue) is its
/// events alone; what its tries leave ([`Tries`]) is boxed beside them once it is first sent
/// or fails.
#[derive(Debug)]
struct Job {
    items: Items,
    tries: Option<Box<Tries>>,
}

/// What a job's attempts have left: counts, times, the last answer.
#[derive(Debug)]
struct Tries {
    attempts: u32,
    retries: u32,
    refreshes: u32,
    prev_delay: f64,
    first_attempt: Option<Time>,
    last_attempt: Option<Time>,
    last_status: Option<u16>,
    /// The last response body, cut to [`MAX_RECORD_BODY`] bytes; jobs answered the same body in
    /// a row (a throttle or outage storm) share one copy ([`Machine::last_body`]).
    last_body: Option<Arc<str>>,
    last_error: Option<Cow<'static, str>>,
    /// Whether an attempt may have been written by the CRM ([`BatchOf::maybe_applied`]).
    maybe_applied: bool,
    /// The last response's `Retry-After`, in ms ([`DeadLettered::last_retry_after`]).
    last_retry_after: Option<Time>,
    /// A retry fired sooner than the `Retry-After` it followed ([`DeadLettered::retry_after_ignored`]).
    retry_after_ignored: bool,
}

impl Job {
    /// The job's tries, made (none so far, the backoff at `initial`) on first use.
    fn tries(&mut self, initial: f64) -> &mut Tries {
        self.tries.get_or_insert_with(|| {
            Box::new(Tries {
                attempts: 0,
                retries: 0,
                refreshes: 0,
                prev_delay: initial,
                first_attempt: None,
                last_attempt: None,
                last_status: None,
                last_body: None,
                last_error: None,
                maybe_applied: false,
                last_retry_after: None,
                retry_after_ignored: false,
            })
        })
    }

    fn first_attempt(&self) -> Option<Time> {
        self.tries.as_ref().and_then(|t| t.first_attempt)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Retry(u64),
    RequestTimeout(u64),
    TokenTimeout(u64),
    TokenRetry,
    BatchFlush,
    AlertFlush,
}

#[derive(Debug)]
struct InFlight {
    job: u64,
    token_gen: u64,
    timer: TimerKey,
}

/// A submission's payload text and key, or why it is refused ([`Machine::admit`]).
type Admitted = Result<(String, String), Refusal>;

/// Why a submitted event is dead-lettered before any attempt.
struct Refusal {
    reason: Reason,
    error: String,
    payload: Option<Value>,
    key: Option<String>,
}

/// The DLQ alert's window: dead letters since the last alert, collected until the next one.
#[derive(Debug, Default)]
struct AlertWindow {
    /// When the next alert may go (the end of the window the last alert opened).
    until: Option<Time>,
    /// The `AlertFlush` timer, set only while dead letters wait for an alert, so a quiet window
    /// holds no timer and a run with nothing left to do ends at once (`--target` waited out a
    /// whole window after its last dead letter, #116).
    due: Option<TimerKey>,
    pending: Collector,
}

/// The delivery state machine. `R` is the jitter RNG, handed in.
pub struct Machine<R> {
    cfg: Config,
    rng: R,
    next_id: u64,
    timer_seq: u64,
    /// Boxed: a map's nodes are about half full in a queue's order, and a job is larger than
    /// its entry.
    jobs: BTreeMap<u64, Box<Job>>,
    ready: VecDeque<u64>,
    inflight: BTreeMap<u64, InFlight>,
    timers: BTreeMap<TimerKey, Timer>,
    token: TokenCache,
    batch: Vec<Item>,
    batch_timer: Option<TimerKey>,
    transmits: VecDeque<Transmit>,
    outputs: VecDeque<Output>,
    alert: AlertWindow,
    /// No event is left to arrive ([`Machine::handle_arrivals_done`]).
    arrivals_done: bool,
    stats: Stats,
    /// The last response body a job was answered with (cut), shared by the jobs that got the
    /// same one in a row.
    last_body: Option<Arc<str>>,
    /// The first payload of each rule and source, which the later ones are held against
    /// ([`Body`]), by source, then rule. One per rule and source the run sees, however many: a
    /// source's payloads held whole would cost more than its base (its text and an index of at
    /// most 128 KiB, [`super::body::MAX_ANCHORS`]), and the rules and sources are the spec's.
    bases: BTreeMap<u32, Vec<RuleBase>>,
}

/// A rule's base (of one source).
type RuleBase = (Arc<str>, Arc<Base>);

impl<R: Rng> Machine<R> {
    /// A machine with nothing queued.
    pub fn new(cfg: Config, rng: R) -> Self {
        Machine {
            cfg,
            rng,
            next_id: 1,
            timer_seq: 0,
            jobs: BTreeMap::new(),
            ready: VecDeque::new(),
            inflight: BTreeMap::new(),
            timers: BTreeMap::new(),
            token: TokenCache::default(),
            batch: Vec::new(),
            batch_timer: None,
            transmits: VecDeque::new(),
            outputs: VecDeque::new(),
            alert: AlertWindow::default(),
            arrivals_done: false,
            stats: Stats::default(),
            last_body: None,
            bases: BTreeMap::new(),
        }
    }

    /// The configuration the machine runs with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Events accepted but not yet delivered or dead-lettered (queued, parked, in flight,
    /// batching).
    pub fn pending_events(&self) -> usize {
        self.jobs
            .values()
            .map(|j| j.items.as_slice().len())
            .sum::<usize>()
            + self.batch.len()
    }

    /// Nothing queued, in flight or batching (alert timers may remain).
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty()
            && self.batch.is_empty()
            && self.inflight.is_empty()
            && !self.token.is_requesting()
    }

    /// The next request to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event that reached a final state.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest deadline at which `handle_timeout` must be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// Accepts one matched event: renders its idempotency key, applies the payload guard and
    /// queues it (or batches it).
    pub fn handle_submit(&mut self, now: Time, sub: Submission) {
        let (payload_text, key) = match self.admit(sub.payload, sub.idempotency_key) {
            Ok(accepted) => accepted,
            Err(r) => {
                self.refuse(now, sub.id, r);
                return self.pump(now);
            }
        };
        let payload = self.hold(&sub.id, payload_text);
        let item = Item {
            id: sub.id,
            payload,
            key: key.into_boxed_str(),
            submitted: now,
        };
        if self.cfg.batch_size <= 1 {
            self.enqueue(Items::One(item));
        } else {
            self.batch.push(item);
            if self.batch.len() >= self.cfg.batch_size {
                self.flush_batch();
            } else if self.batch_timer.is_none() {
                let at = now.saturating_add(self.cfg.batch_interval);
                self.batch_timer = Some(self.set_timer(at, Timer::BatchFlush));
            }
        }
        self.pump(now);
    }

    /// Accepts a batch as it was sent before, whatever `batchSize` says: one request of these
    /// events' payloads, in this order, carrying `key` on every attempt (DLQ replay re-sends a
    /// batch the CRM may have written with the key it saw, so a CRM that deduplicates on the
    /// header writes each event once). All or nothing, as any batch: when one member is
    /// refused (its payload, the size guard, the key), every member is dead-lettered unsent.
    pub fn handle_submit_batch(&mut self, now: Time, subs: Vec<Submission>, key: String) {
        let admitted: Vec<(SubmissionId, Admitted)> = subs
            .into_iter()
            .map(|sub| (sub.id, self.admit(sub.payload, sub.idempotency_key)))
            .collect();
        let refusal = admitted
            .iter()
            .find_map(|(_, a)| a.as_ref().err())
            .map(|r| {
                (
                    r.reason,
                    format!("another event of its batch was refused: {}", r.error),
                )
            })
            .or_else(|| {
                idempotency::unsendable(&key, &self.cfg.idempotency_header).map(|why| {
                    let error = format!("the batch's idempotency key {why}");
                    (Reason::IdempotencyKeyUnresolved, error)
                })
            });
        if let Some((reason, error)) = refusal {
            for (id, a) in admitted {
                let r = match a {
                    Err(refused) => refused,
                    Ok((text, own)) => Refusal {
                        reason,
                        error: error.clone(),
                        payload: Some(parse_back(&text)),
                        key: Some(own),
                    },
                };
                self.refuse(now, id, r);
            }
            return self.pump(now);
        }
        let items: Vec<Item> = admitted
            .into_iter()
            .filter_map(|(id, a)| {
                let (text, own) = a.ok()?;
                let payload = self.hold(&id, text);
                Some(Item {
                    id,
                    payload,
                    key: own.into_boxed_str(),
                    submitted: now,
                })
            })
            .collect();
        if !items.is_empty() {
            self.enqueue(Items::Batch {
                items,
                key: key.into_boxed_str(),
            });
        }
        self.pump(now);
    }

    /// Dead-letters a submission refused before any attempt.
    fn refuse(&mut self, now: Time, id: SubmissionId, r: Refusal) {
        self.push_dead_letter(
            now,
            DeadLettered {
                id,
                channel: self.cfg.channel.clone(),
                idempotency_key: r.key,
                payload: r.payload,
                reason: r.reason,
                last_status: None,
                last_body: None,
                last_error: Some(r.error),
                attempts: 0,
                token_refreshes: 0,
                submitted: now,
                first_attempt: now,
                last_attempt: now,
                at: now,
                stored: self.cfg.dlq_enabled,
                last_retry_after: None,
                retry_after_ignored: false,
                batch: None,
            },
        );
    }

    /// A CRM response to request `id`. Responses to unknown (timed-out) requests are ignored.
    pub fn handle_response(&mut self, now: Time, id: u64, resp: Response) {
        let Some(f) = self.inflight.remove(&id) else {
            return;
        };
        self.timers.remove(&f.timer);
        let decision = self.cfg.policy.classify(resp.status);
        if self.jobs.contains_key(&f.job) {
            let body = self.share_body(&resp.body);
            let initial = self.cfg.backoff.initial;
            let retry_after = resp.retry_after.as_deref().and_then(|v| {
                let wall = self.cfg.hub.epoch.checked_add(Duration::from_millis(now))?;
                let ra = retry_after::parse(v, wall)?;
                Some(u64::try_from(ra.as_millis()).unwrap_or(u64::MAX))
            });
            if let Some(job) = self.jobs.get_mut(&f.job) {
                let t = job.tries(initial);
                t.last_status = Some(resp.status);
                t.last_retry_after = retry_after;
                t.last_body = Some(body);
                t.last_error = None;
                // A 4xx refuses the request unwritten; any other answer may follow the write
                // (a gateway's 503 after the CRM wrote it).
                t.maybe_applied |= !(400..500).contains(&resp.status);
            }
        }
        match decision {
            Decision::Success => self.deliver(now, f.job),
            Decision::RefreshToken => {
                self.token.rejected(f.token_gen);
                // A refresh is a resend with a new token; the 401 past the allowance
                // dead-letters and is not one.
                let (max, initial) = (self.cfg.hub.max_token_refreshes, self.cfg.backoff.initial);
                let over = match self.jobs.get_mut(&f.job).map(|j| j.tries(initial)) {
                    Some(t) if t.refreshes >= max => true,
                    Some(t) => {
                        t.refreshes += 1;
                        false
                    }
                    None => false,
                };
                if over {
                    self.dead_letter(now, f.job, Reason::AuthFailed);
                } else {
                    self.ready.push_front(f.job);
                }
            }
            Decision::Retry => self.retry(now, f.job),
            Decision::DeadLetter(reason) => self.dead_letter(now, f.job, reason),
        }
        self.pump(now);
    }

    /// A request that got no response (connection reset). Timeouts are detected by the machine.
    pub fn handle_failure(&mut self, now: Time, id: u64, failure: Failure) {
        let Some(f) = self.inflight.remove(&id) else {
            return;
        };
        self.timers.remove(&f.timer);
        self.transport_failed(now, f.job, failure);
        self.pump(now);
    }

    /// The token endpoint's answer to token request `id`.
    pub fn handle_token(&mut self, now: Time, id: u64, result: TokenResult) {
        let Some(timer) = self.token.answered(id) else {
            return;
        };
        self.timers.remove(&timer);
        self.token_result(now, result);
        self.pump(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some((&key, _)) = self.timers.iter().next() {
            if key.0 > now {
                break;
            }
            let timer = self.timers.remove(&key).expect("key just read");
            match timer {
                Timer::Retry(job) => {
                    if self.past_deadline(job, now) {
                        self.dead_letter_unqueued(now, job, Reason::DeadlineExceeded);
                    } else if self.jobs.contains_key(&job) {
                        self.ready.push_back(job);
                    }
                }
                Timer::RequestTimeout(id) => {
                    if let Some(f) = self.inflight.remove(&id) {
                        self.transport_failed(now, f.job, Failure::Timeout);
                    }
                }
                Timer::TokenTimeout(id) => {
                    if self.token.answered(id).is_some() {
                        self.token_result(now, TokenResult::Failed(Failure::Timeout));
                    }
                }
                Timer::TokenRetry => self.token.retry_at = None,
                Timer::BatchFlush => {
                    self.batch_timer = None;
                    self.flush_batch();
                }
                Timer::AlertFlush => self.flush_alert(now),
            }
        }
        self.pump(now);
    }

    fn set_timer(&mut self, at: Time, t: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, t);
        key
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn flush_batch(&mut self) {
        if let Some(k) = self.batch_timer.take() {
            self.timers.remove(&k);
        }
        if !self.batch.is_empty() {
            let items = std::mem::take(&mut self.batch);
            let key = super::idempotency::batch_key(items.iter().map(|i| &*i.key)).into_boxed_str();
            self.enqueue(Items::Batch { items, key });
        }
    }

    fn enqueue(&mut self, items: Items) {
        let id = self.next_id();
        self.jobs.insert(id, Box::new(Job { items, tries: None }));
        self.ready.push_back(id);
    }

    /// How submission `id`'s payload text is held: against the first payload of its rule and
    /// source, or whole (the first becomes the base).
    fn hold(&mut self, id: &SubmissionId, text: String) -> Body {
        let of_source = self.bases.entry(id.source).or_default();
        let found = of_source
            .iter()
            .find(|(rule, _)| Arc::ptr_eq(rule, &id.rule_id) || **rule == *id.rule_id);
        if let Some((_, base)) = found {
            return Body::against(base, text);
        }
        let text: Arc<str> = text.into();
        if let Some(base) = Base::new(Arc::clone(&text)) {
            of_source.push((Arc::clone(&id.rule_id), Arc::new(base)));
        }
        Body::Whole(text)
    }

    /// `body` cut to [`MAX_RECORD_BODY`] bytes, as the last body a job heard; the same text as
    /// the previous job's is that job's copy.
    fn share_body(&mut self, body: &str) -> Arc<str> {
        let cut = truncate(body, MAX_RECORD_BODY);
        match &self.last_body {
            Some(last) if **last == *cut => Arc::clone(last),
            _ => {
                let shared: Arc<str> = cut.into();
                self.last_body = Some(Arc::clone(&shared));
                shared
            }
        }
    }

    /// Sends what may be sent now; then, once nothing is left to arrive or do, the alert of the
    /// dead letters not yet alerted goes at once rather than at its window's end.
    fn pump(&mut self, now: Time) {
        self.pump_ready(now);
        self.alert_early(now);
    }

    /// Tells the machine that no event is left to arrive: from the moment nothing is queued or
    /// in flight either, the last alert is not held for its window (a run ends when its last
    /// event settles, #116). The driver loop calls it after the last arrival.
    pub fn handle_arrivals_done(&mut self, now: Time) {
        if !self.arrivals_done {
            self.arrivals_done = true;
            self.alert_early(now);
        }
    }

    fn alert_early(&mut self, now: Time) {
        if !self.arrivals_done || !self.is_idle() {
            return;
        }
        if let Some(key) = self.alert.due.filter(|k| k.0 > now) {
            self.timers.remove(&key);
            self.alert.due = Some(self.set_timer(now, Timer::AlertFlush));
        }
    }

    /// Sends ready jobs, within the concurrency limit, when a token is at hand.
    fn pump_ready(&mut self, now: Time) {
        while !self.ready.is_empty() && self.inflight.len() < self.cfg.hub.concurrency {
            let (bearer, token_gen) = match &self.cfg.auth {
                AuthMode::None => (None, self.token.generation()),
                AuthMode::Bearer(t) => (Some(t.clone()), self.token.generation()),
                AuthMode::OAuth { .. } => match self.token.current(now) {
                    Some((value, generation)) => (Some(value), generation),
                    None => {
                        self.request_token(now);
                        return;
                    }
                },
            };
            let job_id = self.ready.pop_front().expect("checked non-empty");
            if self.past_deadline(job_id, now) {
                // Held back (waiting for a token) until past its deadline.
                self.dead_letter_unqueued(now, job_id, Reason::DeadlineExceeded);
                continue;
            }
            let req_id = self.next_id();
            let timer = self.set_timer(
                now.saturating_add(self.cfg.timeout),
                Timer::RequestTimeout(req_id),
            );
            let header = self.cfg.idempotency_header.clone();
            let initial = self.cfg.backoff.initial;
            let job = self.jobs.get_mut(&job_id).expect("ready jobs exist");
            let t = job.tries(initial);
            t.attempts += 1;
            t.first_attempt.get_or_insert(now);
            t.last_attempt = Some(now);
            let attempt = t.attempts;
            let items = job.items.as_slice();
            let req = CrmRequest {
                id: req_id,
                attempt,
                bearer,
                idempotency: (header, job.items.key().to_string()),
                body: job.items.body(),
                seqs: items.iter().map(|i| i.id.seq).collect(),
                rules: items.iter().map(|i| i.id.rule_id.to_string()).collect(),
            };
            self.inflight.insert(
                req_id,
                InFlight {
                    job: job_id,
                    token_gen,
                    timer,
                },
            );
            self.stats.crm_requests += 1;
            self.transmits.push_back(Transmit::Crm(req));
        }
    }

    fn request_token(&mut self, now: Time) {
        if !self.token.may_request(now) {
            return;
        }
        let id = self.next_id();
        let timer = self.set_timer(
            now.saturating_add(self.cfg.timeout),
            Timer::TokenTimeout(id),
        );
        self.token.requested(id, timer);
        self.stats.token_requests += 1;
        self.transmits.push_back(Transmit::Token { id });
    }

    fn token_result(&mut self, now: Time, result: TokenResult) {
        let AuthMode::OAuth { cache_ttl, .. } = self.cfg.auth else {
            return;
        };
        let (error, permanent) = match result {
            // The hub caches for its TTL; the token's `expires_in` is not read (token.rs).
            TokenResult::Granted { access_token, .. } => {
                self.stats.tokens_granted += 1;
                self.token.grant(now, access_token, cache_ttl);
                return;
            }
            TokenResult::Refused { status, error } => {
                self.stats.token_refused += 1;
                (
                    format!("token endpoint: {status} {error}"),
                    super::classify::token_refusal_is_final(status),
                )
            }
            TokenResult::Failed(f) => (format!("token endpoint: {}", f.as_str()), false),
        };
        self.stats.token_failures += 1;
        self.token.failures += 1;
        // Credentials the endpoint refuses (invalid_grant, invalid_client) do not heal by
        // waiting; an outage might. Either way the events waiting for a token go to the DLQ
        // once retrying the token request is pointless or exhausted.
        if permanent || self.token.failures > self.cfg.max_retries {
            self.token.failures = 0;
            let waiting: Vec<u64> = self.ready.drain(..).collect();
            let error: Cow<'static, str> = error.into();
            let initial = self.cfg.backoff.initial;
            for job in waiting {
                if let Some(j) = self.jobs.get_mut(&job) {
                    let t = j.tries(initial);
                    t.last_error = Some(error.clone());
                    t.last_status = None;
                    t.last_body = None;
                    t.last_retry_after = None;
                }
                self.dead_letter(now, job, Reason::TokenRequestFailed);
            }
        } else {
            let prev = self.cfg.backoff.initial;
            let d = backoff::to_ms(self.cfg.backoff.delay(
                self.token.failures,
                prev,
                &mut self.rng,
            ));
            self.token.retry_at = Some(now.saturating_add(d));
            self.set_timer(now.saturating_add(d), Timer::TokenRetry);
        }
    }

    fn transport_failed(&mut self, now: Time, job: u64, failure: Failure) {
        let decision = self.cfg.policy.classify_transport();
        let initial = self.cfg.backoff.initial;
        if let Some(j) = self.jobs.get_mut(&job) {
            let t = j.tries(initial);
            t.last_status = None;
            t.last_body = None;
            t.last_retry_after = None;
            t.last_error = Some(Cow::Borrowed(failure.as_str()));
            // A timeout or a reset may come after the CRM wrote the request; a request refused
            // a connection, unresolved or refused by TLS never reached it.
            t.maybe_applied |= matches!(failure, Failure::Timeout | Failure::Reset);
        }
        match decision {
            Decision::DeadLetter(r) => self.dead_letter(now, job, r),
            _ => self.retry(now, job),
        }
    }

    /// Whether an attempt of `job_id` starting at `at` would start later than
    /// `crm.deliveryDeadlineSeconds` after its first attempt.
    fn past_deadline(&self, job_id: u64, at: Time) -> bool {
        let (Some(dl), Some(first)) = (
            self.cfg.delivery_deadline,
            self.jobs.get(&job_id).and_then(|j| j.first_attempt()),
        ) else {
            return false;
        };
        at > first.saturating_add(dl)
    }

    /// Schedules the job's next retry after a response (the job's `last_retry_after` is that
    /// response's `Retry-After`).
    fn retry(&mut self, now: Time, job_id: u64) {
        let max = self.cfg.max_retries;
        let respect = self.cfg.respect_retry_after;
        let deadline = self.cfg.delivery_deadline;
        let initial = self.cfg.backoff.initial;
        let Some(job) = self.jobs.get_mut(&job_id).map(|j| j.tries(initial)) else {
            return;
        };
        job.retries += 1;
        if job.retries > max {
            return self.dead_letter(now, job_id, Reason::RetriesExhausted);
        }
        let secs = self
            .cfg
            .backoff
            .delay(job.retries, job.prev_delay, &mut self.rng);
        job.prev_delay = secs;
        let mut wait = backoff::to_ms(secs);
        if let Some(ra) = job.last_retry_after {
            if respect {
                wait = wait.max(ra);
            } else if wait < ra {
                job.retry_after_ignored = true;
            }
        }
        if let (Some(dl), Some(first)) = (deadline, job.first_attempt) {
            if now.saturating_add(wait) > first.saturating_add(dl) {
                return self.dead_letter(now, job_id, Reason::DeadlineExceeded);
            }
        }
        self.stats.retries_scheduled += 1;
        self.set_timer(now.saturating_add(wait), Timer::Retry(job_id));
    }

    fn deliver(&mut self, now: Time, job_id: u64) {
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        let Job { items, tries } = *job;
        let t = tries.as_deref();
        for item in items.into_vec() {
            self.outputs.push_back(Output::Delivered(Delivered {
                id: item.id,
                first_attempt: t.and_then(|t| t.first_attempt).unwrap_or(now),
                attempts: t.map_or(0, |t| t.attempts),
                token_refreshes: t.map_or(0, |t| t.refreshes),
                status: t.and_then(|t| t.last_status),
                submitted: item.submitted,
                at: now,
            }));
        }
    }

    fn dead_letter(&mut self, now: Time, job_id: u64, reason: Reason) {
        if !self.jobs.contains_key(&job_id) {
            return;
        }
        if let Some(pos) = self.ready.iter().position(|j| *j == job_id) {
            self.ready.remove(pos);
        }
        self.dead_letter_unqueued(now, job_id, reason);
    }

    /// [`Self::dead_letter`] for a job known not to be in the ready queue.
    fn dead_letter_unqueued(&mut self, now: Time, job_id: u64, reason: Reason) {
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        let Job { items, tries } = *job;
        let t = tries.as_deref();
        // A batch's members name it: the key the CRM saw is the batch's, not theirs.
        let (batch_key, size) = match &items {
            Items::One(_) => (None, 1),
            Items::Batch { items, key } => (Some(Arc::<str>::from(&**key)), items.len()),
        };
        let maybe_applied = t.is_some_and(|t| t.maybe_applied);
        for (index, item) in items.into_vec().into_iter().enumerate() {
            let batch = batch_key.as_ref().map(|key| BatchOf {
                key: Arc::clone(key),
                index: index as u32,
                size: size as u32,
                maybe_applied,
            });
            let first = t.and_then(|t| t.first_attempt).unwrap_or(item.submitted);
            let last = t.and_then(|t| t.last_attempt).unwrap_or(item.submitted);
            let d = DeadLettered {
                id: item.id,
                channel: self.cfg.channel.clone(),
                idempotency_key: Some(item.key.into_string()),
                payload: Some(parse_back(&item.payload.text())),
                reason,
                last_status: t.and_then(|t| t.last_status),
                last_body: t.and_then(|t| t.last_body.as_deref()).map(str::to_string),
                last_error: t.and_then(|t| t.last_error.as_deref()).map(str::to_string),
                attempts: t.map_or(0, |t| t.attempts),
                token_refreshes: t.map_or(0, |t| t.refreshes),
                submitted: item.submitted,
                first_attempt: first,
                last_attempt: last,
                at: now,
                stored: self.cfg.dlq_enabled,
                last_retry_after: t.and_then(|t| t.last_retry_after),
                retry_after_ignored: t.is_some_and(|t| t.retry_after_ignored),
                batch,
            };
            self.push_dead_letter(now, d);
        }
    }

    /// The submit-time checks, in order: the transform produced a payload, the key renders,
    /// the payload is within the size guard. Accepted: the payload as sent and the key.
    fn admit(&self, payload: Result<Value, String>, key: Result<String, String>) -> Admitted {
        let refused = |reason, error, payload, key| {
            Err(Refusal {
                reason,
                error,
                payload,
                key,
            })
        };
        let (payload, key) = match (payload, key) {
            (Err(error), key) => return refused(Reason::TransformFailed, error, None, key.ok()),
            (Ok(p), Err(error)) => {
                return refused(Reason::IdempotencyKeyUnresolved, error, Some(p), None)
            }
            (Ok(p), Ok(k)) => (p, k),
        };
        // The key travels in an HTTP header, which carries visible ASCII only (RFC 9110 §5.5):
        // a key it cannot carry as rendered is refused here, in every driver alike, never sent
        // without it or re-encoded into another key.
        if let Some(why) = idempotency::unsendable(&key, &self.cfg.idempotency_header) {
            let error = format!(
                "the idempotency key {why}; build the key from ids, not from names or free text"
            );
            return refused(Reason::IdempotencyKeyUnresolved, error, Some(payload), None);
        }
        let text = json_text(&payload);
        if let Some(limit) = self.cfg.max_payload_bytes {
            let size = text.len() as u64;
            if size > limit {
                let error = format!("payload is {size} bytes; crm.maxPayloadBytes is {limit}");
                return refused(Reason::PayloadTooLarge, error, Some(payload), Some(key));
            }
        }
        Ok((text, key))
    }

    fn push_dead_letter(&mut self, now: Time, d: DeadLettered) {
        if self.cfg.dlq_enabled && self.cfg.alert_endpoint.is_some() {
            self.alert.pending.add(Entry {
                event_id: &d.id.event_id,
                event_type: &d.id.event_type,
                rule_id: &d.id.rule_id,
                reason: d.reason,
                last_status: d.last_status,
                at: self.wall(now),
            });
            if self.alert.due.is_none() {
                // The first dead letter after a quiet window alerts at this instant, once every
                // dead letter of the instant is in; one inside a window waits for its end.
                let at = self.alert.until.map_or(now, |u| u.max(now));
                self.alert.due = Some(self.set_timer(at, Timer::AlertFlush));
            }
        }
        self.outputs.push_back(Output::DeadLettered(Box::new(d)));
    }

    fn wall(&self, t: Time) -> chrono::DateTime<chrono::Utc> {
        (self.cfg.hub.epoch + Duration::from_millis(t)).into()
    }

    /// Sends one alert for everything dead-lettered since the last one and opens a window; the
    /// next alert goes at its end if anything is dead-lettered in it, else at the next dead letter.
    fn flush_alert(&mut self, now: Time) {
        self.alert.due = None;
        let end = self.wall(now);
        let Some(alert) = self.alert.pending.take(
            &self.cfg.channel,
            &self.cfg.dlq_location,
            self.cfg.alert_threshold,
            end,
        ) else {
            return;
        };
        self.stats.alerts += 1;
        self.transmits.push_back(Transmit::Alert(Box::new(alert)));
        self.alert.until = Some(now.saturating_add(
            u64::try_from(self.cfg.hub.alert_window.as_millis()).unwrap_or(u64::MAX),
        ));
    }
}

/// The body of a batch request (`batchSize > 1`, even a batch of one): the members' payload
/// texts as one JSON array. Lint judges a fixture's payload in the body this builds
/// (`payload-not-a-record`), so what the CRM is sent is written in one place; its length is
/// [`batch_body_len`]'s, which this writes to.
pub fn batch_body(payloads: &[&str]) -> String {
    let mut body = String::with_capacity(batch_body_len(payloads.iter().map(|p| p.len())));
    body.push('[');
    for (i, p) in payloads.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(p);
    }
    body.push(']');
    body
}

/// The length in bytes of the [`batch_body`] of payload texts of these lengths, without writing
/// it: lint (CX028, CX041) and the simulator's verdict ask it how large a batch's body grows.
pub fn batch_body_len(payload_lens: impl IntoIterator<Item = usize>) -> usize {
    let (n, sum) = payload_lens
        .into_iter()
        .fold((0usize, 0usize), |(n, sum), l| {
            (n + 1, sum.saturating_add(l))
        });
    // The brackets and a comma between two payloads.
    sum.saturating_add(n.saturating_sub(1)).saturating_add(2)
}

/// The most events, up to `batch_size`, one batch may hold when each payload is up to
/// `largest` bytes and the CRM takes bodies up to `limit` bytes: the largest `n` whose
/// [`batch_body_len`] of `n` such payloads is within the limit; 0 when not even one fits.
pub fn largest_batch_within(largest: usize, limit: u64, batch_size: usize) -> usize {
    let fits = |n: usize| batch_body_len(std::iter::repeat_n(largest, n)) as u64 <= limit;
    // A body grows with its members: the fitting sizes are 0..=n, found by halving.
    let (mut lo, mut hi) = (0usize, batch_size);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// A value's compact JSON text as jsonata-js's `JSON.stringify` writes it, the text `cxsync test`
/// measures and snapshots: serde_json's writer with JavaScript's numbers ([`crate::jsjson`]:
/// `100000000000000000000`, not `1e20`; `0`, not `-0.0`; tester #49).
pub fn json_text(v: &Value) -> String {
    crate::jsjson::to_string(v)
}

/// Text this machine serialized itself parses back; `Null` is unreachable in practice.
fn parse_back(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::HubSettings;
    use crate::spec::model::Jitter;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;
    use serde_json::json;

    /// `batch_body_len` is the length of the body `batch_body` writes, for any payloads, and
    /// `largest_batch_within` the largest batch whose body of the largest payloads fits.
    #[test]
    fn a_batch_body_is_as_long_as_batch_body_len_says() {
        let texts = ["{}", r#"{"a":"é 😀"}"#, "", "[1,2]", r#"{"note":"x,y]"}"#];
        for n in 0..=texts.len() {
            for start in 0..texts.len() {
                let parts: Vec<&str> = texts.iter().cycle().skip(start).take(n).copied().collect();
                let body = batch_body(&parts);
                assert_eq!(body.len(), batch_body_len(parts.iter().map(|p| p.len())));
                assert_eq!(body.capacity(), body.len(), "{body}");
            }
        }
        for largest in [0usize, 1, 7, 100, 4096] {
            for limit in [0u64, 1, 2, 3, 50, 101, 102, 103, 1000, 1_000_000] {
                for batch in [1usize, 2, 5, 1000] {
                    let n = largest_batch_within(largest, limit, batch);
                    let len =
                        |n: usize| batch_body(&vec!["x".repeat(largest).as_str(); n]).len() as u64;
                    assert!(n <= batch);
                    if n > 0 {
                        assert!(len(n) <= limit, "{largest} {limit} {batch}: {n}");
                    }
                    if n < batch {
                        assert!(len(n + 1) > limit, "{largest} {limit} {batch}: {n}");
                    }
                }
            }
        }
    }

    /// The body text is `Display`'s, byte for byte, for whatever a transform may return without
    /// a float, and JavaScript's text of each float (tester #49: `1e20` was sent where jsonata-js
    /// sends `100000000000000000000`).
    #[test]
    fn json_text_is_the_display_text_with_javascripts_numbers() {
        let big: Value = serde_json::from_str("123456789012345678901234567890").unwrap();
        for v in [
            json!(null),
            json!({}),
            json!([]),
            json!({"caseNumber": "INT-1", "u": u64::MAX, "i": i64::MIN}),
            json!({"esc": "quote \" back \\ nl \n tab \t nul \u{0} del \u{7f} é 😀 \u{2028}"}),
            json!([[[{"a": [1, 2, true, null, "x"]}]], {"z": 1, "a": 2}]),
        ] {
            assert_eq!(json_text(&v), v.to_string());
        }
        let floats = json!({"n": -0.0, "f": 1.5e300, "t": 0.1, "e": 1e20, "m": 0.000001, "b": big});
        assert_eq!(
            json_text(&floats),
            r#"{"n":0,"f":1.5e+300,"t":0.1,"e":100000000000000000000,"m":0.000001,"b":1.2345678901234568e+29}"#
        );
    }

    fn machine() -> Machine<ChaCha8Rng> {
        machine_with(|_| {})
    }

    fn machine_with(change: impl FnOnce(&mut Config)) -> Machine<ChaCha8Rng> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
        let spec = crate::spec::load(&path, &Default::default()).spec.unwrap();
        let hub = HubSettings {
            jitter: Some(Jitter::None),
            ..HubSettings::default()
        };
        let mut cfg = Config::from_spec(&spec.raw, hub).unwrap();
        change(&mut cfg);
        Machine::new(cfg, ChaCha8Rng::seed_from_u64(1))
    }

    fn submit(m: &mut Machine<ChaCha8Rng>, now: Time, seq: u64) {
        let event = json!({"interaction": {"id": seq}, "event": {"type": "interaction.ended"}});
        let key = m.config().idempotency.render(&event);
        submit_with_key(m, now, seq, key.map_err(|e| e.to_string()));
    }

    /// Submits event `e{seq}` with `key` as its idempotency key, whatever the template renders.
    fn submit_with_key(
        m: &mut Machine<ChaCha8Rng>,
        now: Time,
        seq: u64,
        key: Result<String, String>,
    ) {
        m.handle_submit(
            now,
            Submission::example(seq, json!({"caseNumber": seq.to_string()}), key),
        );
    }

    fn next_crm(m: &mut Machine<ChaCha8Rng>) -> CrmRequest {
        loop {
            match m.poll_transmit().expect("a transmit") {
                Transmit::Crm(r) => return r,
                Transmit::Token { id } => m.handle_token(
                    0,
                    id,
                    TokenResult::Granted {
                        access_token: format!("t{id}"),
                        expires_in: Some(3600),
                    },
                ),
                Transmit::Alert { .. } => {}
            }
        }
    }

    fn respond(status: u16) -> Response {
        Response {
            status,
            retry_after: None,
            body: String::new(),
        }
    }

    /// A queued event holds its events' handles, the payload (mostly as differences from an
    /// earlier one) and the key: sizes that a burst of a million events multiplies.
    #[test]
    fn a_queued_job_not_yet_tried_is_its_event_alone() {
        assert!(
            std::mem::size_of::<Job>() <= 144,
            "{}",
            std::mem::size_of::<Job>()
        );
        assert!(std::mem::size_of::<Body>() <= 32);
        assert!(std::mem::size_of::<Option<Box<Tries>>>() == 8);
    }

    /// Payloads held against an earlier one of their rule are sent, resent and dead-lettered
    /// byte for byte as submitted, lone or batched.
    #[test]
    fn every_attempt_sends_the_payload_text_as_submitted() {
        for batch in [1, 3] {
            let mut m = machine_with(|cfg| {
                cfg.batch_size = batch;
                cfg.max_retries = 1;
            });
            let payload = |seq: u64| json!({"caseNumber": format!("INT-{seq:05}"), "note": "the same long text every event carries", "n": seq * 7919, "at": format!("2025-06-30T21:15:{:02}.125+02:00", seq % 60)});
            for seq in 0..12u64 {
                let mut sub = Submission::example(seq, payload(seq), Ok(format!("k{seq}")));
                sub.id.source = (seq % 2) as u32;
                m.handle_submit(0, sub);
            }
            let (dead, requests) = run_answering(&mut m, |_| Ok(503));
            let mut sent: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            for r in &requests {
                sent.entry(r.seqs[0]).or_default().push(r.body.to_string());
            }
            for (first, bodies) in &sent {
                let members: Vec<String> = (*first..(*first + batch as u64).min(12))
                    .map(|s| json_text(&payload(s)))
                    .collect();
                let want = if batch > 1 {
                    batch_body(&members.iter().map(String::as_str).collect::<Vec<_>>())
                } else {
                    members[0].clone()
                };
                assert_eq!(bodies, &vec![want; 2], "batch {batch}, from {first}");
            }
            assert_eq!(dead.len(), 12);
            for d in dead {
                assert_eq!(d.payload, Some(payload(d.id.seq)));
                assert_eq!(d.last_body.as_deref(), Some(""));
            }
        }
    }

    /// Runs `m` to the end, answering every CRM request with `answer(attempt)`; the dead
    /// letters and every request sent.
    fn run_answering(
        m: &mut Machine<ChaCha8Rng>,
        answer: impl Fn(u32) -> Result<u16, Failure>,
    ) -> (Vec<DeadLettered>, Vec<CrmRequest>) {
        let (mut now, mut dead, mut sent) = (0, Vec::new(), Vec::new());
        loop {
            while let Some(t) = m.poll_transmit() {
                match t {
                    Transmit::Crm(r) => {
                        match answer(r.attempt) {
                            Ok(status) => m.handle_response(now, r.id, respond(status)),
                            Err(Failure::Timeout) => {}
                            Err(f) => m.handle_failure(now, r.id, f),
                        }
                        sent.push(r);
                    }
                    Transmit::Token { id } => m.handle_token(
                        now,
                        id,
                        TokenResult::Granted {
                            access_token: "t".into(),
                            expires_in: Some(3600),
                        },
                    ),
                    Transmit::Alert(_) => {}
                }
            }
            while let Some(o) = m.poll_output() {
                if let Output::DeadLettered(d) = o {
                    dead.push(*d);
                }
            }
            match m.poll_timeout() {
                Some(t) => {
                    now = t;
                    m.handle_timeout(now);
                }
                None => return (dead, sent),
            }
        }
    }

    /// #211: a batched dead letter names its batch: the key the CRM saw (the members' joined),
    /// its place and the batch's size, and whether the CRM may have written it: after a
    /// timeout, a reset or a 5xx it may; after 4xx refusals alone, or a connection refused, it
    /// did not.
    #[test]
    fn a_batched_dead_letter_names_its_batch_and_whether_the_crm_may_hold_it() {
        type Answer = fn(u32) -> Result<u16, Failure>;
        let cases: [(&str, Answer, bool); 6] = [
            ("503", |_| Ok(503), true),
            ("timeout", |_| Err(Failure::Timeout), true),
            (
                "reset then 429",
                |a| if a == 1 { Err(Failure::Reset) } else { Ok(429) },
                true,
            ),
            ("413", |_| Ok(413), false),
            (
                "429 then 400",
                |a| if a == 1 { Ok(429) } else { Ok(400) },
                false,
            ),
            ("refused", |_| Err(Failure::Refused), false),
        ];
        for (name, answer, maybe) in cases {
            let mut m = machine_with(|cfg| {
                cfg.batch_size = 3;
                cfg.max_retries = 1;
            });
            for seq in 0..3 {
                submit(&mut m, 0, seq);
            }
            let (dead, sent) = run_answering(&mut m, answer);
            let key = "0_interaction.ended,1_interaction.ended,2_interaction.ended";
            assert!(sent.iter().all(|r| r.idempotency.1 == key), "{name}");
            assert_eq!(dead.len(), 3, "{name}");
            for (i, d) in dead.iter().enumerate() {
                let b = d.batch.as_ref().expect("a batch");
                assert_eq!(
                    (&*b.key, b.index, b.size, b.maybe_applied),
                    (key, i as u32, 3, maybe),
                    "{name}"
                );
                assert_eq!(
                    d.idempotency_key.as_deref(),
                    Some(format!("{i}_interaction.ended").as_str()),
                    "{name}: the record keeps the event's own key too"
                );
            }
        }
        // An event sent alone names no batch.
        let mut m = machine();
        submit(&mut m, 0, 0);
        let (dead, _) = run_answering(&mut m, |_| Ok(503));
        assert_eq!(dead[0].batch, None);
    }

    /// #211: a batch handed in whole goes as one request, whatever `batchSize` says: its
    /// payloads in their order as `batch_body` writes them, the key handed in on every attempt;
    /// one member refused (here the size guard) refuses them all, unsent.
    #[test]
    fn a_batch_handed_in_whole_is_one_request_with_its_key() {
        let sub = |seq: u64, note: &str| {
            Submission::example(
                seq,
                json!({"caseNumber": seq.to_string(), "note": note}),
                Ok(format!("own-{seq}")),
            )
        };
        let mut m = machine_with(|cfg| {
            cfg.batch_size = 1;
            cfg.max_retries = 1;
            cfg.max_payload_bytes = Some(64);
        });
        m.handle_submit_batch(0, vec![sub(4, "b"), sub(2, "a")], "own-4,own-2".into());
        let (dead, sent) = run_answering(&mut m, |_| Ok(503));
        assert_eq!(sent.len(), 2, "one request, retried once");
        for r in &sent {
            assert_eq!(r.idempotency.1, "own-4,own-2");
            assert_eq!(r.seqs, vec![4, 2]);
            assert_eq!(
                &*r.body,
                batch_body(&[
                    r#"{"caseNumber":"4","note":"b"}"#,
                    r#"{"caseNumber":"2","note":"a"}"#
                ])
            );
        }
        assert_eq!(dead.len(), 2);
        let mut m = machine_with(|cfg| cfg.max_payload_bytes = Some(64));
        let long = "x".repeat(80);
        m.handle_submit_batch(0, vec![sub(1, "a"), sub(2, &long)], "own-1,own-2".into());
        let (dead, sent) = run_answering(&mut m, |_| Ok(201));
        assert!(sent.is_empty());
        let reasons: Vec<(u64, Reason, u32)> = dead
            .iter()
            .map(|d| (d.id.seq, d.reason, d.attempts))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (1, Reason::PayloadTooLarge, 0),
                (2, Reason::PayloadTooLarge, 0)
            ]
        );
        assert!(dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("another event of its batch"));
    }

    #[test]
    fn the_first_send_fetches_a_token_and_carries_bearer_and_idempotency_key() {
        let mut m = machine();
        submit(&mut m, 0, 0);
        let r = next_crm(&mut m);
        assert_eq!(
            r.idempotency,
            ("X-Idempotency-Key".into(), "0_interaction.ended".into())
        );
        assert!(r.bearer.is_some());
        assert_eq!(r.attempt, 1);
    }

    #[test]
    fn a_key_with_a_control_character_is_dead_lettered_unsent_with_its_reason() {
        // #131: a header cannot carry a newline, so such a key is refused here, in virtual time,
        // over HTTP and in replay alike, never sent without its header.
        for key in ["a\nb", "a\r", "\u{7f}x", "a\u{0}"] {
            let mut m = machine();
            submit_with_key(&mut m, 0, 1, Ok(key.into()));
            assert!(
                !matches!(m.poll_transmit(), Some(Transmit::Crm(_))),
                "{key:?}"
            );
            match m.poll_output() {
                Some(Output::DeadLettered(d)) => {
                    assert_eq!(d.reason, Reason::IdempotencyKeyUnresolved, "{key:?}");
                    assert!(
                        d.last_error
                            .as_deref()
                            .is_some_and(|e| e.contains("control character")),
                        "{d:?}"
                    );
                }
                _ => panic!("{key:?} was not dead-lettered"),
            }
        }
        // #149: nor can it carry non-ASCII text as it is; a server would read another key.
        for key in ["INT-1/Zoë Åström", "k-李小龍", "k-🐉", " k"] {
            let mut m = machine();
            submit_with_key(&mut m, 0, 1, Ok(key.into()));
            assert!(
                !matches!(m.poll_transmit(), Some(Transmit::Crm(_))),
                "{key:?}"
            );
            match m.poll_output() {
                Some(Output::DeadLettered(d)) => {
                    assert_eq!(d.reason, Reason::IdempotencyKeyUnresolved, "{key:?}");
                    assert_eq!(d.attempts, 0, "{key:?}");
                    assert_eq!(d.idempotency_key, None, "{key:?}");
                }
                _ => panic!("{key:?} was not dead-lettered"),
            }
        }
        // A tab inside the key is header-safe and is sent.
        let mut m = machine();
        submit_with_key(&mut m, 0, 2, Ok("u\tk".into()));
        assert_eq!(next_crm(&mut m).idempotency.1, "u\tk");
    }

    #[test]
    fn a_pre_rendered_key_is_sent_on_every_attempt_instead_of_the_template() {
        let mut m = machine();
        // Whatever the template would render, the key given is the one sent.
        submit_with_key(&mut m, 0, 7, Ok("orig-key".into()));
        let first = next_crm(&mut m);
        m.handle_response(0, first.id, respond(503));
        let at = m.poll_timeout().expect("a retry timer");
        m.handle_timeout(at);
        let second = next_crm(&mut m);
        for r in [&first, &second] {
            assert_eq!(r.idempotency.1, "orig-key");
        }
        m.handle_response(at, second.id, respond(201));
        match m.poll_output() {
            Some(Output::Delivered(d)) => assert_eq!((d.id.seq, d.status), (7, Some(201))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_401s_refresh_twice_then_dead_letter_as_auth_failed() {
        let mut m = machine();
        submit(&mut m, 0, 0);
        for _ in 0..3 {
            let r = next_crm(&mut m);
            m.handle_response(0, r.id, respond(401));
        }
        match m.poll_output() {
            Some(Output::DeadLettered(d)) => {
                assert_eq!(d.reason, Reason::AuthFailed);
                // Three 401s: two answered by a resend with a new token, the third dead-letters.
                assert_eq!((d.attempts, d.token_refreshes), (3, 2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.stats().token_requests, 3);
    }

    #[test]
    fn a_failing_token_endpoint_is_tried_max_retries_plus_one_times_like_a_crm_request() {
        let mut m = machine();
        let max = m.config().max_retries;
        submit(&mut m, 0, 0);
        let mut now = 0;
        let mut requests = 0;
        let dead = loop {
            while let Some(t) = m.poll_transmit() {
                if let Transmit::Token { id } = t {
                    requests += 1;
                    m.handle_token(
                        now,
                        id,
                        TokenResult::Refused {
                            status: 503,
                            error: "temporarily_unavailable".into(),
                        },
                    );
                }
            }
            if let Some(Output::DeadLettered(d)) = m.poll_output() {
                break d;
            }
            now = m.poll_timeout().expect("a token retry is scheduled");
            m.handle_timeout(now);
        };
        assert_eq!(dead.reason, Reason::TokenRequestFailed);
        assert_eq!(
            requests,
            max + 1,
            "maxRetries {max} retries after the first request"
        );
        assert_eq!(dead.attempts, 0, "waiting for a token spends no attempts");
        assert!(dead.last_error.as_deref().unwrap().contains("503"));
    }

    #[test]
    fn a_retry_due_past_the_deadline_is_dead_lettered_at_once_not_sent_late() {
        // Deadline 45 s, backoff 2 s, 4 s, 8 s, 16 s, 32 s (no jitter), maxRetries 5.
        let mut m = machine_with(|cfg| {
            cfg.delivery_deadline = Some(45_000);
        });
        submit(&mut m, 0, 0);
        let mut now = 0;
        let mut sent = Vec::new();
        let dead = loop {
            while let Some(t) = m.poll_transmit() {
                match t {
                    Transmit::Crm(r) => {
                        sent.push(now);
                        m.handle_response(now, r.id, respond(503));
                    }
                    Transmit::Token { id } => m.handle_token(
                        now,
                        id,
                        TokenResult::Granted {
                            access_token: "t".into(),
                            expires_in: Some(3600),
                        },
                    ),
                    Transmit::Alert { .. } => {}
                }
            }
            if let Some(Output::DeadLettered(d)) = m.poll_output() {
                break d;
            }
            now = m
                .poll_timeout()
                .expect("a timer while the event is pending");
            m.handle_timeout(now);
        };
        // Attempts at 0, 2, 6, 14 and 30 s; the next would start at 62 s, past the deadline,
        // so the event goes to the DLQ at 30 s rather than waiting to be sent late.
        assert_eq!(sent, vec![0, 2_000, 6_000, 14_000, 30_000]);
        assert_eq!(
            (dead.reason, dead.attempts, dead.at),
            (Reason::DeadlineExceeded, 5, 30_000)
        );
    }

    #[test]
    fn a_timeout_is_detected_by_the_machine_and_a_late_response_ignored() {
        let mut m = machine();
        submit(&mut m, 0, 0);
        let r = next_crm(&mut m);
        assert_eq!(m.poll_timeout(), Some(3_000));
        m.handle_timeout(3_000);
        m.handle_response(3_500, r.id, respond(201));
        assert!(m.poll_output().is_none(), "the late 201 does not deliver");
        m.handle_timeout(5_000);
        let again = next_crm(&mut m);
        assert_eq!(again.attempt, 2);
        assert_eq!(again.idempotency, r.idempotency);
    }
    /// #116: an alert window with nothing in it holds no timer, so a machine with nothing left to
    /// do has no deadline (a wall-clock run waited 60 s for it); alerts go when they went before:
    /// at the first dead letter, at the end of a window that collected some, and at the first
    /// dead letter after a quiet window; and the last one of a run goes when the run is over.
    #[test]
    fn an_alert_window_without_dead_letters_leaves_no_timer() {
        let mut m = machine();
        let alerts = |m: &mut Machine<ChaCha8Rng>| {
            let mut n = 0;
            while let Some(t) = m.poll_transmit() {
                if let Transmit::Alert(a) = t {
                    n += a.count;
                }
            }
            while m.poll_output().is_some() {}
            n
        };
        // An event submitted at `at`, whose first send is the token request this returns.
        let token_request = |m: &mut Machine<ChaCha8Rng>, at: Time, seq: u64| {
            submit(m, at, seq);
            let Some(Transmit::Token { id }) = m.poll_transmit() else {
                panic!("a token request first")
            };
            id
        };
        // The token endpoint refuses the client: the waiting event is dead-lettered at once.
        let id = token_request(&mut m, 0, 0);
        let refused = TokenResult::Refused {
            status: 401,
            error: "invalid_client".into(),
        };
        m.handle_token(0, id, refused.clone());
        assert_eq!(m.poll_timeout(), Some(0), "the alert of this instant");
        m.handle_timeout(0);
        assert_eq!(alerts(&mut m), 1);
        assert!(m.is_idle());
        assert_eq!(m.poll_timeout(), None, "a quiet window holds no timer");
        // A dead letter inside the window waits for its end (60 s)...
        let id = token_request(&mut m, 10_000, 1);
        m.handle_token(10_000, id, refused.clone());
        assert_eq!(m.poll_timeout(), Some(60_000));
        m.handle_timeout(59_999);
        assert_eq!(alerts(&mut m), 0);
        m.handle_timeout(60_000);
        assert_eq!(alerts(&mut m), 1);
        assert_eq!(m.poll_timeout(), None);
        // ...and one after a quiet window alerts at once.
        let id = token_request(&mut m, 200_000, 2);
        m.handle_token(200_000, id, refused.clone());
        assert_eq!(m.poll_timeout(), Some(200_000));
        m.handle_timeout(200_000);
        assert_eq!(alerts(&mut m), 1);
        assert_eq!(m.poll_timeout(), None);
        // The last event of a run is dead-lettered inside a window: with nothing left to arrive
        // or do, its alert goes at once instead of at 260 s.
        let id = token_request(&mut m, 230_000, 3);
        m.handle_arrivals_done(230_000);
        m.handle_token(231_000, id, refused);
        assert_eq!(m.poll_timeout(), Some(231_000));
        m.handle_timeout(231_000);
        assert_eq!(alerts(&mut m), 1);
        assert_eq!(m.poll_timeout(), None);
    }

    /// #216: a dead letter records the last answer's Retry-After and whether a retry fired
    /// sooner than it (the policy ignoring the header); respecting it, none did.
    #[test]
    fn a_dead_letter_records_the_retry_after_its_retries_ignored() {
        for respect in [false, true] {
            let mut m = machine_with(|cfg| {
                cfg.max_retries = 2;
                cfg.respect_retry_after = respect;
            });
            submit(&mut m, 0, 1);
            let mut now = 0;
            let dead = loop {
                let r = next_crm(&mut m);
                let mut resp = respond(429);
                resp.retry_after = Some("600".into());
                m.handle_response(now, r.id, resp);
                if let Some(Output::DeadLettered(d)) = m.poll_output() {
                    break d;
                }
                now = m.poll_timeout().expect("a retry");
                m.handle_timeout(now);
            };
            assert_eq!(dead.reason, Reason::RetriesExhausted);
            assert_eq!(dead.last_retry_after, Some(600_000));
            assert_eq!(dead.retry_after_ignored, !respect, "respect {respect}");
            if respect {
                assert!(dead.last_attempt >= 1_200_000, "{}", dead.last_attempt);
            }
        }
    }
}
