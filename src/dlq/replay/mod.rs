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

mod batch;
mod evaluate;
mod run;
mod select;
mod set_back;
mod shared_key;
mod sink;

pub use batch::{check_whole, units, BatchId, Unit};
pub use evaluate::{render_key, Evaluation, Problem, Replayer};
pub use run::{replay, replay_until, Disposition, Marker, ReplayOptions, Replayed};
pub use select::{foreign_channels, foreign_destinations, unmatched, ForeignDestination};
pub use set_back::set_back_warning;
pub use shared_key::{hold_back_duplicates, refusal, shared_keys, SharedKey};
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

        fn submit_batch(&mut self, members: &[(usize, Delivery<'_>)], _key: &str) {
            for (tag, d) in members {
                self.submit(*tag, d);
            }
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
        let (replayer, _dir, store, records) = fixture_store().await;
        for rec in &records {
            store.put_record(rec).await.unwrap();
        }
        let opts = ReplayOptions {
            purge: false,
            now: Utc::now(),
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

    /// A CRM that deduplicates on the key header: a request whose key it holds writes nothing
    /// (answered 200), any other writes each of its records. It counts the writes of each
    /// event and remembers every request.
    #[derive(Default)]
    struct HeaderDedupCrm {
        seen: std::collections::BTreeSet<String>,
        writes: std::collections::BTreeMap<String, u32>,
        requests: Vec<(String, Vec<String>)>,
        answered: Vec<(usize, SinkOutcome)>,
    }

    impl HeaderDedupCrm {
        fn post(&mut self, key: &str, events: &[&str]) -> SinkOutcome {
            self.requests.push((
                key.to_string(),
                events.iter().map(|e| e.to_string()).collect(),
            ));
            if !self.seen.insert(key.to_string()) {
                return SinkOutcome::Delivered { status: 200 };
            }
            for e in events {
                *self.writes.entry(e.to_string()).or_default() += 1;
            }
            SinkOutcome::Delivered { status: 201 }
        }
    }

    impl ReplaySink for HeaderDedupCrm {
        fn window(&self) -> usize {
            4
        }

        fn submit(&mut self, tag: usize, d: &Delivery<'_>) {
            let o = self.post(d.idempotency_key, &[d.event_id]);
            self.answered.push((tag, o));
        }

        fn submit_batch(&mut self, members: &[(usize, Delivery<'_>)], key: &str) {
            let events: Vec<&str> = members.iter().map(|(_, d)| d.event_id).collect();
            let o = self.post(key, &events);
            for (tag, _) in members {
                self.answered.push((*tag, o.clone()));
            }
        }

        async fn settled(&mut self) -> Vec<(usize, SinkOutcome)> {
            std::mem::take(&mut self.answered)
        }
    }

    async fn fixture_store() -> (
        Replayer,
        tempfile::TempDir,
        Store,
        Vec<crate::dlq::record::Record>,
    ) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let opts = crate::spec::LoadOptions {
            vars: [("CRM_CLIENT_SECRET".to_string(), "s3cr3t-value".to_string())].into(),
            ..Default::default()
        };
        let spec = crate::spec::load(&root.join("fixtures/dlq/fixed.yaml"), &opts)
            .spec
            .expect("fixture spec loads");
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
        let mut records = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(day)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let rec = crate::dlq::inspect::parse_record(&std::fs::read(f).unwrap()).unwrap();
            records.push(rec);
        }
        (replayer, dir, store, records)
    }

    /// Makes `members` one batch dead-lettered at one instant.
    fn batched(members: &mut [&mut crate::dlq::record::Record], maybe_applied: bool) -> String {
        let key = crate::delivery::idempotency::batch_key(
            members.iter().map(|r| r.idempotency_key.clone().unwrap()),
        );
        let at = members[0].dead_lettered_at.clone();
        let size = members.len() as u32;
        for (i, r) in members.iter_mut().enumerate() {
            r.dead_lettered_at.clone_from(&at);
            r.batch = Some(crate::dlq::record::Batch {
                idempotency_key: key.clone(),
                index: i as u32,
                size,
                maybe_applied,
            });
        }
        key
    }

    /// #211: a batch the CRM wrote but answered 503 (or timed out on) is replayed whole with the
    /// key the CRM saw, so a CRM that deduplicates on the header writes nothing again; a batch
    /// the CRM refused (413) replays its events alone with their own keys. Either way, after
    /// the replay each record is written exactly once, and a second replay sends nothing.
    #[tokio::test]
    async fn a_batch_the_crm_may_hold_is_replayed_whole_and_each_record_written_once() {
        let (replayer, _dir, store, mut records) = fixture_store().await;
        // The records the fixed spec delivers: 2003–2006 and 2001.
        let ok: Vec<usize> = (0..records.len())
            .filter(|&i| {
                let f = crate::dlq::inspect::Found {
                    key: String::new(),
                    record: records[i].clone(),
                    replayed: false,
                };
                replayer.evaluate(&f).deliverable()
            })
            .collect();
        assert!(ok.len() >= 5, "{ok:?}");
        let mut crm = HeaderDedupCrm::default();
        let (a, b) = ok.split_at(3);
        let mut picked: Vec<&mut crate::dlq::record::Record> = records
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| a.contains(i))
            .map(|(_, r)| r)
            .collect();
        let applied = batched(&mut picked, true);
        let events: Vec<String> = picked.iter().map(|r| r.event_id.clone()).collect();
        // The hub's first attempt: written, the answer lost.
        crm.post(
            &applied,
            &events.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let mut refused: Vec<&mut crate::dlq::record::Record> = records
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| b.contains(i))
            .map(|(_, r)| r)
            .collect();
        batched(&mut refused, false);
        for r in &records {
            store.put_record(r).await.unwrap();
        }
        let opts = ReplayOptions {
            purge: false,
            now: Utc::now(),
            max_consecutive_failures: None,
        };
        for run in 0..2 {
            let scan = crate::dlq::inspect::scan(&store).await.unwrap();
            let mut evals: Vec<Evaluation> =
                scan.records.iter().map(|f| replayer.evaluate(f)).collect();
            check_whole(&mut evals, &scan.records);
            let before = crm.requests.len();
            replay(&store, &replayer, &evals, &mut crm, &opts).await;
            if run == 1 {
                assert_eq!(
                    crm.requests.len(),
                    before,
                    "the second replay sends nothing"
                );
            }
        }
        let want: std::collections::BTreeMap<String, u32> = ok
            .iter()
            .map(|&i| (records[i].event_id.clone(), 1))
            .collect();
        assert_eq!(crm.writes, want, "{:?}", crm.requests);
        // The batch went once, whole, with its key; the refused batch's events alone.
        let whole: Vec<&(String, Vec<String>)> =
            crm.requests.iter().filter(|(k, _)| *k == applied).collect();
        assert_eq!(whole.len(), 2, "the hub's attempt and the replay's");
        assert_eq!(whole[1].1, events);
        for &i in b {
            let own = records[i].idempotency_key.clone().unwrap();
            assert!(crm
                .requests
                .iter()
                .any(|(k, e)| *k == own && e == &vec![records[i].event_id.clone()]));
        }
    }

    /// A batch to re-send whole with a member missing from the DLQ, or left out by a filter,
    /// is not sent at all (each present member says why); whole, it is one delivery.
    #[tokio::test]
    async fn a_batch_to_resend_whole_is_sent_only_whole() {
        let (replayer, _dir, store, mut records) = fixture_store().await;
        let mut picked: Vec<&mut crate::dlq::record::Record> = records.iter_mut().take(3).collect();
        batched(&mut picked, true);
        let ids: Vec<String> = picked.iter().map(|r| r.event_id.clone()).collect();
        // The last member is gone from the DLQ.
        for r in records.iter().filter(|r| r.event_id != ids[2]) {
            store.put_record(r).await.unwrap();
        }
        let scan = crate::dlq::inspect::scan(&store).await.unwrap();
        let mut evals: Vec<Evaluation> =
            scan.records.iter().map(|f| replayer.evaluate(f)).collect();
        check_whole(&mut evals, &scan.records);
        for e in evals.iter().filter(|e| ids.contains(&e.event_id)) {
            let text: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
            assert!(
                text.iter()
                    .any(|t| t.contains("its place(s) 3 of 3 are not in the DLQ")),
                "{text:?}"
            );
        }
        assert!(units(&evals).iter().all(|u| matches!(u, Unit::One(_))));
        // With every member there but one left out by a filter.
        store.put_record(&records[2]).await.unwrap();
        let scan = crate::dlq::inspect::scan(&store).await.unwrap();
        let mut evals: Vec<Evaluation> = scan
            .records
            .iter()
            .filter(|f| f.record.event_id != ids[0])
            .map(|f| replayer.evaluate(f))
            .collect();
        check_whole(&mut evals, &scan.records);
        let e = evals.iter().find(|e| e.event_id == ids[1]).unwrap();
        assert!(
            e.problems
                .iter()
                .any(|p| p.to_string().contains("the filters leave out")),
            "{:?}",
            e.problems
        );
        // Whole: one unit of the three, in their order.
        let mut evals: Vec<Evaluation> =
            scan.records.iter().map(|f| replayer.evaluate(f)).collect();
        check_whole(&mut evals, &scan.records);
        let batches: Vec<Vec<String>> = units(&evals)
            .into_iter()
            .filter_map(|u| match u {
                Unit::Batch { members, .. } => {
                    Some(members.iter().map(|&i| evals[i].event_id.clone()).collect())
                }
                Unit::One(_) => None,
            })
            .collect();
        let problems: Vec<(&str, &Vec<Problem>)> = evals
            .iter()
            .map(|e| (e.event_id.as_str(), &e.problems))
            .collect();
        assert_eq!(batches, vec![ids.clone()], "{problems:?}");
    }
}
