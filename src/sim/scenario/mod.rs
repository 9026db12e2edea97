//! Scenarios: YAML files describing the events, the CRM's behaviour, a fault timeline and the
//! expectations a run must meet. The types derive both serde and the JSON Schema
//! (`schemas/scenario.v1.json`), so the checked-in schema cannot drift from the parser.
//!
//! A scenario is loaded like a spec, by the same machinery (`load`): the span-keeping YAML
//! reader, the JSON Schema with the spec's diagnostics (did-you-mean for keys, enum values, fault
//! kinds and duration units), then semantic checks that each report everything they find, so one
//! run shows every mistake at `file:line:col`. Every number has a range (docs/scenarios.md).
//! Built-in scenarios live in `scenarios/*.yaml` and are embedded in the binary.

mod load;

pub use load::{load, load_to_run, parse, parse_to_run, Loaded, RunEnd};

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::model::CrmProfile;

/// The scenario format version.
pub const SCENARIO_VERSION: u32 = 1;

/// The scenario used when `--scenario` is not given.
pub const DEFAULT_SCENARIO: &str = "default";

/// Built-in scenarios: `(name, YAML)`, in the order `--scenario` lists them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../../scenarios/default.yaml")),
    (
        "retry-after-storm",
        include_str!("../../../scenarios/retry-after-storm.yaml"),
    ),
    (
        "token-revoked",
        include_str!("../../../scenarios/token-revoked.yaml"),
    ),
    (
        "payload-too-large",
        include_str!("../../../scenarios/payload-too-large.yaml"),
    ),
    (
        "maintenance-503",
        include_str!("../../../scenarios/maintenance-503.yaml"),
    ),
    (
        "partition",
        include_str!("../../../scenarios/partition.yaml"),
    ),
    (
        "thundering-herd",
        include_str!("../../../scenarios/thundering-herd.yaml"),
    ),
    (
        "campaign-day",
        include_str!("../../../scenarios/campaign-day.yaml"),
    ),
    (
        "salesforce-throttle",
        include_str!("../../../scenarios/salesforce-throttle.yaml"),
    ),
];

/// Longest duration anywhere in a scenario (the run, an offset, a window, a rate period): 1000
/// days, ten times the longest a spec can retry (100 retries a day apart), so a fault can outlast
/// any retry budget (`lint --budget`'s probes) while milliseconds stay far below `u64::MAX`.
pub const MAX_DURATION_MS: u64 = 1000 * 86_400_000;

/// Most events a scenario (or `--events`) may generate.
pub const MAX_EVENTS: u64 = 10_000_000;

/// Most metrics intervals a run reports (`duration / interval`); a run that settles later than
/// its duration adds its tail to the last ones (at most [`MAX_BUCKETS`] in all).
pub const MAX_INTERVALS: u64 = 10_000;

/// Most bytes `events.oversize` may add to a run's events (`count / every × bytes`): enough
/// for a few events of the largest size, not enough to make a run write gigabytes.
pub const MAX_OVERSIZED_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes added by inflating every `every`-th of `count` events by `bytes`; `None` when `every`
/// is zero (the schema refuses it).
pub fn oversized_bytes(count: u64, every: u64, bytes: u64) -> Option<u128> {
    (every > 0).then(|| u128::from(count / every) * u128::from(bytes))
}

/// Most metrics intervals a report holds, the settling tail after the duration included.
pub const MAX_BUCKETS: usize = 100_000;

/// The text form of a duration in the schema.
pub const DURATION_PATTERN: &str = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$";

/// A duration: a number of seconds, or text such as `90s`, `5m`, `1h30m`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub u64);

impl Dur {
    /// Milliseconds.
    pub fn ms(self) -> u64 {
        self.0
    }

