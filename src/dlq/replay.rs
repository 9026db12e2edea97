//! Replay: re-run each record's original event through the spec's current rules and transform,
//! judge the new payload (target schema, size guard, idempotency key), and deliver it with the
//! record's original idempotency key.
//!
//! Delivery goes through [`DriverSink`]: the real HTTP driver of [`crate::http`] driving the
//! simulator's delivery machine, so the spec's retry policy, `Retry-After`, token cache and
//! refresh, and timeouts apply to a replay exactly as to the Event Hub's first attempt, and the
//! record's original key rides on every attempt.
//!
//! The guarantee is at-least-once with the original key: a record's `.replayed` marker is written
//! only after the machine reported the record delivered (a 2xx), so a crash between the answer and the marker resends the
//! same payload with the same key on resume, and a CRM that honours the key applies it once.
//! Writing the marker first would turn that window into silent loss, which is what a DLQ exists
//! to prevent.

use std::future::Future;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::inspect::Found;
use super::store::{Store, MARKER_SUFFIX};
use rand_chacha::ChaCha8Rng;

use crate::delivery::drive::{NoArrivals, Observer};
use crate::delivery::{Config, DeadLettered, HubSettings, Machine, Output, Submission};
use crate::diag::Diagnostic;
use crate::http::driver::{Driver, Endpoints};
use crate::http::wall;
use crate::http::Clock;
use crate::sim::engine;
use crate::spec::model::{Auth, ClientAuth};
use crate::spec::Spec;
use crate::transform::Transform;

/// A rule of the current spec, ready to run.
struct PreparedRule {
    id: String,
    event_type: String,
    conditions: indexmap::IndexMap<String, Vec<Value>>,
    enabled: bool,
    transform: Transform,
}

/// The spec's current rules, transforms and checks, compiled once for many records.
pub struct Replayer {
    rules: Vec<PreparedRule>,
    schema: Option<jsonschema::Validator>,
    /// `crm.maxPayloadBytes`, the size guard.
    pub max_payload_bytes: Option<u64>,
    max_body_bytes: Option<u64>,
    template: String,
    /// The idempotency header of the current spec.
    pub header: String,
    /// Where deliveries go (`channel.destinationUri` or `--target`).
    pub url: String,
    now: DateTime<Utc>,
}

/// Why a record would not be delivered now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Problem {
    /// No enabled rule of the spec matches the event's type and conditions.
    NoMatchingRule,
    /// The matched rule's transform failed.
    TransformFailed { message: String },
    /// The transform produced nothing (JSONata's undefined).
    TransformUndefined,
    /// The payload is over `crm.maxPayloadBytes`.
    PayloadTooLarge { bytes: u64, limit: u64 },
    /// The payload is over `crm.maxBodyBytes` (the CRM would answer 413).
    BodyTooLarge { bytes: u64, limit: u64 },
    /// The payload violates the CRM target schema.
    SchemaViolation { errors: Vec<String> },
    /// The record has no idempotency key and the current template does not render.
    NoIdempotencyKey { message: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoMatchingRule => write!(f, "no enabled rule matches the event"),
            Problem::TransformFailed { message } => write!(f, "transform failed: {message}"),
            Problem::TransformUndefined => write!(f, "transform produced no value"),
            Problem::PayloadTooLarge { bytes, limit } => write!(
                f,
                "payload is {bytes} bytes, over the size guard crm.maxPayloadBytes = {limit}"
            ),
            Problem::BodyTooLarge { bytes, limit } => write!(
                f,
                "payload is {bytes} bytes, over crm.maxBodyBytes = {limit} (the CRM answers 413)"
            ),
            Problem::SchemaViolation { errors } => {
                write!(f, "target schema: {}", errors.join("; "))
            }
            Problem::NoIdempotencyKey { message } => write!(f, "no idempotency key: {message}"),
        }
    }
}

