//! `cxsync plan SPEC`: diff the compiled payloads against the live Event Hub, terraform-style.
//! Also home of the connection options and helpers `apply` and `metrics` share.

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use super::{ExitStatus, SpecFile};
use crate::compile::{self, Payloads};
use crate::cxone::client::{self, Client, Credentials, Endpoints, RetryConfig};
use crate::cxone::{self, behaviour, plan, Redactor};
use crate::diag::Format;
use crate::spec::Spec;

/// Where the Event Hub is and how hard to try. Credentials come only from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct HubArgs {
    /// Event Hub API base URL (https://; plain http:// only to loopback).
    #[arg(long, env = "CXSYNC_HUB_URL", value_name = "URL")]
    pub hub_url: Option<String>,
    /// Base URL of the CXone auth service for the access-key token [default: the hub URL].
    #[arg(long, env = "CXSYNC_AUTH_URL", value_name = "URL")]
    pub auth_url: Option<String>,
    /// CXone issuer: `{issuer}/.well-known/cxone-configuration` names the API and auth endpoints
    /// (used when no hub URL is given).
    #[arg(long, env = "CXSYNC_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// Retries of a call answered 429/5xx or lost in transit (exponential backoff from 500 ms,
    /// Retry-After honoured, capped at 30 s).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
}

/// What `plan` and `apply` both decide: which objects the plan covers and may take over.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Also remove live rules routing to the channel that the spec does not declare.
    #[arg(long)]
    pub prune: bool,
    /// Only rules of rollout stages ≤ N (the guide's §4 phasing; later ones are deferred).
    #[arg(long, value_name = "N")]
    pub stage: Option<u32>,
    /// Re-send secrets the hub returns masked (after rotating a client secret; a masked secret
    /// cannot be compared, so it is otherwise never a change).
    #[arg(long)]
    pub rotate_secrets: bool,
    /// Take over objects owned by another spec or environment (each is shown as `! adopt`)
    /// instead of refusing.
    #[arg(long)]
    pub adopt: bool,
}

