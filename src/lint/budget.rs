//! The retry budget of a spec, asked of the delivery machine itself: how many attempts one event
//! gets and how long it takes to reach the dead-letter queue when the CRM (or its token endpoint)
//! answers every attempt alike. There is no second model of the retry rules here: each figure is
//! a run of [`delivery::Machine`](crate::delivery::Machine), configured from the spec exactly as
//! the simulator configures it, driven by the one virtual-time loop
//! ([`delivery::drive::VirtualTime`]) against a scripted transport.
//!
//! Lint stays pure: time is virtual and the jitter RNG is pinned. Every answer is run twice (the human table calls
//! the two cases "quick CRM" and "slow CRM"; each is one case, not a bound):
//!
//! - **fastest**: the CRM answers at once, without `Retry-After`, and every jitter draw is at its
//!   least (`full`: no wait at all; `equal`: half the backoff; `decorrelated`: the initial delay);
//! - **slowest**: every answer comes 1 ms before `timeoutMilliseconds`, carries `Retry-After` of
//!   `crm.retryAfterHorizonSeconds` (the machine's 24 h cap when the CRM's horizon is not
//!   declared) when the policy respects it, and every jitter draw is at its most.
//!
//! With `jitter: none` (or `--no-jitter`) the two differ only by the CRM's latency and
//! Retry-After. Times are from the event's first attempt to its dead-lettering (the DLQ record's
//! `firstAttemptAt` to `deadLetteredAt`); attempts and token refreshes are the record's.

use std::convert::Infallible;

use serde::Serialize;
use serde_json::{json, Value};

use crate::delivery::drive::{Arrivals, Observer, Reply, Sent, Transport, VirtualTime};
use crate::delivery::retry_after::MAX_RETRY_AFTER;
use crate::delivery::{
    Alert, Config, CrmRequest, Failure, HubSettings, Machine, Output, Reason, Response, Submission,
    SubmissionId, Time, TokenResult,
};
use crate::spec::model::{Auth, Jitter, RawSpec};

/// The budget in words, for `docs/rules.md`.
pub const MODEL: &str = "\
Every figure is a run of the delivery machine itself (the one the simulator and the HTTP \
driver run), configured from the spec, for one event whose every attempt the CRM answers alike: \
each status code from 400 to 599, a timeout, a connection reset, and (with OAuth) the token \
endpoint failing with each code or timing out. Codes with the same figures share a row. Each \
answer runs twice. **fastest**: answers at once, no `Retry-After`, jitter at its least (`full` \
jitter can retry at once). **slowest**: answers 1 ms before `timeoutMilliseconds`, `Retry-After` \
of `crm.retryAfterHorizonSeconds` when `respectRetryAfterHeader` is on (when the horizon is not \
declared: 24 h, the machine's cap, or none for a profile whose CRM sends none, `salesforce` and \
`hubspot`), jitter at its most. The table calls them \
\"quick CRM\" and \"slow CRM\": each is one case, not a bound (a delivery deadline can end the slow one \
first). Time runs from the first attempt to the \
dead-lettering, as in the DLQ record (a batched event's wait for its batch comes before it, and a \
note gives it); the delivery deadline and the token \
refresh allowance apply as they do in `sim`. A `retry.circuitBreaker` changes no figure: it is not \
sent to the hub, which runs none, so neither the machine nor `sim` does (CX038). \
`--no-jitter` runs both with `jitter: none`, the figures `sim --no-jitter` gives. \
`--format json` prints `{\"version\": 1, \"budgets\": [{\"file\", \"jitter\", \"timeoutMs\", \
\"slowestRetryAfterSeconds\", \"rows\": [{\"answer\", \"kind\" (status, timeout, reset, \
tokenEndpoint, tokenTimeout), \"codes\", \"fastest\", \"slowest\", \"notes\"}], \"notes\"}]}`, where `fastest` and `slowest` are `{\"attempts\", \"tokenRefreshes\", \"tokenRequests\", \"ms\", \"reason\"}`.";

