//! Where DLQ records live: a local folder or an S3 bucket, both through `object_store`, so list,
//! read, write and delete are one code path whatever the source.
//!
//! A store is rooted at the DLQ's `bucketName`/`prefix`: `s3://<bucket>/<prefix>` on S3, and
//! `<dir>/<bucketName>/<prefix>` in a folder (the layout `cxsync sim --dlq-dir <dir>` writes).
//! Below the root a record's key is `YYYY/MM/DD/<eventId>.json` (the UTC date it was
//! dead-lettered) and its replay marker is the same key plus `.replayed`. Reading tolerates a
//! folder pointed at anywhere above the root: every `*.json` below it is a record.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::record::Record;
use crate::spec::model::DeadLetterQueue;

/// Suffix of a record's replay marker object.
pub const MARKER_SUFFIX: &str = ".replayed";

/// Largest record read, in bytes: a DLQ of `PAYLOAD_TOO_LARGE` events holds big objects, but a
/// record past this is not one cxsync wrote.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// Records fetched at once from a remote store.
const FETCH_CONCURRENCY: usize = 16;

/// A store that could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SOURCE argument is neither a folder nor `s3://bucket[/prefix]`.
    #[error("`{source_arg}` is not a DLQ source: {why}")]
    BadSource { source_arg: String, why: String },
    /// A folder source that does not exist.
    #[error("folder `{0}` does not exist")]
    NoFolder(PathBuf),
    /// A plain-http endpoint that is not on loopback.
    #[error("refusing plain http endpoint `{0}`: http is allowed only on loopback (127.0.0.1, ::1, localhost); use https")]
    InsecureEndpoint(String),
    /// A malformed endpoint URL.
    #[error("endpoint `{endpoint}` is not a URL: {why}")]
    BadEndpoint { endpoint: String, why: String },
    /// The object store failed (network, permissions, missing bucket, I/O). `message` is the
    /// store's error chain, flattened: object_store repeats each cause inside its parent.
    #[error("{location}: {message}")]
    Backend {
        location: String,
        message: String,
        /// Whether the object was not there.
        not_found: bool,
    },
    /// Local I/O outside the object store (creating the root folder, the blocking runtime).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A record too large to be one cxsync wrote.
    #[error("{key}: {size} bytes is over the {MAX_RECORD_BYTES}-byte record limit")]
    TooLarge { key: String, size: u64 },
    /// A record that could not be serialized.
    #[error("record {event_id}: {source}")]
    Encode {
        event_id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A parsed SOURCE argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local folder.
    Folder(PathBuf),
    /// `s3://bucket/prefix` (prefix without leading or trailing `/`, possibly empty).
    S3 { bucket: String, prefix: String },
}

impl Source {
    /// Parses `s3://bucket[/prefix]` or a folder path.
    pub fn parse(arg: &str) -> Result<Source, StoreError> {
        let bad = |why: &str| StoreError::BadSource {
            source_arg: arg.to_string(),
            why: why.to_string(),
        };
        if let Some(rest) = arg.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name after `s3://`"));
            }
            return Ok(Source::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = arg.split_once("://") {
            return Err(bad(&format!(
                "`{scheme}://` is not supported; use a folder or s3://bucket/prefix"
            )));
        }
        if arg.is_empty() {
            return Err(bad("empty path"));
        }
        Ok(Source::Folder(PathBuf::from(arg)))
    }
}

