//! `cxsync apply SPEC`: preflight, show the plan, confirm, then channel → retry policy → rules
//! (in manifest order) → removals, stopping at the first failure with what was and was not
//! applied. A re-run converges.

use std::io::{BufRead, IsTerminal};

use anyhow::bail;

use super::plan::{
    connect, load_to_deploy, plan_live, refused, runtime, scrubbed, HubArgs, Loaded, PlanArgs,
};
use super::ExitStatus;
use crate::cxone::{apply, plan};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: super::SpecFile,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Skip the Event Hub entitlement check.
    #[arg(long)]
    pub skip_preflight: bool,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let l = load_to_deploy(&args.spec)?;
    let r = runtime()?.block_on(run(&args, &l));
    scrubbed(&l.redactor, r)
}

async fn run(args: &Args, l: &Loaded) -> anyhow::Result<ExitStatus> {
    // The plan is masked field by field; the outcome may quote a server's answer, which only
    // the text scrubber can clean (the last-resort belt for errors).
    // A closed stdout (`cxsync apply … | head`) must not stop an apply that was approved half
    // way, nor end it silently with exit 0 before it started: the apply goes on, and its outcome
    // goes to stderr instead.
    let say = super::print_stdout;
    let mut client = connect(&args.hub, &l.vars).await?;
    if !args.skip_preflight {
        if let Some(problem) = apply::preflight(&mut client).await? {
            bail!("preflight: {problem}");
        }
    }
    let (_, p) = plan_live(&mut client, l, &args.plan.options()).await?;
    let api = client.api_base().to_string();
    if !p.conflicts.is_empty() {
        crate::stdio::stderr(&plan::render(&p, api.trim_end_matches('/')));
        return Err(refused(&p));
    }
    say(&plan::render(&p, api.trim_end_matches('/')))?;
    if !p.has_changes() {
        return Ok(ExitStatus::Success);
    }
    if !args.auto_approve {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to apply without confirmation: stdin is not a terminal; pass --auto-approve");
        }
        say("\nApply these changes? Only `yes` is accepted: ")?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            say("Apply cancelled.\n")?;
            return Ok(ExitStatus::Error);
        }
    }
    say("\n")?;
    let outcome = apply::apply(&mut client, &p).await;
    let mut text = apply::render(&outcome);
    // Only a failure quotes a server's answer.
    if outcome.failed.is_some() {
        text = l.redactor.scrub(&text);
    }
    say(&text)?;
    if crate::stdio::stdout_closed() {
        crate::stdio::stderr(&format!(
            "stdout was closed, so the rest of the output comes here:\n{text}"
        ));
    }
    Ok(if outcome.failed.is_some() {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    })
}
