//! The CRM model, sans-IO: given a request and `now`, it decides the response and its latency,
//! and records every side effect. The simulator calls it in virtual time; a mock HTTP server can
//! call the same functions to serve real requests.
//!
//! Check order for a CRM request (first match wins): partition (no answer), connection reset
//! before processing, 401 for an expired or revoked token, a `respond` fault's scripted status,
//! 503 in a maintenance window, 431 for an idempotency header longer than servers take, the rate
//! limit (the profile's throttle response), 415 for a channel `Content-Type` that is not JSON
//! ([`refused_media_type`]: the hub sends the channel's headers with every request, the HTTP
//! driver puts them on the wire, and the mock is this model built from the same spec), 413 above
//! the body limit, 400 for a body that is not a record (`crm::body::judge`: an object, or an array
//! of objects where the CRM takes arrays), 422 for a payload violating its rule's payload schema, then the write itself (deduplicated by header, upsert key or not at all). A
//! reset after the write loses the response
//! but not the side effect, which is how duplicates happen.

use rustc_hash::FxHashMap;

use rand_core::Rng;
use serde_json::Value;

use crate::crm;
pub use crate::crm::{DedupMode, Profile};
use crate::delivery::backoff::unit;
use crate::delivery::drive::Reply;
use crate::delivery::machine::json_text;
use crate::delivery::{CrmRequest, Failure, Response, Time, TokenResult};
use crate::sim::scenario::{Dedup, Fault, Scenario};
use crate::spec::model::RawSpec;
use crate::spec::payload::PayloadSchemas;

/// Upsert values kept for examples of overwritten records.
pub const OVERWRITE_VALUES: usize = 16;

/// [`CrmModel::pre_read`]'s reading of a submission: none, a record that passes its schema, one
/// that fails it.
const UNREAD: u8 = 0;
const VALID: u8 = 1;
const INVALID: u8 = 2;

/// Counters the model keeps; they reach the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmStats {
    pub requests: u64,
    pub throttled: u64,
    pub maintenance: u64,
    /// Answers a `respond` fault scripted.
    pub scripted: u64,
    pub unauthorized: u64,
    pub too_large: u64,
    /// Requests refused for what they are, not their content's schema: 400 for a body that is
    /// not a record (`crm::body::judge`), 415 for a `Content-Type` that is not JSON, 431 for an
    /// idempotency header too long.
    pub bodies_rejected: u64,
    pub schema_rejected: u64,
    pub resets: u64,
    pub silent: u64,
    /// Records written (first writes and upsert updates by another event).
    pub side_effects: u64,
    /// Writes the CRM suppressed because it had seen the key.
    pub deduplicated: u64,
    /// Writes of an event that had already been written (only without dedup).
    pub duplicate_side_effects: u64,
    pub token_requests: u64,
    pub tokens_issued: u64,
    pub token_refusals: u64,
}

/// A resolved CRM: profile defaults, the spec's `crm` facts and the scenario's overrides.
pub struct CrmModel {
    profile: Profile,
    dedup: DedupMode,
    upsert_field: Option<String>,
    header_name: Option<String>,
    rate: Option<(f64, f64)>,
    bucket: f64,
    bucket_at: Time,
    bucket_window: Option<usize>,
    latency: (f64, f64),
    reset_rate: f64,
    expires_in: Option<u64>,
    session_ms: u64,
    max_body: u64,
    accepts_arrays: bool,
    /// The channel's `Content-Type` when it is not JSON ([`refused_media_type`]): every request
    /// is answered 415.
    refused_media: Option<String>,
    /// The rules' payload schemas (`None`: no rule has one).
    schema: Option<PayloadSchemas>,
    faults: Vec<Fault>,
    revocations: Vec<Time>,
    /// Issue time of every token, indexed by its number.
    tokens: Vec<Time>,
    /// Dedup key hash → the event seq that first wrote it.
    seen: FxHashMap<Halves, u64>,
    /// Side effects per event seq (saturating).
    applied: Vec<u8>,
    /// What [`CrmModel::pre_read`] read of each submission's payload, by seq: [`UNREAD`],
    /// [`VALID`] or [`INVALID`] (only when the model reads records at all).
    pre: Vec<u8>,
    /// The upsert key fingerprint pre-read of each submission, by seq (upserts only).
    pre_keys: Vec<u128>,
    /// Upserts onto a record another delivery wrote: (its writer, the new writer), in order.
    overwrites: Vec<(u64, u64)>,
    /// Whether an upsert merges the fields it carries into the record ([`crm::upsert_merges`]
    /// for the Event Hub's `POST`) rather than replacing the record.
    merges: bool,
    /// The fields each submission's record sets ([`fields`]), by seq, read ahead with its key
    /// (merging upserts only).
    pre_fields: Vec<Option<Box<[Field]>>>,
    /// Each upserted record's fields as the CRM holds them: (path, value, the seq that set
    /// the value), sorted by path (merging upserts only).
    records: FxHashMap<Halves, Vec<(u64, u64, u64)>>,
    /// Writes that changed a value another delivery had set: (that delivery, the new writer),
    /// in order. With a replacing upsert every overwrite is one.
    changes: Vec<(u64, u64)>,
    /// The upsert values of the first [`OVERWRITE_VALUES`] of them (for examples).
    overwrite_values: Vec<String>,
    /// Notes for the report (e.g. a header name the CRM ignores).
    pub notes: Vec<String>,
    pub stats: CrmStats,
}

impl CrmModel {
    /// Builds the model for a spec and scenario. `schemas` are the rules' payload schemas.
    pub fn new(spec: &RawSpec, sc: &Scenario, schemas: &PayloadSchemas) -> CrmModel {
        let kind = sc.crm.profile.unwrap_or(spec.crm.profile);
        let profile = crm::profile(kind);
        let resolved = crm::dedup(
            spec,
            &profile,
            &crm::DedupOverrides {
                mode: sc.crm.idempotency.map(|d| match d {
                    Dedup::Header => DedupMode::Header,
                    Dedup::Upsert => DedupMode::Upsert,
                    Dedup::None => DedupMode::None,
                }),
                upsert_field: sc.crm.upsert_field.as_deref(),
            },
        );
        let mut notes: Vec<String> = resolved.problem.iter().map(|p| p.to_string()).collect();
        let (dedup, upsert_field, header_name) =
            (resolved.mode, resolved.upsert_field, resolved.header);
        let rate = match &sc.crm.rate_limit {
            Some(r) => Some((r.requests as f64, r.per.ms().max(1) as f64)),
            None => profile.rate.map(|(n, per)| (n as f64, per as f64)),
        };
        let latency = match &sc.crm.latency {
            Some(l) => (l.p50_ms as f64, l.p99_ms as f64),
            None => (profile.latency_p50_ms as f64, profile.latency_p99_ms as f64),
        };
        let expires_in = crm::token_expires_in(spec, &profile, sc.crm.token_lifetime_seconds);
        let session_ms = crm::token_lifetime_seconds(spec, &profile, sc.crm.token_lifetime_seconds)
            .saturating_mul(1000);
        let schema = (!schemas.is_empty()).then(|| schemas.clone());
        let revocations = sc
            .faults
            .iter()
            .filter_map(|f| match f {
                Fault::RevokeTokens { at } => Some(at.ms()),
                _ => None,
            })
            .collect::<Vec<u64>>();
        if let (crate::spec::model::Auth::Bearer { .. }, Some(first)) =
            (&spec.channel.auth, revocations.iter().min())
        {
            notes.push(format!(
                "revokeTokens at {} revokes the spec's static bearer token too: no token can be fetched to replace it, so every request from then on gets 401 and is dead-lettered AUTH_FAILED (to replay once the token is rotated)",
                crate::sim::report::fmt_ms(*first)
            ));
        }
        CrmModel {
            bucket: rate.map_or(0.0, |r| r.0),
            bucket_at: 0,
            bucket_window: None,
            rate,
            latency,
            reset_rate: sc.crm.reset_rate.unwrap_or(0.0),
            expires_in,
            session_ms,
            max_body: crm::max_body_bytes(spec, &profile, sc.crm.max_body_bytes),
            accepts_arrays: sc.crm.accepts_arrays.unwrap_or(spec.crm.accepts_arrays),
            refused_media: refused_media_type(spec).map(|(_, v)| v.to_string()),
            schema,
            faults: sc.faults.clone(),
            revocations,
            tokens: Vec::new(),
            seen: FxHashMap::default(),
            applied: Vec::new(),
            pre: Vec::new(),
            pre_keys: Vec::new(),
            overwrites: Vec::new(),
            merges: crm::upsert_merges(&profile, crm::DELIVERY_METHOD),
            pre_fields: Vec::new(),
            records: FxHashMap::default(),
            changes: Vec::new(),
            overwrite_values: Vec::new(),
            notes,
            stats: CrmStats::default(),
            dedup,
            upsert_field,
            header_name,
            profile,
        }
    }