impl PlanArgs {
    pub fn options(&self) -> plan::Options {
        plan::Options {
            prune: self.prune,
            max_stage: self.stage,
            rotate_secrets: self.rotate_secrets,
            adopt: self.adopt,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: super::SpecFile,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error (terraform's convention;
    /// without the flag: 0 no changes, 1 changes, 2 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Also run the spec's fixtures through the live and the proposed rules and show what the
    /// CRM would receive differently.
    #[arg(long)]
    pub behaviour: bool,
    /// The instant `$now()` returns in the behavioural plan (RFC 3339) [default: the spec's
    /// `test.now`].
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    #[command(flatten)]
    pub hub: HubArgs,
}

/// A loaded spec, its compiled payloads and the redactor for error messages (a server's or a
/// library's text, which cxsync cannot mask field by field: the last-resort belt).
pub(crate) struct Loaded {
    pub spec: Spec,
    pub payloads: Payloads,
    pub redactor: Redactor,
    pub vars: BTreeMap<String, String>,
}

/// Loads and compiles a spec; load errors are rendered to stderr and become a tool error.
/// `metrics` reads only the channel of it; what `plan` and `apply` send is loaded with
/// [`load_to_deploy`].
pub(crate) fn load(spec: &SpecFile) -> anyhow::Result<Loaded> {
    let loaded = spec.load_or_report(Format::Full, crate::spec::EnvSecrets::Required);
    compiled(spec, loaded)
}

/// [`load`], refusing also a spec a rule's transform of which `validate` refuses
/// ([`super::load::check_transforms`]): `plan` shows and `apply` sends only what the hub can run.
pub(crate) fn load_to_deploy(spec: &SpecFile) -> anyhow::Result<Loaded> {
    let loaded = spec.load_to_deploy(Format::Full, crate::spec::EnvSecrets::Required);
    compiled(spec, loaded)
}

fn compiled(spec: &SpecFile, loaded: Result<super::Loaded, ExitStatus>) -> anyhow::Result<Loaded> {
    let Ok(l) = loaded else {
        bail!("the spec `{}` has errors", spec.path.display());
    };
    let mut redactor = l.redactor;
    if let Ok(c) = Credentials::from_vars(&l.vars) {
        redactor.add(c.secrets());
    }
    let payloads = compile::compile(&l.spec);
    Ok(Loaded {
        spec: l.spec,
        payloads,
        redactor,
        vars: l.vars,
    })
}

/// A single-threaded runtime: the commands make one call at a time, in order.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves the endpoints and credentials into a client.
pub(crate) async fn connect(
    hub: &HubArgs,
    vars: &BTreeMap<String, String>,
) -> Result<Client, client::HubError> {
    let endpoints = match (&hub.hub_url, &hub.issuer) {
        (Some(u), _) => {
            let api = client::check_url("hub URL", u)?;
            let auth = match &hub.auth_url {
                Some(a) => client::check_url("auth URL", a)?,
                None => api.clone(),
            };
            Endpoints { api, auth }
        }
        (None, Some(issuer)) => {
            let mut e = client::discover(issuer).await?;
            if let Some(a) = &hub.auth_url {
                e.auth = client::check_url("auth URL", a)?;
            }
            e
        }
        (None, None) => return Err(client::HubError::Config(
            "no Event Hub: pass --hub-url (or set CXSYNC_HUB_URL), or --issuer (CXSYNC_ISSUER) \
                 to discover it"
                .into(),
        )),
    };
    let credentials = Credentials::from_vars(vars)?;
    Client::new(
        endpoints,
        credentials,
        RetryConfig {
            max_retries: hub.retries,
            ..RetryConfig::default()
        },
    )
}

/// Reads what the spec touches and plans against it.
pub(crate) async fn plan_live(
    client: &mut Client,
    l: &Loaded,
    opts: &plan::Options,
) -> Result<(plan::Live, plan::Plan), client::HubError> {
    let live = cxone::read_live(client, &l.payloads, opts.prune).await?;
    let p = plan::plan(&l.payloads, &live, opts);
    Ok((live, p))
}

/// The error a plan with conflicts ends in (after its text has been printed).
pub(crate) fn refused(p: &plan::Plan) -> anyhow::Error {
    anyhow::anyhow!(
        "refused: {} object(s) belong to another spec or environment (see above); nothing was \
         changed",
        p.conflicts.len()
    )
}

/// Runs `f`, turning any error into one whose text has every secret scrubbed (main prints the
/// cause chain verbatim). Errors only: what cxsync prints itself is masked by field.
pub(crate) fn scrubbed<T>(redactor: &Redactor, r: anyhow::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| {
        // A closed pipe (`cxsync plan | head`) carries no secret and must stay recognisable.
        let broken_pipe = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if broken_pipe {
            return e;
        }
        let mut msg = e.to_string();
        for c in e.chain().skip(1) {
            msg.push_str(": ");
            msg.push_str(&c.to_string());
        }
        anyhow::anyhow!(redactor.scrub(&msg))
    })
}

/// 0 no changes, 1 changes pending, 2 error; with `--detailed-exitcode` terraform's 0 no
/// changes, 2 changes, 1 error (`plan::json::exit_code`, which `plan --json` reports too).
pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let changes = match run(&args) {
        Ok(changes) => Some(changes),
        // Without the flag, main prints the error and exits 2.
        Err(e) if !args.detailed_exitcode => return Err(e),
        Err(e) => {
            crate::errln!("error: {e}");
            None
        }
    };
    Ok(
        match plan::json::exit_code(changes, args.detailed_exitcode) {
            0 => ExitStatus::Success,
            1 => ExitStatus::Failure,
            _ => ExitStatus::Error,
        },
    )
}

/// Plans and prints; `Ok(true)` when there are changes.
fn run(args: &Args) -> anyhow::Result<bool> {
    let l = load_to_deploy(&args.spec)?;
    let r = runtime()?.block_on(plan_and_print(args, &l));
    scrubbed(&l.redactor, r)
}

async fn plan_and_print(args: &Args, l: &Loaded) -> anyhow::Result<bool> {
    let now = if args.behaviour {
        Some(behaviour_now(args.now.as_deref(), &l.spec)?)
    } else {
        None
    };
    let mut client = connect(&args.hub, &l.vars).await?;
    let (live, p) = plan_live(&mut client, l, &args.plan.options()).await?;
    let behaviour = match now {
        Some(now) => {
            let inputs = behaviour_inputs(&l.spec, &l.payloads);
            let runs = inputs.iter().map(|r| r.fixtures.len()).sum::<usize>();
            Some((behaviour::compare(&inputs, &live.rules, now), runs))
        }
        None => None,
    };
    let api = client.api_base().to_string();
    let api = api.trim_end_matches('/');
    if args.json {
        let doc = plan::json::Document::new(&p, api, behaviour.map(|(d, _)| d));
        // Masked field by field (`plan::redact`); no text search over the document, which
        // would rewrite any word that happens to equal a secret.
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        super::print_stdout(&text)?;
    } else {
        let mut t = plan::render(&p, api);
        if let Some((d, runs)) = &behaviour {
            t.push('\n');
            t.push_str(&behaviour::render(d, *runs));
        }
        if p.conflicts.is_empty() {
            super::print_stdout(&t)?;
        } else {
            crate::stdio::stderr(&t);
        }
    }
    if !p.conflicts.is_empty() {
        return Err(refused(&p));
    }
    Ok(p.has_changes())
}

fn behaviour_now(flag: Option<&str>, spec: &Spec) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let s = flag
        .map(str::to_string)
        .or_else(|| spec.raw.test.as_ref().and_then(|t| t.now.clone()))
        .context("the behavioural plan needs a fixed clock: pass --now 2024-01-15T14:00:00Z or set `test.now` in the spec")?;
    chrono::DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .with_context(|| format!("`{s}` is not an RFC 3339 instant (e.g. 2024-01-15T14:00:00Z)"))
}

/// The proposed rules with their fixtures, from the resolved spec.
fn behaviour_inputs(spec: &Spec, payloads: &Payloads) -> Vec<behaviour::Proposed> {
    payloads
        .rules
        .iter()
        .map(|r| {
            let fixtures = spec
                .rules
                .iter()
                .find(|x| spec.raw.rules[x.index].id == r.spec_id)
                .map(|x| {
                    x.fixtures
                        .iter()
                        .map(|f| (f.name.clone(), f.event.clone()))
                        .collect()
                })
                .unwrap_or_default();
            behaviour::Proposed {
                id: r.id.clone(),
                body: r.body.clone(),
                expression: None,
                fixtures,
            }
        })
        .collect()
}
