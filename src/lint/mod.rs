//! The lint rule catalogue: every trap of the guide as a rule with a code, a name for the bad
//! pattern, a default severity and its documentation beside its code (`rules/*.rs`), run over a
//! loaded spec to produce located [`Diagnostic`]s.
//!
//! [`lint_spec`] is pure: a spec and its resolved rules in, findings out. [`lint_paths`] is the
//! driver `cxsync lint` uses: it loads each spec (load errors are findings too), finds the
//! project's `cxsync.toml`, applies selection, per-file ignores and inline
//! `# cxsync: ignore[CODE]` comments, and reports unused suppressions.

pub mod budget;
pub mod config;
pub mod context;
pub mod registry;
pub mod rules;
pub mod suppress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use config::{Config, ConfigError};
pub use context::Context;
pub use registry::{RuleInfo, Status, RULES};

use crate::diag::{self, Diagnostic, Sources};
use crate::spec::{self, LoadOptions, ResolvedRule, Spec};

/// Runs every rule `enabled` accepts on one spec. Code and severity of each finding come from
/// the registry.
pub fn lint_spec(
    spec: &Spec,
    resolved: &[ResolvedRule],
    enabled: impl Fn(&RuleInfo) -> bool,
) -> Vec<Diagnostic> {
    let cx = Context::new(spec, resolved);
    let mut out = Vec::new();
    for rule in RULES.iter().filter(|r| enabled(r)) {
        let Some(check) = rule.check else { continue };
        let mut found = Vec::new();
        check(&cx, &mut found);
        out.extend(found.into_iter().map(|mut d| {
            d.code = rule.code.to_string();
            d.severity = rule.severity;
            d
        }));
    }
    out
}

/// Options of a lint run.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    pub load: LoadOptions,
    /// `--config`: use this file instead of discovering `cxsync.toml`.
    pub config: Option<PathBuf>,
    /// `--select`: replaces the config's selection.
    pub select: Vec<String>,
    /// `--ignore`: added to the config's.
    pub ignore: Vec<String>,
    /// `--preview`: enable preview rules.
    pub preview: bool,
}

/// What a lint run found.
#[derive(Debug, Default)]
pub struct LintRun {
    /// Sorted findings, load errors included.
    pub diags: Vec<Diagnostic>,
    pub sources: Sources,
    /// Every spec file checked.
    pub files: Vec<PathBuf>,
    /// Whether any config in play asked for `deny-warnings`.
    pub deny_warnings: bool,
    /// The loaded specs, for `--budget`.
    pub specs: Vec<Spec>,
    /// Chaos scenario files among the inputs (`project::Kind::Scenario`): not linted as specs;
    /// the caller validates them.
    pub scenarios: Vec<PathBuf>,
}

/// The spec files behind `args` (files, folders, quoted globs; see [`crate::project::expand`]),
/// scenario files left out; an argument that names nothing contributes nothing.
pub fn spec_files(args: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in args {
        for input in crate::project::expand(std::slice::from_ref(a)).unwrap_or_default() {
            if input.kind == crate::project::Kind::Spec && !out.contains(&input.path) {
                out.push(input.path);
            }
        }
    }
    out
}

/// What linting one loaded spec found.
#[derive(Debug, Default)]
pub struct Linted {
    /// Load errors and findings, suppressions applied (unsorted).
    pub diags: Vec<Diagnostic>,
    pub sources: Sources,
    /// The spec, when it loaded.
    pub spec: Option<Spec>,
    /// The rules' findings before suppressions were applied (so a caller can tell a finding
    /// that was suppressed from one that was never made).
    pub unsuppressed: Vec<Diagnostic>,
}

/// Lints one spec already loaded from `path`: the rules `cfg` (and the command line in `opts`)
/// enable, then the inline suppressions of the spec and of the transform files it references.
/// `cxsync lint` and `cxsync lsp` both run exactly this.
pub fn lint_loaded(path: &Path, loaded: spec::Loaded, cfg: &Config, opts: &LintOptions) -> Linted {
    let enabled = |r: &RuleInfo| cfg.enabled(r, path, &opts.select, &opts.ignore, opts.preview);
    let sources = loaded.sources;
    let mut diags = loaded.diags;
    let Some(spec) = loaded.spec else {
        return Linted {
            diags,
            sources,
            spec: None,
            unsuppressed: Vec::new(),
        };
    };
    let findings = lint_spec(&spec, &spec.rules, enabled);
    diags.extend(findings.iter().cloned());
    // Suppressions live in the spec and in the transform files it references.
    let mut files = vec![path.to_path_buf()];
    files.extend(spec.rules.iter().filter_map(|r| match &r.transform {
        Some(spec::TransformSource {
            origin: spec::TransformOrigin::File { path },
            ..
        }) => Some(path.clone()),
        _ => None,
    }));
    // Two rules may share a transform file: its suppressions are applied once, or the second pass
    // would call them unused.
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));
    let report_unused = registry::find(registry::UNUSED_SUPPRESSION).is_some_and(enabled);
    for file in files {
        if let Some(text) = sources.get(&file) {
            let unused = suppress::apply(&file, text, &mut diags, |c| registry::find(c).is_some());
            if report_unused {
                diags.extend(unused);
            }
        }
    }
    Linted {
        diags,
        sources,
        spec: Some(spec),
        unsuppressed: findings,
    }
}

/// Lints spec files (folders and globs expanded by [`crate::project::expand`]). A bad config or a
/// path that names nothing is an error (the run cannot decide what to check); everything wrong
/// with a spec is a finding.
pub fn lint_paths(paths: &[PathBuf], opts: &LintOptions) -> Result<LintRun, ConfigError> {
    for s in opts.select.iter().chain(&opts.ignore) {
        config::check_selector("command line", s)?;
    }
    let fixed = match &opts.config {
        Some(p) => Some(Config::load(p)?),
        None => None,
    };
    let mut discovered: BTreeMap<Option<PathBuf>, Config> = BTreeMap::new();
    let mut out = LintRun::default();
    let mut specs = Vec::new();
    for input in crate::project::expand(paths)? {
        match input.kind {
            crate::project::Kind::Spec => specs.push(input.path),
            crate::project::Kind::Scenario => out.scenarios.push(input.path),
        }
    }
    for path in specs {
        let cfg = match &fixed {
            Some(c) => c.clone(),
            None => {
                let dir = path.parent().unwrap_or(Path::new("."));
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                let found = Config::discover(dir);
                match discovered.get(&found) {
                    Some(c) => c.clone(),
                    None => {
                        let c = match &found {
                            Some(p) => Config::load(p)?,
                            None => Config::default(),
                        };
                        discovered.insert(found, c.clone());
                        c
                    }
                }
            }
        };
        out.deny_warnings |= cfg.raw.deny_warnings;
        let loaded = spec::load(&path, &opts.load);
        let checked = lint_loaded(&path, loaded, &cfg, opts);
        out.diags.extend(checked.diags);
        out.sources.extend(checked.sources);
        out.specs.extend(checked.spec);
        out.files.push(path);
    }
    diag::sort(&mut out.diags);
    Ok(out)
}
