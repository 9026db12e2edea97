//! A stateful in-memory Event Hub API on loopback, so plan → apply → plan can be tried without a
//! tenant and tested end to end. It serves the guide's endpoints with the server-set fields
//! (`id`, `createdAt`, `updatedAt`, `status`), the CXone access-key token endpoint, the
//! `/.well-known/cxone-configuration` discovery document, deterministic metrics, payload
//! validation against `schemas/eventhub-*.json` (400 with field errors) and injectable faults.
//!
//! Built on hyper 1 directly: axum is not a dependency, and wiremock answers from fixed
//! templates without state. Request handling is a synchronous function of the state
//! ([`Hub::handle`]) behind one mutex, so it is unit-testable without sockets.
//!
//! Admin surface (no auth): `POST /_mock/faults` (`{"method","path","status","count"}`),
//! `DELETE /_mock/faults`, `GET /_mock/state`, `PUT /_mock/metrics/{channel}` (a fixed metrics
//! response, e.g. one that breaches an alert), and `/_mock/api/v2/...`, which reaches the API
//! without a token — the way to change an object "behind cxsync's back".

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// Mock hub settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted access key id.
    pub access_key_id: String,
    /// Accepted access key secret.
    pub access_key_secret: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Whether the licensing endpoint lists an enabled Event Hub entitlement.
    pub entitled: bool,
    /// Faults injected from the start.
    pub faults: Vec<Fault>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            access_key_id: "demo".into(),
            access_key_secret: "demo".into(),
            token_ttl: Duration::from_secs(3600),
            entitled: true,
            faults: Vec::new(),
        }
    }
}

/// An injected failure: the next `count` requests matching `method` and `path` (a glob where `*`
/// matches within one segment and a trailing `**` matches the rest) answer `status`. A 401 also
/// revokes every issued token, as an expired token would.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl std::str::FromStr for Fault {
    type Err = String;
    /// `METHOD PATH:STATUS[:COUNT]`, e.g. `PUT /api/v2/eventhub/rules/*:500:1`.
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("fault `{s}`: expected `METHOD /path/glob:STATUS[:COUNT]`");
        let (method, rest) = s.trim().split_once(' ').ok_or_else(err)?;
        let mut parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        parts.reverse();
        let (path, status, count) = match parts.as_slice() {
            [p, s, c] if c.parse::<u32>().is_ok() && s.parse::<u16>().is_ok() => {
                (*p, *s, c.parse().unwrap_or(1))
            }
            [.., p, s] => (*p, *s, 1),
            _ => return Err(err()),
        };
        let path = if parts.len() == 3 && parts[2].parse::<u32>().is_err() {
            // `a:b:STATUS` where `a:b` is the path (unlikely, but keep it whole).
            format!("{}:{}", parts[0], parts[1])
        } else {
            path.to_string()
        };
        let status: u16 = status.parse().map_err(|_| err())?;
        if !(100..=599).contains(&status) || !path.starts_with('/') {
            return Err(err());
        }
        Ok(Fault {
            method: method.to_ascii_uppercase(),
            path,
            status,
            count,
        })
    }
}

fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, seg) in p.iter().enumerate() {
        if *seg == "**" {
            return true;
        }
        let Some(x) = s.get(i) else { return false };
        if *seg != "*" && seg != x {
            return false;
        }
    }
    p.len() == s.len()
}

/// The mock's state.
#[derive(Debug)]
struct State {
    config: Config,
    base_url: String,
    channels: BTreeMap<String, Value>,
    policies: BTreeMap<String, Value>,
    rules: BTreeMap<String, Value>,
    tokens: BTreeMap<String, Instant>,
    faults: Vec<Fault>,
    seq: u64,
    tokens_issued: u64,
    requests: Vec<String>,
    /// Metrics responses set through `PUT /_mock/metrics/{channel}`, replacing the generated ones.
    metrics: BTreeMap<String, Value>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
    }
}

fn error(status: u16, message: impl Into<String>) -> Reply {
    reply(status, json!({ "message": message.into() }))
}

struct Schemas {
    channel: jsonschema::Validator,
    retry_policy: jsonschema::Validator,
    rule: jsonschema::Validator,
}

