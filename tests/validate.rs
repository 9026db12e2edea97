//! `cxsync validate` and `cxsync schema`: diagnostics at the right place for every kind of bad
//! input, all errors of a file in one run, and a schema that cannot drift from the model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{cxsync, root, run_bounded, RETRY};

fn validate_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut cmd = cxsync();
    // Confinement (E311) is the default these tests see, whatever the caller's environment.
    cmd.env_remove("CXSYNC_ALLOW_OUTSIDE_PROJECT");
    cmd.arg("validate").arg("--format").arg("json").args(args);
    let out = run_bounded(cmd, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code(), v)
}

/// `(code, line, column)` of each diagnostic.
fn positions(v: &serde_json::Value) -> Vec<(String, u64, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn the_example_spec_is_valid() {
    let out = cxsync()
        .args(["validate", "specs/crm_sync.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_example_spec_is_valid_in_its_staging_environment() {
    let (code, v) = validate_json(&["--env", "staging", "specs/crm_sync.yaml"]);
    assert_eq!(code, Some(0), "{v}");
}

/// Every case under fixtures/bad/: the expected code and `line:column` of the first diagnostic.
/// A new file there without a row here fails the test, so no case goes unchecked.
const BAD: &[(&str, &str, u64, u64)] = &[
    ("alias_bomb.yaml", "E003", 6, 29),
    ("condition_paths.yaml", "E413", 14, 7),
    ("deep_block_nesting.yaml", "E004", 131, 257),
    ("deep_nesting.yaml", "E004", 3, 269),
    ("dlq_escape.yaml", "E106", 9, 47),
    ("duplicate_keys.yaml", "E006", 9, 3),
    ("header_case.yaml", "E106", 13, 5),
    ("hostile_values.yaml", "E106", 5, 9),
    ("key_control_character.yaml", "E106", 5, 46),
    ("literal_secret.yaml", "E202", 8, 12),
    ("missing_env.yaml", "E201", 5, 43),
    ("missing_required.yaml", "E102", 3, 1),
    ("missing_transform_file.yaml", "E302", 24, 20),
    ("non_utf8.yaml", "E012", 2, 11),
    ("tabs.yaml", "E007", 4, 1),
    ("three_mistakes.yaml", "E402", 5, 19),
    ("unclosed_bracket.yaml", "E001", 2, 7),
    ("unclosed_quote.yaml", "E001", 2, 7),
    ("unknown_key.yaml", "E101", 5, 3),
    ("wrong_types.yaml", "E103", 8, 24),
];

#[test]
fn every_bad_input_gives_a_located_error_without_panicking() {
    let dir = root().join("fixtures/bad");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let listed: Vec<&str> = BAD.iter().map(|(f, _, _, _)| *f).collect();
    assert_eq!(files, listed, "fixtures/bad and the BAD table disagree");
    for (file, code, line, col) in BAD {
        let rel = format!("fixtures/bad/{file}");
        let mut cmd = cxsync();
        cmd.args(["validate", &rel])
            .env_remove("CXSYNC_TEST_UNSET_TENANT");
        let started = Instant::now();
        let out = run_bounded(cmd, Duration::from_secs(30));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{file}: exit {:?}\n{stdout}{stderr}",
            out.status.code()
        );
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{file} took {:?}",
            started.elapsed()
        );
        assert!(
            stdout.contains(&format!("error[{code}]")),
            "{file}:\n{stdout}"
        );
        let want = format!("--> {rel}:{line}:{col}");
        assert!(
            stdout.contains(&want),
            "{file}: expected `{want}` in\n{stdout}"
        );
    }
}

/// A load diagnostic that quotes a value (E402 names the host) never shows what an `${env:…}`
/// resolved to, in any command or format (tester #115: validate, lint and test printed it; plan,
/// compile and sim did not).
#[test]
fn load_errors_never_quote_a_value_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    let text = std::fs::read_to_string(root().join("specs/crm_sync.yaml"))
        .unwrap()
        .replace(
            "alertEndpoint: https://monitoring.company.com/webhooks/dlq-alert",
            "alertEndpoint: \"http://${env:HOST_SECRET}.example.net/x\"",
        );
    assert!(text.contains("HOST_SECRET"), "the fixture changed");
    std::fs::write(&spec, text).unwrap();
    let spec = spec.to_str().unwrap();
    for args in [
        vec!["validate", spec],
        vec!["validate", spec, "--format", "json"],
        vec!["lint", spec],
        vec!["lint", spec, "--format", "sarif"],
        vec!["test", spec],
        vec!["compile", spec],
    ] {
        let o = cxsync()
            .args(&args)
            .env("HOST_SECRET", "tokensecret3")
            .env("CRM_CLIENT_SECRET", "s3cr3t-value")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_ne!(o.status.code(), Some(0), "{args:?}: {all}");
        assert!(all.contains("E402"), "{args:?}: {all}");
        assert!(!all.contains("tokensecret3"), "{args:?}: {all}");
    }
}

