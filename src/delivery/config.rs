//! The machine's settings: the spec's channel, retry policy, idempotency and DLQ, resolved once,
//! plus the hub's runtime settings that are not in the spec.

use std::time::{Duration, SystemTime};

use super::backoff::Backoff;
use super::classify::Policy;
use super::idempotency::{Template, TemplateError};
use crate::spec::model::{Auth, Jitter, RawSpec};

/// How the machine authenticates its requests.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMode {
    /// No `Authorization` header.
    None,
    /// A static bearer token (the spec's reference; the driver resolves it).
    Bearer(String),
    /// OAuth2 client credentials with a token cache.
    OAuth {
        /// `tokenCacheTtlSeconds`, in ms.
        cache_ttl: u64,
        /// `retryOnTokenExpiry`.
        refresh_on_401: bool,
    },
}

/// Requests the hub keeps in flight at once for one channel: the one default of the simulator's
/// scenarios (`hub.concurrency`), DLQ replay and every other driver (tester #205: the scenario
/// said 16 while replay said 32).
pub const HUB_CONCURRENCY: u16 = 16;

/// Settings that are not in the spec: they describe the Event Hub's runtime, not the channel.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The wall-clock instant of `Time` 0.
    pub epoch: SystemTime,
    /// Overrides the spec's jitter mode (`--no-jitter`).
    pub jitter: Option<Jitter>,
    /// Token refreshes one event may cause (401 → refresh → resend) before it dead-letters.
    pub max_token_refreshes: u32,
    /// DLQ alerts are coalesced into one webhook call per window.
    pub alert_window: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            concurrency: usize::from(HUB_CONCURRENCY),
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200),
            jitter: None,
            max_token_refreshes: 2,
            alert_window: Duration::from_secs(60),
        }
    }
}

/// Everything the machine needs to know, resolved from a spec once.
#[derive(Debug, Clone)]
pub struct Config {
    pub channel: String,
    pub auth: AuthMode,
    pub timeout: u64,
    pub batch_size: usize,
    pub batch_interval: u64,
    pub max_retries: u32,
    pub backoff: Backoff,
    pub respect_retry_after: bool,
    pub policy: Policy,
    pub idempotency_header: String,
    pub idempotency: Template,
    pub max_payload_bytes: Option<u64>,
    pub delivery_deadline: Option<u64>,
    pub dlq_enabled: bool,
    pub alert_endpoint: Option<String>,
    /// Where the DLQ's records are, as alerts name it: `s3://<bucketName>/<prefix>`.
    pub dlq_location: String,
    /// `alerts.dlqVolume`: an alert's `thresholdExceeded` is `count` above it.
    pub alert_threshold: Option<u64>,
    pub hub: HubSettings,
}

/// A spec the machine cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("idempotency.key: {0}")]
    Template(TemplateError),
}

impl Config {
    /// Resolves a spec's channel, retry policy, idempotency and DLQ into machine settings: what
    /// `compile` sends the hub. `retry.circuitBreaker` is not read, because it is not sent (the
    /// hub's retry-policy API has no such field, #122).
    pub fn from_spec(raw: &RawSpec, hub: HubSettings) -> Result<Config, ConfigError> {
        let r = &raw.retry;
        let auth = match &raw.channel.auth {
            Auth::OAuth2ClientCredentials {
                token_cache_ttl_seconds,
                retry_on_token_expiry,
                ..
            } => AuthMode::OAuth {
                cache_ttl: token_cache_ttl_seconds.saturating_mul(1000),
                refresh_on_401: *retry_on_token_expiry,
            },
            Auth::Bearer { token } => AuthMode::Bearer(token.clone()),
            Auth::None {} => AuthMode::None,
        };
        let refresh_on_401 = matches!(
            auth,
            AuthMode::OAuth {
                refresh_on_401: true,
                ..
            }
        );
        Ok(Config {
            channel: raw.channel.name.clone(),
            auth,
            timeout: raw.channel.timeout_milliseconds,
            batch_size: raw.channel.batch_size.max(1) as usize,
            batch_interval: u64::from(raw.channel.batch_interval_seconds).saturating_mul(1000),
            max_retries: r.max_retries,
            backoff: Backoff {
                initial: r.initial_delay_seconds,
                max: r.max_delay_seconds,
                multiplier: r.backoff_multiplier,
                jitter: hub.jitter.unwrap_or(r.jitter),
            },
            respect_retry_after: r.respect_retry_after_header,
            policy: Policy {
                retryable: r.retryable_status_codes.clone(),
                non_retryable: r.non_retryable_status_codes.clone(),
                refresh_on_401,
            },
            idempotency_header: raw.idempotency.header.clone(),
            idempotency: Template::parse(&raw.idempotency.key).map_err(ConfigError::Template)?,
            max_payload_bytes: raw.crm.max_payload_bytes,
            delivery_deadline: raw
                .crm
                .delivery_deadline_seconds
                .map(|s| s.saturating_mul(1000)),
            dlq_enabled: raw.dead_letter_queue.enabled,
            alert_endpoint: raw.dead_letter_queue.alert_endpoint.clone(),
            dlq_location: format!(
                "s3://{}/{}",
                raw.dead_letter_queue
                    .bucket_name
                    .as_deref()
                    .unwrap_or("dlq"),
                raw.dead_letter_queue.prefix.as_deref().unwrap_or("")
            ),
            alert_threshold: raw.alerts.as_ref().and_then(|a| a.dlq_volume),
            hub,
        })
    }
}
