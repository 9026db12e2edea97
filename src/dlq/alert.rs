//! The DLQ alert webhook body: what the Event Hub (and `cxsync sim`) POSTs to
//! `deadLetterQueue.alertEndpoint` for a window in which events were dead-lettered. The type is
//! the delivery machine's own ([`crate::delivery::alert`]), re-exported here: the machine sends
//! it, and this module summarises stored records into the same type. The format is documented in
//! `docs/dlq.md`; `schemas/dlq-alert.v1.json` is generated from it.

pub use crate::delivery::alert::{
    schema, status_label, Alert, AlertSample, Collector, Entry, Window, ALERT_SAMPLE, ALERT_VERSION,
};

use super::record::Record;

/// Summarises stored records as one alert made at `end`, with the collector the machine uses.
/// Returns `None` when there are none: an empty window sends no alert. Order of `records` does
/// not matter; a record whose `deadLetteredAt` is not a time is left out.
pub fn from_records(
    channel: &str,
    location: &str,
    threshold: Option<u64>,
    end: chrono::DateTime<chrono::Utc>,
    records: &[&Record],
) -> Option<Alert> {
    let mut c = Collector::default();
    for r in records {
        if let Some(at) = r.dead_lettered() {
            c.add(Entry {
                event_id: &r.event_id,
                event_type: &r.event_type,
                rule_id: &r.rule_id,
                reason: r.reason,
                last_status: r.last_status,
                at,
            });
        }
    }
    c.take(channel, location, threshold, end)
}
