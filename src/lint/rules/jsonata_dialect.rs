//! ## What it does
//! Flags the guide's JSONata dialect: `$if(c) a $else b $end` and the optional-chaining `a?.b`.
//! Neither parses in any JSONata engine.
//!
//! ## Why is this bad?
//! The Event Hub rejects the rule, or evaluates it to an error for every event: nothing reaches the
//! CRM. The guide's transform uses both constructs.
//!
//! ## Example
//! ```jsonata
//! "contactId": $if(interaction.customer.contactId != null) $string(interaction.customer.contactId) $else "UNKNOWN_CONTACT" $end,
//! "agentEmail": interaction.agent?.email
//! ```
//!
//! Use instead:
//! ```jsonata
//! "contactId": interaction.customer.contactId != null ? $string(interaction.customer.contactId) : "UNKNOWN_CONTACT",
//! "agentEmail": interaction.agent.email
//! ```
//! (A JSONata path is already null-safe: a missing step yields undefined.)
//!
//! ## Fix safety
//! Safe: `cxsync fix` applies exactly these rewrites, which keep the meaning.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for rule in &cx.rules {
        let Some(t) = &rule.transform else { continue };
        for fix in &t.dialect {
            out.push(
                cx.in_transform(&t.source, fix.start, fix.end, fix.message.clone())
                    .with_help(format!("{} (`cxsync fix` rewrites it)", fix.help)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::context::TransformView;
    use crate::lint::rules::tests_support::{inline_source, run_view};
    use crate::transform::syntax::DialectFix;

    #[test]
    fn each_dialect_use_is_one_finding_with_its_rewrite() {
        let mut view = TransformView::with_analysis(inline_source(), Default::default());
        view.dialect = vec![DialectFix {
            start: 3,
            end: 5,
            replacement: ".".into(),
            message: "`?.` is not JSONata".into(),
            help: "write `.`".into(),
            origins: Vec::new(),
            kind: crate::transform::syntax::DialectKind::OptionalChain,
            fixable: true,
            nested: Vec::new(),
        }];
        let d = run_view("acceptsArrays: false", view, check);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "`?.` is not JSONata");
        assert_eq!(
            d[0].help.as_deref(),
            Some("write `.` (`cxsync fix` rewrites it)")
        );
        assert_eq!(d[0].file.as_deref(), Some(std::path::Path::new("t.yaml")));
    }
}
