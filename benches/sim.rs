//! Benchmark: the `campaign-day` scenario on `specs/crm_sync.yaml` at 10k, 100k and 1M events —
//! wall time and peak memory (VmHWM, each size in its own child process so the peaks do not
//! mix) — side by side with jsonata-js merely transforming the same events in node
//! (`benches/js/sim_transform.js`: CPU of `evaluate` alone, on the very events the run generated,
//! which a child of this bench dumps as NDJSON with `--dump N FILE`).
//!
//! `cargo bench --bench sim` (sizes: `CXSYNC_BENCH_SIZES=10000,100000`; node is skipped when
//! `node` or the `jsonata` package is missing; `NODE_PATH` may point at a node_modules folder).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cxsync::sim::engine::{self, Options};
use cxsync::sim::{inputs, scenario};
use cxsync::spec::{self, LoadOptions};

#[path = "common/proc.rs"]
mod proc;
#[path = "common/run.rs"]
mod run;
use proc::{cpu_ms, status};
use run::timed_run;

/// The example spec, its compiled rules and the built-in `campaign-day` scenario.
fn example_campaign_day() -> (spec::Spec, inputs::Inputs, scenario::Scenario) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = spec::load(&root.join("specs/crm_sync.yaml"), &LoadOptions::default());
    let spec = loaded.spec.expect("example spec loads");
    let inputs = inputs::compile(&spec).expect("rules compile");
    let mut sources = cxsync::diag::Sources::new();
    let sc = scenario::load("campaign-day", &mut sources)
        .expect("built-in")
        .scenario;
    (spec, inputs, sc)
}

fn child(n: u64) {
    let (spec, inputs, sc) = example_campaign_day();
    let (rep, ms) = timed_run(&spec, &inputs, &sc, n);
    let hwm = status("VmHWM:");
    println!(
        "{ms} {hwm} {} {} {} {}",
        rep.totals.matched,
        rep.totals.delivered,
        if rep.passed() { "pass" } else { "fail" },
        cpu_ms()
    );
}

/// Writes the events of an `n`-event run that the rule matches, one per line, as the run makes
/// them, in arrival order (the feed is a pure function of the event's number).
fn dump(n: u64, file: &str) {
    use std::io::Write;
    let (spec, inputs, sc) = example_campaign_day();
    let epoch = engine::epoch(&spec, &sc);
    let opts = Options::default();
    let template = engine::machine_config(&spec, &sc, &opts, epoch)
        .expect("config")
        .idempotency;
    let feed = engine::Feed::new(&inputs, &sc, Some(n), epoch, &template).expect("feed");
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).expect("dump file"));
    let mut schedule = feed.schedule();
    while let Some((_, k)) = feed.take(&mut schedule) {
        let ev = feed.event(k);
        if inputs.rules.iter().any(|r| r.matches(&ev)) {
            serde_json::to_writer(&mut out, &ev).expect("write");
            out.write_all(b"\n").expect("write");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--dump") {
        return dump(args[i + 1].parse().expect("event count"), &args[i + 2]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n = args[i + 1].parse().expect("event count");
        return child(n);
    }
    let sizes: Vec<u64> = std::env::var("CXSYNC_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let me = std::env::current_exe().expect("own path");
    println!("campaign-day on specs/crm_sync.yaml (release, one process per size)");
    println!(
        "{:>9} {:>9} {:>9} {:>11} {:>9} {:>8} {:>7}   {:>9} {:>9}  {:>13}",
        "events",
        "sim wall",
        "sim CPU",
        "events/CPU-s",
        "peak RSS",
        "matched",
        "verdict",
        "js wall",
        "js CPU",
        "sim/js (CPU)"
    );
    for n in sizes {
        let out = Command::new(&me)
            .args(["--child", &n.to_string()])
            .output()
            .expect("child runs");
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            println!(
                "{n:>9} child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let ms: f64 = f[0].parse().unwrap_or(0.0);
        let kb: f64 = f[1].parse().unwrap_or(0.0);
        let cpu: f64 = f[5].parse().unwrap_or(0.0);
        let js = node(n);
        let (js_wall, js_cpu, ratio) = match js {
            Some((w, c)) => (
                format!("{:.2} s", w / 1000.0),
                format!("{:.2} s", c / 1000.0),
                format!("{:.2}", cpu / c.max(1.0)),
            ),
            None => ("skipped".into(), "-".into(), "-".into()),
        };
        println!(
            "{n:>9} {:>7.2} s {:>7.2} s {:>11.0} {:>5.0} MiB {:>8} {:>7}   {js_wall:>9} {js_cpu:>9}  {ratio:>13}",
            ms / 1000.0,
            cpu / 1000.0,
            n as f64 / (cpu / 1000.0).max(1e-9),
            kb / 1024.0,
            f[2],
            f[4],
        );
    }
}

/// Wall time of the node process and CPU time of jsonata-js's `evaluate` on the matched events
/// of an `n`-event run, in ms (`None` when node or the jsonata package is unavailable).
fn node(n: u64) -> Option<(f64, f64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::env::temp_dir().join(format!(
        "cxsync-sim-bench-{}-{n}.ndjson",
        std::process::id()
    ));
    let me = std::env::current_exe().ok()?;
    let dumped = Command::new(me)
        .args(["--dump", &n.to_string()])
        .arg(&file)
        .status()
        .ok()?;
    if !dumped.success() {
        return None;
    }
    let t = Instant::now();
    let out = Command::new("node")
        .arg(root.join("benches/js/sim_transform.js"))
        .arg(root.join("specs/transforms/interaction_ended.jsonata"))
        .arg(&file)
        .current_dir(root)
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.ok()?;
    let wall = t.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        eprintln!(
            "node: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let cpu = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((wall, cpu))
}
