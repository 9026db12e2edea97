//! The fixture runner behind `cxsync test`: for every rule of a spec and every fixture event, the
//! rule's event type and conditions, then the transform, then the CRM model's checks (the body's
//! size and shape, each record against the target schema), then redaction into the snapshot text. Pure: the spec loader has already read
//! the transforms and fixtures; comparing with and writing snapshots is the CLI's job.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::snapshot::{self, FixtureResult, Header};
use super::transformed::{transformed, Transformed};
use super::{guard_size, Transform};
use crate::diag::{Diagnostic, Sources, Span};
use crate::spec::payload::PayloadSchemas;
use crate::spec::{Spec, TransformSource};

/// One (rule, fixture) case and what it produced.
#[derive(Debug, Clone)]
pub struct Case {
    /// The rule's id.
    pub rule: String,
    /// The fixture's name (file stem).
    pub fixture: String,
    /// The fixture's path as resolved.
    pub fixture_path: PathBuf,
    /// Where its snapshot lives.
    pub snapshot: PathBuf,
    /// The snapshot text, when the case produced one (an evaluation error produces none).
    pub text: Option<String>,
    /// What failed regardless of the snapshot: evaluation error, schema violation, size.
    pub problems: Vec<String>,
}

/// The cases of one spec and the problems found before any case could run.
#[derive(Debug, Default)]
pub struct SpecRun {
    pub cases: Vec<Case>,
    /// Spec-level problems: transforms that do not compile, unreadable fixtures, a bad schema.
    pub diags: Vec<Diagnostic>,
    /// Files the diagnostics point into.
    pub sources: Sources,
}

