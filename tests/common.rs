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

/// The guide's retry block, for spec literals in tests that need one and test something else:
/// `[head, RETRY, tail].concat()`.
pub const RETRY: &str = "retry:
  maxRetries: 3
  initialDelaySeconds: 1
  maxDelaySeconds: 10
  backoffMultiplier: 2.0
  retryableStatusCodes: [429, 500, 502, 503, 504]
  nonRetryableStatusCodes: [400, 401, 403, 404, 422]
";

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

/// Runs `cmd` with `input` on its stdin (written from a thread, so a command that answers
/// before it has read everything cannot block on a full pipe), stdout and stderr captured.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Runs `cmd` the way `cxsync … | head -0` does: its stdout a pipe whose read end is closed
/// before it starts, stdin empty, stderr captured.
pub fn output_into_closed_pipe(mut cmd: Command) -> Output {
    // `std::io::pipe` is newer than the crate's MSRV.
    let writer = {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fresh descriptors into `fds`; the read end is closed at once
        // and the write end is owned by the File alone.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::close(fds[0]);
            std::fs::File::from_raw_fd(fds[1])
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
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

/// The example project (see [`copy_example_project`]) in a new temporary folder, with each
/// `(file, from, to)` edit applied in order (`file` relative to the project; see [`edit_file`]).
pub fn edited_example(edits: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_example_project(dir.path());
    for (file, from, to) in edits {
        edit_file(&dir.path().join(file), from, to);
    }
    dir
}

/// Replaces every `from` with `to` in the file at `path`, which must contain it.
pub fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
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

/// What a command printed on a terminal (stdout and stderr both go to one pseudo-terminal).
#[cfg(unix)]
pub struct OnTerminal {
    pub code: Option<i32>,
    pub output: String,
}

/// Runs `cmd` with stdout and stderr on a new pseudo-terminal (stdin stays as configured), the
/// way a person at a terminal sees it.
#[cfg(unix)]
pub fn on_terminal(mut cmd: Command) -> OnTerminal {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // 100 columns, so progress bars have room.
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fresh descriptors into the out-parameters; the name and termios
    // arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just returned by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    cmd.stdout(slave.try_clone().unwrap());
    cmd.stderr(slave);
    let mut child = cmd.spawn().unwrap();
    // Drop our copies of the slave (moved into cmd) so reading the master ends when the child
    // exits.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                // Linux answers EIO once the last slave descriptor is closed.
                Err(_) => break,
            }
        }
        out
    });
    let status = child.wait().unwrap();
    let output = reader.join().unwrap();
    OnTerminal {
        code: status.code(),
        output: String::from_utf8_lossy(&output).into_owned(),
    }
}
