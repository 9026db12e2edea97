//! Arrival times along a scenario's rate curve: event `k` of `n` arrives at the `(k + ½)/n`
//! quantile of the curve's mass, exactly.
//!
//! The curve is a piecewise-linear rate over `[0, duration]`: the points `{at, weight}` joined by
//! straight lines, flat before the first point and after the last (a curve without points is
//! flat). Its cumulative mass is piecewise quadratic, so the quantile is found by a binary search
//! over the segments and one quadratic solved in closed form, with no sampling grid: a burst a few
//! milliseconds wide in a 24-hour curve gets its arrivals inside those milliseconds. The instant
//! is rounded to the nearest millisecond.

use crate::delivery::Time;
use crate::sim::scenario::CurvePoint;

/// One linear piece of the rate: from `start` (ms) for `len` ms, weight `w0` rising to `w1`,
/// holding `before` mass ahead of it.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    len: f64,
    w0: f64,
    w1: f64,
    before: f64,
}

impl Segment {
    fn mass(&self) -> f64 {
        self.len * (self.w0 + self.w1) / 2.0
    }

    /// The offset into the segment where `r` of its mass lies behind: the root of
    /// `w0·x + s·x²/2 = r` with `s = (w1 − w0)/len`, in the form that stays exact when `s` is 0
    /// or the rate starts at 0 (no cancellation, no division by a tiny slope).
    fn offset_of(&self, r: f64) -> f64 {
        let s = (self.w1 - self.w0) / self.len;
        let disc = (self.w0 * self.w0 + 2.0 * s * r).max(0.0);
        let denom = self.w0 + disc.sqrt();
        if denom <= 0.0 {
            return 0.0;
        }
        (2.0 * r / denom).clamp(0.0, self.len)
    }
}

/// The arrival instants of `total` events along a rate curve.
#[derive(Debug, Clone)]
pub struct Curve {
    total: u64,
    duration: f64,
    segments: Vec<Segment>,
    mass: f64,
}

impl Curve {
    /// The curve of `points` over `[0, duration]` ms for `total` events. Negative weights count
    /// as 0; a curve with no mass at all is flat.
    pub fn new(total: u64, duration: Time, points: &[CurvePoint]) -> Curve {
        let d = duration as f64;
        let mut pts: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.at.ms() as f64, p.weight.max(0.0)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Breakpoints: the ends and every point strictly inside, each with the rate just before
        // and just after it (they differ where two points share an instant: a step).
        let mut cuts: Vec<(f64, f64, f64)> =
            vec![(0.0, left_rate(&pts, 0.0), right_rate(&pts, 0.0))];
        for &(t, _) in &pts {
            if t > 0.0 && t < d && cuts.last().is_none_or(|c| c.0 < t) {
                cuts.push((t, left_rate(&pts, t), right_rate(&pts, t)));
            }
        }
        cuts.push((d, left_rate(&pts, d), right_rate(&pts, d)));
        let mut segments = Vec::with_capacity(cuts.len());
        let mut before = 0.0;
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = b.0 - a.0;
            if len <= 0.0 {
                continue;
            }
            let seg = Segment {
                start: a.0,
                len,
                w0: a.2,
                w1: b.1,
                before,
            };
            before += seg.mass();
            segments.push(seg);
        }
        if !(before > 0.0 && before.is_finite()) || segments.is_empty() {
            // No mass (all weights 0) or no length: flat over the duration.
            segments = vec![Segment {
                start: 0.0,
                len: d.max(0.0),
                w0: 1.0,
                w1: 1.0,
                before: 0.0,
            }];
            before = d.max(0.0);
        }
        Curve {
            total: total.max(1),
            duration: d,
            segments,
            mass: before,
        }
    }

    /// The arrival instant of event `k` (`0 ≤ k < total`): the `(k + ½)/total` quantile of the
    /// curve's mass, rounded to the nearest millisecond.
    pub fn time_of(&self, k: u64) -> Time {
        if self.mass <= 0.0 {
            return 0;
        }
        let target = (k as f64 + 0.5) / self.total as f64 * self.mass;
        // The first segment whose end reaches the target and that holds mass.
        let i = self
            .segments
            .partition_point(|s| s.before + s.mass() < target)
            .min(self.segments.len() - 1);
        let seg = &self.segments[i];
        let t = seg.start + seg.offset_of(target - seg.before);
        t.round().clamp(0.0, self.duration) as Time
    }
}

/// The rate just before `t`: flat before the first point and after the last, linear between
/// points; at an instant several points share, the first of them.
fn left_rate(pts: &[(f64, f64)], t: f64) -> f64 {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return 1.0;
    };
    if t <= first.0 {
        return first.1;
    }
    if t > last.0 {
        return last.1;
    }
    let i = pts.partition_point(|p| p.0 < t);
    if pts[i].0 == t {
        return pts[i].1;
    }
    interpolate(pts[i - 1], pts[i], t)
}

