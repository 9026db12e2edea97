//! Who must act on a dead letter, and what the verdict says they must do.
//!
//! A dead letter is **caused by the spec** when no retry and no replay can deliver it until the
//! spec changes: the transform failed (`TRANSFORM_FAILED`), the idempotency key did not render
//! (`IDEMPOTENCY_KEY_UNRESOLVED`), the payload broke the size guard (`PAYLOAD_TOO_LARGE`), the
//! CRM refused the payload itself (its last answer a 400, 413, 415, 422 or 431, whether the spec lists
//! the status as non-retryable or retried the refusal until `RETRIES_EXHAUSTED`: the same payload
//! gets the same answer — except a refusal of a payload the simulated CRM's own checks take
//! ([`Limits`], `CrmModel::checks`: a key no longer than servers take, a body no larger than it
//! takes, records it takes, each passing its rule's schema; a batch's request judged whole,
//! #248), which was a fault of the CRM, a scenario's `respond`, and is to replay), or the spec's
//! own policy dead-lettered an answer that heals by waiting
//! (`NON_RETRYABLE_STATUS` after a 408, 429 or 5xx the spec lists as non-retryable, lint's
//! CX007). Such dead letters fail the run by default, with a line naming the reason, the rule, an
//! example event and the fix; a scenario that means to produce them says so in
//! `expect.deadLetteredByReason` (the band then decides). `AUTH_FAILED` is the spec's too when
//! the spec caches tokens longer than the CRM's tokens live ([`sends_expired_tokens`], the rule
//! lint's CX005 applies), and when an OAuth spec does not set `retryOnTokenExpiry` (lint's
//! CX002): a 401 then dead-letters at once where a new token would have been accepted, and a
//! replay under that spec fails again at the next expiry — unless the machine, run with
//! `retryOnTokenExpiry: true` under the same scenario and seed, does not deliver the event either
//! (the token endpoint refused the refreshes: [`Causes::lost_with_refresh`], #219). Every other dead letter was caused by
//! the scenario's faults (an outage, a throttle the policy retried to the end, revoked
//! credentials the refreshes could not cure): the data is intact and a person must **replay** it
//! once the cause is gone. Those are reported with their count and reasons and fail the run only
//! when a bound says so (`expect.deadLettered`, `expect.deadLetterRate`,
//! `--max-dead-letter-rate`).

use std::collections::{BTreeMap, BTreeSet};

use crate::delivery::{DeadLettered, Reason};
use crate::sim::crm::{Checks, MemberRefusal};
use crate::sim::scenario::Scenario;
use crate::spec::model::{Auth, RawSpec};

/// Statuses with which a CRM refuses the payload itself (malformed, too large, invalid) or the
/// request's headers (415: a `Content-Type` that is not JSON, lint's CX039; 431: an idempotency
/// key longer than [`crate::spec::model::MAX_HEADER_VALUE`]).
pub const PAYLOAD_REJECTIONS: [u16; 5] = [400, 413, 415, 422, 431];

/// Who must act on a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The spec: fix it; until then nothing delivers the event.
    Spec,
    /// The scenario's faults: replay once the cause is gone.
    Faults,
}

/// Answers that heal by waiting (a timeout, a throttle, an outage): the machine retries them
/// unless the spec lists them as non-retryable (`delivery::classify`).
pub fn heals_by_waiting(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Whose the dead letter is (an `AUTH_FAILED` is decided by [`Causes::add`], which knows the
/// spec's token settings).
pub fn cause(reason: Reason, last_status: Option<u16>) -> Cause {
    let refused = last_status.is_some_and(|s| PAYLOAD_REJECTIONS.contains(&s));
    match reason {
        Reason::TransformFailed | Reason::IdempotencyKeyUnresolved | Reason::PayloadTooLarge => {
            Cause::Spec
        }
        Reason::NonRetryableStatus | Reason::RetriesExhausted if refused => Cause::Spec,
        Reason::NonRetryableStatus if last_status.is_some_and(heals_by_waiting) => Cause::Spec,
        _ => Cause::Faults,
    }
}

/// Dead letters of one reason in one rule that the spec caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecCause {
    pub reason: Reason,
    pub rule: String,
    /// The CRM's last status, when its answer decided the dead letter; when the CRM's own
    /// checks refuse the request for another reason than the status it answered (a scenario's
    /// `respond` answered in their place), the checks' status: the one it gives without the
    /// fault, whose fix is the spec's (#248).
    pub status: Option<u16>,
    /// The status the CRM actually answered, when it is not `status` (the fault's).
    pub answered: Option<u16>,
    /// For `AUTH_FAILED`: whether the token cache outlives the CRM's tokens (else the spec has
    /// no `retryOnTokenExpiry`).
    pub stale_tokens: bool,
    /// For `RETRIES_EXHAUSTED` whose retries ignored the CRM's `Retry-After` (#216): the last
    /// response's `Retry-After` in ms, of the example.
    pub ignored_retry_after: Option<u64>,
    pub count: u64,
    /// The first one: event, fixture, and what went wrong.
    pub example: String,
    /// For a batch the CRM refused as too large (413): the spec's `batchSize`, the CRM's limit
    /// when the run knows it, and the largest payload of these dead letters, from which the
    /// fix names the `batchSize` that fits.
    pub batch_fit: Option<BatchFit>,
    /// For a member of a batch refused with 422: the member's own judgement (#257), whether it
    /// fails its schema (where) or was refused with a batch it cannot be replayed without.
    pub member: Member,
}

/// What the CRM's checks say of one member of a batch refused with 422, judged alone as a
/// replay sends it (#257); `None` for every other dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Member {
    #[default]
    None,
    /// It fails its rule's schema: the spec's.
    Fails(MemberRefusal),
    /// It passes, but its batch may have been written, so a replay re-sends the batch whole,
    /// which the failing members still break: it is delivered once they pass.
    HeldByBatch,
}

