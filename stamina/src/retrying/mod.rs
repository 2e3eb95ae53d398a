//! The per-call state machine that the `#[retry]` attribute, the callers and the explicit loop
//! all drive.
//!
//! Per failed attempt, in stamina's order and then beyond it: the active switch (inactive: give
//! up), the `on` predicate (or the result predicate), the attempt limit, the timeout, the wait,
//! the deadline (which needs the wait), the nested-retry guard, the retry budget (last, so that
//! a retry refused for any other reason spends nothing), the hooks (`report.rs`), and then the
//! driver sleeps. A throttle (`throttle.rs`) is asked before the first attempt and, for a
//! retry, just before the budget; it hears of every reply. Before the first failure nothing
//! runs but, for a call that measures time, one read of the clock, and the budget's deposit
//! (and the throttle's count) when the call succeeds.

use std::fmt;
use std::time::Duration;

use crate::attempt::Attempt;
use crate::backoff;
use crate::budget::RetryBudget;
use crate::clock::{NoDeadline, PerCallDeadline, Stamp};
use crate::decision::Decision;
use crate::instrumentation::{Cause, DenyReason, Guards};
use crate::nesting::{self, Nesting};
use crate::on_ok::ValueCause;
use crate::policy::{PolicySource, RetryPolicy, TimeoutMode};
use crate::rng;
use crate::scope::switches::Switches;

mod report;
mod throttle;

use self::report::Seen;
pub(crate) use self::throttle::admit_first;
use self::throttle::throttle_succeeded;

/// Why a failure is not retried.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// Inactive, declined, or a limit reached: nothing to report.
    GiveUp,
    /// A retry that everything else allowed, denied: reported to the hooks.
    Denied(DenyReason),
}

/// The state of one retrying call.
pub struct RetryState<'p, D: PerCallDeadline = NoDeadline, P: PolicySource<'p> = &'p RetryPolicy> {
    policy: P,
    _policy: std::marker::PhantomData<&'p RetryPolicy>,
    /// When the first attempt began; taken only for a call that measures time (a timeout, a
    /// deadline, or a body that reads its [`Attempt`]). Made exact at the first failure.
    start: Option<Stamp>,
    /// The sum of the planned waits so far, in nanoseconds (saturating: 584 years).
    waited_ns: u64,
    /// The number of the attempt under way, from 1.
    attempt: u32,
    /// What the last retry cost its budget (a quota refunds it if the call then succeeds): in
    /// the padding after `attempt`, so the state does not grow.
    lease: u16,
    /// A sync call's publication of its attempts, for the nested-retry guard (one byte).
    published: nesting::Publication,
    /// The guards that hooks returned for the retry under way: one pointer, null for the calls
    /// (nearly all) that never have one, so its drop is a null check.
    guards: Guards,
    deadline: D,
}

impl<'p, D: PerCallDeadline, P: PolicySource<'p>> fmt::Debug for RetryState<'p, D, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryState")
            .field("policy", self.policy())
            .field("attempt", &self.attempt)
            .field("waited", &self.waited())
            .field("guards", &self.guards.len())
            .finish_non_exhaustive()
    }
}

impl<'p, P: PolicySource<'p>> RetryState<'p, NoDeadline, P> {
    /// Starts a call, just before its first attempt: reads the clock if the policy has a
    /// timeout.
    #[must_use]
    #[inline]
    pub fn new(policy: P) -> Self {
        Self::with_deadline(policy, NoDeadline, false)
    }

    /// Starts a call whose attempts read their [`Attempt`]: always reads the clock.
    #[must_use]
    #[inline]
    pub fn measured(policy: P) -> Self {
        Self::with_deadline(policy, NoDeadline, true)
    }
}

