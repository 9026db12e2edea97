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
    /// Another replay holds the DLQ's lock ([`Store::lock_replay`]).
    #[error("{location} is being replayed by another `cxsync dlq replay` ({holder}, lock `{lock}`): two replays of one DLQ would send every record twice; wait for it to finish, or, if that process is gone, delete the lock")]
    Locked {
        location: String,
        holder: String,
        lock: String,
    },
}

/// The key of the lock a replay holds below a DLQ's root (not a record: not `*.json`).
pub const LOCK_KEY: &str = "replay.lock";

/// A replay's hold on a DLQ, taken by [`Store::lock_replay`]; [`ReplayLock::release`] gives it
/// up (a folder's lock is also removed when dropped).
#[derive(Debug)]
pub struct ReplayLock {
    /// The lock file of a folder store (removed on drop); `None` for S3.
    file: Option<PathBuf>,
    key: Path,
    inner: Arc<dyn ObjectStore>,
}

impl ReplayLock {
    /// Gives the lock up.
    pub async fn release(mut self) {
        match self.file.take() {
            Some(f) => {
                let _ = std::fs::remove_file(f);
            }
            None => {
                let _ = self.inner.delete(&self.key).await;
            }
        }
    }
}

impl Drop for ReplayLock {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// This machine's name (for a lock's holder), `unknown` when it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// What a lock holds: who took it and when.
fn lock_body(now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    serde_json::json!({
        "pid": std::process::id(),
        "host": host_name(),
        "startedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
    .to_string()
    .into_bytes()
}

/// A lock's holder in words, and whether it is stale: taken on this host by a process that no
/// longer runs (a replay killed before it let go). A lock of another host, or one that does not
/// parse, is never taken for stale: cxsync cannot see that process.
fn lock_holder(bytes: &[u8]) -> (String, bool) {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let (pid, host, at) = (
        v["pid"].as_u64(),
        v["host"].as_str(),
        v["startedAt"].as_str(),
    );
    let who = match (pid, host) {
        (Some(pid), Some(host)) => format!(
            "pid {pid} on host {}, since {}",
            crate::diag::printable(host),
            crate::diag::printable(at.unwrap_or("an unknown time"))
        ),
        _ => "a lock that names no process".to_string(),
    };
    let stale = match (pid, host) {
        (Some(pid), Some(host)) => {
            host == host_name()
                && pid != u64::from(std::process::id())
                && FsPath::new("/proc/self").exists()
                && !FsPath::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    };
    (who, stale)
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

/// An object below the root that a reader could not take: one a listing could not (a name that
/// is not UTF-8, a symlink loop, a folder that cannot be read) or, in [`super::inspect::scan`], one
/// that is not a readable record. Readers report it and go on. Serialised as `{key, problem}`
/// (`dlq ls --json`'s `bad` entries).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Where it is, relative to the root (bytes that are not UTF-8 as `\xNN`).
    pub key: String,
    /// Why it was skipped: what is wrong with it.
    pub problem: String,
}

/// Every object below a store's root, and what could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by key.
    pub entries: Vec<Entry>,
    pub skipped: Vec<Skipped>,
}

/// A DLQ location: an object store and the root records are written below.
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// For a folder store, its folder and file system: a folder is listed by cxsync's own walk
    /// (see [`walk_folder`]), the rest goes through `inner`.
    folder: Option<(PathBuf, Arc<object_store::local::LocalFileSystem>)>,
    /// For an S3 store, the bucket, listed page by page by [`Store::list`] so that a key
    /// `object_store` cannot read as a path is skipped instead of ending the listing.
    s3: Option<Arc<object_store::aws::AmazonS3>>,
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
        let fs = Arc::new(fs);
        let canonical = std::fs::canonicalize(dir).map_err(|source| StoreError::Io {
            context: format!("cannot read {display}"),
            source,
        })?;
        Ok(Store {
            inner: fs.clone(),
            folder: Some((canonical, fs)),
            s3: None,
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
        let s3 = Arc::new(
            b.with_bucket_name(bucket)
                .with_allow_http(allow_http)
                .with_retry(retry)
                .build()
                .map_err(|e| backend_error(&display, &e))?,
        );
        Ok(Store {
            inner: s3.clone(),
            folder: None,
            s3: Some(s3),
            root: Path::from(prefix),
            display,
            rt: Mutex::new(None),
        })
    }

    /// The location as the user would write it (a folder path or `s3://bucket/prefix`).
    pub fn location(&self) -> &str {
        &self.display
    }

    /// The object path of a key below the root. A key is a listed location as text, so it is
    /// taken as written (`Path::parse`); encoding it again (`Path::from`) would turn the `%` of a
    /// listed `a%b.json` into `%25`, a name that is not there. Text that is no valid location
    /// (a key typed by hand) is encoded.
    fn full(&self, key: &str) -> Path {
        let rel = Path::parse(key).unwrap_or_else(|_| Path::from(key));
        Path::from_iter(self.root.parts().chain(rel.parts()))
    }

    fn backend(&self, key: &str, e: object_store::Error) -> StoreError {
        backend_error(&join_display(&self.display, key), &e)
    }

    /// Every object below the root, sorted by key. In a folder, what cannot be an object (a
    /// name that is not UTF-8, a symlink loop, an unreadable subfolder) is skipped and said; the
    /// listing fails only when the root itself cannot be read or the store fails.
    pub async fn list(&self) -> Result<Listing, StoreError> {
        if let Some((dir, fs)) = &self.folder {
            let (dir, fs, root) = (dir.clone(), fs.clone(), self.root.clone());
            let display = self.display.clone();
            return tokio::task::spawn_blocking(move || walk_folder(&dir, &fs, &root, &display))
                .await
                .map_err(|e| StoreError::Io {
                    context: format!("listing {}", self.display),
                    source: std::io::Error::other(e),
                })?;
        }
        let Some(s3) = &self.s3 else {
            return self.list_all().await;
        };
        list_bucket(s3.as_ref(), &self.root)
            .await
            .map_err(|e| self.backend("", e))
    }

    /// Every object below the root through `object_store`'s own listing (a store that is
    /// neither a folder nor S3: none yet).
    async fn list_all(&self) -> Result<Listing, StoreError> {
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
        let mut entries: Vec<Entry> = metas
            .into_iter()
            .filter_map(|m| {
                let rel: Vec<PathPart<'_>> = m.location.prefix_match(&self.root)?.collect();
                let key = Path::from_iter(rel).to_string();
                Some(Entry { key, size: m.size })
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Listing {
            entries,
            skipped: Vec::new(),
        })
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

    /// Takes the DLQ's replay lock ([`LOCK_KEY`] below the root), so that two replays of one
    /// DLQ never run at once: in a folder the lock file is created with `O_EXCL`
    /// (`create_new`), on S3 with a conditional put (`If-None-Match: *`); either fails when the
    /// lock exists. It holds `{pid, host, startedAt}`. A lock left by a process of this host
    /// that no longer runs is stale and taken over; any other is [`StoreError::Locked`],
    /// naming its holder.
    pub async fn lock_replay(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ReplayLock, StoreError> {
        let key = self.full(LOCK_KEY);
        let shown = join_display(&self.display, LOCK_KEY);
        for _ in 0..2 {
            let existing: Vec<u8> = if let Some((dir, _)) = &self.folder {
                let file = dir.join(LOCK_KEY);
                let created = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&file);
                match created {
                    Ok(mut f) => {
                        use std::io::Write as _;
                        f.write_all(&lock_body(now))
                            .and_then(|()| f.sync_all())
                            .map_err(|source| StoreError::Io {
                                context: format!("cannot write the lock {shown}"),
                                source,
                            })?;
                        return Ok(ReplayLock {
                            file: Some(file),
                            key,
                            inner: self.inner.clone(),
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&file).unwrap_or_default()
                    }
                    Err(source) => {
                        return Err(StoreError::Io {
                            context: format!("cannot create the lock {shown}"),
                            source,
                        })
                    }
                }
            } else {
                let opts = object_store::PutOptions {
                    mode: object_store::PutMode::Create,
                    ..Default::default()
                };
                match self
                    .inner
                    .put_opts(&key, PutPayload::from(lock_body(now)), opts)
                    .await
                {
                    Ok(_) => {
                        return Ok(ReplayLock {
                            file: None,
                            key,
                            inner: self.inner.clone(),
                        })
                    }
                    Err(object_store::Error::AlreadyExists { .. }) => {
                        self.get(LOCK_KEY).await.unwrap_or_default()
                    }
                    Err(e) => return Err(self.backend(LOCK_KEY, e)),
                }
            };
            let (holder, stale) = lock_holder(&existing);
            if !stale {
                return Err(StoreError::Locked {
                    location: self.display.clone(),
                    holder,
                    lock: shown,
                });
            }
            // A replay of this host that is gone: its lock is taken over.
            self.delete(LOCK_KEY).await?;
        }
        Err(StoreError::Locked {
            location: self.display.clone(),
            holder: "a replay that took the lock as this one cleared a stale one".to_string(),
            lock: shown,
        })
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

/// Lists the files below `dir` (canonical), following symlinks as `object_store`'s own listing
/// does, but skipping (with why) each entry it cannot take instead of failing on the first: that
/// listing ends at a symlink loop or a name that is not UTF-8, so one such file hid every record.
/// A file is listed only under a key `fs` maps back to that very file, so `get` reads what was
/// listed.
fn walk_folder(
    dir: &FsPath,
    fs: &object_store::local::LocalFileSystem,
    root: &Path,
    display: &str,
) -> Result<Listing, StoreError> {
    let mut out = Listing::default();
    // Folders to read: the folder, its key parts below the root, and the canonical folders above
    // it (a symlink to one of them is a loop).
    let mut todo: Vec<(PathBuf, Vec<String>, Vec<PathBuf>)> =
        vec![(dir.to_path_buf(), Vec::new(), vec![dir.to_path_buf()])];
    while let Some((folder, parts, above)) = todo.pop() {
        let skip = |out: &mut Listing, name: String, problem: String| {
            let key = parts
                .iter()
                .cloned()
                .chain([name])
                .collect::<Vec<_>>()
                .join("/");
            out.skipped.push(Skipped { key, problem });
        };
        let read = match std::fs::read_dir(&folder) {
            Ok(r) => r,
            Err(source) if parts.is_empty() => {
                return Err(StoreError::Io {
                    context: format!("cannot read {display}"),
                    source,
                })
            }
            Err(e) => {
                let key = parts.join("/");
                out.skipped.push(Skipped {
                    key,
                    problem: format!("folder cannot be read: {e}"),
                });
                continue;
            }
        };
        for entry in read {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    skip(
                        &mut out,
                        String::new(),
                        format!("folder cannot be read: {e}"),
                    );
                    continue;
                }
            };
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str().map(str::to_string) else {
                skip(
                    &mut out,
                    escape_name(&os_name),
                    "the name is not UTF-8, so it cannot be a record's key".into(),
                );
                continue;
            };
            let path = entry.path();
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    let why = if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                        format!("symlink cannot be followed: {e}")
                    } else {
                        format!("cannot be read: {e}")
                    };
                    skip(&mut out, name, why);
                    continue;
                }
            };
            if meta.is_dir() {
                let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if above.contains(&real) {
                    skip(
                        &mut out,
                        name,
                        format!("symlink loop: it leads back to {}", real.display()),
                    );
                    continue;
                }
                let mut below = parts.clone();
                below.push(name);
                let mut chain = above.clone();
                chain.push(real);
                todo.push((path, below, chain));
            } else if meta.is_file() {
                let key = parts
                    .iter()
                    .cloned()
                    .chain([name.clone()])
                    .collect::<Vec<_>>()
                    .join("/");
                // The key `object_store`'s own listing would give; listed only when it leads back
                // to this very file, so `get` reads what was listed.
                let addressable = Path::parse(&key).ok().and_then(|rel| {
                    let full = Path::from_iter(root.parts().chain(rel.parts()));
                    fs.path_to_filesystem(&full).ok()
                });
                if addressable.as_deref() == Some(path.as_path()) {
                    out.entries.push(Entry {
                        key,
                        size: meta.len(),
                    });
                } else {
                    skip(
                        &mut out,
                        name,
                        "the name cannot be an object key (a control character, or `#` and digits at its end)".into(),
                    );
                }
            }
        }
    }
    out.entries.sort_by(|a, b| a.key.cmp(&b.key));
    out.skipped.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Keys asked for in one page of a bucket's listing (S3's own most).
const PAGE_KEYS: usize = 1000;

/// Every object below `root` in a bucket, listed page by page after the last key read
/// (`start-after`), skipping what `object_store` cannot read as a path. `object_store` reads each
/// page of a listing as a whole, so one key with a control character or an empty, `.` or `..`
/// segment failed the page and ended the listing of every record (tester #101). A page that
/// fails so is asked for again in halves from the same place until the page of one key that is
/// that key; it is skipped with why, and the listing goes on after it: about log2(1000) more
/// requests per bad key.
async fn list_bucket(
    s3: &dyn object_store::list::PaginatedListStore,
    root: &Path,
) -> Result<Listing, object_store::Error> {
    use object_store::list::PaginatedListOptions;
    let prefix = (!root.as_ref().is_empty()).then(|| format!("{}/", root.as_ref()));
    let relative = |key: &str| -> String {
        match &prefix {
            Some(p) => key.strip_prefix(p.as_str()).unwrap_or(key).to_string(),
            None => key.to_string(),
        }
    };
    let mut out = Listing::default();
    let mut after: Option<String> = None;
    let mut page = PAGE_KEYS;
    loop {
        let opts = PaginatedListOptions {
            offset: after.clone(),
            max_keys: Some(page),
            ..Default::default()
        };
        match s3.list_paginated(prefix.as_deref(), opts).await {
            Ok(r) => {
                for m in r.result.objects {
                    let key = m.location.as_ref().to_string();
                    out.entries.push(Entry {
                        key: relative(&key),
                        size: m.size,
                    });
                    after = Some(key);
                }
                if r.page_token.is_none() {
                    break;
                }
                page = (page * 2).min(PAGE_KEYS);
            }
            Err(object_store::Error::InvalidPath {
                source:
                    object_store::path::Error::BadSegment { path, .. }
                    | object_store::path::Error::EmptySegment { path },
            }) => {
                if page > 1 {
                    page /= 2;
                    continue;
                }
                // A page of one key that cannot be read: this is the key.
                out.skipped.push(Skipped {
                    key: relative(&path),
                    problem: "the key cannot be a record's (a control character, or an empty, `.` or `..` segment); delete or rename that object (e.g. `aws s3 mv`)".into(),
                });
                if after.as_deref() == Some(path.as_str()) {
                    // The store listed the same key again: never loop on it.
                    break;
                }
                after = Some(path);
                page = PAGE_KEYS;
            }
            Err(e) => return Err(e),
        }
    }
    out.entries.sort_by(|a, b| a.key.cmp(&b.key));
    out.skipped.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// A file name as text, each byte that is not UTF-8 as `\xNN`.
fn escape_name(name: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        name.as_bytes()
            .utf8_chunks()
            .flat_map(|c| {
                let bad: String = c.invalid().iter().map(|b| format!("\\x{b:02x}")).collect();
                [c.valid().to_string(), bad]
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
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

/// A store error with its cause chain flattened into one line, each cause once, escaped for the
/// terminal (`diag::printable`: a key in a bucket is outside text, and one holding an ESC was
/// printed raw). A key the store cannot read as a path (a control character, a `..` or empty
/// segment) gets what to do. (A listing goes around such keys, [`list_bucket`]; this is for any
/// other call that meets one.)
fn backend_error(location: &str, e: &object_store::Error) -> StoreError {
    if let object_store::Error::InvalidPath {
        source:
            object_store::path::Error::BadSegment { path, .. }
            | object_store::path::Error::EmptySegment { path },
    } = e
    {
        return StoreError::Backend {
            location: location.to_string(),
            message: format!(
                "the bucket holds an object whose key no record has and that cannot be read as a path: `{}` (a control character, or an empty, `.` or `..` segment); delete or rename that object (e.g. `aws s3 mv`), then run this again",
                crate::diag::printable(path)
            ),
            not_found: false,
        };
    }
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
        message: crate::diag::printable(&parts.join(": ")).into_owned(),
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
