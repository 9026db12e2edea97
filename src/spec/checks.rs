//! Semantic checks the schema cannot express, as a row of small `check_*` functions that each
//! return everything they found (Vector's `config/validation.rs` style). They read the merged,
//! interpolated tree rather than the typed model so that they still run (and report) when the
//! schema found errors elsewhere in the file: a person fixing a spec wants every problem at once.
//!
//! Judgement calls (jitter, TTLs, status lists, …) are lint rules, not here: these checks reject
//! specs that cannot be compiled or applied correctly.

use std::collections::BTreeMap;

use serde_json::Value;

use super::interp::{scan, sub_span, RefKind};
use super::yaml::SourceMap;
use crate::diag::Diagnostic;
use crate::net::{require_https_or_loopback_template, UrlError};

/// One check of the parsed tree.
type Check = fn(&Value, &SourceMap) -> Vec<Diagnostic>;

/// Every check, in the order their diagnostics are reported.
const CHECKS: &[Check] = &[
    check_version,
    check_duplicate_rule_ids,
    check_urls,
    check_idempotency_template,
    check_rule_stages,
    check_dlq_bucket,
    check_header_case,
    check_condition_paths,
    check_file_names,
    check_test_now,
    check_environment_names,
    check_environment_rule_ids,
    check_scopes,
];

/// Runs every check. Diagnostics carry spans but no file.
pub fn run(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    CHECKS.iter().flat_map(|check| check(tree, map)).collect()
}

/// Names Windows reserves for devices, with or without an extension (`CON`, `con.json`).
pub fn is_windows_device_name(id: &str) -> bool {
    let stem = id.split('.').next().unwrap_or(id).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit())
}

/// Rule ids become `rules/<id>.json`: a Windows device name cannot be a file there, and two ids
/// that differ only in case are one file on macOS and Windows.
pub fn check_file_names(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut first: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, r) in rules(tree) {
        let Some(id) = r.get("id").and_then(Value::as_str) else {
            continue;
        };
        let at = map.value_span(&format!("/rules/{i}/id"));
        if is_windows_device_name(id) {
            out.push(
                Diagnostic::error("E411", format!("rule id `{id}` is a reserved file name on Windows"))
                    .at_opt(at)
                    .with_help("`compile` writes `rules/<id>.json`; Windows reserves CON, PRN, AUX, NUL, COM0–9 and LPT0–9 in any case; rename the rule"),
            );
        }
        match first.get(&id.to_ascii_lowercase()) {
            // Exact duplicates are E401's.
            Some(&(j, other)) if other != id => out.push(
                Diagnostic::error(
                    "E401",
                    format!("rule ids `{other}` and `{id}` differ only in case"),
                )
                .at_opt(at)
                .with_help(format!(
                    "their compiled files `rules/{other}.json` and `rules/{id}.json` are one file on macOS and Windows (`{other}` is rule {j})"
                )),
            ),
            Some(_) => {}
            None => {
                first.insert(id.to_ascii_lowercase(), (i, id));
            }
        }
    }
    out
}

/// `test.now` is the instant `$now()` returns in tests.
pub fn check_test_now(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let pointer = "/test/now";
    match tree.pointer(pointer).and_then(Value::as_str) {
        Some(t) => match super::parse_instant(t) {
            Ok(_) => Vec::new(),
            Err(e) => vec![Diagnostic::error("E408", format!("`test.now`: {e}"))
                .at_opt(map.value_span(pointer))],
        },
        None => Vec::new(),
    }
}

/// `version` must be the one this cxsync reads.
pub fn check_version(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    match tree.get("version").and_then(Value::as_u64) {
        Some(v) if v != u64::from(super::model::SPEC_VERSION) => {
            vec![
                Diagnostic::error("E407", format!("unsupported spec version {v}"))
                    .at_opt(map.value_span("/version"))
                    .with_help(format!(
                        "this cxsync reads `version: {}`",
                        super::model::SPEC_VERSION
                    )),
            ]
        }
        _ => Vec::new(),
    }
}

