//! One rule per file. Each file's `//!` comment is the rule's documentation (What it does / Why is
//! this bad? / Example / Use instead / Fix safety) and its `check` appends findings; the code and
//! severity come from the table in `registry.rs`.

pub mod backoff_without_jitter;
pub mod batch_body_above_crm_limit;
pub mod batch_without_array_support;
pub mod circuit_breaker_not_sent;
pub mod condition_on_list_or_object;
pub mod content_type_not_json;
pub mod crm_cannot_deduplicate;
pub mod crm_throttle_code_not_retried;
pub mod dlq_without_alert_endpoint;
pub mod idempotency_key_field_can_be_absent;
pub mod idempotency_template_mismatch;
pub mod insecure_endpoint;
pub mod jsonata_dialect;
pub mod max_delay_below_retry_after;
pub mod missing_dead_letter_queue;
pub mod missing_operational_alert;
pub mod non_growing_backoff;
pub mod non_unique_idempotency_key;
pub mod oauth_without_token_refresh;
pub mod payload_guard_above_crm_limit;
pub mod payload_not_a_record;
pub mod personal_data_in_payload;
pub mod plaintext_secret;
pub mod record_set_back_by_older_event;
pub mod resends_write_twice;
pub mod retry_budget_exceeds_deadline;
pub mod retryable_client_error;
pub mod rule_matches_no_fixture;
pub mod rule_without_fixtures;
pub mod rules_share_idempotency_key;
pub mod static_bearer_token;
pub mod status_code_in_both_lists;
pub mod throttle_or_server_error_not_retried;
pub mod token_cache_outlives_token;
pub mod transform_fails_on_fixture;
pub mod transform_path_typo;
pub mod transform_syntax_error;
pub mod unbounded_blob_in_payload;
pub mod unclassified_status_code;
pub mod uncovered_condition_value;
pub mod unsendable_idempotency_key;
pub mod unused_suppression;
pub mod upsert_field_not_identity;

/// What every rule file uses.
pub(crate) mod prelude {
    pub use crate::diag::Diagnostic;
    pub use crate::lint::context::Context;
    pub use crate::spec::model::{Auth, Jitter};
}

/// The `${path}` variables of the spec's idempotency template, in order, as the delivery machine
/// reads them ([`crate::delivery::Template::vars`]); none when the template does not parse (the
/// loader reports that, E403).
pub fn template_vars(template: &str) -> Vec<String> {
    crate::delivery::Template::parse(template)
        .map(|t| t.vars().collect())
        .unwrap_or_default()
}

/// Whether a string is a `${VAULT_SECRET:…}` or `${env:…}` reference (or made only of them).
pub fn is_reference(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("${VAULT_SECRET:") || t.starts_with("${env:")
}

/// Input-path segments that carry personal data, with what they are.
pub fn personal_data(segments: &[String]) -> Option<&'static str> {
    personal_data_at(segments).map(|(_, what)| what)
}

/// [`personal_data`], with the index of the segment that says so (`address` in
/// `customer.address.street`).
pub fn personal_data_at(segments: &[String]) -> Option<(usize, &'static str)> {
    const PERSONS: [&str; 8] = [
        "customer", "contact", "caller", "agent", "person", "user", "cliente", "kunde",
    ];
    for (i, s) in segments.iter().enumerate() {
        let l = s.to_ascii_lowercase().replace(['_', '-'], "");
        let kind = match l.as_str() {
            "phone" | "phonenumber" | "mobile" | "mobilephone" | "ani" | "msisdn" | "dnis"
            | "callerid" | "telephone" | "telefono" | "telefon" => Some("a phone number"),
            "email" | "emailaddress" | "mail" | "mailaddress" | "correo" => {
                Some("an email address")
            }
            "transcript" | "transcripts" => Some("a transcript"),
            "recording" | "recordingurl" | "recordings" | "voicerecording" => {
                Some("a call recording")
            }
            "rawpayload" => Some("a raw event payload"),
            "ipaddress" | "ip" | "ipv4" | "ipv6" | "clientip" => Some("an IP address"),
            "iban" | "bankaccount" | "accountnumber" | "creditcard" | "cardnumber" | "pan" => {
                Some("a bank or card number")
            }
            "address"
            | "postaladdress"
            | "streetaddress"
            | "ssn"
            | "socialsecuritynumber"
            | "nationalid"
            | "taxid"
            | "passport"
            | "passportnumber"
            | "dateofbirth"
            | "dob"
            | "birthdate"
            | "birthday" => Some("a personal identifier"),
            "name" | "firstname" | "lastname" | "fullname" | "displayname" | "givenname"
            | "familyname" | "surname" | "nombre" | "apellido" | "nom" | "prenom" | "vorname"
            | "nachname"
                if segments[..i]
                    .iter()
                    .any(|p| PERSONS.contains(&p.to_ascii_lowercase().as_str())) =>
            {
                Some("a person's name")
            }
            _ => None,
        };
        if let Some(k) = kind {
            return Some((i, k));
        }
    }
    None
}

