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
        let _ = std::fs::remove_file(&report);
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

/// #185: a full batch whose body is above the CRM's limit, though each payload alone fits, is
/// what lint's CX041 flags and what `sim` dead-letters with a 413, with the limit one byte
/// either side of the full batch's body as the delivery machine writes it; both name the
/// largest batchSize that fits, and the size guard (maxPayloadBytes) applies to each payload.
#[test]
fn a_full_batch_above_the_crms_limit_is_flagged_by_lint_as_sim_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let note = "Rückruf erbeten ✉ ".repeat(40);
    write(
        dir.path(),
        &[(
            "fx/long.json",
            event(
                "HK-1001",
                "interaction.ended",
                "INT-B-1001",
                &format!(r#", "mail": {{"body": "{note}"}}"#),
            ),
        )],
    );
    let payload = serde_json::json!({"id": "INT-B-1001", "body": note})
        .to_string()
        .len();
    let batch = 4usize;
    let full = cxsync::delivery::machine::batch_body_len(std::iter::repeat_n(payload, batch));
    // (crm block, refused, the batchSize named)
    let cases = [
        (format!("maxBodyBytes: {}", full - 1), true, Some(3)),
        (format!("maxBodyBytes: {full}"), false, None),
        // a batch of two fits, a batch of three does not
        (
            format!(
                "maxBodyBytes: {}",
                cxsync::delivery::machine::batch_body_len([payload; 3]) - 1
            ),
            true,
            Some(2),
        ),
        // the guard stops every payload before a batch is made: nothing reaches the CRM
        (
            format!(
                "maxBodyBytes: {}, maxPayloadBytes: {}",
                full - 1,
                payload - 1
            ),
            false,
            None,
        ),
    ];
    for (crm, refused, named) in cases {
        let spec = format!(
            r#"version: 1
name: mail
channel: {{ name: Mail, destinationUri: "https://hooks.crm.example.net/inbound/mail", auth: {{ type: none }}, timeoutMilliseconds: 2000, batchSize: {batch}, batchIntervalSeconds: 300 }}
idempotency: {{ header: X-Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2, respectRetryAfterHeader: true, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: mail-dlq }}
crm: {{ profile: generic, acceptsArrays: true, {crm} }}
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
            "lint", "s.yaml", "--select", "CX041", "--format", "concise",
        ]));
        let sim = text(&run(&["sim", "s.yaml", "--events", "40"]));
        assert_eq!(
            sim.contains("NON_RETRYABLE_STATUS (413)"),
            refused,
            "sim with {crm}: {sim}"
        );
        assert_eq!(lint.contains("[CX041]"), refused, "lint with {crm}: {lint}");
        if let Some(n) = named {
            let fix = format!("batchSize to {n} or less");
            assert!(sim.contains(&fix), "sim with {crm}: {sim}");
            assert!(
                lint.contains(&format!("set `batchSize` to {n} or less")),
                "{lint}"
            );
        }
    }
}

/// #207: a channel `Content-Type` that is not JSON in front of the JSON body the hub sends.
/// Lint's CX039 fires exactly when the simulator's CRM answers 415, and then `sim` fails with a
/// line naming the cause; over a table of header values (case, parameters, `+json` types,
/// look-alikes, the name in any case, none at all).
#[test]
fn lint_fires_on_a_content_type_exactly_when_sims_crm_answers_415() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "ev.json",
            event("EV-4410", "interaction.ended", "MAIL-99A0-4410", ""),
        )],
    );
    // (the channel's `headers:` block, whether the CRM refuses it)
    let cases: &[(&str, bool)] = &[
        ("{ Content-Type: application/json }", false),
        ("{ content-type: 'APPLICATION/JSON; Charset=UTF-8' }", false),
        ("{ Content-Type: application/vnd.api+json }", false),
        (
            "{ Content-Type: 'application/merge-patch+json; charset=utf-8' }",
            false,
        ),
        ("{ X-Request-Source: CXone-EventHub }", false),
        ("{ Content-Type: text/plain }", true),
        ("{ Content-Type: 'text/plain; charset=utf-8' }", true),
        ("{ Content-Type: application/x-www-form-urlencoded }", true),
        ("{ Content-Type: application/xml }", true),
        ("{ CONTENT-TYPE: text/json }", true),
        ("{ Content-Type: application/jsonx }", true),
        ("{ Content-Type: application/+json }", true),
        ("{ Content-Type: 'application/json, text/plain' }", true),
        ("{ Content-Type: 'multipart/form-data; boundary=x' }", true),
    ];
    for &(headers, refused) in cases {
        let spec = format!(
            r#"version: 1
name: media
channel:
  name: Media
  destinationUri: https://crm.example.org/api/v3/activities
  auth: {{ type: none }}
  headers: {headers}
  timeoutMilliseconds: 2000
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: media-dlq }}
crm: {{ profile: hubspot }}
rules:
  - {{ id: ACT, name: act, eventType: interaction.ended, transform: '{{"properties": {{"ref": interaction.id}}}}', fixtures: [ev.json] }}
