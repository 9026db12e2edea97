//! The delivery state machine: the guide's channel and retry semantics, sans-IO.
//!
//! Like quinn-proto, the machine contains no networking code and never reads a clock or an
//! entropy source. The driver feeds it inputs stamped with `now` (`handle_submit`,
//! `handle_response`, `handle_failure`, `handle_token`, `handle_timeout`) and drains its outputs
//! (`poll_transmit` for requests to send, `poll_output` for delivered and dead-lettered events,
//! `poll_timeout` for the next deadline). The virtual-time engine in [`crate::sim::engine`] and
//! the real HTTP driver both drive this one machine, so there is exactly one copy of the retry
//! logic. Randomness (jitter) comes from an RNG handed in at construction.
//!
//! Time is milliseconds since the run's epoch ([`Time`]); `Config::epoch` maps it to wall-clock
//! time for `Retry-After` dates and DLQ record timestamps.

pub mod backoff;
pub mod classify;
pub mod idempotency;
pub mod retry_after;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use rand_core::Rng;
use serde_json::Value;

use crate::dlq::record::{Reason, Record};
use crate::spec::model::{Auth, Jitter, RawSpec};
pub use backoff::Backoff;
pub use classify::{Decision, Policy};
pub use idempotency::{Template, TemplateError};

/// Milliseconds since the run's epoch.
pub type Time = u64;

/// Bodies kept in DLQ records are cut to this many bytes.
pub const MAX_RECORD_BODY: usize = 4096;

/// How the machine authenticates its requests.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMode {
    /// No `Authorization` header.
    None,
    /// A static bearer token (the spec's reference; the driver resolves it).
    Bearer(String),
    /// OAuth2 client credentials with a token cache.
    OAuth {
        /// `tokenCacheTtlSeconds`, in ms.
        cache_ttl: u64,
        /// `retryOnTokenExpiry`.
        refresh_on_401: bool,
    },
}

/// Settings that are not in the spec: they describe the Event Hub's runtime, not the channel.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The wall-clock instant of `Time` 0.
    pub epoch: SystemTime,
    /// Overrides the spec's jitter mode (`--no-jitter`).
    pub jitter: Option<Jitter>,
    /// A token is dropped this long before its `expires_in` runs out.
    pub token_skew: Duration,
    /// Token refreshes one event may cause (401 → refresh → resend) before it dead-letters.
    pub max_token_refreshes: u32,
    /// DLQ alerts are coalesced into one webhook call per window.
    pub alert_window: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            concurrency: 32,
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200),
            jitter: None,
            token_skew: Duration::from_secs(30),
            max_token_refreshes: 2,
            alert_window: Duration::from_secs(60),
        }
    }
}

/// Everything the machine needs to know, resolved from a spec once.
#[derive(Debug, Clone)]
pub struct Config {
    pub channel: String,
    pub auth: AuthMode,
    pub timeout: u64,
    pub batch_size: usize,
    pub batch_interval: u64,
    pub max_retries: u32,
    pub backoff: Backoff,
    pub respect_retry_after: bool,
    pub policy: Policy,
    /// `(failureThreshold, openSeconds in ms)`.
    pub breaker: Option<(u32, u64)>,
    pub idempotency_header: String,
    pub idempotency: Template,
    pub max_payload_bytes: Option<u64>,
    pub delivery_deadline: Option<u64>,
    pub dlq_enabled: bool,
    pub alert_endpoint: Option<String>,
    pub hub: HubSettings,
}

/// A spec the machine cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("idempotency.key: {0}")]
    Template(TemplateError),
}

