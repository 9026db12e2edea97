//! `cxsync dlq`: the record and alert formats, list/show/stats over folders and S3 (moto on
//! loopback), and replay — the dry run that proves a fix, delivery into a wiremock CRM with the
//! original idempotency keys, resume after an interruption, purge.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cxsync::delivery::Reason;
use cxsync::dlq::alert;
use cxsync::dlq::record::Record;
use cxsync::dlq::store::{self, Source, Store};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{cxsync, root};

/// The fixture DLQ as `cxsync sim --dlq-dir` lays it out.
const FIXTURE_STORE: &str = "fixtures/dlq/store";
/// The same DLQ's root (`<bucketName>/<prefix>`), keyed like `s3://bucket/prefix`.
const FIXTURE_ROOT: &str = "fixtures/dlq/store/cxone-eventhub-dlq-prod/crm-sync-failed";
const SECRET: &str = "s3cr3t-never-printed";

/// Runs cxsync with the secret the fixture specs read through `${env:CRM_CLIENT_SECRET}`.
fn run(cmd: &mut Command) -> Output {
    cmd.env("CRM_CLIENT_SECRET", SECRET)
        .output()
        .expect("cxsync runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// A scratch copy of the fixture DLQ; returns (tempdir, its store root).
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join(FIXTURE_STORE), dir.path());
    let r = dir
        .path()
        .join("cxone-eventhub-dlq-prod")
        .join("crm-sync-failed");
    (dir, r)
}

fn fixture_records() -> Vec<Record> {
    let day = root().join(FIXTURE_ROOT).join("2024/01/15");
    let mut out: Vec<Record> = std::fs::read_dir(day)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    out.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    out
}

fn ids(v: &Value, field: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Formats

#[test]
fn checked_in_schemas_match_the_rust_types() {
    for (which, file) in [
        ("record", "schemas/dlq-record.v1.json"),
        ("alert", "schemas/dlq-alert.v1.json"),
    ] {
        let o = run(cxsync().args(["dlq", "schema", which]));
        assert!(o.status.success(), "{}", stderr(&o));
        let checked_in = std::fs::read_to_string(root().join(file)).unwrap();
        assert_eq!(
            stdout(&o),
            checked_in,
            "{file} drifted from the Rust type; regenerate with `cxsync dlq schema {which} > {file}`"
        );
    }
}

fn validator(file: &str) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(file)).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn written_records_and_alerts_validate_against_their_schemas() {
    let records = validator("schemas/dlq-record.v1.json");
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(&Source::Folder(dir.path().into()), &BTreeMap::new()).unwrap();
    for rec in fixture_records() {
        let key = store::write_record(&st, &rec).unwrap();
        let written: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(&key)).unwrap()).unwrap();
        let errors: Vec<String> = records
            .iter_errors(&written)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{key}: {errors:?}");
    }
    // The schema is not vacuous: a record with a bad reason and no event fails it.
    let mut bad = serde_json::to_value(&fixture_records()[0]).unwrap();
    bad["reason"] = json!("GONE_FISHING");
    bad.as_object_mut().unwrap().remove("event");
    assert!(records.iter_errors(&bad).count() >= 2);

    let alerts = validator("schemas/dlq-alert.v1.json");
    let recs = fixture_records();
    let refs: Vec<&Record> = recs.iter().collect();
    let end = chrono::DateTime::parse_from_rfc3339("2024-01-15T14:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let alert = alert::from_records(
        "CRM_Sync_Channel_Production",
        "s3://cxone-eventhub-dlq-prod/crm-sync-failed/",
        Some(5),
        end,
        &refs,
    )
    .unwrap();
    let v = serde_json::to_value(&alert).unwrap();
    let errors: Vec<String> = alerts.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(alert.count, 7);
    assert!(alert.threshold_exceeded);
    assert_eq!(alert.first_event_id, "evt-2001");
    assert_eq!(alert.last_event_id, "evt-2007");
    assert_eq!(alert.reasons[&Reason::NonRetryableStatus], 3);
    assert_eq!(alert.statuses["none"], 2);
    assert_eq!(alert.sample.len(), 5);
    // The key names the rule too: an event two rules matched has two records.
    assert_eq!(
        alert.sample[0].key,
        "2024/01/15/CRM_SYNC_RULE_ID/evt-2001.json"
    );
    assert_eq!(alert.window.end, "2024-01-15T14:00:00.000Z");
    assert!(alert::from_records("c", "l", None, end, &[]).is_none());
}

#[test]
fn writer_lays_records_out_by_bucket_prefix_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let dlq: cxsync::spec::model::DeadLetterQueue = serde_json::from_value(json!({
        "enabled": true, "bucketName": "b", "prefix": "crm-sync-failed/"
    }))
    .unwrap();
    let st = Store::for_dlq_dir(dir.path(), &dlq).unwrap();
    let mut rec = fixture_records()[0].clone();
    rec.event_id = "odd/id #1".into();
    rec.dead_lettered_at = "2024-02-29T23:59:59+02:00".into();
    let key = store::write_record(&st, &rec).unwrap();
    // The date is UTC; the id is one encoded path segment.
    assert_eq!(
        key,
        format!("2024/02/29/{}/odd!2Fid!20!231.json", rec.rule_id)
    );
    // The folder holds the same key as S3 would.
    assert!(dir
        .path()
        .join("b/crm-sync-failed/2024/02/29")
        .join(&rec.rule_id)
        .join("odd!2Fid!20!231.json")
        .is_file());
    let o = run(cxsync()
        .args(["dlq", "show"])
        .arg(dir.path())
        .arg("odd/id #1"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"eventId\": \"odd/id #1\""));
}

/// An event id longer than a file name may be (tester #61: 300 bytes stopped `sim` with "File
/// name too long" after part of the DLQ was written) gets a bounded name, `<start>~<hash>.json`,
/// and `dlq show` / `dlq list` find the record by the id inside it; the file has that very name.
#[test]
fn a_record_of_a_very_long_event_id_has_a_bounded_name_and_is_found_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let dlq: cxsync::spec::model::DeadLetterQueue =
        serde_json::from_value(json!({"enabled": true, "bucketName": "b"})).unwrap();
    let st = Store::for_dlq_dir(dir.path(), &dlq).unwrap();
    let mut rec = fixture_records()[0].clone();
    let long_id = format!("{}/é", "x".repeat(300));
    rec.event_id = long_id.clone();
    let key = store::write_record(&st, &rec).unwrap();
    let name = key.rsplit('/').next().unwrap();
    assert!(
        name.len() <= cxsync::delivery::alert::MAX_RECORD_NAME,
        "{key}"
    );
    assert!(name.contains("!!") && name.ends_with(".json"), "{key}");
    assert!(dir.path().join("b").join(&key).is_file(), "{key}");
    let o = run(cxsync().args(["dlq", "show"]).arg(dir.path()).arg(&long_id));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&long_id));
    let o = run(cxsync()
        .args(["dlq", "list", "--format", "json"])
        .arg(dir.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&"x".repeat(300)));
}

// ---------------------------------------------------------------------------------------------
// list, show, stats

#[test]
fn list_prints_every_record_in_time_order() {
    let o = run(cxsync().args(["dlq", "list", FIXTURE_STORE]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].starts_with("DEAD-LETTERED AT"));
    assert!(lines[1]
        .starts_with("2024-01-15T09:12:04Z  evt-2001  interaction.ended  PAYLOAD_TOO_LARGE"));
    assert!(
        lines[4].contains("evt-2004")
            && lines[4].contains("RETRIES_EXHAUSTED")
            && lines[4].contains("503")
    );
    assert!(stderr(&o).contains("7 records (0 replayed)"));

    let o = run(cxsync().args(["dlq", "list", FIXTURE_STORE, "--format", "json"]));
    let v = json_out(&o);
    assert_eq!(
        ids(&v, "eventId"),
        ["evt-2001", "evt-2002", "evt-2003", "evt-2004", "evt-2005", "evt-2006", "evt-2007"]
    );
    assert_eq!(v[3]["attempts"], 6);
    assert_eq!(v[3]["lastStatus"], 503);
    assert_eq!(
        v[0]["key"],
        "cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15/evt-2001.json"
    );
}

