//! Helpers shared by the integration tests.

use std::path::PathBuf;
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
