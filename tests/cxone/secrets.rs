//! One masking for every printer: `compile` (stdout), `plan` (text and `--json`, both sides of
//! `→`) and `import` mask the fields whose spec value came from `${env:…}` (and credential-named
//! ones) field by field, never by searching the output for the secret's text. So a secret that
//! is also an ordinary word (`changed`, `create`, `channel`, `json`) alters no other word, and a
//! rotated secret's old value (the hub's) is masked as well as the new one.

use std::path::Path;
use std::process::Output;

use cxsync::cxone::mock_hub::{self, Config};
use serde_json::Value;

use super::ownership::assert_valid;
use super::{cmd_at, code, text, ACCESS_SECRET};

/// Secrets in headers under credential and other names, inside longer text, in the URL path, in
/// the DLQ alert URL, as the client secret, in a rule's name and condition.
const SPEC: &str = r#"version: 1
name: secrets-everywhere
channel:
  name: Secret_Fields
  destinationUri: "https://crm.example.org/t/${env:SX_TENANT}/events?access_token=${env:SX_SECRET}&v=2"
  auth:
    type: oauth2_client_credentials
    tokenEndpoint: https://auth.example.org/oauth2/token
    clientId: sx-client
    clientSecret: "${env:SX_SECRET}"
    tokenCacheTtlSeconds: 600
  headers:
    Content-Type: application/json
    Proxy-Authorization: "Basic ${env:SX_SECRET}"
    Ocp-Apim-Subscription-Key: "${env:SX_SECRET}"
    X-Trace: "${env:SX_SECRET}"
    X-Hub-Signature-256: "sha256=${env:SX_SECRET}"
    X-Tenant: "t-${env:SX_TENANT}"
  timeoutMilliseconds: 2000
idempotency: { key: "${interaction.id}" }
retry: { maxRetries: 2, initialDelaySeconds: 1, maxDelaySeconds: 4, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: sx-dlq, alertEndpoint: "https://hooks.example.org/${env:SX_SECRET}" }
rules:
  - id: SX_ENDED
    name: "ended for ${env:SX_TENANT}"
    eventType: interaction.ended
    conditions: { interaction.channel.type: [voice, "${env:SX_TENANT}"] }
    transform: '{"id": interaction.id, "kind": "channel json create changed"}'
"#;

/// The same spec with a static bearer token instead of OAuth.
fn bearer_spec() -> String {
    let start = SPEC.find("    type: oauth2").unwrap();
    let end = SPEC.find("  headers:").unwrap();
    format!(
        "{}    type: bearer\n    token: \"${{env:SX_SECRET}}\"\n{}",
        &SPEC[..start],
        &SPEC[end..]
    )
}

struct Hub {
    hub: mock_hub::Handle,
    dir: tempfile::TempDir,
}

impl Hub {
    fn new(spec: &str) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.yaml"), spec).unwrap();
        let hub = mock_hub::spawn(
            Config {
                access_key_id: "test-key".into(),
                access_key_secret: ACCESS_SECRET.into(),
                ..Config::default()
            },
            0,
        )
        .unwrap();
        Hub { hub, dir }
    }

    /// `cxsync ARGS…` with the spec's variables set to `secret` and `tenant`.
    fn run(&self, args: &[&str], secret: &str, tenant: &str) -> Output {
        cmd_at(&self.hub.url())
            .current_dir(self.dir.path())
            .env("SX_SECRET", secret)
            .env("SX_TENANT", tenant)
            .args(args)
            .output()
            .unwrap()
    }
}

fn assert_hidden(o: &Output, values: &[&str], what: &str) {
    let t = text(o);
    for v in values {
        assert!(!t.contains(v), "{what} printed `{v}`:\n{t}");
    }
}

