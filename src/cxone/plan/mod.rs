//! The plan: compiled payloads diffed by value against the live Event Hub objects. Pure: the live
//! objects are read by the caller (`cxone::read_live`) and handed in, so a plan is a function of
//! (payloads, live, options) and renders byte-identically.
//!
//! Server-set fields are ignored; secrets are redacted (`diff::redact`), and a secret the server
//! returns masked is treated as unchanged (it cannot be compared). Objects owned by another spec
//! or environment are never changed: they are [`Conflict`]s unless `--adopt` takes them over.
//! See docs/apply.md.

mod diff;
pub mod json;
mod render;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::paths;
use crate::compile::{Origins, Owner, Payloads, Side, OWNER_HEADER};
pub use diff::{field_diff, is_secret_name, is_sensitive, redact, sensitive, FieldChange};
pub use render::{render, render_change};

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

/// What the plan does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Absent live: created.
    Create,
    /// Ours (or unowned) and different: replaced.
    Update,
    /// Owned by another spec or environment, taken over with `--adopt` (and replaced).
    Adopt,
    /// A live rule removed: disabled in the spec, or (`--prune`) not in it.
    Remove,
    /// In the spec and equal to live.
    Unchanged,
    /// A rule of a later rollout stage than `--stage`.
    Deferred,
}

/// Which Event Hub object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Channel,
    RetryPolicy,
    Rule,
}

impl Kind {
    /// The word used in plans and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Channel => "channel",
            Kind::RetryPolicy => "retry-policy",
            Kind::Rule => "rule",
        }
    }
}

/// Why a live rule is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The spec declares the rule with `enabled: false` (removed without `--prune`).
    DisabledInSpec,
    /// It routes to the spec's channel, the spec does not declare it, and `--prune` was given.
    NotInSpec,
}

/// An ownership change an action makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OwnerChange {
    /// Who owns it now, in words (absent: nobody, the object has no owner marker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Who will own it.
    pub after: String,
}

/// One action of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub op: Op,
    pub kind: Kind,
    /// Channel name or live rule id.
    pub name: String,
    /// The spec's id of a rule (differs from `name` for an environment overlay).
    pub spec_id: Option<String>,
    pub method: &'static str,
    pub path: String,
    /// Rollout stage of a rule.
    pub stage: Option<u32>,
    /// Why a rule is removed.
    pub reason: Option<Reason>,
    /// Set when the action takes ownership (`adopt`) or claims an unowned object.
    pub owner: Option<OwnerChange>,
    /// Field-level changes (all fields for a create).
    pub changes: Vec<FieldChange>,
    /// The live object without server fields, secrets included: never printed (see
    /// [`Action::before`]); `None` when absent.
    pub live: Option<Value>,
    /// The proposed object, the body a write sends, secrets included: never printed (see
    /// [`Action::after`]); `None` for a removal.
    pub desired: Option<Value>,
    /// The origins of the proposed object's fields ([`crate::compile::Secrets`]): what is masked
    /// on both sides besides credential-named fields.
    pub origins: Origins,
}

impl Action {
    /// Whether apply sends this action's call.
    pub fn writes(&self) -> bool {
        matches!(self.op, Op::Create | Op::Update | Op::Adopt | Op::Remove)
    }

    /// The body apply sends, if the action writes one.
    pub fn body(&self) -> Option<&Value> {
        self.desired.as_ref().filter(|_| self.writes())
    }

    /// The live object as it may be shown (secrets redacted). Redacted on demand: a human plan
    /// of a thousand unchanged rules never pays for it.
    pub fn before(&self) -> Option<Value> {
        self.live
            .as_ref()
            .map(|v| redact(v, &self.origins, Side::Live))
    }

    /// The proposed object as it may be shown (secrets redacted).
    pub fn after(&self) -> Option<Value> {
        self.desired
            .as_ref()
            .map(|v| redact(v, &self.origins, Side::Sent))
    }
}

/// A live object the spec would change but that belongs to someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Conflict {
    pub kind: Kind,
    /// Channel name or live rule id.
    pub name: String,
    /// Who owns it, in words.
    pub owner: String,
    /// The whole sentence, as printed.
    pub message: String,
}

