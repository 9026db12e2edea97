//! Scenario-level tests of the engine: outcomes computed by hand, determinism, and a property
//! test of the invariants over random fault schedules.

use std::path::Path;

use proptest::prelude::*;

use super::engine::{self, EventOutcome, Options, OriginalEvent, Sinks};
use super::inputs::{self, Inputs};
use super::report::Report;
use super::scenario;
use crate::delivery::{rfc3339, DeadLettered};
use crate::spec::{self, LoadOptions, Spec};

fn load_spec() -> (Spec, Inputs) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
    let loaded = spec::load(&path, &LoadOptions::default());
    let spec = loaded.spec.expect("the example spec loads");
    let inputs = inputs::compile(&spec).expect("the example spec's rules compile");
    (spec, inputs)
}

fn only_voice(mut inputs: Inputs) -> Inputs {
    inputs
        .fixtures
        .retain(|(name, _)| name == "voice_resolved.json");
    assert_eq!(inputs.fixtures.len(), 1);
    inputs
}

type Outcomes = Vec<(String, &'static str, u32, Option<&'static str>)>;

/// Runs and returns the report plus `(eventId, outcome, attempts, reason, at ms)` per event.
fn run(
    spec: &Spec,
    inputs: &Inputs,
    yaml: &str,
    opts: &Options,
) -> (Report, Outcomes, Vec<(String, String)>) {
    let sc = scenario::parse(yaml, Path::new("test.yaml")).expect("test scenario parses");
    let mut outcomes = Vec::new();
    let mut dlq = Vec::new();
    let mut o =
        |x: &EventOutcome| outcomes.push((x.event_id.clone(), x.outcome, x.attempts, x.reason));
    let epoch = engine::epoch(spec, &sc);
    let mut d = |x: &DeadLettered, _: &OriginalEvent<'_>| {
        dlq.push((x.id.event_id.to_string(), rfc3339(epoch, x.at)))
    };
    let mut p = |_: u64, _: u64| {};
    let rep = engine::run(
        spec,
        inputs,
        &sc,
        opts,
        &mut Sinks {
            outcome: Some(&mut o),
            dead_letter: &mut d,
            progress: &mut p,
        },
    )
    .expect("run completes");
    (rep, outcomes, dlq)
}

/// A hand-written scenario: `count` events spread over `duration`, a CRM that answers at once,
/// and one fault.
fn hand(duration: &str, count: u32, fault: &str) -> String {
    format!(
        "
version: 1
name: hand
duration: {duration}
events: {{ count: {count}, fixtures: false }}
crm: {{ latency: {{ p50Ms: 0, p99Ms: 0 }} }}
faults:
  - {fault}
"
    )
}

/// Three events in 30 s against a 503 window of 70 s.
fn window_503() -> String {
    hand("30s", 3, "maintenance: { from: 0s, to: 70s }")
}

#[test]
fn a_503_window_against_2_4_8_16_32_backoff_dead_letters_exactly_the_early_event() {
    // Arrivals at 5 s, 15 s, 25 s (count 3 spread over 30 s). Without jitter the attempts of the
    // first are at 5, 7, 11, 19, 35 and 67 s: all inside the 70 s window, so it is dead-lettered
    // at 67 s after 6 attempts (maxRetries 5). The second tries at 15, 17, 21, 29, 45 and 77 s
    // and the sixth succeeds; the third's sixth attempt is at 87 s.
    let (spec, inputs) = load_spec();
    let inputs = only_voice(inputs);
    let opts = Options {
        no_jitter: true,
        ..Options::default()
    };
    let (rep, outcomes, dlq) = run(&spec, &inputs, &window_503(), &opts);
    // Generated events copy the fixture `evt-0001` and count up in its form.
    assert_eq!(
        outcomes,
        vec![
            (
                "evt-0002".to_string(),
                "deadLettered",
                6,
                Some("RETRIES_EXHAUSTED")
            ),
            ("evt-0003".to_string(), "delivered", 6, None),
            ("evt-0004".to_string(), "delivered", 6, None),
        ]
    );
    assert_eq!(
        dlq,
        vec![(
            "evt-0002".to_string(),
            "2024-01-15T14:01:07.000Z".to_string()
        )]
    );
    // Delivery latencies are 77 - 15 and 87 - 25 seconds.
    assert_eq!(rep.latencies, vec![62_000, 62_000]);
    assert_eq!(rep.totals.attempts, 18);
    assert!(rep.passed(), "{}", rep.summary());
}