/// How the CRM (or its token endpoint) answers every attempt of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    /// Every CRM request gets this HTTP status.
    Status(u16),
    /// No CRM request gets an answer: the machine's timer decides.
    Timeout,
    /// Every CRM request's connection resets.
    Reset,
    /// The token endpoint answers this HTTP status (OAuth only).
    TokenStatus(u16),
    /// The token endpoint never answers (OAuth only).
    TokenTimeout,
}

/// The two schedules every answer is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Fastest,
    Slowest,
}

/// Options of a budget run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Force `jitter: none` (`--no-jitter`, as `sim --no-jitter`).
    pub no_jitter: bool,
}

/// What the machine did with one probed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    /// CRM attempts (the DLQ record's `attempts`).
    pub attempts: u32,
    /// Resends with a new token after a 401 (the DLQ record's `tokenRefreshes`).
    pub token_refreshes: u32,
    /// Requests to the token endpoint, the first one included.
    pub token_requests: u32,
    /// From the first attempt (or, with none, the submission) to the dead-lettering, in ms.
    pub ms: Time,
    /// Why it was dead-lettered; `None` when the CRM's answer delivered it.
    #[serde(serialize_with = "reason_str")]
    pub reason: Option<Reason>,
}

fn reason_str<S: serde::Serializer>(r: &Option<Reason>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.serialize_str(r.as_str()),
        None => s.serialize_str("DELIVERED"),
    }
}

/// Why a spec has no budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    #[error("the delivery machine cannot run this spec: {0}")]
    Config(String),
    #[error("the probe `{0:?}` did not settle within the step bound")]
    Unsettled(Answer),
}

/// A jitter RNG pinned to one draw: `0` makes every jitter its least, `u64::MAX` its most.
struct Pinned(u64);

impl rand_core::TryRng for Pinned {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0 as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(self.0 as u8);
        Ok(())
    }
}

/// The CRM and token endpoint as a script: one answer, one latency, for every request.
struct Script {
    answer: Answer,
    latency: Time,
    timeout: Time,
    retry_after: Option<String>,
    expires_in: Option<u64>,
}

impl Script {
    fn after<T>(&self, answer: T) -> Sent<T> {
        if self.latency < self.timeout {
            Sent::Answered {
                latency: self.latency,
                answer,
            }
        } else {
            Sent::Unanswered
        }
    }
}

impl Transport for Script {
    fn send_crm(&mut self, _now: Time, _req: CrmRequest, _obs: &mut dyn Observer) -> Sent<Reply> {
        let status = match self.answer {
            Answer::Status(s) => s,
            Answer::Timeout => return Sent::Unanswered,
            Answer::Reset => {
                return self.after(Reply::Reset {
                    latency: self.latency,
                    failure: Failure::Reset,
                })
            }
            // A CRM request only goes out once a token has come: it cannot happen while the
            // token endpoint fails, but it is answered like a healthy CRM would be.
            Answer::TokenStatus(_) | Answer::TokenTimeout => 201,
        };
        self.after(Reply::Http {
            latency: self.latency,
            response: Response {
                status,
                retry_after: self.retry_after.clone(),
                body: String::new(),
            },
        })
    }

    fn send_token(&mut self, _now: Time, id: u64) -> Sent<TokenResult> {
        match self.answer {
            Answer::TokenStatus(status) => self.after(TokenResult::Refused {
                status,
                error: "scripted".into(),
            }),
            Answer::TokenTimeout => Sent::Unanswered,
            _ => self.after(TokenResult::Granted {
                access_token: format!("budget-{id}"),
                expires_in: self.expires_in,
            }),
        }
    }

    fn send_alert(&mut self, _alert: &Alert) {}
}

/// One probed event, submitted at its time.
struct OneEvent {
    sub: Option<Submission>,
    at: Time,
}

impl<R: rand_core::Rng> Arrivals<R> for OneEvent {
    fn next_at(&self) -> Option<Time> {
        self.sub.as_ref().map(|_| self.at)
    }
    fn arrive(&mut self, now: Time, machine: &mut Machine<R>, obs: &mut dyn Observer) {
        if let Some(sub) = self.sub.take() {
            obs.submitted(
                sub.id.seq,
                &sub.id.event_id,
                sub.idempotency_key.as_deref().ok(),
            );
            machine.handle_submit(now, sub);
        }
    }
}

