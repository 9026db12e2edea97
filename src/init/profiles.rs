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
            transform: GENERIC_TRANSFORM,
            schema: GENERIC_SCHEMA,
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
            transform: SALESFORCE_TRANSFORM,
            schema: SALESFORCE_SCHEMA,
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
            transform: DYNAMICS_TRANSFORM,
            schema: DYNAMICS_SCHEMA,
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
            transform: ZENDESK_TRANSFORM,
            schema: ZENDESK_SCHEMA,
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
            transform: HUBSPOT_TRANSFORM,
            schema: HUBSPOT_SCHEMA,
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
            transform: SERVICENOW_TRANSFORM,
            schema: SERVICENOW_SCHEMA,
            throttle: "{ from: 3m, to: 6m, requests: 1, per: 1s, retryAfterSeconds: 10 }",
            throttle_says: "429 with Retry-After: 10 (a rate-limit rule) at one request a second",
        },
    }
}

const GENERIC_TRANSFORM: &str = r#"(
  /* One finished interaction as the CRM's case payload. */
  $seconds := $round((interaction.endedAt - interaction.startedAt) / 1000);
  {
    "caseNumber": $string(interaction.id),
    "contactId": interaction.customer.contactId != null ? $string(interaction.customer.contactId) : "UNKNOWN_CONTACT",
    "channelType": interaction.channel.type,
    "durationSeconds": $seconds,
    "dispositionCode": interaction.disposition.code,
    "agentEmail": interaction.agent.email,
    "handledBy": $exists(interaction.agent.id) ? "agent" : "ivr",
    "metadata": {
      "queueName": interaction.queue.name,
      "wrapUpCode": interaction.wrapUp.code,
      "sentimentScore": interaction.analytics.sentiment.score
    },
    "syncTimestamp": $now()
  }
)
"#;

const GENERIC_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "CRM case",
  "type": "object",
  "required": ["caseNumber", "contactId", "channelType", "durationSeconds", "handledBy", "syncTimestamp"],
  "properties": {
    "caseNumber": { "type": "string", "minLength": 1 },
    "contactId": { "type": "string" },
    "channelType": { "enum": ["voice", "webchat", "email"] },
    "durationSeconds": { "type": "integer", "minimum": 0 },
    "dispositionCode": { "type": "string" },
    "agentEmail": { "type": "string", "format": "email" },
    "handledBy": { "enum": ["agent", "ivr"] },
    "metadata": {
      "type": "object",
      "properties": {
        "queueName": { "type": "string" },
        "wrapUpCode": { "type": "string" },
        "sentimentScore": { "type": "number", "minimum": -1, "maximum": 1 }
      },
      "additionalProperties": false
    },
    "syncTimestamp": { "type": "string", "format": "date-time" }
  },
  "additionalProperties": false
}
"#;

const SALESFORCE_TRANSFORM: &str = r#"(
  /* A Salesforce Case. The Apex REST endpoint upserts on CXone_Interaction_Id__c. */
  $origin := { "voice": "Phone", "webchat": "Web", "email": "Email" };
  $minutes := $round((interaction.endedAt - interaction.startedAt) / 60000, 1);
  {
    "CXone_Interaction_Id__c": $string(interaction.id),
    "CXone_Contact_Id__c": interaction.customer.contactId != null ? $string(interaction.customer.contactId) : null,
    "Subject": $lookup($origin, interaction.channel.type) & " interaction " & $string(interaction.id),
    "Origin": $lookup($origin, interaction.channel.type),
    "Status": interaction.disposition.code = "RESOLVED" ? "Closed" : "New",
    "Priority": interaction.analytics.sentiment.score < -0.3 ? "High" : "Medium",
    "Description": "Queue " & interaction.queue.name & ", " & $string($minutes) & " min, "
      & ($exists(interaction.agent.id) ? "handled by an agent" : "self-service (IVR)")
      & ", disposition " & interaction.disposition.code,
    "CXone_Agent_Id__c": interaction.agent.id,
    "CXone_Sentiment__c": interaction.analytics.sentiment.score,
    "CXone_Synced_At__c": $now()
  }
)
"#;