/// Differential over printers and values: compile, plan (text and JSON, create and after a
/// rotation) and import never print a secret, mask exactly the secret fields, and leave every
/// other word alone whatever word the secret is.
#[test]
fn every_printer_masks_the_secret_fields_and_nothing_else() {
    for (kind, spec) in [("oauth", SPEC.to_string()), ("bearer", bearer_spec())] {
        let h = Hub::new(&spec);
        let (old, tenant) = ("OLDSECRET-111", "acme-tenant-9");
        // compile prints the payloads masked, and needs no secret to do so.
        let c = h.run(&["compile", "spec.yaml"], old, tenant);
        assert_eq!(code(&c), 0, "{kind}: {}", text(&c));
        assert_hidden(&c, &[old, tenant], "compile");
        let doc: Value = serde_json::from_slice(&c.stdout).unwrap();
        let ch = &doc["channel.json"];
        for h in [
            "Proxy-Authorization",
            "Ocp-Apim-Subscription-Key",
            "X-Trace",
            "X-Tenant",
        ] {
            assert_eq!(ch["headers"][h], "(sensitive)", "{kind}: {h}");
        }
        assert_eq!(ch["destinationUri"], "(sensitive)", "{kind}");
        assert_eq!(ch["headers"]["Content-Type"], "application/json");
        assert_eq!(
            doc["retry-policy.json"]["deadLetterQueue"]["alertEndpoint"],
            "(sensitive)"
        );
        let rule = &doc["rules/SX_ENDED.json"];
        assert_eq!(rule["name"], "(sensitive)");
        assert_eq!(
            rule["conditions"]["interaction.channel.type"],
            serde_json::json!(["voice", "(sensitive)"])
        );

        // A create plan, text and JSON.
        let p = h.run(&["plan", "spec.yaml"], old, tenant);
        assert_eq!(code(&p), 1, "{kind}: {}", text(&p));
        assert_hidden(&p, &[old, tenant], "plan");
        let t = text(&p);
        assert!(t.contains("+ headers[\"X-Trace\"]: (sensitive)"), "{t}");
        assert!(t.contains("+ destinationUri: (sensitive)"), "{t}");
        assert!(
            t.contains("+ headers[\"Content-Type\"]: \"application/json\""),
            "{t}"
        );
        let a = h.run(&["apply", "spec.yaml", "--auto-approve"], old, tenant);
        assert_eq!(code(&a), 0, "{kind}: {}", text(&a));
        assert_hidden(&a, &[old, tenant], "apply");

        // Rotated: the hub holds the old values, the spec has new ones; both sides masked, and a
        // secret that is an ordinary word changes no other word of the plan.
        for new in [
            "NEWSECRET-222",
            "changed",
            "create",
            "channel",
            "json",
            "unchanged",
        ] {
            let p = h.run(&["plan", "spec.yaml"], new, tenant);
            assert_eq!(code(&p), 1, "{kind} {new}: {}", text(&p));
            let t = text(&p);
            assert_hidden(&p, &[old, tenant, "NEWSECRET-222"], "plan after a rotation");
            for line in [
                "~ update channel Secret_Fields    PUT /api/v2/eventhub/channels/Secret_Fields",
                "~ headers[\"X-Trace\"]: (sensitive) → (sensitive)",
                "~ headers[\"Proxy-Authorization\"]: (sensitive) → (sensitive)",
                "~ update retry-policy Secret_Fields",
                "~ deadLetterQueue.alertEndpoint: (sensitive) → (sensitive)",
                "Plan: 0 to create, 2 to update, 0 to remove.",
            ] {
                assert!(t.contains(line), "{kind} {new}: no `{line}`:\n{t}");
            }
            let j = h.run(&["plan", "spec.yaml", "--json"], new, tenant);
            assert_hidden(&j, &[old, tenant, "NEWSECRET-222"], "plan --json");
            let v: Value = serde_json::from_slice(&j.stdout)
                .unwrap_or_else(|e| panic!("{kind} {new}: {e}\n{}", text(&j)));
            assert_valid(&v);
            assert_eq!(v["summary"]["update"], 2, "{kind} {new}");
            assert_eq!(v["summary"]["unchanged"], 1, "{kind} {new}");
            let channel = &v["resourceChanges"][0];
            assert_eq!(channel["action"], "update");
            let marker = serde_json::json!({"sensitive": true});
            for side in ["before", "after"] {
                assert_eq!(channel[side]["headers"]["X-Trace"], marker, "{side}");
                assert_eq!(channel[side]["headers"]["Content-Type"], "application/json");
            }
            // The transform's text holds the same words and is shown as written.
            let rule = &v["resourceChanges"][2]["after"]["actions"][0]["jsonataExpression"];
            assert_eq!(
                rule,
                "{\"id\": interaction.id, \"kind\": \"channel json create changed\"}"
            );
        }

        // import writes placeholders for the credential-named fields and prints no value.
        let out = h.dir.path().join("imported");
        let i = h.run(
            &["import", "--channel", "Secret_Fields", "--out", "imported"],
            old,
            tenant,
        );
        assert_eq!(code(&i), 0, "{kind}: {}", text(&i));
        assert_hidden(&i, &[old, tenant], "import");
        let written = std::fs::read_to_string(out.join("spec.yaml")).unwrap();
        for h in [
            "Proxy-Authorization",
            "Ocp-Apim-Subscription-Key",
            "X-Hub-Signature-256",
            "destinationUri",
        ] {
            let line = written.lines().find(|l| l.contains(h)).unwrap();
            assert!(line.contains("${env:"), "{line}");
        }
        assert!(
            written.contains("?access_token=${env:SECRET_FIELDS_URI_ACCESS_TOKEN}&v=2"),
            "{written}"
        );
        // The import checks itself against the hub with stand-ins for its placeholders.
        assert!(text(&i).contains("it shows no changes"), "{}", text(&i));
        assert_no_file_holds(&out, old, &["X-Trace", "alertEndpoint"]);
    }
}

