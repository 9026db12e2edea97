//! Loading a scenario: the spec loader's pipeline on the scenario's schema. The span-keeping YAML
//! reader, then [`crate::spec::schema::Schema`] (the same diagnostics as a spec: did-you-mean
//! for keys, enum values and fault kinds, ranges at the value, the text of `.nan` or `1e400`),
//! then the semantic checks below, which read the tree leniently so they run (and report) even
//! when the schema found errors elsewhere, and only then serde. One run reports every mistake.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use super::{
    json_schema, Dur, Scenario, BUILTIN, DURATION_PATTERN, MAX_DURATION_MS, MAX_INTERVALS,
    MAX_OVERSIZED_BYTES, SCENARIO_VERSION,
};
use crate::diag::{Diagnostic, Sources, Span};
use crate::spec::schema::{Explained, PatternRule, Schema};
use crate::spec::yaml::{self, SourceMap};

/// A loaded scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    /// The built-in name or the file path.
    pub origin: String,
}

/// What the machine that runs a scenario adds to it, for the E606 check that the run's times
/// stay within the year 9999: the longest an event can stay in the delivery machine after it
/// arrives ([`crate::delivery::Config::longest_stay`], the one bound; tester #201: `--outcomes`
/// carried year 10000 on a run whose retries outlasted the scenario's end), and the instant the
/// run starts at when the scenario names no `start` (the spec's `test.now`).
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// ms an event may stay in the machine after its arrival.
    pub longest_stay: u64,
    /// The spec's `test.now`, the start of a scenario without `start`.
    pub default_start: Option<String>,
}

impl RunEnd {
    /// The run end of `spec`'s machine: its delivery config, with the hub's settings (the bound
    /// does not depend on the concurrency or the jitter mode).
    pub fn of(spec: &crate::spec::Spec) -> RunEnd {
        let hub = crate::delivery::HubSettings::default();
        RunEnd {
            longest_stay: crate::delivery::Config::from_spec(&spec.raw, hub)
                .map_or(0, |c| c.longest_stay()),
            default_start: spec.raw.test.as_ref().and_then(|t| t.now.clone()),
        }
    }
}

/// Finds a scenario by built-in name or file path. Errors are diagnostics with positions.
/// A run's end is checked for the scenario alone ([`load_to_run`] adds the machine's bound).
pub fn load(name_or_path: &str, sources: &mut Sources) -> Result<Loaded, Vec<Diagnostic>> {
    load_to_run(name_or_path, sources, &RunEnd::default())
}

/// [`load`] for a run of a spec's machine: E606 counts what `run` adds to the scenario's end.
pub fn load_to_run(
    name_or_path: &str,
    sources: &mut Sources,
    run: &RunEnd,
) -> Result<Loaded, Vec<Diagnostic>> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        let origin = format!("builtin:{name}");
        sources.add(&origin, *text);
        return parse_to_run(text, Path::new(&origin), run)
            .map(|scenario| Loaded { scenario, origin });
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::error(
            "E600",
            format!("no built-in scenario or file named `{name_or_path}`"),
        )
        .with_help(format!("built-in scenarios: {}", names.join(", ")));
        if let Some(best) = crate::spec::schema::suggest(name_or_path, names.iter().copied()) {
            d = d.with_help(format!(
                "did you mean `{best}`? built-in scenarios: {}",
                names.join(", ")
            ));
        }
        return Err(vec![d]);
    }
    let text = crate::spec::read_text(path).map_err(|d| vec![d])?;
    sources.add(path, text.clone());
    parse_to_run(&text, path, run).map(|scenario| Loaded {
        scenario,
        origin: path.display().to_string(),
    })
}

/// The scenario schema with its validator, compiled once per process.
fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::new(json_schema(), PATTERNS))
}

const PATTERNS: &[PatternRule] = &[PatternRule {
    pattern: DURATION_PATTERN,
    explain: explain_duration,
}];

