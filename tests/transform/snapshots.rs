//! `cxsync test`: snapshots of the example spec, and what a user sees when a mapping changes.

use std::path::{Path, PathBuf};

use crate::common::{cxsync, edit_file as edit};

/// A copy of the example project to change freely.
fn project() -> tempfile::TempDir {
    crate::common::edited_example(&[])
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cxsync().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn snap(dir: &Path, fixture: &str) -> PathBuf {
    dir.join("snapshots/crm_sync/CRM_SYNC_RULE_ID")
        .join(format!("{fixture}.snap"))
}

#[test]
fn the_example_spec_passes_against_its_committed_snapshots() {
    let dir = project();
    let (code, out, err) = run(dir.path(), &["test", "specs/crm_sync.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok       crm_sync/CRM_SYNC_RULE_ID/voice_resolved\n"),
        "{out}"
    );
    assert!(out.contains("sms_filtered (filtered)"), "{out}");
    assert!(out.contains("5 passed, 0 failed"), "{out}");
}

#[test]
fn the_default_specs_are_specs_star_yaml() {
    let dir = project();
    let (code, out, err) = run(dir.path(), &["test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 passed, 0 failed"), "{out}");
}

#[test]
fn a_one_character_change_to_a_transform_fails_with_a_readable_diff_and_a_new_file() {
    let dir = project();
    edit(
        &dir.path()
            .join("specs/transforms/interaction_ended.jsonata"),
        "/ 1000))",
        "/ 100))",
    );
    let (code, out, _) = run(dir.path(), &["test", "specs/crm_sync.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED   crm_sync/CRM_SYNC_RULE_ID/voice_resolved"),
        "{out}"
    );
    assert!(out.contains("-  \"durationSeconds\": 390,\n"), "{out}");
    assert!(out.contains("+  \"durationSeconds\": 3904,\n"), "{out}");
    assert!(out.contains("@@ "), "{out}");
    let new = dir
        .path()
        .join("snapshots/crm_sync/CRM_SYNC_RULE_ID/voice_resolved.snap.new");
    assert!(std::fs::read_to_string(&new).unwrap().contains("3904"));
    // The filtered fixture is unaffected by the mapping and still passes.
    assert!(
        out.contains("ok       crm_sync/CRM_SYNC_RULE_ID/sms_filtered (filtered)"),
        "{out}"
    );
    assert!(out.contains("1 passed, 4 failed"), "{out}");

    // --update accepts every change and removes the .new files; the next run passes.
    let (code, out, _) = run(dir.path(), &["test", "--update"]);
    assert_eq!(code, 0, "{out}");
    assert!(!new.exists());
    assert!(std::fs::read_to_string(snap(dir.path(), "voice_resolved"))
        .unwrap()
        .contains("3904"));
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_missing_snapshot_fails_and_is_written_as_new() {
    let dir = project();
    std::fs::remove_file(snap(dir.path(), "email_unicode")).unwrap();
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no snapshot yet"), "{out}");
    let new = std::fs::read_to_string(
        dir.path()
            .join("snapshots/crm_sync/CRM_SYNC_RULE_ID/email_unicode.snap.new"),
    )
    .unwrap();
    assert!(
        new.contains("\"queueName\": \"Support – Nordics 🇸🇪\""),
        "{new}"
    );
}

#[test]
fn a_condition_change_shows_the_event_as_filtered_with_the_condition() {
    let dir = project();
    edit(
        &dir.path().join("specs/crm_sync.yaml"),
        "[voice, webchat, email]",
        "[voice, email]",
    );
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("+# filtered by: conditions.interaction.channel.type: \"webchat\" is not one of [\"voice\",\"email\"]"),
        "{out}"
    );
}

#[test]
fn snapshots_use_the_frozen_clock_and_now_overrides_it() {
    let dir = project();
    // Without the redaction, the frozen instant is visible in the snapshot.
    edit(
        &dir.path().join("specs/crm_sync.yaml"),
        "redact: [syncTimestamp]",
        "redact: []",
    );
    let (_, out, _) = run(dir.path(), &["test", "--update"]);
    let text = std::fs::read_to_string(snap(dir.path(), "voice_resolved")).unwrap();
    assert!(
        text.contains("\"syncTimestamp\": \"2024-01-15T14:00:00.000Z\""),
        "{out}{text}"
    );
    let (code, out, _) = run(dir.path(), &["test", "--now", "2030-06-01T00:00:00Z"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("+  \"syncTimestamp\": \"2030-06-01T00:00:00.000Z\""),
        "{out}"
    );
    let (code, _, err) = run(dir.path(), &["test", "--now", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("not an RFC 3339 instant"), "{err}");
}

#[test]
fn an_output_that_breaks_the_crm_schema_names_fixture_pointer_and_keyword() {
    let dir = project();
    edit(
        &dir.path().join("specs/crm-case.schema.json"),
        "\"queueName\": { \"type\": \"string\" }",
        "\"queueName\": { \"type\": \"string\", \"maxLength\": 10 }",
    );
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    let block = out
        .split("FAILED   crm_sync/CRM_SYNC_RULE_ID/email_unicode\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        block.contains("output does not match crm.payloadSchema at `/metadata/queueName` (keyword `maxLength`)"),
        "{out}"
    );
    assert!(
        out.contains("ok       crm_sync/CRM_SYNC_RULE_ID/voice_resolved"),
        "{out}"
    );
    // `--update` cannot accept a schema failure, so neither run offers it; both say what can.
    for args in [&["test"][..], &["test", "--update"]] {
        let (code, out, _) = run(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(!out.contains("accept all with"), "{args:?}: {out}");
        assert!(
            out.contains("2 case(s) fail on their own output, not on a snapshot: fix the transform, `crm.payloadSchema`"),
            "{args:?}: {out}"
        );
    }
    // A snapshot change beside it still gets the hint to accept it.
    edit(
        &dir.path()
            .join("specs/transforms/interaction_ended.jsonata"),
        ": \"UNKNOWN_CONTACT\"",
        ": \"NO_CONTACT\"",
    );
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("accept all with `cxsync test --update`"),
        "{out}"
    );
    assert!(out.contains("2 case(s) fail on their own output"), "{out}");
}

#[test]
fn an_output_above_max_payload_bytes_fails_with_payload_too_large() {
    let dir = project();
    edit(
        &dir.path().join("specs/crm_sync.yaml"),
        "maxPayloadBytes: 524288",
        "maxPayloadBytes: 200",
    );
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PAYLOAD_TOO_LARGE: payload is 30")
            && out.contains("the limit (crm.maxPayloadBytes) is 200 bytes"),
        "{out}"
    );
}

#[test]
fn an_evaluation_error_fails_the_fixture_with_its_code() {
    let dir = project();
    edit(
        &dir.path()
            .join("specs/transforms/interaction_ended.jsonata"),
        "\"channelType\": interaction.channel.type,",
        "\"channelType\": interaction.channel.type - 1,",
    );
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("transform failed: T2001: "), "{out}");
}

#[test]
fn junit_reports_every_case_and_is_written_even_on_failure() {
    let dir = project();
    std::fs::remove_file(snap(dir.path(), "ivr_no_agent")).unwrap();
    let (code, _, _) = run(dir.path(), &["test", "--junit", "out/report.xml"]);
    assert_eq!(code, 1);
    let xml = std::fs::read_to_string(dir.path().join("out/report.xml")).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("tests=\"5\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("<testcase classname=\"CRM_SYNC_RULE_ID\" name=\"voice_resolved\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"no snapshot yet; wrote "),
        "{xml}"
    );
}

#[test]
fn review_refuses_without_a_terminal() {
    let dir = project();
    let (code, _, err) = run(dir.path(), &["test", "--review"]);
    assert_eq!(code, 2);
    assert!(err.contains("--review asks on a terminal"), "{err}");
}

#[test]
fn an_inline_transform_that_does_not_compile_is_a_spec_error_with_its_code() {
    let dir = project();
    edit(
        &dir.path().join("specs/crm_sync.yaml"),
        "transformFile: transforms/interaction_ended.jsonata",
        "transform: \"{ 'a': }\"",
    );
    let (code, out, err) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("S0211"), "{err}");
    assert!(err.contains("specs/crm_sync.yaml"), "{err}");
}

