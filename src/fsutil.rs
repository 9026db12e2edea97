//! File-system helpers shared by the commands that write outputs.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where an output named `path` is written, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A regular file or a missing one (at the end of any symlinks): written into a temporary
    /// file in the same folder and renamed over this path, so a reader never sees half a file.
    Replace(PathBuf),
    /// A device, FIFO, socket or a file descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`
    /// and links to them): opened and written like the shell's `>` does. Renaming over it would
    /// replace the device node or link with a regular file.
    Direct(PathBuf),
}

/// Symlinks followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Resolves `path` the way `open` would: through every symlink, to the file that a write lands
/// in. A symlink is written at its target (like `>`), not replaced.
pub fn destination(path: &Path) -> std::io::Result<Destination> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Some(name) = p.file_name().map(|n| n.to_os_string()) else {
            return Ok(Destination::Replace(p));
        };
        // A folder that does not exist yet holds no link: the file is new.
        let Ok(dir) = std::fs::canonicalize(parent_dir(&p)) else {
            return Ok(Destination::Replace(p));
        };
        p = dir.join(name);
        // `/proc/<pid>/fd/N` are the process's open files (`/dev/stdout` and `/dev/fd` lead
        // here): their links name pipes and terminals that only `open` through them reaches.
        if p.starts_with("/proc") {
            return Ok(Destination::Direct(p));
        }
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Destination::Replace(p))
            }
            Err(e) => return Err(e),
        };
        let t = m.file_type();
        if t.is_symlink() {
            let to = std::fs::read_link(&p)?;
            p = if to.is_absolute() { to } else { dir.join(to) };
        } else if t.is_file() || t.is_dir() {
            return Ok(Destination::Replace(p));
        } else {
            return Ok(Destination::Direct(p));
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symlinks to follow"
    )))
}

/// An output file being written: into a temporary file renamed over its target by
/// [`OutputFile::commit`], or, for a device or FIFO, straight into it ([`Destination`]).
/// Dropped without `commit`, a temporary file is removed and the target left as it was.
pub struct OutputFile {
    inner: Output,
}

enum Output {
    Temp(tempfile::NamedTempFile, PathBuf),
    Direct(std::fs::File),
}

impl OutputFile {
    /// Starts writing `path` (its folder is created if missing).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let inner = match destination(path)? {
            Destination::Replace(target) => {
                let dir = parent_dir(&target);
                std::fs::create_dir_all(dir)?;
                Output::Temp(temp_beside(dir, &target, Access::Shared)?, target)
            }
            Destination::Direct(target) => Output::Direct(
                std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(target)?,
            ),
        };
        Ok(OutputFile { inner })
    }

    /// Flushes what was written and puts it in place.
    pub fn commit(self) -> std::io::Result<()> {
        match self.inner {
            Output::Temp(tmp, target) => {
                tmp.as_file().sync_all()?;
                tmp.persist(&target).map_err(|e| e.error)?;
            }
            Output::Direct(mut f) => f.flush()?,
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Output::Temp(t, _) => t.write(buf),
            Output::Direct(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Output::Temp(t, _) => t.flush(),
            Output::Direct(f) => f.flush(),
        }
    }
}

/// Who may read a new output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// As the shell's `>` creates a file: `0666` less the umask (`0644` under the usual `022`).
    #[default]
    Shared,
    /// Its owner only (`0600`): a file that holds a value from the environment marked secret
    /// (`compile --out`'s `channel.json` with an `${env:}` secret).
    Private,
}

/// The mode a new file of `access` is created with; the kernel applies the umask at `open(2)`,
/// so the umask is never read (reading it means setting it, which races with other threads).
#[cfg(unix)]
fn new_file_mode(access: Access) -> u32 {
    match access {
        Access::Shared => 0o666,
        Access::Private => 0o600,
    }
}

/// What a new folder is created with before the umask (`mkdir`'s `0777`).
#[cfg(unix)]
const NEW_DIR_MODE: u32 = 0o777;

/// A temporary file in `dir` to be renamed over `target`, with the mode the file will keep: a
/// file replaced keeps its permissions, a new one gets the mode of `access` ([`Access`]).
/// (tempfile's own default, `0600`, made every new report, snapshot and junit file unreadable
/// to the rest of a team.) It is never more open than its target will be: an existing file's
/// mode less the umask at creation, then exactly its mode.
fn temp_beside(
    dir: &Path,
    target: &Path,
    access: Access,
) -> std::io::Result<tempfile::NamedTempFile> {
    let existing = std::fs::metadata(target)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.permissions());
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = existing
            .as_ref()
            .map_or(new_file_mode(access), |p| p.mode() & 0o777);
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    let tmp = b.tempfile_in(dir)?;
    if let Some(p) = existing {
        tmp.as_file().set_permissions(p)?;
    }
    Ok(tmp)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is written, flushed
/// and renamed over the target, so a reader never sees half a file. A symlink is written at its
/// target; a device or FIFO is written directly ([`Destination`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut out = OutputFile::create(path)?;
    out.write_all(bytes)?;
    out.commit()
}

