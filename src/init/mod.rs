//! `cxsync init`: the files of a new, working project for one CRM. Pure: a profile and a name in,
//! `(relative path, text)` pairs out. The snapshots are not here: `cli/init.rs` produces them by
//! running the project's own fixtures through its own rule, so they are never written by hand.
//!
//! ```text
//! cxsync.toml                                   the project root (snapshots live beside it)
//! specs/<stem>.yaml                             the spec, with the yaml-language-server modeline
//! specs/transforms/interaction_ended.jsonata    the rule's transform
//! specs/<profile>-payload.schema.json           the CRM payload schema (crm.payloadSchema)
//! schemas/cxsync-spec.v1.json, scenario.v1.json what the modelines point at (editor completion)
//! fixtures/events/*.json                        three events: agent-handled chat, filtered email, IVR-only voice
//! scenarios/<profile>-campaign-burst.yaml       a custom chaos scenario for this CRM
//! .github/workflows/cxsync.yml                  CI: validate, lint, test, sim on every change
//! ```

pub mod profiles;

use std::path::PathBuf;

use crate::spec::model::CrmProfile;
use profiles::Starter;

/// The instant the project's tests freeze `$now()` at (the spec's `test.now`).
pub const TEST_NOW: &str = "2024-01-15T14:00:00Z";

/// The spec's file stem for a profile (its snapshots live under `snapshots/<stem>/`).
pub fn spec_stem(profile: CrmProfile) -> String {
    match profile {
        CrmProfile::Generic => "crm_sync".to_string(),
        p => format!("{}_sync", p.as_str()),
    }
}

/// The spec's path in the project.
pub fn spec_path(profile: CrmProfile) -> PathBuf {
    PathBuf::from(format!("specs/{}.yaml", spec_stem(profile)))
}

/// The custom scenario's path in the project.
pub fn scenario_path(profile: CrmProfile) -> PathBuf {
    PathBuf::from(format!(
        "scenarios/{}-campaign-burst.yaml",
        profile.as_str()
    ))
}

/// A spec `name` from a folder name: lowercase letters, digits and `-`; `fallback` when nothing
/// is left.
pub fn project_name(folder: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// Every file of the project except the snapshots, sorted by path.
pub fn files(profile: CrmProfile, name: &str) -> Vec<(PathBuf, String)> {
    let s = profiles::starter(profile);
    let p = profile.as_str();
    let mut out = vec![
        (PathBuf::from("cxsync.toml"), config(&s)),
        (spec_path(profile), spec(&s, name)),
        (
            PathBuf::from("specs/transforms/interaction_ended.jsonata"),
            s.transform.to_string(),
        ),
        (
            PathBuf::from(format!("specs/{p}-payload.schema.json")),
            s.schema.to_string(),
        ),
        (
            PathBuf::from("schemas/cxsync-spec.v1.json"),
            crate::spec::schema::to_pretty(),
        ),
        (
            PathBuf::from("schemas/scenario.v1.json"),
            serde_json::to_string_pretty(&crate::sim::scenario::json_schema())
                .expect("a JSON value serialises")
                + "\n",
        ),
        (
            PathBuf::from("fixtures/events/webchat_resolved.json"),
            include_str!("templates/webchat_resolved.json").to_string(),
        ),
        (
            PathBuf::from("fixtures/events/email_filtered.json"),
            include_str!("templates/email_filtered.json").to_string(),
        ),
        (
            PathBuf::from("fixtures/events/ivr_self_service.json"),
            include_str!("templates/ivr_self_service.json").to_string(),
        ),
        (scenario_path(profile), scenario(&s)),
        (
            PathBuf::from(".github/workflows/cxsync.yml"),
            workflow(profile),
        ),
    ];
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn config(s: &Starter) -> String {
    format!(
        "# The cxsync project file (made by `cxsync init --crm {}`). Its folder is the project root:\n\
         # `cxsync test` keeps snapshots in snapshots/ here, whatever folder it runs from.\n\
         # Lint settings (docs/ci.md in the cxsync repository):\n\
         #   select = [\"ALL\"]            # preview rules too\n\
         #   ignore = [\"CX015\"]\n\
         #   deny-warnings = true\n\
         deny-warnings = true\n",
        s.profile.as_str()
    )
}

fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.join(", "))
}

