//! Benchmark: the backlog case of issue 12 — 200,000 events, every other one carrying a ~436 KB
//! transcript (`benches/backlog/fixtures`), released within ten minutes while the Zendesk CRM is
//! down for five, then caught up behind Zendesk's rate limit (`benches/backlog/scenario.yaml`).
//! Nearly every event is queued, parked or in flight at once. Records peak RSS (VmHWM, the run
//! in its own child process), CPU and wall time, and the peak backlog. Goal: peak RSS ≤ 1 GiB.
//!
//! `cargo bench --bench backlog` (events: `CXSYNC_BACKLOG_EVENTS=50000`; the spec:
//! `CXSYNC_BACKLOG_SPEC=zendesk_transcript.yaml`, whose tickets carry the whole transcript, so
//! every queued payload is ~440 KB). The same run from the command line: `/usr/bin/time -v
//! target/release/cxsync sim benches/backlog/zendesk_backlog.yaml --scenario
//! benches/backlog/scenario.yaml`.

use std::path::Path;
use std::process::Command;

use cxsync::sim::{inputs, scenario};
use cxsync::spec::{self, LoadOptions};

fn child(n: u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/backlog");
    let loaded = spec::load(&root.join(spec_file()), &LoadOptions::default());
    let spec = loaded.spec.expect("the backlog spec loads");
    let inputs = inputs::compile(&spec).expect("rules compile");
    let mut sources = cxsync::diag::Sources::new();
    let path = root.join("scenario.yaml");
    let sc = scenario::load(path.to_str().expect("utf-8 path"), &mut sources)
        .expect("the backlog scenario loads")
        .scenario;
    let (rep, ms) = timed_run(&spec, &inputs, &sc, n);
    println!(
        "{ms} {} {} {} {} {} {} {}",
        status("VmHWM:"),
        cpu_ms(),
        rep.totals.matched,
        rep.totals.delivered,
        rep.totals.dead_lettered,
        rep.peak_pending,
        if rep.passed() { "pass" } else { "fail" },
    );
}

#[path = "common/proc.rs"]
mod proc;
#[path = "common/run.rs"]
mod run;
use proc::{cpu_ms, status};
use run::timed_run;

/// The spec file in `benches/backlog/`.
fn spec_file() -> String {
    std::env::var("CXSYNC_BACKLOG_SPEC").unwrap_or_else(|_| "zendesk_backlog.yaml".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n = args[i + 1].parse().expect("event count");
        return child(n);
    }
    let n: u64 = std::env::var("CXSYNC_BACKLOG_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let me = std::env::current_exe().expect("own path");
    let out = Command::new(&me)
        .args(["--child", &n.to_string()])
        .output()
        .expect("child runs");
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if f.len() < 7 {
        println!("child failed: {}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    let verdict = line.split_whitespace().last().unwrap_or("?");
    println!(
        "backlog: benches/backlog/{} × scenario.yaml, {n} events (release)",
        spec_file()
    );
    println!(
        "  peak RSS {:.0} MiB (goal ≤ 1024)   CPU {:.1} s   wall {:.1} s",
        f[1] as f64 / 1024.0,
        f[2] as f64 / 1000.0,
        f[0] as f64 / 1000.0
    );
    println!(
        "  matched {}   delivered {}   dead-lettered {}   peak backlog {} events   {verdict}",
        f[3], f[4], f[5], f[6]
    );
}
