//! ## What it does
//! Runs each enabled rule's transform on its fixture events (those the rule matches) and flags a
//! payload the CRM refuses as a body: a string, number, boolean or `null`; an array when
//! `crm.acceptsArrays` is not set; an empty array; or an array (or, with `batchSize > 1`, a
//! payload inside the batch's array) that holds something other than objects. The verdict is the
//! simulator's: the body is built as the delivery machine builds it
//! (`delivery::machine::batch_body` when batching) and judged by the CRM model's own
//! `crm::body::judge`, which the HTTP mock calls too.
//!
//! It also flags a fixture event whose body is larger than the CRM takes (`crm.maxBodyBytes`,
//! else the profile's limit: `crm::max_body_bytes`, the number the CRM model answers 413 above),
//! and a payload larger than `crm.maxPayloadBytes`, which the delivery machine dead-letters unsent
//! (`PAYLOAD_TOO_LARGE`): an ordinary event of the fixtures that does either is refused every
//! time, and `cxsync sim` fails the run as caused by the spec.
//!
//! ## Why is this bad?
//! A REST CRM writes a record from a JSON object. Every event whose payload is not one is
//! answered `400 Bad Request`, is never retried and goes to the dead-letter queue: the rule
//! delivers nothing, and `sim` fails with `NON_RETRYABLE_STATUS (400)`. A body above the CRM's
//! limit is answered `413 Payload Too Large` (also never retried): the same, for every event
//! the size of the fixture's.
//!
//! ## Example
//! ```yaml
//! crm:
//!   acceptsArrays: false
//! rules:
//!   - id: R
//!     transform: '[{"id": interaction.id}]'
//! ```
//!
//! Use instead:
//! ```yaml
//! rules:
//!   - id: R
//!     transform: '{"id": interaction.id}'
//! ```
//! or, once the CRM's bulk endpoint is verified to take a list, `crm.acceptsArrays: true`.
//!
//! ## Fix safety
//! No automatic fix: the payload's shape is the CRM API's contract.

use super::prelude::*;
use crate::crm::body::{judge, Refusal};
use crate::crm::{self, max_body_bytes, max_body_bytes_source};
use crate::delivery::machine::{batch_body, json_text};
use crate::transform::runner::{compile_rule, matches, snapshot_now};

/// One fixture event's payload, as the delivery machine sends it (compact JSON).
pub struct FixturePayload<'a> {
    pub rule: &'a str,
    pub fixture: &'a str,
    pub text: String,
}

/// Each enabled rule with a transform, the fixture events it matches and the payloads of those
/// its transform turns into one: the one run of the fixtures through the rules that CX035 and
/// CX041 judge (a transform that does not compile is CX025's; one that fails or gives nothing
/// on a fixture is `cxsync test`'s).
pub struct RulePayloads<'a> {
    pub view: &'a crate::lint::context::TransformView,
    pub raw: &'a crate::spec::model::Rule,
    pub matched: usize,
    pub payloads: Vec<FixturePayload<'a>>,
}

/// [`RulePayloads`] of every enabled rule, in spec order.
pub fn rule_payloads<'a>(cx: &'a Context) -> Vec<RulePayloads<'a>> {
    let now = snapshot_now(cx.spec, None).unwrap_or_else(|_| crate::transform::default_now());
    let mut out = Vec::new();
    for (rule, raw) in cx.enabled_rules() {
        let Some(resolved) = cx.spec.rules.iter().find(|r| r.index == rule.index) else {
            continue;
        };
        let Some(view) = &rule.transform else {
            continue;
        };
        let Ok(transform) = compile_rule(cx.spec, resolved) else {
            continue;
        };
        let mut matched = 0;
        let mut payloads = Vec::new();
        for f in &rule.fixtures {
            if !matches(&f.event, &raw.event_type, &raw.conditions) {
                continue;
            }
            matched += 1;
            let Ok(Some(payload)) = transform.eval(&f.event, now) else {
                continue;
            };
            payloads.push(FixturePayload {
                rule: &raw.id,
                fixture: f.name.as_str(),
                text: json_text(&payload),
            });
        }
        out.push(RulePayloads {
            view,
            raw,
            matched,
            payloads,
        });
    }
    out
}