/// `5x`, `5 min`, `90sec`: what was meant.
fn explain_duration(v: &str) -> Explained {
    let t = v.trim();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = (&t[..digits], t[digits..].trim().to_ascii_lowercase());
    let unit_for = |u: &str| -> Option<&'static str> {
        Some(match u {
            "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
            "sec" | "secs" | "second" | "seconds" => "s",
            "min" | "mins" | "minute" | "minutes" => "m",
            "hr" | "hrs" | "hour" | "hours" => "h",
            "day" | "days" => "d",
            "ms" | "s" | "m" | "h" | "d" => return None,
            _ => return None,
        })
    };
    let help = if num.is_empty() {
        "a duration is seconds or numbers with units: `250ms`, `90s`, `5m`, `1h30m`, `1d`"
            .to_string()
    } else if let Some(u) = unit_for(&unit) {
        format!("did you mean `{num}{u}`? units are `ms`, `s`, `m`, `h`, `d`")
    } else if ["ms", "s", "m", "h", "d"].contains(&unit.as_str()) {
        // A space or a capital: `5 m`, `5M`.
        format!("did you mean `{num}{unit}`? write the number and unit together, in lower case")
    } else {
        format!(
            "did you mean `{num}ms`, `{num}s`, `{num}m`, `{num}h` or `{num}d`? `{unit}` is not a \
             unit"
        )
    };
    Explained {
        message: format!("`{}` is not a duration", crate::spec::schema::short(v)),
        help,
        at: None,
    }
}

/// Parses and validates scenario text; every problem found is in the error, each located.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    parse_to_run(text, file, &RunEnd::default())
}

/// [`parse`] for a run of a spec's machine ([`RunEnd`]).
pub fn parse_to_run(text: &str, file: &Path, run: &RunEnd) -> Result<Scenario, Vec<Diagnostic>> {
    let in_file = |ds: Vec<Diagnostic>| -> Vec<Diagnostic> {
        let mut ds: Vec<Diagnostic> = ds.into_iter().map(|d| d.in_file(file)).collect();
        crate::diag::sort(&mut ds);
        ds
    };
    let mut doc = yaml::parse(text).map_err(in_file)?;
    if !doc.value.is_object() {
        return Err(in_file(vec![Diagnostic::error(
            "E103",
            format!(
                "a scenario is a mapping of fields, found {}",
                crate::spec::schema::found(&doc.value)
            ),
        )
        .at_opt(doc.map.value_span(""))
        .with_help(
            "start from scenarios/default.yaml or see docs/scenarios.md",
        )]));
    }
    let mut diags = schema().validate(&doc.value, &doc.map);
    diags.extend(check(&doc.value, &doc.map, run));
    if !diags.is_empty() {
        return Err(in_file(diags));
    }
    crate::spec::integral_floats_to_integers(&mut doc.value);
    serde_path_to_error::deserialize(&doc.value).map_err(|e| {
        // The schema is derived from the same types: a gap between the two, reported plainly.
        let pointer = crate::spec::path_to_pointer(e.path());
        in_file(vec![Diagnostic::error(
            "E602",
            format!("`{}`: {}", yaml_path(&pointer), e.inner()),
        )
        .at_opt(doc.map.value_span(&pointer))])
    })
}

fn yaml_path(pointer: &str) -> String {
    if pointer.is_empty() {
        "the scenario".to_string()
    } else {
        crate::spec::schema::dotted(pointer)
    }
}

/// A duration in the tree, in milliseconds, when it is one (the schema reports other forms).
fn dur(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => Dur::parse(&n.as_f64()?.to_string()).map(|d| d.0),
        Value::String(s) => Dur::parse(s).map(|d| d.0),
        _ => None,
    }
}

/// `1h30m`, `90s`, `250ms`: a duration as people write it.
pub fn fmt_ms(ms: u64) -> String {
    let mut left = ms;
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if left > 0 || out.is_empty() {
        out.push_str(&format!("{left}ms"));
    }
    out
}

