//! Many specs at once (files, folders, quoted globs; scenarios recognised and validated as
//! scenarios) and snapshots found beside the spec's project, whatever the current folder.

use std::path::Path;
use std::process::Output;

use crate::common::{copy_example_project, cxsync};

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn lint_and_validate_of_folders_check_scenarios_as_scenarios_and_count_both() {
    for cmd in ["lint", "validate"] {
        let out = cxsync().args([cmd, "scenarios", "specs"]).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {stdout}{stderr}");
        assert!(!stdout.contains("error["), "{cmd}: {stdout}");
        assert!(
            stderr.contains("1 spec and 9 scenarios"),
            "{cmd} summary: {stderr}"
        );
    }
}

#[test]
fn a_broken_scenario_in_a_folder_gets_the_scenario_checks_at_its_line() {
    let d = tempfile::tempdir().unwrap();
    // No modeline: recognised by its shape (top-level `duration`, no `channel`).
    std::fs::write(
        d.path().join("storm.yaml"),
        "version: 1\nname: storm\nduration: 10m\nevents:\n  count: 10\nfaults:\n  - throttle: { from: 5m, to: 1m, requests: 1, per: 1s }\n",
    )
    .unwrap();
    let out = cxsync()
        .args(["lint", "--format", "concise"])
        .arg(d.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let line = stdout.lines().next().unwrap_or_default();
    assert!(line.contains("storm.yaml:7:"), "{stdout}");
    assert!(
        line.contains("error[E6"),
        "a scenario code, not a spec one: {stdout}"
    );
    assert!(stderr.contains("in 1 scenario."), "{stderr}");
}

#[test]
fn quoted_globs_expand_and_a_glob_that_matches_nothing_is_a_tool_error() {
    let out = cxsync()
        .args(["validate", "fixtures/lint/CX00*.yaml", "scenarios/*.yaml"])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("9 specs and 9 scenarios valid"), "{stderr}");
    let out = cxsync().args(["lint", "specs/**/*.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("`specs/**/*.toml` matches no file"));
}

fn copy_project(dir: &Path) -> std::path::PathBuf {
    let proj = dir.join("proj");
    copy_example_project(&proj);
    proj
}

/// `cxsync test SPEC` run from `cwd`.
fn test_from(cwd: &Path, spec: &Path) -> Output {
    cxsync()
        .current_dir(cwd)
        .arg("test")
        .arg(spec)
        .output()
        .unwrap()
}

#[test]
fn test_of_an_absolute_spec_path_from_another_folder_uses_the_projects_snapshots() {
    let d = tempfile::tempdir().unwrap();
    let proj = copy_project(d.path());
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let spec = proj.join("specs/crm_sync.yaml");
    let out = test_from(Path::new("/"), &spec);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");

    // A changed mapping, run from an unrelated folder: the .snap.new goes beside the snapshot.
    let t = proj.join("specs/transforms/interaction_ended.jsonata");
    let body = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, body.replacen("\"channelType\"", "\"channel\"", 1)).unwrap();
    let out = test_from(&elsewhere, &spec);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let pending = proj.join("snapshots/crm_sync/CRM_SYNC_RULE_ID/voice_resolved.snap.new");
    assert!(pending.is_file(), "{}", text(&out).0);
    assert!(!elsewhere.join("snapshots").exists());

    // Without cxsync.toml the snapshots are looked for beside the spec (whose project folder
    // is then its own, so its `../fixtures` needs the flag).
    std::fs::remove_file(proj.join("cxsync.toml")).unwrap();
    let out = cxsync()
        .current_dir(&elsewhere)
        .args(["test", "--allow-outside-project"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        text(&out)
            .0
            .contains(&format!("{}", proj.join("specs/snapshots").display())),
        "{}",
        text(&out).0
    );
}

#[test]
fn test_with_no_paths_finds_the_projects_specs_from_a_subfolder() {
    let d = tempfile::tempdir().unwrap();
    let proj = copy_project(d.path());
    let out = cxsync()
        .current_dir(proj.join("fixtures/events"))
        .arg("test")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
}

/// A one-rule spec whose transform says where it comes from, with one fixture beside it.
fn tagged_spec(dir: &Path, file: &str, tag: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("ended.json"),
        r#"{"id": "e-1", "type": "interaction.ended", "interaction": {"id": "i-1"}}"#,
    )
    .unwrap();
    let spec = dir.join(file);
    std::fs::write(
        &spec,
        format!(
            r#"version: 1
name: tagged-{tag}
channel: {{ name: Tagged, destinationUri: "https://crm.example.org/a", auth: {{ type: none }}, timeoutMilliseconds: 1000 }}
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }}
deadLetterQueue: {{ enabled: true, bucketName: b }}
rules:
  - {{ id: R, name: r, eventType: interaction.ended, transform: '{{"from": "{tag}"}}', fixtures: [ended.json] }}
"#
        ),
    )
    .unwrap();
    spec
}

