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
use crate::delivery::drive::{Observer, Reply};
use crate::delivery::{Failure, Machine, Time, TokenResult};
use crate::sim::engine::{self, Feed, Options, Sinks, Traffic};
use crate::sim::inputs::Inputs;
use crate::sim::report::Report;
use crate::sim::scenario::{self, Scenario};
use crate::spec::model::ClientAuth;
use crate::spec::Spec;

/// What a target run will do beyond its [`Endpoints`], for the confirmation prompt (holds no
/// secret: a URL whose spec value came from `${env:…}` is shown by its field, as `compile` and
/// `plan` mask it).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The endpoints' token URL as the prompt shows it.
    pub token_shown: Option<String>,
    /// The endpoints' `alert` as the prompt shows it.
    pub alert_shown: Option<String>,
    /// `--no-alerts`.
    pub no_alerts: bool,
    pub fixtures: usize,
}

impl Plan {
    /// The lines shown before asking for confirmation of a run against `ep`.
    pub fn describe(&self, ep: &Endpoints) -> String {
        let mut s = format!(
            "cxsync will POST {} fixture event(s) to {}\n",
            self.fixtures, ep.crm
        );
        match (&self.token_shown, &ep.oauth) {
            (Some(t), Some(oauth)) => {
                s.push_str(&format!(
                    "  token endpoint {t} (client `{}`, secret from the environment, client auth {})\n",
                    oauth.client_id,
                    match oauth.client_auth {
                        ClientAuth::Body => "in the form body",
                        ClientAuth::Basic => "HTTP Basic",
                    }
                ));
                if !oauth.scopes.is_empty() {
                    s.push_str(&format!("  scopes: {}\n", oauth.scopes.join(" ")));
                }
            }
            _ => s.push_str("  no OAuth token endpoint\n"),
        }
        if let Some(a) = &self.alert_shown {
            s.push_str(&format!("  DLQ alerts (if any) to {a}\n"));
        } else if self.no_alerts {
            s.push_str("  no DLQ alerts (--no-alerts)\n");
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

/// Where a target run's DLQ alert webhook calls go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Alerts {
    /// The spec's `deadLetterQueue.alertEndpoint` after `--env`, which must then be the
    /// environment's own ([`alert_endpoint`]).
    #[default]
    Spec,
    /// `--alert-url URL`.
    To(String),
    /// `--no-alerts`.
    None,
}

/// The alert URL of a target run under environment `env_name` (`--env`), or why there is none
/// to use. An overlay that does not set `deadLetterQueue.alertEndpoint` keeps the base spec's, the
/// webhook of another environment (production's, when staging overlays it): a run under it is
/// refused unless `--alert-url` or `--no-alerts` says what to do, since a test send must not page
/// another environment's on-call. Without `--env` the spec's own endpoint is used.
pub fn alert_endpoint(
    spec: &Spec,
    env_name: Option<&str>,
    alerts: &Alerts,
) -> Result<Option<Url>, HttpError> {
    let spec_wide = &spec.raw.dead_letter_queue.alert_endpoint;
    match (alerts, spec_wide) {
        (Alerts::None, _) | (Alerts::Spec, None) => Ok(None),
        (Alerts::To(url), _) => checked_url("--alert-url", url).map(Some),
        (Alerts::Spec, Some(url)) => {
            let field = "/deadLetterQueue/alertEndpoint";
            match env_name {
                Some(e) if !crate::spec::env::overlay_sets(&spec.raw.environments, e, field) => {
                    let origins = crate::spec::secret::origins(spec);
                    let shown = crate::spec::secret::shown_field(&origins, field, url);
                    Err(HttpError::Config(format!(
                        "refusing to send DLQ alerts to {shown}: `--env {e}` does not set `deadLetterQueue.alertEndpoint`, so that is the base spec's alert webhook (another environment's monitoring), not {e}'s; set `environments.{e}.deadLetterQueue.alertEndpoint`, pass `--alert-url URL` for this run's alerts, or `--no-alerts`"
                    )))
                }
                _ => checked_url("deadLetterQueue.alertEndpoint", url).map(Some),
            }
        }
    }
}

/// Checks the URLs and resolves the secret: the plan to show, and the endpoints to use.
/// `env_name` is the run's `--env`, for [`alert_endpoint`].
pub fn plan(
    spec: &Spec,
    inputs: &Inputs,
    target: &str,
    env: &dyn Fn(&str) -> Option<String>,
    env_name: Option<&str>,
    alerts: &Alerts,
) -> Result<(Plan, Endpoints), HttpError> {
    let crm = checked_url("--target", target)?;
    let mut ep = Endpoints::from_channel(
        spec,
        crm,
        |t| checked_url("channel.auth.tokenEndpoint", t),
        |what, value| secret(what, value, env),
    )?;
    ep.alert = alert_endpoint(spec, env_name, alerts)?;
    if inputs.fixtures.is_empty() {
        return Err(HttpError::Config(
            "the spec has no fixture events to send (rules[].fixtures)".into(),
        ));
    }
    // The one masking rule (`spec::secret::masked`), on the sent side: a URL from `${env:…}`
    // may carry a token in its path or query.
    let origins = crate::spec::secret::origins(spec);
    let shown =
        |field: &str, url: &Url| crate::spec::secret::shown_field(&origins, field, url.as_str());
    let plan = Plan {
        token_shown: ep
            .oauth
            .as_ref()
            .map(|o| shown("/channel/auth/tokenEndpoint", &o.token)),
        alert_shown: ep.alert.as_ref().map(|a| match alerts {
            // Typed on the command line: shown as typed.
            Alerts::To(_) => a.to_string(),
            _ => shown("/deadLetterQueue/alertEndpoint", a),
        }),
        no_alerts: *alerts == Alerts::None,
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

/// At most one line per this long after the first (wall clock: the notes are for a person
/// watching, never part of the report).
const NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells the person running a target run, while it runs, that attempts are failing: the first
/// failed attempt at once (with what it means and that the hub retries), then at most one line
/// per [`NOTE_EVERY`] summing the failures since. Without it a closed port or a dead token
/// endpoint sat silent through the whole backoff (about 3 minutes at time scale 1). Stderr only:
/// the report and the verdict do not depend on it.
pub struct FailureNotes<'n> {
    note: &'n mut dyn FnMut(&str),
    crm: String,
    token: Option<String>,
    max_retries: u32,
    /// `retry.retryableStatusCodes`: an answer outside it is not retried.
    retryable: Vec<u16>,
    /// `retry.respectRetryAfterHeader`.
    respect_retry_after: bool,
    last: Option<std::time::Instant>,
    /// Failures since the last line, by what failed.
    since: std::collections::BTreeMap<String, u64>,
}

impl<'n> FailureNotes<'n> {
    /// Notes for a run against `ep` (named by host and port), retrying `max_retries` times.
    pub fn new(
        note: &'n mut dyn FnMut(&str),
        ep: &Endpoints,
        max_retries: u32,
        retryable: Vec<u16>,
        respect_retry_after: bool,
    ) -> Self {
        let at = |u: &Url| {
            format!(
                "{}{}",
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        };
        FailureNotes {
            note,
            crm: at(&ep.crm),
            token: ep.oauth.as_ref().map(|o| at(&o.token)),
            max_retries,
            retryable,
            respect_retry_after,
            last: None,
            since: Default::default(),
        }
    }

    /// A `Retry-After` that parks the event for over a minute is said at once, with the wait the
    /// hub honours (capped at 24 h) and when it ends, so a long silence is not taken for a hang
    /// (tester #75).
    fn long_wait(&mut self, response: &crate::delivery::Response) {
        use crate::delivery::retry_after;
        let Some(v) = response.retry_after.as_deref() else {
            return;
        };
        if !self.respect_retry_after || !self.retryable.contains(&response.status) {
            return;
        }
        let now = std::time::SystemTime::now();
        let Some(wait) = retry_after::parse(v, now).filter(|w| w.as_secs() > 60) else {
            return;
        };
        let secs = wait.as_secs();
        let capped = if wait >= retry_after::MAX_RETRY_AFTER {
            ", the most cxsync honours"
        } else {
            ""
        };
        let until = chrono::DateTime::<chrono::Utc>::from(now + wait).format("%Y-%m-%dT%H:%M:%SZ");
        (self.note)(&format!(
            "note: CRM {} answered HTTP {} with `Retry-After: {}`: the event waits {}h{:02}m{:02}s{capped} \
             (until {until} at --time-scale 1) before its next attempt; Ctrl-C stops the run",
            self.crm,
            response.status,
            v.escape_debug(),
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ));
    }

    /// `final_because`: why the failure is not retried (`None`: it is).
    fn failed(&mut self, what: String, hint: &str, final_because: Option<&str>) {
        *self.since.entry(what.clone()).or_default() += 1;
        let now = std::time::Instant::now();
        match (self.last, final_because) {
            (None, Some(why)) => {
                // Tester #93: a 307 is dead-lettered at once; "this can take minutes" misled.
                // So is a token endpoint's 401 (#116).
                (self.note)(&format!(
                    "note: {what}{hint}; {why}; further failures are summed every {} s",
                    NOTE_EVERY.as_secs()
                ));
            }
            (None, None) => {
                (self.note)(&format!(
                    "note: {what}{hint}; the hub retries with backoff (retry.maxRetries {}), so this can take minutes; further failures are summed every {} s",
                    self.max_retries,
                    NOTE_EVERY.as_secs()
                ));
            }
            (Some(t), _) if now.duration_since(t) >= NOTE_EVERY => {
                let n: u64 = self.since.values().sum();
                let parts: Vec<String> = self
                    .since
                    .iter()
                    .map(|(w, k)| format!("{w} ×{k}"))
                    .collect();
                (self.note)(&format!(
                    "note: {n} failed attempt(s) in the last {} s ({}); still retrying",
                    now.duration_since(t).as_secs(),
                    parts.join(", ")
                ));
            }
            (Some(_), _) => return,
        }
        self.since.clear();
        self.last = Some(now);
    }
}

/// What a failure means to the person: a refused connection is a wrong URL or port, not a
/// flaky network; a certificate is checked against the system's roots, which a private CA can
/// join (docs/http.md "TLS").
fn hint(f: Failure) -> &'static str {
    use crate::delivery::inputs::TlsProblem;
    match f {
        Failure::Refused => " (nothing accepts connections there: check the URL and port)",
        Failure::Unresolved => " (check the URL's host name)",
        Failure::Tls(TlsProblem::UnknownIssuer) => {
            " (cxsync trusts the system's certificate authorities; to trust a private CA, set SSL_CERT_FILE to a PEM bundle holding it, which replaces the system's list; certificates are always verified)"
        }
        _ => "",
    }
}

impl Observer for FailureNotes<'_> {
    fn answered(&mut self, _attempt: u32, _sent: Time, reply: &Reply, timeout: Time) {
        if let Reply::Http { latency, response } = reply {
            if *latency < timeout && !(200..300).contains(&response.status) {
                self.long_wait(response);
            }
        }
        let crm = &self.crm;
        let (what, h, final_because) = match reply {
            Reply::Http { latency, response } if *latency < timeout => {
                if (200..300).contains(&response.status) {
                    return;
                }
                (
                    format!("CRM {crm} answered HTTP {}", response.status),
                    "",
                    (!self.retryable.contains(&response.status)).then_some(
                        "not a retryable status (retry.retryableStatusCodes), so the event is \
                         dead-lettered without retrying",
                    ),
                )
            }
            Reply::Reset { latency, failure } if *latency < timeout => (
                format!("CRM request to {crm} failed: {}", failure.as_str()),
                hint(*failure),
                None,
            ),
            _ => (
                format!("CRM {crm} did not answer within {timeout} ms"),
                "",
                None,
            ),
        };
        self.failed(what, h, final_because);
    }

    fn token_answered(&mut self, _sent: Time, result: Option<&TokenResult>) {
        let token = self.token.clone().unwrap_or_default();
        let (what, h, final_because) = match result {
            Some(TokenResult::Granted { .. }) => return,
            Some(TokenResult::Refused { status, error }) => (
                format!("token endpoint {token} answered HTTP {status} {error}"),
                "",
                crate::delivery::classify::token_refusal_is_final(*status).then_some(
                    "refused credentials do not heal by waiting, so the events waiting for a \
                     token are dead-lettered now (TOKEN_REQUEST_FAILED); check the client id \
                     and secret",
                ),
            ),
            Some(TokenResult::Failed(f)) => (
                format!("token request to {token} failed: {}", f.as_str()),
                hint(*f),
                None,
            ),
            None => (
                format!("token endpoint {token} did not answer in time"),
                "",
                None,
            ),
        };
        self.failed(what, h, final_because);
    }
}

/// Sends the fixtures to the target and reports their outcomes. The report has no invariants:
/// a real CRM's side effects cannot be observed from here. `note` gets the lines of
/// [`FailureNotes`] while the run is under way.
pub async fn run(
    spec: &Spec,
    inputs: &Inputs,
    ep: Endpoints,
    time_scale: f64,
    opts: &Options,
    sinks: &mut Sinks<'_>,
    note: &mut dyn FnMut(&str),
) -> Result<Report, HttpError> {
    let sc = fixtures_only();
    let mut o = opts.clone();
    o.events = Some(0);
    let epoch = SystemTime::now();
    let cfg = engine::machine_config(spec, &sc, &o, epoch)
        .map_err(|e| HttpError::Config(e.to_string()))?;
    let (timeout, max_retries) = (cfg.timeout, cfg.max_retries);
    let retryable = spec.raw.retry.retryable_status_codes.clone();
    let mut notes = FailureNotes::new(
        note,
        &ep,
        max_retries,
        retryable,
        spec.raw.retry.respect_retry_after_header,
    );
    let clock = Clock::start(time_scale);
    let client = super::http_client(cfg.hub.concurrency)?;
    let mut driver = Driver::new(client, ep, clock, timeout, false)?;
    let template = cfg.idempotency.clone();
    let mut machine = Machine::new(cfg, engine::machine_rng(opts.seed));
    let feed = Feed::new(inputs, &sc, Some(0), epoch, &template).map_err(HttpError::Sim)?;
    let mut rep = Report::new(spec, &sc, o.seed, o.no_jitter, 1000, epoch);
    rep.totals.events = feed.total();
    let mut traffic = Traffic::new(&feed, inputs, template, epoch);
    let mut obs = (&mut rep, (sinks.watch(epoch, &feed), &mut notes));
    let now = wall::drive(&mut driver, &mut machine, &mut traffic, &mut obs, 0, |_| {
        false
    })
    .await;
    driver.finish_alerts().await;
    driver.shutdown();
    traffic.guard_error(o.seed).map_err(HttpError::Sim)?;
    rep.end = now;
    rep.machine = machine.stats().clone();
    Ok(rep)
}
