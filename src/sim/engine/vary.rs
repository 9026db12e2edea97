//! How a generated event differs from the fixture it copies: its identity and its times, each
//! in the fixture's own type and format, and nothing else.
//!
//! - **Identity** ([`Identity`]: `event.id`, `interaction.id`, the idempotency key's id fields
//!   of the event's own call or conversation, and, in a fixture that has neither standard id,
//!   the key's id fields of a party): a string keeps its form: every letter stays a letter of the same case,
//!   every digit a digit, hex stays hex, punctuation stays where it is; the trailing characters
//!   count up from the fixture's value (`INT-00417` → `INT-00418`, `ab12-cd34` → `ab12-cd35`, a
//!   UUID stays a UUID). Fixtures whose values have the same form share one sequence that starts
//!   above all of them, so every generated id is unique and none repeats a fixture's. Only when
//!   the fixture's form cannot hold that many values is its varying run widened. A number stays a number: the next integers above the largest
//!   fixture value, within ±(2^53 − 1).
//! - **Times** (`event.occurredAt`, `interaction.startedAt`, `interaction.endedAt`): all shift by
//!   one offset, so that the event occurs at its arrival instant (the first of `occurredAt`,
//!   `endedAt`, `startedAt` the fixture has) and every duration stays the fixture's. An ISO 8601
//!   time keeps its precision, separator and offset; epoch milliseconds and seconds stay epoch
//!   milliseconds and seconds (numbers or digit strings); the offset is rounded to the field's
//!   precision.
//! - A field the fixture lacks is not added; a field of another type (or a time that does not
//!   parse) is left as it is.
//!
//! [`compare`] is the check behind it: a generated event's payload must equal its fixture's
//! except in values derived from the varied fields, which keep their JSON type and form.

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Number, Value};

/// Largest integer a JSON number holds exactly in every reader (2^53 − 1).
pub const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// The identity fields an event may carry: `event.id` is new with every event,
/// `interaction.id` with every interaction (several events may be about one interaction).
pub const IDENTITY: [&str; 2] = ["event.id", "interaction.id"];

/// What tells events apart, for the generator (the fields it varies, and nothing else: a field
/// many real events share, such as a queue name or a region, stays the fixture's, so a key or an
/// upsert field built from it collides in the simulation as it would in production) and for the
/// CRM model (whose record a write is: [`Identity::subject`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The idempotency key's id fields of the event's own subject (`conversation.conversationId`,
    /// `call.id`, `ticket_id`: [`is_id_name`] and not [`is_party_path`]): the platform's own id
    /// of the call or conversation the event is about, varied wherever a fixture has them, like
    /// `interaction.id`.
    pub fields: Vec<String>,
    /// The idempotency key's id fields of a party many events share (`contact.contactId`,
    /// `agent.id`: [`is_party_path`]), which identify an event only when it has neither
    /// `event.id` nor `interaction.id`; varied only in such fixtures.
    pub fallback: Vec<String>,
}

/// The parties of an interaction that many events share: a customer has many calls, an agent
/// takes many, a queue or tenant sees thousands. An id under (or named for) one of them is not
/// the event's own.
const PARTIES: [&str; 28] = [
    "account",
    "agent",
    "assignee",
    "bu",
    "business",
    "caller",
    "campaign",
    "company",
    "contact",
    "customer",
    "device",
    "group",
    "lead",
    "location",
    "org",
    "organisation",
    "organization",
    "owner",
    "person",
    "queue",
    "region",
    "requester",
    "site",
    "skill",
    "station",
    "team",
    "tenant",
    "user",
];

/// Whether a path names the id of a party many events share rather than of the event's own
/// subject: one of its names, without an id suffix (`contactId` → `contact`, `agent_id` →
/// `agent`), is a party ([`PARTIES`]: `interaction.customer.contactId`, `agent.id`,
/// `tenantId`). `conversation.conversationId`, `call.id`, `ticket_id` are not. The one
/// definition: the generator, the CRM model's subjects and lint's CX016/CX034 ask it.
pub fn is_party_path(path: &str) -> bool {
    path.split('.').any(|seg| {
        let lower = seg.to_ascii_lowercase();
        let stem = ["_uuid", "-uuid", "uuid", "_id", "-id", "id"]
            .iter()
            .find_map(|suf| lower.strip_suffix(suf))
            .unwrap_or(&lower);
        PARTIES.contains(&stem)
    })
}

/// Whether a field's name says it is an identifier: `id`, `uuid`, or ending in `Id`, `ID`,
/// `_id`, `-id`, `Uuid` or `_uuid` (`contactId`, `ticket_id`). A name alone cannot say whose id
/// it is, which is why these identify an event only when it has no `event.id` and no
/// `interaction.id`: beside those, `agent.id` or `customer.contactId` are shared by many events.
pub fn is_id_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower == "uuid"
        || name.ends_with("Id")
        || name.ends_with("ID")
        || lower.ends_with("_id")
        || lower.ends_with("-id")
        || name.ends_with("Uuid")
        || lower.ends_with("_uuid")
}

impl Identity {
    /// The identity for events keyed by the idempotency template whose `${…}` paths are
    /// `key_vars`: its id-named fields ([`is_id_name`]), the event's own or a party's
    /// ([`is_party_path`]); `routed` says whether rules route on a path (a routed field is not varied:
    /// the generated event must match the fixture's rules).
    pub fn of_key(
        key_vars: impl IntoIterator<Item = String>,
        routed: impl Fn(&str) -> bool,
    ) -> Self {
        let mut id = Identity::default();
        for v in key_vars {
            let last = v.rsplit('.').next().unwrap_or(&v);
            if IDENTITY.contains(&v.as_str())
                || v == "event.type"
                || routed(&v)
                || !is_id_name(last)
                || id.fields.contains(&v)
                || id.fallback.contains(&v)
            {
                continue;
            }
            if is_party_path(&v) {
                id.fallback.push(v);
            } else {
                id.fields.push(v);
            }
        }
        id
    }

    /// The identity of a spec's events, the one `sim` generates with and lint's CX016/CX034
    /// reason with: [`Identity::of_key`] over the idempotency key's paths and the input paths
    /// the CRM's upsert field is filled from ([`upsert_inputs`]), less the paths enabled rules
    /// route on.
    pub fn of_spec(spec: &crate::spec::Spec) -> Self {
        let key: Vec<String> = crate::delivery::Template::parse(&spec.raw.idempotency.key)
            .map(|t| t.vars().collect())
            .unwrap_or_default();
        Identity::of_key(key.into_iter().chain(upsert_inputs(spec)), |v| {
            spec.raw
                .rules
                .iter()
                .any(|r| r.enabled && r.conditions.contains_key(v))
        })
    }

    /// Whether `event` carries a standard identity (`event.id` or `interaction.id`).
    fn has_standard(event: &Value) -> bool {
        IDENTITY
            .iter()
            .any(|p| get(event, &split(p)).is_some_and(|v| !v.is_null()))
    }