    /// The largest body it takes (above it: 413): the scenario's, the spec's or the profile's.
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// Its own checks of a request ([`Checks`]), for the verdict.
    pub fn checks(&self) -> Checks {
        Checks {
            max_body: self.max_body,
            accepts_arrays: self.accepts_arrays,
            schema: self.schema.clone(),
            refuses_media_type: self.refused_media.is_some(),
        }
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The dedup mode in effect.
    pub fn dedup(&self) -> &DedupMode {
        &self.dedup
    }

    /// Whether an upsert merges the fields it carries into the record ([`crm::upsert_merges`])
    /// rather than replacing the record.
    pub fn merges(&self) -> bool {
        self.merges
    }

    /// The upsert field in effect (with [`DedupMode::Upsert`]).
    pub fn upsert_field(&self) -> Option<&str> {
        self.upsert_field.as_deref()
    }

    /// Upserts onto a record another delivery had written, as (earlier writer, later writer),
    /// in the order they happened; whether that was an update or an overwrite depends on the
    /// two deliveries' subjects, which the ledger knows.
    pub fn overwrites(&self) -> &[(u64, u64)] {
        &self.overwrites
    }

    /// Upserts that changed a value another delivery had set, as (that delivery, the writer),
    /// in the order they happened: with a merging upsert ([`crm::upsert_merges`]) a write that
    /// sets a field to the value it holds, or fields no other delivery set, changes nothing
    /// another wrote; with a replacing one every overwrite does. The ledger's *set back* asks
    /// whether the writer's event was the older.
    pub fn changes(&self) -> &[(u64, u64)] {
        &self.changes
    }

    /// The fields a write of `record` sets when the CRM merges upserts ([`fields`]); `None`
    /// when an upsert replaces the whole record. What lint's preview asks
    /// (`sim::engine::preview`), with [`sets_back`].
    pub fn fields_of(&self, record: &Value) -> Option<Vec<Field>> {
        self.merges.then(|| fields(record))
    }

    /// The upsert value of overwrite `i`, for the first [`OVERWRITE_VALUES`].
    pub fn overwrite_value(&self, i: usize) -> Option<&str> {
        self.overwrite_values.get(i).map(String::as_str)
    }

    /// Side effects applied for event `seq`.
    pub fn applied(&self, seq: u64) -> u8 {
        self.applied.get(seq as usize).copied().unwrap_or(0)
    }

    fn in_window(&self, now: Time, pick: impl Fn(&Fault) -> bool) -> Option<&Fault> {
        self.faults.iter().find(|f| {
            pick(f)
                && match f {
                    Fault::Throttle { from, to, .. }
                    | Fault::Respond { from, to, .. }
                    | Fault::Maintenance { from, to, .. }
                    | Fault::TokenEndpoint { from, to, .. }
                    | Fault::Latency { from, to, .. }
                    | Fault::Resets { from, to, .. } => from.ms() <= now && now < to.ms(),
                    Fault::Partition(w) => w.from.ms() <= now && now < w.to.ms(),
                    _ => false,
                }
        })
    }

    fn sample_latency<R: Rng + ?Sized>(&self, now: Time, rng: &mut R) -> u64 {
        let (p50, p99) = match self.in_window(now, |f| matches!(f, Fault::Latency { .. })) {
            Some(Fault::Latency { p50_ms, p99_ms, .. }) => (*p50_ms as f64, *p99_ms as f64),
            _ => self.latency,
        };
        if p50 <= 0.0 {
            return 0;
        }
        // Log-normal: median p50, 99th percentile p99 (z = 2.326).
        let sigma = if p99 > p50 {
            (p99 / p50).ln() / 2.326
        } else {
            0.0
        };
        let u1 = unit(rng).max(1e-12);
        let u2 = unit(rng);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (p50 * (sigma * z).exp()).clamp(1.0, 600_000.0).round() as u64
    }

    fn reset_rate(&self, now: Time) -> f64 {
        match self.in_window(now, |f| matches!(f, Fault::Resets { .. })) {
            Some(Fault::Resets { rate, .. }) => *rate,
            _ => self.reset_rate,
        }
    }

    /// Takes one token from the bucket, or says how long until one is available and which
    /// throttle window (if any) is in force.
    fn take(&mut self, now: Time) -> Result<(), (u64, Option<u64>)> {
        let window = self.faults.iter().position(
            |f| matches!(f, Fault::Throttle { from, to, .. } if from.ms() <= now && now < to.ms()),
        );
        let (rate, fixed_ra) = match window.map(|i| &self.faults[i]) {
            Some(Fault::Throttle {
                requests,
                per,
                retry_after_seconds,
                ..
            }) => (
                Some((*requests as f64, per.ms().max(1) as f64)),
                *retry_after_seconds,
            ),
            _ => (self.rate, None),
        };
        let Some((cap, per)) = rate else {
            return Ok(());
        };
        if window != self.bucket_window {
            // Entering or leaving a throttle window: the bucket holds at most the new burst.
            self.bucket_window = window;
            self.bucket = self.bucket.min(cap);
        }
        let refill = cap / per;
        self.bucket = (self.bucket + (now.saturating_sub(self.bucket_at)) as f64 * refill).min(cap);
        self.bucket_at = now;
        if self.bucket >= 1.0 {
            self.bucket -= 1.0;
            Ok(())
        } else {
            let wait_ms = ((1.0 - self.bucket) / refill).ceil() as u64;
            Err((wait_ms.div_ceil(1000).max(1), fixed_ra))
        }
    }

    fn token_valid(&self, bearer: &str, now: Time) -> bool {
        let Some(n) = bearer
            .strip_prefix("sim-token-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return false;
        };
        let Some(&issued) = self.tokens.get(n) else {
            return false;
        };
        if now >= issued + self.session_ms {
            return false;
        }
        !self.revocations.iter().any(|&r| issued < r && r <= now)
    }

    /// Answers a client-credentials token request made at `now`.
    pub fn handle_token_request<R: Rng + ?Sized>(
        &mut self,
        now: Time,
        rng: &mut R,
    ) -> (u64, Option<TokenResult>) {
        self.stats.token_requests += 1;
        if self
            .in_window(now, |f| matches!(f, Fault::Partition(_)))
            .is_some()
        {
            return (0, None);
        }
        let mut latency = self.sample_latency(now, rng).min(2_000);
        if let Some(Fault::TokenEndpoint {
            status, latency_ms, ..
        }) = self.in_window(now, |f| matches!(f, Fault::TokenEndpoint { .. }))
        {
            if let Some(l) = latency_ms {
                latency = *l;
            }
            if status.is_some() || latency_ms.is_none() {
                let status = status.unwrap_or(503);
                self.stats.token_refusals += 1;
                let error = if (400..500).contains(&status) {
                    "invalid_client"
                } else {
                    "temporarily_unavailable"
                };
                return (
                    latency,
                    Some(TokenResult::Refused {
                        status,
                        error: error.into(),
                    }),
                );
            }
        }
        for f in &self.faults {
            if let Fault::RotateSecret {
                at,
                vault_updated_after,
            } = f
            {
                let end = vault_updated_after.map_or(u64::MAX, |d| at.ms() + d.ms());
                if at.ms() <= now && now < end {
                    self.stats.token_refusals += 1;
                    return (
                        latency,
                        Some(TokenResult::Refused {
                            status: 400,
                            error: "invalid_grant".into(),
                        }),
                    );
                }
            }
        }
        let n = self.tokens.len();
        self.tokens.push(now + latency);
        self.stats.tokens_issued += 1;
        (
            latency,
            Some(TokenResult::Granted {
                access_token: format!("sim-token-{n}"),
                expires_in: self.expires_in,
            }),
        )
    }

    /// Answers one CRM request received at `now`, applying its side effect if it succeeds.
    pub fn handle_request<R: Rng + ?Sized>(
        &mut self,
        now: Time,
        req: &CrmRequest,
        rng: &mut R,
    ) -> Reply {
        self.stats.requests += 1;
        if self
            .in_window(now, |f| matches!(f, Fault::Partition(_)))
            .is_some()
        {
            self.stats.silent += 1;
            return Reply::Silence;
        }
        let latency = self.sample_latency(now, rng);
        let reset = self.reset_rate(now);
        let (reset_before, reset_after) = if reset > 0.0 && unit(rng) < reset {
            let before = unit(rng) < 0.5;
            (before, !before)
        } else {
            (false, false)
        };
        if reset_before {
            self.stats.resets += 1;
            return Reply::Reset {
                latency: latency / 2,
                failure: Failure::Reset,
            };
        }
        let http = |status: u16, body: &str, retry_after: Option<String>| Reply::Http {
            latency,
            response: Response {
                status,
                retry_after,
                body: body.to_string(),
            },
        };
        if let Some(b) = &req.bearer {
            // A static bearer token (the spec's, not one the token endpoint issued) is revoked
            // by `revokeTokens` too, and stays revoked: nothing the hub can fetch replaces it
            // (#226; a person rotates it, then replays).
            let valid = if b.starts_with("sim-token-") {
                self.token_valid(b, now)
            } else {
                !self.revocations.iter().any(|&r| r <= now)
            };
            if !valid {
                self.stats.unauthorized += 1;
                return http(401, self.profile.unauthorized_body, None);
            }
        }
        if let Some(Fault::Respond {
            status,
            retry_after_seconds,
            body,
            ..
        }) = self.in_window(now, |f| matches!(f, Fault::Respond { .. }))
        {
            let (status, ra) = (*status, retry_after_seconds.map(|s| s.to_string()));
            let body = body
                .clone()
                .unwrap_or_else(|| format!(r#"{{"status":{status}}}"#));
            self.stats.scripted += 1;
            return http(status, &body, ra);
        }
        if let Some(Fault::Maintenance {
            retry_after_seconds,
            ..
        }) = self.in_window(now, |f| matches!(f, Fault::Maintenance { .. }))
        {
            let ra = retry_after_seconds.map(|s| s.to_string());
            self.stats.maintenance += 1;
            return http(503, self.profile.maintenance_body, ra);
        }
        // A header value longer than servers take (the limit `compile` applies to a literal
        // header): the front end refuses the request before the CRM reads it. An idempotency
        // key from a free-text field, or a batch's joined keys, does this to every request.
        let (key_name, key) = &req.idempotency;
        if header_too_long(key.len()) {
            self.stats.bodies_rejected += 1;
            let body = format!(
                r#"{{"error":"request_header_fields_too_large","message":"header {} is {} bytes; at most {} are accepted"}}"#,
                key_name.replace(['"', '\\'], ""),
                key.len(),
                crate::spec::model::MAX_HEADER_VALUE
            );
            return http(431, &body, None);
        }
        if let Err((wait, fixed)) = self.take(now) {
            self.stats.throttled += 1;
            let ra = self
                .profile
                .throttle
                .retry_after
                .then(|| fixed.unwrap_or(wait).to_string());
            let t = self.profile.throttle.clone();
            return http(t.status, t.body, ra);
        }
        if let Some(media) = &self.refused_media {
            self.stats.bodies_rejected += 1;
            let body = serde_json::json!({
                "error": "unsupported_media_type",
                "message": format!("Content-Type {media} is not supported: send application/json"),
            })
            .to_string();
            return http(415, &body, None);
        }
        if body_too_large(self.max_body, req.body.len()) {
            self.stats.too_large += 1;
            return http(413, r#"{"error":"request_entity_too_large"}"#, None);
        }
        let shape = match crm::body::judge(&req.body, self.accepts_arrays) {
            Ok(shape) => shape,
            Err(refusal) => {
                self.stats.bodies_rejected += 1;
                return http(400, &refusal.response_body(), None);
            }
        };
        // Which event a record belongs to: one per event in a batch, or all of a lone event's
        // (a transform that returns a list of records).
        let owner = |i: usize| if req.seqs.len() > 1 { i } else { 0 };
        // Each record's reading (schema passed, upsert key fingerprint), pre-read when the
        // machine was handed its payload, else from the parsed body; `parsed` is the body's
        // records when it was parsed.
        let mut parsed: Option<Vec<Value>> = None;
        let readings: Vec<(bool, u128)> = if !self.reads_records() {
            Vec::new()
        } else if let Some(r) = self.pre_read_of(&req.seqs) {
            r
        } else {
            let records = match serde_json::from_str::<Value>(&req.body) {
                Ok(Value::Array(a)) if shape == crm::body::Kind::Array => a,
                Ok(v) => vec![v],
                Err(_) => return http(400, &crm::body::Refusal::NotJson.response_body(), None),
            };
            let r = records
                .iter()
                .enumerate()
                .map(|(i, p)| self.read(req.rules.get(owner(i)).map(String::as_str), p))
                .collect();
            parsed = Some(records);
            r
        };
        if let (Some(schemas), Some(records)) = (&self.schema, &parsed) {
            if readings.iter().any(|r| !r.0) {
                let mut errors = Vec::new();
                for (i, p) in records.iter().enumerate() {
                    let rule = req.rules.get(owner(i)).map(String::as_str);
                    let Some(s) = schemas.for_rule(rule) else {
                        continue;
                    };
                    for e in s.validator.iter_errors(p).take(3) {
                        errors.push(format!("[{i}]{}: {e}", e.instance_path().as_str()));
                    }
                }
                self.stats.schema_rejected += 1;
                let body = serde_json::json!({"error": "unprocessable_entity", "details": errors})
                    .to_string();
                return http(422, &body, None);
            }
        }
        // What the write did, for the answer: the first record created, else the first updated,
        // else the key the request replays; `None`: every record was new and unkeyed.
        let mut created: Option<u128> = None;
        let mut updated: Option<u128> = None;
        let mut replayed: Option<u128> = None;
        match self.dedup {
            DedupMode::Header => {
                let key = hash128(&req.idempotency.1);
                let first = req.seqs.first().copied().unwrap_or(0);
                if let std::collections::hash_map::Entry::Vacant(e) = self.seen.entry(halves(key)) {
                    e.insert(first);
                    for &s in &req.seqs {
                        self.write(s);
                    }
                    created = Some(key);
                } else {
                    replayed = Some(key);
                    self.stats.deduplicated += 1;
                }
            }
            DedupMode::Upsert => {
                // A lone event's records are one side effect of that event, not duplicates.
                let mut written = None;
                for (i, &(_, key)) in readings.iter().enumerate() {
                    let seq = req.seqs.get(owner(i)).copied().unwrap_or(0);
                    let held = halves(key);
                    if self.merges {
                        // The record as sent: the parsed body's, else the one read ahead.
                        let sent = match parsed.as_ref().and_then(|r| r.get(i)) {
                            Some(p) => fields(p),
                            None => self
                                .pre_fields
                                .get(seq as usize)
                                .and_then(|f| f.as_deref())
                                .map(<[Field]>::to_vec)
                                .unwrap_or_default(),
                        };
                        self.merge(held, seq, &sent);
                    }
                    match self.seen.get(&held) {
                        Some(&owner) if owner == seq => {
                            updated.get_or_insert(key);
                            self.stats.deduplicated += 1;
                        }
                        Some(&owner) => {
                            updated.get_or_insert(key);
                            // Another delivery updates the same record: right when it is about
                            // the same subject (the ledger decides), an overwrite otherwise.
                            if self.overwrite_values.len() < OVERWRITE_VALUES {
                                let records = parsed.get_or_insert_with(|| {
                                    match serde_json::from_str::<Value>(&req.body) {
                                        Ok(Value::Array(a)) if shape == crm::body::Kind::Array => a,
                                        Ok(v) => vec![v],
                                        Err(_) => Vec::new(),
                                    }
                                });
                                let value = records.get(i).and_then(|p| self.upsert_value(p));
                                self.overwrite_values.push(value.map_or_else(
                                    || "missing (not in the payload)".to_string(),
                                    json_text,
                                ));
                            }
                            self.overwrites.push((owner, seq));
                            if !self.merges {
                                self.changes.push((owner, seq));
                            }
                            self.seen.insert(held, seq);
                            if self.applied(seq) > 0 {
                                // A resend of a delivery another one overwrote since: it
                                // updates the one record again (the ledger says whether that
                                // set the record back), it makes no second record.
                                self.stats.side_effects += 1;
                            } else if written.replace(seq) != Some(seq) {
                                self.write(seq);
                            }
                        }
                        None => {
                            created.get_or_insert(key);
                            self.seen.insert(held, seq);
                            if written.replace(seq) != Some(seq) {
                                self.write(seq);
                            }
                        }
                    }
                }
            }
            DedupMode::None => {
                for &s in &req.seqs {
                    self.write(s);
                }
            }
        }
        if reset_after {
            self.stats.resets += 1;
            return Reply::Reset {
                latency,
                failure: Failure::Reset,
            };
        }
        let _ = &self.header_name;
        let written = match (created, updated, replayed) {
            (Some(k), ..) => Written::Created(record_id(k)),
            (None, Some(k), _) => Written::Updated(record_id(k)),
            (None, None, Some(k)) => Written::Replayed(record_id(k)),
            // Records the CRM knows by nothing it was sent: new ones, named by the request.
            (None, None, None) => Written::Created(format!("rec-{}", req.id)),
        };
        let (status, body) = written.answer();
        http(status, &body, None)
    }

    /// Merges the fields `sent` by submission `seq` into record `held`: each value it changes
    /// that another delivery set is a change of that delivery's write ([`CrmModel::changes`]);
    /// a field it sets to the value held, or one no one set, changes nothing of another's.
    fn merge(&mut self, held: Halves, seq: u64, sent: &[Field]) {
        let stored = self.records.entry(held).or_default();
        let mut changed: Vec<u64> = Vec::new();
        for &(path, value) in sent {
            match stored.binary_search_by_key(&path, |f| f.0) {
                Ok(j) => {
                    let (_, held_value, setter) = stored[j];
                    if held_value != value {
                        if setter != seq && !changed.contains(&setter) {
                            changed.push(setter);
                        }
                        stored[j] = (path, value, seq);
                    }
                }
                Err(j) => stored.insert(j, (path, value, seq)),
            }
        }
        self.changes
            .extend(changed.into_iter().map(|setter| (setter, seq)));
    }

    /// Whether the CRM reads the records it is sent: to check them against a payload schema,
    /// or to find their upsert key. Otherwise a body is judged by its shape alone.
    fn reads_records(&self) -> bool {
        self.schema.is_some() || self.dedup == DedupMode::Upsert
    }

    /// What the CRM reads in one record of rule `rule`: whether it passes the rule's payload
    /// schema, and the fingerprint of its upsert key ([`CrmModel::upsert_value`]'s text, empty
    /// when missing). One reading for the body it parses and the payload it is told of ahead.
    fn read(&self, rule: Option<&str>, record: &Value) -> (bool, u128) {
        let valid = self
            .schema
            .as_ref()
            .and_then(|s| s.for_rule(rule))
            .is_none_or(|s| s.validator.is_valid(record));
        let key = self.record_identity(record).map_or(0, |k| hash128(&k));
        (valid, key)
    }

    /// What the CRM knows a record by when it upserts: the upsert field's value as text (empty
    /// when the record lacks it); `None` when the CRM does not upsert. The one reading of the
    /// upsert identity: the model's dedup in virtual time and over HTTP, and `mock-crm`'s
    /// numbering of the records it is sent without the simulator's event numbers.
    pub fn record_identity(&self, record: &Value) -> Option<String> {
        (self.dedup == DedupMode::Upsert)
            .then(|| self.upsert_value(record).map(json_text).unwrap_or_default())
    }

    /// The record an upsert writes `record` (a payload of rule `rule`) onto: its upsert
    /// identity ([`CrmModel::record_identity`]) when the CRM upserts, the payload is one record
    /// (an object) and it passes the rule's payload schema; `None` otherwise (a refused record
    /// writes nothing). What lint's preview of a run asks (`sim::engine::preview`).
    pub fn record_of(&self, rule: &str, record: &Value) -> Option<String> {
        if !record.is_object() || !self.read(Some(rule), record).0 {
            return None;
        }
        self.record_identity(record)
    }

    /// A record's upsert value: a top-level field name, or a JSON pointer into the payload
    /// (`/inputs/0/id`).
    fn upsert_value<'v>(&self, record: &'v Value) -> Option<&'v Value> {
        let field = self.upsert_field.as_deref().unwrap_or_default();
        if field.starts_with('/') {
            record.pointer(field)
        } else {
            record.get(field)
        }
    }

    /// Reads submission `seq`'s payload (of rule `rule`) from the value its body is written
    /// from, when it is handed to the machine: the body the CRM is later sent is that value's
    /// text, so [`CrmModel::handle_request`] need not parse it again to check its schema or
    /// find its upsert key. Only a payload that is one record (an object) is read ahead; the
    /// CRM parses any other body, and any body holding a record that fails its schema (to name
    /// the errors), as it parses every body sent over HTTP.
    pub fn pre_read(&mut self, seq: u64, rule: &str, payload: &Value) {
        if !self.reads_records() || !payload.is_object() {
            return;
        }
        let (valid, key) = self.read(Some(rule), payload);
        let i = seq as usize;
        if self.pre.len() <= i {
            self.pre.resize(i + 1, UNREAD);
        }
        self.pre[i] = if valid { VALID } else { INVALID };
        if self.dedup == DedupMode::Upsert {
            if self.pre_keys.len() <= i {
                self.pre_keys.resize(i + 1, 0);
            }
            self.pre_keys[i] = key;
            if self.merges {
                if self.pre_fields.len() <= i {
                    self.pre_fields.resize(i + 1, None);
                }
                self.pre_fields[i] = Some(fields(payload).into_boxed_slice());
            }
        }
    }

    /// The readings of a request's records when every one was pre-read and passed its schema:
    /// the body is then one record per event (a batch of objects, or a lone object).
    fn pre_read_of(&self, seqs: &[u64]) -> Option<Vec<(bool, u128)>> {
        if seqs.is_empty() {
            return None;
        }
        seqs.iter()
            .map(|&s| {
                let i = s as usize;
                (self.pre.get(i) == Some(&VALID))
                    .then(|| (true, self.pre_keys.get(i).copied().unwrap_or(0)))
            })
            .collect()
    }

    fn write(&mut self, seq: u64) {
        let i = seq as usize;
        if self.applied.len() <= i {
            self.applied.resize(i + 1, 0);
        }
        if self.applied[i] > 0 {
            self.stats.duplicate_side_effects += 1;
        }
        self.applied[i] = self.applied[i].saturating_add(1);
        self.stats.side_effects += 1;
    }
}

/// One value a record write sets: the fingerprints of its JSON pointer in the record and of its
/// value's JSON text.
pub type Field = (u64, u64);

/// The fields a write of `record` sets when the CRM merges it into the record it holds: every
/// scalar (string, number, boolean, `null`) and every empty list or object, by its JSON pointer;
/// a list's elements by position (HubSpot's `/inputs/0/properties/x`). Sorted by pointer. Two
/// writes of one record can take a value from each other only where they share a pointer
/// ([`sets_back`]).
pub fn fields(record: &Value) -> Vec<Field> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<Field>) {
        let len = path.len();
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (n, v) in a.iter().enumerate() {
                    path.push('/');
                    path.push_str(&n.to_string());
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            _ => out.push((
                xxhash_rust::xxh3::xxh3_64(path.as_bytes()),
                xxhash_rust::xxh3::xxh3_64(v.to_string().as_bytes()),
            )),
        }
    }
    let mut out = Vec::new();
    walk(record, &mut String::new(), &mut out);
    out.sort_unstable();
    out.dedup_by_key(|f| f.0);
    out
}

