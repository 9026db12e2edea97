//! The one table of lint codes, sorted. A code is never reused: no rule has been retired yet, and
//! one that is keeps its row (with a status of its own) so old suppressions still resolve.
//!
//! Each rule's documentation is the `//!` doc comment of its own file under `rules/`, embedded
//! with `include_str!` and read at run time, so `cxsync explain`, `docs/rules.md` and SARIF all
//! show the text that sits beside the code.

use serde::Serialize;

use super::context::Context;
use super::rules;
use crate::diag::{Diagnostic, RuleMeta, Severity};

/// Whether a rule runs by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// On by default.
    Stable,
    /// Only when selected by its exact code or with `--preview`.
    Preview,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stable => "stable",
            Status::Preview => "preview",
        }
    }
}

/// A rule's check: reads the context, appends findings (code and severity are filled in by the
/// registry).
pub type Check = fn(&Context, &mut Vec<Diagnostic>);

/// One row of the code table.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub code: &'static str,
    /// Kebab-case name of the bad pattern.
    pub name: &'static str,
    pub severity: Severity,
    pub status: Status,
    /// Source of the rule's file; its `//!` comment is the documentation.
    source: &'static str,
    /// `None` for a rule reported by another pass (CX100, by `lint::suppress`, which knows which
    /// comments matched).
    pub check: Option<Check>,
}

impl RuleInfo {
    /// The rule's documentation (Markdown), from its file's doc comment.
    pub fn docs(&self) -> String {
        let mut out = String::new();
        for line in self.source.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("//!") {
                out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                out.push('\n');
            } else if !t.is_empty() {
                break;
            }
        }
        out.trim().to_string()
    }

    /// The first sentence under `## What it does`.
    pub fn summary(&self) -> String {
        let docs = self.docs();
        let body = docs
            .split_once("## What it does")
            .map(|(_, b)| b)
            .unwrap_or(&docs);
        let para: Vec<&str> = body
            .trim_start()
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        para.join(" ")
    }

    /// What `cxsync explain CODE` prints (and `cxsync lsp` shows on hover): a heading, the default
    /// severity and status, then the docs.
    pub fn explain(&self) -> String {
        format!(
            "# {} ({})\n\nDefault severity: {}. Status: {}.\n\n{}\n",
            self.code,
            self.name,
            self.severity.as_str(),
            self.status.as_str(),
            self.docs()
        )
    }

    /// The rule as the machine renderers describe it.
    pub fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: self.code.into(),
            name: self.name.into(),
            summary: self.summary(),
            help: self.docs(),
            severity: self.severity,
        }
    }
}

/// A rule file's `check`; `unused_suppression` has none (its file is its documentation).
macro_rules! check_of {
    (unused_suppression) => {
        None
    };
    ($module:ident) => {
        Some(rules::$module::check)
    };
}

macro_rules! table {
    ($( $code:literal $name:literal $sev:ident $status:ident $module:ident; )*) => {
        /// Every rule, sorted by code.
        pub static RULES: &[RuleInfo] = &[$(
            RuleInfo {
                code: $code,
                name: $name,
                severity: Severity::$sev,
                status: Status::$status,
                source: include_str!(concat!("rules/", stringify!($module), ".rs")),
                check: check_of!($module),
            },
        )*];
    };
}

table! {
    "CX001" "batch-without-array-support"     Error   Stable  batch_without_array_support;
    "CX002" "oauth-without-token-refresh"     Error   Stable  oauth_without_token_refresh;
    "CX003" "static-bearer-token"             Warning Stable  static_bearer_token;
    "CX004" "plaintext-secret"                Error   Stable  plaintext_secret;
    "CX005" "token-cache-outlives-token"      Error   Stable  token_cache_outlives_token;
    "CX006" "retryable-client-error"          Error   Stable  retryable_client_error;
    "CX007" "throttle-or-server-error-not-retried" Error Stable throttle_or_server_error_not_retried;
    "CX008" "status-code-in-both-lists"       Error   Stable  status_code_in_both_lists;
    "CX009" "unclassified-status-code"        Warning Stable  unclassified_status_code;
    "CX010" "backoff-without-jitter"          Warning Stable  backoff_without_jitter;
    "CX011" "non-growing-backoff"             Warning Stable  non_growing_backoff;
    "CX012" "max-delay-below-retry-after"     Error   Stable  max_delay_below_retry_after;
    "CX013" "missing-dead-letter-queue"       Error   Stable  missing_dead_letter_queue;
    "CX014" "dlq-without-alert-endpoint"      Warning Stable  dlq_without_alert_endpoint;
    "CX015" "missing-operational-alert"       Warning Stable  missing_operational_alert;
    "CX016" "non-unique-idempotency-key"      Error   Stable  non_unique_idempotency_key;
    "CX017" "idempotency-key-field-can-be-absent" Error Stable idempotency_key_field_can_be_absent;
    "CX018" "idempotency-template-mismatch"   Error   Stable  idempotency_template_mismatch;
    "CX019" "crm-throttle-code-not-retried"   Error   Stable  crm_throttle_code_not_retried;
    "CX020" "personal-data-in-payload"        Error   Stable  personal_data_in_payload;
    "CX021" "unbounded-blob-in-payload"       Warning Stable  unbounded_blob_in_payload;
    "CX022" "insecure-endpoint"               Error   Stable  insecure_endpoint;
    "CX023" "retry-budget-exceeds-deadline"   Warning Stable  retry_budget_exceeds_deadline;
    "CX024" "jsonata-dialect"                 Error   Stable  jsonata_dialect;
    "CX025" "transform-syntax-error"          Error   Stable  transform_syntax_error;
    "CX026" "transform-path-typo"             Warning Preview transform_path_typo;
    "CX027" "uncovered-condition-value"       Warning Stable  uncovered_condition_value;
    "CX028" "payload-guard-above-crm-limit"   Warning Stable  payload_guard_above_crm_limit;
    "CX029" "rule-without-fixtures"           Warning Stable  rule_without_fixtures;
    "CX030" "rules-share-idempotency-key"     Error   Stable  rules_share_idempotency_key;
    "CX031" "crm-cannot-deduplicate"          Error   Stable  crm_cannot_deduplicate;
    "CX032" "resends-write-twice"             Warning Stable  resends_write_twice;
    "CX033" "condition-on-list-or-object"     Error   Stable  condition_on_list_or_object;
    "CX034" "upsert-field-not-identity"       Error   Stable  upsert_field_not_identity;
    "CX035" "payload-not-a-record"            Error   Stable  payload_not_a_record;
    "CX036" "unsendable-idempotency-key"      Error   Stable  unsendable_idempotency_key;
    "CX037" "record-set-back-by-older-event"  Error   Stable  record_set_back_by_older_event;
    "CX038" "circuit-breaker-not-sent"        Warning Stable  circuit_breaker_not_sent;
    "CX039" "content-type-not-json"           Error   Stable  content_type_not_json;
    "CX040" "transform-fails-on-fixture"      Error   Stable  transform_fails_on_fixture;
    "CX041" "batch-body-above-crm-limit"      Warning Stable  batch_body_above_crm_limit;
    "CX042" "rule-matches-no-fixture"         Error   Stable  rule_matches_no_fixture;
    "CX100" "unused-suppression"              Warning Stable  unused_suppression;
}

