//! The I/O half of every HTTP run: sends what the machine asks for over reqwest and hands back
//! what came off the wire, stamped with [`Clock`] time.
//!
//! Like quinn's async layer over quinn-proto, this file makes no delivery decision: it has no
//! retry, backoff, classification or token-cache logic. It is the [`Transport`] of the one
//! driver loop: [`Transmit`](crate::delivery::Transmit)s become HTTP requests (the
//! client-credentials token request, CRM writes with Bearer, idempotency and the spec's headers,
//! DLQ alert webhook calls) and their results come back as [`Done`]s, which [`Driver::complete`]
//! hands to the machine and the observer. Timeouts are the machine's own timers; the HTTP
//! client's timeout is set longer only so that an abandoned request frees its connection.
//!
//! The two clocks that drive it are [`super::paced`] (`sim --http`) and [`super::wall`]
//! (`--target`, the benchmark, DLQ replay).

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::mock::{REQUEST_ID_HEADER, RULE_HEADER, SEQ_HEADER, SIM_TIME_HEADER};
use super::{Clock, HttpError};
use crate::delivery::drive::{hand_back, Answer, Observer, Reply, Sent, Transport};
use crate::delivery::{Alert, CrmRequest, Failure, Machine, Response, Time, TokenResult};
use crate::spec::model::{Auth, ClientAuth};
use crate::spec::Spec;

/// Where requests go and how the driver authenticates.
#[derive(Clone)]
pub struct Endpoints {
    pub crm: Url,
    pub alert: Option<Url>,
    /// The channel's OAuth client-credentials grant, if it has one.
    pub oauth: Option<OAuthClient>,
    /// The spec's channel headers (`Content-Type`, …).
    pub headers: Vec<(String, String)>,
    /// Send [`SEQ_HEADER`] (only to the mock).
    pub send_seq: bool,
    /// Every secret value this run sends or that the spec's `${env:…}` references resolve to
    /// (with the forms a server may echo: `Bearer …`, HTTP Basic, form-encoded): the driver
    /// scrubs them, and every access token it is granted, out of each response it captures.
    pub secrets: Vec<String>,
}

/// Where and as whom the driver asks for tokens (RFC 6749 §4.4).
#[derive(Clone)]
pub struct OAuthClient {
    pub token: Url,
    pub client_id: String,
    /// Never printed; `Debug` is not derived for this reason.
    pub client_secret: String,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
}

impl Endpoints {
    /// The endpoints of a spec's channel for a run against a real CRM (`--target`, DLQ replay):
    /// the one reading of `channel.auth` and `channel.headers` both use. `token_url` checks the
    /// token endpoint (a caller may put its own in place of the spec's); `secret(field, value)`
    /// resolves a secret reference. A static bearer token is resolved into an `Authorization`
    /// header, which wins over the spec's unresolved reference the machine sends; so is a header
    /// holding a secret reference (`what` is then `channel.headers.NAME`). No alert URL:
    /// the caller sets one if its run sends alerts.
    pub fn from_channel<E>(
        spec: &Spec,
        crm: Url,
        token_url: impl FnOnce(&str) -> Result<Url, E>,
        secret: impl Fn(&str, &str) -> Result<String, E>,
    ) -> Result<Endpoints, E> {
        let ch = &spec.raw.channel;
        // The machine sets the idempotency header from each delivery's key. A header that still
        // holds a secret reference (a vault secret, or an `${env:…}` the loader deferred) is
        // resolved like the auth secret, never sent as written.
        let mut headers = Vec::new();
        let mut secrets = Vec::new();
        for (k, v) in &ch.headers {
            if k.eq_ignore_ascii_case(&spec.raw.idempotency.header) {
                continue;
            }
            let v = if v.contains("${env:") || v.contains("${VAULT_SECRET:") {
                let v = secret(&format!("channel.headers.{k}"), v)?;
                secrets.push(v.clone());
                v
            } else {
                v.clone()
            };
            headers.push((k.clone(), v));
        }
        let mut oauth = None;
        match &ch.auth {
            Auth::None {} => {}
            Auth::Bearer { token } => {
                let t = secret("channel.auth.token", token)?;
                secrets.push(t.clone());
                headers.push(("Authorization".into(), format!("Bearer {t}")));
            }
            Auth::OAuth2ClientCredentials {
                token_endpoint,
                client_id,
                client_secret,
                client_auth,
                scopes,
                ..
            } => {
                let token = token_url(token_endpoint)?;
                let client_secret = secret("channel.auth.clientSecret", client_secret)?;
                let (id, s) = (form_encoded(client_id), form_encoded(&client_secret));
                secrets.push(super::mock::base64(&format!("{id}:{s}")));
                secrets.push(s);
                secrets.push(client_secret.clone());
                oauth = Some(OAuthClient {
                    token,
                    client_id: client_id.clone(),
                    client_secret,
                    client_auth: *client_auth,
                    scopes: scopes.clone(),
                });
            }
        }
        // Every `${env:NAME}` the spec's text references, resolved the same way (an unset one
        // is nothing to scrub): a URL or header the loader resolved may hold a token too.
        let mut rest = spec.text.as_str();
        while let Some(i) = rest.find("${env:") {
            let end = rest[i..].find('}').map_or(rest.len(), |e| i + e + 1);
            if let Ok(v) = secret("spec", &rest[i..end]) {
                secrets.push(v);
            }
            rest = &rest[end..];
        }
        Ok(Endpoints {
            crm,
            alert: None,
            oauth,
            headers,
            send_seq: false,
            secrets,
        })
    }
}

