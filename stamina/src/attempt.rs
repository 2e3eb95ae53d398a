//! [`Attempt`]: what an attempt may read of its call, stamina's `Attempt` and the time it has.

use std::time::Duration;

use crate::clock::Stamp;

/// What an attempt knows: stamina's `Attempt`, and the time it has.
///
/// The explicit loop's [`attempt`](crate::RetryContext::attempt) gives one, the attribute binds one to
/// a name (`#[retry(attempt = a, ..)]`), the callers pass one to their `*_with_attempt` forms,
/// and hooks see the failed one ([`RetryDetails::attempt`](crate::instrumentation::RetryDetails::attempt)).
/// A per-attempt timeout is then one line, as gRPC and google-cloud-gax hand each attempt its
/// remaining time:
///
/// ```
/// # use std::time::Duration;
/// # fn request(limit: Duration) -> Result<u32, std::io::Error> { Ok(limit.as_secs() as u32) }
/// #[stamina::retry(on = std::io::Error, timeout = 10s, attempt = attempt)]
/// fn fetch() -> std::io::Result<u32> {
///     // No attempt outlives the call's budget, and none takes more than 2 s.
///     let limit = attempt.remaining().unwrap_or(Duration::MAX).min(Duration::from_secs(2));
///     request(limit)
/// }
/// # assert_eq!(fetch().unwrap(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's number, from 1.
    pub num: u32,
    /// The jitter-less lower bound of the wait that follows if this attempt fails:
    /// `min(wait_max, wait_initial * wait_exp_base^(num - 1))`. Zero in testing mode and when
    /// inactive. It does not know whether a retry will follow, nor what a predicate's
    /// [`Decision::RetryAfter`](crate::Decision::RetryAfter) will ask for.
    pub next_wait: Duration,
    start: Option<Stamp>,
    timeout: Option<Duration>,
    deadline: Option<Stamp>,
}

impl Attempt {
    pub(crate) fn new(
        num: u32,
        start: Option<Stamp>,
        timeout: Option<Duration>,
        deadline: Option<Stamp>,
    ) -> Self {
        Attempt {
            num,
            next_wait: Duration::ZERO,
            start,
            timeout,
            deadline,
        }
    }

    pub(crate) fn with_next_wait(mut self, next_wait: Duration) -> Self {
        self.next_wait = next_wait;
        self
    }

    /// The time since the call's first attempt began, read now; `None` for a call that does not
    /// measure time (no timeout, no deadline, and an attempt no one reads).
    #[must_use]
    pub fn elapsed(&self) -> Option<Duration> {
        self.start.map(Stamp::elapsed)
    }

    /// The time left before the call's timeout or deadline, whichever comes first, read now;
    /// `None` without either (and in testing mode, which ignores both). Zero once it has passed.
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        let elapsed = self.elapsed().unwrap_or_default();
        let by_timeout = self.timeout.map(|t| t.saturating_sub(elapsed));
        let by_deadline = self.deadline.map(Stamp::remaining);
        by_timeout.into_iter().chain(by_deadline).min()
    }
}
