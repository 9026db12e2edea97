//! `sim --http --target URL`: the spec's fixture events, once each, to a real (staging) CRM with
//! the spec's real OAuth, through the same machine and driver as every other run.
//!
//! Nothing generated is sent: only the fixtures a person has reviewed. The client secret is read
//! from the environment by [`crate::spec::secret`] (`${env:NAME}`, or `${VAULT_SECRET:NAME}` read
//! as the variable `NAME`, since the vault is the Event Hub's and not reachable from a laptop)
//! and never printed.

use std::time::SystemTime;

use reqwest::Url;

use super::driver::{Driver, Endpoints};
use super::{checked_url, wall, Clock, HttpError};
use crate::delivery::Machine;
use crate::sim::engine::{self, Feed, Options, Sinks, Traffic};
use crate::sim::inputs::Inputs;
use crate::sim::report::Report;
use crate::sim::scenario::{self, Scenario};
use crate::spec::model::ClientAuth;
use crate::spec::Spec;

/// What a target run will do, for the confirmation prompt (holds no secret).
#[derive(Debug, Clone)]
pub struct Plan {
    pub crm: Url,
    pub token: Option<Url>,
    pub client_id: String,
    pub client_auth: ClientAuth,
    pub scopes: Vec<String>,
    pub alert: Option<Url>,
    pub fixtures: usize,
}

impl Plan {
    /// The lines shown before asking for confirmation.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "cxsync will POST {} fixture event(s) to {}\n",
            self.fixtures, self.crm
        );
        match &self.token {
            Some(t) => s.push_str(&format!(
                "  token endpoint {t} (client `{}`, secret from the environment, client auth {})\n",
                self.client_id,
                match self.client_auth {
                    ClientAuth::Body => "in the form body",
                    ClientAuth::Basic => "HTTP Basic",
                }
            )),
            None => s.push_str("  no OAuth token endpoint\n"),
        }
        if !self.scopes.is_empty() {
            s.push_str(&format!("  scopes: {}\n", self.scopes.join(" ")));
        }
        if let Some(a) = &self.alert {
            s.push_str(&format!("  DLQ alerts (if any) to {a}\n"));
        }
        s
    }
}

/// The secret of `what` from the environment ([`crate::spec::secret`]).
fn secret(
    what: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, HttpError> {
    crate::spec::secret::resolve(what, value, env, None, None)
        .map_err(|e| HttpError::Config(e.to_string()))
}

/// Checks the URLs and resolves the secret: the plan to show, and the endpoints to use.
pub fn plan(
    spec: &Spec,
    inputs: &Inputs,
    target: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Plan, Endpoints), HttpError> {
    let crm = checked_url("--target", target)?;
    let mut ep = Endpoints::from_channel(
        spec,
        crm,
        |t| checked_url("channel.auth.tokenEndpoint", t),
        |what, value| secret(what, value, env),
    )?;
    ep.alert = match &spec.raw.dead_letter_queue.alert_endpoint {
        Some(a) => Some(checked_url("deadLetterQueue.alertEndpoint", a)?),
        None => None,
    };
    if inputs.fixtures.is_empty() {
        return Err(HttpError::Config(
            "the spec has no fixture events to send (rules[].fixtures)".into(),
        ));
    }
    let plan = Plan {
        crm: ep.crm.clone(),
        token: ep.token.clone(),
        client_id: ep.client_id.clone(),
        client_auth: ep.client_auth,
        scopes: ep.scopes.clone(),
        alert: ep.alert.clone(),
        fixtures: inputs.fixtures.len(),
    };
    Ok((plan, ep))
}

/// The scenario of a target run: the fixtures once, nothing generated, no faults (the CRM is
/// real).
fn fixtures_only() -> Scenario {
    scenario::parse(
        "version: 1\nname: target\nduration: 1s\nevents: { count: 0, fixtures: true }\n",
        std::path::Path::new("<target>"),
    )
    .expect("the built-in target scenario parses")
}

/// Sends the fixtures to the target and reports their outcomes. The report has no invariants:
/// a real CRM's side effects cannot be observed from here.
pub async fn run(
    spec: &Spec,
    inputs: &Inputs,
    ep: Endpoints,
    time_scale: f64,
    opts: &Options,
    sinks: &mut Sinks<'_>,
) -> Result<Report, HttpError> {
    let sc = fixtures_only();
    let mut o = opts.clone();
    o.events = Some(0);
    let epoch = SystemTime::now();
    let cfg = engine::machine_config(spec, &sc, &o, epoch)
        .map_err(|e| HttpError::Config(e.to_string()))?;
    let timeout = cfg.timeout;
    let clock = Clock::start(time_scale);
    let client = super::http_client(cfg.hub.concurrency)?;
    let mut driver = Driver::new(client, ep, clock, timeout, false)?;
    let template = cfg.idempotency.clone();
    let mut machine = Machine::new(cfg, engine::machine_rng(opts.seed));
    let feed = Feed::new(inputs, &sc, Some(0), epoch, &template).map_err(HttpError::Sim)?;
    let mut rep = Report::new(spec, &sc, o.seed, o.no_jitter, 1000, epoch);
    rep.totals.events = feed.total();
    let mut traffic = Traffic::new(&feed, inputs, template, epoch);
    let mut obs = (&mut rep, sinks.watch(epoch, &feed));
    let now = wall::drive(&mut driver, &mut machine, &mut traffic, &mut obs, 0, |_| {
        false
    })
    .await;
    driver.shutdown();
    traffic.guard_error(o.seed).map_err(HttpError::Sim)?;
    rep.end = now;
    rep.machine = machine.stats().clone();
    Ok(rep)
}
