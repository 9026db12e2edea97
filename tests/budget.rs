//! `lint --budget` against the simulator: lint's figures for every status class × policy shape
//! must equal what the simulator's engine does to one event whose every attempt its CRM model
//! answers alike (a `respond`, `partition`, `resets` or `tokenEndpoint` fault).
//!
//! The two paths share the delivery machine and the virtual-time loop, and nothing else: lint
//! drives them with a scripted transport, a single submission and pinned jitter; the simulator
//! with its CRM model (latency, token issue and validity, fault windows), its feed, rule matcher,
//! transform, ledger and report. A budget that mis-configures the machine, mis-schedules an
//! answer, miscounts a refresh or a token request, mislabels a group of codes or measures time
//! from the wrong instant fails here.

use std::path::Path;

use cxsync::delivery::DeadLettered;
use cxsync::lint::budget::{self, Budget, Row, Settled};
use cxsync::sim::engine::{self, EventOutcome, Options, Sinks};
use cxsync::sim::inputs::{self as sim_inputs, Inputs};
use cxsync::sim::scenario;
use cxsync::spec;

/// The spec's `timeoutMilliseconds`: the slowest schedule answers 1 ms before it, and the
/// simulator's token endpoint answers within 2 s, so 2 s keeps both schedules reachable there.
const TIMEOUT: u64 = 2000;

/// A policy shape: one spec.
struct Shape {
    name: &'static str,
    auth: &'static str,
    retry: &'static str,
    crm: &'static str,
}

const NONE: &str = "    type: none\n";
const REFRESH: &str = "    type: oauth2_client_credentials\n    tokenEndpoint: https://auth.example.org/token\n    clientId: c\n    clientSecret: ${VAULT_SECRET:S}\n    tokenCacheTtlSeconds: 3300\n    retryOnTokenExpiry: true\n";
const NO_REFRESH: &str = "    type: oauth2_client_credentials\n    tokenEndpoint: https://auth.example.org/token\n    clientId: c\n    clientSecret: ${VAULT_SECRET:S}\n    tokenCacheTtlSeconds: 3300\n    retryOnTokenExpiry: false\n";
const BEARER: &str = "    type: bearer\n    token: ${VAULT_SECRET:T}\n";

const SHAPES: &[Shape] = &[
    Shape {
        name: "every class listed, Retry-After respected",
        auth: NONE,
        retry: "  retryableStatusCodes: [408, 429, 500, 502, 503, 504]\n  nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422]\n  respectRetryAfterHeader: true\n",
        crm: "  retryAfterHorizonSeconds: 45\n",
    },
    Shape {
        name: "only 503 listed: 408, 429, 5xx and 4xx unlisted",
        auth: BEARER,
        retry: "  retryableStatusCodes: [503]\n  nonRetryableStatusCodes: [400]\n",
        crm: "",
    },
    Shape {
        name: "codes in both lists",
        auth: NONE,
        retry: "  retryableStatusCodes: [429, 503, 404]\n  nonRetryableStatusCodes: [503, 404, 422]\n",
        crm: "",
    },
    Shape {
        name: "OAuth with retryOnTokenExpiry (401 listed non-retryable)",
        auth: REFRESH,
        retry: "  retryableStatusCodes: [408, 429, 500, 502, 503, 504]\n  nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422]\n",
        crm: "",
    },
    Shape {
        name: "OAuth without retryOnTokenExpiry (401 listed retryable)",
        auth: NO_REFRESH,
        retry: "  retryableStatusCodes: [401, 429, 503]\n  nonRetryableStatusCodes: [400, 404]\n  respectRetryAfterHeader: true\n",
        crm: "  retryAfterHorizonSeconds: 120\n",
    },
    Shape {
        name: "Retry-After respected, no horizon declared (the machine's 24 h cap)",
        auth: NONE,
        retry: "  retryableStatusCodes: [429, 503]\n  nonRetryableStatusCodes: [400, 404]\n  respectRetryAfterHeader: true\n",
        crm: "",
    },
    Shape {
        name: "delivery deadline shorter than the retries",
        auth: REFRESH,
        retry: "  maxRetries: 6\n  retryableStatusCodes: [429, 503]\n  nonRetryableStatusCodes: [400, 404]\n  respectRetryAfterHeader: true\n",
        crm: "  retryAfterHorizonSeconds: 10\n  deliveryDeadlineSeconds: 20\n",
    },
    Shape {
        name: "circuit breaker",
        auth: NONE,
        retry: "  retryableStatusCodes: [429, 503]\n  nonRetryableStatusCodes: [400, 404]\n  circuitBreaker: { failureThreshold: 2, openSeconds: 30 }\n",
        crm: "",
    },
    Shape {
        name: "Salesforce throttling 403 listed non-retryable",
        auth: BEARER,
        retry: "  retryableStatusCodes: [429, 500, 503]\n  nonRetryableStatusCodes: [400, 403, 404]\n",
        crm: "  profile: salesforce\n",
    },
    Shape {
        name: "Salesforce throttling 403 retried, OAuth, breaker and deadline",
        auth: REFRESH,
        retry: "  maxRetries: 5\n  retryableStatusCodes: [403, 429, 503]\n  nonRetryableStatusCodes: [400, 401, 404]\n  circuitBreaker: { failureThreshold: 3, openSeconds: 10 }\n",
        crm: "  profile: salesforce\n  deliveryDeadlineSeconds: 40\n",
    },
];

