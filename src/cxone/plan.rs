//! The plan: compiled payloads diffed by value against the live Event Hub objects. Pure: the live
//! objects are read by the caller (`cxone::read_live`) and handed in, so a plan is a function of
//! (payloads, live, options) and renders byte-identically.
//!
//! Server-set fields are ignored; secrets are shown as `(sensitive)`, and a secret the server
//! returns masked is treated as unchanged (it cannot be compared). See docs/apply.md.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::client::paths;
use crate::compile::Payloads;

/// Fields the server sets on any object; never compared, never sent.
pub const SERVER_FIELDS: &[&str] = &[
    "id",
    "channelId",
    "ruleId",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "status",
    "version",
    "etag",
    "links",
    "tenantId",
];

/// Keys whose values are credentials (compared case-insensitively; header names included).
const SECRET_KEYS: &[&str] = &[
    "clientsecret",
    "token",
    "password",
    "accesskeysecret",
    "authorization",
    "x-api-key",
    "api-key",
    "apikey",
];

/// What the plan does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Remove,
    /// In the spec and equal to live.
    Unchanged,
    /// A rule of a later rollout stage than `--stage`.
    Deferred,
}

/// Which Event Hub object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Channel,
    RetryPolicy,
    Rule,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Channel => "channel",
            Kind::RetryPolicy => "retry-policy",
            Kind::Rule => "rule",
        }
    }
}

/// One field that differs. Values are display strings with secrets already replaced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path, `[i]` for array items (`actions[0].jsonataExpression`).
    pub path: String,
    /// Live value (`None`: absent).
    pub old: Option<String>,
    /// Proposed value (`None`: removed).
    pub new: Option<String>,
}

/// One action of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub op: Op,
    pub kind: Kind,
    /// Channel name or rule id.
    pub name: String,
    pub method: &'static str,
    pub path: String,
    /// Rollout stage of a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<u32>,
    /// Field-level changes (all fields for a create).
    pub changes: Vec<FieldChange>,
    /// The body to send (with real secrets; never printed).
    #[serde(skip)]
    pub body: Option<Value>,
}

/// The live objects that matter to one spec.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The channel with the spec's name, if it exists.
    pub channel: Option<Value>,
    /// Its retry policy, if it has one.
    pub retry_policy: Option<Value>,
    /// Rules by id: the spec's rules that exist, and (for `--prune`) every rule routing to the
    /// channel.
    pub rules: BTreeMap<String, Value>,
}

/// Plan options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Remove live rules routing to the channel that the spec does not declare.
    pub prune: bool,
    /// Apply only rules of rollout stages ≤ this.
    pub max_stage: Option<u32>,
    /// Treat secrets the server returns masked as changed, so apply re-sends them (after a
    /// rotation: a masked secret cannot be compared).
    pub rotate_secrets: bool,
}

/// The plan: actions in apply order (channel, retry policy, rules in manifest order, removals).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a.op, Op::Create | Op::Update | Op::Remove))
    }

    /// Counts of (create, update, remove).
    pub fn counts(&self) -> (usize, usize, usize) {
        let c = |op| self.actions.iter().filter(|a| a.op == op).count();
        (c(Op::Create), c(Op::Update), c(Op::Remove))
    }
}

/// The route target of a rule: the `channelId` of its `ROUTE` action.
pub fn rule_channel(rule: &Value) -> Option<&str> {
    rule.get("actions")?
        .as_array()?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("ROUTE"))?
        .get("channelId")?
        .as_str()
}

