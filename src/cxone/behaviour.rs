//! The behavioural plan: each fixture event through the live rule (its conditions and JSONata as
//! the Event Hub holds them) and through the proposed one, with the clock frozen, reporting the
//! fixtures whose match status or payload changes. A config diff says *what* changes; this says
//! what the CRM will receive differently.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::transform::Transform;

/// What a rule does with one event.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "result", rename_all = "kebab-case")]
// The plan JSON schema names it `Outcome` (a published format); the Rust name says what it is.
#[schemars(rename = "Outcome")]
pub enum RuleEffect {
    /// No such rule (live side of a rule not yet created).
    NoRule,
    /// The event type or a condition does not match.
    NotMatched,
    /// The payload sent to the CRM (`null` for JSONata's undefined).
    Payload { payload: Value },
    /// The expression failed to compile or evaluate.
    Error { message: String },
}

/// One fixture whose outcome differs between live and proposed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Difference {
    pub rule: String,
    pub fixture: String,
    pub live: RuleEffect,
    pub proposed: RuleEffect,
}

/// A rule's matching and mapping, read from an Event Hub rule body (compiled or live).
struct RuleView {
    event_type: String,
    conditions: IndexMap<String, Vec<Value>>,
    transform: Result<Option<Transform>, String>,
}

impl RuleView {
    fn from_body(body: &Value, expression_override: Option<&str>) -> RuleView {
        let event_type = body["eventType"].as_str().unwrap_or("").to_string();
        let conditions = body
            .get("conditions")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let expr = expression_override.map(str::to_string).or_else(|| {
            body.get("actions")?
                .as_array()?
                .iter()
                .find(|a| a["type"] == "TRANSFORM")?
                .get("jsonataExpression")?
                .as_str()
                .map(str::to_string)
        });
        let transform = match expr {
            Some(e) if !e.trim().is_empty() => Transform::compile(&e)
                .map(Some)
                .map_err(|e| format!("does not compile: {e}")),
            // A rule without a transform forwards the event unchanged.
            _ => Ok(None),
        };
        RuleView {
            event_type,
            conditions,
            transform,
        }
    }

    fn run(&self, event: &Value, now: chrono::DateTime<chrono::Utc>) -> RuleEffect {
        if !matches(&self.event_type, &self.conditions, event) {
            return RuleEffect::NotMatched;
        }
        match &self.transform {
            Err(m) => RuleEffect::Error { message: m.clone() },
            Ok(None) => RuleEffect::Payload {
                payload: event.clone(),
            },
            Ok(Some(t)) => match t.eval(event, now) {
                Ok(v) => RuleEffect::Payload {
                    payload: v.unwrap_or(Value::Null),
                },
                Err(e) => RuleEffect::Error {
                    message: e.to_string(),
                },
            },
        }
    }
}

/// Whether an event matches a rule: the one matcher of `cxsync test`, `sim` and replay
/// ([`crate::transform::runner::matches`]): `event.type` equals the rule's event type and every
/// condition path holds one of the listed values, numbers compared by value.
pub fn matches(event_type: &str, conditions: &IndexMap<String, Vec<Value>>, event: &Value) -> bool {
    crate::transform::runner::matches(event, event_type, conditions)
}

/// A proposed rule and the fixtures to run through it.
#[derive(Debug, Clone)]
pub struct Proposed {
    /// Rule id (the key into the live rules).
    pub id: String,
    /// The compiled rule body.
    pub body: Value,
    /// The JSONata text, when the body's `jsonataExpression` is not the one to run.
    pub expression: Option<String>,
    /// `(name, event)`.
    pub fixtures: Vec<(String, Value)>,
}

/// Compares live and proposed rules on fixtures.
pub fn compare(
    rules: &[Proposed],
    live: &std::collections::BTreeMap<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for Proposed {
        id,
        body,
        expression,
        fixtures,
    } in rules
    {
        let proposed = RuleView::from_body(body, expression.as_deref());
        let live_view = live.get(id).map(|l| RuleView::from_body(l, None));
        for (name, event) in fixtures {
            let p = proposed.run(event, now);
            let l = live_view
                .as_ref()
                .map(|v| v.run(event, now))
                .unwrap_or(RuleEffect::NoRule);
            if p != l {
                out.push(Difference {
                    rule: id.clone(),
                    fixture: name.clone(),
                    live: l,
                    proposed: p,
                });
            }
        }
    }
    out
}

