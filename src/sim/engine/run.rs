//! The virtual-time run: the one driver loop ([`VirtualTime`]) with the CRM model as transport.

use std::cell::RefCell;

use rand_chacha::ChaCha8Rng;

use super::{
    crm_rng, epoch, machine_config, machine_rng, new_report, throttle_notes, EngineError, Feed,
    Ledger, Options, Sinks, Traffic,
};
use crate::delivery::drive::{Observer, Reply, Sent, Transport, VirtualTime};
use crate::delivery::{self, Alert, CrmRequest, Machine, Time, TokenResult};
use crate::sim::crm::CrmModel;
use crate::sim::inputs::Inputs;
use crate::sim::report::Report;
use crate::sim::scenario::Scenario;
use crate::spec::Spec;

/// The CRM model answering at send time, as the transport of a virtual-time run. The traffic
/// tells it each payload as it is submitted ([`CrmModel::pre_read`]), hence the `RefCell`: both
/// hold it, and each borrows it only within one call.
struct Model<'a> {
    crm: &'a RefCell<CrmModel>,
    rng: ChaCha8Rng,
    timeout: Time,
}

impl Transport for Model<'_> {
    fn send_crm(&mut self, now: Time, req: CrmRequest, obs: &mut dyn Observer) -> Sent<Reply> {
        let reply = self
            .crm
            .borrow_mut()
            .handle_request(now, &req, &mut self.rng);
        obs.answered(req.attempt, now, &reply, self.timeout);
        match reply {
            Reply::Http { latency, .. } | Reply::Reset { latency, .. }
                if reply.in_time(self.timeout) =>
            {
                Sent::Answered {
                    latency,
                    answer: reply,
                }
            }
            _ => Sent::Unanswered,
        }
    }

    fn send_token(&mut self, now: Time, _id: u64) -> Sent<TokenResult> {
        let answer = self
            .crm
            .borrow_mut()
            .handle_token_request(now, &mut self.rng);
        match answer {
            (latency, Some(answer)) if latency < self.timeout => Sent::Answered { latency, answer },
            _ => Sent::Unanswered,
        }
    }

    /// Alerts are counted by the report; nothing answers them in virtual time.
    fn send_alert(&mut self, _alert: &Alert) {}
}

/// The step bound of a run: generous, proportional to the events and their attempts.
pub fn max_steps(opts: &Options, events: u64, max_retries: u32) -> u64 {
    opts.max_steps.unwrap_or(
        1_000_000
            + events
                .saturating_mul(16)
                .saturating_mul(u64::from(max_retries) + 4),
    )
}

/// Runs a scenario. The report is a pure function of (spec, inputs, scenario, options).
///
/// Where the verdict depends on what a setting of the spec would have changed, the machine is
/// asked: the run is first made with the setting changed, under the same scenario and seed,
/// and the events that run does not deliver are those the advised fix would lose too
/// (`verdict::Causes`):
/// - OAuth without `retryOnTokenExpiry`: run with it set. An `AUTH_FAILED` of an event that run
///   loses too (the scenario's token endpoint refused or failed the refreshes) is the
///   scenario's, to replay (#219).
/// - `respectRetryAfterHeader: false`: run with it set. A `RETRIES_EXHAUSTED` whose retries fired
///   before the `Retry-After` they followed, of an event that run delivers, is the spec's (#216).
pub fn run(
    spec: &Spec,
    inputs: &Inputs,
    sc: &Scenario,
    opts: &Options,
    sinks: &mut Sinks<'_>,
) -> Result<Report, EngineError> {
    let lost_by = |edit: &dyn Fn(&mut Spec)| -> Result<Lost, EngineError> {
        let mut changed = spec.clone();
        edit(&mut changed);
        let probe = Sinks::none(|s| run_once(&changed, inputs, sc, opts, s, Probe::Record))?;
        Ok(probe.causes.record)
    };
    let lost_with_refresh = if crate::sim::verdict::refreshes_no_token(&spec.raw) {
        lost_by(&|s: &mut Spec| {
            if let crate::spec::model::Auth::OAuth2ClientCredentials {
                retry_on_token_expiry,
                ..
            } = &mut s.raw.channel.auth
            {
                *retry_on_token_expiry = true;
            }
        })?
    } else {
        None
    };
    let lost_with_retry_after = if spec.raw.retry.respect_retry_after_header {
        None
    } else {
        lost_by(&|s: &mut Spec| s.raw.retry.respect_retry_after_header = true)?
    };
    let answers = Answers {
        lost_with_refresh,
        lost_with_retry_after,
    };
    run_once(spec, inputs, sc, opts, sinks, Probe::Answer(answers))
}

/// The events (`origin`, rule) a run did not deliver.
type Lost = Option<std::collections::BTreeSet<(u64, String)>>;

/// What the runs with a setting changed answered ([`run`]).
struct Answers {
    lost_with_refresh: Lost,
    lost_with_retry_after: Lost,
}

/// The counterfactual of [`run`]: the run that records its dead letters, or the answers.
enum Probe {
    Record,
    Answer(Answers),
}

/// One run of [`run`].
fn run_once(
    spec: &Spec,
    inputs: &Inputs,
    sc: &Scenario,
    opts: &Options,
    sinks: &mut Sinks<'_>,
    probe: Probe,
) -> Result<Report, EngineError> {
    let epoch = epoch(spec, sc);
    let cfg = machine_config(spec, sc, opts, epoch)?;
    let template = cfg.idempotency.clone();
    let (max_retries, timeout) = (cfg.max_retries, cfg.timeout);
    let crm = RefCell::new(CrmModel::new(&spec.raw, sc, &inputs.schemas));
    let feed = Feed::new(inputs, sc, opts.events, epoch, &template)?;
    let total = feed.total();
    let mut rep = new_report(spec, sc, opts, epoch, total, &crm.borrow());
    // The run with `retryOnTokenExpiry` records what it lost; the run it answers files by it.
    match probe {
        Probe::Record => rep.causes.record = Some(Default::default()),
        Probe::Answer(a) => {
            rep.causes.lost_with_refresh = a.lost_with_refresh;
            rep.causes.lost_with_retry_after = a.lost_with_retry_after;
        }
    }
    rep.generation = feed.check(inputs, super::test_now(spec), &template);
    rep.sources = feed.names().to_vec();
    let mut ledger = Ledger::new(&crm.borrow(), super::key_hint(&template, inputs));
    let mut traffic = Traffic::new(&feed, inputs, template, epoch).reading_ahead(&crm);
    let first = traffic.next_at();
    let mut vt = VirtualTime::new(
        Machine::new(cfg, machine_rng(opts.seed)),
        first,
        max_steps(opts, total, max_retries),
    );
    let mut model = Model {
        crm: &crm,
        rng: crm_rng(opts.seed),
        timeout,
    };
    let mut obs = (&mut rep, (&mut ledger, sinks.watch(epoch, &feed)));
    loop {
        match vt.step(&mut traffic, &mut model, &mut obs) {
            Ok(true) => {}
            Ok(false) => break,
            Err(l) => {
                return Err(EngineError::Livelock {
                    steps: l.steps,
                    at: delivery::rfc3339(epoch, l.at),
                    seed: opts.seed,
                })
            }
        }
    }
    traffic.guard_error(opts.seed)?;
    let crm = crm.into_inner();
    throttle_notes(&mut rep, spec, &crm);
    rep.replay_set_back = super::preview::set_back_rules_of(spec, inputs);
    ledger.finish(&mut rep, vt.now(), &crm, vt.machine());
    Ok(rep)
}
