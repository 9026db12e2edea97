//! The events of a run: the fixtures once, then generated events spread along the scenario's
//! rate curve ([`Feed`]), and [`Traffic`], which hands each arrival to the machine: the rules it
//! matches, the transform's payload and the idempotency key, one submission per match.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::delivery::drive::{Arrivals, Observer};
use crate::delivery::{self, Machine, Submission, Template, Time};
use crate::sim::inputs::Inputs;
use crate::sim::scenario::{CurvePoint, Scenario};

/// Arrival times spread in proportion to a piecewise-linear rate curve.
struct Curve {
    total: u64,
    duration: Time,
    /// Cumulative mass at each slice boundary (slices of equal length).
    cdf: Vec<f64>,
}

const SLICES: usize = 4096;

impl Curve {
    fn new(total: u64, duration: Time, curve: &[CurvePoint]) -> Self {
        let mut pts: Vec<(f64, f64)> = curve
            .iter()
            .map(|p| (p.at.ms() as f64, p.weight.max(0.0)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let weight = |t: f64| -> f64 {
            match pts.len() {
                0 => 1.0,
                _ => {
                    if t <= pts[0].0 {
                        return pts[0].1;
                    }
                    for w in pts.windows(2) {
                        if t <= w[1].0 {
                            let span = (w[1].0 - w[0].0).max(1e-9);
                            return w[0].1 + (w[1].1 - w[0].1) * (t - w[0].0) / span;
                        }
                    }
                    pts[pts.len() - 1].1
                }
            }
        };
        let d = duration as f64;
        let mut cdf = Vec::with_capacity(SLICES + 1);
        cdf.push(0.0);
        let mut acc = 0.0;
        for i in 0..SLICES {
            let mid = (i as f64 + 0.5) * d / SLICES as f64;
            acc += weight(mid);
            cdf.push(acc);
        }
        if acc <= 0.0 {
            // A curve of zeros: fall back to flat.
            for (i, c) in cdf.iter_mut().enumerate() {
                *c = i as f64;
            }
        }
        Curve {
            total,
            duration,
            cdf,
        }
    }

    /// The time of arrival `k`.
    fn time_of(&self, k: u64) -> Time {
        let total_mass = *self.cdf.last().expect("non-empty");
        let target = (k as f64 + 0.5) / self.total as f64 * total_mass;
        let i = self.cdf.partition_point(|c| *c < target).clamp(1, SLICES);
        let (lo, hi) = (self.cdf[i - 1], self.cdf[i]);
        let frac = if hi > lo {
            (target - lo) / (hi - lo)
        } else {
            0.0
        };
        let slice = self.duration as f64 / SLICES as f64;
        (((i - 1) as f64 + frac) * slice).floor() as Time
    }
}

/// A generated event: a fixture template with fresh identity and timestamps.
fn generate(templates: &[Value], k: u64, at: Time, epoch: SystemTime, sc: &Scenario) -> Value {
    let mut ev = templates[(k as usize) % templates.len()].clone();
    let wall = delivery::rfc3339(epoch, at);
    let ended = epoch
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
        + at;
    set(&mut ev, "event.id", Value::from(format!("sim-{k:07}")));
    set(&mut ev, "event.occurredAt", Value::from(wall));
    set(&mut ev, "interaction.id", Value::from(700_000_000 + k));
    set(&mut ev, "interaction.endedAt", Value::from(ended));
    set(
        &mut ev,
        "interaction.startedAt",
        Value::from(ended - 60_000 - (k * 7_919) % 900_000),
    );
    if let Some(n) = sc.events.without_agent_every {
        if (k + 1) % n == 0 {
            if let Some(o) = ev.as_object_mut() {
                o.remove("agent");
            }
            if let Some(i) = ev.get_mut("interaction").and_then(Value::as_object_mut) {
                i.remove("agent");
            }
        }
    }
    if let Some(o) = &sc.events.oversize {
        if (k + 1) % o.every == 0 {
            set(
                &mut ev,
                &o.path,
                Value::from("x".repeat(o.bytes.min(64 * 1024 * 1024) as usize)),
            );
        }
    }
    ev
}

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

/// The events of a run in arrival order: each fixture once at the start (1 ms apart), then the
/// generated events spread along the scenario's rate curve. Shared by the virtual-time engine and
/// the HTTP driver so both see the same events at the same virtual instants.
pub struct Feed<'a> {
    fixtures: Vec<&'a Value>,
    templates: Vec<Value>,
    curve: Curve,
    total: u64,
    next: u64,
    epoch: SystemTime,
    sc: &'a Scenario,
}

impl<'a> Feed<'a> {
    /// The feed of `sc` (`events` overrides the scenario's count).
    pub fn new(
        inputs: &'a Inputs,
        sc: &'a Scenario,
        events: Option<u64>,
        epoch: SystemTime,
    ) -> Self {
        let generated = events.unwrap_or(sc.events.count);
        let fixtures: Vec<&Value> = if sc.events.fixtures {
            inputs.fixtures.iter().map(|(_, v)| v).collect()
        } else {
            Vec::new()
        };
        let templates: Vec<Value> = if inputs.fixtures.is_empty() {
            vec![builtin_template()]
        } else {
            inputs.fixtures.iter().map(|(_, v)| v.clone()).collect()
        };
        let total = generated + fixtures.len() as u64;
        Feed {
            curve: Curve::new(generated.max(1), sc.duration.ms(), &sc.events.curve),
            fixtures,
            templates,
            total,
            next: 0,
            epoch,
            sc,
        }
    }

