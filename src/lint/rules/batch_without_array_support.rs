//! ## What it does
//! Flags `channel.batchSize` above 1 when the spec does not declare `crm.acceptsArrays: true`.
//!
//! ## Why is this bad?
//! With `batchSize > 1` the Event Hub POSTs a JSON array. Many CRM endpoints accept only a single
//! object and answer an array with `400 Bad Request`; the whole batch then fails together, is
//! retried for nothing and inflates the dead-letter queue (guide §1, "The Trap").
//!
//! ## Example
//! ```yaml
//! channel:
//!   batchSize: 5
//! crm:
//!   acceptsArrays: false
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   batchSize: 1
//! ```
//! or, once the CRM's bulk endpoint is verified, `crm.acceptsArrays: true`.
//!
//! ## Fix safety
//! No automatic fix: lowering the batch size changes throughput, declaring array support is a
//! claim only the CRM's documentation can back.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    if raw.channel.batch_size > 1 && !raw.crm.accepts_arrays {
        out.push(
            cx.at_value(
                "/channel/batchSize",
                format!(
                    "batchSize {} sends JSON arrays, but the CRM is not declared to accept them",
                    raw.channel.batch_size
                ),
            )
            .with_help(
                "set `batchSize: 1`, or `crm.acceptsArrays: true` if the endpoint takes arrays",
            ),
        );
    }
}