/// Steps the loop until the event has settled.
fn settle<R: rand_core::Rng>(
    vt: &mut VirtualTime<R>,
    event: &mut OneEvent,
    script: &mut Script,
    out: &mut Outcome,
    answer: Answer,
) -> Result<(), BudgetError> {
    while out.settled.is_none() {
        match vt.step(event, script, out) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err(BudgetError::Unsettled(answer)),
        }
    }
    Ok(())
}

/// Keeps the event's final state and counts the token requests.
#[derive(Default)]
struct Outcome {
    settled: Option<Output>,
    token_requests: u32,
}

impl Observer for Outcome {
    fn token_requested(&mut self, _now: Time) {
        self.token_requests += 1;
    }
    fn settled(&mut self, output: &Output) {
        if self.settled.is_none() {
            self.settled = Some(output.clone());
        }
    }
}

/// A spec's machine configuration and the facts the script needs, resolved once.
pub struct Prober {
    cfg: Config,
    horizon: Option<u64>,
    expires_in: Option<u64>,
    /// The profile's name when its CRM sends no `Retry-After` (Salesforce, HubSpot).
    sends_no_retry_after: Option<&'static str>,
}

impl Prober {
    /// The machine configuration `sim` would use for `raw` (with `--no-jitter` when asked).
    pub fn new(raw: &RawSpec, opts: Options) -> Result<Prober, BudgetError> {
        let hub = HubSettings {
            jitter: opts.no_jitter.then_some(Jitter::None),
            ..HubSettings::default()
        };
        let cfg = Config::from_spec(raw, hub).map_err(|e| BudgetError::Config(e.to_string()))?;
        let profile = crate::crm::profile(raw.crm.profile);
        Ok(Prober {
            cfg,
            horizon: raw.crm.retry_after_horizon_seconds,
            expires_in: crate::crm::token_expires_in(raw, &profile, None),
            sends_no_retry_after: (!profile.throttle.retry_after).then_some(profile.name),
        })
    }

    /// The jitter mode the machine runs with.
    pub fn jitter(&self) -> Jitter {
        self.cfg.backoff.jitter
    }

    /// The `Retry-After` the slowest schedule answers with, in seconds: the CRM's declared
    /// horizon, else the machine's 24 h cap; `None` when the policy ignores the header, or when
    /// no horizon is declared and the profile's CRM sends none.
    pub fn slowest_retry_after(&self) -> Option<u64> {
        if !self.cfg.respect_retry_after {
            return None;
        }
        match (self.horizon, self.sends_no_retry_after) {
            (Some(h), _) => Some(h),
            (None, Some(_)) => None,
            (None, None) => Some(MAX_RETRY_AFTER.as_secs()),
        }
    }

    /// Whether the slowest `Retry-After` is the machine's cap rather than a declared horizon.
    pub fn retry_after_is_the_cap(&self) -> bool {
        self.slowest_retry_after().is_some() && self.horizon.is_none()
    }

