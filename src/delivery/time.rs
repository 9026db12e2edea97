//! Time on the machine's floor: milliseconds since the run's epoch. The epoch (a wall-clock
//! instant handed in with the configuration) maps it to dates, for `Retry-After` HTTP dates and
//! for whoever writes dates out.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the run's epoch.
pub type Time = u64;

/// RFC 3339 (milliseconds, `Z`) of time `t` after `epoch`.
/// An instant outside what a date can say (the loaders keep epochs in 1970..9999 and times
/// within a week of them, so only a defect gets here) is written as the offset itself.
pub fn rfc3339(epoch: SystemTime, t: Time) -> String {
    let at = epoch
        .checked_add(Duration::from_millis(t))
        .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
        .and_then(|d| {
            DateTime::<Utc>::from_timestamp(i64::try_from(d.as_secs()).ok()?, d.subsec_nanos())
        });
    match at {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("epoch+{t}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_past_what_a_date_can_say_is_written_not_a_panic() {
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_327_200);
        assert_eq!(rfc3339(epoch, 1_500), "2024-01-15T14:00:01.500Z");
        assert_eq!(rfc3339(epoch, u64::MAX), format!("epoch+{}ms", u64::MAX));
        let before_1970 = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(rfc3339(before_1970, 0), "epoch+0ms");
    }
}