/// Rule ids name API paths and output files: each must be unique.
pub fn check_duplicate_rule_ids(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in rules(tree) {
        let Some(id) = r.get("id").and_then(Value::as_str) else {
            continue;
        };
        match first.get(id) {
            Some(&j) => {
                let prev = map.value_span(&format!("/rules/{j}/id"));
                let mut d = Diagnostic::error("E401", format!("duplicate rule id `{id}`"))
                    .at_opt(map.value_span(&format!("/rules/{i}/id")));
                if let Some(p) = prev {
                    d = d.with_help(format!(
                        "first used at line {}; each rule is one `PUT /api/v2/eventhub/rules/{{id}}`",
                        p.start.line
                    ));
                }
                out.push(d);
            }
            None => {
                first.insert(id, i);
            }
        }
    }
    out
}

fn rules(tree: &Value) -> impl Iterator<Item = (usize, &Value)> {
    tree.get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The spec's URL fields (JSON pointers).
pub const URL_FIELDS: [&str; 3] = [
    "/channel/destinationUri",
    "/channel/auth/tokenEndpoint",
    "/deadLetterQueue/alertEndpoint",
];

/// Endpoints must be `https://`; plain `http://` only on loopback (mock servers, tests).
pub fn check_urls(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for pointer in URL_FIELDS {
        let Some(url) = tree.pointer(pointer).and_then(Value::as_str) else {
            continue;
        };
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        let at = map.value_span(pointer);
        // The URL parser forgives what a URL's text must not have: `https:///v1` is read as host
        // `v1`, and a space is encoded silently. This runs on the text after `${env:}`
        // interpolation, where an empty variable leaves exactly that.
        if let Some(problem) = url_text_problem(url) {
            out.push(
                Diagnostic::error("E409", format!("`{field}` {problem}"))
                    .at_opt(at)
                    .with_help(
                        "write the full URL, e.g. `https://crm.example.com/v1/interactions`; when it is built from `${env:…}` variables, one of them is empty or holds what a URL cannot",
                    ),
            );
            continue;
        }
        match require_https_or_loopback_template(url) {
            Ok(()) => {}
            Err(UrlError::NotAUrl { .. }) => out.push(
                Diagnostic::error("E409", format!("`{field}` is not an absolute URL"))
                    .at_opt(at)
                    .with_help("write the full URL, e.g. `https://crm.example.com/v1/interactions`"),
            ),
            Err(UrlError::NoHost { .. }) => {
                out.push(Diagnostic::error("E409", format!("`{field}` has no host")).at_opt(at))
            }
            Err(UrlError::PlainHttp { host, .. }) => out.push(
                Diagnostic::error(
                    "E402",
                    format!("`{field}` uses plain http:// to `{host}`"),
                )
                .at_opt(at)
                .with_help("use https://; plain http:// is allowed only on loopback (localhost, 127.0.0.1, [::1])"),
            ),
            Err(UrlError::Scheme { scheme, .. }) => out.push(
                Diagnostic::error("E402", format!("`{field}` uses unsupported scheme `{scheme}://`"))
                    .at_opt(at)
                    .with_help("use https://"),
            ),
        }
    }
    out
}

/// What a URL's text has that the URL parser would forgive: no host between `://` and the path
/// (`https:///v1`), or whitespace or a control character anywhere.
fn url_text_problem(url: &str) -> Option<&'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains a space or a control character");
    }
    let (_, rest) = url.split_once("://")?;
    matches!(
        rest.chars().next(),
        None | Some('/' | '?' | '#' | '@' | ':')
    )
    .then_some("has no host")
}