/// The code of the rule that reports unused or unknown suppressions.
pub const UNUSED_SUPPRESSION: &str = "CX100";

/// Looks a rule up by code (`CX001`, case-insensitive) or name.
pub fn find(code_or_name: &str) -> Option<&'static RuleInfo> {
    RULES
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// The closest code or name to an unknown one, for "did you mean".
pub fn suggest(unknown: &str) -> Option<&'static str> {
    let u = unknown.to_ascii_uppercase();
    RULES
        .iter()
        .flat_map(|r| {
            [
                (r.code, r.code.to_string()),
                (r.name, r.name.to_ascii_uppercase()),
            ]
        })
        .map(|(orig, cand)| (strsim::jaro_winkler(&u, &cand), orig))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The catalogue as Markdown: what `docs/rules.md` must contain (a test fails on drift).
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Lint rules\n\n\
         <!-- Generated by `cxsync rules --format markdown`; do not edit. -->\n\n\
         | Code | Name | Severity | Status | Summary |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in RULES {
        let _ = writeln!(
            out,
            "| [{code}](#{lc}) | `{name}` | {sev} | {status} | {summary} |",
            code = r.code,
            lc = format!("{}-{}", r.code, r.name).to_ascii_lowercase(),
            name = r.name,
            sev = r.severity.as_str(),
            status = r.status.as_str(),
            summary = r.summary().replace('|', "\\|"),
        );
    }
    let _ = write!(
        out,
        "\n## Retry budget\n\n`cxsync lint --budget SPEC` prints, per answer of the CRM (each \
         status code, timeouts, resets, the token endpoint failing), the attempts, token refreshes \
         and time to the dead-letter queue the delivery machine gives one event, and how it ends. \
         `CX006`, `CX007`, `CX019` and `CX023` ask the machine the same way; \
         `tests/budget.rs` checks every figure against `sim` runs of the same answers.\n\n{}\n",
        super::budget::MODEL
    );
    for r in RULES {
        // Rule docs use `##` headings; nest them under the rule's own `##` heading.
        let docs = r.docs().replace("\n## ", "\n### ");
        let docs = docs
            .strip_prefix("## ")
            .map(|d| format!("### {d}"))
            .unwrap_or(docs);
        let _ = write!(
            out,
            "\n## {}: {}\n\nSeverity: {}. Status: {}.\n\n{}\n",
            r.code,
            r.name,
            r.severity.as_str(),
            r.status.as_str(),
            docs
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_names_are_kebab_case() {
        for w in RULES.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].code, w[1].code);
        }
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), RULES.len(), "rule names must be unique");
        for r in RULES {
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                r.name
            );
        }
    }

    #[test]
    fn every_rule_documents_what_why_example_fix_and_safety() {
        for r in RULES {
            let d = r.docs();
            for h in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "Use instead:",
                "## Fix safety",
            ] {
                assert!(d.contains(h), "{} lacks `{h}`", r.code);
            }
            assert!(!r.summary().is_empty(), "{} has no summary", r.code);
        }
    }

    #[test]
    fn unknown_codes_get_a_suggestion() {
        assert_eq!(suggest("CX0001"), Some("CX001"));
        assert_eq!(suggest("static-bearer-tokn"), Some("static-bearer-token"));
        assert!(find("cx005").is_some());
        assert!(find("CX999").is_none());
    }
}
