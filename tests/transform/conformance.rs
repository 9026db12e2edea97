//! The official JSONata test suite (vendored at `tests/jsonata-test-suite`) run through
//! `cxsync::transform`, the project's own interface to the engine. The strict pass count must not
//! drop below [`BASELINE`]; per-group results go to `target/jsonata-conformance.md`.
//!
//! Strict means: an expected error code must be the code raised, an undefined result must be
//! undefined (not `null`), a result must be deep-equal (numbers compared by value, `unordered`
//! cases as multisets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cxsync::transform::{Bindings, Limits, Transform};
use serde_json::Value;

/// Strict passes recorded for jsonata-core 2.2.13 through `cxsync::transform` (of 1,686 cases;
/// the 2 lone-surrogate cases are skipped). The 4 `function-shuffle` cases fail by design:
/// `$shuffle` is refused (T1006), a transform gives one output for one event and instant.
const BASELINE: usize = 1680;

/// Cases the compiled path evaluates itself (and must agree with the engine on); a drop means
/// it stopped covering part of the language.
const COMPILED_BASELINE: usize = 100;

/// Cases the compiled path compiled, and of those the ones it evaluated itself (the rest it
/// declined to the engine); every one matched the engine.
static COMPILED_CASES: AtomicUsize = AtomicUsize::new(0);
static COMPILED_EVALUATED: AtomicUsize = AtomicUsize::new(0);

/// Why the compiled path disagrees with the engine on this case, if it does: the result through
/// `Value`s with the case's bindings, and through JSON text when there are none.
fn compiled_differs(
    expr: &str,
    data: Option<&Value>,
    bindings: &Bindings,
    limits: Limits,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let (Ok(compiled), Ok(engine)) = (
        Transform::compile_with_limits(expr, limits),
        Transform::compile_engine_only_with_limits(expr, limits),
    ) else {
        return None;
    };
    if !compiled.is_compiled() {
        return None;
    }
    COMPILED_CASES.fetch_add(1, Ordering::Relaxed);
    let mut evaluated = false;
    if let Some(got) = compiled.eval_compiled_only(data, now, bindings) {
        evaluated = true;
        let want = engine.eval_with_bindings(data, now, bindings);
        if want != Ok(got.clone()) {
            return Some(format!("compiled path {got:?} but engine {want:?}"));
        }
    }
    if let (Some(d), true) = (data, bindings.is_empty()) {
        let text = d.to_string();
        if let Some(got) = compiled.eval_json_text_compiled_only(&text, now) {
            evaluated = true;
            let want = engine.eval_json_text(&text, now);
            if want != Ok(got.clone()) {
                return Some(format!("compiled path text {got:?} but engine {want:?}"));
            }
        }
    }
    if evaluated {
        COMPILED_EVALUATED.fetch_add(1, Ordering::Relaxed);
    }
    None
}

enum Outcome {
    Pass,
    Fail(String),
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| numbers_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        _ => a == b,
    }
}

fn unordered_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            let mut used = vec![false; y.len()];
            x.iter().all(|item| {
                y.iter().enumerate().any(|(i, other)| {
                    if !used[i] && numbers_equal(item, other) {
                        used[i] = true;
                        true
                    } else {
                        false
                    }
                })
            })
        }
        _ => numbers_equal(a, b),
    }
}

