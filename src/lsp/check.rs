//! What the editor shows for a spec: everything `cxsync validate` and `cxsync lint` report for it,
//! once each, with the same codes, severities, positions and help.
//!
//! The run is `lint`'s own ([`lint::lint_loaded`]: loader errors, the rules `cxsync.toml`
//! enables, inline suppressions), over a spec loaded through the editor's buffers, plus the
//! transform findings of `validate` (`E500`–`E506`) that lint did not already make: lint
//! re-reports them as `CX024`–`CX026`, so with those rules on (the default for `CX024` and
//! `CX025`) the lint code is shown, and with them off (`CX026` is a preview rule) `validate`'s.
//! A finding is the same when the counterpart code starts at the same place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diag::{self, Diagnostic, Sources};
use crate::lint::{self, Config, LintOptions};
use crate::spec::{self, LoadOptions, Spec, TextSource};
use crate::transform::checks;

use super::overlay::normalize;

/// One check of one spec.
#[derive(Debug, Default)]
pub struct Checked {
    /// Sorted, one per problem.
    pub diags: Vec<Diagnostic>,
    /// The text of every file the diagnostics point into, as it was checked.
    pub sources: Sources,
    /// The spec, when it loaded without errors.
    pub spec: Option<Spec>,
}

/// The lint rule that re-reports a finding of `validate`'s transform stage (the one table,
/// `lint::rules::transform_syntax_error::lint_code_of`).
fn lint_counterpart(code: &str) -> Option<&'static str> {
    crate::lint::rules::transform_syntax_error::lint_code_of(code)
}

/// The nearest `cxsync.toml` for a spec, or the defaults with a diagnostic saying why the file
/// could not be used (`cxsync lint` stops there with exit 2; an editor keeps checking).
pub fn config_for(spec_path: &Path) -> (Config, Option<Diagnostic>) {
    let dir = spec_path.parent().unwrap_or(Path::new("."));
    match Config::discover(dir) {
        None => (Config::default(), None),
        Some(p) => match Config::load(&p) {
            Ok(c) => (c, None),
            Err(e) => (
                Config::default(),
                Some(
                    Diagnostic::error("", format!("{e}"))
                        .in_file(spec_path)
                        .with_help(format!(
                            "fix {}; until then the default rules are used",
                            p.display()
                        )),
                ),
            ),
        },
    }
}

/// Checks the spec at `path`, reading files through `files`.
pub fn check(path: &Path, files: &dyn TextSource, vars: &BTreeMap<String, String>) -> Checked {
    let (cfg, cfg_error) = config_for(path);
    let opts = LintOptions {
        // As `cxsync lint`: an unset secret is never needed to check a spec.
        load: LoadOptions {
            env: None,
            vars: vars.clone(),
            secrets: crate::spec::EnvSecrets::Deferred,
            outside_project: false,
        },
        ..LintOptions::default()
    };
    let loaded = spec::load_from(path, &opts.load, files);
    let linted = lint::lint_loaded(path, loaded, &cfg, &opts);
    let mut diags = linted.diags;
    if let Some(spec) = &linted.spec {
        // A finding of `validate` that lint made too (its counterpart code at the same place,
        // suppressed or not) is shown once, under the lint code.
        let made: BTreeSet<(PathBuf, usize, &str)> = linted
            .unsuppressed
            .iter()
            .filter_map(|d| {
                Some((
                    normalize(d.file.as_deref()?),
                    d.span?.start.offset,
                    d.code.as_str(),
                ))
            })
            .collect();
        for d in checks::check_spec(spec) {
            let dup = lint_counterpart(&d.code).is_some_and(|c| {
                d.file
                    .as_deref()
                    .zip(d.span)
                    .is_some_and(|(f, s)| made.contains(&(normalize(f), s.start.offset, c)))
            });
            if !dup {
                diags.push(d);
            }
        }
    }
    diags.extend(cfg_error);
    diag::sort(&mut diags);
    Checked {
        diags,
        sources: linted.sources,
        spec: linted.spec,
    }
}

/// Whether a YAML text is a cxsync spec (and not a CI workflow, a scenario or another tool's
/// file the editor also attaches the server to): its modeline names the spec schema, or — with no
/// modeline naming another schema — it has a top-level key only a spec has. A file `validate`
/// takes for a scenario (`project::kind_of_text`: `duration` and no `channel`) is not one,
/// although a scenario has a `crm` key too.
pub fn looks_like_spec(text: &str) -> bool {
    if crate::project::kind_of_text(text) == crate::project::Kind::Scenario {
        return false;
    }
    for l in text.lines().take(5) {
        if l.starts_with('#') && l.contains("$schema=") {
            return l.contains("cxsync-spec");
        }
    }
    const KEYS: [&str; 6] = [
        "channel",
        "idempotency",
        "retry",
        "deadLetterQueue",
        "crm",
        "rules",
    ];
    text.lines().any(|l| {
        KEYS.iter().any(|k| {
            l.strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_told_from_other_yaml() {
        assert!(looks_like_spec(
            "# yaml-language-server: $schema=../schemas/cxsync-spec.v1.json\nversion: 1\n"
        ));
        assert!(looks_like_spec("version: 1\nchannel:\n  name: x\n"));
        assert!(looks_like_spec("retry :\n  maxRetries: 1\n"));
        assert!(!looks_like_spec("on: push\njobs:\n  build: {}\n"));
        assert!(!looks_like_spec(
            "name: x\nduration: 5m\ncrm:\n  profile: salesforce\n"
        ));
        assert!(!looks_like_spec("name: campaign\nphases: []\n  retry: 1\n"));
        assert!(!looks_like_spec(
            "# yaml-language-server: $schema=../schemas/scenario.v1.json\nretry: 1\n"
        ));
    }
}
