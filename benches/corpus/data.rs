//! The mapping corpus (`benches/corpus/<profile>/*.jsonata`, each naming its event type in its
//! first line, `/* event: TYPE | what it does */`) and realistic CXone Event Hub events for it:
//! `interaction.ended`, `contact.updated`, `transcript.ready` and `survey.completed`, shaped
//! like the fixtures and the guide's payloads, with the variety real exports have: numeric and
//! string ids, epoch milliseconds and ISO 8601 times, missing and null fields, phone numbers in
//! several formats, names and notes outside ASCII, arrays of zero to many items.
//!
//! Shared by the corpus benchmark (`benches/corpus.rs`) and the property test
//! (`tests/transform/corpus.rs`), which starts from these events and makes them hostile.
//! Deterministic: the same seed gives the same events.

#![allow(dead_code)]

use std::path::Path;

use serde_json::{json, Map, Value};

/// One mapping of the corpus.
pub struct Mapping {
    /// `profile/name`, e.g. `salesforce/case_create`.
    pub name: String,
    /// The event type it maps (one of [`EVENT_TYPES`]).
    pub event: String,
    /// What it does (from its first line).
    pub about: String,
    pub text: String,
    pub path: std::path::PathBuf,
}

/// The CRM profiles, as the corpus folders are named.
pub const PROFILES: &[&str] = &[
    "salesforce",
    "dynamics",
    "zendesk",
    "hubspot",
    "servicenow",
    "generic",
];

/// Every mapping of the corpus under `dir` (`benches/corpus`), by profile, then name.
pub fn mappings(dir: &Path) -> Vec<Mapping> {
    let mut out = Vec::new();
    for profile in PROFILES {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(profile))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(profile).display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonata"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap_or_default();
            let header = first
                .strip_prefix("/* event: ")
                .and_then(|h| h.strip_suffix(" */"))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: first line must be /* event: TYPE | … */",
                        path.display()
                    )
                });
            let (event, about) = header.split_once(" | ").unwrap_or((header, ""));
            assert!(
                EVENT_TYPES.contains(&event),
                "{}: unknown event type {event}",
                path.display()
            );
            out.push(Mapping {
                name: format!("{profile}/{}", path.file_stem().unwrap().to_string_lossy()),
                event: event.to_string(),
                about: about.to_string(),
                text,
                path,
            });
        }
    }
    out
}

/// xorshift64*: small, deterministic, good enough for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// The event types of the corpus.
pub const EVENT_TYPES: &[&str] = &[
    "interaction.ended",
    "contact.updated",
    "transcript.ready",
    "survey.completed",
];

const FIRST: &[&str] = &[
    "Ada", "José", "Zoë", "Søren", "Li", "Ólafur", "Anaïs", "Nguyễn", "Seán", "Amira", "Kenji",
    "Priya", "Grace", "Mateo", "Fatima", "Łukasz",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Álvarez",
    "Müller",
    "Kierkegaard",
    "Xiaolong",
    "Arnalds",
    "Nin",
    "Văn",
    "O'Brien",
    "Haddad",
    "Tanaka",
    "Raman",
    "Hopper",
    "Fernández",
    "Zahra",
    "Wałęsa",
];
/// Words of notes and tags; the first 18 are the guide bench's (`benches/transform.rs`).
pub const WORDS: &[&str] = &[
    "billing",
    "refund",
    "card",
    "delivery",
    "late",
    "password",
    "reset",
    "upgrade",
    "plan",
    "cancel",
    "invoice",
    "address",
    "Ångström",
    "naïve",
    "café",
    "über",
    "😀",
    "—",
    "please",
    "urgent",
    "thanks",
    "again",
    "order",
    "broken",
    "replacement",
    "warranty",
];
const COMPANIES: &[&str] = &[
    "Acme Corp",
    "Globex GmbH",
    "Initech",
    "Umbrella Ltd.",
    "Soylent & Söhne",
    "Stark Industries",
];
const QUEUES: &[&str] = &[
    "Billing",
    "Tech Support – Tier 1",
    "Sales",
    "Retention",
    "Kundendienst",
];
const TAGS: &[&str] = &[
    "VIP",
    "billing",
    "Refund Request",
    "churn-risk",
    "new customer",
    "Escalated!",
    "warranty",
    "Spanish",
];

