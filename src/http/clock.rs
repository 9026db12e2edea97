//! The driver's clock: virtual milliseconds mapped onto the real (tokio) clock by a time scale.
//!
//! With scale `0.01` a simulated second lasts 10 ms. The machine never reads this clock: the
//! driver reads it and hands the result in, exactly as the virtual-time engine hands in its own.

use std::time::Duration;

use tokio::time::Instant;

use crate::delivery::Time;

/// Virtual time on a real clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    /// A clock whose virtual time 0 is now; `scale` real seconds per virtual second (> 0).
    pub fn start(scale: f64) -> Clock {
        Clock {
            start: Instant::now(),
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
        }
    }

    /// Real seconds per virtual second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Virtual milliseconds elapsed.
    pub fn now(&self) -> Time {
        (self.start.elapsed().as_secs_f64() * 1000.0 / self.scale) as Time
    }

    /// The real instant of virtual time `t`.
    pub fn instant(&self, t: Time) -> Instant {
        self.start + self.real(t)
    }

    /// The real length of `ms` virtual milliseconds.
    pub fn real(&self, ms: u64) -> Duration {
        Duration::from_secs_f64((ms as f64 / 1000.0 * self.scale).min(1e9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_second_lasts_ten_ms_at_scale_one_hundredth() {
        let c = Clock::start(0.01);
        assert_eq!(c.real(1000), Duration::from_millis(10));
        assert_eq!(c.instant(2000) - c.instant(0), Duration::from_millis(20));
        assert_eq!(
            Clock::start(0.0).scale(),
            1.0,
            "a zero scale falls back to real time"
        );
    }
}
