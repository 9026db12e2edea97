//! `cxsync explain CODE`: print a lint rule's documentation (by code or name), or what a load
//! error (`E001`…) means, from the error-code tables of `docs/spec.md` and `docs/scenarios.md`
//! (built into the binary: the one list of codes, which `tests/validate.rs` checks against every
//! code the source emits).

use std::collections::BTreeMap;

use super::ExitStatus;
use crate::lint::registry;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule code (`CX005`) or name (`token-cache-outlives-token`), or a load error's code
    /// (`E506`).
    pub code: String,
}

/// `docs/spec.md`, whose "Error codes" table lists every load error.
const SPEC_DOC: &str = include_str!("../../docs/spec.md");
/// `docs/scenarios.md`, whose table lists the scenario checks (`E600`…) `docs/spec.md` refers to.
const SCENARIOS_DOC: &str = include_str!("../../docs/scenarios.md");

/// One load error's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// `spec`, `YAML`, `files`, … (the stage that reports it).
    pub stage: String,
    /// What it means, as the table says it.
    pub meaning: String,
    /// Where the row is (`docs/spec.md#error-codes`).
    pub doc: &'static str,
}

/// Every load error code the documentation lists, by code.
pub fn load_errors() -> BTreeMap<String, LoadError> {
    let mut out = BTreeMap::new();
    let section = SPEC_DOC
        .split_once("\n## Error codes")
        .map_or("", |(_, rest)| rest.split("\n## ").next().unwrap_or(rest));
    for cells in table_rows(section) {
        if let [code, stage, meaning] = cells.as_slice() {
            if is_code(code) {
                out.insert(
                    code.to_string(),
                    LoadError {
                        stage: stage.to_string(),
                        meaning: meaning.to_string(),
                        doc: "docs/spec.md#error-codes",
                    },
                );
            }
        }
    }
    for cells in table_rows(SCENARIOS_DOC) {
        if let [code, meaning] = cells.as_slice() {
            if is_code(code) && code.starts_with("E6") {
                out.insert(
                    code.to_string(),
                    LoadError {
                        stage: "scenario".into(),
                        meaning: meaning.to_string(),
                        doc: "docs/scenarios.md",
                    },
                );
            }
        }
    }
    out
}

/// `E` and three digits.
fn is_code(s: &str) -> bool {
    s.len() == 4 && s.starts_with('E') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The cells of each Markdown table row of `text` (`| a | b |`), trimmed.
fn table_rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().filter_map(|l| {
        let l = l.trim();
        let inner = l.strip_prefix('|')?.strip_suffix('|')?;
        Some(inner.split(" | ").map(str::trim).collect())
    })
}

/// What `explain` prints for a load error.
fn render(code: &str, e: &LoadError) -> String {
    let meaning = e.meaning.replace('`', "");
    format!(
        "{code} ({} stage, a load error)\n\n{meaning}\n\nLoad errors are reported by `cxsync validate` (and by every command that loads the file, \
         at its file:line:col); a spec with one is a finding (exit 1) for validate, lint, test and compile and a tool \
         error (exit 2) for the commands that need a usable spec. The table: {}.\n",
        e.stage, e.doc
    )
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    if let Some(rule) = registry::find(&args.code) {
        super::print_stdout(&rule.explain())?;
        return Ok(ExitStatus::Success);
    }
    let code = args.code.trim().to_ascii_uppercase();
    if let Some(e) = load_errors().get(&code) {
        super::print_stdout(&render(&code, e))?;
        return Ok(ExitStatus::Success);
    }
    let hint = if code.starts_with('E') {
        "; E-codes are load errors, each listed in docs/spec.md#error-codes".to_string()
    } else {
        registry::suggest(&args.code)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| "; `cxsync rules` lists every lint code".into())
    };
    crate::errln!("error: unknown code `{}`{hint}", args.code);
    Ok(ExitStatus::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_give_every_stage_and_the_scenario_codes() {
        let all = load_errors();
        assert_eq!(all["E506"].stage, "transform");
        assert!(all["E506"].meaning.contains("lookaround"));
        assert_eq!(all["E001"].stage, "YAML");
        assert_eq!(all["E613"].doc, "docs/scenarios.md");
        assert!(!all.contains_key("E600–E612"));
    }
}
