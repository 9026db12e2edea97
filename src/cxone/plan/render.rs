//! The plan for people, terraform-style: `+ create`, `~ update`, `! adopt`, `- remove`,
//! `… defer`, one line per field, secrets as `(sensitive)`, conflicts as an error that names the
//! owner and the way out.

use serde_json::Value;

use super::diff::is_sensitive;
use super::{label, Action, FieldChange, Op, Plan, Reason};

/// How a typed (already redacted) value reads in a plan.
pub(super) fn display(v: &Value) -> String {
    if is_sensitive(v) {
        "(sensitive)".to_string()
    } else {
        v.to_string()
            .replace(r#"{"sensitive":true}"#, "(sensitive)")
    }
}

/// Renders the plan for people. A plan with conflicts renders as the error that stops it.
pub fn render(plan: &Plan, api: &str) -> String {
    if !plan.conflicts.is_empty() {
        return render_conflicts(plan);
    }
    let mut s = String::new();
    if !plan.has_changes() {
        let apart = if plan.unmanaged.is_empty() {
            ""
        } else {
            " (apart from the rules left live below)"
        };
        s.push_str(&format!(
            "No changes. The Event Hub at {api} matches the spec{apart}.\n"
        ));
        if plan.actions.iter().any(super::hides_a_secret) {
            // Tester #89: a rotated secret the hub masks cannot show as a change.
            s.push_str(
                "(The hub returns some secrets masked, so those were not compared; after \
                 rotating one, `--rotate-secrets` re-sends it.)\n",
            );
        }
    } else {
        s.push_str(&format!("Event Hub at {api}: cxsync will\n\n"));
    }
    for a in &plan.actions {
        render_action(&mut s, a);
    }
    render_unmanaged(&mut s, plan);
    if plan.has_changes() {
        let n = plan.summary();
        let adopt = if n.adopt > 0 {
            format!("{} to adopt, ", n.adopt)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "Plan: {} to create, {adopt}{} to update, {} to remove.\n",
            n.create, n.update, n.remove
        ));
    }
    s
}

fn render_action(s: &mut String, a: &Action) {
    let stage = a.stage.map(|n| format!(" (stage {n})")).unwrap_or_default();
    let spec_id = match &a.spec_id {
        Some(id) if *id != a.name => format!(" (spec rule {id})"),
        _ => String::new(),
    };
    let head = |sym: &str, verb: &str| {
        format!(
            "  {sym} {verb} {} {}{spec_id}{stage}    {} {}\n",
            a.kind.as_str(),
            label(&a.name),
            a.method,
            a.path
        )
    };
    match a.op {
        Op::Unchanged => return,
        Op::Create => {
            s.push_str(&head("+", "create"));
            for ch in &a.changes {
                s.push_str(&render_change(ch));
            }
        }
        Op::Update | Op::Adopt => {
            s.push_str(&head(
                if a.op == Op::Adopt { "!" } else { "~" },
                if a.op == Op::Adopt { "adopt" } else { "update" },
            ));
            if let Some(o) = &a.owner {
                let before = o.before.as_deref().unwrap_or("nobody (no owner marker)");
                s.push_str(&format!("      owner: {before} → {}\n", o.after));
            }
            for ch in &a.changes {
                s.push_str(&render_change(ch));
            }
        }
        Op::Remove => {
            s.push_str(&head("-", "remove"));
            s.push_str(match a.reason {
                Some(Reason::DisabledInSpec) => {
                    "      (disabled in the spec: the Event Hub rule has no enabled flag, so a disabled rule is removed)\n"
                }
                _ => "      (routes to the channel but is not in the spec; --prune)\n",
            });
        }
        Op::Deferred => {
            s.push_str(&format!(
                "  … defer {} {}{stage}: a later rollout stage than --stage\n",
                a.kind.as_str(),
                label(&a.name)
            ));
        }
    }
    s.push('\n');
}

/// Rules routing to the channel that the spec lacks and the plan leaves live: they keep
/// receiving events, so they are never silent (a renamed rule's old id is one).
fn render_unmanaged(s: &mut String, plan: &Plan) {
    if plan.unmanaged.is_empty() {
        return;
    }
    if !plan.has_changes() {
        s.push('\n');
    }
    let channel = plan.actions.first().map_or("", |a| a.name.as_str());
    s.push_str(&format!(
        "Left live: {} rule(s) route to channel {} but are not in the spec (--prune removes them):\n",
        plan.unmanaged.len(),
        label(channel)
    ));
    for u in &plan.unmanaged {
        let about: Vec<String> = [&u.name, &u.event_type]
            .into_iter()
            .flatten()
            .map(|t| serde_json::to_string(t).unwrap_or_default())
            .collect();
        s.push_str(&format!(
            "  = rule {} ({})\n",
            label(&u.id),
            about.join(", ")
        ));
        if let Some(twin) = &u.same_events_as {
            s.push_str(&format!(
                "      same event type and conditions as rule {}: each event they match is sent to \
                 the channel twice (renamed? --prune removes the old id)\n",
                label(twin)
            ));
        }
    }
    s.push('\n');
}

fn render_conflicts(plan: &Plan) -> String {
    let mut s = format!(
        "Refusing to plan changes to Event Hub objects that belong to another spec or environment \
         (this is {}):\n\n",
        plan.owner
    );
    for c in &plan.conflicts {
        s.push_str(&format!("  ! {}\n", c.message));
    }
    s.push_str(
        "\nNothing was changed. If these objects should be this spec's, give it its own names \
         (an environment overlay usually sets `channel.name`), or pass --adopt to take them over \
         on purpose: the plan then shows each as `! adopt`.\n",
    );
    s
}

/// A line of text as a plan shows it: control characters (but tab) escaped, so a hostile value
/// from a hub cannot drive the terminal.
fn visible(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One field change as text, indented for a plan.
pub fn render_change(ch: &FieldChange) -> String {
    if ch.resent {
        return format!("      ~ {}: (sensitive) → (sensitive, re-sent)\n", ch.path);
    }
    match (&ch.before, &ch.after) {
        (None, Some(Value::String(n))) if n.len() > 100 && n.contains('\n') => {
            // A long text (JSONata) added whole: its lines, as an update shows them.
            let mut t = format!("      + {}:\n", ch.path);
            for line in n.lines() {
                t.push_str(&format!("          + {}\n", visible(line)));
            }
            t
        }
        (None, Some(n)) => format!("      + {}: {}\n", ch.path, display(n)),
        (Some(o), None) => format!("      - {}: {}\n", ch.path, display(o)),
        (Some(Value::String(o)), Some(Value::String(n))) if o.len() + n.len() > 100 => {
            // Long strings (JSONata) as a line diff of their text, not two unreadable lines.
            let mut t = format!("      ~ {}:\n", ch.path);
            let d = similar::TextDiff::from_lines(o, n);
            for change in d.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                t.push_str(&format!(
                    "          {sign} {}\n",
                    visible(change.value().trim_end_matches('\n'))
                ));
            }
            t
        }
        (Some(o), Some(n)) => format!("      ~ {}: {} → {}\n", ch.path, display(o), display(n)),
        (None, None) => String::new(),
    }
}
