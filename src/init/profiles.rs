//! What a new project looks like for each CRM: the endpoint an integration engineer would point
//! the Event Hub at, its OAuth token endpoint and token lifetime, how the CRM deduplicates, which
//! statuses it throttles and fails with, and the payload it expects. Vendor facts are the ones in
//! `docs/crm-profiles.md` (throttle status, token lifetime, dedup); URLs use the vendors' own
//! placeholder conventions (`yourorg`, `yoursubdomain`, `yourinstance`).

use crate::spec::model::CrmProfile;

/// Every profile `cxsync init --crm` knows, in the order `--help` lists them.
pub const ALL: [CrmProfile; 6] = [
    CrmProfile::Generic,
    CrmProfile::Salesforce,
    CrmProfile::Dynamics,
    CrmProfile::Zendesk,
    CrmProfile::Hubspot,
    CrmProfile::Servicenow,
];

/// One CRM's starting point.
pub struct Starter {
    pub profile: CrmProfile,
    /// How people write the vendor's name.
    pub title: &'static str,
    /// What the rule writes, for the spec's description.
    pub writes: &'static str,
    pub destination: &'static str,
    pub staging_destination: &'static str,
    pub token_endpoint: &'static str,
    pub scopes: &'static [&'static str],
    /// Seconds a token lives (the vendor's `expires_in`, or the session timeout).
    pub token_lifetime: u64,
    /// Longest `Retry-After` the CRM sends when it throttles, in seconds.
    pub retry_after_horizon: u64,
    pub idempotency_header: &'static str,
    /// The `crm.idempotency` mapping, as YAML flow text.
    pub dedup: &'static str,
    pub retryable: &'static str,
    pub non_retryable: &'static str,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    /// Output fields allowed to carry personal data.
    pub personal_data: &'static [&'static str],
    /// The rule's id.
    pub rule_id: &'static str,
    /// The rule's transform (standard JSONata).
    pub transform: &'static str,
    /// The JSON Schema of the CRM payload.
    pub schema: &'static str,
    /// The custom scenario's throttle fault and what it says.
    pub throttle: &'static str,
    pub throttle_says: &'static str,
}

