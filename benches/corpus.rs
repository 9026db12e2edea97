//! The mapping corpus benchmark: every mapping of `benches/corpus/` (43 CRM mappings for six
//! profiles) over generated events of its type, end to end — parse the JSON text, transform,
//! write compact JSON — through `cxsync::transform` and through jsonata-js 2.2.2
//! (`benches/js/corpus.js`) in the same run, with the same events and the same frozen instant.
//! Per mapping: CPU and wall time of both, the ratio, and whether the outputs are byte-identical
//! (FNV-1a over every output line, an error as `!CODE`). Summary: median, minimum and geometric
//! mean of the CPU ratios (the wall ratios beside them).
//!
//! `cargo bench --bench corpus` (environment: `CXSYNC_CORPUS_EVENTS` events per event type,
//! default 5,000; `CXSYNC_CORPUS_RUNS` rounds, default 5; `CXSYNC_CORPUS_FILTER` a substring of
//! the mapping names; `CXSYNC_CORPUS_JS=0` runs the cxsync side only, for profiling). The JS side
//! needs node and `npm ci` in benches/js; without them only the cxsync side runs. Rounds interleave both sides, so a change of load hits both alike; the
//! ratio of medians is reported. A table goes to `target/bench-corpus/report.md`.

#[path = "corpus/data.rs"]
mod data;
#[path = "corpus/node.rs"]
mod node;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cxsync::transform::Transform;

/// The binary's allocator (src/main.rs), so the bench measures what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NOW: &str = "2024-01-15T14:00:00Z";

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// CPU time of this thread in nanoseconds (Linux `schedstat`; 0 where it is not available).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn fnv(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// One output line as both sides hash it.
fn line(t: &Transform, event: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    match t.eval_json_text(event, now) {
        Ok(Some(s)) => s,
        Ok(None) => String::new(),
        Err(e) => format!("!{}", e.code.unwrap_or_else(|| "ERROR".into())),
    }
}

#[derive(Default)]
struct Side {
    wall_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    bytes: u64,
    hash: u32,
}

struct Js {
    version: String,
    sides: BTreeMap<String, Side>,
}

fn run_js(root: &Path, manifest: &Path, runs: usize) -> Option<Js> {
    if std::env::var("CXSYNC_CORPUS_JS").is_ok_and(|v| v == "0") {
        return None;
    }
    let js = root.join("benches/js");
    if !js.join("node_modules/jsonata").is_dir() {
        eprintln!("jsonata-js skipped: run `npm ci` in benches/js");
        return None;
    }
    let out = node::run(
        &js.join("corpus.js"),
        &[manifest.as_os_str(), runs.to_string().as_ref()],
    )?;
    let mut sides = BTreeMap::new();
    let mut version = String::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        let nums = |k: &str| -> Vec<f64> {
            v[k].as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default()
        };
        version = v["jsonata"].as_str().unwrap_or_default().to_string();
        sides.insert(
            v["name"].as_str()?.to_string(),
            Side {
                wall_ms: nums("wall_ms"),
                cpu_ms: nums("cpu_ms"),
                bytes: v["bytes"].as_u64()?,
                hash: v["hash"].as_u64()? as u32,
            },
        );
    }
    Some(Js { version, sides })
}

