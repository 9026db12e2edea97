//! The mock CRM, OAuth token endpoint and DLQ alert webhook on loopback, answering from the
//! simulator's CRM model.
//!
//! One [`CrmModel`] decides every answer, exactly as in virtual time: statuses with the
//! profile's bodies and headers (`Retry-After` included), 401 for expired or revoked tokens, 503
//! windows, rate limits, 413 by size, 400 on arrays, 422 on target-schema violations, latency,
//! and the idempotency store that records every side effect. wiremock serves the HTTP; a custom
//! [`Respond`] implementation asks the model and renders its [`Reply`]. Faults wiremock cannot
//! produce (reset, a response cut mid-body, silence) are marked on the response and carried out
//! by the [`front`](super::front) proxy the clients actually connect to, which also reads every
//! request first, so wiremock only ever gets whole bodies of bounded size (wiremock panics on a
//! body that ends early and holds any body whole).
//!
//! The model's `now` is the shared [`Clock`], so a scenario's fault timeline plays out in
//! compressed real time (`sim --http`) or in real time (`mock-crm`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use rand_chacha::ChaCha8Rng;
use reqwest::Url;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, Fault, Limits, Refusals, FAULT_HEADER};
use super::{Clock, HttpError};
use crate::delivery::drive::Reply;
use crate::delivery::{CrmRequest, TokenResult};
use crate::sim::crm::CrmModel;
use crate::sim::engine;
use crate::sim::scenario::Scenario;
use crate::spec::model::{Auth, ClientAuth, RawSpec};
use crate::spec::payload::PayloadSchemas;

/// Request header carrying the simulator's event numbers of a request's body (sent only to this
/// mock, so side effects are attributed to the right events; without it the mock numbers events
/// by idempotency key).
pub const SEQ_HEADER: &str = "x-cxsync-seq";
/// Header every cxsync driver sends (`sim --http`, `sim --target`, `dlq replay`) with the rule
/// id of each event in the body, comma-separated in body order, so the mock judges each payload
/// against its rule's schema ([`PayloadSchemas::for_rule`], the one place that decides which
/// schema a payload gets, in virtual time too). Without it (curl, a hub) every payload gets the
/// spec-wide `crm.payloadSchema`.
pub const RULE_HEADER: &str = "x-cxsync-rule";

/// Request header with the virtual instant a request was sent (`sim --http` only): the model
/// judges the request at that instant, exactly as the virtual-time engine does.
pub const SIM_TIME_HEADER: &str = "x-cxsync-sim-time";

/// Request header with the machine's request id (`sim --http` only): the mock records the
/// latency the model decided for it, which becomes the request's duration in virtual time.
pub const REQUEST_ID_HEADER: &str = "x-cxsync-request";

/// The client secret the mock accepts.
pub const MOCK_CLIENT_SECRET: &str = "cxsync-mock-secret";

/// What the mock accepts and where it listens.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Port of the front (0: any free port).
    pub port: u16,
    /// Seed of the model's RNG (latency, resets).
    pub seed: u64,
}

/// Counters of what the mock answered, beyond the model's own.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// CRM responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Faults carried out by the front.
    pub resets: u64,
    pub cut_responses: u64,
    pub silences: u64,
    /// Token endpoint refusals for bad client credentials or grant types.
    pub bad_client: u64,
    /// DLQ alert webhook calls whose body is an [`Alert`](crate::delivery::Alert).
    pub alerts: u64,
    /// DLQ alert webhook calls whose body is not (answered 400): the body is schema-checked.
    pub bad_alerts: u64,
}

/// The mock's mutable state: the model and its RNG.
pub struct State {
    model: CrmModel,
    rng: ChaCha8Rng,
    clock: Clock,
    client_id: String,
    client_auth: ClientAuth,
    require_bearer: bool,
    idempotency_header: String,
    timeout: u64,
    next_id: u64,
    seqs: HashMap<String, u64>,
    /// Machine request id → the latency the model decided (`None`: no answer at all), for the
    /// driver to collect.
    decided: HashMap<u64, Option<u64>>,
    /// Counters for the running tally.
    pub tally: Tally,
}

impl State {
    /// The CRM model (side effects, stats).
    pub fn model(&self) -> &CrmModel {
        &self.model
    }

    /// What the model decided for the driver's request `id` (once): `Some(Some(latency))`, or
    /// `Some(None)` when it decided the request gets no answer.
    pub fn take_decision(&mut self, id: u64) -> Option<Option<u64>> {
        self.decided.remove(&id)
    }