/// The instant a spec's snapshots use: `--now`, else `test.now`, else [`super::DEFAULT_NOW`].
pub fn snapshot_now(spec: &Spec, cli: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, Diagnostic> {
    if let Some(t) = cli {
        return Ok(t);
    }
    match spec.raw.test.as_ref().and_then(|t| t.now.as_deref()) {
        Some(text) => super::parse_instant(text).map_err(|e| {
            spec.diag_at(Diagnostic::error("E300", e), "/test/now")
                .with_help("write an instant with a zone, e.g. 2024-01-15T14:00:00Z")
        }),
        None => Ok(super::default_now()),
    }
}

/// The folder of one spec's snapshots under `snapshot_dir`: `<spec file stem>/` (a spec without
/// a file name: `spec/`), or `<spec file stem>--<env>/` under `--env ENV` (an overlay changes
/// transforms and `test.now`, so its outputs are snapshots of their own, as `R--ENV` is a rule
/// of its own in `compile`; tester #136). Its cases are `<rule id>/<fixture stem>.snap` in it;
/// `cxsync test` refuses two specs of one run that share it (E310).
pub fn spec_snapshots(spec: &Path, env: Option<&str>, snapshot_dir: &Path) -> PathBuf {
    let stem = spec.file_stem().unwrap_or("spec".as_ref());
    match env {
        None => snapshot_dir.join(stem),
        Some(env) => {
            let mut name = stem.to_os_string();
            name.push(format!("--{env}"));
            snapshot_dir.join(name)
        }
    }
}

/// What the CRM model takes as a request body, which the caller asks `crm` for (`transform`
/// sits beside `crm`, not above it).
#[derive(Debug, Clone, Copy)]
pub struct CrmBody {
    /// The largest request body the CRM takes (`crm::max_body_bytes`): 413 above.
    pub max_body: u64,
    /// Why the CRM answers 400 to a body, given whether it takes arrays (`crm::body::refusal`,
    /// the model's judgement); `None`: it takes the body.
    pub refusal: fn(&str, bool) -> Option<String>,
}

/// Runs every rule and fixture of `spec`. Snapshots go to [`spec_snapshots`]`/<rule id>/`.
/// `crm` is what the CRM takes as a body.
pub fn run_spec(spec: &Spec, now: DateTime<Utc>, snapshot_dir: &Path, crm: CrmBody) -> SpecRun {
    run_spec_observed(spec, now, snapshot_dir, crm, &mut |_| {})
}

/// [`run_spec`], telling `on_case` about each case as soon as it has run (for progress, and to
/// name a transform that hits its limit without waiting for the rest).
pub fn run_spec_observed(
    spec: &Spec,
    now: DateTime<Utc>,
    snapshot_dir: &Path,
    crm: CrmBody,
    on_case: &mut dyn FnMut(&Case),
) -> SpecRun {
    let max_body = crm.max_body;
    let accepts_arrays = spec.raw.crm.accepts_arrays;
    let mut run = SpecRun::default();
    let rules = spec.rules.clone();
    let schemas = match PayloadSchemas::of(spec, "E302") {
        Ok(s) => s,
        Err(d) => {
            run.diags.extend(d);
            PayloadSchemas::default()
        }
    };
    let folder = spec_snapshots(&spec.path, spec.env.as_deref(), snapshot_dir);
    let spec_label = format!(
        "{} ({})",
        spec.path
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default(),
        spec.raw.name
    );
    let redactions = spec
        .raw
        .test
        .as_ref()
        .map(|t| t.redact.clone())
        .unwrap_or_default();
    let max_payload = spec.raw.crm.max_payload_bytes;
    // A batch of one is the payload in brackets (`delivery::machine::batch_body`).
    let framing = if spec.raw.channel.batch_size > 1 {
        2
    } else {
        0
    };

    for resolved in &rules {
        let Some(rule) = spec.raw.rules.get(resolved.index) else {
            continue;
        };
        let transform = match compile_rule(spec, resolved) {
            Ok(t) => t,
            Err(d) => {
                run.diags.push(d);
                continue;
            }
        };
        // The loader refuses two fixtures of one rule with one name (E306), so each case
        // has its own snapshot.
        for fx in &resolved.fixtures {
            let header = Header {
                spec: spec_label.clone(),
                rule: format!("{} ({})", rule.id, rule.name),
                fixture: relative_to(&fx.path, &spec.dir),
                now: now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            };
            let snapshot = folder.join(&rule.id).join(format!("{}.snap", fx.name));
            let mut case = Case {
                rule: rule.id.clone(),
                fixture: fx.name.clone(),
                fixture_path: fx.path.clone(),
                snapshot,
                text: None,
                problems: Vec::new(),
            };
            let outcome = match filter(&fx.event, &rule.event_type, &rule.conditions) {
                Some(why) => Some(FixtureResult::Filtered(why)),
                None => match transformed(transform.eval(&fx.event, now)) {
                    Transformed::Failed(e) => {
                        let at = resolved
                            .transform
                            .as_ref()
                            .and_then(|source| error_place(spec, source, &e))
                            .map(|at| format!(" (at {at})"))
                            .unwrap_or_default();
                        case.problems.push(format!("transform failed: {e}{at}"));
                        None
                    }
                    Transformed::Nothing => Some(FixtureResult::Undefined),
                    Transformed::Send(mut out) => {
                        // The body the machine sends: the payload, or a batch's array of it.
                        let text = crate::jsjson::to_string(&out);
                        let body = if framing > 0 {
                            format!("[{text}]")
                        } else {
                            text
                        };
                        // Every body of a batching channel without array support is refused
                        // whatever the payload: lint's CX001, said once at `batchSize`.
                        let shape = if framing > 0 && !accepts_arrays {
                            None
                        } else {
                            (crm.refusal)(&body, accepts_arrays)
                        };
                        if let Some(why) = &shape {
                            case.problems.push(format!(
                                "the CRM answers 400 to the request body ({why}), so the event is dead-lettered (lint: CX035)"
                            ));
                        } else if let Some(schema) = schemas.for_rule(Some(&rule.id)) {
                            // Each record on its own, as the CRM model judges it (#249): a
                            // list's elements, never the list as a whole.
                            let key = &schema.key;
                            let records = crate::spec::payload::records(&out);
                            let listed = out.is_array();
                            for (i, record) in records.iter().enumerate() {
                                for err in schema.validator.iter_errors(record) {
                                    let inner = err.instance_path().as_str().to_string();
                                    let pointer = if listed {
                                        format!("/{i}{inner}")
                                    } else if inner.is_empty() {
                                        "/".to_string()
                                    } else {
                                        inner
                                    };
                                    case.problems.push(format!(
                                        "output does not match {key} at `{pointer}` (keyword `{}`): {}",
                                        err.kind().keyword(),
                                        err
                                    ));
                                }
                            }
                        }
                        let guarded = match max_payload.map(|limit| guard_size(&out, limit)) {
                            Some(Err(e)) => {
                                case.problems.push(e.to_string());
                                true
                            }
                            _ => false,
                        };
                        // What the CRM model answers 413 to (a payload the guard stops is never
                        // sent): the body's bytes, as the machine writes it.
                        let body = body.len();
                        if !guarded && body as u64 > max_body {
                            case.problems.push(format!(
                                "the request body is {body} bytes; the CRM takes at most {max_body} (crm.maxBodyBytes, else its profile's limit) and answers 413, so the event is dead-lettered"
                            ));
                        }
                        snapshot::redact(&mut out, &redactions);
                        Some(FixtureResult::Output(out))
                    }
                },
            };
            case.text = outcome.map(|o| snapshot::render(&header, &o));
            on_case(&case);
            run.cases.push(case);
        }
    }
    run
}

/// Whether a rule with this event type and these conditions selects `event`: the one matcher
/// shared by `test`, the simulator, `plan --behaviour` and DLQ replay. [`filter`] says why not.
pub fn matches(
    event: &Value,
    event_type: &str,
    conditions: &indexmap::IndexMap<String, Vec<Value>>,
) -> bool {
    first_miss(event, event_type, conditions).is_none()
}

/// Why the rule drops `event`, or `None` when it matches: the event type (`event.type`) first,
/// then every condition (dotted path → allowed values).
pub fn filter(
    event: &Value,
    event_type: &str,
    conditions: &indexmap::IndexMap<String, Vec<Value>>,
) -> Option<String> {
    let shown = |allowed: &[Value]| serde_json::to_string(allowed).unwrap_or_default();
    Some(match first_miss(event, event_type, conditions)? {
        Miss::EventType(Some(other)) => {
            format!("eventType: event.type is {other}, the rule matches \"{event_type}\"")
        }
        Miss::EventType(None) => {
            format!("eventType: event.type is missing, the rule matches \"{event_type}\"")
        }
        Miss::Missing(path, allowed) => {
            format!("conditions.{path}: missing, allowed {}", shown(allowed))
        }
        Miss::NotAllowed(path, v, allowed) => match same_text_other_type(v, allowed) {
            Some(a) => format!(
                "conditions.{path}: {v} is not one of {}: the event has {} where the condition lists {}, and the hub compares whole values, JSON type included",
                shown(allowed),
                typed(v),
                typed(a)
            ),
            None => format!("conditions.{path}: {v} is not one of {}", shown(allowed)),
        },
    })
}

/// A scalar with its JSON type, for a message (`the string "1"`, `the number 1`).
fn typed(v: &Value) -> String {
    match v {
        Value::String(_) => format!("the string {v}"),
        Value::Number(_) => format!("the number {v}"),
        Value::Bool(_) => format!("the boolean {v}"),
        _ => v.to_string(),
    }
}

/// The first thing about `event` the rule does not accept ([`matches`] and [`filter`] both
/// read this, so they cannot disagree; lint's CX042 points at it).
pub enum Miss<'a> {
    /// `event.type` is this (or missing), not the rule's.
    EventType(Option<&'a Value>),
    /// A condition path is missing.
    Missing(&'a str, &'a [Value]),
    /// A condition path holds a value that is not allowed.
    NotAllowed(&'a str, &'a Value, &'a [Value]),
}

pub fn first_miss<'a>(
    event: &'a Value,
    event_type: &str,
    conditions: &'a indexmap::IndexMap<String, Vec<Value>>,
) -> Option<Miss<'a>> {
    match lookup(event, "event.type") {
        Some(Value::String(t)) if t == event_type => {}
        other => return Some(Miss::EventType(other)),
    }
    conditions
        .iter()
        .find_map(|(path, allowed)| match lookup(event, path) {
            None => Some(Miss::Missing(path, allowed)),
            Some(v) if !allowed.iter().any(|a| json_equal(a, v)) => {
                Some(Miss::NotAllowed(path, v, allowed))
            }
            Some(_) => None,
        })
}

