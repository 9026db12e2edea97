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

    /// A token was granted at `now`. It is used for `min(cache_ttl, expires_in − skew)`; a token
    /// shorter-lived than the skew is used for half its life; without `expires_in`, for
    /// `cache_ttl`; never for less than 1 ms.
    pub(super) fn grant(
        &mut self,
        now: Time,
        value: String,
        expires_in: Option<u64>,
        cache_ttl: u64,
        skew: u64,
    ) {
        let life = match expires_in {
            Some(s) => {
                let ms = s.saturating_mul(1000);
                if ms > skew {
                    ms - skew
                } else {
                    ms / 2
                }
            }
            None => cache_ttl,
        };
        self.generation += 1;
        self.token = Some(Token {
            value,
            valid_until: now.saturating_add(cache_ttl.min(life).max(1)),
            generation: self.generation,
        });
        self.failures = 0;
    }
}
