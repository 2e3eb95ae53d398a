//! The hedged call form of a [`RetryingCaller`]: the tries of an attempt in flight together,
//! the first success winning (the semantics: [`crate::hedge`]).

use std::any::type_name;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use super::RetryingCaller;
use super::calls::{Failure, classify};
use crate::budget::RetryBudget;
use crate::clock::{Stamp, quick_nanos};
use crate::decision::Decision;
use crate::hedge::{HedgeEstimator, Hedging};
use crate::instrumentation::{ErrorView, HedgeDetails, HedgeReason, run_hedge};
use crate::nesting::Published;
use crate::on_ok::OnOk;
use crate::policy::RetryPolicy;
use crate::retrying::{RetryState, first_try_success};
use crate::scope::clock::{TestClock, VirtualSleep};
use crate::scope::switches::Switches;
use crate::sleeper::Sleeper;

/// How an attempt's race ended.
enum End<T, E> {
    /// A try succeeded.
    Won(T),
    /// Every try failed, or one failed with an error that `on` declines: the failure that
    /// ends the attempt, and what `on` decided of it.
    Failed(Failure<T, E>, Decision),
}

#[cfg(feature = "tokio")]
type TokioSleep = tokio::time::Sleep;
#[cfg(not(feature = "tokio"))]
type TokioSleep = crate::sleeper::Absent;

pin_project_lite::pin_project! {
    /// The timer of the next hedge: the sleeper's, tokio's own for the default sleeper in a
    /// tokio runtime (see [`Sleeper::hedge_on_tokio`]), or a test clock's virtual one.
    #[project = TimerProj]
    enum Timer<S> {
        Sleeper { #[pin] sleep: S },
        Tokio { #[pin] sleep: TokioSleep },
        Virtual { #[pin] sleep: VirtualSleep },
    }
}

impl<S: Future<Output = ()>> Future for Timer<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            TimerProj::Sleeper { sleep } => sleep.poll(cx),
            TimerProj::Tokio { sleep } => sleep.poll(cx),
            TimerProj::Virtual { sleep } => sleep.poll(cx),
        }
    }
}

/// How much of a call a hedged call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole call: attempts retried by the policy, the call counted by its budget.
    Call,
    /// One attempt, never retried (testing mode included), for a layer below a retry layer
    /// (the tower hedge layer). `counted`: the call is counted by the budget here; else the
    /// retry layer above counts it. Hedges withdraw from the budget either way.
    #[cfg_attr(
        not(feature = "tower"),
        allow(dead_code, reason = "the tower hedge layer's")
    )]
    Attempt { counted: bool },
}

impl Scope {
    /// Whether the call is counted by the budget here.
    fn counts(self) -> bool {
        matches!(self, Scope::Call | Scope::Attempt { counted: true })
    }

    /// A one-attempt call failed: counted by the budget if it is here (the call, and its last
    /// failure for gRPC throttling), and given back unchanged.
    #[cold]
    fn failed<T, E>(
        self,
        policy: &RetryPolicy,
        failure: Failure<T, E>,
        decision: Decision,
    ) -> Result<T, E> {
        if let Some(budget) = policy.budget.get().filter(|_| self.counts()) {
            budget.first_failure();
            if decision.is_retry() {
                budget.failed_unretried();
            }
        }
        match failure {
            Failure::Error(error) => Err(error),
            Failure::Value(value, _) => Ok(value),
        }
    }
}

/// What an attempt's race reads of its call.
struct Race<'a, S> {
    sleeper: &'a S,
    hedging: Hedging,
    policy: &'a RetryPolicy,
    /// When the call's first attempt began, if it measures time.
    start: Option<Stamp>,
    /// The attempt's number, from 1.
    attempt: u32,
    /// An adaptive delay's estimator, if this attempt's primary is a sampled one.
    estimator: Option<&'static HedgeEstimator>,
    /// When the primary was sent, if read.
    sent_at: Option<u64>,
}

