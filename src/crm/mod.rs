//! What cxsync knows about real CRMs, on the lowest floor: each named profile's throttling,
//! limits, tokens and deduplication ([`profile`], sources in `docs/crm-profiles.md`), and how a
//! spec's `crm` block and its profile together decide whether — and on what — the CRM
//! deduplicates ([`dedup`]), and what it accepts as a request body ([`body::judge`]).
//!
//! One truth: the simulator's CRM model (`sim::crm`) and lint read these facts; neither keeps a
//! table of its own. Pure data and pure functions; it imports only `spec::model`.

pub mod body;
mod profiles;

pub use profiles::{profile, Profile, Throttle};

use crate::spec::model::{CrmIdempotency, RawSpec};

/// How the CRM deduplicates repeated writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupMode {
    /// By the idempotency header.
    Header,
    /// By a payload field.
    Upsert,
    /// Not at all: a resend is a second record.
    None,
}

impl DedupMode {
    /// Whether the CRM reads the idempotency key, and so drops a delivery whose key it has
    /// already seen. Only a CRM that deduplicates by header does: one that upserts knows a
    /// record by a payload field, one that does not deduplicate writes every request, and
    /// neither reads the key. The one answer to "do two deliveries under one key lose one?":
    /// the simulator's `unique-idempotency-keys` invariant and lint's CX030 ask it.
    pub fn reads_key(&self) -> bool {
        matches!(self, DedupMode::Header)
    }

    /// The mode as reports and the spec name it (`header`, `upsert`, `none`).
    pub fn as_str(&self) -> &'static str {
        match self {
            DedupMode::Header => "header",
            DedupMode::Upsert => "upsert",
            DedupMode::None => "none",
        }
    }
}

/// Why the CRM does not deduplicate the way the spec (or its profile) says it would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupProblem {
    /// The CRM honours only its own header name, and the spec sends another.
    HeaderIgnored {
        profile: &'static str,
        honoured: &'static str,
        sent: String,
    },
    /// The CRM upserts, but no payload field is named to upsert on.
    UpsertWithoutField,
}

impl std::fmt::Display for DedupProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DedupProblem::HeaderIgnored {
                profile,
                honoured,
                sent,
            } => write!(
                f,
                "{profile} honours only the `{honoured}` header; the spec sends `{sent}`, so resends are not deduplicated"
            ),
            DedupProblem::UpsertWithoutField => {
                f.write_str("the CRM upserts but no upsert field is named; it cannot deduplicate")
            }
        }
    }
}

/// How the CRM deduplicates in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    pub mode: DedupMode,
    /// The payload field upserted on (`Upsert` only).
    pub upsert_field: Option<String>,
    /// The header the CRM reads the key from (`Header` only): the profile's fixed name, or the
    /// spec's header when the profile honours any.
    pub header: Option<String>,
    /// What turned the intended deduplication off, if anything.
    pub problem: Option<DedupProblem>,
}

impl Dedup {
    /// The payload field the CRM upserts on, when it upserts (`None` for every other mode).
    pub fn upserts_on(&self) -> Option<&str> {
        match (&self.mode, &self.upsert_field) {
            (DedupMode::Upsert, Some(field)) => Some(field),
            _ => None,
        }
    }
}

/// Overrides of the deduplication facts (a scenario's `crm:` block); lint passes none.
#[derive(Debug, Clone, Default)]
pub struct DedupOverrides<'a> {
    pub mode: Option<DedupMode>,
    pub upsert_field: Option<&'a str>,
}

/// How the CRM of `profile` deduplicates the deliveries of `spec`: the spec's
/// `crm.idempotency` (else the profile's default), then the overrides; an upsert without a field
/// and a header the CRM does not honour turn deduplication off, with the reason.
pub fn dedup(spec: &RawSpec, profile: &Profile, over: &DedupOverrides<'_>) -> Dedup {
    let (declared, field) = match &spec.crm.idempotency {
        Some(CrmIdempotency::Header {}) => (DedupMode::Header, None),
        Some(CrmIdempotency::Upsert { field }) => (DedupMode::Upsert, Some(field.clone())),
        Some(CrmIdempotency::None {}) => (DedupMode::None, None),
        None => (profile.default_dedup.clone(), None),
    };
    let mode = over.mode.clone().unwrap_or(declared);
    let upsert_field = over.upsert_field.map(str::to_string).or(field);
    let sent = &spec.idempotency.header;
    match mode {
        DedupMode::Upsert if upsert_field.is_none() => Dedup {
            mode: DedupMode::None,
            upsert_field: None,
            header: None,
            problem: Some(DedupProblem::UpsertWithoutField),
        },
        DedupMode::Upsert => Dedup {
            mode,
            upsert_field,
            header: None,
            problem: None,
        },
        DedupMode::Header => match profile.idempotency_header {
            Some(h) if !h.eq_ignore_ascii_case(sent) => Dedup {
                mode: DedupMode::None,
                upsert_field: None,
                header: None,
                problem: Some(DedupProblem::HeaderIgnored {
                    profile: profile.name,
                    honoured: h,
                    sent: sent.clone(),
                }),
            },
            honoured => Dedup {
                mode,
                upsert_field: None,
                header: Some(honoured.map_or_else(|| sent.clone(), str::to_string)),
                problem: None,
            },
        },
        DedupMode::None => Dedup {
            mode,
            upsert_field: None,
            header: None,
            problem: None,
        },
    }
}

/// The `expires_in` the CRM's token endpoint sends: a scenario's override, else the spec's
/// `crm.tokenLifetimeSeconds` when the profile sends `expires_in` at all, else the profile's.
pub fn token_expires_in(spec: &RawSpec, profile: &Profile, scenario: Option<u64>) -> Option<u64> {
    scenario
        .or(spec
            .crm
            .token_lifetime_seconds
            .filter(|_| profile.expires_in.is_some()))
        .or(profile.expires_in)
}

