//! How a generated event differs from the fixture it copies: its identity and its times, each
//! in the fixture's own type and format, and nothing else.
//!
//! - **Identity** ([`Identity`]: `event.id`, `interaction.id`, the idempotency key's id fields
//!   of the event's own call or conversation, and, in a fixture that has neither standard id,
//!   the key's id fields of a party): a string keeps its form: every letter stays a letter of the same case,
//!   every digit a digit, hex stays hex, punctuation stays where it is; the trailing characters
//!   count up from the fixture's value (`INT-00417` → `INT-00418`, `ab12-cd34` → `ab12-cd35`, a
//!   UUID stays a UUID, `abcdef` stays hex; an id with neither letters nor digits gets digits
//!   after it, `-` → `-1`). Fixtures whose values have the same form share one
//!   sequence, which starts above every id of the run its form can spell, in any identity field
//!   ([`Taken`]), so every generated id is unique and none repeats a fixture's or another
//!   field's. Only when the fixture's form cannot hold that many values is its varying run
//!   widened: a run of digits without a leading zero grows as a number does (`7` → `10`), a
//!   zero-padded one keeps its padding (`07` → `008`). A number stays a number: integers above the largest fixture value, clear of every
//!   other id, within ±(2^53 − 1).
//! - **Times** (every ISO 8601 date-time string, and every epoch number under a time name,
//!   [`time_fields`], [`is_time_name`]; `event.occurredAt`, `interaction.endedAt`,
//!   `interaction.startedAt` place the event): all times
//!   of one interaction's copy (the fixtures linked by a shared varied value, [`Groups`]) shift
//!   by one offset, a multiple of the coarsest precision among them, so that every duration
//!   stays the fixtures' exactly and the interaction's earliest event (by the first of
//!   `occurredAt`, `endedAt`, `startedAt` each fixture has) occurs at the copy's start to that
//!   precision; its events arrive with the fixtures' spacing ([`Plan::offset`]). An ISO 8601 time
//!   keeps its precision, separator and offset; epoch milliseconds and seconds stay epoch
//!   milliseconds and seconds (numbers or digit strings). A fixture with a time that does not
//!   parse keeps all its times.
//! - A field the fixture lacks is not added; a field of another type is left as it is.
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
    /// The key's fields cxsync cannot judge (tester #250): not named as an id ([`is_id_name`]),
    /// their fixture values not written as one ([`is_id_value`]), but named as a reference
    /// (`bookingRef`, `ticketNumber`) or holding different id-like values in different fixtures.
    /// Kept as the fixtures' like any shared field; lint's CX016 says it cannot tell rather than
    /// stating a loss as fact.
    pub unsure: Vec<String>,
    /// Every path an enabled rule's `conditions` reads: never varied, never linked into
    /// ([`links_of`]), so a generated event matches its fixture's rules (tester #258).
    pub routed: Vec<String>,
}

/// The parties of an interaction that many events share: a customer has many calls, an agent
/// takes many, a queue or tenant sees thousands. An id under (or named for) one of them is not
/// the event's own.
const PARTIES: [&str; 31] = [
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
    "taskqueue",
    "tenant",
    "user",
    "worker",
    "workspace",
];

/// Whether a path names the id of a party many events share rather than of the event's own
/// subject: one of its names, without an id suffix (`contactId` → `contact`, `agent_id` →
/// `agent`), is a party ([`PARTIES`]: `interaction.customer.contactId`, `agent.id`,
/// `tenantId`). `conversation.conversationId`, `call.id`, `ticket_id` are not. The one
/// definition: the generator, the CRM model's subjects and lint's CX016/CX034 ask it.
pub fn is_party_path(path: &str) -> bool {
    path.split('.').any(|seg| {
        let lower = seg.to_ascii_lowercase();
        let stem = [
            "_guid", "-guid", "guid", "_uuid", "-uuid", "uuid", "_sid", "-sid", "sid", "_uid",
            "uid", "_id", "-id", "id",
        ]
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
///
/// The same goes for the other names platforms give a record's own identifier (tester #250:
/// `call.guid`, Twilio's `call.CallSid` were kept as the fixture's, and a correct key lost 461
/// records): `guid`, `uid`, `sid` and the suffixes `Guid`, `GUID`, `_guid`, `-guid`, `Uid`,
/// `_uid`, `Sid`, `SID`, `_sid`, `-sid` (`CallSid`, `call_sid`; `WorkerSid`, `AccountSid` are a
/// party's, [`is_party_path`]). `…Ref`, `…Key`, `…Number` are not: a `phoneNumber`, a
/// `sortKey` or a `queueRef` is shared by many events; such a field identifies an event only by
/// its fixtures' values ([`is_id_value`]), and otherwise cxsync cannot tell ([`Identity::unsure`]).
pub fn is_id_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["id", "uuid", "guid", "uid", "sid"].contains(&lower.as_str())
        || ["Id", "ID", "Uuid", "Guid", "GUID", "Uid", "Sid", "SID"]
            .iter()
            .any(|suf| name.ends_with(suf) && name.len() > suf.len())
        || [
            "_id", "-id", "_uuid", "-uuid", "_guid", "-guid", "_uid", "_sid", "-sid",
        ]
        .iter()
        .any(|suf| lower.ends_with(suf))
}

/// Whether a fixture value is written as a machine-made unique identifier: a UUID (`8-4-4-4-12`
/// hex, either case), 24 or more hex characters of one case (a Mongo ObjectId, an MD5), or up to
/// four letters followed by 24 or more hex characters (Twilio's `CA` + 32 hex). A field whose
/// fixtures hold such values, different ones where several fixtures have it, is the event's own
/// identity whatever its name ([`Identity::of_spec`]).
pub fn is_id_value(v: &Value) -> bool {
    let Value::String(s) = v else { return false };
    let hex = |t: &str| {
        t.len() >= 24
            && (t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                || t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')))
    };
    let uuid = s.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit());
    uuid || hex(s)
        || (1..=4).any(|i| {
            s.is_char_boundary(i) && s[..i].bytes().all(|b| b.is_ascii_alphabetic()) && hex(&s[i..])
        })
}

/// Whether a field's name reads like a per-record reference cxsync cannot judge by name
/// (`…Ref`, `…Key`, `…Number`, `…No`: a `bookingRef` may be unique per call or shared by a
/// customer's calls).
fn is_ref_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["Ref", "Key", "Number", "Num", "No"]
        .iter()
        .any(|suf| name.ends_with(suf) && name.len() > suf.len())
        || ["ref", "key", "number", "reference"].contains(&lower.as_str())
        || [
            "_ref",
            "_key",
            "_number",
            "_no",
            "-ref",
            "-key",
            "-number",
            "reference",
        ]
        .iter()
        .any(|suf| lower.ends_with(suf))
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
        Self::of_key_values(key_vars, routed, |_| Vec::new())
    }

    /// [`Identity::of_key`], where `values` gives the fixtures' values at a path (one per
    /// fixture that has it): a field whose values are ids ([`is_id_value`], different ones
    /// where several fixtures have it) identifies the event whatever its name.
    fn of_key_values<'a>(
        key_vars: impl IntoIterator<Item = String>,
        routed: impl Fn(&str) -> bool,
        values: impl Fn(&str) -> Vec<&'a Value>,
    ) -> Self {
        let mut id = Identity::default();
        for v in key_vars {
            let last = v.rsplit('.').next().unwrap_or(&v);
            if IDENTITY.contains(&v.as_str())
                || v == "event.type"
                || routed(&v)
                || id.fields.contains(&v)
                || id.fallback.contains(&v)
                || id.unsure.contains(&v)
            {
                continue;
            }
            let vals = values(&v);
            let differ = vals.windows(2).any(|w| w[0] != w[1]);
            let id_valued = !vals.is_empty()
                && vals.iter().all(|x| is_id_value(x))
                && (vals.len() == 1 || differ);
            if !is_id_name(last) && !id_valued {
                // An id-like token (six or more letters and digits, with a digit) in each.
                let id_like = |x: &&Value| {
                    x.as_str().is_some_and(|s| {
                        s.split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|t| t.len() >= 6 && t.bytes().any(|b| b.is_ascii_digit()))
                    })
                };
                if !is_party_path(&v) && (is_ref_name(last) || (differ && vals.iter().all(id_like)))
                {
                    id.unsure.push(v);
                }
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
        let routed = routed_paths(spec);
        // Each fixture once (rules may share one), in the spec's order.
        let mut seen = std::collections::BTreeSet::new();
        let events: Vec<&Value> = spec
            .rules
            .iter()
            .flat_map(|r| &r.fixtures)
            .filter(|f| seen.insert(f.path.clone()))
            .map(|f| &f.event)
            .collect();
        let mut id = Identity::of_key_values(
            key.into_iter().chain(upsert_inputs(spec)),
            |v| routed.iter().any(|r| r == v),
            |v| {
                let segs = split(v);
                events
                    .iter()
                    .filter_map(|e| get(e, &segs).filter(|x| !x.is_null()))
                    .collect()
            },
        );
        id.routed = routed;
        id
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
        // A field named for the interaction (`survey.interactionId`, `interaction_id`) names
        // the same subject as `interaction.id`: a survey of a call updates that call's record.
        let text = |p: &str, v: &Value| {
            let last = p.rsplit('.').next().unwrap_or(p).to_ascii_lowercase();
            let names_interaction =
                ["interactionid", "interaction_id", "interaction-id"].contains(&last.as_str());
            let p = if names_interaction {
                "interaction.id"
            } else {
                p
            };
            format!("{p}={}", crate::delivery::machine::json_text(v))
        };
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

/// Every path an enabled rule's `conditions` reads, sorted: the fields rules route on, which
/// generated events keep as their fixtures' (never varied, never linked into).
pub fn routed_paths(spec: &crate::spec::Spec) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = spec
        .raw
        .rules
        .iter()
        .filter(|r| r.enabled)
        .flat_map(|r| r.conditions.keys().cloned())
        .collect();
    set.into_iter().collect()
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

/// An event's own time, in ms since the Unix epoch: its first time field ([`TIMES`] order:
/// `event.occurredAt`, else `interaction.endedAt`, else `interaction.startedAt`) that reads as a
/// time, in any format the generator writes. `None` when it has none. The set-back invariant
/// judges which of two events about one record is the older by it.
pub fn event_time(event: &Value) -> Option<i64> {
    TIMES.iter().find_map(|p| {
        let v = p.split('.').try_fold(event, |v, s| v.get(s))?;
        parse_time(v).map(|(at, _)| at.timestamp_millis())
    })
}

/// How generated events are made from their templates.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How many templates events are generated from (instance `g / templates`).
    templates: u64,
    ids: Vec<IdField>,
    /// Per template: every time field it has ([`time_fields`]).
    times: Vec<Vec<TimeAt>>,
    /// Per template: the coarsest precision of its time fields in ms, every shift a multiple
    /// of it (`None`: a time field it has does not parse, so its times stay as they are).
    time_units: Vec<Option<i64>>,
    shapes: Vec<Shape>,
    /// Which templates are one interaction, and how each copy of one is timed.
    groups: Groups,
    /// Per template: its other fields that repeat a varied id ([`links_of`]).
    links: Vec<Vec<Link>>,
}

/// A field outside the identity fields that carries one of its template's varied ids, whole
/// (`survey.callRef` equal to `interaction.id`) or as a token of a longer string
/// (`links.self: "/calls/CALL-123"`): rewritten with the copy's generated id.
#[derive(Debug, Clone)]
struct Link {
    path: Vec<Seg>,
    form: LinkForm,
}

#[derive(Debug, Clone)]
enum LinkForm {
    /// A number equal to a numeric id: the copy's generated number.
    Number(IdGen),
    /// A string: its literal text between the ids it carries, in order.
    Text(Vec<Part>),
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    /// The copy's generated value of an id, as text.
    Id(IdGen),
}

/// Whether an id's fixture text is distinctive enough to be linked where another field repeats
/// it: at least 4 characters with an ASCII letter or digit, and a digit or at least 8
/// characters. `1`, `42`, `true`, `null`, `open`, `CASE-ZZ` are never linked: a field that
/// happens to equal one is more likely a count, a flag or a word than the id.
fn linkable(text: &str) -> bool {
    let n = text.chars().count();
    n >= 4
        && text.chars().any(|c| c.is_ascii_alphanumeric())
        && (n >= 8 || text.chars().any(|c| c.is_ascii_digit()))
}

/// The varied ids `ids` (how each is generated, its fixture value), found in `template`'s
/// other string and number leaves (not at `skip`: the identity fields and the times): a string
/// equal to an id's text or holding it at token boundaries (no alphanumeric character on either
/// side), a number equal to a numeric id. Where two ids overlap in a string, the earlier, then
/// the longer, is taken.
fn links_of(template: &Value, ids: &[(IdGen, &Value)], skip: &dyn Fn(&[Seg]) -> bool) -> Vec<Link> {
    let mut texts: Vec<(IdGen, String, Option<i128>)> = ids
        .iter()
        .filter_map(|&(i, v)| {
            let (text, num) = match v {
                Value::String(s) => (s.clone(), None),
                Value::Number(_) => (v.to_string(), Some(integer(v)?)),
                _ => return None,
            };
            linkable(&text).then_some((i, text, num))
        })
        .collect();
    // Equal fixture values share one generated value in a copy: the first stands for all.
    let mut seen = std::collections::BTreeSet::new();
    texts.retain(|t| seen.insert(t.1.clone()));
    let mut out = Vec::new();
    if texts.is_empty() {
        return out;
    }
    fn walk(
        v: &Value,
        path: &mut Vec<Seg>,
        texts: &[(IdGen, String, Option<i128>)],
        skip: &dyn Fn(&[Seg]) -> bool,
        out: &mut Vec<Link>,
    ) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    path.push(Seg::Key(k.clone()));
                    walk(x, path, texts, skip, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(x, path, texts, skip, out);
                    path.pop();
                }
            }
            Value::Number(_) if !skip(path) => {
                let n = integer(v);
                if let Some(&(i, ..)) = texts.iter().find(|t| t.2.is_some() && t.2 == n) {
                    out.push(Link {
                        path: path.clone(),
                        form: LinkForm::Number(i),
                    });
                }
            }
            Value::String(s) if !skip(path) => {
                if let Some(parts) = text_parts(s, texts) {
                    out.push(Link {
                        path: path.clone(),
                        form: LinkForm::Text(parts),
                    });
                }
            }
            _ => {}
        }
    }
    walk(template, &mut Vec::new(), &texts, skip, &mut out);
    out
}

