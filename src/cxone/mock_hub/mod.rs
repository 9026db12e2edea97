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
/// matches within one segment and a trailing `**` matches the rest) answer `status`. A 401 also
/// revokes every issued token, as an expired token would.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl std::str::FromStr for Fault {
    type Err = String;
    /// `METHOD PATH:STATUS[:COUNT]`, e.g. `PUT /api/v2/eventhub/rules/*:500:1`.
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("fault `{s}`: expected `METHOD /path/glob:STATUS[:COUNT]`");
        let (method, rest) = s.trim().split_once(' ').ok_or_else(err)?;
        let mut parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        parts.reverse();
        let (path, status, count) = match parts.as_slice() {
            [p, s, c] if c.parse::<u32>().is_ok() && s.parse::<u16>().is_ok() => {
                (*p, *s, c.parse().unwrap_or(1))
            }
            [.., p, s] => (*p, *s, 1),
            _ => return Err(err()),
        };
        let path = if parts.len() == 3 && parts[2].parse::<u32>().is_err() {
            // `a:b:STATUS` where `a:b` is the path (unlikely, but keep it whole).
            format!("{}:{}", parts[0], parts[1])
        } else {
            path.to_string()
        };
        let status: u16 = status.parse().map_err(|_| err())?;
        if !(100..=599).contains(&status) || !path.starts_with('/') {
            return Err(err());
        }
        Ok(Fault {
            method: method.to_ascii_uppercase(),
            path,
            status,
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
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        headers: Vec::new(),
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
                status: 500,
                count: 2
            }
        );
        let f: Fault = "get /api/v2/eventhub/channels:503".parse().unwrap();
        assert_eq!((f.method.as_str(), f.status, f.count), ("GET", 503, 1));
        assert!("PUT nowhere:500".parse::<Fault>().is_err());
        assert!("PUT /x:999".parse::<Fault>().is_err());
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
