//! The Event Hub REST client: the guide's endpoints, CXone access-key authentication with token
//! refresh, bounded retries of 429/5xx, and errors that say what to do about a 4xx.
//!
//! The Event Hub API is known only from the guide; every assumption this client makes (how a
//! channel is found and updated, which fields the server sets, the list shapes) is written in
//! `docs/apply.md`, which is our contract with the server.
//!
//! Async on tokio because the mock hub and `http` already run on tokio and reqwest's blocking
//! client would start a second runtime inside it (which panics when called from async tests).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use super::paths;

/// A credential that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// How cxsync authenticates to CXone.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A CXone access key, exchanged for an access token at the auth endpoint.
    AccessKey { id: String, secret: Secret },
    /// A bearer token used as given (no refresh possible).
    Token(Secret),
}

impl Credentials {
    /// Reads `CXSYNC_ACCESS_KEY_ID`/`CXSYNC_ACCESS_KEY_SECRET` or `CXSYNC_TOKEN` from `vars`.
    pub fn from_vars(vars: &std::collections::BTreeMap<String, String>) -> Result<Self, HubError> {
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        match (
            get("CXSYNC_ACCESS_KEY_ID"),
            get("CXSYNC_ACCESS_KEY_SECRET"),
            get("CXSYNC_TOKEN"),
        ) {
            (Some(id), Some(secret), _) => Ok(Credentials::AccessKey {
                id,
                secret: Secret(secret),
            }),
            (None, None, Some(t)) => Ok(Credentials::Token(Secret(t))),
            (Some(_), None, _) | (None, Some(_), _) => Err(HubError::Config(
                "set both CXSYNC_ACCESS_KEY_ID and CXSYNC_ACCESS_KEY_SECRET (or only CXSYNC_TOKEN)"
                    .into(),
            )),
            (None, None, None) => Err(HubError::Config(
                "no CXone credentials: set CXSYNC_ACCESS_KEY_ID and CXSYNC_ACCESS_KEY_SECRET, or \
                 CXSYNC_TOKEN (credentials are never read from the spec)"
                    .into(),
            )),
        }
    }

    /// Every secret string, so output can be scrubbed of them.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::AccessKey { secret, .. } => vec![secret.0.clone()],
            Credentials::Token(t) => vec![t.0.clone()],
        }
    }
}

/// What went wrong talking to the Event Hub. Callers branch on `Status` (4xx stops an apply).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Bad configuration: URL, credentials missing.
    #[error("{0}")]
    Config(String),
    /// The server answered with an error status; `explanation` says what to do.
    #[error("{method} {path} → {status}: {explanation}")]
    Status {
        method: String,
        path: String,
        status: u16,
        explanation: String,
        /// The server's own message, if any.
        server_message: Option<String>,
    },
    /// The request never got an answer (connection, TLS, timeout).
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    /// The server answered 2xx with a body we could not read.
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
}

impl HubError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Retry bounds for 429/5xx and transport errors.
#[derive(Debug, Clone, Copy)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay; doubles each retry.
    pub base_delay: Duration,
    /// Largest delay, including a server's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Where the API and the auth service live.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Base of `/api/v2/...`.
    pub api: Url,
    /// Base of `/authentication/v1/token/access-key`.
    pub auth: Url,
}

/// Refuses plain `http://` except on loopback; TLS (https) is always verified by the client.
pub fn check_url(what: &str, s: &str) -> Result<Url, HubError> {
    use crate::net::UrlError;
    crate::net::require_https_or_loopback(s.trim_end_matches('/')).map_err(|e| {
        HubError::Config(match e {
            UrlError::NotAUrl { reason, .. } => format!("{what} `{s}` is not a URL: {reason}"),
            UrlError::NoHost { .. } => format!("{what} `{s}` has no host"),
            UrlError::PlainHttp { .. } => {
                format!("{what} `{s}` uses plain http:// to a non-loopback host; use https://")
            }
            UrlError::Scheme { scheme, .. } => {
                format!("{what} `{s}` has scheme `{scheme}`; expected https://")
            }
        })
    })
}

