//! Differential tests: lint's rules that reason about what a run would do against the real
//! simulator on the same spec. Each row of a table is one spec; lint's finding and the
//! simulator's verdict must agree on every row.

use std::path::Path;

use crate::common::cxsync;

fn text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, files: &[(&str, String)]) {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

/// An event fixture: string ids, ISO times with offsets and fractions.
fn event(id: &str, ty: &str, interaction: &str, extra: &str) -> String {
    format!(
        r#"{{"event": {{"id": "{id}", "type": "{ty}", "occurredAt": "2026-11-30T09:15:02.125+05:30"}},
  "interaction": {{"id": "{interaction}", "startedAt": "2026-11-30T09:15:02.125+05:30", "channel": {{"type": "webchat"}}, "queue": {{"name": "Billing"}}}}{extra}}}"#
    )
}

/// The fixture sets of the key table, by name.
fn key_fixtures(dir: &Path) {
    let g = |n: u32| format!("0c9d7e4a-1b2c-4d3e-8f90-a1b2c3d4e{n:03}");
    write(
        dir,
        &[
            // started and ended of one interaction, and another interaction's end
            (
                "one/started.json",
                event("EV-000101", "interaction.started", "CHAT-7F3A-000981", ""),
            ),
            (
                "one/ended.json",
                event("EV-000102", "interaction.ended", "CHAT-7F3A-000981", ""),
            ),
            (
                "one/ended2.json",
                event("EV-000103", "interaction.ended", "CHAT-7F3A-000982", ""),
            ),
            // ended events of two interactions only
            (
                "ends/a.json",
                event("EV-000201", "interaction.ended", "CHAT-7F3A-000991", ""),
            ),
            (
                "ends/b.json",
                event("EV-000202", "interaction.ended", "CHAT-7F3A-000992", ""),
            ),
            // two updates of one interaction (a transfer), then its end
            (
                "upd/u1.json",
                event("EV-000301", "interaction.updated", "CHAT-7F3A-000993", ""),
            ),
            (
                "upd/u2.json",
                event("EV-000302", "interaction.updated", "CHAT-7F3A-000993", ""),
            ),
            (
                "upd/end.json",
                event("EV-000303", "interaction.ended", "CHAT-7F3A-000993", ""),
            ),
            // events without `event.id`: a GUID of their own, and the conversation's id
            (
                "guid/a.json",
                format!(
                    r#"{{"event": {{"uuid": "{}", "type": "interaction.ended", "occurredAt": "2026-11-30T08:05:00.5Z"}}, "conversation": {{"conversationId": "CONV-0001"}}, "queue": {{"name": "Billing"}}}}"#,
                    g(1)
                ),
            ),
            (
                "guid/b.json",
                format!(
                    r#"{{"event": {{"uuid": "{}", "type": "interaction.ended", "occurredAt": "2026-11-30T08:06:00.5Z"}}, "conversation": {{"conversationId": "CONV-0002"}}, "queue": {{"name": "Billing"}}}}"#,
                    g(2)
                ),
            ),
        ],
    );
}

