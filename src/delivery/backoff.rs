//! Backoff and jitter as pure functions: the RNG is handed in, so a seed reproduces every delay
//! and the tests can pin exact sequences.

use rand_core::Rng;

use crate::spec::model::Jitter;

/// The retry policy's numbers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: f64,
    pub max: f64,
    pub multiplier: f64,
    pub jitter: Jitter,
}

impl Backoff {
    /// `min(max, initial × multiplier^(n−1))` for retry `n` (1-based), before jitter.
    pub fn base(&self, n: u32) -> f64 {
        let n = n.max(1);
        let exp = self.multiplier.powi((n - 1).min(i32::MAX as u32) as i32);
        let d = self.initial * exp;
        if d.is_finite() {
            d.min(self.max).max(0.0)
        } else {
            self.max.max(0.0)
        }
    }

    /// The delay before retry `n` with this policy's jitter. `prev` is the previous delay
    /// (decorrelated jitter grows from it; pass `initial` for the first retry).
    pub fn delay<R: Rng + ?Sized>(&self, n: u32, prev: f64, rng: &mut R) -> f64 {
        jitter(self.jitter, self.base(n), prev, self, rng)
    }
}

/// A uniform float in `[0, 1)` from 53 random bits.
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Applies a jitter mode to a base delay.
///
/// - `none`: the base delay;
/// - `full`: uniform in `[0, base]` (AWS "full jitter");
/// - `equal`: `base/2 + uniform[0, base/2]`;
/// - `decorrelated`: `min(max, uniform[initial, prev × 3])` (AWS "decorrelated jitter"), which
///   ignores the exponential base and grows from the previous delay instead.
pub fn jitter<R: Rng + ?Sized>(
    mode: Jitter,
    base: f64,
    prev: f64,
    b: &Backoff,
    rng: &mut R,
) -> f64 {
    match mode {
        Jitter::None => base,
        Jitter::Full => base * unit(rng),
        Jitter::Equal => base / 2.0 + (base / 2.0) * unit(rng),
        Jitter::Decorrelated => {
            let lo = b.initial;
            let hi = (prev.max(b.initial) * 3.0).max(lo);
            (lo + (hi - lo) * unit(rng)).min(b.max)
        }
    }
}

/// Seconds to whole milliseconds (rounded, saturating).
pub fn to_ms(secs: f64) -> u64 {
    if !secs.is_finite() || secs <= 0.0 {
        0
    } else {
        (secs * 1000.0).round().min(u64::MAX as f64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn guide(jitter: Jitter) -> Backoff {
        Backoff {
            initial: 2.0,
            max: 60.0,
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn without_jitter_the_guide_policy_doubles_from_two_seconds_and_caps_at_sixty() {
        let b = guide(Jitter::None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let seq: Vec<f64> = (1..=8).map(|n| b.delay(n, 0.0, &mut rng)).collect();
        assert_eq!(seq, vec![2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]);
    }

    #[test]
    fn a_multiplier_of_one_is_constant_backoff() {
        let b = Backoff {
            initial: 5.0,
            max: 60.0,
            multiplier: 1.0,
            jitter: Jitter::None,
        };
        assert_eq!(b.base(1), 5.0);
        assert_eq!(b.base(50), 5.0);
    }

    #[test]
    fn huge_retry_numbers_saturate_at_max_delay() {
        let b = guide(Jitter::None);
        assert_eq!(b.base(100_000), 60.0);
    }

    /// 200 delays of each retry 1..=10 all lie within `[low × base, base]`.
    fn assert_within(jitter: Jitter, low: f64) {
        let b = guide(jitter);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in 1..=10 {
            for _ in 0..200 {
                let d = b.delay(n, 0.0, &mut rng);
                assert!((b.base(n) * low..=b.base(n)).contains(&d), "retry {n}: {d}");
            }
        }
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_base_delay() {
        assert_within(Jitter::Full, 0.0);
    }

    #[test]
    fn equal_jitter_keeps_at_least_half_the_base_delay() {
        assert_within(Jitter::Equal, 0.5);
    }

    #[test]
    fn decorrelated_jitter_stays_between_initial_and_the_cap() {
        let b = guide(Jitter::Decorrelated);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut prev = b.initial;
        for n in 1..=50 {
            let d = b.delay(n, prev, &mut rng);
            assert!(
                d >= b.initial && d <= b.max && d <= prev * 3.0,
                "{d} after {prev}"
            );
            prev = d;
        }
    }

    #[test]
    fn full_jitter_actually_spreads_delays() {
        let b = guide(Jitter::Full);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let ds: Vec<f64> = (0..100).map(|_| b.delay(5, 0.0, &mut rng)).collect();
        let lo = ds.iter().cloned().fold(f64::MAX, f64::min);
        let hi = ds.iter().cloned().fold(0.0, f64::max);
        assert!(lo < 8.0 && hi > 24.0, "spread {lo}..{hi}");
    }
}