    /// The profile whose CRM sends no `Retry-After`, when that is why the slowest schedule
    /// answers without one although the policy respects the header.
    pub fn profile_sends_no_retry_after(&self) -> Option<&'static str> {
        self.sends_no_retry_after
            .filter(|_| self.cfg.respect_retry_after && self.horizon.is_none())
    }

    /// Runs one event against `answer` on `schedule`, on a fresh machine.
    pub fn run(&self, answer: Answer, schedule: Schedule) -> Result<Settled, BudgetError> {
        let timeout = self.cfg.timeout;
        let (pin, latency, retry_after) = match schedule {
            Schedule::Fastest => (0, 0, None),
            Schedule::Slowest => (
                u64::MAX,
                timeout.saturating_sub(1),
                self.slowest_retry_after().map(|s| s.to_string()),
            ),
        };
        let mut script = Script {
            answer,
            latency,
            timeout,
            retry_after,
            expires_in: self.expires_in,
        };
        let mut probe = OneEvent {
            sub: Some(Submission {
                id: SubmissionId {
                    seq: 0,
                    source: 0,
                    origin: 0,
                    event_id: "budget-probe-0".into(),
                    event_type: "budget.probe".into(),
                    rule_id: "budget".into(),
                },
                payload: Ok(json!({})),
                idempotency_key: Ok("budget-probe-0".into()),
            }),
            at: 0,
        };
        // Every attempt, token request, timer and answer is a step or two; refreshes add a
        // few per attempt.
        let bound = 64 + 16 * (u64::from(self.cfg.max_retries) + 4);
        let machine = Machine::new(self.cfg.clone(), Pinned(pin));
        let mut vt = VirtualTime::new(machine, Some(0), bound);
        let mut out = Outcome::default();
        settle(&mut vt, &mut probe, &mut script, &mut out, answer)?;
        let token_requests = out.token_requests;
        match out.settled {
            Some(Output::DeadLettered(d)) => Ok(Settled {
                attempts: d.attempts,
                token_refreshes: d.token_refreshes,
                token_requests,
                ms: d.at.saturating_sub(d.first_attempt),
                reason: Some(d.reason),
            }),
            Some(Output::Delivered(d)) => Ok(Settled {
                attempts: d.attempts,
                token_refreshes: d.token_refreshes,
                token_requests,
                ms: d.at.saturating_sub(d.submitted),
                reason: None,
            }),
            None => Err(BudgetError::Unsettled(answer)),
        }
    }

    /// Both schedules of one answer.
    pub fn both(&self, answer: Answer) -> Result<(Settled, Settled), BudgetError> {
        Ok((
            self.run(answer, Schedule::Fastest)?,
            self.run(answer, Schedule::Slowest)?,
        ))
    }

    /// Whether the machine authenticates with OAuth (and so has a token endpoint to fail).
    pub fn oauth(&self) -> bool {
        matches!(self.cfg.auth, crate::delivery::AuthMode::OAuth { .. })
    }
}

/// One row of the budget: answers with identical figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The answers in words (`408, 429, 500, other 5xx`, `timeout`, `token endpoint 503`).
    pub answer: String,
    /// `status`, `timeout`, `reset`, `tokenEndpoint` or `tokenTimeout`.
    pub kind: &'static str,
    /// The status codes the row stands for (empty for timeouts and resets).
    pub codes: Vec<u16>,
    pub fastest: Settled,
    pub slowest: Settled,
    pub notes: Vec<String>,
}

/// A spec's budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub jitter: Jitter,
    pub timeout_ms: Time,
    pub slowest_retry_after: Option<u64>,
    pub rows: Vec<Row>,
    /// What holds for several rows: the deadline, batching.
    pub notes: Vec<String>,
}

/// The statuses every budget probes.
pub const PROBED: std::ops::RangeInclusive<u16> = 400..=599;

