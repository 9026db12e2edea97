//! A stateful in-memory Event Hub API on loopback, so plan → apply → plan can be tried without a
//! tenant and tested end to end. It serves the guide's endpoints with the server-set fields
//! (`id`, `createdAt`, `updatedAt`, `status`), the CXone access-key token endpoint, the
//! `/.well-known/cxone-configuration` discovery document, deterministic metrics, payload
//! validation against `schemas/eventhub-*.json` (400 with field errors) and injectable faults.
//!
//! Built on hyper 1 directly: axum is not a dependency, and wiremock answers from fixed
//! templates without state. Request handling is a synchronous function of the state
//! ([`Hub::handle`]) behind one mutex, so it is unit-testable without sockets.
//!
//! Three rooms: `state.rs` (what the hub holds and what it adds to a stored object), `routes.rs`
//! (one request in, one [`Reply`] out) and `server.rs` (hyper on a socket, and [`spawn`] for tests).
//!
//! Admin surface (no auth): `POST /_mock/faults` (`{"method","path","status","count"}`),
//! `DELETE /_mock/faults`, `GET /_mock/state`, `PUT /_mock/metrics/{channel}` (a fixed metrics
//! response, e.g. one that breaches an alert), and `/_mock/api/v2/...`, which reaches the API
//! without a token — the way to change an object "behind cxsync's back".

mod routes;
mod server;
mod state;

use std::time::Duration;

use serde_json::{json, Value};

pub use server::{serve, spawn, Handle};
pub use state::Hub;

/// Mock hub settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted access key id.
    pub access_key_id: String,
    /// Accepted access key secret.
    pub access_key_secret: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Whether the licensing endpoint lists an enabled Event Hub entitlement.
    pub entitled: bool,
    /// Faults injected from the start.
    pub faults: Vec<Fault>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            access_key_id: "demo".into(),
            access_key_secret: "demo".into(),
            token_ttl: Duration::from_secs(3600),
            entitled: true,
            faults: Vec::new(),
        }
    }
}

/// An injected failure: the next `count` requests matching `method` and `path` (a glob where `*`
/// matches within one segment and a trailing `**` matches the rest) get its [`Effect`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawFault", into = "RawFault")]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub effect: Effect,
    pub count: u32,
}

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Answer this status without acting (429 and 503 carry `Retry-After: 0`). A 401 also revokes
    /// every issued token, as an expired token would.
    Status(u16),
    /// Close the connection without an answer, before the hub acts on the request.
    Drop,
    /// Act on the request, then close the connection without an answer (a lost response: the
    /// write happened but the client cannot know).
    DropAfter,
}

/// The admin API's form: `{"method","path","status"|"drop","count"}`, `drop` being `before` or
/// `after`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    method: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drop: Option<String>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

impl TryFrom<RawFault> for Fault {
    type Error = String;
    fn try_from(r: RawFault) -> Result<Fault, String> {
        let effect = match (r.status, r.drop.as_deref()) {
            (Some(s), None) if (100..=599).contains(&s) => Effect::Status(s),
            (Some(s), None) => return Err(format!("status {s} is not 100..=599")),
            (None, Some("before")) => Effect::Drop,
            (None, Some("after")) => Effect::DropAfter,
            (None, Some(d)) => return Err(format!("drop `{d}`: expected `before` or `after`")),
            _ => return Err("give exactly one of `status` and `drop`".into()),
        };
        if !r.path.starts_with('/') {
            return Err(format!("path `{}` must start with `/`", r.path));
        }
        Ok(Fault {
            method: r.method.to_ascii_uppercase(),
            path: r.path,
            effect,
            count: r.count,
        })
    }
}

