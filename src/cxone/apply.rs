//! Apply: the preflight (Event Hub entitlement) and the plan's actions in order — channel, retry
//! policy, rules in manifest order, removals last. It stops at the first failure and reports
//! exactly what was applied and what was not; because every step is a full replace keyed by
//! name or id, a re-run converges.

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, HubError};
use super::paths;
use super::plan::{label, Action, Kind, Op, Plan};

/// Checks the tenant has the Event Hub entitlement. Returns a user-facing message when it does not
/// (a 403 is explained by the client with the guide's permission names).
pub async fn preflight(client: &mut Client) -> Result<Option<String>, HubError> {
    let body = client.entitlements().await?;
    Ok(if has_event_hub(&body) {
        None
    } else {
        Some(
            "the tenant has no Event Hub entitlement (GET /api/v2/licensing/entitlements lists \
             none named EventHub that is enabled); the guide requires CXone CX 1 or higher and a \
             Studio licence"
                .into(),
        )
    })
}

/// Whether an entitlements response lists an enabled Event Hub entitlement. Accepts a list of
/// `{name, enabled}` objects (bare or under `entitlements`) or a list of names; see docs/apply.md.
pub fn has_event_hub(body: &Value) -> bool {
    let items = super::client::list_items(body, "entitlements");
    items.iter().any(|e| {
        let (name, enabled) = match e {
            Value::String(s) => (s.as_str(), true),
            Value::Object(_) => (
                e.get("name")
                    .or_else(|| e.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                e.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            ),
            _ => ("", false),
        };
        let norm: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        enabled && norm.contains("eventhub")
    })
}

/// One applied step.
#[derive(Debug, Clone)]
pub struct Done {
    pub action: Action,
    pub status: u16,
    /// What the attempts before the last met (see [`super::client::Response::retried`]).
    pub retried: Vec<String>,
}

/// What an apply did before it stopped (or finished).
#[derive(Debug)]
pub struct ApplyReport {
    pub done: Vec<Done>,
    /// The action that failed and why.
    pub failed: Option<(Action, HubError)>,
    /// Actions not attempted because an earlier one failed.
    pub not_attempted: Vec<Action>,
}

/// Runs the plan's changing actions in order, stopping at the first failure. A plan with
/// conflicts (objects owned by another spec or environment) is never applied: nothing is sent.
pub async fn apply(client: &mut Client, plan: &Plan) -> ApplyReport {
    let todo: Vec<&Action> = plan.actions.iter().filter(|a| a.writes()).collect();
    let mut out = ApplyReport {
        done: Vec::new(),
        failed: None,
        not_attempted: Vec::new(),
    };
    if !plan.conflicts.is_empty() {
        out.not_attempted = todo.into_iter().cloned().collect();
        return out;
    }
    for (i, a) in todo.iter().enumerate() {
        match step(client, a).await {
            Ok((status, retried)) => out.done.push(Done {
                action: (*a).clone(),
                status,
                retried,
            }),
            Err(e) => {
                out.failed = Some(((*a).clone(), e));
                out.not_attempted = todo[i + 1..].iter().map(|a| (*a).clone()).collect();
                break;
            }
        }
    }
    out
}

/// Sends one action's call: the final status and what earlier attempts met.
async fn step(client: &mut Client, a: &Action) -> Result<(u16, Vec<String>), HubError> {
    let body = a.body();
    let method = match a.method {
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        _ => Method::PUT,
    };
    match client.call(method, &a.path, &[], body).await {
        Ok(r) => Ok((r.status, r.retried)),
        // Gone already: removed by our own earlier attempt whose answer was lost (the DELETE was
        // retried), or by someone else since the plan read it. Either way the rule is not live.
        Err(HubError::Status { status: 404, .. }) if a.op == Op::Remove => Ok((404, Vec::new())),
        // Created by someone else (or by our own earlier attempt whose answer was lost) since
        // the plan read the list: adopt it with a replace instead of failing or making a twin.
        Err(HubError::Status { status: 409, .. })
            if a.kind == Kind::Channel && a.op == Op::Create =>
        {
            let name = body
                .and_then(|b| b.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(&a.name);
            let r = client
                .call(Method::PUT, &paths::channel(name), &[], body)
                .await?;
            let mut retried = vec!["409, replaced".to_string()];
            retried.extend(r.retried);
            Ok((r.status, retried))
        }
        Err(e) => Err(e),
    }
}

/// Renders an outcome: one line per step, and on failure what was and was not applied.
pub fn render(out: &ApplyReport) -> String {
    let mut s = String::new();
    for d in &out.done {
        let retried = if d.action.op == Op::Remove && d.status == 404 {
            " (gone already)".to_string()
        } else if d.retried.is_empty() {
            String::new()
        } else {
            format!(" (after {})", d.retried.join("; "))
        };
        s.push_str(&format!(
            "  {} {} {}: {} {} → {}{retried}\n",
            verb(d.action.op),
            kind(d.action.kind),
            label(&d.action.name),
            d.action.method,
            d.action.path,
            d.status
        ));
    }
    if let Some((a, e)) = &out.failed {
        s.push_str(&format!(
            "  failed {} {}: {e}\n\nApplied: {}.\nNot applied: {}.\n",
            kind(a.kind),
            label(&a.name),
            list(out.done.iter().map(|d| &d.action)),
            list(std::iter::once(a).chain(out.not_attempted.iter())),
        ));
        s.push_str("Fix the cause and run apply again: it continues from the live state.\n");
    } else {
        let c = |op| out.done.iter().filter(|d| d.action.op == op).count();
        let adopted = match c(Op::Adopt) {
            0 => String::new(),
            n => format!("{n} adopted, "),
        };
        s.push_str(&format!(
            "\nApply complete: {} created, {adopted}{} updated, {} removed.\n",
            c(Op::Create),
            c(Op::Update),
            c(Op::Remove)
        ));
    }
    s
}

fn list<'a>(it: impl Iterator<Item = &'a Action>) -> String {
    let v: Vec<String> = it
        .map(|a| format!("{} {}", kind(a.kind), label(&a.name)))
        .collect();
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

fn verb(op: Op) -> &'static str {
    match op {
        Op::Create => "created",
        Op::Update => "updated",
        Op::Adopt => "adopted",
        Op::Remove => "removed",
        Op::Unchanged | Op::Deferred => "kept",
    }
}

fn kind(k: Kind) -> &'static str {
    k.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entitlement_shapes_are_recognised() {
        assert!(has_event_hub(
            &json!({"entitlements": [{"name": "Event Hub", "enabled": true}]})
        ));
        assert!(has_event_hub(&json!(["Studio", "EVENT_HUB"])));
        assert!(!has_event_hub(
            &json!({"entitlements": [{"name": "EventHub", "enabled": false}]})
        ));
        assert!(!has_event_hub(
            &json!({"entitlements": [{"name": "Studio"}]})
        ));
    }
}
