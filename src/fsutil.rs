//! File-system helpers shared by the commands that write outputs.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written, flushed
/// and renamed over the target, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes several files as one step: every target is checked first (a folder on the way that is
/// a file, a target that is a folder), then every file is written and flushed into a temporary
/// file beside its target, and only when all of them are written are they renamed into place.
/// A failure before the renames leaves every existing file as it was, and removes the
/// temporary files and any folder this call created. (A rename can still fail after the first
/// one, but each file is whole, and a rename in its own folder fails only on a broken disk.)
pub fn write_all_atomic(files: &[(std::path::PathBuf, Vec<u8>)]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for (path, _) in files {
        for dir in parent_dir(path).ancestors() {
            if dir.as_os_str().is_empty() {
                continue;
            }
            if let Ok(m) = std::fs::metadata(dir) {
                if !m.is_dir() {
                    anyhow::bail!(
                        "cannot write {}: {} is a file, not a folder (move it away, or choose another folder)",
                        path.display(),
                        dir.display()
                    );
                }
                break;
            }
        }
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            anyhow::bail!(
                "cannot write {}: it is a folder, not a file (move it away, or choose another folder)",
                path.display()
            );
        }
    }
    let mut created: Vec<std::path::PathBuf> = Vec::new();
    let staged = (|| -> anyhow::Result<Vec<tempfile::NamedTempFile>> {
        let mut staged = Vec::new();
        for (path, bytes) in files {
            let dir = parent_dir(path);
            // The folders this call makes, outermost first, so a failure can remove them.
            let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            created.extend(missing.into_iter().rev().map(Path::to_path_buf));
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .and_then(|mut t| {
                    t.write_all(bytes)?;
                    t.as_file().sync_all()?;
                    Ok(t)
                })
                .with_context(|| format!("cannot write {}", path.display()))?;
            staged.push(tmp);
        }
        Ok(staged)
    })();
    let staged = match staged {
        Ok(s) => s,
        Err(e) => {
            // The temporary files are gone (dropped); the empty folders made for them go too.
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
    };
    for (tmp, (path, _)) in staged.into_iter().zip(files) {
        tmp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The folder `path` is in: its parent, or `.` for a bare name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new, empty, hidden folder `<dir>/<prefix>…` (`dir` created if missing) to build a tree in
/// and rename into place beside it (same file system): nobody sees half of it. It is removed on
/// drop unless kept.
pub fn staging_dir(dir: &Path, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(dir)
        .with_context(|| format!("cannot create a staging folder in {}", dir.display()))
}

/// Files visited while expanding one glob before giving up (a glob over `/` is a mistake).
pub const MAX_GLOB_VISITS: usize = 100_000;
/// Folder depth a `**` glob descends.
pub const MAX_GLOB_DEPTH: usize = 32;

/// Whether a path component holds glob syntax.
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// `path` made absolute (against the current folder) with `.` and `..` removed, without touching
/// the file system: the loader joins `dir/../fixtures/x.json`, the editor names
/// `/abs/fixtures/x.json`, and both must find the same buffer (`lsp`); a `per-file-ignores`
/// glob matches a transform path however it was joined (`lint`).
pub fn normalize(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Why a glob could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("glob `{pattern}` is invalid: {message}")]
    Invalid { pattern: String, message: String },
    #[error("glob `{pattern}` visits more than {MAX_GLOB_VISITS} files; narrow it")]
    TooBroad { pattern: String },
}

/// The existing files matching `pattern` (`*` and `?` stay inside one folder, `**` crosses
/// folders), sorted. The walk starts at the longest prefix without glob syntax, descends no deeper
/// than the pattern can match (at most [`MAX_GLOB_DEPTH`] for `**`), follows no symlinked folder
/// twice, and gives up after [`MAX_GLOB_VISITS`] entries.
pub fn glob(pattern: &Path) -> Result<Vec<std::path::PathBuf>, GlobError> {
    // `./x/*.yaml`, `x/./*.yaml` and `x/*.yaml` name the same files: match without `.` parts,
    // the way the walk below spells the paths it finds.
    let normal: std::path::PathBuf = pattern
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect();
    let text = normal.to_string_lossy().replace('\\', "/");
    let matcher = globset::GlobBuilder::new(&text)
        .literal_separator(true)
        .build()
        .map_err(|e| GlobError::Invalid {
            pattern: text.clone(),
            message: e.kind().to_string(),
        })?
        .compile_matcher();
    let mut root = std::path::PathBuf::new();
    for comp in Path::new(&text).components() {
        if is_glob(&comp.as_os_str().to_string_lossy()) {
            break;
        }
        root.push(comp.as_os_str());
    }
    let depth = if text.contains("**") {
        MAX_GLOB_DEPTH
    } else {
        Path::new(&text)
            .components()
            .count()
            .saturating_sub(root.components().count())
    };
    let mut w = GlobWalk {
        matcher,
        found: Vec::new(),
        visits: 0,
        seen: std::collections::BTreeSet::new(),
        pattern: text,
    };
    w.walk(&root, depth)?;
    w.found.sort();
    Ok(w.found)
}

struct GlobWalk {
    matcher: globset::GlobMatcher,
    found: Vec<std::path::PathBuf>,
    visits: usize,
    /// Canonical folders walked, so a symlink loop is walked once.
    seen: std::collections::BTreeSet<std::path::PathBuf>,
    pattern: String,
}

impl GlobWalk {
    fn walk(&mut self, dir: &Path, depth: usize) -> Result<(), GlobError> {
        if depth == 0 {
            return Ok(());
        }
        let at = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(c) = std::fs::canonicalize(at) {
            if !self.seen.insert(c) {
                return Ok(());
            }
        }
        let Ok(rd) = std::fs::read_dir(at) else {
            return Ok(());
        };
        let mut entries: Vec<std::path::PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| dir.join(e.file_name())))
            .collect();
        entries.sort();
        for p in entries {
            self.visits += 1;
            if self.visits > MAX_GLOB_VISITS {
                return Err(GlobError::TooBroad {
                    pattern: self.pattern.clone(),
                });
            }
            if p.is_dir() {
                self.walk(&p, depth - 1)?;
            } else if self
                .matcher
                .is_match(p.to_string_lossy().replace('\\', "/"))
            {
                self.found.push(p);
            }
        }
        Ok(())
    }
}