const SALESFORCE_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Salesforce Case (Apex REST upsert)",
  "type": "object",
  "required": ["CXone_Interaction_Id__c", "Subject", "Origin", "Status", "CXone_Synced_At__c"],
  "properties": {
    "CXone_Interaction_Id__c": { "type": "string", "minLength": 1, "maxLength": 40 },
    "CXone_Contact_Id__c": { "type": ["string", "null"] },
    "Subject": { "type": "string", "maxLength": 255 },
    "Origin": { "enum": ["Phone", "Web", "Email"] },
    "Status": { "enum": ["New", "Working", "Escalated", "Closed"] },
    "Priority": { "enum": ["High", "Medium", "Low"] },
    "Description": { "type": "string", "maxLength": 32000 },
    "CXone_Agent_Id__c": { "type": "string" },
    "CXone_Sentiment__c": { "type": "number" },
    "CXone_Synced_At__c": { "type": "string", "format": "date-time" }
  },
  "additionalProperties": false
}
"#;

const DYNAMICS_TRANSFORM: &str = r#"(
  /* A Dynamics 365 case for the cxone_SyncInteraction custom API (upsert on cxone_interactionid).
     caseorigincode: 1 phone, 2 email, 3 web. */
  $origin := { "voice": 1, "email": 2, "webchat": 3 };
  {
    "cxone_interactionid": $string(interaction.id),
    "title": "CXone " & interaction.channel.type & " interaction " & $string(interaction.id),
    "caseorigincode": $lookup($origin, interaction.channel.type),
    "cxone_contactid": interaction.customer.contactId != null ? $string(interaction.customer.contactId) : null,
    "cxone_queue": interaction.queue.name,
    "cxone_disposition": interaction.disposition.code,
    "cxone_durationseconds": $round((interaction.endedAt - interaction.startedAt) / 1000),
    "cxone_selfservice": $not($exists(interaction.agent.id)),
    "cxone_syncedon": $now()
  }
)
"#;

const DYNAMICS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Dynamics 365 case (cxone_SyncInteraction custom API)",
  "type": "object",
  "required": ["cxone_interactionid", "title", "caseorigincode", "cxone_selfservice", "cxone_syncedon"],
  "properties": {
    "cxone_interactionid": { "type": "string", "minLength": 1, "maxLength": 100 },
    "title": { "type": "string", "maxLength": 200 },
    "caseorigincode": { "enum": [1, 2, 3] },
    "cxone_contactid": { "type": ["string", "null"] },
    "cxone_queue": { "type": "string" },
    "cxone_disposition": { "type": "string" },
    "cxone_durationseconds": { "type": "integer", "minimum": 0 },
    "cxone_selfservice": { "type": "boolean" },
    "cxone_syncedon": { "type": "string", "format": "date-time" }
  },
  "additionalProperties": false
}
"#;

const ZENDESK_TRANSFORM: &str = r#"(
  /* A Zendesk ticket. Zendesk drops a resend that carries the same Idempotency-Key. */
  $seconds := $round((interaction.endedAt - interaction.startedAt) / 1000);
  {
    "ticket": {
      "external_id": "cxone-" & $string(interaction.id),
      "subject": "CXone " & interaction.channel.type & " interaction " & $string(interaction.id),
      "comment": {
        "body": "Queue " & interaction.queue.name & ", " & $string($seconds) & " s, disposition "
          & interaction.disposition.code
          & ($exists(interaction.agent.id) ? "" : " (self-service IVR, no agent)"),
        "public": false
      },
      "status": interaction.disposition.code = "RESOLVED" ? "solved" : "open",
      "tags": ["cxone", interaction.channel.type, $exists(interaction.agent.id) ? "agent" : "ivr"]
    }
  }
)
"#;

