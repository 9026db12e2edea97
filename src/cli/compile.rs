//! `cxsync compile SPEC [--env NAME] [--out DIR]`: the Event Hub payloads of a spec.
//!
//! With `--out`, writes `channel.json`, `retry-policy.json`, `rules/<ruleId>.json` and
//! `manifest.json` (the API calls in apply order), each atomically; stale `rules/*.json` of rules
//! no longer in the spec are removed. Without `--out`, prints one JSON document keyed by those
//! file names. A spec with errors is refused (exit 1) with its diagnostics on stderr.
//!
//! Secrets resolved from `${env:…}` are written into the `--out` files (they are what `apply`
//! sends; the files are created owner-only) but never printed: stdout shows `(sensitive)`.

use std::path::PathBuf;

use anyhow::Context;

use super::{load_or_report, DiagFormat, ExitStatus, SpecArgs};
use crate::compile;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec to compile.
    pub spec: PathBuf,
    #[command(flatten)]
    pub spec_args: SpecArgs,
    /// Folder to write the payloads and manifest into (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub format: DiagFormat,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let spec = match load_or_report(
        &args.spec,
        &args.spec_args,
        args.format.format,
        crate::spec::EnvSecrets::Required,
    ) {
        Ok(l) => l.spec,
        Err(status) => {
            eprintln!(
                "error: {} not compiled: fix the errors above",
                args.spec.display()
            );
            return Ok(status);
        }
    };
    let payloads = compile::compile(&spec);
    let manifest = crate::cxone::paths::manifest(&payloads);
    let with_manifest = |p: &compile::Payloads| {
        let mut files = p.files();
        files.push((
            "manifest.json".to_string(),
            serde_json::json!({ "calls": manifest }),
        ));
        files
    };
    match &args.out {
        Some(dir) => {
            let files = with_manifest(&payloads);
            let rules_dir = dir.join("rules");
            for (rel, value) in &files {
                let path = dir.join(rel);
                crate::fsutil::write_atomic(&path, compile::to_pretty(value).as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            remove_stale_rules(&rules_dir, &files)?;
            eprintln!(
                "wrote {} files to {} ({} API calls in manifest.json)",
                files.len(),
                dir.display(),
                manifest.len()
            );
        }
        None => {
            let shown = with_manifest(&payloads.redacted(&spec));
            let document = serde_json::Value::Object(shown.into_iter().collect());
            super::print_stdout(&compile::to_pretty(&document))?;
        }
    }
    Ok(ExitStatus::Success)
}

/// Removes `rules/*.json` left by an earlier compile of rules the spec no longer has, so the
/// folder always equals the manifest.
fn remove_stale_rules(
    dir: &std::path::Path,
    files: &[(String, serde_json::Value)],
) -> anyhow::Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("rules/{name}");
        if name.ends_with(".json") && !files.iter().any(|(f, _)| *f == rel) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove stale {}", entry.path().display()))?;
        }
    }
    Ok(())
}
