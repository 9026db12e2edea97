//! `cxsync import`: live objects back into a spec folder that validates and plans clean against
//! the hub it came from — on a hub cxsync applied, and on one populated by hand with things
//! unlike the example.

use std::path::Path;

use serde_json::{json, Value};

use super::{cmd_at, code, env, text, CHANNEL, CLIENT_SECRET};

/// Every file under `dir`, as text.
fn written(dir: &Path) -> Vec<(String, String)> {
    crate::common::files_under(dir)
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), String::from_utf8(b).unwrap()))
        .collect()
}

/// `cxsync import --channel CHANNEL --out OUT` against the env's hub.
fn import(e: &super::Env, channel: &str, out: &Path) -> std::process::Output {
    cmd_at(&e.hub.url())
        .args([
            "import",
            "--channel",
            channel,
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

#[test]
fn import_of_an_applied_spec_validates_and_plans_clean_in_each_environment() {
    let e = env();
    assert_eq!(code(&e.run(&["apply", "--auto-approve"])), 0);
    assert_eq!(
        code(&e.run(&["apply", "--auto-approve", "--env", "staging"])),
        0
    );
    let out = e.dir.path().join("imported");
    let i = import(&e, CHANNEL, &out);
    assert_eq!(code(&i), 0, "{}", text(&i));
    let t = text(&i);
    assert!(t.contains("export TEST_CHANNEL_CLIENT_SECRET=…"), "{t}");
    assert!(t.contains("it shows no changes"), "{t}");
    let files: Vec<String> = written(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        [
            "README.md",
            "fixtures/RULE_ENDED/.gitkeep",
            "fixtures/RULE_STARTED/.gitkeep",
            "spec.yaml",
            "transforms/RULE_ENDED.jsonata",
            "transforms/RULE_STARTED.jsonata"
        ]
    );
    let spec = out.join("spec.yaml");
    let spec = spec.to_str().unwrap();
    let with_secret = |args: &[&str]| {
        cmd_at(&e.hub.url())
            .env("TEST_CHANNEL_CLIENT_SECRET", CLIENT_SECRET)
            .env("TEST_CHANNEL_STAGING_CLIENT_SECRET", CLIENT_SECRET)
            .args(args)
            .output()
            .unwrap()
    };
    let v = with_secret(&["validate", spec]);
    assert_eq!(code(&v), 0, "{}", text(&v));
    let p = with_secret(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(code(&p), 0, "{}", text(&p));

    // Staging's channel carries its environment: the import is that environment's.
    let out = e.dir.path().join("imported-staging");
    let i = import(&e, "Test_Channel_Staging", &out);
    assert_eq!(code(&i), 0, "{}", text(&i));
    let spec = out.join("spec.yaml");
    let yaml = std::fs::read_to_string(&spec).unwrap();
    assert!(yaml.contains("  - id: RULE_STARTED\n"), "{yaml}");
    assert!(yaml.contains("environments:\n  staging: {}"), "{yaml}");
    let p = with_secret(&[
        "plan",
        spec.to_str().unwrap(),
        "--env",
        "staging",
        "--detailed-exitcode",
    ]);
    assert_eq!(code(&p), 0, "{}", text(&p));
}

const ZD_TOKEN: &str = "zd-live-token-7f3a9c21";
const ZD_BASIC: &str = "Basic c3VwcG9ydDpodW50ZXIy";
const ZD_CUSTOM: &str = "custom-token-5e8d0b44";

/// A tenant made by hand: two more channels (one bearer with an odd name and credential headers,
/// one without auth), rules with numeric conditions, no conditions, the guide's dialect, an id no
/// spec can hold, and a rule routing elsewhere.
fn populate(e: &super::Env) {
    let post = |body: Value| {
        let r = e.hub.hub.handle(
            "POST",
            "/_mock/api/v2/eventhub/channels",
            "",
            None,
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 201, "{r:?}");
    };
    post(json!({"name": "zendesk.tickets-EU", "type": "REST",
        "destinationUri": "https://acme.zendesk.com/api/v2/tickets",
        "authentication": {"type": "BEARER", "token": ZD_TOKEN},
        "headers": {"X-Idempotency-Key": "${interaction.id}", "Authorization": ZD_BASIC,
                    "X-Custom-Token": ZD_CUSTOM, "X-Team": "support: EU #1"},
        "timeoutMilliseconds": 2500, "batchSize": 5, "batchIntervalSeconds": 2}));
    post(
        json!({"name": "Audit", "type": "REST", "destinationUri": "https://audit.example.com",
        "authentication": {"type": "NONE"}, "timeoutMilliseconds": 1000}),
    );
    e.put_behind_the_back(
        "/api/v2/eventhub/channels/zendesk.tickets-EU/retry-policy",
        json!({"maxRetries": 3, "initialDelaySeconds": 0.5, "maxDelaySeconds": 30,
               "backoffMultiplier": 1.5, "jitterEnabled": false, "respectRetryAfterHeader": true,
               "retryableStatusCodes": [429, 503], "nonRetryableStatusCodes": [400, 422],
               "idempotencyHeader": "X-Idempotency-Key", "idempotencyKeyTemplate": "${interaction.id}",
               "deadLetterQueue": {"enabled": true, "storageType": "S3", "bucketName": "zd-dlq"}}),
    );
    let rule = |expr: &str, ch: &str| {
        json!({"name": "Create ticket (EU)", "eventType": "interaction.ended",
               "conditions": {"interaction.channel.type": ["email", "chat"], "interaction.queue.id": [42, 43]},
               "actions": [{"type": "TRANSFORM", "jsonataExpression": expr}, {"type": "ROUTE", "channelId": ch}]})
    };
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/zd-ticket.create",
        rule(
            r#"{ "subject": $if(interaction.subject != null) interaction.subject $else "(none)" $end, "requester": interaction.customer?.email }"#,
            "zendesk.tickets-EU",
        ),
    );
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/ZD_DISPOSITION",
        json!({"name": "Disposition", "eventType": "disposition.updated",
               "actions": [{"type": "TRANSFORM", "jsonataExpression": "{\"code\": disposition.code}"},
                           {"type": "ROUTE", "channelId": "zendesk.tickets-EU"}]}),
    );
    e.put_behind_the_back(
        "/api/v2/eventhub/rules/odd%20id%20%C3%BC",
        rule("$", "zendesk.tickets-EU"),
    );
    e.put_behind_the_back("/api/v2/eventhub/rules/AUDIT_ALL", rule("$", "Audit"));
}

#[test]
fn import_of_a_hand_made_tenant_writes_what_a_spec_can_hold_and_says_what_it_cannot() {
    let e = env();
    populate(&e);
    let out = e.dir.path().join("zd");
    let i = import(&e, "zendesk.tickets-EU", &out);
    assert_eq!(code(&i), 0, "{}", text(&i));
    let t = text(&i);
    let files = written(&out);
    for secret in [ZD_TOKEN, ZD_BASIC, ZD_CUSTOM] {
        assert!(!t.contains(secret), "import printed a secret:\n{t}");
        for (p, body) in &files {
            assert!(!body.contains(secret), "{p} holds a secret:\n{body}");
        }
    }
    for var in [
        "ZENDESK_TICKETS_EU_TOKEN",
        "ZENDESK_TICKETS_EU_HEADER_AUTHORIZATION",
        "ZENDESK_TICKETS_EU_HEADER_X_CUSTOM_TOKEN",
    ] {
        assert!(t.contains(&format!("export {var}=…")), "{t}");
    }
    assert!(
        t.contains("rule \"odd id ü\" has an id a spec cannot hold"),
        "{t}"
    );
    assert!(t.contains("  = rule \"odd id ü\" ("), "{t}");
    assert!(
        !t.contains("AUDIT_ALL"),
        "a rule routing elsewhere is not imported: {t}"
    );
    let transform = files
        .iter()
        .find(|(p, _)| p == "transforms/zd-ticket.create.jsonata")
        .unwrap();
    assert_eq!(
        transform.1,
        "{ \"subject\": interaction.subject != null ? interaction.subject : \"(none)\", \"requester\": interaction.customer.email }\n"
    );

    let spec = out.join("spec.yaml");
    let spec = spec.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = cmd_at(&e.hub.url())
            .env("ZENDESK_TICKETS_EU_TOKEN", ZD_TOKEN)
            .env("ZENDESK_TICKETS_EU_HEADER_AUTHORIZATION", ZD_BASIC)
            .env("ZENDESK_TICKETS_EU_HEADER_X_CUSTOM_TOKEN", ZD_CUSTOM)
            .args(args)
            .output()
            .unwrap();
        for secret in [ZD_TOKEN, ZD_BASIC, ZD_CUSTOM] {
            assert!(
                !text(&o).contains(secret),
                "{args:?} printed a secret:\n{}",
                text(&o)
            );
        }
        o
    };
    let v = run(&["validate", spec]);
    assert_eq!(code(&v), 0, "{}", text(&v));
    // What the spec cannot hold shows as exactly the changes the import announced: the dialect
    // rewritten, and the conditions compile always sends. The channel matches; the apply that
    // writes them also claims it (it has no owner yet).
    let p = run(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    let t = text(&p);
    assert!(t.contains("~ update channel zendesk.tickets-EU"), "{t}");
    assert!(
        t.contains("owner: nobody (no owner marker) → spec `zendesk.tickets-eu` (no --env)\n      + headers[\"X-Cxsync-Owner\"]: \"spec=zendesk.tickets-eu\"\n\n"),
        "{t}"
    );
    assert!(!t.contains("retry-policy"), "{t}");
    assert!(t.contains("~ update rule ZD_DISPOSITION"), "{t}");
    assert!(t.contains("+ conditions: {}"), "{t}");
    assert!(t.contains("~ update rule zd-ticket.create"), "{t}");
    assert!(
        t.contains("Plan: 0 to create, 3 to update, 0 to remove."),
        "{t}"
    );
    // The live credential headers are in the JSON plan's `before`, as markers only.
    let j = run(&["plan", spec, "--json"]);
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        v["resourceChanges"][0]["before"]["headers"]["Authorization"],
        json!({"sensitive": true})
    );
    let a = run(&["apply", spec, "--auto-approve"]);
    assert_eq!(code(&a), 0, "{}", text(&a));
    let p = run(&["plan", spec, "--detailed-exitcode", "--prune"]);
    // `--prune` would remove the rule a spec cannot hold; without it the plan is clean.
    assert!(
        text(&p).contains(
            "- remove rule \"odd id ü\"    DELETE /api/v2/eventhub/rules/odd%20id%20%C3%BC"
        ),
        "{}",
        text(&p)
    );
    assert_eq!(code(&run(&["plan", spec, "--detailed-exitcode"])), 0);
    // The first apply claimed the channel for the imported spec; the Audit rule is untouched.
    let ch = e.get("/api/v2/eventhub/channels/zendesk.tickets-EU");
    assert_eq!(ch["headers"]["X-Cxsync-Owner"], "spec=zendesk.tickets-eu");
    assert_eq!(
        e.get("/api/v2/eventhub/rules/AUDIT_ALL")["actions"][1]["channelId"],
        "Audit"
    );
}

#[test]
fn import_refuses_an_unknown_channel_and_a_folder_in_use_and_leaves_nothing_half_written() {
    let e = env();
    populate(&e);
    let out = e.dir.path().join("nothing");
    let i = import(&e, "Nope", &out);
    assert_eq!(code(&i), 2, "{}", text(&i));
    assert!(
        text(&i)
            .contains("no channel named `Nope`; channels on this hub: Audit, zendesk.tickets-EU"),
        "{}",
        text(&i)
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(e.dir.path())
        .unwrap()
        .filter_map(|d| d.ok())
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .starts_with(".cxsync-import")
        })
        .collect();
    assert!(leftovers.is_empty());

    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let i = import(&e, "Audit", &out);
    assert_eq!(code(&i), 2);
    assert!(text(&i).contains("exists and is not empty"), "{}", text(&i));
    assert_eq!(
        written(&out),
        [("mine.txt".to_string(), "keep".to_string())]
    );
}