#[test]
fn respecting_retry_after_waits_past_max_delay() {
    // A 429 storm with Retry-After: 90 (above maxDelaySeconds: 60). The spec honours it, so the
    // retry of an event throttled at 5 s goes at 95 s, after the storm.
    let (spec, inputs) = load_spec();
    let inputs = only_voice(inputs);
    let throttle = "throttle: { from: 0s, to: 60s, requests: 1, per: 1h, retryAfterSeconds: 90 }";
    let opts = Options {
        no_jitter: true,
        ..Options::default()
    };
    let (rep, outcomes, _) = run(&spec, &inputs, &hand("10s", 1, throttle), &opts);
    // The window's bucket holds one request: spent by nobody yet, so the first attempt passes.
    assert_eq!(outcomes[0].1, "delivered");
    let _ = rep;
    let (rep, outcomes, _) = run(&spec, &inputs, &hand("10s", 2, throttle), &opts);
    // The second event (at 7.5 s) is throttled and waits 90 s, not 2 s.
    assert_eq!(outcomes[1], ("evt-0003".to_string(), "delivered", 2, None));
    assert_eq!(rep.latencies, vec![0, 90_000]);
}

#[test]
fn the_same_seed_gives_a_byte_identical_report_and_another_seed_does_not() {
    let (spec, inputs) = load_spec();
    let yaml = scenario::BUILTIN
        .iter()
        .find(|(n, _)| *n == "default")
        .unwrap()
        .1;
    let opts = Options {
        events: Some(150),
        ..Options::default()
    };
    let a = run(&spec, &inputs, yaml, &opts).0.to_json().to_string();
    let b = run(&spec, &inputs, yaml, &opts).0.to_json().to_string();
    assert_eq!(a, b);
    let c = run(&spec, &inputs, yaml, &Options { seed: 7, ..opts })
        .0
        .to_json()
        .to_string();
    assert_ne!(a, c);
}

#[test]
fn a_run_that_cannot_settle_within_the_step_bound_fails_with_the_seed() {
    let (spec, inputs) = load_spec();
    let sc = scenario::parse(&window_503(), Path::new("t.yaml")).unwrap();
    let opts = Options {
        max_steps: Some(5),
        seed: 99,
        ..Options::default()
    };
    let err = Sinks::none(|s| engine::run(&spec, &inputs, &sc, &opts, s)).unwrap_err();
    assert!(err.to_string().contains("seed 99"), "{err}");
}

#[test]
fn without_a_dlq_dead_lettered_events_are_lost_and_the_verdict_fails() {
    let (mut spec, inputs) = load_spec();
    spec.raw.dead_letter_queue.enabled = false;
    let inputs = only_voice(inputs);
    let opts = Options {
        no_jitter: true,
        ..Options::default()
    };
    let (rep, _, _) = run(
        &spec,
        &inputs,
        &format!("{}expect: {{ lost: 0 }}\n", window_503()),
        &opts,
    );
    assert_eq!(rep.totals.lost, 1);
    assert!(!rep.passed());
    assert!(
        rep.verdict_line().contains("conservation"),
        "{}",
        rep.verdict_line()
    );
}

/// A CRM that cannot deduplicate, and lost responses (resets) that make the machine resend.
const WITHOUT_DEDUP: &str = "
version: 1
name: dups
duration: 2m
events: { count: 200, fixtures: false }
crm: { idempotency: none, resetRate: 0.3 }
";

#[test]
fn a_crm_without_dedup_turns_lost_responses_into_counted_duplicates() {
    let (spec, inputs) = load_spec();
    let yaml = format!("{WITHOUT_DEDUP}expect: {{ duplicates: 0 }}\n");
    let (rep, _, _) = run(&spec, &inputs, &yaml, &Options::default());
    assert!(rep.totals.duplicates > 0, "{}", rep.summary());
    assert!(!rep.passed());
    let inv = rep
        .invariants
        .iter()
        .find(|i| i.name == "no-duplicate-side-effects")
        .unwrap();
    assert!(
        inv.holds,
        "without dedup duplicates are counted, not an invariant breach"
    );
}