    /// Parses `1h30m`, `90s`, `250ms`, `2d`, or a plain number of seconds; `None` for anything
    /// else, and for a value past `u64` milliseconds (checked, never wrapped or saturated).
    pub fn parse(s: &str) -> Option<Dur> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if let Ok(secs) = s.parse::<f64>() {
            return ms_of(secs, 1000.0).map(Dur);
        }
        let mut total: u64 = 0;
        for (n, mult) in duration_terms(s)? {
            total = total.checked_add(ms_of(n, mult)?)?;
        }
        Some(Dur(total))
    }
}

/// The terms of a duration written with units (`1h30m` → `[(1, ms per hour), (30, ms per
/// minute)]`), whatever their size; `None` when the text is not of that shape.
pub(super) fn duration_terms(s: &str) -> Option<Vec<(f64, f64)>> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
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
        let mult = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        out.push((n, mult));
    }
    Some(out)
}

/// `n × mult` milliseconds, rounded, when it is finite, not negative and fits in `u64`.
fn ms_of(n: f64, mult: f64) -> Option<u64> {
    let ms = (n * mult).round();
    // 2^64 itself is not a u64; every f64 below it that is whole is.
    (0.0..18_446_744_073_709_551_616.0)
        .contains(&ms)
        .then_some(ms as u64)
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
            "description": "A duration: seconds (at most 1000 days, 86400000), or text such as `250ms`, `90s`, `5m`, `1h30m`, `1d`.",
            "anyOf": [
                { "type": "number", "minimum": 0, "maximum": MAX_DURATION_MS / 1000, "x-unit": "s" },
                { "type": "string", "pattern": DURATION_PATTERN }
            ]
        })
    }
}

/// A cxsync chaos scenario.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "cxsync simulation scenario v1")]
pub struct Scenario {
    /// Scenario format version. Always `1`.
    #[schemars(range(min = 1, max = 999))]
    pub version: u32,
    /// Short name shown in reports.
    #[schemars(length(min = 1))]
    pub name: String,
    /// What the scenario shows.
    pub description: Option<String>,
    /// How long events keep arriving; the run continues until every event is settled.
    pub duration: Dur,
    /// Wall-clock instant of virtual time 0 (RFC 3339). Default: the spec's `test.now`, else
    /// `2024-01-15T14:00:00Z`.
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
    u32::from(crate::delivery::config::HUB_CONCURRENCY)
}

/// Event arrivals.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Events {
    /// Events generated over `duration` (`--events` overrides; at most 10,000,000). Generated
    /// events copy the envelope of the spec's fixtures (`event.id`, `event.type`,
    /// `interaction.*`) with fresh ids.
    #[serde(default = "default_count")]
    #[schemars(range(min = 0, max = 10000000))]
    pub count: u64,
    /// Also send each fixture of the spec once, unchanged, at the start.
    #[serde(default = "yes")]
    pub fixtures: bool,
    /// Arrival rate shape over the duration: points `{at, weight}` joined linearly. The count is
    /// spread in proportion to the curve. Default: flat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
    /// Inflates some events with a large field (the guide's edge case 3).
    pub oversize: Option<Oversize>,
    /// Every n-th generated event lacks `agent.id` (an IVR-only interaction).
    #[schemars(range(min = 1, max = 10000000))]
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

pub(crate) fn default_count() -> u64 {
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
    #[schemars(range(min = 0.0, max = 1000000.0))]
    pub weight: f64,
}

