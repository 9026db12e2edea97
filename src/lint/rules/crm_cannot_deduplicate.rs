//! ## What it does
//! Flags a spec whose deliveries the CRM cannot deduplicate although the spec's `crm.idempotency`
//! (or the CRM profile's default) says it would: the CRM honours only its own idempotency header
//! and the spec sends another name (Zendesk deduplicates on `Idempotency-Key`, not
//! `X-Idempotency-Key`), or the CRM upserts and no upsert field is named. The facts are the CRM
//! profile's, the same the simulator's CRM model uses (`docs/crm-profiles.md`).
//!
//! ## Why is this bad?
//! Every resend — a retry after a timeout whose request did reach the CRM, a connection reset
//! after the write, a replay from the DLQ — becomes a second record. The idempotency key is sent,
//! but under a header the CRM never reads, so it protects nothing.
//!
//! ## Example
//! ```yaml
//! idempotency:
//!   header: X-Idempotency-Key
//! crm:
//!   profile: zendesk
//! ```
//!
//! Use instead:
//! ```yaml
//! idempotency:
//!   header: Idempotency-Key
//! crm:
//!   profile: zendesk
//! ```
//!
//! ## Fix safety
//! Renaming the header is safe for a CRM that honours only that name; naming an upsert field
//! needs a field the CRM really upserts on.

use super::prelude::*;
use crate::crm::DedupProblem;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let (profile, dedup) = cx.crm();
    let Some(problem) = dedup.problem else {
        return;
    };
    let d = match &problem {
        DedupProblem::HeaderIgnored { honoured, .. } => cx
            .at_value("/idempotency/header", problem.to_string())
            .with_help(format!("set `idempotency.header: {honoured}`")),
        DedupProblem::UpsertWithoutField => {
            let pointer = if cx.written("/crm/idempotency") {
                "/crm/idempotency"
            } else {
                "/crm/profile"
            };
            cx.at_value(
                pointer,
                format!("{} ({} upserts by default)", problem, profile.name),
            )
            .with_help(
                "name the field the CRM upserts on (`crm.idempotency: { by: upsert, field: externalId }`), or write `by: none` if it has none (CX032 then says what a resend costs)",
            )
        }
    };
    out.push(d);
}
