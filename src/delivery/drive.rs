//! The one driver loop: what every driver of the [`Machine`] does, written once.
//!
//! A driver feeds arrivals in ([`Arrivals`]), drains `poll_transmit`/`poll_output` ([`drain`]),
//! hands answers back ([`hand_back`]) and lets an [`Observer`] see what happened: the report, the
//! ledger of settlements, the `--outcomes` and `--dlq-dir` sinks, or DLQ replay's wait for one
//! record. What differs between drivers is only where requests go ([`Transport`]) and how time
//! passes:
//!
//! - [`VirtualTime`] orders happenings by `(time, sequence)` and jumps the clock to the next one
//!   or to the machine's next timer, whichever is first, with a step bound so that a livelock
//!   fails instead of hanging. The simulator's engine answers from the CRM model at send time; the
//!   paced HTTP driver sends over the wire, marks its requests [`Sent::Pending`] and queues their
//!   answers ([`VirtualTime::answer`]) before the clock moves on, so both run the same sequence.
//! - The wall-clock driver (`http::wall`) waits on the real clock between deadlines and hands
//!   answers back as they arrive, with the same [`drain`] and [`hand_back`].
//!
//! Nothing here touches a network, a file or a clock; time is handed in.

use std::collections::{BTreeMap, HashMap};

use rand_core::Rng;

use super::{Alert, CrmRequest, Failure, Machine, Output, Response, Time, TokenResult};

/// What became of one CRM request, as the driver saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An HTTP response after `latency` ms.
    Http { latency: Time, response: Response },
    /// No response after `latency` ms: the connection reset, or (`failure`) was refused.
    Reset { latency: Time, failure: Failure },
    /// No answer at all: the machine's own timer decides.
    Silence,
}

impl Reply {
    /// Whether the machine hears of it: an answer that took the channel's timeout or longer is
    /// a timeout, whatever arrives later.
    pub fn in_time(&self, timeout: Time) -> bool {
        match self {
            Reply::Http { latency, .. } | Reply::Reset { latency, .. } => *latency < timeout,
            Reply::Silence => false,
        }
    }
}

