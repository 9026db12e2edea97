//! Re-check cost of `cxsync lsp` on the example spec (`specs/crm_sync.yaml`, its transform file,
//! five fixtures and the CRM payload schema): what the server does after each keystroke once the
//! debounce has passed — load through the editor's buffer, lint, the transform checks, and the
//! conversion of every diagnostic to protocol positions. Goal: median ≤ 20 ms.
//!
//! Each iteration edits the buffer (a different `maxRetries`, and every other time an unknown
//! key that makes the spec fail the schema), so no iteration re-checks the same text.
//!
//! Run: `cargo bench --bench lsp`. Prints the median and p90 wall time per re-check and the
//! median CPU time of the checking thread (`/proc/thread-self/schedstat`, nanoseconds), which
//! other processes on a shared machine do not inflate.

use std::path::Path;
use std::time::{Duration, Instant};

use cxsync::lsp::server::to_lsp;
use cxsync::lsp::text::{Encoding, Lines};
use cxsync::lsp::world::World;

const RUNS: usize = 201;

/// CPU time this thread has spent running, from the scheduler's own accounting.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn percentile(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = repo.join("specs/crm_sync.yaml");
    let original = std::fs::read_to_string(&spec).expect("the example spec");
    let mut world = World {
        enc: Encoding::Utf16,
        vars: std::env::vars().collect(),
        ..World::default()
    };
    // (wall, CPU) of edits that keep the spec valid (everything runs: load, every lint rule, the
    // transform checks) and of edits that break it (lint stops after the loader, as in the CLI).
    let mut valid: (Vec<Duration>, Vec<Duration>) = Default::default();
    let mut broken: (Vec<Duration>, Vec<Duration>) = Default::default();
    let mut published = 0usize;
    for i in 0..=RUNS {
        let mut text = original.replace("maxRetries: 5", &format!("maxRetries: {}", i % 7));
        if i % 2 == 1 {
            text = text.replace("  jitter: full\n", "  jitter: full\n  jiter: full\n");
        }
        world.overlay.set(&spec, text);
        let (t0, c0) = (Instant::now(), thread_cpu());
        let files = world.check(&spec);
        for f in files {
            let text = world.checked_text(&f).unwrap_or_default();
            let lines = Lines::new(&text);
            let diags: Vec<_> = world
                .diagnostics(&f)
                .iter()
                .map(|d| to_lsp(d, &lines, world.enc, None))
                .collect();
            published += std::hint::black_box(diags).len();
        }
        let (t1, c1) = (Instant::now(), thread_cpu());
        // The first check pays for compiling the schema once per process, as the server does.
        if i == 0 {
            println!(
                "first check (schema compiled): {:.2} ms",
                (t1 - t0).as_secs_f64() * 1e3
            );
            continue;
        }
        let class = if i % 2 == 1 { &mut broken } else { &mut valid };
        class.0.push(t1 - t0);
        if let (Some(a), Some(b)) = (c0, c1) {
            class.1.push(b.saturating_sub(a));
        }
    }
    assert!(published > 0, "the edits produce diagnostics");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("specs/crm_sync.yaml, {RUNS} edits, load {}", load.join(" "));
    for (name, (wall, cpu)) in [("valid spec  ", valid), ("schema error", broken)] {
        let cpu = if cpu.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.2} ms", ms(percentile(cpu, 50)))
        };
        println!(
            "  re-check, {name}: median {:.2} ms wall (p90 {:.2} ms), median CPU {cpu}",
            ms(percentile(wall.clone(), 50)),
            ms(percentile(wall, 90)),
        );
    }
}
