//! The throttle's place in the machine: before the first attempt ([`admit_first`]), before each
//! retry ([`RetryState::admit_retry`]), and at each reply.

use std::time::Duration;

use super::{RetryState, Stop};
use crate::clock::PerCallDeadline;
use crate::decision::Decision;
use crate::instrumentation::{DenyReason, ThrottleAction, ThrottleDetails, run_throttled};
use crate::policy::{PolicySource, RetryPolicy};
use crate::throttle::{Throttled, ThrottledReason};

/// Asks the policy's throttle, if any, whether a call's first attempt may be sent, with
/// `time_left` (the call's timeout or deadline): `Ok(delay)` to wait first (zero: now), or the
/// [`Throttled`] the call returns. A rejection or a delay runs the hooks; in a
/// [`TestClock`](crate::testing::TestClock)'s scope a delay advances virtual time and the call
/// goes at once. Nothing for a policy without a throttle, which a `const` policy makes known at
/// compile time.
#[inline]
pub(crate) fn admit_first<'n>(
    policy: &RetryPolicy,
    time_left: impl FnOnce() -> Option<Duration>,
    name: impl FnOnce() -> &'n str,
) -> Result<Duration, Throttled> {
    let Some(throttle) = policy.throttle.get() else {
        return Ok(Duration::ZERO);
    };
    let admission = throttle.check(1, time_left());
    if admission == Ok(Duration::ZERO) {
        return admission;
    }
    let delay = reported(admission, name())?;
    // In a test clock's scope, the delay passes in virtual time, as a retry's wait does.
    match crate::scope::clock() {
        Some(clock) => {
            clock.advance(delay);
            Ok(Duration::ZERO)
        }
        None => Ok(delay),
    }
}

/// The hooks hear of a first attempt rejected or delayed.
#[cold]
#[inline(never)]
fn reported(admission: Result<Duration, Throttled>, name: &str) -> Result<Duration, Throttled> {
    let (action, probability, delay) = match admission {
        Ok(delay) => (ThrottleAction::Delayed, 0.0, delay),
        Err(throttled) => {
            let probability = match throttled.reason() {
                ThrottledReason::Rejected { probability } => probability,
                ThrottledReason::Delay { .. } => 0.0,
            };
            (ThrottleAction::Rejected, probability, Duration::ZERO)
        }
    };
    run_throttled(&ThrottleDetails {
        name,
        action,
        probability,
        delay,
    });
    admission
}

impl<'p, D: PerCallDeadline, P: PolicySource<'p>> RetryState<'p, D, P> {
    /// The throttle's word on the retry about to be scheduled after `wait`, with `room` left
    /// for the wait and the throttle's delay together: the wait, with the rate limiter's delay
    /// added, or a denial.
    #[inline]
    pub(super) fn admit_retry(
        &self,
        wait: Duration,
        room: Option<Duration>,
    ) -> Result<Duration, Stop> {
        let Some(throttle) = self.policy().throttle.get() else {
            return Ok(wait);
        };
        match throttle.check(self.attempt + 1, room) {
            Ok(delay) => Ok(wait.saturating_add(delay)),
            Err(_) => Err(Stop::Denied(DenyReason::Throttle)),
        }
    }

    /// The attempt under way failed with this decision: the throttle counts the reply.
    #[inline]
    pub(super) fn throttle_failed(&self, decision: Decision) {
        if let Some(throttle) = self.policy().throttle.get() {
            throttle.failed(decision);
        }
    }
}

/// A call under `policy` succeeded: its throttle counts an accepted reply.
#[inline]
pub(super) fn throttle_succeeded(policy: &RetryPolicy) {
    if let Some(throttle) = policy.throttle.get() {
        throttle.record(crate::throttle::Reply::Accepted);
    }
}