/// Oversized events.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Oversize {
    /// Every n-th generated event is inflated.
    #[schemars(range(min = 1, max = 10000000))]
    pub every: u64,
    /// Bytes the field grows by (at most 64 MiB, the DLQ's record limit): a string by that many
    /// characters, a list by copies of its elements adding at least that much JSON.
    #[schemars(range(min = 1, max = 67108864))]
    pub bytes: u64,
    /// Dotted path of the field grown, in its own JSON type: a string is padded, a list gets
    /// more of its own elements. Where a fixture lacks the field it is added, as another
    /// fixture holds it, else as a string; an object, number, boolean or empty list is refused.
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
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrmOverrides {
    /// Profile (default: the spec's `crm.profile`).
    pub profile: Option<CrmProfile>,
    /// Token-bucket rate limit: `requests` per `per`.
    pub rate_limit: Option<RateLimit>,
    /// Response latency.
    pub latency: Option<Latency>,
    /// Fraction (0..1) of requests whose connection resets.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub reset_rate: Option<f64>,
    /// `expires_in` of issued tokens, in seconds (at most a week).
    #[schemars(range(min = 1, max = crate::spec::model::MAX_TOKEN_LIFETIME_SECONDS))]
    pub token_lifetime_seconds: Option<u64>,
    /// Largest body accepted (413 above; at most 1 GiB).
    #[schemars(range(min = 1, max = crate::spec::model::MAX_BODY_BYTES))]
    pub max_body_bytes: Option<u64>,
    /// Whether JSON arrays are accepted (400 otherwise).
    pub accepts_arrays: Option<bool>,
    /// How the CRM deduplicates.
    pub idempotency: Option<Dedup>,
    /// Upsert key field in the payload (with `idempotency: upsert`).
    pub upsert_field: Option<String>,
}

/// A token bucket.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimit {
    /// Requests allowed per window (also the burst size).
    #[schemars(range(min = 1, max = 1000000))]
    pub requests: u64,
    /// Window length.
    pub per: Dur,
}

/// Log-normal latency given by its median and 99th percentile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Latency {
    /// Median, in milliseconds (at most 10 minutes).
    #[schemars(range(min = 0, max = 600000))]
    pub p50_ms: u64,
    /// 99th percentile, in milliseconds, at least the median (at most 10 minutes).
    #[schemars(range(min = 0, max = 600000))]
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
        #[schemars(range(min = 1, max = 1000000))]
        requests: u64,
        per: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 86400))]
        retry_after_seconds: Option<u64>,
    },
    /// The CRM answers `status` (a failure, 300–599: a 2xx is E614) to every request during a
    /// window, with `retryAfterSeconds` as its `Retry-After` and `body` as its body (a bad
    /// deploy's 404s, a 409 storm, a 401 no token refresh heals). `lint --budget` is checked against runs of this fault.
    Respond {
        from: Dur,
        to: Dur,
        // A final answer: a 1xx is never one (RFC 9110 §15.2), so no HTTP server can send it and
        // `sim --http` answered 500 where virtual time took the 1xx (tester #192).
        #[schemars(range(min = 200, max = 599))]
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 86400))]
        retry_after_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// 503 for every request during a window.
    Maintenance {
        from: Dur,
        to: Dur,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 86400))]
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
        #[schemars(range(min = 100, max = 599))]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 600000))]
        latency_ms: Option<u64>,
    },
    /// Different latency during a window.
    Latency {
        from: Dur,
        to: Dur,
        #[schemars(range(min = 0, max = 600000))]
        p50_ms: u64,
        #[schemars(range(min = 0, max = 600000))]
        p99_ms: u64,
    },
    /// Connection resets at this rate during a window.
    Resets {
        from: Dur,
        to: Dur,
        #[schemars(range(min = 0.0, max = 1.0))]
        rate: f64,
    },
}

/// A tolerance band: an exact number, `[min, max]`, or `{min, max}`. Everything a band bounds is
/// a count, a rate or a latency, so no bound is below 0.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Band {
    Exact(#[schemars(range(min = 0))] f64),
    Pair(#[schemars(inner(range(min = 0)))] [f64; 2]),
    Range(BandRange),
}

/// `{min, max}`, either optional.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BandRange {
    #[schemars(range(min = 0))]
    pub min: Option<f64>,
    #[schemars(range(min = 0))]
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

    /// The band as people write it (each bound as written: `0.4657` stays `0.4657`).
    pub fn describe(&self) -> String {
        let b = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                fmt_num(x)
            } else {
                format!("{x}")
            }
        };
        match self {
            Band::Exact(v) => b(*v),
            Band::Pair([lo, hi]) => format!("{}..{}", b(*lo), b(*hi)),
            Band::Range(r) => match (r.min, r.max) {
                (Some(lo), Some(hi)) => format!("{}..{}", b(lo), b(hi)),
                (Some(lo), None) => format!(">= {}", b(lo)),
                (None, Some(hi)) => format!("<= {}", b(hi)),
                (None, None) => "any".to_string(),
            },
        }
    }
}

