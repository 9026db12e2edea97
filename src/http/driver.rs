//! The tokio driver of the delivery machine: sends what the machine asks for over reqwest and
//! hands back what came off the wire, stamped with [`Clock`] time.
//!
//! Like quinn's async layer over quinn-proto, this file makes no delivery decision: it has no
//! retry, backoff, classification or token-cache logic. It turns [`Transmit`]s into HTTP
//! requests (the client-credentials token request, CRM writes with Bearer, idempotency and the
//! spec's headers, DLQ alert webhook calls) and their results into `handle_response`,
//! `handle_failure` and `handle_token` calls. Timeouts are the machine's own timers; the HTTP
//! client's timeout is set longer only so that an abandoned request frees its connection.
//!
//! Two clocks. **Paced** (`sim --http`, the default): virtual time is paced on the real clock
//! (`--time-scale`) but stands still while a request is on the wire; each request carries its
//! virtual send instant, the in-process mock judges it at that instant, and its result is handed
//! back at send time plus the latency the model decided, in the engine's `(time, sequence)`
//! order. Requests of one instant go out one after another, in the machine's order. A
//! millisecond of real I/O therefore never becomes a compressed second, and the run reproduces
//! [`crate::sim::engine::run`] exactly: same outcomes, same report. **Wall clock** (`--target`,
//! the benchmark): arrivals at their scheduled instants, timers at their deadlines, results at
//! the clock's reading when they arrive, requests overlapping up to the hub's concurrency; this is
//! how a real Event Hub meets a real CRM.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::mock::{
    MockCrm, MockOptions, MOCK_CLIENT_SECRET, REQUEST_ID_HEADER, SEQ_HEADER, SIM_TIME_HEADER,
};
use super::{Clock, HttpError};
use crate::delivery::{
    rfc3339, Alert, Config, CrmRequest, Failure, Machine, Response, Time, TokenResult, Transmit,
};
use crate::sim::crm::Reply;
use crate::sim::engine::{self, Feed, Ledger, Options, Sinks};
use crate::sim::report::Report;
use crate::sim::route::Inputs;
use crate::sim::scenario::Scenario;
use crate::spec::model::{Auth, ClientAuth};
use crate::spec::Spec;

/// Where requests go and how the driver authenticates.
#[derive(Clone)]
pub struct Endpoints {
    pub crm: Url,
    pub token: Option<Url>,
    pub alert: Option<Url>,
    pub client_id: String,
    /// Never printed; `Debug` is not derived for this reason.
    pub client_secret: String,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
    /// The spec's channel headers (`Content-Type`, …).
    pub headers: Vec<(String, String)>,
    /// Send [`SEQ_HEADER`] (only to the mock).
    pub send_seq: bool,
}

/// Options of a run over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Real seconds per simulated second (`0.01`: a simulated second lasts 10 ms).
    pub time_scale: f64,
    /// Paced virtual time (the default): the clock stands still while a request is on the
    /// wire, so the run reproduces virtual time exactly. Off: wall-clock mode, where requests
    /// overlap freely and real I/O time counts (what the benchmark measures).
    pub paced: bool,
}

/// One request's result, sent back to the driver's loop.
pub enum Done {
    Crm {
        id: u64,
        sent: Time,
        attempt: u32,
        result: CrmResult,
    },
    Token {
        id: u64,
        sent: Time,
        /// `None`: the HTTP client gave up (the machine's own timer decides).
        result: Option<TokenResult>,
    },
    /// A DLQ alert webhook call failed.
    AlertFailed,
}

/// What a CRM request came to.
pub enum CrmResult {
    Response(Response),
    Failed(Failure),
    /// The HTTP client gave up; the machine's own timer decides.
    Abandoned,
}

type Task = std::pin::Pin<Box<dyn std::future::Future<Output = Done> + Send>>;

/// The I/O half: a reqwest client, the tasks in flight and their results.
pub struct Driver {
    client: reqwest::Client,
    ep: Endpoints,
    base_headers: HeaderMap,
    clock: Clock,
    timeout: Time,
    /// Paced mode (`sim --http` against the in-process mock): requests carry their virtual send
    /// time and id, and the requests of one instant are sent one after another, in the
    /// machine's order, so the model judges them in the engine's order.
    paced: bool,
    tx: mpsc::UnboundedSender<Done>,
    rx: mpsc::UnboundedReceiver<Done>,
    tasks: JoinSet<()>,
    retry_second: (u64, u64),
    /// Alert webhook calls that failed (reported, never retried: the guide calls them fire and
    /// forget).
    pub alert_failures: u64,
}

