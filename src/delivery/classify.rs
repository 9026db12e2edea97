//! Status classification: one decision per response, as a total function of the status and the
//! policy. Every gap the guide leaves is decided here and in `docs/semantics.md`.

use super::Reason;

/// What to do with a response or transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 2xx: the event is delivered.
    Success,
    /// Retry after backoff (counts against `maxRetries`).
    Retry,
    /// Drop the token, fetch a new one, resend at once (counted apart from retries).
    RefreshToken,
    /// Dead-letter now.
    DeadLetter(Reason),
}

/// Whether a token endpoint's refusal with `status` is final for the events waiting for a token:
/// a 4xx other than 408 and 429 (`invalid_grant`, `invalid_client`) does not heal by waiting, so
/// they are dead-lettered at once; anything else is retried with the policy's backoff
/// (docs/semantics.md, "Tokens"). The machine decides by it; `--target`'s notes say it.
pub fn token_refusal_is_final(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// The inputs classification depends on.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub retryable: Vec<u16>,
    pub non_retryable: Vec<u16>,
    /// OAuth with `retryOnTokenExpiry`.
    pub refresh_on_401: bool,
}

impl Policy {
    /// Classifies an HTTP status.
    ///
    /// Order: 2xx succeeds; 401 refreshes when `retryOnTokenExpiry` (even when 401 is also listed
    /// as non-retryable, as in the guide); the explicit lists; then the defaults for unlisted
    /// codes: 408, 429 and 5xx retry, everything else (other 4xx, 1xx, 3xx) dead-letters.
    pub fn classify(&self, status: u16) -> Decision {
        if (200..300).contains(&status) {
            return Decision::Success;
        }
        if status == 401 {
            return if self.refresh_on_401 {
                Decision::RefreshToken
            } else {
                Decision::DeadLetter(Reason::AuthFailed)
            };
        }
        if self.non_retryable.contains(&status) {
            return Decision::DeadLetter(Reason::NonRetryableStatus);
        }
        if self.retryable.contains(&status) {
            return Decision::Retry;
        }
        if status == 408 || status == 429 || (500..600).contains(&status) {
            Decision::Retry
        } else {
            Decision::DeadLetter(Reason::NonRetryableStatus)
        }
    }

    /// Timeouts and connection resets are always retryable: the request may or may not have
    /// reached the CRM, and the idempotency key makes a resend safe.
    pub fn classify_transport(&self) -> Decision {
        Decision::Retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide(refresh: bool) -> Policy {
        Policy {
            retryable: vec![429, 500, 502, 503, 504],
            non_retryable: vec![400, 401, 403, 404, 422],
            refresh_on_401: refresh,
        }
    }

    #[test]
    fn the_guide_policy_classifies_every_interesting_status() {
        use Decision::*;
        let p = guide(true);
        let non_retryable = DeadLetter(Reason::NonRetryableStatus);
        let table: &[(&[u16], Decision)] = &[
            (&[200, 201, 204], Success),
            (&[401], RefreshToken),
            (&[400, 403, 404, 422], non_retryable),
            (&[429, 500, 503, 504], Retry),
            // Unlisted: decided in docs/semantics.md.
            (&[408, 501, 599], Retry),
            (&[409, 413, 302, 100], non_retryable),
        ];
        for (statuses, want) in table {
            for status in *statuses {
                assert_eq!(p.classify(*status), *want, "status {status}");
            }
        }
    }

    #[test]
    fn without_retry_on_token_expiry_a_401_is_an_auth_failure() {
        assert_eq!(
            guide(false).classify(401),
            Decision::DeadLetter(Reason::AuthFailed)
        );
    }

    #[test]
    fn an_explicit_list_overrides_the_defaults() {
        let p = Policy {
            retryable: vec![403],
            non_retryable: vec![503],
            refresh_on_401: false,
        };
        assert_eq!(p.classify(403), Decision::Retry);
        assert_eq!(
            p.classify(503),
            Decision::DeadLetter(Reason::NonRetryableStatus)
        );
    }

    #[test]
    fn transport_failures_retry() {
        assert_eq!(guide(true).classify_transport(), Decision::Retry);
    }
}
