//! `cxsync compile`: the guide's three payloads from specs/crm_sync.yaml (every difference listed
//! and explained), directory golden cases (`fixtures/golden/<case>/{in,out}`), atomic outputs,
//! secrets kept off the terminal, and refusal of specs with errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{cxsync, files_under, root, RETRY};

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn compile_to(
    spec: &str,
    args: &[&str],
    env: &[(String, String)],
    out: &Path,
) -> std::process::Output {
    let mut cmd = cxsync();
    cmd.arg("compile")
        .arg(spec)
        .args(args)
        .arg("--out")
        .arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Every leaf where two JSON trees differ: `(pointer, guide, ours)`; a missing side is `None`.
fn diff(
    p: &str,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut Vec<(String, Option<Value>, Option<Value>)>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for (k, v) in x {
                diff(&format!("{p}/{k}"), Some(v), y.get(k), out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    diff(&format!("{p}/{k}"), None, Some(v), out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y)))
            if x.len() == y.len() && x.iter().all(Value::is_object) =>
        {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(&format!("{p}/{i}"), Some(v), Some(w), out);
            }
        }
        (x, y) if x != y => out.push((p.to_string(), x.cloned(), y.cloned())),
        _ => {}
    }
}

/// The rewrite docs/spec.md documents for the guide's JSONata dialect: `$if(c) a $else b $end`
/// becomes `c ? a : b` and `a?.b` becomes `a.b` (path navigation is already null-safe).
fn rewrite_guide_jsonata(src: &str) -> String {
    let mut s = src.replace("?.", ".");
    while let Some(i) = s.find("$if(") {
        let open = i + 3;
        let mut depth = 0;
        let mut close = open;
        for (j, c) in s[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + j;
                        break;
                    }
                }
                _ => {}
            }
        }
        let cond = s[open + 1..close].to_string();
        let els = s[close..].find(" $else ").unwrap() + close;
        let end = s[els..].find(" $end").unwrap() + els;
        let then = s[close + 1..els].trim().to_string();
        let other = s[els + 7..end].trim().to_string();
        s = format!("{}{cond} ? {then} : {other}{}", &s[..i], &s[end + 5..]);
    }
    s
}