fn spec_text(shape: &Shape, jitter: &str) -> String {
    let retry = if shape.retry.contains("maxRetries") {
        shape.retry.to_string()
    } else {
        format!("  maxRetries: 3\n{}", shape.retry)
    };
    let crm = if shape.crm.contains("profile") {
        shape.crm.to_string()
    } else {
        format!("  profile: generic\n{}", shape.crm)
    };
    format!(
        "version: 1\nname: budget-table\nchannel:\n  name: C\n  destinationUri: https://crm.example.org/v1/records\n  auth:\n{}  timeoutMilliseconds: {TIMEOUT}\nidempotency:\n  header: Idempotency-Key\n  key: ${{event.id}}\nretry:\n  initialDelaySeconds: 1\n  maxDelaySeconds: 8\n  backoffMultiplier: 2\n  jitter: {jitter}\n{retry}deadLetterQueue:\n  enabled: true\n  bucketName: dlq\ncrm:\n{}rules:\n  - id: R\n    name: r\n    eventType: interaction.ended\n    transform: '{{ \"id\": $string(interaction.id) }}'\n",
        shape.auth, crm
    )
}

/// How the CRM answers, as lint's budget names it and as a scenario's faults make it happen.
#[derive(Debug, Clone, Copy)]
enum Probe {
    Status(u16),
    Timeout,
    Reset,
    TokenStatus(u16),
    TokenTimeout,
}

const STATUSES: &[u16] = &[
    401, 403, 404, 408, 409, 413, 422, 429, 500, 501, 502, 503, 599,
];

/// The row of the budget that stands for a probe.
fn row_of(b: &Budget, p: Probe) -> &Row {
    b.rows
        .iter()
        .find(|r| match p {
            Probe::Status(c) => r.kind == "status" && r.codes.contains(&c),
            Probe::TokenStatus(c) => r.kind == "tokenEndpoint" && r.codes.contains(&c),
            Probe::Timeout => r.kind == "timeout",
            Probe::Reset => r.kind == "reset",
            Probe::TokenTimeout => r.kind == "tokenTimeout",
        })
        .unwrap_or_else(|| panic!("no budget row for {p:?} in {:#?}", b.rows))
}

