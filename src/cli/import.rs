//! `cxsync import --channel NAME [--env ENV] --out DIR`: write a spec folder from a live channel,
//! its retry policy and the rules routing to it (Terraform's `import` / `plan
//! -generate-config-out`). The folder appears whole or not at all (written beside it, then
//! renamed). Then the written spec is loaded as `validate` loads it and planned against the
//! objects just read, as `plan` plans, and what remains is reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::plan::{connect, runtime, scrubbed, HubArgs};
use super::ExitStatus;
use crate::compile;
use crate::cxone::client::{Client, Credentials, HubError};
use crate::cxone::import::{self, Imported, Source, SPEC_FILE};
use crate::cxone::{paths, plan, Redactor};
use crate::diag::{self, Format, Severity};
use crate::spec::{self, LoadOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The live channel to import, by name.
    #[arg(long, value_name = "NAME")]
    pub channel: String,
    /// The environment the live objects are: rule ids lose their `--ENV` suffix and the spec
    /// declares the overlay [default: the channel's owner marker, else none].
    #[arg(long)]
    pub env: Option<String>,
    /// The spec's `name` [default: the channel's owner marker, else the channel name].
    #[arg(long)]
    pub name: Option<String>,
    /// Folder to create (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let mut redactor = Redactor::default();
    if let Ok(c) = Credentials::from_vars(&vars) {
        redactor.add(c.secrets());
    }
    let r = run(&args, &vars);
    scrubbed(&redactor, r)
}

