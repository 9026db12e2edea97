//! End-to-end transform benchmark: the guide's transform (specs/transforms/interaction_ended.jsonata)
//! over 100,000 generated ~1.2 KB events — parse the JSON text, transform, serialise — through
//! cxsync's engine path, its fast path, and jsonata-js (benches/js/bench.js) in the same run.
//!
//! `cargo bench --bench transform` (set `CXSYNC_BENCH_EVENTS` / `CXSYNC_BENCH_RUNS` to change the
//! size). The JS side needs node and `npm ci` in benches/js; without them it is skipped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cxsync::transform::Transform;

#[path = "corpus/data.rs"]
mod data;
#[path = "corpus/node.rs"]
mod node;

use data::Rng;

/// The words of the guide bench's notes and tags (the corpus has more).
const WORDS: &[&str] = data::WORDS.split_at(18).0;

/// One interaction.ended event of about 1.2 KB, shaped like the fixtures.
fn event(i: u64, rng: &mut Rng) -> String {
    let channel = rng.pick(&["voice", "webchat", "email", "voice", "sms"]);
    let started = 1_705_326_702_000 + i * 1_000 + rng.next() % 1_000;
    let ended = started + 30_000 + rng.next() % 900_000;
    let contact = if rng.next() % 10 == 0 {
        "null".to_string()
    } else {
        (50_000 + rng.next() % 10_000).to_string()
    };
    let notes: Vec<&str> = (0..22).map(|_| rng.pick(WORDS)).collect();
    let tags: Vec<String> = (0..6).map(|_| format!("\"{}\"", rng.pick(WORDS))).collect();
    let score = format!("{:.3}", (rng.next() % 2001) as f64 / 1000.0 - 1.0);
    format!(
        concat!(
            r#"{{"event":{{"id":"evt-{i:08}","type":"interaction.ended","occurredAt":"2024-01-15T13:58:12Z","#,
            r#""tenantId":"tenant-42","source":"cxone.eventhub","schemaVersion":"2.3"}},"#,
            r#""interaction":{{"id":{id},"startedAt":{started},"endedAt":{ended},"#,
            r#""channel":{{"type":"{channel}","subtype":"inbound","pointOfContact":"+15550001111"}},"#,
            r#""customer":{{"contactId":{contact},"phone":"+1555{phone:07}","name":"Customer {i}","#,
            r#""email":"customer{i}@example.com","address":{{"street":"{n} Main Street","city":"Springfield","postcode":"{pc:05}","country":"US"}}}},"#,
            r#""agent":{{"id":"agent-{agent}","email":"agent{agent}@company.com","name":"Agent {agent}","team":"Tier 1"}},"#,
            r#""queue":{{"id":"q-{q}","name":"Queue {q} – Support"}},"#,
            r#""disposition":{{"code":"{disp}","notes":"{notes}"}},"#,
            r#""wrapUp":{{"code":"WU-{wu}","durationSeconds":{wus}}},"#,
            r#""analytics":{{"sentiment":{{"score":{score},"label":"neutral"}},"silenceSeconds":{sil},"holdSeconds":{hold}}},"#,
            r#""tags":[{tags}],"skills":["english","billing","tier1"],"recordingUrl":"https://recordings.example.com/{i:08}.wav"}},"#,
            r#""agent":{{"id":"agent-{agent}"}}}}"#
        ),
        i = i,
        id = 900_000_000 + i,
        started = started,
        ended = ended,
        channel = channel,
        contact = contact,
        phone = rng.next() % 10_000_000,
        n = rng.next() % 999,
        pc = rng.next() % 99_999,
        agent = rng.next() % 300,
        q = rng.next() % 20,
        disp = rng.pick(&["RESOLVED", "ESCALATED", "CALLBACK"]),
        notes = notes.join(" "),
        wu = rng.next() % 50,
        wus = rng.next() % 120,
        score = score,
        sil = rng.next() % 60,
        hold = rng.next() % 300,
        tags = tags.join(","),
    )
}

/// One way of running the transform over one event text; returns the output bytes.
type Runner<'a> = dyn Fn(&str) -> usize + 'a;

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Runs `f` over every event `runs` times; the milliseconds of each run and the output bytes.
fn time_runs(events: &[String], runs: usize, f: &dyn Fn(&str) -> usize) -> (Vec<f64>, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        bytes = 0;
        let t0 = Instant::now();
        for e in events {
            bytes += f(e);
        }
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    (times, bytes)
}