/// Builds the plan. `stages[i]` is the rollout stage of `payloads.rules[i]`.
pub fn plan(payloads: &Payloads, stages: &[u32], live: &Live, opts: &Options) -> Plan {
    let name = payloads.channel["name"].as_str().unwrap_or("").to_string();
    let mut actions = Vec::new();
    actions.push(match &live.channel {
        None => create(
            Kind::Channel,
            &name,
            "POST",
            paths::CHANNELS,
            &payloads.channel,
        ),
        Some(l) => update(
            Kind::Channel,
            &name,
            "PUT",
            &paths::channel(&name),
            &payloads.channel,
            l,
        ),
    });
    if opts.rotate_secrets && live.channel.is_some() {
        rotate(&mut actions[0], &payloads.channel);
    }
    let rp = paths::retry_policy(&name);
    actions.push(match &live.retry_policy {
        // A policy is created and replaced with the same PUT.
        None => create(Kind::RetryPolicy, &name, "PUT", &rp, &payloads.retry_policy),
        Some(l) => update(
            Kind::RetryPolicy,
            &name,
            "PUT",
            &rp,
            &payloads.retry_policy,
            l,
        ),
    });
    for (i, (id, body)) in payloads.rules.iter().enumerate() {
        let stage = stages.get(i).copied().unwrap_or(1);
        let path = paths::rule(id);
        let mut a = match live.rules.get(id) {
            None => create(Kind::Rule, id, "PUT", &path, body),
            Some(l) => update(Kind::Rule, id, "PUT", &path, body, l),
        };
        a.stage = Some(stage);
        if opts.max_stage.is_some_and(|m| stage > m) && a.op != Op::Unchanged {
            a.op = Op::Deferred;
            a.body = None;
        }
        actions.push(a);
    }
    if opts.prune {
        for (id, rule) in &live.rules {
            let ours = payloads.rules.iter().any(|(r, _)| r == id);
            if !ours && rule_channel(rule) == Some(name.as_str()) {
                actions.push(Action {
                    op: Op::Remove,
                    kind: Kind::Rule,
                    name: id.clone(),
                    method: "DELETE",
                    path: paths::rule(id),
                    stage: None,
                    changes: Vec::new(),
                    body: None,
                });
            }
        }
    }
    Plan { actions }
}

fn create(kind: Kind, name: &str, method: &'static str, path: &str, desired: &Value) -> Action {
    let mut changes = Vec::new();
    leaves(desired, String::new(), false, &mut changes);
    Action {
        op: Op::Create,
        kind,
        name: name.to_string(),
        method,
        path: path.to_string(),
        stage: None,
        changes,
        body: Some(desired.clone()),
    }
}

fn update(
    kind: Kind,
    name: &str,
    method: &'static str,
    path: &str,
    desired: &Value,
    live: &Value,
) -> Action {
    let mut changes = Vec::new();
    let live = strip_server_fields(live);
    diff(&live, desired, String::new(), false, &mut changes);
    Action {
        op: if changes.is_empty() {
            Op::Unchanged
        } else {
            Op::Update
        },
        kind,
        name: name.to_string(),
        method,
        path: path.to_string(),
        stage: None,
        changes,
        body: Some(desired.clone()),
    }
}

/// Adds every secret of `desired` to an update (or turns an unchanged channel into one).
fn rotate(a: &mut Action, desired: &Value) {
    let mut all = Vec::new();
    leaves(desired, String::new(), false, &mut all);
    for ch in all {
        if ch.new.as_deref() == Some("(sensitive)") && !a.changes.iter().any(|c| c.path == ch.path)
        {
            a.changes.push(FieldChange {
                path: ch.path,
                old: Some("(sensitive)".into()),
                new: Some("(sensitive, re-sent)".into()),
            });
        }
    }
    if !a.changes.is_empty() {
        a.op = Op::Update;
    }
}

/// The live object without the fields the server sets.
pub fn strip_server_fields(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !SERVER_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_secret_key(path: &str) -> bool {
    let last = path.rsplit(['.', '[']).next().unwrap_or(path);
    let key = last
        .trim_end_matches([']', '"'])
        .trim_start_matches('"')
        .to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str())
}

/// A value a server returns in place of a secret it will not reveal.
fn is_masked(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() || s.chars().all(|c| c == '*' || c == '•'),
        _ => false,
    }
}

fn show(v: &Value, secret: bool) -> String {
    if secret || v.as_str().is_some_and(|s| s.contains("${VAULT_SECRET")) {
        "(sensitive)".to_string()
    } else {
        v.to_string()
    }
}

/// `base.key`, or `base["key"]` when the key is not a plain identifier (condition paths such as
/// `interaction.channel.type`, header names such as `Content-Type`).
fn join_path(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", Value::String(key.to_string())),
    }
}

/// Field-level differences between two JSON values (`old` → `new`), secrets shown as
/// `(sensitive)`; used for payload diffs as well as object diffs.
pub fn field_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff(old, new, String::new(), false, &mut out);
    out
}

