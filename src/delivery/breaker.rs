//! The circuit breaker: opens after `failureThreshold` consecutive retryable failures, parks
//! every event (spending no attempts) while open, then lets one probe through half-open. The
//! probe's answer closes it or opens it again.

use super::Time;

/// The breaker's state. Time and request ids are handed in; the machine owns the timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Breaker {
    Closed { failures: u32 },
    Open { until: Time },
    HalfOpen { probe: Option<u64> },
}

impl Breaker {
    /// A closed breaker with no failures counted.
    pub(super) fn closed() -> Breaker {
        Breaker::Closed { failures: 0 }
    }

    /// Whether a request may be sent at `now`. An open breaker whose time is up turns half-open
    /// here; a half-open one admits only its single probe.
    pub(super) fn admit(&mut self, now: Time) -> bool {
        match *self {
            Breaker::Open { until } if now < until => false,
            Breaker::Open { .. } => {
                *self = Breaker::HalfOpen { probe: None };
                true
            }
            Breaker::HalfOpen { probe: Some(_) } => false,
            _ => true,
        }
    }

    /// Until when the breaker is open, if it is.
    pub(super) fn open_until(&self) -> Option<Time> {
        match *self {
            Breaker::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Request `req` was sent; half-open, it becomes the probe.
    pub(super) fn sent(&mut self, req: u64) {
        if let Breaker::HalfOpen { probe: None } = *self {
            *self = Breaker::HalfOpen { probe: Some(req) };
        }
    }

    /// A probe timer fired at `now`: if the open period is over, the next request probes. A
    /// timer set for an earlier open period (the breaker probed at its instant, failed and
    /// opened again before the timer fired) changes nothing.
    pub(super) fn probe_due(&mut self, now: Time) {
        if let Breaker::Open { until } = *self {
            if now >= until {
                *self = Breaker::HalfOpen { probe: None };
            }
        }
    }

    /// Counts the answer to request `req` (`failed`: it was a retryable failure). Returns
    /// `Some(until)` when this answer opened the breaker until `until`.
    pub(super) fn observe(
        &mut self,
        now: Time,
        req: u64,
        failed: bool,
        threshold: u32,
        open_ms: u64,
    ) -> Option<Time> {
        let until = now.saturating_add(open_ms);
        let (next, opened) = match *self {
            Breaker::Closed { failures } if failed => {
                if failures + 1 >= threshold {
                    (Breaker::Open { until }, true)
                } else {
                    (
                        Breaker::Closed {
                            failures: failures + 1,
                        },
                        false,
                    )
                }
            }
            Breaker::Closed { .. } => (Breaker::closed(), false),
            Breaker::HalfOpen { probe: Some(p) } if p == req => {
                if failed {
                    (Breaker::Open { until }, true)
                } else {
                    (Breaker::closed(), false)
                }
            }
            other => (other, false),
        };
        *self = next;
        opened.then_some(until)
    }
}
