//! Ownership and environments: who owns an Event Hub object, what a plan of another spec or
//! environment does about it, disabled rules, and the `plan --json` document.

use serde_json::{json, Value};

use super::{code, env, text, CHANNEL};
use crate::common::{cxsync, root};

#[test]
fn production_then_staging_on_one_hub_both_plan_clean() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let a = e.run(&["apply", "--auto-approve", "--env", "staging"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(
        text(&a).contains("created rule RULE_STARTED--staging"),
        "{}",
        text(&a)
    );

    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "production after staging: {}", text(&p));
    let p = e.run(&["plan", "--detailed-exitcode", "--env", "staging"]);
    assert_eq!(code(&p), 0, "staging: {}", text(&p));

    // Production's rules still route to production, staging's to staging.
    let route = |id: &str| {
        e.get(&format!("/api/v2/eventhub/rules/{id}"))["actions"][1]["channelId"].clone()
    };
    assert_eq!(route("RULE_ENDED"), json!(CHANNEL));
    assert_eq!(route("RULE_ENDED--staging"), json!("Test_Channel_Staging"));
    let ch = e.get(&format!("/api/v2/eventhub/channels/{CHANNEL}"));
    assert_eq!(ch["headers"]["X-Cxsync-Owner"], "spec=cxone-test");
    let st = e.get("/api/v2/eventhub/channels/Test_Channel_Staging");
    assert_eq!(
        st["headers"]["X-Cxsync-Owner"],
        "spec=cxone-test; env=staging"
    );
    // Pruning staging leaves production's rules alone.
    let p = e.run(&["plan", "--detailed-exitcode", "--env", "staging", "--prune"]);
    assert_eq!(code(&p), 0, "{}", text(&p));
}

#[test]
fn an_environment_sharing_the_channel_is_refused_naming_the_owner_until_adopted() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let writes = e.writes().len();

    // `shared` keeps production's channel name: its plan and apply stop before any write.
    let p = e.run(&["plan", "--detailed-exitcode", "--env", "shared"]);
    assert_eq!(code(&p), 1, "{}", text(&p));
    let t = text(&p);
    assert!(
        t.contains(
            "channel `Test_Channel` (and its retry policy and rules) is owned by spec `cxone-test` \
             (no --env); this is spec `cxone-test` --env shared"
        ),
        "{t}"
    );
    assert!(t.contains("pass --adopt"), "{t}");
    assert_eq!(code(&e.run(&["plan", "--env", "shared"])), 2);
    let a = e.run(&["apply", "--auto-approve", "--env", "shared"]);
    assert_eq!(code(&a), 2, "{}", text(&a));
    assert_eq!(
        e.writes().len(),
        writes,
        "a refused apply wrote: {:?}",
        e.writes()
    );

    // --adopt takes it on purpose, shown as its own change.
    let p = e.run(&["plan", "--detailed-exitcode", "--env", "shared", "--adopt"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let t = text(&p);
    assert!(t.contains("! adopt channel Test_Channel"), "{t}");
    assert!(
        t.contains("owner: spec `cxone-test` (no --env) → spec `cxone-test` --env shared"),
        "{t}"
    );
    assert!(t.contains("1 to adopt"), "{t}");
    let a = e.run(&["apply", "--auto-approve", "--env", "shared", "--adopt"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("1 adopted"), "{}", text(&a));
    // Now production is the foreigner.
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 1, "{}", text(&p));
    assert!(
        text(&p).contains("is owned by spec `cxone-test` --env shared"),
        "{}",
        text(&p)
    );
}

#[test]
fn a_rule_routing_to_another_channel_is_not_rerouted() {
    let e = env();
    // Another team's channel and a rule of theirs under the id our spec uses.
    let other = json!({"name": "Their_Channel", "type": "REST", "destinationUri": "https://o.example.com",
        "timeoutMilliseconds": 5, "authentication": {"type": "NONE"},
        "headers": {"X-Cxsync-Owner": "spec=their-team"}});
    let r = e.hub.hub.handle(
        "POST",
        "/_mock/api/v2/eventhub/channels",
        "",
        None,
        other.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201);
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/RULE_ENDED",
        json!({"name": "theirs", "eventType": "interaction.ended",
               "actions": [{"type": "ROUTE", "channelId": "Their_Channel"}]}),
    );
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 1, "{}", text(&p));
    assert!(
        text(&p).contains(
            "rule `RULE_ENDED` routes to channel `Their_Channel`, owned by spec `their-team` \
             (no --env), not to this spec's channel `Test_Channel`; applying would re-route it"
        ),
        "{}",
        text(&p)
    );
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 2);
    assert!(e.writes().is_empty(), "{:?}", e.writes());
    assert_eq!(
        e.get("/api/v2/eventhub/rules/RULE_ENDED")["actions"][0]["channelId"],
        "Their_Channel"
    );
}