    /// The subject of an event: what a CRM record written for it is about. The interaction
    /// (`interaction.id`, else the key's own id fields: `conversation.conversationId`) when the
    /// event names one (`interaction.ended` and `interaction.updated` of one
    /// interaction update one record, rightly), else the event, else its fallback fields; `None`
    /// when it carries none of them (every arrival is then its own subject).
    pub fn subject(&self, event: &Value) -> Option<String> {
        // Once per arrival: the standard paths without a `Vec` of segments.
        let at = |p: &str| {
            p.split('.')
                .try_fold(event, |v, s| v.get(s))
                .filter(|v| !v.is_null())
        };
        let text = |p: &str, v: &Value| format!("{p}={}", crate::delivery::machine::json_text(v));
        // The paths among `paths` the event has, joined; `None` when it has none.
        let joined = |paths: &[String]| {
            let parts: Vec<String> = paths
                .iter()
                .filter_map(|p| at(p).map(|v| text(p, v)))
                .collect();
            (!parts.is_empty()).then(|| parts.join("\u{1f}"))
        };
        if let Some(v) = at("interaction.id") {
            return Some(text("interaction.id", v));
        }
        // The platform's own id of the call or conversation (one record per conversation).
        if let Some(own) = joined(&self.fields) {
            return Some(own);
        }
        if let Some(v) = at("event.id") {
            return Some(text("event.id", v));
        }
        joined(&self.fallback)
    }

    /// Whether events generated from `event` differ at `path`, as [`Plan::new`] varies them:
    /// `event.id`, `interaction.id` and the key's own id fields wherever `event` has them, a
    /// party's id field only when it has neither standard id. A value read from no such path is the same in every event copied from
    /// `event`, as it is in the real events that share it (lint's CX034 asks this of the paths
    /// an upsert field is filled from).
    pub fn varies(&self, event: &Value, path: &str) -> bool {
        let present = get(event, &split(path)).is_some_and(|v| !v.is_null());
        present
            && (IDENTITY.contains(&path)
                || self.fields.iter().any(|f| f == path)
                || (self.fallback.iter().any(|f| f == path) && !Self::has_standard(event)))
    }

    /// Whether a key template with paths `key_vars` reads a field generated events vary.
    pub fn key_reads_identity(&self, key_vars: &[String]) -> bool {
        key_vars.iter().any(|v| {
            IDENTITY.contains(&v.as_str()) || self.fields.contains(v) || self.fallback.contains(v)
        })
    }
}

