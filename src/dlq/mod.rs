//! Dead-letter records: the format the Event Hub writes per failed event (see `docs/dlq.md`), and
//! reading, writing and replaying them.

pub mod record;
