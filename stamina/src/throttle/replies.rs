//! What a [`Throttle`](super::Throttle) hears and says: the replies it counts ([`Reply`], and
//! which of them are refusals, [`Rejections`]), and the [`Throttled`] that a call it does not
//! send returns.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::decision::Decision;

/// Which replies a [`Throttle`](super::Throttle) counts as not accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejections {
    /// Every failure that `on` or the result predicate retries (throttling decisions
    /// included): the dependency did not do the work. The default.
    #[default]
    Retried,
    /// Only throttling decisions ([`Decision::Throttled`]: 429, `RESOURCE_EXHAUSTED`): the
    /// dependency said it is overloaded. Other failures count as accepted.
    Throttling,
}

/// What the dependency answered an attempt, for [`Throttle::record`](super::Throttle::record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reply {
    /// It did the work: a success, or an error that is not retried.
    Accepted,
    /// It failed in a way that is retried.
    Failed,
    /// It refused the request as too much: 429, `RESOURCE_EXHAUSTED`, [`Decision::Throttled`].
    Throttled,
}

impl Reply {
    /// The reply that a failure with this decision was: `Failed` for one that is retried,
    /// `Throttled` for a throttling decision, `Accepted` for one that is not retried.
    #[must_use]
    pub const fn of(decision: Decision) -> Self {
        if decision.is_throttling() {
            Reply::Throttled
        } else if decision.is_retry() {
            Reply::Failed
        } else {
            Reply::Accepted
        }
    }
}

/// A call that a [`Throttle`](super::Throttle) did not send: see
/// [the module docs](super#a-call-that-is-throttled).
///
/// Your error type carries it (`impl From<Throttled> for MyError`), so that a call rejected
/// locally is told apart from every error of the dependency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttled {
    pub(super) reason: ThrottledReason,
}

/// Why a [`Throttled`] call was not sent.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ThrottledReason {
    /// The adaptive throttle rejected it, with this probability.
    Rejected {
        /// The rejection probability in force.
        probability: f64,
    },
    /// The rate limiter's delay would pass the call's timeout or deadline.
    Delay {
        /// The time left to the call.
        remaining: Duration,
    },
}

impl Throttled {
    /// Why the call was not sent.
    #[must_use]
    pub const fn reason(&self) -> ThrottledReason {
        self.reason
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            ThrottledReason::Rejected { probability } => write!(
                f,
                "throttled locally: the dependency is refusing requests (rejection probability {:.0}%)",
                probability * 100.0
            ),
            ThrottledReason::Delay { remaining } => write!(
                f,
                "throttled locally: the rate limiter's delay would pass the call's deadline ({remaining:?} left)"
            ),
        }
    }
}

impl Error for Throttled {}
