//! Spec → the Event Hub's three API payloads (channel, retry policy, rules), with who owns them.
//! Pure: no I/O; output field order follows the guide and is byte-stable. The API calls that
//! apply them (paths, methods) belong to `cxone`, the one place URLs are built.

use serde_json::{json, Map, Value};

use crate::spec::model::{Auth, ClientAuth, Jitter};
use crate::spec::Spec;

/// The channel header that names the spec and environment owning the channel (and so its retry
/// policy and the rules routing to it). See docs/apply.md, "Ownership".
pub const OWNER_HEADER: &str = "X-Cxsync-Owner";

/// Who owns the objects a spec creates: the spec's `name` and the `--env` overlay, if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    pub spec: String,
    pub env: Option<String>,
}

/// Separates a rule id from its environment in the live id: rule `R` of `--env staging` is
/// applied as `R--staging`, so the environments of one spec coexist on one tenant (defined with
/// the spec format, whose checks refuse ids that would collide, `E412`).
pub use crate::spec::model::ENV_ID_SEPARATOR;

impl Owner {
    /// The owner of a loaded spec.
    pub fn of(spec: &Spec) -> Owner {
        Owner {
            spec: spec.raw.name.clone(),
            env: spec.env.clone(),
        }
    }

    /// The value of [`OWNER_HEADER`]: `spec=NAME` or `spec=NAME; env=ENV`, the name
    /// percent-encoded outside `[A-Za-z0-9._~+:@/-]` so that any spec name is a safe, unambiguous
    /// header value.
    pub fn marker(&self) -> String {
        let mut m = format!("spec={}", encode(&self.spec));
        if let Some(e) = &self.env {
            m.push_str("; env=");
            m.push_str(&encode(e));
        }
        m
    }

    /// Reads a marker written by [`Owner::marker`]; `None` for anything else.
    pub fn parse(marker: &str) -> Option<Owner> {
        let mut spec = None;
        let mut env = None;
        for part in marker.split(';') {
            let (k, v) = part.trim().split_once('=')?;
            let v = decode(v)?;
            match k {
                "spec" if spec.is_none() => spec = Some(v),
                "env" if env.is_none() => env = Some(v),
                _ => return None,
            }
        }
        Some(Owner {
            spec: spec.filter(|s| !s.is_empty())?,
            env,
        })
    }

    /// The live id of the spec's rule `id`: unchanged for the base spec, `id--ENV` for an overlay.
    pub fn rule_id(&self, id: &str) -> String {
        match &self.env {
            None => id.to_string(),
            Some(e) => format!("{id}{ENV_ID_SEPARATOR}{e}"),
        }
    }

    /// The spec's rule id behind a live id of this owner's environment (`R--staging` → `R`).
    pub fn spec_rule_id<'a>(&self, live_id: &'a str) -> Option<&'a str> {
        match &self.env {
            None => Some(live_id),
            Some(e) => live_id
                .strip_suffix(e.as_str())?
                .strip_suffix(ENV_ID_SEPARATOR)
                .filter(|s| !s.is_empty()),
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.env {
            None => write!(f, "spec `{}` (no --env)", self.spec.escape_debug()),
            Some(e) => write!(f, "spec `{}` --env {e}", self.spec.escape_debug()),
        }
    }
}

fn encode(s: &str) -> String {
    crate::net::percent_encode(s, b"._~+:@/-")
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    /// The id it is applied under (`PUT /api/v2/eventhub/rules/{id}`): [`Owner::rule_id`].
    pub id: String,
    /// The id written in the spec.
    pub spec_id: String,
    /// Its rollout stage.
    pub stage: u32,
    /// The body of the `PUT`.
    pub body: Value,
}

/// The compiled payloads of one spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Payloads {
    /// Who the objects belong to.
    pub owner: Owner,
    /// Body of `POST /api/v2/eventhub/channels`, with the [`OWNER_HEADER`].
    pub channel: Value,
    /// Body of `PUT /api/v2/eventhub/channels/{name}/retry-policy`.
    pub retry_policy: Value,
    /// The enabled rules, in spec order.
    pub rules: Vec<CompiledRule>,
    /// `(live id, spec id)` of the rules with `enabled: false`: not sent, and removed where they
    /// are live (the guide's rule payload has no enabled flag; see docs/apply.md).
    pub disabled: Vec<(String, String)>,
}

