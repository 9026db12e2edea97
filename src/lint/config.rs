//! `cxsync.toml`: project lint settings, found by walking up from the spec's folder (or named with
//! `--config`).
//!
//! ```toml
//! select = ["CX0"]            # codes or prefixes; "ALL" for every rule, previews included
//! ignore = ["CX015"]
//! deny-warnings = true
//!
//! [per-file-ignores]
//! "specs/sandbox/*.yaml" = ["CX013", "CX014"]
//! ```
//!
//! Globs in `per-file-ignores` match paths relative to the folder of `cxsync.toml`: a finding is
//! ignored when a glob matches the file it is in (a spec or a `.jsonata` transform file) or the
//! spec it was found for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::registry::{self, RuleInfo, Status};

/// The file name looked for: the project file.
pub const FILE_NAME: &str = crate::project::CONFIG_FILE;

/// A configuration problem: the run cannot decide what to check (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{origin}: unknown rule selector `{selector}`{hint}")]
    UnknownSelector {
        origin: String,
        selector: String,
        hint: String,
    },
    #[error(transparent)]
    Input(#[from] crate::project::InputError),
    #[error("{path}: invalid glob `{glob}`: {message}")]
    Glob {
        path: PathBuf,
        glob: String,
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    #[serde(default)]
    pub select: Option<Vec<String>>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub per_file_ignores: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub deny_warnings: bool,
    #[serde(default)]
    pub preview: bool,
}

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from; `None` for the defaults.
    pub path: Option<PathBuf>,
    pub raw: RawConfig,
    per_file: Vec<(globset::GlobMatcher, Vec<String>)>,
}

/// Checks that a selector (`CX001`, a prefix like `CX0`, or `ALL`) names at least one rule.
pub fn check_selector(origin: &str, s: &str) -> Result<(), ConfigError> {
    let u = s.to_ascii_uppercase();
    if u == "ALL"
        || registry::RULES
            .iter()
            .any(|r| r.code.starts_with(&u) || r.name == s)
    {
        return Ok(());
    }
    Err(ConfigError::UnknownSelector {
        origin: origin.into(),
        selector: s.into(),
        hint: registry::suggest(s)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default(),
    })
}

/// Whether a selector matches a rule.
pub fn matches(selector: &str, rule: &RuleInfo) -> bool {
    let u = selector.to_ascii_uppercase();
    u == "ALL" || rule.code.starts_with(&u) || rule.name == selector
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        let origin = path.display().to_string();
        for s in raw.select.iter().flatten().chain(&raw.ignore) {
            check_selector(&origin, s)?;
        }
        let mut per_file = Vec::new();
        for (glob, codes) in &raw.per_file_ignores {
            for c in codes {
                check_selector(&origin, c)?;
            }
            let m = globset::GlobBuilder::new(glob)
                .literal_separator(false)
                .build()
                .map_err(|e| ConfigError::Glob {
                    path: path.into(),
                    glob: glob.clone(),
                    message: e.kind().to_string(),
                })?
                .compile_matcher();
            per_file.push((m, codes.clone()));
        }
        Ok(Config {
            path: Some(path.into()),
            raw,
            per_file,
        })
    }

    /// The nearest `cxsync.toml` in `start` or its ancestors.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        let abs = if start.is_absolute() {
            start.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(start)
        };
        abs.ancestors()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())
    }

    /// Whether `rule` runs, given command-line `select`/`ignore` that override (select) or extend
    /// (ignore) the file's. Per-file ignores are decided per finding ([`Config::per_file_ignored`]).
    pub fn selected(
        &self,
        rule: &RuleInfo,
        cli_select: &[String],
        cli_ignore: &[String],
        cli_preview: bool,
    ) -> bool {
        let select: Vec<String> = if !cli_select.is_empty() {
            cli_select.to_vec()
        } else {
            self.raw.select.clone().unwrap_or_default()
        };
        let preview = cli_preview || self.raw.preview;
        let selected = if select.is_empty() {
            rule.status == Status::Stable || preview
        } else {
            select.iter().any(|s| {
                matches(s, rule)
                    // Preview rules need their exact code (or `--preview`): a prefix never
                    // turns on an unfinished rule by surprise.
                    && (rule.status == Status::Stable
                        || preview
                        || s.eq_ignore_ascii_case("ALL")
                        || s.eq_ignore_ascii_case(rule.code)
                        || s == rule.name)
            })
        };
        selected
            && !self
                .raw
                .ignore
                .iter()
                .chain(cli_ignore)
                .any(|s| matches(s, rule))
    }

    /// Whether a `per-file-ignores` glob matching `file` (relative to this config's folder; a
    /// spec or a transform file) names `rule`.
    pub fn per_file_ignored(&self, rule: &RuleInfo, file: &Path) -> bool {
        if self.per_file.is_empty() {
            return false;
        }
        let base = self
            .path
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // Absolute and lexically normal (`transforms/../x.jsonata` is `x.jsonata`), so a
        // transform path written with `..` still matches.
        let abs = crate::fsutil::normalize;
        let (abs_file, abs_base) = (abs(file), abs(&base));
        let rel = abs_file.strip_prefix(&abs_base).unwrap_or(file);
        let rel = PathBuf::from(rel.to_string_lossy().replace('\\', "/"));
        self.per_file
            .iter()
            .any(|(m, codes)| m.is_match(&rel) && codes.iter().any(|c| matches(c, rule)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_ignore_and_per_file_ignores_combine() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(FILE_NAME);
        std::fs::write(
            &cfg,
            "select = [\"CX00\"]\nignore = [\"CX003\"]\ndeny-warnings = true\n[per-file-ignores]\n\"sandbox/*.yaml\" = [\"CX001\"]\n",
        )
        .unwrap();
        let c = Config::load(&cfg).unwrap();
        assert!(c.raw.deny_warnings);
        let r = |code| registry::find(code).unwrap();
        let spec = dir.path().join("prod.yaml");
        let sandbox = dir.path().join("sandbox/a.yaml");
        assert!(c.selected(r("CX001"), &[], &[], false));
        assert!(!c.per_file_ignored(r("CX001"), &spec));
        assert!(c.per_file_ignored(r("CX001"), &sandbox));
        assert!(c.per_file_ignored(r("CX001"), &dir.path().join("prod/../sandbox/./a.yaml")));
        assert!(!c.selected(r("CX003"), &[], &[], false));
        assert!(!c.selected(r("CX010"), &[], &[], false));
        assert!(c.selected(r("CX010"), &["CX010".into()], &[], false));
        assert_eq!(Config::discover(&dir.path().join("sandbox")), Some(cfg));
    }

    #[test]
    fn unknown_selectors_are_errors_with_a_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(FILE_NAME);
        std::fs::write(&cfg, "ignore = [\"CX0001\"]\n").unwrap();
        let e = Config::load(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("unknown rule selector `CX0001` (did you mean `CX001`?)"),
            "{e}"
        );
        std::fs::write(&cfg, "selct = []\n").unwrap();
        assert!(Config::load(&cfg).is_err());
    }
}
