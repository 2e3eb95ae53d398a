//! The call forms of a [`RetryingCaller`]: sync and `async`, with or without an [`Attempt`].

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::RetryingCaller;
use crate::attempt::Attempt;
use crate::clock::Stamp;
use crate::decision::Decision;
use crate::instrumentation::{Cause, ErrorView, label};
use crate::on_ok::OnOk;
use crate::retrying::{RetryState, first_try_success};
use crate::sleeper::Sleeper;

/// The loop of the async calls, which differ in the bound on `op` and in what they pass it:
/// `$measure` says whether the call reads the clock for an `Attempt`; `$first` is the first
/// attempt's future, which may read the call's `$start` stamp, and `$next` a later one's, which
/// may read the `$state`. `$Op` names the op's type for the default label, `$V` the caller's
/// [`ErrorView`]. Only the start stamp lives across the first attempt: the state is built if it
/// fails.
///
/// What an `async` body borrows keeps its storage in the future across every later `.await`:
/// the outcome of an attempt is awaited into a local before anything else is evaluated, and the
/// failure is moved, never borrowed.
macro_rules! retry_async {
    (
        $caller:ident, $on:ident, $Op:ty, $V:ty, $measure:expr,
        |$start:ident, $state:ident| first: $first:expr, next: $next:expr
    ) => {{
        let $start = $caller.start($measure);
        let outcome = $first.await;
        let mut failure = match classify(&$caller.on_ok, outcome) {
            Ok(value) => {
                first_try_success(&$caller.policy);
                return Ok(value);
            }
            Err(failure) => failure,
        };
        let mut $state = $caller.resume($start);
        loop {
            let wait = match $caller.decide::<_, _, _, $V, _>(
                &mut $state,
                failure,
                &mut $on,
                type_name::<$Op>(),
            ) {
                Ok(wait) => wait,
                Err(done) => return done,
            };
            // The backoff right in this future, not inside another one that also holds the
            // state: that keeps the future small.
            crate::sleep::backoff(&$caller.sleeper, wait).await;
            $state.release_guards();
            let outcome = crate::nesting::attempting($next).await;
            failure = match classify(&$caller.on_ok, outcome) {
                Ok(value) => {
                    $state.succeeded();
                    return Ok(value);
                }
                Err(failure) => failure,
            };
        }
    }};
}

/// What a failed attempt left: an error, or a value the result predicate retries.
pub(super) enum Failure<T, E> {
    Error(E),
    Value(T, Decision),
}

/// An attempt's outcome: the value to return, or the failure to handle. The outcome is moved in
/// and out, never borrowed by the caller's body: a local that an `async` body borrows keeps its
/// storage in the future across every later `.await`. Without a result predicate, `on_ok` is
/// `NoRetry`, inlined: a bare match.
#[inline]
pub(super) fn classify<T, E, O: OnOk<T>>(
    on_ok: &O,
    outcome: Result<T, E>,
) -> Result<T, Failure<T, E>> {
    match outcome {
        Ok(value) => match on_ok.on_ok(&value) {
            Decision::NoRetry => Ok(value),
            decision => Err(Failure::Value(value, decision)),
        },
        Err(error) => Err(Failure::Error(error)),
    }
}

impl<S, O, V> RetryingCaller<S, O, V> {
    /// Calls `op` until it succeeds, `on` declines its error, or a limit is reached; sleeps the
    /// thread between attempts. The last error comes back unchanged (or, for a value that the
    /// result predicate retried, the last value).
    ///
    /// `on` decides per error: it returns a `bool`, a [`Duration`], an `Option<Duration>` or a
    /// [`Decision`]. Do not call this from `async` code: it blocks the thread; use
    /// [`call_async`](Self::call_async).
    // Inlined: the first attempt is all there is of it here (the retries are out of line), and
    // a call of its own cost the happy path 15 instructions when LLVM chose one.
    #[inline]
    pub fn call<T, E, D, F, M>(&self, on: impl FnMut(&E) -> D, mut op: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        // Only the start stamp before the first attempt: the state is built if it fails.
        let start = self.start(false);
        let failure = match classify(&self.on_ok, op()) {
            Ok(value) => {
                first_try_success(&self.policy);
                return Ok(value);
            }
            Err(failure) => failure,
        };
        self.retry(start, failure, on, type_name::<F>(), |_| op())
    }