/// Whether one write of a record can set back another's: with a merging upsert (both `Some`,
/// [`CrmModel::fields_of`]) where they set one field to different values, with a replacing one
/// (`None`) always. The rule the model's [`CrmModel::changes`] follows write by write, for lint.
pub fn sets_back(a: Option<&[Field]>, b: Option<&[Field]>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                if a[i].1 != b[j].1 {
                    return true;
                }
                i += 1;
                j += 1;
            }
        }
    }
    false
}

/// Whether the CRM's front end refuses a request whose idempotency header value is `len` bytes
/// (431): longer than servers take, the limit `compile` applies to a literal header. The one
/// test of the model's answer and of the verdict that files a 431 as the spec's.
pub fn header_too_long(len: usize) -> bool {
    len > crate::spec::model::MAX_HEADER_VALUE as usize
}

/// The CRM's own checks of a request, apart from its faults, throttle and tokens: the facts
/// [`CrmModel::handle_request`] judges a body by (header length, body size, shape, the rule's
/// payload schema). The verdict asks them whether a refusal (400, 413, 422, 431) a dead letter
/// last got can have been the CRM's judgement of its payload, or was a scenario's fault (#193,
/// #215). `tests::checks_answer_as_the_model_does` holds the two to one answer.
#[derive(Debug, Clone)]
pub struct Checks {
    max_body: u64,
    accepts_arrays: bool,
    schema: Option<PayloadSchemas>,
    /// The channel's `Content-Type` is not JSON ([`refused_media_type`]): every request is 415.
    refuses_media_type: bool,
}

