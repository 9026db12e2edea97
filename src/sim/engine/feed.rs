//! The events of a run: the fixtures once, then generated events spread along the scenario's
//! rate curve ([`Feed`]), and [`Traffic`], which hands each arrival to the machine: the rules it
//! matches, the transform's payload and the idempotency key, one submission per match.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::curve::Curve;
use super::vary::{self, Plan};
use super::EngineError;
use crate::delivery::drive::{Arrivals, Observer};
use crate::delivery::{Machine, Submission, SubmissionId, Template, Time};
use crate::sim::crm::{hash128, CrmModel};
use crate::sim::inputs::Inputs;
use crate::sim::scenario::Scenario;
use crate::transform::limits::past_wall_clock_guard;
use crate::transform::transformed::{transformed, Transformed};
use crate::transform::Limits;

/// Which arrivals the scenario's `events.oversize` inflates: generated event `g` (arrival
/// `fixtures + g`) when `(g + 1) % every == 0`. The verdict files those events' dead letters like
/// any other's: the field keeps its type, so their refusals are the spec's (#223).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// Fixtures sent before the generated events.
    pub fixtures: u64,
    pub every: u64,
}

impl Oversized {
    /// Whether arrival `origin` is inflated.
    pub fn covers(&self, origin: u64) -> bool {
        origin
            .checked_sub(self.fixtures)
            .is_some_and(|g| self.every > 0 && (g + 1) % self.every == 0)
    }
}

/// Most elements `events.oversize` adds to a list: each is a JSON value in memory as well as
/// bytes on the wire, so a list of one-character strings grown by 64 MiB would hold gigabytes.
pub const MAX_OVERSIZE_ELEMENTS: u64 = 1_000_000;

/// What `events.oversize` grows one template's field from, in the field's own JSON type: a
/// string is followed by `bytes` characters `x`; a list by copies of its elements, in order and
/// again, until the copies add at least `bytes` bytes of JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grow {
    /// The event's own value (a string or a non-empty list).
    Own,
    /// That template's value, where this template lacks the field: the first fixture's that
    /// holds it as a string or a non-empty list.
    From(usize),
    /// Nothing: no fixture holds the field, which is added as a string of `bytes` characters.
    Empty,
}