/// JSONata with whitespace outside string literals removed, for comparing layouts.
fn squeeze(src: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut esc = false;
    for c in src.chars() {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The deliberate differences from the guide, each listed with its reason in docs/spec.md.
fn allowed_differences() -> BTreeMap<&'static str, (Option<Value>, Option<Value>)> {
    BTreeMap::from([
        // Below the CRM's 3,600 s token lifetime; the guide's 5,400 s outlives the token.
        (
            "channel.json/authentication/tokenCacheTtlSeconds",
            (Some(json!(5400)), Some(json!(3300))),
        ),
        // One idempotency template, the channel header's.
        (
            "retry-policy.json/idempotencyKeyTemplate",
            (
                Some(json!("${interaction.id}_${event.type}_${agent.id}")),
                Some(json!("${interaction.id}_${event.type}")),
            ),
        ),
        // Who owns the channel (docs/apply.md, "Ownership").
        (
            "channel.json/headers/X-Cxsync-Owner",
            (None, Some(json!("spec=crm-sync"))),
        ),
        // The guide's edge case 1 fix.
        (
            "retry-policy.json/respectRetryAfterHeader",
            (None, Some(json!(true))),
        ),
        // 408 is transient; 409 and 413 will not succeed on a resend.
        (
            "retry-policy.json/retryableStatusCodes",
            (
                Some(json!([429, 500, 502, 503, 504])),
                Some(json!([408, 429, 500, 502, 503, 504])),
            ),
        ),
        (
            "retry-policy.json/nonRetryableStatusCodes",
            (
                Some(json!([400, 401, 403, 404, 422])),
                Some(json!([400, 401, 403, 404, 409, 413, 422])),
            ),
        ),
    ])
}

#[test]
fn the_example_spec_compiles_to_the_guides_payloads_except_the_documented_differences() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile_to("specs/crm_sync.yaml", &[], &[], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let guide = root().join("fixtures/golden/guide");
    let pairs = [
        ("channel.json", "channel.json"),
        ("retry-policy.json", "retry-policy.json"),
        ("rule.json", "rules/CRM_SYNC_RULE_ID.json"),
    ];
    let mut found = Vec::new();
    let mut guide_rule = Value::Null;
    let mut our_rule = Value::Null;
    for (g, o) in pairs {
        let gv = read_json(&guide.join(g));
        let ov = read_json(&dir.path().join(o));
        // The guide's field order, for the fields both have.
        let order = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        let (go, oo) = (order(&gv), order(&ov));
        let common: Vec<&String> = oo.iter().filter(|k| go.contains(k)).collect();
        let guide_order: Vec<&String> = go.iter().filter(|k| oo.contains(k)).collect();
        assert_eq!(
            common, guide_order,
            "{o}: field order differs from the guide"
        );
        if g == "rule.json" {
            guide_rule = gv.clone();
            our_rule = ov.clone();
        }
        let mut d = Vec::new();
        diff("", Some(&gv), Some(&ov), &mut d);
        for (p, a, b) in d {
            if p == "/actions/0/jsonataExpression" {
                continue; // compared below, after the documented rewrite
            }
            found.push((format!("{o}{p}"), a, b));
        }
    }
    let allowed = allowed_differences();
    let found_map: BTreeMap<&str, (Option<Value>, Option<Value>)> = found
        .iter()
        .map(|(p, a, b)| (p.as_str(), (a.clone(), b.clone())))
        .collect();
    assert_eq!(
        found_map, allowed,
        "differences from the guide changed; update docs/spec.md"
    );

    let guide_expr = guide_rule["actions"][0]["jsonataExpression"]
        .as_str()
        .unwrap();
    let our_expr = our_rule["actions"][0]["jsonataExpression"]
        .as_str()
        .unwrap();
    assert!(
        cxsync::transform::Transform::compile(guide_expr).is_err(),
        "the guide's dialect was expected not to parse"
    );
    cxsync::transform::Transform::compile(our_expr).expect("the compiled JSONata parses");
    assert_eq!(
        squeeze(&rewrite_guide_jsonata(guide_expr)),
        squeeze(our_expr)
    );
}

/// `fixtures/golden/<case>/in/spec.yaml` (+ optional `args`, one CLI word per whitespace, and
/// `env`, `KEY=VALUE` lines) compiles byte for byte to `out/`. `CXSYNC_BLESS=1` rewrites `out/`.
#[test]
fn golden_cases_compile_byte_for_byte() {
    let golden = root().join("fixtures/golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("in/spec.yaml").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "{cases:?}");
    for case in cases {
        let args_text = std::fs::read_to_string(case.join("in/args")).unwrap_or_default();
        let args: Vec<&str> = args_text.split_whitespace().collect();
        let env: Vec<(String, String)> = std::fs::read_to_string(case.join("in/env"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let spec = case.join("in/spec.yaml");
        let out = compile_to(spec.to_str().unwrap(), &args, &env, dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            case.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let got = files_under(dir.path());
        if std::env::var_os("CXSYNC_BLESS").is_some() {
            let _ = std::fs::remove_dir_all(case.join("out"));
            for (rel, bytes) in &got {
                let p = case.join("out").join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, bytes).unwrap();
            }
            continue;
        }
        let want = files_under(&case.join("out"));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}: output files differ",
            case.display()
        );
        for (rel, bytes) in &want {
            assert!(
                got[rel] == *bytes,
                "{}/{}: differs from golden:\n{}",
                case.display(),
                rel.display(),
                String::from_utf8_lossy(&got[rel])
            );
        }
    }
}

#[test]
fn without_out_compile_prints_one_document_with_env_secrets_hidden() {
    let out = cxsync()
        .args(["compile", "fixtures/golden/bearer_auth/in/spec.yaml"])
        .env("CXSYNC_GOLDEN_CRM_TOKEN", "super-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("super-secret-value"), "{text}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("super-secret-value"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["channel.json"]["authentication"]["token"],
        "(sensitive)"
    );
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "channel.json",
            "retry-policy.json",
            "rules/started.json",
            "manifest.json"
        ]
    );
    // The same bytes as the files, apart from the secret.
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "CXSYNC_GOLDEN_CRM_TOKEN".to_string(),
        "super-secret-value".to_string(),
    )];
    compile_to(
        "fixtures/golden/bearer_auth/in/spec.yaml",
        &[],
        &env,
        dir.path(),
    );
    let written = read_json(&dir.path().join("retry-policy.json"));
    assert_eq!(doc["retry-policy.json"], written);
    let channel = read_json(&dir.path().join("channel.json"));
    assert_eq!(channel["authentication"]["token"], "super-secret-value");
}