impl Checks {
    /// Checks of a CRM that takes bodies of up to `max_body` bytes, arrays of records when
    /// `accepts_arrays`, and judges records by `schema` (tests; a run asks its model,
    /// [`CrmModel::checks`]).
    pub fn new(max_body: u64, accepts_arrays: bool, schema: Option<PayloadSchemas>) -> Checks {
        Checks {
            max_body,
            accepts_arrays,
            schema,
            refuses_media_type: false,
        }
    }

    /// The largest request body the CRM takes (`crm::max_body_bytes`).
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// What the CRM answers a lone request carrying `payload` (of rule `rule`, under
    /// idempotency key `key`) by its own checks, in [`CrmModel::handle_request`]'s order: 431
    /// (the key is longer than servers take), 415 (the channel's `Content-Type` is not JSON), 413 (the body is larger than it takes), 400 (not a
    /// record it takes: docs/semantics.md, "What the CRM accepts as a body"), 422 (a record
    /// fails the rule's payload schema); `None`: it takes the payload.
    pub fn refusal(&self, rule: &str, key: &str, payload: &Value) -> Option<u16> {
        let records: Vec<(&str, &Value)> = crate::spec::payload::records(payload)
            .iter()
            .map(|r| (rule, r))
            .collect();
        self.request_refusal(key, &json_text(payload), &records)
    }