#[test]
fn two_specs_that_would_share_a_snapshot_folder_are_refused_before_anything_is_written() {
    // Tester #58: `a/spec.yaml` and `b/spec.yaml` of one project both wrote `snapshots/spec/R/`,
    // so `test --update` kept whichever ran last and the next `test` failed the other.
    let d = tempfile::tempdir().unwrap();
    let proj = d.path().join("proj");
    std::fs::create_dir(&proj).unwrap();
    std::fs::write(proj.join("cxsync.toml"), "").unwrap();
    tagged_spec(&proj.join("a"), "spec.yaml", "a");
    tagged_spec(&proj.join("b"), "spec.yaml", "b");
    for args in [
        &["test", "a/spec.yaml", "b/spec.yaml", "--update"][..],
        &["test", "."],
    ] {
        let out = cxsync().current_dir(&proj).args(args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("error[E310]")
                && stderr
                    .contains("`a/spec.yaml` and `b/spec.yaml` would write the same snapshots"),
            "{args:?}: {stderr}"
        );
        assert!(stdout.contains("0 passed, 0 failed"), "{args:?}: {stdout}");
        assert!(
            !proj.join("snapshots").exists(),
            "{args:?}: nothing written"
        );
    }

    // `a.yaml` beside `a.yml` is one folder too, and so is one name under one `--snapshots DIR`.
    let e = d.path().join("e");
    let one = tagged_spec(&e, "a.yaml", "yaml");
    let other = tagged_spec(&e, "a.yml", "yml");
    let out = cxsync().arg("test").arg(&one).arg(&other).output().unwrap();
    assert!(text(&out).1.contains("error[E310]"), "{:?}", text(&out));
    let shared = d.path().join("shared");
    let out = cxsync()
        .arg("test")
        .arg(proj.join("a/spec.yaml"))
        .arg(proj.join("b/spec.yaml"))
        .arg("--snapshots")
        .arg(&shared)
        .output()
        .unwrap();
    assert!(text(&out).1.contains("error[E310]"), "{:?}", text(&out));

    // Each in its own project (its own snapshots/) they pass, and one spec named twice is no clash.
    std::fs::write(proj.join("a/cxsync.toml"), "").unwrap();
    let out = cxsync()
        .current_dir(&proj)
        .args([
            "test",
            "a/spec.yaml",
            "./a/spec.yaml",
            "b/spec.yaml",
            "--update",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
    assert!(proj.join("a/snapshots/spec/R/ended.snap").is_file());
    assert!(proj.join("snapshots/spec/R/ended.snap").is_file());
}

#[test]
fn fix_takes_folders_and_quoted_globs_as_lint_does() {
    // `fix specs/` said "cannot read file: Is a directory"; now it reads what `lint` reads.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("dialect");
    std::fs::create_dir(&dir).unwrap();
    for f in ["guide_block.yaml", "guide_inline_quoted.yaml"] {
        std::fs::copy(
            crate::common::root().join("fixtures/dialect").join(f),
            dir.join(f),
        )
        .unwrap();
    }
    // Their fixtures are `../events/*.json`.
    let events = d.path().join("events");
    std::fs::create_dir(&events).unwrap();
    for e in std::fs::read_dir(crate::common::root().join("fixtures/events")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, events.join(p.file_name().unwrap())).unwrap();
    }
    // A project, as the repository is one: files a spec names stay inside it (E311).
    std::fs::write(d.path().join("cxsync.toml"), "").unwrap();
    let glob = dir.join("guide_*.yaml");
    for (arg, code) in [(&dir, 1), (&glob, 1)] {
        let out = cxsync().args(["fix", "--check"]).arg(arg).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert_eq!(stderr.matches("would fix").count(), 2, "{stderr}");
    }
    let out = cxsync().arg("fix").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = cxsync()
        .args(["fix", "--check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).1.contains("nothing to fix"), "{:?}", text(&out));
    let out = cxsync()
        .arg("fix")
        .arg(d.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}