impl Config {
    /// Resolves a spec's channel, retry policy, idempotency and DLQ into machine settings.
    pub fn from_spec(raw: &RawSpec, hub: HubSettings) -> Result<Config, ConfigError> {
        let r = &raw.retry;
        let auth = match &raw.channel.auth {
            Auth::OAuth2ClientCredentials {
                token_cache_ttl_seconds,
                retry_on_token_expiry,
                ..
            } => AuthMode::OAuth {
                cache_ttl: token_cache_ttl_seconds.saturating_mul(1000),
                refresh_on_401: *retry_on_token_expiry,
            },
            Auth::Bearer { token } => AuthMode::Bearer(token.clone()),
            Auth::None {} => AuthMode::None,
        };
        let refresh_on_401 = matches!(
            auth,
            AuthMode::OAuth {
                refresh_on_401: true,
                ..
            }
        );
        Ok(Config {
            channel: raw.channel.name.clone(),
            auth,
            timeout: raw.channel.timeout_milliseconds,
            batch_size: raw.channel.batch_size.max(1) as usize,
            batch_interval: u64::from(raw.channel.batch_interval_seconds) * 1000,
            max_retries: r.max_retries,
            backoff: Backoff {
                initial: r.initial_delay_seconds,
                max: r.max_delay_seconds,
                multiplier: r.backoff_multiplier,
                jitter: hub.jitter.unwrap_or(r.jitter),
            },
            respect_retry_after: r.respect_retry_after_header,
            policy: Policy {
                retryable: r.retryable_status_codes.clone(),
                non_retryable: r.non_retryable_status_codes.clone(),
                refresh_on_401,
            },
            breaker: r
                .circuit_breaker
                .as_ref()
                .map(|b| (b.failure_threshold.max(1), backoff::to_ms(b.open_seconds))),
            idempotency_header: raw.idempotency.header.clone(),
            idempotency: Template::parse(&raw.idempotency.key).map_err(ConfigError::Template)?,
            max_payload_bytes: raw.crm.max_payload_bytes,
            delivery_deadline: raw.crm.delivery_deadline_seconds.map(|s| s * 1000),
            dlq_enabled: raw.dead_letter_queue.enabled,
            alert_endpoint: raw.dead_letter_queue.alert_endpoint.clone(),
            hub,
        })
    }
}

/// One event a rule matched, with its transform result.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Dense sequence number the driver assigned (used to correlate side effects).
    pub seq: u64,
    pub event_id: String,
    pub event_type: String,
    pub rule_id: String,
    pub event: Value,
    /// The transform's output, or its error message.
    pub payload: Result<Value, String>,
    /// A key rendered earlier, sent instead of rendering the template (`dlq replay` resends a
    /// record with its original key, whatever the current template says).
    pub idempotency_key: Option<String>,
}

/// A request to the CRM.
#[derive(Debug, Clone)]
pub struct CrmRequest {
    pub id: u64,
    /// 1-based attempt number of this job (resends after a token refresh count too).
    pub attempt: u32,
    /// `Authorization: Bearer …` value, if any.
    pub bearer: Option<String>,
    /// Idempotency header name and value.
    pub idempotency: (String, String),
    /// The JSON body: one object, or an array when `batchSize > 1`.
    pub body: String,
    pub is_array: bool,
    /// The events in the body (driver-side correlation only; not sent).
    pub seqs: Vec<u64>,
}

/// Something the machine wants sent.
#[derive(Debug, Clone)]
pub enum Transmit {
    Crm(CrmRequest),
    /// A client-credentials token request.
    Token {
        id: u64,
    },
    /// A DLQ alert webhook call (fire and forget).
    Alert {
        body: Value,
    },
}

/// An HTTP response from the CRM.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// The raw `Retry-After` header value, if present.
    pub retry_after: Option<String>,
    pub body: String,
}

/// A request that got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response within the channel's timeout (the machine detects this itself).
    Timeout,
    /// The connection was reset or closed mid-response.
    Reset,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Reset => "connection reset",
        }
    }
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenResult {
    Granted {
        access_token: String,
        expires_in: Option<u64>,
    },
    /// An error response (`invalid_grant`, a 5xx, …).
    Refused { status: u16, error: String },
    /// No response (timeout, reset).
    Failed(Failure),
}

/// An event that reached a final state.
#[derive(Debug, Clone)]
pub enum Output {
    Delivered(Delivered),
    DeadLettered(Box<DeadLettered>),
}