/// What a race reads once its primary has had to wait: nothing of it is needed by a primary
/// that answers at once.
struct Waiting {
    /// Whether hedges may be sent (not in testing mode, not inactive).
    hedge: bool,
    /// The call's start and its timeout: no hedge past it.
    deadline: Option<(Stamp, Duration)>,
    budget: Option<&'static RetryBudget>,
    clock: Option<TestClock>,
}

impl<S, O, V> RetryingCaller<S, O, V> {
    /// Awaits `op()` as [`call_async`](Self::call_async) does, hedging each attempt: when no try
    /// has answered after the hedge delay, `op()` is called again and both run, up to
    /// [`Hedging::hedges`] hedges; the first success wins and the other tries are dropped. See
    /// [`crate::hedge`] for what happens on a failure, with retries, budgets and timeouts, and
    /// when not to hedge.
    ///
    /// `op` must be callable while its earlier futures are still running: `FnMut() -> Fut` where
    /// no future borrows from the closure itself (`|| client.get(&url)`, `|| async { .. }`
    /// around shared references). An `op` that needs `&mut` access to its captures cannot be
    /// hedged, and does not compile here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use stamina::hedge::Hedging;
    ///
    /// let tries = AtomicU32::new(0);
    /// let caller = stamina::RetryingCaller::new();
    /// let answer = caller
    ///     .call_hedged(Hedging::fixed(Duration::from_millis(10)), |_: &String| true, || async {
    ///         if tries.fetch_add(1, Ordering::Relaxed) == 0 {
    ///             tokio::time::sleep(Duration::from_secs(60)).await; // a straggler
    ///         }
    ///         Ok::<_, String>("fast")
    ///     })
    ///     .await;
    /// assert_eq!(answer.unwrap(), "fast");
    /// assert_eq!(tries.load(Ordering::Relaxed), 2, "the primary and one hedge");
    /// # }
    /// ```
    pub fn call_hedged<T, E, D, F, Fut, M>(
        &self,
        hedging: Hedging,
        on: impl FnMut(&E) -> D,
        op: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.hedged(hedging, on, op, Scope::Call)
    }

