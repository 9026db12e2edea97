//! `cxsync metrics SPEC`: the channel's metrics as a table with sparklines, and the spec's
//! `alerts` thresholds evaluated; exit 1 on a breach (for cron and CI).

use anyhow::bail;

use super::plan::{connect, load, runtime, scrubbed, HubArgs, Loaded};
use super::ExitStatus;
use crate::cxone::metrics;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: super::SpecFile,
    /// Data-point granularity, an ISO 8601 duration from PT1S to P366D (weeks, days, hours,
    /// minutes, seconds).
    #[arg(long, default_value = "PT1H")]
    pub interval: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    if let Err(e) = metrics::interval_seconds(&args.interval) {
        bail!("--interval {e}");
    }
    let l = load(&args.spec)?;
    let r = runtime()?.block_on(run(&args, &l));
    scrubbed(&l.redactor, r)
}

async fn run(args: &Args, l: &Loaded) -> anyhow::Result<ExitStatus> {
    let mut client = connect(&args.hub, &l.vars).await?;
    let name = l.payloads.channel["name"].as_str().unwrap_or_default();
    let body = client
        .metrics(name, &args.interval, metrics::REQUESTED)
        .await?;
    let report = metrics::report(name, &args.interval, &body, l.spec.raw.alerts.as_ref());
    let text = if args.json {
        serde_json::to_string_pretty(&serde_json::json!({
            "breached": report.breached(),
            "report": report,
        }))? + "\n"
    } else {
        metrics::render(&report)
    };
    // The report holds the hub's numbers and the channel's name, no spec field to mask; a text
    // scrub would only rewrite words that happen to equal a secret (errors are still scrubbed).
    super::print_stdout(&text)?;
    Ok(if report.breached() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
