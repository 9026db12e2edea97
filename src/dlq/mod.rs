//! Dead-letter records: the format the Event Hub writes per failed event (see `docs/dlq.md`), the
//! alert webhook body, and reading, writing and replaying records in a folder or an S3 bucket.
//!
//! `record` and `alert` are the formats (schemas generated from them), `store` is the one code
//! path over `object_store` for folders and S3, `inspect` scans, filters and counts, and `replay`
//! re-runs original events through the current spec and delivers them with their original keys;
//! `render` is what `cxsync dlq` prints.

pub mod alert;
pub mod inspect;
pub mod record;
pub mod render;
pub mod replay;
pub mod store;