/// Compiles a loaded spec. Rule transforms come from the resolved rules (inline or file);
/// rules with `enabled: false` are left out (and listed in `disabled`).
pub fn compile(spec: &Spec) -> Payloads {
    let raw = &spec.raw;
    let owner = Owner::of(spec);
    let ch = &raw.channel;
    let authentication = match &ch.auth {
        Auth::OAuth2ClientCredentials {
            token_endpoint,
            client_id,
            client_secret,
            client_auth,
            scopes,
            token_cache_ttl_seconds,
            retry_on_token_expiry,
        } => {
            let mut a = Map::new();
            a.insert("type".into(), json!("OAUTH2_CLIENT_CREDENTIALS"));
            a.insert("tokenEndpoint".into(), json!(token_endpoint));
            a.insert("clientId".into(), json!(client_id));
            a.insert("clientSecret".into(), json!(client_secret));
            a.insert("scopes".into(), json!(scopes));
            a.insert(
                "tokenCacheTtlSeconds".into(),
                json!(token_cache_ttl_seconds),
            );
            a.insert("retryOnTokenExpiry".into(), json!(retry_on_token_expiry));
            if *client_auth == ClientAuth::Basic {
                a.insert("clientAuthentication".into(), json!("BASIC"));
            }
            Value::Object(a)
        }
        Auth::Bearer { token } => json!({ "type": "BEARER", "token": token }),
        Auth::None {} => json!({ "type": "NONE" }),
    };
    let mut headers = Map::new();
    let mut idem_inserted = false;
    for (k, v) in &ch.headers {
        // The key is declared once, in `idempotency`; a repeat here (lint CX018) never wins.
        if k.eq_ignore_ascii_case(&raw.idempotency.header) {
            continue;
        }
        headers.insert(k.clone(), json!(v));
        // The guide lists the idempotency header after Content-Type.
        if k.eq_ignore_ascii_case("content-type") && !idem_inserted {
            headers.insert(raw.idempotency.header.clone(), json!(raw.idempotency.key));
            idem_inserted = true;
        }
    }
    if !idem_inserted {
        headers.insert(raw.idempotency.header.clone(), json!(raw.idempotency.key));
    }
    // Last, and always ours: a spec's own header of that name never wins.
    headers.retain(|k, _| !k.eq_ignore_ascii_case(OWNER_HEADER));
    headers.insert(OWNER_HEADER.into(), json!(owner.marker()));
    let channel = json!({
        "name": ch.name,
        "type": "REST",
        "destinationUri": ch.destination_uri,
        "authentication": authentication,
        "headers": headers,
        "timeoutMilliseconds": ch.timeout_milliseconds,
        "batchSize": ch.batch_size,
        "batchIntervalSeconds": ch.batch_interval_seconds,
    });

    let r = &raw.retry;
    let dlq = &raw.dead_letter_queue;
    let mut dlq_obj = Map::new();
    dlq_obj.insert("enabled".into(), json!(dlq.enabled));
    dlq_obj.insert("storageType".into(), json!(dlq.storage_type));
    if let Some(b) = &dlq.bucket_name {
        dlq_obj.insert("bucketName".into(), json!(b));
    }
    if let Some(p) = &dlq.prefix {
        dlq_obj.insert("prefix".into(), json!(p));
    }
    if let Some(a) = &dlq.alert_endpoint {
        dlq_obj.insert("alertEndpoint".into(), json!(a));
    }
    let mut policy = Map::new();
    policy.insert("maxRetries".into(), json!(r.max_retries));
    policy.insert(
        "initialDelaySeconds".into(),
        number(r.initial_delay_seconds),
    );
    policy.insert("maxDelaySeconds".into(), number(r.max_delay_seconds));
    policy.insert("backoffMultiplier".into(), float(r.backoff_multiplier));
    policy.insert("jitterEnabled".into(), json!(r.jitter != Jitter::None));
    policy.insert(
        "respectRetryAfterHeader".into(),
        json!(r.respect_retry_after_header),
    );
    policy.insert(
        "retryableStatusCodes".into(),
        json!(r.retryable_status_codes),
    );
    policy.insert(
        "nonRetryableStatusCodes".into(),
        json!(r.non_retryable_status_codes),
    );
    policy.insert("idempotencyHeader".into(), json!(raw.idempotency.header));
    policy.insert("idempotencyKeyTemplate".into(), json!(raw.idempotency.key));
    policy.insert("deadLetterQueue".into(), Value::Object(dlq_obj));
    let retry_policy = Value::Object(policy);

    let mut rules = Vec::new();
    let mut disabled = Vec::new();
    for (i, rule) in raw.rules.iter().enumerate() {
        let id = owner.rule_id(&rule.id);
        // A disabled rule is kept in the spec but not sent: the Event Hub rule payload has no
        // "enabled" field, so PUTting it would switch it on.
        if !rule.enabled {
            disabled.push((id, rule.id.clone()));
            continue;
        }
        let text = spec
            .rules
            .iter()
            .find(|r| r.index == i)
            .and_then(|r| r.transform.as_ref())
            .map(|t| t.text.clone())
            .or_else(|| rule.transform.clone())
            .unwrap_or_default();
        let body = json!({
            "name": rule.name,
            "eventType": rule.event_type,
            "conditions": rule.conditions,
            "actions": [
                { "type": "TRANSFORM", "jsonataExpression": text.trim_end() },
                { "type": "ROUTE", "channelId": ch.name },
            ],
        });
        rules.push(CompiledRule {
            id,
            spec_id: rule.id.clone(),
            stage: rule.stage,
            body,
        });
    }
    Payloads {
        owner,
        channel,
        retry_policy,
        rules,
        disabled,
    }
}

