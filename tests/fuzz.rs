//! Every input the fuzzers (`fuzz/`) ever crashed on, run through the same code as its target
//! (`cxsync::fuzzing`): `fuzz/regressions/<target>/<name>`. A new crash is copied there from
//! `fuzz/artifacts/` and stays a test.

use std::time::{Duration, Instant};

use crate::common::root;

#[test]
fn every_fuzz_regression_input_runs_to_completion() {
    let dir = root().join("fuzz/regressions");
    let mut ran = 0;
    for (name, target) in cxsync::fuzzing::TARGETS {
        let sub = dir.join(name);
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.is_file()) {
            if f.file_name().is_some_and(|n| n == "README.md") {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            let started = Instant::now();
            // Transforms and lint may use deep stacks in a debug build: a thread of main's size.
            let t = *target;
            std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn(move || t(&data))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{} panicked", f.display()));
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} took {:?}",
                f.display(),
                started.elapsed()
            );
            ran += 1;
        }
    }
    assert!(ran > 0, "no regression inputs under {}", dir.display());
}