#[test]
fn a_spec_with_three_unrelated_mistakes_reports_all_three_at_their_positions() {
    let (code, v) = validate_json(&["fixtures/bad/three_mistakes.yaml"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        positions(&v),
        vec![
            ("E402".to_string(), 5, 19),
            ("E103".to_string(), 8, 24),
            ("E101".to_string(), 15, 3),
        ],
        "{v:#}"
    );
    assert_eq!(v[2]["help"], "did you mean `backoffMultiplier`?");
    assert_eq!(v[1]["endColumn"], 29);
}

/// A DLQ bucket or prefix that climbs out of the bucket (and of `sim --dlq-dir`) is refused at its
/// value, in the base spec and in an environment; names with dots that stay inside are accepted.
#[test]
fn a_dlq_bucket_or_prefix_that_climbs_out_is_refused_at_its_value() {
    let (code, v) = validate_json(&["fixtures/bad/dlq_escape.yaml"]);
    assert_eq!(code, Some(1));
    let got = positions(&v);
    let got: Vec<(&str, u64, u64)> = got.iter().map(|(c, l, k)| (c.as_str(), *l, *k)).collect();
    assert_eq!(
        got,
        [
            ("E106", 9, 47),
            ("E106", 9, 68),
            ("E106", 13, 60),
            ("E106", 14, 39)
        ],
        "{v:#}"
    );
    let text = v.to_string();
    assert!(text.contains("`../escape` is not a bucket name"), "{v:#}");
    // S3 forbids two adjacent dots in a bucket name.
    assert!(text.contains("`dyn..dlq` is not a bucket name"), "{v:#}");
    assert!(text.contains("`a/./b/` is not a key prefix"), "{v:#}");
}

/// Numbers past their range or past any number, unsafe names and injected headers (issue 13):
/// every one at its own value, in one run.
#[test]
fn hostile_values_are_each_refused_at_their_own_position() {
    let (code, v) = validate_json(&["fixtures/bad/hostile_values.yaml"]);
    assert_eq!(code, Some(1));
    let want: Vec<(&str, u64, u64)> = vec![
        ("E106", 5, 9),   // channel name `..`
        ("E105", 12, 27), // 2^64 - 1 TTL
        ("E106", 14, 23), // CR LF in a header value
        ("E106", 15, 5),  // a header name with spaces
        ("E103", 16, 24), // a fraction where an integer is wanted
        ("E106", 18, 13), // the idempotency header name, at the space
        ("E105", 21, 15), // 2^64
        ("E105", 22, 24), // 1e12 s
        ("E103", 23, 20), // .inf
        ("E103", 24, 22), // .nan
        ("E105", 30, 28), // the deadline that wrapped to 385 ms
        ("E103", 31, 29), // 1e400
        ("E106", 33, 9),  // rule id `.`
        ("E411", 38, 9),  // rule id CON
        ("E408", 44, 8),  // year 0
        ("E410", 46, 3),  // environment `../prod`
    ];
    let got = positions(&v);
    let got: Vec<(&str, u64, u64)> = got.iter().map(|(c, l, k)| (c.as_str(), *l, *k)).collect();
    assert_eq!(got, want, "{v:#}");
    let text = v.to_string();
    for words in [
        "found 18446744073709551615",
        "found `.nan` (not a number)",
        "found `1e400`, a number too large to represent",
        "expected an integer from 0 to 86400",
        "carriage return",
    ] {
        assert!(text.contains(words), "{words}: {v:#}");
    }
}

/// Tester #191 and #190: a name that holds a control character (a BEL, an ESC sequence, a tab)
/// was printed raw by `sim`, `test` (and into its snapshot header) and `mock-crm`, and an
/// idempotency key template with a LF was compiled into the channel header and dead-lettered
/// every event. Each is E106 at the character now, and the commands that print names refuse the
/// spec before printing anything of it.
#[test]
fn names_and_key_templates_with_control_characters_are_refused_at_the_character() {
    // The example project's files, beside a copy of its spec.
    let dir = tempfile::tempdir().unwrap();
    for folder in ["specs/transforms", "fixtures/events"] {
        for e in std::fs::read_dir(root().join(folder)).unwrap() {
            let e = e.unwrap();
            let to = dir.path().join(folder).join(e.file_name());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(e.path(), to).unwrap();
        }
    }
    for f in ["specs/crm-case.schema.json", "cxsync.toml"] {
        std::fs::copy(root().join(f), dir.path().join(f)).unwrap();
    }
    let text = std::fs::read_to_string(root().join("specs/crm_sync.yaml"))
        .unwrap()
        .replace("name: crm-sync", "name: \"crm\\u0007sync\\u001b[31m\"")
        .replace(
            "name: Transform_Interaction_Ended",
            "name: \"Transform\\tEnded\"",
        )
        .replace("    name: interaction-ended", "    name: \"ended\\r\"")
        .replace(
            "key: ${interaction.id}_${event.type}",
            "key: \"${interaction.id}\\n\"",
        );
    let spec = write(dir.path(), "specs/ctl.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    let got = positions(&v);
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    let want = vec![
        ("E106".to_string(), line("name: \"crm"), 11),
        ("E106".to_string(), line("key: \"$"), 8),
        ("E106".to_string(), line("Transform\\t"), 21),
        ("E106".to_string(), line("ended\\r"), 17),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted, "{v:#}");
    let text = v.to_string();
    for words in [
        "U+0007",
        "a tab",
        "a carriage return (CR)",
        "a line feed (LF)",
    ] {
        assert!(text.contains(words), "{words}: {v:#}");
    }
    for cmd in [
        &["sim"][..],
        &["test"][..],
        &["mock-crm", "--port", "0", "--spec"][..],
    ] {
        let o = cxsync().args(cmd).arg(&spec).output().unwrap();
        // Refused as a spec with errors (exit 1, or 2 for the commands that run it).
        assert!(matches!(o.status.code(), Some(1 | 2)), "{cmd:?}");
        assert!(
            !o.stdout.contains(&0x07) && !o.stdout.contains(&0x1b),
            "{cmd:?}: a raw control character reached stdout"
        );
    }
}

/// Tester #199: a bidi override from an event (U+202E) reached `cxsync test`'s snapshot file and
/// its printed diff raw, so the reviewed text read in another order than it was stored. Both
/// now hold `\u202e` (the same JSON value), and the snapshot still matches on the next run.
#[test]
fn bidi_controls_from_an_event_are_escaped_in_snapshots_and_diffs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cxsync.toml", "");
    write(
        dir.path(),
        "e.json",
        "{\"event\": {\"type\": \"interaction.ended\"}, \"interaction\": {\"id\": \"i-1\", \"note\": \"pay \u{202e}evil\u{202c} now \u{200f}\"}}",
    );
    let text = MINIMAL.replace(
        "transform: '{\"id\": interaction.id}'",
        "transform: '{\"id\": interaction.id, \"note\": interaction.note}'\n    fixtures: [e.json]",
    );
    let spec = write(dir.path(), "s.yaml", &text);
    let test = |args: &[&str]| {
        let o = cxsync()
            .arg("test")
            .args(args)
            .arg(&spec)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (code, out) = test(&["--update"]);
    assert_eq!(code, Some(0), "{out}");
    let snap = std::fs::read_to_string(dir.path().join("snapshots/s/R1/e.snap")).unwrap();
    assert!(
        snap.contains("pay \\u202eevil\\u202c now \\u200f"),
        "{snap}"
    );
    assert!(
        !snap.contains('\u{202e}') && !snap.contains('\u{200f}'),
        "{snap}"
    );
    assert_eq!(
        test(&[]).0,
        Some(0),
        "the escaped snapshot matches the same output"
    );
    // A committed snapshot that holds the raw characters (written before) is shown escaped.
    std::fs::write(
        dir.path().join("snapshots/s/R1/e.snap"),
        snap.replace("\\u202e", "\u{202e}").replace("now", "later"),
    )
    .unwrap();
    let (code, out) = test(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("\\u202e") && !out.contains('\u{202e}'),
        "{out}"
    );
}

/// Budgets that must hold however the input is shaped: an alias of a 64 KiB string repeated
/// 300 times (a 66 KB file expanding to 19 MiB) is refused quickly, and 10,000 environment
/// overlays validate in linear time.
#[test]
fn alias_bytes_and_many_overlays_stay_within_their_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.yaml");
    let x = "x".repeat(65536);
    std::fs::write(
        &bomb,
        format!("a: &a \"{x}\"\nb: [{}]\n", vec!["*a"; 300].join(", ")),
    )
    .unwrap();
    let mut cmd = cxsync();
    cmd.args(["validate", "--format", "json"]).arg(&bomb);
    let out = run_bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("E003"));

    // The example spec with its file references made absolute, in a scratch folder.
    let specs = root().join("specs");
    let base = std::fs::read_to_string(specs.join("crm_sync.yaml"))
        .unwrap()
        .replace("transforms/", &format!("{}/transforms/", specs.display()))
        .replace(
            "crm-case.schema.json",
            &format!("{}/crm-case.schema.json", specs.display()),
        )
        .replace("../fixtures/", &format!("{}/fixtures/", root().display()));
    let mut spec = base[..base.find("environments:").unwrap()].to_string();
    spec.push_str("environments:\n");
    for k in 0..10_000 {
        spec.push_str(&format!("  env{k}:\n    channel:\n      name: CH_{k}\n"));
    }
    let path = dir.path().join("many-envs.yaml");
    std::fs::write(&path, spec).unwrap();
    let mut cmd = cxsync();
    cmd.args(["validate", "--allow-outside-project"]).arg(&path);
    let started = Instant::now();
    let out = run_bounded(cmd, Duration::from_secs(60));
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Quadratic took over 60 s; linear takes about 1 s of CPU in a debug build.
    assert!(took < Duration::from_secs(45), "{took:?}");
}

