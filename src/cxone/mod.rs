//! The Event Hub side of cxsync: a REST [`client`] for the guide's endpoints, the [`plan`] (a pure
//! diff of compiled payloads against live objects), [`apply`] (ordered, idempotent, stops at the
//! first 4xx), [`metrics`] with alert thresholds, the behavioural plan ([`behaviour`]) and a
//! stateful [`mock_hub`] to try all of it without a tenant.
//!
//! The Event Hub API is known only from the guide: `docs/apply.md` lists every assumption made
//! here and is the contract the client and the mock hub share.

pub mod apply;
pub mod behaviour;
pub mod client;
pub mod import;
pub mod metrics;
pub mod mock_hub;
pub mod paths;
pub mod plan;

use serde_json::Value;

/// The last-resort text scrubber lives with the masking rule (`spec::secret`), where the loader
/// uses it too.
pub use crate::spec::secret::{env_secrets, Redactor};
use client::{Client, HubError};
use plan::Live;

/// Reads the live objects a spec's payloads touch: the channel list (the spec's channel found
/// by name, and the others kept to name the owners of rules routing to them), the channel's
/// retry policy, and the rules: the list (to prune, and to show the rules routing to the channel
/// that the spec lacks), then the spec's own ids (enabled or disabled) in full. The rule list is
/// an assumption (docs/apply.md): a hub answering it 404/405 is read without it, unless `prune`
/// needs it.
pub async fn read_live(
    client: &mut Client,
    payloads: &crate::compile::Payloads,
    prune: bool,
) -> Result<Live, HubError> {
    let channel = payloads.channel["name"].as_str().unwrap_or_default();
    let mut live = Live::default();
    for c in client.list_channels().await? {
        if let Some(n) = c.get("name").and_then(Value::as_str) {
            live.channels.insert(n.to_string(), c.clone());
        }
    }
    if live.channels.contains_key(channel) {
        live.channel = client.get_opt(&paths::channel(channel)).await?;
    }
    if live.channel.is_some() {
        live.retry_policy = client.get_opt(&paths::retry_policy(channel)).await?;
    }
    let list = match client.list_rules().await {
        Err(HubError::Status {
            status: 404 | 405, ..
        }) if !prune => Vec::new(),
        other => other?,
    };
    for r in list {
        if let Some(id) = r.get("id").and_then(Value::as_str) {
            live.rules.insert(id.to_string(), r.clone());
        }
    }
    // A list may carry summaries, or miss a rule made since: read our own rules in full.
    let ids = payloads
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .chain(payloads.disabled.iter().map(|(id, _)| id.as_str()));
    for id in ids {
        match client.get_opt(&paths::rule(id)).await? {
            Some(r) => live.rules.insert(id.to_string(), r),
            None => live.rules.remove(id),
        };
    }
    // The owner of a channel our rules route to, when the list gave only a summary.
    let elsewhere: Vec<String> = live
        .rules
        .values()
        .filter_map(plan::rule_channel)
        .filter(|c| *c != channel)
        .map(str::to_string)
        .collect();
    for c in elsewhere {
        let summary = live.channels.get(&c);
        if summary.is_some_and(|s| s.get("headers").is_none()) {
            if let Some(full) = client.get_opt(&paths::channel(&c)).await? {
                live.channels.insert(c, full);
            }
        }
    }
    Ok(live)
}