/// `s` form-urlencoded (RFC 6749 §2.3.1, for HTTP Basic and the token form).
fn form_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The scrubber a driver's tasks share: the spec's secrets from the start, each access token as
/// it is granted.
type SharedRedactor = std::sync::Arc<std::sync::Mutex<crate::spec::secret::Redactor>>;

/// `text` with every secret `r` knows replaced by `(sensitive)`.
fn scrub(r: &SharedRedactor, text: &str) -> String {
    r.lock().unwrap_or_else(|e| e.into_inner()).scrub(text)
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

/// What the machine hears of a [`Done`], once the observer has been told of it.
pub enum Heard {
    /// `answer` to pending request `id`, due at virtual time `at`.
    Answer { id: u64, at: Time, answer: Answer },
    /// No answer in time (or none at all) to request `id`: the machine's own timer decides.
    Unanswered(u64),
    /// A DLQ alert webhook call failed (counted; the machine never hears of alerts).
    AlertFailed,
}

impl Done {
    /// Tells `obs` of this result, which came `latency(id, sent)` virtual ms after its request
    /// was sent (`None`: it never came), and says what the machine hears: a result that took the
    /// channel's `timeout` or longer is a timeout, whatever arrives later. The one reading of a
    /// result for both clocks ([`Driver::complete`] and the paced loop).
    pub fn settle(
        self,
        latency: impl FnOnce(u64, Time) -> Option<Time>,
        timeout: Time,
        obs: &mut dyn Observer,
    ) -> Heard {
        match self {
            Done::Crm {
                id,
                sent,
                attempt,
                result,
            } => {
                let latency = latency(id, sent);
                let reply = result.reply(latency.unwrap_or(Time::MAX));
                obs.answered(attempt, sent, &reply, timeout);
                match latency {
                    Some(l) if reply.in_time(timeout) => Heard::Answer {
                        id,
                        at: sent.saturating_add(l),
                        answer: Answer::Crm(id, reply),
                    },
                    _ => Heard::Unanswered(id),
                }
            }
            Done::Token { id, sent, result } => {
                let latency = latency(id, sent).filter(|l| *l < timeout);
                let result = result.filter(|_| latency.is_some());
                obs.token_answered(sent, result.as_ref());
                match (latency, result) {
                    (Some(l), Some(r)) => Heard::Answer {
                        id,
                        at: sent.saturating_add(l),
                        answer: Answer::Token(id, r),
                    },
                    _ => Heard::Unanswered(id),
                }
            }
            Done::AlertFailed => Heard::AlertFailed,
        }
    }
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
    /// DLQ alert webhook calls in flight, which a run waits for before it ends
    /// ([`Driver::finish_alerts`]): the last alert goes out with the last dead letter.
    alerts: JoinSet<()>,
    /// Paced: the CRM requests of this instant, sent one after another by [`Driver::flush`].
    chain: Vec<Task>,
    /// Alert webhook calls that failed (reported, never retried: the guide calls them fire and
    /// forget).
    pub alert_failures: u64,
    /// Scrubs secrets out of every response text at the point it comes off the wire, so the
    /// machine, the notes, the report and the DLQ record all get the scrubbed text.
    redactor: SharedRedactor,
    /// A token [`Driver::request_token`] was granted, the answer to the next token request.
    prefetched: Option<TokenResult>,
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
        let mut redactor = crate::spec::secret::Redactor::default();
        redactor.add(ep.secrets.iter().cloned());
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
            alerts: JoinSet::new(),
            chain: Vec::new(),
            alert_failures: 0,
            redactor: std::sync::Arc::new(std::sync::Mutex::new(redactor)),
            prefetched: None,
        })
    }

    /// The driver's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Sends the CRM requests of this instant (paced: one after another, in the machine's
    /// order, so the model judges them in the engine's order) and reaps finished tasks.
    pub fn flush(&mut self) {
        while self.tasks.try_join_next().is_some() {}
        if !self.chain.is_empty() {
            let chain = std::mem::take(&mut self.chain);
            let tx = self.tx.clone();
            self.tasks.spawn(async move {
                for task in chain {
                    let _ = tx.send(task.await);
                }
            });
        }
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
        // Every request, to any CRM (`sim --http`, `--target`, `dlq replay`): the rule of each
        // payload, so `cxsync mock-crm` judges a replayed record by its rule's schema exactly as
        // `sim` did (#214). Rule ids are safe names (no comma, a valid header value), no secret.
        if !req.rules.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&req.rules.join(",")) {
                headers.insert(HeaderName::from_static(RULE_HEADER), v);
            }
        }
        self.paced_headers(&mut headers, req.id, sent);
        let rb = self
            .client
            .post(self.ep.crm.clone())
            .headers(headers)
            .timeout(self.client_timeout())
            .body(req.body.to_string());
        let (id, attempt) = (req.id, req.attempt);
        let redactor = std::sync::Arc::clone(&self.redactor);
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
                            body: scrub(&redactor, &body),
                        }),
                        Err(e) if e.is_timeout() => CrmResult::Abandoned,
                        // The connection closed in the middle of the body.
                        Err(_) => CrmResult::Failed(Failure::Reset),
                    }
                }
                Err(e) => {
                    super::failure::classify(&e).map_or(CrmResult::Abandoned, CrmResult::Failed)
                }
            };
            Done::Crm {
                id,
                sent,
                attempt,
                result,
            }
        })
    }

    /// Asks the token endpoint for one token, the request the machine's token requests make
    /// (`dlq replay` checks `--token-url` and the credentials so before it sends a record, #232):
    /// the endpoint asked and its answer (`None`: no answer in time). `None` without OAuth.
    /// A granted token is kept and is the answer to the machine's first token request, so the
    /// check costs the endpoint no request of its own.
    pub async fn request_token(&mut self) -> Option<(Url, Option<TokenResult>)> {
        let url = self.ep.oauth.as_ref()?.token.clone();
        let result = match self.token_task(0, self.clock.now()).await {
            Done::Token { result, .. } => result,
            _ => None,
        };
        if let Some(t @ TokenResult::Granted { .. }) = &result {
            self.prefetched = Some(t.clone());
        }
        Some((url, result))
    }

    fn token_task(&self, id: u64, sent: Time) -> Task {
        let Some(oauth) = &self.ep.oauth else {
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
        if !oauth.scopes.is_empty() {
            form.push(("scope", oauth.scopes.join(" ")));
        }
        let mut headers = HeaderMap::new();
        self.paced_headers(&mut headers, id, sent);
        let mut rb = self
            .client
            .post(oauth.token.clone())
            .headers(headers)
            .timeout(self.client_timeout());
        match oauth.client_auth {
            ClientAuth::Body => {
                form.push(("client_id", oauth.client_id.clone()));
                form.push(("client_secret", oauth.client_secret.clone()));
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: id and secret are each form-urlencoded before Basic joins
                // them with `:` (an id holding `:` would otherwise be cut there).
                rb = rb.basic_auth(
                    form_encoded(&oauth.client_id),
                    Some(form_encoded(&oauth.client_secret)),
                );
            }
        }
        let rb = rb.form(&form);
        let redactor = std::sync::Arc::clone(&self.redactor);
        Box::pin(async move {
            let result = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.text().await {
                        Ok(body) => Some(match token_result(status, &body) {
                            // From now on the CRM may echo this token (`Authorization`).
                            TokenResult::Granted {
                                access_token,
                                expires_in,
                            } => {
                                redactor
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .add([access_token.clone()]);
                                TokenResult::Granted {
                                    access_token,
                                    expires_in,
                                }
                            }
                            TokenResult::Refused { status, error } => TokenResult::Refused {
                                status,
                                error: scrub(&redactor, &error),
                            },
                            other => other,
                        }),
                        Err(e) if e.is_timeout() => None,
                        Err(_) => Some(TokenResult::Failed(Failure::Reset)),
                    }
                }
                Err(e) => super::failure::classify(&e).map(TokenResult::Failed),
            };
            Done::Token { id, sent, result }
        })
    }

    /// POSTs the machine's alert body ([`Alert`], `schemas/dlq-alert.v1.json`) as it is.
    fn post_alert(&mut self, body: &Alert) {
        let Some(url) = self.ep.alert.clone() else {
            return;
        };
        let rb = self
            .client
            .post(url)
            .json(body)
            .timeout(self.client_timeout());
        let tx = self.tx.clone();
        while self.alerts.try_join_next().is_some() {}
        self.alerts.spawn(async move {
            let ok = rb.send().await.is_ok_and(|r| r.status().is_success());
            if !ok {
                let _ = tx.send(Done::AlertFailed);
            }
        });
    }

    /// Waits for a result or for virtual time `deadline`, whichever is first (`None`: the
    /// deadline passed). Behind schedule, only what already arrived is taken.
    pub async fn next_before(&mut self, deadline: Time) -> Option<Done> {
        let at = self.clock.instant(deadline);
        if at <= tokio::time::Instant::now() {
            return self.rx.try_recv().ok();
        }
        tokio::select! {
            d = self.rx.recv() => d,
            _ = tokio::time::sleep_until(at) => None,
        }
    }

    /// The machine's request timeout, in virtual ms.
    pub fn timeout(&self) -> Time {
        self.timeout
    }

    /// Hands a result to the observer and the machine at `now`. `latency` is the request's
    /// duration in virtual time (default: `now - sent`); a result that took the channel's
    /// timeout or longer is a timeout, whatever arrives later.
    pub fn complete(
        &mut self,
        done: Done,
        machine: &mut Machine<ChaCha8Rng>,
        obs: &mut dyn Observer,
        now: Time,
        latency: Option<u64>,
    ) {
        let took = |_, sent: Time| Some(latency.unwrap_or(now.saturating_sub(sent)));
        match done.settle(took, self.timeout, obs) {
            Heard::Answer { answer, .. } => hand_back(machine, now, answer),
            Heard::Unanswered(_) => {}
            Heard::AlertFailed => self.alert_failures += 1,
        }
    }

    /// Waits for the alert webhook calls still in flight, each bounded by the client's timeout:
    /// a run ends as soon as nothing is left to deliver, which may be the instant of its last
    /// dead letter and so of its last alert.
    pub async fn finish_alerts(&mut self) {
        while self.alerts.join_next().await.is_some() {}
    }

    /// Cancels whatever is still in flight and counts failed alerts already reported.
    pub fn shutdown(&mut self) {
        self.tasks.abort_all();
        self.alerts.abort_all();
        while let Ok(d) = self.rx.try_recv() {
            if let Done::AlertFailed = d {
                self.alert_failures += 1;
            }
        }
    }
}