fn schemas() -> &'static Schemas {
    static S: std::sync::OnceLock<Schemas> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let load = |text: &str| {
            let v: Value = serde_json::from_str(text).expect("checked-in schema is JSON");
            jsonschema::validator_for(&v).expect("checked-in schema compiles")
        };
        Schemas {
            channel: load(include_str!("../../schemas/eventhub-channel.json")),
            retry_policy: load(include_str!("../../schemas/eventhub-retry-policy.json")),
            rule: load(include_str!("../../schemas/eventhub-rule.json")),
        }
    })
}

fn validate(v: &jsonschema::Validator, body: &Value) -> Result<(), Reply> {
    let errors: Vec<Value> = v
        .iter_errors(body)
        .map(|e| {
            let p = e.instance_path().as_str().to_string();
            json!({ "field": if p.is_empty() { "/".to_string() } else { p }, "message": e.to_string() })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(reply(
            400,
            json!({ "message": "payload failed validation", "errors": errors }),
        ))
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a GET shows of a channel: credentials masked, as a real API does.
fn masked(ch: &Value) -> Value {
    let mut c = ch.clone();
    if let Some(a) = c.get_mut("authentication").and_then(Value::as_object_mut) {
        for k in ["clientSecret", "token"] {
            if a.contains_key(k) {
                a.insert(k.into(), json!("********"));
            }
        }
    }
    c
}

fn with_server_fields(body: &Value, id: String, old: Option<&Value>) -> Value {
    let mut m: Map<String, Value> = Map::new();
    m.insert("id".into(), json!(id));
    if let Some(o) = body.as_object() {
        for (k, v) in o {
            if !matches!(k.as_str(), "id" | "createdAt" | "updatedAt" | "status") {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    let created = old
        .and_then(|o| o.get("createdAt"))
        .cloned()
        .unwrap_or_else(|| json!(now()));
    m.insert("status".into(), json!("ACTIVE"));
    m.insert("createdAt".into(), created);
    m.insert("updatedAt".into(), json!(now()));
    Value::Object(m)
}

/// Parses an ISO 8601 duration of days/hours/minutes/seconds into seconds.
fn duration_secs(s: &str) -> Option<u64> {
    let rest = s.strip_prefix('P')?;
    let mut total = 0u64;
    let mut num = String::new();
    let mut time = false;
    for c in rest.chars() {
        match c {
            'T' => time = true,
            '0'..='9' => num.push(c),
            _ => {
                let n: u64 = num.parse().ok()?;
                num.clear();
                total += n * match (c, time) {
                    ('D', false) => 86400,
                    ('W', false) => 7 * 86400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
        }
    }
    (num.is_empty() && total > 0).then_some(total)
}

/// Deterministic data points: a function of the channel name and the point index only.
fn metric_points(channel: &str, interval: &str, step: u64) -> Value {
    let seed = channel.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    // 2024-01-15T00:00:00Z, the guide's example day.
    let start = 1_705_276_800i64;
    let n = 12u64;
    let points: Vec<Value> = (0..n)
        .map(|i| {
            let r = seed.rotate_left((i * 7) as u32) ^ (i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let ts = chrono::DateTime::from_timestamp(start + (i * step) as i64, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            json!({
                "timestamp": ts,
                "throughput": 3000 + (r % 2000),
                "latencyP95": 700 + ((r >> 11) % 900),
                "errorRate": ((r >> 21) % 40) as f64 / 1000.0,
                "dlqVolume": (r >> 31) % 9,
                "tokenRefreshCount": 1 + (r >> 41) % 4,
            })
        })
        .collect();
    json!({ "channelId": channel, "interval": interval, "dataPoints": points })
}

/// The mock Event Hub: state plus request handling.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
}

impl Hub {
    /// A hub with `config`, answering as `base_url`.
    pub fn new(config: Config, base_url: &str) -> Hub {
        let faults = config.faults.clone();
        Hub {
            state: Arc::new(Mutex::new(State {
                config,
                base_url: base_url.trim_end_matches('/').to_string(),
                channels: BTreeMap::new(),
                policies: BTreeMap::new(),
                rules: BTreeMap::new(),
                tokens: BTreeMap::new(),
                faults,
                seq: 0,
                tokens_issued: 0,
                requests: Vec::new(),
                metrics: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic in one handler must not take the whole mock down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.lock().tokens_issued
    }

    /// `METHOD path` of every request so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Adds a fault.
    pub fn add_fault(&self, f: Fault) {
        self.lock().faults.push(f);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The stored objects (unmasked), for tests and `GET /_mock/state`.
    pub fn state_json(&self) -> Value {
        let s = self.lock();
        json!({
            "channels": s.channels,
            "retryPolicies": s.policies,
            "rules": s.rules,
            "faults": s.faults,
            "tokensIssued": s.tokens_issued,
        })
    }

    /// Answers one request.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        query: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let mut s = self.lock();
        s.requests.push(format!("{method} {path}"));
        let body: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => Some(v),
                Err(e) => return error(400, format!("body is not JSON: {e}")),
            }
        };
        if let Some(admin) = path.strip_prefix("/_mock") {
            return s.admin(method, admin, query, body);
        }
        match (method, path) {
            ("GET", "/.well-known/cxone-configuration") => {
                return reply(
                    200,
                    json!({
                        "area": "mock",
                        "api_endpoint": s.base_url,
                        "auth_endpoint": s.base_url,
                        "ui_endpoint": s.base_url,
                    }),
                )
            }
            ("POST", "/authentication/v1/token/access-key") => return s.token(body),
            _ => {}
        }
        if let Some(r) = s.check_token(authorization) {
            return r;
        }
        if let Some(r) = s.fault(method, path) {
            return r;
        }
        s.api(method, path, query, body)
    }
}

impl State {
    fn token(&mut self, body: Option<Value>) -> Reply {
        let b = body.unwrap_or(Value::Null);
        let id = b.get("accessKeyId").and_then(Value::as_str);
        let secret = b.get("accessKeySecret").and_then(Value::as_str);
        if id != Some(self.config.access_key_id.as_str())
            || secret != Some(self.config.access_key_secret.as_str())
        {
            return reply(
                401,
                json!({"error": "invalid_client", "error_description": "unknown access key or wrong secret"}),
            );
        }
        self.seq += 1;
        self.tokens_issued += 1;
        let token = format!("mock-token-{:06}", self.seq);
        self.tokens
            .insert(token.clone(), Instant::now() + self.config.token_ttl);
        reply(
            200,
            json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.config.token_ttl.as_secs(),
            }),
        )
    }

    fn check_token(&mut self, authorization: Option<&str>) -> Option<Reply> {
        let token = authorization.and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        });
        let Some(t) = token else {
            return Some(error(401, "missing bearer token"));
        };
        match self.tokens.get(t) {
            Some(exp) if Instant::now() < *exp => None,
            Some(_) => Some(error(401, "access token expired")),
            None => Some(error(401, "unknown access token")),
        }
    }

    fn fault(&mut self, method: &str, path: &str) -> Option<Reply> {
        let i = self
            .faults
            .iter()
            .position(|f| f.count > 0 && f.method == method && glob_match(&f.path, path))?;
        let f = &mut self.faults[i];
        f.count -= 1;
        let status = f.status;
        if f.count == 0 {
            self.faults.remove(i);
        }
        if status == 401 {
            self.tokens.clear();
        }
        let mut r = error(status, format!("injected fault: {status}"));
        if status == 429 || status == 503 {
            r.headers.push(("retry-after", "0".into()));
        }
        Some(r)
    }

    fn admin(&mut self, method: &str, path: &str, query: &str, body: Option<Value>) -> Reply {
        match (method, path) {
            ("POST", "/faults") => {
                match serde_json::from_value::<Fault>(body.unwrap_or(Value::Null)) {
                    Ok(f) => {
                        self.faults.push(f);
                        reply(201, json!({ "faults": self.faults }))
                    }
                    Err(e) => error(400, format!("fault: {e}")),
                }
            }
            ("GET", "/faults") => reply(200, json!({ "faults": self.faults })),
            ("DELETE", "/faults") => {
                self.faults.clear();
                reply(204, Value::Null)
            }
            ("GET", "/state") => reply(
                200,
                json!({"channels": self.channels, "retryPolicies": self.policies, "rules": self.rules}),
            ),
            ("PUT", p) if p.starts_with("/metrics/") => {
                let ch = percent_decode(&p["/metrics/".len()..]);
                match body {
                    Some(b) if b.get("dataPoints").is_some_and(Value::is_array) => {
                        self.metrics.insert(ch, b.clone());
                        reply(200, b)
                    }
                    _ => error(400, "expected {\"dataPoints\": [...]}"),
                }
            }
            (_, p) if p.starts_with("/api/") => self.api(method, p, query, body),
            _ => error(404, format!("no admin endpoint {method} /_mock{path}")),
        }
    }

    fn api(&mut self, method: &str, path: &str, query: &str, body: Option<Value>) -> Reply {
        let segs: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match (method, segs.as_slice()) {
            ("GET", ["api", "v2", "licensing", "entitlements"]) => reply(
                200,
                json!({"entitlements": [
                    {"name": "CXone CX 1", "enabled": true},
                    {"name": "Studio", "enabled": true},
                    {"name": "EventHub", "enabled": self.config.entitled},
                ]}),
            ),
            ("GET", ["api", "v2", "eventhub", "channels"]) => {
                let list: Vec<Value> = self.channels.values().map(masked).collect();
                reply(200, json!({ "channels": list }))
            }
            ("POST", ["api", "v2", "eventhub", "channels"]) => {
                let Some(b) = body else {
                    return error(400, "a channel body is required");
                };
                if let Err(r) = validate(&schemas().channel, &b) {
                    return r;
                }
                let name = b["name"].as_str().unwrap_or_default().to_string();
                if self.channels.contains_key(&name) {
                    return error(409, format!("a channel named `{name}` already exists"));
                }
                self.seq += 1;
                let stored = with_server_fields(&b, format!("ch-{:06}", self.seq), None);
                self.channels.insert(name, stored.clone());
                reply(201, masked(&stored))
            }
            ("GET", ["api", "v2", "eventhub", "channels", name]) => {
                match self.channels.get(*name) {
                    Some(c) => reply(200, masked(c)),
                    None => error(404, format!("no channel named `{name}`")),
                }
            }
            ("PUT", ["api", "v2", "eventhub", "channels", name]) => {
                let Some(old) = self.channels.get(*name).cloned() else {
                    return error(
                        404,
                        format!("no channel named `{name}`; create it with POST"),
                    );
                };
                let Some(b) = body else {
                    return error(400, "a channel body is required");
                };
                if let Err(r) = validate(&schemas().channel, &b) {
                    return r;
                }
                if b["name"].as_str() != Some(*name) {
                    return error(422, "the body's `name` must match the channel in the path");
                }
                let id = old["id"].as_str().unwrap_or_default().to_string();
                let stored = with_server_fields(&b, id, Some(&old));
                self.channels.insert(name.to_string(), stored.clone());
                reply(200, masked(&stored))
            }
            ("DELETE", ["api", "v2", "eventhub", "channels", name]) => {
                if self.channels.remove(*name).is_none() {
                    return error(404, format!("no channel named `{name}`"));
                }
                self.policies.remove(*name);
                reply(204, Value::Null)
            }
            (m, ["api", "v2", "eventhub", "channels", name, "retry-policy"]) => {
                if !self.channels.contains_key(*name) {
                    return error(404, format!("no channel named `{name}`"));
                }
                match m {
                    "GET" => match self.policies.get(*name) {
                        Some(p) => reply(200, p.clone()),
                        None => error(404, format!("channel `{name}` has no retry policy")),
                    },
                    "PUT" => {
                        let Some(b) = body else {
                            return error(400, "a retry policy body is required");
                        };
                        if let Err(r) = validate(&schemas().retry_policy, &b) {
                            return r;
                        }
                        let old = self.policies.get(*name);
                        let status = if old.is_some() { 200 } else { 201 };
                        let mut m = Map::new();
                        m.insert("channelId".into(), json!(name));
                        for (k, v) in b.as_object().into_iter().flatten() {
                            if !matches!(k.as_str(), "channelId" | "createdAt" | "updatedAt") {
                                m.insert(k.clone(), v.clone());
                            }
                        }
                        m.insert("updatedAt".into(), json!(now()));
                        let stored = Value::Object(m);
                        self.policies.insert(name.to_string(), stored.clone());
                        reply(status, stored)
                    }
                    _ => error(405, "method not allowed"),
                }
            }
            ("GET", ["api", "v2", "eventhub", "channels", name, "metrics"]) => {
                if !self.channels.contains_key(*name) {
                    return error(404, format!("no channel named `{name}`"));
                }
                let q = parse_query(query);
                let interval = q.get("interval").cloned().unwrap_or_else(|| "PT1H".into());
                let Some(step) = duration_secs(&interval) else {
                    return reply(
                        400,
                        json!({"message": "invalid interval", "errors": [{"field": "interval", "message": format!("`{interval}` is not an ISO 8601 duration such as PT1H")}]}),
                    );
                };
                match self.metrics.get(*name) {
                    Some(m) => reply(200, m.clone()),
                    None => reply(200, metric_points(name, &interval, step)),
                }
            }
            ("GET", ["api", "v2", "eventhub", "rules"]) => {
                let q = parse_query(query);
                let list: Vec<Value> = self
                    .rules
                    .values()
                    .filter(|r| {
                        q.get("channelId")
                            .is_none_or(|c| super::plan::rule_channel(r) == Some(c.as_str()))
                    })
                    .cloned()
                    .collect();
                reply(200, json!({ "rules": list }))
            }
            ("GET", ["api", "v2", "eventhub", "rules", id]) => match self.rules.get(*id) {
                Some(r) => reply(200, r.clone()),
                None => error(404, format!("no rule `{id}`")),
            },
            ("PUT", ["api", "v2", "eventhub", "rules", id]) => {
                let Some(b) = body else {
                    return error(400, "a rule body is required");
                };
                if let Err(r) = validate(&schemas().rule, &b) {
                    return r;
                }
                if let Some(ch) = super::plan::rule_channel(&b) {
                    if !self.channels.contains_key(ch) {
                        return reply(
                            422,
                            json!({"message": format!("ROUTE target channel `{ch}` does not exist"), "errors": [{"field": "/actions", "message": "unknown channelId"}]}),
                        );
                    }
                }
                let old = self.rules.get(*id).cloned();
                let status = if old.is_some() { 200 } else { 201 };
                let stored = with_server_fields(&b, id.to_string(), old.as_ref());
                self.rules.insert(id.to_string(), stored.clone());
                reply(status, stored)
            }
            ("DELETE", ["api", "v2", "eventhub", "rules", id]) => {
                if self.rules.remove(*id).is_none() {
                    return error(404, format!("no rule `{id}`"));
                }
                reply(204, Value::Null)
            }
            _ => error(404, format!("no endpoint {method} {path}")),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Largest request body accepted.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Serves `hub` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Hub,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use http_body_util::{BodyExt, Full, Limited};
    use hyper::body::Bytes;

    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let hub = hub.clone();
                    async move {
                        let method = req.method().as_str().to_string();
                        let path = req.uri().path().to_string();
                        let query = req.uri().query().unwrap_or("").to_string();
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let r = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                            Ok(b) => {
                                hub.handle(&method, &path, &query, auth.as_deref(), &b.to_bytes())
                            }
                            Err(_) => error(413, "request body too large"),
                        };
                        let mut resp = hyper::Response::builder().status(r.status);
                        for (k, v) in &r.headers {
                            resp = resp.header(*k, v.as_str());
                        }
                        let bytes = if r.body.is_null() {
                            Bytes::new()
                        } else {
                            resp = resp.header("content-type", "application/json");
                            Bytes::from(serde_json::to_vec(&r.body).unwrap_or_default())
                        };
                        resp.body(Full::new(bytes))
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// A mock hub running on its own thread; stops when dropped.
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The hub, for inspecting state and adding faults in tests.
    pub hub: Hub,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a mock hub on `127.0.0.1:port` (0 for any) on a background thread.
pub fn spawn(config: Config, port: u16) -> std::io::Result<Handle> {
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let hub = Hub::new(config, &format!("http://{addr}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = hub.clone();
    let thread = std::thread::Builder::new()
        .name("mock-hub".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async move {
                if let Ok(l) = tokio::net::TcpListener::from_std(std_listener) {
                    serve(l, h, async {
                        let _ = rx.await;
                    })
                    .await;
                }
            });
        })?;
    Ok(Handle {
        addr,
        hub,
        stop: Some(tx),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> (Hub, String) {
        let h = Hub::new(Config::default(), "http://127.0.0.1:1");
        let r = h.handle(
            "POST",
            "/authentication/v1/token/access-key",
            "",
            None,
            br#"{"accessKeyId":"demo","accessKeySecret":"demo"}"#,
        );
        assert_eq!(r.status, 200);
        let t = format!("Bearer {}", r.body["access_token"].as_str().unwrap());
        (h, t)
    }

    #[test]
    fn faults_parse_from_the_command_line_form() {
        let f: Fault = "PUT /api/v2/eventhub/rules/*:500:2".parse().unwrap();
        assert_eq!(
            f,
            Fault {
                method: "PUT".into(),
                path: "/api/v2/eventhub/rules/*".into(),
                status: 500,
                count: 2
            }
        );
        let f: Fault = "get /api/v2/eventhub/channels:503".parse().unwrap();
        assert_eq!((f.method.as_str(), f.status, f.count), ("GET", 503, 1));
        assert!("PUT nowhere:500".parse::<Fault>().is_err());
        assert!("PUT /x:999".parse::<Fault>().is_err());
    }

    #[test]
    fn an_invalid_channel_is_a_400_with_field_errors() {
        let (h, t) = hub();
        let r = h.handle(
            "POST",
            "/api/v2/eventhub/channels",
            "",
            Some(&t),
            br#"{"name":"C","type":"REST","destinationUri":"ftp://x","authentication":{"type":"NONE"}}"#,
        );
        assert_eq!(r.status, 400, "{:?}", r.body);
        let fields: Vec<&str> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"/destinationUri"), "{fields:?}");
        assert!(
            fields.contains(&"/"),
            "missing timeoutMilliseconds: {fields:?}"
        );
    }

    #[test]
    fn requests_without_a_valid_token_are_401_and_secrets_are_masked() {
        let (h, t) = hub();
        assert_eq!(
            h.handle("GET", "/api/v2/eventhub/channels", "", None, b"")
                .status,
            401
        );
        let body = br#"{"name":"C","type":"REST","destinationUri":"https://x","timeoutMilliseconds":5,"authentication":{"type":"OAUTH2_CLIENT_CREDENTIALS","tokenEndpoint":"https://t","clientId":"i","clientSecret":"topsecret"}}"#;
        let r = h.handle("POST", "/api/v2/eventhub/channels", "", Some(&t), body);
        assert_eq!(r.status, 201);
        assert_eq!(r.body["id"], "ch-000002");
        let r = h.handle("GET", "/api/v2/eventhub/channels/C", "", Some(&t), b"");
        assert_eq!(r.body["authentication"]["clientSecret"], "********");
        let r = h.handle("POST", "/api/v2/eventhub/channels", "", Some(&t), body);
        assert_eq!(r.status, 409);
    }

    #[test]
    fn metrics_are_deterministic_and_follow_the_interval() {
        let a = metric_points("C", "PT1H", 3600);
        assert_eq!(a, metric_points("C", "PT1H", 3600));
        assert_eq!(a["dataPoints"][1]["timestamp"], "2024-01-15T01:00:00Z");
        assert_eq!(duration_secs("PT15M"), Some(900));
        assert_eq!(duration_secs("P1DT1H"), Some(90000));
        assert_eq!(duration_secs("1H"), None);
    }

    #[test]
    fn admin_faults_fire_count_times_and_the_admin_api_needs_no_token() {
        let (h, t) = hub();
        let r = h.handle(
            "POST",
            "/_mock/faults",
            "",
            None,
            br#"{"method":"GET","path":"/api/v2/eventhub/channels","status":503,"count":1}"#,
        );
        assert_eq!(r.status, 201);
        let first = h.handle("GET", "/api/v2/eventhub/channels", "", Some(&t), b"");
        assert_eq!(first.status, 503);
        assert_eq!(first.headers, vec![("retry-after", "0".to_string())]);
        assert_eq!(
            h.handle("GET", "/api/v2/eventhub/channels", "", Some(&t), b"")
                .status,
            200
        );
        assert_eq!(
            h.handle("GET", "/_mock/api/v2/eventhub/channels", "", None, b"")
                .status,
            200
        );
    }

    #[test]
    fn globs_match_segments() {
        assert!(glob_match(
            "/api/v2/eventhub/rules/*",
            "/api/v2/eventhub/rules/R1"
        ));
        assert!(!glob_match(
            "/api/v2/eventhub/rules/*",
            "/api/v2/eventhub/rules"
        ));
        assert!(glob_match("/api/**", "/api/v2/eventhub/rules/R1"));
    }
}