fn js_side(
    root: &Path,
    transform: &Path,
    events_file: &Path,
    runs: usize,
) -> Option<(Vec<f64>, usize, String)> {
    let js = root.join("benches/js");
    if !js.join("node_modules/jsonata").is_dir() {
        eprintln!("jsonata-js skipped: run `npm ci` in benches/js");
        return None;
    }
    let out = node::run(
        &js.join("bench.js"),
        &[
            transform.as_os_str(),
            events_file.as_os_str(),
            runs.to_string().as_ref(),
        ],
    )?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let runs: Vec<f64> = v["runs_ms"]
        .as_array()?
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    Some((
        runs,
        v["bytes"].as_u64()? as usize,
        v["jsonata"].as_str()?.to_string(),
    ))
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let n: u64 = std::env::var("CXSYNC_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let runs: usize = std::env::var("CXSYNC_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let transform_file = root.join("specs/transforms/interaction_ended.jsonata");
    let text = std::fs::read_to_string(&transform_file).unwrap();

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let events: Vec<String> = (0..n).map(|i| event(i, &mut rng)).collect();
    let avg = events.iter().map(String::len).sum::<usize>() as f64 / events.len() as f64;
    let dir = root.join("target/bench-transform");
    std::fs::create_dir_all(&dir).unwrap();
    let events_file = dir.join("events.ndjson");
    std::fs::write(&events_file, events.join("\n") + "\n").unwrap();

    let now = chrono::DateTime::parse_from_rfc3339("2024-01-15T14:00:00Z")
        .unwrap()
        .to_utc();
    let engine = Transform::compile_engine_only(&text).unwrap();
    // The same without the time budget, to show what the per-node clock check costs.
    let unlimited = Transform::compile_engine_only_with_limits(
        &text,
        cxsync::transform::Limits {
            time_budget_ms: None,
            ..Default::default()
        },
    )
    .unwrap();
    let fast = Transform::compile(&text).unwrap();

    println!("transform benchmark: {n} events, {avg:.0} bytes on average, {runs} runs each, median reported");
    println!("end to end per event: parse JSON text -> transform -> serialise compact JSON\n");

    let engine_text = |e: &str| {
        engine
            .eval_json_text(e, now)
            .unwrap()
            .map_or(0, |s| s.len())
    };
    let engine_value = |e: &str| {
        let v: serde_json::Value = serde_json::from_str(e).unwrap();
        engine
            .eval(&v, now)
            .unwrap()
            .map_or(0, |o| serde_json::to_string(&o).unwrap().len())
    };
    let unlimited_text = |e: &str| {
        unlimited
            .eval_json_text(e, now)
            .unwrap()
            .map_or(0, |s| s.len())
    };
    let fast_text = |e: &str| fast.eval_json_text(e, now).unwrap().map_or(0, |s| s.len());

    // The machine may be shared: rounds interleave every path (jsonata-js included, one node
    // run per round), so a change in load hits all of them alike, and medians are compared.
    let mut paths: Vec<(String, &Runner<'_>)> = vec![
        (
            "cxsync engine (jsonata-core), text in/out".into(),
            &engine_text,
        ),
        ("cxsync engine, no time budget".into(), &unlimited_text),
        ("cxsync engine via serde_json::Value".into(), &engine_value),
    ];
    if fast.is_compiled() {
        paths.push(("cxsync compiled path".into(), &fast_text));
    } else {
        println!("(the compiled path does not apply to this transform)");
    }
    for (_, f) in &paths {
        for e in events.iter().take(10_000) {
            f(e); // warm-up: caches, branch predictors, the engine's per-thread evaluator
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut bytes = vec![0; paths.len()];
    let mut js_times = Vec::new();
    let mut js_info = None;
    for _ in 0..runs {
        for (i, (_, f)) in paths.iter().enumerate() {
            let (t, b) = time_runs(&events, 1, *f);
            times[i].extend(t);
            bytes[i] = b;
        }
        if let Some((t, b, v)) = js_side(&root, &transform_file, &events_file, 1) {
            js_times.extend(t);
            js_info = Some((b, v));
        }
    }
    let js_median = js_info.as_ref().map(|_| median(&mut js_times));
    let mut rows: Vec<(String, f64, usize)> = paths
        .iter()
        .zip(times.iter_mut().zip(&bytes))
        .map(|((name, _), (t, b))| (name.clone(), median(t), *b))
        .collect();
    if let Some((b, version)) = &js_info {
        rows.push((
            format!("jsonata-js {version} (node {})", node::version()),
            js_median.unwrap(),
            *b,
        ));
    }
    println!("| path | median ms / {n} events | µs / event | output bytes | vs jsonata-js |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, ms, bytes) in &rows {
        let ratio = js_median.map_or("-".to_string(), |j| format!("{:.1}×", j / ms));
        println!(
            "| {name} | {ms:.0} | {:.2} | {bytes} | {ratio} |",
            ms * 1e3 / n as f64
        );
    }
}