/// What a batched 413's fix is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchFit {
    pub batch_size: usize,
    pub max_body: Option<u64>,
    /// The largest payload (compact JSON bytes) of the cause's dead letters.
    pub largest: usize,
}

/// Most spec causes kept (distinct reason × rule × status); the rest are counted in the last.
const MAX_CAUSES: usize = 32;

/// The simulated CRM's own checks, when the run knows them (the CRM model's; a real CRM's,
/// under `--target`, are not known).
#[derive(Debug, Clone)]
pub struct Limits {
    /// What the CRM model refuses by itself (`CrmModel::checks`).
    pub checks: Checks,
}

impl Limits {
    /// Whether the CRM's refusal (400, 413, 415, 422, 431) of this dead letter's last request
    /// cannot have been its judgement of the request: its own checks take it (the key within
    /// the header limit, the body within the size limit, records it takes, each passing its
    /// rule's schema). The refusal was then a fault of the CRM (a scenario's `respond`), and a
    /// replay delivers the event (#193, #215). `batch`: the request was a batch's, holding
    /// these members (`d` among them), judged whole under the batch's key (#248).
    /// That is [`Judged::Taken`]; [`Judged::Refused`] names the status the checks give it
    /// instead (the CRM's answer without the fault, whose fix the verdict gives).
    fn judge(&self, d: &DeadLettered, batch: Option<&[DeadLettered]>) -> Judged {
        if !refused(d) {
            return Judged::Unknown;
        }
        let refusal = match (batch, &d.batch) {
            (Some(members), Some(b)) => {
                let payloads: Option<Vec<(&str, &serde_json::Value)>> = members
                    .iter()
                    .map(|m| m.payload.as_ref().map(|p| (&*m.id.rule_id, p)))
                    .collect();
                payloads.map(|p| self.checks.batch_refusal(&b.key, &p))
            }
            (None, None) => {
                let key = d.idempotency_key.as_deref().unwrap_or("");
                d.payload
                    .as_ref()
                    .map(|p| self.checks.refusal(&d.id.rule_id, key, p))
            }
            _ => None,
        };
        match refusal {
            None => Judged::Unknown,
            Some(None) => Judged::Taken,
            Some(Some(s)) => Judged::Refused(s),
        }
    }
}

/// What the CRM's own checks say of a refused request ([`Limits::judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// They take it: the refusal was a fault of the CRM's.
    Taken,
    /// They refuse it with this status (the CRM's answer without the fault).
    Refused(u16),
    /// Not asked (not a refusal, or a payload the dead letter does not carry).
    Unknown,
}

/// Whether the CRM's last answer to `d` refused the request itself ([`PAYLOAD_REJECTIONS`]).
fn refused(d: &DeadLettered) -> bool {
    d.last_status
        .is_some_and(|s| PAYLOAD_REJECTIONS.contains(&s))
}

/// A batch's members dead-lettered so far (they settle together, one after another), each with
/// its example, held until the last so the batch is judged whole ([`Limits::judge`]).
#[derive(Debug, Clone, Default)]
pub struct Pending {
    members: Vec<(DeadLettered, String)>,
}

/// The dead letters of a run, by who must act on them.
#[derive(Debug, Clone, Default)]
pub struct Causes {
    /// By the spec, in order of first occurrence.
    pub spec: Vec<SpecCause>,
    /// By the scenario's faults, by reason: to replay.
    pub to_replay: BTreeMap<Reason, u64>,
    /// The spec's token cache outlives the CRM's tokens ([`sends_expired_tokens`]): its
    /// `AUTH_FAILED` dead letters are the spec's.
    pub stale_tokens: bool,
    /// OAuth without `retryOnTokenExpiry` ([`refreshes_no_token`]): a 401 dead-letters at once
    /// where a new token would have been accepted, so its `AUTH_FAILED` dead letters are the
    /// spec's — unless the machine, run again with `retryOnTokenExpiry: true` under the same
    /// scenario and seed, lost the event too ([`Causes::lost_with_refresh`]).
    pub no_refresh: bool,
    /// The machine's answer to "would these events have been delivered had the spec retried on
    /// token expiry?" (#219): the events (`origin`, rule) the same run with
    /// `retryOnTokenExpiry: true` did not deliver. An `AUTH_FAILED` among them is the
    /// scenario's (its token endpoint refused or failed the refreshes: the advised fix loses the
    /// same events), to replay. `None`: not asked (every such `AUTH_FAILED` is the spec's).
    pub lost_with_refresh: Option<BTreeSet<(u64, String)>>,
    /// The machine's answer to "would these events have been delivered had the policy respected
    /// `Retry-After`?" (#216): the events the same run with `respectRetryAfterHeader: true` did
    /// not deliver. A `RETRIES_EXHAUSTED` whose retries fired before the `Retry-After` they
    /// followed ([`DeadLettered::retry_after_ignored`]) of an event not among them is the
    /// spec's. `None`: not asked (the spec respects the header).
    pub lost_with_retry_after: Option<BTreeSet<(u64, String)>>,
    /// When set, every dead letter's (`origin`, rule) is collected here (the counterfactual
    /// run that answers [`Causes::lost_with_refresh`]).
    pub record: Option<BTreeSet<(u64, String)>>,
    /// The simulated CRM's own checks: a refusal (400, 413, 422, 431) of a payload they take
    /// is the CRM's fault, to replay (`None`: filed by status alone).
    pub limits: Option<Limits>,
    /// The spec's `channel.batchSize` (a batched 413's fix names a smaller one).
    pub batch_size: usize,
    /// Members of a batch refused with a 4xx the checks are asked about, until the batch's
    /// last member is dead-lettered ([`Causes::finish`] files what is left).
    pub pending: Pending,
    /// Of [`Causes::to_replay`], members the CRM's checks take of batches refused with 422
    /// because of another member (#257): a replay sends them one by one and delivers them.
    pub refused_with_batch: u64,
}

