//! Replay: re-run each record's original event through the spec's current rules and transform,
//! judge the new payload (target schema, size guard, idempotency key), and deliver it with the
//! record's original idempotency key.
//!
//! Delivery goes through [`DriverSink`]: the real HTTP driver of [`crate::http`] driving the
//! simulator's delivery machine, so the spec's retry policy, `Retry-After`, token cache and
//! refresh, and timeouts apply to a replay exactly as to the Event Hub's first attempt, and the
//! record's original key rides on every attempt.
//!
//! The guarantee is at-least-once with the original key: a record's `.replayed` marker is written
//! only after the machine reported the record delivered (a 2xx), and as soon as it is (up to the
//! hub's concurrency are in flight at once), so a crash between the answer and the marker resends the
//! same payload with the same key on resume, and a CRM that honours the key applies it once.
//! Writing the marker first would turn that window into silent loss, which is what a DLQ exists
//! to prevent.

mod evaluate;
mod run;
mod select;
mod sink;

pub use evaluate::{render_key, Evaluation, Problem, Replayer};
pub use run::{replay, replay_until, Disposition, Marker, ReplayOptions, Replayed};
pub use select::{foreign_channels, foreign_destinations, unmatched, ForeignDestination};
pub use sink::{check_url, Delivery, DriverSink, ReplaySink, SinkOutcome, SinkSetupError};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlq::store::Store;
    use chrono::Utc;

    /// A CRM that takes `accept` deliveries, then fails every one; it remembers the keys it took.
    struct FlakySink {
        accept: usize,
        taken: Vec<String>,
        window: usize,
        answered: Vec<(usize, SinkOutcome)>,
        most_in_flight: usize,
    }

    impl FlakySink {
        fn new(accept: usize, window: usize) -> FlakySink {
            FlakySink {
                accept,
                taken: Vec::new(),
                window,
                answered: Vec::new(),
                most_in_flight: 0,
            }
        }
    }

    impl ReplaySink for FlakySink {
        fn window(&self) -> usize {
            self.window
        }

        fn submit(&mut self, tag: usize, d: &Delivery<'_>) {
            let outcome = if self.taken.len() < self.accept {
                self.taken.push(d.idempotency_key.to_string());
                SinkOutcome::Delivered { status: 201 }
            } else {
                SinkOutcome::Failed {
                    error: "connection reset".into(),
                }
            };
            self.answered.push((tag, outcome));
            self.most_in_flight = self.most_in_flight.max(self.answered.len());
        }

        async fn settled(&mut self) -> Vec<(usize, SinkOutcome)> {
            // The latest answer first: settling out of order must not matter.
            let mut all = std::mem::take(&mut self.answered);
            all.reverse();
            all
        }
    }

    #[tokio::test]
    async fn a_sink_failing_after_k_records_resumes_without_duplicates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let opts = crate::spec::LoadOptions {
            vars: [("CRM_CLIENT_SECRET".to_string(), "s3cr3t-value".to_string())].into(),
            ..Default::default()
        };
        let loaded = crate::spec::load(&root.join("fixtures/dlq/fixed.yaml"), &opts);
        let spec = loaded.spec.expect("fixture spec loads");
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-16T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let replayer = Replayer::new(&spec, None, now).unwrap_or_else(|d| panic!("{d:?}"));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &crate::dlq::store::Source::Folder(dir.path().into()),
            &Default::default(),
        )
        .unwrap();
        let day =
            root.join("fixtures/dlq/store/cxone-eventhub-dlq-prod/crm-sync-failed/2024/01/15");
        for e in std::fs::read_dir(day).unwrap() {
            let rec = crate::dlq::inspect::parse_record(&std::fs::read(e.unwrap().path()).unwrap())
                .unwrap();
            store.put_record(&rec).await.unwrap();
        }
        let opts = ReplayOptions {
            purge: false,
            now,
            max_consecutive_failures: None,
        };
        let mut taken = Vec::new();
        for (accept, window) in [(2, 3), (1, 1), (10, 4)] {
            let scan = crate::dlq::inspect::scan(&store).await.unwrap();
            let evals: Vec<Evaluation> =
                scan.records.iter().map(|f| replayer.evaluate(f)).collect();
            let mut sink = FlakySink::new(accept, window);
            let results = replay(&store, &replayer, &evals, &mut sink, &opts).await;
            // Results come back in record order, whatever order the sink settled them in.
            let ids: Vec<&String> = results.iter().map(|r| &r.0).collect();
            let want: Vec<&String> = evals.iter().map(|e| &e.event_id).collect();
            assert_eq!(ids, want);
            assert!(sink.most_in_flight <= window);
            taken.extend(sink.taken);
        }
        let unique: std::collections::BTreeSet<&String> = taken.iter().collect();
        assert_eq!(taken.len(), 5, "{taken:?}");
        assert_eq!(unique.len(), 5, "a key was delivered twice: {taken:?}");
    }
}
