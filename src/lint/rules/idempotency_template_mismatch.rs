//! ## What it does
//! Flags `channel.headers` repeating the idempotency header with a template that differs from
//! `idempotency.key`.
//!
//! ## Why is this bad?
//! The guide's channel sends `${interaction.id}_${event.type}` while its retry policy validates
//! `${interaction.id}_${event.type}_${agent.id}`: the first attempt and the retries carry different
//! keys, so the CRM cannot recognise a retry as a duplicate and applies it twice. A spec declares
//! the key once and cxsync writes it into both places; a header that repeats it re-creates the
//! mismatch.
//!
//! ## Example
//! ```yaml
//! channel:
//!   headers:
//!     X-Idempotency-Key: ${interaction.id}_${event.type}
//! idempotency:
//!   header: X-Idempotency-Key
//!   key: ${interaction.id}_${event.type}_${agent.id}
//! ```
//!
//! Use instead:
//! ```yaml
//! idempotency:
//!   header: X-Idempotency-Key
//!   key: ${interaction.id}_${event.type}
//! ```
//! and no idempotency header under `channel.headers`.
//!
//! ## Fix safety
//! Removing the header is safe: the compiler adds it from `idempotency`.

use super::prelude::*;
use crate::spec::yaml::child;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let idem = &cx.spec.raw.idempotency;
    for (name, value) in &cx.spec.raw.channel.headers {
        if name.eq_ignore_ascii_case(&idem.header) && value.trim() != idem.key.trim() {
            out.push(
                cx.at_value(
                    &child("/channel/headers", name),
                    format!(
                        "header `{name}` uses the template `{value}`, but the idempotency key is `{}`: first attempts and retries carry different keys",
                        idem.key
                    ),
                )
                .with_help("remove the header; cxsync writes `idempotency.key` into the channel and the retry policy"),
            );
        }
    }
}
