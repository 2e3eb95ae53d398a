//! The per-call state machine that the `#[retry]` attribute, the callers and the explicit loop
//! all drive.
//!
//! Per failed attempt, in stamina's order: the active switch (inactive: give up), the `on`
//! predicate, the stop check (attempts, then time), the wait, the hooks, and then the caller
//! sleeps. Before the first failure nothing runs but, with a timeout, one read of the coarse clock.

use std::fmt;
use std::time::Duration;

use crate::backoff;
use crate::clock::Stamp;
use crate::decision::Decision;
use crate::instrumentation::{Guards, RetryDetails, run_hooks};
use crate::policy::RetryPolicy;
use crate::rng;
use crate::switches::Switches;

/// The state of one retrying call.
pub struct RetryState<'p> {
    policy: &'p RetryPolicy,
    /// When the first attempt began; taken only when the policy has a timeout.
    start: Option<Stamp>,
    /// The sum of the planned waits so far, in nanoseconds (saturating: 584 years).
    waited_ns: u64,
    /// The number of the attempt under way, from 1.
    attempt: u32,
    /// The guards that hooks returned for the retry under way: one pointer, null for the calls
    /// (nearly all) that never have one, so its drop is a null check.
    guards: Guards,
}

impl fmt::Debug for RetryState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryState")
            .field("policy", self.policy)
            .field("attempt", &self.attempt)
            .field("waited", &self.waited())
            .field("guards", &self.guards.len())
            .finish_non_exhaustive()
    }
}

impl<'p> RetryState<'p> {
    /// Starts a call, just before its first attempt.
    #[must_use]
    #[inline]
    pub fn new(policy: &'p RetryPolicy) -> Self {
        RetryState {
            policy,
            start: if policy.timeout.is_some() {
                Some(Stamp::now())
            } else {
                None
            },
            waited_ns: 0,
            attempt: 1,
            guards: Guards::new(),
        }
    }

    /// The number of the attempt under way, from 1.
    #[must_use]
    #[inline]
    pub fn attempt_num(&self) -> u32 {
        self.attempt
    }

    /// The jitter-less wait that follows if the attempt under way fails: stamina's
    /// `Attempt.next_wait`. Zero in testing mode and when inactive.
    #[must_use]
    pub fn next_wait(&self) -> Duration {
        let switches = Switches::current();
        if !switches.is_active() || switches.testing_mode().is_some() {
            Duration::ZERO
        } else {
            backoff::lower_bound(self.policy, self.attempt)
        }
    }

    /// Handles the error of the attempt under way.
    ///
    /// `Err(error)`, unchanged, when the call gives up: inactive, `on` declines, or a limit is
    /// reached. Otherwise the hooks have run and `Ok(wait)` is the wait before the next attempt,
    /// which the caller sleeps (see [`sleep`](Self::sleep) and [`sleep_async`](Self::sleep_async)).
    /// `name` gives the `callable` label, and is only called when hooks run.
    ///
    /// Out of line and cold: it is never on the happy path, and keeping it out of the caller's
    /// body keeps the first attempt's code tight.
    #[cold]
    #[inline(never)]
    pub fn failed<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        name: impl FnOnce() -> &'n str,
    ) -> Result<Duration, E> {
        let switches = Switches::current();
        if !switches.is_active() {
            return Err(error);
        }
        let Some(wait) = self.plan(switches, on(&error)) else {
            return Err(error);
        };
        self.schedule(wait, &error, std::any::type_name::<E>(), name());
        Ok(wait)
    }

    /// [`failed`](Self::failed), then [`sleep`](Self::sleep): what a sync retry loop does with
    /// an error, in one out-of-line call. `Err(error)`, unchanged, when the call gives up.
    #[cold]
    #[inline(never)]
    pub fn retry_or_give_up<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        name: impl FnOnce() -> &'n str,
    ) -> Result<(), E> {
        let wait = self.failed(error, on, name)?;
        self.sleep(wait);
        Ok(())
    }

    /// The wait before the next attempt, or `None` to give up: the decision and the limits.
    #[inline]
    fn plan(&self, switches: Switches, decision: Decision) -> Option<Duration> {
        let custom = match decision {
            Decision::NoRetry => return None,
            Decision::Retry => None,
            Decision::RetryAfter(wait) => Some(wait),
        };
        let n = self.attempt;
        if let Some(testing) = switches.testing_mode() {
            return (n < testing.attempt_limit(self.policy.attempts)).then_some(Duration::ZERO);
        }
        if self.policy.attempt_limit().is_some_and(|limit| n >= limit) || self.timed_out() {
            return None;
        }
        Some(custom.unwrap_or_else(|| backoff::wait(self.policy, n, rng::unit)))
    }

    /// Schedules the retry: runs the hooks, then counts the wait and the attempt.
    #[inline]
    fn schedule(
        &mut self,
        wait: Duration,
        caused_by: &dyn fmt::Debug,
        error_type: &'static str,
        name: &str,
    ) {
        // Guards of an earlier retry are gone by now unless the driver skipped `sleep`.
        self.release_guards();
        let n = self.attempt;
        run_hooks(
            &RetryDetails {
                name,
                retry_num: n,
                wait_for: wait,
                waited_so_far: self.waited(),
                caused_by,
                error_type,
            },
            &mut self.guards,
        );
        self.waited_ns = self
            .waited_ns
            .saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        self.attempt = n.saturating_add(1);
    }

    /// Whether the time since the first attempt began is at least the timeout.
    ///
    /// The elapsed time is the larger of the clock's reading and the sum of the planned waits:
    /// in a real run the clock is always the larger (sleeps take at least their time), but under
    /// a paused tokio clock (`#[tokio::test(start_paused = true)]`) sleeps take no real time, and
    /// the waits are what the test means.
    fn timed_out(&self) -> bool {
        match (self.policy.timeout, self.start) {
            (Some(timeout), Some(start)) => start.elapsed().max(self.waited()) >= timeout,
            _ => false,
        }
    }

    #[inline]
    fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns)
    }

    /// Drops the guards of the retry under way, newest first.
    #[inline]
    pub fn release_guards(&mut self) {
        self.guards.release();
    }

    /// Sleeps the thread for `wait` (not at all for zero), then drops the retry's guards.
    pub fn sleep(&mut self, wait: Duration) {
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        self.release_guards();
    }

    /// Sleeps on the tokio timer for `wait`, then drops the retry's guards.
    ///
    /// A zero wait (testing mode) never touches the timer: tokio rounds every sleep up to its
    /// 1 ms tick, which would make each instant retry cost a millisecond.
    #[cfg(feature = "tokio")]
    pub async fn sleep_async(&mut self, wait: Duration) {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.release_guards();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_small() {
        // The state lives in every retrying future next to the operation's own future or a
        // tokio `Sleep`: keep it within a cache line.
        assert!(
            std::mem::size_of::<RetryState<'_>>() <= 40,
            "{}",
            std::mem::size_of::<RetryState<'_>>()
        );
    }
}