/// An event the CRM accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub seq: u64,
    pub event_id: String,
    pub attempts: u32,
    pub token_refreshes: u32,
    /// The 2xx status the CRM accepted it with.
    pub status: Option<u16>,
    pub submitted: Time,
    pub at: Time,
}

/// An event sent to the DLQ.
#[derive(Debug, Clone)]
pub struct DeadLettered {
    pub seq: u64,
    pub submitted: Time,
    pub at: Time,
    /// False when the DLQ is disabled: the event is then lost.
    pub stored: bool,
    pub record: Record,
}

/// Counters the machine keeps about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub token_requests: u64,
    pub token_failures: u64,
    pub crm_requests: u64,
    pub retries_scheduled: u64,
    pub breaker_opened: u64,
    pub alerts: u64,
}

#[derive(Debug)]
/// An accepted event. The event and payload are kept as compact JSON text, not `Value`s: a
/// backlog of tens of thousands of events (a long 429 storm) then costs a fraction of the
/// memory, and the text is what is sent anyway. DLQ records parse them back.
struct Item {
    seq: u64,
    event_id: String,
    event_type: String,
    rule_id: String,
    event: Box<str>,
    payload: Box<str>,
    key: String,
    submitted: Time,
}

#[derive(Debug)]
struct Job {
    items: Vec<Item>,
    body: String,
    key: String,
    attempts: u32,
    retries: u32,
    refreshes: u32,
    prev_delay: f64,
    first_attempt: Option<Time>,
    last_attempt: Option<Time>,
    last_status: Option<u16>,
    last_body: Option<String>,
    last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Retry(u64),
    RequestTimeout(u64),
    TokenTimeout(u64),
    TokenRetry,
    BatchFlush,
    BreakerProbe,
    AlertFlush,
}