#[test]
fn an_unclosed_bracket_on_line_two_is_reported_on_line_two_not_where_the_parser_stopped() {
    let (_, v) = validate_json(&["fixtures/bad/unclosed_bracket.yaml"]);
    assert_eq!(positions(&v), vec![("E001".to_string(), 2, 7)]);
    assert!(
        v[0]["message"].as_str().unwrap().contains("unclosed"),
        "{v}"
    );
    assert!(v[0]["help"].as_str().unwrap().contains("line 3"), "{v}");
}

#[test]
fn an_unknown_key_suggests_the_field_it_resembles_and_hides_the_missing_one() {
    let (_, v) = validate_json(&["fixtures/bad/unknown_key.yaml"]);
    assert_eq!(positions(&v), vec![("E101".to_string(), 5, 3)], "{v:#}");
    assert_eq!(v[0]["help"], "did you mean `destinationUri`?");
}

#[test]
fn a_literal_secret_is_an_error_that_never_repeats_the_secret() {
    let out = cxsync()
        .args(["validate", "fixtures/bad/literal_secret.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    let secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln";
    // The rendered source line shows the file's own text; the message and help must not.
    let not_source: Vec<&str> = text.lines().filter(|l| !l.contains(" | ")).collect();
    assert!(
        !not_source.join("\n").contains(secret),
        "secret echoed outside the source excerpt:\n{text}"
    );
}

#[test]
fn a_missing_env_variable_points_at_the_reference_inside_the_scalar() {
    let (_, v) = validate_json(&["fixtures/bad/missing_env.yaml"]);
    assert_eq!(positions(&v), vec![("E201".to_string(), 5, 43)]);
    assert_eq!(
        v[0]["endColumn"],
        43 + "${env:CXSYNC_TEST_UNSET_TENANT}".len() as u64
    );
    assert!(v[0]["help"]
        .as_str()
        .unwrap()
        .contains("export CXSYNC_TEST_UNSET_TENANT"));
}

#[test]
fn a_set_env_variable_is_resolved_and_the_spec_is_valid() {
    let out = cxsync()
        .args(["validate", "fixtures/bad/missing_env.yaml"])
        .env("CXSYNC_TEST_UNSET_TENANT", "v1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_100_mb_file_is_refused_quickly_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    let line =
        "description: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
    let chunk = line.repeat(1 << 14);
    let mut written = 0;
    while written < 100 * 1024 * 1024 {
        f.write_all(chunk.as_bytes()).unwrap();
        written += chunk.len();
    }
    drop(f);
    let mut cmd = cxsync();
    cmd.args(["validate", "--format", "json"]).arg(&path);
    let out = run_bounded(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["code"], "E011");
    assert_eq!(v[0]["file"], path.display().to_string());
}

#[test]
fn an_unknown_environment_is_a_usage_error_listing_the_known_ones() {
    let (code, v) = validate_json(&["--env", "prod", "specs/crm_sync.yaml"]);
    assert_eq!(code, Some(2));
    assert_eq!(v[0]["code"], "E020");
    assert!(v[0]["help"].as_str().unwrap().contains("`staging`"), "{v}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const MINIMAL: &str = "version: 1
name: t
channel:
  name: C
  destinationUri: https://crm.example.com/v1/events
  auth:
    type: none
  timeoutMilliseconds: 3000
idempotency:
  key: ${interaction.id}
retry:
  maxRetries: 3
  initialDelaySeconds: 1
  maxDelaySeconds: 30
  backoffMultiplier: 2.0
  retryableStatusCodes: [429]
  nonRetryableStatusCodes: [400]
deadLetterQueue:
  enabled: false
rules:
  - id: R1
    name: r1
    eventType: interaction.ended
    transform: '{\"id\": interaction.id}'
";

#[test]
fn an_error_in_an_environment_overlay_points_at_the_overlay_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "s.yaml",
        &format!(
            "{MINIMAL}environments:\n  staging:\n    channel:\n      timeoutMilliseconds: fast\n      batchSize: 5\n"
        ),
    );
    let (code, v) = validate_json(&["--env", "staging", spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(positions(&v), vec![("E103".to_string(), 28, 28)], "{v:#}");
    // Without --env the overlay is still checked, and reported at the same line.
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(positions(&v), vec![("E103".to_string(), 28, 28)], "{v:#}");
    assert!(v[0]["message"]
        .as_str()
        .unwrap()
        .ends_with("(environment `staging`)"));
}

#[test]
fn without_env_overlay_typos_and_literal_secrets_are_reported_but_env_variables_not_required() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "s.yaml",
        &format!(
            "{MINIMAL}environments:\n  production:\n    channel:\n      destinationUrl: https://${{env:CXSYNC_TEST_UNSET_HOST}}/x\n  staging:\n    channel:\n      destinationUri: https://crm.example.com/${{env:CXSYNC_TEST_UNSET_HOST}}/x\n      auth:\n        type: bearer\n        token: plain-literal\n"
        ),
    );
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(
        positions(&v),
        vec![("E101".to_string(), 28, 7), ("E202".to_string(), 34, 16)],
        "{v:#}"
    );
    assert_eq!(v[0]["help"], "did you mean `destinationUri`?");
}

#[test]
fn semantic_checks_report_every_problem_they_find() {
    let dir = tempfile::tempdir().unwrap();
    let text = MINIMAL
        .replace("  key: ${interaction.id}", "  key: ${}_x")
        .replace("deadLetterQueue:\n  enabled: false", "deadLetterQueue:\n  enabled: true")
        .replace(
            "  timeoutMilliseconds: 3000",
            "  timeoutMilliseconds: 3000\n  headers:\n    x-idempotency-key: abc",
        )
        + "  - id: R1\n    name: again\n    eventType: e\n    stage: 2\n    transformFile: t.jsonata\n    transform: x\nrollout:\n  - stage: 1\n    name: one\n";
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let codes: Vec<String> = positions(&v).into_iter().map(|(c, _, _)| c).collect();
    for want in ["E301", "E401", "E403", "E405", "E406"] {
        assert!(codes.contains(&want.to_string()), "missing {want} in {v:#}");
    }
}

#[test]
fn fixture_globs_that_match_nothing_and_broken_fixture_json_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "events/a.json",
        "{\"interaction\": {\"id\": 1}}",
    );
    write(
        dir.path(),
        "events/b.json",
        "{\"interaction\": \n  {\"id\": }",
    );
    let text = format!("{MINIMAL}    fixtures: [events/*.json, nothing/*.json]\n");
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let arr = v.as_array().unwrap();
    assert!(
        arr.iter().any(|d| d["code"] == "E304"
            && d["file"].as_str().unwrap().ends_with("b.json")
            && d["line"] == 2),
        "{v:#}"
    );
    assert!(
        arr.iter()
            .any(|d| d["code"] == "E303" && d["line"] == 25 && d["column"] == 31),
        "{v:#}"
    );
}

#[test]
fn fixture_json_that_a_parser_would_take_silently_is_reported_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    // Each of these parses, and each would mislead `test`: an array root (an empty snapshot), a
    // repeated key (the last one wins), an id a float cannot hold, two fixtures that would be one
    // snapshot.
    write(
        dir.path(),
        "fx/list.json",
        "\n  [{\"event\": {\"id\": \"e4\"}}]",
    );
    write(
        dir.path(),
        "fx/dup.json",
        "{\"interaction\": {\"id\": \"i2\",\n  \"i\\u0064\": \"i3\"}}",
    );
    write(
        dir.path(),
        "fx/big.json",
        "{\"interaction\": {\"id\": 12345678901234567890, \"n\": 9007199254740992}}",
    );
    write(
        dir.path(),
        "a/same.json",
        "{\"interaction\": {\"id\": \"a\"}}",
    );
    write(
        dir.path(),
        "b/same.json",
        "{\"interaction\": {\"id\": \"b\"}}",
    );
    write(
        dir.path(),
        "schema.json",
        "{\"type\": \"object\", \"type\": \"array\"}",
    );
    let text = format!(
        "{}    fixtures: [fx/*.json, a/same.json, b/same.json]\n",
        MINIMAL.replace(
            "deadLetterQueue:",
            "crm:\n  payloadSchema: schema.json\ndeadLetterQueue:"
        )
    );
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    let mut found: Vec<(String, String, String, u64, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap();
            (
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                file[file.rfind(['/', '\\']).map_or(0, |i| i + 1)..].to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    let expected = [
        ("E306", "error", "s.yaml", 27, 40),
        ("E307", "error", "list.json", 2, 3),
        ("E308", "error", "dup.json", 2, 3),
        ("E308", "error", "schema.json", 1, 20),
        ("E309", "warning", "big.json", 1, 24),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(c, s, f, l, col)| (c.into(), s.into(), f.into(), l, col))
        .collect();
    assert_eq!(found, expected, "{v:#}");
    let message = |code: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == code)
            .map(|d| d["message"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(message("E306").contains("`R1/same.snap`"), "{v:#}");
    assert!(message("E307").contains("found an array"), "{v:#}");
    assert!(message("E308").contains("`id`") || message("E308").contains("`type`"));
    assert!(message("E309").contains("12345678901234567000"), "{v:#}");

    // The warning alone leaves the spec valid, and `test` runs it.
    std::fs::remove_dir_all(dir.path().join("b")).unwrap();
    for f in ["fx/list.json", "fx/dup.json"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    write(dir.path(), "schema.json", "{\"type\": \"object\"}");
    let text = text.replace(", b/same.json", "");
    write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(positions(&v), [("E309".to_string(), 1, 24)]);
}

#[test]
fn a_merge_key_takes_a_shared_anchor_and_written_keys_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let retry_at = MINIMAL.find("retry:\n").unwrap();
    let dlq_at = MINIMAL.find("deadLetterQueue:").unwrap();
    let shared = MINIMAL[retry_at..dlq_at].replacen("retry:", "x-retry: &retry", 1);
    let text = format!(
        "{shared}{}retry:\n  <<: *retry\n  maxRetries: 5\n{}",
        &MINIMAL[..retry_at],
        &MINIMAL[dlq_at..]
    );
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}\n{v:#}");
    let out = dir.path().join("out");
    let o = cxsync()
        .args([
            "compile",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("retry-policy.json")).unwrap()).unwrap();
    assert_eq!(policy["maxRetries"], 5, "{policy:#}");
    assert_eq!(policy["maxDelaySeconds"], 30, "{policy:#}");

    // Written twice in the mapping is still a duplicate, at the second; a merge of a scalar is
    // an error at the value.
    let text = text.replace(
        "  maxRetries: 5\n",
        "  maxRetries: 5\n  maxRetries: 6\n  <<: 7\n",
    );
    write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let line = |needle: &str| text.lines().position(|l| l == needle).unwrap() as u64 + 1;
    assert_eq!(
        positions(&v),
        [
            ("E006".to_string(), line("  maxRetries: 6"), 3),
            ("E008".to_string(), line("  <<: 7"), 7)
        ],
        "{v:#}"
    );
}

#[test]
fn an_invalid_payload_schema_is_reported_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.json", "{\"type\": \"objekt\"}");
    let text = format!("{MINIMAL}crm:\n  payloadSchema: p.json\n");
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(positions(&v), vec![("E305".to_string(), 26, 18)], "{v:#}");
}

#[test]
fn the_checked_in_schema_matches_the_model() {
    let checked_in = std::fs::read_to_string(root().join("schemas/cxsync-spec.v1.json")).unwrap();
    let generated = cxsync::spec::schema::to_pretty();
    assert!(
        checked_in == generated,
        "schemas/cxsync-spec.v1.json is stale: run `cargo run -- schema > schemas/cxsync-spec.v1.json`"
    );
}

#[test]
fn cxsync_schema_prints_the_checked_in_schema() {
    let out = cxsync().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let checked_in = std::fs::read(root().join("schemas/cxsync-spec.v1.json")).unwrap();
    assert_eq!(out.stdout, checked_in);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

/// Every error code the source can emit has a row in docs/spec.md's error table (scenario codes
/// in docs/scenarios.md's), and every row names a code the source emits (or says it is retired).
#[test]
fn the_error_table_in_docs_spec_md_lists_every_error_code() {
    fn codes(text: &str, in_quotes: bool) -> std::collections::BTreeSet<String> {
        let b = text.as_bytes();
        let mut out = std::collections::BTreeSet::new();
        for i in 0..b.len().saturating_sub(4) {
            let open = if in_quotes { b'"' } else { b'|' };
            let (start, end) = if in_quotes {
                (i + 1, i + 5)
            } else {
                (i + 2, i + 6)
            };
            if b[i] == open
                && (!in_quotes || b.get(i + 5) == Some(&b'"'))
                && (in_quotes || b.get(i + 1) == Some(&b' '))
                && b.get(start) == Some(&b'E')
                && end <= b.len()
                && b[start + 1..end].iter().all(u8::is_ascii_digit)
            {
                out.insert(text[start..end].to_string());
            }
        }
        out
    }
    let mut emitted = std::collections::BTreeSet::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                // Only the code, not its unit tests.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                emitted.extend(codes(code, true));
            }
        }
    }
    let doc = std::fs::read_to_string(root().join("docs/spec.md")).unwrap();
    let table = doc.split("## Error codes").nth(1).expect("an error table");
    // Scenario codes (E6xx) have their table in docs/scenarios.md; docs/spec.md points there.
    let scenarios = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    let listed: std::collections::BTreeSet<String> = codes(table, false)
        .into_iter()
        .filter(|c| !c.starts_with("E6"))
        .chain(
            codes(&scenarios, false)
                .into_iter()
                .filter(|c| c.starts_with("E6")),
        )
        .collect();
    assert!(
        table.contains("docs/scenarios.md"),
        "docs/spec.md points at the scenario codes"
    );
    let missing: Vec<_> = emitted.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "codes without a row in docs/spec.md: {missing:?}"
    );
    let retired: Vec<_> = table
        .lines()
        .filter(|l| l.contains("| retired |"))
        .filter_map(|l| l.get(2..6))
        .map(str::to_string)
        .collect();
    let stale: Vec<_> = listed
        .iter()
        .filter(|c| !emitted.contains(*c) && !retired.contains(c))
        .collect();
    assert!(
        stale.is_empty(),
        "rows in docs/spec.md for codes nothing emits: {stale:?}"
    );
}

