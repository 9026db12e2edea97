//! How long our JSONata front end takes on the guide's transform (lint runs it on every rule of
//! every spec): parse, parse + analyse, the dialect scan and rewrite, against the engine's own
//! compile of the same text for scale.
//!
//! `cargo bench --bench jsonata_parse` prints the median time per call over 31 samples.

use std::hint::black_box;
use std::time::Instant;

use cxsync::transform::{syntax, Transform};

const VALID: &str = include_str!("../specs/transforms/interaction_ended.jsonata");
const DIALECT: &str = include_str!("../fixtures/dialect/guide_transform.jsonata");

/// Median nanoseconds per call of `f` over `samples` samples of `iters` calls.
fn median_ns(samples: usize, iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters {
        f();
    }
    let mut v: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let iters = 2_000;
    let rows: Vec<(&str, f64)> = vec![
        (
            "parse (guide transform, valid form)",
            median_ns(31, iters, || {
                black_box(syntax::parse(black_box(VALID)).unwrap());
            }),
        ),
        (
            "parse + analyse (paths, output fields)",
            median_ns(31, iters, || {
                black_box(syntax::analyse(black_box(VALID)).unwrap());
            }),
        ),
        (
            "dialect scan (guide's original text)",
            median_ns(31, iters, || {
                black_box(syntax::dialect(black_box(DIALECT)));
            }),
        ),
        (
            "dialect rewrite (guide's original text)",
            median_ns(31, iters, || {
                black_box(syntax::rewrite(black_box(DIALECT)));
            }),
        ),
        (
            "engine compile (jsonata-core), for scale",
            median_ns(31, iters / 4, || {
                black_box(Transform::compile(black_box(VALID)).unwrap());
            }),
        ),
    ];
    let engine = rows.last().map(|r| r.1).unwrap_or(1.0);
    println!("{:<45} {:>12} {:>14}", "benchmark", "median", "vs engine");
    for (name, ns) in &rows {
        println!("{name:<45} {:>9.2} µs {:>13.2}×", ns / 1000.0, engine / ns);
    }
}