/// Sees what a run does. Every method has a no-op default: an observer implements what it
/// counts. The report, the settlement ledger, the output sinks and DLQ replay each implement it.
pub trait Observer {
    /// The `done`-th of `total` arrivals was handed to the machine.
    fn arrived(&mut self, _done: u64, _total: u64) {}
    /// The arrival just told matched `rules` enabled rules (at least one; told before any of
    /// its deliveries, including the rules whose transform then sends nothing): one event,
    /// however many deliveries it makes.
    fn matched(&mut self, _rules: usize) {}
    /// Event `event_id` matched a rule and was submitted as `seq`, with its rendered key.
    fn submitted(&mut self, _seq: u64, _event_id: &str, _key: Option<&str>) {}
    /// Submission `seq` (told just before [`Observer::submitted`]) is the delivery of rule
    /// `rule_id`, the `index`-th enabled rule of the spec.
    fn rule(&mut self, _seq: u64, _index: usize, _rule_id: &str) {}
    /// An event matched the `index`-th enabled rule, whose transform gave no output for it: the
    /// rule sends nothing (`transform::transformed`), and nothing is submitted.
    fn sent_nothing(&mut self, _index: usize, _rule_id: &str) {}
    /// What submission `seq` is about: a hash of its event's subject (the simulator's
    /// `vary::Identity::subject`), so that an upsert by another event of the same interaction
    /// is told from an overwrite of another event's record.
    fn subject(&mut self, _seq: u64, _subject: u64) {}
    /// When submission `seq`'s event occurred by its own times (ms since the Unix epoch, the
    /// simulator's `vary::event_time`; `None`: it has no readable time), so that "older" and
    /// "newer" are the events' and not their arrival order.
    fn occurred(&mut self, _seq: u64, _at: Option<i64>) {}
    /// A token request went out at `now`.
    fn token_requested(&mut self, _now: Time) {}
    /// A DLQ alert webhook call went out.
    fn alert_sent(&mut self) {}
    /// The fate of a CRM request (attempt `attempt`, sent at `sent`) is known.
    fn answered(&mut self, _attempt: u32, _sent: Time, _reply: &Reply, _timeout: Time) {}
    /// A token request sent at `sent` came back (`None`: no answer; the machine's timer
    /// decides). Told by the wire drivers only.
    fn token_answered(&mut self, _sent: Time, _result: Option<&TokenResult>) {}
    /// An event reached a final state.
    fn settled(&mut self, _output: &Output) {}
    /// A step of the loop is over (the machine's state is settled for this instant).
    fn stepped(&mut self) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn arrived(&mut self, done: u64, total: u64) {
        (**self).arrived(done, total)
    }
    fn matched(&mut self, rules: usize) {
        (**self).matched(rules)
    }
    fn submitted(&mut self, seq: u64, event_id: &str, key: Option<&str>) {
        (**self).submitted(seq, event_id, key)
    }
    fn rule(&mut self, seq: u64, index: usize, rule_id: &str) {
        (**self).rule(seq, index, rule_id)
    }
    fn sent_nothing(&mut self, index: usize, rule_id: &str) {
        (**self).sent_nothing(index, rule_id)
    }
    fn subject(&mut self, seq: u64, subject: u64) {
        (**self).subject(seq, subject)
    }
    fn occurred(&mut self, seq: u64, at: Option<i64>) {
        (**self).occurred(seq, at)
    }
    fn token_requested(&mut self, now: Time) {
        (**self).token_requested(now)
    }
    fn alert_sent(&mut self) {
        (**self).alert_sent()
    }
    fn answered(&mut self, attempt: u32, sent: Time, reply: &Reply, timeout: Time) {
        (**self).answered(attempt, sent, reply, timeout)
    }
    fn token_answered(&mut self, sent: Time, result: Option<&TokenResult>) {
        (**self).token_answered(sent, result)
    }
    fn settled(&mut self, output: &Output) {
        (**self).settled(output)
    }
    fn stepped(&mut self) {
        (**self).stepped()
    }
}

/// Two observers, told in order.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn arrived(&mut self, done: u64, total: u64) {
        self.0.arrived(done, total);
        self.1.arrived(done, total);
    }
    fn matched(&mut self, rules: usize) {
        self.0.matched(rules);
        self.1.matched(rules);
    }
    fn submitted(&mut self, seq: u64, event_id: &str, key: Option<&str>) {
        self.0.submitted(seq, event_id, key);
        self.1.submitted(seq, event_id, key);
    }
    fn rule(&mut self, seq: u64, index: usize, rule_id: &str) {
        self.0.rule(seq, index, rule_id);
        self.1.rule(seq, index, rule_id);
    }
    fn sent_nothing(&mut self, index: usize, rule_id: &str) {
        self.0.sent_nothing(index, rule_id);
        self.1.sent_nothing(index, rule_id);
    }
    fn subject(&mut self, seq: u64, subject: u64) {
        self.0.subject(seq, subject);
        self.1.subject(seq, subject);
    }
    fn occurred(&mut self, seq: u64, at: Option<i64>) {
        self.0.occurred(seq, at);
        self.1.occurred(seq, at);
    }
    fn token_requested(&mut self, now: Time) {
        self.0.token_requested(now);
        self.1.token_requested(now);
    }
    fn alert_sent(&mut self) {
        self.0.alert_sent();
        self.1.alert_sent();
    }
    fn answered(&mut self, attempt: u32, sent: Time, reply: &Reply, timeout: Time) {
        self.0.answered(attempt, sent, reply, timeout);
        self.1.answered(attempt, sent, reply, timeout);
    }
    fn token_answered(&mut self, sent: Time, result: Option<&TokenResult>) {
        self.0.token_answered(sent, result);
        self.1.token_answered(sent, result);
    }
    fn settled(&mut self, output: &Output) {
        self.0.settled(output);
        self.1.settled(output);
    }
    fn stepped(&mut self) {
        self.0.stepped();
        self.1.stepped();
    }
}

