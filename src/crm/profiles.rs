//! Named CRM profiles: how real CRMs throttle, reject, deduplicate and expire tokens. Sources for
//! every value are in `docs/crm-profiles.md`.

use crate::spec::model::CrmProfile;

/// How a CRM says "slow down".
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    pub status: u16,
    /// The answer in words, for people (`403 REQUEST_LIMIT_EXCEEDED`).
    pub what: &'static str,
    pub body: &'static str,
    /// Whether the response carries `Retry-After` (delta-seconds).
    pub retry_after: bool,
}

/// One profile's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub throttle: Throttle,
    /// `(requests, per ms)` token bucket, if the CRM limits requests.
    pub rate: Option<(u64, u64)>,
    pub unauthorized_body: &'static str,
    pub maintenance_body: &'static str,
    /// `expires_in` of tokens; `None` when the token response omits it (the session timeout
    /// governs, which the model sets to `session_seconds`).
    pub expires_in: Option<u64>,
    pub session_seconds: u64,
    /// The idempotency header the CRM honours, when it has a fixed name.
    pub idempotency_header: Option<&'static str>,
    /// Default dedup when neither the spec nor the scenario says.
    pub default_dedup: super::DedupMode,
    /// Whether an upsert sent with `PUT` changes only the fields it carries (the CRM's update
    /// endpoint is a `PUT` with merge semantics); `POST` and `PATCH` upserts always merge
    /// (`crm::upsert_merges`; evidence in docs/crm-profiles.md).
    pub put_merges: bool,
    pub max_body_bytes: u64,
    pub latency_p50_ms: u64,
    pub latency_p99_ms: u64,
}

/// The profile's defaults.
pub fn profile(p: CrmProfile) -> Profile {
    use super::DedupMode as D;
    match p {
        CrmProfile::Generic => Profile {
            name: "generic",
            throttle: Throttle {
                status: 429,
                what: "429 Too Many Requests",
                body: r#"{"error":"rate_limited","message":"Too Many Requests"}"#,
                retry_after: true,
            },
            rate: Some((100, 1_000)),
            unauthorized_body: r#"{"error":"invalid_token"}"#,
            maintenance_body: r#"{"error":"service_unavailable","message":"Scheduled maintenance"}"#,
            expires_in: Some(3600),
            session_seconds: 3600,
            idempotency_header: None,
            default_dedup: D::Header,
            put_merges: false,
            max_body_bytes: 1_048_576,
            latency_p50_ms: 120,
            latency_p99_ms: 800,
        },
        CrmProfile::Salesforce => Profile {
            name: "salesforce",
            throttle: Throttle {
                status: 403,
                what: "403 REQUEST_LIMIT_EXCEEDED",
                body: r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
                retry_after: false,
            },
            // The org-wide 24-hour allocation of an Enterprise org with no extra licences.
            rate: Some((100_000, 86_400_000)),
            unauthorized_body: r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
            maintenance_body: r#"[{"message":"Service Unavailable","errorCode":"SERVER_UNAVAILABLE"}]"#,
            expires_in: None,
            session_seconds: 7200,
            idempotency_header: None,
            default_dedup: D::None,
            put_merges: false,
            max_body_bytes: 50 * 1_048_576,
            latency_p50_ms: 200,
            latency_p99_ms: 1_500,
        },
        CrmProfile::Dynamics => Profile {
            name: "dynamics",
            throttle: Throttle {
                status: 429,
                what: "429 (service protection API limits)",
                body: r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#,
                retry_after: true,
            },
            rate: Some((6_000, 300_000)),
            unauthorized_body: r#"{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}"#,
            maintenance_body: r#"{"error":{"code":"0x80040216","message":"Service Unavailable"}}"#,
            expires_in: Some(3599),
            session_seconds: 3599,
            idempotency_header: None,
            default_dedup: D::None,
            put_merges: false,
            max_body_bytes: 128 * 1_048_576,
            latency_p50_ms: 150,
            latency_p99_ms: 1_200,
        },
        CrmProfile::Zendesk => Profile {
            name: "zendesk",
            throttle: Throttle {
                status: 429,
                what: "429 Too Many Requests",
                body: r#"{"error":"APIRateLimitExceeded","description":"Number of allowed API requests per minute exceeded"}"#,
                retry_after: true,
            },
            rate: Some((700, 60_000)),
            unauthorized_body: r#"{"error":"invalid_token","error_description":"The access token provided is expired, revoked, malformed or invalid for other reasons."}"#,
            maintenance_body: r#"{"error":"ServiceUnavailable"}"#,
            expires_in: Some(172_800),
            session_seconds: 172_800,
            idempotency_header: Some("Idempotency-Key"),
            default_dedup: D::Header,
            put_merges: true,
            max_body_bytes: 1_048_576,
            latency_p50_ms: 150,
            latency_p99_ms: 1_000,
        },
        CrmProfile::Hubspot => Profile {
            name: "hubspot",
            throttle: Throttle {
                status: 429,
                what: "429 (rolling rate limit)",
                body: r#"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","policyName":"SECONDLY"}"#,
                retry_after: false,
            },
            rate: Some((110, 10_000)),
            unauthorized_body: r#"{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}"#,
            maintenance_body: r#"{"status":"error","message":"Service Unavailable"}"#,
            expires_in: Some(1_800),
            session_seconds: 1_800,
            idempotency_header: None,
            default_dedup: D::Upsert,
            put_merges: false,
            max_body_bytes: 3 * 1_048_576,
            latency_p50_ms: 120,
            latency_p99_ms: 900,
        },
        CrmProfile::Servicenow => Profile {
            name: "servicenow",
            throttle: Throttle {
                status: 429,
                what: "429 Too Many Requests (rate limit rules)",
                body: r#"{"error":{"message":"Rate limit exceeded","detail":"Too many requests"},"status":"failure"}"#,
                retry_after: true,
            },
            rate: None,
            unauthorized_body: r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#,
            maintenance_body: r#"{"error":{"message":"Service Unavailable"},"status":"failure"}"#,
            expires_in: Some(1_800),
            session_seconds: 1_800,
            idempotency_header: None,
            default_dedup: D::None,
            put_merges: true,
            max_body_bytes: 10 * 1_048_576,
            latency_p50_ms: 300,
            latency_p99_ms: 2_500,
        },
    }
}