    /// [`Checks::refusal`] of a batch's request (#248): the members' payloads `(rule, payload)`
    /// in one array as the machine writes it (`delivery::machine::batch_body`), under the
    /// batch's key (the members' keys joined, `delivery::idempotency::batch_key`); each member
    /// is one record, judged by its own rule's schema.
    pub fn batch_refusal(&self, key: &str, members: &[(&str, &Value)]) -> Option<u16> {
        let texts: Vec<String> = members.iter().map(|(_, p)| json_text(p)).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.request_refusal(key, &crate::delivery::machine::batch_body(&texts), members)
    }

    /// The one judgement of a request (lone or batched) with body `body`, holding `records`
    /// (each with its rule) once the body is taken.
    fn request_refusal(&self, key: &str, body: &str, records: &[(&str, &Value)]) -> Option<u16> {
        if header_too_long(key.len()) {
            return Some(431);
        }
        if self.refuses_media_type {
            return Some(415);
        }
        if body_too_large(self.max_body, body.len()) {
            return Some(413);
        }
        if crm::body::judge(body, self.accepts_arrays).is_err() {
            return Some(400);
        }
        let fails = records
            .iter()
            .any(|(rule, record)| self.member_refusal(rule, record).is_some());
        fails.then_some(422)
    }

    /// Whether the CRM refuses one record of rule `rule` by itself (422): the first way it
    /// fails the rule's payload schema ([`crate::spec::payload::PayloadSchema::violations`], the
    /// judgement `dlq replay` makes of each record it would send). A batch's request is 422 when
    /// any member is; the verdict asks each member of such a batch (#257), as a replay, which
    /// sends its members one by one, does.
    pub fn member_refusal(&self, rule: &str, record: &Value) -> Option<MemberRefusal> {
        let schema = self.schema.as_ref()?.for_rule(Some(rule))?;
        let v = schema.violations(record).into_iter().next()?;
        Some(MemberRefusal {
            schema: schema.key.clone(),
            at: v.at,
        })
    }
}

