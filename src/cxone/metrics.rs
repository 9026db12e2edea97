//! Channel metrics in the shape of the guide's metrics endpoint, rendered as a table with unicode
//! sparklines, and the spec's `alerts` thresholds evaluated against every data point.

use serde::Serialize;
use serde_json::Value;

use crate::spec::model::Alerts;

/// The metric names requested (`metrics=` of the guide's example).
pub const REQUESTED: &str = "throughput,latency,errorRate,dlqVolume,tokenRefreshCount";

/// The series shown, in order: response key and unit.
const SERIES: &[(&str, &str)] = &[
    ("throughput", ""),
    ("latencyP95", " ms"),
    ("errorRate", ""),
    ("dlqVolume", ""),
    ("tokenRefreshCount", ""),
];

/// One metric over the interval.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub metric: String,
    /// `(timestamp, value)`; a point without the metric is skipped.
    pub points: Vec<(String, f64)>,
    /// The alert threshold, if the spec sets one.
    pub threshold: Option<f64>,
    /// Timestamps of points above the threshold.
    pub breaches: Vec<String>,
}

/// The report of one metrics call.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub channel: String,
    pub interval: String,
    pub series: Vec<Series>,
}

impl Report {
    /// Whether any threshold was exceeded.
    pub fn breached(&self) -> bool {
        self.series.iter().any(|s| !s.breaches.is_empty())
    }
}

/// Builds the report from the endpoint's response and the spec's alerts.
pub fn report(channel: &str, interval: &str, body: &Value, alerts: Option<&Alerts>) -> Report {
    let points = body
        .get("dataPoints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let threshold = |m: &str| -> Option<f64> {
        let a = alerts?;
        match m {
            "dlqVolume" => a.dlq_volume.map(|x| x as f64),
            "tokenRefreshCount" => a.token_refresh_count.map(|x| x as f64),
            "errorRate" => a.error_rate,
            "latencyP95" => a.latency_p95_ms.map(|x| x as f64),
            _ => None,
        }
    };
    let series = SERIES
        .iter()
        .map(|(m, _)| {
            let pts: Vec<(String, f64)> = points
                .iter()
                .filter_map(|p| {
                    let v = p.get(*m)?.as_f64()?;
                    let t = p
                        .get("timestamp")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string();
                    Some((t, v))
                })
                .collect();
            let th = threshold(m);
            let breaches = match th {
                Some(t) => pts
                    .iter()
                    .filter(|(_, v)| *v > t)
                    .map(|(ts, _)| ts.clone())
                    .collect(),
                None => Vec::new(),
            };
            Series {
                metric: m.to_string(),
                points: pts,
                threshold: th,
                breaches,
            }
        })
        .collect();
    Report {
        channel: body
            .get("channelId")
            .and_then(Value::as_str)
            .unwrap_or(channel)
            .to_string(),
        interval: interval.to_string(),
        series,
    }
}

/// Eight-level unicode sparkline of `values`, scaled between their min and max.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    values
        .iter()
        .map(|v| {
            if hi <= lo {
                BARS[3]
            } else {
                let i = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                BARS[i.min(7)]
            }
        })
        .collect()
}

