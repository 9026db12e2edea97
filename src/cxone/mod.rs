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

use std::collections::BTreeMap;

use serde_json::Value;

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

/// Replaces every known secret value in an error text with `(sensitive)`: the last-resort belt
/// for text cxsync did not format itself (a server's answer, a library's message, load
/// diagnostics). Output cxsync formats (compile, plan, apply, import) is masked field by field
/// instead (`spec::secret::masked`): a text search rewrites any word that equals a secret.
/// Values shorter than 6 characters are not scrubbed (they would mangle ordinary words; no real
/// secret is that short).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds secret values.
    pub fn add(&mut self, values: impl IntoIterator<Item = String>) {
        for v in values {
            // Also the form a JSON string shows it in (`"` and `\` escaped, control characters as
            // `\n`, `\u0001`): plan and error texts quote values that way, and a secret holding
            // `"` or `\` was printed in clear.
            let quoted = serde_json::to_string(&v).unwrap_or_default();
            let escaped = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .map(str::to_string);
            for form in std::iter::once(v).chain(escaped) {
                if form.chars().count() >= 6 && !self.secrets.contains(&form) {
                    self.secrets.push(form);
                }
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if t.contains(s.as_str()) {
                t = t.replace(s.as_str(), "(sensitive)");
            }
        }
        t
    }
}

/// The values of the environment variables a spec's text references as `${env:NAME}`: they are
/// resolved into payloads (client secrets, tokens) and must never be printed.
pub fn env_secrets(spec_text: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = spec_text;
    while let Some(i) = rest.find("${env:") {
        rest = &rest[i + 6..];
        let end = rest.find('}').unwrap_or(rest.len());
        let name = &rest[..end];
        if let Some(v) = vars.get(name) {
            out.push(v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_collected_and_scrubbed() {
        let vars: BTreeMap<String, String> =
            [("CRM_SECRET".to_string(), "abc-123-xyz".to_string())]
                .into_iter()
                .collect();
        let s = env_secrets("clientSecret: ${env:CRM_SECRET}\nx: ${env:MISSING}", &vars);
        let mut r = Redactor::default();
        r.add(s);
        assert_eq!(r.scrub("got abc-123-xyz!"), "got (sensitive)!");
    }

    #[test]
    fn a_secret_is_scrubbed_in_the_form_json_shows_it_too() {
        let mut r = Redactor::default();
        r.add([
            "TOP\"SECRET".to_string(),
            "TOP\\SECRET".to_string(),
            "TOPSECRET-xyz\r\nX-Evil: 1".to_string(),
        ]);
        for value in ["TOP\"SECRET", "TOP\\SECRET", "TOPSECRET-xyz\r\nX-Evil: 1"] {
            let json = serde_json::to_string(value).unwrap();
            let text = format!("+ headers[\"X-Trace\"]: {json}");
            assert_eq!(
                r.scrub(&text),
                "+ headers[\"X-Trace\"]: \"(sensitive)\"",
                "{text}"
            );
            assert_eq!(r.scrub(value), "(sensitive)");
        }
    }
}