impl Problem {
    /// A short label for summaries (`schema`, `size-guard`, …).
    pub fn label(&self) -> &'static str {
        match self {
            Problem::NoMatchingRule => "no matching rule",
            Problem::TransformFailed { .. } => "transform failed",
            Problem::TransformUndefined => "transform undefined",
            Problem::PayloadTooLarge { .. } => "size guard",
            Problem::BodyTooLarge { .. } => "CRM body limit",
            Problem::SchemaViolation { .. } => "target schema",
            Problem::NoIdempotencyKey { .. } => "no idempotency key",
        }
    }
}

/// What replaying one record under the current spec would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The record's key below the source.
    pub key: String,
    /// The record's event id.
    pub event_id: String,
    /// The record's event type.
    pub event_type: String,
    /// The record's reason and last status, for context.
    pub reason: super::record::Reason,
    pub last_status: Option<u16>,
    /// The rule that matched at dead-letter time.
    pub old_rule: String,
    /// The rule that matches now.
    pub rule: Option<String>,
    /// The payload in the record.
    pub old_payload: Option<Value>,
    /// The payload the current spec produces.
    pub new_payload: Option<Value>,
    /// Size of the new payload as sent (compact JSON), in bytes.
    pub payload_bytes: Option<u64>,
    /// Whether the new payload passes the CRM target schema (absent without a schema or payload).
    pub schema_ok: Option<bool>,
    /// The key sent: the record's original one (or, when it had none, the current template's).
    pub idempotency_key: Option<String>,
    /// Whether `idempotency_key` is the record's own.
    pub original_key: bool,
    /// Why it would not be delivered (empty: it would be).
    pub problems: Vec<Problem>,
    /// Whether the record carries a replay marker (it is not sent again).
    pub already_replayed: bool,
}

