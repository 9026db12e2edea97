//! `cxsync compile SPEC [--env NAME] [--out DIR]`: the Event Hub payloads of a spec.
//!
//! With `--out`, writes `channel.json`, `retry-policy.json`, `rules/<ruleId>.json` and
//! `manifest.json` (the API calls in apply order), all or nothing (`fsutil::write_all_atomic`: a
//! file that cannot be written leaves the folder as it was); a `rules/*.json` that the
//! previous `manifest.json` lists and the spec no longer has is removed, and named. Without
//! `--out`, prints one JSON document keyed by those file names. A spec with errors is refused
//! (exit 1, nothing written) with its diagnostics on stderr, a transform `validate` refuses
//! among them (`load::check_transforms`).
//!
//! Values from `${env:…}` are written into the `--out` files (they are what `apply` sends; a
//! file holding one, or any field stdout would mask, is created owner-only, `0600`; the others
//! as the shell's `>` creates a file, `0666` less the umask), so `--out` needs every variable; stdout shows each such field,
//! and every credential-named one, as `(sensitive)` (`Payloads::redacted`), so printing needs no
//! secret variable (`EnvSecrets::Deferred`).

use std::path::PathBuf;

use anyhow::Context;

use super::{DiagFormat, ExitStatus, SpecFile};
use crate::compile;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecFile,
    /// Folder to write the payloads and manifest into (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub format: DiagFormat,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    // Printing masks every secret, so only the files (what apply sends) need their variables.
    let secrets = match args.out {
        Some(_) => crate::spec::EnvSecrets::Required,
        None => crate::spec::EnvSecrets::Deferred,
    };
    let spec = match args.spec.load_to_deploy(args.format.format, secrets) {
        Ok(l) => l.spec,
        Err(status) => {
            crate::errln!(
                "error: {} not compiled: fix the errors above",
                args.spec.path.display()
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
            // Read before the new manifest replaces it: only files it lists are ever removed.
            let listed = previous_rule_files(dir);
            // All or nothing: a file that cannot be written leaves the folder as it was.
            // A file that holds a value the terminal would mask (an `${env:}` value, a
            // credential) is created for its owner only; the others as `>` creates a file.
            let shown: std::collections::BTreeMap<String, serde_json::Value> =
                with_manifest(&payloads.redacted()).into_iter().collect();
            let bytes: Vec<(PathBuf, Vec<u8>, crate::fsutil::Access)> = files
                .iter()
                .map(|(rel, value)| {
                    let access = if shown.get(rel) == Some(value) {
                        crate::fsutil::Access::Shared
                    } else {
                        crate::fsutil::Access::Private
                    };
                    (
                        dir.join(rel),
                        compile::to_pretty(value).into_bytes(),
                        access,
                    )
                })
                .collect();
            crate::fsutil::write_all_atomic(&bytes)?;
            let removed = remove_stale_rules(dir, &listed, &files)?;
            crate::errln!(
                "wrote {} files to {} ({} API calls in manifest.json)",
                files.len(),
                dir.display(),
                manifest.len()
            );
            for rel in &removed {
                crate::errln!(
                    "removed {rel} (listed in the previous manifest.json; its rule is no longer in the spec)"
                );
            }
        }
        None => {
            let shown = with_manifest(&payloads.redacted());
            let document = serde_json::Value::Object(shown.into_iter().collect());
            super::print_stdout(&compile::to_pretty(&document))?;
        }
    }
    Ok(ExitStatus::Success)
}

/// The `rules/<id>.json` files the `manifest.json` already in `dir` lists: what an earlier
/// compile wrote. Anything else in `rules/` is the user's and is never touched; a missing or
/// unreadable manifest lists nothing. A listed name that is not exactly `rules/<file>.json`
/// (another folder, `..`) is ignored.
fn previous_rule_files(dir: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
        return Vec::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let calls = doc.get("calls").and_then(serde_json::Value::as_array);
    calls
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("file").and_then(serde_json::Value::as_str))
        .filter(|f| {
            f.strip_prefix("rules/")
                .and_then(|n| n.strip_suffix(".json"))
                .is_some_and(|n| !n.is_empty() && !n.contains(['/', '\\']) && n != "." && n != "..")
        })
        .map(str::to_string)
        .collect()
}

/// Removes the `listed` rule files of an earlier compile that this one did not write (rules the
/// spec no longer has), so the folder matches the manifest; returns them.
fn remove_stale_rules(
    dir: &std::path::Path,
    listed: &[String],
    files: &[(String, serde_json::Value)],
) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    for rel in listed {
        if files.iter().any(|(f, _)| f == rel) || removed.contains(rel) {
            continue;
        }
        let path = dir.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(rel.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove stale {}", path.display()))
            }
        }
    }
    Ok(removed)
}