/// Whole numbers print as integers (`2`, not `2.0`), as in the guide.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Always a float (`2.0`), as the guide writes `backoffMultiplier`.
fn float(x: f64) -> Value {
    json!(x)
}

/// What a terminal shows instead of a secret that cxsync resolved from the environment.
pub const SENSITIVE: &str = "(sensitive)";

/// Byte-stable pretty JSON with a trailing newline: the form of every output file.
pub fn to_pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("a JSON value serializes");
    s.push('\n');
    s
}

impl Payloads {
    /// Every payload as `(path relative to --out, JSON)`, in apply order: `channel.json`,
    /// `retry-policy.json`, `rules/<live id>.json`.
    pub fn files(&self) -> Vec<(String, Value)> {
        let mut out = vec![
            ("channel.json".to_string(), self.channel.clone()),
            ("retry-policy.json".to_string(), self.retry_policy.clone()),
        ];
        for r in &self.rules {
            out.push((format!("rules/{}.json", r.id), r.body.clone()));
        }
        out
    }

    /// A copy with every secret that cxsync resolved from `${env:…}` (the auth secret, and
    /// headers named as credentials) replaced by [`SENSITIVE`]. `${VAULT_SECRET:…}` references are not secrets and stay.
    pub fn redacted(&self, spec: &Spec) -> Payloads {
        let mut p = self.clone();
        let auth = p.channel.get_mut("authentication");
        if let Some(Value::Object(a)) = auth {
            for (pointer, field) in [
                ("/channel/auth/clientSecret", "clientSecret"),
                ("/channel/auth/token", "token"),
            ] {
                if spec.sensitive.contains_key(pointer) {
                    if let Some(v) = a.get_mut(field) {
                        *v = json!(SENSITIVE);
                    }
                }
            }
        }
        // Headers named as credentials (`Authorization`, `X-Api-Key`) resolved from the
        // environment: the loader marks them, as `plan` masks them.
        if let Some(Value::Object(h)) = p.channel.get_mut("headers") {
            for (name, v) in h.iter_mut() {
                let pointer = crate::spec::yaml::child("/channel/headers", name);
                if spec.sensitive.contains_key(&pointer) {
                    *v = json!(SENSITIVE);
                }
            }
        }
        p
    }
}