/// Whole numbers without a fraction; others with three decimals.
pub fn fmt_num(x: f64) -> String {
    fmt_num_to(x, 3)
}

/// `x` as [`fmt_num`] shows it, with at least `decimals` decimals when it has a fraction
/// (trailing zeros dropped).
fn fmt_num_to(x: f64, decimals: usize) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.decimals$}");
        let s = s.trim_end_matches('0');
        s.strip_suffix('.').unwrap_or(s).to_string()
    }
}

/// A measured value beside the bounds it is checked against (`expected`, as
/// [`Band::describe`] writes it): one decimal more than the bounds show, at least three, so a
/// value just past a bound never reads like the bound itself (0.46575 against `<= 0.4657`).
pub fn fmt_measured(x: f64, expected: &str) -> String {
    let shown = expected
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|n| n.split_once('.').map(|(_, f)| f.len()))
        .max()
        .unwrap_or(0);
    fmt_num_to(x, (shown + 1).max(3))
}

/// Expectations; each unmet one fails the verdict (exit 1).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// Matched events neither applied nor in the DLQ.
    pub lost: Option<Band>,
    /// Side effects applied more than once.
    pub duplicates: Option<Band>,
    pub delivered: Option<Band>,
    pub dead_lettered: Option<Band>,
    /// Dead-lettered events as a fraction (0..1) of matched events, whatever the cause
    /// (`--max-dead-letter-rate` sets its maximum).
    pub dead_letter_rate: Option<Band>,
    /// Per DLQ reason (e.g. `RETRIES_EXHAUSTED`). Naming a reason the spec causes
    /// (`TRANSFORM_FAILED`, `IDEMPOTENCY_KEY_UNRESOLVED`, `PAYLOAD_TOO_LARGE`,
    /// `NON_RETRYABLE_STATUS` on a 400/413/422) says the scenario means to produce it: the band
    /// decides instead of the default failure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead_lettered_by_reason: BTreeMap<String, Band>,
    pub latency_p95_ms: Option<Band>,
    pub latency_p99_ms: Option<Band>,
    pub token_refreshes: Option<Band>,
    pub attempts: Option<Band>,
}

/// The JSON Schema of the scenario format, as checked in under `schemas/`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
    fn a_run_past_the_year_9999_and_gigabytes_of_oversized_events_are_refused() {
        let codes = |text: &str| -> Vec<(String, usize)> {
            match parse(text, Path::new("s.yaml")) {
                Ok(_) => Vec::new(),
                Err(ds) => ds
                    .iter()
                    .map(|d| (d.code.to_string(), d.span.unwrap().start.line))
                    .collect(),
            }
        };
        let late = "version: 1\nname: x\nduration: 2d\nstart: \"9999-12-31T00:00:00Z\"\n";
        assert_eq!(codes(late), [("E606".to_string(), 4)]);
        let fits = "version: 1\nname: x\nduration: 1h\nstart: \"9999-12-31T00:00:00Z\"\n";
        assert!(codes(fits).is_empty());
        let big = "version: 1\nname: x\nduration: 5m\nevents:\n  count: 1000\n  oversize: { every: 1, bytes: 67108864 }\n";
        assert_eq!(codes(big), [("E613".to_string(), 6)]);
        // The default count (200) counts too; four of the largest are fine.
        let default = "version: 1\nname: x\nduration: 5m\nevents:\n  oversize: { every: 50, bytes: 67108864 }\n";
        assert!(codes(default).is_empty());
        assert_eq!(oversized_bytes(10, 0, 1), None);
    }

    #[test]
    fn an_inverted_window_is_an_error() {
        let text =
            "version: 1\nname: x\nduration: 5m\nfaults:\n  - partition: {from: 2m, to: 1m}\n";
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