impl<'p, D: PerCallDeadline, P: PolicySource<'p>> RetryState<'p, D, P> {
    /// Starts a call with a per-call deadline, just before its first attempt; `measure` reads
    /// the clock even without a timeout or a deadline.
    #[must_use]
    #[inline]
    pub fn with_deadline(policy: P, deadline: D, measure: bool) -> Self {
        let mut state = Self::unstarted(policy, deadline);
        state.begin(measure);
        state
    }

    /// [`with_deadline`](Self::with_deadline), the stamp read before the state is built: one
    /// literal, written in place in an `async` fn's future (7 instructions fewer on the
    /// attribute's async happy path with a timeout; a sync fn's frame does better with
    /// `with_deadline`'s form).
    #[must_use]
    #[inline]
    pub(crate) fn begun(policy: P, deadline: D, measure: bool) -> Self {
        let measures = measure || policy.get().timeout.is_some() || deadline.get().is_some();
        if measures {
            Self::resumed(policy, Some(Stamp::now()), deadline)
        } else {
            Self::unstarted(policy, deadline)
        }
    }

    /// A call whose first attempt began at `start` (the stamp it took then, if it measures
    /// time): for a driver that builds the state only once that attempt failed.
    #[must_use]
    #[inline]
    pub fn resumed(policy: P, start: Option<Stamp>, deadline: D) -> Self {
        let mut state = Self::unstarted(policy, deadline);
        state.start = start;
        state
    }

    /// A call whose first attempt has not begun yet: see [`begin`](Self::begin).
    #[must_use]
    #[inline]
    pub fn unstarted(policy: P, deadline: D) -> Self {
        RetryState {
            policy,
            _policy: std::marker::PhantomData,
            start: None,
            waited_ns: 0,
            attempt: 1,
            lease: 0,
            published: nesting::Publication::default(),
            guards: Guards::new(),
            deadline,
        }
    }

    /// The first attempt begins: reads the clock if the call measures time. Idempotent.
    #[inline]
    pub fn begin(&mut self, measure: bool) {
        let measures = measure || self.policy().timeout.is_some() || self.deadline.get().is_some();
        if measures && self.start.is_none() {
            self.start = Some(Stamp::now());
        }
    }

    /// The policy.
    #[must_use]
    #[inline]
    pub fn policy(&self) -> &'p RetryPolicy {
        self.policy.get()
    }

    /// The number of the attempt under way, from 1.
    #[must_use]
    #[inline]
    pub fn attempt_num(&self) -> u32 {
        self.attempt
    }

    /// What the attempt under way may know: its number, the next wait's lower bound, the time
    /// since the first attempt began and the time left. Testing mode and inactivity make the
    /// next wait zero and remove the time limit, as they do for the call.
    #[must_use]
    pub fn attempt(&self) -> Attempt {
        let switches = Switches::current();
        let next_wait = if plain(switches) {
            backoff::lower_bound(self.policy(), self.attempt)
        } else {
            Duration::ZERO
        };
        self.attempt_in(switches).with_next_wait(next_wait)
    }

    /// The time the attempt under way has left, as [`attempt`](Self::attempt)'s `remaining`
    /// says, without reading the clock for the first attempt of a call without a per-call
    /// deadline: all of its timeout (none in testing mode or when inactive).
    #[cfg(feature = "tower")]
    #[inline]
    pub(crate) fn time_left(&self) -> Option<Duration> {
        if self.attempt == 1 && self.deadline.get().is_none() {
            let timeout = self.policy().timeout;
            return timeout.filter(|_| plain(Switches::current()));
        }
        self.attempt().remaining()
    }

    /// The per-call deadline, replaced.
    #[must_use]
    pub fn deadline<E: PerCallDeadline>(self, deadline: E) -> RetryState<'p, E, P> {
        RetryState {
            policy: self.policy,
            _policy: std::marker::PhantomData,
            start: self.start,
            waited_ns: self.waited_ns,
            attempt: self.attempt,
            lease: self.lease,
            published: self.published,
            guards: self.guards,
            deadline,
        }
    }

    /// The attempt under way under `switches`, without its next wait.
    fn attempt_in(&self, switches: Switches) -> Attempt {
        if plain(switches) {
            Attempt::new(
                self.attempt,
                self.start,
                self.policy().timeout,
                self.deadline.get(),
            )
        } else {
            Attempt::new(self.attempt, self.start, None, None)
        }
    }

    /// The jitter-less wait that follows if the attempt under way fails: stamina's
    /// `Attempt.next_wait`. Zero in testing mode and when inactive.
    #[must_use]
    pub fn next_wait(&self) -> Duration {
        self.attempt().next_wait
    }

    /// Handles the error of the attempt under way.
    ///
    /// `Err(error)`, unchanged, when the call gives up: inactive, `on` declines, or a limit is
    /// reached. Otherwise the hooks have run and `Ok(wait)` is the wait before the next attempt,
    /// which the driver sleeps (see [`sleep`](Self::sleep)); a zero wait is the driver's cue to
    /// yield instead (an `async` driver) or to go on at once (a sync one). `cause` says how
    /// hooks see the error (a closure, so that the attribute's probe of the error's type runs
    /// where that type is known); `name` gives the `callable` label. Both are called only for a
    /// failure that something looks at: hooks, a test clock's record, a denial's report.
    ///
    /// Out of line and cold: it is never on the happy path, and keeping it out of the driver's
    /// body keeps the first attempt's code tight.
    #[cold]
    #[inline(never)]
    pub fn failed<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        cause: impl FnOnce(&E) -> Cause<E>,
        name: impl FnOnce() -> &'n str,
    ) -> Result<Duration, E> {
        self.error_in(error, on, cause, name, None)
    }

    /// [`failed`](Self::failed) for a driver that may be unable to make another attempt
    /// (`refused`: a request whose body cannot be sent again): a retry that everything else
    /// allowed is then denied for that reason, before the budget is asked.
    #[cfg(feature = "tower")]
    #[cold]
    #[inline(never)]
    pub(crate) fn failed_unless<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        cause: impl FnOnce(&E) -> Cause<E>,
        name: impl FnOnce() -> &'n str,
        refused: Option<DenyReason>,
    ) -> Result<Duration, E> {
        self.error_in(error, on, cause, name, refused)
    }

    // Always inlined: into `failed` and `failed_unless`, each out of line already.
    #[allow(clippy::inline_always, reason = "the body of out-of-line functions")]
    #[inline(always)]
    fn error_in<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        cause: impl FnOnce(&E) -> Cause<E>,
        name: impl FnOnce() -> &'n str,
        refused: Option<DenyReason>,
    ) -> Result<Duration, E> {
        self.first_failure();
        let switches = Switches::current();
        if !switches.is_active() {
            return Err(error);
        }
        let decision = on(&error);
        self.throttle_failed(decision);
        let plan = self.plan(switches, decision, refused);
        let seen = || {
            let cause = cause(&error);
            Seen {
                caused_by: &error,
                error: (cause.error)(&error),
                shown: (cause.shown)(&error),
                error_type: (cause.error_type)(&error),
                decision,
                is_value: false,
            }
        };
        match plan {
            Ok(wait) => Ok(self.schedule(switches, wait, seen, name)),
            Err(stop) => {
                self.uncounted(stop, decision);
                self.stopped(stop, seen, name);
                Err(error)
            }
        }
    }

    /// Handles an `Ok` value of the attempt under way that the result predicate decided to
    /// retry (`decision`, anything but `NoRetry`): as [`failed`](Self::failed), `Err(value)`,
    /// unchanged, when the call gives up. Hooks see the value through `show`, labelled
    /// `error_type`.
    #[cold]
    #[inline(never)]
    pub fn value_failed<'n, T>(
        &mut self,
        value: T,
        decision: Decision,
        show: impl Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
        error_type: impl FnOnce() -> &'static str,
        name: impl FnOnce() -> &'n str,
    ) -> Result<Duration, T> {
        self.value_in(value, decision, show, error_type, name, None)
    }

    /// [`value_failed`](Self::value_failed), as [`failed_unless`](Self::failed_unless) is
    /// [`failed`](Self::failed).
    #[cfg(feature = "tower")]
    #[cold]
    #[inline(never)]
    pub(crate) fn value_failed_unless<'n, T>(
        &mut self,
        value: T,
        decision: Decision,
        show: impl Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
        error_type: impl FnOnce() -> &'static str,
        name: impl FnOnce() -> &'n str,
        refused: Option<DenyReason>,
    ) -> Result<Duration, T> {
        self.value_in(value, decision, show, error_type, name, refused)
    }

    #[allow(clippy::inline_always, reason = "the body of out-of-line functions")]
    #[inline(always)]
    fn value_in<'n, T>(
        &mut self,
        value: T,
        decision: Decision,
        show: impl Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
        error_type: impl FnOnce() -> &'static str,
        name: impl FnOnce() -> &'n str,
        refused: Option<DenyReason>,
    ) -> Result<Duration, T> {
        self.first_failure();
        let switches = Switches::current();
        if !switches.is_active() {
            return Err(value);
        }
        self.throttle_failed(decision);
        let plan = self.plan(switches, decision, refused);
        let cause = ValueCause {
            value: &value,
            fmt: &show,
        };
        let seen = || Seen {
            caused_by: &cause,
            error: None,
            shown: None,
            error_type: error_type(),
            decision,
            is_value: true,
        };
        match plan {
            Ok(wait) => Ok(self.schedule(switches, wait, seen, name)),
            Err(stop) => {
                self.uncounted(stop, decision);
                self.stopped(stop, seen, name);
                Err(value)
            }
        }
    }

    /// [`failed`](Self::failed), then [`sleep`](Self::sleep): what a sync retry loop does with
    /// an error, in one out-of-line call. `Err(error)`, unchanged, when the call gives up.
    #[cold]
    #[inline(never)]
    pub fn retry_or_give_up<'n, E: fmt::Debug>(
        &mut self,
        error: E,
        on: impl FnOnce(&E) -> Decision,
        cause: impl FnOnce(&E) -> Cause<E>,
        name: impl FnOnce() -> &'n str,
    ) -> Result<(), E> {
        let wait = self.failed(error, on, cause, name)?;
        self.publish();
        self.sleep(wait);
        Ok(())
    }

    /// [`value_failed`](Self::value_failed), then [`sleep`](Self::sleep).
    #[cold]
    #[inline(never)]
    pub fn retry_value_or_give_up<'n, T>(
        &mut self,
        value: T,
        decision: Decision,
        show: impl Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
        error_type: impl FnOnce() -> &'static str,
        name: impl FnOnce() -> &'n str,
    ) -> Result<(), T> {
        let wait = self.value_failed(value, decision, show, error_type, name)?;
        self.publish();
        self.sleep(wait);
        Ok(())
    }

    /// The wait before the next attempt, or why not: the decision, the limits, then the
    /// denials (the nesting guard, the driver's `refused`, the budget), in that order.
    // Always inlined: into `failed` and `value_failed`, both out of line already; a call of its
    // own measured 28 instructions a retry (the caller's, which has a per-call deadline).
    #[allow(clippy::inline_always, reason = "measured: see above")]
    #[inline(always)]
    fn plan(
        &mut self,
        switches: Switches,
        decision: Decision,
        refused: Option<DenyReason>,
    ) -> Result<Duration, Stop> {
        if !decision.is_retry() {
            return Err(Stop::GiveUp);
        }
        let n = self.attempt;
        if let Some(testing) = switches.testing_mode() {
            // Testing mode ignores the time and the budget, but not the nesting guard.
            if n >= testing.attempt_limit(self.policy().attempts) {
                return Err(Stop::GiveUp);
            }
            self.check_nesting(switches)?;
            if let Some(reason) = refused {
                return Err(Stop::Denied(reason));
            }
            return Ok(Duration::ZERO);
        }
        if self
            .policy()
            .attempt_limit()
            .is_some_and(|limit| n >= limit)
        {
            return Err(Stop::GiveUp);
        }
        let deadline_mode = self.policy().timeout_mode == TimeoutMode::Deadline;
        let left = self.remaining();
        if left.is_some_and(|left| left.is_zero()) {
            return Err(Stop::GiveUp);
        }
        let wait = decision
            .wait()
            .unwrap_or_else(|| backoff::wait(self.policy(), n, jitter));
        let least = if deadline_mode {
            self.policy().min_attempt_time
        } else {
            Duration::ZERO
        };
        if deadline_mode && left.is_some_and(|left| wait.saturating_add(least) >= left) {
            return Err(Stop::GiveUp);
        }
        // Denials come last: a retry is reported as denied only if every limit allowed it.
        self.check_nesting(switches)?;
        if let Some(reason) = refused {
            return Err(Stop::Denied(reason));
        }
        // The throttle before the budget, so that a retry it rejects spends no budget; its
        // delay joins the wait, and both fit in the time left.
        let wait = self.admit_retry(
            wait,
            left.map(|left| left.saturating_sub(wait.saturating_add(least))),
        )?;
        if let Some(budget) = self.budget() {
            match budget.withdraw(decision) {
                Some(cost) => self.lease = cost,
                None => return Err(Stop::Denied(DenyReason::Budget)),
            }
        }
        Ok(wait)
    }

    /// The nested-retry guard: denied if this call runs inside another retrying call's attempt
    /// under [`Nesting::Once`].
    #[inline]
    fn check_nesting(&self, switches: Switches) -> Result<(), Stop> {
        let nesting = self.policy().nested.unwrap_or(switches.get_nested());
        if nesting == Nesting::Once && self.published.nested() {
            return Err(Stop::Denied(DenyReason::Nested));
        }
        Ok(())
    }

    /// A failure that `on` retried but that a limit stopped before the budget was asked: gRPC
    /// throttling counts it all the same (a budget's own denial has counted it).
    #[inline]
    fn uncounted(&self, stop: Stop, decision: Decision) {
        if decision.is_retry() && !matches!(stop, Stop::Denied(DenyReason::Budget)) {
            if let Some(budget) = self.budget() {
                budget.failed_unretried();
            }
        }
    }

    /// The budget of the call, if any.
    #[inline]
    fn budget(&self) -> Option<&'static RetryBudget> {
        self.policy().budget.get()
    }

    /// The first attempt failed: a ratio budget counts the call.
    #[inline]
    fn first_failure(&self) {
        if self.attempt == 1 {
            if let Some(budget) = self.budget() {
                budget.first_failure();
            }
        }
    }

    /// The call succeeded: the throttle counts an accepted reply; at its first attempt, the
    /// budget counts the call; after retrying, a quota refunds the last retry. For the drivers,
    /// at each success.
    #[inline]
    pub fn succeeded(&self) {
        if self.attempt == 1 {
            first_try_success(self.policy());
            return;
        }
        if !self.policy().guarded.0 {
            return;
        }
        throttle_succeeded(self.policy());
        self.succeeded_after_retry();
    }

    /// A retrying stream healed: what came before succeeded, and the call starts afresh at
    /// attempt 1, with the first wait next and the timeout counted from now.
    #[cold]
    pub(crate) fn restart(&mut self) {
        self.succeeded();
        self.release_guards();
        self.attempt = 1;
        self.waited_ns = 0;
        self.lease = 0;
        if self.start.is_some() {
            self.start = Some(Stamp::now());
        }
    }

    #[cold]
    #[inline(never)]
    fn succeeded_after_retry(&self) {
        if let Some(budget) = self.budget() {
            budget.success_after_retry(self.lease);
        }
    }

    /// Runs one attempt of a call that publishes its attempts itself (an explicit loop's):
    /// published for the nested-retry guard from the second attempt on.
    #[inline]
    pub fn run<R>(&self, attempt: impl FnOnce() -> R) -> R {
        nesting::run(self.attempt, attempt)
    }

    /// A sync call retries: its thread publishes its attempts from now until the call ends.
    #[inline]
    pub fn publish(&mut self) {
        self.published.publish();
    }

    /// The time left before the timeout or the deadline, whichever comes first; `None` without
    /// either. The start becomes exact here, at the first failure.
    ///
    /// The elapsed time is the larger of the clock's reading and the sum of the planned waits:
    /// in a real run the clock is always the larger (sleeps take at least their time), but under
    /// a paused tokio clock without the `test-util` feature sleeps take no real time, and the
    /// waits are what the test means.
    fn remaining(&mut self) -> Option<Duration> {
        let deadline = self.deadline.get();
        if self.policy().timeout.is_none() && deadline.is_none() {
            return None;
        }
        // A loop that never called `attempt` starts now.
        let start = self.start.get_or_insert_with(Stamp::now).exact();
        self.start = Some(start);
        let by_timeout = self
            .policy()
            .timeout
            .map(|timeout| timeout.saturating_sub(start.elapsed().max(self.waited())));
        let by_deadline = deadline.map(Stamp::remaining);
        by_timeout.into_iter().chain(by_deadline).min()
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
}

