//! `cxsync fix PATH... [--diff] [--check]` (spec files, folders or quoted globs, as `lint` takes
//! them): rewrite the guide's JSONata dialect (`$if … $end`, `?.`) into standard JSONata, in the
//! spec's inline transforms and its `.jsonata` files, changing nothing else in either.

use super::load::SpecPaths;
use super::ExitStatus;
use crate::diag::{Format, Sources};
use crate::spec;
use crate::transform::checks::{self, FileFix};

#[derive(Debug, clap::Args)]
pub struct Args {
    // The specs whose transforms to fix (scenario files among them have none).
    #[command(flatten)]
    pub paths: SpecPaths,
    /// Print a unified diff of what would change; write nothing (exit 1 if something would).
    #[arg(long)]
    pub diff: bool,
    /// Write nothing; exit 1 if something would change.
    #[arg(long)]
    pub check: bool,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    // Folders and quoted globs as `lint` and `validate` take them; a path that names nothing is
    // a tool error (exit 2).
    let (inputs, opts) = match args.paths.expand() {
        Ok(expanded) => expanded,
        Err(status) => return Ok(status),
    };
    let mut errors = Vec::new();
    let mut remaining = Vec::new();
    let mut sources = Sources::new();
    let mut plans: Vec<FileFix> = Vec::new();
    for path in &inputs.specs {
        let loaded = spec::load(path, &opts);
        sources.extend(loaded.sources);
        let Some(spec) = loaded.spec else {
            errors.extend(loaded.diags);
            continue;
        };
        match checks::plan_fixes(&spec) {
            Ok((files, left)) => {
                for f in &files {
                    sources.add(&f.path, f.before.clone());
                }
                plans.extend(files);
                remaining.extend(left);
            }
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        super::load::report(errors, &sources, Format::Full);
        return Ok(ExitStatus::Error);
    }
    let write = !args.diff && !args.check;
    let mut out = String::new();
    for f in &plans {
        if args.diff {
            let name = f.path.display().to_string();
            out.push_str(
                &similar::TextDiff::from_lines(&f.before, &f.after)
                    .unified_diff()
                    .context_radius(2)
                    .header(&name, &name)
                    .to_string(),
            );
        }
        if write {
            crate::fsutil::write_atomic(&f.path, f.after.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", f.path.display()))?;
        }
        let verb = if write { "fixed" } else { "would fix" };
        crate::errln!(
            "{verb} {} use{} of the guide's JSONata dialect in {}",
            f.fixed,
            if f.fixed == 1 { "" } else { "s" },
            f.path.display()
        );
    }
    super::print_stdout(&out)?;
    if !remaining.is_empty() {
        super::load::report(remaining, &sources, Format::Full);
        return Ok(ExitStatus::Failure);
    }
    if plans.is_empty() {
        crate::errln!("nothing to fix");
    }
    Ok(if !write && !plans.is_empty() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
