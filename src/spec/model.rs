//! The spec format v1 as Rust types. `RawSpec` is what a person writes (after the environment
//! overlay is merged); serde reads it with `deny_unknown_fields` and schemars derives the JSON
//! Schema under `schemas/` from the same types, so the two cannot disagree.
//!
//! Field names follow the Event Hub payloads in the guide (camelCase) so that a reader of the
//! guide recognises every key.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The current spec format version.
pub const SPEC_VERSION: u32 = 1;

/// A safe identifier (channel names, rule ids; environment names are stricter, `E410`): 1–128 of `A-Z a-z 0-9 _ . -`,
/// not starting with `.` or `-` and not ending with `.`. Such a name is one URL path segment that
/// needs no encoding and cannot be `.` or `..`, and a file name on every OS (Windows' device
/// names are refused by a semantic check, `E410`).
pub const ID_PATTERN: &str = r"^[A-Za-z0-9_]([A-Za-z0-9_.\-]{0,126}[A-Za-z0-9_\-])?$";

/// Between a rule's id and its environment in the rule's Event Hub id (`R--staging`, see
/// docs/apply.md).
pub const ENV_ID_SEPARATOR: &str = "--";

/// An HTTP header name: an RFC 9110 token.
pub const HEADER_NAME_PATTERN: &str = r"^[!#$%&'*+.^_`|~0-9A-Za-z\-]+$";

/// An HTTP header value: no control characters but tab (RFC 9110 field values; CR, LF and NUL
/// would split or end the header).
pub const HEADER_VALUE_PATTERN: &str = r"^[^\x00-\x08\x0A-\x1F\x7F]*$";

/// A name shown on one line (the spec's, a rule's, a stage's): no control characters, tab
/// included. A name is printed in reports, snapshot headers and `mock-crm`'s banner, where a BEL
/// or an ESC sequence would reach the terminal (tester #191).
pub const NAME_PATTERN: &str = r"^[^\x00-\x1F\x7F]*$";

/// A DLQ bucket name: S3's characters (lower-case letters, digits, `.`, `-`), 1–63 of them,
/// starting and ending with a letter or digit, so it is one path segment wherever it is joined (a
/// `--dlq-dir` folder, an object key) and never `.` or `..`; no two `.` side by side (S3 forbids
/// them; the lookahead is ECMA 262 and fancy-regex alike).
pub const BUCKET_PATTERN: &str = r"^(?!.*\.\.)[a-z0-9]([a-z0-9.\-]{0,61}[a-z0-9])?$";

/// A DLQ key prefix: segments separated by `/`, none of them empty, `.` or `..`, with no `\` or
/// control characters, so a prefix cannot climb out of the bucket (or the `--dlq-dir` folder).
pub const PREFIX_PATTERN: &str = r"^(([^/.\\\x00-\x1F][^/\\\x00-\x1F]*|\.[^/.\\\x00-\x1F][^/\\\x00-\x1F]*|\.\.[^/\\\x00-\x1F]+)/)*([^/.\\\x00-\x1F][^/\\\x00-\x1F]*|\.[^/.\\\x00-\x1F][^/\\\x00-\x1F]*|\.\.[^/\\\x00-\x1F]+)?$";

/// Longest header name accepted.
pub const MAX_HEADER_NAME: u32 = 256;
/// Longest header value accepted (servers commonly refuse more than 8 KiB of headers in all).
pub const MAX_HEADER_VALUE: u32 = 8192;

fn headers_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "propertyNames": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_HEADER_NAME,
            "pattern": HEADER_NAME_PATTERN
        },
        "additionalProperties": {
            "type": "string",
            "maxLength": MAX_HEADER_VALUE,
            "pattern": HEADER_VALUE_PATTERN
        }
    })
}

/// A cxsync integration spec: one Event Hub channel, its retry policy and DLQ, the rules that feed
/// it, and the facts about the CRM behind it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "cxsync integration spec v1")]
pub struct RawSpec {
    /// Spec format version. Always `1`.
    #[schemars(range(min = 1, max = 999))]
    pub version: u32,
    /// A short name for the integration, used in reports and snapshot headers.
    #[schemars(length(min = 1), regex(pattern = NAME_PATTERN))]
    pub name: String,
    /// Free text describing the integration.
    pub description: Option<String>,
    /// The REST channel the Event Hub delivers to (`POST /api/v2/eventhub/channels`).
    pub channel: Channel,
    /// The idempotency key, declared once and compiled into both the channel header and the retry
    /// policy's template.
    pub idempotency: Idempotency,
    /// Retry policy (`PUT /api/v2/eventhub/channels/{name}/retry-policy`).
    pub retry: RetryPolicy,
    /// Where events that exhaust retries go.
    pub dead_letter_queue: DeadLetterQueue,
    /// Facts about the CRM behind the destination URI.
    #[serde(default)]
    pub crm: Crm,
    /// Rules that select events and map them to CRM payloads (`PUT /api/v2/eventhub/rules/{id}`).
    #[schemars(length(min = 1))]
    pub rules: Vec<Rule>,
    /// Rollout stages (the guide's §4 phasing); a rule names its stage with `stage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout: Vec<RolloutStage>,
    /// Alert thresholds evaluated by `cxsync metrics` and checked by lint.
    pub alerts: Option<Alerts>,
    /// Settings for `cxsync test` snapshots.
    pub test: Option<TestSettings>,
    /// Named overlays (e.g. `staging`, `production`) merged over the spec by `--env NAME`.
    /// Mappings merge key by key; lists and scalars replace.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub environments: IndexMap<String, serde_json::Value>,
}

