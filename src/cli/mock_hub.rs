//! `cxsync mock-hub`: serve the stateful mock Event Hub API on loopback until Ctrl-C.

use std::time::Duration;

use anyhow::Context;

use super::ExitStatus;
use crate::cxone::mock_hub::{self, Config, Fault, Hub};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_ttl: u64,
    /// Inject a failure: `METHOD /path/glob:EFFECT[:COUNT]`, EFFECT a status, `drop` (close the
    /// connection unanswered) or `drop-after` (act, then close unanswered), e.g.
    /// `PUT /api/v2/eventhub/rules/*:503:2` (repeatable; `*` matches one path segment, `**` the
    /// rest).
    #[arg(long = "fault", visible_alias = "fail", value_name = "FAULT")]
    pub faults: Vec<Fault>,
    /// Report the tenant as having no Event Hub entitlement.
    #[arg(long)]
    pub no_entitlement: bool,
    /// Accepted access key id.
    #[arg(long, default_value = "demo")]
    pub access_key_id: String,
    /// Accepted access key secret.
    #[arg(long, default_value = "demo")]
    pub access_key_secret: String,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let config = Config {
        access_key_id: args.access_key_id,
        access_key_secret: args.access_key_secret,
        token_ttl: Duration::from_secs(args.token_ttl),
        entitled: !args.no_entitlement,
        faults: args.faults,
    };
    let rt = super::plan::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        super::print_stdout(&format!(
            "mock Event Hub listening on {url}\n\n  export CXSYNC_HUB_URL={url}\n  \
             export CXSYNC_ACCESS_KEY_ID={}\n  export CXSYNC_ACCESS_KEY_SECRET=…\n\n\
             Admin (no token): POST {url}/_mock/faults, GET {url}/_mock/state, \
             {url}/_mock/api/v2/… edits objects behind cxsync's back.\nCtrl-C stops.\n",
            config.access_key_id
        ))?;
        let hub = Hub::new(config, &url);
        mock_hub::serve(listener, hub, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        crate::errln!("mock Event Hub stopped");
        Ok(ExitStatus::Success)
    })
}
