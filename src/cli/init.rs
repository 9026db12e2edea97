//! `cxsync init [--crm PROFILE] [DIR]`: a new project for one CRM that every command passes on at
//! once (`validate`, `lint`, `test`, `sim`). Refuses to overwrite anything. The whole project is
//! built in a staging folder first — its snapshots produced by running its own fixtures through
//! its own rule — and only then moved into place, so an interrupted or failed `init` leaves no
//! half-made project behind.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::ExitStatus;
use crate::init::{self, profiles};
use crate::spec::model::CrmProfile;
use crate::spec::{self, LoadOptions};
use crate::transform::{runner, snapshot};

/// `--crm`: the profiles of `init::profiles::ALL`, by name (listed in help and completions).
fn crm_parser() -> impl clap::builder::TypedValueParser<Value = CrmProfile> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(profiles::ALL.map(CrmProfile::as_str)).map(|name| {
        profiles::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .expect("clap admits only listed names")
    })
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CRM the project writes to (its `crm.profile`, endpoint, payload and schema).
    #[arg(long, value_name = "PROFILE", default_value = "generic", value_parser = crm_parser())]
    pub crm: CrmProfile,
    /// The project folder (created if missing; default: the current folder).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The spec's `name` (default: made from the folder's name).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let profile = args.crm;
    let dir = &args.dir;
    if dir.exists() && !dir.is_dir() {
        crate::errln!("error: {}: exists and is not a folder", dir.display());
        return Ok(ExitStatus::Error);
    }
    let folder_name = std::fs::canonicalize(dir)
        .ok()
        .or_else(|| Some(std::env::current_dir().ok()?.join(dir)))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let fallback = init::spec_stem(profile).replace('_', "-");
    let name = match &args.name {
        Some(n) if n.trim().is_empty() => bail!("--name must not be empty"),
        Some(n) => n.clone(),
        None => init::project_name(&folder_name, &fallback),
    };

    // Build everything in a staging folder beside (or inside) the target, on the same file system.
    let exists = dir.is_dir();
    let staging_parent = if exists {
        dir.as_path()
    } else {
        crate::fsutil::parent_dir(dir)
    };
    let staging = crate::fsutil::staging_dir(staging_parent, ".cxsync-init-")?;
    let files = build(staging.path(), profile, &name)?;

    // Refuse before anything is moved.
    let taken: Vec<&PathBuf> = files.iter().filter(|f| dir.join(f).exists()).collect();
    if !taken.is_empty() {
        crate::errln!(
            "error: refusing to overwrite {} existing file{} in {} (nothing was written):",
            taken.len(),
            if taken.len() == 1 { "" } else { "s" },
            dir.display()
        );
        for f in taken.iter().take(10) {
            crate::errln!("  {}", f.display());
        }
        if taken.len() > 10 {
            crate::errln!("  … and {} more", taken.len() - 10);
        }
        crate::errln!("  = help: run `cxsync init` in an empty or new folder, e.g. `cxsync init --crm {} my-project`", profile.as_str());
        return Ok(ExitStatus::Error);
    }
    if exists {
        move_into(staging.path(), dir, &files)?;
    } else {
        // One rename: the project appears whole or not at all.
        let staged = staging.keep();
        if let Err(e) = std::fs::rename(&staged, dir) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(anyhow::Error::new(e).context(format!("creating {}", dir.display())));
        }
    }
    print_next_steps(dir, profile, &files)?;
    Ok(ExitStatus::Success)
}