fn fmt(metric: &str, v: f64) -> String {
    match metric {
        "errorRate" => format!("{:.2}%", v * 100.0),
        "latencyP95" => format!("{v:.0} ms"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

/// Renders the report as a table.
pub fn render(r: &Report) -> String {
    let n = r.series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let mut s = format!(
        "channel {} · interval {} · {} data point{}",
        r.channel,
        r.interval,
        n,
        if n == 1 { "" } else { "s" }
    );
    if let Some(sr) = r.series.iter().find(|s| !s.points.is_empty()) {
        s.push_str(&format!(
            " · {} … {}",
            sr.points[0].0,
            sr.points[sr.points.len() - 1].0
        ));
    }
    s.push_str("\n\n");
    s.push_str(&format!(
        "{:<18} {:>10} {:>10} {:>10}  {:<24}  {}\n",
        "metric", "last", "min", "max", "trend", "alert"
    ));
    for se in &r.series {
        let vals: Vec<f64> = se.points.iter().map(|p| p.1).collect();
        if vals.is_empty() {
            s.push_str(&format!("{:<18} {:>10}\n", se.metric, "no data"));
            continue;
        }
        let min = vals.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let last = vals[vals.len() - 1];
        let spark: String = {
            let sp = sparkline(&vals);
            // Show the most recent 24 points.
            let chars: Vec<char> = sp.chars().collect();
            chars[chars.len().saturating_sub(24)..].iter().collect()
        };
        let alert = match se.threshold {
            None => String::new(),
            Some(t) if se.breaches.is_empty() => format!("ok (≤ {})", fmt(&se.metric, t)),
            Some(t) => format!(
                "BREACH > {} in {} interval{} (first {})",
                fmt(&se.metric, t),
                se.breaches.len(),
                if se.breaches.len() == 1 { "" } else { "s" },
                se.breaches[0]
            ),
        };
        s.push_str(&format!(
            "{:<18} {:>10} {:>10} {:>10}  {:<24}  {}\n",
            se.metric,
            fmt(&se.metric, last),
            fmt(&se.metric, min),
            fmt(&se.metric, max),
            spark,
            alert
        ));
    }
    s
}

/// The longest `--interval`: a year of days. (Years and months have no fixed length, so an
/// interval is written in weeks, days, hours, minutes and seconds.)
pub const MAX_INTERVAL_SECONDS: u64 = 366 * 86_400;

/// The seconds of a metrics interval, an ISO 8601 duration `P[nW][nD][T[nH][nM][nS]]` between
/// one second and [`MAX_INTERVAL_SECONDS`] (`PT1H`, `PT15M`, `P1D`, `P1DT12H`): the one check of
/// `cxsync metrics --interval` and of the mock hub. The error says what is wrong and what is
/// accepted.
pub fn interval_seconds(s: &str) -> Result<u64, String> {
    const FORMS: &str = "e.g. PT1H, PT15M, P1D: weeks (W) and days (D), then T and hours (H), minutes (M), seconds (S)";
    let bad = || format!("`{s}` is not an ISO 8601 duration ({FORMS})");
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return Err(bad()),
        None => (rest, ""),
    };
    if date.is_empty() && time.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    for (part, units) in [(date, "WD"), (time, "HMS")] {
        let mut digits = String::new();
        let mut last = None;
        for c in part.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if part == date && matches!(c, 'Y' | 'M') && !digits.is_empty() {
                return Err(format!(
                    "`{s}`: years and months have no fixed length; write the interval in weeks or days (at most P{}D)",
                    MAX_INTERVAL_SECONDS / 86_400
                ));
            }
            let Some(at) = units.find(c) else {
                return Err(bad());
            };
            // Each unit once, largest first, each with its number.
            if digits.is_empty() || last.is_some_and(|l| at <= l) {
                return Err(bad());
            }
            last = Some(at);
            let unit = match c {
                'W' => 7 * 86_400,
                'D' => 86_400,
                'H' => 3_600,
                'M' => 60,
                _ => 1,
            };
            let n: u64 = digits.parse().unwrap_or(u64::MAX);
            total = total.saturating_add(n.saturating_mul(unit));
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(bad());
        }
    }
    if total == 0 {
        return Err(format!(
            "`{s}`: an interval must be longer than zero (at least PT1S)"
        ));
    }
    if total > MAX_INTERVAL_SECONDS {
        return Err(format!(
            "`{s}` is longer than the longest interval, P{}D (a year)",
            MAX_INTERVAL_SECONDS / 86_400
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sparkline_spans_the_range() {
        assert_eq!(sparkline(&[0.0, 7.0, 3.5]), "▁█▅");
        assert_eq!(sparkline(&[2.0, 2.0]), "▄▄");
    }

    #[test]
    fn thresholds_breach_only_when_exceeded() {
        let body = json!({"dataPoints": [
            {"timestamp": "t1", "dlqVolume": 10, "errorRate": 0.01},
            {"timestamp": "t2", "dlqVolume": 11, "errorRate": 0.05}
        ]});
        let alerts = Alerts {
            dlq_volume: Some(10),
            error_rate: Some(0.05),
            ..Alerts::default()
        };
        let r = report("C", "PT1H", &body, Some(&alerts));
        assert!(r.breached());
        let dlq = r.series.iter().find(|s| s.metric == "dlqVolume").unwrap();
        assert_eq!(dlq.breaches, vec!["t2".to_string()]);
        let er = r.series.iter().find(|s| s.metric == "errorRate").unwrap();
        assert!(er.breaches.is_empty());
        assert!(!report("C", "PT1H", &body, None).breached());
    }

    #[test]
    fn intervals_are_iso_durations_within_a_year() {
        for (ok, secs) in [
            ("PT1H", 3600),
            ("PT15M", 900),
            ("P1D", 86_400),
            ("P1DT12H", 129_600),
            ("PT30S", 30),
            ("P2W", 1_209_600),
            ("P366D", 31_622_400),
        ] {
            assert_eq!(interval_seconds(ok), Ok(secs), "{ok}");
        }
        for bad in [
            "1h", "PT", "P", "PTH", "PT1X", "P1H", "PT1M1H", "PT1H1H", "P1DT",
        ] {
            let e = interval_seconds(bad).unwrap_err();
            assert!(
                e.contains("is not an ISO 8601 duration (e.g. PT1H"),
                "{bad}: {e}"
            );
        }
        for (bad, says) in [
            ("P100Y", "years and months"),
            ("P1M", "years and months"),
            ("PT0S", "longer than zero"),
            ("P367D", "longest interval"),
            ("P99999999999999999999999W", "longest interval"),
        ] {
            let e = interval_seconds(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