"#
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX039", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let report = dir.path().join("r.json");
        let _ = std::fs::remove_file(&report);
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--events", "40", "--report"])
            .arg(&report)
            .output()
            .unwrap();
        let rep: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let refusals = rep["crm"]["statuses"]["415"].as_u64().unwrap_or(0);
        let sim_text = text(&sim);
        assert_eq!(refusals > 0, refused, "sim on {headers}: {sim_text}");
        assert_eq!(
            lint.contains("[CX039]"),
            refused,
            "lint on {headers}: {lint}"
        );
        if refused {
            assert_eq!(sim.status.code(), Some(1), "{headers}: {sim_text}");
            assert!(
                sim_text.contains("FAIL NON_RETRYABLE_STATUS (415)")
                    && sim_text.contains("(lint: CX039)"),
                "{headers}: {sim_text}"
            );
            assert!(!sim_text.contains("PASS"), "{headers}: {sim_text}");
        }
        // The HTTP mock is the same model: the header goes on the wire and is answered alike.
        if headers.contains("text/plain }") {
            let _ = std::fs::remove_file(&report);
            let http = cxsync()
                .current_dir(dir.path())
                .args(["sim", "s.yaml", "--events", "40", "--http", "--report"])
                .arg(&report)
                .output()
                .unwrap();
            let rep: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            assert_eq!(
                rep["crm"]["statuses"]["415"].as_u64(),
                Some(refusals),
                "{}",
                text(&http)
            );
            assert_eq!(http.status.code(), Some(1), "{}", text(&http));
        }
    }
}

