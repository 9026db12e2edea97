//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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
