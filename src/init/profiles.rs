//! What a new project looks like for each CRM: the endpoint an integration engineer would point
//! the Event Hub at, its OAuth token endpoint and token lifetime, how the CRM deduplicates, which
//! statuses it throttles and fails with, and the payload it expects. The facts are data, one table
//! per CRM in `templates/profiles.toml` (vendor facts as in `docs/crm-profiles.md`: throttle
//! status, token lifetime, dedup); the transform and payload schema are files in `templates/`.

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

/// One CRM's starting point: a `[[starter]]` table of `templates/profiles.toml`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Starter {
    pub profile: CrmProfile,
    /// How people write the vendor's name.
    pub title: String,
    /// What the rule writes, for the spec's description.
    pub writes: String,
    pub destination: String,
    pub staging_destination: String,
    pub token_endpoint: String,
    pub scopes: Vec<String>,
    /// Seconds a token lives (the vendor's `expires_in`, or the session timeout).
    pub token_lifetime: u64,
    /// Longest `Retry-After` the CRM sends when it throttles, in seconds.
    pub retry_after_horizon: u64,
    pub idempotency_header: String,
    /// The `crm.idempotency` mapping, as YAML flow text.
    pub dedup: String,
    /// `retry.retryableStatusCodes`, as a YAML flow list.
    pub retryable: String,
    /// `retry.nonRetryableStatusCodes`, as a YAML flow list.
    pub non_retryable: String,
    pub timeout_ms: u64,
    /// `retry.maxRetries`: enough retries to outlast the starter's own campaign-burst throttle
    /// with no circuit breaker (the hub runs none, #122), few enough that an event's retries end
    /// within the token cache's TTL (CX023).
    pub max_retries: u32,
    pub max_body_bytes: u64,
    /// Output fields allowed to carry personal data.
    pub personal_data: Vec<String>,
    /// The rule's id.
    pub rule_id: String,
    /// The custom scenario's throttle fault, as YAML flow text, and what it says.
    pub throttle: String,
    pub throttle_says: String,
}

/// The starting point for `profile`.
pub fn starter(profile: CrmProfile) -> Starter {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        starter: Vec<Starter>,
    }
    static STARTERS: std::sync::LazyLock<Vec<Starter>> = std::sync::LazyLock::new(|| {
        toml::from_str::<Table>(include_str!("templates/profiles.toml"))
            .expect("templates/profiles.toml is checked by a test")
            .starter
    });
    STARTERS
        .iter()
        .find(|s| s.profile == profile)
        .cloned()
        .expect("templates/profiles.toml has a table for every profile (a test checks)")
}

/// A profile's two template files: `templates/<name>.jsonata` and `templates/<name>.schema.json`.
macro_rules! templates_of {
    ($name:literal) => {
        (
            include_str!(concat!("templates/", $name, ".jsonata")),
            include_str!(concat!("templates/", $name, ".schema.json")),
        )
    };
}

/// `profile`'s transform (standard JSONata) and the JSON Schema of its CRM payload.
pub fn templates(profile: CrmProfile) -> (&'static str, &'static str) {
    match profile {
        CrmProfile::Generic => templates_of!("generic"),
        CrmProfile::Salesforce => templates_of!("salesforce"),
        CrmProfile::Dynamics => templates_of!("dynamics"),
        CrmProfile::Zendesk => templates_of!("zendesk"),
        CrmProfile::Hubspot => templates_of!("hubspot"),
        CrmProfile::Servicenow => templates_of!("servicenow"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_one_table_of_facts_in_help_order() {
        let table: toml::Table = toml::from_str(include_str!("templates/profiles.toml")).unwrap();
        let names: Vec<&str> = table["starter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["profile"].as_str().unwrap())
            .collect();
        assert_eq!(names, ALL.map(CrmProfile::as_str));
        for p in ALL {
            assert_eq!(starter(p).profile, p);
        }
    }
}