/// What woke the loop.
pub enum Step {
    /// A request finished (its result already handed to the machine).
    Completed,
    /// The deadline passed.
    Due,
}

impl Driver {
    /// A driver for a machine whose requests time out after `timeout` virtual ms.
    pub fn new(
        client: reqwest::Client,
        ep: Endpoints,
        clock: Clock,
        timeout: Time,
        paced: bool,
    ) -> Result<Driver, HttpError> {
        let mut base_headers = HeaderMap::new();
        base_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (k, v) in &ep.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                HttpError::Config(format!("channel.headers: `{k}` is not a valid header name"))
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                HttpError::Config(format!(
                    "channel.headers.{k}: the value is not a valid header value"
                ))
            })?;
            base_headers.insert(name, value);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Driver {
            client,
            ep,
            base_headers,
            clock,
            timeout,
            paced,
            tx,
            rx,
            tasks: JoinSet::new(),
            retry_second: (0, 0),
            alert_failures: 0,
        })
    }

    /// The driver's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Sends everything the machine wants sent; returns the ids of the CRM and token requests
    /// sent (each will produce exactly one [`Done`]).
    pub fn flush(
        &mut self,
        machine: &mut Machine<ChaCha8Rng>,
        rep: &mut Report,
        now: Time,
    ) -> Vec<u64> {
        while self.tasks.try_join_next().is_some() {}
        let mut sent = Vec::new();
        let mut chain: Vec<Task> = Vec::new();
        while let Some(t) = machine.poll_transmit() {
            match t {
                Transmit::Crm(req) => {
                    sent.push(req.id);
                    let task = self.crm_task(req, now);
                    if self.paced {
                        chain.push(task);
                    } else {
                        self.spawn(task);
                    }
                }
                Transmit::Token { id } => {
                    sent.push(id);
                    engine::observe_token_request(rep, now);
                    let task = self.token_task(id, now);
                    self.spawn(task);
                }
                Transmit::Alert(a) => {
                    rep.alerts += 1;
                    let body = alert_body(machine.config(), &a);
                    self.send_alert(body);
                }
            }
        }
        if !chain.is_empty() {
            let tx = self.tx.clone();
            self.tasks.spawn(async move {
                for task in chain {
                    let _ = tx.send(task.await);
                }
            });
        }
        sent
    }

    fn spawn(&mut self, task: Task) {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let _ = tx.send(task.await);
        });
    }

    /// The next result.
    pub async fn recv(&mut self) -> Option<Done> {
        self.rx.recv().await
    }

    /// The HTTP client's timeout: past the machine's, so the machine decides, but bounded, so
    /// an abandoned request frees its connection.
    fn client_timeout(&self) -> Duration {
        let t = self.clock.real(self.timeout) * 3 / 2 + Duration::from_millis(50);
        // Paced, the machine's timeout is the model's decision, not the client's: the client
        // only needs to outlast a loaded machine.
        if self.paced {
            t.max(Duration::from_secs(10))
        } else {
            t
        }
    }

    fn paced_headers(&self, headers: &mut HeaderMap, id: u64, sent: Time) {
        if self.paced {
            headers.insert(
                HeaderName::from_static(SIM_TIME_HEADER),
                HeaderValue::from(sent),
            );
            headers.insert(
                HeaderName::from_static(REQUEST_ID_HEADER),
                HeaderValue::from(id),
            );
        }
    }

    fn crm_task(&self, req: CrmRequest, sent: Time) -> Task {
        let mut headers = self.base_headers.clone();
        // A resolved static token in the channel headers wins over the spec's reference.
        if let Some(b) = req
            .bearer
            .as_ref()
            .filter(|_| !headers.contains_key(AUTHORIZATION))
        {
            if let Ok(v) = HeaderValue::from_str(&format!("Bearer {b}")) {
                headers.insert(AUTHORIZATION, v);
            }
        }
        let (name, key) = &req.idempotency;
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(key),
        ) {
            headers.insert(n, v);
        }
        if self.ep.send_seq {
            let seqs: Vec<String> = req.seqs.iter().map(u64::to_string).collect();
            if let Ok(v) = HeaderValue::from_str(&seqs.join(",")) {
                headers.insert(HeaderName::from_static(SEQ_HEADER), v);
            }
        }
        self.paced_headers(&mut headers, req.id, sent);
        let rb = self
            .client
            .post(self.ep.crm.clone())
            .headers(headers)
            .timeout(self.client_timeout())
            .body(req.body);
        let (id, attempt) = (req.id, req.attempt);
        Box::pin(async move {
            let result = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match resp.text().await {
                        Ok(body) => CrmResult::Response(Response {
                            status,
                            retry_after,
                            body,
                        }),
                        Err(e) if e.is_timeout() => CrmResult::Abandoned,
                        // The connection closed in the middle of the body.
                        Err(_) => CrmResult::Failed(Failure::Reset),
                    }
                }
                Err(e) if e.is_timeout() => CrmResult::Abandoned,
                Err(_) => CrmResult::Failed(Failure::Reset),
            };
            Done::Crm {
                id,
                sent,
                attempt,
                result,
            }
        })
    }

    fn token_task(&self, id: u64, sent: Time) -> Task {
        let Some(url) = self.ep.token.clone() else {
            return Box::pin(async move {
                Done::Token {
                    id,
                    sent,
                    result: Some(TokenResult::Refused {
                        status: 0,
                        error: "no token endpoint".into(),
                    }),
                }
            });
        };
        let mut form: Vec<(&str, String)> = vec![("grant_type", "client_credentials".into())];
        if !self.ep.scopes.is_empty() {
            form.push(("scope", self.ep.scopes.join(" ")));
        }
        let mut headers = HeaderMap::new();
        self.paced_headers(&mut headers, id, sent);
        let mut rb = self
            .client
            .post(url)
            .headers(headers)
            .timeout(self.client_timeout());
        match self.ep.client_auth {
            ClientAuth::Body => {
                form.push(("client_id", self.ep.client_id.clone()));
                form.push(("client_secret", self.ep.client_secret.clone()));
            }
            ClientAuth::Basic => {
                rb = rb.basic_auth(&self.ep.client_id, Some(&self.ep.client_secret));
            }
        }
        let rb = rb.form(&form);
        Box::pin(async move {
            let result = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.text().await {
                        Ok(body) => Some(token_result(status, &body)),
                        Err(e) if e.is_timeout() => None,
                        Err(_) => Some(TokenResult::Failed(Failure::Reset)),
                    }
                }
                Err(e) if e.is_timeout() => None,
                Err(_) => Some(TokenResult::Failed(Failure::Reset)),
            };
            Done::Token { id, sent, result }
        })
    }

    fn send_alert(&mut self, body: Value) {
        let Some(url) = self.ep.alert.clone() else {
            return;
        };
        let rb = self
            .client
            .post(url)
            .json(&body)
            .timeout(self.client_timeout());
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let ok = rb.send().await.is_ok_and(|r| r.status().is_success());
            if !ok {
                let _ = tx.send(Done::AlertFailed);
            }
        });
    }

    /// Real-clock mode (`--target`): waits for a result or for virtual time `deadline`,
    /// whichever is first. A result is handed to the machine at the clock's reading.
    pub async fn wait(
        &mut self,
        deadline: Time,
        machine: &mut Machine<ChaCha8Rng>,
        rep: &mut Report,
        now: &mut Time,
    ) -> Step {
        let at = self.clock.instant(deadline);
        let done = if at <= tokio::time::Instant::now() {
            // Behind schedule: take what already arrived first, without waiting.
            match self.rx.try_recv() {
                Ok(d) => d,
                Err(_) => return Step::Due,
            }
        } else {
            tokio::select! {
                d = self.rx.recv() => match d {
                    Some(d) => d,
                    None => return Step::Due,
                },
                _ = tokio::time::sleep_until(at) => return Step::Due,
            }
        };
        *now = (*now).max(self.clock.now());
        self.complete(done, machine, rep, *now, None);
        Step::Completed
    }

    /// Records a result in the report and hands it to the machine at `now`. `latency` is the
    /// request's duration in virtual time (default: `now - sent`); a result that took the
    /// channel's timeout or longer is a timeout, whatever arrives later.
    pub fn complete(
        &mut self,
        done: Done,
        machine: &mut Machine<ChaCha8Rng>,
        rep: &mut Report,
        now: Time,
        latency: Option<u64>,
    ) {
        match done {
            Done::Crm {
                id,
                sent,
                attempt,
                result,
            } => {
                let latency = latency.unwrap_or(now.saturating_sub(sent));
                let stub = CrmRequest {
                    id,
                    attempt,
                    bearer: None,
                    idempotency: (String::new(), String::new()),
                    body: String::new(),
                    is_array: false,
                    seqs: Vec::new(),
                };
                let reply = match &result {
                    CrmResult::Response(r) => Reply::Http {
                        latency,
                        response: r.clone(),
                    },
                    CrmResult::Failed(_) => Reply::Reset { latency },
                    CrmResult::Abandoned => Reply::Silence,
                };
                engine::observe_request(
                    rep,
                    &stub,
                    &reply,
                    sent,
                    self.timeout,
                    &mut self.retry_second,
                );
                if latency >= self.timeout {
                    return;
                }
                match result {
                    CrmResult::Response(r) => machine.handle_response(now, id, r),
                    CrmResult::Failed(f) => machine.handle_failure(now, id, f),
                    CrmResult::Abandoned => {}
                }
            }
            Done::Token { id, sent, result } => {
                let latency = latency.unwrap_or(now.saturating_sub(sent));
                if let Some(r) = result.filter(|_| latency < self.timeout) {
                    machine.handle_token(now, id, r);
                }
            }
            Done::AlertFailed => self.alert_failures += 1,
        }
    }

    /// Cancels whatever is still in flight and counts failed alerts already reported.
    pub fn shutdown(&mut self) {
        self.tasks.abort_all();
        while let Ok(d) = self.rx.try_recv() {
            if let Done::AlertFailed = d {
                self.alert_failures += 1;
            }
        }
    }
}

