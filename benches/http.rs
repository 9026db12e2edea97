//! Benchmark: deliveries per second over loopback HTTP — the reqwest driver of the delivery
//! machine against the wiremock mock CRM behind the fault front, every event transformed,
//! requested, answered by the CRM model and recorded. Goal: ≥ 5,000 deliveries/s.
//!
//! Two modes:
//! - wall clock (what an Event Hub does): requests overlap up to the hub's concurrency, the CRM
//!   answers at once and nothing throttles, so the figure is the driver's and the mock's own
//!   cost;
//! - paced (`sim --http`): virtual time stands still while a request is on the wire, so requests
//!   of different instants go one after another; shown for reference.
//!
//! `cargo bench --bench http` (events: `CXSYNC_BENCH_EVENTS`, default 20000; runs:
//! `CXSYNC_BENCH_RUNS`, default 5). Prints each run and the median.

use std::path::Path;
use std::time::Instant;

use cxsync::http::HttpOptions;
use cxsync::sim::engine::{Options, Sinks};
use cxsync::sim::{inputs, scenario};
use cxsync::spec::{self, LoadOptions};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = spec::load(&root.join("specs/crm_sync.yaml"), &LoadOptions::default());
    let spec = loaded.spec.expect("example spec loads");
    let inputs = inputs::compile(&spec).expect("rules compile");
    let sc_text = "version: 1\nname: bench\nduration: 1s\nhub: { concurrency: 64 }\nevents: { count: 1, fixtures: false }\ncrm:\n  rateLimit: { requests: 1000000000, per: 1s }\n  latency: { p50Ms: 0, p99Ms: 0 }\n";
    let sc = scenario::parse(sc_text, Path::new("bench.yaml")).expect("bench scenario parses");
    let events = env("CXSYNC_BENCH_EVENTS", 20_000);
    let runs = env("CXSYNC_BENCH_RUNS", 5).max(1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    let measure = |paced: bool, n: u64, scale: f64| -> f64 {
        let opts = Options {
            events: Some(n),
            no_jitter: true,
            ..Options::default()
        };
        let http = HttpOptions {
            time_scale: scale,
            paced,
        };
        let t = Instant::now();
        let rep =
            Sinks::none(|s| rt.block_on(cxsync::http::run(&spec, &inputs, &sc, &opts, &http, s)))
                .expect("run completes");
        let secs = t.elapsed().as_secs_f64();
        assert!(rep.passed(), "every invariant holds:\n{}", rep.summary());
        assert_eq!(rep.totals.delivered, rep.totals.matched);
        rep.totals.delivered as f64 / secs
    };

    println!("deliveries per second over loopback (events per run: {events}, runs: {runs})");
    let mut wall: Vec<f64> = (0..runs)
        .map(|i| {
            let r = measure(false, events, 1.0);
            println!("  wall-clock run {}: {r:>9.0}/s", i + 1);
            r
        })
        .collect();
    wall.sort_by(f64::total_cmp);
    let median = wall[wall.len() / 2];
    println!(
        "wall clock, concurrency 64: median {median:.0} deliveries/s (goal 5000: {})",
        if median >= 5000.0 { "met" } else { "NOT met" }
    );
    let n = (events / 4).max(1);
    let mut paced: Vec<f64> = (0..runs.min(3)).map(|_| measure(true, n, 1e-6)).collect();
    paced.sort_by(f64::total_cmp);
    println!(
        "paced (sim --http), one request on the wire at a time: median {:.0} deliveries/s ({n} events)",
        paced[paced.len() / 2]
    );
}