    /// Events in the run.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Events handed out so far.
    pub fn arrived(&self) -> u64 {
        self.next
    }

    /// The scheduled arrival time of event `k`.
    pub fn time_of(&self, k: u64) -> Time {
        if (k as usize) < self.fixtures.len() {
            k
        } else {
            self.curve.time_of(k - self.fixtures.len() as u64)
        }
    }

    /// The scheduled time of the next arrival, if any remain.
    pub fn next_at(&self) -> Option<Time> {
        (self.next < self.total).then(|| self.time_of(self.next))
    }

    /// The next event, stamped as arriving at `now`.
    pub fn pop(&mut self, now: Time) -> (u64, Value) {
        let k = self.next;
        self.next += 1;
        let n = self.fixtures.len() as u64;
        let event = if k < n {
            self.fixtures[k as usize].clone()
        } else {
            generate(&self.templates, k - n, now, self.epoch, self.sc)
        };
        (k, event)
    }
}

/// The arrivals of a run as the machine sees them: each event of the [`Feed`] is matched against
/// the rules, and every match is submitted with its payload and key, numbered densely in
/// submission order (the ledger and the CRM model correlate by that number).
pub struct Traffic<'a> {
    feed: Feed<'a>,
    inputs: &'a Inputs,
    template: Template,
    epoch: SystemTime,
    /// Progress is reported every this many arrivals (and at the last).
    progress_every: u64,
    submitted: u64,
}

impl<'a> Traffic<'a> {
    /// The traffic of `feed` for rules `inputs`; `template` renders idempotency keys.
    pub fn new(
        feed: Feed<'a>,
        inputs: &'a Inputs,
        template: Template,
        epoch: SystemTime,
        progress_every: u64,
    ) -> Self {
        Traffic {
            feed,
            inputs,
            template,
            epoch,
            progress_every,
            submitted: 0,
        }
    }

    /// Events in the run.
    pub fn total(&self) -> u64 {
        self.feed.total()
    }

    /// The events, in arrival order.
    pub fn feed(&self) -> &Feed<'a> {
        &self.feed
    }
}

impl<R: rand_core::Rng> Arrivals<R> for Traffic<'_> {
    fn next_at(&self) -> Option<Time> {
        self.feed.next_at()
    }

    fn arrive(&mut self, now: Time, machine: &mut Machine<R>, obs: &mut dyn Observer) {
        let (k, event) = self.feed.pop(now);
        let (done, total) = (self.feed.arrived(), self.feed.total());
        if done % self.progress_every == 0 || done == total {
            obs.arrived(done, total);
        }
        let when: DateTime<Utc> = (self.epoch + Duration::from_millis(now)).into();
        let event_id = event
            .pointer("/event/id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{k}"), str::to_string);
        let event_type = event
            .pointer("/event/type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let matching: Vec<usize> = self
            .inputs
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&event))
            .map(|(i, _)| i)
            .collect();
        for ri in matching {
            let rule = &self.inputs.rules[ri];
            let seq = self.submitted;
            self.submitted += 1;
            let key = self.template.render(&event).ok();
            obs.submitted(seq, &event_id, key.as_deref());
            let payload = match rule.transform.eval(&event, when) {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err("the transform produced no output (undefined)".to_string()),
                Err(e) => Err(e.to_string()),
            };
            machine.handle_submit(
                now,
                Submission {
                    seq,
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    rule_id: rule.id.clone(),
                    event: event.clone(),
                    payload,
                    idempotency_key: key,
                },
            );
        }
    }
}