#[test]
fn a_live_rule_disabled_in_the_spec_plans_its_removal() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    e.edit_spec("    stage: 2\n", "    stage: 2\n    enabled: false\n");
    // A rule someone added by hand, routing to our channel, is another case: "not in the spec".
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/HAND_MADE",
        json!({"name": "x", "eventType": "x", "actions": [{"type": "ROUTE", "channelId": CHANNEL}]}),
    );

    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let t = text(&p);
    assert!(t.contains("- remove rule RULE_ENDED"), "{t}");
    assert!(t.contains("(disabled in the spec"), "{t}");
    // Without --prune it is left live, and said so (issue 15: it was invisible).
    assert!(!t.contains("remove rule HAND_MADE"), "without --prune: {t}");
    assert!(t.contains("  = rule HAND_MADE (\"x\", \"x\")"), "{t}");
    let p = e.run(&["plan", "--prune"]);
    let t = text(&p);
    assert!(t.contains("- remove rule HAND_MADE"), "{t}");
    assert!(
        t.contains("(routes to the channel but is not in the spec; --prune)"),
        "{t}"
    );

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("1 removed"), "{}", text(&a));
    assert!(e.get("/api/v2/eventhub/rules/RULE_ENDED")["message"].is_string());
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn a_renamed_rule_is_created_and_its_old_id_shown_as_a_twin_until_pruned() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    e.edit_spec("id: RULE_ENDED", "id: rule.ended-v2");
    // A rule another tool made on our channel, with a name no terminal should interpret.
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/zap-1",
        json!({"name": "\u{1b}[2J\"x\"", "eventType": "interaction.started",
               "actions": [{"type": "ROUTE", "channelId": CHANNEL}]}),
    );

    let p = e.run(&["plan"]);
    assert_eq!(code(&p), 1, "changes pending: {}", text(&p));
    let t = text(&p);
    assert!(t.contains("+ create rule rule.ended-v2 (stage 2)"), "{t}");
    assert!(
        t.contains("Left live: 2 rule(s) route to channel Test_Channel but are not in the spec"),
        "{t}"
    );
    assert!(
        t.contains("  = rule RULE_ENDED (\"Interaction_Ended\""),
        "{t}"
    );
    assert!(
        t.contains("same event type and conditions as rule rule.ended-v2: each event they match is sent to the channel twice"),
        "{t}"
    );
    assert!(t.contains(r#"  = rule zap-1 ("\u001b[2J\"x\"""#), "{t}");
    assert!(
        !t.contains('\u{1b}'),
        "a control character reached the terminal: {t}"
    );

    let j = e.run(&["plan", "--json"]);
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_valid(&v);
    assert_eq!(v["unmanaged"][0]["id"], "RULE_ENDED");
    assert_eq!(v["unmanaged"][0]["sameEventsAs"], "rule.ended-v2");
    assert_eq!(v["unmanaged"][1]["id"], "zap-1");
    assert!(v["unmanaged"][1].get("sameEventsAs").is_none(), "{v:#}");

    // Applying without --prune creates the new id and keeps the old; the plan keeps saying so.
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "{}", text(&p));
    assert!(text(&p).contains("= rule RULE_ENDED"), "{}", text(&p));
    let a = e.run(&["apply", "--auto-approve", "--prune"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("2 removed"), "{}", text(&a));
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "{}", text(&p));
    assert!(!text(&p).contains("Left live"), "{}", text(&p));
}

fn plan_schema() -> jsonschema::Validator {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/plan.v1.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&s).unwrap()
}

/// Fails unless `v` is valid under `schemas/plan.v1.json`.
pub(super) fn assert_valid(v: &Value) {
    let errors: Vec<String> = plan_schema()
        .iter_errors(v)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
}

#[test]
fn plan_json_after_a_drift_of_max_retries_carries_numbers_and_validates() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let path = format!("/api/v2/eventhub/channels/{CHANNEL}/retry-policy");
    let mut rp = e.get(&path);
    rp["maxRetries"] = json!(1);
    e.put_behind_the_back(&path, rp);

    let p = e.run(&["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let v: Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_valid(&v);
    assert_eq!(v["detailedExitCode"], 2);
    let rc = v["resourceChanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "retry-policy")
        .unwrap();
    assert_eq!(rc["action"], "update");
    assert_eq!(
        rc["fields"],
        json!([{"path": "maxRetries", "before": 1, "after": 5}])
    );
    assert_eq!(rc["before"]["maxRetries"], json!(1));
    assert_eq!(rc["after"]["maxRetries"], json!(5));
    assert_eq!(
        v["calls"],
        json!([{"method": "PUT", "path": path, "kind": "retry-policy", "name": CHANNEL}])
    );
    // The secret is a marker, on both sides, and never its value.
    let ch = &v["resourceChanges"][0];
    assert_eq!(ch["action"], "unchanged");
    assert_eq!(
        ch["after"]["authentication"]["clientSecret"],
        json!({"sensitive": true})
    );

    // A refused plan is a document too: not applicable, exit 1.
    let p = e.run(&["plan", "--json", "--detailed-exitcode", "--env", "shared"]);
    assert_eq!(code(&p), 1);
    let v: Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_valid(&v);
    assert_eq!(v["applicable"], false);
    assert_eq!(v["conflicts"][0]["kind"], "channel");
}

#[test]
fn the_plan_json_schema_is_generated_from_the_types() {
    let o = cxsync().args(["schema", "plan"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let checked_in = std::fs::read_to_string(root().join("schemas/plan.v1.json")).unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout) == checked_in,
        "schemas/plan.v1.json drifted from the Rust types; regenerate with \
         `cargo run -- schema plan > schemas/plan.v1.json`"
    );
}