/// `events` events through the simulator against the probe's faults, far apart (each settles
/// before the next arrives), and the last one's figures; `latency` is the CRM's (and its token
/// endpoint's) answer time, `retry_after` the header its answers carry.
fn simulate(
    spec: &spec::Spec,
    inputs: &Inputs,
    p: Probe,
    latency: u64,
    retry_after: Option<u64>,
    jitter_seed: Option<u64>,
    events: u64,
) -> Settled {
    let ra = retry_after
        .map(|s| format!(", retryAfterSeconds: {s}"))
        .unwrap_or_default();
    let fault = match p {
        Probe::Status(c) => format!("respond: {{ from: 0s, to: 400d, status: {c}{ra} }}"),
        Probe::Timeout => "partition: { from: 0s, to: 400d }".into(),
        Probe::Reset => "resets: { from: 0s, to: 400d, rate: 1.0 }".into(),
        Probe::TokenStatus(c) => {
            format!("tokenEndpoint: {{ from: 0s, to: 400d, status: {c}, latencyMs: {latency} }}")
        }
        Probe::TokenTimeout => {
            format!("tokenEndpoint: {{ from: 0s, to: 400d, latencyMs: {TIMEOUT} }}")
        }
    };
    let yaml = format!(
        "version: 1\nname: probe\nduration: {}\nevents: {{ count: {events}, fixtures: false }}\ncrm: {{ latency: {{ p50Ms: {latency}, p99Ms: {latency} }} }}\nfaults:\n  - {fault}\n",
        if events == 1 { "2s".to_string() } else { format!("{}d", 30 * events) }
    );
    let sc = scenario::parse(&yaml, Path::new("probe.yaml")).expect("the probe scenario parses");
    let mut dead: Vec<DeadLettered> = Vec::new();
    let mut delivered = 0;
    let mut o = |x: &EventOutcome| {
        if x.outcome == "delivered" {
            delivered += 1;
        }
    };
    let mut d = |x: &DeadLettered| dead.push(x.clone());
    let mut pr = |_: u64, _: u64| {};
    let opts = Options {
        no_jitter: jitter_seed.is_none(),
        seed: jitter_seed.unwrap_or(engine::DEFAULT_SEED),
        ..Options::default()
    };
    let rep = engine::run(
        spec,
        inputs,
        &sc,
        &opts,
        &mut Sinks {
            outcome: &mut o,
            dead_letter: &mut d,
            progress: &mut pr,
        },
    )
    .expect("the probe run completes");
    assert_eq!(
        (dead.len() as u64, delivered),
        (events, 0),
        "{p:?}: every event must be dead-lettered"
    );
    let d = dead.last().expect("one at least");
    Settled {
        attempts: d.attempts,
        token_refreshes: d.token_refreshes,
        token_requests: rep.totals.token_refreshes as u32,
        ms: d.at - d.first_attempt,
        reason: Some(d.reason),
    }
}

fn load(dir: &Path, shape: &Shape, jitter: &str) -> (spec::Spec, Inputs) {
    let path = dir.join("spec.yaml");
    std::fs::write(&path, spec_text(shape, jitter)).unwrap();
    let loaded = spec::load(&path, &spec::LoadOptions::default());
    let spec = loaded
        .spec
        .unwrap_or_else(|| panic!("{}: {:#?}", shape.name, loaded.diags));
    let inputs = sim_inputs::compile(&spec).expect("the rule compiles");
    (spec, inputs)
}

fn probes(spec: &spec::Spec) -> Vec<Probe> {
    let oauth = matches!(
        spec.raw.channel.auth,
        cxsync::spec::model::Auth::OAuth2ClientCredentials { .. }
    );
    let mut out: Vec<Probe> = STATUSES.iter().map(|c| Probe::Status(*c)).collect();
    out.push(Probe::Reset);
    if oauth {
        out.extend([
            Probe::TokenStatus(503),
            Probe::TokenStatus(429),
            Probe::TokenStatus(400),
            Probe::TokenStatus(401),
            Probe::TokenTimeout,
        ]);
    } else {
        // A partition silences the simulator's token endpoint as well, so timeouts are compared
        // where there is no token to fetch.
        out.push(Probe::Timeout);
    }
    out
}