#[test]
fn a_spec_piped_on_dev_stdin_is_read_once_by_validate_and_lint() {
    // Recognising spec or scenario used to read the stream first, so the loader saw an empty
    // pipe and said "found nothing (null)".
    for cmd in ["validate", "lint"] {
        let mut c = cxsync();
        c.args([cmd, "/dev/stdin"]);
        let out = crate::common::output_with_stdin(c, b"channel:\n  nmae: x\n");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{cmd}: {text}");
        assert!(!text.contains("found nothing"), "{cmd}: {text}");
        assert!(text.contains("/dev/stdin:2:3"), "{cmd}: {text}");
    }
}

/// A misspelt function (tester #6) is an error at the name with the builtin it resembles; a
/// function the transform binds itself, called before and after its definition, is not.
#[test]
fn a_misspelt_function_is_an_error_at_its_name_and_a_bound_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    let head = r#"version: 1
name: misspelt
channel:
  name: Misspelt_Fn
  destinationUri: https://crm.example.org/api/activities
  auth: { type: none }
  timeoutMilliseconds: 3000
idempotency:
  header: X-Idempotency-Key
  key: ${event.id}
"#;
    let tail = r#"deadLetterQueue: { enabled: true, bucketName: b, alertEndpoint: https://mon.example.org/hook }