/// The full budget of a spec: every status from 400 to 599, timeouts, resets and (OAuth) the
/// token endpoint, each run on both schedules and grouped by identical figures.
pub fn budget(raw: &RawSpec, opts: Options) -> Result<Budget, BudgetError> {
    let p = Prober::new(raw, opts)?;
    let profile = crate::crm::profile(raw.crm.profile);
    let r = &raw.retry;
    let mut named: Vec<u16> = vec![401, 408, 429, 500, 502, 503, 504, profile.throttle.status];
    named.extend(&r.retryable_status_codes);
    named.extend(&r.non_retryable_status_codes);
    let mut rows = grouped(&p, PROBED.map(Answer::Status), &named, "status", "")?;
    rows.sort_by_key(|row| (std::cmp::Reverse(row.slowest.attempts), row.codes[0]));
    for (answer, label, kind) in [
        (Answer::Timeout, "timeout", "timeout"),
        (Answer::Reset, "connection reset", "reset"),
    ] {
        let (fastest, slowest) = p.both(answer)?;
        rows.push(Row {
            answer: label.into(),
            kind,
            codes: Vec::new(),
            fastest,
            slowest,
            notes: Vec::new(),
        });
    }
    if p.oauth() {
        let mut token = grouped(
            &p,
            PROBED.map(Answer::TokenStatus),
            &[408, 429],
            "tokenEndpoint",
            "token endpoint ",
        )?;
        token.sort_by_key(|row| (std::cmp::Reverse(row.slowest.attempts), row.codes[0]));
        rows.extend(token);
        let (fastest, slowest) = p.both(Answer::TokenTimeout)?;
        rows.push(Row {
            answer: "token endpoint timeout".into(),
            kind: "tokenTimeout",
            codes: Vec::new(),
            fastest,
            slowest,
            notes: Vec::new(),
        });
    }
    for row in &mut rows {
        row.notes = notes(raw, &profile, row);
    }
    let mut notes = Vec::new();
    if let Some(name) = p.profile_sends_no_retry_after() {
        notes.push(format!(
            "{name} sends no Retry-After, so the slowest schedule answers without one (declare crm.retryAfterHorizonSeconds if yours does)"
        ));
    }
    if r.circuit_breaker.is_some() {
        notes.push(
            "retry.circuitBreaker is not sent to the Event Hub, which runs no breaker: no figure counts on one (CX038)".into(),
        );
    }
    let cut = rows.iter().any(|row| {
        [row.fastest.reason, row.slowest.reason].contains(&Some(Reason::DeadlineExceeded))
    });
    if let (Some(dl), true) = (raw.crm.delivery_deadline_seconds, cut) {
        notes.push(format!(
            "delivery deadline: crm.deliveryDeadlineSeconds ({dl} s) cuts retries short, so a slow CRM can end sooner than a quick one and the two cases do not bound the runs between them; every run ends within {dl} s plus one timeout of its first attempt (two when a 401's new token is awaited)"
        ));
    }
    // A batched channel holds an event until its batch fills or the interval passes: before the
    // first attempt, so outside every figure above (and outside the delivery deadline, which
    // counts from the first attempt too).
    if raw.channel.batch_size > 1 && raw.channel.batch_interval_seconds > 0 {
        notes.push(format!(
            "batching: with batchSize {} an event waits up to batchIntervalSeconds ({} s) for its batch before its first attempt; from arrival, add up to {} s to every figure",
            raw.channel.batch_size, raw.channel.batch_interval_seconds, raw.channel.batch_interval_seconds
        ));
    }
    Ok(Budget {
        jitter: p.jitter(),
        timeout_ms: p.cfg.timeout,
        slowest_retry_after: p.slowest_retry_after(),
        rows,
        notes,
    })
}

