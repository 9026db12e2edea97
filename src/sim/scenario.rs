//! Scenarios: YAML files describing the events, the CRM's behaviour, a fault timeline and the
//! expectations a run must meet. The types derive both serde and the JSON Schema
//! (`schemas/scenario.v1.json`), so the checked-in schema cannot drift from the parser.
//!
//! A scenario file is parsed with the spec's span-keeping YAML reader, so every error points at
//! `file:line:col`. Built-in scenarios live in `scenarios/*.yaml` and are embedded in the binary.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Sources};
use crate::spec::model::CrmProfile;
use crate::spec::yaml;

/// The scenario format version.
pub const SCENARIO_VERSION: u32 = 1;

/// The scenario used when `--scenario` is not given.
pub const DEFAULT_SCENARIO: &str = "default";

/// Built-in scenarios: `(name, YAML)`, in the order `--scenario` lists them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../scenarios/default.yaml")),
    (
        "retry-after-storm",
        include_str!("../../scenarios/retry-after-storm.yaml"),
    ),
    (
        "token-revoked",
        include_str!("../../scenarios/token-revoked.yaml"),
    ),
    (
        "payload-too-large",
        include_str!("../../scenarios/payload-too-large.yaml"),
    ),
    (
        "maintenance-503",
        include_str!("../../scenarios/maintenance-503.yaml"),
    ),
    ("partition", include_str!("../../scenarios/partition.yaml")),
    (
        "thundering-herd",
        include_str!("../../scenarios/thundering-herd.yaml"),
    ),
    (
        "campaign-day",
        include_str!("../../scenarios/campaign-day.yaml"),
    ),
    (
        "salesforce-throttle",
        include_str!("../../scenarios/salesforce-throttle.yaml"),
    ),
];

/// A duration: a number of seconds, or text such as `90s`, `5m`, `1h30m`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub u64);

impl Dur {
    /// Milliseconds.
    pub fn ms(self) -> u64 {
        self.0
    }

    /// Parses `1h30m`, `90s`, `250ms`, `2d`, or a plain number of seconds.
    pub fn parse(s: &str) -> Option<Dur> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if let Ok(secs) = s.parse::<f64>() {
            return (secs.is_finite() && secs >= 0.0).then(|| Dur((secs * 1000.0).round() as u64));
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let n: f64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let mult = match unit {
                "ms" => 1.0,
                "s" => 1000.0,
                "m" => 60_000.0,
                "h" => 3_600_000.0,
                "d" => 86_400_000.0,
                _ => return None,
            };
            total = total.checked_add((n * mult).round() as u64)?;
        }
        Some(Dur(total))
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let parsed = match &v {
            serde_json::Value::Number(n) => n.as_f64().and_then(|f| Dur::parse(&f.to_string())),
            serde_json::Value::String(s) => Dur::parse(s),
            _ => None,
        };
        parsed.ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a duration such as `90s`, `5m`, `1h30m` or a number of seconds, found {v}"
            ))
        })
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Seconds, or text such as `250ms`, `90s`, `5m`, `1h30m`, `1d`.",
            "anyOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$" }
            ]
        })
    }
}

/// A cxsync chaos scenario.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "cxsync simulation scenario v1")]
pub struct Scenario {
    /// Scenario format version. Always `1`.
    pub version: u32,
    /// Short name shown in reports.
    #[schemars(length(min = 1))]
    pub name: String,
    /// What the scenario shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How long events keep arriving; the run continues until every event is settled.
    pub duration: Dur,
    /// Wall-clock instant of virtual time 0 (RFC 3339). Default: the spec's `test.now`, else
    /// `2024-01-15T14:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The Event Hub's runtime settings.
    #[serde(default)]
    pub hub: Hub,
    /// Which events arrive, and when.
    #[serde(default)]
    pub events: Events,
    /// The CRM's behaviour: a profile and overrides.
    #[serde(default)]
    pub crm: CrmOverrides,
    /// Faults, each active in a time window or at an instant.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// What must hold for the verdict to pass.
    #[serde(default)]
    pub expect: Expect,
    /// Metrics interval of the report (default: chosen for about 60 points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
}

/// Event Hub runtime settings the spec does not express.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hub {
    /// Requests the channel keeps in flight at once.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 10000))]
    pub concurrency: u32,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            concurrency: default_concurrency(),
        }
    }
}

fn default_concurrency() -> u32 {
    16
}

