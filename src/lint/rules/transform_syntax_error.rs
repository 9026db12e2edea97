//! ## What it does
//! Reports a transform that does not parse as JSONata, at the offending token, and a call of a
//! `$name` that is neither a builtin nor bound by the transform (a misspelt `$uppercas(…)`), at
//! the name, with the closest builtin. Also every other error of the transform checks that
//! `validate` runs and `compile`, `plan` and `apply` refuse (a regex literal cxsync cannot match
//! as JavaScript does, `E506`), with the check's own message and code.
//!
//! ## Why is this bad?
//! A rule whose transform does not compile delivers nothing; a call of an unknown function fails
//! every event at run time (`T1006`); a spec with any of these cannot be compiled or applied.
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
use crate::lint::context::RuleView;
use crate::transform::checks;

/// The lint rule that reports a code of the transform checks (`transform::checks::check_spec`,
/// what `validate` reports and `compile`, `plan` and `apply` refuse): the guide's dialect is
/// `CX024`'s, a path no fixture has `CX026`'s, and every other `E5xx` this rule's. Asked by this
/// rule (which reports the codes no other rule words) and by the editor (which shows a finding
/// of both once, `lsp::check`).
pub fn lint_code_of(code: &str) -> Option<&'static str> {
    match code {
        checks::DIALECT_IF | checks::DIALECT_OPTIONAL_CHAIN => Some("CX024"),
        checks::UNKNOWN_PATH => Some("CX026"),
        c if c.starts_with("E5") => Some("CX025"),
        _ => None,
    }
}

/// The errors of the transform checks for one rule that are this rule's and that it does not
/// word itself (not `E500`, `E505`), as located diagnostics with the check's code kept in the
/// message; code and severity are re-stamped by the registry.
fn other_check_errors(cx: &Context, rule: &RuleView) -> Vec<Diagnostic> {
    let resolved = crate::spec::ResolvedRule {
        index: rule.index,
        transform: rule.transform.as_ref().map(|t| t.source.clone()),
        fixtures: rule.fixtures.clone(),
    };
    checks::check_rule(cx.spec, &resolved)
        .into_iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .filter(|d| lint_code_of(&d.code) == Some("CX025"))
        .filter(|d| ![checks::SYNTAX, checks::UNKNOWN_FUNCTION].contains(&d.code.as_str()))
        .map(|mut d| {
            d.message = format!("{} [{}]", d.message, d.code);
            d
        })
        .collect()
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for rule in &cx.rules {
        let Some(t) = &rule.transform else { continue };
        out.extend(other_check_errors(cx, rule));
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
    fn a_regex_the_transform_checks_refuse_is_reported_with_their_code() {
        let mut source = inline_source();
        source.text = r#"{"intl": $contains(ani, /^\+(?!1)/)}"#.into();
        let a = crate::transform::syntax::analyse(&source.text).unwrap();
        let d = run_view(
            "acceptsArrays: false",
            TransformView::with_analysis(source, a),
            check,
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.starts_with("regex literal with a lookaround"),
            "{d:?}"
        );
        assert!(d[0].message.ends_with("[E506]"), "{d:?}");
    }

    #[test]
    fn every_transform_check_code_has_a_lint_rule() {
        for code in [
            checks::SYNTAX,
            checks::DIALECT_IF,
            checks::DIALECT_OPTIONAL_CHAIN,
            checks::UNKNOWN_PATH,
            checks::UNKNOWN_FUNCTION,
            crate::transform::regex::JS_ONLY,
        ] {
            assert!(lint_code_of(code).is_some(), "{code}");
        }
        assert_eq!(lint_code_of("E401"), None);
    }

    #[test]
    fn the_guides_dialect_is_left_to_its_own_rule() {
        let mut view = failing();
        view.dialect = vec![dialect_fix(0, 3, "")];
        assert!(run_view("acceptsArrays: false", view, check).is_empty());
    }
}
