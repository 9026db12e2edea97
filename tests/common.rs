//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The official JSONata test suite, vendored at `tests/jsonata-test-suite` (MIT; its licence is
/// beside it). Both conformance tests read it from here and nowhere else.
pub fn jsonata_suite() -> PathBuf {
    let dir = root().join("tests/jsonata-test-suite");
    assert!(
        dir.join("groups").is_dir(),
        "the vendored JSONata test suite is missing at {}",
        dir.display()
    );
    dir
}

/// A `cxsync` command run from the repository root.
pub fn cxsync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cxsync"));
    c.current_dir(root());
    c.env_remove("CXSYNC_HUB_URL");
    c
}

/// Runs a command with a deadline, so a hang is a failure and not a stuck test run.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("cxsync did not finish within {limit:?}");
        }
    }
}

/// Asserts that a run of cxsync ended the way a user may see it end: exit 0, 1 or 2, never a
/// panic (101), an abort (134) or a kill (137), and no panic message on stderr.
pub fn assert_no_crash(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{what}: exit {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

/// Copies the example project (project file, spec, transform, CRM schema, fixtures, snapshots)
/// into `dest`, to change freely.
pub fn copy_example_project(dest: &Path) {
    for sub in [
        "specs/transforms",
        "fixtures/events",
        "snapshots/crm_sync/CRM_SYNC_RULE_ID",
    ] {
        std::fs::create_dir_all(dest.join(sub)).unwrap();
        for e in std::fs::read_dir(root().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && !p.to_string_lossy().ends_with(".new") {
                std::fs::copy(&p, dest.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    for f in [
        "cxsync.toml",
        "specs/crm_sync.yaml",
        "specs/crm-case.schema.json",
    ] {
        std::fs::copy(root().join(f), dest.join(f)).unwrap();
    }
}

/// Every file under `dir` (recursively), by path relative to it.
pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}