/// 2024-01-15T00:00:00Z
const EPOCH: i64 = 1_705_276_800_000;

fn iso(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn words(rng: &mut Rng, n: u64) -> String {
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn phone(rng: &mut Rng) -> String {
    let n = 5_550_000_000_u64 + rng.below(9_999_999);
    let d = n.to_string();
    match rng.below(5) {
        0 => format!("+1{d}"),
        1 => format!("+1 ({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
        2 => format!("{}.{}.{}", &d[..3], &d[3..6], &d[6..]),
        3 => format!("+49 30 {}", &d[4..]),
        _ => format!("1-{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
    }
}

fn person(rng: &mut Rng) -> (String, String) {
    (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string())
}

fn email(first: &str, last: &str, rng: &mut Rng) -> String {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    let domain = rng.pick(&["example.com", "Example.org", "mail.example.net"]);
    format!("{}.{}@{domain}", clean(first), clean(last))
}

fn header(kind: &str, i: u64, at: i64) -> Value {
    json!({
        "id": format!("evt-{i:08}"),
        "type": kind,
        "occurredAt": iso(at),
        "tenantId": "tenant-42",
        "source": "cxone.eventhub",
        "schemaVersion": "2.3"
    })
}

/// One event of type `kind` (one of [`EVENT_TYPES`]); `i` numbers it.
pub fn event(kind: &str, i: u64, rng: &mut Rng) -> Value {
    match kind {
        "interaction.ended" => interaction(i, rng),
        "contact.updated" => contact(i, rng),
        "transcript.ready" => transcript(i, rng),
        _ => survey(i, rng),
    }
}

fn interaction(i: u64, rng: &mut Rng) -> Value {
    let started = EPOCH + (i as i64) * 7_919 % 80_000_000 + rng.below(1_000) as i64;
    let ended = started + 30_000 + rng.below(1_800_000) as i64;
    let channel = rng.pick(&["voice", "webchat", "email", "voice", "sms", "voice"]);
    let (first, last) = person(rng);
    let agent = rng.below(300);
    let contact_id: Value = if rng.chance(12) {
        Value::Null
    } else {
        json!(50_000 + rng.below(10_000))
    };
    let mut customer = json!({
        "contactId": contact_id,
        "externalId": format!("003{:012}", rng.below(1_000_000_000)),
        "phone": phone(rng),
        "name": format!("{first} {last}"),
        "email": email(&first, &last, rng),
        "company": rng.pick(COMPANIES),
    });
    if rng.chance(10) {
        customer.as_object_mut().unwrap().remove("email");
    }
    let mut segments = Vec::new();
    let mut t = started;
    for s in 0..(1 + rng.below(5)) {
        let d = 5_000 + rng.below(600_000) as i64;
        segments.push(json!({
            "type": (["ivr", "queue", "agent", "hold", "agent"][(s as usize + rng.below(2) as usize) % 5]),
            "startedAt": t,
            "endedAt": t + d,
            "agentId": format!("agent-{}", (agent + s) % 300),
        }));
        t += d;
    }
    let tags: Vec<&str> = (0..rng.below(6)).map(|_| rng.pick(TAGS)).collect();
    let order = format!("ORD-{}", 10_000 + rng.below(90_000));
    let notes = format!(
        "{} {} {} call me at {} or {}",
        words(rng, 6),
        if rng.chance(60) {
            order.as_str()
        } else {
            "no order"
        },
        words(rng, 8),
        phone(rng),
        email(&first, &last, rng),
    );
    let score = (rng.below(2001) as f64) / 1000.0 - 1.0;
    let id: Value = if rng.chance(15) {
        json!(format!("INT-{}", 900_000_000 + i))
    } else {
        json!(900_000_000 + i)
    };
    let mut interaction = json!({
        "id": id,
        "startedAt": started,
        "endedAt": ended,
        "channel": {
            "type": channel,
            "direction": rng.pick(&["inbound", "inbound", "outbound"]),
            "pointOfContact": "+15550001111"
        },
        "customer": customer,
        "agent": {
            "id": format!("agent-{agent}"),
            "email": format!("agent{agent}@company.com"),
            "name": format!("Agent {agent}"),
            "team": rng.pick(&["Tier 1", "Tier 2", "Escalations"]),
            "skills": ["english", rng.pick(&["billing", "tech", "sales"])]
        },
        "queue": {"id": format!("q-{}", rng.below(20)), "name": rng.pick(QUEUES)},
        "disposition": {
            "code": rng.pick(&["RESOLVED", "ESCALATED", "CALLBACK", "NO_ANSWER", "VOICEMAIL", "RESOLVED"]),
            "notes": notes
        },
        "wrapUp": {"code": format!("WU-{}", rng.below(50)), "durationSeconds": rng.below(180)},
        "analytics": {
            "sentiment": {"score": score, "label": if score > 0.3 { "positive" } else if score < -0.3 { "negative" } else { "neutral" }},
            "holdSeconds": rng.below(300),
            "talkSeconds": rng.below(1800),
            "silenceSeconds": rng.below(60) as f64 + 0.5
        },
        "segments": segments,
        "tags": tags,
        "customFields": {
            "orderId": order,
            "accountTier": rng.pick(&["gold", "silver", "bronze"]),
            "language": rng.pick(&["en-US", "de-DE", "es-MX", "fr-FR"]),
            "priorityFlag": rng.chance(20)
        },
        "recordingUrl": format!("https://recordings.example.com/{i:08}.wav"),
        "transfers": rng.below(3)
    });
    let o = interaction.as_object_mut().unwrap();
    if rng.chance(15) {
        o.remove("analytics");
    }
    if rng.chance(20) {
        o.insert("wrapUp".into(), Value::Null);
    }
    json!({
        "event": header("interaction.ended", i, ended + 1_500),
        "interaction": interaction,
        "agent": {"id": format!("agent-{agent}")}
    })
}

fn contact(i: u64, rng: &mut Rng) -> Value {
    let (first, last) = person(rng);
    let created = EPOCH - 400 * 86_400_000 + rng.below(300 * 86_400_000) as i64;
    let updated = EPOCH + (i as i64) * 3_571 % 80_000_000;
    let mut emails = Vec::new();
    for k in 0..rng.below(4) {
        emails.push(json!({
            "type": (["work", "home", "other"][k as usize % 3]),
            "address": if k == 0 { email(&first, &last, rng) } else { format!("{}{}@example.com", first.to_lowercase(), k) },
            "primary": k == 0
        }));
    }
    let mut phones = Vec::new();
    for k in 0..rng.below(3) {
        phones
            .push(json!({"type": (["mobile", "work", "home"][k as usize]), "number": phone(rng)}));
    }
    let tier: Value = if rng.chance(20) {
        Value::Null
    } else {
        json!(rng.pick(&["gold", "silver", "bronze", "platinum"]))
    };
    let mut c = json!({
        "id": format!("c-{:07}", i),
        "externalIds": {
            "salesforce": format!("003{:012}", rng.below(1_000_000_000)),
            "hubspot": 10_000 + rng.below(900_000),
            "zendesk": 360_000_000_000_u64 + rng.below(1_000_000)
        },
        "firstName": first,
        "lastName": last,
        "emails": emails,
        "phones": phones,
        "address": {
            "street": format!("{} {}", 1 + rng.below(999), rng.pick(&["Main Street", "Hauptstraße", "Rue de la Paix", "Elm St."])),
            "city": rng.pick(&["Springfield", "München", "Paris", "São Paulo"]),
            "region": rng.pick(&["IL", "BY", "IDF", "SP"]),
            "postalCode": format!("{:05}", rng.below(99_999)),
            "country": rng.pick(&["us", "DE", "fr", "BR"])
        },
        "consents": {"email": rng.chance(70), "sms": rng.chance(40), "updatedAt": iso(updated)},
        "tier": tier,
        "lifetimeValue": (rng.below(1_000_000) as f64) / 100.0,
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "language": rng.pick(&["en-US", "de-DE", "es-MX", "fr-FR"]),
        "notes": words(rng, 10)
    });
    if rng.chance(15) {
        c.as_object_mut().unwrap().remove("address");
    }
    json!({"event": header("contact.updated", i, updated), "contact": c})
}

fn transcript(i: u64, rng: &mut Rng) -> Value {
    let start = EPOCH + (i as i64) * 6_007 % 80_000_000;
    let (first, last) = person(rng);
    let mut t = start;
    let mut messages = Vec::new();
    for k in 0..(2 + rng.below(11)) {
        t += 2_000 + rng.below(90_000) as i64;
        let from = if k == 0 && rng.chance(50) {
            "bot"
        } else if k % 2 == 0 {
            "customer"
        } else {
            "agent"
        };
        let n = 3 + rng.below(12);
        messages.push(json!({
            "from": from,
            "name": if from == "customer" { format!("{first} {last}") } else if from == "agent" { "Agent Smith".to_string() } else { "Assistant".to_string() },
            "text": format!("{} {}", words(rng, n), if rng.chance(10) { "<b>order</b> & \"more\"" } else { "" }),
            "sentAt": iso(t),
            "sentiment": (rng.below(201) as f64) / 100.0 - 1.0
        }));
    }
    json!({
        "event": header("transcript.ready", i, t + 10_000),
        "transcript": {
            "interactionId": 900_000_000 + i,
            "channel": rng.pick(&["webchat", "sms", "voice"]),
            "language": rng.pick(&["en-US", "de-DE", "es-MX"]),
            "startedAt": iso(start),
            "messages": messages,
            "summary": words(rng, 12)
        }
    })
}

fn survey(i: u64, rng: &mut Rng) -> Value {
    let done = EPOCH + (i as i64) * 4_999 % 80_000_000;
    let mut answers = Vec::new();
    for k in 0..(1 + rng.below(5)) {
        answers.push(json!({
            "question": (["How satisfied were you?", "Was your issue resolved?", "How easy was it?", "Would you recommend us?", "Anything else?"][k as usize]),
            "answer": rng.pick(&["Yes", "No", "Very satisfied", "Neutral", "Sehr gut 👍", ""]),
            "score": rng.below(11)
        }));
    }
    let mut s = Map::new();
    s.insert("id".into(), json!(format!("srv-{i:07}")));
    s.insert("interactionId".into(), json!(900_000_000 + i));
    s.insert("contactId".into(), json!(50_000 + rng.below(10_000)));
    s.insert("agentId".into(), json!(format!("agent-{}", rng.below(300))));
    s.insert("completedAt".into(), json!(iso(done)));
    s.insert("csat".into(), json!(1 + rng.below(5)));
    s.insert("nps".into(), json!(rng.below(11)));
    s.insert(
        "ces".into(),
        if rng.chance(30) {
            Value::Null
        } else {
            json!(1 + rng.below(7))
        },
    );
    if rng.chance(80) {
        s.insert("comments".into(), json!(format!("  {}  ", words(rng, 9))));
    }
    s.insert("answers".into(), Value::Array(answers));
    s.insert("channel".into(), json!(rng.pick(&["email", "sms", "ivr"])));
    json!({"event": header("survey.completed", i, done), "survey": Value::Object(s)})
}