/// Event arrivals.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Events {
    /// Events generated over `duration` (`--events` overrides). Generated events copy the
    /// envelope of the spec's fixtures (`event.id`, `event.type`, `interaction.*`) with fresh ids.
    #[serde(default = "default_count")]
    pub count: u64,
    /// Also send each fixture of the spec once, unchanged, at the start.
    #[serde(default = "yes")]
    pub fixtures: bool,
    /// Arrival rate shape over the duration: points `{at, weight}` joined linearly. The count is
    /// spread in proportion to the curve. Default: flat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
    /// Inflates some events with a large field (the guide's edge case 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversize: Option<Oversize>,
    /// Every n-th generated event lacks `agent.id` (an IVR-only interaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub without_agent_every: Option<u64>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            count: default_count(),
            fixtures: true,
            curve: Vec::new(),
            oversize: None,
            without_agent_every: None,
        }
    }
}

fn default_count() -> u64 {
    200
}

fn yes() -> bool {
    true
}

/// One point of the arrival-rate curve.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CurvePoint {
    /// Offset from the start.
    pub at: Dur,
    /// Relative arrival rate at that instant.
    #[schemars(range(min = 0.0))]
    pub weight: f64,
}

/// Oversized events.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Oversize {
    /// Every n-th generated event is inflated.
    #[schemars(range(min = 1))]
    pub every: u64,
    /// Size of the added field in bytes.
    #[schemars(range(min = 1))]
    pub bytes: u64,
    /// Dotted path of the field set to a string of that size.
    #[serde(default = "default_oversize_path")]
    pub path: String,
}

fn default_oversize_path() -> String {
    "interaction.analytics.transcript".to_string()
}

/// How the CRM deduplicates, overriding the spec's `crm.idempotency`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Dedup {
    Header,
    Upsert,
    None,
}

/// The CRM: a named profile plus overrides.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrmOverrides {
    /// Profile (default: the spec's `crm.profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<CrmProfile>,
    /// Token-bucket rate limit: `requests` per `per`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Response latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Fraction (0..1) of requests whose connection resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub reset_rate: Option<f64>,
    /// `expires_in` of issued tokens, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
    /// Largest body accepted (413 above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Whether JSON arrays are accepted (400 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepts_arrays: Option<bool>,
    /// How the CRM deduplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Dedup>,
    /// Upsert key field in the payload (with `idempotency: upsert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsert_field: Option<String>,
}

/// A token bucket.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimit {
    /// Requests allowed per window (also the burst size).
    #[schemars(range(min = 1))]
    pub requests: u64,
    /// Window length.
    pub per: Dur,
}

/// Log-normal latency given by its median and 99th percentile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Latency {
    #[schemars(range(min = 0))]
    pub p50_ms: u64,
    #[schemars(range(min = 0))]
    pub p99_ms: u64,
}

/// A window of the fault timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Window {
    pub from: Dur,
    pub to: Dur,
}

/// One fault.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// A stricter rate limit during a window (a 429 storm). `retryAfterSeconds` fixes the
    /// header the CRM sends (the guide's edge case 1: longer than `maxDelaySeconds`).
    Throttle {
        from: Dur,
        to: Dur,
        requests: u64,
        per: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// The CRM answers `status` to every request during a window, with `retryAfterSeconds` as
    /// its `Retry-After` and `body` as its body (a bad deploy's 404s, a 409 storm, a 401 no
    /// token refresh heals). `lint --budget` is checked against runs of this fault.
    Respond {
        from: Dur,
        to: Dur,
        #[schemars(range(min = 100, max = 599))]
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// 503 for every request during a window.
    Maintenance {
        from: Dur,
        to: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// No response at all during a window: requests time out.
    Partition(Window),
    /// Every token issued before this instant stops working (401).
    RevokeTokens { at: Dur },
    /// The client secret is rotated; the token endpoint answers `invalid_grant` until the new
    /// secret reaches the vault `vaultUpdatedAfter` later (never, when absent).
    RotateSecret {
        at: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vault_updated_after: Option<Dur>,
    },
    /// The token endpoint fails (`status`, default 503) or is slow (`latencyMs`) in a window.
    TokenEndpoint {
        from: Dur,
        to: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
    },
    /// Different latency during a window.
    Latency {
        from: Dur,
        to: Dur,
        p50_ms: u64,
        p99_ms: u64,
    },
    /// Connection resets at this rate during a window.
    Resets { from: Dur, to: Dur, rate: f64 },
}

/// A tolerance band: an exact number, `[min, max]`, or `{min, max}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Band {
    Exact(f64),
    Pair([f64; 2]),
    Range(BandRange),
}

/// `{min, max}`, either optional.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BandRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Band {
    /// Whether `x` lies in the band.
    pub fn contains(&self, x: f64) -> bool {
        match self {
            Band::Exact(v) => (x - v).abs() < 1e-9,
            Band::Pair([lo, hi]) => x >= *lo && x <= *hi,
            Band::Range(r) => r.min.is_none_or(|m| x >= m) && r.max.is_none_or(|m| x <= m),
        }
    }

    /// The band as people write it.
    pub fn describe(&self) -> String {
        match self {
            Band::Exact(v) => fmt_num(*v),
            Band::Pair([lo, hi]) => format!("{}..{}", fmt_num(*lo), fmt_num(*hi)),
            Band::Range(r) => match (r.min, r.max) {
                (Some(a), Some(b)) => format!("{}..{}", fmt_num(a), fmt_num(b)),
                (Some(a), None) => format!(">= {}", fmt_num(a)),
                (None, Some(b)) => format!("<= {}", fmt_num(b)),
                (None, None) => "any".to_string(),
            },
        }
    }
}

