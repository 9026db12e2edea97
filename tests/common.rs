//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `cxsync` command run from the repository root.
pub fn cxsync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cxsync"));
    c.current_dir(root());
    c.env_remove("CXSYNC_HUB_URL");
    c
}