/// The rate just after `t`; at an instant several points share, the last of them.
fn right_rate(pts: &[(f64, f64)], t: f64) -> f64 {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return 1.0;
    };
    if t < first.0 {
        return first.1;
    }
    if t >= last.0 {
        return last.1;
    }
    let j = pts.partition_point(|p| p.0 <= t) - 1;
    if pts[j].0 == t {
        return pts[j].1;
    }
    interpolate(pts[j], pts[j + 1], t)
}

fn interpolate(a: (f64, f64), b: (f64, f64), t: f64) -> f64 {
    a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Dur;

    fn pts(v: &[(u64, f64)]) -> Vec<CurvePoint> {
        v.iter()
            .map(|&(at, weight)| CurvePoint {
                at: Dur(at),
                weight,
            })
            .collect()
    }

    #[test]
    fn a_flat_curve_puts_event_k_at_its_exact_quantile_rounded_not_floored() {
        // 4 events over 220 s: (k + ½)/4 of 220,000 ms = 27.5, 82.5, 137.5, 192.5 s.
        let c = Curve::new(4, 220_000, &[]);
        let t: Vec<Time> = (0..4).map(|k| c.time_of(k)).collect();
        assert_eq!(t, [27_500, 82_500, 137_500, 192_500]);
        // 3 events over 100 ms: 16.67, 50, 83.33 ms round to 17, 50, 83 (flooring gave 16).
        let c = Curve::new(3, 100, &[]);
        assert_eq!((c.time_of(0), c.time_of(1), c.time_of(2)), (17, 50, 83));
        // 110,000 ms over 2 events: 27.5 s exactly, not 27.499.
        let c = Curve::new(2, 110_000, &[]);
        assert_eq!(c.time_of(0), 27_500);
    }

    #[test]
    fn a_ramp_inverts_its_quadratic_mass_exactly() {
        // Rate rising linearly from 0 to 1 over 1,000 ms: mass(t) = t²/2000, total 500.
        // Event k of 10: mass (k + ½)·50 → t = sqrt(2000·(k + ½)·50) = sqrt(100,000·(k + ½)).
        let c = Curve::new(10, 1_000, &pts(&[(0, 0.0), (1_000, 1.0)]));
        for k in 0..10 {
            let want = (100_000.0 * (k as f64 + 0.5)).sqrt().round() as Time;
            assert_eq!(c.time_of(k), want, "k = {k}");
        }
    }

    #[test]
    fn a_20_ms_spike_in_a_24_hour_curve_lands_where_it_is() {
        let day = 86_400_000;
        let at = 36_000_000; // 10:00
                             // Weight 1 all day, and 10^6 on a 20 ms plateau at 10:00 (steep 1 ms flanks).
        let curve = pts(&[
            (0, 1.0),
            (at - 1, 1.0),
            (at, 1e6),
            (at + 20, 1e6),
            (at + 21, 1.0),
            (day, 1.0),
        ]);
        let n = 100_000;
        let c = Curve::new(n, day, &curve);
        let spike: u64 = (0..n)
            .filter(|&k| (at - 1..=at + 21).contains(&c.time_of(k)))
            .count() as u64;
        // The spike holds 2e7 of about 1.064e8 mass: about 18.8 % of the events.
        let mass = day as f64 - 22.0 + 20.0 * 1e6 + 2.0 * (1e6 + 1.0) / 2.0;
        let want = ((20.0 * 1e6 + (1e6 + 1.0)) / mass * n as f64).round() as u64;
        assert!(spike.abs_diff(want) <= 2, "spike {spike}, want {want}");
        // Monotone, within the duration.
        let mut prev = 0;
        for k in 0..n {
            let t = c.time_of(k);
            assert!(t >= prev && t <= day, "k = {k}: {t} after {prev}");
            prev = t;
        }
    }

    #[test]
    fn a_jump_between_two_points_at_one_instant_is_a_step() {
        // Rate 1 for the first half, 3 for the second: a quarter of the events in the first half.
        let c = Curve::new(
            8,
            1_000,
            &pts(&[(0, 1.0), (500, 1.0), (500, 3.0), (1_000, 3.0)]),
        );
        let first_half = (0..8).filter(|&k| c.time_of(k) < 500).count();
        assert_eq!(first_half, 2);
        // Event 0 at mass 0.5/8 of 2,000 = 125 → t = 125 ms; event 2 at mass 625 → 500 + 125/3.
        assert_eq!(c.time_of(0), 125);
        assert_eq!(c.time_of(2), 542);
    }

    #[test]
    fn zero_weights_fall_back_to_flat_and_points_past_the_end_shape_the_slope() {
        let c = Curve::new(2, 1_000, &pts(&[(0, 0.0), (10_000, 0.0)]));
        assert_eq!((c.time_of(0), c.time_of(1)), (250, 750));
        // A point beyond the duration: the rate on [0, 1000] rises from 0 to 0.1, as a ramp.
        let c = Curve::new(1, 1_000, &pts(&[(0, 0.0), (10_000, 1.0)]));
        assert_eq!(c.time_of(0), (500_000.0_f64).sqrt().round() as Time);
    }
}