fn run(args: &Args, vars: &BTreeMap<String, String>) -> anyhow::Result<ExitStatus> {
    refuse_existing(&args.out)?;
    let rt = runtime()?;
    let (src, live) = rt.block_on(async {
        let mut client = connect(&args.hub, vars).await?;
        read(&mut client, &args.channel).await
    })?;
    let opts = import::Options {
        env: args.env.clone(),
        name: args.name.clone(),
    };
    let imported = import::import(&src, &opts).map_err(anyhow::Error::msg)?;
    write_folder(&args.out, &imported)?;
    let mut out = format!(
        "Imported channel {} with its retry policy and {} rule(s) into {}/ ({}).\n",
        args.channel,
        imported.rules,
        args.out.display(),
        imported
            .files
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !p.ends_with(".gitkeep"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !imported.env_vars.is_empty() {
        out.push_str("\nSecrets are placeholders; set them before validate/plan/apply:\n");
        for (v, what) in &imported.env_vars {
            out.push_str(&format!("  export {v}=…   # {what}\n"));
        }
    }
    out.push_str(&check(args, &imported, &src.hub, &live, vars));
    super::print_stdout(&out)?;
    Ok(ExitStatus::Success)
}

/// The folder must be new (or an empty one): import never merges into or overwrites a spec.
fn refuse_existing(out: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                bail!(
                    "{} exists and is not empty; import writes a new folder (choose another \
                     --out)",
                    out.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", out.display())),
    }
}

/// Reads the channel, its retry policy and the rules routing to it, and the same as the plan's
/// live view (to check the written spec against).
async fn read(client: &mut Client, name: &str) -> Result<(Source, plan::Live), HubError> {
    let mut live = plan::Live::default();
    for c in client.list_channels().await? {
        if let Some(n) = c.get("name").and_then(serde_json::Value::as_str) {
            live.channels.insert(n.to_string(), c.clone());
        }
    }
    let channel = match live.channels.contains_key(name) {
        true => client.get_opt(&paths::channel(name)).await?,
        false => None,
    };
    let Some(channel) = channel else {
        let mut known: Vec<&str> = live.channels.keys().map(String::as_str).collect();
        let more = known.len().saturating_sub(20);
        known.truncate(20);
        let list = if known.is_empty() {
            "the hub has no channels".to_string()
        } else {
            format!(
                "channels on this hub: {}{}",
                known.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        return Err(HubError::Config(format!(
            "no channel named `{name}`; {list}"
        )));
    };
    let retry_policy = client.get_opt(&paths::retry_policy(name)).await?;
    let mut rules = Vec::new();
    for r in client.list_rules().await? {
        let Some(id) = r.get("id").and_then(serde_json::Value::as_str) else {
            continue;
        };
        if plan::rule_channel(&r) != Some(name) {
            continue;
        }
        // A list may carry summaries: read each rule in full.
        let full = client.get_opt(&paths::rule(id)).await?.unwrap_or(r.clone());
        rules.push((id.to_string(), full));
    }
    rules.sort_by(|a, b| a.0.cmp(&b.0));
    live.channel = Some(channel.clone());
    live.retry_policy = retry_policy.clone();
    live.rules = rules.iter().cloned().collect();
    let hub = client
        .api_base()
        .to_string()
        .trim_end_matches('/')
        .to_string();
    Ok((
        Source {
            channel,
            retry_policy,
            rules,
            hub,
        },
        live,
    ))
}

/// Writes every file into a new folder beside `out`, then renames it into place: `out` never
/// holds half an import.
fn write_folder(out: &Path, imported: &Imported) -> anyhow::Result<()> {
    let tmp = crate::fsutil::staging_dir(crate::fsutil::parent_dir(out), ".cxsync-import-")?;
    for (rel, text) in &imported.files {
        let p = tmp.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    // An empty `out` is replaced by the rename (POSIX rename(2) onto an empty folder).
    std::fs::rename(tmp.path(), out)
        .with_context(|| format!("cannot move the import into {}", out.display()))?;
    // The folder now lives at `out`; nothing is left to clean up.
    let _ = tmp.keep();
    Ok(())
}

/// Loads the written spec as `validate` does and plans it against what was read, as `plan`
/// does; says what is left.
fn check(
    args: &Args,
    imported: &Imported,
    hub: &str,
    live: &plan::Live,
    vars: &BTreeMap<String, String>,
) -> String {
    let path = args.out.join(SPEC_FILE);
    // The secrets are never read from the hub: the check runs with a stand-in on both sides, so
    // it compares everything else (`plan` compares the secrets once the variables are set).
    const STAND_IN: &str = "cxsync-import-stand-in";
    let mut vars = vars.clone();
    for (v, _) in &imported.env_vars {
        vars.insert(v.clone(), STAND_IN.into());
    }
    let mut live = live.clone();
    live.channel = live
        .channel
        .as_ref()
        .map(|c| import::with_stand_ins(c, STAND_IN));
    live.retry_policy = live
        .retry_policy
        .as_ref()
        .map(|p| import::policy_with_stand_ins(p, STAND_IN));
    let opts = LoadOptions {
        env: imported.owner.env.clone(),
        vars,
        ..LoadOptions::default()
    };
    let loaded = spec::load(&path, &opts);
    let errors: Vec<_> = loaded
        .diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    let mut s = String::from("\n");
    let spec = match loaded.spec {
        Some(spec) if errors.is_empty() => spec,
        _ => {
            let mut diags = loaded.diags;
            diag::sort(&mut diags);
            s.push_str("Check: the written spec does not validate yet:\n");
            s.push_str(&diag::render(
                &diags,
                &loaded.sources,
                Format::Concise,
                false,
            ));
            return s;
        }
    };
    s.push_str("Check: the written spec validates.\n");
    let payloads = compile::compile(&spec);
    let p = plan::plan(&payloads, &live, &plan::Options::default());
    if !p.has_changes() && p.conflicts.is_empty() {
        s.push_str(&format!(
            "Check: planned against {hub}, it shows no changes.\n"
        ));
    } else {
        s.push_str(
            "Check: planned against this hub, it shows the changes below (see README.md):\n\n",
        );
        s.push_str(&plan::render(&p, hub));
    }
    if !imported.notes.is_empty() {
        s.push_str("\nNotes:\n");
        for n in &imported.notes {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    s
}