/// Where the events of a run come from.
pub trait Arrivals<R> {
    /// The scheduled time of the next arrival, if any remain.
    fn next_at(&self) -> Option<Time>;
    /// Takes the next arrival, stamped `now`, and submits what it matches to the machine.
    fn arrive(&mut self, now: Time, machine: &mut Machine<R>, obs: &mut dyn Observer);
}

/// A run with no arrivals (DLQ replay submits its record itself).
pub struct NoArrivals;

impl<R> Arrivals<R> for NoArrivals {
    fn next_at(&self) -> Option<Time> {
        None
    }
    fn arrive(&mut self, _: Time, _: &mut Machine<R>, _: &mut dyn Observer) {}
}

/// What a transport knows about a request right after sending it.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent<T> {
    /// The answer is known already and comes `latency` ms after sending (a model answers at once).
    Answered { latency: Time, answer: T },
    /// No answer will come in time: the machine's own timer decides.
    Unanswered,
    /// On the wire: the answer is handed back later.
    Pending,
}

/// Where the machine's requests go.
pub trait Transport {
    /// Sends CRM request `req` at `now`. A transport that knows the answer at once tells `obs`.
    fn send_crm(&mut self, now: Time, req: CrmRequest, obs: &mut dyn Observer) -> Sent<Reply>;
    /// Sends token request `id` at `now`.
    fn send_token(&mut self, now: Time, id: u64) -> Sent<TokenResult>;
    /// Sends a DLQ alert (fire and forget): POST the body as it is.
    fn send_alert(&mut self, alert: &Alert);
}

/// An answer the machine will be handed at its time.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Crm(u64, Reply),
    Token(u64, TokenResult),
}

/// Sends everything the machine wants sent (`sent` learns what each CRM or token request came
/// to), then hands every settled event to `obs`, then tells it the step is over.
pub fn drain<R: Rng, T: Transport + ?Sized>(
    machine: &mut Machine<R>,
    now: Time,
    transport: &mut T,
    obs: &mut dyn Observer,
    mut sent: impl FnMut(u64, Sent<Answer>),
) {
    while let Some(t) = machine.poll_transmit() {
        match t {
            super::Transmit::Crm(req) => {
                let id = req.id;
                let s = match transport.send_crm(now, req, obs) {
                    Sent::Answered { latency, answer } => Sent::Answered {
                        latency,
                        answer: Answer::Crm(id, answer),
                    },
                    Sent::Unanswered => Sent::Unanswered,
                    Sent::Pending => Sent::Pending,
                };
                sent(id, s);
            }
            super::Transmit::Token { id } => {
                obs.token_requested(now);
                let s = match transport.send_token(now, id) {
                    Sent::Answered { latency, answer } => Sent::Answered {
                        latency,
                        answer: Answer::Token(id, answer),
                    },
                    Sent::Unanswered => Sent::Unanswered,
                    Sent::Pending => Sent::Pending,
                };
                sent(id, s);
            }
            super::Transmit::Alert(a) => {
                obs.alert_sent();
                transport.send_alert(&a);
            }
        }
    }
    while let Some(o) = machine.poll_output() {
        obs.settled(&o);
    }
    obs.stepped();
}

/// Hands an answer to the machine at `now`.
pub fn hand_back<R: Rng>(machine: &mut Machine<R>, now: Time, answer: Answer) {
    match answer {
        Answer::Crm(id, Reply::Http { response, .. }) => machine.handle_response(now, id, response),
        Answer::Crm(id, Reply::Reset { failure, .. }) => machine.handle_failure(now, id, failure),
        Answer::Crm(_, Reply::Silence) => {}
        Answer::Token(id, result) => machine.handle_token(now, id, result),
    }
}

/// A run that did not settle within its step bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Livelock {
    pub steps: u64,
    pub at: Time,
}

enum Happening {
    Arrival,
    Answer(Answer),
}

