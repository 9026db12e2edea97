//! Integration tests for `cxsync sim`: the real binary on the example spec and the specs under
//! `fixtures/sim/`.

use std::fs;

use crate::common::cxsync;

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
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("DLQ RETRIES_EXHAUSTED"), "{out}");
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
    assert!(out.contains("circuit breaker opened"), "{out}");
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
    assert_eq!(code, 0, "{out}");
    // 200 events, every 20th inflated: 10 oversized, all from the webchat template (matched).
    assert!(out.contains("DLQ PAYLOAD_TOO_LARGE            10"), "{out}");
    assert!(out.contains("after 0 attempt(s)"), "{out}");
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

/// Issue 13: a scenario is validated like a spec. Every mistake of
/// `fixtures/sim/bad-scenario.yaml` is reported in one run at its own line and column, with the
/// did-you-mean a person needs, and `sim` refuses it with exit 2.
#[test]
fn every_mistake_of_a_scenario_is_reported_in_one_run_at_its_position() {
    let out = cxsync()
        .args([
            "validate",
            "--format",
            "json",
            "fixtures/sim/bad-scenario.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, u64, u64)> = v
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
        ("E611", 23, 25), // {min: 10, max: 1}
        ("E611", 24, 18), // [5, 1]
        ("E607", 25, 27), // RETRIES_EXHAUSTD
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
    ] {
        assert!(text.contains(help), "{help}: {v:#}");
    }
    let (code, _, err) = run(&[
        "specs/crm_sync.yaml",
        "--scenario",
        "fixtures/sim/bad-scenario.yaml",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad-scenario.yaml:19:24"), "{err}");
}
