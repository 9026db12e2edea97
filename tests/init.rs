//! `cxsync init`: for every CRM profile, a project on which every command passes at once, made
//! from nothing but the binary; it never overwrites.

use std::path::Path;
use std::process::Output;

use crate::common::cxsync;

const PROFILES: [&str; 6] = [
    "generic",
    "salesforce",
    "dynamics",
    "zendesk",
    "hubspot",
    "servicenow",
];

fn run_in(dir: &Path, args: &[&str]) -> Output {
    cxsync().current_dir(dir).args(args).output().unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_profile_makes_a_project_that_validate_lint_test_and_sim_pass_at_once() {
    let d = tempfile::tempdir().unwrap();
    for p in PROFILES {
        let out = run_in(d.path(), &["init", "--crm", p, p]);
        assert_eq!(out.status.code(), Some(0), "init {p}: {}", show(&out));
        let proj = d.path().join(p);
        let spec = std::fs::read_dir(proj.join("specs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|f| f.extension().is_some_and(|e| e == "yaml"))
            .unwrap();
        let text = std::fs::read_to_string(&spec).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/cxsync-spec.v1.json\n")
        );
        assert!(text.contains(&format!("profile: {p}")), "{text}");
        let spec = format!("specs/{}", spec.file_name().unwrap().to_string_lossy());
        let scenario = format!("scenarios/{p}-campaign-burst.yaml");
        for args in [
            vec!["validate", "specs", "scenarios"],
            // cxsync.toml sets deny-warnings: a warning would fail this too.
            vec!["lint", "specs", "scenarios"],
            vec!["test"],
            vec!["sim", spec.as_str()],
            vec!["sim", spec.as_str(), "--scenario", scenario.as_str()],
        ] {
            let out = run_in(&proj, &args);
            assert_eq!(out.status.code(), Some(0), "{p}: {args:?}: {}", show(&out));
        }
        // The filtered fixture and the IVR-only one are snapshotted like the others.
        let snaps: Vec<String> = walk(&proj.join("snapshots"));
        assert_eq!(snaps.len(), 3, "{p}: {snaps:?}");
        assert!(snaps.iter().any(|s| s.ends_with("email_filtered.snap")));
        assert!(snaps.iter().any(|s| s.ends_with("ivr_self_service.snap")));
        let filtered = std::fs::read_to_string(
            snaps
                .iter()
                .find(|s| s.ends_with("email_filtered.snap"))
                .unwrap(),
        )
        .unwrap();
        assert!(filtered.contains("# outcome: filtered"), "{filtered}");
        // A test run from elsewhere finds the same snapshots.
        let out = cxsync()
            .current_dir("/")
            .arg("test")
            .arg(proj.join(&spec))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{p} from /: {}", show(&out));
        // The project's own files: a CI workflow, the project file, the CRM schema.
        for f in [".github/workflows/cxsync.yml", "cxsync.toml"] {
            assert!(proj.join(f).is_file(), "{p}: {f}");
        }
        assert!(proj
            .join(format!("specs/{p}-payload.schema.json"))
            .is_file());
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn init_refuses_to_overwrite_and_writes_nothing_then() {
    let d = tempfile::tempdir().unwrap();
    let proj = d.path().join("p");
    std::fs::create_dir_all(proj.join("specs")).unwrap();
    std::fs::write(proj.join("specs/crm_sync.yaml"), "mine\n").unwrap();
    std::fs::write(proj.join("README.md"), "mine\n").unwrap();
    let out = run_in(d.path(), &["init", "p"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to overwrite 1 existing file"),
        "{err}"
    );
    assert!(err.contains("specs/crm_sync.yaml"), "{err}");
    assert_eq!(
        std::fs::read_to_string(proj.join("specs/crm_sync.yaml")).unwrap(),
        "mine\n"
    );
    // Nothing else appeared, not even the staging folder.
    let names: Vec<String> = std::fs::read_dir(&proj)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["README.md", "specs"]);
}

#[test]
fn init_adds_to_an_existing_folder_beside_what_is_there() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join(".github/workflows")).unwrap();
    std::fs::write(d.path().join(".github/workflows/build.yml"), "on: push\n").unwrap();
    let out = run_in(d.path(), &["init", "--crm", "zendesk"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(d.path().join(".github/workflows/build.yml").is_file());
    assert!(d.path().join(".github/workflows/cxsync.yml").is_file());
    let out = run_in(d.path(), &["test"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The spec's name comes from the folder; a second init refuses.
    let out = run_in(d.path(), &["init", "--crm", "zendesk"]);
    assert_eq!(out.status.code(), Some(2));
}