fn key_spec(key: &str, fixtures: &str) -> String {
    let rule = |id: &str, ty: &str| {
        format!(
            "  - id: {id}\n    name: {id}\n    eventType: {ty}\n    transform: '{{\"type\": event.type, \"at\": event.occurredAt}}'\n    fixtures: [{fixtures}/*.json]\n"
        )
    };
    format!(
        r#"version: 1
name: keys
channel: {{ name: C, destinationUri: "https://org.crm.example.org/api/data/v9.2/activities", auth: {{ type: none }}, timeoutMilliseconds: 3000 }}
idempotency: {{ header: X-Idempotency-Key, key: "{key}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2.0, respectRetryAfterHeader: true, retryableStatusCodes: [429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: b, alertEndpoint: "https://mon.example.org/hook" }}
crm: {{ profile: generic, idempotency: {{ by: header }} }}
rules:
{}{}{}"#,
        rule("START", "interaction.started"),
        rule("END", "interaction.ended"),
        rule("UPDATE", "interaction.updated"),
    )
}

/// CX016 fires exactly when the simulator finds two events sharing an idempotency key (#157):
/// lint renders the key for the run's own events (`sim::engine::preview`), not a model of its own.
#[test]
fn key_uniqueness_lint_and_sim_agree_on_every_template() {
    let dir = tempfile::tempdir().unwrap();
    key_fixtures(dir.path());
    // (key, fixture set, whether two events share a key)
    let cases = [
        // started and ended of one interaction render one key
        ("${interaction.id}", "one", true),
        // one event per interaction through the channel: the key is unique (#157)
        ("${interaction.id}", "ends", false),
        ("${interaction.id}_${event.type}", "one", false),
        // two updates of one interaction: only the event id tells them apart
        ("${interaction.id}_${event.type}", "upd", true),
        ("${event.id}", "upd", false),
        ("dyn-${event.id}-${event.type}", "one", false),
        // a GUID of the event's own, without `event.id` (#157)
        ("${event.uuid}", "guid", false),
        ("${conversation.conversationId}", "guid", false),
        // nothing that identifies an event
        ("evt-${event.type}", "ends", true),
        ("${interaction.queue.name}_${event.type}", "one", true),
        ("${queue.name}", "guid", true),
    ];
    for (key, fixtures, shared) in cases {
        std::fs::write(dir.path().join("s.yaml"), key_spec(key, fixtures)).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX016", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--events", "60"])
            .output()
            .unwrap();
        let sim = text(&sim);
        assert!(sim.contains("unique-idempotency-keys"), "{key}: {sim}");
        assert_eq!(
            sim.contains("FAIL unique-idempotency-keys"),
            shared,
            "sim on {key} ({fixtures}): {sim}"
        );
        assert_eq!(
            lint.contains("[CX016]"),
            shared,
            "lint on {key} ({fixtures}): {lint}"
        );
    }
}

