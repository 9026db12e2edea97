//! Spec → the Event Hub's three API payloads (channel, retry policy, rules), with who owns them.
//! Pure: no I/O; output field order follows the guide and is byte-stable. The API calls that
//! apply them (paths, methods) belong to `cxone`, the one place URLs are built.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::spec::model::{Auth, ClientAuth, Jitter};
pub use crate::spec::secret::{Origin, Origins, Side};
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
    /// Which payload fields hold a value from `${env:…}` or `${VAULT_SECRET:…}`: what every
    /// printer masks ([`crate::spec::secret::masked`]).
    pub secrets: Secrets,
}

/// The payload fields whose values are secret by where they came from, per object: JSON pointer
/// into the payload → [`Origin`]. Made by [`compile`] from the loader's record of the spec's
/// fields ([`crate::spec::secret::origins`]); credential-named fields are masked on top of these
/// by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Secrets {
    pub channel: Origins,
    pub retry_policy: Origins,
    /// By live rule id.
    pub rules: BTreeMap<String, Origins>,
}

/// Spec field (JSON pointer prefix) → the channel payload field it is compiled into.
const CHANNEL_FIELDS: &[(&str, &str)] = &[
    ("/channel/name", "/name"),
    ("/channel/destinationUri", "/destinationUri"),
    (
        "/channel/auth/tokenEndpoint",
        "/authentication/tokenEndpoint",
    ),
    ("/channel/auth/clientId", "/authentication/clientId"),
    ("/channel/auth/clientSecret", "/authentication/clientSecret"),
    ("/channel/auth/scopes", "/authentication/scopes"),
    ("/channel/auth/token", "/authentication/token"),
];

/// Spec field → the retry-policy payload field.
const RETRY_POLICY_FIELDS: &[(&str, &str)] = &[
    ("/idempotency/header", "/idempotencyHeader"),
    ("/idempotency/key", "/idempotencyKeyTemplate"),
    (
        "/deadLetterQueue/storageType",
        "/deadLetterQueue/storageType",
    ),
    ("/deadLetterQueue/bucketName", "/deadLetterQueue/bucketName"),
    ("/deadLetterQueue/prefix", "/deadLetterQueue/prefix"),
    (
        "/deadLetterQueue/alertEndpoint",
        "/deadLetterQueue/alertEndpoint",
    ),
];

/// Spec field of rule `i` (after `/rules/i`) → the rule payload field.
const RULE_FIELDS: &[(&str, &str)] = &[
    ("/name", "/name"),
    ("/eventType", "/eventType"),
    ("/conditions", "/conditions"),
];

/// `pointer` moved from under `from` to under `to`, if it is `from` or below it.
fn moved(pointer: &str, from: &str, to: &str) -> Option<String> {
    let rest = pointer.strip_prefix(from)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
}