/// Whole numbers without a fraction.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.3}")
    }
}

/// Expectations; each unmet one fails the verdict (exit 1).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// Matched events neither applied nor in the DLQ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<Band>,
    /// Side effects applied more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered: Option<Band>,
    /// Dead-lettered events as a fraction (0..1) of matched events, whatever the cause
    /// (`--max-dead-letter-rate` sets its maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_rate: Option<Band>,
    /// Per DLQ reason (e.g. `RETRIES_EXHAUSTED`). Naming a reason the spec causes
    /// (`TRANSFORM_FAILED`, `IDEMPOTENCY_KEY_UNRESOLVED`, `PAYLOAD_TOO_LARGE`,
    /// `NON_RETRYABLE_STATUS` on a 400/413/422) says the scenario means to produce it: the band
    /// decides instead of the default failure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead_lettered_by_reason: BTreeMap<String, Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_refreshes: Option<Band>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Band>,
}

/// The JSON Schema of the scenario format, as checked in under `schemas/`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("schema serializes")
}

/// A loaded scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    /// The built-in name or the file path.
    pub origin: String,
}

/// Finds a scenario by built-in name or file path. Errors are diagnostics with positions.
pub fn load(name_or_path: &str, sources: &mut Sources) -> Result<Loaded, Vec<Diagnostic>> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        let origin = format!("builtin:{name}");
        sources.add(&origin, *text);
        return parse(text, Path::new(&origin)).map(|scenario| Loaded { scenario, origin });
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error(
            "E600",
            format!("no built-in scenario or file named `{name_or_path}`"),
        )
        .with_help(format!("built-in scenarios: {}", names.join(", ")));
        if let Some(best) = names
            .iter()
            .max_by(|a, b| {
                strsim::jaro_winkler(a, name_or_path)
                    .total_cmp(&strsim::jaro_winkler(b, name_or_path))
            })
            .filter(|b| strsim::jaro_winkler(b, name_or_path) > 0.8)
        {
            d = d.with_help(format!(
                "did you mean `{best}`? built-in scenarios: {}",
                names.join(", ")
            ));
        }
        return Err(vec![d]);
    }
    let text = crate::spec::read_text(path).map_err(|d| vec![d])?;
    sources.add(path, text.clone());
    parse(&text, path).map(|scenario| Loaded {
        scenario,
        origin: path.display().to_string(),
    })
}