/// Reads `{issuer}/.well-known/cxone-configuration` and returns the API and auth endpoints from
/// its `api_endpoint` and `auth_endpoint` fields.
pub async fn discover(issuer: &str) -> Result<Endpoints, HubError> {
    let base = check_url("issuer", issuer)?;
    let url = join(&base, "/.well-known/cxone-configuration");
    let path = url.path().to_string();
    let http = http_client()?;
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| transport("GET", &path, &e))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| HubError::Decode {
        method: "GET".into(),
        path: path.clone(),
        message: e.to_string(),
    })?;
    if !status.is_success() {
        return Err(HubError::Status {
            method: "GET".into(),
            path,
            status: status.as_u16(),
            explanation: "the issuer did not return its CXone configuration; check --issuer".into(),
            server_message: server_message(&body),
        });
    }
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| HubError::Decode {
                method: "GET".into(),
                path: path.clone(),
                message: format!("the CXone configuration has no `{k}`"),
            })
    };
    Ok(Endpoints {
        api: check_url("api_endpoint", field("api_endpoint")?)?,
        auth: check_url("auth_endpoint", field("auth_endpoint")?)?,
    })
}

/// How long one request may take, and how long its connection may take to open: a host that
/// does not answer at all fails its attempt in [`CONNECT_TIMEOUT`], not in [`REQUEST_TIMEOUT`]
/// (tester #116).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Says on stderr, before a retry that follows a request without an answer (a refused or
/// unreachable host, a timeout), what is being waited for and when cxsync will give up: the
/// silence tester #116 measured (up to 2.5 minutes) is then a line per attempt.
fn note_waiting(cfg: &RetryConfig, method: &str, url: &Url, e: &reqwest::Error, attempt: u32) {
    let left = (cfg.max_retries + 1).saturating_sub(attempt);
    let delay = delay_for(cfg, attempt, None);
    let mut worst = Duration::ZERO;
    for n in attempt..=cfg.max_retries {
        worst = worst
            .saturating_add(delay_for(cfg, n, None))
            .saturating_add(REQUEST_TIMEOUT);
    }
    let why = if e.is_timeout() {
        format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the connection failed".to_string()
    };
    let mut shown = url.clone();
    shown.set_query(None);
    let _ = shown.set_password(None);
    crate::errln!(
        "cxsync: {method} {shown}: {why} (attempt {attempt} of {}); retrying in {:.1} s, giving up after {left} more attempt(s), within {} s",
        cfg.max_retries + 1,
        delay.as_secs_f64(),
        worst.as_secs()
    );
}

fn http_client() -> Result<reqwest::Client, HubError> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("cxsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HubError::Config(format!("cannot build the HTTP client: {e}")))
}

fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    let prefix = base.path().trim_end_matches('/');
    u.set_path(&format!("{prefix}{path}"));
    u
}

fn transport(method: &str, path: &str, e: &reqwest::Error) -> HubError {
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    HubError::Transport {
        method: method.into(),
        path: path.into(),
        message,
    }
}

fn server_message(body: &Value) -> Option<String> {
    for k in ["message", "error_description", "error", "detail", "title"] {
        if let Some(s) = body.get(k).and_then(Value::as_str) {
            let mut m = s.to_string();
            if let Some(errs) = body.get("errors").and_then(Value::as_array) {
                for e in errs {
                    let field = e.get("field").and_then(Value::as_str).unwrap_or("");
                    let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                    m.push_str(&format!("; {field}: {msg}"));
                }
            }
            return Some(m);
        }
    }
    None
}

/// The guide's permission for an endpoint (its prerequisites list), for 403 explanations.
pub fn permission_for(method: &str, path: &str) -> &'static str {
    if path.contains("/licensing/") {
        "Administration > System Settings > Edit (to read licensing entitlements)"
    } else if path.contains("/eventhub/channels")
        && !path.contains("/retry-policy")
        && method != "GET"
    {
        "Integration > Event Hub > Manage (and Security > OAuth > Client Management for a channel \
         with OAuth client credentials)"
    } else {
        "Integration > Event Hub > Manage"
    }
}

