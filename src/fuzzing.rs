//! The bodies of the fuzz targets in `fuzz/` (cargo fuzz), kept in the library so that every
//! crash the fuzzer finds becomes a regression input that `cargo test` runs through exactly the
//! same code (`tests/fuzz.rs` over `fuzz/regressions/<target>/`).
//!
//! Each function takes the fuzzer's bytes and must return normally, whatever they are: any
//! panic, abort, overflow (fuzz builds keep debug assertions) or hang is a finding.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::diag::Diagnostic;
use crate::spec::{self, LoadOptions, TextSource};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("spec_load", spec_load),
    ("yaml", yaml),
    ("jsonata_parse", jsonata_parse),
    ("transform_eval", transform_eval),
    ("scenario_load", scenario_load),
    ("retry_after", retry_after),
    ("dlq_record", dlq_record),
];

/// Splits the input at NUL bytes into at most `n` UTF-8 parts (lossy).
fn parts(data: &[u8], n: usize) -> Vec<String> {
    data.splitn(n, |b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// Where a fuzzed spec claims to live: a folder that does not exist, so fixture globs find
/// nothing on the real disk.
const SPEC: &str = "/nonexistent-cxsync-fuzz/fuzz.yaml";

/// Files for a fuzzed spec: the spec itself, one text served for every `.jsonata` path, one for
/// every `.json` path (fixtures and the payload schema).
struct Mem {
    spec: String,
    transform: Option<String>,
    json: Option<String>,
}

impl TextSource for Mem {
    fn read(&self, path: &Path) -> Result<String, Diagnostic> {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("jsonata") => self.transform.clone(),
            Some("json") => self.json.clone(),
            _ if path == Path::new(SPEC) => Some(self.spec.clone()),
            _ => None,
        };
        text.ok_or_else(|| Diagnostic::error("E010", "no such file").in_file(path))
    }
    fn is_file(&self, path: &Path) -> bool {
        self.read(path).is_ok()
    }
    fn exists(&self, path: &Path) -> bool {
        self.is_file(path)
    }
}

/// A spec (`spec NUL transform-file NUL json-file`): load with and without each declared
/// environment, then compile and lint what loads.
pub fn spec_load(data: &[u8]) {
    let mut p = parts(data, 3).into_iter();
    let files = Mem {
        spec: p.next().unwrap_or_default(),
        transform: p.next(),
        json: p.next(),
    };
    let path = Path::new(SPEC);
    let loaded = spec::load_from(path, &LoadOptions::default(), &files);
    let envs: Vec<String> = loaded
        .spec
        .as_ref()
        .map(|s| s.raw.environments.keys().take(4).cloned().collect())
        .unwrap_or_default();
    if let Some(s) = &loaded.spec {
        let _ = crate::compile::compile(s);
    }
    let _ = crate::lint::lint_loaded(
        path,
        loaded,
        &crate::lint::Config::default(),
        &crate::lint::LintOptions::default(),
    );
    for env in envs {
        let opts = LoadOptions {
            env: Some(env),
            ..LoadOptions::default()
        };
        let _ = spec::load_from(path, &opts, &files);
    }
}

/// The YAML reader alone.
pub fn yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(mut doc) = spec::yaml::parse(text) {
            spec::integral_floats_to_integers(&mut doc.value);
        }
    }
}

/// cxsync's own JSONata parser and analyses (syntax, data flow, the guide's dialect).
pub fn jsonata_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::transform::syntax::analyse(&text);
    let _ = crate::transform::syntax::dialect(&text);
    let fixed = crate::transform::syntax::rewrite(&text);
    let _ = crate::transform::syntax::analyse(&fixed);
}

/// A transform (`expression NUL event-json`) compiled and evaluated on both entry points, the
/// value one and the JSON-text one, with a short time budget.
pub fn transform_eval(data: &[u8]) {
    let mut p = parts(data, 2).into_iter();
    let expr = p.next().unwrap_or_default();
    let event_text = p
        .next()
        .unwrap_or_else(|| include_str!("../fixtures/events/voice_resolved.json").to_string());
    let limits = crate::transform::Limits {
        time_budget_ms: Some(200),
        ..crate::transform::Limits::default()
    };
    let Ok(t) = crate::transform::Transform::compile_with_limits(&expr, limits) else {
        return;
    };
    let now = crate::transform::default_now();
    if let Ok(event) = serde_json::from_str::<serde_json::Value>(&event_text) {
        let _ = t.eval(&event, now);
    }
    let _ = t.eval_json_text(&event_text, now);
}

/// A scenario file.
pub fn scenario_load(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::sim::scenario::parse(text, Path::new("fuzz.yaml"));
    }
}

/// A `Retry-After` header value, at the epoch and at a present-day instant.
pub fn retry_after(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for now in [
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200),
    ] {
        if let Some(d) = crate::delivery::retry_after::parse(&text, now) {
            assert!(d <= crate::delivery::retry_after::MAX_RETRY_AFTER);
        }
    }
}

/// A DLQ object as `cxsync dlq` reads it; a record that parses gets its storage key and is
/// written back.
pub fn dlq_record(data: &[u8]) {
    if let Ok(rec) = crate::dlq::inspect::parse_record(data) {
        let _ = crate::dlq::store::record_key(&rec);
        let _ = serde_json::to_vec_pretty(&rec);
    }
}