fn label(o: &RuleEffect) -> &'static str {
    match o {
        RuleEffect::NoRule => "no live rule",
        RuleEffect::NotMatched => "not matched",
        RuleEffect::Payload { .. } => "matched",
        RuleEffect::Error { .. } => "error",
    }
}

/// Renders the differences: a match-status change in one line, a payload change as a line diff.
pub fn render(diffs: &[Difference], fixtures_run: usize) -> String {
    let mut s = String::new();
    if diffs.is_empty() {
        s.push_str(&format!(
            "Behaviour: no change on {fixtures_run} fixture run(s).\n"
        ));
        return s;
    }
    s.push_str(&format!(
        "Behaviour: {} of {fixtures_run} fixture run(s) change.\n\n",
        diffs.len()
    ));
    for d in diffs {
        match (&d.live, &d.proposed) {
            (RuleEffect::Payload { payload: a }, RuleEffect::Payload { payload: b }) => {
                s.push_str(&format!(
                    "  ~ {} / {}: payload changes\n",
                    d.rule, d.fixture
                ));
                for ch in crate::cxone::plan::field_diff(a, b) {
                    s.push_str(&crate::cxone::plan::render_change(&ch));
                }
            }
            (l, p) => {
                s.push_str(&format!(
                    "  ~ {} / {}: {} → {}\n",
                    d.rule,
                    d.fixture,
                    label(l),
                    label(p)
                ));
                for o in [l, p] {
                    if let RuleEffect::Error { message } = o {
                        s.push_str(&format!("      error: {message}\n"));
                    }
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `plan --behaviour` selects the events `test`, `sim` and replay select (it had its own
    /// matcher once, which compared numbers as JSON text).
    #[test]
    fn selects_what_test_and_sim_select() {
        for (ev, ty, c, want) in crate::transform::runner::tests::matcher_cases() {
            assert_eq!(matches(ty, &c, &ev), want, "{ev} {ty} {c:?}");
        }
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2024-01-15T14:00:00Z".parse().unwrap()
    }

    fn rule(expr: &str, channels: Value) -> Value {
        json!({"eventType": "interaction.ended", "conditions": {"interaction.channel.type": channels},
               "actions": [{"type": "TRANSFORM", "jsonataExpression": expr}, {"type": "ROUTE", "channelId": "C"}]})
    }

    /// Before there was one matcher, `plan --behaviour` compared condition values strictly and
    /// read the type from a top-level `type` too, so it disagreed with `test` and `sim`.
    #[test]
    fn the_behaviour_plan_matches_as_test_and_sim_do() {
        let conditions: IndexMap<String, Vec<Value>> =
            [("interaction.priority".to_string(), vec![json!(1)])]
                .into_iter()
                .collect();
        let ev = |p: Value| json!({"event": {"type": "interaction.ended"}, "interaction": {"priority": p}});
        assert!(matches("interaction.ended", &conditions, &ev(json!(1.0))));
        assert!(!matches("interaction.ended", &conditions, &ev(json!(2))));
        let untyped = json!({"type": "interaction.ended", "interaction": {"priority": 1}});
        assert!(!matches("interaction.ended", &conditions, &untyped));
    }

    #[test]
    fn payload_and_match_changes_are_reported_and_equal_runs_are_not() {
        let ev = |ch: &str| json!({"event": {"type": "interaction.ended"}, "interaction": {"id": 7, "channel": {"type": ch}}});
        let fixtures = vec![
            ("voice".to_string(), ev("voice")),
            ("sms".to_string(), ev("sms")),
            ("email".to_string(), ev("email")),
        ];
        let mut live = std::collections::BTreeMap::new();
        live.insert(
            "R".to_string(),
            rule("{\"id\": interaction.id}", json!(["voice", "email"])),
        );
        let proposed = rule(
            "{\"id\": $string(interaction.id)}",
            json!(["voice", "sms", "email"]),
        );
        let one = |body: Value, fixtures| Proposed {
            id: "R".into(),
            body,
            expression: None,
            fixtures,
        };
        let d = compare(&[one(proposed, fixtures)], &live, now());
        let names: Vec<&str> = d.iter().map(|x| x.fixture.as_str()).collect();
        assert_eq!(names, vec!["voice", "sms", "email"]);
        assert_eq!(d[1].live, RuleEffect::NotMatched);
        let text = render(&d, 3);
        assert!(text.contains("~ id: 7 → \"7\""), "{text}");
        assert!(text.contains("sms: not matched → matched"), "{text}");

        let same = compare(
            &[one(live["R"].clone(), vec![("voice".into(), ev("voice"))])],
            &live,
            now(),
        );
        assert!(same.is_empty());
    }
}
