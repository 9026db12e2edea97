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
/// the registry; a rule may report a finding below its default severity (CX005 is a warning
/// where the hub resends after the 401), never above it.
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
            d.severity = rule.severity.min(d.severity);
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
/// select, then the inline suppressions of the spec and of the transform files it references,
/// then the config's `per-file-ignores` (matching the file a finding is in, or the spec).
/// `cxsync lint` and `cxsync lsp` both run exactly this.
///
/// An inline suppression is matched against every finding its code makes, whatever the config
/// hides: when unused suppressions are reported, the rules the suppressions name run too, so a
/// suppression is called unused (CX100) only when its code would not fire there at all.
pub fn lint_loaded(path: &Path, loaded: spec::Loaded, cfg: &Config, opts: &LintOptions) -> Linted {
    let selected = |r: &RuleInfo| cfg.selected(r, &opts.select, &opts.ignore, opts.preview);
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
    // Suppressions live in the spec and in the transform files it references; two rules may
    // share a transform file, whose suppressions are applied once (a second pass would call
    // them unused).
    let mut files = vec![path.to_path_buf()];
    files.extend(spec.rules.iter().filter_map(|r| match &r.transform {
        Some(spec::TransformSource {
            origin: spec::TransformOrigin::File { path },
            ..
        }) => Some(path.clone()),
        _ => None,
    }));
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));
    let report_unused = registry::find(registry::UNUSED_SUPPRESSION).is_some_and(selected);
    let named: std::collections::BTreeSet<String> = if report_unused {
        files
            .iter()
            .filter_map(|f| sources.get(f))
            .flat_map(suppress::parse)
            .flat_map(|s| s.codes)
            .collect()
    } else {
        Default::default()
    };
    let findings = lint_spec(&spec, &spec.rules, |r| {
        selected(r) || named.contains(r.code)
    });
    // What the config lets through: a finding of a selected rule that no per-file ignore of its
    // own file or of the spec names. Loader errors are not rules and always pass.
    let shown = |d: &Diagnostic| match registry::find(&d.code) {
        None => true,
        Some(r) => {
            selected(r)
                && !cfg.per_file_ignored(r, path)
                && !d
                    .file
                    .as_deref()
                    .is_some_and(|f| cfg.per_file_ignored(r, f))
        }
    };
    diags.extend(findings.iter().cloned());
    let mut unused = Vec::new();
    for file in files {
        if let Some(text) = sources.get(&file) {
            unused.extend(suppress::apply(&file, text, &mut diags, |c| {
                registry::find(c).is_some()
            }));
        }
    }
    diags.retain(|d| shown(d));
    if report_unused {
        diags.extend(unused.into_iter().filter(|d| shown(d)));
    }
    Linted {
        diags,
        sources,
        spec: Some(spec),
        unsuppressed: findings.into_iter().filter(|d| shown(d)).collect(),
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