/// The wire as the one driver loop's transport: every request is pending until its [`Done`].
impl Transport for Driver {
    fn send_crm(&mut self, now: Time, req: CrmRequest, _obs: &mut dyn Observer) -> Sent<Reply> {
        let task = self.crm_task(req, now);
        if self.paced {
            self.chain.push(task);
        } else {
            self.spawn(task);
        }
        Sent::Pending
    }

    fn send_token(&mut self, now: Time, id: u64) -> Sent<TokenResult> {
        let task = match self.prefetched.take() {
            Some(t) => Box::pin(async move {
                Done::Token {
                    id,
                    sent: now,
                    result: Some(t),
                }
            }),
            None => self.token_task(id, now),
        };
        self.spawn(task);
        Sent::Pending
    }

    fn send_alert(&mut self, alert: &Alert) {
        self.post_alert(alert);
    }
}

impl CrmResult {
    /// The reply this result is, after `latency` virtual ms.
    pub fn reply(&self, latency: Time) -> Reply {
        match self {
            CrmResult::Response(r) => Reply::Http {
                latency,
                response: r.clone(),
            },
            CrmResult::Failed(failure) => Reply::Reset {
                latency,
                failure: *failure,
            },
            CrmResult::Abandoned => Reply::Silence,
        }
    }
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