/// The idempotency template: balanced `${…}`, non-empty dotted event paths, at least one event
/// reference (a constant key would deduplicate every event into one).
pub fn check_idempotency_template(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let pointer = "/idempotency/key";
    let Some(key) = tree.pointer(pointer).and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let refs = match scan(key) {
        Ok(r) => r,
        Err(e) => {
            return vec![Diagnostic::error(
                "E403",
                format!("idempotency key template: {}", e.message),
            )
            .at_opt(sub_span(map, pointer, key, e.offset, e.offset + 2))
            .with_help("write event references as `${interaction.id}`")];
        }
    };
    if let Some(ci) = key
        .chars()
        .enumerate()
        .find(|(ci, c)| *c == '}' && !refs.iter().any(|r| ci + 1 == r.end))
        .map(|(ci, _)| ci)
    {
        out.push(
            Diagnostic::error("E403", "idempotency key template has a `}` without `${`")
                .at_opt(sub_span(map, pointer, key, ci, ci + 1)),
        );
    }
    for r in &refs {
        match r.kind() {
            RefKind::Event(path) => {
                let valid = !path.is_empty()
                    && path.split('.').all(|seg| {
                        !seg.is_empty()
                            && seg.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    });
                if !valid {
                    out.push(
                        Diagnostic::error(
                            "E403",
                            if path.is_empty() {
                                "idempotency key template has an empty `${}`".to_string()
                            } else {
                                format!("idempotency key template: `{path}` is not an event path")
                            },
                        )
                        .at_opt(sub_span(map, pointer, key, r.start, r.end))
                        .with_help("an event path is dotted field names, e.g. `${interaction.id}`"),
                    );
                }
            }
            RefKind::Vault(_) => out.push(
                Diagnostic::error(
                    "E403",
                    "idempotency key template refers to a vault secret",
                )
                .at_opt(sub_span(map, pointer, key, r.start, r.end))
                .with_help("the key is built from event fields, e.g. `${interaction.id}_${event.type}`"),
            ),
            RefKind::Env(_) => {}
        }
    }
    if out.is_empty() && !refs.iter().any(|r| matches!(r.kind(), RefKind::Event(_))) {
        out.push(
            Diagnostic::error(
                "E403",
                "idempotency key template refers to no event field",
            )
            .at_opt(map.value_span(pointer))
            .with_help("a constant key makes the CRM treat every event as a duplicate of the first; use e.g. `${interaction.id}_${event.type}`"),
        );
    }
    out
}

/// A rule's `stage` must be declared in `rollout` when rollout stages are declared.
pub fn check_rule_stages(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(stages) = tree.get("rollout").and_then(Value::as_array) else {
        return Vec::new();
    };
    if stages.is_empty() {
        return Vec::new();
    }
    let declared: Vec<u64> = stages
        .iter()
        .filter_map(|s| s.get("stage").and_then(Value::as_u64))
        .collect();
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, s) in stages.iter().enumerate() {
        if let Some(n) = s.get("stage").and_then(Value::as_u64) {
            if seen.insert(n, i).is_some() {
                out.push(
                    Diagnostic::error("E405", format!("rollout stage {n} is declared twice"))
                        .at_opt(map.value_span(&format!("/rollout/{i}/stage"))),
                );
            }
        }
    }
    let list = declared
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    for (i, r) in rules(tree) {
        let stage = r.get("stage").and_then(Value::as_u64).unwrap_or(1);
        if !declared.contains(&stage) {
            let pointer = format!("/rules/{i}/stage");
            let at = if r.get("stage").is_some() {
                map.value_span(&pointer)
            } else {
                map.key_span(&format!("/rules/{i}"))
            };
            out.push(
                Diagnostic::error(
                    "E405",
                    format!("rule stage {stage} is not declared in `rollout`"),
                )
                .at_opt(at)
                .with_help(format!("declared stages: {list}")),
            );
        }
    }
    out
}

/// An enabled DLQ needs a bucket to write to.
pub fn check_dlq_bucket(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(dlq) = tree.get("deadLetterQueue") else {
        return Vec::new();
    };
    let enabled = dlq.get("enabled").and_then(Value::as_bool) == Some(true);
    let bucket = dlq.get("bucketName").and_then(Value::as_str).unwrap_or("");
    if enabled && bucket.trim().is_empty() {
        vec![Diagnostic::error(
            "E406",
            "the dead-letter queue is enabled but has no `bucketName`",
        )
        .at_opt(map.key_span("/deadLetterQueue"))
        .with_help(
            "add `bucketName:` (the guide uses `cxone-eventhub-dlq-prod`) or set `enabled: false`",
        )]
    } else {
        Vec::new()
    }
}