/// The Event Hub REST channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Channel {
    /// Channel name; also its id in the retry-policy path and the rules' `ROUTE` action.
    #[schemars(length(min = 1, max = 128), regex(pattern = ID_PATTERN))]
    pub name: String,
    /// Channel type. Only `REST` is described by the guide.
    #[serde(default = "default_channel_type", rename = "type")]
    pub kind: ChannelType,
    /// The CRM endpoint events are POSTed to. `https://` (plain `http://` only on loopback).
    pub destination_uri: String,
    /// How the Event Hub authenticates to the CRM.
    pub auth: Auth,
    /// Extra request headers, in order. The idempotency header is added from `idempotency`; do not
    /// repeat it here.
    #[serde(default)]
    #[schemars(schema_with = "headers_schema")]
    pub headers: IndexMap<String, String>,
    /// Per-request timeout in milliseconds.
    #[schemars(range(min = 1, max = 600000))]
    pub timeout_milliseconds: u64,
    /// Events per request. Above 1 the body is a JSON array; the CRM must accept arrays.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub batch_size: u32,
    /// Seconds to wait for a batch to fill.
    #[serde(default)]
    #[schemars(range(min = 0, max = 3600))]
    pub batch_interval_seconds: u32,
}

fn default_channel_type() -> ChannelType {
    ChannelType::Rest
}

fn one() -> u32 {
    1
}

/// Channel transport.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum ChannelType {
    #[serde(rename = "REST")]
    Rest,
}

/// Authentication of the Event Hub to the CRM.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Auth {
    /// OAuth 2.0 client credentials (RFC 6749 §4.4), the guide's recommendation.
    #[serde(rename = "oauth2_client_credentials", rename_all = "camelCase")]
    OAuth2ClientCredentials {
        /// Token endpoint URL (`https://`).
        token_endpoint: String,
        /// OAuth client id.
        client_id: String,
        /// Client secret: `${VAULT_SECRET:NAME}` (resolved by the Event Hub) or `${env:NAME}`
        /// (resolved by cxsync at compile time). A literal secret is an error.
        client_secret: String,
        /// How the client authenticates at the token endpoint: form `body` or HTTP `basic`.
        #[serde(default)]
        client_auth: ClientAuth,
        /// Scopes requested.
        #[serde(default)]
        scopes: Vec<String>,
        /// How long the Event Hub caches a token, in seconds (at most a day).
        #[schemars(range(min = 1, max = 86400))]
        token_cache_ttl_seconds: u64,
        /// On a 401, drop the cached token, fetch a new one and resend.
        #[serde(default)]
        retry_on_token_expiry: bool,
    },
    /// A static bearer token (the guide warns against it).
    #[serde(rename = "bearer", rename_all = "camelCase")]
    Bearer {
        /// The token: a `${VAULT_SECRET:…}` or `${env:…}` reference.
        token: String,
    },
    /// No authentication.
    #[serde(rename = "none")]
    None {},
}

/// Client authentication at the token endpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    Body,
    /// HTTP Basic authentication.
    Basic,
}

/// The idempotency key, declared once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Idempotency {
    /// Request header that carries the key (an RFC 9110 token).
    #[serde(default = "default_idempotency_header")]
    #[schemars(length(min = 1, max = 256), regex(pattern = HEADER_NAME_PATTERN))]
    pub header: String,
    /// Template of `${path}` event references and literal text, e.g.
    /// `${interaction.id}_${event.type}`. A referenced field missing from an event is an error.
    /// It becomes a header value, so it holds no control character but tab.
    // (Tester #190: a LF passed `validate`, was compiled into the channel header and
    // dead-lettered every event in `sim`.)
    #[schemars(length(min = 1, max = 1024), regex(pattern = HEADER_VALUE_PATTERN))]
    pub key: String,
}

fn default_idempotency_header() -> String {
    "X-Idempotency-Key".to_string()
}