crm: { profile: generic, idempotency: { by: header } }
rules:
  - id: ACTIVITY
    name: activity
    eventType: interaction.ended
    transform: |
      (
        $label := function($s) { $trim($up($s)) };
        $up := function($s) { $uppercase($s) };
        {
          "kind": $uppercas("a"),
          "label": $label(interaction.queue.name),
          "sum": $reduce([1, 2], function($a, $b) { $a + $b })
        }
      )
"#;
    std::fs::write(&spec, [head, RETRY, tail].concat()).unwrap();
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(positions(&v), vec![("E505".to_string(), 29, 19)], "{v:#}");
    assert_eq!(v[0]["help"], "did you mean `$uppercase`?");
}

/// URLs are checked on their text after `${env:}` interpolation, where the URL parser would
/// forgive what a URL cannot have: a space from a path variable (tester #65). The value is never
/// quoted. A host variable, which could also leave `https:///v1` (read as host `v1`), is refused
/// whatever it holds (E416, tester #129).
#[test]
fn a_url_that_loses_its_host_or_gains_a_space_after_interpolation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"version: 1
name: env-urls
channel:
  name: EnvUrls
  destinationUri: "https://${env:CX_HOST}/v1/${env:CX_PATH}"
  auth: { type: oauth2_client_credentials, tokenEndpoint: "https://${env:CX_HOST}/token", clientId: c, clientSecret: "${env:CX_SECRET}", tokenCacheTtlSeconds: 600 }
  timeoutMilliseconds: 2000
