//! The Event Hub API paths of the guide, built in this one place (ids are percent-encoded into
//! their path segment here and nowhere else), and the manifest: the calls that apply a spec's
//! payloads, in order.

use serde::Serialize;

use crate::compile::Payloads;

/// Channel collection.
pub const CHANNELS: &str = "/api/v2/eventhub/channels";
/// Rule collection.
pub const RULES: &str = "/api/v2/eventhub/rules";
/// Licensing entitlements.
pub const ENTITLEMENTS: &str = "/api/v2/licensing/entitlements";

/// One channel, by name.
pub fn channel(name: &str) -> String {
    format!("{CHANNELS}/{}", seg(name))
}
/// A channel's retry policy.
pub fn retry_policy(name: &str) -> String {
    format!("{CHANNELS}/{}/retry-policy", seg(name))
}
/// A channel's metrics.
pub fn metrics(name: &str) -> String {
    format!("{CHANNELS}/{}/metrics", seg(name))
}
/// One rule, by id.
pub fn rule(id: &str) -> String {
    format!("{RULES}/{}", seg(id))
}

/// Percent-encodes a path segment (names are `[A-Za-z0-9_.-]` per the spec schema, but a
/// live object may have any name).
pub fn seg(s: &str) -> String {
    crate::net::percent_encode(s, b"-._~")
}

/// One API call of an apply, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    /// Output file of `cxsync compile --out` holding the body.
    pub file: String,
}

/// The calls that create a spec's objects on an empty tenant, in apply order (what `compile`
/// writes as `manifest.json`; `plan` decides the calls against a live tenant).
pub fn manifest(payloads: &Payloads) -> Vec<Call> {
    let name = payloads.channel["name"].as_str().unwrap_or_default();
    let mut calls = vec![
        Call {
            method: "POST",
            path: CHANNELS.to_string(),
            file: "channel.json".into(),
        },
        Call {
            method: "PUT",
            path: retry_policy(name),
            file: "retry-policy.json".into(),
        },
    ];
    for r in &payloads.rules {
        calls.push(Call {
            method: "PUT",
            path: rule(&r.id),
            file: format!("rules/{}.json", r.id),
        });
    }
    calls
}
