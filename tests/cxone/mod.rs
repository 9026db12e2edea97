//! `plan`, `apply`, `metrics` and `mock-hub` against an in-process mock Event Hub (stateful) and
//! wiremock (for answers the mock hub does not give, such as a 403 on entitlements).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cxsync::cxone::mock_hub::{self, Config, Fault, Handle};
use serde_json::{json, Value};

use crate::common::cxsync;

mod faults;
mod import;
mod ownership;
mod secrets;

pub(super) const CHANNEL: &str = "Test_Channel";

/// A spec with two rules in two rollout stages, inline transforms and a client secret read from
/// the environment.
pub(super) fn write_spec(dir: &Path) -> PathBuf {
    let text = format!(
        r#"version: 1
name: cxone-test
channel:
  name: {CHANNEL}
  destinationUri: https://crm.example.com/v1/interactions
  auth:
    type: oauth2_client_credentials
    tokenEndpoint: https://auth.example.com/oauth2/token
    clientId: eventhub-client
    clientSecret: ${{env:CRM_CLIENT_SECRET}}
    scopes: [crm:write]
    tokenCacheTtlSeconds: 3000
    retryOnTokenExpiry: true
  headers:
    Content-Type: application/json
  timeoutMilliseconds: 3000
idempotency:
  key: ${{interaction.id}}_${{event.type}}
retry:
  maxRetries: 5
  initialDelaySeconds: 2
  maxDelaySeconds: 60
  backoffMultiplier: 2.0
  retryableStatusCodes: [429, 500, 502, 503, 504]
  nonRetryableStatusCodes: [400, 401, 403, 404, 422]
deadLetterQueue:
  enabled: true
  bucketName: dlq-test
rules:
  - id: RULE_STARTED
    name: Interaction_Started
    eventType: interaction.started
    transform: '{{"caseNumber": $string(interaction.id)}}'
    stage: 1
  - id: RULE_ENDED
    name: Interaction_Ended
    eventType: interaction.ended
    conditions:
      interaction.channel.type: [voice, email]
    transform: '{{"caseNumber": $string(interaction.id), "closed": true}}'
    stage: 2
rollout:
  - stage: 1
    name: non-critical
  - stage: 2
    name: high-value
alerts:
  dlqVolume: 10
  errorRate: 0.05
environments:
  staging:
    channel:
      name: Test_Channel_Staging
      destinationUri: https://crm.staging.example.com/v1/interactions
  shared:
    channel:
      destinationUri: https://crm.shared.example.com/v1/interactions
"#
    );
    let p = dir.join("spec.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

pub(super) const ACCESS_SECRET: &str = "AK-secret-0123456789-abcdef";
pub(super) const CLIENT_SECRET: &str = "crm-client-secret-value-4242";

pub(super) struct Env {
    pub(super) hub: Handle,
    pub(super) dir: tempfile::TempDir,
    pub(super) spec: PathBuf,
}

pub(super) fn env_with(config: Config) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let hub = mock_hub::spawn(
        Config {
            access_key_id: "test-key".into(),
            access_key_secret: ACCESS_SECRET.into(),
            ..config
        },
        0,
    )
    .unwrap();
    Env { hub, dir, spec }
}

pub(super) fn env() -> Env {
    env_with(Config::default())
}

pub(super) fn cmd_at(url: &str) -> Command {
    let mut c = cxsync();
    for k in [
        "CXSYNC_AUTH_URL",
        "CXSYNC_ISSUER",
        "CXSYNC_TOKEN",
        "CXSYNC_ACCESS_KEY_ID",
        "CXSYNC_ACCESS_KEY_SECRET",
    ] {
        c.env_remove(k);
    }
    c.env("CXSYNC_HUB_URL", url)
        .env("CXSYNC_ACCESS_KEY_ID", "test-key")
        .env("CXSYNC_ACCESS_KEY_SECRET", ACCESS_SECRET)
        .env("CRM_CLIENT_SECRET", CLIENT_SECRET);
    c
}

impl Env {
    pub(super) fn run(&self, args: &[&str]) -> Output {
        let spec = self.spec.to_str().unwrap();
        let mut full: Vec<&str> = vec![args[0], spec];
        full.extend(&args[1..]);
        let out = cmd_at(&self.hub.url()).args(&full).output().unwrap();
        assert_no_secret(&out);
        out
    }

    /// Replaces `from` with `to` in the spec file (which must contain it).
    pub(super) fn edit_spec(&self, from: &str, to: &str) {
        crate::common::edit_file(&self.spec, from, to);
    }

    /// Changes an object behind cxsync's back through the mock's unauthenticated admin path.
    pub(super) fn put_behind_the_back(&self, path: &str, body: Value) {
        let r = self.hub.hub.handle(
            "PUT",
            &format!("/_mock{path}"),
            "",
            None,
            body.to_string().as_bytes(),
        );
        assert!(r.status < 300, "{r:?}");
    }

    pub(super) fn get(&self, path: &str) -> Value {
        self.hub
            .hub
            .handle("GET", &format!("/_mock{path}"), "", None, b"")
            .body
    }

    pub(super) fn writes(&self) -> Vec<String> {
        self.hub
            .hub
            .requests()
            .into_iter()
            .filter(|r| {
                !r.starts_with("GET") && !r.contains("/authentication/") && !r.contains("/_mock")
            })
            .collect()
    }
}

pub(super) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(super) fn assert_no_secret(o: &Output) {
    let t = text(o);
    for s in [ACCESS_SECRET, CLIENT_SECRET] {
        assert!(!t.contains(s), "secret `{s}` printed:\n{t}");
    }
}

pub(super) fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn plan_shows_changes_apply_creates_and_a_second_apply_is_a_no_op() {
    let e = env();
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let t = text(&p);
    assert!(t.contains("+ create channel Test_Channel"), "{t}");
    assert!(
        t.contains("authentication.clientSecret: (sensitive)"),
        "{t}"
    );
    assert!(
        t.contains("Plan: 4 to create, 0 to update, 0 to remove."),
        "{t}"
    );

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("Apply complete: 4 created, 0 updated, 0 removed."));
    assert_eq!(
        e.get("/api/v2/eventhub/rules/RULE_ENDED")["eventType"],
        "interaction.ended"
    );

    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "{}", text(&p));
    assert!(text(&p).contains("No changes."));
    // The hub returns the client secret masked: "No changes" says it was not compared (#89).
    assert!(
        text(&p).contains("so those were not compared; after rotating one, `--rotate-secrets`"),
        "{}",
        text(&p)
    );

    let writes = e.writes().len();
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(e.writes().len(), writes, "a converged apply must not write");
}

