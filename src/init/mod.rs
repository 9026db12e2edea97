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

use std::collections::BTreeMap;
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
    let (transform, schema) = profiles::templates(profile);
    let p = profile.as_str();
    let mut out = vec![
        (PathBuf::from("cxsync.toml"), config(&s)),
        (spec_path(profile), spec(&s, name)),
        (
            PathBuf::from("specs/transforms/interaction_ended.jsonata"),
            transform.to_string(),
        ),
        (
            PathBuf::from(format!("specs/{p}-payload.schema.json")),
            schema.to_string(),
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

fn yaml_list(items: &[String]) -> String {
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
        format!("    scopes: {}\n", yaml_list(&s.scopes))
    };
    let personal = if s.personal_data.is_empty() {
        String::new()
    } else {
        format!("  allowPersonalData: {}\n", yaml_list(&s.personal_data))
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
    let vars = vars(
        s,
        [
            ("name", quoted),
            ("title_short", s.title.trim_start_matches("a ").to_string()),
            ("channel", channel),
            ("secret", secret),
            ("scopes", scopes),
            ("cache_ttl", cache_ttl.to_string()),
            ("personal", personal),
            ("prefix", prefix),
            ("now", TEST_NOW.to_string()),
        ],
    );
    fill(include_str!("templates/spec.yaml"), &vars)
}

fn scenario(s: &Starter) -> String {
    let vars = vars(
        s,
        [
            ("spec", spec_path(s.profile).display().to_string()),
            ("scenario", scenario_path(s.profile).display().to_string()),
        ],
    );
    fill(include_str!("templates/scenario.yaml"), &vars)
}

/// A starter's facts by field name, as a template writes them: text as it is, numbers in digits
/// (its lists are not written as such; the spec lines that use them are built in [`spec`]).
fn facts(s: &Starter) -> BTreeMap<String, String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(s) else {
        unreachable!("a struct serialises to an object")
    };
    fields
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(t) => Some((k, t)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect()
}

/// [`facts`] and the values a template derives from them.
fn vars<const N: usize>(s: &Starter, derived: [(&str, String); N]) -> BTreeMap<String, String> {
    let mut vars = facts(s);
    vars.extend(derived.map(|(k, v)| (k.to_string(), v)));
    vars
}

/// `template` with every `{{name}}` replaced by `vars[name]`. The templates are cxsync's own; a
/// name without a value is a bug a test catches for every profile.
fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").expect("a template placeholder is closed");
        let name = &after[..end];
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => panic!("template placeholder {{{{{name}}}}} has no value"),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
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
    fn a_template_names_a_fact_in_double_braces_and_single_braces_stay() {
        let vars = BTreeMap::from([("x".to_string(), "1".to_string())]);
        assert_eq!(
            fill("a: {{x}}, b: { c: {{x}} }", &vars),
            "a: 1, b: { c: 1 }"
        );
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
