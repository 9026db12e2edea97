//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date. The wall-clock instant that
//! "now" corresponds to is handed in, so the parse is pure.

use std::time::{Duration, SystemTime};

/// The longest wait honoured; a larger header is clamped (a hostile or broken CRM must not park
/// an event for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` value into a wait from `now`. `None` for a value that is neither a
/// non-negative integer nor an HTTP-date (garbage is ignored, the backoff applies). A date in
/// the past is a wait of zero.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        // 2024-01-15T14:00:00Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200)
    }

    #[test]
    fn delta_seconds_are_read_as_a_wait() {
        assert_eq!(parse("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now()), Some(Duration::ZERO));
    }

    #[test]
    fn an_http_date_is_a_wait_until_that_instant() {
        assert_eq!(
            parse("Mon, 15 Jan 2024 14:01:30 GMT", now()),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn an_http_date_in_the_past_means_retry_now() {
        assert_eq!(
            parse("Mon, 15 Jan 2024 13:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_negative_and_fractional_values_are_ignored() {
        for v in [
            "",
            "soon",
            "-5",
            "1.5",
            "12s",
            "Mon, 99 Jan 2024 25:00:00 GMT",
        ] {
            assert_eq!(parse(v, now()), None, "{v:?}");
        }
    }

    #[test]
    fn absurd_values_are_clamped_to_a_day() {
        assert_eq!(
            parse("99999999999999999999999", now()),
            Some(MAX_RETRY_AFTER)
        );
    }
}
