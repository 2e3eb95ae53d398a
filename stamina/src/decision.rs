//! What a predicate says about an error.

use std::time::Duration;

/// What to do about a failed attempt, as an `on` predicate decides it.
///
/// A predicate returns anything that converts into a `Decision`: a `bool`, a [`Duration`], an
/// `Option<Duration>` or a `Decision` itself. Unlike Python's stamina, where a predicate that
/// returns the integer `0` means "retry at once" and `False` means "don't", the meaning here is in
/// the type: `false` is [`Decision::NoRetry`], `Duration::ZERO` is a retry without a wait.
///
/// ```
/// use std::time::Duration;
/// use stamina::Decision;
///
/// # #[derive(Debug)] struct ApiError { status: u16, retry_after: Option<Duration> }
/// fn on_api_error(e: &ApiError) -> Decision {
///     match (e.status, e.retry_after) {
///         (429 | 503, Some(hint)) => Decision::RetryAfter(hint), // the server knows best
///         (500..=599, _) => Decision::Retry,                      // normal backoff
///         _ => Decision::NoRetry,                                 // the error comes back as is
///     }
/// }
/// # assert_eq!(on_api_error(&ApiError { status: 404, retry_after: None }), Decision::NoRetry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Give up: the error is returned unchanged.
    NoRetry,
    /// Retry after the policy's jittered exponential backoff.
    Retry,
    /// Retry after exactly this wait, as a server hint such as HTTP `Retry-After` asks.
    ///
    /// As in stamina, the wait gets no jitter and is not capped by `wait_max`; testing mode makes
    /// it zero. The attempt and time limits still decide whether the retry happens at all.
    RetryAfter(Duration),
    /// Retry, and count the failure as throttling: the server asked the client to slow down
    /// (HTTP 429, or 503 with `Retry-After`). After exactly the hint if there is one, as
    /// [`RetryAfter`](Decision::RetryAfter), else after the backoff, as [`Retry`](Decision::Retry).
    ///
    /// It retries as those do; a retry budget that prices throttling apart from other failures
    /// (as the AWS SDKs do) tells them apart by it, and hooks see it in
    /// [`RetryDetails::decision`](crate::instrumentation::RetryDetails::decision).
    Throttled(Option<Duration>),
}

impl Decision {
    /// Whether this decision retries: anything but [`NoRetry`](Decision::NoRetry).
    #[must_use]
    #[inline]
    pub const fn is_retry(self) -> bool {
        !matches!(self, Decision::NoRetry)
    }

    /// Whether this decision marks the failure as throttling.
    #[must_use]
    #[inline]
    pub const fn is_throttling(self) -> bool {
        matches!(self, Decision::Throttled(_))
    }

    /// The exact wait this decision asks for, if any: the hint of
    /// [`RetryAfter`](Decision::RetryAfter) or of [`Throttled`](Decision::Throttled).
    #[must_use]
    #[inline]
    pub const fn wait(self) -> Option<Duration> {
        match self {
            Decision::RetryAfter(wait) | Decision::Throttled(Some(wait)) => Some(wait),
            Decision::NoRetry | Decision::Retry | Decision::Throttled(None) => None,
        }
    }
}

impl From<bool> for Decision {
    /// `true` is [`Decision::Retry`], `false` is [`Decision::NoRetry`].
    #[inline]
    fn from(retry: bool) -> Self {
        if retry {
            Decision::Retry
        } else {
            Decision::NoRetry
        }
    }
}

impl From<Duration> for Decision {
    /// Retry after exactly this wait.
    #[inline]
    fn from(wait: Duration) -> Self {
        Decision::RetryAfter(wait)
    }
}

impl From<Option<Duration>> for Decision {
    /// `Some(wait)` retries after exactly `wait`; `None` gives up.
    #[inline]
    fn from(wait: Option<Duration>) -> Self {
        wait.map_or(Decision::NoRetry, Decision::RetryAfter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Decision::from(true), Decision::Retry);
        assert_eq!(Decision::from(false), Decision::NoRetry);
        assert_eq!(
            Decision::from(Duration::ZERO),
            Decision::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            Decision::from(Some(Duration::from_secs(3))),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(Decision::from(None::<Duration>), Decision::NoRetry);
    }

    #[test]
    fn queries() {
        let hint = Duration::from_secs(2);
        assert!(!Decision::NoRetry.is_retry());
        assert!(Decision::Retry.is_retry() && !Decision::Retry.is_throttling());
        assert!(Decision::Throttled(None).is_retry() && Decision::Throttled(None).is_throttling());
        assert_eq!(Decision::RetryAfter(hint).wait(), Some(hint));
        assert_eq!(Decision::Throttled(Some(hint)).wait(), Some(hint));
        assert_eq!(Decision::Throttled(None).wait(), None);
        assert_eq!(Decision::Retry.wait(), None);
    }
}