/// Input paths whose value can be arbitrarily large.
pub fn large_blob(segments: &[String]) -> Option<&'static str> {
    let last = segments.last()?.to_ascii_lowercase();
    match last.as_str() {
        "transcript" | "transcripts" => Some("a transcript"),
        "rawpayload" => Some("the raw event payload"),
        "analytics" => Some("the whole analytics object"),
        "attachments" | "recording" | "recordings" | "messages" => Some("an unbounded array"),
        _ if segments.iter().any(|s| s.eq_ignore_ascii_case("analytics"))
            && segments.iter().any(|s| {
                let s = s.to_ascii_lowercase();
                s.ends_with("transcripts") || s == "segments" || s == "utterances"
            }) =>
        {
            Some("an analytics array")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    #[test]
    fn template_vars_are_read_in_order() {
        assert_eq!(
            template_vars("${interaction.id}_${event.type}_${agent.id}"),
            vec!["interaction.id", "event.type", "agent.id"]
        );
        assert!(template_vars("static").is_empty());
    }

    #[test]
    fn personal_data_is_found_by_path_but_queue_names_are_not() {
        assert!(personal_data(&segs("interaction.customer.phone")).is_some());
        assert!(personal_data(&segs("interaction.customer.name")).is_some());
        assert!(personal_data(&segs("interaction.agent.email")).is_some());
        assert!(personal_data(&segs("interaction.queue.name")).is_none());
        assert!(personal_data(&segs("interaction.analytics.transcripts")).is_some());
    }
}

/// Builders for rule unit tests: a small spec in memory and hand-made transform analyses, so rule
/// logic is tested without the JSONata analyser.
#[cfg(test)]
pub(crate) mod tests_support {
    use crate::diag::Diagnostic;
    use crate::lint::context::{Context, RuleView, TransformView};
    use crate::spec::{Spec, TransformOrigin, TransformSource};
    use crate::transform::syntax::{Analysis, OutputField, PathRef};

    /// A fixable optional-chain dialect use at `[start, end)` rewritten to `replacement`.
    pub fn dialect_fix(
        start: usize,
        end: usize,
        replacement: &str,
    ) -> crate::transform::syntax::DialectFix {
        crate::transform::syntax::DialectFix {
            start,
            end,
            replacement: replacement.into(),
            message: String::new(),
            help: String::new(),
            origins: Vec::new(),
            kind: crate::transform::syntax::DialectKind::OptionalChain,
            fixable: true,
            nested: Vec::new(),
        }
    }

    /// A valid spec with `crm_line` (indented under `crm:`) and one rule with an inline transform.
    pub fn spec_with(crm_line: &str) -> Spec {
        let text = format!(
            "version: 1\nname: t\nchannel:\n  name: c\n  destinationUri: https://crm.example.com/x\n  auth:\n    type: none\n  timeoutMilliseconds: 1000\nidempotency:\n  key: ${{event.id}}\nretry:\n  maxRetries: 1\n  initialDelaySeconds: 1\n  maxDelaySeconds: 1\n  backoffMultiplier: 2\n  retryableStatusCodes: [429]\n  nonRetryableStatusCodes: [400]\ndeadLetterQueue:\n  enabled: true\ncrm:\n  {crm_line}\nrules:\n  - id: r\n    name: r\n    eventType: interaction.ended\n    transform: '{{}}'\n"
        );
        let doc = crate::spec::yaml::parse(&text).expect("test spec parses");
        let raw = serde_json::from_value(doc.value.clone()).expect("test spec is valid");
        Spec {
            path: "t.yaml".into(),
            text: text.clone(),
            dir: ".".into(),
            env: None,
            raw,
            tree: doc.value,
            map: doc.map,
            rules: Vec::new(),
            payload_schema: None,
            rule_payload_schemas: Vec::new(),
            sensitive: Default::default(),
            interpolated: Default::default(),
        }
    }

    /// An analysis whose output fields read the given dotted input paths.
    pub fn analysis(fields: &[(&str, &[&str])]) -> Analysis {
        let mut a = Analysis::default();
        let mut at = 0;
        for (pointer, inputs) in fields {
            let inputs: Vec<PathRef> = inputs
                .iter()
                .map(|p| {
                    at += 10;
                    PathRef {
                        segments: p.split('.').map(String::from).collect(),
                        start: at,
                        end: at + p.len(),
                    }
                })
                .collect();
            a.paths.extend(inputs.iter().cloned());
            a.outputs.push(OutputField {
                pointer: pointer.to_string(),
                key_start: at,
                key_end: at + 3,
                carries: inputs.clone(),
                inputs,
            });
        }
        a
    }

    /// The inline transform source of the test spec's rule.
    pub fn inline_source() -> TransformSource {
        TransformSource {
            text: "{}".into(),
            origin: TransformOrigin::Inline {
                pointer: "/rules/0/transform".into(),
            },
        }
    }

    /// Runs one rule check on `spec_with(crm_line)` whose single rule has `analysis`.
    pub fn context_with(
        crm_line: &str,
        analysis: Analysis,
        check: fn(&Context, &mut Vec<Diagnostic>),
    ) -> Vec<Diagnostic> {
        run_view(
            crm_line,
            TransformView::with_analysis(inline_source(), analysis),
            check,
        )
    }

    /// Runs one rule check on `spec_with(crm_line)` whose single rule has the transform `view`.
    pub fn run_view(
        crm_line: &str,
        view: TransformView,
        check: fn(&Context, &mut Vec<Diagnostic>),
    ) -> Vec<Diagnostic> {
        let spec = spec_with(crm_line);
        let cx = Context {
            spec: &spec,
            rules: vec![RuleView {
                index: 0,
                transform: Some(view),
                fixtures: Vec::new(),
            }],
        };
        let mut out = Vec::new();
        check(&cx, &mut out);
        out
    }
}