#[test]
fn compile_output_is_byte_stable_across_runs() {
    let a = cxsync()
        .args(["compile", "specs/crm_sync.yaml"])
        .output()
        .unwrap();
    let b = cxsync()
        .args(["compile", "specs/crm_sync.yaml"])
        .output()
        .unwrap();
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    assert!(a.stdout.ends_with(b"}\n"));
}

#[test]
fn compile_refuses_a_spec_with_errors_and_prints_them_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile_to("fixtures/bad/three_mistakes.yaml", &[], &[], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fixtures/bad/three_mistakes.yaml:8:24"),
        "{err}"
    );
    assert!(
        files_under(dir.path()).is_empty(),
        "nothing is written for a bad spec"
    );
}

/// Only what an earlier compile wrote is removed: a rule file its `manifest.json` lists whose
/// rule left the spec, named on stderr. A user's own `rules/*.json`, and a listed path outside
/// `rules/`, are never touched (tester #57: before, every unlisted `rules/*.json` was deleted
/// without a word; this test asserted that on purpose and now asserts the opposite).
#[test]
fn recompiling_removes_rule_files_of_rules_that_left_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/OLD_RULE.json"), "{}").unwrap();
    std::fs::write(dir.path().join("rules/my-notes.json"), "{\"my\": 1}").unwrap();
    std::fs::write(dir.path().join("keep.json"), "{}").unwrap();
    std::fs::write(
        dir.path().join("manifest.json"),
        r#"{"calls": [{"method": "PUT", "path": "/x", "file": "rules/OLD_RULE.json"},
                      {"method": "PUT", "path": "/y", "file": "rules/../keep.json"},
                      {"method": "PUT", "path": "/z", "file": "keep.json"}]}"#,
    )
    .unwrap();
    let out = compile_to("specs/crm_sync.yaml", &[], &[], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed rules/OLD_RULE.json (listed in the previous manifest.json"),
        "{err}"
    );
    assert!(!err.contains("my-notes"), "{err}");
    let files: Vec<PathBuf> = files_under(dir.path()).into_keys().collect();
    assert_eq!(
        files,
        [
            "channel.json",
            "keep.json",
            "manifest.json",
            "retry-policy.json",
            "rules/CRM_SYNC_RULE_ID.json",
            "rules/my-notes.json"
        ]
        .map(PathBuf::from)
    );
    // The next compile lists only its own rule: nothing more to remove, nothing said.
    let again = compile_to("specs/crm_sync.yaml", &[], &[], dir.path());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("removed"));
    let manifest = read_json(&dir.path().join("manifest.json"));
    assert_eq!(manifest["calls"][1]["method"], "PUT");
    assert_eq!(
        manifest["calls"][1]["path"],
        "/api/v2/eventhub/channels/CRM_Sync_Channel_Production/retry-policy"
    );
}