/// Where each secret spec field lands in the payloads; a pointer that resolves to nothing (the
/// field was not compiled) is dropped.
fn secrets_of(
    spec: &Spec,
    channel: &Value,
    retry_policy: &Value,
    rules: &[CompiledRule],
) -> Secrets {
    let raw = &spec.raw;
    let mut out = Secrets::default();
    let put = |map: &mut Origins, target: &Value, pointer: String, o: Origin| {
        if target.pointer(&pointer).is_some() {
            let e = map.entry(pointer).or_insert(o);
            *e = (*e).min(o);
        }
    };
    let idem = crate::spec::yaml::child("/headers", &raw.idempotency.header);
    for (field, o) in crate::spec::secret::origins(spec) {
        for (from, to) in CHANNEL_FIELDS {
            if let Some(p) = moved(&field, from, to) {
                put(&mut out.channel, channel, p, o);
            }
        }
        if let Some(rest) = field.strip_prefix("/channel/headers/") {
            let name = rest.replace("~1", "/").replace("~0", "~");
            // The idempotency header is the key's (below); the owner marker is always ours.
            let ours = name.eq_ignore_ascii_case(&raw.idempotency.header)
                || name.eq_ignore_ascii_case(OWNER_HEADER);
            if !ours && !rest.contains('/') {
                put(&mut out.channel, channel, format!("/headers/{rest}"), o);
            }
        }
        if field == "/idempotency/key" {
            put(&mut out.channel, channel, idem.clone(), o);
        }
        for (from, to) in RETRY_POLICY_FIELDS {
            if let Some(p) = moved(&field, from, to) {
                put(&mut out.retry_policy, retry_policy, p, o);
            }
        }
        for r in rules {
            let Some(i) = raw.rules.iter().position(|x| x.id == r.spec_id) else {
                continue;
            };
            let map = out.rules.entry(r.id.clone()).or_default();
            if field == "/channel/name" {
                put(map, &r.body, "/actions/1/channelId".into(), o);
            }
            let Some(rest) = field.strip_prefix(&format!("/rules/{i}")) else {
                continue;
            };
            for (from, to) in RULE_FIELDS {
                if let Some(p) = moved(rest, from, to) {
                    put(map, &r.body, p, o);
                }
            }
        }
    }
    out.rules.retain(|_, m| !m.is_empty());
    out
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
    let secrets = secrets_of(spec, &channel, &retry_policy, &rules);
    Payloads {
        owner,
        channel,
        retry_policy,
        rules,
        disabled,
        secrets,
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

    /// A copy as a terminal may show it: every field [`crate::spec::secret::masked`] hides on the
    /// sent side (an `${env:…}` value, a credential-named field that is not a vault reference)
    /// replaced by [`SENSITIVE`]. `plan` shows the same fields masked.
    pub fn redacted(&self) -> Payloads {
        let marker = json!(SENSITIVE);
        let none = Origins::new();
        let mask = |v: &Value, o: &Origins| {
            crate::spec::secret::mask_at(v, "", false, o, Side::Sent, &marker)
        };
        let mut p = self.clone();
        p.channel = mask(&self.channel, &self.secrets.channel);
        p.retry_policy = mask(&self.retry_policy, &self.secrets.retry_policy);
        for r in &mut p.rules {
            r.body = mask(&r.body, self.secrets.rules.get(&r.id).unwrap_or(&none));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{EnvSecrets, LoadOptions};

    /// A spec with an `${env:…}` in every string field that reaches a payload, under credential
    /// and other names, whole and inside longer text; one `${VAULT_SECRET:…}` header.
    const SPEC: &str = r#"version: 1
name: taint
channel:
  name: Taint
  destinationUri: "https://crm.example.org/${env:T_PATH}/in?tenant=${env:T_TENANT}"
  auth:
    type: oauth2_client_credentials
    tokenEndpoint: "https://auth.example.org/${env:T_PATH}/token"
    clientId: "${env:T_CLIENT}"
    clientSecret: "${env:T_SECRET}"
    scopes: ["crm.write", "${env:T_SCOPE}"]
    tokenCacheTtlSeconds: 600
  headers:
    Content-Type: application/json
    Authorization: "Basic ${env:T_SECRET}"
    X-Trace: "${env:T_TENANT}"
    X-Vault: "${VAULT_SECRET:crm-key}"
    X-Plain: literal
  timeoutMilliseconds: 2000
idempotency: { key: "${event.id}-${env:T_TENANT}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: b, prefix: "${env:T_TENANT}/", alertEndpoint: "https://hooks.example.org/${env:T_SECRET}" }
rules:
  - id: R
    name: "rule of ${env:T_TENANT}"
    eventType: interaction.ended
    conditions: { interaction.channel.type: [voice, "${env:T_CHANNEL}"] }
    transform: '{"id": interaction.id}'
  - { id: OFF, name: off, eventType: interaction.ended, enabled: false, transform: '{"id": 1}' }
"#;

    fn compiled(vars: &[(&str, &str)]) -> Payloads {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, SPEC).unwrap();
        let opts = LoadOptions {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secrets: EnvSecrets::Required,
            ..LoadOptions::default()
        };
        let l = crate::spec::load(&path, &opts);
        let spec = l.spec.unwrap_or_else(|| panic!("{:#?}", l.diags));
        compile(&spec)
    }

    const NAMES: [&str; 6] = [
        "T_PATH",
        "T_TENANT",
        "T_CLIENT",
        "T_SECRET",
        "T_SCOPE",
        "T_CHANNEL",
    ];

    fn run(values: [&str; 6]) -> Payloads {
        let vars: Vec<(&str, &str)> = NAMES.iter().copied().zip(values).collect();
        compiled(&vars)
    }

    /// Every leaf (JSON pointer) at which `a` and `b` differ.
    fn differ(a: &Value, b: &Value, at: String, out: &mut std::collections::BTreeSet<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    differ(v, &y[k], crate::spec::yaml::child(&at, k), out);
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for (i, v) in x.iter().enumerate() {
                    differ(v, &y[i], format!("{at}/{i}"), out);
                }
            }
            _ if a != b => {
                out.insert(at);
            }
            _ => {}
        }
    }

    fn env_fields(o: &Origins) -> std::collections::BTreeSet<String> {
        o.iter()
            .filter(|(_, o)| **o == Origin::Env)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Differential: the payload fields compile records as from `${env:…}` are exactly the
    /// fields that change when the variables change (two runs, every value different), so the
    /// field map in `secrets_of` cannot drift from what `compile` builds; and the printed form
    /// is the same whatever the secrets are, holding none of them.
    #[test]
    fn the_fields_marked_secret_are_exactly_the_fields_the_environment_changes() {
        let a = run([
            "path-a1", "tenant-a", "client-a", "secret-a", "scope-a", "chat",
        ]);
        let b = run([
            "path-b1", "tenant-b", "client-b", "secret-b", "scope-b", "email",
        ]);
        let objects = [
            ("channel", &a.channel, &b.channel, &a.secrets.channel),
            (
                "retry policy",
                &a.retry_policy,
                &b.retry_policy,
                &a.secrets.retry_policy,
            ),
            (
                "rule R",
                &a.rules[0].body,
                &b.rules[0].body,
                &a.secrets.rules["R"],
            ),
        ];
        for (what, x, y, origins) in objects {
            let mut changed = std::collections::BTreeSet::new();
            differ(x, y, String::new(), &mut changed);
            assert!(!changed.is_empty(), "{what}");
            assert_eq!(env_fields(origins), changed, "{what}");
        }
        assert_eq!(a.secrets, b.secrets);
        assert_eq!(
            a.secrets.channel.get("/headers/X-Vault"),
            Some(&Origin::Vault)
        );
        let shown = |p: &Payloads| {
            to_pretty(&Value::Array(
                p.redacted().files().into_iter().map(|(_, v)| v).collect(),
            ))
        };
        let (sa, sb) = (shown(&a), shown(&b));
        assert_eq!(sa, sb, "the printed payloads depend on a secret");
        for v in [
            "path-a1", "tenant-a", "client-a", "secret-a", "scope-a", "chat",
        ] {
            assert!(!sa.contains(v), "`{v}` printed:\n{sa}");
        }
        // Nothing else is touched: the vault reference and the literals print as written.
        for kept in [
            "${VAULT_SECRET:crm-key}",
            "\"literal\"",
            "application/json",
            "crm.write",
            "voice",
        ] {
            assert!(sa.contains(kept), "`{kept}` missing:\n{sa}");
        }
    }
}
