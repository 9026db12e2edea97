//! Lint throughput: 1,000 specs in one run (goal ≤ 1 s) and one spec cold, from process start to
//! exit (goal ≤ 50 ms). Run with `cargo bench --bench lint`; prints medians.
//!
//! The machine is shared (2 cores, often a load of 10+), so next to the wall-clock medians the
//! bench reports CPU time (user + system, from `/proc/self/stat`, Linux clock ticks of 10 ms),
//! which contention does not inflate.
//!
//! The 1,000 specs are the rule fixtures (`fixtures/lint/*.yaml`, every rule firing somewhere)
//! copied round-robin into a temporary project with their fixture events, so every spec is loaded,
//! resolved, checked by every rule and its suppressions applied.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cxsync::lint::{self, LintOptions};

const SPECS: usize = 1_000;
const RUNS: usize = 7;
const COLD_RUNS: usize = 31;

/// CPU time (user + system) of this process and of its waited-for children, from
/// `/proc/self/stat` (fields 14–17, in clock ticks of 1/100 s); zero where there is no procfs.
fn cpu_times() -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let tick = |n: u64| Duration::from_millis(n * 10);
    if f.len() < 4 {
        return (Duration::ZERO, Duration::ZERO);
    }
    (tick(f[0] + f[1]), tick(f[2] + f[3]))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn project(root: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let events = root.join("events");
    std::fs::create_dir_all(&events).unwrap();
    for e in std::fs::read_dir(repo.join("fixtures/events")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, events.join(p.file_name().unwrap())).unwrap();
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(repo.join("fixtures/lint"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    sources.sort();
    let specs = root.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    for i in 0..SPECS {
        let src = &sources[i % sources.len()];
        let text = std::fs::read_to_string(src).unwrap();
        let name = format!("spec{i:04}.yaml");
        std::fs::write(specs.join(name), text).unwrap();
        if src.file_stem().is_some_and(|s| s == "guide_literal") {
            std::fs::copy(
                repo.join("fixtures/lint/guide_literal.jsonata"),
                specs.join("guide_literal.jsonata"),
            )
            .unwrap();
        }
    }
    specs
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let specs = project(tmp.path());
    let opts = LintOptions::default();

    // Warm-up, and a check that the run does real work.
    let out = lint::lint_paths(std::slice::from_ref(&specs), &opts).unwrap();
    assert_eq!(out.files.len(), SPECS);
    let findings = out.diags.len();

    let mut in_process = Vec::new();
    let mut in_process_cpu = Vec::new();
    for _ in 0..RUNS {
        let (c0, _) = cpu_times();
        let t = Instant::now();
        let out = lint::lint_paths(std::slice::from_ref(&specs), &opts).unwrap();
        in_process.push(t.elapsed());
        in_process_cpu.push(cpu_times().0.saturating_sub(c0));
        assert_eq!(out.diags.len(), findings);
    }

    let exe = env!("CARGO_BIN_EXE_cxsync");
    let mut cli_1000 = Vec::new();
    let mut cli_cpu = Vec::new();
    for _ in 0..RUNS {
        let (_, k0) = cpu_times();
        let t = Instant::now();
        let o = Command::new(exe)
            .args(["lint", "--format", "json"])
            .arg(&specs)
            .output()
            .unwrap();
        cli_1000.push(t.elapsed());
        cli_cpu.push(cpu_times().1.saturating_sub(k0));
        assert_eq!(o.status.code(), Some(1));
    }

    let one = specs.join("spec0000.yaml");
    let mut cold = Vec::new();
    for _ in 0..COLD_RUNS {
        let t = Instant::now();
        let o = Command::new(exe).arg("lint").arg(&one).output().unwrap();
        cold.push(t.elapsed());
        assert!(o.status.code().is_some());
    }

    let m_in = median(in_process);
    let m_in_cpu = median(in_process_cpu);
    let m_cli = median(cli_1000);
    let m_cli_cpu = median(cli_cpu);
    let m_cold = median(cold);
    println!("lint {SPECS} specs, in process ({findings} findings): median {m_in:?} wall, {m_in_cpu:?} CPU over {RUNS} runs (goal <= 1 s: {:.2}x wall, {:.2}x CPU)", m_in.as_secs_f64(), m_in_cpu.as_secs_f64());
    println!("lint {SPECS} specs, one `cxsync lint --format json` process: median {m_cli:?} wall, {m_cli_cpu:?} CPU over {RUNS} runs ({:.2}x wall, {:.2}x CPU of goal)", m_cli.as_secs_f64(), m_cli_cpu.as_secs_f64());
    println!("lint 1 spec cold (process start to exit): median {m_cold:?} over {COLD_RUNS} runs (goal <= 50 ms, {:.2}x of goal)", m_cold.as_secs_f64() / 0.05);
}