#[test]
fn filters_select_by_time_reason_and_event_type() {
    let list = |extra: &[&str]| {
        let o = run(cxsync()
            .args(["dlq", "list", FIXTURE_STORE, "--format", "json"])
            .args(extra));
        assert!(o.status.success(), "{}", stderr(&o));
        ids(&json_out(&o), "eventId")
    };
    assert_eq!(
        list(&[
            "--since",
            "2024-01-15T10:00:00Z",
            "--until",
            "2024-01-15T12:00:00Z"
        ]),
        ["evt-2003", "evt-2004", "evt-2005"]
    );
    assert_eq!(
        list(&["--reason", "payload-too-large", "--reason", "AUTH_FAILED"]),
        ["evt-2001", "evt-2002", "evt-2007"]
    );
    assert!(list(&["--event-type", "interaction.started"]).is_empty());
    let o = run(cxsync().args(["dlq", "list", FIXTURE_STORE, "--reason", "LOST"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("PAYLOAD_TOO_LARGE"), "{}", stderr(&o));
    let o = run(cxsync().args(["dlq", "list", FIXTURE_STORE, "--since", "yesterday"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RFC 3339"));
}

#[test]
fn stats_count_by_reason_status_type_and_hour() {
    let o = run(cxsync().args(["dlq", "stats", FIXTURE_STORE, "--format", "json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["total"], 7);
    assert_eq!(
        v["byReason"],
        json!({"NON_RETRYABLE_STATUS": 3, "RETRIES_EXHAUSTED": 1, "AUTH_FAILED": 1, "PAYLOAD_TOO_LARGE": 2})
    );
    assert_eq!(
        v["byStatus"],
        json!({"401": 1, "422": 3, "503": 1, "none": 2})
    );
    assert_eq!(v["byEventType"], json!({"interaction.ended": 7}));
    let hours: Vec<u64> = v["overTime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    // 09:00 … 13:00, the empty 12:00 hour included.
    assert_eq!(hours, [2, 1, 2, 0, 2]);
    assert_eq!(v["overTime"][0]["start"], "2024-01-15T09:00:00Z");

    let o = run(cxsync().args(["dlq", "stats", FIXTURE_STORE]));
    let out = stdout(&o);
    assert!(out.contains("█▂█▁█"), "{out}");
    assert!(out.contains("NON_RETRYABLE_STATUS"));

    // One hour: its time once, no sparkline of a single bucket.
    let o = run(cxsync().args([
        "dlq",
        "stats",
        FIXTURE_STORE,
        "--since",
        "2024-01-15T09:00:00Z",
        "--until",
        "2024-01-15T10:00:00Z",
    ]));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(out.matches("2024-01-15T09:00:00Z").count(), 1, "{out}");
    assert!(!out.contains("peak"), "{out}");
}

#[test]
fn show_prints_one_record_by_event_id_or_key() {
    let o = run(cxsync().args(["dlq", "show", FIXTURE_STORE, "evt-2004"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(
        "# fixtures/dlq/store/cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15/evt-2004.json"
    ));
    assert!(out.contains("\"lastBody\": \"{\\\"error\\\":\\\"SERVICE_UNAVAILABLE\\\""));

    let o = run(cxsync().args([
        "dlq",
        "show",
        FIXTURE_ROOT,
        "2024/01/15/evt-2004.json",
        "--format",
        "json",
    ]));
    let v = json_out(&o);
    assert_eq!(v["eventId"], "evt-2004");
    assert_eq!(v["attempts"], 6);

    let o = run(cxsync().args(["dlq", "show", FIXTURE_STORE, "evt-9999"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no record with event id or key `evt-9999`"));
}

#[test]
fn bad_objects_are_reported_with_their_key_and_skipped() {
    let (_dir, r) = fixture_copy();
    let day = r.join("2024/01/15");
    std::fs::write(day.join("torn.json"), b"{\"version\": 1, \"eventId\"").unwrap();
    std::fs::write(day.join("alien.json"), b"{\"hello\": \"world\"}").unwrap();
    let mut late = fixture_records()[0].clone();
    late.dead_lettered_at = "last tuesday".into();
    std::fs::write(day.join("late.json"), serde_json::to_vec(&late).unwrap()).unwrap();
    std::fs::write(day.join("notes.txt"), b"not a record, not .json").unwrap();
    let o = run(cxsync().args(["dlq", "list", "--format", "json"]).arg(&r));
    assert_eq!(o.status.code(), Some(1), "bad objects are findings");
    assert_eq!(json_out(&o).as_array().unwrap().len(), 7);
    let err = stderr(&o);
    assert!(err.contains("2024/01/15/torn.json: not JSON"), "{err}");
    assert!(
        err.contains("2024/01/15/alien.json: not a DLQ record"),
        "{err}"
    );
    assert!(
        err.contains("2024/01/15/late.json: not a DLQ record: deadLetteredAt is `last tuesday`"),
        "{err}"
    );
    assert!(!err.contains("notes.txt"));
    assert!(!err.contains("panicked"));
}

/// #101: a record whose name holds a terminal escape, one that is not JSON and one whose value
/// carries an escape into the parser's words are each reported once with its key, escaped
/// (`\u001b`, never the raw ESC); every other record is listed, counted and judged for replay,
/// and the exit is 1.
#[cfg(unix)]
#[test]
fn one_bad_record_is_reported_escaped_and_every_other_is_listed_counted_and_replayed() {
    let (_dir, r) = fixture_copy();
    let day = r.join("2024/01/15");
    std::fs::copy(day.join("evt-2001.json"), day.join("evt\u{1b}[2J.json")).unwrap();
    std::fs::write(day.join("torn.json"), "{\"eventId\": \"\u{1b}]0;pwned\u{7}").unwrap();
    // A record whose reason holds an ESC (escaped in the JSON): serde's "unknown variant" quotes
    // it raw.
    let mut alien = serde_json::to_value(&fixture_records()[0]).unwrap();
    alien["reason"] = json!("\u{1b}[31mRED");
    std::fs::write(day.join("alien.json"), alien.to_string()).unwrap();
    let bad = [
        ("2024/01/15/evt\\u001b[2J.json", "cannot be an object key"),
        ("2024/01/15/torn.json", "not JSON"),
        ("2024/01/15/alien.json", "unknown variant `\\u001b[31mRED`"),
    ];
    let check = |o: &Output, what: &str| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{7}'),
            "{what}: raw escape: {err:?}"
        );
        for (key, why) in bad {
            assert!(
                err.lines()
                    .any(|l| l.starts_with("warning: ") && l.contains(key) && l.contains(why)),
                "{what}: no warning for {key}: {err}"
            );
        }
        assert_eq!(err.matches("warning: ").count(), 3, "{what}: {err}");
    };
    let o = run(cxsync().args(["dlq", "list", "--format", "json"]).arg(&r));
    check(&o, "list");
    let mut listed = ids(&json_out(&o), "eventId");
    listed.sort();
    let mut all: Vec<String> = fixture_records().into_iter().map(|r| r.event_id).collect();
    all.sort();
    assert_eq!(listed, all, "every good record is listed");
    let o = run(cxsync().args(["dlq", "stats", "--format", "json"]).arg(&r));
    check(&o, "stats");
    assert!(
        stdout(&o).contains(&format!("\"total\": {}", all.len())),
        "{}",
        stdout(&o)
    );
    let o = dry_run(&r, "fixtures/dlq/fixed.yaml", "http://127.0.0.1:9");
    check(&o, "replay --dry-run");
    assert_eq!(json_out(&o)["records"].as_array().unwrap().len(), all.len());
}

/// Fuzzing found `dlq list` and `dlq stats` panicking ("Formatting argument out of range", exit
/// 101) on a record whose event id or type is over 65,535 characters (a column padded with
/// `{:<w$}`), and the rule column and the stats' keys were printed raw. Now: exit 0, the long
/// cell printed whole without padding the other rows to it, the rule and keys escaped.
#[test]
fn a_record_with_a_huge_id_or_an_escape_in_any_column_is_listed_and_counted() {
    let (_dir, r) = fixture_copy();
    let day = r.join("2024/01/15");
    let mut rec = serde_json::to_value(&fixture_records()[0]).unwrap();
    rec["eventId"] = json!("i".repeat(70_000));
    rec["eventType"] = json!(format!("t{}", "y".repeat(70_000)));
    rec["ruleId"] = json!("RULE_\u{1b}[2J");
    std::fs::write(day.join("huge.json"), rec.to_string()).unwrap();
    for cmd in ["list", "stats"] {
        let o = run(cxsync().args(["dlq", cmd]).arg(&r));
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(0), "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{cmd}: {err}");
        assert!(!out.contains('\u{1b}'), "{cmd}: raw ESC");
        assert!(out.contains("RULE_\\u001b[2J"), "{cmd}: {out:.300}");
        assert!(out.contains(&"i".repeat(70_000)) || cmd == "stats", "{cmd}");
        // No line but the huge record's own is padded to its width.
        let long = out.lines().filter(|l| l.chars().count() > 1_000).count();
        assert!(long <= 2, "{cmd}: {long} long lines");
    }
}

#[cfg(unix)]
#[test]
fn names_a_listing_cannot_take_are_skipped_with_a_warning_naming_them() {
    use std::os::unix::ffi::OsStrExt;
    let (_dir, r) = fixture_copy();
    let day = r.join("2024/01/15");
    // A symlink loop, a dangling symlink, a name that is not UTF-8, a list: each used to end the
    // listing (exit 2, nothing listed) or read in serde's words.
    std::os::unix::fs::symlink(".", day.join("self")).unwrap();
    std::os::unix::fs::symlink("nowhere.json", day.join("gone.json")).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"bad\xff.json");
    std::fs::copy(day.join("evt-2001.json"), day.join(bad)).unwrap();
    std::fs::write(day.join("list.json"), b"[]").unwrap();
    // A record reached through a symlinked folder, and one whose name needs percent-encoding in
    // an object key, are still records.
    let mut other = fixture_records()[0].clone();
    other.event_id = "evt-3001".into();
    std::fs::create_dir_all(r.join("elsewhere")).unwrap();
    std::fs::write(
        r.join("elsewhere/evt 3001%.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(r.join("elsewhere"), r.join("2024/01/linked")).unwrap();
    for cmd in ["list", "stats"] {
        let o = run(cxsync().args(["dlq", cmd, "--format", "json"]).arg(&r));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
        for (name, why) in [
            ("2024/01/15/self", "symlink loop"),
            ("2024/01/15/gone.json", "symlink cannot be followed"),
            ("2024/01/15/bad\\xff.json", "not UTF-8"),
            (
                "2024/01/15/list.json",
                "a record is a JSON object, found an array",
            ),
        ] {
            assert!(
                err.lines()
                    .any(|l| l.starts_with("warning: ") && l.contains(name) && l.contains(why)),
                "{cmd}: no warning for {name}: {err}"
            );
        }
        assert_eq!(err.matches("warning: ").count(), 4, "{cmd}: {err}");
        if cmd == "list" {
            let v = json_out(&o);
            let mut found = ids(&v, "eventId");
            found.sort();
            assert_eq!(found.len(), 9, "{found:?}");
            assert_eq!(found.iter().filter(|i| *i == "evt-3001").count(), 2);
        }
    }
    // The listed key of the percent-encoded name reads back the record.
    let o = run(cxsync().args(["dlq", "show"]).arg(&r).arg("evt-3001"));
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    assert!(stdout(&o).contains("evt-3001"), "{}", stdout(&o));
}

#[test]
fn missing_or_unsupported_sources_are_tool_errors() {
    let o = run(cxsync().args(["dlq", "list", "no/such/folder"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("folder `no/such/folder` does not exist"));
    let o = run(cxsync().args(["dlq", "list", "gs://bucket/p"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not supported"));
    let o = run(cxsync()
        .args(["dlq", "list", "s3://bucket/p"])
        .env("AWS_ENDPOINT_URL", "http://minio.internal:9000"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("refusing plain http endpoint"));
}

// ---------------------------------------------------------------------------------------------
// replay --dry-run

fn dry_run(source: &Path, spec: &str, target: &str) -> Output {
    run(cxsync()
        .args(["dlq", "replay"])
        .arg(source)
        .args([
            "--spec",
            spec,
            "--dry-run",
            "--format",
            "json",
            "--target",
            target,
        ])
        .args(["--now", "2024-01-16T08:00:00Z"])
        .env("CRM_CLIENT_SECRET", SECRET))
}

fn deliverable(v: &Value) -> BTreeSet<String> {
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["problems"].as_array().unwrap().is_empty())
        .map(|r| r["eventId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_shows_which_records_the_fix_saves_and_sends_nothing() {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .named("nothing is sent in a dry run")
        .mount(&crm)
        .await;
    let target = format!("{}/v1/interactions", crm.uri());
    let src = root().join(FIXTURE_STORE);
    let (before, fixed) = tokio::task::spawn_blocking({
        let (src, target) = (src.clone(), target.clone());
        move || {
            (
                dry_run(&src, "fixtures/dlq/before.yaml", &target),
                dry_run(&src, "fixtures/dlq/fixed.yaml", &target),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    assert_eq!(fixed.status.code(), Some(1), "two records still fail");
    let (before, fixed) = (json_out(&before), json_out(&fixed));
    let b = deliverable(&before);
    let f = deliverable(&fixed);
    assert_eq!(b, BTreeSet::from(["evt-2004".into(), "evt-2007".into()]));
    let saved: Vec<&String> = f.difference(&b).collect();
    assert_eq!(saved, ["evt-2001", "evt-2002", "evt-2003"]);
    assert_eq!(fixed["summary"]["wouldDeliver"], 5);
    assert_eq!(fixed["summary"]["records"], 7);

    let by_id = |v: &Value, id: &str| -> Value {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["eventId"] == id)
            .unwrap()
            .clone()
    };
    // Before the fix the transcript breaks the size guard and the target schema.
    let kinds = |r: &Value| -> Vec<String> {
        r["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds(&by_id(&before, "evt-2001")),
        ["payloadTooLarge", "schemaViolation"]
    );
    let r = by_id(&fixed, "evt-2001");
    assert!(r["oldPayload"]["transcript"].is_array());
    assert!(r["newPayload"].get("transcript").is_none());
    assert!(r["payloadBytes"].as_u64().unwrap() < 4096);
    assert_eq!(r["schemaOk"], true);
    assert_eq!(r["idempotencyKey"], "918274001_interaction.ended");
    assert_eq!(r["originalKey"], true);
    // The fix stops routing sms; a negative duration still breaks the CRM schema.
    assert_eq!(kinds(&by_id(&fixed, "evt-2005")), ["noMatchingRule"]);
    // With the matcher's own reason, as `cxsync test` gives it (tester #37).
    assert_eq!(
        by_id(&fixed, "evt-2005")["problems"][0]["why"],
        serde_json::json!([
            "rule CRM_SYNC_RULE_ID: conditions.interaction.channel.type: \"sms\" is not one of [\"voice\",\"webchat\",\"email\"]"
        ])
    );
    assert_eq!(kinds(&by_id(&fixed, "evt-2006")), ["schemaViolation"]);
    assert!(by_id(&fixed, "evt-2006")["problems"][0]["errors"][0]
        .as_str()
        .unwrap()
        .starts_with("/durationSeconds"));

    // The human report says the same, with what would be sent.
    let o = tokio::task::spawn_blocking(move || {
        run(cxsync().args(["dlq", "replay"]).arg(&src).args([
            "--spec",
            "fixtures/dlq/fixed.yaml",
            "--dry-run",
            "--target",
            &target,
        ]))
    })
    .await
    .unwrap();
    let out = stdout(&o);
    assert!(out.contains("5 of 7 records would now be delivered; 2 still fail (1 no matching rule, 1 target schema)"), "{out}");
    assert!(out.contains("X-Idempotency-Key: 918274001_interaction.ended (original key)"));
    // A header-deduplicating CRM forgets keys after its window (tester #35).
    assert!(
        out.contains("5 record(s) go with their original key")
            && out.contains("only while it still holds the key (its idempotency window"),
        "{out}"
    );
    assert!(out.contains("-   \"transcript\": ["));
    assert!(!out.contains(SECRET) && !stderr(&o).contains(SECRET));
}

/// A dry run is pasted into tickets: a destination URL or key template from `${env:…}` (a
/// token in the query, a salt in the key) is masked as compile and plan mask it, in the text and
/// the JSON report (tester #110); a `--target` shows only its credential parameters masked.
#[test]
fn a_dry_run_masks_the_url_and_key_that_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("env.yaml");
    let specs = root().join("specs").display().to_string() + "/";
    let text = std::fs::read_to_string(root().join("fixtures/dlq/fixed.yaml"))
        .unwrap()
        .replace("../../specs/", &specs)
        .replace(
            "destinationUri: https://crm-api.company.com/v1/interactions",
            "destinationUri: \"https://crm-api.company.com/${env:DX_PATH}/v1?access_token=${env:DX_TOKEN}&v=2\"",
        )
        .replace(
            "key: ${interaction.id}_${event.type}",
            "key: \"${env:DX_SALT}-${interaction.id}\"",
        );
    std::fs::write(&spec, text).unwrap();
    let secrets = ["pathSECRET-1", "qTOKEN-abc123", "saltSECRET-4"];
    let replay = |extra: &[&str]| {
        run(cxsync()
            .args(["dlq", "replay", FIXTURE_STORE, "--dry-run", "--spec"])
            .arg(&spec)
            .args(extra)
            .args(["--now", "2024-01-16T08:00:00Z", "--allow-outside-project"])
            .env("DX_PATH", secrets[0])
            .env("DX_TOKEN", secrets[1])
            .env("DX_SALT", secrets[2]))
    };
    let human = replay(&[]);
    let json = replay(&["--format", "json"]);
    for o in [&human, &json] {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        for s in secrets {
            assert!(
                !stdout(o).contains(s) && !stderr(o).contains(s),
                "{s}:\n{}",
                stdout(o)
            );
        }
    }
    let out = stdout(&human);
    assert!(
        out.contains("send    POST (sensitive: `channel.destinationUri` is from ${env:…})  X-Idempotency-Key: (sensitive: `idempotency.key` is from ${env:…}) (original key)"),
        "{out}"
    );
    let v = json_out(&json);
    assert_eq!(
        v["url"],
        "(sensitive: `channel.destinationUri` is from ${env:…})"
    );
    let keys: BTreeSet<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["idempotencyKey"].as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["(sensitive: `idempotency.key` is from ${env:…})"])
    );
    // The user's own --target: its credential parameter masked, the rest as typed.
    let t = replay(&["--target", "https://crm.example.net/in?sig=LITERAL-9&v=1"]);
    let out = stdout(&t);
    assert!(
        out.contains("POST https://crm.example.net/in?sig=(sensitive)&v=1  "),
        "{out}"
    );
    assert!(!out.contains("LITERAL-9"), "{out}");
}

#[test]
fn spec_errors_stop_a_replay_with_a_located_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(root().join("fixtures/dlq/fixed.yaml"))
        .unwrap()
        .replace(
            "transformFile: ../../specs/transforms/interaction_ended.jsonata",
            "transformFile: missing.jsonata",
        )
        .replace("../../specs/crm-case.schema.json", "nope.json");
    std::fs::write(&spec, text).unwrap();
    let o = run(cxsync()
        .args(["dlq", "replay", FIXTURE_STORE, "--dry-run", "--spec"])
        .arg(&spec));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    // Both problems, each at its line.
    assert!(
        err.contains("transform file `missing.jsonata` does not exist"),
        "{err}"
    );
    assert!(
        err.contains("payload schema `nope.json` does not exist"),
        "{err}"
    );
    assert!(err.contains("broken.yaml:"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// replay into a wiremock CRM

async fn crm_with_token() -> MockServer {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .named("token endpoint")
        .mount(&crm)
        .await;
    crm
}

/// [`crm_with_token`] that also accepts every post with a 201.
async fn accepting_crm() -> MockServer {
    let crm = crm_with_token().await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(201))
        .named("every post accepted")
        .mount(&crm)
        .await;
    crm
}

/// `dlq replay SOURCE` with the fixed spec (fixtures/dlq/fixed.yaml) into `crm`, off the async
/// runtime.
async fn replay_fixed(source: &Path, crm: &MockServer, extra: &[&str]) -> Output {
    run_async(replay_cmd(
        source,
        "fixtures/dlq/fixed.yaml",
        &crm.uri(),
        extra,
    ))
    .await
}

fn replay_cmd(source: &Path, spec: &str, crm: &str, extra: &[&str]) -> Command {
    let mut c = cxsync();
    c.args(["dlq", "replay"])
        .arg(source)
        .args(["--spec", spec, "--format", "json"])
        .args(["--target", &format!("{crm}/v1/interactions")])
        .args(["--token-url", &format!("{crm}/oauth2/token")])
        .args(["--now", "2024-01-16T08:00:00Z"])
        .args(extra)
        .env("CRM_CLIENT_SECRET", SECRET);
    c
}

async fn run_async(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("cxsync runs"))
        .await
        .unwrap()
}

/// Idempotency keys of the CRM posts received, in order, with their status.
async fn crm_posts(crm: &MockServer) -> Vec<(String, Value)> {
    crm.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/interactions")
        .map(|r| {
            let key = r
                .headers
                .get("x-idempotency-key")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (key, serde_json::from_slice(&r.body).unwrap())
        })
        .collect()
}

fn outcomes(v: &Value) -> BTreeMap<String, String> {
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["eventId"].as_str().unwrap().to_string(),
                r["result"]["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn replay_shows_a_bar_over_the_records_it_sends_on_a_terminal_only() {
    let (_dir, src) = fixture_copy();
    let crm = accepting_crm().await;
    let mut c = replay_cmd(&src, "fixtures/dlq/fixed.yaml", &crm.uri(), &[]);
    c.env("TERM", "xterm");
    let t = tokio::task::spawn_blocking(move || crate::common::on_terminal(c))
        .await
        .unwrap();
    assert!(t.output.contains("/5 records"), "no bar:\n{}", t.output);
    assert!(
        t.output.contains("\"outcome\": \"delivered\""),
        "{}",
        t.output
    );
    // Piped (an earlier run marked them replayed, so this one sends nothing): no bar.
    let o = replay_fixed(&src, &crm, &[]).await;
    assert!(!stderr(&o).contains("records ="), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_delivers_every_saved_record_once_with_its_original_key() {
    let (_dir, src) = fixture_copy();
    let crm = crm_with_token().await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("x-request-source", "CXone-EventHub"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(201))
        .expect(5)
        .named("each saved record delivered once")
        .mount(&crm)
        .await;

    let o = replay_fixed(&src, &crm, &[]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "two records are skipped: {}",
        stderr(&o)
    );
    let v = json_out(&o);
    let out = outcomes(&v);
    assert_eq!(out["evt-2001"], "delivered");
    assert_eq!(out["evt-2005"], "skipped");
    assert_eq!(out["evt-2006"], "skipped");

    let posts = crm_posts(&crm).await;
    // Sent concurrently: the CRM sees them in any order.
    let keys: BTreeSet<&str> = posts.iter().map(|(k, _)| k.as_str()).collect();
    let originals: BTreeMap<String, String> = fixture_records()
        .into_iter()
        .map(|r| (r.event_id, r.idempotency_key.unwrap()))
        .collect();
    assert_eq!(posts.len(), 5);
    assert_eq!(
        keys,
        ["evt-2001", "evt-2002", "evt-2003", "evt-2004", "evt-2007"]
            .map(|id| originals[id].as_str())
            .into_iter()
            .collect()
    );
    // The body is the new payload: no transcript any more.
    assert!(posts.iter().all(|(_, b)| b.get("transcript").is_none()));
    let first = posts
        .iter()
        .find(|(k, _)| k == "918274001_interaction.ended")
        .unwrap();
    assert_eq!(first.1["caseNumber"], "918274001");

    // Markers sit beside the records; the records stay without --purge.
    let day = src.join("2024/01/15");
    assert!(day.join("evt-2001.json").is_file());
    let marker: Value =
        serde_json::from_slice(&std::fs::read(day.join("evt-2001.json.replayed")).unwrap())
            .unwrap();
    assert_eq!(marker["status"], 201);
    assert_eq!(marker["idempotencyKey"], "918274001_interaction.ended");
    assert!(!day.join("evt-2005.json.replayed").exists());

    // A second run sends nothing new.
    let o = replay_fixed(&src, &crm, &[]).await;
    let again = outcomes(&json_out(&o));
    assert_eq!(again["evt-2001"], "alreadyReplayed");
    assert_eq!(crm_posts(&crm).await.len(), 5);
    let listed = run_async({
        let mut c = cxsync();
        c.args(["dlq", "list", "--format", "json"]).arg(&src);
        c
    })
    .await;
    let rows = json_out(&listed);
    assert_eq!(
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["replayed"] == true)
            .count(),
        5
    );
    for s in [stdout(&o), stderr(&o)] {
        assert!(!s.contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_replay_resumes_without_sending_anything_twice() {
    let (_dir, src) = fixture_copy();
    let crm = crm_with_token().await;
    // The CRM takes two records, then refuses everything until its side is fixed. A 422 is
    // non-retryable, so the delivery machine dead-letters it at once (a 503 would be retried per
    // the spec's policy first, which takes a minute).
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(201))
        .up_to_n_times(2)
        .named("first two accepted")
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(422).set_body_string("maintenance"))
        .named("then refusing")
        .mount(&crm)
        .await;
    // One at a time, so "the first refusal stops the run" is about records in order.
    let o = replay_fixed(&src, &crm, &["--max-failures", "1", "--concurrency", "1"]).await;
    assert_eq!(o.status.code(), Some(1));
    let v = json_out(&o);
    let first = outcomes(&v);
    assert_eq!(first["evt-2001"], "delivered");
    assert_eq!(first["evt-2002"], "delivered");
    assert_eq!(first["evt-2003"], "rejected");
    // Reported with the delivery machine's reason, and not marked.
    let r2003 = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["eventId"] == "evt-2003")
        .unwrap();
    assert_eq!(r2003["result"]["status"], 422);
    assert_eq!(
        r2003["result"]["reason"],
        "NON_RETRYABLE_STATUS after 1 attempt"
    );
    assert!(!src.join("2024/01/15/evt-2003.json.replayed").exists());
    // One failure in a row stops the run: the rest are not tried.
    assert_eq!(first["evt-2004"], "notAttempted");
    assert_eq!(first["evt-2007"], "notAttempted");
    assert_eq!(crm_posts(&crm).await.len(), 3);
    let accepted_first: Vec<String> = crm_posts(&crm).await[..2]
        .iter()
        .map(|(k, _)| k.clone())
        .collect();

    // Maintenance over: the resumed replay sends only what was not accepted.
    crm.reset().await;
    let crm2 = crm; // same server, fresh mocks and journal
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-2", "expires_in": 3600})),
        )
        .mount(&crm2)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(200))
        .expect(3)
        .named("the rest, once each")
        .mount(&crm2)
        .await;
    let o = replay_fixed(&src, &crm2, &[]).await;
    let second = outcomes(&json_out(&o));
    assert_eq!(second["evt-2001"], "alreadyReplayed");
    assert_eq!(second["evt-2003"], "delivered");
    // The resumed replay runs at the default concurrency, so the CRM may receive the three in any
    // order: compare what was sent, not when.
    let mut resent: Vec<String> = crm_posts(&crm2).await.into_iter().map(|(k, _)| k).collect();
    resent.sort();
    assert_eq!(
        resent,
        [
            "918274003_interaction.ended",
            "918274004_interaction.ended",
            "918274007_interaction.ended"
        ]
    );
    assert!(resent.iter().all(|k| !accepted_first.contains(k)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_is_retried_per_the_spec_with_the_same_original_key() {
    let (_dir, src) = fixture_copy();
    let crm = crm_with_token().await;
    // Replay sends records concurrently: the 503 is evt-2001's, whichever record goes first.
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .and(header("X-Idempotency-Key", "918274001_interaction.ended"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .named("evt-2001's first attempt: unavailable")
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(201))
        .named("then accepted")
        .mount(&crm)
        .await;
    let started = Instant::now();
    let o = replay_fixed(&src, &crm, &[]).await;
    let out = outcomes(&json_out(&o));
    assert_eq!(out["evt-2001"], "delivered", "{}", stderr(&o));
    let keys: Vec<String> = crm_posts(&crm)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("918274001_"))
        .collect();
    assert_eq!(
        keys,
        ["918274001_interaction.ended", "918274001_interaction.ended"],
        "one retry, the original key on both attempts"
    );
    // Retry-After: 1 was honoured (the first record's retry waited at least a second).
    assert!(started.elapsed() >= Duration::from_secs(1));
    let marker: Value = serde_json::from_slice(
        &std::fs::read(src.join("2024/01/15/evt-2001.json.replayed")).unwrap(),
    )
    .unwrap();
    assert_eq!(marker["status"], 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_refreshes_the_token_and_resends_with_the_same_key() {
    let (_dir, src) = fixture_copy();
    let crm = MockServer::start().await;
    // Each token request gets a new token; the CRM has already revoked the first.
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(move |_: &wiremock::Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": format!("tok-{n}"), "expires_in": 3600}))
        })
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .named("the first token is revoked")
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(201))
        .named("the refreshed token is accepted")
        .mount(&crm)
        .await;
    let o = replay_fixed(&src, &crm, &[]).await;
    let out = outcomes(&json_out(&o));
    assert_eq!(out["evt-2001"], "delivered", "{}", stderr(&o));
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 2);
    let posts: Vec<(String, String)> = crm
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/interactions")
        .map(|r| {
            let h = |n: &str| r.headers.get(n).unwrap().to_str().unwrap().to_string();
            (h("authorization"), h("x-idempotency-key"))
        })
        .collect();
    // Records are sent concurrently: follow one record's attempts.
    let of_one: Vec<&(String, String)> = posts
        .iter()
        .filter(|(_, k)| k == "918274001_interaction.ended")
        .collect();
    assert_eq!(
        of_one,
        [
            &("Bearer tok-1".into(), "918274001_interaction.ended".into()),
            &("Bearer tok-2".into(), "918274001_interaction.ended".into()),
        ]
    );
    for s in [stdout(&o), stderr(&o)] {
        assert!(!s.contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_deletes_replayed_records_and_keeps_the_rest() {
    let (_dir, src) = fixture_copy();
    let crm = crm_with_token().await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(201))
        .expect(5)
        .mount(&crm)
        .await;
    let o = replay_fixed(&src, &crm, &["--purge"]).await;
    assert_eq!(o.status.code(), Some(1));
    let mut left: Vec<String> = std::fs::read_dir(src.join("2024/01/15"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["evt-2005.json", "evt-2006.json"]);
}

/// Fills a DLQ in `dir` through the writer the simulator uses: 10 copies of every fixture event,
/// over three hours, each with its own interaction id. Returns the record count and the keys the
/// repo spec would deliver.
fn generated_dlq(dir: &Path) -> (u64, BTreeSet<String>) {
    let st = Store::open(&Source::Folder(dir.into()), &BTreeMap::new()).unwrap();
    let mut expected = BTreeSet::new();
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("fixtures/events")).unwrap() {
        let base: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for copy in 0..10 {
            n += 1;
            let mut ev = base.clone();
            let iid = 700_000 + n;
            ev["interaction"]["id"] = json!(iid);
            ev["event"]["id"] = json!(format!("gen-{n:03}"));
            let key = format!("{iid}_interaction.ended");
            if ev["interaction"]["channel"]["type"] != "sms" {
                expected.insert(key.clone());
            }
            let t = format!("2024-03-01T{:02}:{:02}:00Z", 9 + copy % 3, n % 60);
            store::write_record(
                &st,
                &Record {
                    version: 1,
                    event_id: format!("gen-{n:03}"),
                    event_type: "interaction.ended".into(),
                    rule_id: "CRM_SYNC_RULE_ID".into(),
                    channel: "CRM_Sync_Channel_Production".into(),
                    environment: None,
                    destination: None,
                    idempotency_key: Some(key),
                    batch: None,
                    event: ev,
                    payload: None,
                    reason: Reason::RetriesExhausted,
                    last_status: Some(429),
                    last_body: Some("{\"error\":\"rate limited\"}".into()),
                    last_error: None,
                    attempts: 6,
                    token_refreshes: 0,
                    first_attempt_at: t.clone(),
                    last_attempt_at: t.clone(),
                    dead_lettered_at: t,
                },
            )
            .unwrap();
        }
    }
    (n, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_dlq_of_the_repo_spec_replays_each_matching_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let (n, expected) = generated_dlq(dir.path());
    let crm = accepting_crm().await;
    let mut c = replay_cmd(dir.path(), "specs/crm_sync.yaml", &crm.uri(), &[]);
    c.args(["--client-secret-env", "CRM_CLIENT_SECRET"]);
    let o = run_async(c).await;
    let v = json_out(&o);
    assert_eq!(v["records"].as_array().unwrap().len(), n as usize);
    let keys: Vec<String> = crm_posts(&crm).await.into_iter().map(|(k, _)| k).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "a key was sent twice");
    assert_eq!(unique, expected);
}

/// A CRM that takes 400 ms to answer: one record at a time, the replay cannot take less than
/// records × 400 ms; with the hub's concurrency it takes a few round trips. Every record is
/// still delivered once, with its key, and marked.
#[tokio::test(flavor = "multi_thread")]
async fn replay_keeps_many_deliveries_in_flight_and_marks_each_after_its_own_2xx() {
    let dir = tempfile::tempdir().unwrap();
    let (n, expected) = generated_dlq(dir.path());
    let crm = crm_with_token().await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_millis(400)))
        .mount(&crm)
        .await;
    let mut c = replay_cmd(dir.path(), "specs/crm_sync.yaml", &crm.uri(), &[]);
    c.args(["--client-secret-env", "CRM_CLIENT_SECRET"]);
    let started = Instant::now();
    let o = run_async(c).await;
    let took = started.elapsed();
    let v = json_out(&o);
    let sent = expected.len() as u32;
    let one_at_a_time = Duration::from_millis(400) * sent;
    assert!(
        took < one_at_a_time / 3,
        "{sent} deliveries took {took:?}; one at a time is at least {one_at_a_time:?}"
    );
    let keys: Vec<String> = crm_posts(&crm).await.into_iter().map(|(k, _)| k).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "a key was sent twice");
    assert_eq!(unique, expected);
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), n as usize);
    let delivered = records
        .iter()
        .filter(|r| r["result"]["outcome"] == "delivered")
        .count();
    assert_eq!(delivered, expected.len());
    let markers = crate::common::files_under(dir.path())
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".replayed"))
        .count();
    assert_eq!(markers, expected.len());
}

// ---------------------------------------------------------------------------------------------
// S3 (moto on loopback) behaves like a folder

/// A moto S3 server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto on loopback. The only test that calls it is `#[ignore]`d by default (a clone with
/// Rust alone passes `cargo test`); run on purpose without moto, it fails and says why.
fn start_moto() -> Moto {
    let has_moto = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_moto,
        "moto is not installed: pip install 'moto[server]' (.ci/run installs the pinned version)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

fn aws_vars(endpoint: &str) -> BTreeMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

fn with_aws(mut c: Command, endpoint: &str) -> Command {
    for (k, v) in aws_vars(endpoint) {
        c.env(k, v);
    }
    c
}

/// Output of a command with the source's name removed, so folder and S3 runs compare.
fn normalised(o: &Output, source: &str) -> String {
    stdout(o).replace(source, "SOURCE")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (pip install 'moto[server]'); run: cargo test --test cli dlq:: -- --ignored (.ci/run does)"]
async fn s3_and_folder_sources_list_count_and_replay_alike() {
    let moto = start_moto();
    let bucket = "cxone-eventhub-dlq-prod";
    create_bucket(&moto.endpoint, bucket);
    let s3 = format!("s3://{bucket}/crm-sync-failed");
    let vars = aws_vars(&moto.endpoint);
    let records = fixture_records();
    tokio::task::spawn_blocking({
        let (s3, records) = (s3.clone(), records.clone());
        move || {
            let st = Store::open(&Source::parse(&s3).unwrap(), &vars).unwrap();
            for r in &records {
                store::write_record(&st, r).unwrap();
            }
        }
    })
    .await
    .unwrap();
    // The folder side is written by the same writer, so both stores use today's key layout
    // (`<day>/<rule>/<event>.json`), not the fixture's older one.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(bucket).join("crm-sync-failed");
    std::fs::create_dir_all(&folder).unwrap();
    let folder_s = folder.display().to_string();
    tokio::task::spawn_blocking({
        let (folder_s, records) = (folder_s.clone(), records.clone());
        move || {
            let st = Store::open(&Source::parse(&folder_s).unwrap(), &BTreeMap::new()).unwrap();
            for r in &records {
                store::write_record(&st, r).unwrap();
            }
        }
    })
    .await
    .unwrap();

    for args in [
        &["list", "--format", "json"][..],
        &["stats", "--format", "json"][..],
        &["list", "--reason", "NON_RETRYABLE_STATUS"][..],
        &["show", "evt-2003", "--format", "json"][..],
    ] {
        let run_on = |src: String| {
            let mut c = cxsync();
            c.arg("dlq").arg(args[0]).arg(&src).args(&args[1..]);
            with_aws(c, &moto.endpoint)
        };
        let a = run_async(run_on(folder_s.clone())).await;
        let b = run_async(run_on(s3.clone())).await;
        assert!(b.status.success(), "{args:?}: {}", stderr(&b));
        assert_eq!(normalised(&a, &folder_s), normalised(&b, &s3), "{args:?}");
        assert!(!stderr(&b).contains(SECRET));
    }

    // Dry runs agree, then a real replay from S3 writes markers into the bucket.
    let crm = accepting_crm().await;
    let dry = |src: &str| {
        with_aws(
            replay_cmd(
                Path::new(src),
                "fixtures/dlq/fixed.yaml",
                &crm.uri(),
                &["--dry-run"],
            ),
            &moto.endpoint,
        )
    };
    let a = run_async(dry(&folder_s)).await;
    let b = run_async(dry(&s3)).await;
    let (mut a, mut b) = (json_out(&a), json_out(&b));
    // $now() is the wall clock until the transform engine freezes it.
    for v in [&mut a, &mut b] {
        v["source"] = json!("SOURCE");
        for r in v["records"].as_array_mut().unwrap() {
            if let Some(p) = r["newPayload"].as_object_mut() {
                p.remove("syncTimestamp");
            }
        }
    }
    assert_eq!(a, b);

    let o = run_async(with_aws(
        replay_cmd(Path::new(&s3), "fixtures/dlq/fixed.yaml", &crm.uri(), &[]),
        &moto.endpoint,
    ))
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(crm_posts(&crm).await.len(), 5);
    let o = run_async(with_aws(
        replay_cmd(Path::new(&s3), "fixtures/dlq/fixed.yaml", &crm.uri(), &[]),
        &moto.endpoint,
    ))
    .await;
    let again = outcomes(&json_out(&o));
    assert_eq!(again["evt-2004"], "alreadyReplayed");
    assert_eq!(
        crm_posts(&crm).await.len(),
        5,
        "the resumed S3 replay resent nothing"
    );
}

/// Puts `body` at the raw `key` of a moto bucket (percent-encoded on the wire, so moto stores
/// keys no SDK would write: control characters, empty and `..` segments).
fn put_raw(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let path: String = key
        .split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /{bucket}/{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{key:?}: {resp}");
}

/// #101 on S3: keys `object_store` cannot read as a path (an ESC, an empty segment, `..`, `.`)
/// among many good records, in one page of the listing and at its edges, and an object that is
/// not JSON: each is reported once with its key escaped, every record is listed, counted and
/// judged for replay as from a folder holding only the good ones, and the exit is 1. (The
/// listing used to end at the first such key: exit 2, nothing listed.)
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (pip install 'moto[server]'); run: cargo test --test cli dlq:: -- --ignored (.ci/run does)"]
async fn s3_keys_a_listing_cannot_take_are_skipped_and_every_record_is_listed() {
    let moto = start_moto();
    let bucket = "cxone-eventhub-dlq-prod";
    create_bucket(&moto.endpoint, bucket);
    let s3 = format!("s3://{bucket}/crm-sync-failed");
    let vars = aws_vars(&moto.endpoint);
    // 40 good records (more than one halving of a page can hold between two bad keys).
    let mut records = Vec::new();
    for (i, r) in fixture_records().into_iter().cycle().take(40).enumerate() {
        let mut r = r;
        r.event_id = format!("{}-{i:02}", r.event_id);
        records.push(r);
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(bucket).join("crm-sync-failed");
    std::fs::create_dir_all(&folder).unwrap();
    let folder_s = folder.display().to_string();
    tokio::task::spawn_blocking({
        let (s3, folder_s, records) = (s3.clone(), folder_s.clone(), records.clone());
        move || {
            let st = Store::open(&Source::parse(&s3).unwrap(), &vars).unwrap();
            let fs = Store::open(&Source::parse(&folder_s).unwrap(), &BTreeMap::new()).unwrap();
            for r in &records {
                store::write_record(&st, r).unwrap();
                store::write_record(&fs, r).unwrap();
            }
        }
    })
    .await
    .unwrap();
    let p = "crm-sync-failed";
    for key in [
        format!("{p}/0000/bad\u{1b}[2J.json"),
        format!("{p}/2024/01/15//empty.json"),
        format!("{p}/2024/01/15/CRM_SYNC_RULE_ID/../up.json"),
        format!("{p}/2024/01/15/./dot.json"),
        format!("{p}/zzzz/\u{7}last.json"),
    ] {
        put_raw(&moto.endpoint, bucket, &key, b"{}");
    }
    put_raw(
        &moto.endpoint,
        bucket,
        &format!("{p}/2024/01/15/torn.json"),
        b"{\"eventId\"",
    );
    let bad = [
        "0000/bad\\u001b[2J.json",
        "2024/01/15//empty.json",
        "2024/01/15/CRM_SYNC_RULE_ID/../up.json",
        "2024/01/15/./dot.json",
        "zzzz/\\u0007last.json",
        "2024/01/15/torn.json",
    ];
    for args in [
        &["list", "--format", "json"][..],
        &["stats", "--format", "json"][..],
    ] {
        let run_on = |src: &str| {
            let mut c = cxsync();
            c.arg("dlq").arg(args[0]).arg(src).args(&args[1..]);
            with_aws(c, &moto.endpoint)
        };
        let a = run_async(run_on(&folder_s)).await;
        let b = run_async(run_on(&s3)).await;
        let err = stderr(&b);
        assert_eq!(b.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
        for key in bad {
            assert_eq!(
                err.lines()
                    .filter(|l| l.starts_with("warning: ") && l.contains(key))
                    .count(),
                1,
                "{args:?}: {key}: {err}"
            );
        }
        assert_eq!(err.matches("warning: ").count(), bad.len(), "{err}");
        assert_eq!(normalised(&a, &folder_s), normalised(&b, &s3), "{args:?}");
    }
    // The fixture's records share keys (one interaction, several events): replay refuses them
    // unless told to send the first of each (#218); the listing is what this test is about.
    let crm = crm_with_token().await;
    let a = run_async(with_aws(
        replay_cmd(
            Path::new(&folder_s),
            "fixtures/dlq/fixed.yaml",
            &crm.uri(),
            &["--dry-run", "--allow-duplicate-keys"],
        ),
        &moto.endpoint,
    ))
    .await;
    let b = run_async(with_aws(
        replay_cmd(
            Path::new(&s3),
            "fixtures/dlq/fixed.yaml",
            &crm.uri(),
            &["--dry-run", "--allow-duplicate-keys"],
        ),
        &moto.endpoint,
    ))
    .await;
    assert_eq!(b.status.code(), Some(1), "{}", stderr(&b));
    let count = |o: &Output| json_out(o)["records"].as_array().unwrap().len();
    assert_eq!(count(&b), records.len());
    assert_eq!(count(&a), count(&b));
}

/// A replay filter that matches no record (a typo in a CI job) says what the DLQ has and exits
/// 1, with `--dry-run` and without; a filter that matches says nothing of the kind.
#[test]
fn a_replay_filter_matching_no_record_names_what_the_dlq_has_and_exits_1() {
    let replay = |args: &[&str]| {
        let mut c = cxsync();
        c.args([
            "dlq",
            "replay",
            FIXTURE_STORE,
            "--spec",
            "fixtures/dlq/fixed.yaml",
        ])
        .args(args)
        .env("CRM_CLIENT_SECRET", SECRET);
        run(&mut c)
    };
    for extra in [&["--dry-run"][..], &[][..]] {
        let filter = [
            "--rule",
            "CRM_SYNC_RULE_IDX",
            "--target",
            "http://127.0.0.1:9/x",
        ];
        let o = replay(&[&filter[..], extra].concat());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("no record has rule `CRM_SYNC_RULE_IDX` (the DLQ has CRM_SYNC_RULE_ID; the spec has no such rule either)"),
            "{err}"
        );
    }
    let o = replay(&["--dry-run", "--event-type", "interaction.ended"]);
    assert!(!stderr(&o).contains("no record has"), "{}", stderr(&o));
}

/// #62: an event id and a CRM's response body holding terminal escapes (clear screen, colours,
/// a window title, a bidi override) reach the terminal escaped (`\u001b`), in the sim report's
/// example, `dlq list` and `dlq replay --dry-run`: one function, `diag::printable`.
#[test]
fn terminal_escapes_from_events_and_crm_bodies_are_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let id = "\u{1b}[2J\u{1b}[31mALL CLEAR\u{1b}[0m\u{1b}]0;pwned\u{7}\u{202e}gpj.exe";
    std::fs::write(
        dir.path().join("e.json"),
        json!({"event": {"id": id, "type": "case.closed", "occurredAt": "2024-05-05T05:05:05.5-07:00"}, "case": {"ref": "C-5"}})
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        r#"version: 1
name: escapes
channel: { name: Esc, destinationUri: "https://crm.example.org/v1/cases", auth: { type: none }, timeoutMilliseconds: 1000 }
idempotency: { key: "${case.ref}" }
retry: { maxRetries: 0, initialDelaySeconds: 1, maxDelaySeconds: 1, backoffMultiplier: 1.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: b }
rules:
  - { id: R, name: r, eventType: case.closed, transform: '{"ref": case.ref}', fixtures: [e.json] }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("esc.yaml"),
        "version: 1\nname: esc\nduration: 1m\nevents: { count: 0, fixtures: true }\nfaults:\n  - respond: { from: 0s, to: 10m, status: 503, body: \"\\e[2J\\e[32mOK\\e[0m\\r\\nX-Fake: 1\" }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = cxsync()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let sim = run(&["sim", "s.yaml", "--scenario", "esc.yaml", "--dlq-dir", "D"]);
    let list = run(&["dlq", "list", "D"]);
    let dry = run(&["dlq", "replay", "D", "--spec", "s.yaml", "--dry-run"]);
    assert!(
        sim.contains("last response 503 \\u001b[2J\\u001b[32mOK\\u001b[0m\\u000d\\u000aX-Fake: 1"),
        "{sim}"
    );
    for (what, out) in [
        ("sim", &sim),
        ("dlq list", &list),
        ("dlq replay --dry-run", &dry),
    ] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
            "{what}: {out:?}"
        );
        assert!(
            out.contains("\\u001b[31mALL CLEAR\\u001b[0m\\u001b]0;pwned\\u0007\\u202egpj.exe"),
            "{what}: {out}"
        );
    }
}

#[test]
fn a_time_window_that_ends_before_it_starts_is_a_usage_error() {
    for cmd in [
        vec![
            "dlq",
            "replay",
            FIXTURE_STORE,
            "--spec",
            "fixtures/dlq/fixed.yaml",
            "--dry-run",
        ],
        vec!["dlq", "list", FIXTURE_STORE],
        vec!["dlq", "stats", FIXTURE_STORE],
    ] {
        // Offsets and fractions: 14:10 in +01:00 is 13:10Z, after 13:00:00.5Z.
        for (since, until) in [
            ("2024-01-15T14:10:00+01:00", "2024-01-15T13:00:00.5Z"),
            ("2024-01-15T14:00:00Z", "2024-01-15T14:00:00Z"),
        ] {
            let out = run(cxsync()
                .args(&cmd)
                .args(["--since", since, "--until", until]));
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd:?} {since} {until}: {out:?}"
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("is not before --until"), "{err}");
        }
    }
    // A window in order is fine.
    let out = run(cxsync().args([
        "dlq",
        "list",
        FIXTURE_STORE,
        "--since",
        "2020-01-01T00:00:00Z",
        "--until",
        "2030-01-01T00:00:00.000000001+14:00",
    ]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// A spec of another integration for the fixture DLQ's events: its channel is `channel`.
fn other_channel_spec(dir: &Path, channel: &str) -> PathBuf {
    let spec = dir.join("other.yaml");
    std::fs::write(
        &spec,
        format!(
            r#"version: 1
name: other
channel: {{ name: {channel}, destinationUri: "https://crm.example.org/v1/interactions", auth: {{ type: oauth2_client_credentials, tokenEndpoint: "https://crm.example.org/oauth2/token", clientId: c, clientSecret: "${{env:CRM_CLIENT_SECRET}}", tokenCacheTtlSeconds: 3000 }}, timeoutMilliseconds: 2000 }}
idempotency: {{ key: "${{interaction.id}}_${{event.type}}" }}
retry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [503], nonRetryableStatusCodes: [400] }}
deadLetterQueue: {{ enabled: true, bucketName: b }}
rules:
  - {{ id: CRM_SYNC_RULE_ID, name: r, eventType: interaction.ended, transform: '{{"caseNumber": $string(interaction.id)}}' }}
"#
        ),
    )
    .unwrap();
    spec
}

/// #130: records carry their channel; a spec of another channel (another integration or
/// environment) is refused with both names, dry run or not, unless `--allow-other-channel`.
#[tokio::test(flavor = "multi_thread")]
async fn records_of_another_channel_are_refused_unless_allowed() {
    let (dir, src) = fixture_copy();
    let spec = other_channel_spec(dir.path(), "Pipedrive_Activities");
    let crm = accepting_crm().await;
    for extra in [&["--dry-run"][..], &[][..]] {
        let o = run_async(replay_cmd(&src, spec.to_str().unwrap(), &crm.uri(), extra)).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("dead-lettered on channel `CRM_Sync_Channel_Production` (7 record(s)), not on the spec's channel `Pipedrive_Activities`")
                && err.contains("--allow-other-channel"),
            "{err}"
        );
    }
    assert!(crm_posts(&crm).await.is_empty(), "nothing was sent");
    let o = run_async(replay_cmd(
        &src,
        spec.to_str().unwrap(),
        &crm.uri(),
        &["--dry-run", "--allow-other-channel"],
    ))
    .await;
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    // The spec that made them is not refused.
    let o = replay_fixed(&src, &crm, &["--dry-run"]).await;
    assert!(
        !stderr(&o).contains("another integration"),
        "{}",
        stderr(&o)
    );
}

/// #78: a replay takes the DLQ's lock (`replay.lock`, created exclusively, holding pid and
/// host); a second replay while it is held is refused naming the holder, and sends nothing; a
/// lock left by a process of this host that no longer runs is taken over; the lock is gone
/// once the replay ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_replay_of_one_dlq_is_locked_out() {
    let (_dir, src) = fixture_copy();
    let crm = accepting_crm().await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let lock = src.join("replay.lock");
    // A live holder: this test's own process.
    std::fs::write(
        &lock,
        json!({"pid": std::process::id(), "host": host, "startedAt": "2024-01-16T07:59:00Z"})
            .to_string(),
    )
    .unwrap();
    let o = replay_fixed(&src, &crm, &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is being replayed by another `cxsync dlq replay`")
            && err.contains(&format!("pid {} on host {host}", std::process::id()))
            && err.contains("replay.lock"),
        "{err}"
    );
    assert!(
        crm_posts(&crm).await.is_empty(),
        "a locked-out replay sends nothing"
    );
    assert!(lock.exists(), "another's lock is left alone");
    // A holder of this host that is gone: stale, taken over.
    std::fs::write(
        &lock,
        json!({"pid": 4_000_000_000u64, "host": host, "startedAt": "2024-01-16T07:00:00Z"})
            .to_string(),
    )
    .unwrap();
    let o = replay_fixed(&src, &crm, &[]).await;
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!crm_posts(&crm).await.is_empty());
    assert!(!lock.exists(), "the lock is released when the replay ends");
}

/// #130 (tester #179): an `--env` overlay that keeps the channel name and changes the URL is
/// another endpoint. Records name the environment and destination they were dead-lettered
/// under; replaying production's records with `--env staging` is refused (dry run or not)
/// unless `--allow-other-endpoint`, the spec and environment that made them replay as before,
/// and `--target` does not lift the check.
#[test]
fn records_meant_for_another_endpoint_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("events")).unwrap();
    std::fs::write(
        dir.path().join("events/act.json"),
        r#"{"event": {"id": "act-0001", "type": "activity.created", "occurredAt": "2026-03-01T09:30:00.125+01:00"}, "activity": {"id": "A-77", "subject": "Call back"}}"#,
    )
    .unwrap();
    let spec = dir.path().join("acts.yaml");
    std::fs::write(
        &spec,
        "version: 1\nname: acts\nchannel: { name: Activities, destinationUri: \"https://api.crm.example.com/v1/activities?api_token=abc\", auth: { type: none }, timeoutMilliseconds: 2000 }\nidempotency: { header: Idempotency-Key, key: \"${event.id}\" }\nretry: { maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [503], nonRetryableStatusCodes: [400] }\ndeadLetterQueue: { enabled: true, bucketName: acts-dlq }\nrules:\n  - { id: ACT, name: act, eventType: activity.created, transform: '{\"ref\": activity.id}', fixtures: [\"events/*.json\"] }\nenvironments:\n  staging:\n    channel: { destinationUri: \"https://api.crm-staging.example.com/v1/activities\" }\n",
    )
    .unwrap();
    let scenario = dir.path().join("all400.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: all400\nduration: 10s\nevents: { count: 4 }\nfaults:\n  - respond: { from: 0s, to: 1m, status: 400 }\nexpect:\n  deadLetteredByReason: { NON_RETRYABLE_STATUS: [1, 100] }\n",
    )
    .unwrap();
    let dlq = dir.path().join("dlq");
    let sim = run(cxsync()
        .args(["sim", spec.to_str().unwrap(), "--scenario"])
        .arg(&scenario)
        .arg("--dlq-dir")
        .arg(&dlq));
    assert!(
        stdout(&sim).contains("NON_RETRYABLE_STATUS"),
        "{}",
        stdout(&sim)
    );
    // Each record names the base spec and its endpoint, without the query's token.
    let scan = run(cxsync().args(["dlq", "list", dlq.to_str().unwrap(), "--format", "json"]));
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let mut record = None;
    for e in walk(&dlq) {
        if e.extension().is_some_and(|x| x == "json") {
            record = Some(std::fs::read_to_string(e).unwrap());
        }
    }
    let record: Value = serde_json::from_str(&record.expect("a record")).unwrap();
    assert_eq!(record["environment"], Value::Null);
    assert_eq!(
        record["destination"],
        "https://api.crm.example.com/v1/activities"
    );
    assert!(!record.to_string().contains("abc"), "{record}");
    let replay = |extra: &[&str]| {
        run(cxsync()
            .args([
                "dlq",
                "replay",
                dlq.to_str().unwrap(),
                "--spec",
                spec.to_str().unwrap(),
            ])
            .args(extra))
    };
    for extra in [
        &["--env", "staging", "--dry-run"][..],
        &["--env", "staging", "--target", "http://127.0.0.1:9/x"][..],
    ] {
        let o = replay(extra);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("on their way to https://api.crm.example.com/v1/activities (the base spec, ")
                && err.contains("not to the spec's endpoint https://api.crm-staging.example.com/v1/activities (environment `staging`)")
                && err.contains("--allow-other-endpoint"),
            "{extra:?}: {err}"
        );
    }
    let o = replay(&["--env", "staging", "--dry-run", "--allow-other-endpoint"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("crm-staging"), "{}", stdout(&o));
    // The spec that made them is not refused.
    let o = replay(&["--dry-run"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    // Records made under staging name it, and replay under staging as before.
    let staged = dir.path().join("dlq-staging");
    run(cxsync()
        .args([
            "sim",
            spec.to_str().unwrap(),
            "--env",
            "staging",
            "--scenario",
        ])
        .arg(&scenario)
        .arg("--dlq-dir")
        .arg(&staged));
    let o = run(cxsync()
        .args([
            "dlq",
            "replay",
            staged.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
        ])
        .args(["--env", "staging", "--dry-run"]));
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(cxsync()
        .args([
            "dlq",
            "replay",
            staged.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
        ])
        .args(["--dry-run"]));
    assert!(
        stderr(&o).contains("(environment `staging`, "),
        "{}",
        stderr(&o)
    );
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Tester #200: a replay interrupted by SIGINT or SIGTERM while records are in flight stops at
/// once, prints what was sent and what is left with the command that resumes it, exits 128 + the
/// signal's number (130, 143), writes markers for exactly the records whose 2xx was in, releases
/// its lock, and the same command then sends exactly the rest.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_replay_says_what_was_sent_and_what_is_left_and_resumes_exactly() {
    for (signal, name, code) in [
        (libc::SIGINT, "SIGINT", 130),
        (libc::SIGTERM, "SIGTERM", 143),
    ] {
        let (_dir, src) = fixture_copy();
        let crm = crm_with_token().await;
        // Two records are taken at once; every later post hangs for a minute, so those records
        // are still in flight (on their first attempt or a retry) when the signal comes.
        Mock::given(method("POST"))
            .and(path("/v1/interactions"))
            .respond_with(ResponseTemplate::new(201))
            .up_to_n_times(2)
            .named("first two accepted")
            .mount(&crm)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/interactions"))
            .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(60)))
            .named("then hanging")
            .mount(&crm)
            .await;
        let mut c = replay_cmd(
            &src,
            "fixtures/dlq/fixed.yaml",
            &crm.uri(),
            &["--concurrency", "2"],
        );
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().expect("cxsync runs");
        // Four records sent: two answered, two hanging.
        let began = Instant::now();
        while crm_posts(&crm).await.len() < 4 {
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "the replay never sent four records"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let signalled = Instant::now();
        let o = run_async_child(child).await;
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "{name}: the replay did not stop at once ({:?})",
            signalled.elapsed()
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{name}: {err}");
        let v = json_out(&o);
        let out = outcomes(&v);
        let with = |what: &str| -> BTreeSet<String> {
            out.iter()
                .filter(|(_, o)| *o == what)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let (delivered, in_flight, left) =
            (with("delivered"), with("interrupted"), with("notAttempted"));
        assert_eq!(
            (delivered.len(), in_flight.len(), left.len()),
            (2, 2, 1),
            "{name}: {out:?}"
        );
        assert_eq!(with("skipped").len(), 2, "{out:?}");
        // Markers for exactly the records whose 2xx was in.
        let marked: BTreeSet<String> = walk(&src)
            .iter()
            .filter_map(|p| p.file_name()?.to_str()?.strip_suffix(".json.replayed"))
            .map(str::to_string)
            .collect();
        assert_eq!(marked, delivered, "{name}");
        // What a person reads: the signal, what was sent, what is left, and the resume command.
        assert!(
            err.contains(&format!("interrupted by {name}"))
                && err.contains("4 sent")
                && err.contains("2 delivered")
                && err.contains("2 in flight")
                && err.contains("1 not sent")
                && err.contains("3 left"),
            "{name}: {err}"
        );
        let resume = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("resume: "))
            .unwrap_or_else(|| panic!("{name}: no resume command:\n{err}"));
        assert!(
            resume.contains("dlq replay")
                && resume.contains(&*src.to_string_lossy())
                && resume.contains("--concurrency 2"),
            "{resume}"
        );
        assert_eq!(v["interrupted"]["signal"], name);
        assert_eq!(v["interrupted"]["exitCode"], code);
        assert_eq!(v["interrupted"]["left"], 3);
        assert!(
            !src.join("replay.lock").exists(),
            "{name}: the lock is released"
        );
        assert!(!err.contains(SECRET) && !stdout(&o).contains(SECRET));

        // The resume sends exactly what was in flight or not sent, once each.
        crm.reset().await;
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "tok-2", "expires_in": 3600})),
            )
            .mount(&crm)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/interactions"))
            .respond_with(ResponseTemplate::new(201))
            .expect(3)
            .named("the rest, once each")
            .mount(&crm)
            .await;
        let o = replay_fixed(&src, &crm, &["--concurrency", "2"]).await;
        let again = outcomes(&json_out(&o));
        let resent: BTreeSet<String> = again
            .iter()
            .filter(|(_, o)| *o == "delivered")
            .map(|(id, _)| id.clone())
            .collect();
        assert_eq!(resent, in_flight.union(&left).cloned().collect(), "{name}");
        let originals: BTreeMap<String, String> = fixture_records()
            .into_iter()
            .map(|r| (r.event_id, r.idempotency_key.unwrap()))
            .collect();
        let keys: BTreeSet<String> = crm_posts(&crm).await.into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            resent.iter().map(|id| originals[id].clone()).collect(),
            "{name}: resent with their original keys"
        );
        assert!(delivered.iter().all(|id| again[id] == "alreadyReplayed"));
    }
}

async fn run_async_child(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("cxsync runs"))
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// #211: batches the CRM wrote but never confirmed

/// A spec whose channel batches four events to a CRM that deduplicates on the key header, and
/// times out at 1 s; its 12 fixture events have ids and keys of their own.
fn batching_spec(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("events")).unwrap();
    for i in 0..12 {
        std::fs::write(
            dir.join("events").join(format!("e{i:02}.json")),
            format!(
                r#"{{"event": {{"id": "tkt-{i:02}", "type": "ticket.closed", "occurredAt": "2026-11-30T08:01:{i:02}.250+01:00"}}, "ticket": {{"ref": "TK-{i:04}", "queue": "billing"}}}}"#
            ),
        )
        .unwrap();
    }
    let spec = dir.join("tickets.yaml");
    std::fs::write(
        &spec,
        "version: 1\nname: tickets\nchannel:\n  name: Tickets\n  destinationUri: https://crm.example.org/api/tickets\n  auth: { type: none }\n  timeoutMilliseconds: 1000\n  batchSize: 4\n  batchIntervalSeconds: 1\nidempotency: { header: Idempotency-Key, key: \"${event.id}\" }\nretry: { maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 1, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 413, 422] }\ndeadLetterQueue: { enabled: true, bucketName: tickets-dlq }\ncrm: { profile: generic, acceptsArrays: true, idempotency: { by: header } }\nrules:\n  - { id: TICKETS, name: tickets, eventType: ticket.closed, transform: '{\"ref\": ticket.ref, \"queue\": ticket.queue}', fixtures: [\"events/*.json\"] }\n",
    )
    .unwrap();
    spec
}

/// `cxsync mock-crm` on a free port, stopped (SIGINT) when asked, its tally returned.
struct MockCrmProcess {
    child: Child,
    url: String,
}

impl MockCrmProcess {
    fn start(spec: &Path, scenario: &Path) -> MockCrmProcess {
        use std::io::BufRead;
        let mut child = cxsync()
            .args(["mock-crm", "--port", "0", "--spec"])
            .arg(spec)
            .arg("--scenario")
            .arg(scenario)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut url = None;
        loop {
            let mut l = String::new();
            assert!(out.read_line(&mut l).unwrap() > 0, "mock-crm exited early");
            if l.trim_start().starts_with("CRM writes") {
                url = l.split_whitespace().last().map(str::to_string);
            }
            if l.starts_with("Ctrl-C") {
                break;
            }
        }
        MockCrmProcess {
            child,
            url: url.unwrap(),
        }
    }

    /// The last tally line (`requests … · side effects N · deduplicated M · …`).
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let out = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.rsplit(['\n', '\r'])
            .find(|l| l.contains("side effects"))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for MockCrmProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `label` in a tally line.
fn tally(line: &str, label: &str) -> u64 {
    line.split(label)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in {line:?}"))
}

/// #211: a CRM that deduplicates on the key header writes every batch, but its answers come
/// after the hub's timeout: each batch is dead-lettered, its events' records naming the batch.
/// Virtual time and `sim --http` write the same records and say all were in fact written.
/// Against `cxsync mock-crm` holding those batches, `dlq replay` re-sends each batch whole with
/// the key the CRM saw, so each record is written exactly once (one by one with their own keys,
/// as before, every record was written twice).
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_written_but_unanswered_is_replayed_whole_and_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = batching_spec(dir.path());
    let late = dir.path().join("late.yaml");
    std::fs::write(
        &late,
        "version: 1\nname: late\nduration: 30s\nevents: { count: 12, fixtures: true }\ncrm: { latency: { p50Ms: 3000, p99Ms: 3000 } }\n",
    )
    .unwrap();
    let mut dlqs = Vec::new();
    for (mode, flags) in [("virtual", vec![]), ("http", vec!["--http"])] {
        let d = dir.path().join(format!("dlq-{mode}"));
        let report = dir.path().join(format!("{mode}.json"));
        let o = run(cxsync()
            .arg("sim")
            .arg(&spec)
            .arg("--scenario")
            .arg(&late)
            .arg("--dlq-dir")
            .arg(&d)
            .arg("--report")
            .arg(&report)
            .args(&flags));
        assert_eq!(o.status.code(), Some(1), "{mode}: {}", stdout(&o));
        let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(
            rep["deadLetteredButApplied"], 24,
            "{mode}: {}",
            rep["totals"]
        );
        let files: BTreeMap<String, String> = crate::common::files_under(&d)
            .into_iter()
            .map(|(p, bytes)| {
                (
                    p.to_string_lossy().into_owned(),
                    String::from_utf8(bytes).unwrap(),
                )
            })
            .collect();
        dlqs.push(files);
    }
    assert_eq!(
        dlqs[0], dlqs[1],
        "virtual time and sim --http wrote other records"
    );
    let records: Vec<Record> = dlqs[0]
        .values()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    assert_eq!(records.len(), 24);
    assert!(records
        .iter()
        .all(|r| r.batch.as_ref().is_some_and(|b| b.maybe_applied)));
    // The CRM holds every batch: the hub's first attempts, written, their answers lost.
    let quiet = dir.path().join("quiet.yaml");
    std::fs::write(
        &quiet,
        "version: 1\nname: quiet\nduration: 10m\nevents: { count: 1 }\ncrm: { latency: { p50Ms: 1, p99Ms: 2 } }\n",
    )
    .unwrap();
    let mock = MockCrmProcess::start(&spec, &quiet);
    let mut batches: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for r in &records {
        let b = r.batch.as_ref().unwrap();
        batches
            .entry((r.dead_lettered_at.clone(), b.idempotency_key.clone()))
            .or_default()
            .push(r);
    }
    assert!(batches.len() < records.len(), "events went in batches");
    for ((_, key), members) in &batches {
        assert_eq!(
            members.len() as u32,
            members[0].batch.as_ref().unwrap().size,
            "{key}"
        );
    }
    let client = reqwest::Client::new();
    for ((_, key), mut members) in batches.clone() {
        members.sort_by_key(|r| r.batch.as_ref().unwrap().index);
        let body: Vec<&Value> = members
            .iter()
            .map(|r| r.payload.as_ref().unwrap())
            .collect();
        let r = client
            .post(&mock.url)
            .header("Idempotency-Key", key)
            .body(serde_json::to_string(&body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let source = dir.path().join("dlq-virtual");
    let o = run_async({
        let mut c = cxsync();
        c.args(["dlq", "replay"])
            .arg(&source)
            .arg("--spec")
            .arg(&spec)
            .args(["--target", &mock.url, "--format", "json"]);
        c
    })
    .await;
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let line = mock.stop();
    // Each record written once: by the hub's attempts; the replay's batches were recognised.
    assert_eq!(tally(&line, "side effects"), 24, "{line}");
    assert_eq!(tally(&line, "deduplicated"), batches.len() as u64, "{line}");
}

// ---------------------------------------------------------------------------------------------
// #218: records that would go with one idempotency key

/// The fixture DLQ plus a second record of evt-2003 from another rule (two rules matched one
/// event); `edit` changes that record's JSON. Returns (tempdir, store root, the shared key).
fn two_rule_copy(edit: impl Fn(&mut Value)) -> (tempfile::TempDir, PathBuf, String) {
    let (dir, src) = fixture_copy();
    let day = src.join("2024/01/15");
    let mut rec: Value =
        serde_json::from_slice(&std::fs::read(day.join("evt-2003.json")).unwrap()).unwrap();
    let key = rec["idempotencyKey"].as_str().unwrap().to_string();
    rec["ruleId"] = json!("SECOND_RULE");
    edit(&mut rec);
    std::fs::create_dir_all(day.join("SECOND_RULE")).unwrap();
    std::fs::write(
        day.join("SECOND_RULE/evt-2003.json"),
        serde_json::to_vec_pretty(&rec).unwrap(),
    )
    .unwrap();
    (dir, src, key)
}

fn markers_under(dir: &Path) -> Vec<PathBuf> {
    crate::common::files_under(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".replayed"))
        .collect()
}

#[tokio::test]
async fn records_sharing_a_key_are_refused_with_exit_1_and_nothing_sent() {
    let (_dir, src, key) = two_rule_copy(|_| {});
    let crm = accepting_crm().await;
    for extra in [&["--dry-run"][..], &[][..]] {
        let out = replay_fixed(&src, &crm, extra).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("shared idempotency key"), "{err}");
        assert!(
            err.contains(&format!(
                "key {key}: evt-2003 (rule CRM_SYNC_RULE_ID), evt-2003 (rule CRM_SYNC_RULE_ID)"
            )) || err.contains(&format!("key {key}: evt-2003")),
            "{err}"
        );
        assert!(
            err.contains("CX030") && err.contains("--allow-duplicate-keys"),
            "{err}"
        );
        assert!(!err.contains(SECRET) && !stdout(&out).contains(SECRET));
    }
    assert!(crm_posts(&crm).await.is_empty(), "nothing is sent");
    assert!(markers_under(&src).is_empty());
}

#[tokio::test]
async fn with_allow_duplicate_keys_the_first_is_delivered_and_the_other_not_applied() {
    let (_dir, src, key) = two_rule_copy(|_| {});
    let crm = accepting_crm().await;
    let out = replay_fixed(&src, &crm, &["--allow-duplicate-keys"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a record is left: {}",
        stderr(&out)
    );
    let v = json_out(&out);
    let mine: Vec<&Value> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["eventId"] == "evt-2003")
        .collect();
    assert_eq!(mine.len(), 2, "{v}");
    let delivered = mine
        .iter()
        .filter(|r| r["result"]["outcome"] == "delivered")
        .count();
    assert_eq!(delivered, 1, "{v}");
    let held = mine
        .iter()
        .find(|r| r["result"]["outcome"] != "delivered")
        .unwrap();
    let text = held["result"].to_string();
    assert!(
        text.contains(&format!(
            "not applied: duplicate key {key} (already sent by evt-2003"
        )),
        "{text}"
    );
    let posts = crm_posts(&crm).await;
    assert_eq!(
        posts.iter().filter(|(k, _)| *k == key).count(),
        1,
        "{posts:?}"
    );
    let day = src.join("2024/01/15");
    let mine_marked = [
        day.join("evt-2003.json.replayed"),
        day.join("SECOND_RULE/evt-2003.json.replayed"),
    ]
    .iter()
    .filter(|p| p.exists())
    .count();
    assert_eq!(mine_marked, 1, "one marker: {:?}", markers_under(&src));
}

#[tokio::test]
async fn records_of_one_event_with_distinct_keys_are_both_delivered() {
    let (_dir, src, key) = two_rule_copy(|r| {
        let k = format!("{}_SECOND_RULE", r["idempotencyKey"].as_str().unwrap());
        r["idempotencyKey"] = json!(k);
    });
    let crm = accepting_crm().await;
    let out = replay_fixed(&src, &crm, &[]).await;
    let v = json_out(&out);
    let delivered = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["eventId"] == "evt-2003" && r["result"]["outcome"] == "delivered")
        .count();
    assert_eq!(delivered, 2, "{v}");
    let keys: BTreeSet<String> = crm_posts(&crm).await.into_iter().map(|p| p.0).collect();
    assert!(keys.contains(&key) && keys.contains(&format!("{key}_SECOND_RULE")));
}

#[tokio::test]
async fn a_batchs_members_share_its_key_and_are_not_refused() {
    let (_dir, src) = fixture_copy();
    let day = src.join("2024/01/15");
    let ids = ["evt-2003", "evt-2004"];
    let mut recs: Vec<Value> = ids
        .iter()
        .map(|id| {
            serde_json::from_slice(&std::fs::read(day.join(format!("{id}.json"))).unwrap()).unwrap()
        })
        .collect();
    let key = recs
        .iter()
        .map(|r| r["idempotencyKey"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let at = recs[0]["deadLetteredAt"].clone();
    for (i, r) in recs.iter_mut().enumerate() {
        r["deadLetteredAt"] = at.clone();
        r["batch"] = json!({"idempotencyKey": key, "index": i, "size": 2, "maybeApplied": true});
        std::fs::write(
            day.join(format!("{}.json", ids[i])),
            serde_json::to_vec_pretty(r).unwrap(),
        )
        .unwrap();
    }
    let crm = accepting_crm().await;
    let out = replay_fixed(&src, &crm, &[]).await;
    let err = stderr(&out);
    assert!(!err.contains("shared idempotency key"), "{err}");
    let v = json_out(&out);
    let o = outcomes(&v);
    assert_eq!(o["evt-2003"], "delivered", "{v}");
    assert_eq!(o["evt-2004"], "delivered", "{v}");
    let posts = crm_posts(&crm).await;
    assert_eq!(
        posts.iter().filter(|(k, _)| *k == key).count(),
        1,
        "{posts:?}"
    );
}

/// #232: a token endpoint that refuses the first token request with a 4xx that does not heal by
/// waiting (a wrong `--token-url`: 404 with an empty body; wrong credentials: 401
/// `invalid_client`) is a configuration error: one line naming the URL and the status with a
/// hint, exit 2, no CRM request, no record changed and no secret printed; not one
/// `TOKEN_REQUEST_FAILED` line per record.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_refusing_the_first_request_stops_the_replay_before_anything_is_sent() {
    for (status, body, shown) in [
        (404, "", "404:"),
        (401, r#"{"error":"invalid_client"}"#, "401 (invalid_client)"),
    ] {
        let (_dir, src) = fixture_copy();
        let before = crate::common::files_under(&src);
        let crm = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .expect(1)
            .named("the token endpoint refuses")
            .mount(&crm)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/interactions"))
            .respond_with(ResponseTemplate::new(201))
            .expect(0)
            .named("no record is sent")
            .mount(&crm)
            .await;
        let o = run_async(replay_cmd(&src, "fixtures/dlq/fixed.yaml", &crm.uri(), &[])).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{status}: {err}");
        let url = format!("{}/oauth2/token", crm.uri());
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(&url)).collect();
        assert_eq!(lines.len(), 1, "{status}: {err}");
        assert!(
            lines[0].contains(shown) && lines[0].contains("check --token-url / client id / secret"),
            "{status}: {err}"
        );
        assert!(!err.contains("TOKEN_REQUEST_FAILED"), "{err}");
        for s in [stdout(&o), err.clone()] {
            assert!(!s.contains(SECRET), "{s}");
        }
        assert_eq!(crate::common::files_under(&src), before, "records changed");
        crm.verify().await;
    }
}

/// #232: the check costs a working token endpoint nothing: the token it grants is the one the
/// deliveries use, one token request in all.
#[tokio::test(flavor = "multi_thread")]
async fn a_working_token_endpoint_is_asked_once_for_a_whole_replay() {
    let (_dir, src) = fixture_copy();
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok-1", "expires_in": 3600})),
        )
        .expect(1)
        .named("one token request")
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/interactions"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(201))
        .named("the granted token is used")
        .mount(&crm)
        .await;
    let o = replay_fixed(&src, &crm, &[]).await;
    let out = outcomes(&json_out(&o));
    // The fixture's two records the fixed spec does not save are skipped, not sent.
    assert_eq!(out.values().filter(|v| *v == "delivered").count(), 5);
    assert!(
        out.values().all(|v| v == "delivered" || v == "skipped"),
        "{out:?}\n{}",
        stderr(&o)
    );
    crm.verify().await;
}

/// #251: replay knows the spec's deduplication (`crm::dedup`, as `sim` does). Against a CRM that
/// does not deduplicate, every record it would send that the CRM may already hold (its last
/// attempt timed out, was reset or got no 4xx; never one refused with a 4xx or never sent) says
/// so in the dry run, per record and in the summary, and a replay warns before it sends; a CRM
/// that deduplicates by header gets no such warning. The records are counted independently from
/// their files.
#[test]
fn replay_against_a_crm_that_does_not_deduplicate_warns_of_records_it_may_write_again() {
    // The spec's files (`../../specs/…`) beside a copy of it.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("specs"), &dir.path().join("specs"));
    std::fs::write(dir.path().join("cxsync.toml"), "").unwrap();
    let at = dir.path().join("fixtures/dlq");
    std::fs::create_dir_all(&at).unwrap();
    let fixed = std::fs::read_to_string(root().join("fixtures/dlq/fixed.yaml")).unwrap();
    assert!(
        fixed.contains("  idempotency:\n    by: header\n"),
        "{fixed}"
    );
    let header = at.join("header.yaml");
    std::fs::write(&header, &fixed).unwrap();
    let none = at.join("none.yaml");
    std::fs::write(
        &none,
        fixed.replace(
            "  idempotency:\n    by: header\n",
            "  idempotency:\n    by: none\n",
        ),
    )
    .unwrap();
    let src = root().join(FIXTURE_STORE);
    let human = |spec: &Path| {
        run(cxsync()
            .args(["dlq", "replay"])
            .arg(&src)
            .arg("--spec")
            .arg(spec)
            .args([
                "--dry-run",
                "--target",
                "http://127.0.0.1:9/v1/interactions",
            ])
            .args(["--now", "2024-01-16T08:00:00Z"])
            .env("CRM_CLIENT_SECRET", SECRET))
    };
    let json = json_out(&dry_run(
        &src,
        none.to_str().unwrap(),
        "http://127.0.0.1:9/v1/interactions",
    ));
    let sent: BTreeSet<String> = deliverable(&json);
    // Independently: sent, and its one attempt may have been written.
    let expected: BTreeSet<String> = fixture_records()
        .into_iter()
        .filter(|r| sent.contains(&r.event_id))
        .filter(|r| {
            r.attempts > 0
                && r.last_status
                    .map_or(r.last_error.is_some(), |s| !(400..500).contains(&s))
        })
        .map(|r| r.event_id)
        .collect();
    assert!(
        !expected.is_empty(),
        "the fixture has a 5xx record: {json:#}"
    );
    assert!(
        expected.len() < sent.len(),
        "and one refused with a 4xx or never sent: {json:#}"
    );
    let flagged: BTreeSet<String> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mayBeWritten"] == true && sent.contains(r["eventId"].as_str().unwrap()))
        .map(|r| r["eventId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(flagged, expected);

    let out = stdout(&human(&none));
    let warned = out
        .matches("  warning may already be in the CRM (its last attempt timed out, was reset or got no 4xx), which does not deduplicate: replaying may write it again")
        .count();
    assert_eq!(warned, expected.len(), "{out}");
    assert!(
        out.contains(&format!(
            "warning: {} record(s) may already be in the CRM",
            expected.len()
        )),
        "{out}"
    );
    let out = stdout(&human(&header));
    assert!(!out.contains("may already be in the CRM"), "{out}");
}
