//! ## What it does
//! Flags an enabled dead-letter queue without `alertEndpoint`.
//!
//! ## Why is this bad?
//! A DLQ nobody hears about is a slow data loss: the guide's example is 2,000 failed events found
//! weeks after a CRM schema change. The alert webhook is what turns the first dead letter into a
//! page (guide §4).
//!
//! ## Example
//! ```yaml
//! deadLetterQueue:
//!   enabled: true
//!   bucketName: cxone-eventhub-dlq-prod
//! ```
//!
//! Use instead:
//! ```yaml
//! deadLetterQueue:
//!   enabled: true
//!   bucketName: cxone-eventhub-dlq-prod
//!   alertEndpoint: https://monitoring.example.com/webhooks/dlq-alert
//! ```
//!
//! ## Fix safety
//! No automatic fix: the endpoint is the team's monitoring webhook.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let dlq = &cx.spec.raw.dead_letter_queue;
    if dlq.enabled && dlq.alert_endpoint.is_none() {
        out.push(
            cx.at_key(
                "/deadLetterQueue",
                "the dead-letter queue has no `alertEndpoint`: dead letters pile up unnoticed",
            )
            .with_help("add `alertEndpoint: https://…` (your monitoring webhook)"),
        );
    }
}