idempotency: { key: "${event.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }
deadLetterQueue: { enabled: true, bucketName: b }
rules:
  - { id: R, name: r, eventType: interaction.ended, transform: '{"id": event.id}' }
"#;
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    let validate = |host: &str, path: &str| {
        let out = cxsync()
            .current_dir(dir.path())
            .env("CX_HOST", host)
            .env("CX_PATH", path)
            .env("CX_SECRET", "s3cr3t")
            .args(["validate", "s.yaml", "--format", "concise"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for host in ["", "crm.example.org"] {
        let (code, text) = validate(host, "interactions");
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains("s.yaml:5:28: error[E416] `${env:…}` in the scheme, host, port or user info of `destinationUri`"),
            "{text}"
        );
        assert!(
            text.contains(
                "error[E416] `${env:…}` in the scheme, host, port or user info of `tokenEndpoint`"
            ),
            "{text}"
        );
    }
    let spec = spec.replace("https://${env:CX_HOST}", "https://crm.example.org");
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    let (code, text) = validate("crm.example.org", "a b");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("`destinationUri` contains a space"), "{text}");
    assert!(!text.contains("a b"), "the value is never quoted: {text}");
    let (code, text) = validate("crm.example.org", "interactions");
    assert_eq!(code, Some(0), "{text}");
}

/// #107: a value `${env:}` fills meets the limits of a literal (a header of at most 8,192
/// characters), and one that would change the URL it lands in (`&` in the query, `#` or `?` in
/// the path, `/` or `@` in the host) is refused at the reference; the value itself is never
/// printed; percent-encoded or plain values pass.
#[test]
fn values_from_the_environment_meet_the_literals_limits_and_keep_the_url_whole() {
    let dir = tempfile::tempdir().unwrap();
    let spec = [
        r#"version: 1
name: env-limits
channel:
  name: EnvLimits
  destinationUri: "https://crm.example.org:8443/api/${env:EL_PATH}?key=${env:EL_QUERY}&v=3"
  auth: { type: none }
  headers:
    X-Tenant-Ref: "t-${env:EL_TENANT}"
  timeoutMilliseconds: 2500
idempotency: { key: "${event.id}" }
"#,
        RETRY,
        "deadLetterQueue: { enabled: true, bucketName: b }\n",
        "rules:\n  - { id: R, name: r, eventType: ticket.closed, transform: '{\"ref\": ticket.ref}', fixtures: [t.json] }\n",
    ]
    .concat();
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    std::fs::write(
        dir.path().join("t.json"),
        r#"{"event": {"id": "t-9", "type": "ticket.closed", "occurredAt": "2024-12-31T23:59:59.999+14:00"}, "ticket": {"ref": "TK-9"}}"#,
    )
    .unwrap();
    // (A host variable is refused whatever it holds: E416, tester #129.)
    let ok = [
        ("EL_PATH", "v2/records"),
        ("EL_QUERY", "abc%26def=="),
        ("EL_TENANT", "acme"),
    ];
    let long = "Z".repeat(9000);
    // (variable, value, code, words)
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "EL_TENANT",
            &long,
            "E106",
            "at most 8192 characters long, once `${env:EL_TENANT}` is resolved",
        ),
        (
            "EL_QUERY",
            "sekrit&admin=1",
            "E409",
            "`EL_QUERY` holds `&`, which in the URL's query starts another parameter",
        ),
        (
            "EL_QUERY",
            "sekrit#frag",
            "E409",
            "starts a fragment, which is never sent",
        ),
        (
            "EL_PATH",
            "v2?debug=1",
            "E409",
            "`EL_PATH` holds `?`, which in the URL's path starts the query",
        ),
    ];
    let validate = |vars: &[(&str, &str)]| {
        let mut c = cxsync();
        c.current_dir(dir.path())
            .args(["validate", "s.yaml", "--color", "never"]);
        for (k, v) in vars {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        (
            o.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    };
    let (code, text) = validate(&ok);
    assert_eq!(code, Some(0), "{text}");
    for (var, value, code, words) in cases {
        let vars: Vec<(&str, &str)> = ok
            .iter()
            .map(|&(k, v)| if k == var { (k, value) } else { (k, v) })
            .collect();
        let (exit, text) = validate(&vars);
        assert_eq!(exit, Some(1), "{var}={value}: {text}");
        assert!(
            text.contains(&format!("error[{code}]")),
            "{var}={value}: {text}"
        );
        assert!(text.contains(words), "{var}={value}: {text}");
        assert!(
            !text.contains(value) && !text.contains("ZZZZ"),
            "{var}: value printed: {text}"
        );
    }
}

/// Tester #143: a spec may name files only inside its project folder (the folder of the nearest
/// `cxsync.toml`, else its own): not by absolute path, not by climbing out with `..`, not through
/// a symbolic link; each refusal is E311 at the value, before the file is read.
#[test]
fn files_a_spec_names_must_stay_in_its_project_folder() {
    let dir = tempfile::tempdir().unwrap();
    let outside = write(dir.path(), "outside/secret.json", "{\"token\": \"x\"}");
    write(dir.path(), "outside/t.jsonata", "{\"id\": interaction.id}");
    write(dir.path(), "proj/cxsync.toml", "");
    write(
        dir.path(),
        "proj/events/ok.json",
        "{\"interaction\": {\"id\": \"1\"}}",
    );
    std::fs::create_dir_all(dir.path().join("proj/specs")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("proj/specs/link.json")).unwrap();
    let text = MINIMAL.replace(
        "    transform: '{\"id\": interaction.id}'\n",
        &format!(
            "    transformFile: ../../outside/t.jsonata\n    fixtures:\n      - {}\n      - ../../outside/*.json\n      - link.json\n      - ../events/ok.json\n",
            outside.display()
        ),
    ) + "crm:\n  payloadSchema: ../../outside/secret.json\n";
    let spec = write(dir.path(), "proj/specs/s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    let mut found: Vec<(String, u64, u64)> = positions(&v);
    found.sort();
    let e311 = |line, column| ("E311".to_string(), line, column);
    assert_eq!(
        found,
        vec![
            e311(24, 20),
            e311(26, 9),
            e311(27, 9),
            e311(28, 9),
            e311(31, 18)
        ],
        "{v:#}"
    );
    let messages: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.ends_with("is an absolute path")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("through a symbolic link")),
        "{messages:?}"
    );
    // The flag lets the same spec name them.
    let (code, v) = validate_json(&["--allow-outside-project", spec.to_str().unwrap()]);
    assert!(positions(&v).iter().all(|(c, _, _)| c != "E311"), "{v:#}");
    assert_eq!(code, Some(0), "{v:#}");
}