/// One object below a store's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Key relative to the root, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A DLQ location: an object store and the root records are written below.
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: Path,
    display: String,
    /// A runtime for the blocking helpers when called outside tokio (created on first use).
    rt: Mutex<Option<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.display)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a source for reading and writing. `vars` are the process environment (the AWS
    /// variables are read from it; nothing from it is ever printed). A folder must exist.
    pub fn open(source: &Source, vars: &BTreeMap<String, String>) -> Result<Store, StoreError> {
        match source {
            Source::Folder(dir) => {
                if !dir.is_dir() {
                    return Err(StoreError::NoFolder(dir.clone()));
                }
                Store::folder(dir, Path::default(), dir.display().to_string())
            }
            Source::S3 { bucket, prefix } => Store::s3(bucket, prefix, vars),
        }
    }

    /// The store `cxsync sim --dlq-dir DIR` writes: `DIR/<bucketName>/<prefix>`, created if
    /// missing. A DLQ without a bucket name uses `dlq`.
    pub fn for_dlq_dir(dir: &FsPath, dlq: &DeadLetterQueue) -> Result<Store, StoreError> {
        let bucket = dlq.bucket_name.as_deref().unwrap_or("dlq");
        let prefix = dlq.prefix.as_deref().unwrap_or("").trim_matches('/');
        let mut root = dir.join(bucket);
        for part in prefix.split('/').filter(|p| !p.is_empty()) {
            root.push(part);
        }
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Io {
            context: format!("cannot create {}", root.display()),
            source,
        })?;
        Store::folder(&root, Path::default(), root.display().to_string())
    }

    fn folder(dir: &FsPath, root: Path, display: String) -> Result<Store, StoreError> {
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| backend_error(&display, &e))?
            // Deleting the last record of a day also removes its empty day folders.
            .with_automatic_cleanup(true);
        Ok(Store {
            inner: Arc::new(fs),
            root,
            display,
            rt: Mutex::new(None),
        })
    }

    fn s3(
        bucket: &str,
        prefix: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Store, StoreError> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        // Client options first: `with_client_options` replaces them wholesale, so the AWS_* client
        // keys and allow_http below must come after it.
        let mut b = AmazonS3Builder::new().with_client_options(
            object_store::ClientOptions::new()
                .with_timeout(Duration::from_secs(60))
                .with_connect_timeout(Duration::from_secs(10)),
        );
        for (k, v) in vars {
            // AWS_ALLOW_HTTP is decided below from the endpoint, never by the caller.
            if !k.starts_with("AWS_") || k == "AWS_ALLOW_HTTP" {
                continue;
            }
            if let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                b = b.with_config(key, v);
            }
        }
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .iter()
            .find_map(|k| vars.get(*k).filter(|v| !v.is_empty()));
        let mut allow_http = false;
        if let Some(ep) = endpoint {
            allow_http = endpoint_needs_http(ep)?;
        }
        if !vars.contains_key("AWS_REGION") && !vars.contains_key("AWS_DEFAULT_REGION") {
            b = b.with_region("us-east-1");
        }
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let display = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let s3 = b
            .with_bucket_name(bucket)
            .with_allow_http(allow_http)
            .with_retry(retry)
            .build()
            .map_err(|e| backend_error(&display, &e))?;
        Ok(Store {
            inner: Arc::new(s3),
            root: Path::from(prefix),
            display,
            rt: Mutex::new(None),
        })
    }

    /// The location as the user would write it (a folder path or `s3://bucket/prefix`).
    pub fn location(&self) -> &str {
        &self.display
    }

    fn full(&self, key: &str) -> Path {
        let rel = Path::from(key);
        Path::from_iter(self.root.parts().chain(rel.parts()))
    }

    fn backend(&self, key: &str, e: object_store::Error) -> StoreError {
        backend_error(&join_display(&self.display, key), &e)
    }

    /// Every object below the root, sorted by key.
    pub async fn list(&self) -> Result<Vec<Entry>, StoreError> {
        let prefix = if self.root.as_ref().is_empty() {
            None
        } else {
            Some(&self.root)
        };
        let metas: Vec<_> = self
            .inner
            .list(prefix)
            .try_collect()
            .await
            .map_err(|e| self.backend("", e))?;
        let mut out: Vec<Entry> = metas
            .into_iter()
            .filter_map(|m| {
                let rel: Vec<PathPart<'_>> = m.location.prefix_match(&self.root)?.collect();
                let key = Path::from_iter(rel).to_string();
                Some(Entry { key, size: m.size })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The bytes of one object.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let r = self
            .inner
            .get(&self.full(key))
            .await
            .map_err(|e| self.backend(key, e))?;
        if r.meta.size > MAX_RECORD_BYTES {
            return Err(StoreError::TooLarge {
                key: key.to_string(),
                size: r.meta.size,
            });
        }
        let bytes = r.bytes().await.map_err(|e| self.backend(key, e))?;
        Ok(bytes.to_vec())
    }

    /// Fetches many objects concurrently, in the order of `keys`.
    pub async fn get_many(&self, keys: &[String]) -> Vec<Result<Vec<u8>, StoreError>> {
        futures::stream::iter(keys.iter())
            .map(|k| self.get(k))
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await
    }

    /// Writes one object (atomically: a reader sees the old object or the new one).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner
            .put(&self.full(key), PutPayload::from(bytes))
            .await
            .map_err(|e| self.backend(key, e))?;
        Ok(())
    }

    /// Deletes one object; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&self.full(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend(key, e)),
        }
    }

    /// Writes a record at its key ([`record_key`]) and returns the key.
    pub async fn put_record(&self, rec: &Record) -> Result<String, StoreError> {
        let key = record_key(rec).to_string();
        let mut bytes = serde_json::to_vec_pretty(rec).map_err(|source| StoreError::Encode {
            event_id: rec.event_id.clone(),
            source,
        })?;
        bytes.push(b'\n');
        self.put(&key, bytes).await?;
        Ok(key)
    }

    /// Runs a store future from blocking code: inside a multi-threaded tokio runtime it blocks in
    /// place; outside any runtime it uses one of its own.
    pub fn block_on<F: Future>(&self, f: F) -> Result<F::Output, StoreError> {
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                return Ok(tokio::task::block_in_place(|| h.block_on(f)));
            }
            return Err(StoreError::Io {
                context: "blocking store call".into(),
                source: std::io::Error::other(
                    "called from a current-thread tokio runtime; await the async method instead",
                ),
            });
        }
        let mut guard = self.rt.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| StoreError::Io {
                    context: "cannot start the store runtime".into(),
                    source,
                })?;
            *guard = Some(rt);
        }
        let rt = guard.as_ref().expect("runtime was just set");
        Ok(rt.block_on(f))
    }
}

