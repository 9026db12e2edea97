//! The machine's settings: the spec's channel, retry policy, idempotency and DLQ, resolved once,
//! plus the hub's runtime settings that are not in the spec.

use std::time::{Duration, SystemTime};

use super::backoff::Backoff;
use super::classify::Policy;
use super::idempotency::{Template, TemplateError};
use super::Time;
use crate::spec::model::{Auth, Jitter, RawSpec};

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

/// Requests the hub keeps in flight at once for one channel: the one default of the simulator's
/// scenarios (`hub.concurrency`), DLQ replay and every other driver (tester #205: the scenario
/// said 16 while replay said 32).
pub const HUB_CONCURRENCY: u16 = 16;

/// Settings that are not in the spec: they describe the Event Hub's runtime, not the channel.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The wall-clock instant of `Time` 0.
    pub epoch: SystemTime,
    /// Overrides the spec's jitter mode (`--no-jitter`).
    pub jitter: Option<Jitter>,
    /// Token refreshes one event may cause (401 → refresh → resend) before it dead-letters.
    pub max_token_refreshes: u32,
    /// DLQ alerts are coalesced into one webhook call per window.
    pub alert_window: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            concurrency: usize::from(HUB_CONCURRENCY),
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200),
            jitter: None,
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
    pub idempotency_header: String,
    pub idempotency: Template,
    pub max_payload_bytes: Option<u64>,
    pub delivery_deadline: Option<u64>,
    pub dlq_enabled: bool,
    pub alert_endpoint: Option<String>,
    /// Where the DLQ's records are, as alerts name it: `s3://<bucketName>/<prefix>`.
    pub dlq_location: String,
    /// `alerts.dlqVolume`: an alert's `thresholdExceeded` is `count` above it.
    pub alert_threshold: Option<u64>,
    pub hub: HubSettings,
}

/// A spec the machine cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("idempotency.key: {0}")]
    Template(TemplateError),
}

impl Config {
    /// The longest an event can stay in the machine, in ms, from its submission to its
    /// settlement (delivered or dead-lettered), whenever a request slot is free for it: the
    /// wait for its batch, each attempt's timeout, the token requests an attempt may wait for
    /// (the token endpoint tried `maxRetries + 1` times, `maxDelaySeconds` apart at most), the
    /// retries' waits (`maxDelaySeconds`, or the 24 h `Retry-After` cap when it is respected),
    /// and the token refreshes a 401 may cause, unless `crm.deliveryDeadlineSeconds` ends it
    /// first. Time spent queued behind other events for a free slot is the load's, not the
    /// policy's, and is not in it. A bound, not a schedule: an upper limit of every path of
    /// [`super::Machine`] (a test drives the machine's slowest paths against it).
    pub fn longest_stay(&self) -> Time {
        let retries = u64::from(self.max_retries);
        let max_delay = super::backoff::to_ms(self.backoff.max);
        let retry_wait = if self.respect_retry_after {
            let cap =
                u64::try_from(super::retry_after::MAX_RETRY_AFTER.as_millis()).unwrap_or(u64::MAX);
            max_delay.max(cap)
        } else {
            max_delay
        };
        // An attempt may first wait for a token: a whole cycle of failing token requests.
        let (token_wait, refreshes) = match self.auth {
            AuthMode::OAuth { refresh_on_401, .. } => (
                (retries + 1)
                    .saturating_mul(self.timeout)
                    .saturating_add(retries.saturating_mul(max_delay)),
                if refresh_on_401 {
                    u64::from(self.hub.max_token_refreshes)
                } else {
                    0
                },
            ),
            AuthMode::None | AuthMode::Bearer(_) => (0, 0),
        };
        let attempt = token_wait.saturating_add(self.timeout);
        let batch = if self.batch_size > 1 {
            self.batch_interval
        } else {
            0
        };
        let attempts = (retries + 1).saturating_add(refreshes);
        let by_policy = attempts
            .saturating_mul(attempt)
            .saturating_add(retries.saturating_mul(retry_wait));
        // With a deadline no attempt starts later than it after the first attempt (which may
        // have waited for a token); the one started then is answered by its timeout, and a 401
        // may make it wait for a token once more before it is dead-lettered.
        let by_deadline = self.delivery_deadline.map(|d| {
            token_wait
                .saturating_add(d)
                .saturating_add(self.timeout)
                .saturating_add(token_wait)
        });
        batch.saturating_add(by_deadline.map_or(by_policy, |d| d.min(by_policy)))
    }

