//! Time on the machine's floor: milliseconds since the run's epoch. The epoch (a wall-clock
//! instant handed in with the configuration) maps it to dates, for `Retry-After` HTTP dates and
//! for whoever writes dates out.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the run's epoch.
pub type Time = u64;

/// RFC 3339 (milliseconds, `Z`) of time `t` after `epoch`.
pub fn rfc3339(epoch: SystemTime, t: Time) -> String {
    let dt: DateTime<Utc> = (epoch + Duration::from_millis(t)).into();
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}