/// Every fixture payload of every enabled rule ([`rule_payloads`]), in spec and fixture order.
pub fn fixture_payloads<'a>(cx: &'a Context) -> Vec<FixturePayload<'a>> {
    rule_payloads(cx)
        .into_iter()
        .flat_map(|r| r.payloads)
        .collect()
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw_spec = &cx.spec.raw;
    let batched = raw_spec.channel.batch_size > 1;
    let accepts_arrays = raw_spec.crm.accepts_arrays;
    // Batches without array support are refused whatever the payloads hold: that is
    // `batch-without-array-support` (CX001), reported once at `batchSize`.
    if batched && !accepts_arrays {
        return;
    }
    let profile = crm::profile(raw_spec.crm.profile);
    // The CRM model's limit and the machine's guard, as the simulator applies them.
    let max_body = max_body_bytes(raw_spec, &profile, None);
    let guard = raw_spec.crm.max_payload_bytes;
    for RulePayloads {
        view,
        raw,
        matched,
        payloads,
    } in rule_payloads(cx)
    {
        let mut refused: Vec<(&str, Refusal)> = Vec::new();
        // (fixture, bytes) of payloads above the guard, and of bodies above the CRM's limit.
        let mut guarded: Vec<(&str, u64)> = Vec::new();
        let mut too_large: Vec<(&str, u64)> = Vec::new();
        for FixturePayload { fixture, text, .. } in payloads {
            let f_name = fixture;
            // The machine's guard comes first: such a payload is never sent.
            if guard.is_some_and(|l| text.len() as u64 > l) {
                guarded.push((f_name, text.len() as u64));
                continue;
            }
            let body = if batched { batch_body(&[&text]) } else { text };
            // The CRM model answers 413 before it reads the body's shape.
            if body.len() as u64 > max_body {
                too_large.push((f_name, body.len() as u64));
            } else if let Err(r) = judge(&body, accepts_arrays) {
                refused.push((f_name, r));
            }
        }
        let size_findings = [
            guarded.first().map(|&(name, bytes)| {
                (
                    &guarded,
                    format!(
                        "rule `{}`'s payload for fixture `{name}` is {bytes} bytes, above `crm.maxPayloadBytes` ({}): the Event Hub dead-letters such events unsent (PAYLOAD_TOO_LARGE)",
                        raw.id,
                        guard.unwrap_or_default()
                    ),
                    "raise `crm.maxPayloadBytes` (below the CRM's limit), or send less: leave large fields (transcripts, raw payloads) out of the transform",
                )
            }),
            too_large.first().map(|&(name, bytes)| {
                (
                    &too_large,
                    format!(
                        "rule `{}` sends a body of {bytes} bytes for fixture `{name}`, above the {max_body} bytes {} takes ({}): the CRM answers 413 and each such event is dead-lettered",
                        raw.id,
                        profile.name,
                        max_body_bytes_source(raw_spec)
                    ),
                    "send less (leave large fields out of the transform), and set `crm.maxPayloadBytes` below the CRM's limit so an oversized event is dead-lettered before it is sent",
                )
            }),
        ];
        for (all, message, help) in size_findings.into_iter().flatten() {
            let more = match all.len() {
                1 => String::new(),
                n => format!(" ({n} of {matched} fixture events)"),
            };
            out.push(
                cx.in_transform(
                    &view.source,
                    0,
                    first_line(&view.source.text),
                    format!("{message}{more}"),
                )
                .with_help(help),
            );
        }
        let Some((first, why)) = refused.first() else {
            continue;
        };
        let names: Vec<&str> = refused.iter().map(|(n, _)| *n).collect();
        let reason = match why {
            // Inside a batch the payload is element 0 of the batch's array: say what it is.
            Refusal::ElementNotARecord { kind, .. } if batched => {
                format!("with batchSize {}, each payload is one element of the batch's array and must be a JSON object; this one is {}",
                    raw_spec.channel.batch_size, kind.article())
            }
            other => {
                let text = other.to_string();
                let mut c = text.chars();
                c.next()
                    .map(|f| f.to_lowercase().chain(c).collect())
                    .unwrap_or(text)
            }
        };
        let help = match why {
            Refusal::ArraysNotAccepted => "return one object per event, or set `crm.acceptsArrays: true` once the CRM's endpoint is known to take a list of records",
            Refusal::EmptyArray => "return at least one record, or leave the event out with `conditions`",
            Refusal::ElementNotARecord { .. } if batched => "return one object per event: the Event Hub makes the batch's array",
            Refusal::ElementNotARecord { .. } => "make every element of the list an object (`[{ \"field\": … }]`)",
            Refusal::NotARecord(_) | Refusal::NotJson => "return a JSON object (`{ \"field\": … }`): a CRM record",
        };
        out.push(
            cx.in_transform(
                &view.source,
                0,
                first_line(&view.source.text),
                format!(
                    "rule `{}` sends a body the CRM refuses for {} of {matched} fixture events ({}): {reason}; the CRM answers 400 and each such event is dead-lettered",
                    raw.id,
                    names.len(),
                    if names.len() == 1 { (*first).to_string() } else { names.join(", ") },
                ),
            )
            .with_help(help),
        );
    }
}

/// Characters of a transform's first line (at least one): where a finding on the whole body points.
fn first_line(text: &str) -> usize {
    text.chars().take_while(|c| *c != '\n').count().max(1)
}
