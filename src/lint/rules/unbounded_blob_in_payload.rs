//! ## What it does
//! Flags a transform that maps a field of unbounded size (transcripts, `rawPayload`, whole
//! analytics objects or arrays) into the CRM payload while `crm.maxPayloadBytes` is not set. A
//! field that only counts or tests the blob (`$count(interaction.analytics.transcripts)`) is
//! bounded and not flagged.
//!
//! ## Why is this bad?
//! A long call's transcript or a raw payload easily exceeds the CRM's request limit (typically
//! 1 MB or 4 MB). The CRM answers 413, which never heals, and the event is dead-lettered (guide,
//! edge case 3). `crm.maxPayloadBytes` makes cxsync check the size of every transform output
//! (`PAYLOAD_TOO_LARGE`) before delivery.
//!
//! ## Example
//! ```yaml
//! transform: |
//!   { "caseNumber": $string(interaction.id), "transcript": interaction.analytics.transcripts }
//! ```
//!
//! Use instead: drop or truncate the field (`$substring(…, 0, 4000)`), and set a guard:
//! ```yaml
//! crm:
//!   maxPayloadBytes: 524288
//! ```
//!
//! ## Fix safety
//! No automatic fix: which fields the CRM needs is the author's call.

use super::large_blob;
use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if cx.spec.raw.crm.max_payload_bytes.is_some() {
        return;
    }
    for c in cx.carried(large_blob) {
        // A transform that truncates with $substring is bounded.
        if c.analysis
            .functions
            .iter()
            .any(|(n, _, _)| n == "substring")
        {
            continue;
        }
        out.push(
            cx.at_output(
                c.source,
                c.field,
                format!(
                    "{} carries {} (`{}`) and no payload size guard is set",
                    c.place(),
                    c.what,
                    c.path.dotted()
                ),
            )
            .with_help(
                "set `crm.maxPayloadBytes` (below the CRM's limit) and drop or truncate the field",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::{analysis, context_with};

    #[test]
    fn blobs_are_flagged_only_without_a_guard() {
        let a = analysis(&[
            ("/transcript", &["interaction.analytics.transcripts"]),
            ("/score", &["interaction.analytics.sentiment.score"]),
        ]);
        let d = context_with("acceptsArrays: false", a.clone(), check);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("`transcript` carries a transcript"));
        assert!(context_with("maxPayloadBytes: 1000", a, check).is_empty());
    }
}