/// A live rule that routes to the spec's channel but is not in the spec, left live because
/// `--prune` was not given. Shown so a renamed rule's old id (which keeps receiving events) is
/// never invisible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unmanaged {
    /// Live rule id.
    pub id: String,
    /// Its display name, as live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its event type, as live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The live id of a spec rule with the same event type and conditions: every event it
    /// matches is routed to the channel by both rules (often the old id of a renamed rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_events_as: Option<String>,
}

/// The live objects that matter to one spec.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The channel with the spec's name, if it exists.
    pub channel: Option<Value>,
    /// Its retry policy, if it has one.
    pub retry_policy: Option<Value>,
    /// Rules by id: every live rule (as listed), the spec's own (enabled or not) read in full.
    pub rules: BTreeMap<String, Value>,
    /// Other channels by name (as listed), to name the owners of rules routing to them.
    pub channels: BTreeMap<String, Value>,
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
    /// Take over objects owned by another spec or environment instead of refusing.
    pub adopt: bool,
}

/// Counts of a plan's actions by op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub remove: usize,
    pub unchanged: usize,
    pub deferred: usize,
}

/// The plan: actions in apply order (channel, retry policy, rules in spec order, removals), and
/// the objects it refuses to touch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Who the spec's objects belong to.
    pub owner: Owner,
    pub actions: Vec<Action>,
    /// Objects owned by another spec or environment that the plan would change. A plan with
    /// conflicts is not applied (pass `--adopt` to take them over).
    pub conflicts: Vec<Conflict>,
    /// Live rules routing to the spec's channel that the spec does not declare and the plan
    /// leaves live (without `--prune`; with it they are removals).
    pub unmanaged: Vec<Unmanaged>,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(Action::writes)
    }

    /// Counts by op.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for a in &self.actions {
            *match a.op {
                Op::Create => &mut s.create,
                Op::Update => &mut s.update,
                Op::Adopt => &mut s.adopt,
                Op::Remove => &mut s.remove,
                Op::Unchanged => &mut s.unchanged,
                Op::Deferred => &mut s.deferred,
            } += 1;
        }
        s
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

/// The owner marker of a channel (its [`OWNER_HEADER`], header names compared
/// case-insensitively).
pub fn owner_marker(channel: &Value) -> Option<&str> {
    channel
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(OWNER_HEADER))?
        .1
        .as_str()
}

/// Who holds a live object, from the spec's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Marked as this spec and environment's.
    Ours,
    /// No owner marker (made by hand, or by a cxsync before ownership): free to claim.
    Unowned,
    /// Someone else's; the text names them.
    Foreign(String),
}

/// How a marker reads in a message.
fn describe(marker: &str) -> String {
    Owner::parse(marker).map_or_else(|| format!("`{marker}`"), |o| o.to_string())
}

/// Who holds a channel.
pub fn channel_claim(channel: &Value, ours: &Owner) -> Claim {
    match owner_marker(channel) {
        None => Claim::Unowned,
        Some(m) if Owner::parse(m).as_ref() == Some(ours) => Claim::Ours,
        Some(m) => Claim::Foreign(describe(m)),
    }
}