/// What an event must hold to be selected by every one of several rules: for each constrained
/// path (`event.type` included, from the rules' event types), the values all the rules allow
/// there. `None` when no event can satisfy them all.
///
/// Exact for the matcher above: a path's allowed values are intersected (numbers by value); a
/// path that is a prefix of another (`interaction.channel` and `interaction.channel.type`) keeps
/// only the values whose part under the longer path is allowed there; paths in different
/// subtrees are independent; a path no rule constrains matches everything; an empty list
/// matches nothing. The answer lists only the outermost constrained paths, with the values that
/// survive.
pub fn common_match(
    rules: &[(&str, &indexmap::IndexMap<String, Vec<Value>>)],
) -> Option<Vec<(String, Vec<Value>)>> {
    // Every constraint, by path, intersected.
    let mut by_path: Vec<(String, Vec<Value>)> = Vec::new();
    for (event_type, conditions) in rules {
        let typed = [("event.type".to_string(), vec![Value::from(*event_type)])];
        for (path, allowed) in typed.iter().map(|(p, a)| (p, a)).chain(conditions.iter()) {
            match by_path.iter_mut().find(|(p, _)| p == path) {
                Some((_, values)) => values.retain(|v| allowed.iter().any(|a| json_equal(a, v))),
                None => {
                    let mut distinct: Vec<Value> = Vec::new();
                    for a in allowed {
                        if !distinct.iter().any(|d| json_equal(d, a)) {
                            distinct.push(a.clone());
                        }
                    }
                    by_path.push((path.clone(), distinct));
                }
            }
        }
    }
    // `event.type` is compared as a string by the matcher.
    if let Some((_, values)) = by_path.iter_mut().find(|(p, _)| p == "event.type") {
        values.retain(Value::is_string);
    }
    // A value at a path fixes everything below it: keep the values whose parts under the longer
    // constrained paths are allowed there.
    let sets = by_path.clone();
    for (path, values) in &mut by_path {
        for (longer, allowed) in &sets {
            let Some(rest) = longer
                .strip_prefix(path.as_str())
                .and_then(|r| r.strip_prefix('.'))
            else {
                continue;
            };
            values.retain(|v| {
                lookup(v, rest).is_some_and(|x| allowed.iter().any(|a| json_equal(a, x)))
            });
        }
    }
    if by_path.iter().any(|(_, values)| values.is_empty()) {
        return None;
    }
    let outer: Vec<(String, Vec<Value>)> = by_path
        .iter()
        .filter(|(path, _)| {
            !by_path.iter().any(|(other, _)| {
                other != path
                    && path
                        .strip_prefix(other.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
        })
        .cloned()
        .collect();
    Some(outer)
}

/// The value at a dotted path (`interaction.channel.type`).
pub fn lookup<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// JSON equality with numbers compared by value (`1` equals `1.0`): how the matcher compares a
/// condition's allowed value with the event's (lint's CX027 asks it too).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// An allowed value of `allowed` that the event's `value` equals in its text but not in its
/// JSON type: the string `"1"` where the condition lists the number `1` (or the reverse),
/// `"true"` for `true`, `"null"` for `null`. The matcher compares whole values ([`json_equal`]),
/// so such a value never matches; this names the near miss for a message.
pub fn same_text_other_type<'a>(value: &Value, allowed: &'a [Value]) -> Option<&'a Value> {
    let other = match value {
        Value::String(s) if s.trim() != s => return None,
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
            _ => return None,
        },
        Value::Number(_) | Value::Bool(_) | Value::Null => Value::String(value.to_string()),
        Value::Array(_) | Value::Object(_) => return None,
    };
    allowed.iter().find(|a| match (a, &other) {
        // `1.0` in a condition is the string "1" too, as `1` is.
        (Value::String(t), Value::String(_)) => {
            serde_json::from_str::<Value>(t).is_ok_and(|v| !v.is_string() && json_equal(&v, value))
        }
        _ => json_equal(a, &other),
    })
}

