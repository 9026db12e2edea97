//! Benchmarks of the Event Hub side: the pure plan diff on a large spec, and a full
//! apply/plan round trip against the in-process mock hub. Run with
//! `cargo bench --bench cxone`; prints medians of repeated runs.

use std::time::{Duration, Instant};

use cxsync::compile::{CompiledRule, Owner, Payloads, OWNER_HEADER};
use cxsync::cxone::client::{self, Client, Credentials, Endpoints, RetryConfig, Secret};
use cxsync::cxone::mock_hub::{self, Config};
use cxsync::cxone::plan::{self, Live, Options};
use serde_json::json;

fn payloads(rules: usize) -> Payloads {
    let owner = Owner {
        spec: "bench".into(),
        env: None,
    };
    Payloads {
        channel: json!({"name": "Bench", "type": "REST", "destinationUri": "https://crm.example.com",
            "authentication": {"type": "NONE"}, "headers": {"Content-Type": "application/json", OWNER_HEADER: owner.marker()},
            "timeoutMilliseconds": 3000, "batchSize": 1, "batchIntervalSeconds": 0}),
        retry_policy: json!({"maxRetries": 5, "initialDelaySeconds": 2, "maxDelaySeconds": 60,
            "backoffMultiplier": 2.0, "retryableStatusCodes": [429, 500], "nonRetryableStatusCodes": [400]}),
        rules: (0..rules)
            .map(|i| CompiledRule {
                id: format!("R{i:04}"),
                spec_id: format!("R{i:04}"),
                stage: 1,
                body: json!({"name": format!("rule {i}"), "eventType": "interaction.ended",
                        "conditions": {"interaction.channel.type": ["voice", "email"]},
                        "actions": [{"type": "TRANSFORM", "jsonataExpression": format!("{{\"caseNumber\": $string(interaction.id), \"n\": {i}}}")},
                                    {"type": "ROUTE", "channelId": "Bench"}]}),
            })
            .collect(),
        disabled: Vec::new(),
        secrets: Default::default(),
        owner,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of this thread so far (Linux `/proc/thread-self/schedstat`; zero elsewhere), so a
/// run on a loaded machine reports the work done next to the wall time it took.
fn cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Median wall and CPU time of `runs` calls of `f`.
fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let (mut wall, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu());
        f();
        wall.push(t.elapsed());
        cpus.push(cpu().saturating_sub(c));
    }
    (median(wall), median(cpus))
}

fn main() {
    // 1. The pure diff: 1,000 rules, live equal to desired (the drift-check case).
    let p = payloads(1000);
    let mut live = Live {
        channel: Some(p.channel.clone()),
        retry_policy: Some(p.retry_policy.clone()),
        ..Live::default()
    };
    for r in &p.rules {
        live.rules.insert(r.id.clone(), r.body.clone());
    }
    let (wall, cpu_t) = measure(30, || {
        let plan = plan::plan(&p, &live, &Options::default());
        assert!(!plan.has_changes());
        std::hint::black_box(plan::render(&plan, "http://h"));
    });
    println!("plan diff + text, 1000 rules, no changes: median {wall:?} wall, {cpu_t:?} CPU");
    // The same with one rule drifted, as the JSON document (typed before/after of every object).
    live.rules.get_mut("R0500").unwrap()["name"] = json!("drifted");
    let (wall, cpu_t) = measure(30, || {
        let plan = plan::plan(&p, &live, &Options::default());
        assert!(plan.has_changes());
        let doc = plan::json::Document::new(&plan, "http://h", None);
        std::hint::black_box(serde_json::to_string_pretty(&doc).unwrap());
    });
    println!("plan diff + --json, 1000 rules, 1 drifted: median {wall:?} wall, {cpu_t:?} CPU");

    // 2. Apply then re-plan 100 rules against the in-process mock hub over loopback HTTP.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = payloads(100);
    let mut applies = Vec::new();
    let mut plans = Vec::new();
    for _ in 0..5 {
        let hub = mock_hub::spawn(Config::default(), 0).unwrap();
        rt.block_on(async {
            let url = client::check_url("hub", &hub.url()).unwrap();
            let mut c = Client::new(
                Endpoints {
                    api: url.clone(),
                    auth: url,
                },
                Credentials::AccessKey {
                    id: "demo".into(),
                    secret: Secret::new("demo"),
                },
                RetryConfig::default(),
            )
            .unwrap();
            let t = Instant::now();
            let live = cxsync::cxone::read_live(&mut c, &p, false).await.unwrap();
            let pl = plan::plan(&p, &live, &Options::default());
            let out = cxsync::cxone::apply::apply(&mut c, &pl).await;
            assert!(out.failed.is_none());
            applies.push(t.elapsed());
            let t = Instant::now();
            let live = cxsync::cxone::read_live(&mut c, &p, false).await.unwrap();
            assert!(!plan::plan(&p, &live, &Options::default()).has_changes());
            plans.push(t.elapsed());
        });
    }
    println!(
        "apply 100 rules to the mock hub (102 writes + reads): median {:?}",
        median(applies)
    );
    println!(
        "re-plan 100 rules (drift check, 102 reads): median {:?}",
        median(plans)
    );
}