/// `cxsync apply … | head`: a stdout closed before the first line is written neither stops an
/// approved apply (it used to end at once with exit 0 and nothing applied) nor hides its outcome,
/// which goes to stderr instead.
#[test]
fn an_apply_whose_stdout_is_closed_applies_everything_and_says_so_on_stderr() {
    let e = env();
    let mut apply = cmd_at(&e.hub.url());
    apply.args(["apply", e.spec.to_str().unwrap(), "--auto-approve"]);
    let o = crate::common::output_into_closed_pipe(apply);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("Apply complete: 4 created, 0 updated, 0 removed."),
        "{err}"
    );
    assert!(!err.contains(CLIENT_SECRET), "{err}");
    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "{}", text(&p));
}

#[test]
fn plan_exits_1_with_changes_pending_0_without_and_2_on_error() {
    // Issue 15 changed this on purpose: `plan` exited 0 with changes; the project's exit codes
    // make pending changes 1 (terraform's --detailed-exitcode keeps its own 0/2/1).
    let e = env();
    let p = e.run(&["plan"]);
    assert_eq!(code(&p), 1, "{}", text(&p));
    let j = e.run(&["plan", "--json"]);
    assert_eq!(code(&j), 1, "{}", text(&j));
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        (v["exitCode"].as_i64(), v["detailedExitCode"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    assert_eq!(code(&e.run(&["plan"])), 0);
    let out = cmd_at("http://127.0.0.1:9")
        .args(["plan", e.spec.to_str().unwrap(), "--retries", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = cmd_at("http://127.0.0.1:9")
        .args([
            "plan",
            e.spec.to_str().unwrap(),
            "--retries",
            "0",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
}

#[test]
fn a_500_mid_apply_stops_saying_what_was_applied_and_a_rerun_converges() {
    let e = env();
    e.hub.hub.add_fault(
        "PUT /api/v2/eventhub/channels/*/retry-policy:500:2"
            .parse::<Fault>()
            .unwrap(),
    );
    let a = e.run(&["apply", "--auto-approve", "--retries", "1"]);
    assert_eq!(code(&a), 2, "{}", text(&a));
    let t = text(&a);
    assert!(t.contains("Applied: channel Test_Channel."), "{t}");
    assert!(
        t.contains("Not applied: retry-policy Test_Channel, rule RULE_STARTED, rule RULE_ENDED."),
        "{t}"
    );

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    let t = text(&a);
    assert!(
        t.contains("Apply complete: 3 created, 0 updated, 0 removed."),
        "{t}"
    );
    let channels = e.get("/api/v2/eventhub/channels");
    assert_eq!(
        channels["channels"].as_array().unwrap().len(),
        1,
        "no twin channel"
    );
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn transient_server_errors_are_retried_within_one_run() {
    let e = env();
    e.hub
        .hub
        .add_fault("PUT /api/v2/eventhub/rules/*:503:1".parse().unwrap());
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("4 created"));
}

#[test]
fn a_4xx_stops_the_apply_with_the_servers_message() {
    let e = env();
    e.hub.hub.add_fault(
        "PUT /api/v2/eventhub/rules/RULE_ENDED:422:1"
            .parse()
            .unwrap(),
    );
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 2);
    let t = text(&a);
    assert!(
        t.contains("failed rule RULE_ENDED: PUT /api/v2/eventhub/rules/RULE_ENDED → 422"),
        "{t}"
    );
    assert!(t.contains("injected fault: 422"), "{t}");
    assert!(t.contains("Not applied: rule RULE_ENDED."), "{t}");
}

#[test]
fn drift_made_behind_cxsyncs_back_is_found_and_apply_repairs_it() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let mut ch = e.get(&format!("/api/v2/eventhub/channels/{CHANNEL}"));
    ch["batchSize"] = json!(25);
    ch["headers"]["X-Debug"] = json!("on");
    e.put_behind_the_back(&format!("/api/v2/eventhub/channels/{CHANNEL}"), ch);

    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let t = text(&p);
    assert!(t.contains("~ update channel Test_Channel"), "{t}");
    assert!(t.contains("~ batchSize: 25 → 1"), "{t}");
    assert!(t.contains(r#"- headers["X-Debug"]: "on""#), "{t}");
    assert!(
        t.contains("Plan: 0 to create, 1 to update, 0 to remove."),
        "{t}"
    );
    // The masked secret the hub returns is not a change.
    assert!(!t.contains("clientSecret"), "{t}");

    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn plan_json_is_machine_readable() {
    // Issue 15 changed the document on purpose: a versioned shape with typed values
    // (`resourceChanges[].action`, `before`/`after`) replaced `actions[].op` and string values.
    let e = env();
    let p = e.run(&["plan", "--json"]);
    let v: Value = serde_json::from_slice(&p.stdout).unwrap();
    assert_eq!(v["formatVersion"], 1);
    assert_eq!(v["hasChanges"], true);
    let ops: Vec<(&str, &str)> = v["resourceChanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("create", "channel"),
            ("create", "retry-policy"),
            ("create", "rule"),
            ("create", "rule")
        ]
    );
}

#[test]
fn an_expired_token_mid_apply_is_refreshed_once() {
    let e = env();
    // A 401 from the mock revokes every token, as an expired token would.
    e.hub
        .hub
        .add_fault("PUT /api/v2/eventhub/rules/*:401:1".parse().unwrap());
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(e.hub.hub.tokens_issued(), 2);
    assert!(
        text(&a).contains("/rules/RULE_STARTED → 201 (after 401, new token)"),
        "{}",
        text(&a)
    );
}

#[test]
fn wrong_credentials_are_explained_without_printing_them() {
    let e = env();
    let out = cmd_at(&e.hub.url())
        .env("CXSYNC_ACCESS_KEY_SECRET", "wrong-secret-value-xyz")
        .args(["plan", e.spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let t = text(&out);
    assert!(
        t.contains("check CXSYNC_ACCESS_KEY_ID and CXSYNC_ACCESS_KEY_SECRET"),
        "{t}"
    );
    assert!(!t.contains("wrong-secret-value-xyz"), "{t}");
}

#[test]
fn missing_credentials_are_a_clear_error() {
    let e = env();
    let out = cmd_at(&e.hub.url())
        .env_remove("CXSYNC_ACCESS_KEY_ID")
        .env_remove("CXSYNC_ACCESS_KEY_SECRET")
        .args(["plan", e.spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains("no CXone credentials"),
        "{}",
        text(&out)
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let e = env();
    let out = cmd_at("http://eventhub.example.com")
        .args(["plan", e.spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("use https://"), "{}", text(&out));
}

#[test]
fn the_hub_is_discovered_through_the_issuer() {
    let e = env();
    let out = cmd_at("")
        .env_remove("CXSYNC_HUB_URL")
        .args([
            "plan",
            e.spec.to_str().unwrap(),
            "--detailed-exitcode",
            "--issuer",
            &e.hub.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("+ create channel Test_Channel"));
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses_and_writes_nothing() {
    let e = env();
    let a = e.run(&["apply"]);
    assert_eq!(code(&a), 2);
    assert!(text(&a).contains("pass --auto-approve"), "{}", text(&a));
    assert!(e.writes().is_empty(), "{:?}", e.writes());
}

#[test]
fn stage_limits_the_rules_applied_and_later_stages_follow() {
    let e = env();
    let a = e.run(&["apply", "--auto-approve", "--stage", "1"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    let t = text(&a);
    assert!(t.contains("defer rule RULE_ENDED (stage 2)"), "{t}");
    assert!(t.contains("3 created"), "{t}");
    assert!(e.get("/api/v2/eventhub/rules/RULE_ENDED")["message"].is_string());

    let p = e.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&p), 2);
    assert!(text(&p).contains("+ create rule RULE_ENDED (stage 2)"));
    assert_eq!(
        code(&e.run(&["apply", "--auto-approve", "--stage", "2"])),
        0
    );
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn prune_removes_only_rules_routed_to_the_channel_that_the_spec_lacks() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let rule = |ch: &str| json!({"name": "old", "eventType": "x", "actions": [{"type": "ROUTE", "channelId": ch}]});
    e.put_behind_the_back("/api/v2/eventhub/rules/OLD_RULE", rule(CHANNEL));
    let other = json!({"name": "Other", "type": "REST", "destinationUri": "https://o", "timeoutMilliseconds": 5, "authentication": {"type": "NONE"}});
    assert_eq!(
        e.hub
            .hub
            .handle(
                "POST",
                "/_mock/api/v2/eventhub/channels",
                "",
                None,
                other.to_string().as_bytes()
            )
            .status,
        201
    );
    e.put_behind_the_back("/api/v2/eventhub/rules/FOREIGN", rule("Other"));

    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
    let p = e.run(&["plan", "--detailed-exitcode", "--prune"]);
    assert_eq!(code(&p), 2);
    let t = text(&p);
    assert!(t.contains("- remove rule OLD_RULE"), "{t}");
    assert!(!t.contains("FOREIGN"), "{t}");
    assert_eq!(code(&e.run(&["apply", "--auto-approve", "--prune"])), 0);
    assert!(e.get("/api/v2/eventhub/rules/OLD_RULE")["message"].is_string());
    assert_eq!(e.get("/api/v2/eventhub/rules/FOREIGN")["name"], "old");
}

#[test]
fn the_behavioural_plan_shows_payload_and_match_changes() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    // Someone narrows the live rule and changes its mapping.
    let mut r = e.get("/api/v2/eventhub/rules/RULE_ENDED");
    r["conditions"]["interaction.channel.type"] = json!(["voice"]);
    r["actions"][0]["jsonataExpression"] =
        json!(r#"{"caseNumber": interaction.id, "closed": true}"#);
    e.put_behind_the_back("/api/v2/eventhub/rules/RULE_ENDED", r);
    // Fixtures live beside the spec; on this branch the behavioural plan reads rule.fixtures.
    let dir = e.spec.parent().unwrap();
    let ev = |ch: &str| json!({"event": {"type": "interaction.ended"}, "interaction": {"id": 42, "channel": {"type": ch}}});
    std::fs::write(dir.join("voice.json"), ev("voice").to_string()).unwrap();
    std::fs::write(dir.join("email.json"), ev("email").to_string()).unwrap();
    e.edit_spec("    stage: 2\n", "    stage: 2\n    fixtures: ['*.json']\n");

    let p = e.run(&["plan", "--behaviour", "--now", "2024-01-15T14:00:00Z"]);
    assert_eq!(code(&p), 1, "changes pending: {}", text(&p));
    let t = text(&p);
    assert!(
        t.contains("RULE_ENDED / email: not matched → matched"),
        "{t}"
    );
    assert!(t.contains("RULE_ENDED / voice: payload changes"), "{t}");
    assert!(t.contains(r#"~ caseNumber: 42 → "42""#), "{t}");

    let p = e.run(&[
        "plan",
        "--json",
        "--behaviour",
        "--now",
        "2024-01-15T14:00:00Z",
    ]);
    let v: Value = serde_json::from_slice(&p.stdout).unwrap();
    ownership::assert_valid(&v);
    let b = v["behaviour"].as_array().unwrap();
    assert_eq!(b.len(), 2, "{v:#}");
    assert_eq!(b[0]["proposed"]["result"], "payload");
}

#[test]
fn metrics_within_thresholds_exit_0_with_a_table() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    let m = e.run(&["metrics", "--interval", "PT15M"]);
    let t = text(&m);
    assert_eq!(code(&m), 0, "{t}");
    assert!(t.contains("interval PT15M · 12 data points"), "{t}");
    assert!(
        t.contains("2024-01-15T00:00:00Z … 2024-01-15T02:45:00Z"),
        "{t}"
    );
    assert!(t.contains("dlqVolume"), "{t}");
    assert!(t.chars().any(|c| ('▁'..='█').contains(&c)), "{t}");
    let bad = e.run(&["metrics", "--interval", "1h"]);
    assert_eq!(code(&bad), 2);
    // One check, before any call, with what is accepted: P100Y is ISO 8601 but has no fixed
    // length; PT0S and past a year are out of range (the hub used to answer PT0S with a 400).
    for (interval, says) in [
        ("P100Y", "years and months have no fixed length"),
        ("PT0S", "an interval must be longer than zero"),
        ("P400D", "longer than the longest interval, P366D"),
        ("1h", "is not an ISO 8601 duration (e.g. PT1H"),
    ] {
        let bad = e.run(&["metrics", "--interval", interval]);
        assert_eq!(code(&bad), 2, "{interval}");
        let t = String::from_utf8_lossy(&bad.stderr);
        assert!(
            t.contains(&format!("--interval `{interval}`")) && t.contains(says),
            "{interval}: {t}"
        );
    }
}

// ---- wiremock: answers the mock hub does not give ----

fn wiremock_server(rt: &tokio::runtime::Runtime) -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    rt.block_on(async {
        let s = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/authentication/v1/token/access-key"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "tok-abc", "expires_in": 3600})),
            )
            .named("access-key token")
            .mount(&s)
            .await;
        s
    })
}

#[test]
fn a_403_on_entitlements_names_the_permission_from_the_guide() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = wiremock_server(&rt);
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/api/v2/licensing/entitlements"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "forbidden"})))
            .expect(1)
            .named("entitlements forbidden")
            .mount(&s),
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let out = cmd_at(&s.uri())
        .args(["apply", spec.to_str().unwrap(), "--auto-approve"])
        .output()
        .unwrap();
    assert_no_secret(&out);
    assert_eq!(code(&out), 2);
    let t = text(&out);
    assert!(
        t.contains("GET /api/v2/licensing/entitlements → 403"),
        "{t}"
    );
    assert!(t.contains("Administration > System Settings > Edit"), "{t}");
}

#[test]
fn a_missing_event_hub_entitlement_stops_apply_before_any_write() {
    let e = env_with(Config {
        entitled: false,
        ..Config::default()
    });
    let a = e.run(&["apply", "--auto-approve"]);
    assert_eq!(code(&a), 2);
    assert!(
        text(&a).contains("no Event Hub entitlement"),
        "{}",
        text(&a)
    );
    assert!(e.writes().is_empty());
}

#[test]
fn a_throttled_read_is_retried_after_retry_after() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = wiremock_server(&rt);
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/api/v2/eventhub/channels"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .expect(1)
            .named("first list throttled")
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v2/eventhub/channels"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1)
            .named("second list answered")
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex("^/api/v2/eventhub/rules/"))
            .respond_with(ResponseTemplate::new(404))
            .named("no rules")
            .mount(&s)
            .await;
    });
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let out = cmd_at(&s.uri())
        .args(["plan", spec.to_str().unwrap(), "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    rt.block_on(s.verify());
}

#[test]
fn a_breached_alert_threshold_exits_1() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = wiremock_server(&rt);
    rt.block_on(
        Mock::given(method("GET"))
            .and(path(format!("/api/v2/eventhub/channels/{CHANNEL}/metrics")))
            .and(query_param("interval", "PT1H"))
            .and(query_param("metrics", "throughput,latency,errorRate,dlqVolume,tokenRefreshCount"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "channelId": CHANNEL, "interval": "PT1H", "dataPoints": [
                    {"timestamp": "2024-01-15T13:00:00Z", "throughput": 4000, "latencyP95": 900, "errorRate": 0.01, "dlqVolume": 3, "tokenRefreshCount": 2},
                    {"timestamp": "2024-01-15T14:00:00Z", "throughput": 4520, "latencyP95": 1200, "errorRate": 0.023, "dlqVolume": 12, "tokenRefreshCount": 3}
                ]})))
            .expect(1)
            .mount(&s),
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let out = cmd_at(&s.uri())
        .args(["metrics", spec.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    assert!(
        t.contains("BREACH > 10 in 1 interval (first 2024-01-15T14:00:00Z)"),
        "{t}"
    );
    assert!(t.contains("ok (≤ 5.00%)"), "{t}");
}

/// Runs `cxsync mock-hub --port 0 EXTRA…` and `cxsync ARGS… <spec>` against it (as `demo`),
/// then stops the mock hub.
pub(super) fn against_mock_hub_command(extra: &[&str], args: &[&str]) -> Output {
    use std::io::{BufRead, BufReader};
    let mut child = cxsync()
        .args(["mock-hub", "--port", "0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let out = cmd_at(&url)
        .env("CXSYNC_ACCESS_KEY_ID", "demo")
        .env("CXSYNC_ACCESS_KEY_SECRET", "demo")
        .args(args)
        .arg(spec.to_str().unwrap())
        .output();
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    out.unwrap()
}

#[test]
fn the_mock_hub_command_serves_until_stopped() {
    let out = against_mock_hub_command(&[], &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

#[test]
fn a_rotated_secret_is_resent_only_when_asked() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    // The hub masks secrets: a rotation cannot be seen, so a plain plan shows no change …
    assert_eq!(code(&e.run(&["plan", "--detailed-exitcode"])), 0);
    // … and --rotate-secrets re-sends them.
    let p = e.run(&["plan", "--detailed-exitcode", "--rotate-secrets"]);
    assert_eq!(code(&p), 2);
    assert!(
        text(&p).contains("~ authentication.clientSecret: (sensitive) → (sensitive, re-sent)"),
        "{}",
        text(&p)
    );
    let a = e.run(&["apply", "--auto-approve", "--rotate-secrets"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert!(text(&a).contains("1 updated"));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // A closed pipe leaves the exit code what it would be (README "Exit codes"): `plan` with
    // changes pending exits 1 either way, never a panic's 101.
    let e = env();
    let mut normal = cmd_at(&e.hub.url());
    normal.args(["plan", e.spec.to_str().unwrap()]);
    let expected = normal.output().unwrap().status.code();
    assert_eq!(expected, Some(1));
    let mut plan = cmd_at(&e.hub.url());
    plan.args(["plan", e.spec.to_str().unwrap()]);
    let out = crate::common::output_into_closed_pipe(plan);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), expected, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Tester #116: a hub that does not answer is not a silence: before each retry `plan` says on
/// stderr what it waits for, which attempt failed and when it will give up.
#[test]
fn an_unreachable_hub_is_waited_for_out_loud() {
    let e = env();
    let out = cmd_at("http://127.0.0.1:9")
        .args(["plan", e.spec.to_str().unwrap(), "--retries", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(notes.len(), 2, "{err}");
    assert!(
        notes[0].contains("cannot connect (attempt 1 of 3)"),
        "{err}"
    );
    assert!(
        notes[0].contains("giving up after 2 more attempt(s)"),
        "{err}"
    );
    assert!(
        notes[1].contains("(attempt 2 of 3)") && notes[1].contains("giving up after 1 more"),
        "{err}"
    );
    assert!(notes[0].contains("http://127.0.0.1:9/"), "{err}");
}

/// #235/#236: the transforms `validate` refuses, one per class of the transform checks, as the
/// `RULE_ENDED` transform of the test spec: `(code, transform as written in the YAML)`.
const REFUSED_TRANSFORMS: [(&str, &str); 4] = [
    (
        "E500",
        r#"'{"caseNumber": $string(interaction.id) "closed": true}'"#,
    ),
    (
        "E501",
        r#"'{"caseNumber": $if(interaction.id) "x" $else "y" $end}'"#,
    ),
    ("E505", r#"'{"caseNumber": $uppercas(interaction.id)}'"#),
    (
        "E506",
        r#"'{"caseNumber": $contains(interaction.id, /^(?!1)/)}'"#,
    ),
];

/// The test spec with `RULE_ENDED`'s transform replaced by `transform`, against a fresh mock hub,
/// and `validate`'s first diagnostic of it: its heading (`error[E500]: …`) and its `-->` line.
fn env_with_refused_transform(code: &str, transform: &str) -> (Env, String, String) {
    let e = env();
    e.edit_spec(
        r#"'{"caseNumber": $string(interaction.id), "closed": true}'"#,
        transform,
    );
    let v = e.run(&["validate"]);
    let out = String::from_utf8_lossy(&v.stdout).to_string();
    assert_eq!(
        code_of(&v),
        1,
        "{code}: validate must refuse it:\n{}",
        text(&v)
    );
    let heading = out
        .lines()
        .find(|l| l.starts_with(&format!("error[{code}]")))
        .unwrap_or_else(|| panic!("{code}: validate printed no {code}:\n{out}"))
        .to_string();
    let at = out
        .lines()
        .skip_while(|l| *l != heading)
        .find(|l| l.trim_start().starts_with("--> "))
        .unwrap_or_else(|| panic!("{code}: no position:\n{out}"))
        .to_string();
    assert!(at.contains("spec.yaml:"), "{code}: {at}");
    (e, heading, at)
}

fn code_of(o: &Output) -> i32 {
    code(o)
}

/// Runs `check` for every class of [`REFUSED_TRANSFORMS`] and fails naming each class it failed
/// for (not only the first).
fn for_each_refused_transform(check: impl Fn(&str, &str) + std::panic::RefUnwindSafe) {
    let failed: Vec<String> = REFUSED_TRANSFORMS
        .iter()
        .filter_map(|(class, transform)| {
            std::panic::catch_unwind(|| check(class, transform))
                .err()
                .map(|e| {
                    let why = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("{class}: {why}")
                })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "failed for {} class(es):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn compile_refuses_every_transform_validate_refuses_and_writes_nothing() {
    for_each_refused_transform(|class, transform| {
        let (e, heading, at) = env_with_refused_transform(class, transform);
        let out_dir = e.dir.path().join("out");
        let c = e.run(&["compile", "--out", out_dir.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&c.stderr);
        assert_eq!(code(&c), 1, "{class}: compile must exit 1:\n{}", text(&c));
        assert!(
            err.contains(&heading) && err.contains(&at),
            "{class}: compile must print validate's `{heading}` {at}:\n{err}"
        );
        assert!(
            !out_dir.exists(),
            "{class}: compile wrote {}",
            out_dir.display()
        );
        // Printing the payloads is refused alike.
        let p = e.run(&["compile"]);
        assert_eq!(code(&p), 1, "{class}: {}", text(&p));
        assert!(p.stdout.is_empty(), "{class}: {}", text(&p));
    });
}

#[test]
fn plan_refuses_every_transform_validate_refuses_before_it_calls_the_hub() {
    for_each_refused_transform(|class, transform| {
        let (e, heading, at) = env_with_refused_transform(class, transform);
        let p = e.run(&["plan"]);
        let err = String::from_utf8_lossy(&p.stderr);
        assert_eq!(code(&p), 2, "{class}: plan must exit 2:\n{}", text(&p));
        assert!(
            err.contains(&heading) && err.contains(&at),
            "{class}: plan must print validate's `{heading}` {at}:\n{err}"
        );
        // terraform's convention: 1 is the error.
        let d = e.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&d), 1, "{class}: {}", text(&d));
        assert_eq!(e.hub.hub.requests(), Vec::<String>::new(), "{class}");
    });
}

#[test]
fn apply_refuses_every_transform_validate_refuses_and_sends_nothing() {
    for_each_refused_transform(|class, transform| {
        let (e, heading, at) = env_with_refused_transform(class, transform);
        let a = e.run(&["apply", "--auto-approve"]);
        let err = String::from_utf8_lossy(&a.stderr);
        assert_eq!(code(&a), 2, "{class}: apply must exit 2:\n{}", text(&a));
        assert!(
            err.contains(&heading) && err.contains(&at),
            "{class}: apply must print validate's `{heading}` {at}:\n{err}"
        );
        assert!(
            !text(&a).contains("Apply complete"),
            "{class}: {}",
            text(&a)
        );
        assert_eq!(e.hub.hub.requests(), Vec::<String>::new(), "{class}: sent");
        assert_eq!(
            e.get("/api/v2/eventhub/rules/RULE_ENDED")["eventType"],
            Value::Null,
            "{class}: the broken rule is live"
        );
    });
}

/// Differential: every transform error `validate` reports, `lint` reports at the same
/// `file:line:col` (under CX024 for the dialect, CX025 for the rest), so a CI that runs only lint
/// fails on a spec compile and apply refuse.
#[test]
fn lint_reports_every_transform_error_validate_reports_at_its_place() {
    for_each_refused_transform(|class, transform| {
        let (e, _, at) = env_with_refused_transform(class, transform);
        let l = e.run(&["lint"]);
        let out = String::from_utf8_lossy(&l.stdout).to_string();
        assert_eq!(code(&l), 1, "{class}: {}", text(&l));
        let lines: Vec<&str> = out.lines().collect();
        let found = lines.windows(2).any(|w| {
            (w[0].starts_with("error[CX024]") || w[0].starts_with("error[CX025]")) && w[1] == at
        });
        assert!(found, "{class}: lint has no CX024/CX025 error {at}:\n{out}");
    });
}