/// #259: a live channel that batches (`batchSize` above 1) evidently has a CRM that takes JSON
/// arrays, so the imported spec declares `crm: { acceptsArrays: true }` with a comment and a note
/// to confirm it; its first `lint` has no CX001 and its first `sim` delivers (not "nothing was
/// delivered"). An unbatched channel gets no `crm` block.
#[test]
fn import_of_a_batching_channel_declares_a_crm_that_takes_arrays_and_lints_and_sims() {
    let e = env();
    for (name, batch) in [("FD_Batch", 10), ("FD_One", 1)] {
        let r = e.hub.hub.handle(
            "POST",
            "/_mock/api/v2/eventhub/channels",
            "",
            None,
            json!({"name": name, "type": "REST",
                "destinationUri": "https://acme.freshdesk.com/api/v2/cxone/bulk",
                "authentication": {"type": "NONE"}, "timeoutMilliseconds": 8000,
                "batchSize": batch, "batchIntervalSeconds": 5})
            .to_string()
            .as_bytes(),
        );
        assert_eq!(r.status, 201, "{r:?}");
        e.put_behind_the_back(
            &format!("/api/v2/eventhub/channels/{name}/retry-policy"),
            json!({"maxRetries": 3, "initialDelaySeconds": 1, "maxDelaySeconds": 30,
                   "backoffMultiplier": 2.0, "jitterEnabled": false, "respectRetryAfterHeader": true,
                   "retryableStatusCodes": [408, 429, 500, 502, 503, 504],
                   "nonRetryableStatusCodes": [400, 401, 403, 404, 409, 413, 422],
                   "idempotencyHeader": "X-Request-Id", "idempotencyKeyTemplate": "${event.id}",
                   "deadLetterQueue": {"enabled": true, "storageType": "S3", "bucketName": "fd-dlq"}}),
        );
        e.put_behind_the_back(
            &format!("/api/v2/eventhub/rules/{name}_NOTE"),
            json!({"name": "note", "eventType": "conversation.closed",
                   "conditions": {},
                   "actions": [{"type": "TRANSFORM", "jsonataExpression":
                                "{ \"ticket_ref\": conversation.conversationId, \"body\": conversation.summary }"},
                               {"type": "ROUTE", "channelId": name}]}),
        );
    }
    for (name, batch) in [("FD_Batch", 10), ("FD_One", 1)] {
        let out = e.dir.path().join(name);
        let i = import(&e, name, &out);
        assert_eq!(code(&i), 0, "{}", text(&i));
        let t = text(&i);
        let spec_path = out.join("spec.yaml");
        let yaml = std::fs::read_to_string(&spec_path).unwrap();
        if batch == 1 {
            assert!(!yaml.contains("\ncrm:"), "{yaml}");
            assert!(!t.contains("acceptsArrays"), "{t}");
            continue;
        }
        assert!(
            yaml.contains(
                "# The live channel batches (batchSize 10), so its CRM takes JSON arrays"
            ) && yaml.contains("\ncrm:\n  acceptsArrays: true\n"),
            "{yaml}"
        );
        assert!(
            t.contains("`crm.acceptsArrays: true`")
                && t.contains("confirm it and set `crm.profile`"),
            "{t}"
        );
        assert!(t.contains("Check: the written spec validates."), "{t}");
        // A fixture, then the user's first lint and sim.
        let rule = format!("{name}_NOTE");
        std::fs::write(
            out.join(format!("fixtures/{rule}/a.json")),
            r#"{"event": {"id": "fd-evt-00003", "type": "conversation.closed", "occurredAt": "2025-04-01T08:00:03.000Z"}, "conversation": {"conversationId": "conv_000003", "summary": "ok"}}"#,
        )
        .unwrap();
        let yaml = yaml.replace(
            &format!("transformFile: transforms/{rule}.jsonata\n"),
            &format!("transformFile: transforms/{rule}.jsonata\n    fixtures: [fixtures/{rule}/*.json]\n"),
        );
        assert!(yaml.contains("fixtures: [fixtures/"), "{yaml}");
        std::fs::write(&spec_path, yaml).unwrap();
        let run = |args: &[&str]| {
            cmd_at(&e.hub.url())
                .current_dir(&out)
                .args(args)
                .output()
                .unwrap()
        };
        let l = run(&["lint", "spec.yaml", "--format", "concise"]);
        assert!(!text(&l).contains("CX001"), "{}", text(&l));
        let s = run(&["sim", "spec.yaml", "--events", "200"]);
        let st = text(&s);
        assert!(!st.contains("nothing was delivered"), "{st}");
        assert!(!st.contains("NON_RETRYABLE_STATUS (400)"), "{st}");
        assert_eq!(code(&s), 0, "{st}");
    }
}
