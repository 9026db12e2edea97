//! A cxsync project on disk: which files a command was pointed at (files, folders, quoted globs),
//! whether each is a spec or a chaos scenario, and where the project root — and so the snapshots
//! — is, whatever the current folder.
//!
//! **Spec or scenario.** A YAML file is a scenario when its `yaml-language-server` modeline names
//! a scenario schema (`scenario.v1.json`), or, without a modeline, when its top-level keys include
//! `duration` and not `channel` (a scenario has `version`, `duration`, `events`, `faults`; a spec
//! has `channel` and never `duration`). Everything else is a spec.
//!
//! **Project root.** The folder of the nearest `cxsync.toml` at or above the spec's folder; without
//! one, the spec's own folder. Snapshots live in `snapshots/` there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, GlobError};

/// The project file: its folder is the project root (lint settings live in it too).
pub const CONFIG_FILE: &str = crate::spec::files::PROJECT_FILE;

/// The snapshot folder's name under the project root.
pub const SNAPSHOTS: &str = "snapshots";

/// What a YAML file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spec,
    Scenario,
}

/// One file a command will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub kind: Kind,
}

/// A command-line path that names nothing to read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: no such file or folder", .0.display())]
    Missing(PathBuf),
    #[error("{}: cannot be read: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{0}")]
    Glob(#[from] GlobError),
    #[error("`{0}` matches no file")]
    NoMatch(String),
    #[error("{}: no spec or scenario files (*.yaml, *.yml) in this folder", .0.display())]
    EmptyFolder(PathBuf),
}

/// Expands command-line paths: a file as given, a folder to the `*.yaml`/`*.yml` files below it
/// (hidden entries, `target` and `node_modules` skipped; a symlinked folder walked once), a path
/// that does not exist but holds glob syntax (`'specs/**/*.yaml'`, quoted so the shell leaves it)
/// to the files it matches. Each file once, in argument order, folders sorted.
pub fn expand(args: &[PathBuf]) -> Result<Vec<Input>, InputError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for a in args {
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => {
                let before = files.len();
                let mut seen = BTreeSet::new();
                // `.` walks as `` so paths print as `specs/a.yaml`, not `./specs/a.yaml`.
                let base = if a == Path::new(".") {
                    Path::new("")
                } else {
                    a
                };
                walk(base, &mut files, &mut seen);
                if files.len() == before {
                    return Err(InputError::EmptyFolder(a.clone()));
                }
            }
            Ok(_) => files.push(a.clone()),
            Err(e) => {
                // A dangling symlink or a symlink loop exists as a link but cannot be followed.
                if std::fs::symlink_metadata(a).is_ok() {
                    return Err(InputError::Unreadable {
                        path: a.clone(),
                        message: unreadable(&e),
                    });
                }
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(InputError::Unreadable {
                        path: a.clone(),
                        message: e.to_string(),
                    });
                }
                if !fsutil::is_glob(&a.to_string_lossy()) {
                    return Err(InputError::Missing(a.clone()));
                }
                let found = fsutil::glob(a)?;
                if found.is_empty() {
                    return Err(InputError::NoMatch(a.display().to_string()));
                }
                files.extend(found);
            }
        }
    }
    let mut seen = BTreeSet::new();
    Ok(files
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .map(|path| Input {
            kind: kind_of(&path),
            path,
        })
        .collect())
}

fn unreadable(e: &std::io::Error) -> String {
    // ELOOP has no stable ErrorKind name on every toolchain; say it in words.
    if e.raw_os_error() == Some(40) || e.to_string().contains("symbolic links") {
        "a symlink loop (the link points back into itself)".to_string()
    } else if e.kind() == std::io::ErrorKind::NotFound {
        "a symlink to a file that does not exist".to_string()
    } else {
        e.to_string()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut BTreeSet<PathBuf>) {
    let at = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(c) = std::fs::canonicalize(at) {
        if !seen.insert(c) {
            return;
        }
    }
    let Ok(rd) = std::fs::read_dir(at) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| dir.join(e.file_name())))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, seen);
        } else if (name.ends_with(".yaml") || name.ends_with(".yml")) && p.is_file() {
            out.push(p);
        }
    }
}

/// Spec or scenario, by the rule in the module docs. A file that cannot be read counts as a spec
/// (the spec loader then says why). So does anything that is not a regular file (`/dev/stdin`, a
/// FIFO): it can be read only once, and the loader must be the one to read it.
pub fn kind_of(path: &Path) -> Kind {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Kind::Spec;
    }
    match crate::spec::read_text(path) {
        Ok(text) => kind_of_text(&text),
        Err(_) => Kind::Spec,
    }
}

/// [`kind_of`] on the text.
pub fn kind_of_text(text: &str) -> Kind {
    let mut keys: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(comment) = line.strip_prefix('#') {
            if keys.is_empty() {
                if let Some(schema) = modeline_schema(comment) {
                    return if schema.contains("scenario") {
                        Kind::Scenario
                    } else {
                        Kind::Spec
                    };
                }
            }
            continue;
        }
        if line.is_empty() || line.starts_with([' ', '\t', '-', '{', '[']) || line == "---" {
            continue;
        }
        if let Some((key, _)) = line.split_once(':') {
            keys.push(key.trim().trim_matches(['"', '\'']));
        }
    }
    if keys.contains(&"duration") && !keys.contains(&"channel") {
        Kind::Scenario
    } else {
        Kind::Spec
    }
}

