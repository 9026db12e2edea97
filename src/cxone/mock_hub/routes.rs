//! Request routing of the mock hub: discovery, the access-key token endpoint, the admin surface
//! (`/_mock/...`) and the Event Hub API itself, each write validated against the checked-in
//! `schemas/eventhub-*.json`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::state::{masked, metric_points, now, with_server_fields, State};
use super::{error, reply, Effect, Fault, Hub, Reply};

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
            channel: load(include_str!("../../../schemas/eventhub-channel.json")),
            retry_policy: load(include_str!("../../../schemas/eventhub-retry-policy.json")),
            rule: load(include_str!("../../../schemas/eventhub-rule.json")),
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

impl Hub {
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
        match s.fault(method, path) {
            Some(Effect::Status(status)) => s.fault_reply(status),
            Some(Effect::Drop) => Reply {
                drop: true,
                ..reply(0, Value::Null)
            },
            Some(Effect::DropAfter) => Reply {
                drop: true,
                ..s.api(method, path, query, body)
            },
            None => s.api(method, path, query, body),
        }
    }
}

impl State {
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
                let step = match crate::cxone::metrics::interval_seconds(&interval) {
                    Ok(s) => s,
                    Err(e) => {
                        return reply(
                            400,
                            json!({"message": "invalid interval", "errors": [{"field": "interval", "message": e}]}),
                        )
                    }
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
                            .is_none_or(|c| crate::cxone::plan::rule_channel(r) == Some(c.as_str()))
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
                if let Some(ch) = crate::cxone::plan::rule_channel(&b) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cxone::mock_hub::Config;

    /// A POST without a query.
    fn post(h: &Hub, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        h.handle("POST", path, "", token, body)
    }

    fn hub() -> (Hub, String) {
        let h = Hub::new(Config::default(), "http://127.0.0.1:1");
        let r = post(
            &h,
            "/authentication/v1/token/access-key",
            None,
            br#"{"accessKeyId":"demo","accessKeySecret":"demo"}"#,
        );
        assert_eq!(r.status, 200);
        let t = format!("Bearer {}", r.body["access_token"].as_str().unwrap());
        (h, t)
    }

    #[test]
    fn an_invalid_channel_is_a_400_with_field_errors() {
        let (h, t) = hub();
        let r = post(&h, "/api/v2/eventhub/channels", Some(&t), br#"{"name":"C","type":"REST","destinationUri":"ftp://x","authentication":{"type":"NONE"}}"#);
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
    fn admin_faults_fire_count_times_and_the_admin_api_needs_no_token() {
        let (h, t) = hub();
        let r = post(
            &h,
            "/_mock/faults",
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
}