/// Tester #143: a file that is not what the spec said (a `.env` named as a fixture) is quoted in
/// a snippet of at most a short window of its line, with what looks like a credential hidden.
#[test]
fn a_referenced_file_that_does_not_parse_is_quoted_short_and_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(5000);
    write(
        dir.path(),
        "dot.env",
        &format!("CRM_API_KEY=abcd1234secret {long}\n"),
    );
    let text = MINIMAL.replace(
        "    transform: '{\"id\": interaction.id}'\n",
        "    transform: '{\"id\": interaction.id}'\n    fixtures: [dot.env]\n",
    );
    let spec = write(dir.path(), "s.yaml", &text);
    let out = run_bounded(
        {
            let mut c = cxsync();
            c.args(["validate", spec.to_str().unwrap()]);
            c
        },
        Duration::from_secs(60),
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("E304"), "{shown}");
    assert!(!shown.contains("abcd1234secret"), "{shown}");
    assert!(shown.contains("(sensitive)"), "{shown}");
    let widest = shown.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 200, "a line of {widest} characters:\n{shown}");
}

/// Tester #129: a `${env:…}` or `${VAULT_SECRET:…}` in a URL's scheme, host, port or user info is
/// refused at the reference (E416) in every URL field, overlays included; one in the path or
/// query is not.
#[test]
fn a_variable_in_a_urls_authority_is_refused_at_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "s.yaml",
        r#"version: 1
name: env-authority
channel:
  name: EnvAuth
  destinationUri: "https://${env:CRM_HOST}/v1/${env:TENANT}"
  auth: { type: oauth2_client_credentials, tokenEndpoint: "https://user:${VAULT_SECRET:PW}@auth.example.com:${env:PORT}/token", clientId: c, clientSecret: "${env:CX_SECRET}", tokenCacheTtlSeconds: 600 }
  timeoutMilliseconds: 2000
idempotency: { key: "${event.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }
deadLetterQueue: { enabled: true, bucketName: b, alertEndpoint: "${env:ALERT_URL}" }
rules:
  - { id: R, name: r, eventType: interaction.ended, transform: '{"id": event.id}' }
environments:
  staging:
    channel:
      destinationUri: "https://staging.example.com/v1?k=${env:TENANT}"
    deadLetterQueue:
      alertEndpoint: "https://${env:X}.example.com/a"
"#,
    );
    let check = |env: &[&str]| {
        let mut c = cxsync();
        c.arg("validate")
            .args(env)
            .arg(&spec)
            .args(["--format", "json"]);
        for (k, v) in [
            ("CRM_HOST", "crm.example.com"),
            ("TENANT", "t1"),
            ("PORT", "443"),
            ("CX_SECRET", "s3cr3t"),
            ("ALERT_URL", "https://alerts.example.com/a"),
            ("X", "alerts"),
        ] {
            c.env(k, v);
        }
        let out = run_bounded(c, Duration::from_secs(60));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), positions(&v))
    };
    let e416 = |line, column| ("E416".to_string(), line, column);
    assert_eq!(
        check(&[]),
        (
            Some(1),
            vec![
                e416(5, 28),
                e416(6, 73),
                e416(6, 109),
                e416(10, 66),
                e416(18, 31)
            ]
        )
    );
    assert_eq!(
        check(&["--env", "staging"]),
        (Some(1), vec![e416(6, 73), e416(6, 109), e416(18, 31)])
    );
}

/// Tester #169: a fixture (or payload schema) that starts with a UTF-8 byte order mark is read
/// as JSON, and a mistake after the mark is still reported at its own line and column.
#[test]
fn a_fixture_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bom.json",
        "\u{feff}{\"interaction\": {\"id\": \"1\"}}",
    );
    write(dir.path(), "bad.json", "\u{feff}{\"interaction\": }");
    let text = format!("{MINIMAL}    fixtures: [bom.json]\n");
    let spec = write(dir.path(), "s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v:#}");
    let spec = write(dir.path(), "s.yaml", &text.replace("bom.json", "bad.json"));
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(positions(&v), vec![("E304".to_string(), 1, 18)], "{v:#}");
}

