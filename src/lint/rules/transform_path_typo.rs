//! ## What it does
//! Surfaces the transform checks of `cxsync test` as lint findings: an input path that no fixture
//! event has while a similar one exists (`interaction.dispostion.code` for
//! `interaction.disposition.code`), and similar mistakes the transform stage detects.
//!
//! ## Why is this bad?
//! JSONata yields undefined for a missing path instead of failing, so a typo silently drops the
//! field from every CRM payload.
//!
//! ## Example
//! ```jsonata
//! { "dispositionCode": interaction.dispostion.code }
//! ```
//!
//! Use instead:
//! ```jsonata
//! { "dispositionCode": interaction.disposition.code }
//! ```
//!
//! ## Fix safety
//! No automatic fix: the path the author meant is a guess.

use super::prelude::*;
use crate::lint::context::RuleView;

/// The transform stage's path checks for one rule (`transform::checks::UNKNOWN_PATH`), as located
/// diagnostics; code and severity are re-stamped by the registry. Syntax and dialect findings of
/// the same stage are left to their own lint rules so each problem is reported once.
fn upstream_checks(cx: &Context, rule: &RuleView) -> Vec<Diagnostic> {
    let resolved = crate::spec::ResolvedRule {
        index: rule.index,
        transform: rule.transform.as_ref().map(|t| t.source.clone()),
        fixtures: rule.fixtures.clone(),
    };
    crate::transform::checks::check_rule(cx.spec, &resolved)
        .into_iter()
        .filter(|d| d.code == crate::transform::checks::UNKNOWN_PATH)
        .collect()
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for rule in &cx.rules {
        out.extend(upstream_checks(cx, rule).into_iter().map(|mut d| {
            // Keep the transform stage's code visible in the message.
            if !d.code.is_empty() && !d.code.starts_with("CX") {
                d.message = format!("{} [{}]", d.message, d.code);
            }
            d
        }));
    }
}