    /// [`call`](Self::call) for an `op` that reads its [`Attempt`]: its number, the time since
    /// the first attempt began and the time left before the timeout or the deadline, for a
    /// per-attempt timeout. The call reads the clock before its first attempt, timeout or not.
    ///
    /// ```
    /// use std::time::Duration;
    /// # fn query(limit: Duration) -> Result<u64, String> { if limit > Duration::ZERO { Ok(7) } else { Err("late".into()) } }
    ///
    /// let caller = stamina::RetryingCaller::new().timeout(Duration::from_secs(10));
    /// let rows = caller.call_with_attempt(|_: &String| true, |attempt| {
    ///     // No query outlives the call's budget, and none takes more than 2 s.
    ///     let limit = attempt.remaining().unwrap_or(Duration::MAX).min(Duration::from_secs(2));
    ///     query(limit)
    /// });
    /// assert_eq!(rows, Ok(7));
    /// ```
    pub fn call_with_attempt<T, E, D, F, M>(
        &self,
        on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Result<T, E>,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        let start = self.start(true);
        let first = self.resume(start).attempt();
        let failure = match classify(&self.on_ok, op(first)) {
            Ok(value) => {
                first_try_success(&self.policy);
                return Ok(value);
            }
            Err(failure) => failure,
        };
        self.retry(start, failure, on, type_name::<F>(), |s| op(s.attempt()))
    }

    /// What a failed attempt leads to: the wait before the next one (the hooks have run), or
    /// the result to return, the failure unchanged. Inlined into the out-of-line retry loops.
    #[inline]
    pub(super) fn decide<T, E, D, W, M>(
        &self,
        state: &mut RetryState<'_, Option<Stamp>>,
        failure: Failure<T, E>,
        on: &mut impl FnMut(&E) -> D,
        op_type: &'static str,
    ) -> Result<Duration, Result<T, E>>
    where
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        W: ErrorView<E, M>,
    {
        let name = || self.label(op_type);
        match failure {
            Failure::Error(error) => state
                .failed(error, |e| on(e).into(), |_| Cause::viewed::<W, M>(), name)
                .map_err(Err),
            Failure::Value(value, decision) => {
                let show = |v: &T, f: &mut fmt::Formatter<'_>| self.on_ok.fmt_value(v, f);
                state
                    .value_failed(value, decision, show, label::<T>, name)
                    .map_err(Ok)
            }
        }
    }

