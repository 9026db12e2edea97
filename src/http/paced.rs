//! `sim --http`: a scenario over real HTTP against the loopback mock CRM.
//!
//! **Paced** (the default): virtual time is paced on the real clock (`--time-scale`) but stands
//! still while a request is on the wire; each request carries its virtual send instant, the
//! in-process mock judges it at that instant, and its answer is handed back at send time plus the
//! latency the model decided, in the engine's `(time, sequence)` order. Requests of one instant
//! go out one after another, in the machine's order. A millisecond of real I/O therefore never
//! becomes a compressed second, and the run reproduces [`engine::run`] exactly: same outcomes,
//! same report. **Unpaced**: the wall-clock loop of [`super::wall`] against the same mock.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::driver::{Driver, Endpoints, Heard};
use super::mock::{MockCrm, MockOptions, MOCK_CLIENT_SECRET};
use super::{wall, Clock, HttpError};
use crate::delivery::drive::{Livelock, Observer, VirtualTime};
use crate::delivery::{rfc3339, Machine};
use crate::sim::engine::{self, EngineError, Feed, Ledger, Options, Sinks, Traffic};
use crate::sim::inputs::Inputs;
use crate::sim::report::Report;
use crate::sim::scenario::Scenario;
use crate::spec::Spec;

/// Options of a run over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Real seconds per simulated second (`0.01`: a simulated second lasts 10 ms).
    pub time_scale: f64,
    /// Paced virtual time (the default): the clock stands still while a request is on the
    /// wire, so the run reproduces virtual time exactly. Off: wall-clock mode, where requests
    /// overlap freely and real I/O time counts (what the benchmark measures).
    pub paced: bool,
}

/// Runs a scenario over real HTTP against the mock CRM, with time compressed by
/// `http.time_scale`. The report has the shape (and, for deterministic scenarios, the outcomes)
/// of [`engine::run`], from the same loop.
pub async fn run(
    spec: &Spec,
    inputs: &Inputs,
    sc: &Scenario,
    opts: &Options,
    http: &HttpOptions,
    sinks: &mut Sinks<'_>,
) -> Result<Report, HttpError> {
    let epoch = engine::epoch(spec, sc);
    let cfg = engine::machine_config(spec, sc, opts, epoch)
        .map_err(|e| HttpError::Config(e.to_string()))?;
    let template = cfg.idempotency.clone();
    let (timeout, max_retries) = (cfg.timeout, cfg.max_retries);
    let concurrency = cfg.hub.concurrency;
    let clock = Clock::start(http.time_scale);
    let mock = MockCrm::start(
        &spec.raw,
        sc,
        &inputs.schemas,
        clock,
        &MockOptions {
            port: 0,
            seed: opts.seed,
        },
    )
    .await?;
    // The channel read as `--target` and DLQ replay read it, with the mock in place of the
    // CRM and token endpoint and the mock's own secret in place of the spec's (which a run
    // against the mock never needs, so it may be unset).
    let mut ep = Endpoints::from_channel(
        spec,
        mock.crm_url(),
        |_| Ok::<_, HttpError>(mock.token_url()),
        |_, _| Ok(MOCK_CLIENT_SECRET.to_string()),
    )?;
    ep.alert = spec
        .raw
        .dead_letter_queue
        .alert_endpoint
        .as_ref()
        .map(|_| mock.alert_url());
    ep.send_seq = true;
    let client = super::http_client(concurrency)?;
    // Warm up: the first connection and the server's first request cost milliseconds that a
    // compressed clock would turn into simulated seconds. Virtual time starts afterwards.
    for _ in 0..2 {
        let _ = client.get(mock.crm_url()).send().await;
    }
    let clock = Clock::start(http.time_scale);
    mock.set_clock(clock);
    let mut driver = Driver::new(client, ep, clock, timeout, http.paced)?;
    let machine = Machine::new(cfg, engine::machine_rng(opts.seed));
    let feed = Feed::new(inputs, sc, opts.events, epoch, &template).map_err(HttpError::Sim)?;
    let total = feed.total();
    let mut rep = engine::new_report(spec, sc, opts, epoch, total, mock.state().model());
    rep.generation = feed.check(inputs, engine::test_now(spec), &template);
    rep.sources = feed.names().to_vec();
    rep.notes.push(format!(
        "over HTTP against the loopback mock CRM, time scale {} ({})",
        clock.scale(),
        if http.paced {
            format!(
                "an idle simulated second lasted {} ms; the clock stood still while bytes were on the wire",
                clock.real(1000).as_secs_f64() * 1000.0
            )
        } else {
            "wall clock".to_string()
        }
    ));
    let mut ledger = Ledger::new(mock.state().model(), engine::key_hint(&template, inputs));
    let mut traffic = Traffic::new(&feed, inputs, template, epoch);
    let mut obs = (&mut rep, (&mut ledger, sinks.watch(epoch, &feed)));
    let (now, machine) = if http.paced {
        let max_steps = engine::max_steps(opts, total, max_retries);
        let first = traffic.next_at();
        let mut vt = VirtualTime::new(machine, first, max_steps);
        paced(&mut vt, &mut driver, &mock, &mut traffic, &mut obs, clock)
            .await
            .map_err(|l| {
                HttpError::Sim(EngineError::Livelock {
                    steps: l.steps,
                    at: rfc3339(epoch, l.at),
                    seed: opts.seed,
                })
            })?;
        (vt.now(), vt.into_machine())
    } else {
        let mut machine = machine;
        let now = wall::drive(&mut driver, &mut machine, &mut traffic, &mut obs, 0, |_| {
            false
        })
        .await;
        (now, machine)
    };
    driver.finish_alerts().await;
    driver.shutdown();
    traffic.guard_error(opts.seed).map_err(HttpError::Sim)?;
    if driver.alert_failures > 0 {
        rep.notes.push(format!(
            "{} DLQ alert webhook call(s) failed",
            driver.alert_failures
        ));
    }
    let st = mock.state();
    fault_note(&mut rep, &st.tally);
    engine::throttle_notes(&mut rep, spec, st.model());
    rep.replay_set_back = engine::preview::set_back_rules_of(spec, inputs);
    ledger.finish(&mut rep, now, st.model(), &machine);
    Ok(rep)
}