/// Jitter applied to each backoff delay.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// Uniform in `[0, delay]` (the default when jitter is on).
    #[default]
    Full,
    /// `delay/2 + uniform[0, delay/2]`.
    Equal,
    /// `min(maxDelay, uniform[initial, previous × 3])`.
    Decorrelated,
    /// No jitter (the guide's `jitterEnabled: false`).
    None,
}

/// The channel's retry policy.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Retries after the first attempt: `maxRetries: 5` allows 6 attempts.
    #[schemars(range(min = 0, max = 100))]
    pub max_retries: u32,
    /// Delay before the first retry, in seconds (at most a day).
    #[schemars(range(min = 0.0, max = 86400.0))]
    pub initial_delay_seconds: f64,
    /// Upper bound of any delay, in seconds (at most a day).
    #[schemars(range(min = 0.0, max = 86400.0))]
    pub max_delay_seconds: f64,
    /// Growth factor: delay_n = min(maxDelay, initial × multiplier^(n-1)).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub backoff_multiplier: f64,
    /// Jitter mode; compiles to the guide's `jitterEnabled` (false only for `none`).
    #[serde(default)]
    pub jitter: Jitter,
    /// Honour `Retry-After` (delta-seconds or HTTP-date): the next delay is max(backoff, Retry-After).
    #[serde(default)]
    pub respect_retry_after_header: bool,
    /// Status codes retried with backoff.
    #[schemars(inner(range(min = 100, max = 599)))]
    pub retryable_status_codes: Vec<u16>,
    /// Status codes sent to the DLQ at once.
    #[schemars(inner(range(min = 100, max = 599)))]
    pub non_retryable_status_codes: Vec<u16>,
    /// Not sent to the Event Hub (its retry-policy API has no such field) and not simulated:
    /// the hub runs no breaker. Accepted so older specs load; lint CX038 flags it.
    pub circuit_breaker: Option<CircuitBreaker>,
}

/// A circuit breaker as older specs wrote it: read, never sent, never run (CX038).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// Consecutive 429/5xx/timeouts that would open the breaker (not sent).
    #[schemars(range(min = 1, max = 10000))]
    pub failure_threshold: u32,
    /// Seconds the breaker would stay open (not sent; at most a day).
    #[schemars(range(min = 0.0, max = 86400.0))]
    pub open_seconds: f64,
}

/// The dead-letter queue.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeadLetterQueue {
    /// Whether failed events are kept. Without a DLQ they are lost.
    pub enabled: bool,
    /// Storage backend. The guide describes `S3`.
    #[serde(default = "default_storage")]
    pub storage_type: String,
    /// Bucket name (S3 naming: lower-case letters, digits, `.` and `-`, no two adjacent `.`).
    #[schemars(regex(pattern = BUCKET_PATTERN))]
    pub bucket_name: Option<String>,
    /// Key prefix, ending in `/`; no segment is empty, `.` or `..`.
    #[schemars(length(max = 512), regex(pattern = PREFIX_PATTERN))]
    pub prefix: Option<String>,
    /// Webhook called when events are dead-lettered (`https://`).
    pub alert_endpoint: Option<String>,
}

fn default_storage() -> String {
    "S3".to_string()
}

/// Largest request body a CRM may be said to accept, in bytes (1 GiB): the bound of
/// `crm.maxBodyBytes` and of a scenario's `crm.maxBodyBytes` override alike.
pub const MAX_BODY_BYTES: u64 = 1 << 30;

/// Longest token lifetime (`expires_in`) a CRM may be said to issue, in seconds (a week): the bound
/// of `crm.tokenLifetimeSeconds` and of a scenario's override alike.
pub const MAX_TOKEN_LIFETIME_SECONDS: u64 = 7 * 86_400;

/// Facts about the CRM that the Event Hub payloads cannot express but lint and sim need.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Crm {
    /// Behaviour profile for the simulator and lint: `generic`, `salesforce`, `dynamics`,
    /// `zendesk`, `hubspot`, `servicenow`.
    #[serde(default)]
    pub profile: CrmProfile,
    /// Whether the CRM accepts a JSON array body (needed for `batchSize > 1`).
    #[serde(default)]
    pub accepts_arrays: bool,
    /// Largest request body the CRM accepts, in bytes (413 above it; at most 1 GiB).
    #[schemars(range(min = 1, max = MAX_BODY_BYTES))]
    pub max_body_bytes: Option<u64>,
    /// Largest payload cxsync lets a transform produce, in bytes (`PAYLOAD_TOO_LARGE` above it;
    /// at most 16 MiB).
    #[schemars(range(min = 1, max = 16777216))]
    pub max_payload_bytes: Option<u64>,
    /// Lifetime of the CRM's access tokens (`expires_in`), in seconds (at most a week).
    #[schemars(range(min = 1, max = MAX_TOKEN_LIFETIME_SECONDS))]
    pub token_lifetime_seconds: Option<u64>,
    /// Longest `Retry-After` the CRM sends when throttling, in seconds (at most a day).
    #[schemars(range(min = 0, max = 86400))]
    pub retry_after_horizon_seconds: Option<u64>,
    /// An event must reach the CRM within this many seconds of its first attempt (at most a
    /// week).
    #[schemars(range(min = 1, max = 604800))]
    pub delivery_deadline_seconds: Option<u64>,
    /// How the CRM deduplicates: by the idempotency `header`, by an `upsert` key, or `none`.
    pub idempotency: Option<CrmIdempotency>,
    /// Path (relative to the spec) of a JSON Schema the CRM payload must satisfy.
    pub payload_schema: Option<String>,
    /// Output fields allowed to carry personal data (customer phone, email, name, transcripts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_personal_data: Vec<String>,
}