impl Evaluation {
    /// Whether the current spec would deliver this record.
    pub fn deliverable(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Replayer {
    /// Prepares a spec for replay. `target` overrides `channel.destinationUri`; `now` is what
    /// `$now()` returns in transforms. Every problem of the spec is returned, not the first.
    pub fn new(
        spec: &Spec,
        target: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Replayer, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in spec.raw.rules.iter().enumerate() {
            let resolved = spec.rules.iter().find(|r| r.index == i);
            let transform = match resolved.map(|r| crate::transform::runner::compile_rule(spec, r))
            {
                Some(Ok(t)) => t,
                Some(Err(d)) => {
                    diags.push(d);
                    continue;
                }
                None => continue,
            };
            rules.push(PreparedRule {
                id: rule.id.clone(),
                event_type: rule.event_type.clone(),
                conditions: rule.conditions.clone(),
                enabled: rule.enabled,
                transform,
            });
        }
        let schema = payload_schema(spec, &mut diags);
        let url = target
            .map(str::to_string)
            .unwrap_or_else(|| spec.raw.channel.destination_uri.clone());
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(Replayer {
            rules,
            schema,
            max_payload_bytes: spec.raw.crm.max_payload_bytes,
            max_body_bytes: spec.raw.crm.max_body_bytes,
            template: spec.raw.idempotency.key.clone(),
            header: spec.raw.idempotency.header.clone(),
            url,
            now,
        })
    }

    /// Judges one record under the current spec. Pure: nothing is sent or written.
    pub fn evaluate(&self, found: &Found) -> Evaluation {
        let rec = &found.record;
        let mut problems = Vec::new();
        let matching: Vec<&PreparedRule> = self
            .rules
            .iter()
            .filter(|r| {
                r.enabled
                    && crate::transform::runner::matches(&rec.event, &r.event_type, &r.conditions)
            })
            .collect();
        // The rule that dead-lettered the record wins when it still matches; otherwise the first
        // matching rule in spec order, as the Event Hub evaluates them.
        let rule = matching
            .iter()
            .find(|r| r.id == rec.rule_id)
            .or(matching.first())
            .copied();
        let mut new_payload = None;
        let mut payload_bytes = None;
        let mut schema_ok = None;
        match rule {
            None => problems.push(Problem::NoMatchingRule),
            Some(r) => match r.transform.eval(&rec.event, self.now) {
                Ok(Some(v)) => new_payload = Some(v),
                Ok(None) => problems.push(Problem::TransformUndefined),
                Err(e) => problems.push(Problem::TransformFailed { message: e.message }),
            },
        }
        if let Some(p) = &new_payload {
            // The same measure as the size guard in `test` and `sim` (compact JSON bytes).
            let bytes = crate::transform::compact_size(p) as u64;
            payload_bytes = Some(bytes);
            if let Some(limit) = self.max_payload_bytes.filter(|&l| bytes > l) {
                problems.push(Problem::PayloadTooLarge { bytes, limit });
            }
            if let Some(limit) = self.max_body_bytes.filter(|&l| bytes > l) {
                problems.push(Problem::BodyTooLarge { bytes, limit });
            }
            if let Some(schema) = &self.schema {
                let errors: Vec<String> = schema
                    .iter_errors(p)
                    .map(|e| {
                        let at = e.instance_path().to_string();
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("{at}: {e}")
                        }
                    })
                    .collect();
                schema_ok = Some(errors.is_empty());
                if !errors.is_empty() {
                    problems.push(Problem::SchemaViolation { errors });
                }
            }
        }
        let (idempotency_key, original_key) = match &rec.idempotency_key {
            Some(k) => (Some(k.clone()), true),
            None => match render_key(&self.template, &rec.event) {
                Ok(k) => (Some(k), false),
                Err(message) => {
                    problems.push(Problem::NoIdempotencyKey { message });
                    (None, false)
                }
            },
        };
        Evaluation {
            key: found.key.clone(),
            event_id: rec.event_id.clone(),
            event_type: rec.event_type.clone(),
            reason: rec.reason,
            last_status: rec.last_status,
            old_rule: rec.rule_id.clone(),
            rule: rule.map(|r| r.id.clone()),
            old_payload: rec.payload.clone(),
            new_payload,
            payload_bytes,
            schema_ok,
            idempotency_key,
            original_key,
            problems,
            already_replayed: found.replayed,
        }
    }
}

/// The CRM target schema the loader read from `crm.payloadSchema`, compiled once.
fn payload_schema(spec: &Spec, diags: &mut Vec<Diagnostic>) -> Option<jsonschema::Validator> {
    let ptr = "/crm/payloadSchema";
    let value = spec.payload_schema.as_ref()?;
    match jsonschema::validator_for(value) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(spec.diag_at(
                Diagnostic::error(
                    "E803",
                    format!("crm.payloadSchema is not a valid JSON Schema: {e}"),
                ),
                ptr,
            ));
            None
        }
    }
}

/// Renders an idempotency template (`${interaction.id}_${event.type}`) with the simulator's
/// renderer, so replay and delivery agree; a missing field is an error, never an empty string.
pub fn render_key(template: &str, event: &Value) -> Result<String, String> {
    crate::delivery::idempotency::Template::parse(template)
        .and_then(|t| t.render(event))
        .map_err(|e| e.to_string())
}

/// One request of a replay.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The record's event id.
    pub event_id: &'a str,
    /// The record's event type.
    pub event_type: &'a str,
    /// The rule that produced the payload.
    pub rule_id: &'a str,
    /// Always `POST`, as the Event Hub delivers.
    pub method: &'static str,
    /// The CRM endpoint ([`DriverSink`] was built for this same URL).
    pub url: &'a str,
    /// The spec's idempotency header name.
    pub idempotency_header: &'a str,
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
pub trait ReplaySink {
    /// Delivers one record until it is settled (retries are the sink's business): anything
    /// but `Delivered` leaves the record un-replayed.
    fn send(&mut self, d: &Delivery<'_>) -> impl Future<Output = SinkOutcome> + Send;
}

/// How a replay treats records and markers.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Delete replayed records (and their markers) after a delivery or from an earlier run.
    pub purge: bool,
    /// The time written into markers.
    pub now: DateTime<Utc>,
    /// Stop after this many records in a row ended without a 2xx, each after the sink's
    /// retries (the CRM is down: the rest would only wait out their retries). `None` never stops.
    pub max_consecutive_failures: Option<u32>,
}

