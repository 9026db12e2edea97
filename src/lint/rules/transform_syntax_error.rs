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