fn leaves(v: &Value, path: String, secret: bool, out: &mut Vec<FieldChange>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = join_path(&path, k);
                let s = secret || is_secret_key(&p);
                leaves(x, p, s, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), secret, out);
            }
        }
        _ => out.push(FieldChange {
            path,
            old: None,
            new: Some(show(v, secret)),
        }),
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn diff(live: &Value, desired: &Value, path: String, secret: bool, out: &mut Vec<FieldChange>) {
    if secret && is_masked(live) {
        return;
    }
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            for (k, dv) in d {
                let p = join_path(&path, k);
                let s = secret || is_secret_key(&p);
                match l.get(k) {
                    Some(lv) => diff(lv, dv, p, s, out),
                    None if s => {}
                    None => out.push(FieldChange {
                        path: p,
                        old: None,
                        new: Some(show(dv, s)),
                    }),
                }
            }
            for (k, lv) in l {
                if !d.contains_key(k) {
                    let p = join_path(&path, k);
                    let s = secret || is_secret_key(&p);
                    out.push(FieldChange {
                        path: p,
                        old: Some(show(lv, s)),
                        new: None,
                    });
                }
            }
        }
        (Value::Array(l), Value::Array(d))
            if l.len() == d.len() && d.iter().any(Value::is_object) =>
        {
            for (i, (lv, dv)) in l.iter().zip(d).enumerate() {
                diff(lv, dv, format!("{path}[{i}]"), secret, out);
            }
        }
        (Value::Array(l), Value::Array(d)) if l.len() == d.len() => {
            if l.iter().zip(d).any(|(a, b)| !(a == b || same_number(a, b))) {
                out.push(FieldChange {
                    path,
                    old: Some(show(live, secret)),
                    new: Some(show(desired, secret)),
                });
            }
        }
        (l, d) if l == d || same_number(l, d) => {}
        (l, d) => out.push(FieldChange {
            path,
            old: Some(show(l, secret)),
            new: Some(show(d, secret)),
        }),
    }
}

/// Renders the plan for people, terraform-style.
pub fn render(plan: &Plan, api: &str) -> String {
    let mut s = String::new();
    let (c, u, r) = plan.counts();
    if !plan.has_changes() {
        s.push_str(&format!(
            "No changes. The Event Hub at {api} matches the spec.\n"
        ));
    } else {
        s.push_str(&format!("Event Hub at {api}: cxsync will\n\n"));
    }
    for a in &plan.actions {
        let stage = a.stage.map(|n| format!(" (stage {n})")).unwrap_or_default();
        let head = |sym: &str, verb: &str| {
            format!(
                "  {sym} {verb} {} {}{stage}    {} {}\n",
                a.kind.as_str(),
                a.name,
                a.method,
                a.path
            )
        };
        match a.op {
            Op::Unchanged => continue,
            Op::Create => {
                s.push_str(&head("+", "create"));
                for ch in &a.changes {
                    s.push_str(&format!(
                        "      + {}: {}\n",
                        ch.path,
                        ch.new.as_deref().unwrap_or("")
                    ));
                }
            }
            Op::Update => {
                s.push_str(&head("~", "update"));
                for ch in &a.changes {
                    s.push_str(&render_change(ch));
                }
            }
            Op::Remove => {
                s.push_str(&head("-", "remove"));
                s.push_str("      (routes to the channel but is not in the spec; --prune)\n");
            }
            Op::Deferred => {
                s.push_str(&format!(
                    "  … defer {} {}{stage}: a later rollout stage than --stage\n",
                    a.kind.as_str(),
                    a.name
                ));
            }
        }
        s.push('\n');
    }
    if plan.has_changes() {
        s.push_str(&format!(
            "Plan: {c} to create, {u} to update, {r} to remove.\n"
        ));
    }
    s
}