/// Named CRM behaviour profiles.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum CrmProfile {
    #[default]
    Generic,
    Salesforce,
    Dynamics,
    Zendesk,
    Hubspot,
    Servicenow,
}

impl CrmProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            CrmProfile::Generic => "generic",
            CrmProfile::Salesforce => "salesforce",
            CrmProfile::Dynamics => "dynamics",
            CrmProfile::Zendesk => "zendesk",
            CrmProfile::Hubspot => "hubspot",
            CrmProfile::Servicenow => "servicenow",
        }
    }
}

/// How the CRM deduplicates repeated deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "by", rename_all = "lowercase", deny_unknown_fields)]
pub enum CrmIdempotency {
    /// The CRM honours the idempotency header.
    Header {},
    /// The CRM upserts on a payload field (e.g. `caseNumber`).
    Upsert {
        /// Output field used as the upsert key: a top-level field name, or a JSON pointer into
        /// the payload (`/inputs/0/id`).
        field: String,
    },
    /// No deduplication: a resend is a duplicate.
    None {},
}

/// One Event Hub rule: which events, how they map, where they go.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Rule id, used in `PUT /api/v2/eventhub/rules/{id}`, `rules/<id>.json` and snapshot names.
    #[schemars(length(min = 1, max = 128), regex(pattern = ID_PATTERN))]
    pub id: String,
    /// Display name.
    #[schemars(regex(pattern = NAME_PATTERN))]
    pub name: String,
    /// The event type the rule matches, e.g. `interaction.ended`.
    pub event_type: String,
    /// Path → allowed values; an event matches when every path's value is one of its list.
    #[serde(default)]
    pub conditions: IndexMap<String, Vec<serde_json::Value>>,
    /// JSONata transform, inline (a block scalar is easiest).
    pub transform: Option<String>,
    /// JSONata transform in a `.jsonata` file beside the spec (instead of `transform`).
    pub transform_file: Option<String>,
    /// Fixture event files (JSON) or globs, relative to the spec.
    #[serde(default)]
    pub fixtures: Vec<String>,
    /// Path (relative to the spec) of the JSON Schema this rule's payloads must satisfy, when
    /// it writes another CRM object than the others (a ticket, a comment, an activity).
    /// Default: `crm.payloadSchema`. `test`, `sim` and `dlq replay` check each payload against
    /// its rule's schema.
    pub payload_schema: Option<String>,
    /// Rollout stage (1-based) of this rule; see `rollout`.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub stage: u32,
    /// Whether the rule is enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A rollout stage.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutStage {
    /// Stage number (1-based) that rules refer to.
    #[schemars(range(min = 1, max = 1000))]
    pub stage: u32,
    /// Stage name, e.g. `non-critical`.
    #[schemars(regex(pattern = NAME_PATTERN))]
    pub name: String,
    /// Why this stage exists.
    pub description: Option<String>,
}

/// Alert thresholds over the guide's channel metrics.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Alerts {
    /// Alert when dead-lettered events in one interval exceed this.
    #[schemars(range(min = 0, max = 1000000000))]
    pub dlq_volume: Option<u64>,
    /// Alert when token refreshes in one interval exceed this.
    #[schemars(range(min = 0, max = 1000000000))]
    pub token_refresh_count: Option<u64>,
    /// Alert when the error rate (0..1) in one interval exceeds this.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
    /// Alert when p95 latency in milliseconds exceeds this (at most a day).
    #[schemars(range(min = 0, max = 86400000))]
    pub latency_p95_ms: Option<u64>,
}

/// Snapshot test settings.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestSettings {
    /// Output fields (JSON pointers or dotted paths) replaced by `[redacted]` in snapshots.
    #[serde(default)]
    pub redact: Vec<String>,
    /// The instant `$now()` returns in tests (RFC 3339).
    pub now: Option<String>,
}
