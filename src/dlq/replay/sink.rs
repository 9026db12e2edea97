//! Where a replay delivers: the [`ReplaySink`] seam, and [`DriverSink`], the real HTTP driver on
//! the one driver loop's wall clock, watching for the record it was handed.

use std::future::Future;
use std::time::SystemTime;

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::delivery::classify::token_refusal_is_final;
use crate::delivery::drive::{NoArrivals, Observer};
use crate::delivery::{
    Config, DeadLettered, HubSettings, Machine, Output, Submission, SubmissionId, TokenResult,
};
use crate::http::driver::{Driver, Endpoints};
use crate::http::wall;
use crate::http::Clock;
use crate::sim::engine;
use crate::spec::Spec;

/// One request of a replay.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The record's event id.
    pub event_id: &'a str,
    /// The record's event type.
    pub event_type: &'a str,
    /// The rule that produced the payload.
    pub rule_id: &'a str,
    /// The record's original key.
    pub idempotency_key: &'a str,
    /// The new payload.
    pub body: &'a Value,
}

/// What the CRM did with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// Settled without a 2xx: the last answer (body cut to 4 KiB) and why the delivery
    /// machine gave up (`RETRIES_EXHAUSTED after 6 attempts`).
    Rejected {
        status: u16,
        body: String,
        reason: String,
    },
    /// No answer: connection, timeout or token failure.
    Failed { error: String },
}

