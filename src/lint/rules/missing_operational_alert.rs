//! ## What it does
//! Flags a spec whose `alerts` block sets no threshold on `dlqVolume`, or (with OAuth) none on
//! `tokenRefreshCount`.
//!
//! ## Why is this bad?
//! A 98% success rate looks healthy while the DLQ fills; a spike in token refreshes is the first
//! sign of a revoked client or a degraded identity provider. The guide asks for alerts on both
//! (§4, "The Trap").
//!
//! ## Example
//! ```yaml
//! alerts:
//!   errorRate: 0.05
//! ```
//!
//! Use instead:
//! ```yaml
//! alerts:
//!   errorRate: 0.05
//!   dlqVolume: 10
//!   tokenRefreshCount: 20
//! ```
//!
//! ## Fix safety
//! Safe: thresholds only add alerts.

use super::prelude::*;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let raw = &cx.spec.raw;
    let alerts = raw.alerts.clone().unwrap_or_default();
    let mut missing = Vec::new();
    if alerts.dlq_volume.is_none() {
        missing.push("dlqVolume");
    }
    if matches!(raw.channel.auth, Auth::OAuth2ClientCredentials { .. })
        && alerts.token_refresh_count.is_none()
    {
        missing.push("tokenRefreshCount");
    }
    if missing.is_empty() {
        return;
    }
    let msg = format!("no alert threshold on {}", missing.join(" or "));
    let d = if raw.alerts.is_some() {
        cx.at_key("/alerts", msg)
    } else {
        cx.at_key(
            "/deadLetterQueue",
            format!("{msg} (the spec has no `alerts` block)"),
        )
    };
    out.push(d.with_help(format!(
        "add `alerts: {{ {} }}`",
        missing
            .iter()
            .map(|m| format!("{m}: …"))
            .collect::<Vec<_>>()
            .join(", ")
    )));
}