    /// Resolves a spec's channel, retry policy, idempotency and DLQ into machine settings: what
    /// `compile` sends the hub. `retry.circuitBreaker` is not read, because it is not sent (the
    /// hub's retry-policy API has no such field, #122).
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
            batch_interval: u64::from(raw.channel.batch_interval_seconds).saturating_mul(1000),
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
            idempotency_header: raw.idempotency.header.clone(),
            idempotency: Template::parse(&raw.idempotency.key).map_err(ConfigError::Template)?,
            max_payload_bytes: raw.crm.max_payload_bytes,
            delivery_deadline: raw
                .crm
                .delivery_deadline_seconds
                .map(|s| s.saturating_mul(1000)),
            dlq_enabled: raw.dead_letter_queue.enabled,
            alert_endpoint: raw.dead_letter_queue.alert_endpoint.clone(),
            dlq_location: format!(
                "s3://{}/{}",
                raw.dead_letter_queue
                    .bucket_name
                    .as_deref()
                    .unwrap_or("dlq"),
                raw.dead_letter_queue.prefix.as_deref().unwrap_or("")
            ),
            alert_threshold: raw.alerts.as_ref().and_then(|a| a.dlq_volume),
            hub,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::delivery::{Failure, Machine, Output, Response, Submission, TokenResult, Transmit};

    /// What the scripted CRM and token endpoint do with one request.
    #[derive(Debug, Clone)]
    enum Answer {
        Crm(u64, Response),
        Token(u64, TokenResult),
    }

    /// One event through the machine against a hostile CRM and token endpoint chosen by `rng`
    /// at each request: silence (the machine's timeout decides), 503 with the longest
    /// `Retry-After`, 429, 401, or a 2xx, each 1 ms before the timeout; the token endpoint
    /// silent, failing or granting just as late. Returns when the event settled, in ms after
    /// its submission at 0.
    fn settle_time(cfg: &Config, rng: &mut ChaCha8Rng) -> Time {
        let mut m = Machine::new(cfg.clone(), ChaCha8Rng::seed_from_u64(rng.next_u64()));
        let late = cfg.timeout.saturating_sub(1);
        m.handle_submit(
            0,
            Submission::example(0, json!({"caseNumber": "1"}), Ok("k".into())),
        );
        m.handle_arrivals_done(0);
        let mut pending: BTreeMap<(Time, u64), Answer> = BTreeMap::new();
        let (mut now, mut n) = (0, 0u64);
        for _ in 0..100_000 {
            while let Some(t) = m.poll_transmit() {
                n += 1;
                let answer = match t {
                    Transmit::Crm(r) => {
                        let (status, retry_after) = match rng.next_u64() % 6 {
                            0 => continue, // silence
                            1 | 2 => (503, Some("86400".to_string())),
                            3 => (429, None),
                            4 => (401, None),
                            _ => (if rng.next_u64() % 4 == 0 { 201 } else { 503 }, None),
                        };
                        Answer::Crm(
                            r.id,
                            Response {
                                status,
                                retry_after,
                                body: String::new(),
                            },
                        )
                    }
                    Transmit::Token { id } => match rng.next_u64() % 3 {
                        0 => continue,
                        1 => Answer::Token(id, TokenResult::Failed(Failure::Reset)),
                        _ => Answer::Token(
                            id,
                            TokenResult::Granted {
                                access_token: format!("t{n}"),
                                expires_in: Some(3600),
                            },
                        ),
                    },
                    Transmit::Alert(_) => continue,
                };
                pending.insert((now + late, n), answer);
            }
            if let Some(o) = m.poll_output() {
                return match o {
                    Output::Delivered(d) => d.at,
                    Output::DeadLettered(d) => d.at,
                };
            }
            let next_answer = pending.keys().next().map(|k| k.0);
            let timer = m.poll_timeout();
            if next_answer.is_some_and(|a| timer.is_none_or(|t| a <= t)) {
                let ((at, _), answer) = pending.pop_first().expect("one is pending");
                now = at;
                match answer {
                    Answer::Crm(id, resp) => m.handle_response(now, id, resp),
                    Answer::Token(id, result) => m.handle_token(now, id, result),
                }
            } else {
                now = timer.expect("nothing is left to happen and the event has not settled");
                m.handle_timeout(now);
            }
        }
        panic!("the event did not settle in 100,000 steps");
    }