const ZENDESK_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Zendesk ticket create",
  "type": "object",
  "required": ["ticket"],
  "properties": {
    "ticket": {
      "type": "object",
      "required": ["external_id", "subject", "comment", "status"],
      "properties": {
        "external_id": { "type": "string", "minLength": 1 },
        "subject": { "type": "string" },
        "comment": {
          "type": "object",
          "required": ["body"],
          "properties": { "body": { "type": "string" }, "public": { "type": "boolean" } },
          "additionalProperties": false
        },
        "status": { "enum": ["new", "open", "pending", "hold", "solved"] },
        "tags": { "type": "array", "items": { "type": "string" } }
      },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
}
"#;

const HUBSPOT_TRANSFORM: &str = r#"(
  /* One input of HubSpot's ticket batch upsert, keyed on the cxone_interaction_id property.
     Pipeline "0" is the default support pipeline; stage 4 is Closed, 1 is New. */
  $id := $string(interaction.id);
  {
    "inputs": [{
      "idProperty": "cxone_interaction_id",
      "id": $id,
      "properties": {
        "subject": "CXone " & interaction.channel.type & " interaction " & $id,
        "content": "Queue " & interaction.queue.name & ", disposition " & interaction.disposition.code,
        "hs_pipeline": "0",
        "hs_pipeline_stage": interaction.disposition.code = "RESOLVED" ? "4" : "1",
        "cxone_channel": interaction.channel.type,
        "cxone_handled_by": $exists(interaction.agent.id) ? "agent" : "ivr",
        "cxone_duration_seconds": $string($round((interaction.endedAt - interaction.startedAt) / 1000))
      }
    }]
  }
)
"#;

const HUBSPOT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "HubSpot ticket batch upsert",
  "type": "object",
  "required": ["inputs"],
  "properties": {
    "inputs": {
      "type": "array",
      "minItems": 1,
      "maxItems": 100,
      "items": {
        "type": "object",
        "required": ["idProperty", "id", "properties"],
        "properties": {
          "idProperty": { "const": "cxone_interaction_id" },
          "id": { "type": "string", "minLength": 1 },
          "properties": {
            "type": "object",
            "required": ["subject", "hs_pipeline", "hs_pipeline_stage"],
            "additionalProperties": { "type": "string" }
          }
        },
        "additionalProperties": false
      }
    }
  },
  "additionalProperties": false
}
"#;

const SERVICENOW_TRANSFORM: &str = r#"(
  /* A row of the u_cxone_interaction import set; its transform map coalesces on
     u_correlation_id and writes an incident. */
  {
    "u_correlation_id": "cxone-" & $string(interaction.id),
    "u_short_description": "CXone " & interaction.channel.type & " interaction " & $string(interaction.id),
    "u_contact_type": interaction.channel.type = "voice" ? "phone" : interaction.channel.type = "webchat" ? "chat" : "email",
    "u_assignment_group": interaction.queue.name,
    "u_close_code": interaction.disposition.code,
    "u_state": interaction.disposition.code = "RESOLVED" ? "6" : "1",
    "u_self_service": $exists(interaction.agent.id) ? "false" : "true",
    "u_duration_seconds": $round((interaction.endedAt - interaction.startedAt) / 1000),
    "u_synced_at": $now()
  }
)
"#;

const SERVICENOW_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ServiceNow import set row (u_cxone_interaction)",
  "type": "object",
  "required": ["u_correlation_id", "u_short_description", "u_contact_type", "u_state", "u_synced_at"],
  "properties": {
    "u_correlation_id": { "type": "string", "minLength": 1, "maxLength": 100 },
    "u_short_description": { "type": "string", "maxLength": 160 },
    "u_contact_type": { "enum": ["phone", "chat", "email"] },
    "u_assignment_group": { "type": "string" },
    "u_close_code": { "type": "string" },
    "u_state": { "enum": ["1", "2", "6", "7"] },
    "u_self_service": { "enum": ["true", "false"] },
    "u_duration_seconds": { "type": "integer", "minimum": 0 },
    "u_synced_at": { "type": "string", "format": "date-time" }
  },
  "additionalProperties": false
}
"#;