/// What a 4xx/5xx means for this call, in words a user can act on.
pub fn explain(status: u16, method: &str, path: &str, server: Option<&str>) -> String {
    let server = server
        .map(|m| format!(" (server: {m})"))
        .unwrap_or_default();
    match status {
        400 => format!("the server rejected the payload{server}"),
        401 => format!(
            "the CXone credentials were rejected; check CXSYNC_ACCESS_KEY_ID/CXSYNC_ACCESS_KEY_SECRET \
             or CXSYNC_TOKEN{server}"
        ),
        403 => format!(
            "the CXone user behind these credentials lacks the permission {}{server}",
            permission_for(method, path)
        ),
        404 => {
            let (what, hint) = what_is_at(path);
            format!("{what} does not exist{hint}{server}")
        }
        409 => format!("conflict with the live state{server}"),
        422 => format!("the server could not accept the payload{server}"),
        429 => format!("throttled by the server and retries ran out{server}"),
        s if s >= 500 => format!("server error, retries ran out{server}"),
        _ => format!("unexpected status{server}"),
    }
}

/// What a path names, and a hint for when it is missing.
fn what_is_at(path: &str) -> (String, &'static str) {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "v2", "eventhub", "channels", name, "retry-policy"] => (
            format!("the retry policy of channel `{name}` (or the channel)"),
            "",
        ),
        ["api", "v2", "eventhub", "channels", name, "metrics"] => {
            (format!("channel `{name}`"), "; apply the spec first")
        }
        ["api", "v2", "eventhub", "channels", name] => (format!("channel `{name}`"), ""),
        ["api", "v2", "eventhub", "rules", id] => (format!("rule `{id}`"), ""),
        ["api", "v2", "licensing", ..] => (
            "the licensing endpoint".into(),
            "; is the hub URL a CXone API base URL?",
        ),
        _ => (format!("`{path}`"), "; is the hub URL right?"),
    }
}

/// How long to wait before retry `n` (1-based): `Retry-After` if given (capped), else
/// exponential backoff.
fn delay_for(cfg: &RetryConfig, n: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = cfg
        .base_delay
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)));
    retry_after.unwrap_or(backoff).min(cfg.max_delay)
}

/// A `Retry-After` header read by the delivery machine's parser (delta-seconds or an HTTP-date,
/// capped at a day), against the wall clock: this client runs in real time.
fn parse_retry_after(h: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    crate::delivery::retry_after::parse(h?.to_str().ok()?, std::time::SystemTime::now())
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

/// An authenticated Event Hub client.
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    credentials: Credentials,
    retry: RetryConfig,
    token: Option<CachedToken>,
    /// Access tokens fetched so far (reported by `apply -v` and used by tests).
    pub tokens_fetched: u32,
}

/// A successful response: status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// What each earlier attempt of this call met (`429`, `503`, `connection lost`, `401, new
    /// token`), in order; empty when the first attempt succeeded.
    pub retried: Vec<String>,
}

impl Client {
    /// A client for `endpoints` with `credentials`.
    pub fn new(
        endpoints: Endpoints,
        credentials: Credentials,
        retry: RetryConfig,
    ) -> Result<Self, HubError> {
        Ok(Client {
            http: http_client()?,
            endpoints,
            credentials,
            retry,
            token: None,
            tokens_fetched: 0,
        })
    }

    /// The API base URL.
    pub fn api_base(&self) -> &Url {
        &self.endpoints.api
    }