/// A record the CRM's schema refuses ([`Checks::member_refusal`]): the spec key of the schema
/// (`rules[1].payloadSchema`) and where the record first fails it (`/Who_Ref__c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRefusal {
    pub schema: String,
    pub at: String,
}

/// Whether a `Content-Type` value says JSON, as a CRM API that reads the body by it judges:
/// `application/json` or a `+json` subtype (`application/vnd.api+json`), type and subtype in
/// any case, with any parameters (`; charset=utf-8`). Anything else (`text/plain`,
/// `application/xml`, `application/x-www-form-urlencoded`, `text/json`, an empty value, a list)
/// is answered 415.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let sub = sub.to_ascii_lowercase();
    ty.eq_ignore_ascii_case("application")
        && token(&sub)
        && (sub == "json" || sub.strip_suffix("+json").is_some_and(|p| !p.is_empty()))
}

/// The channel's `Content-Type` header `(name, value)` when the CRM refuses it (415): the header
/// of that name in any case (the loader refuses two spellings, E106; the HTTP driver sends it
/// over its default `application/json`), unless its value is JSON ([`is_json_media_type`]) or holds a
/// reference resolved only by the hub (`${VAULT_SECRET:…}`). No header: the hub sends JSON's.
/// The one judgement of the CRM model (virtual time and the HTTP mock) and lint's CX039.
pub fn refused_media_type(spec: &RawSpec) -> Option<(&str, &str)> {
    spec.channel
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(_, v)| !v.contains("${") && !is_json_media_type(v))
}

/// Whether a CRM that takes bodies of up to `max_body` bytes refuses one of `len` bytes (413):
/// the model's answer and the verdict's reading of a 413 alike.
pub fn body_too_large(max_body: u64, len: usize) -> bool {
    len as u64 > max_body
}

/// What a write did to the CRM's records, and the record it names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// A new record (the first of a batch's new ones).
    Created(String),
    /// An existing record rewritten by an upsert on its field (none of the batch's was new).
    Updated(String),
    /// A request whose idempotency key the CRM has seen: nothing written.
    Replayed(String),
}

impl Written {
    /// The CRM's answer: 201 with the new record, 200 with the updated or replayed one. The
    /// one answer of the virtual CRM and of `mock-crm` / `sim --http` (they serve this model).
    fn answer(&self) -> (u16, String) {
        let (status, id, word) = match self {
            Written::Created(id) => (201, id, "created"),
            Written::Updated(id) => (200, id, "updated"),
            Written::Replayed(id) => (200, id, "replayed"),
        };
        (
            status,
            serde_json::json!({ "id": id, "status": word }).to_string(),
        )
    }
}

/// A record's id, from the fingerprint of what the CRM knows it by (its upsert value or its
/// idempotency key): every write of one record names the same id.
fn record_id(key: u128) -> String {
    format!("rec-{:016x}", key as u64)
}

/// A 128-bit fingerprint of a key (XXH3-128: deterministic across runs and machines; a
/// collision, which would make two keys one, is as likely as for any 128-bit hash).
pub fn hash128(s: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(s.as_bytes())
}

/// A fingerprint as a map holds it: two `u64`s align to 8 bytes where a `u128` aligns to 16, so
/// an entry with a `u64` beside it takes 24 bytes, not 32 (a map of a run's keys holds one entry
/// per event).
pub type Halves = (u64, u64);