/// The starting point for `profile`.
pub fn starter(profile: CrmProfile) -> Starter {
    match profile {
        CrmProfile::Generic => Starter {
            profile,
            title: "a REST CRM",
            writes: "a case per finished interaction",
            destination: "https://crm.example.com/v1/interactions",
            staging_destination: "https://crm.staging.example.com/v1/interactions",
            token_endpoint: "https://auth.example.com/oauth2/token",
            scopes: &["crm:write"],
            token_lifetime: 3600,
            retry_after_horizon: 60,
            idempotency_header: "X-Idempotency-Key",
            dedup: "{ by: header }",
            retryable: "[408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 403, 404, 409, 413, 422]",
            timeout_ms: 5000,
            max_body_bytes: 1_048_576,
            personal_data: &["agentEmail"],
            rule_id: "CASE_ON_INTERACTION_ENDED",
            transform: include_str!("templates/generic.jsonata"),
            schema: include_str!("templates/generic.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s, retryAfterSeconds: 10 }",
            throttle_says: "429 with Retry-After: 10 at one request a second",
        },
        CrmProfile::Salesforce => Starter {
            profile,
            title: "Salesforce",
            writes: "a Case per finished interaction, upserted on CXone_Interaction_Id__c by an Apex REST endpoint",
            destination: "https://yourorg.my.salesforce.com/services/apexrest/cxone/interactions",
            staging_destination: "https://yourorg--staging.sandbox.my.salesforce.com/services/apexrest/cxone/interactions",
            token_endpoint: "https://yourorg.my.salesforce.com/services/oauth2/token",
            scopes: &["api"],
            // No `expires_in`: the session timeout governs (2 hours by default).
            token_lifetime: 7200,
            retry_after_horizon: 60,
            idempotency_header: "X-Idempotency-Key",
            dedup: "{ by: upsert, field: CXone_Interaction_Id__c }",
            // 403 REQUEST_LIMIT_EXCEEDED is Salesforce's throttle: retried, not dead-lettered.
            retryable: "[403, 408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 404, 409, 413, 422]",
            timeout_ms: 5000,
            max_body_bytes: 1_048_576,
            personal_data: &[],
            rule_id: "SF_CASE_ON_INTERACTION_ENDED",
            transform: include_str!("templates/salesforce.jsonata"),
            schema: include_str!("templates/salesforce.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s }",
            throttle_says: "403 REQUEST_LIMIT_EXCEEDED with no Retry-After at one request a second",
        },
        CrmProfile::Dynamics => Starter {
            profile,
            title: "Dynamics 365",
            writes: "a case (incident) per finished interaction, upserted on cxone_interactionid by a Dataverse custom API",
            destination: "https://yourorg.api.crm.dynamics.com/api/data/v9.2/cxone_SyncInteraction",
            staging_destination: "https://yourorg-staging.api.crm.dynamics.com/api/data/v9.2/cxone_SyncInteraction",
            token_endpoint: "https://login.microsoftonline.com/yourtenant.onmicrosoft.com/oauth2/v2.0/token",
            scopes: &["https://yourorg.api.crm.dynamics.com/.default"],
            token_lifetime: 3599,
            retry_after_horizon: 300,
            idempotency_header: "X-Idempotency-Key",
            dedup: "{ by: upsert, field: cxone_interactionid }",
            retryable: "[408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 403, 404, 409, 413, 422]",
            timeout_ms: 5000,
            max_body_bytes: 1_048_576,
            personal_data: &[],
            rule_id: "D365_CASE_ON_INTERACTION_ENDED",
            transform: include_str!("templates/dynamics.jsonata"),
            schema: include_str!("templates/dynamics.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s, retryAfterSeconds: 15 }",
            throttle_says: "429 with Retry-After: 15 (service protection) at one request a second",
        },
        CrmProfile::Zendesk => Starter {
            profile,
            title: "Zendesk",
            writes: "a ticket per finished interaction, deduplicated by Zendesk's Idempotency-Key header",
            destination: "https://yoursubdomain.zendesk.com/api/v2/tickets.json",
            staging_destination: "https://yoursubdomain1700000000.zendesk.com/api/v2/tickets.json",
            token_endpoint: "https://yoursubdomain.zendesk.com/oauth/tokens",
            scopes: &["tickets:write"],
            // Zendesk's client-credentials tokens live two days; cache them far below that.
            token_lifetime: 172_800,
            retry_after_horizon: 60,
            idempotency_header: "Idempotency-Key",
            dedup: "{ by: header }",
            retryable: "[408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 403, 404, 409, 413, 422]",
            timeout_ms: 5000,
            max_body_bytes: 1_048_576,
            personal_data: &[],
            rule_id: "ZD_TICKET_ON_INTERACTION_ENDED",
            transform: include_str!("templates/zendesk.jsonata"),
            schema: include_str!("templates/zendesk.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s, retryAfterSeconds: 10 }",
            throttle_says: "429 with Retry-After: 10 at one request a second",
        },
        CrmProfile::Hubspot => Starter {
            profile,
            title: "HubSpot",
            writes: "a ticket per finished interaction through the batch upsert API, keyed on cxone_interaction_id",
            destination: "https://api.hubapi.com/crm/v3/objects/tickets/batch/upsert",
            staging_destination: "https://api.hubapi.com/crm/v3/objects/tickets/batch/upsert",
            token_endpoint: "https://api.hubapi.com/oauth/v1/token",
            scopes: &["tickets"],
            token_lifetime: 1800,
            retry_after_horizon: 60,
            idempotency_header: "X-Idempotency-Key",
            dedup: "{ by: upsert, field: /inputs/0/id }",
            retryable: "[408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 403, 404, 409, 413, 422]",
            timeout_ms: 5000,
            max_body_bytes: 1_048_576,
            personal_data: &[],
            rule_id: "HS_TICKET_ON_INTERACTION_ENDED",
            transform: include_str!("templates/hubspot.jsonata"),
            schema: include_str!("templates/hubspot.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s }",
            throttle_says: "429 RATE_LIMIT with no Retry-After at one request a second",
        },
        CrmProfile::Servicenow => Starter {
            profile,
            title: "ServiceNow",
            writes: "an incident per finished interaction through an import set that coalesces on u_correlation_id",
            destination: "https://yourinstance.service-now.com/api/now/import/u_cxone_interaction",
            staging_destination: "https://yourinstance-staging.service-now.com/api/now/import/u_cxone_interaction",
            token_endpoint: "https://yourinstance.service-now.com/oauth_token.do",
            scopes: &[],
            token_lifetime: 1800,
            retry_after_horizon: 60,
            idempotency_header: "X-Idempotency-Key",
            dedup: "{ by: upsert, field: u_correlation_id }",
            retryable: "[408, 429, 500, 502, 503, 504]",
            non_retryable: "[400, 401, 403, 404, 409, 413, 422]",
            // ServiceNow's p99 is seconds (business rules run inside the request).
            timeout_ms: 10_000,
            max_body_bytes: 1_048_576,
            personal_data: &[],
            rule_id: "SN_INCIDENT_ON_INTERACTION_ENDED",
            transform: include_str!("templates/servicenow.jsonata"),
            schema: include_str!("templates/servicenow.schema.json"),
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s, retryAfterSeconds: 10 }",
            throttle_says: "429 with Retry-After: 10 (a rate-limit rule) at one request a second",
        },
    }
}