/// Whether `spec` uses OAuth without `retryOnTokenExpiry`: the machine then dead-letters every
/// 401 as `AUTH_FAILED` instead of fetching a new token (lint's CX002).
pub fn refreshes_no_token(spec: &RawSpec) -> bool {
    matches!(
        spec.channel.auth,
        Auth::OAuth2ClientCredentials {
            retry_on_token_expiry: false,
            ..
        }
    )
}

/// Whether a run of `spec` under scenario `sc` sends tokens the CRM has expired: the hub caches
/// for `auth.tokenCacheTtlSeconds`, the CRM accepts a token for `crm::token_lifetime_seconds`
/// (`delivery::sends_expired_tokens` compares them, as lint's CX005 does).
pub fn sends_expired_tokens(spec: &RawSpec, sc: &Scenario) -> bool {
    let Auth::OAuth2ClientCredentials {
        token_cache_ttl_seconds: ttl,
        ..
    } = spec.channel.auth
    else {
        return false;
    };
    let profile = crate::crm::profile(sc.crm.profile.unwrap_or(spec.crm.profile));
    let life = crate::crm::token_lifetime_seconds(spec, &profile, sc.crm.token_lifetime_seconds);
    crate::delivery::sends_expired_tokens(ttl, life)
}

impl Causes {
    /// Files one dead letter; `example` describes it (called for the first of each cause only,
    /// and for each member of a batch whose refusal the CRM's checks are asked about).
    pub fn add(&mut self, d: &DeadLettered, example: impl FnOnce() -> String) {
        if let Some(r) = self.record.as_mut() {
            r.insert((d.id.origin, d.id.rule_id.to_string()));
        }
        let auth = d.reason == Reason::AuthFailed && (self.stale_tokens || self.refresh_cures(d));
        if auth || self.retry_after_cures(d) {
            return self.file(d, Cause::Spec, None, Member::None, example);
        }
        match (&d.batch, cause(d.reason, d.last_status)) {
            // A batch's refusal: judged once its every member is here (#248).
            (Some(b), Cause::Spec) if self.limits.is_some() && refused(d) => {
                let fits = self.pending.members.last().is_none_or(|(m, _)| {
                    m.batch.as_ref().is_some_and(|mb| {
                        mb.key == b.key && mb.size == b.size && mb.index < b.index && m.at == d.at
                    })
                });
                if !fits {
                    self.settle_pending();
                }
                self.pending.members.push((d.clone(), example()));
                if self.pending.members.len() == b.size as usize {
                    self.settle_pending();
                }
            }
            (_, Cause::Spec) => match self.limits.as_ref().map(|l| l.judge(d, None)) {
                Some(Judged::Taken) => self.file(d, Cause::Faults, None, Member::None, example),
                Some(Judged::Refused(s)) => {
                    self.file(d, Cause::Spec, Some(s), Member::None, example)
                }
                _ => self.file(d, Cause::Spec, None, Member::None, example),
            },
            (_, by) => self.file(d, by, None, Member::None, example),
        }
    }

