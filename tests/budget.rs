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
use cxsync::sim::engine::{self, EventOutcome, Options, OriginalEvent, Sinks};
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
        // Not sent to the hub, not simulated (#122): the figures are the policy's without it.
        name: "circuit breaker set (never sent, never run)",
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

/// A policy as spec text: the shapes above, or one generated from a seed.
struct Policy {
    name: String,
    auth: String,
    retry: String,
    crm: String,
    timeout: u64,
}

impl From<&Shape> for Policy {
    fn from(s: &Shape) -> Policy {
        Policy {
            name: s.name.into(),
            auth: s.auth.into(),
            retry: s.retry.into(),
            crm: s.crm.into(),
            timeout: TIMEOUT,
        }
    }
}

fn spec_text(p: &Policy, jitter: &str) -> String {
    let retry = if p.retry.contains("maxRetries") {
        p.retry.to_string()
    } else {
        format!("  maxRetries: 3\n{}", p.retry)
    };
    let retry = if retry.contains("initialDelaySeconds") {
        retry
    } else {
        format!("  initialDelaySeconds: 1\n  maxDelaySeconds: 8\n  backoffMultiplier: 2\n{retry}")
    };
    let crm = if p.crm.contains("profile") {
        p.crm.to_string()
    } else {
        format!("  profile: generic\n{}", p.crm)
    };
    format!(
        "version: 1\nname: budget-table\nchannel:\n  name: C\n  destinationUri: https://crm.example.org/v1/records\n  auth:\n{}  timeoutMilliseconds: {}\nidempotency:\n  header: Idempotency-Key\n  key: ${{event.id}}\nretry:\n  jitter: {jitter}\n{retry}deadLetterQueue:\n  enabled: true\n  bucketName: dlq\ncrm:\n{}rules:\n  - id: R\n    name: r\n    eventType: interaction.ended\n    transform: '{{ \"id\": $string(interaction.id) }}'\n",
        p.auth, p.timeout, crm
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
            let timeout = spec.raw.channel.timeout_milliseconds;
            format!("tokenEndpoint: {{ from: 0s, to: 400d, latencyMs: {timeout} }}")
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
    let mut d = |x: &DeadLettered, _: &OriginalEvent<'_>| dead.push(x.clone());
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
            outcome: Some(&mut o),
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

fn load(dir: &Path, policy: &Policy, jitter: &str) -> (spec::Spec, Inputs) {
    let path = dir.join("spec.yaml");
    std::fs::write(&path, spec_text(policy, jitter)).unwrap();
    let loaded = spec::load(&path, &spec::LoadOptions::default());
    let spec = loaded.spec.unwrap_or_else(|| {
        panic!(
            "{}: {:#?}\n{}",
            policy.name,
            loaded.diags,
            spec_text(policy, jitter)
        )
    });
    let inputs = sim_inputs::compile(&spec).expect("the rule compiles");
    (spec, inputs)
}

fn oauth(spec: &spec::Spec) -> bool {
    matches!(
        spec.raw.channel.auth,
        cxsync::spec::model::Auth::OAuth2ClientCredentials { .. }
    )
}

/// The answers a policy is probed with: `statuses`, a reset, and a timeout or (OAuth) the token
/// endpoint failing.
fn probes(spec: &spec::Spec, statuses: &[u16], token: &[u16]) -> Vec<Probe> {
    let mut out: Vec<Probe> = statuses.iter().map(|c| Probe::Status(*c)).collect();
    out.push(Probe::Reset);
    if oauth(spec) {
        out.extend(token.iter().map(|c| Probe::TokenStatus(*c)));
        out.push(Probe::TokenTimeout);
    } else {
        // A partition silences the simulator's token endpoint as well, so timeouts are compared
        // where there is no token to fetch.
        out.push(Probe::Timeout);
    }
    out
}

/// What one policy's comparison found.
#[derive(Default)]
struct Tally {
    cases: usize,
    /// Policies that set `retry.circuitBreaker`, whose budget must equal the policy's without it.
    breakers: usize,
    mismatches: Vec<String>,
}

/// The policy's retry text without its `circuitBreaker` line.
fn without_breaker(policy: &Policy) -> Policy {
    Policy {
        name: format!("{} without its breaker", policy.name),
        auth: policy.auth.clone(),
        retry: policy
            .retry
            .lines()
            .filter(|l| !l.contains("circuitBreaker"))
            .map(|l| format!("{l}\n"))
            .collect(),
        crm: policy.crm.clone(),
        timeout: policy.timeout,
    }
}

/// Lint's budget for `policy` against the simulator, answer by answer: the fastest schedule and
/// the slowest. A policy with a circuit breaker must budget exactly as without it (the hub never
/// gets it, #122).
fn compare(dir: &Path, policy: &Policy, statuses: &[u16], token: &[u16], t: &mut Tally) {
    let (spec, inputs) = load(dir, policy, "full");
    let b = budget::budget(&spec.raw, budget::Options { no_jitter: true })
        .unwrap_or_else(|e| panic!("{}: {e}", policy.name));
    let timeout = spec.raw.channel.timeout_milliseconds;
    if spec.raw.retry.circuit_breaker.is_some() {
        t.breakers += 1;
        let (plain, _) = load(dir, &without_breaker(policy), "full");
        let without = budget::budget(&plain.raw, budget::Options { no_jitter: true })
            .unwrap_or_else(|e| panic!("{}: {e}", policy.name));
        if without.rows != b.rows {
            t.mismatches.push(format!(
                "{}: the breaker changes the budget:\n  with    {:?}\n  without {:?}",
                policy.name, b.rows, without.rows
            ));
        }
    }
    // The budget's promise under a deadline: every run that made an attempt settles within the
    // deadline plus one timeout of its first attempt (two when a 401's new token was awaited).
    if let Some(dl) = spec.raw.crm.delivery_deadline_seconds {
        for row in &b.rows {
            for s in [row.fastest, row.slowest] {
                let bound = dl * 1000 + timeout * (1 + u64::from(s.token_refreshes.min(1)));
                if s.attempts > 0 && s.ms > bound {
                    t.mismatches.push(format!(
                        "{} / {}: {s:?} ends after the deadline plus the timeouts it may wait ({bound} ms)",
                        policy.name, row.answer
                    ));
                }
            }
        }
    }
    let mut differ = |what: &str, lint: &dyn std::fmt::Debug, sim: &dyn std::fmt::Debug| {
        t.mismatches.push(format!(
            "{} / {what}:\n  lint {lint:?}\n  sim  {sim:?}",
            policy.name
        ));
    };
    for p in probes(&spec, statuses, token) {
        let row = row_of(&b, p);
        let fastest = simulate(&spec, &inputs, p, 0, None, None, 1);
        t.cases += 1;
        if fastest != row.fastest {
            differ(
                &format!("{p:?} / fastest ({})", row.answer),
                &row.fastest,
                &fastest,
            );
        }
        // The simulator resets a request before its write after half the latency: only the
        // instant answer is comparable.
        if matches!(p, Probe::Reset) {
            continue;
        }
        let slowest = simulate(
            &spec,
            &inputs,
            p,
            timeout - 1,
            b.slowest_retry_after,
            None,
            1,
        );
        t.cases += 1;
        if slowest != row.slowest {
            differ(
                &format!("{p:?} / slowest ({})", row.answer),
                &row.slowest,
                &slowest,
            );
        }
    }
}

#[test]
fn lint_budget_equals_the_simulated_machine_for_every_status_class_and_policy_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tally::default();
    for shape in SHAPES {
        compare(
            dir.path(),
            &shape.into(),
            STATUSES,
            &[503, 429, 400, 401],
            &mut t,
        );
    }
    assert!(
        t.mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        t.mismatches.len(),
        t.cases,
        t.mismatches.join("\n")
    );
    assert!(t.cases > 250, "only {} cases", t.cases);
    assert!(
        t.breakers >= 2,
        "only {} policies with a breaker",
        t.breakers
    );
}

/// splitmix64: the generated policies' one source of choices, so a seed names a policy.
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Codes a generated policy lists, probes, or both.
const POOL: &[u16] = &[
    400, 401, 403, 404, 408, 409, 413, 422, 425, 429, 500, 501, 502, 503, 504, 507, 599,
];

/// One policy from a seed, with the statuses and token-endpoint codes to probe it with: any
/// auth, any profile, lists drawn from [`POOL`] (a code may be in both, or in neither), edge
/// numbers (a 1 ms timeout, zero delays, a multiplier below 1, `maxRetries: 0`, a breaker that
/// opens after one failure or for zero seconds, a one-second deadline, Retry-After with no
/// horizon).
fn generate(seed: u64) -> (Policy, Vec<u16>, Vec<u16>) {
    let mut r = Seq(seed);
    let auth = *r.pick(&[NONE, BEARER, REFRESH, NO_REFRESH]);
    let profile = *r.pick(&[
        "generic",
        "salesforce",
        "dynamics",
        "zendesk",
        "hubspot",
        "servicenow",
    ]);
    let timeout = *r.pick(&[1u64, 250, 1000, 2000]);
    let respect = r.chance(50);
    let horizon = *r.pick(&[None, Some(0u64), Some(5), Some(45), Some(600)]);
    // Retry-After of a day (no horizon) keeps a run within days: fewer retries then.
    let retries: &[u32] = if respect && horizon.is_none_or(|h| h > 60) {
        &[0, 1, 2, 3]
    } else {
        &[0, 1, 2, 3, 5, 8]
    };
    let max_retries = *r.pick(retries);
    let initial = *r.pick(&["0", "0.25", "1", "2.5"]);
    let max_delay = *r.pick(&["0", "1", "8", "30"]);
    let multiplier = *r.pick(&["0", "0.5", "1", "1.5", "2", "3"]);
    let retryable: Vec<u16> = POOL.iter().copied().filter(|_| r.chance(35)).collect();
    let non_retryable: Vec<u16> = POOL.iter().copied().filter(|_| r.chance(25)).collect();
    let list = |cs: &[u16]| {
        cs.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut retry = format!(
        "  maxRetries: {max_retries}\n  initialDelaySeconds: {initial}\n  maxDelaySeconds: {max_delay}\n  backoffMultiplier: {multiplier}\n  retryableStatusCodes: [{}]\n  nonRetryableStatusCodes: [{}]\n  respectRetryAfterHeader: {respect}\n",
        list(&retryable),
        list(&non_retryable)
    );
    if r.chance(50) {
        let threshold = *r.pick(&[1u32, 2, 3, 4]);
        let open = *r.pick(&["0", "0.5", "5", "30"]);
        retry.push_str(&format!(
            "  circuitBreaker: {{ failureThreshold: {threshold}, openSeconds: {open} }}\n"
        ));
    }
    let mut crm = format!("  profile: {profile}\n");
    if let Some(h) = horizon {
        crm.push_str(&format!("  retryAfterHorizonSeconds: {h}\n"));
    }
    if r.chance(40) {
        let dl = *r.pick(&[1u64, 7, 30, 120]);
        crm.push_str(&format!("  deliveryDeadlineSeconds: {dl}\n"));
    }
    // Always the codes whose defaults differ (401, 429, 503, the profile's throttle), then a
    // few more: listed ones, and codes no list names.
    let throttle = match profile {
        "salesforce" => 403,
        _ => 429,
    };
    let mut statuses = vec![401, 429, 503, throttle];
    let mut others: Vec<u16> = retryable.iter().chain(&non_retryable).copied().collect();
    others.extend([405 + r.below(20) as u16, 505 + r.below(90) as u16]);
    for _ in 0..4 {
        statuses.push(*r.pick(&others));
    }
    statuses.sort();
    statuses.dedup();
    let token = vec![*r.pick(&[400u16, 401, 429, 500, 503])];
    let name = format!("generated policy (seed {seed})");
    (
        Policy {
            name,
            auth: auth.into(),
            retry,
            crm,
            timeout,
        },
        statuses,
        token,
    )
}

/// The same comparison over policies no one wrote by hand. `CXSYNC_BUDGET_SEED` picks the first
/// seed (a failure names its seed), `CXSYNC_BUDGET_POLICIES` how many (24 by default; more
/// for a longer search).
#[test]
fn lint_budget_equals_the_simulated_machine_on_generated_policies() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{k}={v}: not a number"))
            })
            .unwrap_or(d)
    };
    let first = env("CXSYNC_BUDGET_SEED", 1);
    let count = env("CXSYNC_BUDGET_POLICIES", 24);
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tally::default();
    let mut failed = Vec::new();
    for seed in first..first + count {
        let (policy, statuses, token) = generate(seed);
        let before = t.mismatches.len();
        compare(dir.path(), &policy, &statuses, &token, &mut t);
        if t.mismatches.len() > before {
            failed.push(format!("seed {seed}:\n{}", spec_text(&policy, "full")));
        }
    }
    assert!(
        t.mismatches.is_empty(),
        "{} of {} cases differ (rerun one with CXSYNC_BUDGET_SEED=N CXSYNC_BUDGET_POLICIES=1):\n{}\n\n{}",
        t.mismatches.len(),
        t.cases,
        t.mismatches.join("\n"),
        failed.join("\n")
    );
    assert!(t.cases >= 8 * count as usize, "only {} cases", t.cases);
}

#[test]
fn jittered_runs_fall_between_the_budgets_fastest_and_slowest() {
    let dir = tempfile::tempdir().unwrap();
    for jitter in ["full", "equal", "decorrelated"] {
        for shape in SHAPES {
            let (spec, inputs) = load(dir.path(), &shape.into(), jitter);
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