/// Every semantic check, on the tree. Diagnostics carry spans but no file.
fn check(tree: &Value, map: &SourceMap, machine: &RunEnd) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |p: &str| map.value_span(p);
    if let Some(v) = tree.get("version").and_then(Value::as_u64) {
        if v != u64::from(SCENARIO_VERSION) {
            out.push(
                Diagnostic::error("E603", format!("scenario version {v} is not supported"))
                    .at_opt(at("/version"))
                    .with_help("write `version: 1`"),
            );
        }
    }
    // Every duration of the format, at most 1000 days (the schema bounds the number form and the
    // shape of the text form).
    for (pointer, v) in durations(tree) {
        let Some(text) = v.as_str() else { continue };
        let too_long = super::duration_terms(text).is_some()
            && Dur::parse(text).is_none_or(|d| d.0 > MAX_DURATION_MS);
        if too_long {
            out.push(
                Diagnostic::error(
                    "E608",
                    format!("`{}` is longer than 1000 days", yaml_path(&pointer)),
                )
                .at_opt(at(&pointer))
                .with_help("durations in a scenario are at most `1000d`"),
            );
        }
    }
    let duration = tree.get("duration").and_then(dur);
    if duration == Some(0) {
        out.push(
            Diagnostic::error("E604", "`duration` must be longer than zero")
                .at_opt(at("/duration")),
        );
    }
    // A rate window of zero refills the bucket at once: `requests per 0s` limited nothing, so a
    // throttle test passed on traffic nothing throttled (tester #203).
    let mut windows = vec!["/crm/rateLimit/per".to_string()];
    if let Some(faults) = tree.get("faults").and_then(serde_json::Value::as_array) {
        windows.extend((0..faults.len()).map(|i| format!("/faults/{i}/throttle/per")));
    }
    for p in windows {
        if tree.pointer(&p).and_then(dur) == Some(0) {
            out.push(
                Diagnostic::error(
                    "E604",
                    format!("`{}` must be longer than zero", yaml_path(&p)),
                )
                .at_opt(at(&p))
                .with_help("a rate of N requests per zero time limits nothing; give the window, e.g. `per: 1s`"),
            );
        }
    }
    let run = duration.filter(|&d| d > 0 && d <= MAX_DURATION_MS);
    if let (Some(run), Some(iv)) = (run, tree.get("interval")) {
        match dur(iv) {
            Some(0) => out.push(
                Diagnostic::error("E604", "`interval` must be longer than zero")
                    .at_opt(at("/interval")),
            ),
            Some(ms) if run.div_ceil(ms) > MAX_INTERVALS => out.push(
                Diagnostic::error(
                    "E612",
                    format!(
                        "`interval` gives {} metrics intervals over the {} run; at most {MAX_INTERVALS}",
                        run.div_ceil(ms),
                        fmt_ms(run)
                    ),
                )
                .at_opt(at("/interval"))
                .with_help(format!(
                    "use an interval of at least {} (or leave it out: about 60 intervals)",
                    fmt_ms(run.div_ceil(MAX_INTERVALS))
                )),
            ),
            _ => {}
        }
    }
    let start = tree.get("start").and_then(Value::as_str);
    match start.map(crate::spec::parse_instant) {
        Some(Err(e)) => out.push(
            Diagnostic::error("E606", format!("`start`: {e}"))
                .at_opt(at("/start"))
                .with_help("e.g. `2024-01-15T14:00:00Z`"),
        ),
        Some(Ok(t)) => {
            out.extend(check_end(t, start, run, machine).map(|d| d.at_opt(at("/start"))))
        }
        None => {
            // The spec's `test.now` starts it (its loader checked the instant itself).
            let t = machine
                .default_start
                .as_deref()
                .and_then(|s| crate::spec::parse_instant(s).ok());
            if let Some(t) = t {
                out.extend(check_end(t, None, run, machine).map(|d| d.at_opt(at("/duration"))));
            }
        }
    }
    if let Some(total) = oversized_bytes(tree) {
        if total > u128::from(MAX_OVERSIZED_BYTES) {
            out.push(
                Diagnostic::error(
                    "E613",
                    format!(
                        "`events.oversize` adds {total} bytes to the run's events; at most \
                         {MAX_OVERSIZED_BYTES} (256 MiB)"
                    ),
                )
                .at_opt(at("/events/oversize/bytes"))
                .with_help(
                    "a few oversized events show the payload guard: raise `every` or lower `bytes`",
                ),
            );
        }
    }
    out.extend(check_curve(tree, map, run));
    out.extend(check_faults(tree, map, run));
    out.extend(check_crm(tree, map));
    out.extend(check_expect(tree, map));
    out
}

/// The last instant an event time can have: RFC 3339 writes years of four digits.
fn last_instant() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(253_402_300_799_999).expect("in chrono's range")
}