    /// Files the members of the batch held in [`Causes::pending`]: the scenario's when the CRM's
    /// checks take the batch they make up, else the spec's; a batch not all of whose members
    /// were dead-lettered is filed by its status alone.
    fn settle_pending(&mut self) {
        let members = std::mem::take(&mut self.pending.members);
        let Some((first, _)) = members.first() else {
            return;
        };
        let whole = first
            .batch
            .as_ref()
            .is_some_and(|b| b.size as usize == members.len());
        let dead: Vec<DeadLettered> = members.iter().map(|(d, _)| d.clone()).collect();
        let judged = match &self.limits {
            Some(l) if whole => l.judge(first, Some(&dead)),
            _ => Judged::Unknown,
        };
        let (by, found) = match judged {
            Judged::Taken => (Cause::Faults, None),
            Judged::Refused(s) => (Cause::Spec, Some(s)),
            Judged::Unknown => (Cause::Spec, None),
        };
        // A 422 is the only refusal of a batch a member earns alone (a 431 key, a 415
        // Content-Type, a 413 body, a 400 shape are the whole request's): each member is judged
        // as a replay sends it, one by one (#257).
        let checks = self.limits.as_ref().map(|l| l.checks.clone());
        for (d, example) in members {
            let member = match (&checks, found, &d.payload) {
                (Some(c), Some(422), Some(p)) => match c.member_refusal(&d.id.rule_id, p) {
                    Some(m) => Member::Fails(m),
                    None if d.batch.as_ref().is_some_and(|b| b.maybe_applied) => {
                        Member::HeldByBatch
                    }
                    None => {
                        self.refused_with_batch += 1;
                        self.file(&d, Cause::Faults, None, Member::None, || example);
                        continue;
                    }
                },
                _ => Member::None,
            };
            self.file(&d, by, found, member, || example);
        }
    }

    /// Files what is still held once the run is over (a batch some of whose members never
    /// settled: by its status alone).
    pub fn finish(&mut self) {
        self.settle_pending();
    }

    /// Counts `d` under `by`; `found`: the status the CRM's own checks give its last request
    /// ([`Limits::judge`]), which names the cause when it is not the status answered.
    fn file(
        &mut self,
        d: &DeadLettered,
        by: Cause,
        found: Option<u16>,
        member: Member,
        example: impl FnOnce() -> String,
    ) {
        match by {
            Cause::Faults => *self.to_replay.entry(d.reason).or_default() += 1,
            Cause::Spec => {
                let ignored_retry_after = d.last_retry_after.filter(|_| self.retry_after_cures(d));
                let answered = d.last_status.filter(|_| {
                    matches!(
                        d.reason,
                        Reason::NonRetryableStatus | Reason::RetriesExhausted
                    )
                });
                // The checks' reason names the cause and its fix; the answer is kept beside it.
                let (status, answered) = match (answered, found) {
                    (Some(a), Some(f)) if a != f => (Some(f), Some(a)),
                    (a, _) => (a, None),
                };
                // A batch refused as too large: its payloads decide the batchSize that fits.
                let fit =
                    (status == Some(413) && d.batch.is_some() && self.batch_size > 1).then(|| {
                        BatchFit {
                            batch_size: self.batch_size,
                            max_body: self.limits.as_ref().map(|l| l.checks.max_body()),
                            largest: d
                                .payload
                                .as_ref()
                                .map_or(0, |p| crate::delivery::machine::json_text(p).len()),
                        }
                    });
                if let Some(c) = self.spec.iter_mut().find(|c| {
                    c.reason == d.reason
                        && *c.rule == *d.id.rule_id
                        && c.status == status
                        && c.answered == answered
                        && c.ignored_retry_after.is_some() == ignored_retry_after.is_some()
                        && c.member == member
                }) {
                    c.count += 1;
                    if let (Some(have), Some(new)) = (c.batch_fit.as_mut(), fit) {
                        have.largest = have.largest.max(new.largest);
                    }
                } else if self.spec.len() < MAX_CAUSES {
                    self.spec.push(SpecCause {
                        reason: d.reason,
                        rule: d.id.rule_id.to_string(),
                        status,
                        answered,
                        stale_tokens: self.stale_tokens,
                        ignored_retry_after,
                        count: 1,
                        example: example(),
                        batch_fit: fit,
                        member,
                    });
                } else if let Some(last) = self.spec.last_mut() {
                    last.count += 1;
                }
            }
        }
    }

    /// Whether `d` (an `AUTH_FAILED` of a spec without `retryOnTokenExpiry`) would have been
    /// delivered had the spec retried on token expiry, as the machine answered it
    /// ([`Causes::lost_with_refresh`]).
    fn refresh_cures(&self, d: &DeadLettered) -> bool {
        self.no_refresh
            && !self
                .lost_with_refresh
                .as_ref()
                .is_some_and(|lost| lost.contains(&(d.id.origin, d.id.rule_id.to_string())))
    }

    /// Whether `d` exhausted its retries firing them before the `Retry-After` they followed,
    /// and the same run with `respectRetryAfterHeader: true` delivered the event
    /// ([`Causes::lost_with_retry_after`]).
    fn retry_after_cures(&self, d: &DeadLettered) -> bool {
        d.reason == Reason::RetriesExhausted
            && d.retry_after_ignored
            && d.last_retry_after.is_some()
            && self
                .lost_with_retry_after
                .as_ref()
                .is_some_and(|lost| !lost.contains(&(d.id.origin, d.id.rule_id.to_string())))
    }

    /// Dead letters the spec caused.
    pub fn spec_total(&self) -> u64 {
        self.spec.iter().map(|c| c.count).sum()
    }

    /// Dead letters to replay.
    pub fn replay_total(&self) -> u64 {
        self.to_replay.values().sum()
    }
}

