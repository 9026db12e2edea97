//! ## What it does
//! Reports a transform that does not parse as JSONata, at the offending token.
//!
//! ## Why is this bad?
//! A rule whose transform does not compile delivers nothing.
//!
//! ## Example
//! ```jsonata
//! { "caseNumber": $string(interaction.id) "channel": interaction.channel.type }
//! ```
//!
//! Use instead:
//! ```jsonata
//! { "caseNumber": $string(interaction.id), "channel": interaction.channel.type }
//! ```
//!
//! ## Fix safety
//! No automatic fix, except for the guide's dialect (`jsonata-dialect`), which `cxsync fix`
//! rewrites.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for rule in &cx.rules {
        let Some(t) = &rule.transform else { continue };
        // The dialect has its own rule with a better message and a fix.
        if !t.dialect.is_empty() {
            continue;
        }
        if let Err(e) = &t.analysis {
            let mut d = cx.in_transform(
                &t.source,
                e.start,
                e.end,
                format!("transform does not parse ({}): {}", e.code, e.message),
            );
            if let Some(h) = &e.help {
                d = d.with_help(h.clone());
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::context::TransformView;
    use crate::lint::rules::tests_support::{dialect_fix, inline_source, run_view};
    use crate::transform::syntax::SyntaxError;

    fn failing() -> TransformView {
        let mut view = TransformView::with_analysis(inline_source(), Default::default());
        view.analysis = Err(SyntaxError {
            code: "S0202".into(),
            message: "expected `,` before `\"channel\"`".into(),
            start: 40,
            end: 49,
            help: Some("separate fields with commas".into()),
        });
        view
    }

    #[test]
    fn a_parse_error_is_reported_with_the_engine_code_and_help() {
        let d = run_view("acceptsArrays: false", failing(), check);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.starts_with("transform does not parse (S0202)"));
        assert_eq!(d[0].help.as_deref(), Some("separate fields with commas"));
    }

    #[test]
    fn the_guides_dialect_is_left_to_its_own_rule() {
        let mut view = failing();
        view.dialect = vec![dialect_fix(0, 3, "")];
        assert!(run_view("acceptsArrays: false", view, check).is_empty());
    }
}