/// E606 when a run from `t` (the scenario's `start`, or the spec's `test.now` when `start` is
/// `None`) of `run` ms of arrivals, whose last event may then stay `machine.longest_stay` ms in
/// the delivery machine, can settle an event after [`last_instant`]. Without `run` (a duration
/// in error) nothing is said.
fn check_end(
    t: chrono::DateTime<chrono::Utc>,
    start: Option<&str>,
    run: Option<u64>,
    machine: &RunEnd,
) -> Option<Diagnostic> {
    let run = run?;
    let last = last_instant();
    let span = run.saturating_add(machine.longest_stay);
    let latest = i64::try_from(span)
        .ok()
        .and_then(|ms| last.checked_sub_signed(chrono::TimeDelta::milliseconds(ms)));
    if latest.is_some_and(|l| t <= l) {
        return None;
    }
    let from = match start {
        Some(s) => format!("`start`: a run from `{s}`"),
        None => format!(
            "the run from the spec's `test.now` (`{}`, the start of a scenario without `start`)",
            machine.default_start.as_deref().unwrap_or_default()
        ),
    };
    let stay = if machine.longest_stay > 0 {
        format!(
            ", then up to {} for its last event to settle (the spec's retry policy: retries, \
             `maxDelaySeconds` or the 24 h `Retry-After` cap, timeouts, token requests and \
             refreshes, the delivery deadline)",
            fmt_ms(machine.longest_stay)
        )
    } else {
        String::new()
    };
    let help = match latest {
        Some(l) if l.timestamp_millis() >= 0 => format!(
            "event times end with 9999-12-31T23:59:59.999Z; start at {} or earlier",
            l.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        _ => "event times end with the year 9999; start earlier or shorten the run".to_string(),
    };
    Some(
        Diagnostic::error(
            "E606",
            format!(
                "{from} can end after 9999-12-31T23:59:59.999Z: {} of arrivals{stay}",
                fmt_ms(run)
            ),
        )
        .with_help(help),
    )
}

/// Bytes `events.oversize` adds to a run of the tree's `events.count` (200 when left out), when
/// it is written with numbers.
fn oversized_bytes(tree: &Value) -> Option<u128> {
    let o = tree.pointer("/events/oversize")?;
    let count = match tree.pointer("/events/count") {
        Some(c) => c.as_u64()?,
        None => super::default_count(),
    };
    super::oversized_bytes(count, o.get("every")?.as_u64()?, o.get("bytes")?.as_u64()?)
}

/// Every duration-valued field of a scenario tree: `(pointer, value)`.
fn durations(tree: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for k in ["duration", "interval"] {
        if let Some(v) = tree.get(k) {
            out.push((format!("/{k}"), v));
        }
    }
    if let Some(points) = tree.pointer("/events/curve").and_then(Value::as_array) {
        for (i, p) in points.iter().enumerate() {
            if let Some(v) = p.get("at") {
                out.push((format!("/events/curve/{i}/at"), v));
            }
        }
    }
    if let Some(v) = tree.pointer("/crm/rateLimit/per") {
        out.push(("/crm/rateLimit/per".to_string(), v));
    }
    for (i, kind, body) in faults(tree) {
        if let Some(obj) = body.as_object() {
            for f in ["from", "to", "at", "per", "vaultUpdatedAfter"] {
                if let Some(v) = obj.get(f) {
                    out.push((format!("/faults/{i}/{}/{f}", yaml::escape_token(kind)), v));
                }
            }
        }
    }
    out
}

/// `(index, kind, settings)` of every fault written as `- kind: {…}`.
fn faults(tree: &Value) -> Vec<(usize, &str, &Value)> {
    tree.get("faults")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, f)| {
            let m = f.as_object()?;
            (m.len() == 1).then(|| m.iter().next().map(|(k, v)| (i, k.as_str(), v)))?
        })
        .collect()
}

/// The arrival curve: points in time order, inside the run, not all zero.
fn check_curve(tree: &Value, map: &SourceMap, run: Option<u64>) -> Vec<Diagnostic> {
    let Some(points) = tree.pointer("/events/curve").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut prev: Option<(u64, usize)> = None;
    for (i, p) in points.iter().enumerate() {
        let pointer = format!("/events/curve/{i}/at");
        let Some(at) = p.get("at").and_then(dur) else {
            continue;
        };
        if let Some((before, j)) = prev {
            // Two points at one instant are a step (docs/semantics.md, "Engine"); only going
            // back in time is a mistake.
            if at < before {
                out.push(
                    Diagnostic::error(
                        "E610",
                        format!(
                            "curve point {i} at {} is before point {j} at {}",
                            fmt_ms(at),
                            fmt_ms(before)
                        ),
                    )
                    .at_opt(map.value_span(&pointer))
                    .with_help("list the curve's points in time order (two points at one instant make a step)"),
                );
            }
        }
        if let Some(run) = run {
            if at > run {
                out.push(
                    Diagnostic::error(
                        "E610",
                        format!(
                            "curve point {i} at {} is after the end of the {} run",
                            fmt_ms(at),
                            fmt_ms(run)
                        ),
                    )
                    .at_opt(map.value_span(&pointer))
                    .with_help("`at` is an offset from the start, at most `duration`"),
                );
            }
        }
        prev = Some((at, i));
    }
    let weights: Vec<f64> = points
        .iter()
        .filter_map(|p| p.get("weight").and_then(Value::as_f64))
        .collect();
    if weights.len() == points.len() && !weights.is_empty() && weights.iter().all(|w| *w == 0.0) {
        out.push(
            Diagnostic::error("E610", "every curve weight is zero: no event would arrive")
                .at_opt(map.value_span("/events/curve")),
        );
    }
    out
}

