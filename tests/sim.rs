//! Integration tests for `cxsync sim`: the real binary on the example spec and the specs under
//! `fixtures/sim/`.

use std::fs;

use crate::common::{cxsync, RETRY};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cxsync().arg("sim").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_readme_command_prints_a_passing_verdict() {
    let (code, out, err) = run(&["specs/crm_sync.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS:"), "{out}");
    assert!(out.contains("ok   conservation"), "{out}");
    // The README shows this run's output; it is the output, line for line.
    let readme = fs::read_to_string(crate::common::root().join("README.md")).unwrap();
    let start = readme
        .find("```\ncxsync sim: ")
        .expect("README shows the first command's output")
        + 4;
    let len = readme[start..].find("```").unwrap();
    assert_eq!(
        &readme[start..start + len],
        out,
        "README.md's sample output"
    );
}

#[test]
fn a_spec_copied_from_the_guide_loses_events_to_salesforce_throttling_and_says_why() {
    let (code, out, _) = run(&[
        "fixtures/sim/guide-copy.yaml",
        "--scenario",
        "salesforce-throttle",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DLQ NON_RETRYABLE_STATUS"), "{out}");
    assert!(out.contains("403 [{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\"}]"), "{out}");
    assert!(out.contains("FAIL: deadLettered"), "{out}");
    assert!(out.contains("salesforce throttles with 403, which retry.nonRetryableStatusCodes dead-letters at once"), "{out}");
}

#[test]
fn ignoring_retry_after_during_a_429_storm_exhausts_retries_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("storm.yaml");
    let builtin =
        fs::read_to_string(crate::common::root().join("scenarios/retry-after-storm.yaml")).unwrap();
    fs::write(
        &sc,
        builtin.replace("faults:", "crm:\n  profile: generic\nfaults:"),
    )
    .unwrap();
    let (code, out, _) = run(&[
        "fixtures/sim/guide-copy.yaml",
        "--scenario",
        sc.to_str().unwrap(),
    ]);
    // The IVR events the guide's `${agent.id}` key cannot render are the spec's own, and fail
    // the run (a pass before the verdict told them apart); so are the throttled events, whose
    // retries ignored the Retry-After the same run respecting it delivers them by (#216: they
    // were "to replay").
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DLQ RETRIES_EXHAUSTED"), "{out}");
    assert!(out.contains("FAIL RETRIES_EXHAUSTED (429) ×"), "{out}");
    assert!(out.contains("IDEMPOTENCY_KEY_UNRESOLVED ×"), "{out}");
    assert!(
        out.contains("retry.respectRetryAfterHeader is off"),
        "{out}"
    );
    let (_, fixed, _) = run(&["specs/crm_sync.yaml", "--scenario", "retry-after-storm"]);
    assert!(fixed.contains("dead-lettered 0"), "{fixed}");
}

#[test]
fn the_fixed_spec_delivers_everything_under_the_same_throttling() {
    let (code, out, _) = run(&[
        "fixtures/sim/guide-fixed.yaml",
        "--scenario",
        "salesforce-throttle",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dead-lettered 0   lost 0"), "{out}");
    assert!(!out.contains("circuitBreaker"), "{out}");
}

#[test]
fn two_runs_with_one_seed_write_identical_reports() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    for p in [&a, &b] {
        let (code, out, err) = run(&[
            "specs/crm_sync.yaml",
            "--scenario",
            "partition",
            "--seed",
            "42",
            "--events",
            "200",
            "--report",
            p.to_str().unwrap(),
        ]);
        assert!(code == 0 || code == 1, "{out}{err}");
    }
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
}

#[test]
fn the_report_has_the_guides_totals_and_metrics_shape() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    let (code, _, _) = run(&[
        "specs/crm_sync.yaml",
        "--scenario",
        "maintenance-503",
        "--report",
        p.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    let t = &v["totals"];
    for k in [
        "events",
        "matched",
        "delivered",
        "deadLettered",
        "duplicates",
        "lost",
        "attempts",
        "tokenRefreshes",
    ] {
        assert!(t[k].is_u64(), "totals.{k} missing: {t}");
    }
    assert_eq!(
        t["delivered"].as_u64().unwrap() + t["deadLettered"].as_u64().unwrap(),
        t["matched"].as_u64().unwrap()
    );
    assert!(
        v["deadLetteredByReason"]["RETRIES_EXHAUSTED"]
            .as_u64()
            .unwrap()
            > 0
    );
    let points = v["metrics"]["dataPoints"].as_array().unwrap();
    assert!(points.len() > 10);
    let keys: Vec<&str> = points[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "throughput",
            "latencyP95",
            "errorRate",
            "dlqVolume",
            "tokenRefreshCount"
        ]
    );
    let dlq: u64 = points
        .iter()
        .map(|p| p["dlqVolume"].as_u64().unwrap())
        .sum();
    assert_eq!(dlq, t["deadLettered"].as_u64().unwrap());
}

/// `--outcomes /dev/stdout` writes the lines to the process's stdout (a pipe here) instead of
/// renaming a file over the `/dev/stdout` link; `--report` through a symlink writes its target and
/// keeps the link (#159).
#[cfg(target_os = "linux")]
#[test]
fn outputs_go_through_devices_and_symlinks_without_replacing_them() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("report.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    let (code, out, err) = run(&[
        "specs/crm_sync.yaml",
        "--events",
        "20",
        "--outcomes",
        "/dev/stdout",
        "--report",
        link.to_str().unwrap(),
        "--svg",
        "/dev/null",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let lines = out
        .lines()
        .filter(|l| l.starts_with("{\"eventId\""))
        .count();
    assert!(lines >= 20, "{out}");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("real.json")).unwrap()).unwrap();
    assert!(report.is_object());
    assert!(!fs::metadata("/dev/null").unwrap().is_file());
}

/// New output files get `0666` less the umask, as the shell's `>` gives them (they were `0600`,
/// tempfile's mode, whatever the umask); a file replaced keeps its own mode; a project made by
/// `init` is a folder of `0777` less the umask (it was `0700`).
#[cfg(unix)]
#[test]
fn new_outputs_get_the_umask_s_mode_and_replaced_ones_keep_theirs() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let dir = tempfile::tempdir().unwrap();
    for (umask, file, folder) in [
        ("022", 0o644, 0o755),
        ("027", 0o640, 0o750),
        ("077", 0o600, 0o700),
    ] {
        let out = dir.path().join(format!("u{umask}"));
        let (report, svg, compiled) = (out.join("r.json"), out.join("t.svg"), out.join("c"));
        let kept = out.join("kept.jsonl");
        fs::create_dir_all(&out).unwrap();
        fs::write(&kept, "old\n").unwrap();
        fs::set_permissions(&kept, fs::Permissions::from_mode(0o604)).unwrap();
        // The umask is set by a shell in front of the binary: the test's own process keeps its.
        let sh = |args: &str| {
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("umask {umask} && exec \"$0\" {args}"))
                .env("CXSYNC_GOLDEN_CRM_TOKEN", "t0ken")
                .arg(env!("CARGO_BIN_EXE_cxsync"))
                .current_dir(crate::common::root())
                .output()
                .unwrap();
            assert!(
                o.status.code().is_some_and(|c| c <= 1),
                "{args}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        sh(&format!(
            "sim specs/crm_sync.yaml --events 5 --report {} --svg {} --outcomes {}",
            report.display(),
            svg.display(),
            kept.display()
        ));
        sh(&format!(
            "compile specs/crm_sync.yaml --out {}",
            compiled.display()
        ));
        // A file holding an `${env:}` secret stays its owner's: 0600 whatever the umask.
        let secret = out.join("secret");
        sh(&format!(
            "compile fixtures/golden/bearer_auth/in/spec.yaml --out {}",
            secret.display()
        ));
        sh(&format!(
            "init --crm hubspot {}",
            out.join("proj").display()
        ));
        assert_eq!(mode(&report), file, "umask {umask}: --report");
        assert_eq!(mode(&svg), file, "umask {umask}: --svg");
        assert_eq!(
            mode(&kept),
            0o604,
            "umask {umask}: a replaced file keeps its mode"
        );
        assert_ne!(fs::read_to_string(&kept).unwrap(), "old\n");
        let payloads: Vec<_> = fs::read_dir(&compiled)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!payloads.is_empty());
        for p in payloads.iter().filter(|p| p.is_file()) {
            assert_eq!(
                mode(p),
                file,
                "umask {umask}: compile --out {}",
                p.display()
            );
        }
        assert_eq!(
            mode(&secret.join("channel.json")),
            0o600,
            "umask {umask}: a secret"
        );
        assert_eq!(
            mode(&secret.join("retry-policy.json")),
            file,
            "umask {umask}"
        );
        assert_eq!(
            mode(&out.join("proj")),
            folder,
            "umask {umask}: init's project folder"
        );
        let spec = fs::read_dir(out.join("proj"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_file())
            .unwrap();
        assert_eq!(mode(&spec), file, "umask {umask}: {}", spec.display());
    }
}

/// Tester #192: a `respond` fault of status 100 passed in virtual time and failed over HTTP (no
/// server can send a 1xx as the answer; the mock sent 500). A scenario's status is 200–599 now:
/// E105 at the value, for `validate` and `sim` alike.
#[test]
fn a_respond_fault_with_a_1xx_status_is_refused_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("s100.yaml");
    fs::write(
        &sc,
        "version: 1\nname: s100\nduration: 2m\nfaults:\n  - respond: { from: 30s, to: 60s, status: 100 }\n  - respond: { from: 60s, to: 70s, status: 300 }\n",
    )
    .unwrap();
    let (v, got) = validate_json(sc.to_str().unwrap());
    assert_eq!(got, [("E105".to_string(), 5, 44)], "{v:#}");
    assert!(
        v.to_string().contains("must be at least 200, found 100"),
        "{v:#}"
    );
    let (code, _, err) = run(&["specs/crm_sync.yaml", "--scenario", sc.to_str().unwrap()]);
    assert!(matches!(code, 1 | 2), "{err}");
    assert!(err.contains("E105"), "{err}");
}

/// Tester #203: `per: 0s` in a rate limit or a throttle fault was accepted and meant no limit at
/// all (a throttle test passed on traffic nothing throttled). It is E604 at the value now.
#[test]
fn a_rate_window_of_zero_is_refused_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("per0.yaml");
    fs::write(
        &sc,
        "version: 1\nname: per0\nduration: 2m\ncrm:\n  rateLimit: { requests: 5, per: 0s }\nfaults:\n  - throttle: { from: 0s, to: 1m, requests: 1, per: 0ms }\n  - throttle: { from: 1m, to: 2m, requests: 1, per: 1s }\n",
    )
    .unwrap();
    let (v, got) = validate_json(sc.to_str().unwrap());
    assert_eq!(
        got,
        [("E604".to_string(), 5, 34), ("E604".to_string(), 7, 53)],
        "{v:#}"
    );
    assert!(
        v.to_string()
            .contains("`crm.rateLimit.per` must be longer than zero"),
        "{v:#}"
    );
}