/// Where a replay delivers. [`DriverSink`] speaks HTTP; tests plug in their own.
///
/// A replay hands over up to [`ReplaySink::window`] deliveries and waits for any of them to
/// settle ([`ReplaySink::settled`]) before handing over more, so a marker is written as soon as
/// its record's 2xx is in, while the others are still being sent or retried.
pub trait ReplaySink {
    /// How many deliveries may be in flight at once (at least 1).
    fn window(&self) -> usize;
    /// Hands over one delivery, known by `tag` in [`ReplaySink::settled`]. Retries are the
    /// sink's business: anything but `Delivered` leaves the record un-replayed.
    fn submit(&mut self, tag: usize, d: &Delivery<'_>);
    /// Hands over a batch to send as one request, as it was first sent: the deliveries'
    /// payloads in this order as one JSON array, every attempt carrying `key` (the batch's,
    /// which each delivery also names). Each member settles by its tag, all together.
    fn submit_batch(&mut self, members: &[(usize, Delivery<'_>)], key: &str);
    /// Waits until at least one delivery handed over has settled and returns those that have,
    /// by tag. Empty only when nothing is in flight.
    fn settled(&mut self) -> impl Future<Output = Vec<(usize, SinkOutcome)>> + Send;
}

/// A sink that could not be set up from the spec.
#[derive(Debug, thiserror::Error)]
pub enum SinkSetupError {
    /// A URL that is not https (or http on loopback).
    #[error("refusing `{0}`: plain http is allowed only on loopback; use https")]
    Insecure(String),
    /// A URL that does not parse.
    #[error("`{url}` is not a URL: {why}")]
    BadUrl { url: String, why: String },
    /// A secret reference cxsync cannot resolve.
    #[error("{0}")]
    Secret(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The spec's channel cannot drive the delivery machine (a bad header, …).
    #[error("{0}")]
    Config(String),
    /// The token endpoint refused the first token request with a status that does not heal by
    /// waiting ([`token_refusal_is_final`]): a wrong `--token-url`, client id or secret (#232).
    /// `url` is shown without user info or query; `error` is the endpoint's scrubbed answer.
    #[error("POST {url} → {status}{}: the token endpoint refused the first token request, so no record was sent and none was changed; check --token-url / client id / secret (channel.auth.tokenEndpoint, clientId, --client-secret-env)", if error.is_empty() { String::new() } else { format!(" ({error})") })]
    TokenRefused {
        url: String,
        status: u16,
        error: String,
    },
}

/// The secret of `what` ([`crate::spec::secret`]); `secret_var` is `--client-secret-env`.
fn secret(
    what: &str,
    value: &str,
    secret_var: Option<&str>,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<String, SinkSetupError> {
    let env = |n: &str| vars.get(n).cloned();
    crate::spec::secret::resolve(
        what,
        value,
        &env,
        secret_var,
        Some("--client-secret-env VAR"),
    )
    .map_err(|e| SinkSetupError::Secret(e.to_string()))
}

/// Checks that a URL is https, or http on loopback ([`crate::net`]).
pub fn check_url(url: &str) -> Result<(), SinkSetupError> {
    checked(url).map(|_| ())
}

/// Delivers through the real HTTP driver of [`crate::http`] and the simulator's delivery
/// [`Machine`]: the spec's retry policy, backoff, `Retry-After`, token cache and 401 refresh,
/// classification and per-request timeout all apply, from the one copy of that logic. Each
/// record is submitted with its original key (its tag is the machine's `seq`); up to the hub's
/// concurrency are in flight at once, as the Event Hub would send them, and a record is reported
/// settled only once the machine settles it.
pub struct DriverSink {
    driver: Driver,
    machine: Machine<ChaCha8Rng>,
    /// Deliveries in flight at once: the hub's concurrency.
    window: usize,
    /// Submitted and not yet settled.
    pending: usize,
}

/// Collects what the one driver loop settled.
#[derive(Default)]
struct Await {
    settled: Vec<(usize, SinkOutcome)>,
}

impl Observer for Await {
    fn settled(&mut self, output: &Output) {
        match output {
            Output::Delivered(x) => self.settled.push((
                x.id.seq as usize,
                SinkOutcome::Delivered {
                    status: x.status.unwrap_or(200),
                },
            )),
            Output::DeadLettered(x) => self.settled.push((x.id.seq as usize, dead_lettered(x))),
        }
    }
}

impl DriverSink {
    /// Builds the sink from the spec's channel and retry policy. `url` is where deliveries go,
    /// `token_url` overrides the token endpoint, `secret_var` names the variable holding the
    /// client secret (or bearer token). `epoch` is the wall-clock instant the machine's time
    /// starts at (it dates `Retry-After` HTTP dates). `concurrency` bounds the deliveries in
    /// flight (default: the hub's).
    pub fn from_spec(
        spec: &Spec,
        url: &str,
        token_url: Option<&str>,
        secret_var: Option<&str>,
        vars: &std::collections::BTreeMap<String, String>,
        epoch: SystemTime,
        concurrency: Option<usize>,
    ) -> Result<DriverSink, SinkSetupError> {
        let ep = Endpoints::from_channel(
            spec,
            checked(url)?,
            |t| checked(token_url.unwrap_or(t)),
            // `--client-secret-env` names the auth secret, not a header's.
            |what, value| {
                let auth = what.starts_with("channel.auth.");
                secret(what, value, secret_var.filter(|_| auth), vars)
            },
        )?;
        // The hub's own concurrency by default: a replay sends as fast as the policy lets the
        // hub send.
        let mut hub = HubSettings {
            epoch,
            ..HubSettings::default()
        };
        if let Some(n) = concurrency {
            hub.concurrency = n;
        }
        hub.concurrency = hub.concurrency.max(1);
        let window = hub.concurrency;
        let mut cfg =
            Config::from_spec(&spec.raw, hub).map_err(|e| SinkSetupError::Config(e.to_string()))?;
        // One record per request, each with its own original key, unless a batch the CRM may
        // have written is handed over whole (`submit_batch`): the machine never forms batches
        // of its own here. Alerts are the Event Hub's business, not a person's replay.
        cfg.batch_size = 1;
        cfg.alert_endpoint = None;
        let timeout = cfg.timeout;
        let client =
            crate::http::http_client(window).map_err(|e| SinkSetupError::Client(e.to_string()))?;
        // Real time (scale 1), wall-clock mode: timers are the spec's real seconds.
        let clock = Clock::start(1.0);
        let driver = Driver::new(client, ep, clock, timeout, false)
            .map_err(|e| SinkSetupError::Config(e.to_string()))?;
        Ok(DriverSink {
            driver,
            // Jitter is seeded: below the CLI, randomness is an input.
            machine: Machine::new(cfg, engine::machine_rng(0)),
            window,
            pending: 0,
        })
    }
}

impl DriverSink {
    /// Asks the token endpoint for one token before any record is sent (a spec without OAuth
    /// asks nothing): a refusal that is final for the machine too (a 4xx but 408 and 429) is a
    /// configuration error, [`SinkSetupError::TokenRefused`], rather than one
    /// `TOKEN_REQUEST_FAILED` per record. Any other answer (a token, a 5xx, no answer) lets
    /// the replay go on, where the machine retries as the policy says; a token granted here is
    /// the one the first delivery uses.
    pub async fn check_token_endpoint(&mut self) -> Result<(), SinkSetupError> {
        let Some((mut url, Some(TokenResult::Refused { status, error }))) =
            self.driver.request_token().await
        else {
            return Ok(());
        };
        if !token_refusal_is_final(status) {
            return Ok(());
        }
        let _ = url.set_password(None);
        let _ = url.set_username("");
        url.set_query(None);
        Err(SinkSetupError::TokenRefused {
            url: url.to_string(),
            status,
            error: crate::diag::printable(error.trim()).to_string(),
        })
    }
}

fn checked(url: &str) -> Result<reqwest::Url, SinkSetupError> {
    use crate::net::UrlError;
    crate::net::require_https_or_loopback(url).map_err(|e| match e {
        UrlError::PlainHttp { .. } => SinkSetupError::Insecure(url.to_string()),
        UrlError::Scheme { scheme, .. } => SinkSetupError::BadUrl {
            url: url.to_string(),
            why: format!("scheme `{scheme}` is not http or https"),
        },
        UrlError::NotAUrl { reason, .. } => SinkSetupError::BadUrl {
            url: url.to_string(),
            why: reason,
        },
        e @ UrlError::NoHost { .. } => SinkSetupError::BadUrl {
            url: url.to_string(),
            why: e.to_string(),
        },
    })
}

/// The machine's submission of one record, tagged `tag`: its original payload and key.
fn submission(tag: usize, d: &Delivery<'_>) -> Submission {
    Submission {
        id: SubmissionId {
            seq: tag as u64,
            source: 0,
            origin: tag as u64,
            event_id: d.event_id.into(),
            event_type: d.event_type.into(),
            rule_id: d.rule_id.into(),
        },
        payload: Ok(d.body.clone()),
        idempotency_key: Ok(d.idempotency_key.to_string()),
    }
}

impl ReplaySink for DriverSink {
    fn window(&self) -> usize {
        self.window
    }

    fn submit(&mut self, tag: usize, d: &Delivery<'_>) {
        let now = self.driver.clock().now();
        self.machine.handle_submit(now, submission(tag, d));
        self.pending += 1;
    }

    fn submit_batch(&mut self, members: &[(usize, Delivery<'_>)], key: &str) {
        let now = self.driver.clock().now();
        let subs = members.iter().map(|(tag, d)| submission(*tag, d)).collect();
        self.machine.handle_submit_batch(now, subs, key.to_string());
        self.pending += members.len();
    }

    async fn settled(&mut self) -> Vec<(usize, SinkOutcome)> {
        if self.pending == 0 {
            return Vec::new();
        }
        let now = self.driver.clock().now();
        let mut watch = Await::default();
        wall::drive(
            &mut self.driver,
            &mut self.machine,
            &mut NoArrivals,
            &mut watch,
            now,
            |w| !w.settled.is_empty(),
        )
        .await;
        self.pending = self.pending.saturating_sub(watch.settled.len());
        watch.settled
    }
}

/// What a record the machine dead-lettered again is reported as: the machine's reason, and the
/// CRM's last answer when there was one.
fn dead_lettered(r: &DeadLettered) -> SinkOutcome {
    let reason = format!(
        "{} after {} attempt{}",
        r.reason.as_str(),
        r.attempts,
        if r.attempts == 1 { "" } else { "s" }
    );
    match r.last_status {
        Some(status) => SinkOutcome::Rejected {
            status,
            body: r.last_body.clone().unwrap_or_default(),
            reason,
        },
        None => SinkOutcome::Failed {
            error: match &r.last_error {
                Some(e) => format!("{reason}: {e}"),
                None => reason,
            },
        },
    }
}
