//! Real HTTP delivery: a tokio/reqwest driver of the simulator's sans-IO delivery
//! [`Machine`](crate::delivery::Machine), and mock CRM and OAuth servers built from the same
//! CRM model.
//!
//! Virtual time proves the logic; this module proves the bytes. [`driver`] runs a scenario over
//! real HTTP: it sends what the machine asks for (the client-credentials token request, CRM
//! requests with their Bearer and idempotency headers, DLQ alert webhook calls) and hands back
//! what came off the wire, stamped with times from a [`Clock`] that maps the machine's virtual
//! milliseconds onto the real clock (`--time-scale`). Every retry, backoff and classification
//! decision stays in the machine. [`mock`] serves the CRM, token endpoint and alert webhook on
//! wiremock, answering from [`crate::sim::crm::CrmModel`], behind [`front`], a small TCP proxy
//! that adds the faults wiremock cannot produce (connection resets, responses cut mid-body,
//! silence). [`target`] runs the fixtures against a real staging CRM with real OAuth.

pub mod clock;
pub mod driver;
pub mod failure;
pub mod front;
pub mod mock;
pub mod paced;
pub mod target;
pub mod wall;

pub use clock::Clock;
pub use paced::{run, HttpOptions};

use reqwest::Url;

/// Why a run over HTTP could not start or complete.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The spec or scenario cannot be run (bad idempotency template, …).
    #[error("{0}")]
    Config(String),
    /// A URL that is not `https://` (or `http://` on loopback).
    #[error("{0}")]
    Url(String),
    /// A local socket could not be bound or configured.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The run itself failed (it did not settle within its step bound).
    #[error(transparent)]
    Sim(crate::sim::engine::EngineError),
}

/// Parses `url` and checks that it is `https://`, or `http://` on a loopback host
/// ([`crate::net`]): TLS is always verified, and plain HTTP is only acceptable where nothing
/// leaves the machine.
pub fn checked_url(what: &str, url: &str) -> Result<Url, HttpError> {
    crate::net::require_https_or_loopback(url).map_err(|e| HttpError::Url(format!("{what}: {e}")))
}

/// An HTTP client for deliveries: rustls with verified certificates, no redirects (a CRM that
/// redirects a POST is misconfigured), Nagle off for small requests.
pub fn http_client(pool: usize) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .user_agent(concat!("cxsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HttpError::Client)
}
