//! Apply under faults: the mock hub throttles, fails and drops connections mid-apply; apply
//! retries what is safe to retry, stops cleanly on what is not, a second apply converges, and a
//! converged apply sends no write.

use cxsync::cxone::mock_hub::{Config, Fault};

use super::{code, env, env_with, text, CHANNEL};

fn faults(list: &[&str]) -> Config {
    Config {
        faults: list.iter().map(|f| f.parse::<Fault>().unwrap()).collect(),
        ..Config::default()
    }
}

#[test]
fn throttling_and_unavailability_on_every_write_are_retried_within_one_apply() {
    let e = env_with(faults(&[
        "POST /api/v2/eventhub/channels:429:1",
        "PUT /api/v2/eventhub/channels/*/retry-policy:503:2",
        "PUT /api/v2/eventhub/rules/*:429:2",
    ]));
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("4 created"), "{}", text(&a));
    // Each retried call says what its earlier attempts met.
    let t = text(&a);
    assert!(t.contains("/retry-policy → 201 (after 503; 503)"), "{t}");
    assert!(
        t.contains("/rules/RULE_STARTED → 201 (after 429; 429)"),
        "{t}"
    );
    assert!(t.contains("/rules/RULE_ENDED → 201\n"), "{t}");
    // 4 writes that landed and 5 that were answered with a fault first.
    assert_eq!(e.writes().len(), 9, "{:#?}", e.writes());
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn a_connection_dropped_before_an_idempotent_write_is_retried() {
    let e = env_with(faults(&["PUT /api/v2/eventhub/rules/*:drop:2"]));
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn a_lost_answer_to_the_channel_create_stops_cleanly_and_the_next_apply_converges_without_a_twin() {
    // The hub creates the channel, then the connection drops: POST is not idempotent, so apply
    // does not resend it.
    let e = env_with(faults(&["POST /api/v2/eventhub/channels:drop-after:1"]));
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 2, "{}", text(&a));
    let t = text(&a);
    assert!(
        t.contains("failed channel Test_Channel: POST /api/v2/eventhub/channels"),
        "{t}"
    );
    assert!(t.contains("Applied: nothing."), "{t}");
    assert!(t.contains("run apply again"), "{t}");

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("3 created, 0 updated"), "{}", text(&a));
    let channels = e.get("/api/v2/eventhub/channels");
    assert_eq!(channels["channels"].as_array().unwrap().len(), 1, "no twin");

    let writes = e.writes().len();
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0);
    assert!(text(&a).contains("No changes."), "{}", text(&a));
    assert_eq!(e.writes().len(), writes, "a converged apply sent a write");
}

#[test]
fn a_lost_answer_to_a_delete_is_retried_and_the_404_counts_as_removed() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/STALE",
        serde_json::json!({"name": "x", "eventType": "x", "actions": [{"type": "ROUTE", "channelId": CHANNEL}]}),
    );
    e.hub.hub.add_fault(
        "DELETE /api/v2/eventhub/rules/*:drop-after:1"
            .parse()
            .unwrap(),
    );
    let a = e.run(&["apply", "--auto-approve", "--prune"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(
        text(&a).contains(
            "removed rule STALE: DELETE /api/v2/eventhub/rules/STALE → 404 (gone already)"
        ),
        "{}",
        text(&a)
    );
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode", "--prune"])), 0);
}

#[test]
fn a_non_retryable_error_stops_cleanly_and_a_second_apply_converges_then_writes_nothing() {
    let e = env_with(faults(&["PUT /api/v2/eventhub/rules/RULE_STARTED:400:1"]));
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 2, "{}", text(&a));
    let t = text(&a);
    assert!(
        t.contains("Applied: channel Test_Channel, retry-policy Test_Channel."),
        "{t}"
    );
    assert!(
        t.contains("Not applied: rule RULE_STARTED, rule RULE_ENDED."),
        "{t}"
    );
    // Exactly one attempt at the rule: a 400 is not retried.
    let rule_puts = e
        .writes()
        .iter()
        .filter(|w| w.as_str() == "PUT /api/v2/eventhub/rules/RULE_STARTED")
        .count();
    assert_eq!(rule_puts, 1);

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("2 created, 0 updated"), "{}", text(&a));
    let writes = e.writes().len();
    for _ in 0..2 {
        let a = e.run(&["apply", "--auto-approve", "--prune"]);
        assert_eq!(code(&a), 0);
    }
    assert_eq!(e.writes().len(), writes, "{:#?}", e.writes());
}

#[test]
fn the_mock_hub_command_injects_faults_given_with_fault() {
    let out = super::against_mock_hub_command(
        &[
            "--fault",
            "GET /api/v2/eventhub/channels:drop:1",
            "--fault",
            "PUT /api/v2/eventhub/rules/*:503:1",
        ],
        &["apply", "--auto-approve"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("4 created"), "{}", text(&out));
}