/// [`hash128`]'s fingerprint as [`Halves`].
pub fn halves(h: u128) -> Halves {
    ((h >> 64) as u64, h as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;
    use std::path::Path;

    fn model(yaml: &str, schema: Option<Value>) -> CrmModel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/crm_sync.yaml");
        let spec = crate::spec::load(&path, &Default::default()).spec.unwrap();
        let sc = scenario::parse(yaml, Path::new("t.yaml")).unwrap();
        let schemas = schema
            .as_ref()
            .and_then(PayloadSchemas::spec_wide)
            .unwrap_or_default();
        CrmModel::new(&spec.raw, &sc, &schemas)
    }

    fn req(id: u64, body: &str, bearer: Option<&str>) -> CrmRequest {
        CrmRequest {
            id,
            attempt: 1,
            bearer: bearer.map(str::to_string),
            idempotency: ("X-Idempotency-Key".into(), format!("k{id}")),
            body: body.into(),
            seqs: vec![id],
            rules: Vec::new(),
        }
    }

    fn status(r: Reply) -> (u16, Option<String>, String) {
        match r {
            Reply::Http { response, .. } => (response.status, response.retry_after, response.body),
            other => panic!("expected HTTP, got {other:?}"),
        }
    }

    const BASE: &str =
        "version: 1\nname: t\nduration: 1m\ncrm: { latency: { p50Ms: 0, p99Ms: 0 } }\n";

    /// #215: [`Checks::refusal`] (what the verdict asks) and [`CrmModel::handle_request`] (what
    /// the CRM answers, outside any fault) give one answer for every kind of payload: taken,
    /// 400 (not a record, an array the CRM does not take), 413, 422, 431.
    #[test]
    fn checks_answer_as_the_model_does() {
        let schema = serde_json::json!({"type": "object", "required": ["caseNumber"]});
        for arrays in [false, true] {
            let yaml = format!(
                "version: 1\nname: t\nduration: 1m\ncrm: {{ latency: {{ p50Ms: 0, p99Ms: 0 }}, acceptsArrays: {arrays}, maxBodyBytes: 2000 }}\n"
            );
            let mut m = model(&yaml, Some(schema.clone()));
            let checks = m.checks();
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let payloads = [
                serde_json::json!({"caseNumber": "C-1"}),
                serde_json::json!({"other": 1}),
                serde_json::json!([{"caseNumber": "C-1"}, {"caseNumber": "C-2"}]),
                serde_json::json!([{"caseNumber": "C-1"}, {"x": 1}]),
                serde_json::json!([]),
                serde_json::json!("text"),
                serde_json::json!(null),
                serde_json::json!({"caseNumber": "x".repeat(3000)}),
            ];
            for (i, p) in payloads.iter().enumerate() {
                for key in ["k".to_string(), "k".repeat(9000)] {
                    let mut r = req(i as u64 + 1, &p.to_string(), None);
                    r.idempotency.1 = format!("{key}{i}");
                    r.rules = vec!["R".into()];
                    let (got, _, body) = status(m.handle_request(0, &r, &mut rng));
                    let want = checks.refusal("R", &r.idempotency.1, p);
                    assert_eq!(
                        want.unwrap_or(201),
                        got,
                        "arrays {arrays}, payload {p}, key {} bytes: {body}",
                        r.idempotency.1.len()
                    );
                }
            }
        }
    }

    /// #248: [`Checks::batch_refusal`] (what the verdict asks of a batch's refusal) and
    /// [`CrmModel::handle_request`] of the batch's request (its members' payloads in one array,
    /// as the machine writes it, under their joined key) give one answer: taken, 400 (a member
    /// that is not a record), 413 (a body above the limit, though each member alone fits), 422
    /// (a member failing its schema), 431 (the joined key too long).
    #[test]
    fn batch_checks_answer_as_the_model_does() {
        use crate::delivery::idempotency::batch_key;
        use crate::delivery::machine::batch_body;
        let schema = serde_json::json!({"type": "object", "required": ["caseNumber"]});
        for arrays in [false, true] {
            let yaml = format!(
                "version: 1\nname: t\nduration: 1m\ncrm: {{ latency: {{ p50Ms: 0, p99Ms: 0 }}, acceptsArrays: {arrays}, maxBodyBytes: 2000 }}\n"
            );
            let mut m = model(&yaml, Some(schema.clone()));
            let checks = m.checks();
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let ok = serde_json::json!({"caseNumber": "C-1"});
            let batches: Vec<Vec<Value>> = vec![
                vec![ok.clone()],
                vec![ok.clone(), ok.clone(), ok.clone()],
                vec![ok.clone(), serde_json::json!({"other": 1})],
                vec![ok.clone(), serde_json::json!([ok.clone()])],
                vec![ok.clone(), serde_json::json!(null)],
                vec![serde_json::json!({"caseNumber": "x".repeat(900)}); 3],
            ];
            let mut seq = 0u64;
            for members in &batches {
                for key_len in [4, 3000] {
                    let keys: Vec<String> = (0..members.len())
                        .map(|i| format!("{i:0>key_len$}"))
                        .collect();
                    let key = batch_key(&keys);
                    let texts: Vec<String> = members.iter().map(json_text).collect();
                    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let mut r = req(0, &batch_body(&texts), None);
                    r.seqs = (0..members.len() as u64).map(|i| seq + i).collect();
                    seq += members.len() as u64;
                    r.rules = vec!["R".into(); members.len()];
                    r.idempotency.1 = key.clone();
                    let (got, _, body) = status(m.handle_request(0, &r, &mut rng));
                    let of: Vec<(&str, &Value)> = members.iter().map(|p| ("R", p)).collect();
                    let want = checks.batch_refusal(&key, &of);
                    assert_eq!(
                        want.unwrap_or(201),
                        got,
                        "arrays {arrays}, batch {}, key {} bytes: {body}",
                        r.body,
                        key.len()
                    );
                }
            }
        }
    }

    #[test]
    fn arrays_are_rejected_and_big_bodies_get_413() {
        let mut m = model(BASE, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            status(m.handle_request(0, &req(1, "[{}]", None), &mut rng)).0,
            400
        );
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1_048_577));
        assert_eq!(
            status(m.handle_request(0, &req(2, &big, None), &mut rng)).0,
            413
        );
        assert_eq!(m.stats.side_effects, 0);
    }

    #[test]
    fn a_body_that_is_not_a_record_gets_400_and_a_lone_events_list_is_one_side_effect() {
        let mut m = model(BASE, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (i, body) in ["null", "\"x\"", "3", "true"].into_iter().enumerate() {
            let (s, _, text) = status(m.handle_request(0, &req(i as u64, body, None), &mut rng));
            assert_eq!(s, 400, "{body}");
            assert!(text.contains("Expected a JSON object"), "{text}");
        }
        assert_eq!((m.stats.bodies_rejected, m.stats.side_effects), (4, 0));
        let yaml = "version: 1\nname: t\nduration: 1m\ncrm: { latency: { p50Ms: 0, p99Ms: 0 }, acceptsArrays: true, idempotency: upsert, upsertField: id }\n";
        let mut m = model(yaml, None);
        let two = req(7, r#"[{"id":"a"},{"id":"b"}]"#, None);
        assert_eq!(status(m.handle_request(0, &two, &mut rng)).0, 201, "{yaml}");
        assert_eq!((m.applied(7), m.stats.duplicate_side_effects), (1, 0));
        assert!(m.overwrites().is_empty());
    }

    #[test]
    fn a_payload_violating_the_target_schema_gets_422_and_no_write() {
        let schema = serde_json::json!({"type": "object", "required": ["caseNumber"]});
        let mut m = model(BASE, Some(schema));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (s, _, body) = status(m.handle_request(0, &req(1, "{\"a\":1}", None), &mut rng));
        assert_eq!(s, 422);
        assert!(body.contains("caseNumber"), "{body}");
        assert_eq!(
            status(m.handle_request(0, &req(2, "{\"caseNumber\":\"1\"}", None), &mut rng)).0,
            201
        );
        assert_eq!(m.applied(2), 1);
    }

    #[test]
    fn salesforce_throttles_with_403_and_no_retry_after() {
        let yaml =
            format!("{BASE}faults:\n  - throttle: {{ from: 0s, to: 1m, requests: 1, per: 1h }}\n")
                .replace("crm: {", "crm: { profile: salesforce,");
        let mut m = model(&yaml, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            status(m.handle_request(0, &req(1, "{}", None), &mut rng)).0,
            201
        );
        let (s, ra, body) = status(m.handle_request(10, &req(2, "{}", None), &mut rng));
        assert_eq!((s, ra), (403, None));
        assert!(body.contains("REQUEST_LIMIT_EXCEEDED"));
    }

    #[test]
    fn a_revoked_token_gets_401_and_a_new_one_works() {
        let yaml = format!("{BASE}faults:\n  - revokeTokens: {{ at: 10s }}\n");
        let mut m = model(&yaml, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let Some(TokenResult::Granted {
            access_token,
            expires_in,
        }) = m.handle_token_request(0, &mut rng).1
        else {
            panic!("token refused")
        };
        assert_eq!(expires_in, Some(3600));
        assert_eq!(
            status(m.handle_request(5_000, &req(1, "{}", Some(&access_token)), &mut rng)).0,
            201
        );
        assert_eq!(
            status(m.handle_request(11_000, &req(2, "{}", Some(&access_token)), &mut rng)).0,
            401
        );
        let Some(TokenResult::Granted {
            access_token: fresh,
            ..
        }) = m.handle_token_request(12_000, &mut rng).1
        else {
            panic!("token refused")
        };
        assert_eq!(
            status(m.handle_request(12_000, &req(3, "{}", Some(&fresh)), &mut rng)).0,
            201
        );
    }

    /// #226: `revokeTokens` revokes a static bearer token too, for good (no token endpoint
    /// replaces it); before the revocation, and without one, it is accepted as before.
    #[test]
    fn a_revoked_static_bearer_token_stays_revoked() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut m = model(
            &format!("{BASE}faults:\n  - revokeTokens: {{ at: 10s }}\n"),
            None,
        );
        let bearer = Some("${VAULT_SECRET:CRM_TOKEN}");
        for (at, want) in [(5_000, 201), (11_000, 401), (50_000, 401)] {
            let got = status(m.handle_request(at, &req(at, "{}", bearer), &mut rng)).0;
            assert_eq!(got, want, "at {at}");
        }
        let mut m = model(BASE, None);
        assert_eq!(
            status(m.handle_request(50_000, &req(1, "{}", bearer), &mut rng)).0,
            201
        );
    }

    #[test]
    fn a_rotated_secret_is_refused_with_invalid_grant_until_the_vault_catches_up() {
        let yaml =
            format!("{BASE}faults:\n  - rotateSecret: {{ at: 10s, vaultUpdatedAfter: 30s }}\n");
        let mut m = model(&yaml, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            m.handle_token_request(20_000, &mut rng).1,
            Some(TokenResult::Refused {
                status: 400,
                error: "invalid_grant".into()
            })
        );
        assert!(matches!(
            m.handle_token_request(40_000, &mut rng).1,
            Some(TokenResult::Granted { .. })
        ));
    }

    #[test]
    fn the_header_deduplicates_a_replay() {
        let mut m = model(BASE, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let r = req(1, "{}", None);
        assert_eq!(status(m.handle_request(0, &r, &mut rng)).0, 201);
        assert_eq!(status(m.handle_request(1, &r, &mut rng)).0, 200);
        assert_eq!((m.applied(1), m.stats.deduplicated), (1, 1));
    }

    /// #126/#178: a write that creates a record is answered 201, an upsert of a record already
    /// there 200 "updated" with that record's id (a resend of the same event or another event
    /// about the same record), a replayed key 200 "replayed", and a CRM without deduplication
    /// creates a record with every write. `mock-crm` serves this answer (`tests/http.rs`).
    #[test]
    fn a_create_is_201_and_an_update_or_a_replay_200_with_the_records_id() {
        let answer = |r: Reply| -> (u16, String, String) {
            let (s, _, body) = status(r);
            let v: Value = serde_json::from_str(&body).unwrap();
            (
                s,
                v["status"].as_str().unwrap().into(),
                v["id"].as_str().unwrap().into(),
            )
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let upsert = "version: 1\nname: t\nduration: 1m\ncrm: { latency: { p50Ms: 0, p99Ms: 0 }, idempotency: upsert, upsertField: ref }\n";
        let mut m = model(upsert, None);
        let mut with = |id: u64, seq: u64, body: &str| {
            let mut r = req(id, body, None);
            r.seqs = vec![seq];
            answer(m.handle_request(0, &r, &mut rng))
        };
        let first = with(1, 0, r#"{"ref":"I-7"}"#);
        let resent = with(2, 0, r#"{"ref":"I-7"}"#);
        let other = with(3, 1, r#"{"ref":"I-7","state":"ended"}"#);
        let new = with(4, 2, r#"{"ref":"I-8"}"#);
        assert_eq!((first.0, first.1.as_str()), (201, "created"));
        assert_eq!(
            (resent.0, resent.1.as_str(), &resent.2),
            (200, "updated", &first.2)
        );
        assert_eq!(
            (other.0, other.1.as_str(), &other.2),
            (200, "updated", &first.2)
        );
        assert_eq!((new.0, new.1.as_str()), (201, "created"));
        assert_ne!(new.2, first.2);
        let mut m = model(BASE, None);
        let r = req(5, "{}", None);
        let (a, b) = (
            answer(m.handle_request(0, &r, &mut rng)),
            answer(m.handle_request(1, &r, &mut rng)),
        );
        assert_eq!(
            (a.0, a.1.as_str(), b.0, b.1.as_str()),
            (201, "created", 200, "replayed")
        );
        assert_eq!(a.2, b.2);
        let none = "version: 1\nname: t\nduration: 1m\ncrm: { latency: { p50Ms: 0, p99Ms: 0 }, idempotency: none }\n";
        let mut m = model(none, None);
        let ids: Vec<_> = (6..8)
            .map(|id| answer(m.handle_request(0, &req(id, "{}", None), &mut rng)))
            .collect();
        assert!(ids.iter().all(|a| a.0 == 201), "{ids:?}");
        assert_ne!(ids[0].2, ids[1].2);
    }

    /// A record is read once: ahead, from the payload the machine was handed
    /// ([`CrmModel::pre_read`]), or from the body sent (as over HTTP). Both readings give the
    /// same answers, counts, side effects and overwrites, request by request: first writes, a
    /// replay, upserts onto another event's record, a key missing from the payload, a key by
    /// JSON pointer, a record failing the schema (422 with its errors), a lone event's list of
    /// records, and batches.
    #[test]
    fn reading_ahead_answers_as_reading_the_body() {
        use serde_json::json;
        let schema =
            json!({"type": "object", "properties": {"n": {"type": "number", "maximum": 10}}});
        let p = |case: Value, n: Value| json!({"caseNumber": case, "n": n, "nested": {"id": "x"}});
        let lone = vec![
            p(json!("A"), json!(1)),
            p(json!("A"), json!(2)),
            p(json!("B"), json!(11)),
            json!({"n": 3}),
            json!({"n": 4}),
            p(json!(7), json!(1.5)),
            p(json!("B"), json!(-0.0)),
            json!([{"caseNumber": "L1"}, {"caseNumber": "L2"}]),
            p(json!("A"), json!(1e-7)),
        ];
        for scenario in [
            "idempotency: upsert, upsertField: caseNumber",
            "idempotency: upsert, upsertField: /nested/id",
            "idempotency: header",
        ] {
            let yaml = format!(
                "version: 1\nname: t\nduration: 1m\ncrm: {{ latency: {{ p50Ms: 0, p99Ms: 0 }}, acceptsArrays: true, {scenario} }}\n"
            );
            let (mut body_read, mut ahead) = (
                model(&yaml, Some(schema.clone())),
                model(&yaml, Some(schema.clone())),
            );
            let (mut r1, mut r2) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
            let mut seq = 0u64;
            let mut requests: Vec<Vec<Value>> = lone.iter().map(|v| vec![v.clone()]).collect();
            requests.push(vec![p(json!("C"), json!(1)), p(json!("A"), json!(2))]);
            requests.push(vec![p(json!("D"), json!(1)), p(json!("E"), json!(12))]);
            for (i, payloads) in requests.iter().enumerate() {
                let seqs: Vec<u64> = (seq..seq + payloads.len() as u64).collect();
                seq += payloads.len() as u64;
                for (s, v) in seqs.iter().zip(payloads) {
                    ahead.pre_read(*s, "R", v);
                }
                let body = if payloads.len() > 1 {
                    Value::Array(payloads.clone())
                } else {
                    payloads[0].clone()
                };
                let r = CrmRequest {
                    seqs,
                    rules: payloads.iter().map(|_| "R".to_string()).collect(),
                    ..req(i as u64, &json_text(&body), None)
                };
                // Each request twice: the second is a resend of the same body.
                for _ in 0..2 {
                    let (a, b) = (
                        body_read.handle_request(0, &r, &mut r1),
                        ahead.handle_request(0, &r, &mut r2),
                    );
                    assert_eq!(a, b, "{scenario}: request {i}");
                }
            }
            assert_eq!(body_read.stats, ahead.stats, "{scenario}");
            assert_eq!(body_read.overwrites(), ahead.overwrites(), "{scenario}");
            assert_eq!(body_read.changes(), ahead.changes(), "{scenario}");
            for i in 0..OVERWRITE_VALUES {
                assert_eq!(body_read.overwrite_value(i), ahead.overwrite_value(i));
            }
            for s in 0..seq {
                assert_eq!(
                    body_read.applied(s),
                    ahead.applied(s),
                    "{scenario}: seq {s}"
                );
            }
            assert!(ahead.stats.schema_rejected > 0 && ahead.stats.side_effects > 3);
            if scenario.contains("caseNumber") {
                assert!(!ahead.overwrites().is_empty(), "{:?}", ahead.stats);
                assert_eq!(ahead.overwrite_value(0), Some("\"A\""));
            }
        }
    }
}