/// HTTP header names ignore case (RFC 9110 §5.1): two `channel.headers` names that differ only
/// in case would both be compiled and sent, and which one the CRM reads is up to it.
pub fn check_header_case(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(headers) = tree.pointer("/channel/headers").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for name in headers.keys() {
        match seen.iter().find(|s| s.eq_ignore_ascii_case(name)) {
            Some(first) => {
                let first_at = map
                    .key_span(&crate::spec::yaml::child("/channel/headers", first))
                    .map(|s| format!(" (at {}:{})", s.start.line, s.start.column))
                    .unwrap_or_default();
                out.push(
                    Diagnostic::error(
                        "E106",
                        format!(
                            "header `{name}` repeats `{first}`{first_at}: header names ignore case"
                        ),
                    )
                    .at_opt(map.key_span(&crate::spec::yaml::child("/channel/headers", name)))
                    .with_help(
                        "keep one of them: both would be sent, and which one the CRM reads is up to it (an environment overrides a header by its exact name)",
                    ),
                );
            }
            None => seen.push(name),
        }
    }
    out
}

/// A condition path is dotted field names (a whole number indexes a list: `tags.0`), read by the
/// rule matcher. A path with an empty segment (`a..b`, `.a`, `a.`) or a bracket index
/// (`tags[0]`, read as the field name `tags[0]`) can never match an event: E413 at the path.
pub fn check_condition_paths(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(rules) = tree.get("rules").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let Some(conditions) = rule.get("conditions").and_then(Value::as_object) else {
            continue;
        };
        for path in conditions.keys() {
            let at = map.key_span(&crate::spec::yaml::child(
                &format!("/rules/{i}/conditions"),
                path,
            ));
            let (message, help) = if path.split('.').any(str::is_empty) {
                (
                    format!("condition path `{path}` has an empty segment: it can never match"),
                    "write dotted field names, one `.` between two names (`interaction.channel.type`)"
                        .to_string(),
                )
            } else if let Some(dotted) = bracket_to_dotted(path) {
                (
                    format!("condition path `{path}` reads a field named `{}`: brackets do not index a list here, so it can never match", path.split('.').find(|s| s.contains('[')).unwrap_or(path)),
                    format!("did you mean `{dotted}`? A whole-number segment indexes a list"),
                )
            } else {
                continue;
            };
            out.push(
                Diagnostic::error("E413", message)
                    .at_opt(at)
                    .with_help(help),
            );
        }
    }
    out
}

/// `tags[0].name` → `tags.0.name`, when every bracket holds a whole number; `None` when the path
/// has no such bracket.
fn bracket_to_dotted(path: &str) -> Option<String> {
    if !path.contains('[') {
        return None;
    }
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']')? + open;
        let index = &rest[open + 1..close];
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(&rest[..open]);
        out.push('.');
        out.push_str(index);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Longest environment name: it becomes part of every rule id of that environment.
pub const MAX_ENV_NAME: usize = 32;

/// Longest rule id (the schema's limit), also for the id an environment derives (`R--ENV`).
pub const MAX_RULE_ID: usize = 128;

/// An environment's name is part of its rule ids (`RULE--staging`, see docs/apply.md) and of the
/// owner marker on its channel, so it is restricted to what is safe in a URL path segment and in
/// an HTTP header.
pub fn check_environment_names(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(envs) = tree.get("environments").and_then(Value::as_object) else {
        return Vec::new();
    };
    envs.keys()
        .filter(|name| !is_environment_name(name))
        .map(|name| {
            let pointer = format!("/environments/{}", super::yaml::escape_token(name));
            Diagnostic::error(
                "E410",
                format!(
                    "environment name `{}` cannot be part of a rule id",
                    name.escape_debug()
                ),
            )
            .at_opt(map.key_span(&pointer))
            .with_help(format!(
                "use 1 to {MAX_ENV_NAME} letters, digits, `_` or `-` (e.g. `staging`, `eu-west`): \
                 rule `R` of environment `E` is applied as `R--E`"
            ))
        })
        .collect()
}

