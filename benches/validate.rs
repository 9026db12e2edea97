//! Benchmark of `validate` (read, YAML with spans, env overlay, JSON Schema, interpolation, file
//! references, semantic checks) over 1,000 generated specs. Goal: at most 1 s for all 1,000.
//!
//! Run: `cargo bench --bench validate`. Prints the median of several runs and the per-spec cost.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cxsync::spec::{load, LoadOptions};

const SPECS: usize = 1_000;
const RUNS: usize = 7;

fn spec_text(i: usize) -> String {
    let rules: String = (0..(1 + i % 4))
        .map(|r| {
            let transform = if r % 2 == 0 {
                format!("    transformFile: t{r}.jsonata\n")
            } else {
                "    transform: |\n      { \"id\": $string(interaction.id), \"agent\": interaction.agent.email }\n"
                    .to_string()
            };
            format!(
                "  - id: RULE_{i}_{r}\n    name: Rule {r}\n    eventType: interaction.ended\n    conditions:\n      interaction.channel.type: [voice, webchat, email]\n{transform}    fixtures: [events/*.json]\n    stage: 1\n"
            )
        })
        .collect();
    format!(
        "# yaml-language-server: $schema=../schemas/cxsync-spec.v1.json
version: 1
name: bench-{i}
channel:
  name: Channel_{i}
  destinationUri: https://crm-{i}.example.com/v1/interactions
  auth:
    type: oauth2_client_credentials
    tokenEndpoint: https://auth.example.com/oauth2/token
    clientId: client-{i}
    clientSecret: ${{VAULT_SECRET:SECRET_{i}}}
    scopes: [crm:write, crm:read]
    tokenCacheTtlSeconds: 3300
    retryOnTokenExpiry: true
  headers:
    Content-Type: application/json
    X-Request-Source: CXone-EventHub
  timeoutMilliseconds: 3000
idempotency:
  key: ${{interaction.id}}_${{event.type}}
retry:
  maxRetries: 5
  initialDelaySeconds: 2
  maxDelaySeconds: 60
  backoffMultiplier: 2.0
  respectRetryAfterHeader: true
  retryableStatusCodes: [408, 429, 500, 502, 503, 504]
  nonRetryableStatusCodes: [400, 401, 403, 404, 422]
deadLetterQueue:
  enabled: true
  bucketName: dlq-{i}
  prefix: failed/
  alertEndpoint: https://monitoring.example.com/dlq
crm:
  tokenLifetimeSeconds: 3600
  maxBodyBytes: 1048576
rules:
{rules}rollout:
  - stage: 1
    name: first
environments:
  staging:
    channel:
      name: Channel_{i}_staging
"
    )
}

fn generate(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join("events")).unwrap();
    for e in 0..3 {
        std::fs::write(
            dir.join(format!("events/e{e}.json")),
            format!("{{\"interaction\": {{\"id\": \"i-{e}\", \"channel\": {{\"type\": \"voice\"}}}}, \"event\": {{\"type\": \"interaction.ended\"}}}}"),
        )
        .unwrap();
    }
    for r in 0..4 {
        std::fs::write(
            dir.join(format!("t{r}.jsonata")),
            "{ \"id\": $string(interaction.id) }\n",
        )
        .unwrap();
    }
    (0..SPECS)
        .map(|i| {
            let p = dir.join(format!("spec{i:04}.yaml"));
            std::fs::write(&p, spec_text(i)).unwrap();
            p
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let specs = generate(dir.path());
    let opts = LoadOptions {
        env: None,
        ..LoadOptions::default()
    };
    let staging = LoadOptions {
        env: Some("staging".into()),
        ..LoadOptions::default()
    };
    // One warm-up run that also proves every generated spec is valid.
    for (i, p) in specs.iter().enumerate() {
        let o = if i % 2 == 0 { &opts } else { &staging };
        let l = load(p, o);
        assert!(l.diags.is_empty(), "{}: {:?}", p.display(), l.diags);
    }
    let mut times: Vec<(Duration, Duration)> = (0..RUNS)
        .map(|_| {
            let cpu = thread_cpu();
            let t = Instant::now();
            for (i, p) in specs.iter().enumerate() {
                let o = if i % 2 == 0 { &opts } else { &staging };
                std::hint::black_box(load(p, o));
            }
            (t.elapsed(), thread_cpu().saturating_sub(cpu))
        })
        .collect();
    times.sort();
    let median = times[RUNS / 2].0;
    let mut cpu: Vec<Duration> = times.iter().map(|t| t.1).collect();
    cpu.sort();
    println!(
        "validate: {SPECS} specs, median of {RUNS} runs: {:.1} ms wall ({:.0} µs/spec), {:.1} ms on-CPU; wall min {:.1} ms, max {:.1} ms; goal ≤ 1000 ms",
        median.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e6 / SPECS as f64,
        cpu[RUNS / 2].as_secs_f64() * 1e3,
        times[0].0.as_secs_f64() * 1e3,
        times[RUNS - 1].0.as_secs_f64() * 1e3,
    );
}

/// CPU time of this thread (Linux `schedstat`), so a busy shared machine shows up as the gap
/// between wall and on-CPU time instead of silently inflating the figure. Zero elsewhere.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}