/// Who holds a live rule: the holder of the channel it routes to. A rule routing to the spec's
/// channel shares that channel's claim; one routing elsewhere belongs to that channel.
fn rule_claim(
    rule: &Value,
    ours: &Owner,
    our_channel: &str,
    channel: &Claim,
    live: &Live,
) -> Claim {
    match rule_channel(rule) {
        None => Claim::Unowned,
        Some(c) if c == our_channel => channel.clone(),
        Some(c) => {
            let owner = live
                .channels
                .get(c)
                .and_then(owner_marker)
                .filter(|m| Owner::parse(m).as_ref() != Some(ours))
                .map(|m| format!(", owned by {}", describe(m)))
                .unwrap_or_default();
            Claim::Foreign(format!("channel {}{owner}", shown(c)))
        }
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

/// `channel` without its owner header (how an unowned live channel is compared).
fn without_owner(channel: &Value) -> Value {
    let mut c = channel.clone();
    if let Some(h) = c.get_mut("headers").and_then(Value::as_object_mut) {
        h.retain(|k, _| !k.eq_ignore_ascii_case(OWNER_HEADER));
    }
    c
}

/// Builds the plan.
pub fn plan(payloads: &Payloads, live: &Live, opts: &Options) -> Plan {
    let owner = &payloads.owner;
    let name = payloads.channel["name"].as_str().unwrap_or("").to_string();
    let mut actions = Vec::new();
    let mut conflicts = Vec::new();
    let claim = live
        .channel
        .as_ref()
        .map_or(Claim::Ours, |c| channel_claim(c, owner));
    let refuse = |kind: Kind, id: &str, who: &str, what: String| Conflict {
        kind,
        name: id.to_string(),
        owner: who.to_string(),
        message: what,
    };

    // The channel.
    let channel_path = live
        .channel
        .as_ref()
        .map_or(paths::CHANNELS.to_string(), |_| paths::channel(&name));
    let target = Target {
        kind: Kind::Channel,
        name: &name,
        method: if live.channel.is_some() {
            "PUT"
        } else {
            "POST"
        },
        path: &channel_path,
        desired: &payloads.channel,
        origins: &payloads.secrets.channel,
    };
    let mut ch = match &live.channel {
        None => create(&target),
        Some(l) => match &claim {
            Claim::Unowned => {
                // The marker alone is not a change; it rides along with the next real one.
                let unmarked = without_owner(&payloads.channel);
                let mut a = update(
                    &Target {
                        desired: &unmarked,
                        ..target
                    },
                    l,
                );
                a.desired = Some(payloads.channel.clone());
                if a.op == Op::Update {
                    claim_change(&mut a, &payloads.channel, owner);
                }
                a
            }
            _ => update(&target, l),
        },
    };
    if opts.rotate_secrets && live.channel.is_some() {
        rotate(&mut ch, &payloads.channel);
    }
    if let Claim::Foreign(who) = &claim {
        if opts.adopt {
            ch.op = Op::Adopt;
            ch.owner = Some(OwnerChange {
                before: Some(who.clone()),
                after: owner.to_string(),
            });
        } else {
            conflicts.push(refuse(
                Kind::Channel,
                &name,
                who,
                format!(
                    "channel {} (and its retry policy and rules) is owned by {who}; this is {owner}",
                    shown(&name)
                ),
            ));
        }
    }
    actions.push(ch);

    // Its retry policy: created and replaced with the same PUT; it belongs to the channel.
    let rp = paths::retry_policy(&name);
    let target = Target {
        kind: Kind::RetryPolicy,
        name: &name,
        method: "PUT",
        path: &rp,
        desired: &payloads.retry_policy,
        origins: &payloads.secrets.retry_policy,
    };
    actions.push(match &live.retry_policy {
        None => create(&target),
        Some(l) => update(&target, l),
    });

    // The rules, in spec order.
    for r in &payloads.rules {
        let path = paths::rule(&r.id);
        let none = Origins::new();
        let target = Target {
            kind: Kind::Rule,
            name: &r.id,
            method: "PUT",
            path: &path,
            desired: &r.body,
            origins: payloads.secrets.rules.get(&r.id).unwrap_or(&none),
        };
        let mut a = match live.rules.get(&r.id) {
            None => create(&target),
            Some(l) => update(&target, l),
        };
        a.stage = Some(r.stage);
        a.spec_id = Some(r.spec_id.clone());
        if opts.max_stage.is_some_and(|m| r.stage > m) && a.op != Op::Unchanged {
            a.op = Op::Deferred;
        } else if let Some(l) = live.rules.get(&r.id) {
            // A rule routing to the spec's channel shares its claim (the channel's conflict covers
            // it); one routing to another channel is that channel's.
            let elsewhere = rule_channel(l) != Some(name.as_str());
            match rule_claim(l, owner, &name, &claim, live) {
                Claim::Foreign(who) if elsewhere && opts.adopt => {
                    a.op = Op::Adopt;
                    a.owner = Some(OwnerChange {
                        before: Some(who),
                        after: owner.to_string(),
                    });
                }
                Claim::Foreign(who) if elsewhere => conflicts.push(refuse(
                    Kind::Rule,
                    &r.id,
                    &who,
                    format!(
                        "rule {} routes to {who}, not to this spec's channel {}; applying would re-route it",
                        shown(&r.id),
                        shown(&name)
                    ),
                )),
                _ => {}
            }
        }
        actions.push(a);
    }

    // Removals: rules disabled in the spec, then (with --prune) rules not in it. Only rules
    // routing to the spec's channel are ever removed.
    let routes_here = |rule: &Value| rule_channel(rule) == Some(name.as_str());
    for (id, spec_id) in &payloads.disabled {
        if let Some(l) = live.rules.get(id).filter(|l| routes_here(l)) {
            let mut a = remove(id, l, Reason::DisabledInSpec);
            a.spec_id = Some(spec_id.clone());
            actions.push(a);
        }
    }
    let mut unmanaged = Vec::new();
    for (id, l) in &live.rules {
        let declared = payloads.rules.iter().any(|r| &r.id == id)
            || payloads.disabled.iter().any(|(d, _)| d == id);
        if declared || !routes_here(l) {
            continue;
        }
        if opts.prune {
            actions.push(remove(id, l, Reason::NotInSpec));
        } else {
            let text = |k: &str| l.get(k).and_then(Value::as_str).map(str::to_string);
            let same = |r: &&crate::compile::CompiledRule| {
                ["eventType", "conditions"]
                    .iter()
                    .all(|k| l.get(*k) == r.body.get(*k))
            };
            unmanaged.push(Unmanaged {
                id: id.clone(),
                name: text("name"),
                event_type: text("eventType"),
                same_events_as: payloads.rules.iter().find(same).map(|r| r.id.clone()),
            });
        }
    }
    // An unowned channel is claimed by the first apply that writes anything of the spec, and by
    // `--adopt` on purpose: from then on other specs and environments are refused.
    let writes_else = actions.iter().skip(1).any(Action::writes);
    if claim == Claim::Unowned && actions[0].op == Op::Unchanged && (writes_else || opts.adopt) {
        let a = &mut actions[0];
        claim_change(a, &payloads.channel, owner);
        a.op = if opts.adopt { Op::Adopt } else { Op::Update };
    }
    Plan {
        owner: owner.clone(),
        actions,
        conflicts,
        unmanaged,
    }
}

/// Whether the hub's object of `a` holds a credential-named field it returned masked (`****`,
/// empty, `null`): one the plan could not compare.
pub(super) fn hides_a_secret(a: &Action) -> bool {
    fn walk(v: &Value, credential: bool) -> bool {
        match v {
            Value::Object(m) => m
                .iter()
                .any(|(k, x)| walk(x, credential || is_secret_name(k))),
            Value::Array(xs) => xs.iter().any(|x| walk(x, credential)),
            other => credential && diff::is_masked(other),
        }
    }
    a.live.as_ref().is_some_and(|l| walk(l, false))
}

/// Whether a live id or name prints as it is: visible ASCII, no quote or backtick.
fn plain(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '`' && c != '"')
}

/// A live id or name as a plan line shows it: as it is when [`plain`], else as a JSON string, so
/// nothing a terminal could act on (control characters, escapes) reaches it from a hub.
pub fn label(id: &str) -> String {
    if plain(id) {
        id.to_string()
    } else {
        serde_json::to_string(id).unwrap_or_default()
    }
}

/// [`label`] inside a sentence: a plain id in backticks.
pub fn shown(id: &str) -> String {
    if plain(id) {
        format!("`{id}`")
    } else {
        label(id)
    }
}

fn remove(id: &str, live: &Value, reason: Reason) -> Action {
    Action {
        reason: Some(reason),
        live: Some(strip_server_fields(live)),
        ..Action::new(Op::Remove, Kind::Rule, id, "DELETE", &paths::rule(id))
    }
}

impl Action {
    /// An action with no objects or changes yet.
    fn new(op: Op, kind: Kind, name: &str, method: &'static str, path: &str) -> Action {
        Action {
            op,
            kind,
            name: name.to_string(),
            spec_id: None,
            method,
            path: path.to_string(),
            stage: None,
            reason: None,
            owner: None,
            changes: Vec::new(),
            live: None,
            desired: None,
            origins: Origins::new(),
        }
    }
}

/// Records that an update claims an unowned channel: the marker is written with it.
fn claim_change(a: &mut Action, desired: &Value, owner: &Owner) {
    let path = diff::join_path("headers", OWNER_HEADER);
    a.changes.push(FieldChange {
        path,
        before: None,
        after: owner_marker(desired).map(|m| Value::String(m.to_string())),
        resent: false,
    });
    a.owner = Some(OwnerChange {
        before: None,
        after: owner.to_string(),
    });
}

/// The object a plan writes: its kind, name, call and body, with its fields' origins.
#[derive(Clone, Copy)]
struct Target<'a> {
    kind: Kind,
    name: &'a str,
    method: &'static str,
    path: &'a str,
    desired: &'a Value,
    origins: &'a Origins,
}