/// One field change as text, indented for a plan.
pub fn render_change(ch: &FieldChange) -> String {
    match (&ch.old, &ch.new) {
        (None, Some(n)) => format!("      + {}: {n}\n", ch.path),
        (Some(o), None) => format!("      - {}: {o}\n", ch.path),
        (Some(o), Some(n)) if o.len() + n.len() > 100 && o.starts_with('"') => {
            // Long strings (JSONata) as a line diff of their text, not two unreadable lines.
            let o: String = serde_json::from_str(o).unwrap_or_else(|_| o.clone());
            let n: String = serde_json::from_str(n).unwrap_or_else(|_| n.clone());
            let mut t = format!("      ~ {}:\n", ch.path);
            let d = similar::TextDiff::from_lines(&o, &n);
            for change in d.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                t.push_str(&format!(
                    "          {sign} {}\n",
                    change.value().trim_end_matches('\n')
                ));
            }
            t
        }
        (Some(o), Some(n)) => format!("      ~ {}: {o} → {n}\n", ch.path),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payloads() -> Payloads {
        Payloads {
            channel: json!({"name": "C", "authentication": {"clientSecret": "s3cr3t-value", "clientId": "x"}, "batchSize": 1}),
            retry_policy: json!({"maxRetries": 5, "backoffMultiplier": 2.0}),
            rules: vec![
                (
                    "R1".into(),
                    json!({"name": "one", "actions": [{"type": "ROUTE", "channelId": "C"}]}),
                ),
                (
                    "R2".into(),
                    json!({"name": "two", "actions": [{"type": "ROUTE", "channelId": "C"}]}),
                ),
            ],
            manifest: vec![],
        }
    }

    #[test]
    fn nothing_live_creates_everything_and_hides_the_secret() {
        let p = plan(&payloads(), &[1, 2], &Live::default(), &Options::default());
        assert_eq!(p.counts(), (4, 0, 0));
        let text = render(&p, "http://h");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.contains("authentication.clientSecret: (sensitive)"),
            "{text}"
        );
    }

    #[test]
    fn server_fields_masked_secrets_and_number_forms_are_not_changes() {
        let pl = payloads();
        let mut live = Live {
            channel: Some(
                json!({"id": "ch-1", "createdAt": "t", "name": "C", "authentication": {"clientSecret": "******", "clientId": "x"}, "batchSize": 1}),
            ),
            retry_policy: Some(json!({"maxRetries": 5, "backoffMultiplier": 2})),
            rules: BTreeMap::new(),
        };
        for (id, b) in &pl.rules {
            live.rules.insert(id.clone(), b.clone());
        }
        let p = plan(&pl, &[1, 1], &live, &Options::default());
        assert!(!p.has_changes(), "{p:#?}");
        let rotate = Options {
            rotate_secrets: true,
            ..Options::default()
        };
        let p = plan(&pl, &[1, 1], &live, &rotate);
        assert_eq!(p.counts(), (0, 1, 0));
        assert!(render(&p, "h")
            .contains("~ authentication.clientSecret: (sensitive) → (sensitive, re-sent)"));
    }

    #[test]
    fn credential_headers_are_sensitive_and_odd_keys_are_quoted() {
        let p = create(
            Kind::Channel,
            "C",
            "POST",
            "/",
            &json!({"headers": {"Authorization": "Bearer abcdef", "Content-Type": "x"},
                    "conditions": {"a.b": [1]}}),
        );
        let paths: Vec<(&str, &str)> = p
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.new.as_deref().unwrap()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("headers.Authorization", "(sensitive)"),
                (r#"headers["Content-Type"]"#, r#""x""#),
                (r#"conditions["a.b"]"#, "[1]"),
            ]
        );
    }

    #[test]
    fn a_changed_field_is_an_update_with_old_and_new() {
        let pl = payloads();
        let live = Live {
            channel: Some(
                json!({"name": "C", "authentication": {"clientId": "x"}, "batchSize": 10, "extra": true}),
            ),
            ..Live::default()
        };
        let p = plan(&pl, &[1, 1], &live, &Options::default());
        let ch = &p.actions[0];
        assert_eq!(ch.op, Op::Update);
        let text = render(&p, "h");
        assert!(text.contains("~ batchSize: 10 → 1"), "{text}");
        assert!(text.contains("- extra: true"), "{text}");
    }

    #[test]
    fn later_stages_are_deferred_and_prune_removes_foreign_rules_only_on_our_channel() {
        let pl = payloads();
        let mut live = Live::default();
        live.rules.insert(
            "OLD".into(),
            json!({"actions": [{"type": "ROUTE", "channelId": "C"}]}),
        );
        live.rules.insert(
            "OTHER".into(),
            json!({"actions": [{"type": "ROUTE", "channelId": "D"}]}),
        );
        let p = plan(
            &pl,
            &[1, 2],
            &live,
            &Options {
                prune: true,
                max_stage: Some(1),
                rotate_secrets: false,
            },
        );
        let ops: Vec<(Op, &str)> = p.actions.iter().map(|a| (a.op, a.name.as_str())).collect();
        assert_eq!(
            ops,
            vec![
                (Op::Create, "C"),
                (Op::Create, "C"),
                (Op::Create, "R1"),
                (Op::Deferred, "R2"),
                (Op::Remove, "OLD")
            ]
        );
    }
}
