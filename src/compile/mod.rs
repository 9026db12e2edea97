//! Spec → the Event Hub's three API payloads (channel, retry policy, rules) and the manifest of
//! calls that applies them. Pure: no I/O; output field order follows the guide and is byte-stable.

use serde_json::{json, Map, Value};

use crate::spec::model::{Auth, ClientAuth, Jitter};
use crate::spec::Spec;

/// One API call of an apply, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    /// Output file (relative to `--out`) holding the body.
    pub file: String,
}

/// The compiled payloads of one spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Payloads {
    /// Body of `POST /api/v2/eventhub/channels`.
    pub channel: Value,
    /// Body of `PUT /api/v2/eventhub/channels/{name}/retry-policy`.
    pub retry_policy: Value,
    /// `(ruleId, body of PUT /api/v2/eventhub/rules/{ruleId})`, in spec order.
    pub rules: Vec<(String, Value)>,
    /// The calls in apply order.
    pub manifest: Vec<Call>,
}

/// Compiles a loaded spec. Rule transforms come from the resolved rules (inline or file);
/// rules with `enabled: false` are left out.
pub fn compile(spec: &Spec) -> Payloads {
    let raw = &spec.raw;
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
    let mut manifest = vec![
        Call {
            method: "POST",
            path: "/api/v2/eventhub/channels".into(),
            file: "channel.json".into(),
        },
        Call {
            method: "PUT",
            path: format!("/api/v2/eventhub/channels/{}/retry-policy", ch.name),
            file: "retry-policy.json".into(),
        },
    ];
    for (i, rule) in raw.rules.iter().enumerate() {
        // A disabled rule is kept in the spec but not sent: the Event Hub rule payload has no
        // "enabled" field, so PUTting it would switch it on.
        if !rule.enabled {
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
        manifest.push(Call {
            method: "PUT",
            path: format!("/api/v2/eventhub/rules/{}", rule.id),
            file: format!("rules/{}.json", rule.id),
        });
        rules.push((rule.id.clone(), body));
    }
    Payloads {
        channel,
        retry_policy,
        rules,
        manifest,
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
    /// Every output as `(path relative to --out, JSON)`, in apply order with the manifest last.
    pub fn files(&self) -> Vec<(String, Value)> {
        let mut out = vec![
            ("channel.json".to_string(), self.channel.clone()),
            ("retry-policy.json".to_string(), self.retry_policy.clone()),
        ];
        for (id, body) in &self.rules {
            out.push((format!("rules/{id}.json"), body.clone()));
        }
        out.push((
            "manifest.json".to_string(),
            json!({ "calls": self.manifest }),
        ));
        out
    }

    /// All outputs in one JSON document keyed by their file names (what `compile` prints without
    /// `--out`).
    pub fn document(&self) -> Value {
        Value::Object(self.files().into_iter().collect())
    }

    /// A copy with every secret that cxsync resolved from `${env:…}` replaced by
    /// [`SENSITIVE`]. `${VAULT_SECRET:…}` references are not secrets and stay.
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
        p
    }
}
