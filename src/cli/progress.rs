//! Progress on long work, the same in every command: a bar on stderr when stderr is a terminal,
//! nothing at all when it is piped or redirected, and no bar before there is something to count
//! (a run with no cases draws nothing). Messages that must not wait for the end (a transform
//! hitting its limit) go through [`Progress::note`], above the bar on a terminal and as plain
//! stderr lines otherwise. `sim`, `test`, `dlq replay` and `eval --events` use it; a command adds progress by
//! creating one and calling [`Progress::set`] or [`Progress::inc`].

use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The unit of [`Progress::bytes`], drawn as sizes (`1.20 MiB/8.00 MiB`).
const BYTES: &str = "bytes";

/// A progress bar that exists only on a terminal, drawn from the first item counted.
pub struct Progress {
    /// Whether to draw at all (stderr is a terminal).
    show: bool,
    /// The length given at creation, for a bar first drawn by [`Progress::inc`].
    len: u64,
    unit: String,
    bar: OnceLock<ProgressBar>,
}

impl Progress {
    /// A bar of `len` items called `unit` (`events`, `cases`, `records`); hidden unless stderr is
    /// a terminal.
    pub fn new(len: u64, unit: &str) -> Progress {
        Progress {
            show: super::stderr_is_terminal(),
            len,
            unit: unit.to_string(),
            bar: OnceLock::new(),
        }
    }

    /// A bar over `len` bytes of input (`eval --events` reading a file).
    pub fn bytes(len: u64) -> Progress {
        Progress::new(len, BYTES)
    }

    /// No bar (a command that asks questions on the terminal); notes still go to stderr.
    pub fn hidden() -> Progress {
        let mut p = Progress::new(0, "");
        p.show = false;
        p
    }

    /// The bar, drawn from now on; `None` when hidden or while there is nothing to count.
    fn bar(&self, len: u64) -> Option<&ProgressBar> {
        if let Some(b) = self.bar.get() {
            return Some(b);
        }
        if !self.show || len == 0 {
            return None;
        }
        Some(self.bar.get_or_init(|| {
            let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let count = if self.unit == BYTES {
                "{binary_bytes}/{binary_total_bytes}".to_string()
            } else {
                format!("{{pos}}/{{len}} {}", self.unit)
            };
            b.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {count} {{wide_bar}} {{elapsed}} (eta {{eta}}) {{msg}}"
                ))
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        }))
    }

    /// `done` of `total` items.
    pub fn set(&self, done: u64, total: u64) {
        if let Some(b) = self.bar(total) {
            b.set_length(total);
            b.set_position(done);
        }
    }

    /// One more item (or `n`).
    pub fn inc(&self, n: u64) {
        if let Some(b) = self.bar(self.len) {
            b.inc(n);
        }
    }

    /// What the bar is on now (a spec's name, an event id), shown after it.
    pub fn message(&self, m: &str) {
        if let Some(b) = self.bar(self.len) {
            b.set_message(m.to_string());
        }
    }

    /// A line for the person now, not at the end: above the bar, or on stderr without one.
    pub fn note(&self, line: &str) {
        match self.bar.get() {
            Some(b) => b.println(line),
            None => crate::errln!("{line}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
    }
}