/// The set-back table's spec: `rules` under a CRM that deduplicates by `crm`.
fn set_back_spec(crm: &str, rules: &str) -> String {
    format!(
        r#"version: 1
name: set-back
channel: {{ name: Tickets, destinationUri: "https://acme.helpdesk.example.com/api/v2/tickets", auth: {{ type: none }}, timeoutMilliseconds: 2500 }}
idempotency: {{ header: Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 6, initialDelaySeconds: 1, maxDelaySeconds: 30, backoffMultiplier: 2, jitter: full, respectRetryAfterHeader: true, retryableStatusCodes: [429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: t-dlq, alertEndpoint: "https://mon.example.org/hook" }}
crm: {crm}
rules:
{rules}"#
    )
}

fn set_back_rule(id: &str, ty: &str, record: &str, fixtures: &str) -> String {
    set_back_rule_of(
        id,
        ty,
        &format!(r#"{{"external_id": {record}, "status": event.type, "at": event.occurredAt}}"#),
        fixtures,
    )
}

fn set_back_rule_of(id: &str, ty: &str, transform: &str, fixtures: &str) -> String {
    format!(
        "  - id: {id}\n    name: {id}\n    eventType: {ty}\n    transform: '{transform}'\n    fixtures: [{fixtures}]\n"
    )
}

/// CX037 fires exactly when the simulator reports records set back by an older event (#154):
/// rules of successive event types (or one rule's events) that upsert one record of one subject,
/// under a scenario whose outage makes retries land out of order.
#[test]
fn set_back_lint_and_sim_agree() {
    let dir = tempfile::tempdir().unwrap();
    let ticket = |n: u32, ty: &str, status: &str| {
        format!(
            r#"{{"event": {{"id": "fd-{n:04}", "type": "{ty}", "occurredAt": "2026-11-30T09:00:{n:02}.9-08:00"}}, "ticket": {{"id": "TCK-004711", "status": "{status}"}}}}"#
        )
    };
    write(
        dir.path(),
        &[
            (
                "fx/started.json",
                event("EV-000101", "interaction.started", "CHAT-7F3A-000981", ""),
            ),
            (
                "fx/ended.json",
                event("EV-000102", "interaction.ended", "CHAT-7F3A-000981", ""),
            ),
            (
                "fx/other_ended.json",
                event("EV-000103", "interaction.ended", "CHAT-7F3A-000982", ""),
            ),
            ("fx/t1.json", ticket(1, "ticket.updated", "open")),
            ("fx/t2.json", ticket(2, "ticket.updated", "pending")),
            (
                "flaky.yaml",
                "version: 1\nname: flaky\nduration: 10m\nevents: { count: 400 }\nfaults:\n  - maintenance: { from: 1m, to: 3m }\n".to_string(),
            ),
        ],
    );
    let upsert = "{ profile: generic, idempotency: { by: upsert, field: external_id } }";
    let two = |record: &str, ended: &str| {
        set_back_rule("OPEN", "interaction.started", record, "fx/started.json")
            + &set_back_rule("CLOSE", "interaction.ended", record, ended)
    };
    // Two rules writing fields of their own of one record (and the key, and a field both set to
    // one value): a merging upsert loses nothing (#221); with a field both set differently, it does.
    let fields = |open: &str, close: &str| {
        set_back_rule_of(
            "OPEN",
            "interaction.started",
            &format!(
                r#"{{"external_id": interaction.id, "source": "cxone", "opened": {{"at": event.occurredAt}}{open}}}"#
            ),
            "fx/started.json",
        ) + &set_back_rule_of(
            "CLOSE",
            "interaction.ended",
            &format!(
                r#"{{"external_id": interaction.id, "source": "cxone", "closed": {{"at": event.occurredAt, "tags": ["done"]}}{close}}}"#
            ),
            "fx/ended.json",
        )
    };
    // (what, crm, rules, whether a record can be set back)
    let cases = [
        (
            "started and ended of one interaction, one record",
            upsert,
            two("interaction.id", "fx/ended.json"),
            true,
        ),
        (
            "a record per event type",
            upsert,
            two(r#"interaction.id & "-" & event.type"#, "fx/ended.json"),
            false,
        ),
        (
            "a record per event",
            upsert,
            two("event.id", "fx/ended.json"),
            false,
        ),
        (
            "the fixtures are of two interactions",
            upsert,
            two("interaction.id", "fx/other_ended.json"),
            false,
        ),
        (
            "a CRM that deduplicates by header keeps every event's write",
            "{ profile: generic, idempotency: { by: header } }",
            two("interaction.id", "fx/ended.json"),
            false,
        ),
        (
            "two rules writing disjoint fields of one record",
            upsert,
            fields("", ""),
            false,
        ),
        (
            "two rules writing disjoint fields and one shared field `status`",
            upsert,
            fields(r#", "status": "open""#, r#", "status": "closed""#),
            true,
        ),
        (
            "a shared field both set to one value",
            upsert,
            fields(r#", "status": "seen""#, r#", "status": "seen""#),
            false,
        ),
        (
            "a HubSpot batch upsert of disjoint properties",
            "{ profile: hubspot, idempotency: { by: upsert, field: /inputs/0/id } }",
            set_back_rule_of(
                "OPEN",
                "interaction.started",
                r#"{"inputs": [{"id": interaction.id, "idProperty": "cx_id", "properties": {"opened_at": event.occurredAt}}]}"#,
                "fx/started.json",
            ) + &set_back_rule_of(
                "CLOSE",
                "interaction.ended",
                r#"{"inputs": [{"id": interaction.id, "idProperty": "cx_id", "properties": {"closed_at": event.occurredAt}}]}"#,
                "fx/ended.json",
            ),
            false,
        ),
        (
            "one rule, two updates of one ticket",
            upsert,
            set_back_rule(
                "TICKET",
                "ticket.updated",
                "ticket.id",
                "fx/t1.json, fx/t2.json",
            ),
            true,
        ),
    ];
    for (what, crm, rules, set_back) in cases {
        std::fs::write(dir.path().join("s.yaml"), set_back_spec(crm, &rules)).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX037", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let _ = std::fs::remove_file(dir.path().join("r.json"));
        let sim = cxsync()
            .current_dir(dir.path())
            .args([
                "sim",
                "s.yaml",
                "--scenario",
                "flaky.yaml",
                "--report",
                "r.json",
            ])
            .output()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap())
                .unwrap_or_else(|e| {
                    panic!(
                        "{what}: {e}: {}{}",
                        text(&sim),
                        String::from_utf8_lossy(&sim.stderr)
                    )
                });
        let n = report["setBackByOlderEvents"].as_u64().unwrap();
        assert_eq!(
            n > 0,
            set_back,
            "sim on {what}: {n} set back: {}",
            text(&sim)
        );
        assert_eq!(lint.contains("[CX037]"), set_back, "lint on {what}: {lint}");
    }
}

/// A body larger than the CRM takes is found alike by lint (CX035), `test` and `sim`, all with
/// the one limit `crm::max_body_bytes` (the spec's `crm.maxBodyBytes`, else the profile's), and a
/// payload above `crm.maxPayloadBytes` alike by all three as the machine's guard (#185).
#[test]
fn a_body_above_the_crms_limit_is_refused_by_lint_test_and_sim_alike() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Ünïcödé ✉ ".repeat(300);
    write(
        dir.path(),
        &[
            (
                "fx/small.json",
                event("HK-0001", "interaction.ended", "INT-Z-0001", ""),
            ),
            (
                "fx/big.json",
                event(
                    "HK-0002",
                    "interaction.ended",
                    "INT-Z-0002",
                    &format!(r#", "mail": {{"body": "{body}"}}"#),
                ),
            ),
        ],
    );
    // The big fixture's payload as the machine writes it (compact JSON): the limits below sit
    // one byte either side of it.
    let payload = serde_json::json!({"id": "INT-Z-0002", "body": body})
        .to_string()
        .len();
    let batch = ", batchSize: 5, batchIntervalSeconds: 1";
    // (crm block, channel extra, whether the big fixture is refused)
    let cases = [
        (
            "{ profile: generic, maxBodyBytes: 2048 }".to_string(),
            "",
            true,
        ),
        (
            format!("{{ profile: generic, maxBodyBytes: {} }}", payload - 1),
            "",
            true,
        ),
        (
            format!("{{ profile: generic, maxBodyBytes: {payload} }}"),
            "",
            false,
        ),
        // the profile's own limit (1 MiB) holds the 5 KB body
        ("{ profile: generic }".to_string(), "", false),
        // the machine's guard stops it before it is sent
        (
            format!("{{ profile: generic, maxPayloadBytes: {} }}", payload - 1),
            "",
            true,
        ),
        (
            format!("{{ profile: generic, maxPayloadBytes: {payload} }}"),
            "",
            false,
        ),
        // a batch of one is the payload in brackets: two bytes more than the payload
        (
            format!(
                "{{ profile: generic, acceptsArrays: true, maxBodyBytes: {} }}",
                payload + 1
            ),
            batch,
            true,
        ),
        (
            "{ profile: generic, acceptsArrays: true, maxBodyBytes: 60000 }".to_string(),
            batch,
            false,
        ),
    ];
    for (crm, batch, refused) in cases {
        let spec = format!(
            r#"version: 1
name: mail
channel: {{ name: Mail, destinationUri: "https://hooks.crm.example.net/inbound/mail", auth: {{ type: none }}, timeoutMilliseconds: 2000{batch} }}
idempotency: {{ header: X-Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2, respectRetryAfterHeader: true, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: mail-dlq, alertEndpoint: "https://mon.example.net/hook" }}
crm: {crm}
rules:
  - id: MAIL
    name: forward mails
    eventType: interaction.ended
    transform: '{{"id": interaction.id, "body": mail.body}}'
    fixtures: [fx/*.json]
"#
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let run = |args: &[&str]| {
            cxsync()
                .current_dir(dir.path())
                .args(args)
                .output()
                .unwrap()
        };
        let lint = text(&run(&[
            "lint", "s.yaml", "--select", "CX035", "--format", "concise",
        ]));
        let test = run(&["test", "s.yaml", "--update"]);
        let sim = text(&run(&["sim", "s.yaml", "--events", "40"]));
        let sim_refused =
            sim.contains("NON_RETRYABLE_STATUS (413)") || sim.contains("PAYLOAD_TOO_LARGE");
        assert_eq!(sim_refused, refused, "sim with {crm}{batch}: {sim}");
        assert_eq!(
            lint.contains("[CX035]"),
            refused,
            "lint with {crm}{batch}: {lint}"
        );
        assert_eq!(
            test.status.code(),
            Some(if refused { 1 } else { 0 }),
            "test with {crm}{batch}: {}",
            text(&test)
        );
    }
}

/// #197: CX005's severity is what the simulator's run of the same spec shows. A token cache that
/// outlives the token makes the CRM answer 401; with `retryOnTokenExpiry` the machine fetches a
/// new token and resends (401s, no dead letter: a warning), without it each 401 is an
/// `AUTH_FAILED` dead letter (an error); a cache inside the lifetime sees no 401 and no finding.
/// String ids and ISO times, a profile's lifetime and a written one.
#[test]
fn token_cache_severity_is_what_sim_loses_to_the_401s() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "ev.json",
                event("EV-7781", "interaction.ended", "CALL-00F3-7781", ""),
            ),
            (
                "hours.yaml",
                "version: 1\nname: hours\nduration: 3h\nevents: { count: 300 }\n".to_string(),
            ),
        ],
    );
    // (tokenCacheTtlSeconds, crm block, retryOnTokenExpiry)
    let cases: &[(u64, &str, bool)] = &[
        (
            5400,
            "{ profile: generic, tokenLifetimeSeconds: 3600 }",
            true,
        ),
        (
            5400,
            "{ profile: generic, tokenLifetimeSeconds: 3600 }",
            false,
        ),
        (
            3300,
            "{ profile: generic, tokenLifetimeSeconds: 3600 }",
            true,
        ),
        (
            3300,
            "{ profile: generic, tokenLifetimeSeconds: 3600 }",
            false,
        ),
        (
            2400,
            "{ profile: generic, tokenLifetimeSeconds: 1800 }",
            true,
        ),
        (
            2400,
            "{ profile: generic, tokenLifetimeSeconds: 1800 }",
            false,
        ),
        (9000, "{ profile: dynamics }", true),
        (9000, "{ profile: dynamics }", false),
    ];
    for &(ttl, crm, retry) in cases {
        let spec = format!(
            r#"version: 1
name: tok
channel:
  name: Tok
  destinationUri: https://crm.example.org/api/calls
  auth: {{ type: oauth2_client_credentials, tokenEndpoint: "https://login.example.org/token", clientId: c, clientSecret: "${{VAULT_SECRET:S}}", tokenCacheTtlSeconds: {ttl}, retryOnTokenExpiry: {retry} }}
  timeoutMilliseconds: 2000
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 8, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 401] }}
deadLetterQueue: {{ enabled: true, bucketName: tok-dlq }}
crm: {crm}
rules:
  - {{ id: R, name: r, eventType: interaction.ended, transform: '{{"id": interaction.id}}', fixtures: [ev.json] }}
"#
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX005", "--format", "json"])
            .output()
            .unwrap();
        let found: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
        let severity = found
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == "CX005")
            .map(|d| d["severity"].as_str().unwrap().to_string());
        let report = dir.path().join("r.json");
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--scenario", "hours.yaml", "--report"])
            .arg(&report)
            .output()
            .unwrap();
        let rep: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let unauthorized = rep["crm"]["statuses"]["401"].as_u64().unwrap_or(0);
        let auth_failed = rep["deadLetteredByReason"]["AUTH_FAILED"]
            .as_u64()
            .unwrap_or(0);
        let sim_says = match (unauthorized, auth_failed) {
            (0, _) => None,
            (_, 0) => Some("warning"),
            _ => Some("error"),
        };
        assert_eq!(
            severity.as_deref(),
            sim_says,
            "ttl {ttl}, {crm}, retry {retry}: lint {}, sim 401s {unauthorized}, AUTH_FAILED {auth_failed}\n{}",
            text(&lint),
            text(&sim)
        );
        if sim_says.is_some() {
            assert!(
                unauthorized > 0 && (retry || auth_failed > 0),
                "{}",
                text(&sim)
            );
        }
    }
}