/// The wall-clock loop (`--target`, and `sim --http` unpaced): arrivals at their scheduled
/// instants, timers at their deadlines, results at the clock's reading when they arrive. Returns
/// the virtual time it ended at.
#[allow(clippy::too_many_arguments)]
pub async fn drive_wall(
    driver: &mut Driver,
    machine: &mut Machine<ChaCha8Rng>,
    feed: &mut Feed<'_>,
    ledger: &mut Ledger,
    rep: &mut Report,
    inputs: &Inputs,
    epoch: std::time::SystemTime,
    sinks: &mut Sinks<'_>,
) -> Time {
    let template = machine.config().idempotency.clone();
    let total = feed.total();
    let mut now: Time = 0;
    loop {
        driver.flush(machine, rep, now);
        while let Some(o) = machine.poll_output() {
            ledger.settle(rep, &o, sinks);
        }
        engine::observe_pending(rep);
        let next = match (machine.poll_timeout(), feed.next_at()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        if let Step::Completed = driver.wait(next, machine, rep, &mut now).await {
            continue;
        }
        // The deadline passed: hand in its scheduled instant, not the (later) clock reading.
        now = now.max(next);
        while feed.next_at().is_some_and(|at| at <= now) {
            let (k, event) = feed.pop(now);
            let done = feed.arrived();
            if done % 256 == 0 || done == total {
                (sinks.progress)(done, total);
            }
            ledger.arrive(rep, inputs, &template, machine, now, epoch, k, event);
        }
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }
    now
}

/// The DLQ alert webhook body: `{channelId, deadLettered, reasons, at}`.
fn alert_body(cfg: &Config, a: &Alert) -> Value {
    let reasons: serde_json::Map<String, Value> = a
        .reasons
        .iter()
        .map(|(r, n)| (r.as_str().to_string(), Value::from(*n)))
        .collect();
    serde_json::json!({
        "channelId": cfg.channel,
        "deadLettered": a.dead_lettered,
        "reasons": reasons,
        "at": rfc3339(cfg.hub.epoch, a.at),
    })
}

/// Reads a token endpoint response (RFC 6749 §5.1 and §5.2).
pub fn token_result(status: u16, body: &str) -> TokenResult {
    let json: Option<Value> = serde_json::from_str(body).ok();
    if (200..300).contains(&status) {
        let token = json
            .as_ref()
            .and_then(|j| j.get("access_token"))
            .and_then(Value::as_str);
        let expires_in = json
            .as_ref()
            .and_then(|j| j.get("expires_in"))
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            });
        return match token {
            Some(t) if !t.is_empty() => TokenResult::Granted {
                access_token: t.to_string(),
                expires_in,
            },
            _ => TokenResult::Refused {
                status,
                error: "the token response has no access_token".into(),
            },
        };
    }
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.chars().take(100).collect());
    TokenResult::Refused { status, error }
}

