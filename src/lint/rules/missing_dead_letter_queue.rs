//! ## What it does
//! Flags `deadLetterQueue.enabled: false`.
//!
//! ## Why is this bad?
//! Without a dead-letter queue, an event that exhausts its retries or meets a non-retryable answer
//! is dropped: the CRM silently drifts from CXone and nothing can be replayed (guide §3 and §4).
//!
//! ## Example
//! ```yaml
//! deadLetterQueue:
//!   enabled: false
//! ```
//!
//! Use instead:
//! ```yaml
//! deadLetterQueue:
//!   enabled: true
//!   storageType: S3
//!   bucketName: cxone-eventhub-dlq-prod
//!   alertEndpoint: https://monitoring.example.com/webhooks/dlq-alert
//! ```
//!
//! ## Fix safety
//! No automatic fix: a DLQ needs a bucket.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.spec.raw.dead_letter_queue.enabled {
        out.push(
            cx.at_value(
                "/deadLetterQueue/enabled",
                "the dead-letter queue is off: failed events are lost",
            )
            .with_help("enable the DLQ and give it a bucket and an `alertEndpoint`"),
        );
    }
}