    /// The model's `now` for a request: the sender's virtual instant when it says so, else the
    /// mock's clock.
    fn now_for(&self, r: &Request) -> u64 {
        header(r, SIM_TIME_HEADER)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| self.clock.now())
    }

    fn decide(&mut self, r: &Request, latency: Option<u64>) -> bool {
        match header(r, REQUEST_ID_HEADER).and_then(|v| v.trim().parse().ok()) {
            Some(id) => {
                self.decided.insert(id, latency);
                true
            }
            None => false,
        }
    }

    /// No answer. A paced driver learns that from the decision, so the connection is closed
    /// after the channel's timeout instead of being held until the client gives up.
    fn silence(&mut self, r: &Request) -> ResponseTemplate {
        self.tally.silences += 1;
        if self.decide(r, None) {
            faulted(Fault::Close).set_delay(self.clock.real(self.timeout))
        } else {
            faulted(Fault::Silence)
        }
    }

    fn seq_for(&mut self, key: String) -> u64 {
        let n = self.seqs.len() as u64;
        *self.seqs.entry(key).or_insert(n)
    }

    fn crm(&mut self, r: &Request) -> ResponseTemplate {
        let now = self.now_for(r);
        self.next_id += 1;
        let id = self.next_id;
        let bearer =
            header(r, "authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_string));
        if self.require_bearer
            && !bearer
                .as_deref()
                .is_some_and(|b| b.starts_with("sim-token-"))
        {
            // The model only judges tokens it issued; a request without one is refused outright.
            self.model.stats.requests += 1;
            self.model.stats.unauthorized += 1;
            *self.tally.statuses.entry(401).or_default() += 1;
            self.decide(r, Some(0));
            return json_response(401, self.model.profile().unauthorized_body, None);
        }
        let key = header(r, &self.idempotency_header).unwrap_or_else(|| format!("(no key)#{id}"));
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let seqs: Vec<u64> = match header(r, SEQ_HEADER) {
            Some(list) => list
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
            None => {
                let records: Vec<Value> = match serde_json::from_str::<Value>(&body) {
                    Ok(Value::Array(a)) => a,
                    Ok(v) => vec![v],
                    Err(_) => Vec::new(),
                };
                // Without the simulator's numbers, a CRM that upserts knows a write only by
                // its upsert value (the model's own reading), never by the idempotency header,
                // which it does not read: a write of the same value updates one record, two
                // values are two records even under one key.
                let upserted: Option<Vec<String>> = records
                    .iter()
                    .map(|r| self.model.record_identity(r))
                    .collect();
                match upserted.filter(|k| !k.is_empty()) {
                    Some(keys) => keys
                        .into_iter()
                        .map(|k| self.seq_for(format!("upsert\u{1f}{k}")))
                        .collect(),
                    None => (0..records.len().max(1))
                        .map(|i| self.seq_for(format!("{key}#{i}")))
                        .collect(),
                }
            }
        };
        let rules: Vec<String> = header(r, RULE_HEADER)
            .map(|list| list.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        let req = CrmRequest {
            id,
            attempt: 1,
            bearer,
            idempotency: (self.idempotency_header.clone(), key),
            body: body.into(),
            seqs,
            rules,
        };
        let before = self.model.stats.side_effects + self.model.stats.deduplicated;
        let reply = self.model.handle_request(now, &req, &mut self.rng);
        let written = self.model.stats.side_effects + self.model.stats.deduplicated != before;
        match reply {
            Reply::Http { latency, response } => {
                self.decide(r, Some(latency));
                *self.tally.statuses.entry(response.status).or_default() += 1;
                // A reply slower than the client's timeout is still sent (late), but not so late
                // that it keeps a connection busy for minutes after the client left.
                let delay = latency.min(self.timeout + 1000);
                json_response(response.status, &response.body, response.retry_after)
                    .set_delay(self.clock.real(delay))
            }
            Reply::Reset { latency, .. } => {
                self.decide(r, Some(latency));
                // A reset before the write loses the request; after it, the response is lost
                // mid-way: the side effect happened but the client never learns of it.
                let fault = if written {
                    self.tally.cut_responses += 1;
                    Fault::Close
                } else {
                    self.tally.resets += 1;
                    Fault::Reset
                };
                faulted(fault).set_delay(self.clock.real(latency))
            }
            Reply::Silence => self.silence(r),
        }
    }

    fn token(&mut self, r: &Request, secret: &str) -> ResponseTemplate {
        let now = self.now_for(r);
        let form = parse_form(&String::from_utf8_lossy(&r.body));
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if field("grant_type") != Some("client_credentials") {
            self.tally.bad_client += 1;
            self.decide(r, Some(0));
            return json_response(
                400,
                r#"{"error":"unsupported_grant_type","error_description":"only client_credentials is supported"}"#,
                None,
            );
        }
        let authenticated = match self.client_auth {
            ClientAuth::Basic => {
                header(r, "authorization")
                    .as_deref()
                    .and_then(basic_credentials)
                    == Some((self.client_id.clone(), secret.to_string()))
            }
            ClientAuth::Body => {
                field("client_id") == Some(self.client_id.as_str())
                    && field("client_secret") == Some(secret)
            }
        };
        if !authenticated {
            self.tally.bad_client += 1;
            self.decide(r, Some(0));
            let how = match self.client_auth {
                ClientAuth::Basic => "HTTP Basic",
                ClientAuth::Body => "client_id and client_secret in the form body",
            };
            let body = json!({"error": "invalid_client", "error_description": format!("client authentication failed (expected {how})")});
            return json_response(401, &body.to_string(), None)
                .insert_header("www-authenticate", "Basic realm=\"cxsync-mock\"");
        }
        let scope = field("scope").unwrap_or("").to_string();
        let (latency, result) = self.model.handle_token_request(now, &mut self.rng);
        if result.is_some() {
            self.decide(r, Some(latency));
        }
        let delay = self.clock.real(latency.min(self.timeout + 1000));
        match result {
            None => self.silence(r),
            Some(TokenResult::Granted {
                access_token,
                expires_in,
            }) => {
                let mut body = json!({"access_token": access_token, "token_type": "Bearer"});
                if let Some(e) = expires_in {
                    body["expires_in"] = json!(e);
                }
                if !scope.is_empty() {
                    body["scope"] = json!(scope);
                }
                json_response(200, &body.to_string(), None)
                    .insert_header("cache-control", "no-store")
                    .set_delay(delay)
            }
            Some(TokenResult::Refused { status, error }) => {
                json_response(status, &json!({ "error": error }).to_string(), None).set_delay(delay)
            }
            Some(TokenResult::Failed(_)) => faulted(Fault::Reset).set_delay(delay),
        }
    }
}

fn header(r: &Request, name: &str) -> Option<String> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn json_response(status: u16, body: &str, retry_after: Option<String>) -> ResponseTemplate {
    let t =
        ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json");
    match retry_after {
        Some(ra) => t.insert_header("retry-after", ra.as_str()),
        None => t,
    }
}

fn faulted(f: Fault) -> ResponseTemplate {
    ResponseTemplate::new(502)
        .insert_header(FAULT_HEADER, f.as_str())
        .set_body_raw(br#"{"error":"bad_gateway"}"#.to_vec(), "application/json")
}

/// The client id and secret of an HTTP Basic `Authorization` header, read as RFC 6749 §2.3.1
/// says a token endpoint reads them: base64 of `id:secret`, split at the first `:`, each part
/// `application/x-www-form-urlencoded` (so an id holding `:` arrives whole). `None` when the
/// header is not Basic or does not decode.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let b64 = header.strip_prefix("Basic ")?.trim();
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in b64.bytes().take_while(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let pair = |k: &str| {
        parse_form(&format!("v={k}"))
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    Some((pair(id), pair(secret)))
}

/// `application/x-www-form-urlencoded` pairs, percent- and plus-decoded.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Standard base64 with padding (for comparing HTTP Basic credentials).
pub fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct CrmResponder(Arc<Mutex<State>>);

impl Respond for CrmResponder {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        lock(&self.0).crm(r)
    }
}

struct TokenResponder(Arc<Mutex<State>>, String);

impl Respond for TokenResponder {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        lock(&self.0).token(r, &self.1)
    }
}

struct AlertResponder(Arc<Mutex<State>>);

impl Respond for AlertResponder {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let mut st = lock(&self.0);
        // The body must be the one alert type (`schemas/dlq-alert.v1.json`): the type denies
        // unknown fields, so parsing it is the schema check.
        match serde_json::from_slice::<crate::delivery::Alert>(&r.body) {
            Ok(_) => {
                st.tally.alerts += 1;
                ResponseTemplate::new(204)
            }
            Err(e) => {
                st.tally.bad_alerts += 1;
                ResponseTemplate::new(400).set_body_string(format!("not a DLQ alert: {e}"))
            }
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic in one responder must not take the whole mock down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running mock: wiremock behind the fault front. Dropping it stops both.
pub struct MockCrm {
    _server: MockServer,
    front: JoinHandle<()>,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    refusals: Arc<Refusals>,
    crm_path: String,
    token_path: String,
    alert_path: String,
    client_id: String,
}

/// Has `server` answer every POST to `at` with `responder`.
async fn answer_posts(
    server: &MockServer,
    at: &str,
    responder: impl Respond + 'static,
    name: &str,
) {
    let route = Mock::given(method("POST"))
        .and(path(at))
        .respond_with(responder);
    server.register(route.named(name)).await;
}

impl Drop for MockCrm {
    fn drop(&mut self) {
        self.front.abort();
    }
}

impl MockCrm {
    /// Starts the mock for a spec and scenario on loopback. Must run inside a tokio runtime.
    pub async fn start(
        spec: &RawSpec,
        sc: &Scenario,
        schemas: &PayloadSchemas,
        clock: Clock,
        opts: &MockOptions,
    ) -> Result<MockCrm, HttpError> {
        let model = CrmModel::new(spec, sc, schemas);
        let max_body = model.max_body();
        let (client_id, client_auth, require_bearer, token_path) = match &spec.channel.auth {
            Auth::OAuth2ClientCredentials {
                client_id,
                client_auth,
                token_endpoint,
                ..
            } => (
                client_id.clone(),
                *client_auth,
                true,
                url_path(token_endpoint, "/oauth2/token"),
            ),
            _ => (
                String::new(),
                ClientAuth::Body,
                false,
                "/oauth2/token".to_string(),
            ),
        };
        let mut crm_path = url_path(&spec.channel.destination_uri, "/crm");
        let mut alert_path = spec
            .dead_letter_queue
            .alert_endpoint
            .as_deref()
            .map_or_else(|| "/dlq-alert".to_string(), |u| url_path(u, "/dlq-alert"));
        if crm_path == token_path {
            crm_path = "/crm".to_string();
        }
        if alert_path == crm_path || alert_path == token_path {
            alert_path = "/dlq-alert".to_string();
        }
        let state = Arc::new(Mutex::new(State {
            model,
            rng: engine::crm_rng(opts.seed),
            clock,
            client_id: client_id.clone(),
            client_auth,
            require_bearer,
            idempotency_header: spec.idempotency.header.to_ascii_lowercase(),
            timeout: spec.channel.timeout_milliseconds,
            next_id: 0,
            seqs: HashMap::new(),
            decided: HashMap::new(),
            tally: Tally::default(),
        }));
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        answer_posts(
            &server,
            &crm_path,
            CrmResponder(state.clone()),
            "CRM writes answered by the CRM model",
        )
        .await;
        answer_posts(
            &server,
            &token_path,
            TokenResponder(state.clone(), MOCK_CLIENT_SECRET.to_string()),
            "client-credentials token requests answered by the CRM model",
        )
        .await;
        answer_posts(
            &server,
            &alert_path,
            AlertResponder(state.clone()),
            "DLQ alert webhook calls counted",
        )
        .await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
            .await
            .map_err(|source| HttpError::Io {
                what: format!("binding 127.0.0.1:{}", opts.port),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| HttpError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        let refusals = Arc::new(Refusals::default());
        let limits = Limits {
            crm_path: crm_path.clone(),
            max_body,
        };
        let front = front::spawn(listener, *server.address(), limits, refusals.clone());
        Ok(MockCrm {
            _server: server,
            front,
            addr,
            state,
            refusals,
            crm_path,
            token_path,
            alert_path,
            client_id,
        })
    }

    fn url(&self, p: &str) -> Url {
        Url::parse(&format!("http://{}{}", self.addr, p)).expect("loopback URLs parse")
    }

    /// Where the CRM accepts writes (POST).
    pub fn crm_url(&self) -> Url {
        self.url(&self.crm_path)
    }

    /// The client-credentials token endpoint (POST, form-encoded).
    pub fn token_url(&self) -> Url {
        self.url(&self.token_path)
    }

    /// The DLQ alert webhook (POST).
    pub fn alert_url(&self) -> Url {
        self.url(&self.alert_path)
    }

    /// The client id the token endpoint accepts (the spec's).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Restarts the model's clock (after warm-up, so virtual time 0 is when the run starts).
    pub fn set_clock(&self, clock: Clock) {
        lock(&self.state).clock = clock;
    }

    /// Requests the front answered itself, unread or unfinished (a body over the limit, cut
    /// short, stalled; a malformed head).
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// The mock's state, locked.
    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn url_path(url: &str, default: &str) -> String {
    Url::parse(url)
        .ok()
        .map(|u| u.path().to_string())
        .filter(|p| p.len() > 1)
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_percent_and_plus() {
        let f = parse_form("grant_type=client_credentials&scope=crm%3Awrite+crm%3Aread&x=%zz");
        assert_eq!(f[0], ("grant_type".into(), "client_credentials".into()));
        assert_eq!(f[1], ("scope".into(), "crm:write crm:read".into()));
        assert_eq!(f[2], ("x".into(), "%zz".into()));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(i), o);
            assert_eq!(
                basic_credentials(&format!("Basic {}", base64(&format!("{i}:x")))),
                Some((i.to_string(), "x".to_string()))
            );
        }
        // RFC 6749 §2.3.1: each part form-urlencoded, so `:` inside the id survives the split.
        let h = format!(
            "Basic {}",
            base64("id%3Awith%25sp+ace%2B%C3%A9:s3%3Ac%25r%2Bt%26%3D")
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("id:with%sp ace+é".into(), "s3:c%r+t&=".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!"), None);
    }
}