#[test]
fn outcomes_and_dlq_records_are_written_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = dir.path().join("o.jsonl");
    let dlq = dir.path().join("dlq");
    let svg = dir.path().join("t.svg");
    let (code, out, err) = run(&[
        "fixtures/sim/guide-copy.yaml",
        "--scenario",
        "salesforce-throttle",
        "--events",
        "300",
        "--outcomes",
        outcomes.to_str().unwrap(),
        "--dlq-dir",
        dlq.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<serde_json::Value> = fs::read_to_string(&outcomes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dead: Vec<_> = lines
        .iter()
        .filter(|l| l["outcome"] == "deadLettered")
        .collect();
    assert!(!dead.is_empty());
    // The IVR fixture has no agent: the guide's template cannot render its key.
    let ivr = lines.iter().find(|l| l["eventId"] == "evt-0005").unwrap();
    assert_eq!(ivr["reason"], "IDEMPOTENCY_KEY_UNRESOLVED");
    // The key names the rule: `<day>/<ruleId>/<eventId>.json`.
    let rec = dlq
        .join("cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15/CRM_SYNC_RULE_ID/evt-0005.json");
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&rec).unwrap()).unwrap();
    assert_eq!(r["reason"], "IDEMPOTENCY_KEY_UNRESOLVED");
    assert_eq!(r["event"]["event"]["id"], "evt-0005");
    // Every line carries its times, in virtual ms and RFC 3339, in order; an event refused
    // before any send has no first attempt; the record's dead-letter time is the settle time.
    assert_eq!(ivr["firstAttemptMs"], serde_json::Value::Null);
    assert_eq!(ivr["settledAt"], r["deadLetteredAt"]);
    assert_eq!(ivr["ruleId"], "CRM_SYNC_RULE_ID");
    assert_eq!(ivr["fixture"], "ivr_no_agent.json");
    let epoch = chrono::DateTime::parse_from_rfc3339("2024-01-15T14:00:00Z").unwrap();
    for l in &lines {
        let ms = |k: &str| l[format!("{k}Ms")].as_u64();
        let at = |k: &str| {
            l[format!("{k}At")]
                .as_str()
                .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap())
        };
        for k in ["arrival", "firstAttempt", "settled"] {
            if let (Some(m), Some(t)) = (ms(k), at(k)) {
                assert_eq!((t - epoch).num_milliseconds() as u64, m, "{k} in {l}");
            }
        }
        let (a, s) = (ms("arrival").unwrap(), ms("settled").unwrap());
        assert!(a <= s, "{l}");
        if let Some(f) = ms("firstAttempt") {
            assert!(a <= f && f <= s, "{l}");
            assert!(l["attempts"].as_u64().unwrap() > 0, "{l}");
        }
    }
    assert!(fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

#[test]
fn a_bad_scenario_file_is_reported_at_its_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    fs::write(&p, "version: 1\nname: bad\nduration: 5m\nfaults:\n  - partition: { from: 2m, to: 1m }\n  - outage: { at: 1m }\n").unwrap();
    let (code, _, err) = run(&["specs/crm_sync.yaml", "--scenario", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:6:5"), "{err}");
}

#[test]
fn an_unknown_scenario_name_suggests_the_closest_builtin() {
    let (code, _, err) = run(&["specs/crm_sync.yaml", "--scenario", "token-revoke"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `token-revoked`"), "{err}");
}

#[test]
fn every_builtin_scenario_keeps_the_invariants_on_the_example_spec() {
    let (_, list, _) = run(&["--list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 9, "{list}");
    for name in names {
        let (code, out, err) = run(&["specs/crm_sync.yaml", "--scenario", name, "--events", "300"]);
        assert!(code == 0 || code == 1, "{name}: {out}{err}");
        assert!(
            !out.contains("FAIL conservation")
                && !out.contains("FAIL nothing-in-flight")
                && !out.contains("FAIL unique"),
            "{name}: {out}"
        );
    }
}

#[test]
fn without_jitter_the_thundering_herd_is_throttled_and_dead_lettered_more() {
    let dlq = |extra: &[&str]| {
        let mut args = vec!["specs/crm_sync.yaml", "--scenario", "thundering-herd"];
        args.extend_from_slice(extra);
        let (code, out, _) = run(&args);
        assert_eq!(code, 0, "{out}");
        let n = |prefix: &str| {
            out.lines()
                .find_map(|l| l.trim().strip_prefix(prefix))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (n("DLQ RETRIES_EXHAUSTED"), out.contains("429×"))
    };
    let (jittered, _) = dlq(&[]);
    let (lockstep, throttled) = dlq(&["--no-jitter"]);
    assert!(throttled);
    assert!(
        lockstep > 2 * jittered,
        "no jitter {lockstep} vs full jitter {jittered}"
    );
}

#[test]
fn a_transform_that_forwards_transcripts_hits_the_payload_guard_before_sending() {
    let (code, out, _) = run(&[
        "fixtures/sim/transcript.yaml",
        "--scenario",
        "payload-too-large",
    ]);
    // The spec forwards 2 MB transcripts: its own size guard dead-letters them, which no retry or
    // replay fixes, so the run fails and says what to change (this test expected a pass before
    // the verdict separated the spec's dead letters from the scenario's).
    assert_eq!(code, 1, "{out}");
    // 200 events, every 20th inflated: 10 oversized, all from the webchat template (matched).
    assert!(out.contains("DLQ PAYLOAD_TOO_LARGE            10"), "{out}");
    assert!(out.contains("after 0 attempt(s)"), "{out}");
    assert!(
        out.contains("FAIL: the spec dead-lettered 10 events: PAYLOAD_TOO_LARGE ×10 in rule"),
        "{out}"
    );
    assert!(out.contains("trim the payload in the transform"), "{out}");
    let (_, plain, _) = run(&["specs/crm_sync.yaml", "--scenario", "payload-too-large"]);
    assert!(
        plain.contains("dead-lettered 0"),
        "the example transform drops transcripts: {plain}"
    );
}

/// Files of a spec outside the repository's fixtures: a ticket CRM (string ids, ISO times).
fn write_files(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

#[test]
fn two_rules_matching_every_event_leave_one_dlq_record_per_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "two-rules.yaml",
                r#"version: 1
name: two-rules
channel:
  name: Tickets
  destinationUri: https://tickets.example.com/api
  auth: { type: none }
  timeoutMilliseconds: 2000
idempotency:
  header: Idempotency-Key
  key: ${event.id}
retry:
  maxRetries: 1
  initialDelaySeconds: 1
  maxDelaySeconds: 2
  backoffMultiplier: 2
  retryableStatusCodes: [503]
  nonRetryableStatusCodes: [400, 422]
deadLetterQueue: { enabled: true, bucketName: tickets-dlq, prefix: failed/ }
crm: { idempotency: { by: none } }
rules:
  - id: TICKET
    name: ticket
    eventType: call.finished
    transform: '{"ticket": {"external_id": call.ref}}'
    fixtures: [events/*.json]
  - id: ACTIVITY
    name: activity
    eventType: call.finished
    transform: '{"activity": {"ref": call.ref, "at": event.at}}'
    fixtures: [events/*.json]
"#,
            ),
            (
                "events/a.json",
                r#"{"event": {"id": "CALL-Q7", "type": "call.finished", "at": "2025-06-01T08:00:00.125+02:00"}, "call": {"ref": "Q7"}}"#,
            ),
            (
                "down.yaml",
                "version: 1\nname: down\nduration: 2m\nevents: { count: 30 }\nfaults:\n  - maintenance: { from: 0s, to: 1h }\n",
            ),
        ],
    );
    let dlq = dir.path().join("dlq");
    let report = dir.path().join("r.json");
    let (_, out, err) = run(&[
        dir.path().join("two-rules.yaml").to_str().unwrap(),
        "--scenario",
        dir.path().join("down.yaml").to_str().unwrap(),
        "--dlq-dir",
        dlq.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let dead = rep["totals"]["deadLettered"].as_u64().unwrap();
    // 31 events (30 generated and the fixture), each matched by both rules.
    assert_eq!(dead, 62, "{out}{err}");
    let mut on_disk = Vec::new();
    let mut stack = vec![dlq.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                on_disk.push(p);
            }
        }
    }
    assert_eq!(on_disk.len() as u64, dead, "{on_disk:?}");
    // Both rules' records of the fixture event, side by side, and `dlq show` finds both.
    let day = dlq.join("tickets-dlq/failed");
    let found: Vec<_> = on_disk
        .iter()
        .filter(|p| p.file_name().unwrap() == "CALL-Q7.json")
        .map(|p| p.strip_prefix(&day).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    let o = crate::common::cxsync()
        .args(["dlq", "show"])
        .arg(&dlq)
        .arg("CALL-Q7")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("\"ruleId\": \"TICKET\"") && shown.contains("\"ruleId\": \"ACTIVITY\""),
        "{shown}"
    );
}

/// Runs `cxsync ARGS` in `dir`.
/// `cxsync validate --format json PATH`, which must find something (exit 1): the JSON and each
/// diagnostic's code, line and column.
fn validate_json(path: &str) -> (serde_json::Value, Vec<(String, u64, u64)>) {
    let out = cxsync()
        .args(["validate", "--format", "json", path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    (v, got)
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = crate::common::cxsync()
        .current_dir(dir)
        .args(args)
        // The ServiceNow spec's bearer token reference.
        .env("SNOW_TOKEN", "snow-test-token")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `test` accepts the snapshots and then passes; `sim` under `default` has no dead letters the
/// spec caused (no 400/422 from the CRM's schema, no transform failure), passes, and its
/// generator check holds. Returns the report.
fn passes_test_and_sim(dir: &std::path::Path, spec: &str) -> serde_json::Value {
    let (code, out, err) = run_in(dir, &["test", spec, "--update"]);
    assert!(code == 0 || code == 1, "{out}{err}");
    let (code, out, err) = run_in(dir, &["test", spec]);
    assert_eq!(code, 0, "cxsync test: {out}{err}");
    let (code, out, err) = run_in(dir, &["sim", spec, "--report", "r.json"]);
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(code, 0, "cxsync sim: {out}{err}");
    assert_eq!(
        rep["deadLetters"]["causedBySpec"],
        serde_json::json!([]),
        "{out}"
    );
    assert_eq!(rep["generationCheck"]["holds"], true, "{out}");
    for status in rep["crm"]["statuses"].as_object().unwrap().keys() {
        assert!(
            !["400", "413", "422"].contains(&status.as_str()),
            "the CRM rejected payloads ({status}): {out}"
        );
    }
    assert!(rep["totals"]["delivered"].as_u64().unwrap() > 0, "{out}");
    rep
}

#[test]
fn servicenow_string_numbers_hex_sys_ids_and_local_times_survive_generation() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "snow.yaml",
                r#"version: 1
name: snow-incidents
channel:
  name: SNOW_Incidents
  destinationUri: https://acme.service-now.com/api/now/table/incident
  auth: { type: bearer, token: "${env:SNOW_TOKEN}" }
  timeoutMilliseconds: 5000
idempotency:
  header: X-Correlation-Id
  key: ${interaction.id}
retry:
  maxRetries: 6
  initialDelaySeconds: 1
  maxDelaySeconds: 60
  backoffMultiplier: 2
  respectRetryAfterHeader: true
  retryableStatusCodes: [429, 500, 502, 503, 504]
  nonRetryableStatusCodes: [400, 401, 403, 404, 422]
deadLetterQueue: { enabled: true, bucketName: snow-dlq }
crm:
  profile: servicenow
  payloadSchema: incident.schema.json
  idempotency: { by: upsert, field: correlation_id }
rules:
  - id: SNOW_INCIDENT
    name: incident
    eventType: contact.closed
    transform: |
      {
        "number": interaction.number,
        "correlation_id": interaction.id,
        "opened_at": interaction.openedAt,
        "closed_at": interaction.closedAt,
        "short_description": "Contact " & interaction.number & " at " & event.occurredAt
      }
    fixtures: [events/*.json]
test:
  now: 2025-06-01T08:00:00Z
"#,
            ),
            (
                "incident.schema.json",
                r#"{"type": "object", "required": ["number", "correlation_id", "opened_at"],
  "properties": {
    "number": {"type": "string", "pattern": "^INC[0-9]{7}$"},
    "correlation_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "opened_at": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"},
    "closed_at": {"type": "integer", "minimum": 1000000000000}
  }}"#,
            ),
            (
                "events/a.json",
                r#"{"event": {"id": "9d385017c611228701d22104cc95c371", "type": "contact.closed", "occurredAt": "2025-06-01T07:59:30.125Z"},
 "interaction": {"id": "46d44b3ca9fe19810012d100cca80666", "number": "INC0010042", "openedAt": "2025-06-01 07:40:00", "closedAt": 1748764770125}}"#,
            ),
            (
                "events/b.json",
                r#"{"event": {"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "type": "contact.closed", "occurredAt": "2025-06-01T07:58:00.000Z"},
 "interaction": {"id": "ffe0c3aa9b7d4e21a5c6d7e8f9a0b1c2", "number": "INC0010043", "openedAt": "2025-06-01 07:55:10", "closedAt": 1748764680000}}"#,
            ),
        ],
    );
    let rep = passes_test_and_sim(dir.path(), "snow.yaml");
    assert_eq!(rep["crm"]["profile"], "servicenow");
}

#[test]
fn dynamics_uuids_and_a_key_of_its_own_fields_render_a_unique_key_per_generated_event() {
    // The events have neither event.id nor interaction.id: the generator varies the key's id field.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "dyn.yaml",
                r#"version: 1
name: dynamics-activities
channel:
  name: DYN_Activities
  destinationUri: https://acme.crm.dynamics.com/api/data/v9.2/phonecalls
  auth: { type: none }
  timeoutMilliseconds: 4000
idempotency:
  header: Idempotency-Key
  key: ${call.activityId}-${event.type}
retry:
  maxRetries: 5
  initialDelaySeconds: 2
  maxDelaySeconds: 60
  backoffMultiplier: 2
  respectRetryAfterHeader: true
  retryableStatusCodes: [429, 500, 503]
  nonRetryableStatusCodes: [400, 401, 404, 412, 422]
deadLetterQueue: { enabled: true, bucketName: dyn-dlq }
crm:
  profile: dynamics
  payloadSchema: phonecall.schema.json
  idempotency: { by: header }
rules:
  - id: DYN_CALL
    name: phonecall
    eventType: call.ended
    conditions: { call.direction: [inbound] }
    transform: |
      {
        "activityid": call.activityId,
        "subject": "Call from " & call.from,
        "actualstart": call.startedAt,
        "actualend": call.endedAt,
        "actualdurationminutes": $round(($toMillis(call.endedAt) - $toMillis(call.startedAt)) / 60000)
      }
    fixtures: [calls/*.json]
"#,
            ),
            (
                "phonecall.schema.json",
                r#"{"type": "object", "required": ["activityid", "actualstart", "actualend"],
  "properties": {
    "activityid": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
    "actualstart": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}-05:00$"},
    "actualend": {"type": "string", "format": "date-time"},
    "actualdurationminutes": {"type": "integer"}
  }}"#,
            ),
            (
                "calls/in.json",
                r#"{"event": {"type": "call.ended"}, "call": {"activityId": "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", "direction": "inbound", "from": "+1 555 0100",
  "startedAt": "2025-06-01T08:00:00.000-05:00", "endedAt": "2025-06-01T08:12:30.500-05:00"}}"#,
            ),
            (
                "calls/out.json",
                r#"{"event": {"type": "call.ended"}, "call": {"activityId": "0b8e5b7a-1111-4c2d-8e9f-aabbccddeeff", "direction": "outbound", "from": "+1 555 0199",
  "startedAt": "2025-06-01T09:00:00.000-05:00", "endedAt": "2025-06-01T09:01:00.000-05:00"}}"#,
            ),
        ],
    );
    let rep = passes_test_and_sim(dir.path(), "dyn.yaml");
    // Every generated event renders its own key: no key is shared, nothing is deduplicated away.
    let keys = rep["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "unique-idempotency-keys")
        .unwrap()
        .clone();
    assert_eq!(keys["holds"], true, "{keys}");
}

#[test]
fn a_transform_that_fails_on_every_event_fails_the_run_with_the_cause_and_an_example() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "broken.yaml",
                r#"version: 1
name: broken
channel:
  name: C
  destinationUri: https://crm.example.com/x
  auth: { type: none }
  timeoutMilliseconds: 2000
idempotency: { header: Idempotency-Key, key: "${event.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2, retryableStatusCodes: [503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: b }
rules:
  - id: R
    name: r
    eventType: e
    transform: '{"n": $number(order.total) + 1}'
    fixtures: [e.json]
"#,
            ),
            (
                "e.json",
                r#"{"event": {"id": "o-1", "type": "e"}, "order": {"total": "12,50 EUR"}}"#,
            ),
        ],
    );
    let (code, out, err) = run_in(dir.path(), &["sim", "broken.yaml", "--events", "100"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL: the spec dead-lettered 101 events: TRANSFORM_FAILED ×101 in rule R"),
        "{out}"
    );
    assert!(
        out.contains("nothing was delivered (0 of 101 matched events)"),
        "{out}"
    );
    assert!(out.contains("e.g. o-1 (from e.json)"), "{out}");
    assert!(out.contains("seed 20240115 reproduces this run"), "{out}");
    assert!(!out.contains("PASS"), "{out}");
}

#[test]
fn a_run_that_delivers_nothing_never_passes_and_a_dead_letter_rate_bounds_replays() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "down.yaml",
            "version: 1\nname: down\nduration: 2m\nevents: { count: 20 }\nfaults:\n  - maintenance: { from: 0s, to: 1h }\n",
        ), (
            "blip.yaml",
            "version: 1\nname: blip\nduration: 2m\nevents: { count: 40 }\nfaults:\n  - maintenance: { from: 0s, to: 65s }\n",
        )],
    );
    let root = crate::common::root();
    let spec = root.join("specs/crm_sync.yaml");
    let spec = spec.to_str().unwrap();
    let (code, out, _) = run_in(dir.path(), &["sim", spec, "--scenario", "down.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing was delivered"), "{out}");
    assert!(out.contains("to replay"), "{out}");
    // Everything delivered but some to replay: a pass, unless the rate is bounded below it.
    let (code, out, _) = run_in(
        dir.path(),
        &["sim", spec, "--scenario", "blip.yaml", "--no-jitter"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("to replay ("), "{out}");
    let (code, out, _) = run_in(
        dir.path(),
        &[
            "sim",
            spec,
            "--scenario",
            "blip.yaml",
            "--no-jitter",
            "--max-dead-letter-rate",
            "0",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL: deadLetterRate = "), "{out}");
    let (code, _, err) = run_in(dir.path(), &["sim", spec, "--max-dead-letter-rate", "2"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_generator_check_is_a_finding_when_a_payload_changes_type_between_fixture_and_copy() {
    // A transform that treats the fixture's own id specially: its copies give another type, so
    // the built-in check (fixture vs first generated event, through the rule) fails the run.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "special.yaml",
                r#"version: 1
name: special
channel:
  name: C
  destinationUri: https://crm.example.com/x
  auth: { type: none }
  timeoutMilliseconds: 2000
idempotency: { header: Idempotency-Key, key: "${event.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2, retryableStatusCodes: [503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: b }
rules:
  - id: R
    name: r
    eventType: e
    transform: '{"v": event.id = "f-1" ? "one" : 1}'
    fixtures: [e.json]
"#,
            ),
            ("e.json", r#"{"event": {"id": "f-1", "type": "e"}}"#),
        ],
    );
    let (code, out, err) = run_in(dir.path(), &["sim", "special.yaml", "--events", "10"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("e.json through rule R: /v: string \"one\" in the fixture's payload, number 1 in the generated one"),
        "{out}"
    );
    assert!(
        out.contains("generated events do not keep their fixtures' shape (1 finding)"),
        "{out}"
    );
}

const TWO_OBJECTS_SPEC: &str = r#"version: 1
name: tickets-and-comments
channel:
  name: ZD_Tickets
  destinationUri: https://acme.zendesk.com/api/v2/tickets
  auth: { type: none }
  timeoutMilliseconds: 5000
idempotency:
  header: Idempotency-Key
  key: ${event.id}-${event.type}
retry:
  maxRetries: 5
  initialDelaySeconds: 1
  maxDelaySeconds: 60
  backoffMultiplier: 2
  respectRetryAfterHeader: true
  retryableStatusCodes: [429, 500, 503]
  nonRetryableStatusCodes: [400, 401, 404, 422]
deadLetterQueue: { enabled: true, bucketName: zd-dlq }
crm:
  profile: generic
  payloadSchema: ticket.schema.json
rules:
  - id: ZD_TICKET
    name: ticket
    eventType: contact.ended
    transform: '{"subject": "Contact " & contact.id, "external_id": contact.id}'
    fixtures: [events/*.json]
  - id: ZD_COMMENT
    name: comment
    eventType: contact.note
    payloadSchema: comment.schema.json
    transform: '{"ticket_id": contact.id, "body": note.text}'
    fixtures: [events/*.json]
"#;

/// Two rules writing two CRM objects, each with its own schema: `test` and `sim` judge each
/// payload against its rule's schema (before, `payloadSchema` on a rule was an unknown key, and
/// the spec-wide ticket schema rejected every comment).
#[test]
fn each_rule_is_checked_against_its_own_payload_schema_in_test_and_sim() {
    let dir = tempfile::tempdir().unwrap();
    let comment_schema = r#"{"type": "object", "required": ["ticket_id", "body"],
  "properties": {"ticket_id": {"type": "string"}, "body": {"type": "string", "minLength": 1}},
  "additionalProperties": false}"#;
    write_files(
        dir.path(),
        &[
            ("zd.yaml", TWO_OBJECTS_SPEC),
            (
                "ticket.schema.json",
                r#"{"type": "object", "required": ["subject", "external_id"],
  "properties": {"subject": {"type": "string"}, "external_id": {"type": "string"}}}"#,
            ),
            ("comment.schema.json", comment_schema),
            (
                "events/ended.json",
                r#"{"event": {"id": "e-100", "type": "contact.ended"}, "contact": {"id": "c-100"}}"#,
            ),
            (
                "events/note.json",
                r#"{"event": {"id": "e-101", "type": "contact.note"}, "contact": {"id": "c-100"}, "note": {"text": "called back"}}"#,
            ),
        ],
    );
    let rep = passes_test_and_sim(dir.path(), "zd.yaml");
    assert!(rep["totals"]["delivered"].as_u64().unwrap() > 2);

    // The comment rule's own schema now wants a field its payload lacks: `test` names that
    // schema, and the CRM model of `sim` rejects the comments (and only them) with 422.
    fs::write(
        dir.path().join("comment.schema.json"),
        comment_schema.replace(
            r#"["ticket_id", "body"]"#,
            r#"["ticket_id", "body", "author_id"]"#,
        ),
    )
    .unwrap();
    let (code, out, err) = run_in(dir.path(), &["test", "zd.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("rules[1].payloadSchema"), "{out}");
    assert!(!out.contains("does not match crm.payloadSchema"), "{out}");
    let (code, out, err) = run_in(dir.path(), &["sim", "zd.yaml", "--report", "r.json"]);
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert!(rep["crm"]["statuses"]["422"].as_u64().unwrap() > 0, "{out}");
    assert!(rep["totals"]["delivered"].as_u64().unwrap() > 0, "{out}");
    let causes = rep["deadLetters"]["causedBySpec"].as_array().unwrap();
    assert!(!causes.is_empty(), "{out}");
    for c in causes {
        assert_eq!(c["rule"], "ZD_COMMENT", "{out}");
    }
}

/// Issue 13: a scenario is validated like a spec. Every mistake of
/// `fixtures/sim/bad-scenario.yaml` is reported in one run at its own line and column, with the
/// did-you-mean a person needs, and `sim` refuses it with exit 2.
#[test]
fn every_mistake_of_a_scenario_is_reported_in_one_run_at_its_position() {
    let (v, got) = validate_json("fixtures/sim/bad-scenario.yaml");
    let want = [
        ("E612", 5, 11),  // 300,000 metrics intervals
        ("E606", 6, 8),   // year 0
        ("E105", 8, 10),  // 10^12 events
        ("E610", 11, 13), // the curve goes back in time
        ("E610", 12, 13), // a curve point after the end
        ("E104", 14, 12), // sales-force
        ("E611", 15, 33), // p99 below p50
        ("E106", 16, 35), // 5x
        ("E104", 18, 5),  // maintenence
        ("E609", 19, 24), // a fault at 99 h in a 5-minute run
        ("E106", 20, 25), // 10 mins
        ("E103", 21, 39), // .nan
        ("E104", 22, 5),  // partiton
        ("E611", 24, 25), // {min: 10, max: 1}
        ("E611", 25, 18), // [5, 1]
        ("E607", 26, 27), // RETRIES_EXHAUSTD
        ("E105", 27, 15), // a count below 0
        ("E105", 28, 20), // a band's minimum below 0
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|(c, l, k)| (c.to_string(), *l, *k))
        .collect();
    assert_eq!(got, want, "{v:#}");
    let text = v.to_string();
    for help in [
        "did you mean `salesforce`?",
        "did you mean `maintenance`?",
        "did you mean `10m`?",
        "did you mean `5ms`, `5s`, `5m`, `5h` or `5d`?",
        "did you mean `RETRIES_EXHAUSTED`?",
        "did you mean `partition`?",
        "`expect.duplicates` must be at least 0, found -1",
        "`expect.attempts.min` must be at least 0, found -2",
    ] {
        assert!(text.contains(help), "{help}: {v:#}");
    }
    // A duration out of range says its unit and the limit in days.
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.yaml");
    fs::write(
        &long,
        "version: 1\nname: long\nduration: 1e300\nevents: { count: 10 }\n",
    )
    .unwrap();
    let (code, _, err) = run(&["specs/crm_sync.yaml", "--scenario", long.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`duration` must be at most 86,400,000 s (1000 days), found 1e+300 s"),
        "{err}"
    );
    assert!(err.contains("long.yaml:3:11"), "{err}");
    let (code, _, err) = run(&[
        "specs/crm_sync.yaml",
        "--scenario",
        "fixtures/sim/bad-scenario.yaml",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad-scenario.yaml:19:24"), "{err}");
}

/// A transform that runs into the wall-clock guard makes the outcome depend on the machine's
/// speed: `sim` gives no verdict (exit 2, naming the rule, the event and the seed) instead of
/// dead-lettering the event as TRANSFORM_FAILED, which a slower or faster machine would not.
/// Only the engine has that guard: the recursion nests deeper than the compiled path goes, so the
/// engine runs it (the compiled path's step budget is deterministic, see the test below).
#[test]
fn a_transform_past_the_wall_clock_guard_gives_no_verdict_rather_than_a_machine_dependent_one() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "slow.yaml",
                r#"version: 1
name: slow
channel:
  name: Slow
  destinationUri: https://crm.example.com/api
  auth: { type: none }
  timeoutMilliseconds: 2000
idempotency: { header: Idempotency-Key, key: "${event.id}" }
retry:
  maxRetries: 1
  initialDelaySeconds: 1
  maxDelaySeconds: 2
  backoffMultiplier: 2
  retryableStatusCodes: [503]
  nonRetryableStatusCodes: [400, 422]
deadLetterQueue: { enabled: true, bucketName: slow-dlq }
rules:
  - id: SLOW_RULE
    name: slow
    eventType: call.finished
    transform: |
      (
        $fib := function($n) { $n < 2 ? $n : $fib($n - 1) + $fib($n - 2) };
        $deep := function($d, $n) { $d = 0 ? $fib($n) : 0 + $deep($d - 1, $n) };
        {"ref": call.ref, "n": call.n > 10 ? $deep(120, call.n) : 0}
      )
    fixtures: [events/*.json]
"#,
            ),
            (
                "events/a.json",
                r#"{"event": {"id": "E-1", "type": "call.finished"}, "call": {"ref": "Q1", "n": 3}}"#,
            ),
            (
                "events/b.json",
                r#"{"event": {"id": "E-2", "type": "call.finished"}, "call": {"ref": "Q2", "n": 45}}"#,
            ),
        ],
    );
    let (code, out, err) = run_in(
        dir.path(),
        &["sim", "slow.yaml", "--events", "3", "--seed", "77"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("rule SLOW_RULE") && err.contains("event E-2"),
        "{err}"
    );
    assert!(
        err.contains("wall-clock guard") && err.contains("seed 77"),
        "{err}"
    );
    assert!(!out.contains("PASS") && !out.contains("FAIL"), "{out}");
}

/// A spec whose two rules write one record per interaction, upserted on `FIELD`; two events of
/// interaction INT-1 (ended, then updated) and one of INT-2, every one in region EMEA.
fn upsert_project(field: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let head = r#"version: 1
name: upsert-per-interaction
channel:
  name: HS_Calls
  destinationUri: https://api.hubapi.com/crm/v3/objects/calls
  auth: { type: none }
  timeoutMilliseconds: 3000
idempotency:
  header: X-Idempotency-Key
  key: ${event.id}
"#;
    let tail = r#"deadLetterQueue: { enabled: true, bucketName: b }
crm: { profile: hubspot, idempotency: { by: upsert, field: FIELD } }
rules:
  - id: ENDED
    name: ended
    eventType: interaction.ended
    transform: '{"interactionId": interaction.id, "region": interaction.queue.region, "state": "ended"}'
    fixtures: [events/*.json]
  - id: UPDATED
    name: updated
    eventType: interaction.updated
    transform: '{"interactionId": interaction.id, "region": interaction.queue.region, "note": interaction.note}'
    fixtures: [events/*.json]
"#;
    // Respecting Retry-After: a maintenance window's dead letters are then the scenario's (#216).
    let spec = [head, RETRY, "  respectRetryAfterHeader: true\n", tail]
        .concat()
        .replace("FIELD", field);
    write_files(
        dir.path(),
        &[
            ("spec.yaml", &spec),
            (
                "events/1-ended.json",
                r#"{"event": {"id": "e-1001", "type": "interaction.ended", "occurredAt": "2025-02-01T10:00:00Z"},
 "interaction": {"id": "INT-1", "queue": {"region": "EMEA"}}}"#,
            ),
            (
                "events/2-updated.json",
                r#"{"event": {"id": "e-1002", "type": "interaction.updated", "occurredAt": "2025-02-01T10:05:00Z"},
 "interaction": {"id": "INT-1", "queue": {"region": "EMEA"}, "note": "callback booked"}}"#,
            ),
            (
                "events/3-ended.json",
                r#"{"event": {"id": "e-1003", "type": "interaction.ended", "occurredAt": "2025-02-01T10:07:00Z"},
 "interaction": {"id": "INT-2", "queue": {"region": "EMEA"}}}"#,
            ),
        ],
    );
    dir
}

#[test]
fn an_upsert_on_the_interaction_updates_its_record_and_one_on_a_shared_field_loses_the_others() {
    // Upserting on the interaction: `interaction.updated` updates the record `interaction.ended`
    // wrote for INT-1, rightly; nothing is lost.
    let ok = upsert_project("interactionId");
    let rep = passes_test_and_sim(ok.path(), "spec.yaml");
    assert_eq!(rep["totals"]["lost"], 0);
    assert_eq!(rep["overwrittenByOtherEvents"], 0);
    // Upserting on the region every interaction shares: each delivery overwrites another
    // interaction's record. The run fails, says why and what to use, and names the seed.
    let bad = upsert_project("region");
    let (code, out, err) = run_in(
        bad.path(),
        &["sim", "spec.yaml", "--events", "40", "--report", "r.json"],
    );
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(bad.path().join("r.json")).unwrap()).unwrap();
    let overwritten = rep["overwrittenByOtherEvents"].as_u64().unwrap();
    let delivered = rep["totals"]["delivered"].as_u64().unwrap();
    // One record survives for all of them: every other interaction's is gone. In every copy of
    // the three fixtures the first two are one interaction (ended, then updated: an update, not
    // counted), so two of each three deliveries are lost.
    assert!(
        overwritten * 3 + 3 >= delivered * 2 && overwritten > 20,
        "{overwritten} of {delivered}: {out}"
    );
    assert_eq!(
        rep["totals"]["lost"].as_u64().unwrap(),
        overwritten,
        "{out}"
    );
    let verdict = out.lines().last().unwrap();
    assert!(
        verdict.contains(
            "overwritten by other events: upsert field `region` does not identify the event"
        ) && verdict.contains("region \"EMEA\"")
            && verdict.contains("interaction.id")
            && verdict.contains("seed 20240115"),
        "{verdict}"
    );
    // An upsert field the payload lacks is one record for all, and the verdict says it is missing.
    let missing = upsert_project("crmId");
    let (code, out, err) = run_in(missing.path(), &["sim", "spec.yaml", "--events", "10"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("upsert field `crmId` does not identify the event")
            && out.contains("both have crmId missing (not in the payload)"),
        "{out}"
    );
}

#[test]
fn a_key_read_from_fields_real_events_share_collides_in_the_simulation_as_in_production() {
    // `interaction.queue.name` is not an identity: generated events keep the fixture's queue,
    // as real events of one queue do, so the key collides and the run fails saying why.
    let dir = tempfile::tempdir().unwrap();
    let head = r#"version: 1
name: queue-key
channel:
  name: Generic
  destinationUri: https://crm.example.org/api/activities
  auth: { type: none }
  timeoutMilliseconds: 3000
idempotency:
  header: X-Idempotency-Key
  key: ${interaction.queue.name}_${event.type}
"#;
    let tail = r#"deadLetterQueue: { enabled: true, bucketName: b }
crm: { profile: generic, idempotency: { by: header } }
rules:
  - id: ACTIVITY
    name: activity
    eventType: interaction.ended
    transform: '{"id": interaction.id, "queue": interaction.queue.name}'
    fixtures: [events/*.json]
"#;
    let spec = [head, RETRY, tail].concat();
    write_files(
        dir.path(),
        &[
            ("spec.yaml", &spec),
            (
                "events/a.json",
                r#"{"event": {"id": "EVT-0001", "type": "interaction.ended", "occurredAt": "2025-02-01T10:00:00Z"},
 "interaction": {"id": "INT-0001", "queue": {"name": "Orders"}}}"#,
            ),
            (
                "events/b.json",
                r#"{"event": {"id": "EVT-0002", "type": "interaction.ended", "occurredAt": "2025-02-01T10:01:00Z"},
 "interaction": {"id": "INT-0002", "queue": {"name": "Support"}}}"#,
            ),
        ],
    );
    let (code, out, err) = run_in(
        dir.path(),
        &["sim", "spec.yaml", "--events", "30", "--report", "r.json"],
    );
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let keys = rep["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "unique-idempotency-keys")
        .unwrap()
        .clone();
    assert_eq!(keys["holds"], false, "{keys}");
    let detail = keys["detail"].as_str().unwrap();
    assert!(
        detail.contains("`interaction.queue.name`")
            && detail.contains("no field that identifies an event")
            && detail.contains("CX016")
            && detail.contains("`Orders_interaction.ended`"),
        "{detail}"
    );
    // The CRM keeps one record per queue: the others are lost, as they would be in production.
    assert!(rep["totals"]["lost"].as_u64().unwrap() >= 28, "{out}");
    // No generated queue name is invented.
    assert!(!out.contains("Ordez") && !out.contains("Ordf"), "{out}");
}

#[test]
fn a_curve_with_two_points_at_one_instant_is_a_step_not_a_mistake() {
    // docs/semantics.md ("Engine"): two points at one instant make a step (a burst that starts
    // at once); only a point earlier than the one before is E610.
    let dir = tempfile::tempdir().unwrap();
    let step = "version: 1\nname: burst\nduration: 10m\nevents:\n  count: 100\n  curve:\n    - { at: 0s, weight: 1 }\n    - { at: 6m, weight: 1 }\n    - { at: 6m, weight: 20 }\n    - { at: 6m20ms, weight: 20 }\n    - { at: 6m20ms, weight: 1 }\n";
    write_files(
        dir.path(),
        &[
            ("burst.yaml", step),
            (
                "back.yaml",
                &step.replace("at: 6m20ms, weight: 1", "at: 5m, weight: 1"),
            ),
        ],
    );
    let (code, out, err) = run_in(dir.path(), &["validate", "burst.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_in(dir.path(), &["validate", "back.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("curve point 4 at 5m is before point 3 at 6m20ms"),
        "{out}{err}"
    );
}

/// One token lifetime rule (`delivery::sends_expired_tokens`) for lint and the simulator: CX005
/// fires exactly when `sim` sees 401s for tokens past their lifetime (and then files the
/// `AUTH_FAILED` dead letters as the spec's), with the lifetime written in the spec or taken from
/// the CRM profile.
#[test]
fn lint_and_sim_agree_on_when_the_token_cache_outlives_the_token() {
    let dir = tempfile::tempdir().unwrap();
    // Beside the spec: a spec names files inside its project folder only (E311).
    let fixture = std::path::Path::new("voice_resolved.json");
    fs::copy(
        crate::common::root().join("fixtures/events/voice_resolved.json"),
        dir.path().join(fixture),
    )
    .unwrap();
    fs::write(
        dir.path().join("hour.yaml"),
        "version: 1\nname: hour\nduration: 2h\nevents: { count: 240 }\n",
    )
    .unwrap();
    // (cache TTL, `crm.tokenLifetimeSeconds` or the generic profile's 3,600 s)
    for (ttl, life) in [
        (600, Some(600)),
        (300, Some(600)),
        (900, Some(600)),
        (3000, Some(600)),
        (3600, None),
        (5400, None),
    ] {
        let life_line = life.map_or(String::new(), |l| format!(", tokenLifetimeSeconds: {l}"));
        let spec = format!(
            "version: 1\nname: ttl\nchannel:\n  name: Ttl\n  destinationUri: https://crm.example.org/v1/x\n  auth: {{ type: oauth2_client_credentials, tokenEndpoint: \"https://crm.example.org/token\", clientId: c, clientSecret: \"${{VAULT_SECRET:S}}\", tokenCacheTtlSeconds: {ttl}, retryOnTokenExpiry: false }}\n  timeoutMilliseconds: 2000\nidempotency: {{ key: \"${{event.id}}\" }}\nretry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 8, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 401] }}\ndeadLetterQueue: {{ enabled: true, bucketName: ttl-dlq }}\ncrm: {{ profile: generic{life_line} }}\nrules:\n  - {{ id: R, name: r, eventType: interaction.ended, transform: '{{\"id\": interaction.id}}', fixtures: [{}] }}\n",
            fixture.display()
        );
        let path = dir.path().join(format!("ttl{ttl}.yaml"));
        fs::write(&path, spec).unwrap();
        let lint = cxsync()
            .args(["lint", path.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        let cx005 = String::from_utf8_lossy(&lint.stdout).contains("CX005");
        let report = dir.path().join(format!("ttl{ttl}.json"));
        let (code, out, err) = run(&[
            path.to_str().unwrap(),
            "--scenario",
            dir.path().join("hour.yaml").to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        let rep: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
        let expired = rep["crm"]["statuses"]["401"].as_u64().unwrap_or(0);
        assert_eq!(
            cx005,
            expired > 0,
            "ttl {ttl}, life {life:?}: lint CX005 {cx005}, sim 401s {expired}\n{out}{err}"
        );
        assert_eq!(code, if cx005 { 1 } else { 0 }, "ttl {ttl}: {out}{err}");
        if cx005 {
            assert!(out.contains("FAIL AUTH_FAILED"), "ttl {ttl}: {out}");
        }
    }
}

/// The compiled path's step budget is a verdict the same on every machine: a transform past it
/// fails every event with STEP_BUDGET_EXCEEDED (TRANSFORM_FAILED, the spec's, exit 1), the same
/// in two runs, never the wall-clock guard's D1012 (which would stop the run with exit 2).
#[test]
fn a_transform_past_its_step_budget_fails_the_same_way_on_every_run() {
    let dir = tempfile::tempdir().unwrap();
    // Beside the spec: a spec names files inside its project folder only (E311).
    let fixture = std::path::Path::new("voice_resolved.json");
    fs::copy(
        crate::common::root().join("fixtures/events/voice_resolved.json"),
        dir.path().join(fixture),
    )
    .unwrap();
    let spec = dir.path().join("steps.yaml");
    fs::write(
        &spec,
        format!(
            "version: 1\nname: steps\nchannel: {{ name: Steps, destinationUri: \"https://crm.example.org/a\", auth: {{ type: none }}, timeoutMilliseconds: 1000 }}\nidempotency: {{ key: \"${{event.id}}\" }}\nretry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }}\ndeadLetterQueue: {{ enabled: true, bucketName: b }}\nrules:\n  - {{ id: R, name: r, eventType: interaction.ended, transform: '{{\"id\": interaction.id, \"n\": $count([1..990000].($ * 2 + 1))}}', fixtures: [{}] }}\n",
            fixture.display()
        ),
    )
    .unwrap();
    let mut reports = Vec::new();
    for i in 0..2 {
        let report = dir.path().join(format!("r{i}.json"));
        let (code, out, err) = run(&[
            spec.to_str().unwrap(),
            "--events",
            "3",
            "--report",
            report.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("FAIL TRANSFORM_FAILED"), "{out}");
        assert!(
            !out.contains("D1012") && !err.contains("D1012"),
            "{out}{err}"
        );
        reports.push(fs::read_to_string(&report).unwrap());
    }
    assert_eq!(reports[0], reports[1]);
    let out = cxsync()
        .args([
            "eval",
            "--spec",
            spec.to_str().unwrap(),
            "--rule",
            "R",
            "--event",
        ])
        .arg(dir.path().join(fixture))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("STEP_BUDGET_EXCEEDED"), "{err}");
}

/// A short retry block (two retries of a 503; 400 and 422 refused), for the webhook spec
/// literals below: `format!("…{RETRY_503}…")`.
const RETRY_503: &str = "retry:
  maxRetries: 2
  initialDelaySeconds: 1
  maxDelaySeconds: 4
  backoffMultiplier: 2
  retryableStatusCodes: [503]
  nonRetryableStatusCodes: [400, 422]
  respectRetryAfterHeader: true
";

/// A webhook spec with GUID event ids in braces and ISO times with offsets, for the tests of
/// which events the feed holds; `rules` is the YAML of its rules.
fn guid_spec(rules: &str) -> String {
    format!(
        r#"version: 1
name: guid-hooks
channel:
  name: Hooks
  destinationUri: https://hooks.example.net/cx
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency:
  header: X-Delivery
  key: "${{event.id}}:${{event.type}}"
{RETRY_503}deadLetterQueue: {{ enabled: true, bucketName: hooks-dlq }}
crm: {{ profile: generic, idempotency: {{ by: header }} }}
rules:
{rules}"#
    )
}

const GUID_FIXTURES: [(&str, &str); 3] = [
    (
        "fx/ended.json",
        r#"{"event": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", "type": "interaction.ended", "occurredAt": "2025-02-28T23:59:59.9999999-12:00"}, "interaction": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C3302}"}}"#,
    ),
    (
        "fx/ended2.json",
        r#"{"event": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C33FF}", "type": "interaction.ended", "occurredAt": "2025-02-28T12:00:00+14:00"}, "interaction": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C3303}"}}"#,
    ),
    (
        "fx/started.json",
        r#"{"event": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C3400}", "type": "interaction.started", "occurredAt": "2025-02-28T12:00:00+14:00"}, "interaction": {"id": "{3F2504E0-4F89-11D3-9A0C-0305E82C3401}"}}"#,
    ),
];

#[test]
fn a_fixture_two_rules_list_is_one_event_of_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = guid_spec(
        r#"  - id: ENDED
    name: every ended interaction
    eventType: interaction.ended
    transform: '{"id": interaction.id}'
    fixtures: [fx/*.json]
  - id: STARTED
    name: started
    eventType: interaction.started
    transform: '{"id": interaction.id, "open": true}'
    fixtures: [./fx/started.json]
"#,
    );
    let mut files = vec![("spec.yaml", spec.as_str())];
    files.extend(GUID_FIXTURES);
    write_files(dir.path(), &files);
    let outcomes = dir.path().join("o.ndjson");
    let (code, out, err) = run(&[
        dir.path().join("spec.yaml").to_str().unwrap(),
        "--events",
        "40",
        "--outcomes",
        outcomes.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 template(s)"), "{out}");
    assert!(out.contains("ok   unique-idempotency-keys"), "{out}");
    // The three fixtures arrive once each (started.json is listed by both rules, spelt two
    // ways), and no (event, rule) pair is delivered twice.
    let text = fs::read_to_string(&outcomes).unwrap();
    let mut pairs: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["eventId"].to_string(), v["ruleId"].to_string())
        })
        .collect();
    assert_eq!(pairs.len(), 43, "{text}");
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 43, "{text}");
}

#[test]
fn a_key_two_rules_share_is_explained_once_and_names_both_rules() {
    let dir = tempfile::tempdir().unwrap();
    let spec = guid_spec(
        r#"  - id: ENDED
    name: every ended interaction
    eventType: interaction.ended
    transform: '{"id": interaction.id}'
    fixtures: [fx/*.json]
  - id: NOTE
    name: a note for every ended interaction
    eventType: interaction.ended
    transform: '{"note": interaction.id}'
    fixtures: [fx/ended.json]
"#,
    );
    let mut files = vec![("spec.yaml", spec.as_str())];
    files.extend(GUID_FIXTURES);
    write_files(dir.path(), &files);
    let (code, out, err) = run(&[
        dir.path().join("spec.yaml").to_str().unwrap(),
        "--events",
        "40",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("FAIL unique-idempotency-keys"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("between two rules' deliveries of one event"),
        "{line}"
    );
    assert_eq!(
        line.matches("the key template is per channel").count(),
        1,
        "{line}"
    );
    assert!(line.contains("rules ENDED and NOTE"), "{line}");
}

#[test]
fn a_key_on_the_platforms_own_conversation_id_is_an_identity_and_a_customers_id_is_not_in_sim_and_lint_alike(
) {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = [
        (
            "fx/voice.json",
            r#"{"event": {"id": "GC-EV-0001", "type": "v2.conversations.ended", "occurredAt": "2025-03-09T01:59:59.5-08:00"}, "conversation": {"conversationId": "0f9d2c1e-7b3a-4e55-8d10-3b2a1c4d5e01", "mediaType": "voice"}, "customer": {"contactId": "CUST-77"}}"#,
        ),
        (
            "fx/chat.json",
            r#"{"event": {"id": "GC-EV-0002", "type": "v2.conversations.ended", "occurredAt": "2025-03-09T03:00:00.25-07:00"}, "conversation": {"conversationId": "0f9d2c1e-7b3a-4e55-8d10-3b2a1c4d5e02", "mediaType": "message"}, "customer": {"contactId": "CUST-78"}}"#,
        ),
    ];
    for (key, identifies) in [
        ("gc_${conversation.conversationId}_${event.type}", true),
        ("gc_${customer.contactId}_${event.type}", false),
    ] {
        let spec = format!(
            r#"version: 1
name: gc-like
channel:
  name: Conversations
  destinationUri: https://crm.gc.example/api/v3/conversations
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency:
  header: Idempotency-Key
  key: "{key}"
{RETRY_503}deadLetterQueue: {{ enabled: true, bucketName: gc-dlq, alertEndpoint: "https://mon.example.org/hook" }}
crm: {{ profile: generic, idempotency: {{ by: header }} }}
rules:
  - id: VOICE
    name: voice ended
    eventType: v2.conversations.ended
    conditions: {{ conversation.mediaType: [voice] }}
    transform: '{{"conversation": conversation.conversationId}}'
    fixtures: [fx/voice.json]
  - id: CHAT
    name: chat ended
    eventType: v2.conversations.ended
    conditions: {{ conversation.mediaType: [message] }}
    transform: '{{"conversation": conversation.conversationId, "chat": true}}'
    fixtures: [fx/chat.json]
"#
        );
        let mut files = vec![("spec.yaml", spec.as_str())];
        files.extend(fixtures);
        write_files(dir.path(), &files);
        let path = dir.path().join("spec.yaml");
        let (code, out, err) = run(&[path.to_str().unwrap(), "--events", "60"]);
        let lint = cxsync().arg("lint").arg(&path).output().unwrap();
        let lint = String::from_utf8_lossy(&lint.stdout).into_owned();
        if identifies {
            assert_eq!(code, 0, "{key}: {out}{err}");
            assert!(out.contains("ok   unique-idempotency-keys"), "{key}: {out}");
            assert!(!lint.contains("CX016"), "{key}: {lint}");
        } else {
            assert_eq!(code, 1, "{key}: {out}{err}");
            assert!(out.contains("FAIL unique-idempotency-keys"), "{key}: {out}");
            assert!(
                out.contains("names a party many events share"),
                "{key}: {out}"
            );
            assert!(lint.contains("CX016"), "{key}: {lint}");
        }
    }
}

/// A spec whose ENDED rule skips events with a conditional transform, and whose WRAPUP rule
/// (`wrapup` its fixture list, or none) is enabled; string ids, ISO times with offsets.
fn skipping_spec(wrapup: &str) -> String {
    format!(
        r#"version: 1
name: skipping
channel:
  name: Skips
  destinationUri: https://crm.example.org/v2/notes
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency:
  header: Idempotency-Key
  key: "${{event.id}}-${{event.type}}"
{RETRY_503}deadLetterQueue: {{ enabled: true, bucketName: skips-dlq }}
crm: {{ profile: generic, idempotency: {{ by: header }} }}
rules:
  - id: ENDED
    name: ended, only with a positive score
    eventType: interaction.ended
    transform: 'interaction.score > 0 ? {{"id": interaction.id, "score": interaction.score}}'
    fixtures: [fx/pos.json, fx/neg.json]
  - id: WRAPUP
    name: wrap-up
    eventType: interaction.wrapup
    transform: '{{"id": interaction.id, "code": interaction.code}}'
{wrapup}"#
    )
}

const SKIPPING_FIXTURES: [(&str, &str); 3] = [
    (
        "fx/pos.json",
        r#"{"event": {"id": "EV-0001", "type": "interaction.ended", "occurredAt": "2025-11-02T01:30:00.125-04:00"}, "interaction": {"id": "INT-0001", "score": 0.5}}"#,
    ),
    (
        "fx/neg.json",
        r#"{"event": {"id": "EV-0002", "type": "interaction.ended", "occurredAt": "2025-11-02T01:30:00.125-05:00"}, "interaction": {"id": "INT-0002", "score": -0.0}}"#,
    ),
    (
        "fx/wrap.json",
        r#"{"event": {"id": "EV-0003", "type": "interaction.wrapup", "occurredAt": "2025-11-02T06:31:00Z"}, "interaction": {"id": "INT-0001", "code": "WU-9"}}"#,
    ),
];

#[test]
fn an_undefined_result_sends_nothing_in_test_and_sim_alike() {
    let dir = tempfile::tempdir().unwrap();
    let spec = skipping_spec("    fixtures: [fx/wrap.json]\n");
    let mut files = vec![("spec.yaml", spec.as_str())];
    files.extend(SKIPPING_FIXTURES);
    write_files(dir.path(), &files);
    let path = dir.path().join("spec.yaml");
    let t = cxsync()
        .args(["test", path.to_str().unwrap(), "--update"])
        .output()
        .unwrap();
    assert_eq!(t.status.code(), Some(0), "{t:?}");
    let snap = fs::read_to_string(dir.path().join("snapshots/spec/ENDED/neg.snap")).unwrap();
    assert!(snap.contains("nothing is sent"), "{snap}");
    let report = dir.path().join("r.json");
    let dlq = dir.path().join("dlq");
    let (code, out, err) = run(&[
        path.to_str().unwrap(),
        "--events",
        "60",
        "--report",
        report.to_str().unwrap(),
        "--dlq-dir",
        dlq.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("TRANSFORM_FAILED"), "{out}");
    // neg.json and its 20 copies: 21 events the rule sends nothing for.
    assert!(
        out.contains("no output  21 event(s) in rule ENDED"),
        "{out}"
    );
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(rep["rules"][0]["sentNothing"], 21, "{rep}");
    assert_eq!(rep["rules"][0]["deliveries"], 21, "{rep}");
    assert_eq!(rep["totals"]["matched"], 42, "{rep}");
}

#[test]
fn an_enabled_rule_the_run_never_exercised_fails_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    // WRAPUP without fixtures: no event of its type is ever generated.
    let spec = skipping_spec("");
    let mut files = vec![("spec.yaml", spec.as_str())];
    files.extend(SKIPPING_FIXTURES);
    write_files(dir.path(), &files);
    let path = dir.path().join("spec.yaml");
    let (code, out, err) = run(&[path.to_str().unwrap(), "--events", "40"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL: rule WRAPUP was not simulated: it has no fixtures, so no event of type interaction.wrapup was generated"),
        "{out}"
    );
    // A rule whose transform gives nothing for every event it matched was not simulated either.
    let spec = skipping_spec("    fixtures: [fx/wrap.json]\n").replace(
        "fixtures: [fx/pos.json, fx/neg.json]",
        "fixtures: [fx/neg.json]",
    );
    fs::write(&path, spec).unwrap();
    let (code, out, err) = run(&[path.to_str().unwrap(), "--events", "40"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("rule ENDED was not simulated: its transform gave no output for all 21 events it matched"),
        "{out}"
    );
}

#[test]
fn a_retried_start_landing_after_its_end_sets_an_upserted_record_back_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |field: &str| {
        format!(
            r#"version: 1
name: ordering
channel:
  name: Cases
  destinationUri: https://cases.example.com/v1/records
  auth: {{ type: none }}
  timeoutMilliseconds: 3000
idempotency: {{ header: Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 6, initialDelaySeconds: 1, maxDelaySeconds: 30, backoffMultiplier: 2, jitter: full, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: cases-dlq }}
crm: {{ profile: generic, idempotency: {{ by: upsert, field: record_id }} }}
rules:
  - id: OPEN
    name: open on start
    eventType: call.started
    transform: '{{"record_id": {field}, "status": "open", "at": event.occurredAt}}'
    fixtures: [fx/started.json]
  - id: CLOSE
    name: close on end
    eventType: call.ended
    transform: '{{"record_id": {field}, "status": "closed", "at": event.occurredAt}}'
    fixtures: [fx/ended.json]
"#
        )
    };
    let one_record = spec("call.callId");
    write_files(
        dir.path(),
        &[
            ("spec.yaml", one_record.as_str()),
            (
                "fx/started.json",
                r#"{"event": {"id": "b7e1c0de-0000-4000-8000-00000000a001", "type": "call.started", "occurredAt": "2025-03-30T01:59:58.250+01:00"}, "call": {"callId": "CALL-000001"}}"#,
            ),
            (
                "fx/ended.json",
                // 3.25 s after the start (across the DST change): a start retried through the
                // maintenance window lands after it.
                r#"{"event": {"id": "b7e1c0de-0000-4000-8000-00000000a002", "type": "call.ended", "occurredAt": "2025-03-30T03:00:01.500+02:00"}, "call": {"callId": "CALL-000001"}}"#,
            ),
            (
                "flaky.yaml",
                "version: 1\nname: flaky\nduration: 10m\nevents: { count: 400 }\nfaults:\n  - maintenance: { from: 1m, to: 3m }\n",
            ),
        ],
    );
    let path = dir.path().join("spec.yaml");
    let sc = dir.path().join("flaky.yaml");
    let report = dir.path().join("r.json");
    let (code, out, err) = run(&[
        path.to_str().unwrap(),
        "--scenario",
        sc.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("set back by an older event"), "{out}");
    assert!(out.contains("(rule OPEN) landed after"), "{out}");
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert!(rep["setBackByOlderEvents"].as_u64().unwrap() > 0, "{rep}");
    // The same call ending 4 min 7.25 s after it started: every copy's end arrives that long
    // after its start (the fixtures' spacing, #174), longer than any retry through the window
    // takes, so nothing is set back, as at the hub.
    let ended = dir.path().join("fx/ended.json");
    let late = fs::read_to_string(&ended)
        .unwrap()
        .replace("03:00:01.500+02:00", "03:04:05.500+02:00");
    fs::write(&ended, late).unwrap();
    let (code, out, err) = run(&[path.to_str().unwrap(), "--scenario", sc.to_str().unwrap()]);
    assert!(!out.contains("set back"), "{out}{err}");
    assert!(out.contains("ok   conservation"), "{out}{err}");
    assert!(code == 0 || out.contains("to replay"), "{out}{err}");
    // Each event type writes a record of its own: nothing is set back.
    fs::write(&path, spec("call.callId & \"-\" & event.type")).unwrap();
    let (code, out, err) = run(&[path.to_str().unwrap(), "--scenario", sc.to_str().unwrap()]);
    assert!(!out.contains("set back"), "{out}{err}");
    assert!(out.contains("ok   conservation"), "{out}{err}");
    assert!(code == 0 || out.contains("to replay"), "{out}{err}");
}

/// #174, #182, #183: the copies of one interaction (created, updated, ended, and a survey that
/// names the call by `survey.interactionId`) keep it: the survey updates its own call's copy,
/// the three call events share one `startedAt`, and the events arrive in the order of their
/// times with the fixtures' spacing to the millisecond, although the rules list them in the
/// other order.
#[test]
fn the_copies_of_an_interaction_keep_its_link_shared_times_order_and_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let call = |id: &str, ty: &str, at: &str, ended: &str| {
        format!(
            r#"{{"event": {{"id": "{id}", "type": "interaction.{ty}", "occurredAt": "{at}"}}, "interaction": {{"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "startedAt": "2026-03-01T10:00:00.5+05:30"{ended}}}}}"#
        )
    };
    let created = call(
        "0b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
        "created",
        "2026-03-01T10:00:00.5+05:30",
        "",
    );
    let updated = call(
        "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
        "updated",
        "2026-03-01T10:02:30.123+05:30",
        "",
    );
    let ended = call(
        "2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6",
        "ended",
        "2026-03-01T10:05:12.123456+05:30",
        r#", "endedAt": "2026-03-01T10:05:12.123456+05:30""#,
    );
    let rule = |id: &str, ty: &str, transform: &str| {
        format!("  - id: {id}\n    name: {id}\n    eventType: {ty}\n    transform: '{transform}'\n    fixtures: [fx/{id}.json]\n")
    };
    let calls =
        r#"{"activity_id": interaction.id, "status": event.type, "start": interaction.startedAt}"#;
    let spec = format!(
        "version: 1\nname: linked\nchannel:\n  name: Acts\n  destinationUri: https://crm.example.com/v1/acts\n  auth: {{ type: none }}\n  timeoutMilliseconds: 3000\nidempotency: {{ header: Idempotency-Key, key: \"${{event.id}}\" }}\nretry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 5, backoffMultiplier: 2, retryableStatusCodes: [503], nonRetryableStatusCodes: [400] }}\ndeadLetterQueue: {{ enabled: true, bucketName: acts-dlq }}\ncrm: {{ profile: generic, idempotency: {{ by: upsert, field: activity_id }} }}\nrules:\n{}{}{}{}",
        rule("csat", "survey.completed", r#"{"activity_id": survey.interactionId, "csat": survey.score}"#),
        rule("ended", "interaction.ended", calls),
        rule("updated", "interaction.updated", calls),
        rule("created", "interaction.created", calls),
    );
    write_files(
        dir.path(),
        &[
            ("spec.yaml", spec.as_str()),
            ("fx/created.json", created.as_str()),
            ("fx/updated.json", updated.as_str()),
            ("fx/ended.json", ended.as_str()),
            (
                "fx/csat.json",
                r#"{"event": {"id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "type": "survey.completed", "occurredAt": "2026-03-01T04:50:00.25Z"}, "survey": {"interactionId": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "score": 4}}"#,
            ),
            (
                "refused.yaml",
                "version: 1\nname: refused\nduration: 1m\nevents: { count: 40 }\nfaults:\n  - respond: { from: 0s, to: 1h, status: 400 }\nexpect:\n  deadLetteredByReason: { NON_RETRYABLE_STATUS: [0, 1000] }\n",
            ),
        ],
    );
    let (outcomes, dlq) = (dir.path().join("o.jsonl"), dir.path().join("dlq"));
    let (code, out, err) = run(&[
        dir.path().join("spec.yaml").to_str().unwrap(),
        "--scenario",
        dir.path().join("refused.yaml").to_str().unwrap(),
        "--outcomes",
        outcomes.to_str().unwrap(),
        "--dlq-dir",
        dlq.to_str().unwrap(),
    ]);
    assert!(
        out.contains("generated events keep each fixture's shape"),
        "{code} {out}{err}"
    );
    let arrival: std::collections::BTreeMap<String, i64> = fs::read_to_string(&outcomes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|l| {
            (
                l["eventId"].as_str().unwrap().to_string(),
                l["arrivalMs"].as_i64().unwrap(),
            )
        })
        .collect();
    // Each DLQ record's event, by the record its payload writes.
    let mut by_record: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    let mut stack = vec![dlq.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let r: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
                let id = r["payload"]["activity_id"].as_str().unwrap().to_string();
                by_record.entry(id).or_default().push(r["event"].clone());
            }
        }
    }
    // The fixtures themselves and ten copies: four events each, one of every type.
    assert_eq!(by_record.len(), 11, "{by_record:?}");
    let ms = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    for (record, mut events) in by_record {
        let mut types: Vec<&str> = events
            .iter()
            .map(|e| e["event"]["type"].as_str().unwrap())
            .collect();
        types.sort_unstable();
        assert_eq!(
            types,
            [
                "interaction.created",
                "interaction.ended",
                "interaction.updated",
                "survey.completed"
            ],
            "record {record}"
        );
        let starts: std::collections::BTreeSet<String> = events
            .iter()
            .filter_map(|e| e["interaction"]["startedAt"].as_str().map(str::to_string))
            .collect();
        assert_eq!(starts.len(), 1, "one interaction started at {starts:?}");
        events.sort_by_key(|e| arrival[e["event"]["id"].as_str().unwrap()]);
        let order: Vec<&str> = events
            .iter()
            .map(|e| e["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "interaction.created",
                "interaction.updated",
                "interaction.ended",
                "survey.completed"
            ],
            "record {record}"
        );
        let first = &events[0];
        for e in &events {
            let since = |x: &serde_json::Value| ms(&x["event"]["occurredAt"]);
            let arrived = |x: &serde_json::Value| arrival[x["event"]["id"].as_str().unwrap()];
            assert_eq!(
                arrived(e) - arrived(first),
                since(e) - since(first),
                "record {record}: {e}"
            );
        }
        // The ended event's duration is the fixture's, to the microsecond.
        let end = &events[2]["interaction"];
        let (s, f) = (
            chrono::DateTime::parse_from_rfc3339(end["startedAt"].as_str().unwrap()).unwrap(),
            chrono::DateTime::parse_from_rfc3339(end["endedAt"].as_str().unwrap()).unwrap(),
        );
        assert_eq!((f - s).num_microseconds(), Some(311_623_456), "{end}");
    }
}

#[test]
fn an_idempotency_key_longer_than_servers_take_is_refused_and_fails_as_the_specs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = guid_spec(
        r#"  - id: NOTES
    name: a note per ended interaction
    eventType: interaction.ended
    transform: '{"id": interaction.id}'
    fixtures: [fx/long.json, fx/ended2.json]
"#,
    )
    .replace(
        "key: \"${event.id}:${event.type}\"",
        "key: \"${event.id}:${interaction.note}\"",
    );
    let long = format!(
        r#"{{"event": {{"id": "{{3F2504E0-4F89-11D3-9A0C-0305E82C3301}}", "type": "interaction.ended", "occurredAt": "2025-02-28T23:59:59.9999999-12:00"}}, "interaction": {{"id": "{{3F2504E0-4F89-11D3-9A0C-0305E82C3302}}", "note": "{}"}}}}"#,
        "u".repeat(8200)
    );
    let short = GUID_FIXTURES[1].1.replace(
        r#""interaction": {"id""#,
        r#""interaction": {"note": "short", "id""#,
    );
    write_files(
        dir.path(),
        &[
            ("spec.yaml", spec.as_str()),
            ("fx/long.json", long.as_str()),
            ("fx/ended2.json", short.as_str()),
        ],
    );
    let (code, out, err) = run(&[
        dir.path().join("spec.yaml").to_str().unwrap(),
        "--events",
        "20",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    // 8,200 ASCII characters and the id: a header over 8,192 bytes; the short key is delivered.
    // (Non-ASCII text never gets this far: the machine refuses it unsent, #149.)
    assert!(
        out.contains(
            "FAIL: the spec dead-lettered 11 events: NON_RETRYABLE_STATUS (431) ×11 in rule NOTES"
        ),
        "{out}"
    );
    assert!(out.contains("at most 8192"), "{out}");
    assert!(
        out.contains("build idempotency.key from ids, not free text"),
        "{out}"
    );
}

/// The example project in a temporary folder, its spec edited by `(from, to)` replacements
/// (each must apply), and `sim` run on it with `args`: the exit code, the summary, the report.
fn sim_edited_example(
    edits: &[(&str, &str, &str)],
    args: &[&str],
) -> (i32, String, serde_json::Value) {
    let dir = crate::common::edited_example(edits);
    let mut all = vec!["sim", "specs/crm_sync.yaml", "--report", "r.json"];
    all.extend_from_slice(args);
    let (code, out, err) = run_in(dir.path(), &all);
    let rep = serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap())
        .unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, out, rep)
}

/// The spec's `causedBySpec` entries as (reason, status, count).
fn spec_causes(rep: &serde_json::Value) -> Vec<(String, Option<u64>, u64)> {
    rep["deadLetters"]["causedBySpec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["reason"].as_str().unwrap().to_string(),
                c["status"].as_u64(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// #150: a payload the CRM refuses (422, its schema) is the spec's to fix even when the spec
/// lists 422 as retryable and the event is dead-lettered as RETRIES_EXHAUSTED after retried
/// refusals: no replay delivers it, so the run fails with the fix and lint's code.
#[test]
fn a_refused_payload_retried_to_the_end_fails_the_run() {
    let (code, out, rep) = sim_edited_example(
        &[
            (
                "specs/crm-case.schema.json",
                r#""enum": ["voice", "webchat", "email"]"#,
                r#""enum": ["voice", "webchat"]"#,
            ),
            (
                "specs/crm_sync.yaml",
                "retryableStatusCodes: [408, 429,",
                "retryableStatusCodes: [408, 422, 429,",
            ),
            ("specs/crm_sync.yaml", "409, 413, 422]", "409, 413]"),
        ],
        &["--events", "100"],
    );
    assert_eq!(code, 1, "{out}");
    let causes = spec_causes(&rep);
    assert_eq!(causes.len(), 1, "{out}");
    assert_eq!(causes[0].0, "RETRIES_EXHAUSTED", "{out}");
    assert_eq!(causes[0].1, Some(422), "{out}");
    // The email events (the schema's refusal); the default scenario's own faults exhaust
    // the retries of a few others, which stay to replay.
    assert!(causes[0].2 >= 10, "{out}");
    assert!(
        rep["deadLetters"]["toReplay"]["count"].as_u64().unwrap() < causes[0].2,
        "{out}"
    );
    assert!(out.contains("FAIL RETRIES_EXHAUSTED (422)"), "{out}");
    assert!(
        out.contains("take 422 out of retryableStatusCodes"),
        "{out}"
    );
    assert!(out.contains("(lint: CX006)"), "{out}");
    assert!(out.contains("e.g. evt-"), "{out}");
}

/// #158: without retryOnTokenExpiry a revoked token dead-letters every event at its first 401,
/// where a refresh would have delivered it: the spec's, failing the run (lint: CX002).
#[test]
fn auth_failures_a_refresh_would_have_cured_fail_the_run() {
    let (code, out, rep) = sim_edited_example(
        &[(
            "specs/crm_sync.yaml",
            "retryOnTokenExpiry: true",
            "retryOnTokenExpiry: false",
        )],
        &["--scenario", "token-revoked"],
    );
    assert_eq!(code, 1, "{out}");
    let causes = spec_causes(&rep);
    assert!(
        causes.iter().any(|c| c.0 == "AUTH_FAILED" && c.2 > 0),
        "{out}"
    );
    assert!(rep["deadLetters"]["toReplay"]["reasons"]
        .get("AUTH_FAILED")
        .is_none());
    assert!(
        out.contains("set retryOnTokenExpiry: true (lint: CX002)"),
        "{out}"
    );
    // With the refresh on, the same scenario dead-letters no AUTH_FAILED.
    let (_, out, rep) = sim_edited_example(&[], &["--scenario", "token-revoked"]);
    assert!(
        spec_causes(&rep).iter().all(|c| c.0 != "AUTH_FAILED"),
        "{out}"
    );
    assert!(
        rep["deadLetters"]["toReplay"]["reasons"]
            .get("AUTH_FAILED")
            .is_none(),
        "{out}"
    );
}

/// #158: a 429 the spec lists as non-retryable is dead-lettered by the spec's own policy, not
/// by the throttle: the run fails and names the fix (lint: CX007).
#[test]
fn a_throttle_the_spec_will_not_retry_fails_the_run() {
    let (code, out, rep) = sim_edited_example(
        &[
            (
                "specs/crm_sync.yaml",
                "retryableStatusCodes: [408, 429,",
                "retryableStatusCodes: [408,",
            ),
            (
                "specs/crm_sync.yaml",
                "409, 413, 422]",
                "409, 413, 422, 429]",
            ),
        ],
        &["--scenario", "retry-after-storm"],
    );
    assert_eq!(code, 1, "{out}");
    let causes = spec_causes(&rep);
    assert!(
        causes
            .iter()
            .any(|c| c.0 == "NON_RETRYABLE_STATUS" && c.1 == Some(429) && c.2 > 0),
        "{out}"
    );
    assert!(
        out.contains("move 429 to retryableStatusCodes (lint: CX007)"),
        "{out}"
    );
}

/// #163: `--env E` is named in the summary's header and in the report, after the spec.
#[test]
fn the_environment_is_named_in_the_header_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (code, out, err) = run(&[
        "specs/crm_sync.yaml",
        "--env",
        "staging",
        "--events",
        "20",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("cxsync sim: crm-sync × env staging × scenario default ("),
        "{out}"
    );
    let text = fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("\"spec\": \"crm-sync\",\n  \"environment\": \"staging\","),
        "{text}"
    );
    let (_, out, _) = run(&[
        "specs/crm_sync.yaml",
        "--events",
        "20",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(!out.contains("× env"), "{out}");
    assert!(!fs::read_to_string(&report).unwrap().contains("environment"));
}

/// #122: the hub's retry-policy API has no circuit breaker, so a spec's `retry.circuitBreaker`
/// is never sent, and never simulated: a spec with one runs exactly as the same spec without it
/// (the same report but for the one note saying so), under a long outage where a breaker would
/// have parked the retries. A spec without one never hears of it.
#[test]
fn a_circuit_breaker_the_hub_never_gets_changes_no_verdict_and_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::common::root();
    let base = fs::read_to_string(root.join("fixtures/sim/guide-fixed.yaml"))
        .unwrap()
        .replace("../../specs/transforms/", "transforms/")
        .replace("../events/*.json", "events/*.json")
        .replace("  maxRetries: 20\n", "  maxRetries: 4\n");
    let transform =
        fs::read_to_string(root.join("specs/transforms/interaction_ended.jsonata")).unwrap();
    let voice = fs::read_to_string(root.join("fixtures/events/voice_resolved.json")).unwrap();
    let with = base.replace(
        "  nonRetryableStatusCodes:",
        "  circuitBreaker: { failureThreshold: 2, openSeconds: 600 }\n  nonRetryableStatusCodes:",
    );
    assert_ne!(with, base);
    write_files(
        dir.path(),
        &[
            ("with.yaml", &with),
            ("without.yaml", &base),
            ("transforms/interaction_ended.jsonata", &transform),
            ("events/voice_resolved.json", &voice),
            (
                "outage.yaml",
                "version: 1\nname: outage\nduration: 20m\nevents: { count: 150 }\nfaults:\n  - maintenance: { from: 2m, to: 9m }\n",
            ),
        ],
    );
    let report = |spec: &str| {
        let r = dir.path().join(format!("{spec}.json"));
        let (code, out, err) = run_in(
            dir.path(),
            &[
                "sim",
                &format!("{spec}.yaml"),
                "--scenario",
                "outage.yaml",
                "--report",
                r.to_str().unwrap(),
            ],
        );
        let mut rep: serde_json::Value = serde_json::from_slice(&fs::read(&r).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        rep["spec"] = serde_json::Value::Null;
        (code, out, rep)
    };
    let (code_with, out_with, mut with) = report("with");
    let (code_without, out_without, without) = report("without");
    let note = "retry.circuitBreaker is not sent to the Event Hub";
    assert_eq!(out_with.matches(note).count(), 1, "{out_with}");
    assert!(!out_without.contains("circuitBreaker"), "{out_without}");
    let notes = with["notes"].as_array_mut().unwrap();
    notes.retain(|n| !n.as_str().unwrap().starts_with(note));
    assert_eq!(code_with, code_without, "{out_with}\n{out_without}");
    assert_eq!(with, without, "{out_with}\n{out_without}");
    assert!(
        without["totals"]["deadLettered"].as_u64().unwrap() > 0,
        "the outage outlasts the retries: {out_without}"
    );
    for spec in ["specs/crm_sync.yaml", "fixtures/sim/guide-copy.yaml"] {
        for sc in ["default", "salesforce-throttle"] {
            let (_, out, _) = run(&[spec, "--scenario", sc]);
            assert!(!out.contains("circuitBreaker"), "{spec} {sc}: {out}");
        }
    }
}

/// Two rules of one channel that match one event send the same idempotency key. Whether that
/// loses a record is one fact, `crm::DedupMode::reads_key`: lint's CX030 fires exactly when the
/// simulated CRM drops a delivery, over a table of CRMs and their deduplication (header,
/// upsert on a field, none, a profile's default, a profile's own header name sent or not).
#[test]
fn lint_flags_a_shared_key_exactly_when_the_simulated_crm_drops_a_delivery() {
    let crms: &[(&str, &str)] = &[
        (
            "X-Request-Key",
            "profile: generic\n  idempotency: { by: header }",
        ),
        (
            "X-Request-Key",
            "profile: generic\n  idempotency: { by: upsert, field: ref }",
        ),
        (
            "X-Request-Key",
            "profile: generic\n  idempotency: { by: none }",
        ),
        ("X-Request-Key", "profile: generic"),
        ("X-Request-Key", "profile: salesforce"),
        (
            "X-Request-Key",
            "profile: salesforce\n  idempotency: { by: upsert, field: ref }",
        ),
        ("X-Request-Key", "profile: dynamics"),
        ("Idempotency-Key", "profile: zendesk"),
        ("X-Request-Key", "profile: zendesk"),
        (
            "X-Request-Key",
            "profile: hubspot\n  idempotency: { by: upsert, field: ref }",
        ),
        ("X-Request-Key", "profile: servicenow"),
    ];
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "events/chat.json",
                r#"{"event": {"id": "0f9c2a1e-77aa-4b21-9d3e-0000000000a1", "type": "interaction.ended", "occurredAt": "2026-05-04T08:30:15.250-05:00"}, "interaction": {"id": "CH-77001", "channel": {"type": "chat"}}}"#,
            ),
            (
                "events/voice.json",
                r#"{"event": {"id": "0f9c2a1e-77aa-4b21-9d3e-0000000000b2", "type": "interaction.ended", "occurredAt": "2026-05-04T09:00:00Z"}, "interaction": {"id": "CH-77002", "channel": {"type": "voice"}}}"#,
            ),
            (
                "quiet.yaml",
                "version: 1\nname: quiet\nduration: 5m\nevents: { count: 60 }\n",
            ),
        ],
    );
    let (mut fired, mut quiet) = (0, 0);
    for (i, (header, crm)) in crms.iter().enumerate() {
        let spec = format!(
            r#"version: 1
name: shared-key-{i}
channel:
  name: Activities
  destinationUri: https://api.crm.example/v1/activities
  auth: {{ type: none }}
  timeoutMilliseconds: 3000
idempotency:
  header: {header}
  key: ${{interaction.id}}-${{event.type}}
retry:
  maxRetries: 2
  initialDelaySeconds: 1
  maxDelaySeconds: 4
  backoffMultiplier: 2
  respectRetryAfterHeader: true
  retryableStatusCodes: [403, 429, 503]
  nonRetryableStatusCodes: [400, 422]
deadLetterQueue: {{ enabled: true, bucketName: dlq }}
crm:
  {crm}
rules:
  - id: ACTIVITY
    name: activity
    eventType: interaction.ended
    transform: '{{"ref": "act-" & interaction.id, "kind": "activity"}}'
    fixtures: [events/*.json]
  - id: NOTE
    name: note
    eventType: interaction.ended
    conditions:
      interaction.channel.type: [chat]
    transform: '{{"ref": "note-" & interaction.id, "kind": "note"}}'
    fixtures: [events/*.json]
"#
        );
        let name = format!("s{i}.yaml");
        write_files(dir.path(), &[(&name, &spec)]);
        let (_, lint, err) = run_in(
            dir.path(),
            &["lint", &name, "--select", "CX030", "--format", "concise"],
        );
        let lint_fires = lint.contains("[CX030]");
        let r = format!("r{i}.json");
        let (_, out, _) = run_in(
            dir.path(),
            &["sim", &name, "--scenario", "quiet.yaml", "--report", &r],
        );
        let rep: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(&r)).unwrap())
                .unwrap_or_else(|e| panic!("{crm}: {e}\n{out}{err}"));
        let dropped = rep["totals"]["lost"].as_u64().unwrap();
        let invariant = rep["invariants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "unique-idempotency-keys")
            .unwrap();
        assert_eq!(
            lint_fires,
            dropped > 0,
            "{crm} (header {header}): lint {lint}\nsim lost {dropped}: {out}"
        );
        assert_eq!(invariant["holds"], dropped == 0, "{crm}: {out}");
        if lint_fires {
            fired += 1;
        } else {
            quiet += 1;
        }
    }
    assert!(fired >= 2 && quiet >= 5, "fired {fired}, quiet {quiet}");
}

/// A `cxsync init --crm <crm>` project in a temporary folder (a hold-out spec: not the
/// repository's fixtures), with each fixture passed through `edit` and each payload schema
/// through `schema`.
fn init_project(
    crm: &str,
    edit: impl Fn(&str, &mut serde_json::Value),
    schema: impl Fn(&mut serde_json::Value),
) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    let out = crate::common::cxsync()
        .args(["init", root.to_str().unwrap(), "--crm", crm])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for e in fs::read_dir(root.join("fixtures/events")).unwrap() {
        let p = e.unwrap().path();
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        edit(p.file_name().unwrap().to_str().unwrap(), &mut v);
        fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
    let mut spec = String::new();
    for e in fs::read_dir(root.join("specs")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".schema.json") {
            let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            schema(&mut v);
            fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        } else if name.ends_with(".yaml") {
            spec = format!("specs/{name}");
        }
    }
    (dir, root, spec)
}

#[test]
fn an_oversized_list_grows_as_a_list_and_its_refusals_are_the_specs() {
    // Tester #206: `events.oversize` on a field the fixture holds as a list replaced it with a
    // string; the CRM's schema refused it (422) and the verdict blamed the spec.
    let transcript = serde_json::json!([
        {"speaker": "agent", "text": "Hello, how can I help?"},
        {"speaker": "customer", "text": "My bill is wrong."}
    ]);
    let with_transcript = |_: &str, v: &mut serde_json::Value| {
        v["interaction"]["analytics"]["transcript"] = transcript.clone();
    };
    let items = |max: Option<u64>| {
        move |s: &mut serde_json::Value| {
            let mut t = serde_json::json!({"type": "array", "items": {
                "type": "object", "required": ["speaker", "text"],
                "properties": {"speaker": {"type": "string"}, "text": {"type": "string"}}}});
            if let Some(m) = max {
                t["maxItems"] = m.into();
            }
            s["properties"]["ticket"]["properties"]["transcript"] = t;
        }
    };
    let forward = |root: &std::path::Path| {
        let p = root.join("specs/transforms/interaction_ended.jsonata");
        let t = fs::read_to_string(&p).unwrap().replace(
            "\"tags\": [",
            "\"transcript\": [interaction.analytics.transcript.{\"speaker\": speaker, \"text\": text}],\n      \"tags\": [",
        );
        fs::write(&p, t).unwrap();
    };
    let scenario = |root: &std::path::Path, path: &str| {
        fs::write(
            root.join("over.yaml"),
            format!("version: 1\nname: over\nduration: 5m\nevents:\n  count: 200\n  oversize: {{ every: 10, bytes: 20000, path: {path} }}\n"),
        )
        .unwrap();
    };
    let (_d, root, spec) = init_project("zendesk", with_transcript, items(None));
    forward(&root);
    scenario(&root, "interaction.analytics.transcript");
    let (code, out, err) = run_in(&root, &["sim", &spec, "--scenario", "over.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dead-lettered 0"), "{out}");
    // The CRM takes at most 10 transcript lines: every inflated event is refused (422). The
    // grown field is a well-typed list, as real events carry it, so the refusal is the spec's:
    // the unchanged spec is refused again on replay (#223).
    let (_d, root, spec) = init_project("zendesk", with_transcript, items(Some(10)));
    forward(&root);
    scenario(&root, "interaction.analytics.transcript");
    let (code, out, err) = run_in(&root, &["sim", &spec, "--scenario", "over.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("DLQ NON_RETRYABLE_STATUS         13"), "{out}");
    assert!(
        out.contains("transcript: [{"),
        "the grown field is a list: {out}"
    );
    assert!(!out.contains("to replay  13"), "{out}");
    assert!(out.contains("the spec dead-lettered 13"), "{out}");
    // A field that cannot grow in its own type, or an empty list: refused, naming the path and
    // the fixture.
    for (path, why) in [
        ("interaction.analytics", "an object cannot be oversized"),
        ("interaction.id", "a number cannot be oversized"),
        (
            "interaction.queue.name.text",
            "`interaction.queue.name` is a string",
        ),
        ("interaction.tags", "an empty list"),
    ] {
        let (_d, root, spec) = init_project(
            "zendesk",
            |_, v| v["interaction"]["tags"] = serde_json::json!([]),
            |_| {},
        );
        scenario(&root, path);
        let (code, out, err) = run_in(&root, &["sim", &spec, "--scenario", "over.yaml"]);
        assert_eq!(code, 2, "{path}: {out}{err}");
        assert!(
            err.contains(&format!("events.oversize.path `{path}` in fixture "))
                && err.contains(why),
            "{path}: {err}"
        );
    }
}

#[test]
fn interaction_ids_without_letters_or_digits_still_give_every_copy_its_own_key() {
    // An `interaction.id` of `.`, `-` or `__` was never varied: every copy of a fixture shared
    // one idempotency key, and a spec that is fine failed `unique-idempotency-keys`.
    let ids = [".", "-", "__"];
    let (_d, root, spec) = init_project(
        "generic",
        |name, v| {
            let i = ["webchat", "email", "ivr"]
                .iter()
                .position(|p| name.starts_with(p))
                .unwrap();
            v["interaction"]["id"] = ids[i].into();
        },
        |_| {},
    );
    let (code, out, err) = run_in(&root, &["sim", &spec, "--report", "r.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok   unique-idempotency-keys"), "{out}");
    assert!(out.contains("lost 0"), "{out}");
    assert!(
        out.contains("generated events keep each fixture's shape"),
        "{out}"
    );
}

/// #217: a replay is the latest write of all, so where two rules write one upserted record and
/// set a field of it to different values (CX037's condition), the verdict's "to replay" line
/// says a replay of the older event sets the record back, and `dlq replay` (`--dry-run` too)
/// names the records of the older events; rules writing fields of their own (#221) get neither.
#[test]
fn replay_advice_warns_where_an_older_event_can_set_a_record_back() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |open: &str, close: &str| {
        format!(
            r#"version: 1
name: replay-set-back
channel:
  name: Cases
  destinationUri: https://cases.example.com/v1/records
  auth: {{ type: none }}
  timeoutMilliseconds: 3000
idempotency: {{ header: Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2, jitter: full, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: cases-dlq }}
crm: {{ profile: generic, idempotency: {{ by: upsert, field: record_id }} }}
rules:
  - id: OPEN
    name: open on start
    eventType: call.started
    transform: '{{"record_id": call.callId, "opened_at": event.occurredAt{open}}}'
    fixtures: [fx/started.json]
  - id: CLOSE
    name: close on end
    eventType: call.ended
    transform: '{{"record_id": call.callId, "closed_at": event.occurredAt{close}}}'
    fixtures: [fx/ended.json]
"#
        )
    };
    write_files(
        dir.path(),
        &[
            (
                "fx/started.json",
                r#"{"event": {"id": "ev-0001", "type": "call.started", "occurredAt": "2025-03-30T09:00:00.000Z"}, "call": {"callId": "CALL-000001"}}"#,
            ),
            (
                "fx/ended.json",
                r#"{"event": {"id": "ev-0002", "type": "call.ended", "occurredAt": "2025-03-30T09:04:00.000Z"}, "call": {"callId": "CALL-000001"}}"#,
            ),
            (
                "down.yaml",
                "version: 1\nname: down\nduration: 10m\nevents: { count: 200 }\nfaults:\n  - maintenance: { from: 1m, to: 4m }\n",
            ),
        ],
    );
    let path = dir.path().join("spec.yaml");
    let sc = dir.path().join("down.yaml");
    let cases = [
        (
            "a shared `status`",
            r#", "status": "open""#,
            r#", "status": "closed""#,
            true,
        ),
        ("fields of their own", "", "", false),
    ];
    for (n, (what, open, close, warns)) in cases.into_iter().enumerate() {
        fs::write(&path, spec(open, close)).unwrap();
        let dlq = dir.path().join(format!("dlq{n}"));
        let (_, out, err) = run(&[
            path.to_str().unwrap(),
            "--scenario",
            sc.to_str().unwrap(),
            "--dlq-dir",
            dlq.to_str().unwrap(),
        ]);
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("to replay"))
            .unwrap_or_else(|| panic!("{what}: no dead letters to replay: {out}{err}"));
        assert_eq!(line.contains("CX037"), warns, "{what}: {line}");
        assert_eq!(
            line.contains("rules `OPEN` and `CLOSE`"),
            warns,
            "{what}: {line}"
        );
        let replay = cxsync()
            .args(["dlq", "replay", dlq.to_str().unwrap(), "--spec"])
            .arg(&path)
            .arg("--dry-run")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&replay.stderr);
        let warned = stderr
            .lines()
            .find(|l| l.starts_with("warning:") && l.contains("sets the record back"));
        assert_eq!(warned.is_some(), warns, "{what}: {stderr}");
        if let Some(w) = warned {
            // It names records of the older event's rule, and only those.
            assert!(w.contains("rule `OPEN`)"), "{w}");
            assert!(!w.contains("rule `CLOSE`)"), "{w}");
        }
    }
}

/// #213: a numeric `event.id` (CXone's contact ids are numbers) is the event's id: the DLQ
/// record's `eventId` and key, the outcome line and `dlq show` all name it exactly as written,
/// not the event's position in the stream.
#[test]
fn a_numeric_event_id_names_the_event_in_records_outcomes_and_dlq_show() {
    // The key names the agent, whom the IVR fixture does not have: its event is dead-lettered.
    let dir = crate::common::edited_example(&[
        (
            "fixtures/events/ivr_no_agent.json",
            r#""id": "evt-0005""#,
            r#""id": 9007199254740990"#,
        ),
        (
            "specs/crm_sync.yaml",
            "key: ${interaction.id}_${event.type}",
            "key: ${interaction.id}_${event.type}_${agent.id}",
        ),
    ]);
    let args = [
        "sim",
        "specs/crm_sync.yaml",
        "--events",
        "5",
        "--outcomes",
        "o.jsonl",
        "--dlq-dir",
        "dlq",
    ];
    let (_, out, err) = run_in(dir.path(), &args);
    let lines: Vec<serde_json::Value> = fs::read_to_string(dir.path().join("o.jsonl"))
        .unwrap_or_else(|e| panic!("{e}: {out}{err}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ivr = lines
        .iter()
        .find(|l| l["fixture"] == "ivr_no_agent.json")
        .unwrap();
    assert_eq!(ivr["eventId"], "9007199254740990", "{ivr}");
    assert_eq!(ivr["reason"], "IDEMPOTENCY_KEY_UNRESOLVED");
    let rec = dir.path().join(
        "dlq/cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15/CRM_SYNC_RULE_ID/9007199254740990.json",
    );
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&rec).unwrap()).unwrap();
    assert_eq!(r["eventId"], "9007199254740990");
    assert_eq!(r["event"]["event"]["id"], 9007199254740990u64);
    assert!(out.contains("9007199254740990"), "{out}");
    let (code, shown, err) = run_in(dir.path(), &["dlq", "show", "dlq", "9007199254740990"]);
    assert_eq!(code, 0, "{shown}{err}");
    assert!(shown.contains("IDEMPOTENCY_KEY_UNRESOLVED"), "{shown}");
}

/// #215: a scenario's `respond` fault answering 422 (or 400) to payloads the CRM model takes
/// outside the window is the scenario's fault, to replay: the unchanged spec's replay delivers
/// them. A 422 the model's own schema check gives stays the spec's, and the FAIL line gives one
/// total over its rules.
#[test]
fn a_respond_fault_refusing_good_payloads_is_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    for status in [422, 400] {
        let sc = dir.path().join(format!("respond-{status}.yaml"));
        fs::write(
            &sc,
            format!("version: 1\nname: respond-{status}\nduration: 5m\nevents: {{ count: 300 }}\nfaults:\n  - respond: {{ from: 1m, to: 2m, status: {status}, body: '{{\"error\":\"validation rule VR_017\"}}' }}\n"),
        )
        .unwrap();
        // The example lists 400 and 422 as non-retryable: the window dead-letters at once.
        let (code, out, rep) = sim_edited_example(&[], &["--scenario", sc.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        assert!(spec_causes(&rep).is_empty(), "{out}");
        let replay = rep["deadLetters"]["toReplay"]["count"].as_u64().unwrap();
        assert!(replay > 0, "{out}");
        assert!(
            out.contains(&format!(
                "{replay} to replay (NON_RETRYABLE_STATUS {replay})"
            )),
            "{out}"
        );
    }
    // The same window over payloads that fail the CRM's schema (voice) and events whose key
    // cannot render (the IVR fixture has no agent): the spec's, two causes, one total.
    let sc = dir.path().join("respond-422.yaml");
    let (code, out, rep) = sim_edited_example(
        &[
            (
                "specs/crm-case.schema.json",
                r#""enum": ["voice", "webchat", "email"]"#,
                r#""enum": ["webchat", "email"]"#,
            ),
            (
                "specs/crm_sync.yaml",
                "key: ${interaction.id}_${event.type}",
                "key: ${interaction.id}_${event.type}_${agent.id}",
            ),
        ],
        &["--scenario", sc.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    let causes = spec_causes(&rep);
    assert!(causes.len() >= 2, "{out}");
    assert!(
        causes
            .iter()
            .any(|c| c.0 == "NON_RETRYABLE_STATUS" && c.1 == Some(422)),
        "{out}"
    );
    let total: u64 = causes.iter().map(|c| c.2).sum();
    let verdict = out.lines().find(|l| l.starts_with("FAIL:")).unwrap();
    assert_eq!(
        verdict.matches("the spec dead-lettered").count(),
        1,
        "{verdict}"
    );
    assert!(
        verdict.contains(&format!("the spec dead-lettered {total} events: ")),
        "{verdict}"
    );
}

/// #216: the guide's edge case 1 (`retry-after-storm`) fails a spec that ignores the CRM's
/// Retry-After: its description says such a spec exhausts its retries, and the scenario bounds
/// the outcome (`expect.deadLettered: 0`) as `salesforce-throttle` does. The example spec, which
/// honours Retry-After, passes it. The summary names the fix, and says when the scenario's
/// Retry-After is longer than `crm.retryAfterHorizonSeconds` (what lint's CX012 trusts).
#[test]
fn retry_after_storm_fails_a_spec_that_ignores_retry_after_and_names_the_fix() {
    let (code, out, rep) = sim_edited_example(
        &[(
            "specs/crm_sync.yaml",
            "respectRetryAfterHeader: true",
            "respectRetryAfterHeader: false",
        )],
        &["--scenario", "retry-after-storm"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(rep["totals"]["deadLettered"].as_u64().unwrap() > 0, "{out}");
    let verdict = out.lines().find(|l| l.starts_with("FAIL:")).unwrap();
    assert!(verdict.contains("deadLettered = "), "{verdict}");
    assert!(
        out.contains("set retry.respectRetryAfterHeader: true"),
        "{out}"
    );
    assert!(
        out.contains("Retry-After of 90 s, longer than crm.retryAfterHorizonSeconds (60)"),
        "{out}"
    );
    let (code, out, _) = sim_edited_example(&[], &["--scenario", "retry-after-storm"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("none dead-lettered"), "{out}");
}

#[test]
fn every_time_field_of_a_generated_event_moves_with_its_occurred_at() {
    // Time fields other than occurredAt/startedAt/endedAt kept the fixture's instant, so a copy
    // occurred days after its `startedAtMs`. Each dead letter's record holds the event: every
    // interval between its time fields is the fixture's.
    let (_d, root, spec) = init_project(
        "generic",
        |_, v| {
            let i = v["interaction"].as_object_mut().unwrap();
            let started = i["startedAt"].as_i64().unwrap();
            i.insert("startedAtMs".into(), started.into());
            i.insert("answeredAt".into(), "2024-01-15T13:52:02.500+01:00".into());
            i.insert(
                "timestamps".into(),
                serde_json::json!({"created": started / 1000}),
            );
            i.insert("closed_at".into(), "2024-01-15 13:58:30Z".into());
            v["interaction"]["wrapUp"]["endTime"] = "2024-01-15T13:59:00Z".into();
        },
        |_| {},
    );
    fs::write(
        root.join("down.yaml"),
        "version: 1\nname: down\nduration: 2h\nevents:\n  count: 30\nfaults:\n  - respond: { from: 0s, to: 3h, status: 500 }\n",
    )
    .unwrap();
    let (_, out, err) = run_in(
        &root,
        &["sim", &spec, "--scenario", "down.yaml", "--dlq-dir", "D"],
    );
    let ms = |v: &serde_json::Value| -> i64 {
        match v {
            serde_json::Value::Number(n) => {
                let n = n.as_i64().unwrap();
                if n < 100_000_000_000 {
                    n * 1000
                } else {
                    n
                }
            }
            serde_json::Value::String(s) => {
                chrono::DateTime::parse_from_rfc3339(&s.replace(' ', "T"))
                    .unwrap_or_else(|e| panic!("{s}: {e}"))
                    .timestamp_millis()
            }
            other => panic!("{other}"),
        }
    };
    let fields = [
        "/event/occurredAt",
        "/interaction/startedAt",
        "/interaction/startedAtMs",
        "/interaction/answeredAt",
        "/interaction/timestamps/created",
        "/interaction/closed_at",
        "/interaction/wrapUp/endTime",
    ];
    let intervals = |e: &serde_json::Value| -> Vec<i64> {
        let at: Vec<i64> = fields
            .iter()
            .map(|p| ms(e.pointer(p).unwrap_or_else(|| panic!("{p} in {e}"))))
            .collect();
        at.iter().map(|a| a - at[0]).collect()
    };
    let mut fixtures = std::collections::BTreeMap::new();
    for e in fs::read_dir(root.join("fixtures/events")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap();
        fixtures.insert(
            v["event"]["type"].to_string() + &v["interaction"]["channel"]["type"].to_string(),
            intervals(&v),
        );
    }
    let mut checked = 0;
    for r in walk(&root.join("D")) {
        let rec: serde_json::Value = serde_json::from_slice(&fs::read(&r).unwrap()).unwrap();
        let e = &rec["event"];
        let key = e["event"]["type"].to_string() + &e["interaction"]["channel"]["type"].to_string();
        assert_eq!(intervals(e), fixtures[&key], "{e}");
        assert_eq!(
            e["interaction"]["startedAt"], e["interaction"]["startedAtMs"],
            "{e}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked} records: {out}{err}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// #224: with `deadLetterQueue.enabled: false` a dead letter is lost: there is no DLQ to replay
/// from, so the run says "lost" with the fix and counts none "to replay" (it printed "the data
/// is intact; once the cause is gone, `cxsync dlq replay` sends them" beside "dead-lettered with
/// the DLQ disabled").
#[test]
fn dead_letters_with_the_dlq_disabled_are_lost_not_to_replay() {
    let off = [(
        "specs/crm_sync.yaml",
        "deadLetterQueue:\n  enabled: true",
        "deadLetterQueue:\n  enabled: false",
    )];
    let (code, out, rep) = sim_edited_example(&off, &[]);
    assert_eq!(code, 1, "{out}");
    let lost = rep["deadLetters"]["lostWithoutDlq"].as_u64().unwrap();
    assert!(lost > 0, "{out}");
    assert_eq!(rep["deadLetters"]["toReplay"]["count"], 0, "{out}");
    assert!(
        out.contains(&format!(
            "lost       {lost} dead-lettered with the DLQ disabled"
        )),
        "{out}"
    );
    assert!(!out.contains("  to replay  "), "{out}");
    assert!(!out.contains("the data is intact"), "{out}");
    // With the DLQ on, the same faults' dead letters are to replay and none is lost so.
    let (code, out, rep) = sim_edited_example(&[], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(rep["deadLetters"]["lostWithoutDlq"], 0);
    assert!(
        rep["deadLetters"]["toReplay"]["count"].as_u64().unwrap() > 0,
        "{out}"
    );
}

#[test]
fn a_transforms_own_size_check_on_an_inflated_event_is_the_specs() {
    // Tester #223: the guide's Edge Case 3 size check refuses the transcript `payload-too-large`
    // says real events carry; the unchanged spec refuses it again on replay, so the run FAILs
    // naming TRANSFORM_FAILED (1b592ab had filed it "to replay … the data is intact", PASS).
    let (_d, root, spec) = init_project("zendesk", |_, _| {}, |_| {});
    let p = root.join("specs/transforms/interaction_ended.jsonata");
    let t = fs::read_to_string(&p).unwrap();
    let inner = t
        .trim()
        .strip_prefix('(')
        .unwrap()
        .strip_suffix(')')
        .unwrap();
    let inner = inner.replacen(
        "\"tags\": [",
        "\"transcript\": interaction.analytics.transcript,\n      \"tags\": [",
        1,
    );
    fs::write(
        &p,
        format!("(\n  $out := ({inner});\n  $length($string($out)) > 524288 ? $error(\"PAYLOAD_TOO_LARGE\") : $out\n)\n"),
    )
    .unwrap();
    let (code, out, err) = run_in(&root, &["sim", &spec, "--scenario", "payload-too-large"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL: the spec dead-lettered"), "{out}");
    assert!(out.contains("TRANSFORM_FAILED ×"), "{out}");
    assert!(!out.contains("to replay "), "{out}");
}

#[test]
fn a_scenarios_own_crm_profile_is_named_beside_the_specs() {
    // Tester #227: `salesforce-throttle` on a Zendesk spec models Salesforce (403 throttles) and
    // advised "make 403 retryable" with no word that the spec's CRM is another.
    let (_d, root, spec) = init_project("zendesk", |_, _| {}, |_| {});
    let note = "the scenario models salesforce's behaviour; the spec's CRM is zendesk: advice about status codes is for salesforce";
    let (_, out, err) = run_in(
        &root,
        &[
            "sim",
            &spec,
            "--scenario",
            "salesforce-throttle",
            "--report",
            "r.json",
        ],
    );
    assert!(out.contains(&format!("note       {note}")), "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("r.json")).unwrap()).unwrap();
    assert!(
        rep["notes"].as_array().unwrap().iter().any(|n| n == note),
        "{rep}"
    );
    // A scenario without its own profile runs the spec's CRM: no note.
    let (_, out, err) = run_in(&root, &["sim", &spec]);
    assert!(!out.contains("the scenario models"), "{out}{err}");
}

/// A copy of the example project (`specs/`, `fixtures/`, `cxsync.toml`) in a temporary folder,
/// with `specs/crm_sync.yaml` edited by `edit` (its text) and `scenarios` written beside it.
fn example_project(
    edit: impl Fn(&str) -> String,
    scenarios: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf) {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let q = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &q);
            } else {
                fs::copy(&p, &q).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    let repo = crate::common::root();
    for d in ["specs", "fixtures", "schemas"] {
        copy(&repo.join(d), &root.join(d));
    }
    fs::copy(repo.join("cxsync.toml"), root.join("cxsync.toml")).unwrap();
    let p = root.join("specs/crm_sync.yaml");
    let text = fs::read_to_string(&p).unwrap();
    fs::write(&p, edit(&text)).unwrap();
    write_files(&root, scenarios);
    (dir, root)
}

#[test]
fn an_auth_failure_the_refresh_could_not_cure_is_to_replay() {
    // Tester #219: OAuth without retryOnTokenExpiry, the CRM revokes every token and the token
    // endpoint refuses every new one: AUTH_FAILED was filed as the spec's ("set
    // retryOnTokenExpiry: true"), a fix that loses the same events. The run with the fix (asked
    // of the machine) delivers none of them either: to replay, PASS.
    let no_refresh = |t: &str| {
        assert!(t.contains("retryOnTokenExpiry: true"));
        t.replace("retryOnTokenExpiry: true", "retryOnTokenExpiry: false")
    };
    let scenarios = [
        (
            "rotate-forever.yaml",
            "version: 1\nname: rotate-forever\nduration: 6m\nevents:\n  count: 400\nfaults:\n  - tokenEndpoint: { from: 30s, to: 60m, status: 503 }\n  - revokeTokens: { at: 2m }\n",
        ),
        (
            "revoke-only.yaml",
            "version: 1\nname: revoke-only\nduration: 6m\nevents:\n  count: 400\nfaults:\n  - revokeTokens: { at: 2m }\n",
        ),
    ];
    let (_d, root) = example_project(no_refresh, &scenarios);
    let spec = "specs/crm_sync.yaml";
    let (code, out, err) = run_in(&root, &["sim", spec, "--scenario", "rotate-forever.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("to replay (AUTH_FAILED "), "{out}");
    assert!(!out.contains("CX002"), "{out}");
    // A healthy token endpoint: a new token would have been accepted, so the spec's (as before).
    let (code, out, err) = run_in(&root, &["sim", spec, "--scenario", "revoke-only.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL: the spec dead-lettered"), "{out}");
    assert!(
        out.contains("set retryOnTokenExpiry: true (lint: CX002)"),
        "{out}"
    );
}

#[test]
fn a_revoked_static_bearer_token_dead_letters_to_replay_with_a_note() {
    // Tester #226: `token-revoked` passed a static-bearer spec untouched (the fault acted only on
    // tokens the endpoint issued). Now the revoked token is a 401 the spec cannot recover from:
    // AUTH_FAILED, the scenario's, to replay once the token is rotated, and a note says so.
    let bearer = |t: &str| {
        let start = t.find("  auth:\n").unwrap();
        let end = start + t[start..].find("  headers:\n").unwrap();
        format!(
            "{}  auth:\n    type: bearer\n    token: ${{VAULT_SECRET:CRM_TOKEN}}\n{}",
            &t[..start],
            &t[end..]
        )
    };
    let (_d, root) = example_project(bearer, &[]);
    let spec = "specs/crm_sync.yaml";
    let (code, out, err) = run_in(&root, &["sim", spec, "--scenario", "token-revoked"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("to replay (AUTH_FAILED "), "{out}");
    assert!(
        out.contains("revokes the spec's static bearer token too"),
        "{out}"
    );
    // A scenario without revokeTokens: the static token is accepted throughout, no note.
    let (code, out, err) = run_in(&root, &["sim", spec, "--scenario", "retry-after-storm"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("AUTH_FAILED"), "{out}");
    assert!(!out.contains("static bearer token"), "{out}");
}

#[test]
fn retries_that_ignored_retry_after_and_ran_out_are_the_specs_under_any_scenario() {
    // Tester #216 (general half): respectRetryAfterHeader: false under `default` passed with its
    // 429 dead letters "to replay" (the fix only in a note). The machine records the Retry-After
    // it ignored; the events the same run respecting it delivers are the spec's: FAIL, with the fix.
    let ignore = |t: &str| {
        assert!(t.contains("respectRetryAfterHeader: true"));
        t.replace(
            "respectRetryAfterHeader: true",
            "respectRetryAfterHeader: false",
        )
    };
    let (_d, root) = example_project(ignore, &[]);
    let spec = "specs/crm_sync.yaml";
    let (code, out, err) = run_in(&root, &["sim", spec, "--report", "r.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL RETRIES_EXHAUSTED (429) ×"), "{out}");
    assert!(
        out.contains("set retry.respectRetryAfterHeader: true"),
        "{out}"
    );
    assert!(out.contains("e.g. evt-"), "{out}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("r.json")).unwrap()).unwrap();
    assert!(
        !rep["deadLetters"]["causedBySpec"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{rep}"
    );
    // The example spec respects Retry-After: its throttled dead letters stay to replay, PASS.
    let (code, out, err) = run(&["specs/crm_sync.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("respectRetryAfterHeader is off"), "{out}");
}

/// Finding 1 (s10): a field that repeats a varied id — whole (`survey.callRef`, in the call's
/// own fixture or another's) or inside a URL — carries the copy's id in every generated event,
/// as the DLQ records' payloads show.
#[test]
fn fields_that_repeat_a_generated_id_carry_it_in_every_copy() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "links.yaml",
                r#"version: 1
name: links
channel:
  name: Tickets
  destinationUri: https://tickets.example.com/api
  auth: { type: none }
  timeoutMilliseconds: 2000
idempotency:
  header: Idempotency-Key
  key: ${event.id}
retry:
  maxRetries: 1
  initialDelaySeconds: 1
  maxDelaySeconds: 2
  backoffMultiplier: 2
  retryableStatusCodes: [503]
  nonRetryableStatusCodes: [400, 422]
deadLetterQueue: { enabled: true, bucketName: links-dlq, prefix: failed/ }
crm: { idempotency: { by: none } }
rules:
  - id: CALL
    name: call
    eventType: call.ended
    transform: '{"call": interaction.id, "ref": survey.callRef, "rec": links.rec}'
    fixtures: [events/*.json]
  - id: SURVEY
    name: survey
    eventType: survey.completed
    transform: '{"ev": event.id, "ref": survey.callRef}'
    fixtures: [events/*.json]
"#,
            ),
            (
                "events/a.json",
                r#"{"event": {"id": "E-0001", "type": "call.ended", "occurredAt": "2025-06-01T08:05:00Z"}, "interaction": {"id": "CALL-123"}, "survey": {"callRef": "CALL-123"}, "links": {"rec": "call/CALL-123/recording"}}"#,
            ),
            (
                "events/b.json",
                r#"{"event": {"id": "E-0002", "type": "survey.completed", "occurredAt": "2025-06-01T08:07:00Z"}, "survey": {"callRef": "CALL-123"}}"#,
            ),
            (
                "down.yaml",
                "version: 1\nname: down\nduration: 2m\nevents: { count: 20 }\nfaults:\n  - maintenance: { from: 0s, to: 1h }\n",
            ),
        ],
    );
    let dlq = dir.path().join("dlq");
    let (_, out, err) = run(&[
        dir.path().join("links.yaml").to_str().unwrap(),
        "--scenario",
        dir.path().join("down.yaml").to_str().unwrap(),
        "--dlq-dir",
        dlq.to_str().unwrap(),
    ]);
    assert!(
        out.contains("generated events keep each fixture's shape"),
        "{out}{err}"
    );
    // Event id → payload, every dead letter (22 events: the 2 fixtures and 20 generated).
    let mut payloads = std::collections::BTreeMap::new();
    let mut stack = vec![dlq.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let r: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
                let payload = match &r["payload"] {
                    serde_json::Value::String(s) => serde_json::from_str(s).unwrap(),
                    v => v.clone(),
                };
                payloads.insert(r["eventId"].as_str().unwrap().to_string(), payload);
            }
        }
    }
    assert_eq!(payloads.len(), 22, "{out}{err}");
    let mut calls = std::collections::BTreeSet::new();
    for k in 0..11 {
        // Copy k: the call E-(2k+1), its survey E-(2k+2).
        let call = &payloads[&format!("E-{:04}", 2 * k + 1)];
        let survey = &payloads[&format!("E-{:04}", 2 * k + 2)];
        let id = call["call"].as_str().unwrap();
        assert!(calls.insert(id.to_string()), "{id} twice");
        assert_eq!(call["ref"], id, "{call}");
        assert_eq!(call["rec"], format!("call/{id}/recording"), "{call}");
        assert_eq!(survey["ref"], id, "{survey} of {call}");
    }
}

/// #248 (#242): on a batching channel, a scenario's `respond` 422 refusing batches the CRM
/// model's own checks take (the array body, its size, each member against the schema, the
/// joined key) is the scenario's, to replay, as without batching; and the verdict agrees with
/// `dlq replay --dry-run` of the records it wrote: every one is delivered by the unchanged spec.
/// Batches holding a member that fails the schema stay the spec's.
#[test]
fn a_respond_fault_refusing_good_batches_is_to_replay_as_dlq_replay_agrees() {
    let batching = [
        ("specs/crm_sync.yaml", "batchSize: 1\n", "batchSize: 5\n"),
        (
            "specs/crm_sync.yaml",
            "batchIntervalSeconds: 0\n",
            "batchIntervalSeconds: 2\n",
        ),
        (
            "specs/crm_sync.yaml",
            "acceptsArrays: false",
            "acceptsArrays: true",
        ),
    ];
    let scenario = "version: 1\nname: respond-422\nduration: 5m\nevents: { count: 300 }\nfaults:\n  - respond: { from: 1m, to: 2m, status: 422, body: '{\"error\":\"validation rule VR_017\"}' }\n";
    let dir = crate::common::edited_example(&batching);
    fs::write(dir.path().join("respond.yaml"), scenario).unwrap();
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "specs/crm_sync.yaml",
            "--scenario",
            "respond.yaml",
            "--report",
            "r.json",
            "--dlq-dir",
            "dlq",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert!(spec_causes(&rep).is_empty(), "{out}");
    let replay = rep["deadLetters"]["toReplay"]["count"].as_u64().unwrap();
    assert!(replay > 0, "{out}");
    assert!(
        out.contains(&format!(
            "{replay} to replay (NON_RETRYABLE_STATUS {replay})"
        )),
        "{out}"
    );
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "dlq",
            "replay",
            "dlq",
            "--spec",
            "specs/crm_sync.yaml",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!(
            "{replay} of {replay} records would now be delivered"
        )),
        "{out}{err}"
    );
    // The schema refuses voice, and batches hold voice events: the model's own checks refuse
    // each such batch (422). Each member is judged as a replay sends it, alone (#257): the
    // voice events are the spec's, named by the schema and path; the others are to replay,
    // and exactly they are what `dlq replay --dry-run` of the unchanged spec delivers.
    let mut edits = batching.to_vec();
    edits.push((
        "specs/crm-case.schema.json",
        r#""enum": ["voice", "webchat", "email"]"#,
        r#""enum": ["webchat", "email"]"#,
    ));
    let dir = crate::common::edited_example(&edits);
    fs::write(dir.path().join("respond.yaml"), scenario).unwrap();
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "specs/crm_sync.yaml",
            "--scenario",
            "respond.yaml",
            "--report",
            "r.json",
            "--dlq-dir",
            "dlq",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let to_replay = &rep["deadLetters"]["toReplay"];
    let replay = to_replay["count"].as_u64().unwrap();
    let with_batch = to_replay["refusedWithBatch"].as_u64().unwrap();
    assert!(with_batch > 0, "{out}");
    assert!(with_batch <= replay, "{out}");
    assert!(
        out.contains(&format!(
            "of which {with_batch} refused with their batch: to replay"
        )),
        "{out}"
    );
    let causes = rep["deadLetters"]["causedBySpec"].as_array().unwrap();
    let failing: Vec<_> = causes
        .iter()
        .filter(|c| c["member"]["fails"].is_string())
        .collect();
    assert!(!failing.is_empty(), "{out}");
    for c in &failing {
        assert_eq!(c["status"], 422, "{out}");
        assert!(
            c["member"]["at"].as_str().unwrap().contains("channel"),
            "{c}"
        );
    }
    let spec: u64 = causes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    let (_, rout, rerr) = run_in(
        dir.path(),
        &[
            "dlq",
            "replay",
            "dlq",
            "--spec",
            "specs/crm_sync.yaml",
            "--dry-run",
        ],
    );
    let text = format!("{rout}{rerr}");
    assert!(
        text.contains(&format!(
            "{replay} of {} records would now be delivered; {spec} still fail",
            replay + spec
        )),
        "{out}\n{text}"
    );
}

/// #233: the headline counts events and deliveries apart (an event two rules match is two
/// deliveries; one whose transform sends nothing is none), and splits `delivered` into what the
/// CRM applied and what it dropped as a duplicate key; the JSON report's totals are the same
/// numbers as the text and as `--outcomes`.
#[test]
fn the_headline_counts_events_and_deliveries_apart_and_delivered_splits_into_applied_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "s.yaml",
                r#"version: 1
name: two-rules
channel:
  name: Two
  destinationUri: https://crm.example.net/in
  auth: { type: none }
  timeoutMilliseconds: 3000
idempotency: { header: Idempotency-Key, key: "${event.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 20, backoffMultiplier: 2.0, respectRetryAfterHeader: true,
         retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }
deadLetterQueue: { enabled: true, bucketName: two-dlq }
crm: { profile: generic, idempotency: { by: header } }
rules:
  - id: LONG
    name: long calls
    eventType: interaction.ended
    conditions: { interaction.recorded: [true] }
    transform: 'interaction.secs >= 30 ? { "call": interaction.id, "secs": interaction.secs } : undefined'
    fixtures: [a.json, b.json]
  - id: VIP
    name: vip calls
    eventType: interaction.ended
    conditions: { interaction.tags.0: [vip] }
    transform: '{ "vip": interaction.id }'
    fixtures: [a.json, c.json]
"#,
            ),
            // Both rules, both send: two deliveries of one event, one key.
            (
                "a.json",
                r#"{"event":{"id":"e-1","type":"interaction.ended"},"interaction":{"id":"i-1","recorded":true,"secs":45,"tags":["vip"]}}"#,
            ),
            // LONG only, and it sends nothing: a matched event without a delivery.
            (
                "b.json",
                r#"{"event":{"id":"e-2","type":"interaction.ended"},"interaction":{"id":"i-2","recorded":true,"secs":5,"tags":[]}}"#,
            ),
            // VIP only.
            (
                "c.json",
                r#"{"event":{"id":"e-3","type":"interaction.ended"},"interaction":{"id":"i-3","recorded":false,"secs":9,"tags":["vip"]}}"#,
            ),
        ],
    );
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "s.yaml",
            "--events",
            "60",
            "--report",
            "r.json",
            "--outcomes",
            "o.jsonl",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let t = &rep["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k}: {t}"));
    let outcomes: Vec<serde_json::Value> = fs::read_to_string(dir.path().join("o.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .map(|o| o["eventId"].as_str().unwrap())
        .collect();
    let by_rule: u64 = rep["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deliveries"].as_u64().unwrap())
        .sum();
    // Deliveries: one per outcome line, the rules' sum; `matched` keeps its old meaning.
    assert_eq!(n("deliveries"), outcomes.len() as u64, "{t}");
    assert_eq!(n("deliveries"), by_rule, "{t}");
    assert_eq!(n("matched"), n("deliveries"), "{t}");
    // Events with a payload are the distinct events of the outcomes; e-2's copies matched a
    // rule and sent nothing, so more events matched than made a delivery.
    assert_eq!(n("eventsWithPayload"), ids.len() as u64, "{t}");
    assert!(n("matchedEvents") > n("eventsWithPayload"), "{t}");
    assert!(n("deliveries") > n("eventsWithPayload"), "{t}");
    // Delivered = applied + not applied; here every one not applied is a dropped duplicate key.
    let delivered = outcomes
        .iter()
        .filter(|o| o["outcome"] == "delivered")
        .count() as u64;
    assert_eq!(n("delivered"), delivered, "{t}");
    assert_eq!(
        n("delivered"),
        n("applied") + n("deliveredNotApplied"),
        "{t}"
    );
    assert!(n("droppedAsDuplicates") > 0, "{t}");
    assert_eq!(n("droppedAsDuplicates"), n("deliveredNotApplied"), "{t}");
    assert_eq!(n("lost"), n("deliveredNotApplied"), "{t}");
    // The text says the same numbers.
    assert!(
        out.contains(&format!(
            "{} matched a rule: {} deliveries of {} events",
            n("matchedEvents"),
            n("deliveries"),
            n("eventsWithPayload")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  delivered  {} ({} applied, {} dropped by the CRM as duplicates of another delivery's key)",
            n("delivered"),
            n("applied"),
            n("droppedAsDuplicates")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "lost {} ({} of the delivered)",
            n("lost"),
            n("lost")
        )),
        "{out}"
    );
}

/// #238: with the DLQ disabled a dead letter is `lost` in `--outcomes` (there is no DLQ record
/// of it), no note advises replaying, and an event the CRM had written before its response was
/// lost is not counted lost.
#[test]
fn with_the_dlq_disabled_outcomes_say_lost_and_events_the_crm_wrote_are_not_lost() {
    let dir = crate::common::edited_example(&[(
        "specs/crm_sync.yaml",
        "deadLetterQueue:\n  enabled: true",
        "deadLetterQueue:\n  enabled: false",
    )]);
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "specs/crm_sync.yaml",
            "--scenario",
            "partition",
            "--report",
            "r.json",
            "--outcomes",
            "o.jsonl",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let outcomes = fs::read_to_string(dir.path().join("o.jsonl")).unwrap();
    let count = |what: &str| {
        outcomes
            .lines()
            .filter(|l| l.contains(&format!("\"outcome\":\"{what}\"")))
            .count() as u64
    };
    let dead = rep["totals"]["deadLettered"].as_u64().unwrap();
    let lost = rep["deadLetters"]["lostWithoutDlq"].as_u64().unwrap();
    let written = rep["deadLetters"]["appliedWithoutDlq"].as_u64().unwrap();
    assert_eq!(count("deadLettered"), 0, "{outcomes}");
    assert_eq!(count("lost"), dead, "{out}");
    // The run has dead letters the CRM wrote (a reset after the write): they are not lost.
    assert!(written > 0, "{out}");
    assert_eq!(lost + written, dead, "{out}");
    assert_eq!(rep["totals"]["lost"].as_u64().unwrap(), lost, "{out}");
    assert_eq!(rep["deadLetteredButApplied"].as_u64().unwrap(), written);
    assert!(
        out.contains(&format!(
            "lost       {lost} of the {dead} dead-lettered with the DLQ disabled"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("the other {written} are not lost")),
        "{out}"
    );
    assert!(!out.contains("replay within it"), "{out}");
    assert!(!out.contains("replaying them"), "{out}");
    assert!(!out.contains("  to replay  "), "{out}");
}

/// #240: events the delivery deadline cut after 429s are not kept by more retries or a longer
/// `maxDelaySeconds` (lint CX023 advises fewer retries for the same policy): the note names the
/// deadline, counted from the dead letters' reason, and does not contradict lint.
#[test]
fn a_deadline_cut_after_throttling_is_advised_as_the_deadline_not_as_more_retries() {
    let dir = crate::common::edited_example(&[(
        "specs/crm_sync.yaml",
        "retryAfterHorizonSeconds: 60",
        "retryAfterHorizonSeconds: 300\n  deliveryDeadlineSeconds: 600",
    )]);
    write_files(
        dir.path(),
        &[(
            "storm.yaml",
            "version: 1\nname: storm\nduration: 20m\nevents: { count: 3000 }\nfaults:\n  - throttle: { from: 2m, to: 14m, requests: 1, per: 1s, retryAfterSeconds: 300 }\n",
        )],
    );
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "specs/crm_sync.yaml",
            "--scenario",
            "storm.yaml",
            "--report",
            "r.json",
        ],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let cut = rep["deadLetteredByReason"]["DEADLINE_EXCEEDED"]
        .as_u64()
        .unwrap_or(0);
    assert!(cut > 0, "{out}");
    let note = out
        .lines()
        .find(|l| l.contains("dead-lettered as DEADLINE_EXCEEDED after a 429"))
        .unwrap_or_else(|| panic!("no deadline note:\n{out}"));
    assert!(
        note.contains(&format!("note       {cut} event(s)")),
        "{note}"
    );
    assert!(
        note.contains("crm.deliveryDeadlineSeconds (600 s) ended them with retries left"),
        "{note}"
    );
    assert!(note.contains("keep none of them (lint CX023)"), "{note}");
    // Only dead letters with their retries spent get "more retries keep them".
    let spent = rep["deadLetteredByReason"]["RETRIES_EXHAUSTED"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        out.contains("more retries or a longer maxDelaySeconds keep them"),
        spent > 0,
        "{out}"
    );
    // Lint, on the same spec, advises fewer retries for the deadline: the two agree.
    let (_, lint, lint_err) = run_in(dir.path(), &["lint", "specs/crm_sync.yaml"]);
    let lint = format!("{lint}{lint_err}");
    assert!(lint.contains("CX023"), "{lint}");
    assert!(lint.contains("lower `maxRetries`"), "{lint}");
}

/// #244: a run whose `events.oversize.path` no rule's transform reads says so (no payload grew,
/// so its PASS is no evidence about payload size) and names a transcript path the spec does
/// read; a transform that reads the path, even only to count it, gets no such note.
#[test]
fn an_oversize_path_no_transform_reads_is_named_so_a_pass_is_not_taken_as_evidence() {
    const NOTE: &str = "which no rule's transform reads: no payload grew";
    // The example's transform reads `interaction.analytics.sentiment.score`, not the transcript.
    let (code, out, _) = sim_edited_example(&[], &["--scenario", "payload-too-large"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "note       events.oversize grows `interaction.analytics.transcript`, {NOTE}"
        )),
        "{out}"
    );
    assert!(out.contains("a large field the transforms send"), "{out}");
    // The spec sends its transcript from another path: the note names it and its rule.
    let elsewhere = [(
        "specs/transforms/interaction_ended.jsonata",
        "\"syncTimestamp\"",
        "\"notes\": interaction.transcript,\n  \"syncTimestamp\"",
    )];
    let (_, out, _) = sim_edited_example(&elsewhere, &["--scenario", "payload-too-large"]);
    assert!(out.contains(NOTE), "{out}");
    assert!(
        out.contains("e.g. `interaction.transcript` (read by rule "),
        "{out}"
    );
    // A transform that reads the grown field (to count it) is tested by the run: no note.
    let counted = [(
        "specs/transforms/interaction_ended.jsonata",
        "\"syncTimestamp\"",
        "\"turns\": $count(interaction.analytics.transcript),\n  \"syncTimestamp\"",
    )];
    let (_, out, _) = sim_edited_example(&counted, &["--scenario", "payload-too-large"]);
    assert!(!out.contains(NOTE), "{out}");
    // A scenario without `events.oversize` gets no note either.
    let (_, out, _) = sim_edited_example(&[], &[]);
    assert!(!out.contains("events.oversize"), "{out}");
}

#[test]
fn ids_with_a_word_of_hex_letters_count_in_decimal_and_no_copy_occurs_after_its_first_attempt() {
    // Tester #247: `DE-000042`, `ABC-2025-000042` and `ABC000042` were counted in hex
    // (`DE-0000A3`), a schema pinning the digits refused 90 of 604 events and the verdict
    // blamed the spec. #234: an epoch-seconds `occurredAt` was rounded up past the hub's first
    // attempt. The upper-case UUID stays hex.
    let dir = tempfile::tempdir().unwrap();
    let fixture = |n: u32, id: &str| {
        format!(
            r#"{{"event": {{"id": "5F3A9C2E-1B2D-4E5F-8A9B-0C1D2E3F4A{n:02}", "type": "interaction.ended", "occurredAt": 1740823080}}, "interaction": {{"id": "{id}"}}}}"#
        )
    };
    let fixtures = [
        fixture(0, "DE-000042"),
        fixture(1, "ABC-2025-000042"),
        fixture(2, "ABC000042"),
        fixture(3, "BE-2025-0042"),
    ];
    write_files(
        dir.path(),
        &[
            (
                "gen.yaml",
                r#"version: 1
name: hex-words
channel:
  name: Hex_Words
  destinationUri: https://crm.example.com/x
  auth: { type: oauth2_client_credentials, tokenEndpoint: https://crm.example.com/token, clientId: hub, clientSecret: "${VAULT_SECRET:X}", tokenCacheTtlSeconds: 3000, retryOnTokenExpiry: true }
  timeoutMilliseconds: 3000
idempotency: { header: X-Idempotency-Key, key: "${interaction.id}" }
retry: { maxRetries: 5, initialDelaySeconds: 1, maxDelaySeconds: 30, backoffMultiplier: 2.0, respectRetryAfterHeader: true,
         retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }
deadLetterQueue: { enabled: true, bucketName: hex-dlq }
crm: { profile: generic, tokenLifetimeSeconds: 3600, retryAfterHorizonSeconds: 30, idempotency: { by: header }, payloadSchema: s.json }
rules:
  - id: T
    name: t
    eventType: interaction.ended
    transform: '{ "id": interaction.id, "eid": event.id, "at": event.occurredAt }'
    fixtures: [events/*.json]
test: { now: 2025-03-01T10:00:00Z }
"#,
            ),
            (
                "s.json",
                r#"{"type": "object", "required": ["id", "eid", "at"], "properties": {
  "id": {"type": "string", "pattern": "^(DE-[0-9]{6}|ABC-2025-[0-9]{6}|ABC[0-9]{6}|BE-2025-[0-9]{4})$"},
  "eid": {"type": "string", "pattern": "^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$"},
  "at": {"type": "integer"}}}"#,
            ),
            ("events/a.json", &fixtures[0]),
            ("events/b.json", &fixtures[1]),
            ("events/c.json", &fixtures[2]),
            ("events/d.json", &fixtures[3]),
        ],
    );
    passes_test_and_sim(dir.path(), "gen.yaml");
    // Throttled events are dead-lettered with their event: none occurs after its first attempt.
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "sim",
            "gen.yaml",
            "--scenario",
            "thundering-herd",
            "--dlq-dir",
            "dlq",
        ],
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    let mut stack = vec![dir.path().join("dlq")];
    let mut records = 0;
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let r: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            let occurred = r["event"]["event"]["occurredAt"].as_i64().unwrap() * 1000;
            let first = chrono::DateTime::parse_from_rfc3339(r["firstAttemptAt"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            assert!(
                occurred <= first,
                "{}: occurs after its first attempt",
                r["eventId"]
            );
            records += 1;
        }
    }
    assert!(records > 0, "no dead letters to read: {out}");
}

/// #248 follow-up: a scenario's `respond` 422 hitting requests the CRM model's own checks
/// refuse for another reason (a body above `maxBodyBytes`: 413) is named, and fixed, by the
/// checks' reason: the cause is `(413, answered 422)` with the 413 fix the same spec gets
/// without the fault, and the run without the fault files the same events as the spec's.
/// Batching (the batch's body is above the limit, each member within) and not (a lone payload
/// above it) alike.
#[test]
fn a_respond_fault_on_a_request_the_crm_refuses_anyway_gets_the_refusal_s_own_fix() {
    let batching: &[(&str, &str, &str)] = &[
        ("specs/crm_sync.yaml", "batchSize: 1\n", "batchSize: 5\n"),
        (
            "specs/crm_sync.yaml",
            "batchIntervalSeconds: 0\n",
            "batchIntervalSeconds: 2\n",
        ),
        (
            "specs/crm_sync.yaml",
            "acceptsArrays: false",
            "acceptsArrays: true",
        ),
        (
            "specs/crm_sync.yaml",
            "maxBodyBytes: 1048576",
            "maxBodyBytes: 600",
        ),
    ];
    let lone: &[(&str, &str, &str)] = &[(
        "specs/crm_sync.yaml",
        "maxBodyBytes: 1048576",
        "maxBodyBytes: 280",
    )];
    let faulty = "version: 1\nname: respond-422\nduration: 5m\nevents: { count: 300 }\nfaults:\n  - respond: { from: 1m, to: 2m, status: 422, body: '{\"error\":\"validation rule VR_017\"}' }\n";
    let calm = "version: 1\nname: calm\nduration: 5m\nevents: { count: 300 }\n";
    for (name, edits, fix) in [
        ("batching", batching, "set channel.batchSize to"),
        ("lone", lone, "the CRM refuses the payload as too large"),
    ] {
        let dir = crate::common::edited_example(edits);
        let sim = |scenario: &str| {
            fs::write(dir.path().join("sc.yaml"), scenario).unwrap();
            let (code, out, err) = run_in(
                dir.path(),
                &[
                    "sim",
                    "specs/crm_sync.yaml",
                    "--scenario",
                    "sc.yaml",
                    "--report",
                    "r.json",
                ],
            );
            assert_eq!(code, 1, "{name}: {out}{err}");
            let rep: serde_json::Value =
                serde_json::from_slice(&fs::read(dir.path().join("r.json")).unwrap()).unwrap();
            (
                out,
                rep["deadLetters"]["causedBySpec"]
                    .as_array()
                    .unwrap()
                    .clone(),
            )
        };
        let (out, with) = sim(faulty);
        let (calm_out, without) = sim(calm);
        // Without the fault: one 413 cause, every dead letter of it.
        assert_eq!(without.len(), 1, "{name}: {calm_out}");
        assert_eq!(without[0]["status"], 413, "{name}: {calm_out}");
        assert!(without[0]["answered"].is_null(), "{name}: {calm_out}");
        let calm_fix = without[0]["fix"].as_str().unwrap();
        assert!(calm_fix.contains(fix), "{name}: {calm_fix}");
        // With it: the requests the fault answered 422 are still the 413's, with its fix.
        let answered: Vec<_> = with.iter().filter(|c| c["answered"] == 422).collect();
        assert_eq!(answered.len(), 1, "{name}: {out}");
        assert_eq!(answered[0]["status"], 413, "{name}: {out}");
        let fault_fix = answered[0]["fix"].as_str().unwrap();
        assert!(
            fault_fix.ends_with(calm_fix),
            "{name}: {fault_fix}\n{calm_fix}"
        );
        assert!(fault_fix.contains("answered 422"), "{name}: {fault_fix}");
        assert!(
            with.iter().all(|c| c["status"] == 413),
            "{name}: no cause is named by the fault's 422: {out}"
        );
        assert!(out.contains("(413, answered 422)"), "{name}: {out}");
        assert!(!out.contains("make the payload match"), "{name}: {out}");
        // The same events are the spec's with and without the fault.
        let total =
            |c: &[serde_json::Value]| c.iter().map(|c| c["count"].as_u64().unwrap()).sum::<u64>();
        assert_eq!(total(&with), total(&without), "{name}: {out}{calm_out}");
    }
}

/// #255: a `respond` fault with a 2xx status would be a CRM that answers success without
/// writing: no retry policy sees it, and the verdict could only count the events lost with no
/// cause. It is refused at load (E614 at the status, for `validate` and `sim` alike), with what
/// to do instead; a 3xx–5xx window still loads and runs.
#[test]
fn a_respond_fault_with_a_2xx_status_is_refused_at_the_status_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("r200.yaml");
    fs::write(
        &sc,
        "version: 1\nname: r200\nduration: 2m\nfaults:\n  - respond: { from: 30s, to: 60s, status: 503 }\n  - respond: { from: 60s, to: 70s, status: 200, body: '{\"ok\":true}' }\n  - respond: { from: 70s, to: 80s, status: 204 }\n",
    )
    .unwrap();
    let (v, got) = validate_json(sc.to_str().unwrap());
    let codes: Vec<(String, u64)> = got.iter().map(|(c, l, _)| (c.clone(), *l)).collect();
    assert_eq!(
        codes,
        [("E614".to_string(), 6), ("E614".to_string(), 7)],
        "{v:#}"
    );
    let t = v.to_string();
    assert!(
        t.contains("a `respond` fault of status 200 (a success) is not simulated")
            && t.contains("no retry policy can see"),
        "{v:#}"
    );
    let (code, _, err) = run(&["specs/crm_sync.yaml", "--scenario", sc.to_str().unwrap()]);
    assert!(matches!(code, 1 | 2), "{err}");
    assert!(err.contains("E614"), "{err}");
    // Without the 2xx windows the scenario runs.
    fs::write(
        &sc,
        "version: 1\nname: r200\nduration: 2m\nfaults:\n  - respond: { from: 30s, to: 60s, status: 503 }\n",
    )
    .unwrap();
    let (code, out, err) = run(&["specs/crm_sync.yaml", "--scenario", sc.to_str().unwrap()]);
    assert!(!err.contains("E614") && !out.contains("E614"), "{err}");
    assert!(
        out.contains("PASS") || out.contains("FAIL"),
        "{code}: {out}{err}"
    );
}

/// #271: two rules of one event upserting one record with different values of a field lose
/// one rule's write (the record keeps whichever lands last; a retry reverses it). The
/// conservation invariant counts them; two rules writing the same values lose nothing.
#[test]
fn two_rules_of_one_event_upserting_one_record_differently_break_conservation() {
    for (close_code, conflicting) in [("\"VOICE-NOTE\"", true), ("", false)] {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p");
        let out = cxsync()
            .args(["init", "--crm", "servicenow", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let spec_path = p.join("specs/servicenow_sync.yaml");
        let spec = fs::read_to_string(&spec_path).unwrap();
        let transform =
            fs::read_to_string(p.join("specs/transforms/interaction_ended.jsonata")).unwrap();
        let note = if conflicting {
            let old = "\"u_close_code\": interaction.disposition.code";
            assert!(transform.contains(old), "{transform}");
            transform.replace(old, &format!("\"u_close_code\": {close_code}"))
        } else {
            transform.clone()
        };
        fs::write(p.join("specs/transforms/note.jsonata"), note).unwrap();
        let second = "  - id: SN_NOTE_ON_VOICE\n    name: Note on voice\n    eventType: interaction.ended\n    conditions:\n      interaction.channel.type: [voice]\n    transformFile: transforms/note.jsonata\n    fixtures:\n      - ../fixtures/events/*.json\n    stage: 1\n\n";
        let at = spec
            .find("\nrollout:")
            .expect("the servicenow spec has a rollout");
        fs::write(
            &spec_path,
            format!("{}\n{second}{}", &spec[..at], &spec[at + 1..]),
        )
        .unwrap();
        let report = d.path().join("r.json");
        let (code, out, err) = run(&[
            spec_path.to_str().unwrap(),
            "--events",
            "300",
            "--seed",
            "7",
            "--report",
            report.to_str().unwrap(),
        ]);
        let r: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
        let n = r["overwrittenByAnotherRule"].as_u64().unwrap();
        // Lint's CX037 fires on the same rule pairs before any run (a differential check).
        let lint = cxsync()
            .args([
                "lint",
                spec_path.to_str().unwrap(),
                "--select",
                "CX037",
                "--format",
                "concise",
            ])
            .output()
            .unwrap();
        let lint = String::from_utf8_lossy(&lint.stdout).into_owned()
            + &String::from_utf8_lossy(&lint.stderr);
        assert_eq!(
            lint.contains("write one record for one event"),
            n > 0,
            "lint and sim disagree (sim: {n}): {lint}"
        );
        if conflicting {
            assert!(n > 0, "{r}");
            assert_eq!(code, 1, "{out}{err}");
            assert!(
                out.contains("overwritten by another rule of the same event")
                    || err.contains("overwritten by another rule of the same event"),
                "{out}{err}"
            );
        } else {
            assert_eq!(n, 0, "{r}");
        }
    }
}