/// Writes several files as one step: every target is checked first (a folder on the way that is
/// a file, a target that is a folder), then every file is written and flushed into a temporary
/// file beside its target, and only when all of them are written are they renamed into place.
/// A failure before the renames leaves every existing file as it was, and removes the
/// temporary files and any folder this call created. (A rename can still fail after the first
/// one, but each file is whole, and a rename in its own folder fails only on a broken disk.)
/// A symlink is written at its target; a device or FIFO is written directly, after the renames
/// ([`Destination`]). A new file gets the mode of its [`Access`].
pub fn write_all_atomic(files: &[(std::path::PathBuf, Vec<u8>, Access)]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut dests = Vec::with_capacity(files.len());
    for (path, _, _) in files {
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
        dests.push(destination(path).with_context(|| format!("cannot write {}", path.display()))?);
    }
    let mut created: Vec<std::path::PathBuf> = Vec::new();
    let staged = (|| -> anyhow::Result<Vec<tempfile::NamedTempFile>> {
        let mut staged = Vec::new();
        for ((path, bytes, access), dest) in files.iter().zip(&dests) {
            let Destination::Replace(target) = dest else {
                continue;
            };
            let dir = parent_dir(target);
            // The folders this call makes, outermost first, so a failure can remove them.
            let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            created.extend(missing.into_iter().rev().map(Path::to_path_buf));
            let tmp = temp_beside(dir, target, *access)
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
    let replaced = files
        .iter()
        .zip(&dests)
        .filter_map(|((path, _, _), d)| match d {
            Destination::Replace(target) => Some((path, target)),
            Destination::Direct(_) => None,
        });
    for (tmp, (path, target)) in staged.into_iter().zip(replaced) {
        tmp.persist(target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    for ((path, bytes, _), dest) in files.iter().zip(&dests) {
        if let Destination::Direct(_) = dest {
            write_atomic(path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
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
/// drop unless kept. It is made as `mkdir` makes a folder (`0777` less the umask), not
/// tempfile's `0700`: renamed into place, it is the user's project or import folder.
pub fn staging_dir(dir: &Path, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(std::fs::Permissions::from_mode(NEW_DIR_MODE));
    }
    b.tempdir_in(dir)
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
            (out.join("channel.json"), b"new".to_vec(), Access::Private),
            (out.join("rules/a.json"), b"{}".to_vec(), Access::Shared),
            (out.join("bad\0name/b.json"), b"{}".to_vec(), Access::Shared),
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

    #[cfg(unix)]
    fn is_symlink(p: &Path) -> bool {
        std::fs::symlink_metadata(p)
            .unwrap()
            .file_type()
            .is_symlink()
    }

    /// A symlink is written at its target (like `>`): the link stays a link, the target gets the
    /// bytes, atomically; a dangling link creates its target.
    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_at_its_target() {
        let d = temp_tree(&[("real.json", "old")]);
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(is_symlink(&link));
        assert_eq!(std::fs::read(d.path().join("real.json")).unwrap(), b"new");
        // Several files at once, one of them through the link.
        write_all_atomic(&[
            (link.clone(), b"both".to_vec(), Access::Shared),
            (d.path().join("b"), b"b".to_vec(), Access::Shared),
        ])
        .unwrap();
        assert!(is_symlink(&link));
        assert_eq!(std::fs::read(d.path().join("real.json")).unwrap(), b"both");
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("sub/new.json"), &dangling).unwrap();
        write_atomic(&dangling, b"x").unwrap();
        assert!(is_symlink(&dangling));
        assert_eq!(std::fs::read(d.path().join("sub/new.json")).unwrap(), b"x");
        // A loop is an error, not a hang.
        let a = d.path().join("loop-a");
        std::os::unix::fs::symlink("loop-b", &a).unwrap();
        std::os::unix::fs::symlink("loop-a", d.path().join("loop-b")).unwrap();
        assert!(write_atomic(&a, b"x").is_err());
    }

    /// A device is written directly, never replaced by a regular file.
    #[cfg(unix)]
    #[test]
    fn a_device_is_written_directly() {
        let null = Path::new("/dev/null");
        assert_eq!(
            destination(null).unwrap(),
            Destination::Direct(null.to_path_buf())
        );
        write_atomic(null, b"gone").unwrap();
        write_all_atomic(&[(null.to_path_buf(), b"gone".to_vec(), Access::Private)]).unwrap();
        assert!(!std::fs::metadata(null).unwrap().is_file());
        // A symlink to it, and the process's own descriptors, too.
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("null");
        std::os::unix::fs::symlink(null, &link).unwrap();
        assert_eq!(
            destination(&link).unwrap(),
            Destination::Direct(null.to_path_buf())
        );
        write_atomic(&link, b"gone").unwrap();
        assert!(is_symlink(&link));
        if Path::new("/proc/self/fd").is_dir() {
            for fd in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/2"] {
                let dest = destination(Path::new(fd)).unwrap();
                assert!(matches!(dest, Destination::Direct(_)), "{fd}: {dest:?}");
            }
        }
    }

    /// A FIFO is written directly: a reader on the other end gets the bytes and the FIFO stays.
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_directly() {
        use std::os::unix::fs::FileTypeExt as _;
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            crate::errln!("mkfifo is not available: skipped");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        // (Checked before joining: had the FIFO been replaced, the reader would wait forever.)
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
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
