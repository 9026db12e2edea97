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
