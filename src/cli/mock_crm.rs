//! `cxsync mock-crm [--scenario S] [--port P] [--spec SPEC]`: serve the mock CRM, OAuth token
//! endpoint and DLQ alert webhook on loopback, in real time, for hands-on testing with curl or a
//! staging Event Hub tunnel. The scenario's fault timeline starts when the server does. Prints
//! the URLs and the credentials it accepts on stdout, a running tally of side effects on stderr,
//! and stops cleanly on Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::{ExitStatus, SpecArgs};
use crate::crm::DedupMode;
use crate::diag::Format;
use crate::http::mock::{MockCrm, MockOptions, Tally, MOCK_CLIENT_SECRET};
use crate::http::Clock;
use crate::sim::crm::CrmStats;
use crate::sim::{engine, inputs, scenario};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A built-in scenario name or a scenario YAML file.
    #[arg(long, default_value = scenario::DEFAULT_SCENARIO)]
    pub scenario: String,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The spec whose CRM facts, auth, idempotency header and target schema the mock follows.
    #[arg(long, default_value = "specs/crm_sync.yaml")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub spec_args: SpecArgs,
    /// Seed of the model's latency and reset draws.
    #[arg(long, default_value_t = engine::DEFAULT_SEED)]
    pub seed: u64,
    /// Stop after this many seconds (for scripts; default: until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub exit_after: Option<f64>,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let (spec, mut sources) = match super::load::load_to_run(&args.spec, &args.spec_args) {
        Ok(loaded) => loaded,
        Err(status) => return Ok(status),
    };
    let inputs = match inputs::compile(&spec) {
        Ok(i) => i,
        Err(ds) => {
            super::load::report(ds, &sources, Format::Full);
            return Ok(ExitStatus::Error);
        }
    };
    let sc = match scenario::load(&args.scenario, &mut sources) {
        Ok(l) => l.scenario,
        Err(ds) => {
            super::load::report(ds, &sources, Format::Full);
            return Ok(ExitStatus::Error);
        }
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let mock = MockCrm::start(
            &spec.raw,
            &sc,
            &inputs.schemas,
            Clock::start(1.0),
            &MockOptions {
                port: args.port,
                seed: args.seed,
            },
        )
        .await?;
        let mut text = format!(
            "mock CRM for {} (scenario {}, profile {})\n  CRM writes     POST {}\n  token endpoint POST {}\n  DLQ alerts     POST {}\n",
            spec.raw.name,
            sc.name,
            mock.state().model().profile().name,
            mock.crm_url(),
            mock.token_url(),
            mock.alert_url(),
        );
        if !mock.client_id().is_empty() {
            text.push_str(&format!(
                "  client id      {}\n  client secret  {MOCK_CLIENT_SECRET}   (a mock credential, not the spec's)\n",
                mock.client_id()
            ));
        }
        let dedup = {
            let st = mock.state();
            let m = st.model();
            match (m.dedup(), m.upsert_field()) {
                (DedupMode::Upsert, Some(field)) => format!(
                    "upsert on `{field}` (a write of the same value updates one record; the {} header is not read)",
                    spec.raw.idempotency.header
                ),
                (DedupMode::Header, _) => format!("header {}", spec.raw.idempotency.header),
                _ => "none (every write is a new record)".to_string(),
            }
        };
        text.push_str(&format!("  idempotency    {dedup}\nCtrl-C stops.\n"));
        // One Ctrl-C listener for the whole run, listening before "Ctrl-C stops." is printed: a
        // listener made anew on each tick missed a SIGINT that came while a tick was handled.
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        tokio::select! {
            biased;
            _ = &mut ctrl_c => return Ok(ExitStatus::Success),
            _ = std::future::ready(()) => {}
        }
        super::print_stdout(&text)?;
        let deadline = args
            .exit_after
            .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
        let mut last = String::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            let stop = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = stop => break,
                _ = tick.tick() => {
                    let line = {
                        let st = mock.state();
                        tally_line(&st.model().stats, &st.tally, mock.refusals().total())
                    };
                    if line != last {
                        crate::errln!("{line}");
                        last = line;
                    }
                }
            }
        }
        let line = {
            let st = mock.state();
            tally_line(&st.model().stats, &st.tally, mock.refusals().total())
        };
        crate::errln!("stopped; final tally: {line}");
        Ok(ExitStatus::Success)
    })
}

/// One line of the running tally; `refused` counts the requests the front answered without
/// reading them whole (`http::front`).
fn tally_line(s: &CrmStats, t: &Tally, refused: u64) -> String {
    let statuses: Vec<String> = t
        .statuses
        .iter()
        .map(|(code, n)| format!("{code}×{n}"))
        .collect();
    format!(
        "requests {} [{}] · side effects {} · deduplicated {} · duplicates {} · resets {} · cut {} · silent {} · tokens issued {} refused {} · bad client {} · alerts {} (not an alert body {}) · refused unread {}",
        s.requests,
        statuses.join(" "),
        s.side_effects,
        s.deduplicated,
        s.duplicate_side_effects,
        t.resets,
        t.cut_responses,
        t.silences,
        s.tokens_issued,
        s.token_refusals,
        t.bad_client,
        t.alerts,
        t.bad_alerts,
        refused,
    )
}