/// No line of the import holds `secret` except the named fields, which the hub does not mark
/// (cxsync cannot know their values came from `${env:…}`; the import says so).
fn assert_no_file_holds(dir: &Path, secret: &str, except: &[&str]) {
    for (p, bytes) in crate::common::files_under(dir) {
        let t = String::from_utf8(bytes).unwrap();
        for l in t.lines().filter(|l| l.contains(secret)) {
            assert!(
                except.iter().any(|e| l.contains(e)),
                "{} holds the secret: {l}",
                p.display()
            );
        }
    }
}

/// Tester #165: credentials written literally inside a URL (user-info password, `?api_key=`,
/// `?sig=`) and a bearer token under a header not named like a credential are masked inside the
/// text by compile (stdout), plan (text and JSON) and apply, as credential-named headers are;
/// `compile --out` writes them as they are (what apply sends).
#[test]
fn literal_credentials_inside_urls_and_bearer_values_are_masked_by_every_printer() {
    let spec = SPEC
        .replace(
            "\"https://crm.example.org/t/${env:SX_TENANT}/events?access_token=${env:SX_SECRET}&v=2\"",
            "\"https://svc:hunter2pw@crm.example.org/crm?api_key=SECRETQ123&x=1\"",
        )
        .replace(
            "\"https://hooks.example.org/${env:SX_SECRET}\"",
            "\"https://hooks.example.org/a?sig=SIGSECRET77\"",
        )
        .replace(
            "    X-Trace: \"${env:SX_SECRET}\"\n",
            "    X-Trace: \"${env:SX_SECRET}\"\n    X-Note: \"Bearer tok_LIVE_abc123\"\n",
        );
    let literals = ["hunter2pw", "SECRETQ123", "SIGSECRET77", "tok_LIVE_abc123"];
    let h = Hub::new(&spec);
    let c = h.run(&["compile", "spec.yaml"], "S3CRET-1", "acme");
    assert_eq!(code(&c), 0, "{}", text(&c));
    assert_hidden(&c, &literals, "compile");
    let doc: Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(
        doc["channel.json"]["destinationUri"],
        "https://svc:(sensitive)@crm.example.org/crm?api_key=(sensitive)&x=1"
    );
    assert_eq!(
        doc["channel.json"]["headers"]["X-Note"],
        "Bearer (sensitive)"
    );
    assert_eq!(
        doc["retry-policy.json"]["deadLetterQueue"]["alertEndpoint"],
        "https://hooks.example.org/a?sig=(sensitive)"
    );
    for args in [
        &["plan", "spec.yaml"][..],
        &["plan", "spec.yaml", "--json"][..],
        &["apply", "spec.yaml", "--auto-approve"][..],
    ] {
        let o = h.run(args, "S3CRET-1", "acme");
        assert!(code(&o) <= 1, "{args:?}: {}", text(&o));
        assert_hidden(&o, &literals, &format!("{args:?}"));
        assert!(
            text(&o).contains("svc:(sensitive)@"),
            "{args:?}: {}",
            text(&o)
        );
    }
    // What apply sends is the spec's text.
    let out = h.dir.path().join("out");
    let o = h.run(
        &["compile", "spec.yaml", "--out", out.to_str().unwrap()],
        "S3CRET-1",
        "acme",
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let channel = std::fs::read_to_string(out.join("channel.json")).unwrap();
    assert!(channel.contains("svc:hunter2pw@") && channel.contains("Bearer tok_LIVE_abc123"));
}