/// `eval` reads an event file as the loader reads a fixture (one reader, `spec::files::json_text`):
/// with a byte order mark, `--event FILE`, `--event -` and the first line of `--events` give what
/// the same event without the mark gives, and a duplicate key after the mark is still warned at
/// its own line and column.
#[test]
fn eval_reads_an_event_with_a_byte_order_mark_as_a_fixture_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let plain = "{\"interaction\": {\"id\": \"i-1\", \"n\": 1e3}}";
    write(dir.path(), "plain.json", plain);
    let bom = write(dir.path(), "bom.json", &format!("\u{feff}{plain}"));
    let eval = |args: &[&str], stdin: &str| {
        let mut c = cxsync();
        c.args([
            "eval",
            "--expr",
            "{\"id\": interaction.id, \"n\": interaction.n}",
        ])
        .args(args)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let expected = eval(&["--event", "plain.json"], "");
    assert_eq!(expected.0, Some(0), "{expected:?}");
    assert!(expected.1.contains("i-1"), "{expected:?}");
    assert_eq!(eval(&["--event", bom.to_str().unwrap()], ""), expected);
    assert_eq!(
        eval(&["--event", "-"], &format!("\u{feff}{plain}")),
        expected
    );
    let lines = eval(&["--events", "-"], &format!("\u{feff}{plain}\n{plain}\n"));
    assert_eq!(lines.0, Some(0), "{lines:?}");
    let compact = eval(&["--event", "plain.json", "--compact"], "").1;
    assert_eq!(lines.1, format!("{compact}{compact}"), "{lines:?}");
    write(dir.path(), "dup.json", "\u{feff}{\"a\": 1,\n \"a\": 2}");
    let dup = eval(&["--event", "dup.json"], "");
    assert_eq!(dup.0, Some(0), "{dup:?}");
    assert!(
        dup.2.contains("duplicate key `a` at 2:2 (first at 1:3)"),
        "{dup:?}"
    );
}

/// Tester #171: outside a project (no `cxsync.toml`), a spec in `specs/` naming `../fixtures/`
/// is E311 whose help names the folder holding both as where to create the project file; with
/// the empty file there, the same spec is valid.
#[test]
fn outside_a_project_the_help_says_where_to_put_cxsync_toml() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fixtures/a.json",
        "{\"interaction\": {\"id\": \"1\"}}",
    );
    let text = format!("{MINIMAL}    fixtures: [../fixtures/a.json]\n");
    let spec = write(dir.path(), "specs/s.yaml", &text);
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v[0]["code"], "E311", "{v:#}");
    let help = v[0]["help"].as_str().unwrap();
    let base = dir
        .path()
        .canonicalize()
        .unwrap_or(dir.path().to_path_buf());
    assert!(
        help.contains(&format!("to make `{}`", dir.path().display()))
            || help.contains(&format!("to make `{}`", base.display())),
        "{help}"
    );
    assert!(help.contains("create an empty cxsync.toml there"), "{help}");
    write(dir.path(), "cxsync.toml", "");
    let (code, v) = validate_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v:#}");
}

/// #239: every load-error code the source emits (`"E304"` in `src/`) has a row in the
/// documentation's tables, which is what `cxsync explain` prints: one list of codes; and
/// `explain` prints a code's row, its stage and where the table is, or says where E-codes live.
#[test]
fn every_error_code_the_source_emits_is_documented_and_explained() {
    let mut emitted = std::collections::BTreeSet::new();
    for (rel, bytes) in crate::common::files_under(&root().join("src")) {
        if !rel.to_string_lossy().ends_with(".rs") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let b = text.as_bytes();
        for i in 0..b.len().saturating_sub(5) {
            if b[i] == b'"'
                && b[i + 1] == b'E'
                && b[i + 2..i + 5].iter().all(u8::is_ascii_digit)
                && b[i + 5] == b'"'
            {
                emitted.insert(text[i + 1..i + 5].to_string());
            }
        }
    }
    assert!(emitted.len() > 50, "{emitted:?}");
    let documented = cxsync::cli::explain::load_errors();
    let missing: Vec<&String> = emitted
        .iter()
        .filter(|c| !documented.contains_key(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a row in docs/spec.md or docs/scenarios.md: {missing:?}"
    );
    for code in ["E506", "E304", "E613", "e020"] {
        let o = cxsync().args(["explain", code]).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{code}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.starts_with(&code.to_ascii_uppercase()), "{out}");
        assert!(out.contains("docs/"), "{out}");
    }
    let o = cxsync().args(["explain", "E999"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("docs/spec.md#error-codes"));
    let o = cxsync().args(["explain", "E506"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("lookaround"));
}

/// An `interaction.ended` event whose `interaction.meta` nests `levels` objects deep.
fn deep_event(levels: usize) -> String {
    let mut d = r#"{"leaf":1}"#.to_string();
    for _ in 0..levels {
        d = format!(r#"{{"n":{d}}}"#);
    }
    format!(
        r#"{{"event":{{"id":"x","type":"interaction.ended"}},"interaction":{{"id":"1","meta":{d}}}}}"#
    )
}

/// #231: JSON nested deeper than cxsync reads (127 levels, the limit serde_json and the engine
/// share) is said in those words, with the limit and a help line, wherever cxsync reads JSON: a
/// fixture (E304, not "not valid JSON: recursion limit exceeded"), `eval --event` (a tool error)
/// and an `eval --events` line (`EVENT_TOO_DEEP`); a fixture within the limit loads.
#[test]
fn json_nested_deeper_than_the_limit_names_the_limit_everywhere_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::copy_example_project(dir.path());
    let deep = dir.path().join("fixtures/events/deep.json");
    std::fs::write(&deep, deep_event(300)).unwrap();
    let o = cxsync()
        .current_dir(dir.path())
        .args(["validate", "specs/crm_sync.yaml"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error[E304]: fixture nests deeper than 127 levels of arrays and objects (cxsync's limit)"),
        "{out}"
    );
    assert!(
        out.contains(
            "= help: the text may be valid JSON, but cxsync reads JSON only up to 127 levels deep"
        ),
        "{out}"
    );
    assert!(!out.contains("recursion limit"), "{out}");

    // Within the limit (the event's own two levels + 124 + the leaf object = 127): no E304.
    std::fs::write(&deep, deep_event(124)).unwrap();
    let o = cxsync()
        .current_dir(dir.path())
        .args(["validate", "specs/crm_sync.yaml", "--format", "json"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("E304"), "{out}");

    std::fs::write(&deep, deep_event(300)).unwrap();
    let o = cxsync()
        .args(["eval", "--expr", "event.id", "--event"])
        .arg(&deep)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nests deeper than 127 levels") && err.contains("= help:"),
        "{err}"
    );
    assert!(!err.contains("recursion limit"), "{err}");

    let o = cxsync()
        .args(["eval", "--expr", "$string($)", "--events"])
        .arg(&deep)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(r#""code":"EVENT_TOO_DEEP""#) && out.contains("deeper than 127 levels"),
        "{out}"
    );
}