/// The input paths the CRM's upsert field (the spec's `crm.idempotency`, else its profile's) is
/// filled from by the enabled rules' transforms, as far as the transform's analysis can tell
/// (the paths whose content reaches the field: `"ZC-" & call.id` reads `call.id`). Empty when
/// the CRM does not upsert.
pub fn upsert_inputs(spec: &crate::spec::Spec) -> Vec<String> {
    let profile = crate::crm::profile(spec.raw.crm.profile);
    let dedup = crate::crm::dedup(&spec.raw, &profile, &Default::default());
    let (crate::crm::DedupMode::Upsert, Some(field)) = (&dedup.mode, &dedup.upsert_field) else {
        return Vec::new();
    };
    // A top-level field name, or a JSON pointer into the payload, as the CRM model reads it.
    let pointer = if field.starts_with('/') {
        field.clone()
    } else {
        format!("/{}", field.replace('~', "~0").replace('/', "~1"))
    };
    let mut out: Vec<String> = Vec::new();
    for r in &spec.rules {
        let enabled = spec.raw.rules.get(r.index).is_some_and(|raw| raw.enabled);
        let Some(t) = r.transform.as_ref().filter(|_| enabled) else {
            continue;
        };
        let Ok(a) = crate::transform::syntax::analyse(&t.text) else {
            continue;
        };
        for f in a.outputs.iter().filter(|o| o.pointer == pointer) {
            for p in &f.carries {
                let d = p.dotted();
                if !p.has_wildcard() && !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    out
}

/// The time fields, in anchor order: the event occurs at its arrival instant.
pub const TIMES: [&str; 3] = [
    "event.occurredAt",
    "interaction.endedAt",
    "interaction.startedAt",
];

/// How generated events are made from their templates.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How many templates events are generated from (instance `g / templates`).
    templates: u64,
    ids: Vec<IdField>,
    times: Vec<TimeField>,
    shapes: Vec<Shape>,
}

#[derive(Debug, Clone)]
struct IdField {
    path: Vec<String>,
    /// Per template: how its generated values are made (`None`: left as it is).
    per_template: Vec<Option<IdGen>>,
}

/// How one template's generated values of an identity field are made. Generated event `g` of
/// `n` templates belongs to instance `i = g / n` (one copy of every template); within an
/// instance, templates whose fixture values are equal get one value (two fixtures of one
/// interaction stay one interaction), so the field's `offset` is `i × distinct + rank`, where
/// `distinct` is how many different values the fixtures have and `rank` is this template's
/// value's place among them (first appearance). Distinct fixture values (every `event.id`) make
/// that `g` itself.
#[derive(Debug, Clone, Copy)]
enum IdGen {
    /// `start + offset` (or `start − offset` when the values must go down).
    Int {
        start: i128,
        up: bool,
        /// 1, or a power of two past 2^53 ([`exact_beyond`]).
        step: i128,
        rank: u64,
        distinct: u64,
    },
    /// `shapes[shape]`'s encoding of `start + offset`.
    Str {
        shape: usize,
        start: u128,
        rank: u64,
        distinct: u64,
    },
}

impl IdGen {
    /// The offset of generated event `g` of `templates` templates from the sequence's start.
    fn offset(rank: u64, distinct: u64, g: u64, templates: u64) -> u128 {
        u128::from(g / templates.max(1)) * u128::from(distinct) + u128::from(rank)
    }
}

/// `(index, value)` pairs → each index's rank among the distinct values (in order of first
/// appearance) and how many distinct values there are.
fn ranks<T: PartialEq + Copy>(members: &[(usize, T)]) -> (Vec<(usize, u64)>, u64) {
    let mut distinct: Vec<T> = Vec::new();
    let mut out = Vec::with_capacity(members.len());
    for &(i, v) in members {
        let r = match distinct.iter().position(|d| *d == v) {
            Some(r) => r,
            None => {
                distinct.push(v);
                distinct.len() - 1
            }
        };
        out.push((i, r as u64));
    }
    (out, distinct.len() as u64)
}

#[derive(Debug, Clone)]
struct TimeField {
    path: Vec<String>,
    /// Per template: the fixture's instant and format.
    per_template: Vec<Option<(DateTime<FixedOffset>, TimeFormat)>>,
}

/// A time's written form.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeFormat {
    Iso {
        sep: char,
        /// Digits after the decimal point (0–9).
        frac: u8,
        zone: Zone,
    },
    EpochMs {
        text: bool,
    },
    EpochS {
        text: bool,
    },
    /// Epoch seconds with a fraction (a JSON float), kept to milliseconds.
    EpochSFloat,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    /// No offset written (a local time, read as UTC for shifting).
    None,
    /// `Z` (or `z`).
    Utc(char),
    /// `+01:00` (`colon`) or `+0100`.
    Offset { colon: bool },
}

/// Why a plan cannot make the events asked for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot generate {count} distinct values of `{path}` from the fixtures' values ({found})")]
pub struct PlanError {
    pub path: String,
    pub count: u64,
    pub found: String,
}

impl Plan {
    /// The plan for `templates` and `count` generated events: `event.id`, `interaction.id` and
    /// `identity`'s own id fields vary wherever a template has them, its party fields only in
    /// templates that have neither standard id.
    pub fn new(templates: &[Value], count: u64, identity: &Identity) -> Result<Plan, PlanError> {
        let mut shapes: Vec<Shape> = Vec::new();
        let mut ids = Vec::new();
        let standard: Vec<bool> = templates.iter().map(Identity::has_standard).collect();
        let paths = IDENTITY
            .iter()
            .map(|p| (p.to_string(), false))
            .chain(identity.fields.iter().map(|p| (p.clone(), false)))
            .chain(identity.fallback.iter().map(|p| (p.clone(), true)));
        for (path, fallback) in paths {
            let segs = split(&path);
            let values: Vec<Option<&Value>> = templates
                .iter()
                .zip(&standard)
                .map(|(t, std)| {
                    if fallback && *std {
                        None
                    } else {
                        get(t, &segs)
                    }
                })
                .collect();
            ids.push(IdField {
                per_template: id_gens(&values, count, &path, &mut shapes)?,
                path: segs,
            });
        }
        let times = TIMES
            .iter()
            .map(|p| {
                let segs = split(p);
                TimeField {
                    per_template: templates
                        .iter()
                        .map(|t| get(t, &segs).and_then(parse_time))
                        .collect(),
                    path: segs,
                }
            })
            .collect();
        Ok(Plan {
            templates: templates.len() as u64,
            ids,
            times,
            shapes,
        })
    }

    /// Generated event number `g` (0-based among generated events) of template `t`, arriving
    /// at `arrival` (ms since the Unix epoch): the template with its identity and times varied.
    pub fn apply(&self, template: &Value, t: usize, g: u64, arrival: i64) -> Value {
        let mut ev = template.clone();
        self.apply_in_place(&mut ev, t, g, arrival);
        ev
    }

    /// [`Plan::apply`] on a copy of template `t` that earlier calls may have varied: only the
    /// varied fields are written (each exists in every copy and is overwritten whole), so a
    /// large event costs its few fields, not a deep copy. The result equals `apply`'s.
    pub fn apply_in_place(&self, ev: &mut Value, t: usize, g: u64, arrival: i64) {
        for f in &self.ids {
            let Some(gen) = f.per_template.get(t).copied().flatten() else {
                continue;
            };
            let v = match gen {
                IdGen::Int {
                    start,
                    up,
                    step,
                    rank,
                    distinct,
                } => {
                    // Within ±(2^53 − 1), or the 64-bit range past it, by construction
                    // ([`id_gens`]).
                    let off = IdGen::offset(rank, distinct, g, self.templates) as i128 * step;
                    let n = if up { start + off } else { start - off };
                    Value::Number(int_number(n))
                }
                IdGen::Str {
                    shape,
                    start,
                    rank,
                    distinct,
                } => {
                    let off = IdGen::offset(rank, distinct, g, self.templates);
                    Value::String(self.shapes[shape].encode(start.saturating_add(off)))
                }
            };
            set_existing(ev, &f.path, v);
        }
        // One offset for every time: the anchor (the first time the fixture has) lands on the
        // arrival instant.
        let anchor = self
            .times
            .iter()
            .find_map(|f| f.per_template.get(t).and_then(|x| x.as_ref()));
        if let Some((at, _)) = anchor {
            let delta = arrival - at.timestamp_millis();
            for f in &self.times {
                if let Some(Some((at, fmt))) = f.per_template.get(t) {
                    set_existing(ev, &f.path, shift(at, *fmt, delta));
                }
            }
        }
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// The value at a path of object keys.
pub fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| v.get(s))
}

/// Replaces the value at `path`, which exists (nothing is added).
fn set_existing(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for s in path {
        match cur.get_mut(s) {
            Some(next) => cur = next,
            None => return,
        }
    }
    *cur = new;
}

fn int_number(n: i128) -> Number {
    if n >= 0 {
        Number::from(n as u64)
    } else {
        Number::from(n as i64)
    }
}

/// How each template's values of one identity field vary.
fn id_gens(
    values: &[Option<&Value>],
    count: u64,
    path: &str,
    shapes: &mut Vec<Shape>,
) -> Result<Vec<Option<IdGen>>, PlanError> {
    let mut out = vec![None; values.len()];
    // Instances of the templates (copies of each) the run makes: the values a sequence needs
    // are that many times the fixtures' distinct values ([`IdGen`]).
    let templates = (values.len() as u64).max(1);
    let instances = count.div_ceil(templates);
    // Integers: one sequence above the largest (or below the smallest) fixture value.
    let ints: Vec<(usize, i128)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.and_then(integer).map(|n| (i, n)))
        .collect();
    if !ints.is_empty() {
        let max = ints.iter().map(|x| x.1).max().unwrap_or(0);
        let min = ints.iter().map(|x| x.1).min().unwrap_or(0);
        let (ranked, distinct) = ranks(&ints);
        let n = i128::from(instances) * i128::from(distinct);
        let safe = max <= MAX_SAFE_INTEGER && min >= -MAX_SAFE_INTEGER;
        let beyond = if max > MAX_SAFE_INTEGER {
            exact_beyond(max, n, true).map(|(start, step)| (start, step, true))
        } else if min < -MAX_SAFE_INTEGER {
            exact_beyond(min, n, false).map(|(start, step)| (start, step, false))
        } else {
            None
        };
        let gen = if safe && max + n <= MAX_SAFE_INTEGER {
            IdGen::Int {
                start: max + 1,
                up: true,
                step: 1,
                rank: 0,
                distinct,
            }
        } else if safe && min - n >= -MAX_SAFE_INTEGER {
            IdGen::Int {
                start: min - 1,
                up: false,
                step: 1,
                rank: 0,
                distinct,
            }
        } else if let Some((start, step, up)) = beyond {
            // The fixtures' ids are past 2^53 already: keep them there, exact in a double.
            IdGen::Int {
                start,
                up,
                step,
                rank: 0,
                distinct,
            }
        } else {
            return Err(PlanError {
                path: path.to_string(),
                count,
                found: format!("integers {min} to {max}"),
            });
        };
        for (i, rank) in ranked {
            out[i] = Some(match gen {
                IdGen::Int {
                    start, up, step, ..
                } => IdGen::Int {
                    start,
                    up,
                    step,
                    rank,
                    distinct,
                },
                other => other,
            });
        }
    }
    // Strings: grouped by form (what is fixed and what varies, position by position); a group
    // shares one sequence above every member's value. Strings of different forms cannot be
    // equal (they differ at a fixed position, or in a run's class).
    let strings: Vec<(usize, &str)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.and_then(Value::as_str).map(|s| (i, s)))
        .filter(|(_, s)| Shape::of(s).capacity() > 1)
        .collect();
    let mut groups: Vec<(Shape, Vec<(usize, &str)>)> = Vec::new();
    for (i, s) in strings {
        let shape = Shape::of(s);
        match groups.iter_mut().find(|g| g.0 == shape) {
            Some(g) => g.1.push((i, s)),
            None => groups.push((shape, vec![(i, s)])),
        }
    }
    for (mut shape, members) in groups {
        let top = members
            .iter()
            .filter_map(|(_, s)| shape.value(s))
            .max()
            .unwrap_or(0);
        let start = top.saturating_add(1);
        let values: Vec<(usize, Option<u128>)> =
            members.iter().map(|(i, s)| (*i, shape.value(s))).collect();
        let (ranked, distinct) = ranks(&values);
        let needed = u128::from(instances) * u128::from(distinct);
        while start.saturating_add(needed) > shape.capacity() {
            // Too few values in the fixture's form: widen its varying run, keeping the value.
            if !shape.widen() {
                return Err(PlanError {
                    path: path.to_string(),
                    count,
                    found: format!("`{}`", members[0].1),
                });
            }
        }
        shapes.push(shape);
        for (i, rank) in ranked {
            out[i] = Some(IdGen::Str {
                shape: shapes.len() - 1,
                start,
                rank,
                distinct,
            });
        }
    }
    Ok(out)
}

