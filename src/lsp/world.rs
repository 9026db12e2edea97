//! Everything the server knows between messages: the open buffers, the last check of each spec
//! it follows, and which files each check's diagnostics point into. Pure of the protocol, so
//! the features can be tested without a client.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::spec::{Fixture, ResolvedRule, Spec, TransformOrigin};

use super::check::{self, Checked};
use super::overlay::{normalize, Overlay};
use super::text::Encoding;

/// One spec's last check, with its diagnostics grouped by (normalised) file.
#[derive(Debug, Default)]
pub struct Result {
    pub checked: Checked,
    pub by_file: BTreeMap<PathBuf, Vec<Diagnostic>>,
    /// Every file the check read (normalised): a change to one of them re-checks the spec.
    pub reads: BTreeSet<PathBuf>,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct World {
    pub enc: Encoding,
    pub overlay: Overlay,
    /// Last check of each followed spec, by normalised path.
    pub results: BTreeMap<PathBuf, Result>,
    /// The last version of each spec that loaded without errors: hover and completion read its
    /// fixtures while the spec being typed has errors.
    pub last_good: BTreeMap<PathBuf, Spec>,
    /// Variables `${env:…}` may read (the server's environment, as the CLI's).
    pub vars: BTreeMap<String, String>,
}

impl World {
    /// The text of a file: the open buffer, else the disk.
    pub fn text(&self, path: &Path) -> Option<String> {
        match self.overlay.get(path) {
            Some(t) => Some(t.to_string()),
            None => std::fs::read_to_string(path).ok(),
        }
    }

    /// Checks a spec and keeps the result; returns the files whose diagnostics may have changed
    /// (those of the previous check and of this one).
    pub fn check(&mut self, spec: &Path) -> BTreeSet<PathBuf> {
        let key = normalize(spec);
        let checked = check::check(&key, &self.overlay, &self.vars);
        let mut by_file: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
        for d in &checked.diags {
            let file = d
                .file
                .as_deref()
                .map(normalize)
                .unwrap_or_else(|| key.clone());
            by_file.entry(file).or_default().push(d.clone());
        }
        let mut reads: BTreeSet<PathBuf> =
            checked.sources.iter().map(|(p, _)| normalize(p)).collect();
        reads.insert(key.clone());
        if let Some(s) = &checked.spec {
            self.last_good.insert(key.clone(), s.clone());
        }
        let mut touched: BTreeSet<PathBuf> = by_file.keys().cloned().collect();
        touched.insert(key.clone());
        let new = Result {
            checked,
            by_file,
            reads,
        };
        if let Some(old) = self.results.insert(key, new) {
            touched.extend(old.by_file.into_keys());
        }
        touched
    }

    /// Stops following a spec; returns the files whose diagnostics it held.
    pub fn forget(&mut self, spec: &Path) -> BTreeSet<PathBuf> {
        let key = normalize(spec);
        self.last_good.remove(&key);
        self.results
            .remove(&key)
            .map(|r| r.by_file.into_keys().collect())
            .unwrap_or_default()
    }

    /// The diagnostics of `file` from every followed spec, once each.
    pub fn diagnostics(&self, file: &Path) -> Vec<Diagnostic> {
        let file = normalize(file);
        let mut out: Vec<Diagnostic> = self
            .results
            .values()
            .filter_map(|r| r.by_file.get(&file))
            .flatten()
            .cloned()
            .collect();
        crate::diag::sort(&mut out);
        out
    }

    /// The text a file's diagnostics were computed on (the buffer, the text the check read, or
    /// the disk), for converting their positions.
    pub fn checked_text(&self, file: &Path) -> Option<String> {
        if let Some(t) = self.overlay.get(file) {
            return Some(t.to_string());
        }
        let file = normalize(file);
        for r in self.results.values() {
            if let Some((_, t)) = r.checked.sources.iter().find(|(p, _)| normalize(p) == file) {
                return Some(t.to_string());
            }
        }
        self.text(&file)
    }

    /// Followed specs that read `file`.
    pub fn specs_reading(&self, file: &Path) -> Vec<PathBuf> {
        let file = normalize(file);
        self.results
            .iter()
            .filter(|(_, r)| r.reads.contains(&file))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The spec at `path` as last loaded without errors.
    pub fn spec(&self, path: &Path) -> Option<&Spec> {
        let key = normalize(path);
        self.results
            .get(&key)
            .and_then(|r| r.checked.spec.as_ref())
            .or_else(|| self.last_good.get(&key))
    }

    /// The rules (with their spec) whose `transformFile` is `file`.
    pub fn rules_using(&self, file: &Path) -> Vec<(&Spec, &ResolvedRule)> {
        let file = normalize(file);
        let mut out = Vec::new();
        for key in self.results.keys() {
            let Some(spec) = self.spec(key) else { continue };
            for r in &spec.rules {
                if let Some(TransformOrigin::File { path }) =
                    r.transform.as_ref().map(|t| &t.origin)
                {
                    if normalize(path) == file {
                        out.push((spec, r));
                    }
                }
            }
        }
        out
    }

    /// The fixtures of a spec's rule (`Some(index)`) or of all its rules, once each.
    pub fn fixtures(spec: &Spec, rule: Option<usize>) -> Vec<&Fixture> {
        let mut seen = BTreeSet::new();
        spec.rules
            .iter()
            .filter(|r| rule.is_none_or(|i| r.index == i))
            .flat_map(|r| &r.fixtures)
            .filter(|f| seen.insert(f.path.clone()))
            .collect()
    }
}