impl From<Fault> for RawFault {
    fn from(f: Fault) -> RawFault {
        let (status, drop) = match f.effect {
            Effect::Status(s) => (Some(s), None),
            Effect::Drop => (None, Some("before".to_string())),
            Effect::DropAfter => (None, Some("after".to_string())),
        };
        RawFault {
            method: f.method,
            path: f.path,
            status,
            drop,
            count: f.count,
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;
    /// `METHOD PATH:EFFECT[:COUNT]` where EFFECT is a status, `drop` or `drop-after`, e.g.
    /// `PUT /api/v2/eventhub/rules/*:500:1`, `POST /api/v2/eventhub/channels:drop-after`.
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "fault `{s}`: expected `METHOD /path/glob:STATUS[:COUNT]` (STATUS 100..=599, or \
                 `drop`, `drop-after`)"
            )
        };
        let (method, rest) = s.trim().split_once(' ').ok_or_else(err)?;
        let effect = |e: &str| match e {
            "drop" => Some(Effect::Drop),
            "drop-after" => Some(Effect::DropAfter),
            _ => e
                .parse::<u16>()
                .ok()
                .filter(|s| (100..=599).contains(s))
                .map(Effect::Status),
        };
        let (path, effect, count) = match rest.rsplit_once(':') {
            Some((head, last)) => match (head.rsplit_once(':'), last.parse::<u32>()) {
                (Some((path, e)), Ok(n)) if effect(e).is_some() => (path, effect(e), n),
                _ => (head, effect(last), 1),
            },
            None => return Err(err()),
        };
        let effect = effect.ok_or_else(err)?;
        if !path.starts_with('/') {
            return Err(err());
        }
        Ok(Fault {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            effect,
            count,
        })
    }
}

fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, seg) in p.iter().enumerate() {
        if *seg == "**" {
            return true;
        }
        let Some(x) = s.get(i) else { return false };
        if *seg != "*" && seg != x {
            return false;
        }
    }
    p.len() == s.len()
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
    /// Close the connection instead of sending this answer (an injected drop).
    pub drop: bool,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
        drop: false,
    }
}

fn error(status: u16, message: impl Into<String>) -> Reply {
    reply(status, json!({ "message": message.into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_the_command_line_form() {
        let f: Fault = "PUT /api/v2/eventhub/rules/*:500:2".parse().unwrap();
        assert_eq!(
            f,
            Fault {
                method: "PUT".into(),
                path: "/api/v2/eventhub/rules/*".into(),
                effect: Effect::Status(500),
                count: 2
            }
        );
        let f: Fault = "get /api/v2/eventhub/channels:503".parse().unwrap();
        assert_eq!(
            (f.method.as_str(), f.effect, f.count),
            ("GET", Effect::Status(503), 1)
        );
        let f: Fault = "POST /api/v2/eventhub/channels:drop-after".parse().unwrap();
        assert_eq!((f.effect, f.count), (Effect::DropAfter, 1));
        let f: Fault = "PUT /api/v2/eventhub/rules/*:drop:3".parse().unwrap();
        assert_eq!((f.effect, f.count), (Effect::Drop, 3));
        assert!("PUT nowhere:500".parse::<Fault>().is_err());
        assert!("PUT /x:999".parse::<Fault>().is_err());
        assert!("PUT /x:dropped".parse::<Fault>().is_err());
        // The admin API's JSON form round-trips.
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(
            j,
            json!({"method": "PUT", "path": "/api/v2/eventhub/rules/*", "drop": "before", "count": 3})
        );
        assert_eq!(serde_json::from_value::<Fault>(j).unwrap(), f);
        assert!(serde_json::from_value::<Fault>(json!({"method": "PUT", "path": "/x"})).is_err());
    }

    #[test]
    fn globs_match_segments() {
        assert!(glob_match(
            "/api/v2/eventhub/rules/*",
            "/api/v2/eventhub/rules/R1"
        ));
        assert!(!glob_match(
            "/api/v2/eventhub/rules/*",
            "/api/v2/eventhub/rules"
        ));
        assert!(glob_match("/api/**", "/api/v2/eventhub/rules/R1"));
    }
}