/// The schema a `# yaml-language-server: $schema=…` comment names.
fn modeline_schema(comment: &str) -> Option<&str> {
    let rest = comment.trim().strip_prefix("yaml-language-server:")?;
    let v = rest.trim().strip_prefix("$schema=")?;
    Some(v.trim())
}

/// The project root of a file: the folder of the nearest `cxsync.toml` at or above the file's
/// folder, relative to the current folder when it is inside it (so printed paths stay short),
/// else absolute. `None` without a `cxsync.toml`.
pub fn root_of(file: &Path) -> Option<PathBuf> {
    root_at(folder_of(file))
}

/// [`root_of`] for a folder (`""` or `.`: the current one).
pub fn root_at(dir: &Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        cwd.join(dir)
    };
    let found = crate::spec::files::project_root(&abs)?;
    if dir.is_absolute() {
        return Some(found);
    }
    Some(match found.strip_prefix(&cwd) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => found,
    })
}

/// Where the snapshots of `spec` live: `snapshots/` at its project root, else beside the spec.
pub fn snapshots_dir(spec: &Path) -> PathBuf {
    let base = root_of(spec).unwrap_or_else(|| folder_of(spec).to_path_buf());
    if base.as_os_str().is_empty() || base == Path::new(".") {
        PathBuf::from(SNAPSHOTS)
    } else {
        base.join(SNAPSHOTS)
    }
}

/// The folder a file is in (`""` for a bare file name).
fn folder_of(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modeline_decides_before_the_shape() {
        let sc = "# yaml-language-server: $schema=../schemas/scenario.v1.json\nname: x\n";
        assert_eq!(kind_of_text(sc), Kind::Scenario);
        let spec = "# yaml-language-server: $schema=https://x/cxsync-spec.v1.json\nduration: 1m\n";
        assert_eq!(kind_of_text(spec), Kind::Spec);
    }

    #[test]
    fn without_a_modeline_duration_and_no_channel_is_a_scenario() {
        assert_eq!(
            kind_of_text("version: 1\nname: s\nduration: 10m\nevents:\n  count: 5\n"),
            Kind::Scenario
        );
        assert_eq!(
            kind_of_text("version: 1\nname: s\nchannel:\n  name: c\n"),
            Kind::Spec
        );
        // A nested `duration:` is not a top-level key.
        assert_eq!(
            kind_of_text("version: 1\nchannel:\n  duration: 3\n"),
            Kind::Spec
        );
        assert_eq!(kind_of_text("\"duration\": 1m\n"), Kind::Scenario);
        assert_eq!(kind_of_text(""), Kind::Spec);
    }

    #[test]
    fn folders_skip_hidden_entries_and_survive_a_symlink_loop() {
        let d = crate::fsutil::temp_tree(&[
            (".github/workflows/ci.yml", "on: push\n"),
            (".pre-commit-hooks.yaml", "- id: x\n"),
            ("specs/a.yaml", "version: 1\n"),
            ("specs/notes.md", "x"),
        ]);
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path(), d.path().join("specs/loop")).unwrap();
        let got = expand(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(
            got,
            vec![Input {
                path: d.path().join("specs/a.yaml"),
                kind: Kind::Spec
            }]
        );
    }

    #[test]
    fn globs_missing_paths_and_links_that_cannot_be_followed_are_errors_that_say_which() {
        let d =
            crate::fsutil::temp_tree(&[("a.yaml", "version: 1\n"), ("b.yml", "duration: 1m\n")]);
        let got = expand(&[d.path().join("*.y*ml")]).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].kind, Kind::Scenario);
        let e = expand(&[d.path().join("nope.yaml")]).unwrap_err();
        assert!(e.to_string().ends_with("no such file or folder"), "{e}");
        let e = expand(&[d.path().join("*.json")]).unwrap_err();
        assert!(e.to_string().contains("matches no file"), "{e}");
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(matches!(
            expand(&[empty]).unwrap_err(),
            InputError::EmptyFolder(_)
        ));
        #[cfg(unix)]
        {
            let l = d.path().join("self.yaml");
            std::os::unix::fs::symlink(&l, &l).unwrap();
            let e = expand(&[l]).unwrap_err().to_string();
            assert!(e.contains("symlink loop"), "{e}");
            let dangling = d.path().join("gone.yaml");
            std::os::unix::fs::symlink(d.path().join("missing"), &dangling).unwrap();
            let e = expand(&[dangling]).unwrap_err().to_string();
            assert!(e.contains("does not exist"), "{e}");
        }
    }

    #[test]
    fn snapshots_live_at_the_project_root_or_beside_the_spec() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("p/specs")).unwrap();
        let spec = d.path().join("p/specs/x.yaml");
        assert_eq!(snapshots_dir(&spec), d.path().join("p/specs/snapshots"));
        std::fs::write(d.path().join("p/cxsync.toml"), "").unwrap();
        assert_eq!(snapshots_dir(&spec), d.path().join("p/snapshots"));
        assert_eq!(root_of(&spec), Some(d.path().join("p")));
    }
}