fn run_case(case: &Value, group_dir: &Path, datasets: &Path) -> Outcome {
    let expr = match (case.get("expr"), case.get("expr-file")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(f))) => match std::fs::read_to_string(group_dir.join(f)) {
            Ok(t) => t,
            Err(e) => return Outcome::Fail(format!("expr-file: {e}")),
        },
        _ => return Outcome::Fail("no expr".into()),
    };
    let data: Option<Value> = match (case.get("data"), case.get("dataset")) {
        (Some(d), _) => Some(d.clone()),
        (_, Some(Value::String(name))) => {
            let text = std::fs::read_to_string(datasets.join(format!("{name}.json"))).unwrap();
            Some(serde_json::from_str(&text).unwrap())
        }
        _ => None,
    };
    let bindings: Bindings = case
        .get("bindings")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let expected_code = case
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| case.pointer("/error/code").and_then(Value::as_str));
    let limits = Limits {
        // A per-case time limit keeps a slow or hanging case from stalling the suite.
        time_budget_ms: Some(
            case.get("timelimit")
                .and_then(Value::as_u64)
                .unwrap_or(5_000),
        ),
        max_depth: case
            .get("depth")
            .and_then(Value::as_u64)
            .map(|d| d as usize)
            .unwrap_or(10_000),
        max_sequence: usize::MAX,
        ..Limits::default()
    };
    // The suite compares `$now()` with dates the engine takes from the host clock (`$toMillis`
    // with a time-only picture defaults to today), so it runs at the real instant.
    let now = chrono::Utc::now();
    // The compiled path must give the engine's result wherever it answers.
    if let Some(why) = compiled_differs(&expr, data.as_ref(), &bindings, limits, now) {
        return Outcome::Fail(why);
    }
    let result = Transform::compile_with_limits(&expr, limits)
        .and_then(|t| t.eval_with_bindings(data.as_ref(), now, &bindings));
    match (expected_code, result) {
        (Some(code), Err(e)) if e.code.as_deref() == Some(code) => Outcome::Pass,
        // U1001 is not an engine code: jsonata-js's test runner raises it when its own depth or
        // time guard (the case's `depth`/`timelimit`) trips. The engine's guards for the same
        // limits raise D1011 (depth) and D1012 (time).
        (Some("U1001"), Err(e))
            if case.get("depth").is_some()
                && matches!(e.code.as_deref(), Some("D1011") | Some("D1012")) =>
        {
            Outcome::Pass
        }
        (Some(code), Err(e)) => Outcome::Fail(format!("expected {code}, got {e:?}")),
        (Some(code), Ok(v)) => Outcome::Fail(format!("expected {code}, got {v:?}")),
        (None, Err(e)) => Outcome::Fail(format!("error {e}")),
        (None, Ok(v)) => {
            if case.get("undefinedResult").and_then(Value::as_bool) == Some(true) {
                return match v {
                    None => Outcome::Pass,
                    Some(v) => Outcome::Fail(format!("expected undefined, got {v}")),
                };
            }
            let Some(expected) = case.get("result") else {
                return Outcome::Fail("case has no expected outcome".into());
            };
            let Some(v) = v else {
                return Outcome::Fail(format!("expected {expected}, got undefined"));
            };
            let unordered = case.get("unordered").and_then(Value::as_bool) == Some(true);
            let ok = if unordered {
                unordered_equal(&v, expected)
            } else {
                numbers_equal(&v, expected)
            };
            if ok {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("expected {expected}, got {v}"))
            }
        }
    }
}

#[test]
fn the_official_jsonata_suite_passes_at_the_recorded_baseline() {
    let dir = crate::common::jsonata_suite();
    let datasets = dir.join("datasets");
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut skipped = 0;
    let mut group_dirs: Vec<PathBuf> = std::fs::read_dir(dir.join("groups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    group_dirs.sort();
    for gdir in group_dirs {
        let group = gdir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&gdir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let cases: Vec<Value> = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(a)) => a,
                Ok(v) => vec![v],
                // The lone-surrogate cases are not valid UTF-8 JSON for serde; the brief allows
                // skipping them.
                Err(_) => {
                    skipped += 1;
                    continue;
                }
            };
            for (i, case) in cases.iter().enumerate() {
                let entry = groups.entry(group.clone()).or_default();
                entry.1 += 1;
                match run_case(case, &gdir, &datasets) {
                    Outcome::Pass => entry.0 += 1,
                    Outcome::Fail(why) => failures.push(format!(
                        "{group}/{}[{i}]: {}",
                        file.file_name().unwrap().to_string_lossy(),
                        why.chars().take(300).collect::<String>()
                    )),
                }
            }
        }
    }
    let passed: usize = groups.values().map(|g| g.0).sum();
    let total: usize = groups.values().map(|g| g.1).sum();
    let compiled = COMPILED_CASES.load(Ordering::Relaxed);
    let evaluated = COMPILED_EVALUATED.load(Ordering::Relaxed);
    let mut report = format!(
        "# JSONata conformance through cxsync::transform\n\n{passed} of {total} cases pass strictly \
         ({skipped} files skipped: not loadable as JSON). The compiled path compiled {compiled} of \
         them, evaluated {evaluated} itself (declining the rest to the engine) and gave the \
         engine's result on each.\n\n| group | passed | cases |\n| --- | ---: | ---: |\n"
    );
    for (g, (p, t)) in &groups {
        report.push_str(&format!("| {g} | {p} | {t} |\n"));
    }
    report.push_str("\n## Failures\n\n");
    for f in &failures {
        report.push_str(&format!("- {f}\n"));
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/jsonata-conformance.md");
    let _ = std::fs::write(&out, &report);
    eprintln!(
        "{passed} of {total} strict passes; report in {}",
        out.display()
    );
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    eprintln!(
        "compiled path: {compiled} cases compiled, {evaluated} evaluated without the engine, all \
         identical to the engine"
    );
    assert!(
        evaluated >= COMPILED_BASELINE,
        "the compiled path evaluated only {evaluated} cases (baseline {COMPILED_BASELINE})"
    );
    assert!(
        passed >= BASELINE,
        "conformance dropped: {passed} strict passes, baseline {BASELINE}"
    );
}