/// Compiles one rule's transform: the one place a spec's rules are compiled (`test`, `sim`,
/// `dlq replay`), with one set of codes: the engine's code (`S0211`, …) at the offending token
/// when the transform does not compile; `E301` for a rule without a transform (the loader
/// refuses such a spec first, so this is a guard, not a path).
pub fn compile_rule(
    spec: &Spec,
    rule: &crate::spec::ResolvedRule,
) -> Result<Transform, Diagnostic> {
    let Some(source) = &rule.transform else {
        let id = spec.raw.rules.get(rule.index).map_or("", |r| r.id.as_str());
        return Err(spec
            .diag_at(
                Diagnostic::error("E301", format!("rule `{id}` has no transform")),
                &format!("/rules/{}", rule.index),
            )
            .with_help("add `transform:` (inline JSONata) or `transformFile:`"));
    };
    Transform::compile(&source.text).map_err(|e| compile_diag(spec, source, &e))
}

/// Where in a rule's transform `e` arose, as `file:line:col` (the spec's file for an inline
/// transform), when its position is known ([`super::locate`]).
pub fn error_place(
    spec: &Spec,
    source: &TransformSource,
    e: &super::TransformError,
) -> Option<String> {
    let o = e.offset?;
    let (file, span) = super::position::locate(spec, &source.origin, o, o + 1);
    (span != Span::default()).then(|| {
        format!(
            "{}:{}:{}",
            crate::diag::shown_path(&file),
            span.start.line,
            span.start.column
        )
    })
}