/// An integer value (`12`, `-3`, `4.0`, a 64-bit `1234567890123456789`), not a fraction; a
/// float is one only within the safe range.
fn integer(v: &Value) -> Option<i128> {
    let n = v.as_number()?;
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64)
                .map(|f| f as i128)
        })
}

/// `n` integers beyond `from` (above it when `up`, else below), for fixture ids past ±(2^53 − 1):
/// the start and step, a power of two large enough that every value is exact in a double, so a
/// reader that reads JSON numbers as doubles (JavaScript, JSONata) still sees distinct ids
/// (`1234567890123456789` → `1234567890123457024`, then every 256). `None` past the 64-bit
/// range JSON integers hold here.
fn exact_beyond(from: i128, n: i128, up: bool) -> Option<(i128, i128)> {
    let (mag, limit) = if up {
        (from, i128::from(u64::MAX))
    } else {
        (-from, 1i128 << 63)
    };
    for k in 0..64u32 {
        let step = 1i128 << k;
        let start = (mag.div_euclid(step) + 1) * step;
        let last = start.checked_add(n.saturating_sub(1).checked_mul(step)?)?;
        if last > limit {
            return None;
        }
        if 128 - last.leading_zeros() <= 53 + k {
            return Some((if up { start } else { -start }, step));
        }
    }
    None
}

/// What one character position of an id may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Fixed(char),
    Digit,
    Lower,
    Upper,
    HexLower,
    HexUpper,
}

impl Class {
    fn radix(self) -> u128 {
        match self {
            Class::Fixed(_) => 1,
            Class::Digit => 10,
            Class::Lower | Class::Upper => 26,
            Class::HexLower | Class::HexUpper => 16,
        }
    }

    fn digit_of(self, c: char) -> Option<u128> {
        let d = match self {
            Class::Fixed(f) => return (c == f).then_some(0),
            Class::Digit => c.to_digit(10)?,
            Class::Lower if c.is_ascii_lowercase() => c as u32 - 'a' as u32,
            Class::Upper if c.is_ascii_uppercase() => c as u32 - 'A' as u32,
            Class::HexLower if !c.is_ascii_uppercase() => c.to_digit(16)?,
            Class::HexUpper if !c.is_ascii_lowercase() => c.to_digit(16)?,
            _ => return None,
        };
        Some(u128::from(d))
    }

    fn char_of(self, d: u128) -> char {
        let d = d as u32;
        match self {
            Class::Fixed(f) => f,
            Class::Digit => char::from_digit(d, 10).unwrap_or('0'),
            Class::Lower => char::from_u32('a' as u32 + d).unwrap_or('a'),
            Class::Upper => char::from_u32('A' as u32 + d).unwrap_or('A'),
            Class::HexLower => char::from_digit(d, 16).unwrap_or('0'),
            Class::HexUpper => char::from_digit(d, 16).unwrap_or('0').to_ascii_uppercase(),
        }
    }
}

/// The form of a string id: a class per character.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape(Vec<Class>);

impl Shape {
    /// The form of `s`: a string whose letters and digits are all hex of one case, at least
    /// eight of them with both kinds present (a UUID, a hash), varies in every hex position;
    /// otherwise only its last run of digits varies (`INT-00417`), or, without digits, its last
    /// run of letters (`CASE-ZZ`); everything else is fixed.
    fn of(s: &str) -> Shape {
        let chars: Vec<char> = s.chars().collect();
        let alnum: Vec<char> = chars
            .iter()
            .copied()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let hex = |upper: bool| {
            alnum.len() >= 8
                && alnum.iter().any(char::is_ascii_digit)
                && alnum.iter().any(char::is_ascii_alphabetic)
                && alnum.iter().all(|c| {
                    c.is_ascii_digit()
                        || if upper {
                            ('A'..='F').contains(c)
                        } else {
                            ('a'..='f').contains(c)
                        }
                })
        };
        if hex(false) || hex(true) {
            let class = if hex(false) {
                Class::HexLower
            } else {
                Class::HexUpper
            };
            return Shape(
                chars
                    .iter()
                    .map(|&c| {
                        if c.is_ascii_alphanumeric() {
                            class
                        } else {
                            Class::Fixed(c)
                        }
                    })
                    .collect(),
            );
        }
        let kind = |c: char| -> Option<Class> {
            match c {
                '0'..='9' => Some(Class::Digit),
                'a'..='z' => Some(Class::Lower),
                'A'..='Z' => Some(Class::Upper),
                _ => None,
            }
        };
        let digits = chars.iter().any(char::is_ascii_digit);
        let varies = |c: char| {
            if digits {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let mut classes: Vec<Class> = chars.iter().map(|&c| Class::Fixed(c)).collect();
        if let Some(last) = chars.iter().rposition(|&c| varies(c)) {
            let mut i = last as isize;
            while i >= 0 && varies(chars[i as usize]) {
                let c = chars[i as usize];
                classes[i as usize] = kind(c).unwrap_or(Class::Fixed(c));
                i -= 1;
            }
        }
        Shape(classes)
    }

    /// How many distinct values the form holds (saturating).
    fn capacity(&self) -> u128 {
        self.0
            .iter()
            .fold(1u128, |acc, c| acc.saturating_mul(c.radix()))
    }

    /// The value `s` has in this form, if it fits.
    fn value(&self, s: &str) -> Option<u128> {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != self.0.len() {
            return None;
        }
        let mut v: u128 = 0;
        for (c, class) in chars.iter().zip(&self.0) {
            let d = class.digit_of(*c)?;
            v = v.checked_mul(class.radix())?.checked_add(d)?;
        }
        Some(v)
    }

    /// The string of value `v` (taken modulo the capacity).
    fn encode(&self, mut v: u128) -> String {
        let mut out: Vec<char> = Vec::with_capacity(self.0.len());
        for class in self.0.iter().rev() {
            let r = class.radix();
            out.push(class.char_of(v % r));
            v /= r;
        }
        out.reverse();
        out.into_iter().collect()
    }

    /// One more position at the front of the varying run (`INT-7` → `INT-07`): the value of
    /// every string is unchanged. False when nothing varies, or the form is long already.
    fn widen(&mut self) -> bool {
        if self.0.len() > 64 {
            return false;
        }
        let Some(last) = self.0.iter().rposition(|c| !matches!(c, Class::Fixed(_))) else {
            return false;
        };
        let class = self.0[last];
        let mut first = last;
        while first > 0 && !matches!(self.0[first - 1], Class::Fixed(_)) {
            first -= 1;
        }
        self.0.insert(first, class);
        true
    }
}

/// Reads a time field: an ISO 8601 date-time string, epoch milliseconds or seconds (a number or
/// a string of digits).
fn parse_time(v: &Value) -> Option<(DateTime<FixedOffset>, TimeFormat)> {
    let utc = FixedOffset::east_opt(0)?;
    let epoch = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(&utc));
    match v {
        Value::String(s) => {
            if let Some(x) = parse_iso(s) {
                return Some(x);
            }
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                let n: i64 = s.parse().ok()?;
                return match s.len() {
                    13 => Some((epoch(n)?, TimeFormat::EpochMs { text: true })),
                    10 => Some((
                        epoch(n.checked_mul(1000)?)?,
                        TimeFormat::EpochS { text: true },
                    )),
                    _ => None,
                };
            }
            None
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if (100_000_000_000..100_000_000_000_000).contains(&i) {
                    return Some((epoch(i)?, TimeFormat::EpochMs { text: false }));
                }
                if (1_000_000_000..100_000_000_000).contains(&i) {
                    return Some((epoch(i * 1000)?, TimeFormat::EpochS { text: false }));
                }
                return None;
            }
            let f = n.as_f64()?;
            ((1e9..1e11).contains(&f) && f.fract() != 0.0)
                .then(|| epoch((f * 1000.0).round() as i64).map(|t| (t, TimeFormat::EpochSFloat)))
                .flatten()
        }
        _ => None,
    }
}

