//! ## What it does
//! Reports a transform that does not parse as JSONata, at the offending token, and a call of a
//! `$name` that is neither a builtin nor bound by the transform (a misspelt `$uppercas(…)`), at
//! the name, with the closest builtin.
//!
//! ## Why is this bad?
//! A rule whose transform does not compile delivers nothing; a call of an unknown function fails
//! every event at run time (`T1006`).
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
        match &t.analysis {
            Err(e) => {
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
            Ok(a) => {
                for (name, start, end) in &a.unknown_functions {
                    let found = crate::transform::checks::unknown_function(name, &a.bound);
                    let mut d = cx.in_transform(&t.source, *start, *end, found.message);
                    if let Some(h) = found.help {
                        d = d.with_help(h);
                    }
                    out.push(d);
                }
            }
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
    fn a_misspelt_function_is_reported_with_the_builtin_it_resembles() {
        let a = crate::transform::syntax::analyse(
            "($f := function($x) { $x }; {'k': $uppercas(a), 'f': $f(b), 'n': $now()})",
        )
        .unwrap();
        let d = run_view(
            "acceptsArrays: false",
            TransformView::with_analysis(inline_source(), a),
            check,
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0]
            .message
            .contains("`$uppercas` is not a JSONata function"));
        assert_eq!(d[0].help.as_deref(), Some("did you mean `$uppercase`?"));
    }

    #[test]
    fn the_guides_dialect_is_left_to_its_own_rule() {
        let mut view = failing();
        view.dialect = vec![dialect_fix(0, 3, "")];
        assert!(run_view("acceptsArrays: false", view, check).is_empty());
    }
}