#[test]
fn lint_budget_equals_the_simulated_machine_for_every_status_class_and_policy_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = 0;
    let mut tripped_differs = 0;
    let mut mismatches = Vec::new();
    for shape in SHAPES {
        let (spec, inputs) = load(dir.path(), shape, "full");
        let b = budget::budget(&spec.raw, budget::Options { no_jitter: true })
            .unwrap_or_else(|e| panic!("{}: {e}", shape.name));
        for p in probes(&spec) {
            let row = row_of(&b, p);
            let fastest = simulate(&spec, &inputs, p, 0, None, None, 1);
            cases += 1;
            if fastest != row.fastest {
                mismatches.push(format!(
                    "{} / {p:?} / fastest ({}):\n  lint {:?}\n  sim  {fastest:?}",
                    shape.name, row.answer, row.fastest
                ));
            }
            // The simulator resets a request before its write after half the latency: only
            // the instant answer is comparable.
            if matches!(p, Probe::Reset) {
                continue;
            }
            let slowest = simulate(
                &spec,
                &inputs,
                p,
                TIMEOUT - 1,
                b.slowest_retry_after,
                None,
                1,
            );
            cases += 1;
            if slowest != row.slowest {
                mismatches.push(format!(
                    "{} / {p:?} / slowest ({}):\n  lint {:?}\n  sim  {slowest:?}",
                    shape.name, row.answer, row.slowest
                ));
            }
            // With a breaker, a second event of the same outage meets the breaker the first
            // one tripped. Its token comes from the cache or not depending on how far apart
            // the events are, so token requests are left out of this comparison.
            if spec.raw.retry.circuit_breaker.is_some() && row.fastest.attempts > 1 {
                let want = row
                    .after_tripped_breaker
                    .map_or((row.fastest, row.slowest), |t| (t.fastest, t.slowest));
                let got = (
                    simulate(&spec, &inputs, p, 0, None, None, 2),
                    simulate(
                        &spec,
                        &inputs,
                        p,
                        TIMEOUT - 1,
                        b.slowest_retry_after,
                        None,
                        2,
                    ),
                );
                tripped_differs += usize::from(row.after_tripped_breaker.is_some());
                let strip = |mut s: Settled| {
                    s.token_requests = 0;
                    s
                };
                cases += 2;
                if (strip(want.0), strip(want.1)) != (strip(got.0), strip(got.1)) {
                    mismatches.push(format!(
                        "{} / {p:?} / after a tripped breaker ({}):\n  lint {want:?}\n  sim  {got:?}",
                        shape.name, row.answer
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(cases > 250, "only {cases} cases");
    assert!(
        tripped_differs > 0,
        "no case where a tripped breaker changes the figures"
    );
}

#[test]
fn jittered_runs_fall_between_the_budgets_fastest_and_slowest() {
    let dir = tempfile::tempdir().unwrap();
    for jitter in ["full", "equal", "decorrelated"] {
        for shape in SHAPES {
            let (spec, inputs) = load(dir.path(), shape, jitter);
            let b = budget::budget(&spec.raw, budget::Options::default()).unwrap();
            let deadline = spec.raw.crm.delivery_deadline_seconds;
            for code in [429, 503] {
                let row = row_of(&b, Probe::Status(code));
                for seed in 1..=4 {
                    let s = simulate(&spec, &inputs, Probe::Status(code), 0, None, Some(seed), 1);
                    let what = format!(
                        "{} {jitter} {code} seed {seed}: {s:?} vs {row:?}",
                        shape.name
                    );
                    match deadline {
                        // Without a deadline the two schedules bound every run, and every run
                        // spends the same attempts.
                        None => {
                            assert!(row.fastest.ms <= s.ms && s.ms <= row.slowest.ms, "{what}");
                            assert_eq!(s.attempts, row.fastest.attempts, "{what}");
                        }
                        // With one, a schedule in between can end earlier or later than both;
                        // the budget's note gives the bound every run keeps.
                        Some(dl) => {
                            assert!(s.ms <= dl * 1000 + TIMEOUT, "{what}");
                            if row.slowest.reason != row.fastest.reason {
                                assert!(
                                    b.notes.iter().any(|n| n.contains("plus one timeout")),
                                    "{what}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