/// A call under `policy` succeeded at its first attempt: its budget and its throttle count
/// it. The one cost of budgets and throttles on the happy path: one load for a policy that
/// names neither (nothing for a constant one, without the `process-budget` feature).
#[inline]
pub(crate) fn first_try_success(policy: &RetryPolicy) {
    if !policy.guarded.0 {
        return;
    }
    throttle_succeeded(policy);
    if let Some(budget) = policy.budget.get() {
        budget.first_try_success();
    }
}

/// A draw of the jitter, from `[0, 1)`: from a seeded test clock's generator in its scope, else
/// from the thread's.
fn jitter() -> f64 {
    let seeded = crate::scope::clock().and_then(|clock| clock.next_u64());
    rng::unit_from(seeded.unwrap_or_else(rng::next_u64))
}

/// Neither inactive nor in testing mode: the policy's waits and limits apply.
fn plain(switches: Switches) -> bool {
    switches.is_active() && switches.testing_mode().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_small() {
        // The state lives in every retrying future next to the operation's own future or a
        // tokio `Sleep`: keep it within a cache line, and without a per-call deadline for the
        // attribute's calls.
        assert!(std::mem::size_of::<RetryState<'_>>() <= 40);
        assert!(std::mem::size_of::<RetryState<'_, Option<Stamp>>>() <= 48);
    }
}
