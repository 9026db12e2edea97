//! `cxsync rules`: the lint catalogue as a table, JSON, or the Markdown of `docs/rules.md`.

use super::ExitStatus;
use crate::lint::{registry, RULES};

/// Output of `cxsync rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum RulesFormat {
    /// Aligned columns: code, name, severity, status.
    #[default]
    Text,
    /// A JSON array with code, name, severity, status, summary and docs per rule.
    Json,
    /// The generated `docs/rules.md`.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let text = match args.format {
        RulesFormat::Text => {
            let mut s = format!(
                "{:<6} {:<38} {:<8} {}\n",
                "code", "name", "severity", "status"
            );
            for r in RULES {
                s.push_str(&format!(
                    "{:<6} {:<38} {:<8} {}\n",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.status.as_str()
                ));
            }
            s
        }
        RulesFormat::Json => {
            let v: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity.as_str(),
                        "status": r.status.as_str(),
                        "summary": r.summary(),
                        "docs": r.docs(),
                    })
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&v)?;
            s.push('\n');
            s
        }
        RulesFormat::Markdown => registry::markdown(),
    };
    super::print_stdout(&text)?;
    Ok(ExitStatus::Success)
}