/// What the oversize path holds in `v`: `Ok(None)` when the path ends early (a missing field,
/// or `null`), `Err` naming the prefix that is not an object.
fn at_path<'v>(v: &'v Value, segs: &[&str]) -> Result<Option<&'v Value>, (String, &'static str)> {
    let mut cur = v;
    for (i, s) in segs.iter().enumerate() {
        match cur {
            Value::Object(o) => match o.get(*s) {
                Some(Value::Null) | None => return Ok(None),
                Some(next) => cur = next,
            },
            other => return Err((segs[..i].join("."), json_kind(other))),
        }
    }
    Ok(Some(cur))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// How each template's field is grown by `o`, for the templates an inflated event copies
/// (`None` for the others); an error names the path, the fixture and why it cannot be grown
/// in its own type.
fn growth(
    templates: &[Value],
    names: &[String],
    hit: &[bool],
    o: &crate::sim::scenario::Oversize,
) -> Result<Vec<Option<Grow>>, EngineError> {
    let segs: Vec<&str> = o.path.split('.').collect();
    let refuse = |t: usize, why: String| {
        EngineError::Config(format!(
            "events.oversize.path `{}` in fixture {}: {why}; oversize grows a string (padding it) or a list (more of its elements)",
            o.path, names[t]
        ))
    };
    let mut held: Vec<Option<&Value>> = Vec::with_capacity(templates.len());
    for (t, tpl) in templates.iter().enumerate() {
        match at_path(tpl, &segs) {
            Ok(v) => held.push(v),
            Err((prefix, kind)) if hit[t] => {
                return Err(refuse(
                    t,
                    format!("`{prefix}` is {kind}, not an object that could hold the field"),
                ))
            }
            Err(_) => held.push(None),
        }
    }
    // Where a template lacks the field: the first fixture's that holds it as a string or a
    // list (real events carry what some fixtures leave out, in the form the others show).
    let donor = held.iter().enumerate().find_map(|(d, v)| {
        v.filter(|v| v.is_string() || v.as_array().is_some_and(|a| !a.is_empty()))
            .map(|v| (d, v))
    });
    let mut out = vec![None; templates.len()];
    for t in (0..templates.len()).filter(|&t| hit[t]) {
        let (grow, v) = match (held[t], donor) {
            (Some(v), _) => (Grow::Own, v),
            (None, Some((d, v))) => (Grow::From(d), v),
            (None, None) => {
                out[t] = Some(Grow::Empty);
                continue;
            }
        };
        match v {
            Value::String(_) => {}
            Value::Array(a) if a.is_empty() => {
                return Err(refuse(
                    t,
                    "an empty list, with no element to add more of".to_string(),
                ))
            }
            Value::Array(a) => {
                let text: u64 = a.iter().map(|e| json_len(e) + 1).sum();
                let needed = o.bytes.div_ceil(text.max(1)) * a.len() as u64;
                if needed > MAX_OVERSIZE_ELEMENTS {
                    return Err(refuse(
                        t,
                        format!(
                            "a list of {} element(s), {text} bytes in all, which {} bytes would grow by {needed} elements (at most {MAX_OVERSIZE_ELEMENTS}); lower `bytes` or name a list of larger elements",
                            a.len(),
                            o.bytes
                        ),
                    ));
                }
            }
            other => {
                return Err(refuse(
                    t,
                    format!("{} cannot be oversized in its own type", json_kind(other)),
                ))
            }
        }
        out[t] = Some(grow);
    }
    Ok(out)
}

/// The length of `v` as compact JSON.
fn json_len(v: &Value) -> u64 {
    serde_json::to_vec(v).map_or(0, |b| b.len() as u64)
}

/// Sets `path` to `new`, making the objects on the way where the fixture lacks them (checked
/// by [`growth`]: every value on the way is an object or missing).
fn set(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, s) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let obj = cur.as_object_mut().expect("just made an object");
        if i == segs.len() - 1 {
            obj.insert((*s).to_string(), new);
            return;
        }
        cur = obj
            .entry((*s).to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

/// `base` grown by `bytes` in its own type ([`Grow`]).
fn grown(base: Option<&Value>, bytes: u64) -> Value {
    let bytes = bytes.min(64 * 1024 * 1024) as usize;
    match base {
        Some(Value::Array(a)) if !a.is_empty() => {
            let lens: Vec<usize> = a.iter().map(|e| json_len(e) as usize + 1).collect();
            let mut out = a.clone();
            let mut added = 0usize;
            for (e, len) in a.iter().zip(&lens).cycle() {
                if added >= bytes {
                    break;
                }
                added += len;
                out.push(e.clone());
            }
            Value::Array(out)
        }
        Some(Value::String(s)) => {
            let mut out = String::with_capacity(s.len() + bytes);
            out.push_str(s);
            out.extend(std::iter::repeat_n('x', bytes));
            Value::String(out)
        }
        _ => Value::String("x".repeat(bytes)),
    }
}

/// What tells the events of a run apart ([`vary::Identity`]): `event.id`, `interaction.id`, the
/// idempotency key's id fields of the event's own call or conversation
/// (`conversation.conversationId`, `call.id`), and, in a fixture with neither standard id, the
/// key's id fields of a party (`contact.contactId`; not `event.type`, not a field rules route
/// on). Nothing else varies, so a key read from fields many real events share (a queue name, a
/// customer's id) collides in the simulation as it would in production.
///
/// It is the spec's ([`vary::Identity::of_spec`], the key's paths and the upsert field's
/// inputs), computed once with the inputs; `_key` is the spec's own template.
pub fn identity(_key: &Template, inputs: &Inputs) -> vary::Identity {
    inputs.identity.clone()
}

/// Why keys collide when the key template reads no field that tells events apart (`None` when
/// it reads one): generated events keep the fixtures' values of its fields, as real events that
/// share them do.
pub fn key_hint(key: &Template, inputs: &Inputs) -> Option<String> {
    let vars: Vec<String> = key.vars().collect();
    let id = identity(key, inputs);
    if vars
        .iter()
        .any(|v| vary::IDENTITY.contains(&v.as_str()) || id.fields.contains(v))
    {
        return None;
    }
    let fields = if vars.is_empty() {
        "no field at all".to_string()
    } else {
        vars.iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let party = if id.fallback.is_empty() {
        String::new()
    } else {
        format!(
            " ({} names a party many events share, which identifies an event only when it has no `event.id` or `interaction.id`)",
            id.fallback
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let unsure: Vec<String> = id
        .unsure
        .iter()
        .filter(|u| vars.contains(u))
        .map(|u| format!("`{u}`"))
        .collect();
    if !unsure.is_empty() {
        // Tester #250: not named or written as an id, but maybe unique in production.
        return Some(format!(
            "the key reads {fields}; cxsync cannot tell whether {} is unique per event (not named as an id, fixture values not written as one), so generated events keep the fixtures' values there: these records are lost only if production events share them too; if they do not, add `${{event.id}}` to the key (lint: CX016)",
            unsure.join(", ")
        ));
    }
    Some(format!(
        "the key reads {fields} and no field that identifies an event (`event.id`, `interaction.id`, or the call's or conversation's own id){party}: generated events keep the fixtures' values there, as real events that share them do; use `${{event.id}}` or `${{interaction.id}}_${{event.type}}` (lint: CX016)"
    ))
}

/// The template used when a spec has no fixtures: the envelope of the guide's events.
fn builtin_template() -> Value {
    serde_json::json!({
        "event": {"id": "evt-0000", "type": "interaction.ended", "occurredAt": "2024-01-15T13:58:12Z"},
        "interaction": {
            "id": 0, "startedAt": 1705326702000u64, "endedAt": 1705327092400u64,
            "channel": {"type": "voice"},
            "customer": {"contactId": 55012},
            "agent": {"id": "agent-17", "email": "agent@example.com"},
            "queue": {"name": "Billing"},
            "disposition": {"code": "RESOLVED"},
            "wrapUp": {"code": "WU-12"},
            "analytics": {"sentiment": {"score": 0.5}}
        },
        "agent": {"id": "agent-17"}
    })
}

/// The events of a run: each fixture once at the start, then the generated events spread along
/// the scenario's rate curve. Shared by the virtual-time engine and the HTTP driver so both see
/// the same events at the same virtual instants. Generated event `g` copies fixture `g mod n`
/// with its identity and times varied in the fixture's own form ([`vary`]); the fixtures of one
/// interaction ([`Plan::slot`]) arrive, in every copy, in the order of their event times and
/// with their spacing, from the instant the curve gives the copy's first fixture. The fixtures
/// themselves arrive likewise: an interaction's first fixture (in file order) at its index in
/// ms, the others after it by their fixtures' spacing. Event `k` is a pure function of `k`
/// ([`Feed::event`]), so nothing holds an event after its submission: a DLQ record makes it
/// again; [`Schedule`] hands the events out in arrival order.
pub struct Feed<'a> {
    fixtures: Vec<&'a Value>,
    templates: Vec<Value>,
    /// The file name of each template (`builtin` for the built-in one).
    names: Vec<String>,
    plan: Plan,
    curve: Curve,
    generated: u64,
    total: u64,
    /// The run's epoch, in ms since the Unix epoch.
    epoch_ms: i64,
    sc: &'a Scenario,
    /// The arrivals `events.oversize` inflates, and how each template's field grows.
    oversized: Option<Oversized>,
    growth: Vec<Option<Grow>>,
}

impl<'a> Feed<'a> {
    /// The feed of `sc` (`events` overrides the scenario's count); `key` is the idempotency
    /// template, whose fields generated events vary when it names no id.
    pub fn new(
        inputs: &'a Inputs,
        sc: &'a Scenario,
        events: Option<u64>,
        epoch: SystemTime,
        key: &Template,
    ) -> Result<Self, EngineError> {
        let generated = events.unwrap_or(sc.events.count);
        let fixtures: Vec<&Value> = if sc.events.fixtures {
            inputs.fixtures.iter().map(|(_, v)| v).collect()
        } else {
            Vec::new()
        };
        let (templates, names): (Vec<Value>, Vec<String>) = if inputs.fixtures.is_empty() {
            (vec![builtin_template()], vec!["builtin".to_string()])
        } else {
            inputs
                .fixtures
                .iter()
                .map(|(n, v)| (v.clone(), n.clone()))
                .unzip()
        };
        let plan = Plan::new(&templates, generated, &identity(key, inputs))
            .map_err(|e| EngineError::Config(format!("generating events: {e}")))?;
        let epoch_ms = epoch
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let total = generated + fixtures.len() as u64;
        let oversized = sc.events.oversize.as_ref().map(|o| Oversized {
            fixtures: fixtures.len() as u64,
            every: o.every,
        });
        let growth = match &sc.events.oversize {
            None => vec![None; templates.len()],
            Some(o) => {
                // The templates an inflated event copies: generated event `k × every − 1`
                // copies template `(k × every − 1) mod n`, which repeats within n steps.
                let n = templates.len() as u64;
                let mut hit = vec![false; templates.len()];
                for k in 1..=(generated / o.every.max(1)).min(n) {
                    hit[((k * o.every - 1) % n) as usize] = true;
                }
                growth(&templates, &names, &hit, o)?
            }
        };
        Ok(Feed {
            oversized,
            growth,
            curve: Curve::new(generated.max(1), sc.duration.ms(), &sc.events.curve),
            fixtures,
            templates,
            names,
            plan,
            generated,
            total,
            epoch_ms,
            sc,
        })
    }

    /// Events in the run.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The scheduled arrival time of event `k`: for a fixture, its interaction's first
    /// fixture's index (in ms) plus its offset in the interaction ([`Plan::offset`]); for
    /// generated event `g`, the curve's instant of its copy's slot ([`Plan::slot`]) plus that
    /// offset.
    pub fn time_of(&self, k: u64) -> Time {
        let n = self.fixtures.len() as u64;
        if k < n {
            let t = k as usize;
            (self.plan.first_of(t) as u64).saturating_add(self.plan.offset(t))
        } else {
            let g = k - n;
            let t = self.template_of(g);
            self.start_of(g).saturating_add(self.plan.offset(t))
        }
    }

    /// The instant copy `g / n` of generated event `g`'s interaction starts at.
    fn start_of(&self, g: u64) -> Time {
        self.curve.time_of(self.plan.slot(self.template_of(g), g))
    }

    /// The events of the run in arrival order ([`Feed::time_of`], ties in event order).
    pub fn schedule(&self) -> Schedule {
        let n = self.fixtures.len() as u64;
        let mut heap = BinaryHeap::with_capacity(self.fixtures.len() + self.templates.len());
        for k in 0..n {
            heap.push(Reverse((self.time_of(k), k)));
        }
        // Each template's copies arrive in copy order: one entry per template is enough.
        for g in 0..(self.templates.len() as u64).min(self.generated) {
            heap.push(Reverse((self.time_of(n + g), n + g)));
        }
        Schedule { heap }
    }

    /// The next event of `s` and its arrival time, taken from it.
    pub fn take(&self, s: &mut Schedule) -> Option<(Time, u64)> {
        let Reverse((at, k)) = s.heap.pop()?;
        let n = self.fixtures.len() as u64;
        if k >= n {
            let next = k + self.templates.len() as u64;
            if next - n < self.generated {
                s.heap.push(Reverse((self.time_of(next), next)));
            }
        }
        Some((at, k))
    }

    /// Event `k`: a fixture as it is, or a generated event. The same `k` gives the same event,
    /// which is how a dead letter's original event is found again.
    pub fn event(&self, k: u64) -> Value {
        let n = self.fixtures.len() as u64;
        if k < n {
            self.fixtures[k as usize].clone()
        } else {
            self.generate(k - n)
        }
    }

    /// [`Feed::event`] without a deep copy where it can: a fixture is lent as it is, and a
    /// generated event the scenario does not change is made in `scratch` (a working copy of each
    /// template, [`Feed::scratch`]) by writing only its varied fields. A 436 KB transcript then
    /// costs nothing per event. Equal to `event(k)`.
    pub fn event_in<'s>(&'s self, k: u64, scratch: &'s mut [Value]) -> Cow<'s, Value> {
        let n = self.fixtures.len() as u64;
        if k < n {
            return Cow::Borrowed(self.fixtures[k as usize]);
        }
        let g = k - n;
        if self.changed(g) {
            return Cow::Owned(self.generate(g));
        }
        let t = self.template_of(g);
        let start = self.epoch_ms + self.start_of(g) as i64;
        let ev = &mut scratch[t];
        self.plan.apply_in_place(ev, t, g, start);
        Cow::Borrowed(ev)
    }

    /// The working copies [`Feed::event_in`] varies, one per template.
    pub fn scratch(&self) -> Vec<Value> {
        self.templates.clone()
    }

    /// Whether the scenario changes generated event `g` (drops its agent, inflates it).
    fn changed(&self, g: u64) -> bool {
        let ev = &self.sc.events;
        let every = |n: Option<u64>| n.is_some_and(|n| (g + 1) % n == 0);
        every(ev.without_agent_every) || self.inflates(g)
    }

    /// Whether the scenario's `events.oversize` inflates generated event `g`.
    fn inflates(&self, g: u64) -> bool {
        self.oversized
            .is_some_and(|o| o.covers(g + self.fixtures.len() as u64))
    }

    /// The arrivals the scenario's `events.oversize` inflates (`None`: it inflates none).
    pub fn oversized(&self) -> Option<Oversized> {
        self.oversized
    }

    /// The template of generated event `g`.
    fn template_of(&self, g: u64) -> usize {
        (g % self.templates.len() as u64) as usize
    }

    /// Generated event `g` without the scenario's changes.
    fn varied(&self, g: u64) -> Value {
        let t = self.template_of(g);
        let start = self.epoch_ms + self.start_of(g) as i64;
        self.plan.apply(&self.templates[t], t, g, start)
    }

    /// Generated event `g`: its template varied, then the scenario's changes (every n-th
    /// without an agent, every n-th oversized).
    fn generate(&self, g: u64) -> Value {
        let mut ev = self.varied(g);
        let sc = self.sc;
        if let Some(n) = sc.events.without_agent_every {
            if (g + 1) % n == 0 {
                if let Some(o) = ev.as_object_mut() {
                    o.remove("agent");
                }
                if let Some(i) = ev.get_mut("interaction").and_then(Value::as_object_mut) {
                    i.remove("agent");
                }
            }
        }
        if let (Some(o), true) = (&sc.events.oversize, self.inflates(g)) {
            let segs: Vec<&str> = o.path.split('.').collect();
            let base = match self.growth[self.template_of(g)] {
                Some(Grow::Own) => at_path(&ev, &segs).ok().flatten(),
                Some(Grow::From(d)) => at_path(&self.templates[d], &segs).ok().flatten(),
                Some(Grow::Empty) | None => None,
            };
            let new = grown(base, o.bytes);
            set(&mut ev, &o.path, new);
        }
        ev
    }

    /// The built-in check of the generator: every generated value of a varied identity field
    /// keeps its fixture's form ([`Plan::forms`]), and each template's first and last generated
    /// event (without the scenario's deliberate changes), through each rule that matches the
    /// template, must give
    /// the template's own `cxsync test` output (at `now`, the spec's test instant) except in
    /// values derived from the varied fields, which keep their JSON type and form; it must be
    /// routed to the same rules, render a key when the template does, pass the CRM schema
    /// when the template's payload does, and repeat no template's id in any identity field
    /// ([`Plan::repeats`]). Returns what differs (empty: the check holds).
    pub fn check(&self, inputs: &Inputs, now: DateTime<Utc>, key: &Template) -> Vec<String> {
        let mut out = Vec::new();
        let n = self.templates.len() as u64;
        // How many copies of template `t` the run makes.
        let copies = |t: usize| {
            let t = t as u64;
            if self.generated > t {
                (self.generated - 1 - t) / n + 1
            } else {
                0
            }
        };
        for (t, d) in self.plan.forms(&self.templates, &copies) {
            out.push(format!("{}: {d}", self.names[t]));
        }
        // Each template's first copy and its last, which carries the sequence's greatest
        // (and, where a run was widened, widest) values.
        let firsts = 0..n.min(self.generated);
        let lasts = (0..n as usize)
            .filter(|&t| copies(t) > 1)
            .map(|t| (copies(t) - 1) * n + t as u64);
        for g in firsts.chain(lasts) {
            let t = self.template_of(g);
            let (fixture, name) = (&self.templates[t], &self.names[t]);
            let ev = self.varied(g);
            for r in self.plan.repeats(&self.templates, &ev) {
                out.push(format!(
                    "{name}: the generated event repeats a fixture's id: {r}"
                ));
            }
            if key.render(fixture).is_ok() && key.render(&ev).is_err() {
                out.push(format!(
                    "{name}: the generated event renders no idempotency key, the fixture does"
                ));
            }
            for rule in &inputs.rules {
                let (fm, gm) = (rule.matches(fixture), rule.matches(&ev));
                if fm != gm {
                    out.push(format!(
                        "{name}: rule {} {} the fixture but not the generated event",
                        rule.id,
                        if fm { "matches" } else { "does not match" }
                    ));
                }
                if !fm {
                    continue;
                }
                let Ok(Some(want)) = rule.transform.eval(fixture, now) else {
                    // The fixture itself fails or is undefined: `cxsync test` reports it.
                    continue;
                };
                let got = match rule.transform.eval(&ev, now) {
                    Ok(Some(v)) => v,
                    Ok(None) => {
                        out.push(format!(
                            "{name} through rule {}: the transform gives nothing for the generated event",
                            rule.id
                        ));
                        continue;
                    }
                    Err(e) => {
                        out.push(format!(
                            "{name} through rule {}: the transform fails on the generated event: {e}",
                            rule.id
                        ));
                        continue;
                    }
                };
                for d in vary::compare(&want, &got) {
                    out.push(format!("{name} through rule {}: {d}", rule.id));
                }
                if let Some(s) = inputs.schemas.for_rule(Some(&rule.id)) {
                    if s.validator.is_valid(&want) {
                        if let Some(e) = s.validator.iter_errors(&got).next() {
                            out.push(format!(
                                "{name} through rule {}: the generated payload fails {} the fixture's passes: {}: {e}",
                                rule.id,
                                s.key,
                                e.instance_path()
                            ));
                        }
                    }
                }
            }
        }
        // A template's first and last copy often differ alike: each finding once, in order.
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|d| seen.insert(d.clone()));
        out
    }

    /// The fixture names events come from, by `source` ([`Feed::source_of`]).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The source of event `k`: the fixture it is, or the template it copies.
    pub fn source_of(&self, k: u64) -> u32 {
        let n = self.fixtures.len() as u64;
        if k < n {
            k as u32
        } else {
            self.template_of(k - n) as u32
        }
    }
}

/// The events of a run still to arrive, in arrival order ([`Feed::schedule`], [`Feed::take`]):
/// every fixture, and the next copy of each template (each template's copies arrive in copy
/// order), so it holds at most fixtures + templates entries however long the run.
pub struct Schedule {
    heap: BinaryHeap<Reverse<(Time, u64)>>,
}

/// Arrival `k`'s event id and type, as reports, DLQ records (their key), outcomes and alerts name
/// them. The id is `event.id`: a string as it is, an integer as its JSON text (CXone's own ids are
/// numbers: `9007199254740990` is that event's id, whatever its position in the stream). `#k`,
/// its position, when it has none: no `event.id`, or one that is not a string or an integer (a
/// fraction, a number too large to keep every digit of, `true`, `null`, an object), since such a
/// value does not name one event exactly. docs/dlq.md (the record's `eventId`).
pub(crate) fn event_name(event: &Value, k: u64) -> (String, String) {
    // `event.get`, not `pointer("/event/id")`: a pointer unescapes each of its segments into a
    // new string before it looks it up.
    let head = event.get("event");
    let event_id = match head.and_then(|e| e.get("id")) {
        Some(Value::String(s)) => s.clone(),
        // `is_i64 || is_u64`: serde_json keeps such a number exactly and prints it as written
        // (less a leading `-0`'s sign, which no id has); anything else it holds as an f64.
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => format!("#{k}"),
    };
    let event_type = head
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (event_id, event_type)
}

/// The subject of arrival `k` as the ledger compares subjects: a hash of
/// [`vary::Identity::subject`]; an event with no identity at all is its own subject, arrival `k`.
pub(crate) fn subject_hash(identity: &vary::Identity, event: &Value, k: u64) -> u64 {
    identity
        .subject(event)
        .map_or_else(|| hash128(&format!("#{k}")), |s| hash128(&s)) as u64
}

/// The arrivals of a run as the machine sees them: each event of the [`Feed`] is matched against
/// the rules, and every match is submitted with its payload and key, numbered densely in
/// submission order (the ledger and the CRM model correlate by that number).
pub struct Traffic<'a> {
    feed: &'a Feed<'a>,
    /// The events still to arrive, in arrival order.
    schedule: Schedule,
    /// How many have arrived.
    arrived: u64,
    /// Working copies of the feed's templates ([`Feed::event_in`]).
    scratch: Vec<Value>,
    inputs: &'a Inputs,
    template: Template,
    /// What tells events apart: names each submission's subject for the ledger.
    identity: vary::Identity,
    epoch: SystemTime,
    submitted: u64,
    /// The first transform that ran into the wall-clock guard: the run stops there.
    guard_hit: Option<(String, String)>,
    /// The CRM model of a virtual-time run, told each payload as it is submitted
    /// ([`CrmModel::pre_read`]); `None` when the CRM is across a wire and reads the bytes.
    crm: Option<&'a RefCell<CrmModel>>,
    /// Each rule's id, and the event types seen, as the shared text every submission of theirs
    /// names ([`SubmissionId`]), so that a queued event holds no copy of either.
    rule_ids: Vec<Arc<str>>,
    event_types: Vec<Arc<str>>,
}

/// Event types kept to share; an event of a type beyond them holds its own copy.
const SHARED_TYPES: usize = 64;

/// The shared text of event type `t` among `types`.
fn shared_type(types: &mut Vec<Arc<str>>, t: &str) -> Arc<str> {
    if let Some(shared) = types.iter().find(|s| ***s == *t) {
        return Arc::clone(shared);
    }
    let shared: Arc<str> = Arc::from(t);
    if types.len() < SHARED_TYPES {
        types.push(Arc::clone(&shared));
    }
    shared
}

impl<'a> Traffic<'a> {
    /// The traffic of `feed` for rules `inputs`; `template` renders idempotency keys.
    pub fn new(
        feed: &'a Feed<'a>,
        inputs: &'a Inputs,
        template: Template,
        epoch: SystemTime,
    ) -> Self {
        Traffic {
            feed,
            schedule: feed.schedule(),
            arrived: 0,
            scratch: feed.scratch(),
            inputs,
            identity: identity(&template, inputs),
            template,
            epoch,
            submitted: 0,
            guard_hit: None,
            crm: None,
            rule_ids: inputs
                .rules
                .iter()
                .map(|r| Arc::from(r.id.as_str()))
                .collect(),
            event_types: Vec::new(),
        }
    }

    /// The same traffic, telling the in-process CRM model each payload as it is submitted.
    pub fn reading_ahead(self, crm: &'a RefCell<CrmModel>) -> Self {
        Traffic {
            crm: Some(crm),
            ..self
        }
    }

    /// Events in the run.
    pub fn total(&self) -> u64 {
        self.feed.total()
    }

    /// The scheduled time of the next arrival, if any remain.
    pub fn next_at(&self) -> Option<Time> {
        self.schedule.heap.peek().map(|Reverse((at, _))| *at)
    }
}

impl Traffic<'_> {
    /// A run whose transform ran into the wall-clock guard has no verdict: how long a transform
    /// takes depends on the machine, so the outcome would too, and the seed would not reproduce
    /// it. The guard is the last resort against a runaway transform; depth, sequence length and
    /// output size are the deterministic limits.
    pub fn guard_error(&self, seed: u64) -> Result<(), EngineError> {
        match &self.guard_hit {
            None => Ok(()),
            Some((rule, event)) => Err(EngineError::WallClockGuard {
                rule: rule.clone(),
                event: event.clone(),
                ms: Limits::default().time_budget_ms.unwrap_or(0),
                seed,
            }),
        }
    }
}

impl<R: rand_core::Rng> Arrivals<R> for Traffic<'_> {
    fn next_at(&self) -> Option<Time> {
        if self.guard_hit.is_some() {
            return None;
        }
        Traffic::next_at(self)
    }

    fn arrive(&mut self, now: Time, machine: &mut Machine<R>, obs: &mut dyn Observer) {
        let Some((_, k)) = self.feed.take(&mut self.schedule) else {
            return;
        };
        self.arrived += 1;
        let event = self.feed.event_in(k, &mut self.scratch);
        let source = self.feed.source_of(k);
        let (done, total) = (self.arrived, self.feed.total());
        // Every arrival, so a run whose transforms are slow still moves its bar (a report is a
        // call; the bar redraws at most 20 times a second).
        obs.arrived(done, total);
        let when: DateTime<Utc> = (self.epoch + Duration::from_millis(now)).into();
        let (event_id, event_type) = event_name(&event, k);
        let matching: Vec<usize> = self
            .inputs
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&event))
            .map(|(i, _)| i)
            .collect();
        if matching.is_empty() {
            return;
        }
        obs.matched(matching.len());
        let event_type = shared_type(&mut self.event_types, &event_type);
        // One key per event: the template is per channel.
        let key = self.template.render(&event).map_err(|e| e.to_string());
        let subject = subject_hash(&self.identity, &event, k);
        let occurred = vary::event_time(&event);
        for ri in matching {
            let rule = &self.inputs.rules[ri];
            // What `cxsync test` says of the same result (`transform::transformed`): an
            // undefined output sends nothing, and nothing is submitted or dead-lettered.
            let payload = match transformed(rule.transform.eval(&event, when)) {
                Transformed::Send(p) => Ok(p),
                Transformed::Nothing => {
                    obs.sent_nothing(ri, &rule.id);
                    continue;
                }
                Transformed::Failed(e) if past_wall_clock_guard(&e) => {
                    self.guard_hit = Some((rule.id.clone(), event_id.clone()));
                    return;
                }
                Transformed::Failed(e) => Err(e.to_string()),
            };
            let seq = self.submitted;
            self.submitted += 1;
            obs.rule(seq, ri, &rule.id);
            obs.submitted(seq, &event_id, key.as_deref().ok());
            obs.subject(seq, subject);
            obs.occurred(seq, occurred);
            if let (Some(crm), Ok(p)) = (self.crm, &payload) {
                crm.borrow_mut().pre_read(seq, &rule.id, p);
            }
            machine.handle_submit(
                now,
                Submission {
                    id: SubmissionId {
                        seq,
                        source,
                        origin: k,
                        event_id: event_id.as_str().into(),
                        event_type: Arc::clone(&event_type),
                        rule_id: Arc::clone(&self.rule_ids[ri]),
                    },
                    payload,
                    idempotency_key: key.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// #206: an oversized field keeps its JSON type: a string is the fixture's followed by
        /// `bytes` characters; a list is the fixture's elements followed by copies of them, in
        /// order, adding at least `bytes` bytes of JSON and less than one more element's worth.
        #[test]
        fn an_oversized_field_grows_in_its_own_type(
            elements in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z ]{0,40}".prop_map(Value::from),
                    (0u32..1000, "[a-z]{0,12}").prop_map(|(n, s)| json!({"n": n, "text": s})),
                    (0i64..1_000_000).prop_map(Value::from),
                ],
                1..6,
            ),
            text in "[ -~]{0,30}",
            bytes in 1u64..20_000,
        ) {
            let list = Value::Array(elements.clone());
            let g = grown(Some(&list), bytes);
            let g = g.as_array().expect("a list stays a list");
            prop_assert_eq!(&g[..elements.len()], &elements[..]);
            for (i, e) in g.iter().enumerate() {
                prop_assert_eq!(e, &elements[i % elements.len()]);
            }
            let added: u64 = g[elements.len()..].iter().map(|e| json_len(e) + 1).sum();
            let largest = elements.iter().map(|e| json_len(e) + 1).max().unwrap();
            prop_assert!(added >= bytes && added < bytes + largest, "{} for {}", added, bytes);
            let s = grown(Some(&Value::from(text.clone())), bytes);
            let s = s.as_str().expect("a string stays a string");
            prop_assert!(s.starts_with(&text) && s.len() as u64 == text.len() as u64 + bytes);
            prop_assert_eq!(grown(None, bytes), Value::from("x".repeat(bytes as usize)));
        }
    }

    #[test]
    fn the_oversized_arrivals_are_every_nth_generated_event() {
        let o = Oversized {
            fixtures: 3,
            every: 4,
        };
        let hit: Vec<u64> = (0..20).filter(|&k| o.covers(k)).collect();
        assert_eq!(hit, vec![6, 10, 14, 18]);
    }
}