/// Runs a scenario over real HTTP against the mock CRM, with time compressed by
/// `http.time_scale`. The report has the shape (and, for deterministic scenarios, the outcomes)
/// of [`engine::run`].
pub async fn run(
    spec: &Spec,
    inputs: &Inputs,
    sc: &Scenario,
    opts: &Options,
    http: &HttpOptions,
    sinks: &mut Sinks<'_>,
) -> Result<Report, HttpError> {
    let epoch = engine::epoch(spec, sc);
    let cfg = engine::machine_config(spec, sc, opts, epoch)
        .map_err(|e| HttpError::Config(e.to_string()))?;
    let template = cfg.idempotency.clone();
    let timeout = cfg.timeout;
    let concurrency = cfg.hub.concurrency;
    let clock = Clock::start(http.time_scale);
    let mock = MockCrm::start(
        &spec.raw,
        sc,
        inputs.payload_schema.as_ref(),
        clock,
        &MockOptions {
            port: 0,
            seed: opts.seed,
        },
    )
    .await?;
    let (client_id, client_auth, scopes) = match &spec.raw.channel.auth {
        Auth::OAuth2ClientCredentials {
            client_id,
            client_auth,
            scopes,
            ..
        } => (client_id.clone(), *client_auth, scopes.clone()),
        _ => (String::new(), ClientAuth::Body, Vec::new()),
    };
    let ep = Endpoints {
        crm: mock.crm_url(),
        token: Some(mock.token_url()),
        alert: spec
            .raw
            .dead_letter_queue
            .alert_endpoint
            .as_ref()
            .map(|_| mock.alert_url()),
        client_id,
        client_secret: MOCK_CLIENT_SECRET.to_string(),
        client_auth,
        scopes,
        headers: spec
            .raw
            .channel
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        send_seq: true,
    };
    let client = super::http_client(concurrency)?;
    // Warm up: the first connection and the server's first request cost milliseconds that a
    // compressed clock would turn into simulated seconds. Virtual time starts afterwards.
    for _ in 0..2 {
        let _ = client.get(mock.crm_url()).send().await;
    }
    let clock = Clock::start(http.time_scale);
    mock.set_clock(clock);
    let mut driver = Driver::new(client, ep, clock, timeout, http.paced)?;
    let mut machine = Machine::new(cfg, engine::machine_rng(opts.seed));
    let mut feed = Feed::new(inputs, sc, opts.events, epoch);
    let total = feed.total();
    let mut rep = engine::new_report(spec, sc, opts, epoch, total, mock.state().model());
    rep.notes.push(format!(
        "over HTTP against the loopback mock CRM, time scale {} ({})",
        clock.scale(),
        if http.paced {
            format!(
                "an idle simulated second lasted {} ms; the clock stood still while bytes were on the wire",
                clock.real(1000).as_secs_f64() * 1000.0
            )
        } else {
            "wall clock".to_string()
        }
    ));
    let mut ledger = Ledger::default();
    if !http.paced {
        let now = drive_wall(
            &mut driver,
            &mut machine,
            &mut feed,
            &mut ledger,
            &mut rep,
            inputs,
            epoch,
            sinks,
        )
        .await;
        driver.shutdown();
        let st = mock.state();
        fault_note(&mut rep, &st.tally);
        engine::throttle_notes(&mut rep, spec, st.model());
        ledger.finish(&mut rep, now, st.model(), &machine);
        return Ok(rep);
    }

    // Happenings in the engine's order: results keyed by (virtual time, sequence), the
    // sequence taken when the request was sent, as the engine pushes a reply when it sends.
    let mut results: BTreeMap<(Time, u64), (Done, u64)> = BTreeMap::new();
    let mut seq_of: HashMap<u64, u64> = HashMap::new();
    let mut hseq: u64 = 0;
    let mut arrival_seq: u64 = 0;
    let mut now: Time = 0;
    // Virtual time is paced on the real clock from an anchor, and stands still while a
    // request is on the wire: a millisecond of real I/O must not become a compressed second.
    let mut anchor = (tokio::time::Instant::now(), 0u64);
    loop {
        for id in driver.flush(&mut machine, &mut rep, now) {
            hseq += 1;
            seq_of.insert(id, hseq);
        }
        while let Some(o) = machine.poll_output() {
            ledger.settle(&mut rep, &o, sinks);
        }
        engine::observe_pending(&mut rep);
        if !seq_of.is_empty() {
            let Some(done) = driver.recv().await else {
                break;
            };
            let (id, sent, gave_up) = match &done {
                Done::Crm {
                    id, sent, result, ..
                } => (*id, *sent, matches!(result, CrmResult::Abandoned)),
                Done::Token { id, sent, result } => (*id, *sent, result.is_none()),
                Done::AlertFailed => {
                    driver.alert_failures += 1;
                    continue;
                }
            };
            let seq = seq_of.remove(&id).unwrap_or(0);
            let decided = mock.state().take_decision(id);
            match decided {
                Some(Some(latency)) if !gave_up && latency < timeout => {
                    results.insert((sent + latency, seq), (done, latency));
                }
                // No answer in time (or none at all): only the report learns of it; the
                // machine's own timer decides.
                _ => driver.complete(done, &mut machine, &mut rep, now, Some(u64::MAX)),
            }
            anchor = (tokio::time::Instant::now(), now);
            continue;
        }
        let entry = results.keys().next().copied();
        let arrival = feed.next_at().map(|t| (t, arrival_seq));
        let first = match (entry, arrival) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timer = machine.poll_timeout();
        let (at, fire_timer) = match (timer, first) {
            (None, None) => break,
            (Some(t), Some((n, _))) => (t.min(n), t < n),
            (Some(t), None) => (t, true),
            (None, Some((n, _))) => (n, false),
        };
        if at > anchor.1 {
            // Pacing is cosmetic here (results carry their own virtual times), so sub-millisecond
            // waits, which the timer wheel would round up to a millisecond each, are skipped;
            // later waits absorb the difference.
            let due = anchor.0 + clock.real(at - anchor.1);
            if due > tokio::time::Instant::now() + Duration::from_millis(1) {
                tokio::time::sleep_until(due).await;
            }
        }
        now = now.max(at);
        if fire_timer {
            machine.handle_timeout(now);
        } else if first == arrival {
            let (k, event) = feed.pop(now);
            hseq += 1;
            arrival_seq = hseq;
            let done = feed.arrived();
            if done % 256 == 0 || done == total {
                (sinks.progress)(done, total);
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
        } else if let Some(key) = entry {
            let (done, latency) = results.remove(&key).expect("key just read");
            driver.complete(done, &mut machine, &mut rep, now, Some(latency));
        }
    }
    driver.shutdown();
    if driver.alert_failures > 0 {
        rep.notes.push(format!(
            "{} DLQ alert webhook call(s) failed",
            driver.alert_failures
        ));
    }
    let st = mock.state();
    fault_note(&mut rep, &st.tally);
    engine::throttle_notes(&mut rep, spec, st.model());
    ledger.finish(&mut rep, now, st.model(), &machine);
    Ok(rep)
}

/// Says which wire faults the front carried out (the report's own counters say what the
/// machine saw).
fn fault_note(rep: &mut Report, t: &super::mock::Tally) {
    if t.resets + t.cut_responses + t.silences > 0 {
        rep.notes.push(format!(
            "on the wire: {} connection(s) reset before a response, {} response(s) cut mid-body, {} request(s) never answered",
            t.resets, t.cut_responses, t.silences
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_are_read_per_rfc_6749() {
        assert_eq!(
            token_result(
                200,
                r#"{"access_token":"t","token_type":"Bearer","expires_in":"3600"}"#
            ),
            TokenResult::Granted {
                access_token: "t".into(),
                expires_in: Some(3600)
            }
        );
        assert_eq!(
            token_result(400, r#"{"error":"invalid_grant"}"#),
            TokenResult::Refused {
                status: 400,
                error: "invalid_grant".into()
            }
        );
        assert!(matches!(
            token_result(200, "{}"),
            TokenResult::Refused { status: 200, .. }
        ));
        assert!(matches!(
            token_result(503, "<html>down</html>"),
            TokenResult::Refused { status: 503, ref error } if error.contains("down")
        ));
    }
}