#[test]
fn a_snapshot_no_fixture_produces_is_reported_stale_and_removed_by_update() {
    let dir = project();
    let old = snap(dir.path(), "voice_resolved");
    std::fs::rename(
        dir.path().join("fixtures/events/voice_resolved.json"),
        dir.path().join("fixtures/events/voice_renamed.json"),
    )
    .unwrap();
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stale    snapshots/crm_sync/CRM_SYNC_RULE_ID/voice_resolved.snap (no rule and fixture produce it"),
        "{out}"
    );
    let (code, out, _) = run(dir.path(), &["test", "--update"]);
    assert_eq!(code, 0, "{out}");
    assert!(!old.exists());
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("stale"), "{out}");
}

/// A case whose transform runs past the engine's wall-clock guard (D1012) has no verdict, as in
/// `sim`: its outcome would depend on the machine's speed, so `test` exits 2 naming the guard
/// instead of failing the case (exit 1) where a faster machine would pass it (tester #59). The
/// recursion nests deeper than the compiled path goes, so the engine, with its guard, runs it.
#[test]
fn a_case_past_the_wall_clock_guard_has_no_verdict_and_exits_2_like_sim() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("events")).unwrap();
    std::fs::write(
        dir.path().join("slow.yaml"),
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
    )
    .unwrap();
    std::fs::write(
        dir.path().join("events/a.json"),
        r#"{"event": {"id": "E-1", "type": "call.finished"}, "call": {"ref": "Q1", "n": 3}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("events/b.json"),
        r#"{"event": {"id": "E-2", "type": "call.finished"}, "call": {"ref": "Q2", "n": 45}}"#,
    )
    .unwrap();
    let (code, out, err) = run(dir.path(), &["test", "slow.yaml", "--update"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("NO VERDICT slow/SLOW_RULE/b\n"), "{out}");
    assert!(
        out.contains("D1012") && out.contains("wall-clock guard"),
        "{out}"
    );
    assert!(!out.contains("FAILED"), "{out}");
    assert!(
        out.contains("1 passed, 0 failed, 1 without a verdict (wall-clock guard)"),
        "{out}"
    );
}