/// Fault windows and instants: a window ends after it starts, and every fault begins while events
/// still arrive (a window may outlast the arrivals: the run goes on until everything settles).
fn check_faults(tree: &Value, map: &SourceMap, run: Option<u64>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, kind, body) in faults(tree) {
        let base = format!("/faults/{i}/{}", yaml::escape_token(kind));
        let get = |f: &str| body.get(f).and_then(dur);
        let (from, to, at) = (get("from"), get("to"), get("at"));
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                out.push(
                    Diagnostic::error(
                        "E605",
                        format!("the `{kind}` window must end after it starts"),
                    )
                    .at_opt(map.value_span(&format!("{base}/to")))
                    .with_help(format!(
                        "`to` ({}) is an offset from the scenario start, like `from` ({})",
                        fmt_ms(to),
                        fmt_ms(from)
                    )),
                );
            }
        }
        // A 2xx says the write succeeded, and the CRM model applies nothing in the window: the
        // events would be counted lost with no cause a verdict could name, and no retry policy
        // sees a success. A gateway that answers 200 without writing is not simulated (#255).
        if kind == "respond" {
            if let Some(status) = body
                .get("status")
                .and_then(Value::as_u64)
                .filter(|s| (200..300).contains(s))
            {
                out.push(
                    Diagnostic::error(
                        "E614",
                        format!(
                            "a `respond` fault of status {status} (a success) is not simulated: \
                             the CRM would answer {status} without writing, which no retry \
                             policy can see and the verdict could only count as lost"
                        ),
                    )
                    .at_opt(map.value_span(&format!("{base}/status")))
                    .with_help(
                        "`respond` sends a failure (300–599); for a CRM that works, leave the \
                         window out; a gateway that answers 2xx without writing is found by \
                         reconciling the CRM's records against the events, not by retrying",
                    ),
                );
            }
        }
        let Some(run) = run else { continue };
        for (field, v) in [("from", from), ("at", at)] {
            if let Some(t) = v.filter(|&t| t >= run) {
                out.push(outside(
                    kind,
                    field,
                    t,
                    run,
                    map.value_span(&format!("{base}/{field}")),
                ));
            }
        }
    }
    out
}

fn outside(kind: &str, field: &str, t: u64, run: u64, at: Option<Span>) -> Diagnostic {
    Diagnostic::error(
        "E609",
        format!(
            "the `{kind}` fault's `{field}` ({}) is not inside the {} run",
            fmt_ms(t),
            fmt_ms(run)
        ),
    )
    .at_opt(at)
    .with_help("fault times are offsets from the start; a fault must begin before `duration` (its window may last longer)")
}

/// Latency pairs: the 99th percentile is at least the median.
fn check_crm(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let mut places = vec!["/crm/latency".to_string()];
    for (i, kind, _) in faults(tree) {
        if kind == "latency" {
            places.push(format!("/faults/{i}/latency"));
        }
    }
    let mut out = Vec::new();
    for p in places {
        let Some(l) = tree.pointer(&p) else { continue };
        if let (Some(p50), Some(p99)) = (
            l.get("p50Ms").and_then(Value::as_f64),
            l.get("p99Ms").and_then(Value::as_f64),
        ) {
            if p99 < p50 {
                out.push(
                    Diagnostic::error("E611", format!("`p99Ms` ({p99}) is below `p50Ms` ({p50})"))
                        .at_opt(map.value_span(&format!("{p}/p99Ms")))
                        .with_help("the 99th percentile of latency is at least its median"),
                );
            }
        }
    }
    out
}

