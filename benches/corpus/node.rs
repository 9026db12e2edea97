//! Running the reference side of a benchmark: a script under `benches/js` on Node.js, shared by
//! `benches/corpus.rs` and `benches/transform.rs`.

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Runs `node SCRIPT ARGS…`; `None` (with the reason on stderr) when node is missing or the
/// script fails, so the Rust side of a bench still reports.
pub fn run<S: AsRef<OsStr>>(script: &std::path::Path, args: &[S]) -> Option<Output> {
    match Command::new("node").arg(script).args(args).output() {
        Ok(o) if o.status.success() => Some(o),
        Ok(o) => {
            eprintln!("jsonata-js failed: {}", String::from_utf8_lossy(&o.stderr));
            None
        }
        Err(e) => {
            eprintln!("jsonata-js skipped: cannot run node: {e}");
            None
        }
    }
}

/// `node --version`, or empty when node is missing.
pub fn version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