/// Parses and validates scenario text: YAML with spans, the JSON Schema (every violation), then
/// serde and semantic checks.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let doc = yaml::parse(text)
        .map_err(|ds| ds.into_iter().map(|d| d.in_file(file)).collect::<Vec<_>>())?;
    let schema = json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the derived schema compiles");
    let mut diags: Vec<Diagnostic> = validator
        .iter_errors(&doc.value)
        .map(|e| {
            let pointer = e.instance_path().as_str().to_string();
            let span = if e.to_string().contains("Additional properties") {
                doc.map.key_span(&pointer)
            } else {
                doc.map.value_span(&pointer)
            };
            Diagnostic::error("E601", format!("scenario: {e}"))
                .in_file(file)
                .at_opt(span)
                .with_help("see schemas/scenario.v1.json and docs/scenarios.md")
        })
        .collect();
    if !diags.is_empty() {
        crate::diag::sort(&mut diags);
        return Err(diags);
    }
    let sc: Scenario = serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        let pointer = pointer_of(e.path());
        vec![
            Diagnostic::error("E602", format!("scenario: {}", e.inner()))
                .in_file(file)
                .at_opt(doc.map.value_span(&pointer)),
        ]
    })?;
    let mut diags = Vec::new();
    let at = |p: &str| doc.map.value_span(p);
    if sc.version != SCENARIO_VERSION {
        diags.push(
            Diagnostic::error(
                "E603",
                format!("scenario version {} is not supported", sc.version),
            )
            .in_file(file)
            .at_opt(at("/version"))
            .with_help("write `version: 1`"),
        );
    }
    if sc.duration.ms() == 0 {
        diags.push(
            Diagnostic::error("E604", "duration must be longer than zero")
                .in_file(file)
                .at_opt(at("/duration")),
        );
    }
    for (i, f) in sc.faults.iter().enumerate() {
        let (from, to) = match f {
            Fault::Throttle { from, to, .. }
            | Fault::Respond { from, to, .. }
            | Fault::Maintenance { from, to, .. }
            | Fault::TokenEndpoint { from, to, .. }
            | Fault::Latency { from, to, .. }
            | Fault::Resets { from, to, .. } => (*from, *to),
            Fault::Partition(w) => (w.from, w.to),
            _ => continue,
        };
        if to <= from {
            diags.push(
                Diagnostic::error("E605", "a fault window must end after it starts")
                    .in_file(file)
                    .at_opt(at(&format!("/faults/{i}")))
                    .with_help("`to` is an offset from the scenario start, like `from`"),
            );
        }
    }
    if let Some(s) = &sc.start {
        if chrono::DateTime::parse_from_rfc3339(s).is_err() {
            diags.push(
                Diagnostic::error("E606", format!("`{s}` is not an RFC 3339 instant"))
                    .in_file(file)
                    .at_opt(at("/start"))
                    .with_help("e.g. `2024-01-15T14:00:00Z`"),
            );
        }
    }
    for k in sc.expect.dead_lettered_by_reason.keys() {
        if !crate::delivery::Reason::ALL.iter().any(|r| r.as_str() == k) {
            diags.push(
                Diagnostic::error("E607", format!("unknown DLQ reason `{k}`"))
                    .in_file(file)
                    .at_opt(
                        doc.map
                            .key_span(&yaml::child("/expect/deadLetteredByReason", k)),
                    )
                    .with_help(format!(
                        "one of: {}",
                        crate::delivery::Reason::ALL
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
        }
    }
    if diags.is_empty() {
        Ok(sc)
    } else {
        Err(diags)
    }
}

fn pointer_of(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in p.iter() {
        match seg {
            Segment::Seq { index } => s.push_str(&format!("/{index}")),
            Segment::Map { key } => s.push_str(&format!("/{}", yaml::escape_token(key))),
            Segment::Enum { variant } => s.push_str(&format!("/{}", yaml::escape_token(variant))),
            Segment::Unknown => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_documented_form() {
        assert_eq!(Dur::parse("90"), Some(Dur(90_000)));
        assert_eq!(Dur::parse("1.5"), Some(Dur(1_500)));
        assert_eq!(Dur::parse("250ms"), Some(Dur(250)));
        assert_eq!(Dur::parse("1h30m"), Some(Dur(5_400_000)));
        assert_eq!(Dur::parse("1d"), Some(Dur(86_400_000)));
        for bad in ["", "5 minutes", "m5", "-3", "5x"] {
            assert_eq!(Dur::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_builtin_scenario_parses() {
        for (name, text) in BUILTIN {
            if let Err(e) = parse(text, Path::new(name)) {
                panic!("{name}: {e:?}");
            }
        }
    }

    #[test]
    fn an_unknown_key_is_reported_at_its_line() {
        let text = "version: 1\nname: x\nduration: 1m\nfaults:\n  - maintenance: {from: 1m, to: 2m, retryAfter: 3}\n";
        let errs = parse(text, Path::new("s.yaml")).unwrap_err();
        assert_eq!(errs[0].span.unwrap().start.line, 5, "{errs:?}");
    }

    #[test]
    fn an_inverted_window_is_an_error() {
        let text =
            "version: 1\nname: x\nduration: 1m\nfaults:\n  - partition: {from: 2m, to: 1m}\n";
        let errs = parse(text, Path::new("s.yaml")).unwrap_err();
        assert_eq!(errs[0].code, "E605");
    }

    #[test]
    fn the_checked_in_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/scenario.v1.json");
        let on_disk = std::fs::read_to_string(&path).expect("schemas/scenario.v1.json exists");
        let want = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        assert!(on_disk == want, "schemas/scenario.v1.json is stale; regenerate it with `cargo test -- --ignored regenerate_scenario_schema`");
    }

    #[test]
    #[ignore = "writes schemas/scenario.v1.json"]
    fn regenerate_scenario_schema() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/scenario.v1.json");
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json_schema()).unwrap() + "\n",
        )
        .unwrap();
    }
}