/// What happened to one record in a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// Sent and answered 2xx; the marker is written.
    Delivered { status: u16, purged: bool },
    /// Already replayed by an earlier run; not sent.
    AlreadyReplayed { purged: bool },
    /// Not sent: the current spec would not deliver it.
    Skipped { problems: Vec<String> },
    /// Sent, settled without a 2xx (the last answer, and the delivery machine's reason); the
    /// record stays for the next run.
    Rejected {
        status: u16,
        body: String,
        reason: String,
    },
    /// Sent, no answer; the record stays for the next run.
    Failed { error: String },
    /// Delivered, but the marker could not be written: a resume resends it with the same key.
    MarkerFailed { status: u16, error: String },
    /// Not tried: the replay stopped after too many failures in a row.
    NotAttempted,
}

/// The marker object written after a record's successful delivery.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// Marker format version (1).
    pub version: u32,
    /// The replayed record's event id.
    pub event_id: String,
    /// When it was delivered (RFC 3339, `--now`).
    pub replayed_at: String,
    /// The CRM's 2xx status.
    pub status: u16,
    /// Where it was delivered.
    pub url: String,
    /// The key it was delivered with.
    pub idempotency_key: String,
}

/// Replays evaluated records in order, writing a marker after each 2xx.
pub async fn replay<S: ReplaySink>(
    store: &Store,
    replayer: &Replayer,
    evals: &[Evaluation],
    sink: &mut S,
    opts: &ReplayOptions,
) -> Vec<(String, Outcome)> {
    let mut out = Vec::new();
    let mut failures_in_a_row = 0;
    for ev in evals {
        if opts
            .max_consecutive_failures
            .is_some_and(|max| failures_in_a_row >= max)
        {
            out.push((ev.event_id.clone(), Outcome::NotAttempted));
            continue;
        }
        let outcome = replay_one(store, replayer, ev, sink, opts).await;
        match outcome {
            Outcome::Rejected { .. } | Outcome::Failed { .. } => failures_in_a_row += 1,
            Outcome::Delivered { .. } | Outcome::MarkerFailed { .. } => failures_in_a_row = 0,
            _ => {}
        }
        out.push((ev.event_id.clone(), outcome));
    }
    out
}

async fn replay_one<S: ReplaySink>(
    store: &Store,
    replayer: &Replayer,
    ev: &Evaluation,
    sink: &mut S,
    opts: &ReplayOptions,
) -> Outcome {
    let marker_key = format!("{}{MARKER_SUFFIX}", ev.key);
    if ev.already_replayed {
        let purged = opts.purge && purge(store, &ev.key, &marker_key).await.is_ok();
        return Outcome::AlreadyReplayed { purged };
    }
    let (Some(body), Some(key), true) = (&ev.new_payload, &ev.idempotency_key, ev.deliverable())
    else {
        return Outcome::Skipped {
            problems: ev.problems.iter().map(|p| p.to_string()).collect(),
        };
    };
    let d = Delivery {
        event_id: &ev.event_id,
        event_type: &ev.event_type,
        rule_id: ev.rule.as_deref().unwrap_or(&ev.old_rule),
        method: "POST",
        url: &replayer.url,
        idempotency_header: &replayer.header,
        idempotency_key: key,
        body,
    };
    match sink.send(&d).await {
        SinkOutcome::Delivered { status } => {
            let marker = Marker {
                version: 1,
                event_id: ev.event_id.clone(),
                replayed_at: opts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                status,
                url: replayer.url.clone(),
                idempotency_key: key.clone(),
            };
            let bytes = serde_json::to_vec_pretty(&marker).unwrap_or_default();
            if let Err(e) = store.put(&marker_key, bytes).await {
                return Outcome::MarkerFailed {
                    status,
                    error: e.to_string(),
                };
            }
            let purged = opts.purge && purge(store, &ev.key, &marker_key).await.is_ok();
            Outcome::Delivered { status, purged }
        }
        SinkOutcome::Rejected {
            status,
            body,
            reason,
        } => Outcome::Rejected {
            status,
            body,
            reason,
        },
        SinkOutcome::Failed { error } => Outcome::Failed { error },
    }
}

