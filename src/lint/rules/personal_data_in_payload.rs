//! ## What it does
//! Flags an output field of a transform that carries personal data (a customer's phone, email or
//! name, an agent's email, transcripts, raw payloads; found by input path names) and is not listed
//! in `crm.allowPersonalData`. Only content that reaches the field counts: a field computed from
//! `$count(interaction.analytics.transcripts) > 0`, `$exists(customer.phone)` or a condition
//! carries none of it.
//!
//! ## Why is this bad?
//! CXone events carry raw customer identifiers. Copying them into the CRM without checking that
//! the CRM field is meant (and protected) for it risks PCI-DSS or HIPAA data-in-transit violations
//! (guide §2, "The Trap"). The allow list makes the decision explicit and reviewable.
//!
//! ## Example
//! ```yaml
//! transform: |
//!   { "caseNumber": $string(interaction.id), "callerPhone": interaction.customer.phone }
//! ```
//!
//! Use instead: drop the field, or, when the CRM field is approved for it,
//! ```yaml
//! crm:
//!   allowPersonalData: [callerPhone]
//! ```
//!
//! ## Fix safety
//! No automatic fix: whether a field may carry personal data is a compliance decision.

use super::personal_data;
use super::prelude::*;

/// `/metadata/x` or `metadata.x` → `metadata.x`.
fn dotted(field: &str) -> String {
    field.trim_start_matches('/').replace('/', ".")
}

/// Whether an output field is covered by the allow list (the field itself or an ancestor).
pub fn allowed(allow: &[String], pointer: &str) -> bool {
    let f = dotted(pointer);
    allow
        .iter()
        .map(|a| dotted(a))
        .any(|a| f == a || f.strip_prefix(&a).is_some_and(|rest| rest.starts_with('.')))
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let allow = &cx.spec.raw.crm.allow_personal_data;
    for c in cx.carried(personal_data) {
        if allowed(allow, &c.field.pointer) {
            continue;
        }
        let field = c.field_name();
        out.push(
            cx.at_output(
                c.source,
                c.field,
                format!(
                    "output field `{field}` carries {} (`{}`), but it is not in `crm.allowPersonalData`",
                    c.what,
                    c.path.dotted()
                ),
            )
            .with_help(format!(
                "drop the field, or add `{field}` to `crm.allowPersonalData` once the CRM field is approved for personal data"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::{analysis, context_with};

    #[test]
    fn unlisted_personal_fields_are_flagged_at_the_innermost_output_key() {
        let a = analysis(&[
            ("/caseNumber", &["interaction.id"]),
            ("/agentEmail", &["interaction.agent.email"]),
            ("/contact", &["interaction.customer.phone"]),
            ("/contact/phone", &["interaction.customer.phone"]),
            ("/queue", &["interaction.queue.name"]),
        ]);
        let diags = context_with("allowPersonalData: [agentEmail]", a, check);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0]
            .message
            .contains("`contact.phone` carries a phone number"));
    }

    #[test]
    fn allow_list_covers_nested_fields() {
        assert!(allowed(&["metadata".into()], "/metadata/email"));
        assert!(allowed(&["/metadata/email".into()], "/metadata/email"));
        assert!(!allowed(&["meta".into()], "/metadata/email"));
    }
}
