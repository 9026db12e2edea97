//! The one timed simulator run the simulator benches (`sim.rs`, `backlog.rs`) measure.

use std::time::Instant;

use cxsync::sim::engine::{self, Options, Sinks};
use cxsync::sim::report::Report;
use cxsync::sim::{inputs::Inputs, scenario::Scenario};
use cxsync::spec::Spec;

/// Runs `sc` on `spec` with `n` events and no sinks; the report and the wall time in ms.
pub fn timed_run(spec: &Spec, inputs: &Inputs, sc: &Scenario, n: u64) -> (Report, u128) {
    let opts = Options {
        events: Some(n),
        ..Options::default()
    };
    let t = Instant::now();
    let rep = Sinks::none(|s| engine::run(spec, inputs, sc, &opts, s)).expect("run completes");
    (rep, t.elapsed().as_millis())
}
