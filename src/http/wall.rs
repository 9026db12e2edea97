//! The wall-clock form of the one driver loop (`--target`, `sim --http` unpaced, the benchmark,
//! DLQ replay): arrivals at their scheduled instants, timers at their deadlines, results handed
//! back at the clock's reading when they arrive, requests overlapping up to the hub's
//! concurrency. This is how a real Event Hub meets a real CRM.

use rand_chacha::ChaCha8Rng;

use super::driver::Driver;
use crate::delivery::drive::{drain, Arrivals, Observer};
use crate::delivery::{Machine, Time};

/// Drives `machine` from virtual time `start` until nothing is left to do or `stop` says so
/// (checked after every drain). Returns the virtual time it ended at.
pub async fn drive<A, O>(
    driver: &mut Driver,
    machine: &mut Machine<ChaCha8Rng>,
    arrivals: &mut A,
    obs: &mut O,
    start: Time,
    stop: impl Fn(&O) -> bool,
) -> Time
where
    A: Arrivals<ChaCha8Rng>,
    O: Observer,
{
    let mut now = start;
    loop {
        if arrivals.next_at().is_none() {
            machine.handle_arrivals_done(now);
        }
        drain(machine, now, driver, obs, |_, _| {});
        driver.flush();
        if stop(obs) {
            break;
        }
        let next = match (machine.poll_timeout(), arrivals.next_at()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        if let Some(done) = driver.next_before(next).await {
            now = now.max(driver.clock().now());
            driver.complete(done, machine, obs, now, None);
            continue;
        }
        // The deadline passed: hand in its scheduled instant, not the (later) clock reading.
        now = now.max(next);
        while arrivals.next_at().is_some_and(|at| at <= now) {
            arrivals.arrive(now, machine, obs);
        }
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }
    now
}