/// Expectation bands: `min ≤ max`, and DLQ reasons the simulator knows.
fn check_expect(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(expect) = tree.get("expect").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut bands: Vec<(String, &Value)> = Vec::new();
    for (k, v) in expect {
        if k == "deadLetteredByReason" {
            for (r, b) in v.as_object().into_iter().flatten() {
                bands.push((yaml::child(&yaml::child("/expect", k), r), b));
            }
        } else {
            bands.push((yaml::child("/expect", k), v));
        }
    }
    let mut out = Vec::new();
    for (pointer, b) in bands {
        let (lo, hi, lo_ptr, hi_ptr) = match b {
            Value::Array(a) if a.len() == 2 => (
                a[0].as_f64(),
                a[1].as_f64(),
                format!("{pointer}/0"),
                format!("{pointer}/1"),
            ),
            Value::Object(m) => (
                m.get("min").and_then(Value::as_f64),
                m.get("max").and_then(Value::as_f64),
                format!("{pointer}/min"),
                format!("{pointer}/max"),
            ),
            _ => continue,
        };
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo > hi {
                out.push(
                    Diagnostic::error(
                        "E611",
                        format!(
                            "`{}`: the band's minimum {} is above its maximum {}",
                            yaml_path(&pointer),
                            super::fmt_num(lo),
                            super::fmt_num(hi)
                        ),
                    )
                    .at_opt(map.value_span(&hi_ptr).or(map.value_span(&lo_ptr)))
                    .with_help("no result can pass; swap them or fix one"),
                );
            }
        }
    }
    if let Some(reasons) = expect
        .get("deadLetteredByReason")
        .and_then(Value::as_object)
    {
        let known: Vec<&str> = crate::delivery::Reason::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        for k in reasons.keys() {
            if !known.contains(&k.as_str()) {
                let d = Diagnostic::error("E607", format!("unknown DLQ reason `{k}`"))
                    .at_opt(map.key_span(&yaml::child("/expect/deadLetteredByReason", k)));
                out.push(
                    match crate::spec::schema::suggest(k, known.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("one of: {}", known.join(", "))),
                    },
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tester #201: E606 counts the delivery machine's own bound on an event's stay (retries,
    /// `maxDelaySeconds`, the 24 h `Retry-After` cap, token requests and refreshes, the
    /// deadline), not the scenario's duration alone: a run whose last event may settle at
    /// 9999-12-31T23:59:59.999Z loads, one a millisecond later does not, from the scenario's
    /// `start` or from the spec's `test.now` alike.
    #[test]
    fn a_run_ending_a_millisecond_past_the_year_9999_with_its_retries_is_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
        let spec = crate::spec::load(&path, &Default::default())
            .spec
            .expect("the example spec loads");
        let run = RunEnd::of(&spec);
        let cfg =
            crate::delivery::Config::from_spec(&spec.raw, crate::delivery::HubSettings::default())
                .unwrap();
        // The example respects Retry-After: more than a day.
        assert_eq!(run.longest_stay, cfg.longest_stay());
        assert!(run.longest_stay > 86_400_000, "{}", run.longest_stay);
        let hour = 3_600_000;
        let latest =
            last_instant() - chrono::TimeDelta::milliseconds((hour + run.longest_stay) as i64);
        let at = |ms: i64| {
            (latest + chrono::TimeDelta::milliseconds(ms))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let codes = |text: &str, run: &RunEnd| -> Vec<(String, usize)> {
            match parse_to_run(text, Path::new("s.yaml"), run) {
                Ok(_) => Vec::new(),
                Err(ds) => ds
                    .iter()
                    .map(|d| (d.code.to_string(), d.span.unwrap().start.line))
                    .collect(),
            }
        };
        let with_start = |t: &str| format!("version: 1\nname: x\nduration: 1h\nstart: \"{t}\"\n");
        assert!(codes(&with_start(&at(0)), &run).is_empty());
        assert_eq!(codes(&with_start(&at(1)), &run), [("E606".to_string(), 4)]);
        // The scenario alone (no machine) allows the later start: the bound is what moved it.
        assert!(codes(&with_start(&at(1)), &RunEnd::default()).is_empty());
        // No `start`: the spec's `test.now` starts the run; the error is at `duration`.
        let bare = "version: 1\nname: x\nduration: 1h\n";
        let from = |ms: i64| RunEnd {
            default_start: Some(at(ms)),
            ..run.clone()
        };
        assert!(codes(bare, &from(0)).is_empty());
        assert_eq!(codes(bare, &from(1)), [("E606".to_string(), 3)]);
        // The help names the latest start.
        let err = parse_to_run(&with_start(&at(1)), Path::new("s.yaml"), &run).unwrap_err();
        assert!(
            err[0].help.iter().any(|h| h.contains(&at(0))),
            "{:?}",
            err[0]
        );
    }
}