/// Tester #136: an `--env` overlay that changes the transform and `test.now` has snapshots of its
/// own (`snapshots/<spec>--<env>/`), so the base and the overlay are both green, and updating
/// one never overwrites the other's.
#[test]
fn an_environment_overlay_has_its_own_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cxsync.toml"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("specs")).unwrap();
    std::fs::write(
        dir.path().join("specs/e1.json"),
        r#"{"event": {"id": "evt-1", "type": "interaction.ended"}}"#,
    )
    .unwrap();
    let rule = |region: &str| {
        format!(
            "      - id: ENV_R\n        name: r\n        eventType: interaction.ended\n        \
             transform: |\n          {{ \"id\": event.id, \"at\": $now(), \"region\": \"{region}\" }}\n        \
             fixtures: [e1.json]\n"
        )
    };
    let spec = format!(
        "version: 1\nname: env-snap\nchannel:\n  name: Env_Hook\n  destinationUri: https://hooks.example.org/crm\n  \
         auth: {{ type: none }}\n  timeoutMilliseconds: 3000\nidempotency: {{ key: \"${{event.id}}\" }}\n{}\
         deadLetterQueue: {{ enabled: true, bucketName: env-dlq }}\nrules:\n{}test: {{ now: 2024-01-01T00:00:00Z }}\n\
         environments:\n  eu:\n    test: {{ now: 2025-06-01T10:00:00Z }}\n    rules:\n{}",
        crate::common::RETRY,
        rule("base").replace("      - ", "  - ").replace("\n        ", "\n    "),
        rule("eu")
    );
    std::fs::write(dir.path().join("specs/env.yaml"), spec).unwrap();
    for args in [
        &["test", "specs/env.yaml", "--update"][..],
        &["test", "specs/env.yaml", "--env", "eu", "--update"],
    ] {
        let (code, out, err) = run(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(out.contains("updated "), "{args:?}: {out}");
    }
    for args in [
        &["test", "specs/env.yaml"][..],
        &["test", "specs/env.yaml", "--env", "eu"],
    ] {
        let (code, out, err) = run(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(out.contains("1 passed, 0 failed"), "{args:?}: {out}");
    }
    let base = std::fs::read_to_string(dir.path().join("snapshots/env/ENV_R/e1.snap")).unwrap();
    let eu = std::fs::read_to_string(dir.path().join("snapshots/env--eu/ENV_R/e1.snap")).unwrap();
    assert!(
        base.contains("\"region\": \"base\"") && base.contains("2024-01-01T00:00:00"),
        "{base}"
    );
    assert!(
        eu.contains("\"region\": \"eu\"") && eu.contains("2025-06-01T10:00:00"),
        "{eu}"
    );
}

/// Finding #210: a payload schema split across files. `schema` is the root schema file's JSON,
/// `files` the other files (path under `specs/`, JSON); one rule whose fixture `e1.json` sends
/// `phone`.
fn split_schema_project(schema: &str, files: &[(&str, &str)], phone: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cxsync.toml"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("specs/schemas/defs")).unwrap();
    std::fs::write(dir.path().join("specs/schemas/contact.json"), schema).unwrap();
    for (path, text) in files {
        std::fs::write(dir.path().join("specs").join(path), text).unwrap();
    }
    std::fs::write(
        dir.path().join("specs/e1.json"),
        format!(
            r#"{{"event": {{"id": "evt-1", "type": "interaction.ended", "phone": "{phone}"}}}}"#
        ),
    )
    .unwrap();
    let spec = format!(
        "version: 1\nname: split\nchannel:\n  name: Split_Hook\n  destinationUri: https://hooks.example.org/crm\n  \
         auth: {{ type: none }}\n  timeoutMilliseconds: 3000\nidempotency: {{ key: \"${{event.id}}\" }}\n{}\
         deadLetterQueue: {{ enabled: true, bucketName: split-dlq }}\ncrm:\n  payloadSchema: schemas/contact.json\n\
         rules:\n  - id: SPLIT\n    name: r\n    eventType: interaction.ended\n    \
         transform: '{{ \"phone\": event.phone }}'\n    fixtures: [e1.json]\ntest: {{ now: 2024-01-01T00:00:00Z }}\n",
        crate::common::RETRY
    );
    std::fs::write(dir.path().join("specs/split.yaml"), spec).unwrap();
    dir
}

const PHONE_DEFS: &str =
    r#"{"definitions": {"phone": {"type": "string", "pattern": "^\\+[0-9]{7,15}$"}}}"#;

/// `cxsync test` judges the payload against the subschema a `$ref` names, whatever form the
/// `$ref` takes: a sibling file with a JSON pointer, a file in a nested folder (whose own `$ref`
/// climbs back with `..`), and a cycle between two files, which must not hang.
#[test]
fn a_payload_schema_ref_resolves_against_the_referencing_file() {
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
    );
    let cases: [Case; 3] = [
        (
            "sibling file, pointer fragment",
            r##"{"type": "object", "properties": {"phone": {"$ref": "common.json#/definitions/phone"}}}"##,
            vec![("schemas/common.json", PHONE_DEFS)],
        ),
        (
            "nested folder, `./` and `..`",
            r##"{"type": "object", "properties": {"phone": {"$ref": "./defs/contact.json"}}}"##,
            vec![
                (
                    "schemas/defs/contact.json",
                    r##"{"$ref": "../common.json#/definitions/phone"}"##,
                ),
                ("schemas/common.json", PHONE_DEFS),
            ],
        ),
        (
            "cycle a -> b -> a",
            r##"{"type": "object", "properties": {"phone": {"$ref": "b.json#/definitions/phone"}}, "definitions": {"digits": {"pattern": "^\\+[0-9]{7,15}$"}}}"##,
            vec![(
                "schemas/b.json",
                r##"{"definitions": {"phone": {"type": "string", "$ref": "contact.json#/definitions/digits"}}}"##,
            )],
        ),
    ];
    for (what, schema, files) in cases {
        let dir = split_schema_project(schema, &files, "+4915112345678");
        let (code, out, err) = run(dir.path(), &["test", "specs/split.yaml", "--update"]);
        assert_eq!(code, 0, "{what}: {out}{err}");
        let dir = split_schema_project(schema, &files, "0151-123");
        let (code, out, err) = run(dir.path(), &["test", "specs/split.yaml"]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert!(
            out.contains("output does not match crm.payloadSchema at `/phone` (keyword `pattern`)"),
            "{what}: {out}{err}"
        );
    }
}

/// The simulator's CRM model judges with the same resolved schema: the payload that breaks the
/// referenced subschema is a 422, dead-lettered because of the spec.
#[test]
fn the_simulator_judges_a_payload_by_the_referenced_subschema() {
    let schema = r##"{"type": "object", "properties": {"phone": {"$ref": "common.json#/definitions/phone"}}}"##;
    let files = [("schemas/common.json", PHONE_DEFS)];
    let bad = split_schema_project(schema, &files, "0151-123");
    let (code, out, err) = run(bad.path(), &["sim", "specs/split.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("422") && out.contains("does not match"),
        "{out}{err}"
    );
    let good = split_schema_project(schema, &files, "+4915112345678");
    let (_, out, err) = run(good.path(), &["sim", "specs/split.yaml"]);
    assert!(!out.contains("422"), "{out}{err}");
}

/// A `$ref` to a file that is not there is E302 at the `$ref` in the schema file (file:line:col),
/// naming the path it expected; a URI `$ref` is refused (E312), never fetched. Both are spec
/// errors like a missing `payloadSchema` file: the same exit code, in `test` and `lint`.
#[test]
fn a_payload_schema_ref_to_a_missing_file_or_a_uri_is_an_error_at_the_ref() {
    let missing_root = split_schema_project("{}", &[], "+1");
    std::fs::remove_file(missing_root.path().join("specs/schemas/contact.json")).unwrap();
    let (root_code, _, _) = run(missing_root.path(), &["test", "specs/split.yaml"]);
    let dir = split_schema_project(
        "{\"type\": \"object\",\n \"properties\": {\"phone\": {\"$ref\": \"phones.json#/definitions/phone\"}}}",
        &[],
        "+4915112345678",
    );
    for cmd in ["test", "lint"] {
        let (code, out, err) = run(dir.path(), &[cmd, "specs/split.yaml"]);
        let all = format!("{out}{err}");
        assert_eq!(code, root_code, "{cmd}: {all}");
        assert!(all.contains("error[E302]: payload schema `$ref` `phones.json#/definitions/phone` names a file that does not exist: expected a JSON Schema file at `"), "{cmd}: {all}");
        assert!(
            all.contains("specs/schemas/contact.json:2:35"),
            "{cmd}: {all}"
        );
        assert!(
            all.contains("relative to the folder of the file it is in"),
            "{cmd}: {all}"
        );
        assert!(!all.contains("panicked"), "{cmd}: {all}");
    }
    for uri in [
        "https://schemas.example.org/phone.json",
        "http://127.0.0.1:9/p.json#/x",
    ] {
        let dir = split_schema_project(
            &format!(r#"{{"properties": {{"phone": {{"$ref": "{uri}"}}}}}}"#),
            &[],
            "+4915112345678",
        );
        let (code, out, err) = run(dir.path(), &["test", "specs/split.yaml"]);
        let all = format!("{out}{err}");
        assert_eq!(code, root_code, "{all}");
        assert!(
            all.contains(&format!("error[E312]: payload schema `$ref` `{uri}` names a URI; cxsync never fetches a schema")),
            "{all}"
        );
    }
}

/// #142: a runtime error names the place in the transform file that raised it, in `test` and in
/// `eval --spec`, also where the transform has several operators of the kind (`-` twice here:
/// the one that failed is found by evaluating without each).
#[test]
fn a_runtime_error_names_its_line_and_column_in_the_transform_file() {
    let dir = project();
    let file = dir
        .path()
        .join("specs/transforms/interaction_ended.jsonata");
    edit(
        &file,
        "\"channelType\": interaction.channel.type,",
        "\"channelType\": interaction.channel.type - 1,",
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.matches(" - ").count() >= 2,
        "the transform has one `-` only"
    );
    let (line, col) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| {
            l.find("interaction.channel.type - 1")
                .map(|c| (i + 1, c + 1))
        })
        .unwrap();
    let at = format!("specs/transforms/interaction_ended.jsonata:{line}:{col}");
    let (code, out, _) = run(dir.path(), &["test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("transform failed: T2001: ") && out.contains(&format!("(at {at})")),
        "{out}"
    );
    let rule = std::fs::read_to_string(dir.path().join("specs/crm_sync.yaml")).unwrap();
    let id = rule
        .lines()
        .find_map(|l| l.trim().strip_prefix("- id: "))
        .unwrap()
        .trim()
        .to_string();
    let events = dir.path().join("fixtures/events");
    let event = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .min()
        .unwrap();
    let (code, _, err) = run(
        dir.path(),
        &[
            "eval",
            "--spec",
            "specs/crm_sync.yaml",
            "--rule",
            &id,
            "--event",
            event.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("T2001") && err.contains(&format!("--> {at}")),
        "{err}"
    );
    let (code, _, err) = run(
        dir.path(),
        &[
            "eval",
            "--expr",
            "{\"a\": 1,\n \"b\": interaction.channel.type - 1}",
            "--event",
            event.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("T2001") && err.contains("--> --expr:2:7"),
        "{err}"
    );
}
