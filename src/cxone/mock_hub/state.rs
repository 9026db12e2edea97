//! The mock hub's state: the stored objects, issued tokens, pending faults and the request log,
//! behind one mutex ([`Hub`]), with what the server adds to a stored object (`id`, `createdAt`,
//! `updatedAt`, `status`), how a read masks credentials, and the generated metrics.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::{error, glob_match, reply, Config, Effect, Fault, Reply};

/// The mock's state.
#[derive(Debug)]
pub(super) struct State {
    pub(super) config: Config,
    pub(super) base_url: String,
    pub(super) channels: BTreeMap<String, Value>,
    pub(super) policies: BTreeMap<String, Value>,
    pub(super) rules: BTreeMap<String, Value>,
    pub(super) tokens: BTreeMap<String, Instant>,
    pub(super) faults: Vec<Fault>,
    pub(super) seq: u64,
    pub(super) tokens_issued: u64,
    pub(super) requests: Vec<String>,
    /// Metrics responses set through `PUT /_mock/metrics/{channel}`, replacing the generated ones.
    pub(super) metrics: BTreeMap<String, Value>,
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a GET shows of a channel: credentials masked, as a real API does.
pub(super) fn masked(ch: &Value) -> Value {
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

pub(super) fn with_server_fields(body: &Value, id: String, old: Option<&Value>) -> Value {
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

/// Deterministic data points: a function of the channel name and the point index only.
pub(super) fn metric_points(channel: &str, interval: &str, step: u64) -> Value {
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
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
}

impl State {
    pub(super) fn token(&mut self, body: Option<Value>) -> Reply {
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

    pub(super) fn check_token(&mut self, authorization: Option<&str>) -> Option<Reply> {
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

    /// The next pending fault matching the request, consumed.
    pub(super) fn fault(&mut self, method: &str, path: &str) -> Option<Effect> {
        let i = self
            .faults
            .iter()
            .position(|f| f.count > 0 && f.method == method && glob_match(&f.path, path))?;
        let f = &mut self.faults[i];
        f.count -= 1;
        let effect = f.effect;
        if f.count == 0 {
            self.faults.remove(i);
        }
        Some(effect)
    }

    /// The answer of a status fault.
    pub(super) fn fault_reply(&mut self, status: u16) -> Reply {
        if status == 401 {
            self.tokens.clear();
        }
        let mut r = error(status, format!("injected fault: {status}"));
        if status == 429 || status == 503 {
            r.headers.push(("retry-after", "0".into()));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_deterministic_and_follow_the_interval() {
        let a = metric_points("C", "PT1H", 3600);
        assert_eq!(a, metric_points("C", "PT1H", 3600));
        assert_eq!(a["dataPoints"][1]["timestamp"], "2024-01-15T01:00:00Z");
    }
}