/// `RETRIES_EXHAUSTED 12, AUTH_FAILED 2` (reasons in their declaration order).
pub fn reason_list(by: &BTreeMap<Reason, u64>) -> String {
    Reason::ALL
        .iter()
        .filter_map(|r| by.get(r).map(|n| format!("{} {n}", r.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SpecCause {
    /// `TRANSFORM_FAILED ×400 in rule ZD_TICKET` (with the status when the CRM refused the
    /// payload; `413, answered 422` when its checks refuse it for another reason than a fault
    /// answered).
    pub fn label(&self) -> String {
        let member = match &self.member {
            Member::None => String::new(),
            Member::Fails(m) if m.at.is_empty() => format!(" fail {}", m.schema),
            Member::Fails(m) => format!(" fail {} at {}", m.schema, m.at),
            Member::HeldByBatch => " pass, held by their batch".to_string(),
        };
        let label = match (self.status, self.answered) {
            (Some(s), Some(a)) => format!(
                "{} ({s}, answered {a}) ×{} in rule {}",
                self.reason.as_str(),
                self.count,
                self.rule
            ),
            (Some(s), None) => format!(
                "{} ({s}) ×{} in rule {}",
                self.reason.as_str(),
                self.count,
                self.rule
            ),
            (None, _) => format!(
                "{} ×{} in rule {}",
                self.reason.as_str(),
                self.count,
                self.rule
            ),
        };
        label + &member
    }

    /// What a person does about it (with the lint rule that flags the spec, where one does):
    /// the fix of the status the CRM's own checks give, after what it answered when a fault
    /// answered in their place.
    pub fn fix(&self) -> String {
        let fix = self.status_fix();
        if self.member == Member::HeldByBatch {
            return format!(
                "each passes its schema, but its batch was refused (422) for another member's payload and may have been written (an attempt was not refused), so a replay re-sends the batch whole: it is delivered once those members pass; {fix}"
            );
        }
        match (self.status, self.answered) {
            (Some(s), Some(a)) => format!(
                "the CRM answered {a} (the scenario's fault), but its own checks refuse this request with {s}, as it answers without the fault: {fix}"
            ),
            _ => fix,
        }
    }

    /// The fix of the cause `status` names: the one text per cause.
    fn status_fix(&self) -> String {
        let retried = |fix: &str, s: u16| {
            if self.reason == Reason::RetriesExhausted {
                format!("{fix}; and take {s} out of retryableStatusCodes: the same payload gets the same answer on every retry (lint: CX006)")
            } else {
                fix.to_string()
            }
        };
        if let Some(ra) = self.ignored_retry_after {
            let s = self.status.map_or_else(String::new, |s| format!("{s} "));
            return format!(
                "the CRM's {s}responses carried Retry-After ({}), but retry.respectRetryAfterHeader is off, so the retries fired before its window reopened and ran out; the same run respecting it delivers these events: set retry.respectRetryAfterHeader: true (the hub then waits at least the Retry-After, the guide's edge case 1)",
                crate::sim::report::fmt_ms(ra)
            );
        }
        match (self.reason, self.status) {
            (_, Some(431)) => retried(&format!("the idempotency header is longer than servers accept ({} bytes): build idempotency.key from ids, not free text, and keep batchSize × key length under the limit (lint: CX036)", crate::spec::model::MAX_HEADER_VALUE), 431),
            (_, Some(415)) => retried("the CRM refuses the request's Content-Type: the hub sends a JSON body, so set channel.headers Content-Type: application/json (lint: CX039)", 415),
            (_, Some(413)) => match self.batch_fit {
                Some(fit) => retried(&fit.fix(), 413),
                None => retried("the CRM refuses the payload as too large: trim it in the transform (crm.maxPayloadBytes makes the hub dead-letter it before sending)", 413),
            },
            (Reason::NonRetryableStatus, Some(s)) if heals_by_waiting(s) => format!(
                "{s} heals by waiting (a throttle, an outage), but nonRetryableStatusCodes dead-letters it at once: move {s} to retryableStatusCodes (lint: CX007)"
            ),
            (_, Some(400)) => retried("the CRM refuses the body as not a record it takes: return one JSON object per event (with batching, the hub makes the batch's array), or set crm.acceptsArrays: true once the CRM's endpoint takes a list of records (lint: CX035)", 400),
            (_, Some(422)) => retried("the CRM's schema refuses the record: make the transform's output pass crm.payloadSchema (`cxsync test` checks the fixtures against it)", 422),
            (_, Some(s)) => retried(
                "make the payload match what the CRM accepts (crm.payloadSchema, batching)",
                s,
            ),
            (Reason::TransformFailed, _) => {
                "fix the transform (`cxsync test` runs it on the fixtures)".to_string()
            }
            (Reason::IdempotencyKeyUnresolved, _) => {
                "make idempotency.key render for every event as a header can carry it (ASCII ids every event has, not names or free text)".to_string()
            }
            (Reason::PayloadTooLarge, _) => {
                "trim the payload in the transform, or raise crm.maxPayloadBytes".to_string()
            }
            (Reason::AuthFailed, _) if self.stale_tokens => {
                "the hub uses a token for auth.tokenCacheTtlSeconds, longer than the CRM's tokens live: cache for less than crm.tokenLifetimeSeconds (lint: CX005), and set retryOnTokenExpiry: true".to_string()
            }
            (Reason::AuthFailed, _) => {
                "without retryOnTokenExpiry a 401 dead-letters at once where a new token would have been accepted, and a replay fails again at the next expiry: set retryOnTokenExpiry: true (lint: CX002)".to_string()
            }
            _ => "make the payload match what the CRM accepts (crm.payloadSchema, batching)"
                .to_string(),
        }
    }
}

impl BatchFit {
    /// A batch refused as too large: when each event alone fits, the fix is a smaller batch,
    /// and it is named; when even one does not, it is a smaller payload.
    fn fix(&self) -> String {
        use crate::delivery::machine::{batch_body_len, largest_batch_within};
        let Some(limit) = self.max_body else {
            return format!(
                "the CRM refuses the body as too large: with batchSize {} one body holds up to {} payloads; lower channel.batchSize, or trim the payload in the transform",
                self.batch_size, self.batch_size
            );
        };
        match largest_batch_within(self.largest, limit, self.batch_size) {
            0 => format!(
                "the CRM refuses the payload as too large even alone ({} bytes in a batch's array, above its {limit}): trim it in the transform (crm.maxPayloadBytes makes the hub dead-letter it before sending)",
                batch_body_len([self.largest])
            ),
            n if n < self.batch_size => format!(
                "a full batch of {} is above the {limit} bytes the CRM takes, though each event alone fits (these payloads are up to {} bytes): set channel.batchSize to {n} or less, the largest batch of them within the limit (lint: CX041); the CRM refused these batches whole, so `dlq replay` then sends their events one by one",
                self.batch_size, self.largest
            ),
            _ => "the CRM refuses the payload as too large: trim it in the transform (crm.maxPayloadBytes makes the hub dead-letter it before sending)".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_faults_are_the_spec_s_and_outages_are_to_replay() {
        use Reason::*;
        // Per reason: the last statuses that make a dead letter the spec's, then those that
        // make it the scenario's (to replay).
        type Statuses<'a> = &'a [Option<u16>];
        let table: [(Reason, Statuses, Statuses); 6] = [
            (TransformFailed, &[None], &[]),
            (PayloadTooLarge, &[None], &[]),
            (IdempotencyKeyUnresolved, &[None], &[]),
            // A refusal of the payload, and a throttle or an outage the spec will not retry
            // (#158, CX007), are the spec's; Salesforce's throttle (403) and a 404 are not
            // about the payload.
            (
                NonRetryableStatus,
                &[400, 415, 422, 431, 408, 429, 503].map(Some),
                &[Some(403), Some(404)],
            ),
            // A refusal retried to the end is still the payload's (#150); a throttle or an
            // outage retried to the end is the scenario's.
            (
                RetriesExhausted,
                &[Some(400), Some(413), Some(415), Some(422)],
                &[Some(429), Some(503), None],
            ),
            (AuthFailed, &[], &[Some(401)]),
        ];
        for (reason, spec, faults) in table {
            for (statuses, want) in [(spec, Cause::Spec), (faults, Cause::Faults)] {
                for &status in statuses {
                    assert_eq!(cause(reason, status), want, "{reason:?} {status:?}");
                }
            }
        }
        assert_eq!(cause(DeadlineExceeded, None), Cause::Faults);
    }

    /// #193: a 413 or 431 for a request within the simulated CRM's limits was the CRM's fault
    /// (a scenario's `respond`), to replay; one beyond them stays the spec's.
    #[test]
    fn a_size_refusal_within_the_crms_limits_is_to_replay() {
        let dead = |status: u16, payload: serde_json::Value, key: String| DeadLettered {
            idempotency_key: Some(key),
            payload: Some(payload),
            last_status: Some(status),
            attempts: 1,
            ..DeadLettered::example("e", Reason::NonRetryableStatus)
        };
        let small = serde_json::json!({"ticket": "T-1"});
        let big = serde_json::json!({"ticket": "x".repeat(2000)});
        let long_key = "k".repeat(8193);
        let filed = |limits: &Option<Limits>, d: &DeadLettered| {
            let mut c = Causes {
                limits: limits.clone(),
                ..Causes::default()
            };
            c.add(d, String::new);
            (c.spec_total(), c.replay_total())
        };
        let schema = crate::spec::payload::PayloadSchemas::spec_wide(
            &serde_json::json!({"type": "object", "required": ["ticket"]}),
        );
        let checks = Checks::new(1000, false, schema);
        let one = Some(Limits { checks });
        let no_ticket = serde_json::json!({"note": "n"});
        let list = serde_json::json!([{"ticket": "T-1"}]);
        for (limits, d, want) in [
            (&one, dead(413, small.clone(), "k".into()), (0, 1)),
            (&one, dead(413, big.clone(), "k".into()), (1, 0)),
            (&one, dead(431, small.clone(), "k".into()), (0, 1)),
            (&one, dead(431, small.clone(), long_key), (1, 0)),
            (&None, dead(413, small.clone(), "k".into()), (1, 0)),
            // #215: a 422 or 400 of a payload the CRM's own checks take was a fault's; one of a
            // payload failing the schema, or of an array the CRM does not take, is the spec's.
            (&one, dead(422, small.clone(), "k".into()), (0, 1)),
            (&one, dead(400, small.clone(), "k".into()), (0, 1)),
            (&one, dead(422, no_ticket.clone(), "k".into()), (1, 0)),
            (&one, dead(400, list.clone(), "k".into()), (1, 0)),
            (&None, dead(422, small.clone(), "k".into()), (1, 0)),
        ] {
            assert_eq!(filed(limits, &d), want, "{limits:?} {:?}", d.last_status);
        }
    }

    /// #248: a batch's refusal is judged on the batch as the CRM model reads it (the array
    /// body against the size limit and the array judgement, each member against its schema,
    /// the joined key against the header limit), once all its members are dead-lettered: a
    /// batch the checks take was refused by a fault, to replay; one they refuse is the spec's,
    /// every member of it.
    #[test]
    fn a_batch_refusal_is_judged_on_the_whole_batch() {
        use crate::delivery::BatchOf;
        let schema = crate::spec::payload::PayloadSchemas::spec_wide(
            &serde_json::json!({"type": "object", "required": ["ticket"]}),
        );
        // Bodies up to 100 bytes; arrays taken.
        let checks = Checks::new(100, true, schema);
        let member = |status: u16, payload: serde_json::Value, key: &str, index: u32, size: u32| {
            DeadLettered {
                idempotency_key: Some(format!("m{index}")),
                payload: Some(payload),
                last_status: Some(status),
                attempts: 1,
                batch: Some(BatchOf {
                    key: key.into(),
                    index,
                    size,
                    maybe_applied: false,
                }),
                ..DeadLettered::example(&format!("e{index}"), Reason::NonRetryableStatus)
            }
        };
        let filed = |batch: &[DeadLettered]| {
            let mut c = Causes {
                limits: Some(Limits {
                    checks: checks.clone(),
                }),
                batch_size: 3,
                ..Causes::default()
            };
            for d in batch {
                c.add(d, String::new);
            }
            c.finish();
            (c.spec_total(), c.replay_total())
        };
        let t = |n: usize| serde_json::json!({"ticket": "t".repeat(n)});
        let batch = |status: u16, payloads: &[serde_json::Value], key: &str| -> Vec<DeadLettered> {
            let n = payloads.len() as u32;
            (0..n)
                .map(|i| member(status, payloads[i as usize].clone(), key, i, n))
                .collect()
        };
        // [{"ticket":"tt…"},…]: 14 bytes a member plus its text, a comma between, brackets.
        let fits = [t(10), t(10), t(10)];
        assert!(crate::delivery::machine::batch_body_len([24, 24, 24]) <= 100);
        let long_key = "k".repeat(8193);
        for (name, status, payloads, key, want) in [
            (
                "a batch the checks take, refused 422",
                422,
                &fits[..],
                "m0,m1,m2",
                (0, 3),
            ),
            ("… refused 400", 400, &fits[..], "m0,m1,m2", (0, 3)),
            ("… refused 413", 413, &fits[..], "m0,m1,m2", (0, 3)),
            ("… refused 431", 431, &fits[..], "m0,m1,m2", (0, 3)),
            ("a batch of one", 422, &fits[..1], "m0", (0, 1)),
            // Each member alone fits, the batch's body does not: the checks answer 413.
            (
                "a body above the limit",
                422,
                &[t(30), t(30), t(30)][..],
                "m0,m1,m2",
                (3, 0),
            ),
            // A 422 is per member (#257): the one failing its schema is the spec's, the two
            // others are to replay (a replay sends them one by one).
            (
                "a member failing its schema",
                422,
                &[t(10), serde_json::json!({"x": 1}), t(10)][..],
                "m0,m1,m2",
                (1, 2),
            ),
            // Whole-request causes blame every member, a bad one among them or not.
            (
                "a member failing its schema in a body above the limit",
                422,
                &[t(40), serde_json::json!({"x": 1}), t(40)][..],
                "m0,m1,m2",
                (3, 0),
            ),
            (
                "a member failing its schema under a joined key above 8192 bytes",
                422,
                &[t(10), serde_json::json!({"x": 1}), t(10)][..],
                &long_key,
                (3, 0),
            ),
            (
                "a member failing its schema beside one that is a list",
                422,
                &[serde_json::json!({"x": 1}), serde_json::json!([t(1)])][..],
                "m0,m1",
                (2, 0),
            ),
            (
                "a member that is a list",
                400,
                &[t(10), serde_json::json!([t(1)])][..],
                "m0,m1",
                (2, 0),
            ),
            (
                "a joined key above 8192 bytes",
                431,
                &fits[..],
                &long_key,
                (3, 0),
            ),
        ] {
            assert_eq!(filed(&batch(status, payloads, key)), want, "{name}");
        }
        // A batch of which only some members were dead-lettered: by its status alone.
        let mut part = batch(422, &fits, "m0,m1,m2");
        part.pop();
        assert_eq!(filed(&part), (2, 0), "an incomplete batch");
        // Two batches one after the other: each judged on its own members.
        let mut two = batch(422, &fits, "m0,m1,m2");
        two.extend(batch(422, &[t(30), t(30), t(30)], "m0,m1,m2"));
        assert_eq!(filed(&two), (3, 3), "two batches");
        // A batch the CRM may have written is replayed whole: its good members wait for the
        // bad one's fix, the spec's, named apart from it.
        let mut maybe = batch(
            422,
            &[t(10), serde_json::json!({"x": 1}), t(10)],
            "m0,m1,m2",
        );
        for m in &mut maybe {
            m.batch.as_mut().unwrap().maybe_applied = true;
        }
        assert_eq!(filed(&maybe), (3, 0), "a batch maybe written");
        let mut c = Causes {
            limits: Some(Limits {
                checks: checks.clone(),
            }),
            batch_size: 3,
            ..Causes::default()
        };
        for d in &batch(
            422,
            &[t(10), serde_json::json!({"x": 1}), t(10)],
            "m0,m1,m2",
        ) {
            c.add(d, String::new);
        }
        c.finish();
        assert_eq!(c.refused_with_batch, 2);
        assert_eq!(c.spec.len(), 1);
        assert_eq!(
            c.spec[0].member,
            Member::Fails(MemberRefusal {
                schema: "crm.payloadSchema".into(),
                at: String::new()
            })
        );
        assert!(c.spec[0].label().ends_with(" fail crm.payloadSchema"));
    }

    /// A refusal the CRM's checks give for another reason than the status a fault answered is
    /// named, and fixed, by the checks' status (the CRM's answer without the fault), with the
    /// answer beside it; its fix is the one the same request gets when the CRM itself answers
    /// the checks' status (lone and batched alike).
    #[test]
    fn a_refusal_for_another_reason_than_the_fault_s_gets_the_checks_fix() {
        use crate::delivery::BatchOf;
        let schema = || {
            crate::spec::payload::PayloadSchemas::spec_wide(
                &serde_json::json!({"type": "object", "required": ["ticket"]}),
            )
        };
        let t = |n: usize| serde_json::json!({"ticket": "t".repeat(n)});
        let dead =
            |status: u16, payload: serde_json::Value, key: String, batch: Option<BatchOf>| {
                DeadLettered {
                    idempotency_key: Some(key),
                    payload: Some(payload),
                    last_status: Some(status),
                    attempts: 1,
                    batch,
                    ..DeadLettered::example("e", Reason::NonRetryableStatus)
                }
            };
        let lone = |status: u16, payload: serde_json::Value, key: &str| {
            vec![dead(status, payload, key.into(), None)]
        };
        let batched = |status: u16, payloads: &[serde_json::Value]| {
            let n = payloads.len() as u32;
            (0..n)
                .map(|i| {
                    let b = BatchOf {
                        key: "m0,m1,m2".into(),
                        index: i,
                        size: n,
                        maybe_applied: false,
                    };
                    dead(
                        status,
                        payloads[i as usize].clone(),
                        format!("m{i}"),
                        Some(b),
                    )
                })
                .collect::<Vec<_>>()
        };
        let causes = |dead: &[DeadLettered], arrays: bool| {
            let mut c = Causes {
                limits: Some(Limits {
                    checks: Checks::new(100, arrays, schema()),
                }),
                batch_size: 3,
                ..Causes::default()
            };
            for d in dead {
                c.add(d, String::new);
            }
            c.finish();
            c.spec
        };
        let long_key = "k".repeat(8193);
        type Make<'a> = Box<dyn Fn(u16) -> Vec<DeadLettered> + 'a>;
        let cases: [(&str, u16, bool, Make); 5] = [
            (
                "a lone body above the limit",
                413,
                false,
                Box::new(|s| lone(s, t(200), "k")),
            ),
            (
                "a lone key too long",
                431,
                false,
                Box::new(|s| lone(s, t(1), &long_key)),
            ),
            (
                "a lone record failing the schema",
                422,
                false,
                Box::new(|s| lone(s, serde_json::json!({"x": 1}), "k")),
            ),
            (
                "a lone list the CRM takes none of",
                400,
                false,
                Box::new(|s| lone(s, serde_json::json!([t(1)]), "k")),
            ),
            (
                "a batch above the limit, each member within",
                413,
                true,
                Box::new(|s| batched(s, &[t(30), t(30), t(30)])),
            ),
        ];
        for (name, found, arrays, make) in cases {
            let without = causes(&make(found), arrays);
            assert_eq!(without.len(), 1, "{name}");
            assert_eq!(
                (without[0].status, without[0].answered),
                (Some(found), None),
                "{name}"
            );
            for answered in [400, 413, 422].into_iter().filter(|&a| a != found) {
                let with = causes(&make(answered), arrays);
                assert_eq!(with.len(), 1, "{name} answered {answered}");
                let c = &with[0];
                assert_eq!(
                    (c.status, c.answered),
                    (Some(found), Some(answered)),
                    "{name}"
                );
                assert!(
                    c.label()
                        .contains(&format!("({found}, answered {answered})")),
                    "{name}"
                );
                let fix = c.fix();
                assert!(
                    fix.contains(&format!("answered {answered}")),
                    "{name}: {fix}"
                );
                assert!(fix.ends_with(&without[0].fix()), "{name}: {fix}");
            }
        }
        // The advice differs by the checks' status: one text per cause.
        let fixes: BTreeSet<String> = [413, 431, 422, 400]
            .map(|s| {
                SpecCause {
                    status: Some(s),
                    ..causes(&lone(413, t(200), "k"), false)[0].clone()
                }
                .fix()
            })
            .into_iter()
            .collect();
        assert_eq!(fixes.len(), 4, "{fixes:?}");
    }
}
