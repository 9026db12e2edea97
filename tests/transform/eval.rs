//! `cxsync eval`: output JSON, undefined prints nothing, errors carry their JSONata code.

use std::time::Duration;

use crate::common::{assert_no_crash, cxsync, root, run_bounded};

fn eval(args: &[&str]) -> (i32, String, String) {
    let out = cxsync().arg("eval").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_rule_transform_prints_pretty_json_with_the_frozen_clock() {
    let (code, out, err) = eval(&[
        "--spec",
        "specs/crm_sync.yaml",
        "--rule",
        "CRM_SYNC_RULE_ID",
        "--event",
        "fixtures/events/voice_resolved.json",
        "--now",
        "2024-01-15T14:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("{\n  \"caseNumber\": \"918273645\",\n"),
        "{out}"
    );
    assert!(out.contains("\"durationSeconds\": 390,"), "{out}");
    assert!(
        out.contains("\"syncTimestamp\": \"2024-01-15T14:00:00.000Z\""),
        "{out}"
    );
}

#[test]
fn a_rule_can_be_named_by_its_name_and_a_filtered_event_gets_a_note() {
    let (code, out, err) = eval(&[
        "--spec",
        "specs/crm_sync.yaml",
        "--rule",
        "Transform_Interaction_Ended",
        "--event",
        "fixtures/events/sms_filtered.json",
        "--compact",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"channelType\":\"sms\""), "{out}");
    assert!(
        err.contains("note: rule `CRM_SYNC_RULE_ID` would not send this event"),
        "{err}"
    );
}

#[test]
fn an_unknown_rule_is_a_tool_error_listing_the_rules() {
    let (code, _, err) = eval(&[
        "--spec",
        "specs/crm_sync.yaml",
        "--rule",
        "nope",
        "--event",
        "fixtures/events/voice_resolved.json",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("has no rule `nope`; its rules: CRM_SYNC_RULE_ID"),
        "{err}"
    );
}

#[test]
fn undefined_prints_nothing_and_exits_zero() {
    let (code, out, _) = eval(&[
        "--expr",
        "interaction.nothing",
        "--event",
        "fixtures/events/voice_resolved.json",
    ]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn an_evaluation_error_prints_its_code_and_exits_one() {
    let (code, out, err) = eval(&[
        "--expr",
        "interaction.channel.type - 1",
        "--event",
        "fixtures/events/voice_resolved.json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.starts_with("error: T2001: "), "{err}");
}

#[test]
fn a_syntax_error_prints_its_code_and_exits_one() {
    let (code, _, err) = eval(&[
        "--expr",
        "{'a': }",
        "--event",
        "fixtures/events/voice_resolved.json",
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: S0211: "), "{err}");
}

#[test]
fn a_bad_event_file_or_instant_is_a_tool_error() {
    let (code, _, err) = eval(&["--expr", "1", "--event", "no/such/file.json"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = eval(&[
        "--expr",
        "1",
        "--event",
        "fixtures/events/voice_resolved.json",
        "--now",
        "2024-13-01",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not an RFC 3339 instant"), "{err}");
}

#[test]
fn whole_numbers_print_as_integers() {
    let (code, out, _) = eval(&[
        "--compact",
        "--expr",
        "{'id': interaction.id, 'half': interaction.id / 2, 'six': 2 * 3.0}",
        "--event",
        "fixtures/events/voice_resolved.json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, "{\"id\":918273645,\"half\":459136822.5,\"six\":6}\n");
}

/// Expressions that crashed, hung or exhausted memory inside the engine or our own parser
/// (issue 13): each is now a located or coded error, exit 1.
#[test]
fn hostile_expressions_are_errors_with_their_own_code_never_a_crash() {
    let doubled = "$reduce([1..40], function($a,$i){{\"l\":$a,\"r\":$a}}, 0)";
    let cases: Vec<(String, &str)> = vec![
        ("$toMillis('1','[é]')".into(), "ENGINE_DEFECT"),
        ("$fromMillis(0,'[,]')".into(), "ENGINE_DEFECT"),
        ("$parseInteger('1', '٠')".into(), "ENGINE_DEFECT"),
        ("{\"a\": $now(\"[,]\")}".into(), "ENGINE_DEFECT"),
        ("$pad(\"x\", 1e10)".into(), "OUTPUT_TOO_LARGE"),
        (doubled.into(), "OUTPUT_TOO_LARGE"),
        (format!("$string({doubled})"), "OUTPUT_TOO_LARGE"),
        (
            "$reduce([1..100000], function($a,$i){{\"l\":$a}}, 0)".into(),
            "OUTPUT_TOO_LARGE",
        ),
        (vec!["1"; 4406].join("+"), "S0200"),
        (vec!["a"; 5000].join("."), "S0200"),
    ];
    let event = root().join("fixtures/events/voice_resolved.json");
    for (expr, code) in cases {
        let mut cmd = cxsync();
        cmd.args(["eval", "--expr", &expr, "--event"]).arg(&event);
        let out = run_bounded(cmd, Duration::from_secs(60));
        let short: String = expr.chars().take(60).collect();
        assert_no_crash(&out, &short);
        assert_eq!(out.status.code(), Some(1), "{short}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("error: {code}: ")), "{short}: {err}");
    }
}