    /// The sync calls after their first attempt failed: out of line, so that the first
    /// attempt's code is as tight as a bare call.
    #[cold]
    #[inline(never)]
    fn retry<T, E, D, M>(
        &self,
        start: Option<Stamp>,
        mut failure: Failure<T, E>,
        mut on: impl FnMut(&E) -> D,
        op_type: &'static str,
        mut run: impl FnMut(&RetryState<'_, Option<Stamp>>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        let mut state = self.resume(start);
        let name = || self.label(op_type);
        loop {
            // Deciding and sleeping in one out-of-line call, as the attribute's sync loop does:
            // a wait handed back through `decide` cost this loop 17 instructions a retry.
            let given_up = match failure {
                Failure::Error(error) => state
                    .retry_or_give_up(error, |e| on(e).into(), |_| Cause::viewed::<V, M>(), name)
                    .map_err(Err),
                Failure::Value(value, decision) => {
                    let show = |v: &T, f: &mut fmt::Formatter<'_>| self.on_ok.fmt_value(v, f);
                    state
                        .retry_value_or_give_up(value, decision, show, label::<T>, name)
                        .map_err(Ok)
                }
            };
            if let Err(done) = given_up {
                return done;
            }
            failure = match classify(&self.on_ok, run(&state)) {
                Ok(value) => {
                    state.succeeded();
                    return Ok(value);
                }
                Err(failure) => failure,
            };
        }
    }

    /// Awaits `op()` until it succeeds, `on` declines its error, or a limit is reached; sleeps on
    /// the caller's [`sleeper`](Self::sleeper) between attempts (by default tokio's timer in a
    /// tokio runtime, another compiled-in timer elsewhere; a zero wait yields once instead). The
    /// last error comes back unchanged.
    ///
    /// `op` is a closure returning a future (`|| async { .. }`) or an async closure that does not
    /// mutate what it captures (`async || client.get(&url).await`): `FnMut() -> Fut`. The
    /// returned future is `Send` whenever `op`, `on` and `Fut` are, so it can be spawned and used
    /// in any web framework's handlers. For an async closure that mutates its captures, use
    /// [`call_async_mut`](Self::call_async_mut).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let task = tokio::spawn(async move {
    ///     let calls = AtomicU32::new(0);
    ///     let fetch = async || match calls.fetch_add(1, Ordering::Relaxed) {
    ///         0 => Err("flaky".to_string()),
    ///         n => Ok(n),
    ///     };
    ///     caller.call_async(|_: &String| true, fetch).await
    /// });
    /// assert_eq!(task.await.unwrap(), Ok(1));
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` would copy its arguments into locals: 16 B more per future"
    )]
    pub fn call_async<T, E, D, F, Fut, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
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
        // An `async` block rather than an `async fn`: the arguments are its captures, not
        // copied again into locals of the body, which would double their storage.
        async move { retry_async!(self, on, F, V, false, |start, state| first: op(), next: op()) }
    }

    /// [`call_async`](Self::call_async) for an `op` that reads its [`Attempt`], as
    /// [`call_with_attempt`](Self::call_with_attempt) does: `|attempt| async move { .. }`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// # async fn fetch() -> Result<u32, String> { Ok(1) }
    ///
    /// let caller = stamina::RetryingCaller::new().timeout(Duration::from_secs(10));
    /// let body = caller
    ///     .call_async_with_attempt(|_: &String| true, |attempt| async move {
    ///         let limit = attempt.remaining().unwrap_or(Duration::MAX).min(Duration::from_secs(2));
    ///         tokio::time::timeout(limit, fetch()).await.map_err(|e| e.to_string())?
    ///     })
    ///     .await;
    /// assert_eq!(body, Ok(1));
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` would copy its arguments into locals: 16 B more per future"
    )]
    pub fn call_async_with_attempt<T, E, D, F, Fut, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        // An `async` block rather than an `async fn`: the arguments are its captures, not
        // copied again into locals of the body, which would double their storage.
        async move {
            retry_async!(self, on, F, V, true, |start, state| first: op(self.resume(start).attempt()), next: op(state.attempt()))
        }
    }

    /// [`call_async`](Self::call_async) for an async closure that mutates what it captures
    /// (`async || { calls += 1; .. }`): `op` is `AsyncFnMut() -> Result<T, E>`.
    ///
    /// The trade-off: rustc (as of 1.95) cannot prove the returned future `Send` for any
    /// `AsyncFnMut` bound, whatever the closure ("implementation of `Send` is not general
    /// enough"): it cannot be spawned on a multi-thread runtime. Await it where `Send` is not
    /// needed, or use [`call_async`](Self::call_async), the `#[retry]` attribute (whose inline
    /// loop keeps `&mut` state and `Send` both), or a [`RetryContext`](crate::RetryContext).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let caller = stamina::RetryingCaller::new().wait_initial(std::time::Duration::ZERO).wait_jitter(std::time::Duration::ZERO);
    /// let mut calls = 0;
    /// let n: Result<u32, String> = caller
    ///     .call_async_mut(|_: &String| true, async || {
    ///         calls += 1;
    ///         if calls < 2 { Err("flaky".to_string()) } else { Ok(calls) }
    ///     })
    ///     .await;
    /// assert_eq!(n, Ok(2));
    /// # }
    /// ```
    #[allow(
        clippy::manual_async_fn,
        reason = "an `async fn` would copy its arguments into locals: 16 B more per future"
    )]
    pub fn call_async_mut<T, E, D, F, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: AsyncFnMut() -> Result<T, E>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        // An `async` block rather than an `async fn`: the arguments are its captures, not
        // copied again into locals of the body, which would double their storage.
        async move { retry_async!(self, on, F, V, false, |start, state| first: op(), next: op()) }
    }
}