/// A temporary folder holding `files` (relative path, text), folders created as needed: the
/// trees the file-system tests walk.
#[cfg(test)]
pub(crate) fn temp_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = d.path().join(rel);
        std::fs::create_dir_all(parent_dir(&p)).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fails after some files were staged (a name the file system refuses) leaves
    /// the old files as they were, no temporary file, and no folder it made.
    #[test]
    fn a_failed_write_of_several_files_changes_nothing() {
        let d = temp_tree(&[("out/channel.json", "old")]);
        let out = d.path().join("out");
        let files = vec![
            (out.join("channel.json"), b"new".to_vec()),
            (out.join("rules/a.json"), b"{}".to_vec()),
            (out.join("bad\0name/b.json"), b"{}".to_vec()),
        ];
        assert!(write_all_atomic(&files).is_err());
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["channel.json"]);
        assert_eq!(std::fs::read(out.join("channel.json")).unwrap(), b"old");
        // Without the bad name, all of them are written.
        write_all_atomic(&files[..2]).unwrap();
        assert_eq!(std::fs::read(out.join("channel.json")).unwrap(), b"new");
        assert_eq!(std::fs::read(out.join("rules/a.json")).unwrap(), b"{}");
    }

    #[test]
    fn a_glob_matches_however_the_folder_is_spelled() {
        let d = temp_tree(&[("a/b/x.json", "{}"), ("a/b/y.txt", "")]);
        for pattern in ["a/b/*.json", "a/./b/*.json", "a/b/../b/*.json", "**/*.json"] {
            let found = glob(&d.path().join(".").join(pattern)).unwrap();
            assert_eq!(found.len(), 1, "{pattern}: {found:?}");
        }
        assert!(glob(&d.path().join("a/[")).is_err());
    }
}