/// `YYYY-MM-DD(T| )HH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM|±HH]`.
fn parse_iso(s: &str) -> Option<(DateTime<FixedOffset>, TimeFormat)> {
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let sep = b[10] as char;
    if !matches!(sep, 'T' | 't' | ' ') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac = 0u8;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        frac = digits as u8;
        nanos = s[start..end].parse::<u32>().ok()? * 10u32.pow(9 - digits as u32);
        i = end;
    }
    let rest = &s[i..];
    let (zone, offset_secs) = match rest {
        "" => (Zone::None, 0),
        "Z" | "z" => (Zone::Utc(rest.chars().next()?), 0),
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = &rest[1..];
            let (hh, mm, colon) = match r.len() {
                5 if r.as_bytes()[2] == b':' => (&r[0..2], &r[3..5], true),
                4 => (&r[0..2], &r[2..4], false),
                _ => return None,
            };
            let (hh, mm): (i32, i32) = (hh.parse().ok()?, mm.parse().ok()?);
            if hh > 23 || mm > 59 {
                return None;
            }
            (Zone::Offset { colon }, sign * (hh * 3600 + mm * 60))
        }
    };
    let naive = NaiveDateTime::new(
        date,
        chrono::NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?,
    );
    let off = FixedOffset::east_opt(offset_secs)?;
    let dt = naive.and_local_timezone(off).single()?;
    Some((dt, TimeFormat::Iso { sep, frac, zone }))
}

/// The time `at` moved by `delta` ms, rounded to the field's precision, in its format.
fn shift(at: &DateTime<FixedOffset>, fmt: TimeFormat, delta: i64) -> Value {
    let unit: i64 = match fmt {
        TimeFormat::Iso { frac, .. } if frac < 3 => 10i64.pow(3 - u32::from(frac)),
        TimeFormat::Iso { .. } | TimeFormat::EpochMs { .. } | TimeFormat::EpochSFloat => 1,
        TimeFormat::EpochS { .. } => 1000,
    };
    let delta = round_to(delta, unit);
    // Checked: the scenario schema bounds `duration`, but a shift past chrono's range must not
    // panic; it stays at the fixture's instant (the generator check then reports the copy).
    let t = ChronoDuration::try_milliseconds(delta)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(*at);
    match fmt {
        TimeFormat::Iso { sep, frac, zone } => {
            let mut s = iso_date_time(&t, sep);
            if frac > 0 {
                let ns = format!("{:09}", t.timestamp_subsec_nanos());
                s.push('.');
                s.push_str(&ns[..usize::from(frac)]);
            }
            match zone {
                Zone::None => {}
                Zone::Utc(z) => s.push(z),
                Zone::Offset { colon } => {
                    let o = t.offset().local_minus_utc();
                    let sign = if o < 0 { '-' } else { '+' };
                    let (h, m) = (o.abs() / 3600, o.abs() % 3600 / 60);
                    s.push_str(&if colon {
                        format!("{sign}{h:02}:{m:02}")
                    } else {
                        format!("{sign}{h:02}{m:02}")
                    });
                }
            }
            Value::String(s)
        }
        TimeFormat::EpochMs { text } => epoch_value(t.timestamp_millis(), text),
        TimeFormat::EpochS { text } => epoch_value(t.timestamp(), text),
        TimeFormat::EpochSFloat => {
            let s = t.timestamp_millis() as f64 / 1000.0;
            // Keep it a fraction: a whole second would read back as an integer.
            Number::from_f64(if s.fract() == 0.0 { s + 0.001 } else { s })
                .map_or(Value::Null, Value::Number)
        }
    }
}

/// An epoch number as the event wrote it: a JSON string of digits or a JSON number.
fn epoch_value(n: i64, text: bool) -> Value {
    if text {
        Value::String(n.to_string())
    } else {
        Value::from(n)
    }
}

