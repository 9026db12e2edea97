//! `cxsync eval` agrees with jsonata-js on realistic CRM mappings. The expected results in
//! `tests/transform/eval-parity.json` were recorded FROM jsonata-js (the npm `jsonata` package
//! pinned in `benches/js/package-lock.json`) by `node benches/js/parity.js --record`; this test
//! needs no node. `node benches/js/parity.js` re-runs jsonata-js live and compares all three.

use serde_json::Value;

use crate::common::{cxsync, root};

#[test]
fn eval_agrees_with_recorded_jsonata_js_results() {
    let text = std::fs::read_to_string(root().join("tests/transform/eval-parity.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 40, "the parity cases went missing");
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let name = c["name"].as_str().unwrap();
        let expected = c
            .get("jsonataJs")
            .unwrap_or_else(|| panic!("case `{name}` has no recorded jsonata-js result"));
        let event = dir.path().join(format!("event{i}.json"));
        std::fs::write(&event, c["event"].to_string()).unwrap();
        let out = cxsync()
            .args(["eval", "--compact", "--expr"])
            .arg(c["expr"].as_str().unwrap())
            .arg("--event")
            .arg(&event)
            .args(["--now", c["now"].as_str().unwrap()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let got: Value = match out.status.code() {
            Some(0) if stdout.is_empty() => serde_json::json!({"undefined": true}),
            Some(0) => {
                serde_json::json!({"output": serde_json::from_str::<Value>(&stdout).unwrap()})
            }
            Some(1) => {
                // After any E503 warnings about paths this event does not have.
                let code = stderr
                    .lines()
                    .find_map(|l| l.strip_prefix("error: "))
                    .and_then(|s| s.get(..5))
                    .unwrap_or("")
                    .to_string();
                serde_json::json!({ "error": code })
            }
            other => panic!("`{name}`: exit {other:?}: {stderr}"),
        };
        // Byte-equal JSON text: integers must print as integers, keys in the same order.
        if serde_json::to_string(&got).unwrap() != serde_json::to_string(expected).unwrap() {
            failures.push(format!(
                "{name}:\n  jsonata-js {expected}\n  cxsync     {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hostile expressions and events (`tests/transform/edge-parity.json`, recorded from jsonata-js
/// 2.2.2 by `node benches/js/edge_parity.js --record`) give jsonata-js's JSON text or error code
/// on BOTH paths: the compiled path (where it compiles and decides the case), the engine alone,
/// and the product's mix, each through a `serde_json::Value` event and through JSON text, and
/// the request body the delivery machine writes of the product's value. A case
/// with `refusedBy` is one cxsync refuses with that code (at compile, or at evaluation on every
/// path), as it cannot give jsonata-js's answer.
#[test]
fn both_paths_agree_with_recorded_jsonata_js_on_hostile_cases() {
    use cxsync::transform::{json, Transform};
    let text = std::fs::read_to_string(root().join("tests/transform/edge-parity.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 100, "the edge cases went missing");
    let now = cxsync::transform::default_now();
    let mut failures = Vec::new();
    let mut compiled_decided = 0;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let expr = c["expr"].as_str().unwrap();
        let event_text = c["event"].as_str().unwrap();
        // A case cxsync cannot match (JavaScript regex syntax Rust's engine lacks, a lone
        // surrogate, a zone jsonata-js reads as NaN) names the code it refuses it with instead.
        let refused = c
            .get("refusedBy")
            .map(|code| serde_json::json!({ "error": code }));
        let expected = refused.as_ref().unwrap_or(&c["jsonataJs"]);
        let event: Value = serde_json::from_str(event_text).unwrap();
        let show = |r: Result<Option<String>, cxsync::transform::TransformError>| match r {
            Ok(Some(t)) => serde_json::json!({ "text": t }),
            Ok(None) => serde_json::json!({"undefined": true}),
            Err(e) => serde_json::json!({ "error": e.code.unwrap_or(e.message) }),
        };
        let mut got = Vec::new();
        for (path, t) in [
            ("product", Transform::compile(expr)),
            ("engine", Transform::compile_engine_only(expr)),
        ] {
            let t = match t {
                Ok(t) => t,
                Err(e) => {
                    got.push((format!("{path} compile"), show(Err(e))));
                    continue;
                }
            };
            if let Some(out) = t.eval_compiled_only(Some(&event), now, &Default::default()) {
                compiled_decided += 1;
                got.push((
                    "compiled, value".into(),
                    show(Ok(out.map(|v| json::to_compact(&v)))),
                ));
            }
            if let Some(out) = t.eval_json_text_compiled_only(event_text, now) {
                got.push(("compiled, text".into(), show(Ok(out))));
            }
            let out = t.eval(&event, now);
            if let Ok(Some(value)) = &out {
                // The simulator's request body is the same text (tester #49: `1e20` was sent
                // where jsonata-js sends `100000000000000000000`).
                let body = cxsync::delivery::machine::json_text(value);
                got.push((format!("{path}, request body"), show(Ok(Some(body)))));
            }
            let v = out.map(|o| o.map(|v| json::to_compact(&v)));
            got.push((format!("{path}, value"), show(v)));
            got.push((
                format!("{path}, text"),
                show(t.eval_json_text(event_text, now)),
            ));
        }
        for (path, g) in got {
            if &g != expected {
                failures.push(format!(
                    "{name}  [{path}]\n  jsonata-js {expected}\n  cxsync     {g}"
                ));
            }
        }
    }
    assert!(
        compiled_decided >= 20,
        "the compiled path decided only {compiled_decided} cases"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