/// #208: lint's CX040 fires exactly when `cxsync test` fails on a fixture with a transform error
/// and `sim` dead-letters events as `TRANSFORM_FAILED`: the same compiled transform, matcher and
/// fixtures. String ids, ISO times; errors of every kind (a cast, a signature, a type, `$error`,
/// a recursion limit), errors on one fixture only, and an error on a fixture the rule's
/// conditions leave out (no event of that kind reaches the transform).
#[test]
fn lint_fires_on_a_failing_transform_exactly_when_test_and_sim_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let voice = event("EV-5501", "interaction.ended", "CALL-5501-X", "")
        .replace("\"webchat\"", "\"voice\"");
    write(
        dir.path(),
        &[
            (
                "fx/chat.json",
                event("EV-5500", "interaction.ended", "CHAT-7F3A-000981", ""),
            ),
            ("fx/voice.json", voice),
            ("cxsync.toml", String::new()),
        ],
    );
    // (transform, the rule's channel types, whether it fails on a selected fixture)
    let cases: &[(&str, &str, bool)] = &[
        (r#"{"id": interaction.id}"#, "[voice, webchat]", false),
        (
            r#"{"n": $number(interaction.id)}"#,
            "[voice, webchat]",
            true,
        ),
        (r#"{"n": $number("12")}"#, "[voice, webchat]", false),
        (
            r#"{"n": $number(interaction.absent)}"#,
            "[voice, webchat]",
            false,
        ),
        (
            r#"{"s": $substring(interaction.id, "a")}"#,
            "[voice, webchat]",
            true,
        ),
        (r#"{"s": interaction.id + 1}"#, "[voice, webchat]", true),
        (
            r#"$error("no mapping for this event")"#,
            "[voice, webchat]",
            true,
        ),
        (
            r#"interaction.channel.type = "webchat" ? $error("chats are not synced") : {"id": interaction.id}"#,
            "[voice, webchat]",
            true,
        ),
        (
            r#"interaction.channel.type = "webchat" ? $error("chats are not synced") : {"id": interaction.id}"#,
            "[voice]",
            false,
        ),
        (
            r#"($f := function($x) { $f($x) + 1 }; {"n": $f(1)})"#,
            "[voice, webchat]",
            true,
        ),
        (
            r#"{"at": $toMillis(interaction.startedAt), "id": interaction.id}"#,
            "[voice, webchat]",
            false,
        ),
    ];
    for &(transform, channels, fails) in cases {
        let spec = format!(
            r#"version: 1
name: tf
channel:
  name: Tf
  destinationUri: https://crm.example.org/api/cases
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: tf-dlq }}
rules:
  - id: CASE
    name: case
    eventType: interaction.ended
    conditions: {{ interaction.channel.type: {channels} }}
    transform: '{}'
    fixtures: [fx/*.json]
"#,
            transform.replace('\'', "''")
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let _ = std::fs::remove_dir_all(dir.path().join("snapshots"));
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX040", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let test = cxsync()
            .current_dir(dir.path())
            .args(["test", "s.yaml"])
            .output()
            .unwrap();
        let test_text = format!("{}{}", text(&test), String::from_utf8_lossy(&test.stderr));
        let report = dir.path().join("r.json");
        let _ = std::fs::remove_file(&report);
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--events", "30", "--report"])
            .arg(&report)
            .output()
            .unwrap();
        let rep: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let failed = rep["deadLetteredByReason"]["TRANSFORM_FAILED"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(
            lint.contains("[CX040]"),
            fails,
            "lint on {transform}: {lint}"
        );
        assert_eq!(
            test_text.contains("transform failed"),
            fails,
            "test on {transform}: {test_text}"
        );
        assert_eq!(failed > 0, fails, "sim on {transform}: {}", text(&sim));
        if fails {
            assert_eq!(test.status.code(), Some(1), "{transform}: {test_text}");
            assert_eq!(sim.status.code(), Some(1), "{transform}: {}", text(&sim));
        }
    }
}

/// #225: a batch request carries its members' idempotency keys joined with `,` in one header
/// (`delivery::idempotency::batch_key`), and the simulated CRM answers 431 when that header's
/// value is over `spec::model::MAX_HEADER_VALUE` bytes. Lint's CX036 fires exactly when `sim`
/// answers 431 on a full batch, over key templates of several lengths (ULIDs, an ISO time, a long
/// reference), batch sizes one key either side of the limit (and a full batch exactly at it), a
/// string-id Zendesk CRM, and unbatched specs; the batchSize lint names is the largest `sim`
/// takes.
#[test]
fn lint_fires_on_a_full_batchs_key_exactly_when_sims_crm_answers_431() {
    let limit = cxsync::spec::model::MAX_HEADER_VALUE as usize;
    let dir = tempfile::tempdir().unwrap();
    let ulid = |ty: &str, n: u32| {
        format!(
            r#"{{"event": {{"id": "01JDX7Q4M8ZC3N5R2T6V9W{n:04}", "type": "{ty}", "occurredAt": "2026-11-30T09:15:02.125+05:30"}},
  "interaction": {{"id": "01JDX7Q4M8ZC3N5R2T6V9X{n:04}", "startedAt": "2026-11-30T09:10:02.125+05:30"}}}}"#
        )
    };
    let with_ref = |len: usize| {
        event(
            "EV-000101",
            "interaction.ended",
            "CHAT-7F3A-000981",
            &format!(r#", "ref": "{}""#, "r".repeat(len)),
        )
    };
    write(
        dir.path(),
        &[
            ("ulid/ev.json", ulid("interaction.ended", 1)),
            (
                "iso/ev.json",
                event("EV-000101", "interaction.ended", "CHAT-7F3A-000981", ""),
            ),
            ("ref230/ev.json", with_ref(230)),
            ("ref2720/ev.json", with_ref(2720)),
            ("ref2721/ev.json", with_ref(2721)),
            ("ref8182/ev.json", with_ref(8182)),
            ("ref8183/ev.json", with_ref(8183)),
        ],
    );
    let spec = |batch: u32, key: &str, fixtures: &str, crm: &str, header: &str| {
        format!(
            r#"version: 1
name: batchkeys
channel: {{ name: C, destinationUri: "https://org.crm.example.org/api/v2/activities", auth: {{ type: none }}, timeoutMilliseconds: 3000, batchSize: {batch}, batchIntervalSeconds: 300 }}
idempotency: {{ header: {header}, key: "{key}" }}
retry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2.0, respectRetryAfterHeader: true, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422, 431] }}
deadLetterQueue: {{ enabled: true, bucketName: b, alertEndpoint: "https://mon.example.org/hook" }}
crm: {{ {crm} }}
rules:
  - {{ id: END, name: end, eventType: interaction.ended, transform: '{{"id": interaction.id, "type": event.type}}', fixtures: [{fixtures}/*.json] }}
"#
        )
    };
    let generic = "profile: generic, acceptsArrays: true";
    let zendesk = "profile: zendesk, acceptsArrays: true";
    let ref_key = "${event.id}/${ref}";
    // (key template, fixtures, the key's length, batchSize, crm, header)
    let cases: &[(&str, &str, usize, u32, &str, &str)] = &[
        // 26 + 1 + 17 bytes: 182 × 44 + 181 = 8189 fits, 183 do not
        (
            "${interaction.id}_${event.type}",
            "ulid",
            44,
            182,
            generic,
            "X-Idempotency-Key",
        ),
        (
            "${interaction.id}_${event.type}",
            "ulid",
            44,
            183,
            generic,
            "X-Idempotency-Key",
        ),
        (
            "${interaction.id}_${event.type}",
            "ulid",
            44,
            200,
            generic,
            "X-Idempotency-Key",
        ),
        // an ISO time with its fraction and offset: 9 + 1 + 29 bytes
        (
            "${event.id}@${event.occurredAt}",
            "iso",
            39,
            204,
            generic,
            "X-Idempotency-Key",
        ),
        (
            "${event.id}@${event.occurredAt}",
            "iso",
            39,
            205,
            generic,
            "X-Idempotency-Key",
        ),
        // 240 bytes: 34 keys are one byte over the limit
        (ref_key, "ref230", 240, 33, generic, "X-Idempotency-Key"),
        (ref_key, "ref230", 240, 34, generic, "X-Idempotency-Key"),
        // 3 × 2730 + 2 is the limit exactly; a byte more is over
        (ref_key, "ref2720", 2730, 3, generic, "X-Idempotency-Key"),
        (ref_key, "ref2721", 2731, 3, generic, "X-Idempotency-Key"),
        // a string-id CRM deduplicating on its own header: 26 + 1 + 17 + 1 + 26 bytes
        (
            "${interaction.id}_${event.type}_${event.id}",
            "ulid",
            71,
            200,
            zendesk,
            "Idempotency-Key",
        ),
        (
            "${interaction.id}_${event.type}_${event.id}",
            "ulid",
            71,
            113,
            zendesk,
            "Idempotency-Key",
        ),
        // unbatched: one key at the limit, and one a byte over it
        (ref_key, "ref230", 240, 1, generic, "X-Idempotency-Key"),
        (ref_key, "ref8182", 8192, 1, generic, "X-Idempotency-Key"),
        (ref_key, "ref8183", 8193, 1, generic, "X-Idempotency-Key"),
    ];
    let run = |args: &[&str]| {
        cxsync()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // The CRM's 431s in a run long enough for three full batches.
    let sim_431 = |text: &str, batch: u32| {
        std::fs::write(dir.path().join("s.yaml"), text).unwrap();
        let report = dir.path().join("r.json");
        let _ = std::fs::remove_file(&report);
        let events = (3 * batch).max(40).to_string();
        let out = run(&["sim", "s.yaml", "--events", &events, "--report", "r.json"]);
        let rep: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&report)
                .unwrap_or_else(|_| panic!("no report: {}", text_of(&out))),
        )
        .unwrap();
        (
            rep["crm"]["statuses"]["431"].as_u64().unwrap_or(0),
            text_of(&out),
        )
    };
    fn text_of(o: &std::process::Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }
    for &(key, fixtures, len, batch, crm, header) in cases {
        // The arithmetic of the join, independent of both: n keys and n − 1 commas.
        let n = batch as usize;
        let over = n * len + (n - 1) > limit;
        let fits = (limit + 1) / (len + 1);
        let what = format!("key {key} over {fixtures} ({len} bytes), batchSize {batch}, {crm}");
        let body = spec(batch, key, fixtures, crm, header);
        std::fs::write(dir.path().join("s.yaml"), &body).unwrap();
        let lint = text(&run(&[
            "lint", "s.yaml", "--select", "CX036", "--format", "concise",
        ]));
        let (refusals, sim) = sim_431(&body, batch);
        assert_eq!(refusals > 0, over, "sim on {what}: {sim}");
        assert_eq!(lint.contains("[CX036]"), over, "lint on {what}: {lint}");
        if !over {
            continue;
        }
        assert!(
            sim.contains("NON_RETRYABLE_STATUS (431)") && sim.contains("(lint: CX036)"),
            "{what}: {sim}"
        );
        if batch == 1 {
            // One key alone is over: no batchSize helps, the finding is at the key.
            assert!(lint.contains(&format!("{len} bytes)")), "{what}: {lint}");
            assert!(!lint.contains("set batchSize"), "{what}: {lint}");
            continue;
        }
        let full = n * len + n - 1;
        assert!(
            lint.contains(&format!("header of {full} bytes"))
                && lint.contains(&format!("above the {limit} bytes"))
                && lint.contains(&format!("set batchSize to {fits} or less")),
            "{what}: {lint}"
        );
        // At `batchSize` (the spec's line 3).
        assert!(lint.starts_with("s.yaml:3:"), "{what}: {lint}");
        // The batchSize lint names is the largest the simulated CRM takes.
        for (b, refused) in [(fits as u32, false), (fits as u32 + 1, true)] {
            let body = spec(b, key, fixtures, crm, header);
            let (refusals, sim) = sim_431(&body, b);
            assert_eq!(
                refusals > 0,
                refused,
                "sim on {what} at batchSize {b}: {sim}"
            );
            std::fs::write(dir.path().join("s.yaml"), &body).unwrap();
            let lint = text_of(&run(&[
                "lint", "s.yaml", "--select", "CX036", "--format", "concise",
            ]));
            assert_eq!(
                lint.contains("[CX036]"),
                refused,
                "lint at batchSize {b}: {lint}"
            );
        }
    }
}

/// #249: `cxsync test` judges a transform's output as `sim`'s CRM model does: a list of records
/// (with `crm.acceptsArrays: true`) record by record against the payload schema, never the list
/// as a whole; a list the CRM does not take (no array support, or nested in a batch's array) is
/// its 400. Both commands ask one function (`spec::payload::records`, `crm::body::judge`), and
/// this holds them to one answer over lists, records and both channel shapes.
#[test]
fn test_and_sim_judge_a_list_of_records_alike() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "fx/a.json",
                event("LR-0001", "interaction.ended", "INT-L-0001", ""),
            ),
            (
                "record.schema.json",
                r#"{"type": "object", "required": ["id", "n"]}"#.to_string(),
            ),
        ],
    );
    let batch = ", batchSize: 5, batchIntervalSeconds: 1";
    // (transform, acceptsArrays, channel extra, whether the CRM refuses the payload)
    let cases = [
        (r#"[{"id": interaction.id, "n": 1}]"#, true, "", false),
        (
            r#"[{"id": interaction.id, "n": 1}, {"id": "x", "n": 2}]"#,
            true,
            "",
            false,
        ),
        (
            r#"[{"id": interaction.id, "n": 1}, {"id": "x"}]"#,
            true,
            "",
            true,
        ),
        (r#"[{"id": interaction.id, "n": 1}, "x"]"#, true, "", true),
        (r#"[{"id": interaction.id, "n": 1}]"#, false, "", true),
        (r#"{"id": interaction.id, "n": 1}"#, false, "", false),
        (r#"{"id": interaction.id}"#, true, "", true),
        (r#"[{"id": interaction.id, "n": 1}]"#, true, batch, true),
        (r#"{"id": interaction.id, "n": 1}"#, true, batch, false),
    ];
    for (transform, arrays, batch, refused) in cases {
        let spec = format!(
            r#"version: 1
name: list
channel: {{ name: List, destinationUri: "https://hooks.crm.example.net/inbound/list", auth: {{ type: none }}, timeoutMilliseconds: 2000{batch} }}
idempotency: {{ header: X-Idempotency-Key, key: "${{event.id}}" }}
retry: {{ maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2, respectRetryAfterHeader: true, retryableStatusCodes: [408, 429, 500, 502, 503, 504], nonRetryableStatusCodes: [400, 401, 403, 404, 409, 413, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: list-dlq, alertEndpoint: "https://mon.example.net/hook" }}
crm: {{ profile: generic, acceptsArrays: {arrays}, payloadSchema: record.schema.json }}
rules:
  - id: LIST
    name: records
    eventType: interaction.ended
    transform: '{transform}'
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
        let case = format!("{transform} with acceptsArrays {arrays}{batch}");
        let test = run(&["test", "s.yaml", "--update"]);
        let sim = text(&run(&["sim", "s.yaml", "--events", "40"]));
        let sim_refused = sim.contains("NON_RETRYABLE_STATUS (400)")
            || sim.contains("NON_RETRYABLE_STATUS (422)");
        assert_eq!(sim_refused, refused, "sim, {case}: {sim}");
        assert_eq!(
            test.status.code(),
            Some(if refused { 1 } else { 0 }),
            "test, {case}: {}",
            text(&test)
        );
    }
}

/// #241: CX036 names each fixture's own reason, as the delivery machine dead-letters each event
/// with its own (`delivery::idempotency::unsendable`, the DLQ record's `lastError`): fixtures
/// whose keys fail for different reasons (a non-ASCII letter, a CR, a trailing space) are not
/// reported with the first one's character, and fixtures that share one reason are grouped.
#[test]
fn cx036_names_each_fixtures_own_reason_as_sims_dead_letters_do() {
    let dir = tempfile::tempdir().unwrap();
    // (fixture, customer ref)
    let refs = [
        ("ok", "P-1"),
        ("hostile", "Renée Ø"),
        ("hostile2", "Renée Z"),
        ("nl", "P-1\r\nX-Admin: 1"),
        ("tail", "P-9 "),
        ("emoji", "P🐉"),
    ];
    for (i, (f, r)) in refs.iter().enumerate() {
        let body = serde_json::json!({
            "event": {"id": format!("ev-{i}"), "type": "interaction.ended",
                      "occurredAt": "2025-06-01T08:00:01Z"},
            "interaction": {"id": format!("i-{i}"), "customer": {"ref": r}},
        });
        write(dir.path(), &[(&format!("fx/{f}.json"), body.to_string())]);
    }
    std::fs::write(
        dir.path().join("once.yaml"),
        "version: 1\nname: once\nduration: 1m\nevents: { count: 0 }\n",
    )
    .unwrap();
    // (fixture globs)
    let cases: &[&[&str]] = &[
        &["hostile", "nl"],
        &["ok", "hostile", "hostile2"],
        &["hostile", "hostile2", "nl", "tail", "emoji"],
        &["nl"],
        &["ok"],
    ];
    for fixtures in cases {
        let list: Vec<String> = fixtures.iter().map(|f| format!("fx/{f}.json")).collect();
        let spec = format!(
            r#"version: 1
name: keys
channel: {{ name: C, destinationUri: "https://crm.example.org/api/activities", auth: {{ type: none }}, timeoutMilliseconds: 2000 }}
idempotency: {{ header: X-Idempotency-Key, key: "${{interaction.customer.ref}}" }}
retry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }}
deadLetterQueue: {{ enabled: true, bucketName: b }}
rules:
  - id: R
    name: r
    eventType: interaction.ended
    transform: '{{"ref": interaction.id}}'
    fixtures: [{}]
"#,
            list.join(", ")
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX036", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let dlq = dir.path().join("dlq");
        let _ = std::fs::remove_dir_all(&dlq);
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--scenario", "once.yaml", "--dlq-dir"])
            .arg(&dlq)
            .output()
            .unwrap();
        // The simulator's reason per fixture: (why, fixture), from each DLQ record.
        let mut whys: Vec<(String, String)> = Vec::new();
        for rec in walk(&dlq) {
            let rec: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&rec).unwrap()).unwrap();
            assert_eq!(rec["reason"], "IDEMPOTENCY_KEY_UNRESOLVED", "{rec}");
            let err = rec["lastError"].as_str().unwrap();
            let why = err
                .strip_prefix("the idempotency key ")
                .and_then(|w| w.split_once("; build the key"))
                .map(|(w, _)| w.to_string())
                .unwrap_or_else(|| panic!("{err}"));
            let id = rec["event"]["event"]["id"].as_str().unwrap();
            let i: usize = id.trim_start_matches("ev-").parse().unwrap();
            whys.push((why, refs[i].0.to_string()));
        }
        if whys.is_empty() {
            assert!(!lint.contains("[CX036]"), "{fixtures:?}: {lint}");
            continue;
        }
        // Grouped by reason, each group's fixtures sorted, groups by their fixtures.
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (why, f) in whys {
            match groups.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) => names.push(f),
                None => groups.push((why, vec![f])),
            }
        }
        for (_, names) in &mut groups {
            names.sort();
        }
        groups.sort_by(|a, b| a.1.cmp(&b.1));
        let n: usize = groups.iter().map(|(_, n)| n.len()).sum();
        let expected = if let [(why, names)] = groups.as_slice() {
            format!("({}) {why}: those events", names.join(", "))
        } else {
            let parts: Vec<String> = groups
                .iter()
                .map(|(why, names)| format!("for {} it {why}", names.join(", ")))
                .collect();
            format!("cannot be sent: {}: those events", parts.join("; "))
        };
        assert!(
            lint.contains(&format!("for {n} of {} fixture events", fixtures.len()))
                && lint.contains(&expected),
            "{fixtures:?}:\nlint: {lint}\nexpected: {expected}\nsim: {}",
            text(&sim)
        );
    }
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// #243: CX040 says what `cxsync test` and `sim` do with a failing transform, as they decide it
/// (`transform::limits::past_wall_clock_guard`): a deterministic error (D2015 sequence limit,
/// D3001, T2001, D1011 depth, `$error`) is dead-lettered as TRANSFORM_FAILED (sim exit 1); a
/// runaway loop stopped by the wall-clock guard (D1012) has no verdict: `test` and `sim` exit 2,
/// and lint says so instead of "dead-lettered".
#[test]
fn cx040_says_no_verdict_exactly_when_sim_stops_at_the_wall_clock_guard() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "fx/ok.json",
                event("EV-7701", "interaction.ended", "CHAT-7F3A-007701", ""),
            ),
            ("cxsync.toml", String::new()),
        ],
    );
    // (transform, the engine's code, whether it runs into the wall-clock guard)
    let cases: &[(&str, &str, bool)] = &[
        (
            r#"( $f := function($x) { $f($x + 1) }; { "n": $f(1) } )"#,
            "D1012",
            true,
        ),
        (r#"{ "xs": [1..10000000] }"#, "D2015", false),
        (r#"{ "s": "a" & $string(1/0) }"#, "D3001", false),
        (
            r#"($f := function($x) { $f($x) + 1 }; {"n": $f(1)})"#,
            "",
            false,
        ),
        (r#"$error("no mapping")"#, "D3137", false),
    ];
    for &(transform, code, guard) in cases {
        let spec = format!(
            r#"version: 1
name: tf
channel: {{ name: Tf, destinationUri: "https://crm.example.org/api/cases", auth: {{ type: none }}, timeoutMilliseconds: 2000 }}
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: tf-dlq }}
rules:
  - id: CASE
    name: case
    eventType: interaction.ended
    transform: '{}'
    fixtures: [fx/*.json]
"#,
            transform.replace('\'', "''")
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let _ = std::fs::remove_dir_all(dir.path().join("snapshots"));
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX040", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        assert!(lint.contains("[CX040]"), "{transform}: {lint}");
        assert!(lint.contains(code), "{transform}: {lint}");
        let test = cxsync()
            .current_dir(dir.path())
            .args(["test", "s.yaml"])
            .output()
            .unwrap();
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--events", "6"])
            .output()
            .unwrap();
        let sim_text = format!("{}{}", text(&sim), String::from_utf8_lossy(&sim.stderr));
        let stopped = sim.status.code() == Some(2) && sim_text.contains("wall-clock guard");
        assert_eq!(stopped, guard, "sim on {transform}: {sim_text}");
        assert_eq!(
            lint.contains("`sim` stops without a verdict"),
            stopped,
            "{transform}: {lint}"
        );
        assert_eq!(
            lint.contains("dead-letter each such event as TRANSFORM_FAILED"),
            !stopped,
            "{transform}: {lint}"
        );
        if stopped {
            assert_eq!(test.status.code(), Some(2), "test on {transform}");
            assert!(text(&test).contains("NO VERDICT"), "test on {transform}");
        } else {
            assert_eq!(sim.status.code(), Some(1), "sim on {transform}: {sim_text}");
            assert!(
                sim_text.contains("TRANSFORM_FAILED"),
                "{transform}: {sim_text}"
            );
            assert_eq!(test.status.code(), Some(1), "test on {transform}");
        }
    }
}

/// #245: CX042 flags a rule exactly when `sim` fails it with "was not simulated: no event of the
/// run matched it": both ask the one matcher (`transform::runner::matches`) over the run's own
/// events (`sim::engine::preview::matched_rules`), so a string `"1"` never matches the number
/// `1`, `2` matches `2.0`, a fixture listed by another rule (even a disabled one) is an event
/// of the run too, and a missing path or another event type selects nothing.
#[test]
fn lint_flags_a_rule_no_fixture_matches_exactly_when_sim_says_it_was_not_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |id: &str, ty: &str, extra: &str| {
        format!(
            r#"{{"event": {{"id": "{id}", "type": "{ty}", "occurredAt": "2025-06-01T08:00:01Z"}}, "interaction": {{"id": "I-{id}", "channel": {{"type": "voice"}}{extra}}}}}"#
        )
    };
    write(
        dir.path(),
        &[
            (
                "fx/a.json",
                ev("E-1", "interaction.ended", r#", "priority": "1""#),
            ),
            (
                "fx/b.json",
                ev("E-2", "interaction.ended", r#", "priority": 2"#),
            ),
            (
                "fx/c.json",
                ev("E-3", "interaction.started", r#", "priority": 1.0"#),
            ),
            (
                "fx/d.json",
                ev("E-4", "interaction.ended", r#", "flag": true"#),
            ),
            (
                "fx/e.json",
                ev(
                    "E-5",
                    "interaction.ended",
                    r#", "priority": null, "flag": "true""#,
                ),
            ),
            ("cxsync.toml", String::new()),
        ],
    );
    let rule = |id: &str, ty: &str, cond: &str, fixtures: &str, enabled: bool| {
        format!(
            "  - id: {id}\n    name: {id}\n    enabled: {enabled}\n    eventType: {ty}\n    conditions: {{ {cond} }}\n    transform: '{{\"id\": interaction.id}}'\n    fixtures: [{fixtures}]\n"
        )
    };
    const END: &str = "interaction.ended";
    // (rules: (id, event type, conditions, fixtures, enabled))
    type Rule = (&'static str, &'static str, &'static str, &'static str, bool);
    let cases: &[&[Rule]] = &[
        &[(
            "R",
            END,
            r#"interaction.priority: [1, "2"]"#,
            "fx/a.json",
            true,
        )],
        &[(
            "R",
            END,
            r#"interaction.priority: ["1"]"#,
            "fx/a.json",
            true,
        )],
        &[("R", END, "interaction.priority: [2.0]", "fx/b.json", true)],
        &[(
            "R",
            "interaction.started",
            "interaction.priority: [1]",
            "fx/c.json",
            true,
        )],
        &[("R", END, "interaction.priority: [1]", "fx/c.json", true)],
        &[(
            "R",
            END,
            r#"interaction.priority: ["1"]"#,
            "fx/d.json",
            true,
        )],
        &[("R", END, "interaction.priority: [null]", "fx/e.json", true)],
        &[("R", END, "interaction.flag: [true]", "fx/e.json", true)],
        &[(
            "R",
            END,
            r#"interaction.flag: [true, "true"]"#,
            "fx/e.json",
            true,
        )],
        &[
            ("R", END, "interaction.priority: [2]", "fx/a.json", true),
            (
                "S",
                END,
                r#"interaction.priority: ["1"]"#,
                "fx/b.json",
                true,
            ),
        ],
        &[
            ("R", END, "interaction.priority: [2]", "fx/a.json", true),
            ("OFF", END, "interaction.priority: [3]", "fx/b.json", false),
        ],
        &[
            (
                "R",
                END,
                r#"interaction.channel: [{"type": "voice"}]"#,
                "fx/a.json",
                true,
            ),
            (
                "S",
                END,
                r#"interaction.channel.type: [Voice]"#,
                "fx/a.json, fx/d.json",
                true,
            ),
        ],
    ];
    let mut flagged_somewhere = 0;
    for rules in cases {
        let body: String = rules
            .iter()
            .map(|&(id, ty, cond, fx, on)| rule(id, ty, cond, fx, on))
            .collect();
        let spec = format!(
            r#"version: 1
name: nm
channel: {{ name: C, destinationUri: "https://crm.example.org/api/activities", auth: {{ type: none }}, timeoutMilliseconds: 2000 }}
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }}
deadLetterQueue: {{ enabled: true, bucketName: b }}
rules:
{body}"#
        );
        std::fs::write(dir.path().join("s.yaml"), &spec).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX042", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        let sim = cxsync()
            .current_dir(dir.path())
            .args(["sim", "s.yaml", "--events", "20"])
            .output()
            .unwrap();
        let sim_text = text(&sim);
        for &(id, _, cond, _, on) in rules.iter() {
            let said = lint.contains(&format!("rule `{id}` selects none of its"));
            let not_simulated = sim_text.contains(&format!(
                "rule {id} was not simulated: no event of the run matched it"
            ));
            assert_eq!(
                said, not_simulated,
                "rule {id} ({cond}):\nlint: {lint}\nsim: {sim_text}"
            );
            if said {
                assert!(on, "a disabled rule is not flagged: {lint}");
                assert_eq!(sim.status.code(), Some(1), "{sim_text}");
                flagged_somewhere += 1;
            }
        }
    }
    // The table holds both answers: the type mismatches, the event type and the missing path.
    assert!(flagged_somewhere >= 5, "{flagged_somewhere}");
    // The type mismatch is named.
    std::fs::write(
        dir.path().join("s.yaml"),
        std::fs::read_to_string(dir.path().join("s.yaml"))
            .unwrap()
            .replace(
                r#"interaction.channel: [{"type": "voice"}]"#,
                r#"interaction.priority: [1, "2"]"#,
            ),
    )
    .unwrap();
    let lint = cxsync()
        .current_dir(dir.path())
        .args(["lint", "s.yaml", "--select", "CX042", "--format", "concise"])
        .output()
        .unwrap();
    let lint = text(&lint);
    assert!(
        lint.contains(r#"the event has the string "1" where the condition lists the number 1, and the hub compares whole values"#),
        "{lint}"
    );
}

/// #252: CX040's consequence is true per function: `$random()` and `$shuffle()` are jsonata-js
/// builtins (the hub evaluates them) that only cxsync refuses, so the finding says the hub
/// evaluates the call; a function JSONata lacks (`$uuid`) fails on the hub too. The engine's
/// refusal and lint's reading of it are one text (`syntax::refusal`), so the check can fail when
/// they drift.
#[test]
fn cx040_says_the_hub_evaluates_a_builtin_only_cxsync_refuses() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "fx/chat.json",
                event("EV-5500", "interaction.ended", "CHAT-7F3A-000981", ""),
            ),
            ("cxsync.toml", String::new()),
        ],
    );
    // (transform, the function, whether the hub evaluates it)
    let cases: &[(&str, &str, bool)] = &[
        (r#"{"id": interaction.id, "r": $random()}"#, "random", true),
        (r#"{"s": $shuffle([1, 2, 3])}"#, "shuffle", true),
        (r#"{"u": $uuid()}"#, "uuid", false),
    ];
    for &(transform, name, hub_runs) in cases {
        let spec = format!(
            r#"version: 1
name: tf
channel:
  name: Tf
  destinationUri: https://crm.example.org/api/cases
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency: {{ key: "${{event.id}}" }}
retry: {{ maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }}
deadLetterQueue: {{ enabled: true, bucketName: tf-dlq }}
rules:
  - id: CASE
    name: case
    eventType: interaction.ended
    transform: '{transform}'
    fixtures: [fx/*.json]
"#
        );
        std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
        let lint = cxsync()
            .current_dir(dir.path())
            .args(["lint", "s.yaml", "--select", "CX040", "--format", "concise"])
            .output()
            .unwrap();
        let lint = text(&lint);
        assert!(lint.contains("[CX040]"), "{transform}: {lint}");
        assert!(lint.contains("`cxsync test` fails"), "{transform}: {lint}");
        assert_eq!(
            lint.contains(&format!(
                "the hub (jsonata-js) evaluates `${name}`, but cxsync cannot simulate it deterministically"
            )),
            hub_runs,
            "{transform}: {lint}"
        );
        assert_eq!(
            lint.contains("the hub dead-letter each such event"),
            !hub_runs,
            "{transform}: {lint}"
        );
    }
}

/// #250: a key on a per-call id not named `…Id` (`call.guid`, Twilio's `call.CallSid`, a UUID
/// under any name) is the event's identity; CX016 fires exactly when sim finds shared keys, an
/// error where the field is certainly shared and a warning ("cannot tell") for a reference.
#[test]
fn key_uniqueness_lint_and_sim_agree_on_per_call_ids_of_any_name() {
    let dir = tempfile::tempdir().unwrap();
    let call = |n: u32, sid: &str, booking: &str| {
        format!(
            r#", "call": {{"guid": "0b6e8f0e-3c59-4b7e-9d2a-6f1d2c3b4{n:03}", "CallSid": "CA1f3e5d7c9b1a3f5e7d9c1b3a5f7e{sid}", "ref": "5D2C9E1A-7B4D-4E8F-9A0B-1C2D3E4F5{n:03}", "bookingRef": "{booking}", "status": "completed", "skill": "SK-100{n}"}}"#
        )
    };
    write(
        dir.path(),
        &[
            (
                "calls/a.json",
                event(
                    "EV-000401",
                    "interaction.ended",
                    "CHAT-7F3A-000401",
                    &call(1, "9d1c", "BK-204411"),
                ),
            ),
            (
                "calls/b.json",
                event(
                    "EV-000402",
                    "interaction.ended",
                    "CHAT-7F3A-000402",
                    &call(2, "8e2d", "BK-771902"),
                ),
            ),
        ],
    );
    // (key, whether sim finds shared keys, lint's severity when it does)
    let cases = [
        ("${call.guid}", false, ""),
        ("${call.CallSid}", false, ""),
        ("${call.guid}_${event.type}", false, ""),
        ("${call.ref}", false, ""),
        ("${call.status}", true, "error"),
        ("${call.bookingRef}", true, "warning"),
    ];
    for (key, shared, severity) in cases {
        std::fs::write(dir.path().join("s.yaml"), key_spec(key, "calls")).unwrap();
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
            "sim on {key}: {sim}"
        );
        assert_eq!(lint.contains("[CX016]"), shared, "lint on {key}: {lint}");
        if shared {
            assert!(
                lint.contains(&format!("{severity}[CX016]")),
                "lint on {key}: {lint}"
            );
            assert_eq!(
                lint.contains("cannot tell") && sim.contains("cannot tell"),
                severity == "warning",
                "{key}: {lint}\n{sim}"
            );
        }
    }
}
