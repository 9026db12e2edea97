//! `cxsync completions SHELL` and `cxsync man [--out DIR]`: shell completions and manual pages,
//! generated from the clap definition itself, so they list exactly the subcommands, flags and
//! values the binary accepts.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::{Cli, ExitStatus};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script on stdout. Install it the shell's way, e.g.
/// `cxsync completions bash > ~/.local/share/bash-completion/completions/cxsync`.
pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cxsync", &mut out);
    super::print_stdout(&String::from_utf8_lossy(&out))?;
    Ok(ExitStatus::Success)
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `cxsync.1` and one page per subcommand (`cxsync-lint.1`, `cxsync-dlq-replay.1`, …)
    /// into this folder instead of printing `cxsync.1`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitStatus> {
    let cmd = Cli::command();
    match &args.out {
        None => {
            super::print_stdout(&String::from_utf8_lossy(&page(&cmd)?))?;
        }
        Some(dir) => {
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            let mut pages = Vec::new();
            collect(&cmd, &mut pages)?;
            for (name, bytes) in &pages {
                let path = dir.join(format!("{name}.1"));
                crate::fsutil::write_atomic(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            crate::errln!("wrote {} manual pages to {}", pages.len(), dir.display());
        }
    }
    Ok(ExitStatus::Success)
}

fn page(cmd: &clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .context("rendering a manual page")?;
    Ok(out)
}

/// The page of `cmd` and of every subcommand below it, named as clap displays them
/// (`cxsync-dlq-replay`), the way `clap_mangen::generate_to` names them.
fn collect(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    pages.push((name, page(cmd)?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}