/// Writes the project into `root` and its snapshots (from its own fixtures); the relative paths
/// written, sorted.
fn build(root: &Path, profile: CrmProfile, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (rel, text) in init::files(profile, name) {
        let path = root.join(&rel);
        crate::fsutil::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(rel);
    }
    let spec_file = root.join(init::spec_path(profile));
    let loaded = spec::load(&spec_file, &LoadOptions::default());
    let Some(spec) = loaded.spec.filter(|_| loaded.diags.is_empty()) else {
        bail!(
            "the generated {} project does not load ({} problem(s), first: {}); this is a bug in cxsync init",
            profile.as_str(),
            loaded.diags.len(),
            loaded
                .diags
                .first()
                .map(|d| d.message.clone())
                .unwrap_or_default()
        );
    };
    let now = runner::snapshot_now(&spec, None).map_err(|d| anyhow::anyhow!(d.message))?;
    let max_body =
        crate::crm::max_body_bytes(&spec.raw, &crate::crm::profile(spec.raw.crm.profile), None);
    let crm = runner::CrmBody {
        max_body,
        refusal: crate::crm::body::refusal,
    };
    let run = runner::run_spec(&spec, now, &root.join(crate::project::SNAPSHOTS), crm);
    if let Some(d) = run.diags.first() {
        bail!(
            "the generated project's rule does not run ({}); this is a bug in cxsync init",
            d.message
        );
    }
    for case in &run.cases {
        if let Some(p) = case.problems.first() {
            bail!(
                "fixture {} fails in the generated project ({p}); this is a bug in cxsync init",
                case.fixture
            );
        }
        let Some(text) = &case.text else { continue };
        snapshot::accept(&case.snapshot, text)
            .with_context(|| format!("writing {}", case.snapshot.display()))?;
        written.push(
            case.snapshot
                .strip_prefix(root)
                .unwrap_or(&case.snapshot)
                .to_path_buf(),
        );
    }
    written.sort();
    Ok(written)
}

/// Moves the staged files into an existing folder without replacing anything: each file is
/// hard-linked into place (which fails if the name exists) and only then unlinked from staging.
/// On any failure the files already placed are removed again.
fn move_into(staging: &Path, dir: &Path, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut placed: Vec<PathBuf> = Vec::new();
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for rel in files {
            let to = dir.join(rel);
            if let Some(parent) = to.parent() {
                for a in parent.ancestors().collect::<Vec<_>>().into_iter().rev() {
                    if !a.as_os_str().is_empty() && !a.exists() {
                        std::fs::create_dir(a)
                            .with_context(|| format!("creating {}", a.display()))?;
                        made_dirs.push(a.to_path_buf());
                    }
                }
            }
            let from = staging.join(rel);
            match std::fs::hard_link(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    bail!("{} appeared while init ran; nothing was kept", to.display())
                }
                // No hard links here (some network or FAT file systems): rename if still free.
                Err(_) if !to.exists() => std::fs::rename(&from, &to)
                    .with_context(|| format!("writing {}", to.display()))?,
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("writing {}", to.display())))
                }
            }
            placed.push(to);
        }
        Ok(())
    })();
    if result.is_err() {
        for p in placed.iter().rev() {
            let _ = std::fs::remove_file(p);
        }
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

fn print_next_steps(dir: &Path, profile: CrmProfile, files: &[PathBuf]) -> anyhow::Result<()> {
    let s = profiles::starter(profile);
    let spec = init::spec_path(profile);
    let scenario = init::scenario_path(profile);
    let mut out = format!(
        "created a {} project for {} in {} ({} files)\n",
        profile.as_str(),
        s.title,
        dir.display(),
        files.len()
    );
    for f in files {
        out.push_str(&format!("  {}\n", f.display()));
    }
    out.push_str("\nnext:\n");
    if dir != Path::new(".") {
        out.push_str(&format!(
            "  cd {}\n",
            shell_quoted(&dir.display().to_string())
        ));
    }
    let steps = [
        (
            "cxsync validate specs scenarios".to_string(),
            "the spec and the scenario",
        ),
        (
            "cxsync lint specs scenarios".to_string(),
            "the traps that lose records",
        ),
        (
            "cxsync test".to_string(),
            "the transform against its fixtures and snapshots",
        ),
        (
            format!("cxsync sim {}", spec.display()),
            "a chaos simulation against the modelled CRM",
        ),
        (
            format!(
                "cxsync sim {} --scenario {}",
                spec.display(),
                scenario.display()
            ),
            "this CRM's campaign burst",
        ),
    ];
    for (cmd, why) in steps {
        out.push_str(&format!("  {cmd}\n      # {why}\n"));
    }
    out.push_str(&format!(
        "then replace the `your…` placeholders in {} and add fixtures from real events.\n",
        spec.display()
    ));
    super::print_stdout(&out)
}

/// `s` as one POSIX shell word: as is when it is plain, else in single quotes (so the printed
/// `cd` can be pasted).
fn shell_quoted(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-+:@%,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_that_need_it_are_quoted_for_the_shell() {
        let cases = [
            ("acme-sf", "acme-sf"),
            ("weird dir name é", "'weird dir name é'"),
            ("it's", "'it'\\''s'"),
        ];
        for (path, quoted) in cases {
            assert_eq!(super::shell_quoted(path), quoted);
        }
    }
}