/// The diagnostic for a transform that does not compile, at the offending token when the
/// position is known, else at the transform.
pub fn compile_diag(
    spec: &Spec,
    source: &TransformSource,
    e: &super::TransformError,
) -> Diagnostic {
    let (start, end) = match e.offset {
        Some(o) => (o, o + 1),
        None => (0, source.text.chars().count()),
    };
    let (file, span) = super::position::locate(spec, &source.origin, start, end);
    let span: Option<Span> = if span == Span::default() {
        None
    } else {
        Some(span)
    };
    Diagnostic::error(
        e.code.clone().unwrap_or_else(|| "S0201".to_string()),
        format!("transform does not compile: {e}"),
    )
    .in_file(file)
    .at_opt(span)
}

/// `path` relative to `base`, lexically, with `/` separators (`../fixtures/events/a.json`).
fn relative_to(path: &Path, base: &Path) -> String {
    let norm = |p: &Path| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    if out.last().is_some_and(|l| l != "..") {
                        out.pop();
                    } else {
                        out.push("..".into());
                    }
                }
                other => out.push(other.as_os_str().to_string_lossy().to_string()),
            }
        }
        out
    };
    let (p, b) = (norm(path), norm(base));
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(p[common..].iter().cloned());
    parts.join("/")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// #245: the near miss of a value that equals an allowed one in text, not in type, and
    /// never a value the matcher takes (or a text that differs).
    #[test]
    fn same_text_other_type_names_only_values_the_matcher_refuses() {
        let near = |v: Value, allowed: Value| {
            same_text_other_type(&v, allowed.as_array().unwrap()).cloned()
        };
        assert_eq!(near(json!("1"), json!([1, "2"])), Some(json!(1)));
        assert_eq!(near(json!("1"), json!([1.0])), Some(json!(1.0)));
        assert_eq!(near(json!(2), json!([1, "2"])), Some(json!("2")));
        assert_eq!(near(json!(1.0), json!(["1"])), Some(json!("1")));
        assert_eq!(near(json!("true"), json!([true])), Some(json!(true)));
        assert_eq!(near(json!(false), json!(["false"])), Some(json!("false")));
        assert_eq!(near(json!("null"), json!([null])), Some(json!(null)));
        assert_eq!(near(json!(null), json!(["null"])), Some(json!("null")));
        for (v, allowed) in [
            (json!("1"), json!(["1"])),
            (json!(1), json!([1.0])),
            (json!("01"), json!([1])),
            (json!(" 1"), json!([1])),
            (json!("1"), json!([2, "2"])),
            (json!("\"1\""), json!(["1"])),
            (json!([1]), json!(["[1]"])),
            (json!("sms"), json!(["SMS"])),
        ] {
            assert_eq!(near(v.clone(), allowed.clone()), None, "{v} in {allowed}");
        }
    }

    pub(crate) fn conds(pairs: &[(&str, Value)]) -> indexmap::IndexMap<String, Vec<Value>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_array().unwrap().clone()))
            .collect()
    }

    /// `(event, rule event type, conditions, whether it matches)`.
    pub(crate) type MatcherCase = (
        Value,
        &'static str,
        indexmap::IndexMap<String, Vec<Value>>,
        bool,
    );

    /// Cases the copies this matcher replaced disagreed on (`plan --behaviour` compared numbers
    /// as JSON, so `1` did not match `1.0`), and `filter` must drop exactly what `matches` drops.
    pub(crate) fn matcher_cases() -> Vec<MatcherCase> {
        let ev = json!({"event": {"type": "t"}, "i": {"n": 1, "s": "sms", "a": [{"x": 2.0}]}});
        vec![
            (ev.clone(), "t", conds(&[]), true),
            (ev.clone(), "u", conds(&[]), false),
            (json!({"event": {"type": 1}}), "1", conds(&[]), false),
            (json!({"i": 1}), "t", conds(&[]), false),
            (ev.clone(), "t", conds(&[("i.n", json!([1.0]))]), true),
            (ev.clone(), "t", conds(&[("i.n", json!([2, 1]))]), true),
            (ev.clone(), "t", conds(&[("i.n", json!(["1"]))]), false),
            (ev.clone(), "t", conds(&[("i.a.0.x", json!([2]))]), true),
            (
                ev.clone(),
                "t",
                conds(&[("i.s", json!(["sms"])), ("i.m", json!([1]))]),
                false,
            ),
            (ev, "t", conds(&[("i.s", json!(["SMS"]))]), false),
        ]
    }

    #[test]
    fn filter_drops_exactly_what_matches_refuses() {
        for (ev, ty, c, want) in matcher_cases() {
            assert_eq!(matches(&ev, ty, &c), want, "{ev} {ty} {c:?}");
            assert_eq!(filter(&ev, ty, &c).is_none(), want, "{ev} {ty} {c:?}");
        }
    }

    #[test]
    fn rules_overlap_exactly_when_one_event_can_satisfy_them_all() {
        let none = conds(&[]);
        let voice = conds(&[("interaction.channel.type", json!(["voice", "webchat"]))]);
        let chat = conds(&[("interaction.channel.type", json!(["webchat", "email"]))]);
        let email = conds(&[("interaction.channel.type", json!(["email"]))]);
        let queue = conds(&[("interaction.queue.id", json!([7]))]);
        let both = |a, b| common_match(&[("interaction.ended", a), ("interaction.ended", b)]);
        // A missing condition matches everything.
        assert!(both(&none, &voice).is_some());
        // Overlapping value sets share their common values.
        let w = both(&voice, &chat).unwrap();
        assert!(w.contains(&("interaction.channel.type".into(), vec![json!("webchat")])));
        // Disjoint value sets do not overlap.
        assert!(both(&voice, &email).is_none());
        // Different paths constrain different fields: both can hold.
        assert!(both(&email, &queue).is_some());
        // Event types are part of the match.
        assert!(
            common_match(&[("interaction.ended", &none), ("interaction.started", &none)]).is_none()
        );
        let typed = conds(&[("event.type", json!(["interaction.started"]))]);
        assert!(
            both(&none, &typed).is_none(),
            "a condition against its own event type"
        );
        // Numbers compare by value, across rules too.
        let one = conds(&[("interaction.queue.id", json!([7.0]))]);
        assert!(both(&queue, &one).is_some());
        // An empty list matches nothing.
        let nothing = conds(&[("interaction.queue.id", json!([]))]);
        assert!(both(&none, &nothing).is_none());
        // A path under another: the outer value fixes the inner one.
        let whole = conds(&[(
            "interaction.channel",
            json!([{"type": "voice"}, {"type": "sms"}]),
        )]);
        assert!(both(&whole, &email).is_none());
        let w = both(&whole, &voice).unwrap();
        assert_eq!(
            w,
            vec![
                ("event.type".to_string(), vec![json!("interaction.ended")]),
                (
                    "interaction.channel".to_string(),
                    vec![json!({"type": "voice"})]
                ),
            ]
        );
        // Three rules at once.
        assert!(common_match(&[
            ("interaction.ended", &voice),
            ("interaction.ended", &chat),
            ("interaction.ended", &queue)
        ])
        .is_some());
    }

    #[test]
    fn event_type_and_conditions_filter_with_a_reason() {
        let ev = json!({"event": {"type": "interaction.ended"}, "i": {"ch": "sms", "n": 2}});
        assert_eq!(filter(&ev, "interaction.ended", &conds(&[])), None);
        assert_eq!(
            filter(&ev, "interaction.started", &conds(&[])).unwrap(),
            "eventType: event.type is \"interaction.ended\", the rule matches \"interaction.started\""
        );
        assert_eq!(
            filter(
                &ev,
                "interaction.ended",
                &conds(&[("i.ch", json!(["voice", "email"]))])
            )
            .unwrap(),
            "conditions.i.ch: \"sms\" is not one of [\"voice\",\"email\"]"
        );
        assert_eq!(
            filter(&ev, "interaction.ended", &conds(&[("i.x", json!(["a"]))])).unwrap(),
            "conditions.i.x: missing, allowed [\"a\"]"
        );
        assert_eq!(
            filter(&ev, "interaction.ended", &conds(&[("i.n", json!([2.0]))])),
            None
        );
    }

    #[test]
    fn relative_paths_are_lexical_and_slash_separated() {
        assert_eq!(
            relative_to(
                Path::new("specs/../fixtures/events/a.json"),
                Path::new("specs")
            ),
            "../fixtures/events/a.json"
        );
        assert_eq!(
            relative_to(Path::new("specs/t/a.json"), Path::new("specs")),
            "t/a.json"
        );
    }
}
