//! ## What it does
//! Flags a channel header `Content-Type` that does not name JSON (`text/plain`,
//! `application/x-www-form-urlencoded`, `application/xml`, …). JSON is `application/json` or a
//! `+json` type (`application/vnd.api+json`), with or without parameters such as
//! `charset=utf-8`. The simulated CRM (virtual time, `sim --http` and `cxsync mock-crm`) answers
//! such a request 415 Unsupported Media Type, by the same judgement (`sim::crm::refused_media_type`).
//!
//! ## Why is this bad?
//! The Event Hub sends every event as a JSON body and sends the channel's headers with it, so
//! the header tells the CRM the body is something it is not. A CRM API reads the body by its
//! `Content-Type`: it answers 415 (or fails to parse it), the same answer on every retry, and
//! every event of the channel is dead-lettered until the header is fixed.
//!
//! ## Example
//! ```yaml
//! channel:
//!   headers:
//!     Content-Type: text/plain
//! ```
//!
//! Use instead:
//! ```yaml
//! channel:
//!   headers:
//!     Content-Type: application/json
//! ```
//!
//! ## Fix safety
//! No automatic fix: a CRM endpoint that really takes another format needs a transform and an
//! endpoint that match it, not only another header.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some((name, value)) = crate::sim::crm::refused_media_type(&cx.spec.raw) else {
        return;
    };
    let pointer = format!(
        "/channel/headers/{}",
        name.replace('~', "~0").replace('/', "~1")
    );
    out.push(
        cx.at_value(
            &pointer,
            format!(
                "channel header `{name}: {value}` is not JSON, but the hub sends every event as a JSON body: the CRM answers 415 Unsupported Media Type and every event is dead-lettered"
            ),
        )
        .with_help(format!(
            "set `{name}: application/json` (a `+json` type or a `charset=utf-8` parameter is JSON too), or remove the header: the hub sends application/json"
        )),
    );
}