/// `YYYY-MM-DD<sep>HH:MM:SS` of `t`'s local time, as chrono's `%Y-%m-%d` and `%H:%M:%S` write
/// it. Three of these per generated event: written digit by digit, not through strftime, whose
/// format string is parsed again on every call. A year outside 0–9999 (which `%Y` writes with a
/// sign) goes through chrono.
fn iso_date_time(t: &DateTime<FixedOffset>, sep: char) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        let mut s = t.format("%Y-%m-%d").to_string();
        s.push(sep);
        s.push_str(&t.format("%H:%M:%S").to_string());
        return s;
    }
    let two = |s: &mut String, n: u32, after: Option<char>| {
        s.push(char::from(b'0' + (n / 10 % 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
        if let Some(c) = after {
            s.push(c);
        }
    };
    let mut s = String::with_capacity(40);
    let year = year as u32;
    two(&mut s, year / 100, None);
    two(&mut s, year % 100, Some('-'));
    two(&mut s, t.month(), Some('-'));
    two(&mut s, t.day(), Some(sep));
    two(&mut s, t.hour(), Some(':'));
    two(&mut s, t.minute(), Some(':'));
    // `%S` writes a leap second as 60.
    two(&mut s, t.second() + t.nanosecond() / 1_000_000_000, None);
    s
}

/// `x` rounded to the nearest multiple of `unit` (halves away from zero).
fn round_to(x: i64, unit: i64) -> i64 {
    if unit <= 1 {
        return x;
    }
    let half = unit / 2;
    if x >= 0 {
        (x + half) / unit * unit
    } else {
        -((-x + half) / unit * unit)
    }
}

/// Where a generated event's payload differs from its fixture's in a way the variation does
/// not explain: a different structure, a different JSON type, or a string whose form changed.
/// Each difference names its JSON pointer. Equal payloads, and payloads that differ only in
/// same-typed values of the same form, give none.
pub fn compare(fixture: &Value, generated: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(fixture, generated, &mut String::new(), &mut out);
    out
}

fn walk(a: &Value, b: &Value, at: &mut String, out: &mut Vec<String>) {
    if out.len() >= 5 {
        return;
    }
    let here = |at: &str| {
        if at.is_empty() {
            "/".to_string()
        } else {
            at.to_string()
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match y.get(k) {
                    Some(vb) => walk(va, vb, at, out),
                    None => out.push(format!(
                        "{at}: the fixture's payload has it, the generated one does not"
                    )),
                }
                at.truncate(len);
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!(
                    "{}/{k}: the generated payload has it, the fixture's does not",
                    at
                ));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!(
                    "{}: {} items in the fixture's payload, {} in the generated one",
                    here(at),
                    x.len(),
                    y.len()
                ));
                return;
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                walk(va, vb, at, out);
                at.truncate(len);
            }
        }
        (Value::String(x), Value::String(y)) if x != y && !same_form(x, y) => {
            out.push(format!(
                "{}: {} in the fixture's payload, {} in the generated one",
                here(at),
                a,
                b
            ));
        }
        (Value::String(_), Value::String(_)) => {}
        (Value::Number(x), Value::Number(y)) => {
            let int = |n: &Number| n.is_i64() || n.is_u64();
            if int(x) != int(y) {
                out.push(format!(
                    "{}: {a} in the fixture's payload, {b} in the generated one",
                    here(at)
                ));
            }
        }
        _ if json_type(a) != json_type(b) => out.push(format!(
            "{}: {} {a} in the fixture's payload, {} {b} in the generated one",
            here(at),
            json_type(a),
            json_type(b)
        )),
        _ => {}
    }
}

/// A string's form for [`compare`]: its punctuation, and for each run of letters and digits
/// whether it holds upper-case letters, lower-case letters, both or neither (digits only).
fn string_form(s: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            let flag = if c.is_ascii_uppercase() {
                1
            } else if c.is_ascii_lowercase() {
                2
            } else {
                0
            };
            match out.last_mut() {
                Some(Token::Run(f)) => *f |= flag,
                _ => out.push(Token::Run(flag)),
            }
        } else {
            out.push(Token::Punct(c));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Punct(char),
    /// Bit 1: upper-case letters; bit 2: lower-case letters; 0: digits only.
    Run(u8),
}

