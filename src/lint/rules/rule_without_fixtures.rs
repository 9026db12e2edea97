//! ## What it does
//! Flags an enabled rule that has no fixture events.
//!
//! ## Why is this bad?
//! `cxsync test` can only snapshot a transform against events; a rule without fixtures ships
//! untested, and rules that read the fixtures (`uncovered-condition-value`,
//! `idempotency-key-field-can-be-absent`, `payload-not-a-record`) cannot check it either. `sim`
//! generates events only from fixtures, so it never delivers one through this rule: a transform
//! that fails on every real event passes both. On by default: it is cheap and never wrong.
//!
//! ## Example
//! ```yaml
//! rules:
//!   - id: CRM_SYNC_RULE_ID
//!     eventType: interaction.ended
//! ```
//!
//! Use instead:
//! ```yaml
//! rules:
//!   - id: CRM_SYNC_RULE_ID
//!     eventType: interaction.ended
//!     fixtures: [fixtures/events/*.json]
//! ```
//!
//! ## Fix safety
//! No automatic fix.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (rule, raw) in cx.enabled_rules() {
        if rule.fixtures.is_empty() {
            out.push(
                cx.at_key(
                    &format!("/rules/{}/id", rule.index),
                    format!("rule `{}` has no fixture events", raw.id),
                )
                .with_help(
                    "add `fixtures:` with captured events of this type: until then `test` and `sim` never run this rule",
                ),
            );
        }
    }
}
