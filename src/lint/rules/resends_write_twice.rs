//! ## What it does
//! Flags a spec whose CRM does not deduplicate (`crm.idempotency: { by: none }`, or a profile
//! whose CRM has no idempotency mechanism and no `crm.idempotency` saying otherwise) while the
//! retry policy sends a request again after a timeout or a connection reset, as the delivery
//! machine runs it (`cxsync lint --budget`). The deduplication facts are the CRM profile's, the
//! same the simulator's CRM model uses (`docs/crm-profiles.md`).
//!
//! ## Why is this bad?
//! A timeout or a reset does not say whether the CRM applied the request. When it did, the retry
//! writes the record a second time, and nothing on the CRM's side can tell the two apart:
//! `cxsync sim --scenario partition` counts these as duplicate writes.
//!
//! ## Example
//! ```yaml
//! crm:
//!   profile: servicenow
//!   idempotency: { by: none }
//! ```
//!
//! Use instead:
//! ```yaml
//! crm:
//!   profile: servicenow
//!   # an import set / scripted REST endpoint that coalesces on the interaction id
//!   idempotency: { by: upsert, field: u_interaction_id }
//! ```
//!
//! ## Fix safety
//! An upsert needs an endpoint and a field the CRM really upserts on; if duplicates are
//! acceptable (a log of activities), suppress the rule on the `crm` line.

use super::prelude::*;
use crate::crm::DedupMode;
use crate::lint::budget::{Answer, Options, Prober, Schedule};

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let (profile, dedup) = cx.crm();
    // A deduplication the spec intends but cannot have is CX031's finding.
    if dedup.mode != DedupMode::None || dedup.problem.is_some() {
        return;
    }
    let Ok(machine) = Prober::new(raw, Options::default()) else {
        return;
    };
    let resent = [
        (Answer::Timeout, "timeout"),
        (Answer::Reset, "connection reset"),
    ]
    .into_iter()
    .filter_map(|(a, what)| {
        let s = machine.run(a, Schedule::Fastest).ok()?;
        (s.attempts > 1).then_some((what, s.attempts))
    })
    .collect::<Vec<_>>();
    let Some((what, attempts)) = resent.first() else {
        return;
    };
    let (pointer, why) = if cx.written("/crm/idempotency") {
        (
            "/crm/idempotency",
            "`crm.idempotency` says `none`".to_string(),
        )
    } else {
        (
            "/crm/profile",
            format!("{} has no idempotency mechanism", profile.name),
        )
    };
    out.push(
        cx.at_value(
            pointer,
            format!(
                "the CRM does not deduplicate ({why}), and the retry policy sends a request again after a {what} (up to {attempts} attempts): a request the CRM applied but did not answer in time is written twice"
            ),
        )
        .with_help(
            "upsert on a field that identifies the event (`crm.idempotency: { by: upsert, field: … }`) if the CRM offers it; if duplicate records are acceptable, end this line with `# cxsync: ignore[CX032]`; `cxsync sim --scenario partition` counts them",
        ),
    );
}