/// Nothing is half-written (tester #106): when one target cannot be written (a file named
/// `rules`, a folder named like a rule file), the folder keeps its previous compile byte for
/// byte, and the error names what is in the way.
#[test]
fn a_compile_that_cannot_write_one_file_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let first = compile_to("specs/crm_sync.yaml", &[], &[], dir.path());
    assert_eq!(first.status.code(), Some(0));
    let before = files_under(dir.path());
    for (blocker, what) in [
        ("rules", "is a file, not a folder"),
        ("rules/chat-ended.json", "it is a folder, not a file"),
    ] {
        let w = tempfile::tempdir().unwrap();
        for (rel, bytes) in &before {
            let p = w.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        // The earlier compile's files, but one target blocked.
        let b = w.path().join(blocker);
        let _ = std::fs::remove_dir_all(&b);
        let _ = std::fs::remove_file(&b);
        if blocker == "rules" {
            std::fs::write(&b, "mine").unwrap();
        } else {
            std::fs::create_dir_all(&b).unwrap();
        }
        let kept = files_under(w.path());
        // Another spec: every file it writes would differ.
        let o = compile_to(
            "fixtures/golden/inline_transform/in/spec.yaml",
            &[],
            &[],
            w.path(),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{blocker}: {err}");
        assert!(err.contains(what), "{blocker}: {err}");
        assert_eq!(files_under(w.path()), kept, "{blocker}: the folder changed");
    }
}

#[test]
fn the_staging_environment_compiles_with_its_own_channel_and_bucket() {
    let out = cxsync()
        .args(["compile", "specs/crm_sync.yaml", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["channel.json"]["name"], "CRM_Sync_Channel_Staging");
    assert_eq!(
        doc["retry-policy.json"]["deadLetterQueue"]["bucketName"],
        "cxone-eventhub-dlq-staging"
    );
    // Each environment applies its rules under ids of its own, so staging and production coexist.
    assert_eq!(
        doc["rules/CRM_SYNC_RULE_ID--staging.json"]["actions"][1]["channelId"],
        "CRM_Sync_Channel_Staging"
    );
    assert_eq!(
        doc["channel.json"]["headers"]["X-Cxsync-Owner"],
        "spec=crm-sync; env=staging"
    );
    // Untouched base fields survive the merge.
    assert_eq!(doc["channel.json"]["timeoutMilliseconds"], 3000);
}

/// A header filled from the environment is as secret as the auth secret, whatever its name:
/// compile's stdout hides it as `plan` does (one record, `compile::Secrets`), and the file under
/// `--out` keeps it. (Before tester #44, `X-Tenant: ${env:…}` was printed because its name names
/// no credential; this test asserted that and now asserts the opposite.) A literal header is
/// printed as written.
#[test]
fn compile_hides_credential_headers_resolved_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    let head = r#"version: 1
name: headers
channel:
  name: Headers
  destinationUri: https://crm.example.org/api
  auth: { type: none }
  headers:
    Authorization: Bearer ${env:HDR_TOKEN}
    X-Api-Key: ${env:HDR_TOKEN}
    X-Tenant: ${env:HDR_TENANT}
    Content-Type: application/json
  timeoutMilliseconds: 3000
idempotency: { key: "${interaction.id}" }
"#;
    let tail = r#"deadLetterQueue: { enabled: true, bucketName: b }
rules:
  - id: R
    name: r
    eventType: interaction.ended
    transform: '{"id": interaction.id}'
"#;
    std::fs::write(&spec, [head, RETRY, tail].concat()).unwrap();
    let out = cxsync()
        .arg("compile")
        .arg(&spec)
        .env("HDR_TOKEN", "tok-SECRET-42")
        .env("HDR_TENANT", "acme-emea")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("tok-SECRET-42"), "{text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let h = &doc["channel.json"]["headers"];
    assert_eq!(h["Authorization"], "(sensitive)");
    assert_eq!(h["X-Api-Key"], "(sensitive)");
    assert_eq!(h["X-Tenant"], "(sensitive)");
    assert!(!text.contains("acme-emea"), "{text}");
    assert_eq!(h["Content-Type"], "application/json");
    let written = tempfile::tempdir().unwrap();
    let env = [
        ("HDR_TOKEN".to_string(), "tok-SECRET-42".to_string()),
        ("HDR_TENANT".to_string(), "acme-emea".to_string()),
    ];
    compile_to(spec.to_str().unwrap(), &[], &env, written.path());
    let channel = read_json(&written.path().join("channel.json"));
    assert_eq!(channel["headers"]["Authorization"], "Bearer tok-SECRET-42");

    // Printing masks the secret, so it needs no secret variable; `--out` writes the value apply
    // sends, so it does (E201, nothing written).
    let out = cxsync()
        .arg("compile")
        .arg(&spec)
        .env_remove("HDR_TOKEN")
        .env("HDR_TENANT", "acme-emea")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["channel.json"]["headers"]["X-Api-Key"], "(sensitive)");
    let unset = tempfile::tempdir().unwrap();
    let tenant_only = [("HDR_TENANT".to_string(), "acme-emea".to_string())];
    let w = compile_to(spec.to_str().unwrap(), &[], &tenant_only, unset.path());
    assert_eq!(w.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&w.stderr).contains("E201"));
    assert!(files_under(unset.path()).is_empty());
}