#[derive(Debug)]
struct InFlight {
    job: u64,
    token_gen: u64,
    timer: (Time, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    Closed { failures: u32 },
    Open { until: Time },
    HalfOpen { probe: Option<u64> },
}

#[derive(Debug)]
struct Token {
    value: String,
    valid_until: Time,
    generation: u64,
}

#[derive(Debug, Default)]
struct AlertWindow {
    until: Option<Time>,
    pending: BTreeMap<Reason, u64>,
}

/// The delivery state machine. `R` is the jitter RNG, handed in.
pub struct Machine<R> {
    cfg: Config,
    rng: R,
    next_id: u64,
    timer_seq: u64,
    jobs: BTreeMap<u64, Job>,
    ready: VecDeque<u64>,
    inflight: BTreeMap<u64, InFlight>,
    timers: BTreeMap<(Time, u64), Timer>,
    token: Option<Token>,
    token_gen: u64,
    token_req: Option<(u64, (Time, u64))>,
    token_failures: u32,
    token_retry_at: Option<Time>,
    breaker: Breaker,
    batch: Vec<Item>,
    batch_timer: Option<(Time, u64)>,
    transmits: VecDeque<Transmit>,
    outputs: VecDeque<Output>,
    alert: AlertWindow,
    stats: Stats,
}

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
            token: None,
            token_gen: 0,
            token_req: None,
            token_failures: 0,
            token_retry_at: None,
            breaker: Breaker::Closed { failures: 0 },
            batch: Vec::new(),
            batch_timer: None,
            transmits: VecDeque::new(),
            outputs: VecDeque::new(),
            alert: AlertWindow::default(),
            stats: Stats::default(),
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
        self.jobs.values().map(|j| j.items.len()).sum::<usize>() + self.batch.len()
    }

    /// Nothing queued, in flight or batching (alert timers may remain).
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty()
            && self.batch.is_empty()
            && self.inflight.is_empty()
            && self.token_req.is_none()
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
        let key = match sub.idempotency_key {
            Some(k) => Ok(k),
            None => self.cfg.idempotency.render(&sub.event),
        };
        let payload = match sub.payload {
            Ok(p) => p,
            Err(e) => {
                let key = key.ok();
                return self.reject(
                    now,
                    sub.seq,
                    sub.event_id,
                    sub.event_type,
                    sub.rule_id,
                    sub.event,
                    None,
                    key,
                    Reason::TransformFailed,
                    e,
                );
            }
        };
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                return self.reject(
                    now,
                    sub.seq,
                    sub.event_id,
                    sub.event_type,
                    sub.rule_id,
                    sub.event,
                    Some(payload),
                    None,
                    Reason::IdempotencyKeyUnresolved,
                    e.to_string(),
                );
            }
        };
        let payload_text = payload.to_string();
        if let Some(limit) = self.cfg.max_payload_bytes {
            let size = payload_text.len() as u64;
            if size > limit {
                let msg = format!("payload is {size} bytes; crm.maxPayloadBytes is {limit}");
                return self.reject(
                    now,
                    sub.seq,
                    sub.event_id,
                    sub.event_type,
                    sub.rule_id,
                    sub.event,
                    Some(payload),
                    Some(key),
                    Reason::PayloadTooLarge,
                    msg,
                );
            }
        }
        let item = Item {
            seq: sub.seq,
            event_id: sub.event_id,
            event_type: sub.event_type,
            rule_id: sub.rule_id,
            event: sub.event.to_string().into_boxed_str(),
            payload: payload_text.into_boxed_str(),
            key,
            submitted: now,
        };
        if self.cfg.batch_size <= 1 {
            self.enqueue(vec![item]);
        } else {
            self.batch.push(item);
            if self.batch.len() >= self.cfg.batch_size {
                self.flush_batch();
            } else if self.batch_timer.is_none() {
                let at = now + self.cfg.batch_interval;
                self.batch_timer = Some(self.set_timer(at, Timer::BatchFlush));
            }
        }
        self.pump(now);
    }

    /// A CRM response to request `id`. Responses to unknown (timed-out) requests are ignored.
    pub fn handle_response(&mut self, now: Time, id: u64, resp: Response) {
        let Some(f) = self.inflight.remove(&id) else {
            return;
        };
        self.timers.remove(&f.timer);
        let decision = self.cfg.policy.classify(resp.status);
        self.breaker_observe(now, id, decision);
        if let Some(job) = self.jobs.get_mut(&f.job) {
            job.last_status = Some(resp.status);
            job.last_body = Some(truncate(&resp.body, MAX_RECORD_BODY));
            job.last_error = None;
        }
        match decision {
            Decision::Success => self.deliver(now, f.job),
            Decision::RefreshToken => {
                if self
                    .token
                    .as_ref()
                    .is_some_and(|t| t.generation == f.token_gen)
                {
                    self.token = None;
                }
                let max = self.cfg.hub.max_token_refreshes;
                let over = match self.jobs.get_mut(&f.job) {
                    Some(job) => {
                        job.refreshes += 1;
                        job.refreshes > max
                    }
                    None => false,
                };
                if over {
                    self.dead_letter(now, f.job, Reason::AuthFailed);
                } else {
                    self.ready.push_front(f.job);
                }
            }
            Decision::Retry => self.retry(now, f.job, resp.retry_after.as_deref()),
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
        self.transport_failed(now, id, f.job, failure);
        self.pump(now);
    }

    /// The token endpoint's answer to token request `id`.
    pub fn handle_token(&mut self, now: Time, id: u64, result: TokenResult) {
        match self.token_req {
            Some((rid, timer)) if rid == id => {
                self.timers.remove(&timer);
                self.token_req = None;
            }
            _ => return,
        }
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
                    if self.jobs.contains_key(&job) {
                        self.ready.push_back(job);
                    }
                }
                Timer::RequestTimeout(id) => {
                    if let Some(f) = self.inflight.remove(&id) {
                        self.transport_failed(now, id, f.job, Failure::Timeout);
                    }
                }
                Timer::TokenTimeout(id) => {
                    if self.token_req.map(|(r, _)| r) == Some(id) {
                        self.token_req = None;
                        self.token_result(now, TokenResult::Failed(Failure::Timeout));
                    }
                }
                Timer::TokenRetry => self.token_retry_at = None,
                Timer::BatchFlush => {
                    self.batch_timer = None;
                    self.flush_batch();
                }
                Timer::BreakerProbe => {
                    if let Breaker::Open { .. } = self.breaker {
                        self.breaker = Breaker::HalfOpen { probe: None };
                    }
                }
                Timer::AlertFlush => self.flush_alert(now),
            }
        }
        self.pump(now);
    }

    fn set_timer(&mut self, at: Time, t: Timer) -> (Time, u64) {
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
            self.enqueue(items);
        }
    }

    fn enqueue(&mut self, items: Vec<Item>) {
        let (body, key) = if self.cfg.batch_size > 1 {
            let parts: Vec<&str> = items.iter().map(|i| &*i.payload).collect();
            let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
            (format!("[{}]", parts.join(",")), keys.join(","))
        } else {
            (items[0].payload.to_string(), items[0].key.clone())
        };
        let id = self.next_id();
        self.jobs.insert(
            id,
            Job {
                items,
                body,
                key,
                attempts: 0,
                retries: 0,
                refreshes: 0,
                prev_delay: self.cfg.backoff.initial,
                first_attempt: None,
                last_attempt: None,
                last_status: None,
                last_body: None,
                last_error: None,
            },
        );
        self.ready.push_back(id);
    }

    /// Sends what may be sent now: ready jobs, within the concurrency limit, when the breaker
    /// allows and a token is at hand.
    fn pump(&mut self, now: Time) {
        while !self.ready.is_empty() && self.inflight.len() < self.cfg.hub.concurrency {
            match self.breaker {
                Breaker::Open { until } if now < until => return,
                Breaker::Open { .. } => self.breaker = Breaker::HalfOpen { probe: None },
                Breaker::HalfOpen { probe: Some(_) } => return,
                _ => {}
            }
            let bearer = match &self.cfg.auth {
                AuthMode::None => None,
                AuthMode::Bearer(t) => Some(t.clone()),
                AuthMode::OAuth { .. } => match &self.token {
                    Some(t) if now < t.valid_until => Some(t.value.clone()),
                    _ => {
                        self.token = None;
                        self.request_token(now);
                        return;
                    }
                },
            };
            let job_id = self.ready.pop_front().expect("checked non-empty");
            let req_id = self.next_id();
            let timer = self.set_timer(now + self.cfg.timeout, Timer::RequestTimeout(req_id));
            let token_gen = self.token.as_ref().map_or(0, |t| t.generation);
            let header = self.cfg.idempotency_header.clone();
            let job = self.jobs.get_mut(&job_id).expect("ready jobs exist");
            job.attempts += 1;
            job.first_attempt.get_or_insert(now);
            job.last_attempt = Some(now);
            let req = CrmRequest {
                id: req_id,
                attempt: job.attempts,
                bearer,
                idempotency: (header, job.key.clone()),
                body: job.body.clone(),
                is_array: self.cfg.batch_size > 1,
                seqs: job.items.iter().map(|i| i.seq).collect(),
            };
            self.inflight.insert(
                req_id,
                InFlight {
                    job: job_id,
                    token_gen,
                    timer,
                },
            );
            if let Breaker::HalfOpen { probe: None } = self.breaker {
                self.breaker = Breaker::HalfOpen {
                    probe: Some(req_id),
                };
            }
            self.stats.crm_requests += 1;
            self.transmits.push_back(Transmit::Crm(req));
        }
    }

    fn request_token(&mut self, now: Time) {
        if self.token_req.is_some() || self.token_retry_at.is_some_and(|t| now < t) {
            return;
        }
        let id = self.next_id();
        let timer = self.set_timer(now + self.cfg.timeout, Timer::TokenTimeout(id));
        self.token_req = Some((id, timer));
        self.stats.token_requests += 1;
        self.transmits.push_back(Transmit::Token { id });
    }

    fn token_result(&mut self, now: Time, result: TokenResult) {
        let AuthMode::OAuth { cache_ttl, .. } = self.cfg.auth else {
            return;
        };
        let (error, permanent) = match result {
            TokenResult::Granted {
                access_token,
                expires_in,
            } => {
                let skew = self.cfg.hub.token_skew.as_millis() as u64;
                let life = match expires_in {
                    // A token shorter-lived than the skew is used for half its life.
                    Some(s) => {
                        let ms = s.saturating_mul(1000);
                        if ms > skew {
                            ms - skew
                        } else {
                            ms / 2
                        }
                    }
                    None => cache_ttl,
                };
                self.token_gen += 1;
                self.token = Some(Token {
                    value: access_token,
                    valid_until: now + cache_ttl.min(life).max(1),
                    generation: self.token_gen,
                });
                self.token_failures = 0;
                return;
            }
            TokenResult::Refused { status, error } => (
                format!("token endpoint: {status} {error}"),
                (400..500).contains(&status) && status != 408 && status != 429,
            ),
            TokenResult::Failed(f) => (format!("token endpoint: {}", f.as_str()), false),
        };
        self.stats.token_failures += 1;
        self.token_failures += 1;
        // Credentials the endpoint refuses (invalid_grant, invalid_client) do not heal by
        // waiting; an outage might. Either way the events waiting for a token go to the DLQ
        // once retrying the token request is pointless or exhausted.
        if permanent || self.token_failures > self.cfg.max_retries {
            self.token_failures = 0;
            let waiting: Vec<u64> = self.ready.drain(..).collect();
            for job in waiting {
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.last_error = Some(error.clone());
                    j.last_status = None;
                    j.last_body = None;
                }
                self.dead_letter(now, job, Reason::TokenRequestFailed);
            }
        } else {
            let prev = self.cfg.backoff.initial;
            let d = backoff::to_ms(self.cfg.backoff.delay(
                self.token_failures,
                prev,
                &mut self.rng,
            ));
            self.token_retry_at = Some(now + d);
            self.set_timer(now + d, Timer::TokenRetry);
        }
    }

    fn transport_failed(&mut self, now: Time, id: u64, job: u64, failure: Failure) {
        let decision = self.cfg.policy.classify_transport();
        self.breaker_observe(now, id, decision);
        if let Some(j) = self.jobs.get_mut(&job) {
            j.last_status = None;
            j.last_body = None;
            j.last_error = Some(failure.as_str().to_string());
        }
        match decision {
            Decision::DeadLetter(r) => self.dead_letter(now, job, r),
            _ => self.retry(now, job, None),
        }
    }

    fn breaker_observe(&mut self, now: Time, req: u64, decision: Decision) {
        let Some((threshold, open_ms)) = self.cfg.breaker else {
            return;
        };
        let failed = decision == Decision::Retry;
        self.breaker = match self.breaker {
            Breaker::Closed { failures } if failed => {
                if failures + 1 >= threshold {
                    self.open_breaker(now, open_ms)
                } else {
                    Breaker::Closed {
                        failures: failures + 1,
                    }
                }
            }
            Breaker::Closed { .. } => Breaker::Closed { failures: 0 },
            Breaker::HalfOpen { probe: Some(p) } if p == req => {
                if failed {
                    self.open_breaker(now, open_ms)
                } else {
                    Breaker::Closed { failures: 0 }
                }
            }
            other => other,
        };
    }

    fn open_breaker(&mut self, now: Time, open_ms: u64) -> Breaker {
        self.stats.breaker_opened += 1;
        self.set_timer(now + open_ms, Timer::BreakerProbe);
        Breaker::Open {
            until: now + open_ms,
        }
    }

    fn retry(&mut self, now: Time, job_id: u64, retry_after: Option<&str>) {
        let max = self.cfg.max_retries;
        let respect = self.cfg.respect_retry_after;
        let deadline = self.cfg.delivery_deadline;
        let epoch = self.cfg.hub.epoch;
        let Some(job) = self.jobs.get_mut(&job_id) else {
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
        if respect {
            let wall = epoch + Duration::from_millis(now);
            if let Some(ra) = retry_after.and_then(|v| retry_after::parse(v, wall)) {
                wait = wait.max(ra.as_millis() as u64);
            }
        }
        if let (Some(dl), Some(first)) = (deadline, job.first_attempt) {
            if now + wait > first + dl {
                return self.dead_letter(now, job_id, Reason::DeadlineExceeded);
            }
        }
        self.stats.retries_scheduled += 1;
        self.set_timer(now + wait, Timer::Retry(job_id));
    }

    fn deliver(&mut self, now: Time, job_id: u64) {
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        for item in job.items {
            self.outputs.push_back(Output::Delivered(Delivered {
                seq: item.seq,
                event_id: item.event_id,
                attempts: job.attempts,
                token_refreshes: job.refreshes,
                status: job.last_status,
                submitted: item.submitted,
                at: now,
            }));
        }
    }

    fn dead_letter(&mut self, now: Time, job_id: u64, reason: Reason) {
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        if let Some(pos) = self.ready.iter().position(|j| *j == job_id) {
            self.ready.remove(pos);
        }
        for item in job.items {
            let first = job.first_attempt.unwrap_or(item.submitted);
            let last = job.last_attempt.unwrap_or(item.submitted);
            let record = Record {
                version: 1,
                event_id: item.event_id,
                event_type: item.event_type,
                rule_id: item.rule_id,
                channel: self.cfg.channel.clone(),
                idempotency_key: Some(item.key),
                event: parse_back(&item.event),
                payload: Some(parse_back(&item.payload)),
                reason,
                last_status: job.last_status,
                last_body: job.last_body.clone(),
                last_error: job.last_error.clone(),
                attempts: job.attempts,
                token_refreshes: job.refreshes,
                first_attempt_at: self.rfc3339(first),
                last_attempt_at: self.rfc3339(last),
                dead_lettered_at: self.rfc3339(now),
            };
            self.push_dead_letter(now, item.seq, item.submitted, record);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        now: Time,
        seq: u64,
        event_id: String,
        event_type: String,
        rule_id: String,
        event: Value,
        payload: Option<Value>,
        key: Option<String>,
        reason: Reason,
        error: String,
    ) {
        let at = self.rfc3339(now);
        let record = Record {
            version: 1,
            event_id,
            event_type,
            rule_id,
            channel: self.cfg.channel.clone(),
            idempotency_key: key,
            event,
            payload,
            reason,
            last_status: None,
            last_body: None,
            last_error: Some(error),
            attempts: 0,
            token_refreshes: 0,
            first_attempt_at: at.clone(),
            last_attempt_at: at.clone(),
            dead_lettered_at: at,
        };
        self.push_dead_letter(now, seq, now, record);
        self.pump(now);
    }

    fn push_dead_letter(&mut self, now: Time, seq: u64, submitted: Time, record: Record) {
        if self.cfg.dlq_enabled && self.cfg.alert_endpoint.is_some() {
            *self.alert.pending.entry(record.reason).or_default() += 1;
            if self.alert.until.is_none() {
                self.flush_alert(now);
            }
        }
        self.outputs
            .push_back(Output::DeadLettered(Box::new(DeadLettered {
                seq,
                submitted,
                at: now,
                stored: self.cfg.dlq_enabled,
                record,
            })));
    }

    /// Sends one alert for everything dead-lettered since the last one, then waits a window.
    fn flush_alert(&mut self, now: Time) {
        if self.alert.pending.is_empty() {
            self.alert.until = None;
            return;
        }
        let pending = std::mem::take(&mut self.alert.pending);
        let total: u64 = pending.values().sum();
        let reasons: serde_json::Map<String, Value> = pending
            .iter()
            .map(|(r, n)| (r.as_str().to_string(), Value::from(*n)))
            .collect();
        let body = serde_json::json!({
            "channelId": self.cfg.channel,
            "deadLettered": total,
            "reasons": reasons,
            "at": self.rfc3339(now),
        });
        self.stats.alerts += 1;
        self.transmits.push_back(Transmit::Alert { body });
        let until = now + self.cfg.hub.alert_window.as_millis() as u64;
        self.alert.until = Some(until);
        self.set_timer(until, Timer::AlertFlush);
    }

    fn rfc3339(&self, t: Time) -> String {
        rfc3339(self.cfg.hub.epoch, t)
    }
}

/// RFC 3339 (milliseconds, `Z`) of virtual time `t` after `epoch`.
pub fn rfc3339(epoch: SystemTime, t: Time) -> String {
    let dt: DateTime<Utc> = (epoch + Duration::from_millis(t)).into();
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
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
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;
    use serde_json::json;

    fn machine(breaker: Option<(u32, u64)>) -> Machine<ChaCha8Rng> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
        let spec = crate::spec::load(&path, &Default::default()).spec.unwrap();
        let hub = HubSettings {
            jitter: Some(Jitter::None),
            ..HubSettings::default()
        };
        let mut cfg = Config::from_spec(&spec.raw, hub).unwrap();
        cfg.breaker = breaker;
        Machine::new(cfg, ChaCha8Rng::seed_from_u64(1))
    }

    fn submit(m: &mut Machine<ChaCha8Rng>, now: Time, seq: u64) {
        m.handle_submit(
            now,
            Submission {
                seq,
                event_id: format!("e{seq}"),
                event_type: "interaction.ended".into(),
                rule_id: "r".into(),
                event: json!({"interaction": {"id": seq}, "event": {"type": "interaction.ended"}}),
                payload: Ok(json!({"caseNumber": seq.to_string()})),
                idempotency_key: None,
            },
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

    #[test]
    fn the_first_send_fetches_a_token_and_carries_bearer_and_idempotency_key() {
        let mut m = machine(None);
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
    fn a_pre_rendered_key_is_sent_on_every_attempt_instead_of_the_template() {
        let mut m = machine(None);
        m.handle_submit(
            0,
            Submission {
                seq: 7,
                event_id: "e7".into(),
                event_type: "interaction.ended".into(),
                rule_id: "r".into(),
                // The template's fields are missing: rendering it would dead-letter the event.
                event: json!({}),
                payload: Ok(json!({"caseNumber": "7"})),
                idempotency_key: Some("orig-key".into()),
            },
        );
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
            Some(Output::Delivered(d)) => assert_eq!((d.seq, d.status), (7, Some(201))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_401s_refresh_twice_then_dead_letter_as_auth_failed() {
        let mut m = machine(None);
        submit(&mut m, 0, 0);
        for _ in 0..3 {
            let r = next_crm(&mut m);
            m.handle_response(0, r.id, respond(401));
        }
        match m.poll_output() {
            Some(Output::DeadLettered(d)) => {
                assert_eq!(d.record.reason, Reason::AuthFailed);
                assert_eq!((d.record.attempts, d.record.token_refreshes), (3, 3));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.stats().token_requests, 3);
    }

    #[test]
    fn an_open_breaker_parks_events_without_spending_attempts() {
        let mut m = machine(Some((1, 30_000)));
        submit(&mut m, 0, 0);
        let r = next_crm(&mut m);
        m.handle_response(0, r.id, respond(503));
        submit(&mut m, 1, 1);
        // Open: the new event waits; nothing is sent until the probe at 30 s.
        assert!(m.poll_transmit().is_none());
        assert_eq!(m.poll_timeout(), Some(2_000));
        m.handle_timeout(2_000);
        assert!(m.poll_transmit().is_none(), "the retry parks too");
        m.handle_timeout(30_000);
        let probe = next_crm(&mut m);
        assert!(m.poll_transmit().is_none(), "half-open sends one probe");
        m.handle_response(30_000, probe.id, respond(201));
        let other = next_crm(&mut m);
        // The event that arrived while open probes first, on its first attempt; the retry of
        // the failed one follows on its second: parking spent no attempts.
        assert_eq!((probe.seqs.clone(), probe.attempt), (vec![1], 1));
        assert_eq!((other.seqs.clone(), other.attempt), (vec![0], 2));
    }

    #[test]
    fn a_timeout_is_detected_by_the_machine_and_a_late_response_ignored() {
        let mut m = machine(None);
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
}