/// Rule `R` of environment `E` is applied as `R--E`: a rule of the spec whose id is already
/// `R--E`, beside a rule `R`, would be the same Event Hub rule as `R` under `--env E` (and each
/// plan would refuse the other's).
pub fn check_environment_rule_ids(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(envs) = tree.get("environments").and_then(Value::as_object) else {
        return Vec::new();
    };
    let ids: Vec<(usize, &str)> = rules(tree)
        .filter_map(|(i, r)| Some((i, r.get("id")?.as_str()?)))
        .collect();
    let mut out = Vec::new();
    for (i, id) in &ids {
        for env in envs.keys().filter(|e| is_environment_name(e)) {
            // The limit on a rule id holds for the id the environment gives it (tester #111).
            let derived = id.len() + super::model::ENV_ID_SEPARATOR.len() + env.len();
            if id.len() <= MAX_RULE_ID && derived > MAX_RULE_ID {
                out.push(
                    Diagnostic::error(
                        "E414",
                        format!(
                            "rule id `{id}` becomes `{id}{}{env}` in environment `{env}`: {derived} characters, more than the {MAX_RULE_ID} a rule id may have",
                            super::model::ENV_ID_SEPARATOR
                        ),
                    )
                    .at_opt(map.value_span(&format!("/rules/{i}/id")))
                    .with_help(format!(
                        "shorten the rule id to at most {} characters, or the environment's name (the id goes into API paths and file names)",
                        MAX_RULE_ID - super::model::ENV_ID_SEPARATOR.len() - env.len()
                    )),
                );
            }
            let Some(base) = id
                .strip_suffix(env.as_str())
                .and_then(|b| b.strip_suffix(super::model::ENV_ID_SEPARATOR))
            else {
                continue;
            };
            if ids.iter().any(|(_, other)| *other == base) {
                out.push(
                    Diagnostic::error(
                        "E412",
                        format!(
                            "rule id `{id}` is the Event Hub id environment `{env}` gives rule \
                             `{base}`: under `--env {env}` the two would be one rule"
                        ),
                    )
                    .at_opt(map.value_span(&format!("/rules/{i}/id")))
                    .with_help(format!(
                        "rename the rule: the `{}ENV` suffix is how cxsync keeps environments' \
                         rules apart (docs/apply.md)",
                        super::model::ENV_ID_SEPARATOR
                    )),
                );
            }
        }
    }
    out
}

/// Each OAuth scope is one RFC 6749 §3.3 `scope-token`: 1+ printable ASCII characters other
/// than space, `"` and `\`. The token request joins the scopes with spaces, so `"a b"` would be
/// sent as the two scopes `a` and `b`.
pub fn check_scopes(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(scopes) = tree
        .pointer("/channel/auth/scopes")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let nqchar = |c: char| matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    scopes
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let s = v.as_str()?;
            let bad = if s.is_empty() {
                "is empty".to_string()
            } else {
                let c = s.chars().find(|c| !nqchar(*c))?;
                format!("holds {}", if c == ' ' { "a space".to_string() } else { format!("`{}`", c.escape_debug()) })
            };
            Some(
                Diagnostic::error(
                    "E415",
                    format!("OAuth scope `{}` {bad}: a scope is one token", s.escape_debug()),
                )
                .at_opt(map.value_span(&format!("/channel/auth/scopes/{i}")))
                .with_help(
                    "write each scope as its own list item (`scopes: [a, b]`); a scope is printable ASCII without spaces, `\"` or `\\` (RFC 6749 §3.3), and the token request joins them with spaces",
                ),
            )
        })
        .collect()
}