fn main() {
    let per_type = env_num("CXSYNC_CORPUS_EVENTS", 5_000);
    let runs = env_num("CXSYNC_CORPUS_RUNS", 5).max(1);
    let filter = std::env::var("CXSYNC_CORPUS_FILTER").unwrap_or_default();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let now = cxsync::transform::parse_instant(NOW).unwrap();

    // Events, the same for both sides: one NDJSON file per event type.
    let mut events: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (k, kind) in data::EVENT_TYPES.iter().enumerate() {
        let mut rng = data::Rng::new(0x9E37_79B9_7F4A_7C15 ^ (k as u64) << 8);
        let lines: Vec<String> = (0..per_type as u64)
            .map(|i| data::event(kind, i, &mut rng).to_string())
            .collect();
        std::fs::write(dir.join(format!("{kind}.ndjson")), lines.join("\n") + "\n").unwrap();
        events.insert(kind, lines);
    }
    let mappings: Vec<data::Mapping> = data::mappings(&root.join("benches/corpus"))
        .into_iter()
        .filter(|m| m.name.contains(&filter))
        .collect();
    let manifest = serde_json::json!({
        "now": NOW,
        "mappings": mappings.iter().map(|m| serde_json::json!({
            "name": m.name,
            "expr": m.path,
            "events": dir.join(format!("{}.ndjson", m.event)),
        })).collect::<Vec<_>>(),
    });
    let manifest_file = dir.join("manifest.json");
    std::fs::write(&manifest_file, manifest.to_string()).unwrap();

    let transforms: Vec<Transform> = mappings
        .iter()
        .map(|m| Transform::compile(&m.text).unwrap_or_else(|e| panic!("{}: {e}", m.name)))
        .collect();
    let avg: f64 = events.values().flatten().map(|l| l.len()).sum::<usize>() as f64
        / events.values().map(Vec::len).sum::<usize>() as f64;
    println!(
        "corpus benchmark: {} mappings, {per_type} events per event type ({avg:.0} bytes on average), \
         {runs} rounds, median reported; JSON text in, compact JSON text out",
        mappings.len()
    );

    // Warm-up, and what the compiled path declines (the engine evaluates those events).
    let mut declined = vec![0usize; mappings.len()];
    for (i, (m, t)) in mappings.iter().zip(&transforms).enumerate() {
        for e in &events[m.event.as_str()] {
            if t.is_compiled() && t.eval_json_text_compiled_only(e, now).is_none() {
                declined[i] += 1;
            }
        }
    }

    let mut ours: Vec<Side> = (0..mappings.len()).map(|_| Side::default()).collect();
    let mut js_rounds: Vec<Js> = Vec::new();
    for _ in 0..runs {
        for (i, (m, t)) in mappings.iter().zip(&transforms).enumerate() {
            let lines = &events[m.event.as_str()];
            let c0 = thread_cpu_ns();
            let t0 = Instant::now();
            let mut n = 0usize;
            for e in lines {
                n += match t.eval_json_text(e, now) {
                    Ok(Some(s)) => s.len(),
                    _ => 0,
                };
            }
            std::hint::black_box(n);
            ours[i].wall_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            ours[i].cpu_ms.push((thread_cpu_ns() - c0) as f64 / 1e6);
        }
        if let Some(js) = run_js(&root, &manifest_file, 1) {
            js_rounds.push(js);
        }
    }
    for (i, (m, t)) in mappings.iter().zip(&transforms).enumerate() {
        let mut hash = 0x811c_9dc5;
        let mut bytes = 0u64;
        for e in &events[m.event.as_str()] {
            let out = line(t, e, now) + "\n";
            bytes += out.len() as u64;
            hash = fnv(hash, out.as_bytes());
        }
        ours[i].hash = hash;
        ours[i].bytes = bytes;
    }

    let js_version = js_rounds.first().map(|j| j.version.clone());
    let js_side = |name: &str| -> Option<Side> {
        if js_rounds.is_empty() {
            return None;
        }
        let mut s = Side::default();
        for r in &js_rounds {
            let x = r.sides.get(name)?;
            s.wall_ms.extend(&x.wall_ms);
            s.cpu_ms.extend(&x.cpu_ms);
            s.bytes = x.bytes;
            s.hash = x.hash;
        }
        Some(s)
    };

    let mut table = String::new();
    table.push_str(
        "| mapping | event | compiled | declined | cxsync µs/event (CPU) | jsonata-js µs/event (CPU) | ratio (CPU) | ratio (wall) | outputs |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    let (mut cpu_ratios, mut wall_ratios) = (Vec::new(), Vec::new());
    let mut mismatches = Vec::new();
    for (i, m) in mappings.iter().enumerate() {
        let n = events[m.event.as_str()].len() as f64;
        let ours_cpu = median(&ours[i].cpu_ms);
        let ours_wall = median(&ours[i].wall_ms);
        let (js_cpu, ratio, wall_ratio, same) = match js_side(&m.name) {
            Some(js) => {
                let (c, w) = (median(&js.cpu_ms), median(&js.wall_ms));
                let r = c / ours_cpu;
                let wr = w / ours_wall;
                cpu_ratios.push(r);
                wall_ratios.push(wr);
                let same = js.hash == ours[i].hash && js.bytes == ours[i].bytes;
                if !same {
                    mismatches.push(m.name.clone());
                }
                (
                    format!("{:.2}", c * 1e3 / n),
                    format!("{r:.1}×"),
                    format!("{wr:.1}×"),
                    if same { "identical" } else { "DIFFER" },
                )
            }
            None => ("-".into(), "-".into(), "-".into(), "-"),
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {js_cpu} | {ratio} | {wall_ratio} | {same} |\n",
            m.name,
            m.event,
            if transforms[i].is_compiled() {
                "yes"
            } else {
                "no (engine)"
            },
            declined[i],
            ours_cpu * 1e3 / n,
        ));
    }
    println!("\n{table}");
    let mut summary = String::new();
    if let Some(v) = &js_version {
        let min = cpu_ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        let (argmin, _) =
            cpu_ratios
                .iter()
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |(bi, b), (i, &r)| if r < b { (i, r) } else { (bi, b) },
                );
        summary = format!(
            "jsonata-js {v} (node {}), {} mappings: CPU ratio median {:.1}×, minimum {:.1}× ({}), \
             geometric mean {:.1}×; wall ratio median {:.1}×, minimum {:.1}×, geometric mean {:.1}×; \
             outputs byte-identical for {} of {}{}",
            node::version(),
            cpu_ratios.len(),
            median(&cpu_ratios),
            min,
            mappings[argmin].name,
            geomean(&cpu_ratios),
            median(&wall_ratios),
            wall_ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            geomean(&wall_ratios),
            mappings.len() - mismatches.len(),
            mappings.len(),
            if mismatches.is_empty() {
                String::new()
            } else {
                format!(" (differ: {})", mismatches.join(", "))
            },
        );
        println!("{summary}");
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    let report = format!(
        "# Corpus benchmark\n\n`cargo bench --bench corpus`: {} mappings, {per_type} events per event type, \
         {runs} rounds. Load average at the end: {}.\n\n{summary}\n\n{table}",
        mappings.len(),
        load.trim()
    );
    std::fs::write(dir.join("report.md"), report).unwrap();
}
