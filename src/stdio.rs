//! The process's stdout and stderr: the one writer every command's text goes through.
//!
//! A closed pipe is not an error of cxsync's (`cxsync lint | head -1`, `cxsync sim … 2>&1 | head`):
//! the first write that meets it marks the stream closed, later writes to it are dropped, and the
//! command finishes and exits with the code it gives anyway (README "Exit codes"). `println!` and
//! `eprintln!` panic there instead (exit 101), so `src/` prints through [`stdout`], [`stderr`] and
//! [`errln!`](crate::errln) (`tests/habits.rs` checks that no `print!`-family macro is left).
//! Another write error on stdout (a full disk behind `> file`) is returned to the caller, a tool
//! error; one on stderr is dropped, for there is nowhere left to say it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `s` to stdout and flushes it; a closed pipe is `Ok` (see the module's doc).
pub fn stdout(s: &str) -> io::Result<()> {
    write_to(&mut io::stdout().lock(), s.as_bytes(), &STDOUT_CLOSED)
}

/// Writes `s` to stderr; never fails and never panics.
pub fn stderr(s: &str) {
    let _ = write_to(&mut io::stderr().lock(), s.as_bytes(), &STDERR_CLOSED);
}

/// Whether a write to stdout has met a closed pipe (`apply` then says the rest on stderr).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Whether an error is a closed pipe.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn write_to(w: &mut impl Write, bytes: &[u8], closed: &AtomicBool) -> io::Result<()> {
    if closed.load(Ordering::Relaxed) {
        return Ok(());
    }
    match w.write_all(bytes).and_then(|()| w.flush()) {
        Err(e) if is_broken_pipe(&e) => {
            closed.store(true, Ordering::Relaxed);
            Ok(())
        }
        r => r,
    }
}

/// `eprintln!` that cannot panic: a line to stderr through [`stderr`].
#[macro_export]
macro_rules! errln {
    () => {
        $crate::stdio::stderr("\n")
    };
    ($($arg:tt)*) => {
        $crate::stdio::stderr(&format!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone.
    struct Closed(usize);
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_marked_once_and_later_writes_are_dropped() {
        let flag = AtomicBool::new(false);
        let mut w = Closed(0);
        assert!(write_to(&mut w, b"a\n", &flag).is_ok());
        assert!(flag.load(Ordering::Relaxed));
        assert!(write_to(&mut w, b"b\n", &flag).is_ok());
        assert_eq!(w.0, 1, "the second write must not reach the closed pipe");
    }

    #[test]
    fn another_write_error_is_returned() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no space left on device"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let flag = AtomicBool::new(false);
        assert!(write_to(&mut Full, b"a", &flag).is_err());
        assert!(!flag.load(Ordering::Relaxed));
    }
}