    fn config(change: impl FnOnce(&mut RawSpec)) -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
        let mut raw = crate::spec::load(&path, &Default::default())
            .spec
            .expect("the example spec loads")
            .raw;
        change(&mut raw);
        Config::from_spec(&raw, HubSettings::default()).expect("a machine config")
    }

    /// Tester #201: the bound the scenario loader's E606 check adds to a run is the machine's
    /// own: no path of the machine (random hostile answers, every policy shape) settles an event
    /// later than `longest_stay`, and on the path it describes (every answer a 503 with the
    /// longest `Retry-After`, 1 ms before the timeout) the machine comes within a millisecond
    /// per attempt of it.
    #[test]
    fn no_event_stays_in_the_machine_longer_than_its_longest_stay() {
        use crate::spec::model::Auth;
        let bearer = |r: &mut RawSpec| r.channel.auth = Auth::Bearer { token: "t".into() };
        let cases: Vec<(&str, Config)> = vec![
            ("example (OAuth, refresh, Retry-After)", config(|_| {})),
            (
                "no Retry-After",
                config(|r| r.retry.respect_retry_after_header = false),
            ),
            (
                "deadline 10 min",
                config(|r| r.crm.delivery_deadline_seconds = Some(600)),
            ),
            ("bearer", config(bearer)),
            (
                "no refresh, decorrelated, 9 retries",
                config(|r| {
                    if let Auth::OAuth2ClientCredentials {
                        retry_on_token_expiry,
                        ..
                    } = &mut r.channel.auth
                    {
                        *retry_on_token_expiry = false;
                    }
                    r.retry.jitter = crate::spec::model::Jitter::Decorrelated;
                    r.retry.max_retries = 9;
                }),
            ),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(201);
        for (name, cfg) in &cases {
            let bound = cfg.longest_stay();
            let worst = (0..300).map(|_| settle_time(cfg, &mut rng)).max().unwrap();
            assert!(
                worst <= bound,
                "{name}: settled at {worst} ms, bound {bound} ms"
            );
        }
        // The path the bound describes, for a channel without tokens: tight to 1 ms an attempt.
        let mut cfg = config(bearer);
        cfg.hub.jitter = Some(crate::spec::model::Jitter::None);
        let attempts = u64::from(cfg.max_retries) + 1;
        let mut m = Machine::new(cfg.clone(), ChaCha8Rng::seed_from_u64(0));
        m.handle_submit(0, Submission::example(0, json!({}), Ok("k".into())));
        let mut now = 0;
        let settled = loop {
            if let Some(Transmit::Crm(r)) = m.poll_transmit() {
                now += cfg.timeout - 1;
                m.handle_response(
                    now,
                    r.id,
                    Response {
                        status: 503,
                        retry_after: Some("86400".into()),
                        body: String::new(),
                    },
                );
                continue;
            }
            if let Some(Output::DeadLettered(d)) = m.poll_output() {
                break d.at;
            }
            now = m.poll_timeout().expect("a retry is due");
            m.handle_timeout(now);
        };
        assert_eq!(settled + attempts, cfg.longest_stay());
    }
}