/// The paced loop: [`VirtualTime`] with the wire as transport. Virtual time is paced on the real
/// clock from an anchor and stands still while a request is on the wire; every answer is
/// queued in the place its request took when it was sent, at its send time plus the latency the
/// model decided (read back from the mock), before the clock moves on. The sequence of
/// happenings is therefore the engine's, and so is the report.
async fn paced<O: Observer>(
    vt: &mut VirtualTime<ChaCha8Rng>,
    driver: &mut Driver,
    mock: &MockCrm,
    traffic: &mut Traffic<'_>,
    obs: &mut O,
    clock: Clock,
) -> Result<(), Livelock> {
    let timeout = driver.timeout();
    let mut anchor = (tokio::time::Instant::now(), 0u64);
    loop {
        if let Some(at) = vt.next_at().filter(|at| *at > anchor.1) {
            // Pacing is cosmetic here (answers carry their own virtual times), so
            // sub-millisecond waits, which the timer wheel would round up to a millisecond each,
            // are skipped; later waits absorb the difference.
            let due = anchor.0 + clock.real(at - anchor.1);
            if due > tokio::time::Instant::now() + Duration::from_millis(1) {
                tokio::time::sleep_until(due).await;
            }
        }
        if !vt.step(traffic, driver, obs)? {
            return Ok(());
        }
        driver.flush();
        while vt.is_waiting() {
            let Some(done) = driver.recv().await else {
                return Ok(());
            };
            // The latency the model decided, read back from the mock.
            let decided = |id: u64, _| mock.state().take_decision(id).flatten();
            match done.settle(decided, timeout, obs) {
                Heard::Answer { id, at, answer } => vt.answer(id, at, answer),
                Heard::Unanswered(id) => vt.unanswered(id),
                Heard::AlertFailed => driver.alert_failures += 1,
            }
            anchor = (tokio::time::Instant::now(), vt.now());
        }
    }
}

/// Says which wire faults the front carried out (the report's own counters say what the
/// machine saw).
fn fault_note(rep: &mut Report, t: &super::mock::Tally) {
    if t.resets + t.cut_responses + t.silences > 0 {
        rep.notes.push(format!(
            "on the wire: {} connection(s) reset before a response, {} response(s) cut mid-body, {} request(s) never answered",
            t.resets, t.cut_responses, t.silences
        ));
    }
}