/// The key of a record below a store's root: `YYYY/MM/DD/<ruleId>/<eventId>.json`, the UTC date
/// of `deadLetteredAt` (`0000/00/00` when it is not a time), the rule and the event id encoded by
/// [`encode_id`]. The layout is [`crate::delivery::alert::record_key`]'s, which alerts name records
/// by. Records written before the rule was part of the key (`YYYY/MM/DD/<eventId>.json`) are still
/// read, listed, shown and replayed where they are: readers take every `*.json` below the root.
pub fn record_key(rec: &Record) -> Path {
    let key = crate::delivery::alert::record_key(rec.dead_lettered(), &rec.rule_id, &rec.event_id);
    Path::from_iter(key.split('/').map(|p| PathPart::from(p.to_string())))
}

pub use crate::delivery::alert::encode_id;

/// Writes one record to a store from blocking code (the simulator's `--dlq-dir`); returns its
/// key. From async code use [`Store::put_record`].
pub fn write_record(store: &Store, rec: &Record) -> Result<String, StoreError> {
    store.block_on(store.put_record(rec))?
}

/// Whether an endpoint needs plain http (allowed on loopback only, [`crate::net`]).
fn endpoint_needs_http(ep: &str) -> Result<bool, StoreError> {
    use crate::net::UrlError;
    match crate::net::require_https_or_loopback(ep) {
        Ok(url) => Ok(url.scheme() == "http"),
        Err(UrlError::PlainHttp { .. }) => Err(StoreError::InsecureEndpoint(ep.to_string())),
        Err(UrlError::Scheme { scheme, .. }) => Err(StoreError::BadEndpoint {
            endpoint: ep.to_string(),
            why: format!("scheme `{scheme}` is not http or https"),
        }),
        Err(e) => Err(StoreError::BadEndpoint {
            endpoint: ep.to_string(),
            why: e.to_string(),
        }),
    }
}

/// A store error with its cause chain flattened into one line, each cause once.
fn backend_error(location: &str, e: &object_store::Error) -> StoreError {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        if !parts.last().is_some_and(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        cur = err.source();
    }
    StoreError::Backend {
        location: location.to_string(),
        message: parts.join(": "),
        not_found: matches!(e, object_store::Error::NotFound { .. }),
    }
}

fn join_display(root: &str, key: &str) -> String {
    if key.is_empty() {
        root.to_string()
    } else {
        format!("{}/{}", root.trim_end_matches('/'), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_sources_split_bucket_and_prefix() {
        assert_eq!(
            Source::parse("s3://b/crm-sync-failed/").unwrap(),
            Source::S3 {
                bucket: "b".into(),
                prefix: "crm-sync-failed".into()
            }
        );
        assert_eq!(
            Source::parse("s3://b").unwrap(),
            Source::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert!(Source::parse("s3://").is_err());
        assert!(Source::parse("gs://b/p").is_err());
        assert_eq!(
            Source::parse("out/dlq").unwrap(),
            Source::Folder("out/dlq".into())
        );
    }

    #[test]
    fn event_ids_encode_to_one_safe_segment() {
        assert_eq!(encode_id("evt-0001_a.b"), "evt-0001_a.b");
        assert_eq!(encode_id("a/b%c"), "a!2Fb!25c");
        assert_eq!(encode_id(".."), "!2E.");
        assert_eq!(encode_id("é"), "!C3!A9");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        assert!(endpoint_needs_http("http://127.0.0.1:9000").unwrap());
        assert!(endpoint_needs_http("http://localhost:9000").unwrap());
        assert!(endpoint_needs_http("http://[::1]:9000").unwrap());
        assert!(!endpoint_needs_http("https://s3.example.com").unwrap());
        assert!(matches!(
            endpoint_needs_http("http://minio.internal:9000"),
            Err(StoreError::InsecureEndpoint(_))
        ));
        assert!(endpoint_needs_http("ftp://x").is_err());
    }
}
