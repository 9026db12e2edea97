//! ## What it does
//! Flags a value in a rule's `conditions` that none of the rule's fixture events has at that path.
//!
//! ## Why is this bad?
//! Every condition value is a branch of the integration: `email` in
//! `interaction.channel.type: [voice, webchat, email]` means email interactions reach the CRM. If
//! no fixture is an email interaction, `cxsync test` never runs the transform on one, and a field
//! that only emails lack breaks in production first.
//!
//! ## Example
//! ```yaml
//! conditions:
//!   interaction.channel.type: [voice, webchat, email]
//! fixtures: [fixtures/voice.json, fixtures/webchat.json]
//! ```
//!
//! Use instead:
//! ```yaml
//! fixtures: [fixtures/voice.json, fixtures/webchat.json, fixtures/email.json]
//! ```
//!
//! ## Fix safety
//! No automatic fix: a fixture is a real event someone has to capture.

use super::prelude::*;
use crate::lint::context::lookup;
use crate::spec::yaml::child;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (rule, raw) in cx.enabled_rules() {
        if rule.fixtures.is_empty() {
            continue;
        }
        for (path, values) in &raw.conditions {
            // A path that is a list or an object where the values are single values never
            // matches at all: CX033 says so, and "no fixture has it" would mislead.
            if super::condition_on_list_or_object::whole_value_mismatch(
                &rule.fixtures,
                &raw.event_type,
                path,
                values,
            )
            .is_some()
            {
                continue;
            }
            for (j, v) in values.iter().enumerate() {
                let covered = rule
                    .fixtures
                    .iter()
                    .any(|f| lookup(&f.event, path) == Some(v));
                if covered {
                    continue;
                }
                let pointer = format!(
                    "{}/{j}",
                    child(&format!("/rules/{}/conditions", rule.index), path)
                );
                out.push(
                    cx.at_value(
                        &pointer,
                        format!(
                            "no fixture of rule `{}` has {path} = {v}; this branch is never tested",
                            raw.id
                        ),
                    )
                    .with_help("add a fixture event for it under `fixtures`"),
                );
            }
        }
    }
}