fn create(t: &Target) -> Action {
    let mut changes = Vec::new();
    diff::leaves(t.desired, &diff::At::root(), t.origins, &mut changes);
    Action {
        changes,
        desired: Some(t.desired.clone()),
        origins: t.origins.clone(),
        ..Action::new(Op::Create, t.kind, t.name, t.method, t.path)
    }
}

fn update(t: &Target, live: &Value) -> Action {
    let mut changes = Vec::new();
    let live = strip_server_fields(live);
    diff::diff(&live, t.desired, &diff::At::root(), t.origins, &mut changes);
    let op = if changes.is_empty() {
        Op::Unchanged
    } else {
        Op::Update
    };
    Action {
        changes,
        live: Some(live),
        desired: Some(t.desired.clone()),
        origins: t.origins.clone(),
        ..Action::new(op, t.kind, t.name, t.method, t.path)
    }
}

/// Adds every credential of `desired` to an update (or turns an unchanged channel into one): the
/// fields a hub masks, so a rotation cannot be seen (a value from `${env:…}` under another name
/// is compared as any field is).
fn rotate(a: &mut Action, desired: &Value) {
    let mut all = Vec::new();
    diff::leaves(desired, &diff::At::root(), &Origins::new(), &mut all);
    for ch in all {
        let secret = ch.after.as_ref().is_some_and(is_sensitive);
        if secret && !a.changes.iter().any(|c| c.path == ch.path) {
            a.changes.push(FieldChange {
                path: ch.path,
                before: Some(sensitive()),
                after: Some(sensitive()),
                resent: true,
            });
        }
    }
    if !a.changes.is_empty() && a.op == Op::Unchanged {
        a.op = Op::Update;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::CompiledRule;
    use serde_json::json;

    fn owner(env: Option<&str>) -> Owner {
        Owner {
            spec: "s".into(),
            env: env.map(str::to_string),
        }
    }

    fn payloads_for(o: Owner, channel: &str) -> Payloads {
        let rule = |id: &str, stage| CompiledRule {
            id: o.rule_id(id),
            spec_id: id.into(),
            stage,
            body: json!({"name": id, "actions": [{"type": "ROUTE", "channelId": channel}]}),
        };
        Payloads {
            channel: json!({"name": channel, "authentication": {"clientSecret": "s3cr3t-value", "clientId": "x"},
                            "headers": {OWNER_HEADER: o.marker()}, "batchSize": 1}),
            retry_policy: json!({"maxRetries": 5, "backoffMultiplier": 2.0}),
            rules: vec![rule("R1", 1), rule("R2", 2)],
            disabled: vec![],
            secrets: Default::default(),
            owner: o,
        }
    }

    /// `--adopt`.
    fn adopting() -> Options {
        Options {
            adopt: true,
            ..Options::default()
        }
    }

    fn payloads() -> Payloads {
        payloads_for(owner(None), "C")
    }

    #[test]
    fn a_rule_on_the_channel_missing_from_the_spec_is_left_live_and_named_or_pruned() {
        let p = payloads();
        let mut live = applied(&p);
        // R1 renamed: its old body under the old id, and a rule another tool made elsewhere.
        let mut old = p.rules[0].body.clone();
        old["name"] = json!("old");
        live.rules.insert("R1_OLD".into(), old);
        live.rules.insert(
            "FOREIGN".into(),
            json!({"actions": [{"type": "ROUTE", "channelId": "Other"}]}),
        );
        let plan = plan(&p, &live, &Options::default());
        assert!(!plan.has_changes());
        assert_eq!(
            plan.unmanaged,
            vec![Unmanaged {
                id: "R1_OLD".into(),
                name: Some("old".into()),
                event_type: None,
                same_events_as: Some("R1".into()),
            }]
        );
        let text = render(&plan, "http://h");
        assert!(text.contains("  = rule R1_OLD (\"old\")\n"), "{text}");
        let pruned = plan_with(&p, &live, true);
        assert!(pruned.unmanaged.is_empty());
        assert_eq!(pruned.summary().remove, 1);
    }

    fn plan_with(p: &Payloads, live: &Live, prune: bool) -> Plan {
        plan(
            p,
            live,
            &Options {
                prune,
                ..Options::default()
            },
        )
    }

    #[test]
    fn exit_codes_with_and_without_detailed_exitcode() {
        use json::exit_code;
        let table = [(Some(false), 0, 0), (Some(true), 1, 2), (None, 2, 1)];
        for (changes, plain, detailed) in table {
            assert_eq!(exit_code(changes, false), plain, "{changes:?}");
            assert_eq!(exit_code(changes, true), detailed, "{changes:?}");
        }
    }

    #[test]
    fn long_texts_print_line_by_line_with_control_characters_escaped() {
        let mut p = payloads();
        let long = format!(
            "(\n  $a := 1; /* {} */\n  {{\"x\": $a}}\n)",
            "y".repeat(100)
        );
        p.rules[0].body["actions"] = json!([{"type": "TRANSFORM", "jsonataExpression": long}]);
        let mut live = applied(&p);
        let text = render(&plan(&p, &Live::default(), &Options::default()), "http://h");
        assert!(
            text.contains(
                "      + actions[0].jsonataExpression:\n          + (\n          +   $a := 1;"
            ),
            "{text}"
        );
        // A hub's version with an escape sequence in it: shown, not obeyed.
        let r1 = live.rules.get_mut("R1").unwrap();
        r1["actions"][0]["jsonataExpression"] = json!(format!("{long}\n\u{1b}[2J"));
        let text = render(&plan(&p, &live, &Options::default()), "http://h");
        assert!(text.contains("          - \\u{1b}[2J"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }

    #[test]
    fn a_live_id_a_terminal_could_act_on_is_printed_as_a_json_string() {
        assert_eq!(label("zd.ticket-1"), "zd.ticket-1");
        assert_eq!(shown("zd.ticket-1"), "`zd.ticket-1`");
        assert_eq!(label("\u{1b}[2J x"), r#""\u001b[2J x""#);
        assert_eq!(shown("a`b"), r#""a`b""#);
        assert_eq!(label(""), r#""""#);
    }

    /// The live state after applying `p`: what the hub would hold.
    fn applied(p: &Payloads) -> Live {
        let mut live = Live {
            channel: Some(p.channel.clone()),
            retry_policy: Some(p.retry_policy.clone()),
            ..Live::default()
        };
        for r in &p.rules {
            live.rules.insert(r.id.clone(), r.body.clone());
        }
        live.channels.insert(
            p.channel["name"].as_str().unwrap().into(),
            p.channel.clone(),
        );
        live
    }

    fn ops(p: &Plan) -> Vec<(Op, &str)> {
        p.actions.iter().map(|a| (a.op, a.name.as_str())).collect()
    }

    #[test]
    fn nothing_live_creates_everything_and_hides_the_secret() {
        let p = plan(&payloads(), &Live::default(), &Options::default());
        assert_eq!((p.summary().create, p.summary().update), (4, 0));
        let text = render(&p, "http://h");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.contains("authentication.clientSecret: (sensitive)"),
            "{text}"
        );
        assert_eq!(
            p.actions[0].after().unwrap()["authentication"]["clientSecret"],
            sensitive()
        );
    }

    #[test]
    fn server_fields_masked_secrets_and_number_forms_are_not_changes() {
        let pl = payloads();
        let mut live = applied(&pl);
        let mut ch = pl.channel.clone();
        ch["id"] = json!("ch-1");
        ch["createdAt"] = json!("t");
        ch["authentication"]["clientSecret"] = json!("******");
        live.channel = Some(ch);
        live.retry_policy = Some(json!({"maxRetries": 5, "backoffMultiplier": 2}));
        let p = plan(&pl, &live, &Options::default());
        assert!(!p.has_changes(), "{p:#?}");
        let rotate = Options {
            rotate_secrets: true,
            ..Options::default()
        };
        let p = plan(&pl, &live, &rotate);
        assert_eq!(p.summary().update, 1);
        assert!(render(&p, "h")
            .contains("~ authentication.clientSecret: (sensitive) → (sensitive, re-sent)"));
    }

    #[test]
    fn credential_headers_are_sensitive_and_odd_keys_are_quoted() {
        let desired = json!({"headers": {"Authorization": "Bearer abcdef", "Content-Type": "x"},
                             "conditions": {"a.b": [1]}});
        let p = create(&Target {
            kind: Kind::Channel,
            name: "C",
            method: "POST",
            path: "/",
            desired: &desired,
            origins: &Origins::new(),
        });
        let paths: Vec<(&str, String)> = p
            .changes
            .iter()
            .map(|c| (c.path.as_str(), render::display(c.after.as_ref().unwrap())))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("headers.Authorization", "(sensitive)".to_string()),
                (r#"headers["Content-Type"]"#, r#""x""#.to_string()),
                (r#"conditions["a.b"]"#, "[1]".to_string()),
            ]
        );
    }

    #[test]
    fn a_changed_field_is_an_update_with_typed_before_and_after() {
        let pl = payloads();
        let mut live = applied(&pl);
        let ch = live.channel.as_mut().unwrap();
        ch["batchSize"] = json!(10);
        ch["extra"] = json!(true);
        let p = plan(&pl, &live, &Options::default());
        let a = &p.actions[0];
        assert_eq!(a.op, Op::Update);
        let batch = a.changes.iter().find(|c| c.path == "batchSize").unwrap();
        assert_eq!(
            (batch.before.clone(), batch.after.clone()),
            (Some(json!(10)), Some(json!(1)))
        );
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
            &live,
            &Options {
                prune: true,
                max_stage: Some(1),
                ..Options::default()
            },
        );
        assert_eq!(
            ops(&p),
            vec![
                (Op::Create, "C"),
                (Op::Create, "C"),
                (Op::Create, "R1"),
                (Op::Deferred, "R2"),
                (Op::Remove, "OLD")
            ]
        );
        assert_eq!(p.actions[4].reason, Some(Reason::NotInSpec));
    }

    #[test]
    fn an_environment_applies_its_own_rule_ids_beside_the_base_and_plans_clean() {
        let prod = payloads_for(owner(None), "C_PROD");
        let staging = payloads_for(owner(Some("staging")), "C_STAGING");
        let mut live = applied(&prod);
        let after_staging = applied(&staging);
        live.rules.extend(after_staging.rules);
        live.channels.extend(after_staging.channels);
        assert!(!plan(&prod, &live, &Options::default()).has_changes());
        let mut live_staging = live.clone();
        live_staging.channel = after_staging.channel;
        live_staging.retry_policy = after_staging.retry_policy;
        let p = plan(&staging, &live_staging, &Options::default());
        assert!(!p.has_changes() && p.conflicts.is_empty(), "{p:#?}");
        assert_eq!(p.actions[2].name, "R1--staging");
    }

    #[test]
    fn a_channel_owned_by_another_environment_is_a_conflict_until_adopted() {
        let prod = payloads_for(owner(None), "C");
        let staging = payloads_for(owner(Some("staging")), "C");
        let live = applied(&prod);
        let p = plan(&staging, &live, &Options::default());
        assert_eq!(p.conflicts.len(), 1, "{p:#?}");
        let text = render(&p, "h");
        assert!(text.contains("channel `C` (and its retry policy and rules) is owned by spec `s` (no --env); this is spec `s` --env staging"), "{text}");
        assert!(text.contains("--adopt"), "{text}");
        let p = plan(&staging, &live, &adopting());
        assert!(p.conflicts.is_empty());
        assert_eq!(p.actions[0].op, Op::Adopt);
        let text = render(&p, "h");
        assert!(text.contains("! adopt channel C"), "{text}");
        assert!(
            text.contains("owner: spec `s` (no --env) → spec `s` --env staging"),
            "{text}"
        );
        assert!(text.contains("1 to adopt, "), "{text}");
    }

    #[test]
    fn a_rule_routing_to_another_channel_is_never_rerouted_silently() {
        let mine = payloads_for(owner(None), "MINE");
        let mut other = payloads_for(
            Owner {
                spec: "other".into(),
                env: None,
            },
            "THEIRS",
        );
        other.rules.truncate(1);
        let mut live = applied(&other);
        live.channel = None;
        live.retry_policy = None;
        let p = plan(&mine, &live, &Options::default());
        assert_eq!(p.conflicts.len(), 1);
        assert_eq!(
            p.conflicts[0].message,
            "rule `R1` routes to channel `THEIRS`, owned by spec `other` (no --env), not to this spec's channel `MINE`; applying would re-route it"
        );
        let p = plan(&mine, &live, &adopting());
        assert_eq!(p.actions[2].op, Op::Adopt);
    }

    #[test]
    fn an_unowned_channel_is_not_a_change_by_itself_but_is_claimed_with_the_next_one() {
        let pl = payloads();
        let mut live = applied(&pl);
        live.channel = Some(without_owner(&pl.channel));
        assert!(!plan(&pl, &live, &Options::default()).has_changes());
        // --adopt claims it on purpose …
        let p = plan(&pl, &live, &adopting());
        assert_eq!(ops(&p)[0], (Op::Adopt, "C"));
        // … and so does the first apply that writes anything else of the spec.
        let mut other = live.clone();
        other.rules.remove("R2");
        let p = plan(&pl, &other, &Options::default());
        assert_eq!(ops(&p)[0], (Op::Update, "C"));
        assert_eq!(p.actions[0].changes.len(), 1);
        live.channel.as_mut().unwrap()["batchSize"] = json!(3);
        let p = plan(&pl, &live, &Options::default());
        let text = render(&p, "h");
        assert!(
            text.contains(r#"+ headers["X-Cxsync-Owner"]: "spec=s""#),
            "{text}"
        );
        assert!(
            text.contains("owner: nobody (no owner marker) → spec `s` (no --env)"),
            "{text}"
        );
        assert_eq!(
            p.actions[0].body().unwrap()["headers"][OWNER_HEADER],
            "spec=s"
        );
    }

    #[test]
    fn a_live_rule_disabled_in_the_spec_is_removed_and_says_why() {
        let mut pl = payloads();
        let live = applied(&pl);
        let r2 = pl.rules.pop().unwrap();
        pl.disabled.push((r2.id.clone(), r2.spec_id.clone()));
        let p = plan(&pl, &live, &Options::default());
        assert!(p.has_changes());
        assert_eq!(ops(&p).last(), Some(&(Op::Remove, "R2")));
        assert_eq!(
            p.actions.last().unwrap().reason,
            Some(Reason::DisabledInSpec)
        );
        assert!(
            render(&p, "h").contains("(disabled in the spec"),
            "{}",
            render(&p, "h")
        );
        // Disabled and absent is converged.
        let mut gone = live.clone();
        gone.rules.remove("R2");
        assert!(!plan(&pl, &gone, &Options::default()).has_changes());
    }
}