#[cfg(test)]
mod event_name_tests {
    use super::event_name;
    use serde_json::{json, Value};

    fn id_of(v: &str) -> String {
        let event: Value = serde_json::from_str(v).unwrap();
        event_name(&event, 190).0
    }

    #[test]
    fn an_integer_event_id_is_its_json_text_and_anything_else_not_an_id_is_the_position() {
        // Strings as they are; integers exactly as written, up to u64 and down to i64::MIN.
        assert_eq!(id_of(r#"{"event": {"id": "evt-7"}}"#), "evt-7");
        assert_eq!(
            id_of(r#"{"event": {"id": 9007199254740990}}"#),
            "9007199254740990"
        );
        assert_eq!(
            id_of(r#"{"event": {"id": 18446744073709551615}}"#),
            "18446744073709551615"
        );
        assert_eq!(id_of(r#"{"event": {"id": -42}}"#), "-42");
        assert_eq!(id_of(r#"{"event": {"id": 0}}"#), "0");
        // Not an id: the stream position.
        for v in [
            r#"{"event": {"id": 1.5}}"#,
            r#"{"event": {"id": 1e3}}"#,
            r#"{"event": {"id": 18446744073709551616}}"#,
            r#"{"event": {"id": true}}"#,
            r#"{"event": {"id": null}}"#,
            r#"{"event": {"id": {"n": 1}}}"#,
            r#"{"event": {"id": [1]}}"#,
            r#"{"event": {}}"#,
            r#"{}"#,
        ] {
            assert_eq!(id_of(v), "#190", "{v}");
        }
        assert_eq!(event_name(&json!({"event": {"type": "t"}}), 3).1, "t");
    }
}