/// Same punctuation in the same places, and runs of the same case (a run of digits only, which
/// a hex id can become, goes with any run).
fn same_form(a: &str, b: &str) -> bool {
    let (x, y) = (string_form(a), string_form(b));
    x.len() == y.len()
        && x.iter().zip(&y).all(|(p, q)| match (p, q) {
            (Token::Run(f), Token::Run(g)) => f == g || *f == 0 || *g == 0,
            _ => p == q,
        })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A string's length and punctuation, with every letter and digit as `#`.
    fn skeleton(s: &str) -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { '#' } else { c })
            .collect()
    }

    fn plan(templates: &[Value], count: u64) -> Plan {
        Plan::new(templates, count, &Identity::default()).unwrap()
    }

    /// `count` generated events, cycling through the fixtures `t` as the feed does.
    fn generate(t: &[Value], count: u64, identity: &Identity) -> Vec<Value> {
        let p = Plan::new(t, count, identity).unwrap();
        (0..count)
            .map(|g| {
                let ti = (g % t.len() as u64) as usize;
                p.apply(&t[ti], ti, g, AT)
            })
            .collect()
    }

    #[test]
    fn only_ids_identify_an_event_and_key_ids_only_where_the_standard_ones_are_missing() {
        assert!([
            "id",
            "contactId",
            "ticket_id",
            "sys-id",
            "UUID",
            "callUuid",
            "agentID"
        ]
        .iter()
        .all(|n| is_id_name(n)));
        assert!(!["name", "region", "kind", "idle", "valid", "paid"]
            .iter()
            .any(|n| is_id_name(n)));
        let vars = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let id = Identity::of_key(
            vars(&[
                "interaction.queue.name",
                "event.type",
                "contact.contactId",
                "call.dir",
            ]),
            |p| p == "call.dir",
        );
        assert_eq!(id.fallback, vec!["contact.contactId"]);
        assert!(!Identity::default().key_reads_identity(&vars(&["interaction.queue.name"])));
        assert!(id.key_reads_identity(&vars(&["contact.contactId"])));
        // The queue stays the fixture's; the key's id varies only in the template that has
        // neither event.id nor interaction.id.
        let t = [
            json!({"event": {"id": "e-1"}, "contact": {"contactId": "c-1"}, "interaction": {"queue": {"name": "Orders"}}}),
            json!({"contact": {"contactId": "c-7"}, "interaction": {"queue": {"name": "Orders"}}}),
        ];
        let p = Plan::new(&t, 4, &id).unwrap();
        let a = p.apply(&t[0], 0, 0, AT);
        let b = p.apply(&t[1], 1, 1, AT);
        assert_eq!(a["event"]["id"], "e-2");
        assert_eq!(a["contact"]["contactId"], "c-1");
        assert_ne!(b["contact"]["contactId"], "c-7");
        assert_eq!(a["interaction"]["queue"]["name"], "Orders");
        assert_eq!(b["interaction"]["queue"]["name"], "Orders");
        // The subject: the interaction, else the event, else the key's ids.
        assert_eq!(
            id.subject(&json!({"event": {"id": "e"}, "interaction": {"id": 7}})),
            Some("interaction.id=7".to_string())
        );
        assert_eq!(
            id.subject(&json!({"event": {"id": "e"}})),
            Some("event.id=\"e\"".to_string())
        );
        assert_eq!(
            id.subject(&b),
            Some(format!("contact.contactId={}", b["contact"]["contactId"]))
        );
        assert_eq!(id.subject(&json!({"x": 1})), None);
    }

    #[test]
    fn fixtures_of_one_interaction_stay_one_interaction_in_every_copy() {
        // started and ended of one interaction (string ids), and a call of another (a number).
        let t = [
            json!({"event": {"id": "ev-0001", "type": "interaction.started"}, "interaction": {"id": "int-0001"}}),
            json!({"event": {"id": "ev-0002", "type": "interaction.ended"}, "interaction": {"id": "int-0001"}}),
            json!({"event": {"id": "ev-0003", "type": "interaction.ended"}, "interaction": {"id": "int-0007"}}),
        ];
        let gen = generate(&t, 30, &Identity::default());
        let mut events: Vec<&str> = gen
            .iter()
            .map(|e| e["event"]["id"].as_str().unwrap())
            .collect();
        let mut interactions: Vec<&str> = Vec::new();
        for c in gen.chunks(3) {
            // One copy of the three: the first two share their interaction, the third has its own.
            assert_eq!(c[0]["interaction"]["id"], c[1]["interaction"]["id"]);
            assert_ne!(c[0]["interaction"]["id"], c[2]["interaction"]["id"]);
            interactions.push(c[0]["interaction"]["id"].as_str().unwrap());
            interactions.push(c[2]["interaction"]["id"].as_str().unwrap());
        }
        interactions.extend(["int-0001", "int-0007"]);
        interactions.sort_unstable();
        interactions.dedup();
        assert_eq!(interactions.len(), 22, "{interactions:?}");
        events.extend(["ev-0001", "ev-0002", "ev-0003"]);
        events.sort_unstable();
        events.dedup();
        assert_eq!(events.len(), 33);
    }

    #[test]
    fn the_platforms_own_call_or_conversation_id_identifies_an_event_and_a_partys_does_not() {
        for own in [
            "conversation.conversationId",
            "call.id",
            "callId",
            "ticket_id",
            "session.sessionUuid",
        ] {
            assert!(!is_party_path(own), "{own}");
        }
        for party in [
            "interaction.customer.contactId",
            "contact.contactId",
            "agent.id",
            "call.agentId",
            "tenant_id",
            "queue.queueId",
            "user-id",
        ] {
            assert!(is_party_path(party), "{party}");
        }
        let vars = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let id = Identity::of_key(
            vars(&["conversation.conversationId", "event.type", "agent.id"]),
            |_| false,
        );
        assert_eq!(id.fields, vec!["conversation.conversationId"]);
        assert_eq!(id.fallback, vec!["agent.id"]);
        // Beside an event.id, the conversation's id varies (string GUIDs stay GUIDs), the
        // agent's does not; the subject is the conversation.
        let t = [
            json!({"event": {"id": "ev-1"}, "conversation": {"conversationId": "5f0c1a7e-0b1d-4c2a-9e11-000000000a01"}, "agent": {"id": "ag-1"}}),
            json!({"event": {"id": "ev-2"}, "conversation": {"conversationId": "5f0c1a7e-0b1d-4c2a-9e11-000000000a02"}, "agent": {"id": "ag-1"}}),
        ];
        let gen = generate(&t, 10, &id);
        let mut conv: Vec<&str> = gen
            .iter()
            .map(|e| e["conversation"]["conversationId"].as_str().unwrap())
            .collect();
        assert!(conv
            .iter()
            .all(|c| skeleton(c) == skeleton("5f0c1a7e-0b1d-4c2a-9e11-000000000a01")));
        conv.extend([
            "5f0c1a7e-0b1d-4c2a-9e11-000000000a01",
            "5f0c1a7e-0b1d-4c2a-9e11-000000000a02",
        ]);
        conv.sort_unstable();
        conv.dedup();
        assert_eq!(conv.len(), 12);
        assert!(gen.iter().all(|e| e["agent"]["id"] == "ag-1"));
        assert!(id.varies(&t[0], "conversation.conversationId"));
        assert!(!id.varies(&t[0], "agent.id"));
        assert_eq!(
            id.subject(&t[0]),
            Some(
                "conversation.conversationId=\"5f0c1a7e-0b1d-4c2a-9e11-000000000a01\"".to_string()
            )
        );
    }

    /// 2025-03-01T10:00:00Z in ms.
    const AT: i64 = 1_740_823_200_000;

    #[test]
    fn string_ids_keep_their_form_and_count_up_from_the_fixture() {
        let t = [json!({"event": {"id": "e-aa1"}, "interaction": {"id": "ab12-cd34"}})];
        let p = plan(&t, 3);
        let g: Vec<Value> = (0..3).map(|g| p.apply(&t[0], 0, g, AT)).collect();
        assert_eq!(g[0]["event"]["id"], "e-aa2");
        assert_eq!(g[2]["event"]["id"], "e-aa4");
        // Eight hex digits of one case: hex throughout.
        assert_eq!(g[0]["interaction"]["id"], "ab12-cd35");
        let t = [json!({"interaction": {"id": "INT-00417"}})];
        let p = plan(&t, 2);
        assert_eq!(p.apply(&t[0], 0, 1, AT)["interaction"]["id"], "INT-00419");
    }

    #[test]
    fn a_uuid_stays_a_uuid_and_upper_case_stays_upper_case() {
        let u = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
        let t = [json!({"event": {"id": u}, "interaction": {"id": "CASE-ZZ"}})];
        let p = plan(&t, 1000);
        let e = p.apply(&t[0], 0, 999, AT);
        let id = e["event"]["id"].as_str().unwrap();
        assert_eq!(skeleton(id), skeleton(u));
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{id}"
        );
        assert_ne!(id, u);
        // Two upper-case letters hold 676 values; 1000 more need a third.
        let case = e["interaction"]["id"].as_str().unwrap();
        assert!(case.starts_with("CASE-") && case.len() == 8, "{case}");
        assert!(case[5..].chars().all(|c| c.is_ascii_uppercase()), "{case}");
    }

    #[test]
    fn ids_are_unique_across_templates_and_never_repeat_a_fixture() {
        // Same form in two fixtures: one sequence, above both.
        let t = [
            json!({"event": {"id": "evt-0001"}, "interaction": {"id": 41}}),
            json!({"event": {"id": "evt-0007"}, "interaction": {"id": 40}}),
        ];
        let p = plan(&t, 200);
        let mut seen = std::collections::BTreeSet::new();
        for v in &t {
            seen.insert(v["event"]["id"].to_string());
            seen.insert(v["interaction"]["id"].to_string());
        }
        for g in 0..200u64 {
            let ti = (g % 2) as usize;
            let e = p.apply(&t[ti], ti, g, AT);
            assert!(seen.insert(e["event"]["id"].to_string()), "{e}");
            assert!(seen.insert(e["interaction"]["id"].to_string()), "{e}");
            // A number stays a number.
            assert!(e["interaction"]["id"].is_u64());
        }
        assert_eq!(p.apply(&t[0], 0, 0, AT)["event"]["id"], "evt-0008");
        assert_eq!(p.apply(&t[0], 0, 0, AT)["interaction"]["id"], 42);
    }

    #[test]
    fn a_form_too_small_is_widened_in_its_last_run() {
        let t = [json!({"event": {"id": "ev-7"}})];
        let p = plan(&t, 50);
        assert_eq!(p.apply(&t[0], 0, 0, AT)["event"]["id"], "ev-08");
        assert_eq!(p.apply(&t[0], 0, 49, AT)["event"]["id"], "ev-57");
    }

    #[test]
    fn numbers_stay_within_2_to_the_53() {
        let top = MAX_SAFE_INTEGER as u64;
        let t = [json!({"interaction": {"id": top - 1}})];
        let p = plan(&t, 10);
        let e = p.apply(&t[0], 0, 9, AT);
        assert_eq!(
            e["interaction"]["id"],
            top - 11,
            "counts down when up does not fit"
        );
    }

    #[test]
    fn ids_past_2_to_the_53_vary_as_distinct_doubles() {
        // Two 64-bit ids (as Snowflake-style ids are), and a negative one past -2^53.
        let t = [
            json!({"interaction": {"id": 1234567890123456789u64}}),
            json!({"interaction": {"id": 1234567890123456788u64}}),
        ];
        let p = plan(&t, 600);
        let ids: Vec<u64> = (0..600u64)
            .map(|g| {
                p.apply(&t[(g % 2) as usize], (g % 2) as usize, g, AT)["interaction"]["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let mut as_doubles: Vec<u64> = ids.iter().map(|&i| (i as f64) as u64).collect();
        assert_eq!(as_doubles, ids, "every generated id is exact in a double");
        as_doubles.sort_unstable();
        as_doubles.dedup();
        assert_eq!(as_doubles.len(), 600);
        assert!(ids.iter().all(|&i| i > 1234567890123456789));
        assert_eq!(ids[0], 1234567890123457024);
        let neg = [json!({"event": {"id": -9007199254740993i64}})];
        let p = plan(&neg, 10);
        let e = p.apply(&neg[0], 0, 9, AT);
        let v = e["event"]["id"].as_i64().unwrap();
        assert!(v < -9007199254740993 && (v as f64) as i64 == v, "{v}");
        // Past the 64-bit range, an error rather than a copy.
        let top = [json!({"event": {"id": u64::MAX}})];
        assert!(Plan::new(&top, 10, &Identity::default()).is_err());
    }

    #[test]
    fn iso_times_keep_precision_separator_and_offset_and_durations_stay() {
        let t = [json!({
            "event": {"occurredAt": "2025-03-01T09:59:00+01:00"},
            "interaction": {"startedAt": "2025-03-01T09:40:00.250+01:00", "endedAt": "2025-03-01 09:58:30.500+0100"}
        })];
        let p = plan(&t, 1);
        // Arrival 10:00:00.400Z: occurredAt (seconds) moves by the rounded offset.
        let e = p.apply(&t[0], 0, 0, AT + 400);
        assert_eq!(e["event"]["occurredAt"], "2025-03-01T11:00:00+01:00");
        assert_eq!(
            e["interaction"]["startedAt"],
            "2025-03-01T10:41:00.650+01:00"
        );
        assert_eq!(e["interaction"]["endedAt"], "2025-03-01 10:59:30.900+0100");
    }

    #[test]
    fn epoch_times_stay_epoch_and_nothing_missing_is_added() {
        let t = [json!({
            "event": {"id": "x1", "type": "interaction.ended"},
            "interaction": {"startedAt": 1705326702000u64, "endedAt": "1705327092"}
        })];
        let p = plan(&t, 1);
        let e = p.apply(&t[0], 0, 0, AT);
        // No occurredAt: endedAt (seconds, as text) is the anchor.
        assert_eq!(e["interaction"]["endedAt"], (AT / 1000).to_string());
        assert_eq!(
            e["interaction"]["startedAt"],
            AT - (1705327092000 - 1705326702000)
        );
        assert!(e["event"].get("occurredAt").is_none());
        assert!(e.get("agent").is_none());
        assert!(e["interaction"].get("id").is_none());
        let bare = [json!({"event": {"type": "x"}})];
        assert_eq!(plan(&bare, 5).apply(&bare[0], 0, 3, AT), bare[0]);
    }

    #[test]
    fn compare_allows_same_form_values_and_names_type_and_form_changes() {
        let f =
            json!({"t": {"id": "INT-AB12", "at": "2025-03-01T09:40:00Z", "n": 3, "tags": ["a"]}});
        let same =
            json!({"t": {"id": "INT-AB13", "at": "2025-03-01T11:02:07Z", "n": 9, "tags": ["a"]}});
        assert!(compare(&f, &same).is_empty(), "{:?}", compare(&f, &same));
        // What the old generator did: a numeric id and epoch milliseconds where strings were.
        let old = json!({"t": {"id": 700000000, "at": 1705327092400u64, "n": 3, "tags": ["a"]}});
        let d = compare(&f, &old);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("/t/id: string"), "{d:?}");
        let widened =
            json!({"t": {"id": "INT-AB1234", "at": "2025-03-01T09:40:00Z", "n": 3, "tags": ["a"]}});
        assert!(compare(&f, &widened).is_empty());
        let added = json!({"t": {"id": "INT-AB12", "at": "2025-03-01T09:40:00Z", "n": 3, "tags": ["a"], "x": 1}});
        assert_eq!(compare(&f, &added).len(), 1);
        let form =
            json!({"t": {"id": "int_ab12", "at": "2025-03-01T09:40:00Z", "n": 3, "tags": ["a"]}});
        assert_eq!(compare(&f, &form).len(), 1);
    }

    /// The digit-by-digit date and time writer against chrono's `%Y-%m-%d` and `%H:%M:%S`, which
    /// it replaces on the hot path: every year's edges, offsets either side of UTC, and a spread
    /// of instants across the range the scenario schema allows (and past it, where chrono
    /// writes the year with a sign).
    #[test]
    fn the_date_time_writer_writes_what_strftime_writes() {
        let chrono_text = |t: &DateTime<FixedOffset>, sep: char| {
            format!("{}{sep}{}", t.format("%Y-%m-%d"), t.format("%H:%M:%S"))
        };
        let mut instants: Vec<i64> = vec![
            -62_167_219_200_000, // 0000-01-01T00:00:00Z
            -62_135_596_800_001,
            -1,
            0,
            951_782_400_000, // 2000-02-29
            1_705_326_702_123,
            253_402_300_799_999, // 9999-12-31T23:59:59.999Z
            253_402_300_800_000, // 10000-01-01: signed year
            -62_167_219_200_001, // -0001-12-31: signed year
        ];
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.push(x.rem_euclid(260_000_000_000_000) - 62_200_000_000_000);
        }
        for ms in instants {
            for off in [0, 3600, -(5 * 3600 + 30 * 60), 14 * 3600, -12 * 3600] {
                let zone = FixedOffset::east_opt(off).unwrap();
                let t = DateTime::<Utc>::from_timestamp_millis(ms)
                    .unwrap()
                    .with_timezone(&zone);
                for sep in ['T', ' ', 't'] {
                    assert_eq!(iso_date_time(&t, sep), chrono_text(&t, sep), "{ms} {off}");
                }
            }
        }
    }
}