    /// The whole call, as [`call_hedged`](Self::call_hedged), or one hedged attempt and no
    /// retry (the tower hedge layer's; see [`Scope`]).
    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` would copy its arguments into locals, as for `call_async`"
    )]
    pub(crate) fn hedged<T, E, D, F, Fut, M>(
        &self,
        hedging: Hedging,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
        scope: Scope,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        async move {
            let start = self.start(false);
            // The first attempt's primary is polled once before anything of the race is set up:
            // one that answers at once costs what `call_async` costs, and an adaptive delay's
            // sample.
            let mut estimator = hedging.get_estimator().filter(|e| e.sample());
            let mut sent_at = estimator.map(|_| quick_nanos());
            let mut primary = pin!(Some(op()));
            let first = poll_fn(|cx| {
                Poll::Ready(match primary.as_mut().as_pin_mut() {
                    Some(future) => future.poll(cx),
                    None => Poll::Pending,
                })
            })
            .await;
            let mut early = match first {
                Poll::Ready(outcome) => {
                    primary.set(None);
                    match classify(&self.on_ok, outcome) {
                        Ok(value) => {
                            record(estimator, sent_at);
                            if scope.counts() {
                                first_try_success(&self.policy);
                            }
                            return Ok(value);
                        }
                        Err(failure) => Some(failure),
                    }
                }
                Poll::Pending => None,
            };
            // What only a race needs, made once the primary has not answered at once.
            let name = || self.label(type_name::<F>());
            let mut judge = |seen| {
                let failure = match seen {
                    Seen::Outcome(outcome) => match classify(&self.on_ok, outcome) {
                        Ok(value) => return Verdict::Won(value),
                        Err(failure) => failure,
                    },
                    Seen::Failed(failure) => failure,
                };
                match failure {
                    Failure::Error(error) => {
                        let decision = on(&error).into();
                        if decision.is_retry() {
                            Verdict::Retry(Failure::Error(error), decision)
                        } else {
                            Verdict::Fatal(error)
                        }
                    }
                    Failure::Value(value, decision) => {
                        Verdict::Retry(Failure::Value(value, decision), decision)
                    }
                }
            };
            let mut state: Option<RetryState<'_, Option<Stamp>>> = None;
            loop {
                let race = Race {
                    sleeper: &self.sleeper,
                    hedging,
                    policy: &self.policy,
                    start,
                    attempt: state.as_ref().map_or(1, RetryState::attempt_num),
                    estimator,
                    sent_at,
                };
                let end = race
                    .run(primary.as_mut(), early.take(), &mut op, &mut judge, &name)
                    .await;
                let (failure, decision) = match end {
                    End::Won(value) => {
                        match &state {
                            None if scope.counts() => first_try_success(&self.policy),
                            None => {}
                            Some(state) => state.succeeded(),
                        }
                        return Ok(value);
                    }
                    End::Failed(failure, decision) if scope != Scope::Call => {
                        return scope.failed(&self.policy, failure, decision);
                    }
                    // A declined error goes through the policy too (which gives it back at
                    // once), so that a budget counts the call as it does without hedging.
                    End::Failed(failure, decision) => (failure, decision),
                };
                let state = state.get_or_insert_with(|| self.resume(start));
                // The decision the race made of the failure, not `on` called again.
                let decided = &mut |_: &E| decision;
                match self.decide::<_, _, _, V, _>(state, failure, decided, type_name::<F>()) {
                    Ok(wait) => {
                        crate::sleep::backoff(&self.sleeper, wait).await;
                        state.release_guards();
                    }
                    Err(done) => return done,
                }
                // The next attempt's primary.
                estimator = hedging.get_estimator().filter(|e| e.sample());
                sent_at = estimator.map(|_| quick_nanos());
                primary.set(Some(op()));
            }
        }
    }
}

/// What the race judges: a try's outcome, or a failure already classified (the first
/// primary's, polled before the race).
enum Seen<T, E> {
    Outcome(Result<T, E>),
    Failed(Failure<T, E>),
}

/// What a try's outcome means for the race.
enum Verdict<T, E> {
    Won(T),
    /// An error that `on` declines: the attempt ends with it.
    Fatal(E),
    Retry(Failure<T, E>, Decision),
}

impl<S: Sleeper> Race<'_, S> {
    /// Runs one attempt: the primary, then hedges as the delay passes or tries fail.
    #[allow(
        clippy::too_many_lines,
        reason = "one poll loop over the tries, the timer and the sends, which share its state"
    )]
    async fn run<'n, T, E, F, Fut>(
        self,
        mut primary: Pin<&mut Option<Fut>>,
        mut early: Option<Failure<T, E>>,
        op: &mut F,
        judge: &mut impl FnMut(Seen<T, E>) -> Verdict<T, E>,
        name: &impl Fn() -> &'n str,
    ) -> End<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let estimator = self.estimator;
        // When the primary was sent: read at once for a sampled call, which records its
        // latency; else only once it has had to wait.
        let mut sent_at = self.sent_at;
        let mut waiting: Option<Waiting> = None;
        let published = self.attempt > 1;
        // The first attempt's primary was polled just before, and is still running.
        let mut polled_before = !published && early.is_none() && primary.is_some();
        // The hedges in flight, their numbers and why they were sent: allocated at the first.
        let mut hedges: Vec<(u32, HedgeReason, Pin<Box<Fut>>)> = Vec::new();
        let mut timer = pin!(None::<Timer<S::Sleep>>);
        let mut sent: u32 = 0;
        let mut last: Option<(Failure<T, E>, Decision)> = None;
        let mut first_poll = true;
        // A hedge due at once after the one just sent (a zero delay).
        let mut due_now = None;
        poll_fn(|cx| {
            loop {
                let mut to_send = due_now.take();
                // The first primary's failure, seen before the race.
                if let Some(failure) = early.take() {
                    match self.settle(judge(Seen::Failed(failure)), &mut last, &mut to_send) {
                        Ok(Some(value)) => return Poll::Ready(End::Won(value)),
                        Ok(None) => {}
                        Err(end) => return Poll::Ready(end),
                    }
                }
                // The primary (not again at once after the poll before the race: a future
                // that yields once, as tokio's `yield_now`, would not have yielded).
                let fresh = std::mem::take(&mut polled_before);
                if let Some(future) = primary.as_mut().as_pin_mut().filter(|_| !fresh) {
                    let polled = {
                        let _published = published.then(Published::enter);
                        future.poll(cx)
                    };
                    if let Poll::Ready(outcome) = polled {
                        primary.set(None);
                        let verdict = judge(Seen::Outcome(outcome));
                        match self.settle(verdict, &mut last, &mut to_send) {
                            Ok(Some(value)) => {
                                record(estimator, sent_at);
                                return Poll::Ready(End::Won(value));
                            }
                            Ok(None) => {}
                            Err(end) => return Poll::Ready(end),
                        }
                    }
                }
                // The hedges.
                let mut i = 0;
                while i < hedges.len() {
                    let polled = {
                        let _published = Published::enter();
                        hedges[i].2.as_mut().poll(cx)
                    };
                    let Poll::Ready(outcome) = polled else {
                        i += 1;
                        continue;
                    };
                    let (num, reason, _) = hedges.swap_remove(i);
                    let verdict = judge(Seen::Outcome(outcome));
                    match self.settle(verdict, &mut last, &mut to_send) {
                        Ok(Some(value)) => {
                            // The primary, still running, is censored at this time.
                            if primary.is_some() {
                                record(estimator, sent_at);
                            }
                            self.report(name, num, sent_at, reason, true);
                            return Poll::Ready(End::Won(value));
                        }
                        Ok(None) => {}
                        Err(end) => return Poll::Ready(end),
                    }
                }
                // The timer, set once the primary has had to wait.
                if first_poll {
                    first_poll = false;
                    if primary.is_some() {
                        sent_at.get_or_insert_with(quick_nanos);
                        let w = waiting.insert(self.waiting());
                        match next_delay(w, &self.hedging) {
                            Some(delay) if delay.is_zero() => {
                                to_send = to_send.or(Some(HedgeReason::Delay));
                            }
                            Some(delay) => timer.set(Some(self.timer(w, delay))),
                            None => {}
                        }
                    }
                }
                if let Some(t) = timer.as_mut().as_pin_mut() {
                    if t.poll(cx).is_ready() {
                        timer.set(None);
                        to_send = to_send.or(Some(HedgeReason::Delay));
                    }
                }
                if to_send.is_some() && waiting.is_none() {
                    waiting = Some(self.waiting());
                }
                if let (Some(reason), Some(w)) = (to_send, &waiting) {
                    if sent < u32::from(self.hedging.get_hedges()) && self.may_send(w) {
                        sent += 1;
                        hedges.push((sent, reason, Box::pin(op())));
                        sent_at.get_or_insert_with(quick_nanos);
                        self.report(name, sent, sent_at, reason, false);
                        // The next hedge one delay after this one (none after the last).
                        timer.set(None);
                        if sent < u32::from(self.hedging.get_hedges()) {
                            match next_delay(w, &self.hedging) {
                                Some(delay) if delay.is_zero() => due_now = Some(reason),
                                Some(delay) => timer.set(Some(self.timer(w, delay))),
                                None => {}
                            }
                        }
                        // Poll the new hedge (and anything woken meanwhile).
                        continue;
                    }
                }
                if primary.is_none() && hedges.is_empty() {
                    let (failure, decision) = last.take().expect("a try failed");
                    return Poll::Ready(End::Failed(failure, decision));
                }
                return Poll::Pending;
            }
        })
        .await
    }

    /// What a try's verdict does to the attempt: a win is the value; an error that `on`
    /// declines ends the attempt with it; a failure that `on` retries becomes the attempt's last
    /// and makes the next hedge due at once (one it replaces, never seen by the policy, still
    /// counts for gRPC throttling).
    fn settle<T, E>(
        &self,
        verdict: Verdict<T, E>,
        last: &mut Option<(Failure<T, E>, Decision)>,
        to_send: &mut Option<HedgeReason>,
    ) -> Result<Option<T>, End<T, E>> {
        match verdict {
            Verdict::Won(value) => Ok(Some(value)),
            Verdict::Fatal(error) => Err(End::Failed(Failure::Error(error), Decision::NoRetry)),
            Verdict::Retry(failure, decision) => {
                if last.replace((failure, decision)).is_some() {
                    if let Some(budget) = self.policy.budget.get() {
                        budget.failed_unretried();
                    }
                }
                *to_send = Some(HedgeReason::Failure);
                Ok(None)
            }
        }
    }

    /// What the race reads once its primary has had to wait.
    #[cold]
    fn waiting(&self) -> Waiting {
        let switches = Switches::current();
        Waiting {
            hedge: switches.is_active() && switches.testing_mode().is_none(),
            // In either timeout mode: a hedge is not a failure for stamina's rule to check after,
            // so the timeout bounds it when it would be sent.
            deadline: self.start.zip(self.policy.timeout),
            budget: self.policy.budget.get(),
            clock: crate::scope::clock(),
        }
    }

    /// Whether a hedge may be sent now: hedging on with a delay known, the deadline not passed,
    /// and the budget granting it (asked last, so that a hedge refused for another reason
    /// spends nothing).
    fn may_send(&self, w: &Waiting) -> bool {
        if next_delay(w, &self.hedging).is_none() {
            return false;
        }
        if let Some((start, timeout)) = w.deadline {
            if start.elapsed() >= timeout {
                return false;
            }
        }
        w.budget
            .is_none_or(|budget| budget.withdraw_hedge().is_some())
    }

    fn timer(&self, w: &Waiting, delay: Duration) -> Timer<S::Sleep> {
        match &w.clock {
            Some(clock) => Timer::Virtual {
                sleep: clock.sleep(delay),
            },
            #[cfg(feature = "tokio")]
            None if self.sleeper.hedge_on_tokio()
                && tokio::runtime::Handle::try_current().is_ok() =>
            {
                Timer::Tokio {
                    sleep: tokio::time::sleep(delay),
                }
            }
            None => Timer::Sleeper {
                sleep: self.sleeper.sleep(delay),
            },
        }
    }

    /// Runs the hooks for a hedge sent (or, `won`, for the hedge that won).
    #[cold]
    fn report<'n>(
        &self,
        name: &impl Fn() -> &'n str,
        num: u32,
        sent_at: Option<u64>,
        reason: HedgeReason,
        won: bool,
    ) {
        let after = match sent_at {
            Some(at) => Duration::from_nanos(quick_nanos().saturating_sub(at)),
            None => Duration::ZERO,
        };
        run_hedge(
            &HedgeDetails {
                name: name(),
                hedge_num: num,
                attempt_num: self.attempt,
                after,
                delay: self.hedging.delay(),
                reason,
            },
            won,
        );
    }
}

/// The delay before the next hedge, if hedging is on and one is known.
fn next_delay(w: &Waiting, hedging: &Hedging) -> Option<Duration> {
    if w.hedge { hedging.delay() } else { None }
}

/// Records the primary's latency (or the time it had run when a hedge won) with an adaptive
/// delay's estimator.
#[inline]
fn record(estimator: Option<&'static HedgeEstimator>, sent_at: Option<u64>) {
    if let (Some(estimator), Some(at)) = (estimator, sent_at) {
        record_sampled(estimator, at);
    }
}

/// [`record`] for a sampled call: out of line, so that the calls not sampled (and every call
/// of a fixed delay) pay one check; a call of its own cost them 15 instructions.
#[cold]
#[inline(never)]
fn record_sampled(estimator: &'static HedgeEstimator, sent_at: u64) {
    let now = quick_nanos();
    estimator.record_at(now.saturating_sub(sent_at), now);
}