/// The virtual-time loop: happenings ordered by `(time, sequence)`, a clock that jumps to the
/// earlier of the next happening and the machine's next timer, and a step bound.
pub struct VirtualTime<R> {
    machine: Machine<R>,
    now: Time,
    queue: BTreeMap<(Time, u64), Happening>,
    order: u64,
    /// Requests on the wire: their place in the order, taken when they were sent.
    pending: HashMap<u64, u64>,
    steps: u64,
    max_steps: u64,
}

impl<R: Rng> VirtualTime<R> {
    /// A loop over `machine` whose first arrival is at `first_arrival`.
    pub fn new(machine: Machine<R>, first_arrival: Option<Time>, max_steps: u64) -> Self {
        let mut v = VirtualTime {
            machine,
            now: 0,
            queue: BTreeMap::new(),
            order: 0,
            pending: HashMap::new(),
            steps: 0,
            max_steps,
        };
        match first_arrival {
            Some(at) => v.push(at, Happening::Arrival),
            None => v.machine.handle_arrivals_done(0),
        }
        v
    }

    /// The machine.
    pub fn machine(&self) -> &Machine<R> {
        &self.machine
    }

    /// The machine, once the loop is over.
    pub fn into_machine(self) -> Machine<R> {
        self.machine
    }

    /// Virtual time now.
    pub fn now(&self) -> Time {
        self.now
    }

    /// When the next step happens (`None`: nothing is left).
    pub fn next_at(&self) -> Option<Time> {
        let next = self.queue.keys().next().map(|k| k.0);
        match (self.machine.poll_timeout(), next) {
            (Some(t), Some(n)) => Some(t.min(n)),
            (t, n) => t.or(n),
        }
    }

    /// Whether requests are on the wire whose answers must be queued before the next step.
    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Queues the answer to pending request `id` at `at`, in the place the request took when it
    /// was sent.
    pub fn answer(&mut self, id: u64, at: Time, answer: Answer) {
        if let Some(order) = self.pending.remove(&id) {
            self.queue.insert((at, order), Happening::Answer(answer));
        }
    }

    /// Pending request `id` gets no answer in time: the machine's own timer decides.
    pub fn unanswered(&mut self, id: u64) {
        self.pending.remove(&id);
    }

    fn push(&mut self, at: Time, what: Happening) {
        self.order += 1;
        self.queue.insert((at, self.order), what);
    }

    /// One step: the next timer or happening, then a drain. `Ok(false)` when nothing is left.
    pub fn step(
        &mut self,
        arrivals: &mut dyn Arrivals<R>,
        transport: &mut dyn Transport,
        obs: &mut dyn Observer,
    ) -> Result<bool, Livelock> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(Livelock {
                steps: self.max_steps,
                at: self.now,
            });
        }
        let timer = self.machine.poll_timeout();
        let next = self.queue.keys().next().map(|k| k.0);
        let fire_timer = match (timer, next) {
            (None, None) => return Ok(false),
            (Some(t), Some(n)) => t < n,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if let (true, Some(t)) = (fire_timer, timer) {
            self.now = self.now.max(t);
            self.machine.handle_timeout(self.now);
        } else if let Some(((at, _), what)) = self.queue.pop_first() {
            self.now = self.now.max(at);
            match what {
                Happening::Arrival => {
                    arrivals.arrive(self.now, &mut self.machine, obs);
                    match arrivals.next_at() {
                        Some(at) => self.push(at.max(self.now), Happening::Arrival),
                        None => self.machine.handle_arrivals_done(self.now),
                    }
                }
                Happening::Answer(a) => hand_back(&mut self.machine, self.now, a),
            }
        }
        let now = self.now;
        let (queue, order, pending) = (&mut self.queue, &mut self.order, &mut self.pending);
        drain(
            &mut self.machine,
            now,
            transport,
            obs,
            |id, sent| match sent {
                Sent::Answered { latency, answer } => {
                    *order += 1;
                    queue.insert(
                        (now.saturating_add(latency), *order),
                        Happening::Answer(answer),
                    );
                }
                Sent::Unanswered => {}
                Sent::Pending => {
                    *order += 1;
                    pending.insert(id, *order);
                }
            },
        );
        Ok(true)
    }
}