/// Deletes a record, then its marker: a crash in between leaves only a harmless marker.
async fn purge(store: &Store, key: &str, marker_key: &str) -> Result<(), super::store::StoreError> {
    store.delete(key).await?;
    store.delete(marker_key).await
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
/// record is submitted with its original key and driven until the machine settles it, one
/// record at a time, so a record is marked only once the machine reports it delivered.
pub struct DriverSink {
    driver: Driver,
    machine: Machine<ChaCha8Rng>,
    seq: u64,
}

/// Watches the one driver loop for the record being replayed.
struct Await {
    seq: u64,
    outcome: Option<SinkOutcome>,
}

impl Observer for Await {
    fn settled(&mut self, output: &Output) {
        match output {
            Output::Delivered(x) if x.seq == self.seq => {
                self.outcome = Some(SinkOutcome::Delivered {
                    status: x.status.unwrap_or(200),
                })
            }
            Output::DeadLettered(x) if x.seq == self.seq => self.outcome = Some(dead_lettered(x)),
            _ => {}
        }
    }
}

impl DriverSink {
    /// Builds the sink from the spec's channel and retry policy. `url` is where deliveries go,
    /// `token_url` overrides the token endpoint, `secret_var` names the variable holding the
    /// client secret (or bearer token). `epoch` is the wall-clock instant the machine's time
    /// starts at (it dates `Retry-After` HTTP dates).
    pub fn from_spec(
        spec: &Spec,
        url: &str,
        token_url: Option<&str>,
        secret_var: Option<&str>,
        vars: &std::collections::BTreeMap<String, String>,
        epoch: SystemTime,
    ) -> Result<DriverSink, SinkSetupError> {
        let ch = &spec.raw.channel;
        let crm = checked(url)?;
        let mut headers: Vec<(String, String)> = ch
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(&spec.raw.idempotency.header))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (token, client_id, client_secret, client_auth, scopes) = match &ch.auth {
            Auth::None {} => (None, String::new(), String::new(), ClientAuth::Body, vec![]),
            Auth::Bearer { token } => {
                // A resolved token in the headers wins over the machine's unresolved reference.
                let t = secret("channel.auth.token", token, secret_var, vars)?;
                headers.push(("Authorization".into(), format!("Bearer {t}")));
                (None, String::new(), String::new(), ClientAuth::Body, vec![])
            }
            Auth::OAuth2ClientCredentials {
                token_endpoint,
                client_id,
                client_secret,
                client_auth,
                scopes,
                ..
            } => (
                Some(checked(token_url.unwrap_or(token_endpoint))?),
                client_id.clone(),
                secret("channel.auth.clientSecret", client_secret, secret_var, vars)?,
                *client_auth,
                scopes.clone(),
            ),
        };
        let hub = HubSettings {
            concurrency: 1,
            epoch,
            ..HubSettings::default()
        };
        let mut cfg =
            Config::from_spec(&spec.raw, hub).map_err(|e| SinkSetupError::Config(e.to_string()))?;
        // One record per request: a batch would join keys, and each record must carry its own
        // original key. Alerts are the Event Hub's business, not a person's replay.
        cfg.batch_size = 1;
        cfg.alert_endpoint = None;
        let timeout = cfg.timeout;
        let ep = Endpoints {
            crm,
            token,
            alert: None,
            client_id,
            client_secret,
            client_auth,
            scopes,
            headers,
            send_seq: false,
        };
        let client =
            crate::http::http_client(1).map_err(|e| SinkSetupError::Client(e.to_string()))?;
        // Real time (scale 1), wall-clock mode: timers are the spec's real seconds.
        let clock = Clock::start(1.0);
        let driver = Driver::new(client, ep, clock, timeout, false)
            .map_err(|e| SinkSetupError::Config(e.to_string()))?;
        Ok(DriverSink {
            driver,
            // Jitter is seeded: below the CLI, randomness is an input.
            machine: Machine::new(cfg, engine::machine_rng(0)),
            seq: 0,
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

impl ReplaySink for DriverSink {
    async fn send(&mut self, d: &Delivery<'_>) -> SinkOutcome {
        self.seq += 1;
        let seq = self.seq;
        let now = self.driver.clock().now();
        self.machine.handle_submit(
            now,
            Submission {
                seq,
                source: 0,
                event_id: d.event_id.to_string(),
                event_type: d.event_type.to_string(),
                rule_id: d.rule_id.to_string(),
                // Only read to render a key, and the key is given.
                event: Value::Null,
                payload: Ok(d.body.clone()),
                idempotency_key: Some(d.idempotency_key.to_string()),
            },
        );
        let mut watch = Await { seq, outcome: None };
        wall::drive(
            &mut self.driver,
            &mut self.machine,
            &mut NoArrivals,
            &mut watch,
            now,
            |w| w.outcome.is_some(),
        )
        .await;
        watch.outcome.unwrap_or_else(|| SinkOutcome::Failed {
            error: "the delivery machine stopped without settling the record".into(),
        })
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
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A CRM that takes `accept` deliveries, then fails every one; it remembers the keys it took.
    struct FlakySink {
        accept: usize,
        taken: Vec<String>,
    }

    impl ReplaySink for FlakySink {
        async fn send(&mut self, d: &Delivery<'_>) -> SinkOutcome {
            if self.taken.len() < self.accept {
                self.taken.push(d.idempotency_key.to_string());
                SinkOutcome::Delivered { status: 201 }
            } else {
                SinkOutcome::Failed {
                    error: "connection reset".into(),
                }
            }
        }
    }

    #[tokio::test]
    async fn a_sink_failing_after_k_records_resumes_without_duplicates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let opts = crate::spec::LoadOptions {
            vars: [("CRM_CLIENT_SECRET".to_string(), "s3cr3t-value".to_string())].into(),
            ..Default::default()
        };
        let loaded = crate::spec::load(&root.join("fixtures/dlq/fixed.yaml"), &opts);
        let spec = loaded.spec.expect("fixture spec loads");
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-16T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let replayer = Replayer::new(&spec, None, now).unwrap_or_else(|d| panic!("{d:?}"));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &super::super::store::Source::Folder(dir.path().into()),
            &Default::default(),
        )
        .unwrap();
        let day =
            root.join("fixtures/dlq/store/cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15");
        for e in std::fs::read_dir(day).unwrap() {
            let rec =
                super::super::inspect::parse_record(&std::fs::read(e.unwrap().path()).unwrap())
                    .unwrap();
            store.put_record(&rec).await.unwrap();
        }
        let opts = ReplayOptions {
            purge: false,
            now,
            max_consecutive_failures: None,
        };
        let mut taken = Vec::new();
        for accept in [2, 1, 10] {
            let scan = super::super::inspect::scan(&store).await.unwrap();
            let evals: Vec<Evaluation> =
                scan.records.iter().map(|f| replayer.evaluate(f)).collect();
            let mut sink = FlakySink {
                accept,
                taken: Vec::new(),
            };
            replay(&store, &replayer, &evals, &mut sink, &opts).await;
            taken.extend(sink.taken);
        }
        let unique: std::collections::BTreeSet<&String> = taken.iter().collect();
        assert_eq!(taken.len(), 5, "{taken:?}");
        assert_eq!(unique.len(), 5, "a key was delivered twice: {taken:?}");
    }

    #[test]
    fn key_templates_render_and_refuse_missing_fields() {
        let ev = json!({"interaction": {"id": 42}, "event": {"type": "interaction.ended"}});
        assert_eq!(
            render_key("${interaction.id}_${event.type}", &ev).unwrap(),
            "42_interaction.ended"
        );
        assert!(render_key("${interaction.id}_${agent.id}", &ev).is_err());
    }

    #[test]
    fn plain_http_targets_only_on_loopback() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("https://crm.example.com/x").is_ok());
        assert!(check_url("http://crm.example.com/x").is_err());
    }
}