/// Whether `name` may name an environment (see [`check_environment_names`]).
pub fn is_environment_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ENV_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_id_an_environment_would_give_another_rule_is_refused() {
        let spec = "rules:\n  - id: R\n  - id: R--staging\n  - id: S--dev\nenvironments:\n  staging: {}\n  prod: {}\n";
        let d = run_on(spec, check_environment_rule_ids);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "E412");
        assert!(d[0].message.contains("`R--staging`"), "{}", d[0].message);
    }

    /// The id an environment derives obeys the rule-id limit: a 120-character id fits beside
    /// `dev` (125) but not `production-eu-west-1` (142); a 100-character one fits both.
    #[test]
    fn a_rule_id_that_an_environment_makes_too_long_is_refused_at_the_id() {
        let (long, short) = ("R".repeat(120), "S".repeat(100));
        let spec = format!(
            "rules:\n  - id: {long}\n  - id: {short}\nenvironments:\n  dev: {{}}\n  production-eu-west-1: {{}}\n"
        );
        let d = run_on(&spec, check_environment_rule_ids);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "E414");
        assert!(
            d[0].message
                .contains("in environment `production-eu-west-1`: 142 characters"),
            "{}",
            d[0].message
        );
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .contains("at most 106 characters"),
            "{:?}",
            d[0].help
        );
        assert_eq!(d[0].span.unwrap().start.line, 2);
    }

    #[test]
    fn an_oauth_scope_is_one_rfc_6749_token() {
        let spec = "channel:\n  auth:\n    scopes: [crm.write, \"a b\", \"\", \"x\\\"y\", \"é\", \"c&d=e:f/g\"]\n";
        let d = run_on(spec, check_scopes);
        let said: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            said,
            [
                "OAuth scope `a b` holds a space: a scope is one token",
                "OAuth scope `` is empty: a scope is one token",
                "OAuth scope `x\\\"y` holds `\\\"`: a scope is one token",
                "OAuth scope `é` holds `é`: a scope is one token",
            ]
        );
        assert!(d.iter().all(|d| d.code == "E415" && d.span.is_some()));
    }

    fn run_on(text: &str, check: fn(&Value, &SourceMap) -> Vec<Diagnostic>) -> Vec<Diagnostic> {
        let d = crate::spec::yaml::parse(text).unwrap();
        check(&d.value, &d.map)
    }

    #[test]
    fn plain_http_is_allowed_only_on_loopback() {
        for (url, ok) in [
            ("https://crm.example.com/x", true),
            ("http://127.0.0.1:8080/x", true),
            ("http://localhost/x", true),
            ("http://[::1]:9000/x", true),
            // Refused before the loader used `net`; the HTTP driver accepted it all along.
            ("http://[0:0:0:0:0:0:0:1]:9000/x", true),
            ("http://crm.example.com/x", false),
            ("http://127.example.com/x", false),
            ("ftp://crm.example.com/x", false),
            ("crm.example.com/x", false),
        ] {
            let text = format!("channel:\n  destinationUri: {url}\n");
            assert_eq!(run_on(&text, check_urls).is_empty(), ok, "{url}");
        }
    }

    #[test]
    fn idempotency_templates_must_be_balanced_and_name_event_paths() {
        for (key, ok) in [
            ("${interaction.id}_${event.type}", true),
            ("${interaction.id", false),
            ("${}", false),
            ("${interaction..id}", false),
            ("constant", false),
            ("${interaction.id}}", false),
            ("${VAULT_SECRET:X}", false),
        ] {
            let text = format!("idempotency:\n  key: \"{key}\"\n");
            assert_eq!(
                run_on(&text, check_idempotency_template).is_empty(),
                ok,
                "{key}"
            );
        }
    }

    #[test]
    fn an_unclosed_template_reference_is_located_inside_the_string() {
        let ds = run_on("idempotency:\n  key: a_${b\n", check_idempotency_template);
        let s = ds[0].span.unwrap();
        assert_eq!((s.start.line, s.start.column), (2, 10));
    }

    #[test]
    fn environment_names_must_fit_in_a_rule_id() {
        let d = run_on(
            "environments:\n  staging: {}\n  eu-west_2: {}\n  \"eu west\": {}\n  a/b: {}\n",
            check_environment_names,
        );
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "environment name `eu west` cannot be part of a rule id",
                "environment name `a/b` cannot be part of a rule id"
            ]
        );
        assert!(d.iter().all(|d| d.span.is_some()), "{d:?}");
    }
}