#[test]
fn duplicates_in_a_crm_without_dedup_fail_the_run_naming_the_seed_unless_the_scenario_bounds_them()
{
    let (spec, inputs) = load_spec();
    let yaml = WITHOUT_DEDUP;
    let (rep, _, _) = run(&spec, &inputs, yaml, &Options::default());
    assert!(rep.totals.duplicates > 0, "{}", rep.summary());
    let inv = rep
        .invariants
        .iter()
        .find(|i| i.name == "no-duplicate-side-effects")
        .unwrap();
    assert!(inv.checked && !inv.holds, "{}", rep.summary());
    assert!(inv.detail.contains("upsert"), "{}", inv.detail);
    assert!(!rep.passed());
    assert!(
        rep.verdict_line()
            .contains(&format!("seed {} reproduces", rep.seed)),
        "{}",
        rep.verdict_line()
    );
    // Accepted by the scenario: its expectation decides.
    let bounded = format!("{yaml}expect: {{ duplicates: {{ max: 100000 }} }}\n");
    let (rep, _, _) = run(&spec, &inputs, &bounded, &Options::default());
    assert!(rep.totals.duplicates > 0);
    assert!(rep.passed(), "{}", rep.summary());
}

#[test]
fn the_guides_agent_template_dead_letters_ivr_events_instead_of_sending_an_empty_key() {
    let (mut spec, inputs) = load_spec();
    spec.raw.idempotency.key = "${interaction.id}_${event.type}_${agent.id}".into();
    let yaml = "version: 1\nname: t\nduration: 1m\nevents: { count: 0 }\n";
    let (rep, outcomes, _) = run(&spec, &inputs, yaml, &Options::default());
    let ivr: Vec<_> = outcomes.iter().filter(|o| o.0 == "evt-0005").collect();
    assert_eq!(
        ivr,
        vec![&(
            "evt-0005".to_string(),
            "deadLettered",
            0,
            Some("IDEMPOTENCY_KEY_UNRESOLVED")
        )]
    );
    assert_eq!(rep.totals.lost, 0);
}

fn fault_strategy() -> impl Strategy<Value = String> {
    let window = (0u64..100, 1u64..60);
    prop_oneof![
        (window.clone(), 1u64..5, 0u64..120).prop_map(|((f, l), n, ra)| format!(
            "  - throttle: {{ from: {f}s, to: {}s, requests: {n}, per: 1s, retryAfterSeconds: {ra} }}\n",
            f + l
        )),
        window.clone().prop_map(|(f, l)| format!("  - maintenance: {{ from: {f}s, to: {}s }}\n", f + l)),
        window.clone().prop_map(|(f, l)| format!("  - partition: {{ from: {f}s, to: {}s }}\n", f + l)),
        (0u64..100).prop_map(|a| format!("  - revokeTokens: {{ at: {a}s }}\n")),
        (0u64..100, 1u64..60).prop_map(|(a, d)| format!("  - rotateSecret: {{ at: {a}s, vaultUpdatedAfter: {d}s }}\n")),
        (window.clone(), prop_oneof![Just(500u16), Just(400u16)]).prop_map(|((f, l), s)| format!(
            "  - tokenEndpoint: {{ from: {f}s, to: {}s, status: {s} }}\n",
            f + l
        )),
        (window.clone(), 0u32..60).prop_map(|((f, l), r)| format!(
            "  - resets: {{ from: {f}s, to: {}s, rate: 0.{r:02} }}\n",
            f + l
        )),
        window.prop_map(|(f, l)| format!("  - latency: {{ from: {f}s, to: {}s, p50Ms: 2000, p99Ms: 9000 }}\n", f + l)),
    ]
}