/// `s` split into literal text and the ids of `texts` it holds at token boundaries, or `None`
/// when it holds none.
fn text_parts(s: &str, texts: &[(IdGen, String, Option<i128>)]) -> Option<Vec<Part>> {
    let alnum_at = |i: usize| s[i..].chars().next().is_some_and(char::is_alphanumeric);
    let alnum_before = |i: usize| {
        s[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    };
    // (start, end, id), every boundary-delimited occurrence of every id.
    let mut hits: Vec<(usize, usize, IdGen)> = Vec::new();
    for (i, text, _) in texts {
        let mut from = 0;
        while let Some(at) = s[from..].find(text.as_str()) {
            let (start, end) = (from + at, from + at + text.len());
            if !alnum_before(start) && !alnum_at(end) {
                hits.push((start, end, *i));
            }
            from = start + s[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if hits.is_empty() {
        return None;
    }
    hits.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut parts = Vec::new();
    let mut at = 0;
    for (start, end, i) in hits {
        if start < at {
            continue;
        }
        if start > at {
            parts.push(Part::Lit(s[at..start].to_string()));
        }
        parts.push(Part::Id(i));
        at = end;
    }
    if at < s.len() {
        parts.push(Part::Lit(s[at..].to_string()));
    }
    Some(parts)
}

#[derive(Debug, Clone)]
struct IdField {
    path: Vec<String>,
    /// Per template: how its generated values are made (`None`: left as it is).
    per_template: Vec<Option<IdGen>>,
}

/// How one template's generated values of an identity field are made. Generated event `g` of
/// `n` templates belongs to instance `i = g / n` (one copy of every template); within an
/// instance, equal fixture values, in any identity fields, get one value (two fixtures of one
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

/// Which templates are one interaction, and how each copy of one is timed.
///
/// Templates that share a varied value (any identity field's: `interaction.id`, or a
/// `survey.interactionId` equal to it) are one group: in every copy their times shift by one
/// amount, so every interval between any two of their time fields stays the fixtures', and
/// their events arrive in the order of their event times, with the fixtures' spacing.
#[derive(Debug, Clone, Default)]
struct Groups {
    /// Per template: its group.
    of: Vec<usize>,
    /// Per group: how its copies are timed.
    timing: Vec<GroupTiming>,
    /// Per template: its event time after its group's earliest, in ms (0 without a readable
    /// time): the arrival offset of its copy from the copy's start.
    offsets: Vec<u64>,
}

#[derive(Debug, Clone, Default)]
struct GroupTiming {
    /// The group's first template (in file order): copy `c` starts at arrival slot
    /// `c × templates + first`.
    first: usize,
    /// The earliest event time among the group's templates (ms since the Unix epoch), which
    /// lands on the copy's start; `None` when none has a readable time.
    anchor: Option<i64>,
    /// The coarsest precision (ms) of every time field of the group: every shift is a
    /// multiple of it.
    unit: i64,
    /// The group's epoch-seconds-with-a-fraction times (ms), which no shift may leave on a
    /// whole second ([`float_safe_delta`]).
    floats: Vec<i64>,
}

impl Groups {
    /// The groups of `n` templates from the identity values of every field (`all`, field by
    /// field, `n` per field) and how they vary (`gens`): two templates with one varied value
    /// in any field are one group, and so is everything linked through such values.
    fn of(all: &[Option<&Value>], gens: &[Option<IdGen>], n: usize) -> Groups {
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
        for (i, v) in all.iter().enumerate() {
            let (Some(v), Some(_)) = (v, gens.get(i).copied().flatten()) else {
                continue;
            };
            let t = i % n.max(1);
            let text = crate::delivery::machine::json_text(v);
            let other = *seen.entry(text).or_insert(t);
            let (a, b) = (root(&mut parent, t), root(&mut parent, other));
            // The smaller template is the root: a group is named by its first template.
            parent[a.max(b)] = a.min(b);
        }
        let mut of = vec![0; n];
        let mut timing: Vec<GroupTiming> = Vec::new();
        let mut index_of_root: Vec<Option<usize>> = vec![None; n];
        for (t, slot) in of.iter_mut().enumerate() {
            let r = root(&mut parent, t);
            let g = *index_of_root[r].get_or_insert_with(|| {
                timing.push(GroupTiming {
                    first: t,
                    anchor: None,
                    unit: 1,
                    floats: Vec::new(),
                });
                timing.len() - 1
            });
            *slot = g;
        }
        Groups {
            of,
            timing,
            offsets: vec![0; n],
        }
    }

    /// The groups with their timing: each template's event time (its first time field, in
    /// [`TIMES`] order, when all of its times parse), the earliest per group, the coarsest
    /// precision and every template's offset from that earliest.
    fn timed(
        mut self,
        templates: &[Value],
        times: &[Vec<TimeAt>],
        units: &[Option<i64>],
    ) -> Groups {
        let own: Vec<Option<i64>> = templates
            .iter()
            .zip(units)
            .map(|(t, unit)| unit.and(event_time(t)))
            .collect();
        for (t, unit) in units.iter().enumerate() {
            let Some(unit) = unit else { continue };
            let g = &mut self.timing[self.of[t]];
            g.unit = g.unit.max(*unit);
            if let Some(at) = own[t] {
                g.anchor = Some(g.anchor.map_or(at, |a| a.min(at)));
            }
            g.floats.extend(
                times[t]
                    .iter()
                    .filter(|f| f.fmt == TimeFormat::EpochSFloat)
                    .map(|f| f.at.timestamp_millis()),
            );
        }
        for (t, at) in own.iter().enumerate() {
            if let (Some(at), Some(anchor)) = (at, self.timing[self.of[t]].anchor) {
                self.offsets[t] = u64::try_from(at.saturating_sub(anchor)).unwrap_or(0);
            }
        }
        self
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

/// One time field of a template: where it is, its instant and how it is written.
#[derive(Debug, Clone)]
struct TimeAt {
    path: Vec<Seg>,
    at: DateTime<FixedOffset>,
    fmt: TimeFormat,
}

/// A step into a JSON value: an object's key or a list's index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Whether a field's name says it holds an instant, for an epoch number (or a string of 10 or
/// 13 digits), which a value alone cannot tell from a count or an id. After one unit suffix is
/// taken off (`Ms`, `MS`, `Millis`, `Sec`, `Secs`, `Seconds`, each also after `_` or `-` in
/// lower case: `startedAtMs`, `created_at_ms`), the name is `at`, `time`, `timestamp`, `ts`,
/// `date`, `datetime`, `epoch` or `when` (any case), or ends in one of them as a word: after a
/// lower-case letter or digit in camel case (`answeredAt`, `endTime`, `lastTimestamp`,
/// `createdTs`, `closeDate`, `createdEpoch`), or after `_` or `-` (`created_at`,
/// `end-time`). `format`, `uptime`, `duration`, `durationMs` are not. A field directly under
/// an object named `timestamps`, `times`, `timing`, `timings` or `dates` is one too, whatever
/// its name (`timestamps.created`).
pub fn is_time_name(name: &str, parent: Option<&str>) -> bool {
    const WORDS: [&str; 8] = [
        "at",
        "time",
        "timestamp",
        "ts",
        "date",
        "datetime",
        "epoch",
        "when",
    ];
    const CONTAINERS: [&str; 5] = ["timestamps", "times", "timing", "timings", "dates"];
    if parent.is_some_and(|p| CONTAINERS.contains(&p.to_ascii_lowercase().as_str())) {
        return true;
    }
    let mut stem = name;
    for unit in ["Millis", "Seconds", "Secs", "Sec", "Ms", "MS"] {
        for sep in ["", "_", "-"] {
            let suffix = if sep.is_empty() {
                unit.to_string()
            } else {
                format!("{sep}{}", unit.to_ascii_lowercase())
            };
            if let Some(s) = name.strip_suffix(suffix.as_str()).filter(|s| !s.is_empty()) {
                stem = s;
            }
        }
        if stem.len() < name.len() {
            break;
        }
    }
    let lower = stem.to_ascii_lowercase();
    WORDS.iter().any(|w| {
        if lower == *w {
            return true;
        }
        if !lower.ends_with(w) {
            return false;
        }
        let head = &stem[..stem.len() - w.len()];
        let word = &stem[stem.len() - w.len()..];
        let camel = word.starts_with(|c: char| c.is_ascii_uppercase())
            && word[1..].chars().all(|c| c.is_ascii_lowercase())
            && head.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        let snake = head.ends_with(['_', '-']) && word.chars().all(|c| c.is_ascii_lowercase());
        camel || snake
    })
}

/// Every time field of `template` but the paths `skip` names (the identity fields): an ISO 8601
/// date-time string wherever it is (in objects and lists alike), and an epoch number, or a
/// string of 10 or 13 digits, under a time name ([`is_time_name`]; in a list, the list's
/// name) within the epoch ranges [`parse_time`] reads (seconds 10^9–10^11, milliseconds
/// 10^11–10^14, in the unit the fixture writes).
fn time_fields(template: &Value, skip: &dyn Fn(&[Seg]) -> bool) -> Vec<TimeAt> {
    fn walk(
        v: &Value,
        path: &mut Vec<Seg>,
        name: Option<&str>,
        parent: Option<&str>,
        skip: &dyn Fn(&[Seg]) -> bool,
        out: &mut Vec<TimeAt>,
    ) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    path.push(Seg::Key(k.clone()));
                    walk(x, path, Some(k), name, skip, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(x, path, name, parent, skip, out);
                    path.pop();
                }
            }
            Value::String(_) | Value::Number(_) if !skip(path) => {
                let named = name.is_some_and(|n| is_time_name(n, parent));
                let read = match v {
                    Value::String(s) if !named => parse_iso(s),
                    _ if named => parse_time(v),
                    _ => None,
                };
                if let Some((at, fmt)) = read {
                    out.push(TimeAt {
                        path: path.clone(),
                        at,
                        fmt,
                    });
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(template, &mut Vec::new(), None, None, skip, &mut out);
    out
}

/// Replaces the value at `path`, which exists (nothing is added).
fn set_at(v: &mut Value, path: &[Seg], new: Value) {
    let mut cur = v;
    for s in path {
        let next = match s {
            Seg::Key(k) => cur.get_mut(k.as_str()),
            Seg::Index(i) => cur.get_mut(*i),
        };
        match next {
            Some(next) => cur = next,
            None => return,
        }
    }
    *cur = new;
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

impl TimeFormat {
    /// The precision the format writes, in ms: a shift by a multiple of it writes the instant
    /// exactly.
    fn unit(self) -> i64 {
        match self {
            TimeFormat::Iso { frac, .. } if frac < 3 => 10i64.pow(3 - u32::from(frac)),
            TimeFormat::Iso { .. } | TimeFormat::EpochMs { .. } | TimeFormat::EpochSFloat => 1,
            TimeFormat::EpochS { .. } => 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    /// No offset written (a local time, read as UTC for shifting).
    None,
    /// `Z` (or `z`).
    Utc(char),
    /// `+01:00` (`colon`), `+0100`, or `+01` (`hours`); `minus_zero`: a zero offset written
    /// `-00:00` (RFC 3339's "local offset unknown"), which stays so.
    Offset {
        colon: bool,
        hours: bool,
        minus_zero: bool,
    },
}

/// An identity field's path, its segments, and each template's value there.
type FieldValues<'a> = (String, Vec<String>, Vec<Option<&'a Value>>);

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
        let standard: Vec<bool> = templates.iter().map(Identity::has_standard).collect();
        let paths: Vec<(String, bool)> = IDENTITY
            .iter()
            .map(|p| (p.to_string(), false))
            .chain(identity.fields.iter().map(|p| (p.clone(), false)))
            .chain(identity.fallback.iter().map(|p| (p.clone(), true)))
            .collect();
        let fields: Vec<FieldValues> = paths
            .into_iter()
            .map(|(path, fallback)| {
                let segs = split(&path);
                let values = templates
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
                (path, segs, values)
            })
            .collect();
        // Every id a fixture has, in any identity field: no generated id may equal one, nor
        // another generated id, whichever field either is in ([`Taken`]).
        let mut taken = Taken::of(fields.iter().flat_map(|f| f.2.iter().flatten().copied()));
        // One list of every field's values, field by field: equal values in any fields share
        // one sequence and one rank, so within a copy they get one generated value
        // (`survey.interactionId` equal to `interaction.id` stays equal to it).
        let n = templates.len();
        let all: Vec<Option<&Value>> = fields.iter().flat_map(|f| f.2.iter().copied()).collect();
        let path_of = |i: usize| fields[i / n.max(1)].0.as_str();
        let mut flat = int_gens(&all, n as u64, count, &path_of, &mut taken)?;
        string_gens(
            &all,
            n as u64,
            count,
            &path_of,
            &mut shapes,
            &mut taken,
            &mut flat,
        )?;
        let groups = Groups::of(&all, &flat, n);
        let mut per_field: Vec<Vec<Option<IdGen>>> =
            flat.chunks(n.max(1)).map(<[_]>::to_vec).collect();
        per_field.resize(fields.len(), vec![None; n]);
        let ids: Vec<IdField> = fields
            .into_iter()
            .zip(per_field)
            .map(|((_, segs, _), per_template)| IdField {
                path: segs,
                per_template,
            })
            .collect();
        let routed: Vec<Vec<String>> = identity.routed.iter().map(|r| split(r)).collect();
        let starts_with = |p: &[Seg], r: &[String]| {
            p.len() >= r.len()
                && r.iter()
                    .zip(p)
                    .all(|(a, b)| matches!(b, Seg::Key(k) if k == a))
        };
        // Every time field but the identity fields: one shift moves them all.
        let id_paths: Vec<&[String]> = ids.iter().map(|f: &IdField| f.path.as_slice()).collect();
        let skip = |p: &[Seg]| {
            id_paths.iter().any(|id| {
                id.len() == p.len()
                    && id
                        .iter()
                        .zip(p)
                        .all(|(a, b)| matches!(b, Seg::Key(k) if k == a))
            })
        };
        let times: Vec<Vec<TimeAt>> = templates.iter().map(|t| time_fields(t, &skip)).collect();
        let time_units: Vec<Option<i64>> = templates
            .iter()
            .zip(&times)
            .map(|(template, fields)| {
                // A standard time the generator cannot read cannot move with the others, so
                // none moves: the intervals between them stay the fixture's.
                let unreadable = TIMES.iter().any(|p| {
                    get(template, &split(p))
                        .is_some_and(|v| !v.is_null() && parse_time(v).is_none())
                });
                (!unreadable).then(|| fields.iter().map(|f| f.fmt.unit()).fold(1, i64::max))
            })
            .collect();
        let groups = groups.timed(templates, &times, &time_units);
        // Once per template: the other fields that repeat a varied id, its own first, then
        // another template's (a survey's `callRef` naming the call fixture's `interaction.id`:
        // within a copy, both are generated for one copy of the fixture set).
        let varied_of = |u: usize| {
            ids.iter().filter_map(move |f| {
                let gen = f.per_template.get(u).copied().flatten()?;
                Some((gen, get(&templates[u], &f.path)?))
            })
        };
        let links: Vec<Vec<Link>> = templates
            .iter()
            .enumerate()
            .map(|(t, template)| {
                let varied: Vec<(IdGen, &Value)> = varied_of(t)
                    .chain((0..n).filter(|&u| u != t).flat_map(varied_of))
                    .collect();
                let time_paths: Vec<&[Seg]> = times[t].iter().map(|f| f.path.as_slice()).collect();
                // A field rules route on stays the fixture's (tester #258: `skill: "SK-1001"`
                // beside `interaction.id: 1001` became `SK-1002` and matched no rule).
                let skip = |p: &[Seg]| {
                    skip(p) || time_paths.contains(&p) || routed.iter().any(|r| starts_with(p, r))
                };
                links_of(template, &varied, &skip)
            })
            .collect();
        Ok(Plan {
            templates: templates.len() as u64,
            ids,
            times,
            groups,
            time_units,
            shapes,
            links,
        })
    }

    /// Generated event number `g` (0-based among generated events) of template `t`, whose
    /// interaction's copy starts at `start` (ms since the Unix epoch, [`Plan::slot`]): the
    /// template with its identity and times varied.
    pub fn apply(&self, template: &Value, t: usize, g: u64, start: i64) -> Value {
        let mut ev = template.clone();
        self.apply_in_place(&mut ev, t, g, start);
        ev
    }

    /// [`Plan::apply`] on a copy of template `t` that earlier calls may have varied: only the
    /// varied fields are written (each exists in every copy and is overwritten whole), so a
    /// large event costs its few fields, not a deep copy. The result equals `apply`'s.
    pub fn apply_in_place(&self, ev: &mut Value, t: usize, g: u64, start: i64) {
        for f in &self.ids {
            let Some(gen) = f.per_template.get(t).copied().flatten() else {
                continue;
            };
            set_existing(ev, &f.path, self.generated(gen, g));
        }
        for link in self.links.get(t).into_iter().flatten() {
            let v = match &link.form {
                LinkForm::Number(gen) => self.generated(*gen, g),
                LinkForm::Text(parts) => {
                    let mut s = String::new();
                    for p in parts {
                        match p {
                            Part::Lit(l) => s.push_str(l),
                            Part::Id(gen) => match self.generated(*gen, g) {
                                Value::String(x) => s.push_str(&x),
                                x => s.push_str(&x.to_string()),
                            },
                        }
                    }
                    Value::String(s)
                }
            };
            set_at(ev, &link.path, v);
        }
        self.shift_times(ev, t, start);
    }

    /// The value `gen` generates for generated event `g` (any template's of its copy: the
    /// offset reads only the copy, `g / templates`).
    fn generated(&self, gen: IdGen, g: u64) -> Value {
        match gen {
            IdGen::Int {
                start,
                up,
                step,
                rank,
                distinct,
            } => {
                // Within ±(2^53 − 1), or the 64-bit range past it, by construction
                // ([`int_gens`]).
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
        }
    }

    /// Every time field of template `t`'s copy moved so its interaction starts at `start`.
    fn shift_times(&self, ev: &mut Value, t: usize, start: i64) {
        // One offset for every time of the copy of the template's interaction, a multiple of
        // the coarsest precision among them, so each keeps its precision and every interval
        // between any two of them, in one event or two, stays the fixtures': the
        // interaction's earliest event lands on the copy's start, to that precision, at or
        // before it (floored, never rounded up: tester #234, an epoch-seconds `occurredAt`
        // rounded to 00:04:04 was after the hub's first attempt at 00:04:03.500, and a CRM
        // that refuses times in the future would refuse it).
        if self.time_units.get(t).copied().flatten().is_none() {
            return;
        }
        let Some(group) = self.groups.of.get(t).map(|&g| &self.groups.timing[g]) else {
            return;
        };
        let Some(anchor) = group.anchor else {
            return;
        };
        let delta = float_safe_delta(
            floor_to(start.saturating_sub(anchor), group.unit),
            group.unit,
            group.floats.iter().copied(),
        );
        for f in self.times.get(t).into_iter().flatten() {
            set_at(ev, &f.path, shift(&f.at, f.fmt, delta));
        }
    }

    /// The arrival slot copy `g / templates` of template `t`'s interaction starts at: the
    /// slot of its first template in that copy (`g` itself for a template of its own).
    pub fn slot(&self, t: usize, g: u64) -> u64 {
        let first = self
            .groups
            .of
            .get(t)
            .map_or(t, |&i| self.groups.timing[i].first);
        g / self.templates.max(1) * self.templates + first as u64
    }

    /// The first template of template `t`'s interaction (`t` for a template of its own).
    pub fn first_of(&self, t: usize) -> usize {
        self.groups
            .of
            .get(t)
            .map_or(t, |&i| self.groups.timing[i].first)
    }

    /// How long after its interaction's start template `t`'s event arrives, in ms: its event
    /// time after the interaction's earliest event time in the fixtures (0 without a readable
    /// time).
    pub fn offset(&self, t: usize) -> u64 {
        self.groups.offsets.get(t).copied().unwrap_or(0)
    }
}

/// `delta`, or the nearest multiple of `unit` below it (above it only when none of the
/// nearest below will do) that leaves none of `floats` (epoch seconds with a fraction, in ms)
/// on a whole second, which would read back as another format; below, so a copy's times stay
/// at or before its arrival (#234). `delta` itself when there is none (a unit of a second keeps
/// every fraction as it is).
fn float_safe_delta(delta: i64, unit: i64, floats: impl Iterator<Item = i64> + Clone) -> i64 {
    let lands_whole = |d: i64| floats.clone().any(|ms| ms.saturating_add(d) % 1000 == 0);
    let steps = 2 * (1000 / unit.max(1));
    (0..=steps)
        .map(|k| delta.saturating_sub(k * unit))
        .chain((1..=steps).map(|k| delta.saturating_add(k * unit)))
        .find(|d| !lands_whole(*d))
        .unwrap_or(delta)
}

impl Plan {
    /// Where `generated` repeats an id of `templates`: each identity field of `generated`
    /// whose value, as text (what `$string` makes of it), equals any template's value of any
    /// identity field. The built-in check asks it of each template's first generated event;
    /// empty when the plan kept its promise.
    pub fn repeats(&self, templates: &[Value], generated: &Value) -> Vec<String> {
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let mut out = Vec::new();
        for f in self
            .ids
            .iter()
            .filter(|f| f.per_template.iter().any(Option::is_some))
        {
            let Some(v) = get(generated, &f.path).filter(|v| v.is_string() || v.is_number()) else {
                continue;
            };
            let mine = text(v);
            for (t, template) in templates.iter().enumerate() {
                for g in &self.ids {
                    if get(template, &g.path).is_some_and(|w| text(w) == mine) {
                        out.push(format!(
                            "`{}` {mine} is template {}'s `{}`",
                            f.path.join("."),
                            t + 1,
                            g.path.join(".")
                        ));
                    }
                }
            }
        }
        out
    }
}

impl Plan {
    /// Where a generated value of a varied identity field leaves its fixture's form (tester
    /// #247: the check read only each template's first copy, `ABC-2025-000043`, while later
    /// copies were `ABC-2025-00004A`): template `t` makes `copies(t)` copies, and every one of
    /// their values is judged, bounded by the form rather than the run. A string's values are
    /// one stretch of its form's sequence; each character any of them writes at a position is
    /// written by one of at most `radix` values per varying position of the stretch (the first
    /// value at which that position turns over, from the stretch's first), so judging those,
    /// the first and the last value judges them all ([`keeps_form`]). An integer's values stay
    /// within ±(2^53 − 1) when the fixture's does. Each entry: the template and what differs.
    pub fn forms(
        &self,
        templates: &[Value],
        copies: &dyn Fn(usize) -> u64,
    ) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for f in &self.ids {
            for (t, gen) in f.per_template.iter().enumerate() {
                let (Some(gen), Some(fixture)) =
                    (gen, templates.get(t).and_then(|v| get(v, &f.path)))
                else {
                    continue;
                };
                let k = copies(t);
                if k == 0 {
                    continue;
                }
                // Generated event numbers of template `t`'s first and last copies.
                let (g0, g1) = (t as u64, (k - 1) * self.templates + t as u64);
                let path = f.path.join(".");
                match (*gen, fixture) {
                    (
                        IdGen::Str {
                            shape,
                            start,
                            rank,
                            distinct,
                        },
                        Value::String(fx),
                    ) => {
                        let shape = &self.shapes[shape];
                        let lo = start.saturating_add(u128::from(rank));
                        let hi = lo.saturating_add(u128::from(k - 1) * u128::from(distinct));
                        let mut values = vec![lo, hi];
                        let mut weight: u128 = 1;
                        for class in shape.0.iter().rev() {
                            let r = class.radix();
                            if r > 1 {
                                let (q0, q1) = (lo / weight, hi / weight);
                                let last = q1.min(q0.saturating_add(r - 1));
                                values.extend((q0 + 1..=last).map(|q| q * weight));
                            }
                            weight = weight.saturating_mul(r);
                        }
                        values.sort_unstable();
                        values.dedup();
                        if let Some(bad) = values
                            .into_iter()
                            .map(|v| shape.encode(v))
                            .find(|v| !keeps_form(fx, v))
                        {
                            out.push((
                                t,
                                format!(
                                    "`{path}` {bad} (among its copies {} to {}) is not of the fixture's form {fx}",
                                    shape.encode(lo),
                                    shape.encode(hi)
                                ),
                            ));
                        }
                    }
                    (IdGen::Int { .. }, Value::Number(_)) => {
                        let safe =
                            |v: &Value| integer(v).is_some_and(|n| n.abs() <= MAX_SAFE_INTEGER);
                        if safe(fixture) {
                            if let Some(bad) = [self.generated(*gen, g0), self.generated(*gen, g1)]
                                .into_iter()
                                .find(|v| !safe(v))
                            {
                                out.push((
                                    t,
                                    format!("`{path}` {bad} is past ±(2^53 − 1), the fixture's {fixture} is not"),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// Whether a generated id `b` keeps the form of its fixture's `a`, strictly, character class by
/// character class: an id keeps its runs of digits, lower-case and upper-case letters (of a hex
/// id, [`hex_class`]: hex digits of its case) and each punctuation character in order, a run
/// never shorter than the fixture's (the varying run may widen), so a run of decimal digits
/// never takes a letter
/// (`DE-000042` → `DE-0000A3` does not keep it); an id with neither letters nor digits is its
/// text followed by digits (`-` → `-1`).
fn keeps_form(a: &str, b: &str) -> bool {
    let hex = hex_form(a);
    if hex.is_some_and(|h| !h.admits(b)) {
        return false;
    }
    if !a.chars().any(|c| c.is_ascii_alphanumeric()) {
        return b
            .strip_prefix(a)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit()));
    }
    #[derive(PartialEq)]
    enum Run {
        Digits,
        Lower,
        Upper,
        Other(char),
    }
    let runs = |s: &str| -> Vec<(Run, usize)> {
        let mut out: Vec<(Run, usize)> = Vec::new();
        for (tok, c) in tokens(s) {
            let run = match c {
                // A hex id's letters and digits are one run of hex digits.
                _ if hex.is_some_and(|h| h.covers(tok, c)) => Run::Digits,
                '0'..='9' => Run::Digits,
                'a'..='z' => Run::Lower,
                'A'..='Z' => Run::Upper,
                _ => Run::Other(c),
            };
            match out.last_mut() {
                Some((r, n)) if *r == run && !matches!(run, Run::Other(_)) => *n += 1,
                _ => out.push((run, 1)),
            }
        }
        out
    };
    let (x, y) = (runs(a), runs(b));
    x.len() == y.len() && x.iter().zip(&y).all(|((p, m), (q, n))| p == q && n >= m)
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

/// The ids no generated id may take: every fixture's id in any identity field, and the
/// values already handed to a field's sequence. Integers and strings meet here too: a transform
/// may write `$string(interaction.id)` into the field a CRM upserts on, so the integer 42 and
/// the string `"42"` are one id to it.
#[derive(Debug, Default)]
struct Taken {
    /// Integer intervals taken (inclusive): fixture integers, fixture strings of digits read
    /// as integers, and each integer sequence's span.
    ints: Vec<(i128, i128)>,
    /// Fixture strings (and integers as decimal text), by their characters.
    strings: Vec<Vec<char>>,
    /// Each string sequence's form, its least value and its greatest.
    sequences: Vec<(Shape, Vec<char>, Vec<char>)>,
}

impl Taken {
    fn of<'a>(values: impl Iterator<Item = &'a Value>) -> Taken {
        let mut t = Taken::default();
        for v in values {
            if let Some(n) = integer(v) {
                t.ints.push((n, n));
                t.strings.push(n.to_string().chars().collect());
            } else if let Some(s) = v.as_str() {
                let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                if digits && (s == "0" || !s.starts_with('0')) {
                    if let Ok(n) = s.parse::<i128>() {
                        t.ints.push((n, n));
                    }
                }
                t.strings.push(s.chars().collect());
            }
        }
        t
    }

    /// The first taken interval that meets `lo..=hi`.
    fn clash(&self, lo: i128, hi: i128) -> Option<(i128, i128)> {
        self.ints
            .iter()
            .copied()
            .find(|(a, b)| *a <= hi && *b >= lo)
    }

    /// The first start at or beyond `start` (in the direction `up`) whose `n` consecutive
    /// values meet no taken interval.
    fn fit(&self, mut start: i128, n: i128, up: bool) -> Option<i128> {
        let span = n.checked_sub(1)?.max(0);
        loop {
            let (lo, hi) = if up {
                (start, start.checked_add(span)?)
            } else {
                (start.checked_sub(span)?, start)
            };
            let (a, b) = match self.clash(lo, hi) {
                None => return Some(start),
                Some(x) => x,
            };
            start = if up {
                b.checked_add(1)?
            } else {
                a.checked_sub(1)?
            };
        }
    }

    /// The least start at or above `from` of `needed` consecutive values of form `shape` that
    /// meet no taken id: a free stretch between the fixtures' ids, for when the form has no
    /// room above them (tester #230: fixtures `ZD-000123` and `ZD-999950` left 49 values above
    /// the second, so every copy of both was widened to `ZD-0999951` and a schema wanting
    /// six digits refused them, though 999,000 six-digit ids were free). `None` when no
    /// stretch is long enough, or when an earlier sequence of another form (or a span of
    /// integers) may spell values of this one: then only the room above is safe.
    fn gap(&self, shape: &Shape, from: u128, needed: u128) -> Option<u128> {
        let len = shape.0.len();
        let mut used: Vec<(u128, u128)> = Vec::new();
        for s in &self.strings {
            if shape.spells(s) {
                let v = shape.value(&s.iter().collect::<String>())?;
                used.push((v, v));
            }
        }
        for (other, first, last) in &self.sequences {
            if other == shape {
                let text = |c: &[char]| shape.value(&c.iter().collect::<String>());
                used.push((text(first)?, text(last)?));
            } else if other.meets(shape) {
                return None;
            }
        }
        if shape.spells_digits() && len <= 38 {
            let low = if len == 1 {
                0
            } else {
                10i128.pow(len as u32 - 1)
            };
            let high = 10i128.pow(len as u32) - 1;
            for &(a, b) in &self.ints {
                if b < low || a > high {
                    continue;
                }
                if a != b {
                    return None;
                }
                if let Some(v) = shape.value(&a.to_string()) {
                    used.push((v, v));
                }
            }
        }
        used.sort_unstable();
        let mut start = from;
        for (a, b) in used {
            if b < start {
                continue;
            }
            if a >= start && a - start >= needed {
                break;
            }
            start = b.checked_add(1)?;
        }
        (start.checked_add(needed)? <= shape.capacity()).then_some(start)
    }

    /// The greatest string a sequence of form `shape` must stay above: every fixture id
    /// that form can spell, every integer's decimal text of its length (when it spells digits
    /// everywhere), and the last value of every earlier sequence whose form can spell one of
    /// the same strings. Strings of one form order as their values do, so a sequence above all
    /// of these repeats none of them.
    fn floor(&self, shape: &Shape) -> Option<Vec<char>> {
        let len = shape.0.len();
        let mut best: Option<Vec<char>> = None;
        let mut consider = |s: Vec<char>| {
            if best.as_ref().is_none_or(|b| s > *b) {
                best = Some(s);
            }
        };
        for s in &self.strings {
            if s.len() == len && shape.spells(s) {
                consider(s.clone());
            }
        }
        for (other, first, last) in &self.sequences {
            // Every value of a sequence shares the characters its least and greatest share
            // at the front; a form that cannot spell those spells none of its values.
            let front = first.iter().zip(last).take_while(|(a, b)| a == b).count();
            let reachable = other.meets(shape)
                && first[..front]
                    .iter()
                    .zip(&shape.0)
                    .all(|(c, class)| class.admits(*c));
            if let Some(f) = reachable
                .then(|| common_below(other, shape, last))
                .flatten()
            {
                consider(f);
            }
        }
        if len <= 38 && shape.spells_digits() {
            let digits = Shape(vec![Class::Digit; len]);
            let low = if len == 1 {
                0
            } else {
                10i128.pow(len as u32 - 1)
            };
            let high = 10i128.pow(len as u32) - 1;
            for &(a, b) in &self.ints {
                let top = b.min(high);
                if top >= a.max(low) {
                    let text: Vec<char> = top.to_string().chars().collect();
                    if let Some(f) = common_below(&digits, shape, &text) {
                        consider(f);
                    }
                }
            }
        }
        best
    }
}

/// The greatest string at most `t` (of its length) that both forms spell; `None` when none is.
fn common_below(a: &Shape, b: &Shape, t: &[char]) -> Option<Vec<char>> {
    if a.0.len() != b.0.len() || t.len() != a.0.len() {
        return None;
    }
    // Per position, the characters both forms allow, in order.
    let sets: Vec<Vec<char>> =
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| {
                (0..x.radix())
                    .map(|d| x.char_of(d))
                    .filter(|c| y.admits(*c))
                    .collect()
            })
            .collect();
    if sets.iter().any(Vec::is_empty) {
        return None;
    }
    let spelt = t
        .iter()
        .zip(&sets)
        .take_while(|(c, set)| set.contains(c))
        .count();
    if spelt == t.len() {
        return Some(t.to_vec());
    }
    // The last position, within `t`'s spelt prefix, where a smaller character can stand;
    // the greatest characters after it.
    (0..=spelt).rev().find_map(|i| {
        let smaller = sets[i].iter().rev().find(|c| **c < t[i])?;
        let mut out = t[..i].to_vec();
        out.push(*smaller);
        out.extend(sets[i + 1..].iter().filter_map(|set| set.last()));
        Some(out)
    })
}

/// How each template's integer values of one identity field vary: one sequence above the
/// largest (or below the smallest) fixture value, clear of every id taken ([`Taken`]).
fn int_gens<'p>(
    values: &[Option<&Value>],
    templates: u64,
    count: u64,
    path_of: &dyn Fn(usize) -> &'p str,
    taken: &mut Taken,
) -> Result<Vec<Option<IdGen>>, PlanError> {
    let mut out = vec![None; values.len()];
    // Instances of the templates (copies of each) the run makes: the values a sequence needs
    // are that many times the fixtures' distinct values ([`IdGen`]).
    let instances = count.div_ceil(templates.max(1));
    let ints: Vec<(usize, i128)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.and_then(integer).map(|n| (i, n)))
        .collect();
    if ints.is_empty() {
        return Ok(out);
    }
    let max = ints.iter().map(|x| x.1).max().unwrap_or(0);
    let min = ints.iter().map(|x| x.1).min().unwrap_or(0);
    let (ranked, distinct) = ranks(&ints);
    let n = i128::from(instances) * i128::from(distinct);
    let safe = max <= MAX_SAFE_INTEGER && min >= -MAX_SAFE_INTEGER;
    let within = |start: i128, up: bool| {
        let last = if up { start + n - 1 } else { start - (n - 1) };
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&last)
    };
    let up_start = taken.fit(max + 1, n, true).filter(|s| within(*s, true));
    let down_start = || taken.fit(min - 1, n, false).filter(|s| within(*s, false));
    // Past 2^53 already: stay there, exact in a double, and clear of what is taken.
    let beyond = |mut from: i128, up: bool| loop {
        let (start, step) = exact_beyond(from, n, up)?;
        let last = start.checked_add(if up { 1 } else { -1 } * (n - 1).max(0) * step)?;
        match taken.clash(start.min(last), start.max(last)) {
            None => return Some((start, step, up)),
            Some((a, b)) => from = if up { b } else { a },
        }
    };
    let (start, step, up) = if let (true, Some(s)) = (safe, up_start) {
        (s, 1, true)
    } else if let (true, Some(s)) = (safe, down_start()) {
        (s, 1, false)
    } else if let Some(b) = if max > MAX_SAFE_INTEGER {
        beyond(max, true)
    } else if min < -MAX_SAFE_INTEGER {
        beyond(min, false)
    } else {
        None
    } {
        b
    } else {
        return Err(PlanError {
            path: path_of(ints[0].0).to_string(),
            count,
            found: format!("integers {min} to {max}"),
        });
    };
    if n > 0 {
        let last = if up {
            start + (n - 1) * step
        } else {
            start - (n - 1) * step
        };
        taken.ints.push((start.min(last), start.max(last)));
    }
    for (i, rank) in ranked {
        out[i] = Some(IdGen::Int {
            start,
            up,
            step,
            rank,
            distinct,
        });
    }
    Ok(out)
}

/// How each template's string values of one identity field vary, into `out`: grouped by form
/// (what is fixed and what varies, position by position); a group shares one sequence above
/// every id taken that its form can spell ([`Taken::floor`]).
fn string_gens<'p>(
    values: &[Option<&Value>],
    templates: u64,
    count: u64,
    path_of: &dyn Fn(usize) -> &'p str,
    shapes: &mut Vec<Shape>,
    taken: &mut Taken,
    out: &mut [Option<IdGen>],
) -> Result<(), PlanError> {
    let instances = count.div_ceil(templates.max(1));
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
        let values: Vec<(usize, Option<u128>)> =
            members.iter().map(|(i, s)| (*i, shape.value(s))).collect();
        let (ranked, distinct) = ranks(&values);
        let needed = u128::from(instances) * u128::from(distinct);
        let mut number = shape.counts_like_a_number(members.iter().map(|(_, s)| *s));
        let mut widened = false;
        let start = loop {
            // Above the fixture's own value (kept when the form widens) and above every
            // taken id the form can spell.
            let above = match taken.floor(&shape) {
                Some(f) => shape.above(&f),
                None => Some(0),
            };
            // A widened run of digits that the fixtures write without a leading zero counts on
            // as a number does (`7` → `10`, `11`, …), not zero-padded (`010`): tester #220, a
            // schema that wants a ticket number rejected `010`.
            let least = match (widened && number, shape.leading_weight()) {
                (true, Some(w)) => w,
                _ => 0,
            };
            if let Some(start) = above.map(|a| a.max(top.saturating_add(1)).max(least)) {
                if start.saturating_add(needed) <= shape.capacity() {
                    break start;
                }
            }
            // No room above: a free stretch between the fixtures' ids keeps the form, above
            // the least fixture id of the form where there is one (copies still count on from
            // a fixture), else anywhere.
            let low = members.iter().filter_map(|(_, s)| shape.value(s)).min();
            if let Some(start) = low
                .and_then(|l| taken.gap(&shape, least.max(l.saturating_add(1)), needed))
                .or_else(|| taken.gap(&shape, least, needed))
            {
                break start;
            }
            // Too few values left in the fixture's form: widen its varying run, keeping the
            // value.
            // First more digits of the same token, so a fixed-length id keeps its length (tester
            // #222: a ULID's last digit `3` was widened to `005`, 26 characters became 28).
            if shape.spread() {
                number = false;
                continue;
            }
            widened = true;
            if !shape.widen() {
                return Err(PlanError {
                    path: path_of(members[0].0).to_string(),
                    count,
                    found: format!("`{}`", members[0].1),
                });
            }
        };
        if needed > 0 {
            taken.sequences.push((
                shape.clone(),
                shape.encode(start).chars().collect(),
                shape.encode(start + needed - 1).chars().collect(),
            ));
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
    Ok(())
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

/// Whether `s` is a hex id, and of which case: its letters and digits are all hex of one case
/// (a string without letters is lower case), and it is laid out as a UUID (`8-4-4-4-12`,
/// digits only or not), or it is at least six hex letters and no digit (`abcdef`), or it has at
/// least eight letters and digits of which some hex letter follows a digit in one run of
/// letters and digits (`5f3a9c0e`, `A1B2C3D4`, a `sys_id`, a hash): the id is written in hex
/// where it counts. Letters only before the digits of their run are a word, not hex digits
/// (`DE-000042`, `ABC000042`, `ABC-2025-000042`, `FACE42`: tester #247, counted in hex, wrote
/// `DE-0000A3`), so its digits count in decimal; decimal counting of a hex id still writes hex.
/// Tester #253: a token of its own (between punctuation) written in hex still counts in hex when
/// the whole id does not ([`hex_form`]).
#[cfg(test)]
fn hex_class(s: &str) -> Option<Class> {
    hex_form(s).map(|h| h.class)
}

/// Where an id is written in hex: all of it ([`hex_class`]'s rule), or one token of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hex {
    class: Class,
    /// The token (counted between non-alphanumeric characters, from 0) written in hex; `None`:
    /// every letter and digit of the id.
    token: Option<usize>,
}

impl Hex {
    /// Whether the character `c` of token `tok` is one of the hex digits.
    fn covers(self, tok: usize, c: char) -> bool {
        c.is_ascii_alphanumeric() && self.token.is_none_or(|t| t == tok)
    }

    /// Whether every hex position of `b` (laid out as the fixture is) holds a hex digit of the
    /// fixture's case.
    fn admits(self, b: &str) -> bool {
        tokens(b).all(|(tok, c)| !self.covers(tok, c) || self.class.admits(c))
    }
}

/// Each character of `s` with the index of the token it is in (a non-alphanumeric character
/// ends a token and is counted with the one before it).
fn tokens(s: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut tok = 0;
    s.chars().map(move |c| {
        let at = tok;
        if !c.is_ascii_alphanumeric() {
            tok += 1;
        }
        (at, c)
    })
}

/// Whether `s` is a hex id ([`hex_class`]: the whole id), else its last token of only hex
/// characters of one case, at least six, with a digit and a hex letter after a digit
/// (`IN20250301-c0ffee`, `US20250301-0f3a9c`, a git short SHA `a1b2c3d`), delimited by
/// punctuation or the ends: that token counts in hex keeping its width and case, the rest stays
/// (tester #253: `c0ffee` was counted in decimal and widened to `c100ffee`). `DE-000042`,
/// `FACE42`, `ABC000042` (letters only before the digits) stay decimal. The one answer
/// [`Shape::of`] and the built-in checks ([`keeps_form`], [`same_form`]) ask.
fn hex_form(s: &str) -> Option<Hex> {
    if let Some(class) = whole_hex_class(s) {
        return Some(Hex { class, token: None });
    }
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .enumerate()
        .filter_map(|(i, run)| {
            let class = if run.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Class::HexLower
            } else if run.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')) {
                Class::HexUpper
            } else {
                return None;
            };
            let after_digit = run
                .find(|c: char| c.is_ascii_digit())
                .is_some_and(|d| run[d..].contains(|c: char| c.is_ascii_alphabetic()));
            (run.len() >= 6 && after_digit).then_some(Hex {
                class,
                token: Some(i),
            })
        })
        .last()
}

/// [`hex_class`]'s rule for the whole id.
fn whole_hex_class(s: &str) -> Option<Class> {
    let alnum: Vec<char> = s.chars().filter(char::is_ascii_alphanumeric).collect();
    let letters = alnum.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let digits = alnum.len() - letters;
    let class = if alnum.iter().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        Class::HexLower
    } else if alnum.iter().all(|c| matches!(c, '0'..='9' | 'A'..='F')) {
        Class::HexUpper
    } else {
        return None;
    };
    let uuid = s.split('-').map(str::len).eq([8, 4, 4, 4, 12]) && alnum.len() == 32;
    // A letter after a digit of its own run (`9c0e`): not a word before a number.
    let letter_after_digit = s.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
        run.find(|c: char| c.is_ascii_digit())
            .is_some_and(|d| run[d..].contains(|c: char| c.is_ascii_alphabetic()))
    });
    (uuid
        || (digits == 0 && letters >= 6)
        || (alnum.len() >= 8 && digits > 0 && letter_after_digit))
        .then_some(class)
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

impl Class {
    /// Whether this position may hold `c`.
    fn admits(self, c: char) -> bool {
        self.digit_of(c).is_some()
    }

    /// Whether some character may stand at this position in both forms.
    fn meets(self, other: Class) -> bool {
        (0..self.radix()).any(|d| other.admits(self.char_of(d)))
    }
}

/// The most values one string form varies over: 2^100, room for the arithmetic on them
/// (`widen`, counting up) within a `u128`, and more than any run generates.
const FITTED_CAPACITY: u128 = 1 << 100;

/// The longest string form that may still grow a position (`Shape::widen`): a bound on the
/// loop, far above any id (tester #202: 65 letters and a digit could not be varied at all).
const MAX_WIDENED: usize = 1024;

/// The form of a string id: a class per character.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape(Vec<Class>);

impl Shape {
    /// The form of `s`: a hex id ([`hex_class`]) varies in every hex position; otherwise only
    /// its last run of digits varies (`INT-00417`, `DE-000042`), or, without digits, its last
    /// run of letters (`CASE-ZZ`); everything else is fixed. A string with
    /// neither an ASCII letter nor a digit (`.`, `-`, `__`, `""`, `日本`) has nothing to vary:
    /// its characters stay and a digit follows them (`-` → `-1`, `-2`, …, widened as the run
    /// needs), so its copies are still strings, start with the fixture's text and are unique.
    fn of(s: &str) -> Shape {
        let chars: Vec<char> = s.chars().collect();
        if let Some(hex) = hex_form(s) {
            return Shape(
                tokens(s)
                    .map(|(tok, c)| {
                        if hex.covers(tok, c) {
                            hex.class
                        } else {
                            Class::Fixed(c)
                        }
                    })
                    .collect(),
            )
            .fitted(&chars);
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
        if !chars.iter().any(char::is_ascii_alphanumeric) {
            classes.push(Class::Digit);
        }
        Shape(classes).fitted(&chars)
    }

    /// The form with only as many varying positions, counted from the end, as a value of
    /// [`FITTED_CAPACITY`] holds; the ones before stay as written (tester #202: `EV` and 32
    /// letters, a 40-digit or a SHA-1 id overflowed the value, and the id came out of another
    /// form and length, `aAAaaa…ab`; 65 letters could not be varied at all).
    fn fitted(mut self, chars: &[char]) -> Shape {
        let mut capacity: u128 = 1;
        for (class, &c) in self.0.iter_mut().zip(chars).rev() {
            match capacity.checked_mul(class.radix()) {
                Some(n) if n <= FITTED_CAPACITY => capacity = n,
                _ => *class = Class::Fixed(c),
            }
        }
        self
    }

    /// Whether `s` is a string of this form.
    fn spells(&self, s: &[char]) -> bool {
        s.len() == self.0.len() && s.iter().zip(&self.0).all(|(c, class)| class.admits(*c))
    }

    /// Whether some string is of both forms.
    fn meets(&self, other: &Shape) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.meets(*b))
    }

    /// Whether some string of this form is all digits (an integer's decimal text may be one).
    fn spells_digits(&self) -> bool {
        self.0.iter().all(|c| ('0'..='9').any(|d| c.admits(d)))
    }

    /// The value of the least string of this form that is greater than `t` (of the same
    /// length, compared character by character: strings of one form order as their values
    /// do); `None` when there is none.
    fn above(&self, t: &[char]) -> Option<u128> {
        if t.len() != self.0.len() {
            return Some(0);
        }
        // How long a prefix of `t` this form spells.
        let spelt = t
            .iter()
            .zip(&self.0)
            .take_while(|(c, class)| class.admits(**c))
            .count();
        // The last position where a greater character can stand after `t`'s own prefix.
        for i in (0..self.0.len()).rev() {
            if i > spelt {
                continue;
            }
            let class = self.0[i];
            let Some(d) = (0..class.radix()).find(|&d| class.char_of(d) > t[i]) else {
                continue;
            };
            let mut v: u128 = 0;
            for (j, class) in self.0.iter().enumerate() {
                let digit = match j.cmp(&i) {
                    std::cmp::Ordering::Less => class.digit_of(t[j])?,
                    std::cmp::Ordering::Equal => d,
                    std::cmp::Ordering::Greater => 0,
                };
                v = v.checked_mul(class.radix())?.checked_add(digit)?;
            }
            return Some(v);
        }
        None
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

    /// Whether the varying run is a whole run of decimal digits that every one of `values`
    /// writes without a leading zero (`7`, `INT-417`, a lone `0`): a number written as text,
    /// which grows by a digit when it runs out (`9` → `10`) rather than being zero-padded. A
    /// run whose first positions are fixed (a long id, [`Shape::fitted`]) or that follows a
    /// digit does not start the number, and a zero-padded one (`INT-00417`) keeps its padding.
    fn counts_like_a_number<'a>(&self, values: impl Iterator<Item = &'a str>) -> bool {
        let Some(first) = self.0.iter().position(|c| !matches!(c, Class::Fixed(_))) else {
            return false;
        };
        if self.0[first] != Class::Digit {
            return false;
        }
        if first > 0 && matches!(self.0[first - 1], Class::Fixed(c) if c.is_ascii_digit()) {
            return false;
        }
        let run = self.0[first..]
            .iter()
            .take_while(|c| **c == Class::Digit)
            .count();
        let mut values = values.peekable();
        values.peek().is_some()
            && values.all(|s| {
                let chars: Vec<char> = s.chars().collect();
                chars.len() == self.0.len() && (run == 1 || chars[first] != '0')
            })
    }

    /// The value of the least string whose first varying position holds its second character
    /// (`1` of a digit): every string of the form from it on has no leading zero there. `None`
    /// when nothing varies.
    fn leading_weight(&self) -> Option<u128> {
        let first = self.0.iter().position(|c| !matches!(c, Class::Fixed(_)))?;
        Some(self.capacity() / self.0[first].radix())
    }

    /// One more varying digit without a longer string: the nearest digit written before the
    /// varying positions within the same token of letters and digits (`…A1B2C3`: the `2`, then
    /// the `1`), so a fixed-length id (a ULID, a KSUID, `evt_` and 26 characters) keeps its
    /// length, its letters and its alphabet. False when the token has no such digit.
    fn spread(&mut self) -> bool {
        let Some(first) = self.0.iter().position(|c| !matches!(c, Class::Fixed(_))) else {
            return false;
        };
        for i in (0..first).rev() {
            match self.0[i] {
                Class::Fixed(c) if c.is_ascii_digit() => {
                    self.0[i] = Class::Digit;
                    return true;
                }
                Class::Fixed(c) if c.is_ascii_alphabetic() => continue,
                _ => return false,
            }
        }
        false
    }

    /// One more position at the front of the varying run (`INT-7` → `INT-07`): the value of
    /// every string is unchanged. False when nothing varies, or the form is long already.
    fn widen(&mut self) -> bool {
        if self.0.len() > MAX_WIDENED {
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
            let (hh, mm, colon, hours) = match r.len() {
                5 if r.as_bytes()[2] == b':' => (&r[0..2], &r[3..5], true, false),
                4 => (&r[0..2], &r[2..4], false, false),
                2 => (r, "00", false, true),
                _ => return None,
            };
            if !hh.bytes().chain(mm.bytes()).all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (hh, mm): (i32, i32) = (hh.parse().ok()?, mm.parse().ok()?);
            if hh > 23 || mm > 59 {
                return None;
            }
            let zone = Zone::Offset {
                colon,
                hours,
                minus_zero: sign < 0 && hh == 0 && mm == 0,
            };
            (zone, sign * (hh * 3600 + mm * 60))
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

/// The time `at` moved by `delta` ms (a multiple of the field's precision, [`TimeFormat::unit`];
/// rounded to it otherwise), in its format.
fn shift(at: &DateTime<FixedOffset>, fmt: TimeFormat, delta: i64) -> Value {
    let delta = floor_to(delta, fmt.unit());
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
                Zone::Offset {
                    colon,
                    hours,
                    minus_zero,
                } => {
                    let o = t.offset().local_minus_utc();
                    let sign = if o < 0 || minus_zero { '-' } else { '+' };
                    let (h, m) = (o.abs() / 3600, o.abs() % 3600 / 60);
                    s.push_str(&if hours {
                        format!("{sign}{h:02}")
                    } else if colon {
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
            // Keep it a fraction: a whole second would read back as an integer. Only a
            // fixture whose fraction is below a millisecond lands here ([`float_safe_delta`]
            // keeps every other off whole seconds), and it moves a millisecond earlier (not
            // later: #234).
            Number::from_f64(if s.fract() == 0.0 { s - 0.001 } else { s })
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

/// `x` floored to a multiple of `unit` (towards minus infinity).
fn floor_to(x: i64, unit: i64) -> i64 {
    if unit <= 1 {
        return x;
    }
    x.div_euclid(unit) * unit
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
/// a hex id can become, goes with any run); a hex id ([`Shape::of`]) stays hex of its case. `b`
/// may hold runs of digits `a` lacks, where an id with neither letters nor digits (`-`) was
/// varied by a digit after it (`CASE--` → `CASE--1`), and nothing else more.
fn same_form(a: &str, b: &str) -> bool {
    let (x, y) = (string_form(a), string_form(b));
    if hex_form(a).is_some_and(|h| !h.admits(b)) {
        return false;
    }
    let alike = |p: &Token, q: &Token| match (p, q) {
        (Token::Run(f), Token::Run(g)) => f == g || *f == 0 || *g == 0,
        _ => p == q,
    };
    let mut rest = y.iter();
    x.iter().all(|p| {
        rest.by_ref()
            .find(|q| alike(p, q) || **q != Token::Run(0))
            .is_some_and(|q| alike(p, q))
    }) && rest.all(|q| *q == Token::Run(0))
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
        // Letters only before the digits of each run: a decimal count of the last run (#247).
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

    /// Every id of `paths` in the fixtures and in `count` generated events, as a CRM that
    /// upserts on `$string(...)` of it sees it; panics on a repeat, naming both.
    fn assert_all_ids_unique(t: &[Value], count: u64, identity: &Identity, paths: &[&str]) {
        let mut seen = std::collections::BTreeMap::new();
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let events = t.iter().cloned().chain(generate(t, count, identity));
        for (k, e) in events.enumerate() {
            for p in paths {
                let Some(v) = get(&e, &split(p)) else {
                    continue;
                };
                if let Some(before) = seen.insert(text(v), (k, *p)) {
                    panic!(
                        "{} repeats: event {k} `{p}` and event {} `{}`",
                        text(v),
                        before.0,
                        before.1
                    );
                }
            }
        }
    }

    #[test]
    fn generated_ids_never_meet_another_fields_or_fixtures_ids() {
        // #121: GUIDs one apart in two fixtures, and event ids of the same form just above
        // them: the interaction ids must not count up into the event ids (nor the reverse).
        let t = [
            json!({"event": {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3310"},
                   "interaction": {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}),
            json!({"event": {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3311"},
                   "interaction": {"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3302"}}),
            json!({"event": {"id": "3F2504E0-4F89-11D3-9A0C-0305E82C3303"},
                   "interaction": {"id": "3F2504E0-4F89-11D3-9A0C-0305E82C3300"}}),
            json!({"event": {"id": "abcdefab-cdef-abcd-efab-cdefabcdefab"},
                   "interaction": {"id": "12345678-1234-1234-1234-123456789012"}}),
        ];
        assert_all_ids_unique(&t, 2000, &Identity::default(), &IDENTITY);
        let p = plan(&t, 2000);
        for (k, e) in generate(&t, 4, &Identity::default()).iter().enumerate() {
            assert_eq!(p.repeats(&t, e), Vec::<String>::new(), "{e}");
            // The built-in check would see a copy that kept a fixture's id.
            assert_eq!(p.repeats(&t, &t[k]).len(), 2, "{e}");
        }
        for (k, e) in generate(&t, 2000, &Identity::default()).iter().enumerate() {
            for p in IDENTITY {
                let (id, fixture) = (
                    e[p.split('.').next().unwrap()]["id"].as_str().unwrap(),
                    t[k % 4][p.split('.').next().unwrap()]["id"]
                        .as_str()
                        .unwrap(),
                );
                assert_eq!(skeleton(id), skeleton(fixture), "{id} for {fixture}");
                let upper = fixture.chars().any(|c| c.is_ascii_uppercase());
                assert!(
                    id.chars().all(|c| c == '-'
                        || c.is_ascii_digit()
                        || if upper {
                            ('A'..='F').contains(&c)
                        } else {
                            ('a'..='f').contains(&c)
                        }),
                    "{id} for {fixture}: hex stays hex of the fixture's case"
                );
            }
        }
        // Adjacent integers in two fields, and a string of digits a transform's `$string`
        // makes equal to an integer.
        let t = [
            json!({"event": {"id": 41}, "interaction": {"id": 40}}),
            json!({"event": {"id": "42"}, "interaction": {"id": 43}}),
        ];
        assert_all_ids_unique(&t, 500, &Identity::default(), &IDENTITY);
        // A conversation id (the key's own field) beside event ids of the same form.
        let id = Identity::of_key(["conversation.conversationId".to_string()], |_| false);
        let t = [
            json!({"event": {"id": "c-100"}, "conversation": {"conversationId": "c-101"}}),
            json!({"event": {"id": "c-102"}, "conversation": {"conversationId": "c-103"}}),
        ];
        assert_all_ids_unique(&t, 300, &id, &["event.id", "conversation.conversationId"]);
    }

    #[test]
    fn a_field_named_for_the_interaction_names_the_same_subject_as_interaction_id() {
        // #160: the CSAT survey of call 500 updates call 500's record; it is not another's.
        let id = Identity::of_key(["survey.interactionId".to_string()], |_| false);
        let call = json!({"event": {"id": "e1"}, "interaction": {"id": 500}});
        let survey = json!({"event": {"id": "e2"}, "survey": {"interactionId": 500}});
        assert_eq!(id.subject(&call), id.subject(&survey));
        let other = json!({"event": {"id": "e3"}, "survey": {"interactionId": 501}});
        assert_ne!(id.subject(&call), id.subject(&other));
    }

    #[test]
    fn a_long_id_keeps_its_length_case_and_prefix() {
        // Tester #202: `EV` and 32 letters came out as `aAAaaa…ab` (the value overflowed), a
        // 40-digit id grew a digit, and 65 letters could not be varied at all.
        let long_letters = format!("EV{}", "a".repeat(32));
        let forty_digits = "1".repeat(40);
        let sha1 = "0123456789abcdef0123456789abcdef01234567".to_string();
        for fixture in [long_letters, forty_digits, sha1] {
            let t = [json!({"event": {"id": fixture}, "interaction": {"id": 7}})];
            let p = plan(&t, 40);
            let mut seen = std::collections::BTreeSet::new();
            for g in 0..40 {
                let e = p.apply(&t[0], 0, g, AT);
                let id = e["event"]["id"].as_str().unwrap().to_string();
                assert_eq!(id.len(), fixture.len(), "{fixture} -> {id}");
                assert_eq!(&id[..2], &fixture[..2], "{fixture} -> {id}");
                assert_eq!(Shape::of(&id), Shape::of(&fixture), "{fixture} -> {id}");
                assert!(seen.insert(id), "{fixture}: a repeated id");
            }
        }
        // A one-digit run after 70 letters is varied too (it failed past 64 characters).
        let seventy = format!("{}-1", "A".repeat(70));
        let t = [json!({"event": {"id": seventy}, "interaction": {"id": 7}})];
        let p = plan(&t, 40);
        let ids: std::collections::BTreeSet<String> = (0..40)
            .map(|g| {
                p.apply(&t[0], 0, g, AT)["event"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), 40);
        assert!(
            ids.iter()
                .all(|id| id.starts_with(&seventy[..60]) && skeleton(id).len() >= seventy.len()),
            "{ids:?}"
        );
    }

    #[test]
    fn a_hex_id_without_digits_varies_as_hex() {
        // #134: `abcdef` is hex; counting up as letters would write `abcdeg`.
        let t = [json!({"event": {"id": "abcdef"}, "interaction": {"id": "ABCDEF"}})];
        let p = plan(&t, 40);
        for g in 0..40 {
            let e = p.apply(&t[0], 0, g, AT);
            // Six hex digits, in the fixture's case: no upper-case digit in the lower-case
            // id, no lower-case one in the upper-case id.
            for (field, wrong_case) in [("event", 'A'..='Z'), ("interaction", 'a'..='z')] {
                let id = e[field]["id"].as_str().unwrap();
                assert!(
                    id.len() == 6
                        && id
                            .chars()
                            .all(|c| c.is_ascii_hexdigit() && !wrong_case.contains(&c)),
                    "{id}"
                );
            }
        }
        assert_eq!(p.apply(&t[0], 0, 0, AT)["event"]["id"], "abcdf0");
        // The built-in check holds a hex id to hex.
        assert_eq!(
            compare(&json!({"id": "abcdef"}), &json!({"id": "abcdeg"})).len(),
            1
        );
        assert!(compare(&json!({"id": "abcdef"}), &json!({"id": "abcdf0"})).is_empty());
        // Fewer than six letters and no digit: a word-like code, varied as letters; with no
        // room above `ZZ`, a free value of its width (#230) rather than a wider `BAA`.
        let t = [json!({"event": {"id": "CASE-ZZ"}})];
        assert_eq!(plan(&t, 1).apply(&t[0], 0, 0, AT)["event"]["id"], "CASE-AA");
    }

    proptest::proptest! {
        /// An id with neither an ASCII letter nor a digit (`.`, `-`, `__`, `""`, `日本`) was
        /// never varied: every copy carried one idempotency key. Each fixture's copies are
        /// strings that start with its text and end in digits, unique across every identity
        /// field and fixture, and the built-in check accepts them, alone or inside a payload
        /// string.
        #[test]
        fn an_id_without_letters_or_digits_varies_by_a_digit_after_it(
            ids in proptest::collection::vec("[-._~ /:#日本]{0,4}", 1..5),
            with_digit_ids in proptest::bool::ANY,
            count in 1u64..300,
        ) {
            let t: Vec<Value> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    // A fixture event id that a copy of `-` could count into: `-1`.
                    let ev = if with_digit_ids { format!("{id}{}", i + 1) } else { format!("evt-{i}") };
                    json!({"event": {"id": ev}, "interaction": {"id": id}})
                })
                .collect();
            assert_all_ids_unique_or_shared(&t, count);
            let p = plan(&t, count);
            for g in 0..count {
                let ti = (g % t.len() as u64) as usize;
                let e = p.apply(&t[ti], ti, g, AT);
                let (fixture, id) = (ids[ti].as_str(), e["interaction"]["id"].as_str().unwrap());
                let tail = id.strip_prefix(fixture).unwrap_or_else(|| panic!("{id} for {fixture:?}"));
                proptest::prop_assert!(!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()), "{} for {:?}", id, fixture);
                proptest::prop_assert!(compare(&t[ti], &e).is_empty(), "{:?}", compare(&t[ti], &e));
                let key = |v: &Value| json!({"caseNumber": format!("CASE-{}_ended", v["interaction"]["id"].as_str().unwrap())});
                proptest::prop_assert!(compare(&key(&t[ti]), &key(&e)).is_empty(), "{:?}", compare(&key(&t[ti]), &key(&e)));
            }
        }
    }

    /// Every id of the copies of `t` is unique, except where two fixtures share one value
    /// (one interaction): those share one generated value in a copy, and it is still no other's.
    fn assert_all_ids_unique_or_shared(t: &[Value], count: u64) {
        let p = plan(t, count);
        let n = t.len() as u64;
        let mut seen: std::collections::BTreeMap<String, (u64, Value)> = Default::default();
        for v in t {
            for path in IDENTITY {
                let x = get(v, &split(path)).unwrap();
                seen.insert(x.as_str().unwrap().to_string(), (u64::MAX, x.clone()));
            }
        }
        for g in 0..count {
            let ti = (g % n) as usize;
            let e = p.apply(&t[ti], ti, g, AT);
            for path in IDENTITY {
                let fixture = get(&t[ti], &split(path)).unwrap().clone();
                let id = get(&e, &split(path)).unwrap().as_str().unwrap().to_string();
                // One copy (`g / n`) of one fixture value: the same generated value.
                if let Some((copy, was)) = seen.insert(id.clone(), (g / n, fixture.clone())) {
                    assert!(
                        copy == g / n && was == fixture,
                        "{id} repeats ({path} of {fixture} in copy {}; {was} in copy {copy})",
                        g / n
                    );
                }
            }
        }
    }

    #[test]
    fn a_form_too_small_is_widened_in_its_last_run() {
        let t = [json!({"event": {"id": "ev-7"}})];
        let p = plan(&t, 50);
        // A run written without a leading zero is a number: it grows a digit (tester #220).
        assert_eq!(p.apply(&t[0], 0, 0, AT)["event"]["id"], "ev-10");
        assert_eq!(p.apply(&t[0], 0, 49, AT)["event"]["id"], "ev-59");
        // A zero-padded run keeps its padding when it widens.
        let t = [json!({"event": {"id": "ev-07"}})];
        let p = plan(&t, 500);
        assert_eq!(p.apply(&t[0], 0, 0, AT)["event"]["id"], "ev-008");
        assert_eq!(p.apply(&t[0], 0, 499, AT)["event"]["id"], "ev-507");
    }

    #[test]
    fn a_fixed_length_id_varies_more_of_its_digits_rather_than_grow() {
        // Tester #222: a ULID varied only its last digit, widened to `…B2C005` (28 characters),
        // which a schema for ULIDs refused.
        let ulid = "evt_01HQ3ZK8Y5V6W7X8Y9Z0A1B2C3";
        let t = [json!({"event": {"id": ulid}})];
        let gen = generate(&t, 600, &Identity::default());
        let mut seen: Vec<&str> = gen
            .iter()
            .map(|e| e["event"]["id"].as_str().unwrap())
            .collect();
        for id in &seen {
            assert_eq!(id.len(), ulid.len(), "{id}");
            for (a, b) in id.chars().zip(ulid.chars()) {
                assert!(
                    a.is_ascii_digit() == b.is_ascii_digit() && (a.is_ascii_digit() || a == b),
                    "{id} is not of {ulid}'s form"
                );
            }
        }
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "ids repeat");
    }

    #[test]
    fn ids_near_the_top_of_their_width_take_a_free_stretch_rather_than_grow() {
        // Tester #230: `ZD-000123` and `ZD-999950` left 49 six-digit values above the second;
        // every copy of both became `ZD-0999951`…, which a schema for six digits refused.
        for (ids, count) in [
            (vec!["ZD-000123", "ZD-999950"], 600u64),
            (vec!["ZD-999998", "ZD-000000", "ZD-500000"], 3000),
            (vec!["999", "100"], 600),
        ] {
            let t: Vec<Value> = ids
                .iter()
                .map(|id| json!({"interaction": {"id": id}}))
                .collect();
            let gen = generate(&t, count, &Identity::default());
            let mut seen: Vec<&str> = gen
                .iter()
                .map(|e| e["interaction"]["id"].as_str().unwrap())
                .collect();
            for id in &seen {
                assert_eq!(id.len(), ids[0].len(), "{id} grew ({ids:?})");
                for (a, b) in id.chars().zip(ids[0].chars()) {
                    assert!(
                        a.is_ascii_digit() == b.is_ascii_digit() && (a.is_ascii_digit() || a == b),
                        "{id} is not of {}'s form",
                        ids[0]
                    );
                }
                assert!(!ids.contains(id), "{id} is a fixture's id");
            }
            let n = seen.len();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), n, "ids repeat ({ids:?})");
        }
    }

    #[test]
    fn a_number_written_as_text_counts_on_without_a_leading_zero() {
        // Tester #220: ticket numbers "7" and "9" came out as "010", "011", …, which a schema
        // asking for `^[1-9][0-9]*$` (Zendesk's, Freshdesk's ids) rejects.
        for (ids, count) in [
            (vec!["7", "9"], 600u64),
            (vec!["0"], 30),
            (vec!["42"], 5000),
        ] {
            let t: Vec<Value> = ids
                .iter()
                .map(|id| json!({"interaction": {"id": id}}))
                .collect();
            let gen = generate(&t, count, &Identity::default());
            let mut seen: Vec<&str> = gen
                .iter()
                .map(|e| e["interaction"]["id"].as_str().unwrap())
                .collect();
            for id in &seen {
                let plain = id.len() == 1 || !id.starts_with('0');
                assert!(
                    plain && id.bytes().all(|b| b.is_ascii_digit()),
                    "{ids:?}: {id}"
                );
            }
            let n = seen.len();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), n, "{ids:?}: ids repeat");
        }
        // A digit run after a fixed digit (the end of a long id) is not the start of a number.
        let long = "1234567890123456789012345678901234567";
        let t = [json!({"interaction": {"id": long}})];
        let gen = generate(&t, 3, &Identity::default());
        assert!(gen
            .iter()
            .all(|e| e["interaction"]["id"].as_str().unwrap().len() == long.len()));
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
        // Arrival 10:00:00.400Z: every time moves by the offset rounded to the coarsest
        // precision (occurredAt's seconds), so no interval changes.
        let e = p.apply(&t[0], 0, 0, AT + 400);
        assert_eq!(e["event"]["occurredAt"], "2025-03-01T11:00:00+01:00");
        assert_eq!(
            e["interaction"]["startedAt"],
            "2025-03-01T10:41:00.250+01:00"
        );
        assert_eq!(e["interaction"]["endedAt"], "2025-03-01 10:59:30.500+0100");
    }

    /// Finding 1 (s10): a field that repeats a varied id, whole or as a token of a longer string
    /// (a URL, a path), carries the copy's id; a number equal to a numeric id likewise.
    #[test]
    fn fields_that_repeat_a_varied_id_carry_the_copys_id() {
        let t = [json!({
            "event": {"id": "evt-0001", "occurredAt": "2025-03-01T10:00:00Z"},
            "interaction": {"id": "CALL-123", "startedAt": "2025-03-01T09:55:00Z"},
            "survey": {"callRef": "CALL-123", "eventRef": "evt-0001"},
            "links": {"self": "/calls/CALL-123", "rec": "call/CALL-123/recording",
                      "both": "CALL-123:evt-0001", "list": ["x", "https://h/CALL-123?e=evt-0001"]},
            "notMine": "CALL-1234", "inside": "XCALL-123", "prefix": "CALL-123x"
        })];
        let evs = generate(&t, 5, &Identity::default());
        let mut seen = std::collections::BTreeSet::new();
        for e in &evs {
            let (c, v) = (
                e["interaction"]["id"].as_str().unwrap(),
                e["event"]["id"].as_str().unwrap(),
            );
            assert_ne!(c, "CALL-123");
            assert!(seen.insert(c.to_string()));
            assert_eq!(e["survey"]["callRef"], c, "{e}");
            assert_eq!(e["survey"]["eventRef"], v, "{e}");
            assert_eq!(e["links"]["self"], format!("/calls/{c}"));
            assert_eq!(e["links"]["rec"], format!("call/{c}/recording"));
            assert_eq!(e["links"]["both"], format!("{c}:{v}"));
            assert_eq!(
                e["links"]["list"],
                json!(["x", format!("https://h/{c}?e={v}")])
            );
            // Not at a token boundary: another value that merely contains the id's text.
            assert_eq!(e["notMine"], "CALL-1234");
            assert_eq!(e["inside"], "XCALL-123");
            assert_eq!(e["prefix"], "CALL-123x");
            // The built-in check's promise: the fixture's form.
            assert!(compare(&t[0], e).is_empty(), "{:?}", compare(&t[0], e));
        }
    }

    #[test]
    fn a_number_equal_to_a_numeric_id_follows_it_and_short_or_common_values_do_not() {
        let t = [json!({
            "event": {"id": 1},
            "interaction": {"id": 4711, "startedAt": "2025-03-01T09:55:00Z"},
            "ticket": {"callNumber": 4711, "callText": "4711", "url": "/t/4711", "priority": 1,
                       "count": "1"},
            "conversation": {"id": "true"},
            "flag": "true"
        })];
        let identity = Identity {
            fields: vec!["conversation.id".into()],
            fallback: vec![],
            ..Default::default()
        };
        let evs = generate(&t, 3, &identity);
        for e in &evs {
            let c = e["interaction"]["id"].as_i64().unwrap();
            assert_ne!(c, 4711);
            assert_eq!(e["ticket"]["callNumber"], c, "{e}");
            assert_eq!(e["ticket"]["callText"], c.to_string(), "{e}");
            assert_eq!(e["ticket"]["url"], format!("/t/{c}"), "{e}");
            // `event.id` 1 and `conversation.id` "true" vary but are too short or common to link.
            assert_ne!(e["event"]["id"], 1);
            assert_eq!(e["ticket"]["priority"], 1);
            assert_eq!(e["ticket"]["count"], "1");
            assert_eq!(e["flag"], "true");
        }
        assert!(!linkable("true") && !linkable("1") && !linkable("abc") && !linkable("CASE-ZZ"));
        assert!(
            linkable("4711") && linkable("CALL-123") && linkable("abcdefab") && !linkable("----")
        );
    }

    /// In place on a copy that earlier calls varied (the feed's path), the links come out as
    /// `apply`'s on the template: a differential check over many copies.
    #[test]
    fn links_in_place_equal_links_on_a_fresh_copy() {
        let t = [
            json!({"event": {"id": "E-0001"}, "interaction": {"id": "INT-00417"},
                   "survey": {"callRef": "INT-00417", "url": "/c/INT-00417/s/E-0001"}}),
            json!({"event": {"id": "E-0002"}, "survey": {"interactionId": "INT-00417", "u": "/c/INT-00417"}}),
        ];
        let identity = Identity {
            fields: vec!["survey.interactionId".into()],
            fallback: vec![],
            ..Default::default()
        };
        let p = Plan::new(&t, 40, &identity).unwrap();
        let mut copies = t.to_vec();
        for g in 0..40u64 {
            let ti = (g % 2) as usize;
            p.apply_in_place(&mut copies[ti], ti, g, AT);
            assert_eq!(copies[ti], p.apply(&t[ti], ti, g, AT));
        }
        // One interaction in both templates of a copy: the second's `u` names the first's id.
        let (a, b) = (p.apply(&t[0], 0, 6, AT), p.apply(&t[1], 1, 7, AT));
        assert_eq!(
            b["survey"]["u"],
            format!("/c/{}", a["interaction"]["id"].as_str().unwrap())
        );
        assert_eq!(a["survey"]["callRef"], a["interaction"]["id"]);
    }

    /// A fixture that names another fixture's varied id in a field of its own (a survey's
    /// `callRef`, not an identity field) names that fixture's copy in every copy.
    #[test]
    fn a_field_naming_another_fixtures_id_names_its_copy() {
        let t = [
            json!({"event": {"id": "E-0001"}, "interaction": {"id": "CALL-48213"}}),
            json!({"event": {"id": "E-0002"}, "survey": {"callRef": "CALL-48213"},
                   "links": {"self": "/calls/CALL-48213/survey", "event": "urn:E-0001"}}),
        ];
        let evs = generate(&t, 10, &Identity::default());
        for pair in evs.chunks(2) {
            let (call, survey) = (&pair[0], &pair[1]);
            let c = call["interaction"]["id"].as_str().unwrap();
            assert_ne!(c, "CALL-48213");
            assert_eq!(survey["survey"]["callRef"], c, "{survey}");
            assert_eq!(survey["links"]["self"], format!("/calls/{c}/survey"));
            assert_eq!(
                survey["links"]["event"],
                format!("urn:{}", call["event"]["id"].as_str().unwrap())
            );
        }
    }

    /// Finding 2 (s10): the generator never makes a span of its own: every time of an
    /// interaction's copy moves by one offset, so `endedAt − startedAt`, a duration field beside
    /// them and the order of the two stay the fixture's in every copy, whatever the arrival.
    #[test]
    fn spans_and_durations_stay_the_fixtures_in_every_copy() {
        let t = [
            json!({"event": {"id": "e-1", "occurredAt": "2025-03-01T10:00:05Z"},
                   "interaction": {"id": "c-0001", "startedAt": "2025-03-01T09:58:30.250Z",
                                   "endedAt": "2025-03-01T10:00:00.750Z", "durationSeconds": 90}}),
            json!({"event": {"id": "e-2", "occurredAt": 1740823500},
                   "interaction": {"id": "c-0001", "endedAt": "2025-03-01T10:00:00.750Z"}}),
        ];
        let ms = |v: &Value| parse_time(v).unwrap().0.timestamp_millis();
        let p = plan(&t, 200);
        for g in 0..200u64 {
            let ti = (g % 2) as usize;
            let start = AT + (g as i64) * 7_919_003 - 500_000_000;
            let e = p.apply(&t[ti], ti, g, start);
            let i = &e["interaction"];
            if ti == 0 {
                assert_eq!(ms(&i["endedAt"]) - ms(&i["startedAt"]), 90_500, "{e}");
                assert_eq!(i["durationSeconds"], 90);
                assert_eq!(ms(&e["event"]["occurredAt"]) - ms(&i["endedAt"]), 4_250);
            } else {
                // Epoch seconds beside ISO milliseconds: 10:05:00 − 10:00:00.750.
                assert_eq!(
                    ms(&e["event"]["occurredAt"]) - ms(&i["endedAt"]),
                    299_250,
                    "{e}"
                );
            }
        }
    }

    /// #151: a fixture whose times have mixed precisions and offsets (milliseconds with `+02:00`
    /// beside whole seconds in `Z`, microseconds, `-00:00`, `+05`) keeps every interval.
    #[test]
    fn mixed_precisions_keep_every_duration() {
        let t = [json!({
            "event": {"occurredAt": "2026-03-01T08:05:00.000001-00:00"},
            "interaction": {"startedAt": "2026-03-01T10:00:00.123+02:00", "endedAt": "2026-03-01T13:05:00+05"}
        })];
        let p = plan(&t, 1);
        let e = p.apply(&t[0], 0, 0, AT + 12_345);
        let ms = |v: &Value| parse_time(v).unwrap().0.timestamp_nanos_opt().unwrap();
        let (s, n) = (&e["interaction"]["startedAt"], &e["interaction"]["endedAt"]);
        assert_eq!(ms(n) - ms(s), 299_877_000_000, "{e}");
        assert_eq!(ms(&e["event"]["occurredAt"]) - ms(n), 1_000, "{e}");
        assert_eq!(e["interaction"]["endedAt"], "2025-03-01T15:00:12+05");
        assert_eq!(e["event"]["occurredAt"], "2025-03-01T10:00:12.000001-00:00");
        assert_eq!(s, "2025-03-01T11:55:12.123+02:00");
    }

    /// A time field that does not parse cannot move with the others: none of the event's
    /// times moves, so the intervals stay the fixture's.
    #[test]
    fn an_unreadable_time_keeps_all_the_events_times() {
        let t = [json!({
            "event": {"id": "e1", "occurredAt": "2026-03-01T08:05:00Z"},
            "interaction": {"startedAt": "2026-03-01T08:00Z", "endedAt": null}
        })];
        let e = plan(&t, 1).apply(&t[0], 0, 0, AT);
        assert_eq!(e["event"]["occurredAt"], t[0]["event"]["occurredAt"]);
        assert_eq!(e["interaction"], t[0]["interaction"]);
        assert_ne!(e["event"]["id"], t[0]["event"]["id"]);
    }

    /// One time field's value in a random format, at `at_ns` (its precision's multiple).
    fn written(at_ns: i64, format: u8, frac: u8, zone: u8, off_min: i32) -> Value {
        let utc = DateTime::<Utc>::from_timestamp_nanos(at_ns);
        match format {
            0 => Value::from(at_ns / 1_000_000),
            1 => Value::String((at_ns / 1_000_000).to_string()),
            2 => Value::from(at_ns / 1_000_000_000),
            3 => Value::String((at_ns / 1_000_000_000).to_string()),
            4 => Value::from(at_ns as f64 / 1e9),
            _ => {
                let off = match zone {
                    0 | 1 => 0,
                    4 => off_min / 60 * 3600,
                    _ => off_min * 60,
                };
                let t = utc.with_timezone(&FixedOffset::east_opt(off).unwrap());
                let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
                if frac > 0 {
                    let ns = format!("{:09}", t.timestamp_subsec_nanos());
                    s.push('.');
                    s.push_str(&ns[..usize::from(frac)]);
                }
                let (sign, a) = (if off < 0 { '-' } else { '+' }, off.abs());
                s.push_str(&match zone {
                    0 => "Z".to_string(),
                    1 => "-00:00".to_string(),
                    2 => format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60),
                    3 => format!("{sign}{:02}{:02}", a / 3600, a % 3600 / 60),
                    4 => format!("{sign}{:02}", a / 3600),
                    _ => String::new(),
                });
                Value::String(s)
            }
        }
    }

    /// The precision of a random format in ns, as [`written`] writes it.
    fn precision_ns(format: u8, frac: u8) -> i64 {
        match format {
            0 | 1 => 1_000_000,
            2 | 3 => 1_000_000_000,
            4 => 1_000_000,
            _ => 10i64.pow(9 - u32::from(frac)),
        }
    }

    proptest::proptest! {
        /// #151: whatever the precisions, formats and offsets of a fixture's three time fields,
        /// a generated event keeps each field's format, every interval between them exactly,
        /// and occurs at its arrival to the coarsest precision.
        #[test]
        fn generated_times_keep_their_formats_and_intervals(
            base in 1_500_000_000_000i64..1_900_000_000_000,
            fields in proptest::collection::vec(
                (0i64..100_000_000_000_000, 0u8..=6, 0u8..=9, 0u8..=5, -720i32..=840),
                3,
            ),
            arrival in 1_600_000_000_000i64..1_800_000_000_000,
        ) {
            let mut values = Vec::new();
            for &(later_ns, format, frac, zone, off) in &fields {
                let unit = precision_ns(format, frac);
                let mut at = base * 1_000_000 + later_ns / unit * unit;
                if format == 4 && at % 1_000_000_000 == 0 {
                    at += 1_000_000; // an epoch float has a fraction
                }
                values.push(written(at, format, frac, zone, off));
            }
            let t = [json!({
                "event": {"occurredAt": values[0]},
                "interaction": {"startedAt": values[1], "endedAt": values[2]}
            })];
            let paths = [("event", "occurredAt"), ("interaction", "startedAt"), ("interaction", "endedAt")];
            let e = plan(&t, 1).apply(&t[0], 0, 0, arrival);
            let read = |v: &Value| parse_time(v).map(|(t, f)| (t.timestamp_nanos_opt().unwrap(), f));
            let fixture: Vec<_> = paths.iter().map(|(a, b)| read(&t[0][a][b]).unwrap()).collect();
            let generated: Vec<_> = paths.iter().map(|(a, b)| read(&e[a][b])).collect();
            let mut coarsest = 1;
            for (i, (f, g)) in fixture.iter().zip(&generated).enumerate() {
                let g = g.as_ref().unwrap_or_else(|| panic!("{} unreadable: {e}", paths[i].1));
                proptest::prop_assert_eq!(f.1, g.1, "format of {} in {}", paths[i].1, e);
                coarsest = coarsest.max(f.1.unit());
                for (f2, g2) in fixture.iter().zip(&generated) {
                    let g2 = g2.as_ref().unwrap();
                    proptest::prop_assert_eq!(g.0 - g2.0, f.0 - f2.0, "interval in {} from {}", e, t[0]);
                }
            }
            // The anchor (occurredAt) lands on the arrival, to the coarsest precision (and a
            // few of its steps when an epoch float would land on a whole second), at or before
            // it to the millisecond: an event never occurs after the hub sends it (#234).
            let at_ms = generated[0].as_ref().unwrap().0.div_euclid(1_000_000);
            proptest::prop_assert!(at_ms <= arrival, "{} ms after the arrival: {e}", at_ms - arrival);
            let off = arrival - at_ms;
            proptest::prop_assert!(off <= 4 * coarsest, "{off} ms off with unit {coarsest}: {e}");
        }
    }

    proptest::proptest! {
        /// #174, #182, #183: fixture sets of several interactions, each of several events, with
        /// shared values under different names (`survey.interactionId` = `interaction.id`), a
        /// shared `startedAt`, and every event time in its own format, precision and offset.
        /// In every copy: equal fixture values (any field, identity or time) are one generated
        /// value and unequal ones stay apart; every interval between any two time fields of an
        /// interaction (one event or two) is the fixtures'; the interaction's events arrive in
        /// the order of their event times with the fixtures' spacing ([`Plan::offset`]), from
        /// its first fixture's slot ([`Plan::slot`]); and each event keeps its fixture's shape.
        #[test]
        fn copies_of_an_interaction_keep_its_shared_values_order_and_spacing(
            interactions in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (0i64..400_000_000_000, 0u8..=6, 0u8..=9, 0u8..=5, -720i32..=840, proptest::bool::ANY),
                        1..4,
                    ),
                    0u8..3,
                ),
                1..4,
            ),
            base in 1_500_000_000_000i64..1_900_000_000_000,
            start in 1_600_000_000_000i64..1_800_000_000_000,
            shuffle in 0usize..24,
        ) {
            // One interaction's fixtures share its id (a number, a GUID or a counter string)
            // and its startedAt; a "survey" names the interaction by another field.
            let mut t: Vec<Value> = Vec::new();
            let mut of: Vec<usize> = Vec::new();
            for (i, (events, form)) in interactions.iter().enumerate() {
                let iid = match form {
                    0 => json!(9_000_000_001i64 + i as i64 * 7),
                    1 => json!(format!("3f2504e0-4f89-11d3-9a0c-0305e82c33{i:02}")),
                    _ => json!(format!("INT-{:05}", 417 + i)),
                };
                let started = written(base * 1_000_000 + i as i64 * 1_000_000_000, 5, 1, 2, 330);
                for (j, &(later_ns, format, frac, zone, off, survey)) in events.iter().enumerate() {
                    let unit = precision_ns(format, frac);
                    let mut at = base * 1_000_000 + later_ns / unit * unit;
                    if format == 4 && at % 1_000_000_000 == 0 {
                        at += 1_000_000;
                    }
                    let occurred = written(at, format, frac, zone, off);
                    let ev = json!({"id": format!("evt-{:04}", t.len() + 1), "type": "x", "occurredAt": occurred});
                    t.push(if survey && j > 0 {
                        json!({"event": ev, "survey": {"interactionId": iid, "score": 5}})
                    } else {
                        json!({"event": ev, "interaction": {"id": iid, "startedAt": started}})
                    });
                    of.push(i);
                }
            }
            // The file order says nothing: rotate it.
            let r = shuffle % t.len();
            t.rotate_left(r);
            of.rotate_left(r);
            let identity = Identity { fields: vec!["survey.interactionId".to_string()], fallback: vec![], ..Default::default() };
            let n = t.len();
            let copies = 3u64;
            let p = Plan::new(&t, copies * n as u64, &identity).unwrap();
            // The slot of each template's interaction, as the feed times it: slot k at
            // `start + k` seconds.
            let slot_at = |s: u64| start + s as i64 * 1000;
            let leaves = |v: &Value| -> Vec<(String, Value)> {
                ["event.id", "event.occurredAt", "interaction.id", "interaction.startedAt", "survey.interactionId"]
                    .iter()
                    .filter_map(|path| get(v, &split(path)).map(|x| (path.to_string(), x.clone())))
                    .collect()
            };
            let read = |v: &Value| parse_time(v).map(|(t, _)| t.timestamp_nanos_opt().unwrap());
            let mut all_ids: Vec<String> = Vec::new();
            for c in 0..copies {
                let gen: Vec<Value> = (0..n)
                    .map(|ti| {
                        let g = c * n as u64 + ti as u64;
                        let s = p.slot(ti, g);
                        proptest::prop_assert_eq!(s, c * n as u64 + p.first_of(ti) as u64);
                        proptest::prop_assert_eq!(of[p.first_of(ti)], of[ti], "a slot of another interaction");
                        Ok(p.apply(&t[ti], ti, g, slot_at(s)))
                    })
                    .collect::<Result<_, _>>()?;
                for a in 0..n {
                    proptest::prop_assert!(compare(&t[a], &gen[a]).is_empty(), "{:?}", compare(&t[a], &gen[a]));
                    for b in 0..n {
                        for (pa, va) in leaves(&t[a]) {
                            for (pb, vb) in leaves(&t[b]) {
                                let (ga, gb) = (get(&gen[a], &split(&pa)).unwrap(), get(&gen[b], &split(&pb)).unwrap());
                                let time = pa.ends_with("At") && pb.ends_with("At");
                                if time && of[a] == of[b] {
                                    // One interaction: every interval between its times is the fixtures'.
                                    let (fa, fb) = (read(&va).unwrap(), read(&vb).unwrap());
                                    let (xa, xb) = (read(ga).unwrap(), read(gb).unwrap());
                                    proptest::prop_assert_eq!(xa - xb, fa - fb, "{} of {} − {} of {}: {} {}", pa, a, pb, b, gen[a], gen[b]);
                                } else if !time {
                                    // Identity: equal in the fixtures ⇔ equal in the copy.
                                    proptest::prop_assert_eq!(va == vb, ga == gb, "{} of {} vs {} of {}: {} / {}", pa, a, pb, b, gen[a], gen[b]);
                                }
                            }
                        }
                    }
                    // Its arrival offset is its event time after its interaction's earliest.
                    let own = |v: &Value| read(&v["event"]["occurredAt"]).unwrap() / 1_000_000;
                    let earliest = (0..n).filter(|&b| of[b] == of[a]).map(|b| own(&t[b])).min().unwrap();
                    proptest::prop_assert_eq!(p.offset(a) as i64, own(&t[a]) - earliest);
                    // And the copy's event occurs at its arrival, to the interaction's coarsest
                    // precision (a few steps more for an epoch float off a whole second).
                    let arrival = slot_at(p.slot(a, c * n as u64 + a as u64)) + p.offset(a) as i64;
                    let off = (own(&gen[a]) - arrival).abs();
                    proptest::prop_assert!(off <= 4 * 1000, "{} ms off: {}", off, gen[a]);
                    all_ids.push(gen[a]["event"]["id"].to_string());
                }
            }
            let k = all_ids.len();
            all_ids.sort_unstable();
            all_ids.dedup();
            proptest::prop_assert_eq!(all_ids.len(), k, "event ids repeat across copies");
        }
    }

    proptest::proptest! {
        /// Every time field shifts by the event's one offset (a copy's `occurredAt` days after
        /// its `startedAtMs` was the tester's finding): ISO 8601 date-times wherever they are,
        /// epoch numbers and digit strings under time names, each in its own unit and format;
        /// nothing else changes.
        #[test]
        fn every_time_field_shifts_by_the_events_one_offset(
            base in 1_500_000_000_000i64..1_900_000_000_000,
            later in proptest::collection::vec((0i64..50_000_000_000, 0u8..=6, 0u8..=9, 0u8..=5, -720i32..=840), 8),
            arrival in 1_600_000_000_000i64..1_800_000_000_000,
        ) {
            let w = |i: usize| {
                let (l, format, frac, zone, off) = later[i];
                let unit = precision_ns(format, frac);
                let mut at = (base * 1_000_000 + l * 1_000_000) / unit * unit;
                if format == 4 && at % 1_000_000_000 == 0 {
                    at += 1_000_000;
                }
                written(at, format, frac, zone, off)
            };
            // Whole seconds, in an ISO offset of their own.
            let iso = |i: usize| {
                let (l, _, _, zone, off) = later[i];
                written((base + l) / 1000 * 1_000_000_000, 5, 0, zone, off)
            };
            let t = [json!({
                "event": {"id": "e-1", "occurredAt": w(0)},
                "interaction": {
                    "id": 41,
                    "startedAtMs": base + later[1].0,
                    "answered_at": ((base + later[2].0) / 1000).to_string(),
                    "wrapUp": {"endTime": w(3), "code": "WU-12"},
                    "timestamps": {"created": w(4)},
                    "transcript": [{"at": iso(5), "text": "hi"}, {"at": iso(6), "text": "bye"}],
                    "durationMs": base,
                    "uptime": base / 1000,
                    "day": "2025-03-01",
                    "count": 1_700_000_000_000i64,
                    "note": w(7),
                }
            })];
            let times = [
                "/event/occurredAt", "/interaction/startedAtMs", "/interaction/answered_at",
                "/interaction/wrapUp/endTime", "/interaction/timestamps/created",
                "/interaction/transcript/0/at", "/interaction/transcript/1/at",
            ];
            let e = plan(&t, 1).apply(&t[0], 0, 0, arrival);
            let read = |v: &Value, p: &str| parse_time(v.pointer(p).unwrap()).map(|(at, f)| (at.timestamp_nanos_opt().unwrap(), f));
            let mut delta = None;
            let note = t[0].pointer("/interaction/note").unwrap();
            let times: Vec<&str> = times.iter().copied().chain(parse_iso(note.as_str().unwrap_or("")).map(|_| "/interaction/note")).collect();
            for p in &times {
                let (f, g) = (read(&t[0], p), read(&e, p));
                let (f, g) = (f.unwrap_or_else(|| panic!("{p} of {}", t[0])), g.unwrap_or_else(|| panic!("{p} of {e}")));
                proptest::prop_assert_eq!(f.1, g.1, "format of {} in {}", p, e);
                let d = g.0 - f.0;
                proptest::prop_assert_eq!(*delta.get_or_insert(d), d, "{} of {} from {}", p, e, t[0]);
            }
            proptest::prop_assert!(delta.unwrap() != 0, "{}", e);
            for p in ["/interaction/durationMs", "/interaction/uptime", "/interaction/day", "/interaction/count", "/interaction/wrapUp/code", "/interaction/transcript/0/text"] {
                proptest::prop_assert_eq!(e.pointer(p), t[0].pointer(p), "{}", p);
            }
            if !times.contains(&"/interaction/note") {
                proptest::prop_assert_eq!(e.pointer("/interaction/note"), Some(note));
            }
        }
    }

    #[test]
    fn time_names_are_words_not_letters() {
        for n in [
            "at",
            "startedAt",
            "startedAtMs",
            "answeredAt",
            "endTime",
            "created_at",
            "created_at_ms",
            "end-time",
            "lastTimestamp",
            "timestamp",
            "createdTs",
            "closeDate",
            "createdEpoch",
            "TIME",
            "updatedAtSeconds",
            "when",
        ] {
            assert!(is_time_name(n, None), "{n}");
        }
        for n in [
            "format",
            "uptime",
            "duration",
            "durationMs",
            "chat",
            "seat",
            "stat",
            "Ms",
            "runtime",
            "flat",
            "id",
            "count",
            "data",
        ] {
            assert!(!is_time_name(n, None), "{n}");
        }
        assert!(is_time_name("created", Some("timestamps")));
        assert!(!is_time_name("created", Some("interaction")));
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

    #[test]
    fn an_id_counts_in_hex_only_where_the_fixture_writes_hex() {
        // Tester #247: a prefix of hex letters made a decimal id hex (`DE-000042` →
        // `DE-0000A3`). (fixture, its hex class, the first copy's id, the 1000th copy's.)
        use Class::{HexLower as L, HexUpper as U};
        let table: [(&str, Option<Class>, &str, &str); 32] = [
            // A word, then a number: decimal, letters and width kept.
            ("DE-000042", None, "DE-000043", "DE-001042"),
            ("de-000042", None, "de-000043", "de-001042"),
            (
                "ABC-2025-000042",
                None,
                "ABC-2025-000043",
                "ABC-2025-001042",
            ),
            ("ABC000042", None, "ABC000043", "ABC001042"),
            ("BE-2025-0042", None, "BE-2025-0043", "BE-2025-1042"),
            ("DEADBEEF-0042", None, "DEADBEEF-0043", "DEADBEEF-1042"),
            ("CASE-000042", None, "CASE-000043", "CASE-001042"),
            ("INC0010042", None, "INC0010043", "INC0011042"),
            // Too few digits for 1000 copies: the number grows as numbers do.
            ("FACE42", None, "FACE1000", "FACE1999"),
            // Letters before the digits of each run; several runs: the last one counts (two
            // digits hold too few: the number grows).
            ("ab12-cd34", None, "ab12-cd1000", "ab12-cd1999"),
            (
                "evt-2025-07-0042",
                None,
                "evt-2025-07-0043",
                "evt-2025-07-1042",
            ),
            // Mixed case is no hex (more digits of its token vary, so its length stays); a
            // short token is a number and a word.
            ("aB12cD34", None, "aB12cD35", "aB22cD34"),
            ("12ab", None, "1000ab", "1999ab"),
            // Digits only: decimal.
            ("0042", None, "0043", "1042"),
            ("12345678", None, "12345679", "12346678"),
            // Hex where the fixture writes it: a letter after a digit of its run, a UUID of
            // either case (digits only or not), six hex letters and no digit.
            ("5f3a9c0e", Some(L), "5f3a9c0f", "5f3a9ff6"),
            ("5F3A9C0E", Some(U), "5F3A9C0F", "5F3A9FF6"),
            ("A1B2C3D4", Some(U), "A1B2C3D5", "A1B2C7BC"),
            ("a1b2-0042", Some(L), "a1b2-0043", "a1b2-042a"),
            (
                "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b",
                Some(L),
                "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6c",
                "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5e53",
            ),
            (
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5A6B",
                Some(U),
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5A6C",
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5E53",
            ),
            (
                "12345678-1234-1234-1234-123456789012",
                Some(L),
                "12345678-1234-1234-1234-123456789013",
                "12345678-1234-1234-1234-1234567893fa",
            ),
            ("abcdef", Some(L), "abcdf0", "abd1d7"),
            ("ABCDEF", Some(U), "ABCDF0", "ABD1D7"),
            // A hex token of its own (tester #253): six or more hex characters with a letter
            // after a digit, between punctuation; it counts in hex keeping width and case, the
            // rest stays.
            (
                "IN20250301-c0ffee",
                Some(L),
                "IN20250301-c0ffef",
                "IN20250301-c103d6",
            ),
            (
                "IN20250301-c0f3e9",
                Some(L),
                "IN20250301-c0f3ea",
                "IN20250301-c0f7d1",
            ),
            (
                "US20250301-0f3a9c",
                Some(L),
                "US20250301-0f3a9d",
                "US20250301-0f3e84",
            ),
            (
                "CX-US20250301-0F3A9C",
                Some(U),
                "CX-US20250301-0F3A9D",
                "CX-US20250301-0F3E84",
            ),
            ("build-a1b2c3d", Some(L), "build-a1b2c3e", "build-a1b3025"),
            ("a1b2c3d-v2", Some(L), "a1b2c3e-v2", "a1b3025-v2"),
            // Not hex tokens: letters only before the digits, too short, mixed case.
            ("X-c0ffe", None, "X-c1000ffe", "X-c1999ffe"),
            ("X-c0FfEe", None, "X-c1000FfEe", "X-c1999FfEe"),
        ];
        let copies = 1000u64;
        for (fixture, hex, first, last) in table {
            assert_eq!(hex_class(fixture), hex, "{fixture}");
            let t = [json!({"interaction": {"id": fixture}})];
            let p = plan(&t, copies);
            let id = |g: u64| p.apply(&t[0], 0, g, AT)["interaction"]["id"].clone();
            assert_eq!(id(0), first, "{fixture}: the first copy");
            assert_eq!(id(copies - 1), last, "{fixture}: the last copy");
            // Every copy keeps the form (the check's rule), and the check says so.
            for g in 0..copies {
                let v = id(g);
                assert!(keeps_form(fixture, v.as_str().unwrap()), "{fixture} -> {v}");
            }
            assert_eq!(p.forms(&t, &|_| copies), vec![], "{fixture}");
        }
        // The check's rule, strictly: a decimal run takes no letter, a hex id stays hex of
        // its case with its punctuation in place, a run may widen but not shrink.
        for (a, b, kept) in [
            ("DE-000042", "DE-0000A3", false),
            ("ABC-2025-000042", "ABC-2025-00004A", false),
            ("DE-000042", "DE-1000042", true),
            ("DE-000042", "DE-00042", false),
            ("DE-000042", "de-000043", false),
            ("5f3a9c0e", "5f3a9c0f", true),
            ("5f3a9c0e", "5F3A9C0F", false),
            ("5f3a9c0e", "5f3a9c0g", false),
            ("5f3a9c0e", "5f3a9c0", false),
            ("5f3a9c0e", "15f3a9c0e", true),
            ("5f3a9c0e", "5f3a-9c0e", false),
            (
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5A6B",
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5E53",
                true,
            ),
            (
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5A6B",
                "3F2A9C1E-7B4D-4E8F-9A0B-1C2D3E4F5e53",
                false,
            ),
            ("IN20250301-c0ffee", "IN20250301-c0fff0", true),
            ("IN20250301-c0ffee", "IN20250301-c0ffeg", false),
            ("IN20250301-c0ffee", "IN20250301-c0ffe", false),
            ("IN20250301-c0ffee", "IN20250301-C0FFF0", false),
            ("IN20250301-c0ffee", "IN20250302-c0ffee", true),
            ("IN20250301-c0ffee", "IN2025030A-c0ffee", false),
            ("-", "-12", true),
            ("-", "-", false),
            ("CASE-ZZ", "CASE-BAA", true),
        ] {
            assert_eq!(keeps_form(a, b), kept, "{a} -> {b}");
        }
    }

    #[test]
    fn the_check_judges_every_copys_value_not_only_the_first() {
        // Tester #247: with `DE-000042` counted in hex, the first 7 copies (`DE-000043` …
        // `DE-000049`) kept the form and the check, which read only the first, passed. Give
        // the plan that hex form again: the check finds the copy that leaves the form.
        let t = [json!({"interaction": {"id": "DE-000042"}})];
        let mut p = plan(&t, 400);
        p.shapes[0] = Shape(
            "DE-000042"
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        Class::HexUpper
                    } else {
                        Class::Fixed(c)
                    }
                })
                .collect(),
        );
        let from = p.shapes[0].value("DE-000043").unwrap();
        for f in &mut p.ids {
            for gen in f.per_template.iter_mut().flatten() {
                if let IdGen::Str { start, .. } = gen {
                    *start = from;
                }
            }
        }
        let first = p.apply(&t[0], 0, 0, AT);
        assert_eq!(first["interaction"]["id"], "DE-000043");
        let found = p.forms(&t, &|_| 400);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].1.contains("`interaction.id` DE-00004A"),
            "{found:?}"
        );
        // Only as many copies as keep to decimal: nothing to find.
        assert_eq!(p.forms(&t, &|_| 7), vec![]);
    }

    #[test]
    fn a_copys_times_are_floored_never_after_its_arrival() {
        // Tester #234: an arrival at 00:04:03.500 wrote epoch seconds 1735689844 (00:04:04),
        // after the hub's first attempt. Every precision floors to the arrival.
        let arrival = 1_735_689_843_500; // 2025-01-01T00:04:03.500Z
        for (fixture, copy) in [
            (json!(1_735_689_600), json!(1_735_689_843)),
            (json!("1735689600"), json!("1735689843")),
            (json!(1_735_689_600_000i64), json!(1_735_689_843_500i64)),
            (json!("2025-01-01T00:00:00Z"), json!("2025-01-01T00:04:03Z")),
            (json!("2025-01-01 00:00:00"), json!("2025-01-01 00:04:03")),
            (
                json!("2025-01-01T00:00:00.0Z"),
                json!("2025-01-01T00:04:03.5Z"),
            ),
            (
                json!("2025-01-01T05:30:00+05:30"),
                json!("2025-01-01T05:34:03+05:30"),
            ),
            (
                json!("2025-01-01T00:00:00.999+00:00"),
                json!("2025-01-01T00:04:03.500+00:00"),
            ),
        ] {
            let t = [json!({"event": {"id": "e-1", "occurredAt": fixture}})];
            let e = plan(&t, 1).apply(&t[0], 0, 0, arrival);
            assert_eq!(e["event"]["occurredAt"], copy, "{fixture}");
        }
        // An arrival 1 ms before a whole second: seconds stay in the second before.
        let t = [json!({"event": {"id": "e-1", "occurredAt": 1_735_689_600}})];
        let e = plan(&t, 1).apply(&t[0], 0, 0, 1_735_689_843_999);
        assert_eq!(e["event"]["occurredAt"], 1_735_689_843);
        // Epoch seconds with a fraction step down off a whole second, not up.
        let t = [json!({"event": {"id": "e-1", "occurredAt": 1_735_689_600.5}})];
        let e = plan(&t, 1).apply(&t[0], 0, 0, 1_735_689_844_000);
        assert_eq!(e["event"]["occurredAt"], 1_735_689_843.999);
    }

    #[test]
    fn a_guid_or_sid_or_an_id_shaped_value_is_identity_and_a_reference_is_unsure() {
        // Tester #250: by name.
        for own in [
            "guid",
            "Guid",
            "callGuid",
            "call_guid",
            "CallSid",
            "sid",
            "call_sid",
            "GUID",
        ] {
            assert!(is_id_name(own), "{own}");
        }
        for not in [
            "skill",
            "queue",
            "status",
            "Guid2",
            "bookingRef",
            "phoneNumber",
            "side",
        ] {
            assert!(!is_id_name(not), "{not}");
        }
        for party in [
            "call.WorkerSid",
            "call.AccountSid",
            "agent.guid",
            "call.TaskQueueSid",
        ] {
            assert!(is_party_path(party), "{party}");
        }
        assert!(!is_party_path("call.CallSid"));
        // By value.
        for v in [
            "0b6e8f0e-3c59-4b7e-9d2a-6f1d2c3b4a50",
            "0B6E8F0E-3C59-4B7E-9D2A-6F1D2C3B4A50",
            "CA1f3e5d7c9b1a3f5e7d9c1b3a5f7e9d1c",
            "65a1f0c2b3d4e5f601234567",
        ] {
            assert!(is_id_value(&json!(v)), "{v}");
        }
        for v in [
            json!("BK-204411"),
            json!("completed"),
            json!(42),
            json!("Billing"),
        ] {
            assert!(!is_id_value(&v), "{v}");
        }
        // The spec's identity: a UUID-valued field with another name varies, a reference
        // with distinct id-like values is unsure, a status or a routed field is neither.
        let fixtures = [
            json!({"call": {"ref": "0b6e8f0e-3c59-4b7e-9d2a-6f1d2c3b4a50", "booking": "BK-204411", "status": "done", "skill": "SK-100001"}}),
            json!({"call": {"ref": "1c7f9f1f-4d6a-4c8f-8e3b-7a2e3d4c5b61", "booking": "BK-771902", "status": "open", "skill": "SK-200002"}}),
        ];
        let id = Identity::of_key_values(
            ["call.ref", "call.booking", "call.status", "call.skill"].map(String::from),
            |v| v == "call.skill",
            |v| fixtures.iter().filter_map(|f| get(f, &split(v))).collect(),
        );
        assert_eq!(id.fields, vec!["call.ref".to_string()]);
        assert_eq!(id.unsure, vec!["call.booking".to_string()]);
        assert!(id.fallback.is_empty());
        // One UUID shared by every fixture is a constant, not an identity.
        let same = [fixtures[0].clone(), fixtures[0].clone()];
        let id = Identity::of_key_values(
            ["call.ref".to_string()],
            |_| false,
            |v| same.iter().filter_map(|f| get(f, &split(v))).collect(),
        );
        assert!(id.fields.is_empty());
    }

    #[test]
    fn a_routed_field_is_never_linked_into() {
        // Tester #258: `skill` repeats `interaction.id`'s digits at a token boundary.
        let t = [json!({"interaction": {"id": 1001, "skill": "SK-1001", "note": "SK-1001"}})];
        let routed = Identity {
            routed: vec!["interaction.skill".to_string()],
            ..Default::default()
        };
        let p = Plan::new(&t, 3, &routed).unwrap();
        for g in 0..3 {
            let e = p.apply(&t[0], 0, g, AT);
            assert_eq!(e["interaction"]["skill"], "SK-1001");
            assert_eq!(
                e["interaction"]["note"],
                format!("SK-{}", e["interaction"]["id"]),
                "an unrouted field is still linked"
            );
            assert_ne!(e["interaction"]["id"], 1001);
        }
    }
}
