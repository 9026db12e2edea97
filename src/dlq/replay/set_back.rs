//! Records a replay may set back (#217): a replay is the latest write of all, so where the spec's
//! rules write one upserted record for two events and set a field of it to different values
//! (CX037's condition, asked of `sim::engine::preview` as lint and the verdict ask it), replaying
//! the older event's dead letter after the newer event's write reached the CRM sets the record
//! back. Replay cannot see what the CRM holds; it names the records to look at.

use std::collections::BTreeMap;

use super::Evaluation;
use crate::diag::printable;
use crate::sim::engine::preview;
use crate::spec::Spec;

/// How many records the warning names.
const NAMED: usize = 5;

/// A warning naming the records about to be sent (not replayed yet, deliverable) whose rule
/// writes the older event of a pair of rules that can set one record back; `None` when there
/// are none (or the spec's rules cannot be previewed: lint says why).
pub fn set_back_warning(spec: &Spec, evals: &[Evaluation]) -> Option<String> {
    let inputs = crate::sim::inputs::compile(spec).ok()?;
    let pairs = preview::set_back_rules_of(spec, &inputs);
    let mut newer: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in &pairs {
        newer.entry(a.as_str()).or_default().push(b.as_str());
    }
    let hit: Vec<&Evaluation> = evals
        .iter()
        .filter(|e| !e.already_replayed && e.deliverable())
        .filter(|e| e.rule.as_deref().is_some_and(|r| newer.contains_key(r)))
        .collect();
    if hit.is_empty() {
        return None;
    }
    let rules: Vec<String> = newer
        .iter()
        .map(|(a, bs)| {
            let bs: Vec<String> = bs.iter().map(|b| format!("`{}`", printable(b))).collect();
            format!("`{}` before {}", printable(a), bs.join(" or "))
        })
        .collect();
    let named: Vec<String> = hit
        .iter()
        .take(NAMED)
        .map(|e| {
            format!(
                "{} (event {}, rule `{}`)",
                printable(&e.key),
                printable(&e.event_id),
                printable(e.rule.as_deref().unwrap_or_default())
            )
        })
        .collect();
    let more = hit.len().saturating_sub(NAMED);
    Some(format!(
        "{} record(s) are of an event older than another write the spec's rules make of the same CRM record, setting a field of it to a different value ({}; lint: CX037): where that newer write reached the CRM, replaying sets the record back: {}{}; check those records in the CRM before replaying these",
        hit.len(),
        rules.join(", "),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}