    async fn access_token(&mut self, force: bool) -> Result<Secret, HubError> {
        let (id, secret) = match &self.credentials {
            Credentials::Token(t) => return Ok(t.clone()),
            Credentials::AccessKey { id, secret } => (id.clone(), secret.clone()),
        };
        if let Some(t) = &self.token {
            if !force && Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let url = join(&self.endpoints.auth, "/authentication/v1/token/access-key");
        let path = url.path().to_string();
        let mut attempt = 0;
        let resp = loop {
            let r = self
                .http
                .post(url.clone())
                .json(&json!({ "accessKeyId": id, "accessKeySecret": secret.expose() }))
                .send()
                .await;
            match r {
                Ok(resp)
                    if (resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error())
                        && attempt < self.retry.max_retries =>
                {
                    attempt += 1;
                    let ra = parse_retry_after(resp.headers().get("retry-after"));
                    tokio::time::sleep(delay_for(&self.retry, attempt, ra)).await;
                }
                Ok(resp) => break resp,
                Err(e) if attempt < self.retry.max_retries => {
                    attempt += 1;
                    note_waiting(&self.retry, "POST", &url, &e, attempt);
                    tokio::time::sleep(delay_for(&self.retry, attempt, None)).await;
                }
                Err(e) => return Err(transport("POST", &path, &e)),
            }
        };
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let server = server_message(&body);
            let explanation = if status == 400 || status == 401 || status == 403 {
                format!(
                    "the access key was rejected; check CXSYNC_ACCESS_KEY_ID and \
                     CXSYNC_ACCESS_KEY_SECRET{}",
                    server
                        .as_deref()
                        .map(|m| format!(" (server: {m})"))
                        .unwrap_or_default()
                )
            } else {
                explain(status, "POST", &path, server.as_deref())
            };
            return Err(HubError::Status {
                method: "POST".into(),
                path,
                status,
                explanation,
                server_message: server,
            });
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| HubError::Decode {
                method: "POST".into(),
                path: path.clone(),
                message: "no `access_token` in the token response".into(),
            })?;
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        // Refresh a little before expiry: a tenth of the lifetime, at most a minute.
        let skew = (expires_in / 10).min(60);
        let value = Secret(token.to_string());
        self.token = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + Duration::from_secs(expires_in.saturating_sub(skew)),
        });
        self.tokens_fetched += 1;
        Ok(value)
    }

    /// The current access token, for scrubbing output (it is never printed on purpose).
    pub fn current_token(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.value.0.clone())
    }

    /// Sends one API call: authenticates, retries 429/5xx/transport errors (bounded, honouring
    /// `Retry-After`), refreshes the token once on a 401, and explains any final error status.
    /// `POST` is not idempotent, so it is retried only on 429 (the server did not process it).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response, HubError> {
        let mut url = join(&self.endpoints.api, path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let m = method.as_str().to_string();
        let idempotent = method != Method::POST;
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut retried = Vec::new();
        let mut token = self.access_token(false).await?;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose())
                .header("accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    if idempotent && attempt < self.retry.max_retries {
                        attempt += 1;
                        note_waiting(&self.retry, &m, &url, &e, attempt);
                        retried.push("connection lost".to_string());
                        tokio::time::sleep(delay_for(&self.retry, attempt, None)).await;
                        continue;
                    }
                    let mut err = transport(&m, path, &e);
                    if let HubError::Transport { message, .. } = &mut err {
                        message.push_str(&if idempotent {
                            format!(" ({} attempts)", attempt + 1)
                        } else {
                            // Not resent: the server may have acted on it.
                            " (not retried: a POST may have been processed; the next apply \
                             finds what it created)"
                                .to_string()
                        });
                    }
                    return Err(err);
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && matches!(self.credentials, Credentials::AccessKey { .. })
            {
                refreshed = true;
                retried.push("401, new token".to_string());
                token = self.access_token(true).await?;
                continue;
            }
            let retryable =
                status == StatusCode::TOO_MANY_REQUESTS || (idempotent && status.is_server_error());
            if retryable && attempt < self.retry.max_retries {
                attempt += 1;
                retried.push(status.as_u16().to_string());
                let ra = parse_retry_after(resp.headers().get("retry-after"));
                tokio::time::sleep(delay_for(&self.retry, attempt, ra)).await;
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            let json: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            if status.is_success() {
                return Ok(Response {
                    status: status.as_u16(),
                    body: json,
                    retried,
                });
            }
            let server = server_message(&json).or_else(|| json.as_str().map(str::to_string));
            return Err(HubError::Status {
                method: m.clone(),
                path: path.to_string(),
                status: status.as_u16(),
                explanation: explain(status.as_u16(), &m, path, server.as_deref()),
                server_message: server,
            });
        }
    }

    /// `GET`, mapping 404 to `None`.
    pub async fn get_opt(&mut self, path: &str) -> Result<Option<Value>, HubError> {
        match self.call(Method::GET, path, &[], None).await {
            Ok(r) => Ok(Some(r.body)),
            Err(HubError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v2/eventhub/channels`, as a list.
    pub async fn list_channels(&mut self) -> Result<Vec<Value>, HubError> {
        let list = self
            .call(Method::GET, paths::CHANNELS, &[], None)
            .await?
            .body;
        Ok(list_items(&list, "channels"))
    }

    /// `GET /api/v2/eventhub/channels`, then the one whose `name` matches, read in full with
    /// `GET /api/v2/eventhub/channels/{name}`.
    pub async fn find_channel(&mut self, name: &str) -> Result<Option<Value>, HubError> {
        let found = self
            .list_channels()
            .await?
            .iter()
            .any(|c| c.get("name").and_then(Value::as_str) == Some(name));
        if !found {
            return Ok(None);
        }
        self.get_opt(&paths::channel(name)).await
    }

    /// `GET /api/v2/eventhub/rules` (optionally `?channelId=`), as a list.
    pub async fn list_rules(&mut self) -> Result<Vec<Value>, HubError> {
        let list = self.call(Method::GET, paths::RULES, &[], None).await?.body;
        Ok(list_items(&list, "rules"))
    }

    /// `GET /api/v2/licensing/entitlements`.
    pub async fn entitlements(&mut self) -> Result<Value, HubError> {
        Ok(self
            .call(Method::GET, paths::ENTITLEMENTS, &[], None)
            .await?
            .body)
    }

    /// `GET /api/v2/eventhub/channels/{name}/metrics?interval=…&metrics=…`.
    pub async fn metrics(
        &mut self,
        channel: &str,
        interval: &str,
        metrics: &str,
    ) -> Result<Value, HubError> {
        Ok(self
            .call(
                Method::GET,
                &paths::metrics(channel),
                &[("interval", interval), ("metrics", metrics)],
                None,
            )
            .await?
            .body)
    }
}

/// A list response is either a bare array or an object holding the array under `key` (or
/// `items`/`data`): both shapes are accepted (see docs/apply.md).
pub fn list_items(v: &Value, key: &str) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    for k in [key, "items", "data"] {
        if let Some(a) = v.get(k).and_then(Value::as_array) {
            return a.clone();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print_in_debug() {
        let c = Credentials::AccessKey {
            id: "id".into(),
            secret: Secret::new("hunter2-very-secret"),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("(sensitive)"));
    }

    #[test]
    fn forbidden_names_the_guide_permission() {
        let e = explain(403, "PUT", "/api/v2/eventhub/rules/R1", None);
        assert!(e.contains("Integration > Event Hub > Manage"), "{e}");
        let e = explain(403, "GET", "/api/v2/licensing/entitlements", None);
        assert!(e.contains("Administration > System Settings > Edit"), "{e}");
        let e = explain(404, "GET", "/api/v2/eventhub/channels/C/retry-policy", None);
        assert!(e.contains("retry policy of channel `C`"), "{e}");
    }

    #[tokio::test]
    async fn a_token_is_renewed_before_it_expires_not_after_a_401() {
        use wiremock::matchers::{header, method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/authentication/v1/token/access-key"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "short-lived", "expires_in": 1})),
            )
            .expect(2)
            .named("a 1 s token, fetched once per call")
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(paths::ENTITLEMENTS))
            .and(header("authorization", "Bearer short-lived"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(2)
            .named("never answered 401")
            .mount(&s)
            .await;
        let url = check_url("hub", &s.uri()).unwrap();
        let mut c = Client::new(
            Endpoints {
                api: url.clone(),
                auth: url,
            },
            Credentials::AccessKey {
                id: "k".into(),
                secret: Secret::new("s"),
            },
            RetryConfig::default(),
        )
        .unwrap();
        c.entitlements().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        c.entitlements().await.unwrap();
        assert_eq!(c.tokens_fetched, 2);
    }

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_the_cap() {
        let cfg = RetryConfig {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(delay_for(&cfg, 1, None), Duration::from_millis(100));
        assert_eq!(delay_for(&cfg, 3, None), Duration::from_millis(400));
        assert_eq!(delay_for(&cfg, 9, None), Duration::from_secs(1));
        assert_eq!(
            delay_for(&cfg, 1, Some(Duration::from_secs(7))),
            Duration::from_secs(1)
        );
    }
}
