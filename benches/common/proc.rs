//! What the benchmarks read about their own process from `/proc` (Linux): peak memory and CPU
//! time. One copy for the simulator benches (`sim.rs`, `backlog.rs`).

/// A `/proc/self/status` field in kB (`VmHWM:` is peak RSS), 0 where it cannot be read.
pub fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time (user + system) of this process so far, in ms, from /proc/self/stat (the machine
/// is shared, so wall time alone is noisy).
pub fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * 10
}