/// The largest request body the CRM takes, in bytes: a scenario's override, else the spec's
/// `crm.maxBodyBytes`, else the profile's. The simulator's CRM model answers 413 above it (in
/// virtual time and over HTTP); lint's CX035, `cxsync test` and `dlq replay` hold a body to it.
pub fn max_body_bytes(spec: &RawSpec, profile: &Profile, scenario: Option<u64>) -> u64 {
    scenario
        .or(spec.crm.max_body_bytes)
        .unwrap_or(profile.max_body_bytes)
}

/// Where [`max_body_bytes`] took its number from when no scenario overrides it, as lint's
/// findings name it: the spec's `crm.maxBodyBytes` or the profile's limit.
pub fn max_body_bytes_source(spec: &RawSpec) -> &'static str {
    if spec.crm.max_body_bytes.is_some() {
        "`crm.maxBodyBytes`"
    } else {
        "the profile's limit"
    }
}

/// The HTTP method the Event Hub delivers with: every channel request is a `POST` of the payload
/// to `destinationUri` (docs/semantics.md, "Driving the machine"), and `dlq replay` sends the same.
pub const DELIVERY_METHOD: &str = "POST";

/// Whether an upsert of a record the CRM already holds changes only the fields the request
/// carries (a merge), rather than replacing the whole record: `POST` and `PATCH` upserts merge on
/// every profile (HubSpot's `batch/upsert`, Salesforce's `PATCH` on an external id, Dataverse's
/// `PATCH` upsert), `PUT` merges only where the CRM's update endpoint is a `PUT` that changes the
/// fields sent ([`Profile::put_merges`]: Zendesk, ServiceNow) and replaces the record elsewhere.
/// The simulator's CRM model, and through it lint's CX037 and the set-back count, ask this.
pub fn upsert_merges(profile: &Profile, method: &str) -> bool {
    if method.eq_ignore_ascii_case("PUT") {
        profile.put_merges
    } else {
        true
    }
}

/// How long the CRM accepts a token it issued, in seconds: a scenario's override, else the
/// spec's `crm.tokenLifetimeSeconds`, else the profile's session. The simulator's CRM answers 401
/// after it; lint (CX005) compares `auth.tokenCacheTtlSeconds` with it.
pub fn token_lifetime_seconds(spec: &RawSpec, profile: &Profile, scenario: Option<u64>) -> u64 {
    scenario
        .or(spec.crm.token_lifetime_seconds)
        .unwrap_or(profile.session_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::CrmProfile;

    fn spec(profile: &str, header: &str, idempotency: &str) -> RawSpec {
        let text = format!(
            "version: 1\nname: t\nchannel:\n  name: c\n  destinationUri: https://crm.example.com/x\n  auth:\n    type: none\n  timeoutMilliseconds: 1000\nidempotency:\n  header: {header}\n  key: ${{event.id}}\nretry:\n  maxRetries: 1\n  initialDelaySeconds: 1\n  maxDelaySeconds: 1\n  backoffMultiplier: 2\n  retryableStatusCodes: [429]\n  nonRetryableStatusCodes: [400]\ndeadLetterQueue:\n  enabled: true\ncrm:\n  profile: {profile}\n{idempotency}rules:\n  - id: r\n    name: r\n    eventType: interaction.ended\n    transform: '{{}}'\n"
        );
        let doc = crate::spec::yaml::parse(&text).expect("test spec parses");
        serde_json::from_value(doc.value).expect("test spec is valid")
    }

    #[test]
    fn zendesk_ignores_any_header_but_its_own() {
        let s = spec("zendesk", "X-Idempotency-Key", "");
        let d = dedup(&s, &profile(CrmProfile::Zendesk), &Default::default());
        assert_eq!(d.mode, DedupMode::None);
        assert_eq!(
            d.problem.unwrap().to_string(),
            "zendesk honours only the `Idempotency-Key` header; the spec sends `X-Idempotency-Key`, so resends are not deduplicated"
        );
        let s = spec("zendesk", "idempotency-key", "");
        let d = dedup(&s, &profile(CrmProfile::Zendesk), &Default::default());
        assert_eq!(
            (d.mode, d.header.as_deref()),
            (DedupMode::Header, Some("Idempotency-Key"))
        );
    }

    #[test]
    fn the_spec_the_profile_and_the_overrides_decide_in_that_order() {
        let s = spec("hubspot", "X-Key", "");
        let p = profile(CrmProfile::Hubspot);
        // HubSpot upserts by default, but nothing names the field.
        let d = dedup(&s, &p, &Default::default());
        assert_eq!(d.problem, Some(DedupProblem::UpsertWithoutField));
        let d = dedup(
            &s,
            &p,
            &DedupOverrides {
                mode: None,
                upsert_field: Some("email"),
            },
        );
        assert_eq!(
            (d.mode, d.upsert_field.as_deref()),
            (DedupMode::Upsert, Some("email"))
        );
        let s = spec("generic", "X-Key", "  idempotency: { by: none }\n");
        let d = dedup(&s, &profile(CrmProfile::Generic), &Default::default());
        assert_eq!((d.mode, d.problem), (DedupMode::None, None));
        let d = dedup(
            &s,
            &profile(CrmProfile::Generic),
            &DedupOverrides {
                mode: Some(DedupMode::Header),
                upsert_field: None,
            },
        );
        assert_eq!(
            (d.mode, d.header.as_deref()),
            (DedupMode::Header, Some("X-Key"))
        );
    }
}