/// Runs every answer and groups the codes whose figures are identical, in first-seen order.
fn grouped(
    p: &Prober,
    answers: impl Iterator<Item = Answer>,
    named: &[u16],
    kind: &'static str,
    prefix: &str,
) -> Result<Vec<Row>, BudgetError> {
    let mut groups: Vec<((Settled, Settled), Vec<u16>)> = Vec::new();
    for a in answers {
        let (Answer::Status(code) | Answer::TokenStatus(code)) = a else {
            continue;
        };
        let figures = p.both(a)?;
        match groups.iter_mut().find(|(f, _)| *f == figures) {
            Some((_, codes)) => codes.push(code),
            None => groups.push((figures, vec![code])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|((fastest, slowest), codes)| Row {
            answer: format!("{prefix}{}", label(&codes, named)),
            kind,
            codes,
            fastest,
            slowest,
            notes: Vec::new(),
        })
        .collect())
}

/// The codes of a group in words: the named codes one by one, the rest of a class as `other
/// 4xx` (or `4xx` when none of the class is named) when the group holds all of it, else as
/// ranges.
fn label(codes: &[u16], named: &[u16]) -> String {
    let mut parts: Vec<(u16, String)> = codes
        .iter()
        .filter(|c| named.contains(c))
        .map(|c| (*c, c.to_string()))
        .collect();
    for class in [4u16, 5] {
        let all: Vec<u16> = PROBED
            .filter(|c| c / 100 == class && !named.contains(c))
            .collect();
        let rest: Vec<u16> = codes
            .iter()
            .copied()
            .filter(|c| c / 100 == class && !named.contains(c))
            .collect();
        if rest.is_empty() {
            continue;
        }
        if rest == all {
            let any_named = named.iter().any(|c| c / 100 == class);
            let word = if any_named { "other " } else { "" };
            parts.push((rest[0], format!("{word}{class}xx")));
        } else {
            let mut i = 0;
            while i < rest.len() {
                let mut j = i;
                while j + 1 < rest.len() && rest[j + 1] == rest[j] + 1 {
                    j += 1;
                }
                let text = if j == i {
                    rest[i].to_string()
                } else {
                    format!("{}–{}", rest[i], rest[j])
                };
                parts.push((rest[i], text));
                i = j + 1;
            }
        }
    }
    // Numeric order, a class's summary after its named codes.
    parts.sort_by_key(|(c, t)| {
        if t.contains("xx") {
            (c / 100, 1, *c)
        } else {
            (c / 100, 0, *c)
        }
    });
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a row's figures come from, in words: which list a code is in, the defaults for
/// unlisted codes, the refresh allowance and the deadline.
fn notes(raw: &RawSpec, profile: &crate::crm::Profile, row: &Row) -> Vec<String> {
    let r = &raw.retry;
    let mut out = Vec::new();
    let ends = [row.fastest.reason, row.slowest.reason];
    let retried = row.slowest.attempts > 1 || row.fastest.attempts > 1;
    let join = |cs: Vec<u16>| {
        cs.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if row.kind == "status" {
        let both: Vec<u16> = row
            .codes
            .iter()
            .copied()
            .filter(|c| {
                r.retryable_status_codes.contains(c) && r.non_retryable_status_codes.contains(c)
            })
            .collect();
        if !both.is_empty() {
            out.push(format!("{} in both lists: non-retryable wins", join(both)));
        }
        let unlisted: Vec<u16> = [408u16, 429, 500, 502, 503, 504]
            .into_iter()
            .filter(|c| {
                row.codes.contains(c)
                    && !r.retryable_status_codes.contains(c)
                    && !r.non_retryable_status_codes.contains(c)
            })
            .collect();
        if !unlisted.is_empty() && retried {
            out.push(format!(
                "{} in neither list: retried by default",
                join(unlisted)
            ));
        }
        if row.codes.contains(&401) {
            let refresh = matches!(
                raw.channel.auth,
                Auth::OAuth2ClientCredentials {
                    retry_on_token_expiry: true,
                    ..
                }
            );
            out.push(if refresh {
                "a new token and a resend per 401, then AUTH_FAILED".to_string()
            } else {
                "no retryOnTokenExpiry: a 401 is AUTH_FAILED at once, whatever the lists say".into()
            });
        }
        if row.codes.contains(&profile.throttle.status) && profile.name != "generic" {
            out.push(format!(
                "{} throttles with {}",
                profile.name, profile.throttle.what
            ));
        }
    }
    if row.kind.starts_with("token") {
        let n = pair(
            row.fastest.token_requests,
            row.slowest.token_requests,
            |n| n.to_string(),
        );
        let s = if n == "1" { "" } else { "s" };
        out.push(format!("{n} token request{s}, no CRM attempt"));
    }
    if ends.contains(&Some(Reason::DeadlineExceeded)) {
        out.push("cut short by the delivery deadline".into());
    }
    out
}

/// Milliseconds in words: `850 ms`, `12.3 s`, `5m18s`, `2h03m`, `3d04h` (rounded).
pub fn human_ms(ms: Time) -> String {
    let s = ms.saturating_add(500) / 1000;
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_499 => format!("{}m{:02}s", s / 60, s % 60),
        3_599_500..=86_369_999 => {
            let m = (ms + 30_000) / 60_000;
            format!("{}h{:02}m", m / 60, m % 60)
        }
        _ => {
            let h = (ms + 1_800_000) / 3_600_000;
            format!("{}d{:02}h", h / 24, h % 24)
        }
    }
}

/// `a`, or `a / b` when the two schedules differ.
fn pair<T: PartialEq>(a: T, b: T, show: impl Fn(T) -> String) -> String {
    if a == b {
        show(a)
    } else {
        format!("{} / {}", show(a), show(b))
    }
}

/// The budget as aligned text: per row, the attempts (fastest / slowest when they differ), the
/// time to the DLQ on each schedule, and how the event ends.
pub fn render(file: &str, b: &Budget) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "Retry budget for {file}: one event, every attempt answered alike (jitter {})\n",
        b.jitter_str()
    );
    let ra = match b.slowest_retry_after {
        Some(s) => format!(", Retry-After {s} s"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "quick CRM: answers at once, no Retry-After, jitter at its least; slow CRM: answers 1 ms before the {} ms timeout{ra}, jitter at its most; each column is one case, timed from the first attempt to the DLQ",
        b.timeout_ms
    );
    let cells: Vec<[String; 6]> = b
        .rows
        .iter()
        .map(|r| {
            let reason = |s: Option<Reason>| s.map_or("DELIVERED", Reason::as_str).to_string();
            let mut notes = r.notes.clone();
            let refreshes = r.fastest.token_refreshes.max(r.slowest.token_refreshes);
            if refreshes > 0 {
                let n = pair(r.fastest.token_refreshes, r.slowest.token_refreshes, |n| {
                    n.to_string()
                });
                let word = if refreshes == 1 {
                    "refresh"
                } else {
                    "refreshes"
                };
                notes.insert(0, format!("{n} token {word}"));
            }
            [
                r.answer.clone(),
                pair(r.fastest.attempts, r.slowest.attempts, |n| n.to_string()),
                human_ms(r.fastest.ms),
                human_ms(r.slowest.ms),
                pair(r.fastest.reason, r.slowest.reason, reason),
                notes.join("; "),
            ]
        })
        .collect();
    let heads = [
        "answer",
        "attempts",
        "quick CRM",
        "slow CRM",
        "ends as",
        "notes",
    ];
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([heads[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..5).map(width).collect();
    let line = |c: [&str; 6]| {
        format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:<w4$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_string()
    };
    let _ = writeln!(out, "{}", line(heads));
    for c in &cells {
        let _ = writeln!(out, "{}", line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
    }
    for n in &b.notes {
        let _ = writeln!(out, "{n}");
    }
    out
}

impl Budget {
    fn jitter_str(&self) -> &'static str {
        match self.jitter {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }

    /// The budget as the JSON `lint --budget --format json` prints for one spec.
    pub fn to_json(&self, file: &str) -> Value {
        json!({
            "file": file,
            "jitter": self.jitter_str(),
            "timeoutMs": self.timeout_ms,
            "slowestRetryAfterSeconds": self.slowest_retry_after,
            "rows": self.rows,
            "notes": self.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::spec_with;

    fn spec(retry: &str) -> RawSpec {
        let mut raw = spec_with("retryAfterHorizonSeconds: 120").raw;
        let extra: serde_json::Value = serde_json::from_str(retry).unwrap();
        let mut r = serde_json::to_value(&raw.retry).unwrap();
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        raw.retry = serde_json::from_value(r).unwrap();
        raw
    }

    fn row(b: &Budget, code: u16) -> &Row {
        b.rows
            .iter()
            .find(|r| r.kind == "status" && r.codes.contains(&code))
            .unwrap_or_else(|| panic!("no row for {code}"))
    }

    #[test]
    fn an_unlisted_429_is_retried_as_the_machine_retries_it() {
        // The case the old model got wrong: `retryableStatusCodes: [503]` said "429: 1 attempt".
        let s = spec(
            r#"{"maxRetries": 4, "retryableStatusCodes": [503], "nonRetryableStatusCodes": [400], "jitter": "none", "initialDelaySeconds": 1, "maxDelaySeconds": 8}"#,
        );
        let b = budget(&s, Options::default()).unwrap();
        let r = row(&b, 429);
        assert_eq!((r.fastest.attempts, r.slowest.attempts), (5, 5));
        assert_eq!(r.fastest.reason, Some(Reason::RetriesExhausted));
        // 1 + 2 + 4 + 8 s of backoff; the slowest adds 5 answers 999 ms late (the policy does not
        // respect Retry-After, so the CRM's 120 s horizon does not count).
        assert_eq!(r.fastest.ms, 15_000);
        assert_eq!(r.slowest.ms, 15_000 + 5 * 999);
        assert!(r.codes.contains(&503) && r.codes.contains(&599), "{r:?}");
        assert!(r.answer.contains("other 5xx"), "{}", r.answer);
        let r = row(&b, 404);
        assert_eq!(
            (r.fastest.attempts, r.fastest.reason),
            (1, Some(Reason::NonRetryableStatus))
        );
    }

    #[test]
    fn jitter_extremes_bound_the_waits() {
        let s = spec(
            r#"{"maxRetries": 3, "initialDelaySeconds": 2, "maxDelaySeconds": 60, "jitter": "equal", "respectRetryAfterHeader": true}"#,
        );
        let b = budget(&s, Options::default()).unwrap();
        let r = row(&b, 503);
        // Equal jitter at its least: half of 2, 4, 8 s; at its most the whole, but Retry-After
        // 120 s (the CRM's horizon) is longer.
        assert_eq!(r.fastest.ms, 7_000);
        assert_eq!(r.slowest.ms, 3 * 120_000 + 4 * 999);
        let nj = budget(&s, Options { no_jitter: true }).unwrap();
        assert_eq!(row(&nj, 503).fastest.ms, 14_000);
        assert_eq!(nj.jitter, Jitter::None);
    }

    #[test]
    fn a_profile_that_sends_no_retry_after_is_not_given_one() {
        let mut s = spec(
            r#"{"maxRetries": 2, "jitter": "none", "respectRetryAfterHeader": true, "initialDelaySeconds": 1, "maxDelaySeconds": 8}"#,
        );
        s.crm.retry_after_horizon_seconds = None;
        s.crm.profile = crate::spec::model::CrmProfile::Hubspot;
        let b = budget(&s, Options::default()).unwrap();
        assert_eq!(b.slowest_retry_after, None);
        assert!(
            b.notes[0].starts_with("hubspot sends no Retry-After"),
            "{:?}",
            b.notes
        );
        // 1 + 2 s of backoff and three answers 999 ms late; no 24 h Retry-After.
        assert_eq!(row(&b, 429).slowest.ms, 3_000 + 3 * 999);
        // A declared horizon is the CRM's own word, whatever the profile.
        s.crm.retry_after_horizon_seconds = Some(30);
        assert_eq!(
            budget(&s, Options::default()).unwrap().slowest_retry_after,
            Some(30)
        );
        s.crm.retry_after_horizon_seconds = None;
        s.crm.profile = crate::spec::model::CrmProfile::Generic;
        assert_eq!(
            budget(&s, Options::default()).unwrap().slowest_retry_after,
            Some(86_400)
        );
    }

    #[test]
    fn labels_name_listed_codes_and_summarise_the_rest() {
        let named = [401, 408, 429, 500, 502, 503, 504, 400, 404];
        let other4: Vec<u16> = (400..500).filter(|c| !named.contains(c)).collect();
        let mut codes = vec![400, 404];
        codes.extend(&other4);
        codes.sort();
        assert_eq!(label(&codes, &named), "400, 404, other 4xx");
        assert_eq!(label(&[405, 406, 407, 410], &named), "405–407, 410");
        assert_eq!(label(&(500..600).collect::<Vec<_>>(), &[408, 429]), "5xx");
    }

    #[test]
    fn milliseconds_read_as_people_read_them() {
        assert_eq!(human_ms(850), "850 ms");
        assert_eq!(human_ms(62_000), "1m02s");
        assert_eq!(human_ms(12_300), "12.3 s");
        assert_eq!(human_ms(7_380_000), "2h03m");
        assert_eq!(human_ms(5 * 86_400_000 + 3_600_000), "5d01h");
    }
}
