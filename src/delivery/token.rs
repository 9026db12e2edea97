//! The OAuth2 token cache: the current token and its generation, the one outstanding token
//! request, and the count of consecutive token endpoint failures. The machine owns the timers and
//! decides what a failure does to waiting events; this file holds the state and the lifetime rule.

use super::Time;

/// A timer's key in the machine's timer table.
pub(super) type TimerKey = (Time, u64);

#[derive(Debug)]
struct Token {
    value: String,
    valid_until: Time,
    generation: u64,
}

/// The cached token and the token endpoint's state.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    token: Option<Token>,
    generation: u64,
    /// The outstanding request: its id and its timeout timer.
    request: Option<(u64, TimerKey)>,
    /// Consecutive failed token requests.
    pub(super) failures: u32,
    /// No new request before this instant (backoff after a failure).
    pub(super) retry_at: Option<Time>,
}

impl TokenCache {
    /// The token to send at `now`, with its generation; an expired token is dropped.
    pub(super) fn current(&mut self, now: Time) -> Option<(String, u64)> {
        match &self.token {
            Some(t) if now < t.valid_until => Some((t.value.clone(), t.generation)),
            _ => {
                self.token = None;
                None
            }
        }
    }

    /// The generation of the cached token (0 without one).
    pub(super) fn generation(&self) -> u64 {
        self.token.as_ref().map_or(0, |t| t.generation)
    }

    /// Whether a new token request may go out at `now`.
    pub(super) fn may_request(&self, now: Time) -> bool {
        self.request.is_none() && self.retry_at.is_none_or(|t| now >= t)
    }

    /// Token request `id` went out; `timer` is its timeout.
    pub(super) fn requested(&mut self, id: u64, timer: TimerKey) {
        self.request = Some((id, timer));
    }

    /// Whether a request is outstanding.
    pub(super) fn is_requesting(&self) -> bool {
        self.request.is_some()
    }

    /// Takes the outstanding request if it is `id`, returning its timeout timer (`None`: an
    /// answer to a request that timed out or never was; it is ignored).
    pub(super) fn answered(&mut self, id: u64) -> Option<TimerKey> {
        match self.request {
            Some((rid, timer)) if rid == id => {
                self.request = None;
                Some(timer)
            }
            _ => None,
        }
    }

    /// A 401 came back for a request sent with the token of `generation`: that token is dead
    /// (a newer one, fetched meanwhile, is kept).
    pub(super) fn rejected(&mut self, generation: u64) {
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.generation == generation)
        {
            self.token = None;
        }
    }

    /// A token was granted at `now`. The Event Hub uses it for [`cached_for_ms`] — its cache TTL
    /// — whatever the token's `expires_in` says.
    pub(super) fn grant(&mut self, now: Time, value: String, cache_ttl: u64) {
        let life = cached_for_ms(cache_ttl);
        self.generation += 1;
        self.token = Some(Token {
            value,
            valid_until: now.saturating_add(life),
            generation: self.generation,
        });
        self.failures = 0;
    }
}

/// How long, in ms, the Event Hub keeps using a token it received, given its cache TTL in ms
/// (`auth.tokenCacheTtlSeconds`): the whole TTL, never less than 1 ms. The token's `expires_in`
/// plays no part: the guide says the hub "caches the access token and refreshes it automatically
/// when tokenCacheTtlSeconds approaches expiration", so a TTL longer than the CRM's token
/// lifetime sends expired tokens until the cache runs out ([`sends_expired_tokens`]).
pub fn cached_for_ms(cache_ttl_ms: u64) -> Time {
    cache_ttl_ms.max(1)
}

/// Whether a hub caching tokens for `cache_ttl_s` sends tokens a CRM has expired after
/// `lifetime_s` (both in seconds): one truth for the machine ([`cached_for_ms`]) and lint (CX005).
pub fn sends_expired_tokens(cache_ttl_s: u64, lifetime_s: u64) -> bool {
    cached_for_ms(cache_ttl_s.saturating_mul(1000)) > lifetime_s.saturating_mul(1000)
}