proptest! {
    // 1,000 cases by default (`PROPTEST_CASES=10000` for the long run in docs/semantics.md).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000),
        ..ProptestConfig::default()
    })]
    #[test]
    fn invariants_hold_under_random_fault_schedules(
        faults in proptest::collection::vec(fault_strategy(), 0..5),
        seed in any::<u64>(),
        events in 1u64..12,
        concurrency in 1u32..8,
        batch in prop_oneof![Just(1u32), Just(3u32)],
    ) {
        let (mut spec, inputs) = shared();
        spec.raw.channel.batch_size = batch;
        spec.raw.crm.accepts_arrays = true;
        let yaml = format!(
            "version: 1\nname: prop\nduration: 2m\nhub: {{ concurrency: {concurrency} }}\nevents: {{ count: {events}, fixtures: false }}\nfaults:\n{}",
            if faults.is_empty() { "  []\n".to_string() } else { faults.concat() }
        ).replace("faults:\n  []", "faults: []");
        let sc = scenario::parse(&yaml, Path::new("prop.yaml")).map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
        let opts = Options { seed, ..Options::default() };
        let rep = Sinks::none(|s| engine::run(&spec, &inputs, &sc, &opts, s))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        for inv in &rep.invariants {
            prop_assert!(inv.holds, "seed {seed}: {} broken: {}\n{yaml}", inv.name, inv.detail);
        }
        prop_assert_eq!(rep.totals.lost, 0);
        prop_assert_eq!(rep.totals.delivered + rep.totals.dead_lettered, rep.totals.matched);
    }
}

fn shared() -> (Spec, Inputs) {
    use std::sync::OnceLock;
    static SPEC: OnceLock<Spec> = OnceLock::new();
    let spec = SPEC.get_or_init(|| load_spec().0).clone();
    let inputs = inputs::compile(&spec).expect("rules compile");
    (spec, inputs)
}

/// The machine does not hold events; a DLQ record's event is made again from the feed. It must
/// be the event that was delivered: with a transform that sends the whole event, it equals the
/// record's payload, and its key is the record's key, for generated events, fixtures, oversized events and events without an agent
/// (refused at submission: the guide's key names the agent).
#[test]
fn a_dead_letters_event_made_again_is_the_event_that_was_sent() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sim/guide-copy.yaml");
    let spec = spec::load(&path, &LoadOptions::default()).spec.unwrap();
    let mut inputs = inputs::compile(&spec).unwrap();
    // The payload is the whole event, so the record's payload is the event as it was sent.
    inputs.rules[0].transform = crate::transform::Transform::compile("$").unwrap();
    inputs.schemas = Default::default();
    let sc = scenario::parse(
        "
version: 1
name: down
duration: 2m
events:
  count: 120
  withoutAgentEvery: 7
  oversize: { every: 11, bytes: 3000, path: interaction.analytics.transcript }
faults:
  - maintenance: { from: 0s, to: 1h }
",
        Path::new("test.yaml"),
    )
    .expect("test scenario parses");
    let epoch = engine::epoch(&spec, &sc);
    let template = engine::machine_config(&spec, &sc, &Options::default(), epoch)
        .unwrap()
        .idempotency;
    let rule = &inputs.rules[0];
    let mut checked = (0, 0);
    let mut d = |x: &DeadLettered, event: &OriginalEvent<'_>| {
        let ev = event.get();
        assert_eq!(
            ev.pointer("/event/id").and_then(|v| v.as_str()),
            Some(&*x.id.event_id),
            "{ev}"
        );
        assert_eq!(x.idempotency_key, template.render(&ev).ok(), "{ev}");
        let when = (epoch + std::time::Duration::from_millis(x.submitted)).into();
        let again = rule.transform.eval(&ev, when).unwrap().unwrap();
        assert_eq!(Some(&again), x.payload.as_ref(), "{ev}");
        match x.reason {
            crate::delivery::Reason::IdempotencyKeyUnresolved => checked.1 += 1,
            _ => checked.0 += 1,
        }
    };
    let mut o = |_: &EventOutcome| {};
    let mut p = |_: u64, _: u64| {};
    let rep = engine::run(
        &spec,
        &inputs,
        &sc,
        &Options::default(),
        &mut Sinks {
            outcome: Some(&mut o),
            dead_letter: &mut d,
            progress: &mut p,
        },
    )
    .expect("run completes");
    assert_eq!(rep.totals.delivered, 0);
    assert_eq!(checked.0 + checked.1, rep.totals.dead_lettered);
    assert!(checked.0 > 50 && checked.1 > 5, "{checked:?}");
}