fn spec(s: &Starter, name: &str) -> String {
    let p = s.profile.as_str();
    let title_id: String = s
        .title
        .trim_start_matches("a ")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let channel = format!("CXone_{title_id}_Sync");
    // Cache tokens well inside their lifetime (lint CX005 checks the margin).
    let cache_ttl = (s.token_lifetime.saturating_sub(300)).clamp(60, 3300);
    let scopes = if s.scopes.is_empty() {
        String::new()
    } else {
        format!("    scopes: {}\n", yaml_list(s.scopes))
    };
    let personal = if s.personal_data.is_empty() {
        String::new()
    } else {
        format!("  allowPersonalData: {}\n", yaml_list(s.personal_data))
    };
    let secret = format!("{}_CLIENT_SECRET", p.to_ascii_uppercase());
    // A name from --name may hold anything: quote it unless it is a plain word. The DLQ prefix
    // takes the folder-safe form.
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    let quoted = if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).expect("a string serialises")
    };
    let prefix = project_name(name, "cxsync");
    format!(
        r#"# yaml-language-server: $schema=../schemas/cxsync-spec.v1.json
# {title}: {writes}.
# Made by `cxsync init --crm {p}`. Replace the `your…` placeholders; every field is described in
# the schema (hover in your editor) and in cxsync's docs/spec.md.
version: 1
name: {quoted}
description: Finished CXone interactions to {title} ({p} profile).

channel:
  name: {channel}_Production
  type: REST
  destinationUri: {dest}
  auth:
    type: oauth2_client_credentials
    tokenEndpoint: {token}
    clientId: cxone-eventhub
    clientSecret: ${{VAULT_SECRET:{secret}}}   # resolved by the Event Hub, never stored here
{scopes}    tokenCacheTtlSeconds: {cache_ttl}   # below the CRM's {life} s token lifetime
    retryOnTokenExpiry: true
  headers:
    Content-Type: application/json
    X-Request-Source: CXone-EventHub
  timeoutMilliseconds: {timeout}
  batchSize: 1
  batchIntervalSeconds: 0

# Declared once: the channel header and the retry policy's template carry the same key.
# IVR-only interactions have no agent, so the key does not use agent.id.
idempotency:
  header: {hdr}
  key: ${{interaction.id}}_${{event.type}}

retry:
  maxRetries: 8
  initialDelaySeconds: 2
  maxDelaySeconds: 120
  backoffMultiplier: 2.0
  jitter: full
  respectRetryAfterHeader: true
  retryableStatusCodes: {retryable}
  nonRetryableStatusCodes: {non_retryable}
  # Sustained throttling or 5xx opens the breaker: deliveries wait (spending no attempts) instead
  # of exhausting their retries during a long storm.
  circuitBreaker:
    failureThreshold: 5
    openSeconds: 30

deadLetterQueue:
  enabled: true
  storageType: S3
  bucketName: cxone-eventhub-dlq-production
  prefix: {prefix}/
  alertEndpoint: https://monitoring.example.com/webhooks/cxsync-dlq

crm:
  profile: {p}
  acceptsArrays: false
  maxBodyBytes: {body}
  maxPayloadBytes: 262144
  tokenLifetimeSeconds: {life}
  retryAfterHorizonSeconds: {horizon}
  idempotency: {dedup}
  payloadSchema: {p}-payload.schema.json
{personal}
rules:
  - id: {rule}
    name: Interaction ended to {title_short}
    eventType: interaction.ended
    conditions:
      # Email is not synced: the CRM's own email channel makes those (see email_filtered.json).
      interaction.channel.type: [voice, webchat]
    transformFile: transforms/interaction_ended.jsonata
    fixtures:
      - ../fixtures/events/*.json
    stage: 1

rollout:
  - stage: 1
    name: interaction-ended
    description: Finished voice, chat and email interactions.

alerts:
  dlqVolume: 10
  tokenRefreshCount: 20
  errorRate: 0.05
  latencyP95Ms: 3000

test:
  now: {now}

environments:
  staging:
    channel:
      name: {channel}_Staging
      destinationUri: {staging}
    deadLetterQueue:
      bucketName: cxone-eventhub-dlq-staging
"#,
        title = s.title,
        title_short = s.title.trim_start_matches("a "),
        writes = s.writes,
        dest = s.destination,
        staging = s.staging_destination,
        token = s.token_endpoint,
        life = s.token_lifetime,
        horizon = s.retry_after_horizon,
        timeout = s.timeout_ms,
        hdr = s.idempotency_header,
        retryable = s.retryable,
        non_retryable = s.non_retryable,
        body = s.max_body_bytes,
        dedup = s.dedup,
        rule = s.rule_id,
        now = TEST_NOW,
    )
}

fn scenario(s: &Starter) -> String {
    let p = s.profile.as_str();
    format!(
        r#"# yaml-language-server: $schema=../schemas/scenario.v1.json
# Run it: cxsync sim {spec} --scenario {path}
version: 1
name: {p}-campaign-burst
description: |
  A campaign morning against {title}: traffic ramps to four times its base rate, the CRM
  throttles for three minutes ({says}), a 20-second maintenance window answers 503 and the
  CRM revokes every token once. One interaction in ten is IVR-only (no agent). Nothing may be
  lost or written twice.
duration: 15m
events:
  count: 900
  fixtures: true
  withoutAgentEvery: 10
  curve:
    - {{ at: 0s, weight: 1 }}
    - {{ at: 3m, weight: 4 }}
    - {{ at: 7m, weight: 2 }}
    - {{ at: 15m, weight: 1 }}
crm:
  profile: {p}
  resetRate: 0.002
faults:
  - throttle: {throttle}
  - maintenance: {{ from: 9m, to: 9m20s, retryAfterSeconds: 20 }}
  - revokeTokens: {{ at: 11m }}
expect:
  lost: 0
  duplicates: 0
  deadLettered: 0
"#,
        spec = spec_path(s.profile).display(),
        path = scenario_path(s.profile).display(),
        title = s.title,
        says = s.throttle_says,
        throttle = s.throttle,
    )
}

fn workflow(profile: CrmProfile) -> String {
    format!(
        r#"# CI for this cxsync project (made by `cxsync init`): every change to a spec, transform,
# fixture or scenario is validated, linted, snapshot-tested and chaos-simulated before review.
name: cxsync
on:
  pull_request:
  push:
    branches: [main]

permissions:
  contents: read

env:
  # Where your team builds cxsync from; pin a tag or commit.
  CXSYNC_GIT: https://github.com/your-org/cxsync
  CXSYNC_REF: v{version}

jobs:
  cxsync:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: dtolnay/rust-toolchain@stable
      - uses: Swatinem/rust-cache@v2
      - name: Install cxsync
        run: cargo install --locked --git "$CXSYNC_GIT" --tag "$CXSYNC_REF" cxsync
      - name: Validate specs and scenarios
        run: cxsync validate specs scenarios
      - name: Lint (annotations on the diff)
        run: cxsync lint specs scenarios --format github
      - name: Snapshot tests of the transforms
        run: cxsync test
      - name: Chaos simulation (built-in default scenario)
        run: cxsync sim {spec}
      - name: Chaos simulation (this CRM's campaign burst)
        run: cxsync sim {spec} --scenario {scenario}
"#,
        version = env!("CARGO_PKG_VERSION"),
        spec = spec_path(profile).display(),
        scenario = scenario_path(profile).display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_from_folder_names() {
        assert_eq!(project_name("My Project!", "x"), "my-project");
        assert_eq!(project_name("--", "crm-sync"), "crm-sync");
        assert_eq!(project_name("acme_sf 2", "x"), "acme-sf-2");
    }

    #[test]
    fn every_profile_has_the_files_the_issue_lists() {
        for p in profiles::ALL {
            let f = files(p, "x");
            let has = |s: &str| f.iter().any(|(path, _)| path.to_string_lossy().contains(s));
            for want in [
                "cxsync.toml",
                ".github/workflows/",
                "transforms/",
                "payload.schema.json",
                "email_filtered",
                "ivr_self_service",
                "scenarios/",
            ] {
                assert!(has(want), "{p:?} lacks {want}");
            }
            let (_, spec) = f
                .iter()
                .find(|(path, _)| *path == spec_path(p))
                .expect("the spec");
            assert!(spec
                .starts_with("# yaml-language-server: $schema=../schemas/cxsync-spec.v1.json\n"));
        }
    }
}
