//! Retrying closures without the attribute: [`RetryingCaller`] and [`BoundRetryingCaller`].

use std::any::type_name;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::attempt::Attempt;
use crate::clock::Stamp;
use crate::context::RetryContext;
use crate::decision::Decision;
use crate::error::ConfigError;
use crate::instrumentation::{Cause, label};
use crate::instrumentation::{DebugOnly, ErrorAware, ErrorView};
use crate::on_ok::{AcceptOk, OnOk};
use crate::policy::{RetryPolicy, policy_setters};
use crate::retrying::{RetryState, first_try_success};
use crate::sleeper::{DefaultSleeper, Sleeper};

/// The setters of [`RetryPolicy`], for a type that holds one at `self.$path`.
macro_rules! forward_setters {
    ($path:tt $($kind:ident $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(forward_setters!(@ $path $kind $name($($arg: $ty),*));)*
    };
    (@ [$($path:ident).+] const $name:ident($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("[`RetryPolicy::", stringify!($name), "`], for this caller.")]
        #[must_use]
        pub const fn $name(mut self, $($arg: $ty),*) -> Self {
            self.$($path).+ = self.$($path).+.$name($($arg),*);
            self
        }
    };
    (@ [$($path:ident).+] try $name:ident($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("[`RetryPolicy::", stringify!($name), "`], for this caller.")]
        pub fn $name(mut self, $($arg: $ty),*) -> Result<Self, ConfigError> {
            self.$($path).+ = self.$($path).+.$name($($arg),*)?;
            Ok(self)
        }
    };
}

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
enum Failure<T, E> {
    Error(E),
    Value(T, Decision),
}

/// An attempt's outcome: the value to return, or the failure to handle. The outcome is moved in
/// and out, never borrowed by the caller's body: a local that an `async` body borrows keeps its
/// storage in the future across every later `.await`. Without a result predicate, `on_ok` is
/// `NoRetry`, inlined: a bare match.
#[inline]
fn classify<T, E, O: OnOk<T>>(on_ok: &O, outcome: Result<T, E>) -> Result<T, Failure<T, E>> {
    match outcome {
        Ok(value) => match on_ok.on_ok(&value) {
            Decision::NoRetry => Ok(value),
            decision => Err(Failure::Value(value, decision)),
        },
        Err(error) => Err(Failure::Error(error)),
    }
}

/// A reusable retry configuration that retries closures: stamina's `RetryingCaller` and
/// `AsyncRetryingCaller` in one type.
///
/// It starts with stamina's defaults (10 attempts, 45 s timeout, waits from 0.1 s doubling up to
/// 5 s, plus up to 1 s of jitter); the setters chain. It is cheap to clone and `Send + Sync`, so
/// one caller can serve a whole program, each call with its own `on`.
///
/// ```
/// use std::{io, time::Duration};
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(3)
///     .wait_initial(Duration::ZERO)
///     .wait_jitter(Duration::ZERO)
///     .name("config::load");
///
/// let mut tries = 0;
/// let text = caller.call(
///     |e: &io::Error| e.kind() == io::ErrorKind::Interrupted,
///     || {
///         tries += 1;
///         if tries < 3 { Err(io::Error::from(io::ErrorKind::Interrupted)) } else { Ok("ok") }
///     },
/// )?;
/// assert_eq!((text, tries), ("ok", 3));
/// # Ok::<(), io::Error>(())
/// ```
///
/// Three behaviours are type parameters, each with a default that costs nothing: what `async`
/// calls sleep on (`S`, [`sleeper`](Self::sleeper)), the result predicate (`O`,
/// [`on_ok`](Self::on_ok)) and how hooks see errors (`V`, [`error_aware`](Self::error_aware)).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryingCaller<S = DefaultSleeper, O = AcceptOk, V = DebugOnly> {
    policy: RetryPolicy,
    name: Option<Name>,
    /// A per-call deadline: see [`with_deadline`](RetryingCaller::with_deadline).
    deadline: Option<Instant>,
    /// What the async calls sleep on: see [`sleeper`](RetryingCaller::sleeper).
    sleeper: S,
    /// Which `Ok` values are retried: see [`on_ok`](RetryingCaller::on_ok).
    on_ok: O,
    /// How hooks see errors: see [`error_aware`](RetryingCaller::error_aware).
    view: V,
}

/// The `callable` label: static or shared, so that cloning a caller never allocates.
#[derive(Clone, Debug, PartialEq)]
enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Static(s) => s,
            Name::Shared(s) => s,
        }
    }
}

impl Default for RetryingCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryingCaller {
    /// A caller with stamina's defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self::from_policy(RetryPolicy::DEFAULT)
    }

    /// A caller with this policy.
    #[must_use]
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        RetryingCaller {
            policy,
            name: None,
            deadline: None,
            sleeper: DefaultSleeper,
            on_ok: AcceptOk,
            view: DebugOnly,
        }
    }
}

impl<S, O, V> RetryingCaller<S, O, V> {
    /// This caller, sleeping its `async` calls' waits on `sleeper` instead of the
    /// [`DefaultSleeper`]: any [`Sleeper`](crate::Sleeper), a closure
    /// `|wait: Duration| my_timer(wait)` included. Sync calls sleep their thread whatever it is.
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> RetryingCaller<T, O, V> {
        RetryingCaller {
            policy: self.policy,
            name: self.name,
            deadline: self.deadline,
            sleeper,
            on_ok: self.on_ok,
            view: self.view,
        }
    }

    /// This caller, retrying the `Ok` values that `on_ok` asks to: the result predicate, the
    /// attribute's `on_ok`. It sees each `&T` and decides as `on` does (a `bool`, a
    /// [`Duration`], an `Option<Duration>` or a [`Decision`]); a call that gives up on a retried
    /// value returns that value, unchanged. Any [`OnOk`] works: a closure (annotate its
    /// argument, `|r: &Response| ..`), or `stamina::http::Classifier` (feature `http`).
    ///
    /// Each call's `on` still decides on errors: pass `|_| false` to retry none.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # struct Response { status: u16 }
    /// let caller = stamina::RetryingCaller::new()
    ///     .wait_initial(Duration::ZERO)
    ///     .wait_jitter(Duration::ZERO)
    ///     .on_ok(|r: &Response| r.status == 503);
    /// # impl std::fmt::Debug for Response { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}", self.status) } }
    /// let mut statuses = vec![200, 503, 503];
    /// let response = caller.call(|_: &std::io::Error| false, || {
    ///     Ok(Response { status: statuses.pop().unwrap() })
    /// });
    /// assert_eq!(response.unwrap().status, 200);
    /// ```
    #[must_use]
    pub fn on_ok<P>(self, on_ok: P) -> RetryingCaller<S, P, V> {
        RetryingCaller {
            policy: self.policy,
            name: self.name,
            deadline: self.deadline,
            sleeper: self.sleeper,
            on_ok,
            view: self.view,
        }
    }

    /// This caller, with hooks that see its errors as a `dyn Error` too
    /// ([`RetryDetails::error`](crate::instrumentation::RetryDetails::error)), to walk their
    /// `source()` chain or downcast them, and logs that show an error's `Display` chain rather
    /// than its `Debug`. Every call's error type must then implement `Error`, or be a
    /// `Box<dyn Error ..>` or an `anyhow::Error` (feature `anyhow`): a compile error says so
    /// otherwise.
    ///
    /// Without it, hooks see a caller's errors as `Debug` only, for errors of any type (a
    /// `String`, say): Rust cannot ask whether a generic error type is an `Error`. `#[retry]`
    /// needs no such step: it sees the fn's error type when it expands.
    #[must_use]
    pub fn error_aware(self) -> RetryingCaller<S, O, ErrorAware> {
        RetryingCaller {
            policy: self.policy,
            name: self.name,
            deadline: self.deadline,
            sleeper: self.sleeper,
            on_ok: self.on_ok,
            view: ErrorAware,
        }
    }
    /// The policy, to change it as a whole: `caller.policy(RetryPolicy::new().attempts(3))`.
    #[must_use]
    pub const fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    policy_setters!(forward_setters policy);

    /// [`RetryPolicy::wait_exp_base`], for this caller.
    #[must_use]
    pub fn wait_exp_base(mut self, base: impl Into<f64>) -> Self {
        self.policy = self.policy.wait_exp_base(base.into());
        self
    }

    /// [`RetryPolicy::try_wait_exp_base`], for this caller.
    pub fn try_wait_exp_base(mut self, base: impl Into<f64>) -> Result<Self, ConfigError> {
        self.policy = self.policy.try_wait_exp_base(base.into())?;
        Ok(self)
    }

    /// The `callable` label in hooks, logs and metrics. Without it, a call is labelled with the
    /// path of the fn that its operation closure is written in (`my_crate::sync_users`), or the
    /// operation's own path if it is a fn; an explicit loop with its call site
    /// (`src/sync.rs:42`). (stamina labels both `<context block>`.)
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(match name.into() {
            Cow::Borrowed(s) => Name::Static(s),
            Cow::Owned(s) => Name::Shared(s.into()),
        });
        self
    }

    /// Checks the configuration: see [`RetryPolicy::validate`].
    pub const fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()
    }

    /// The policy.
    #[must_use]
    pub const fn get_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The attempt limit, if any.
    #[must_use]
    pub const fn get_attempts(&self) -> Option<u32> {
        self.policy.get_attempts()
    }

    /// The timeout, if any.
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.policy.get_timeout()
    }

    /// This caller for one call with a deadline, such as one handed down from an incoming
    /// request: the call gives up by it as by its timeout (whichever comes first), enforced by
    /// the policy's [`TimeoutMode`](crate::TimeoutMode). A `tokio::time::Instant` converts too.
    /// It costs a clone of the caller (no allocation) and, on each call, a conversion of the
    /// instant; the explicit loop takes one with [`RetryContext::deadline`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use stamina::{RetryingCaller, TimeoutMode};
    ///
    /// let caller = RetryingCaller::new().timeout_mode(TimeoutMode::Deadline);
    /// // The request has 50 ms left; the backoff would wait 100 ms: no retry, at once.
    /// let deadline = Instant::now() + Duration::from_millis(50);
    /// let started = Instant::now();
    /// let mut calls = 0;
    /// let result = caller.with_deadline(deadline).call(|_: &String| true, || {
    ///     calls += 1;
    ///     Err::<(), _>(format!("attempt {calls} failed"))
    /// });
    /// assert_eq!(result, Err("attempt 1 failed".to_owned()));
    /// assert!(started.elapsed() < Duration::from_millis(50));
    /// ```
    #[must_use]
    pub fn with_deadline(&self, deadline: impl Into<Instant>) -> Self
    where
        S: Clone,
        O: Clone,
        V: Clone,
    {
        RetryingCaller {
            deadline: Some(deadline.into()),
            ..self.clone()
        }
    }

    /// The per-call deadline set with [`with_deadline`](Self::with_deadline), if any.
    #[must_use]
    pub const fn get_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The start stamp of a call that begins now, if it measures time: all that a sync call's
    /// first attempt needs.
    #[inline]
    fn start(&self, measure: bool) -> Option<Stamp> {
        let measures = measure || self.policy.timeout.is_some() || self.deadline.is_some();
        measures.then(Stamp::now)
    }

    /// The state of a call that began at `start`, with the per-call deadline on its clock.
    fn resume(&self, start: Option<Stamp>) -> RetryState<'_, Option<Stamp>> {
        RetryState::resumed(&self.policy, start, self.deadline.map(Stamp::from_instant))
    }

    /// The `callable` label set with [`name`](Self::name), if any.
    #[must_use]
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_ref().map(Name::as_str)
    }

    /// The `callable` label: the name given, else the path of the fn that the op's type is
    /// written in.
    fn label(&self, op_type: &'static str) -> &str {
        match &self.name {
            Some(name) => name.as_str(),
            None => crate::instrumentation::enclosing_fn(op_type),
        }
    }

    /// Calls `op` until it succeeds, `on` declines its error, or a limit is reached; sleeps the
    /// thread between attempts. The last error comes back unchanged (or, for a value that the
    /// result predicate retried, the last value).
    ///
    /// `on` decides per error: it returns a `bool`, a [`Duration`], an `Option<Duration>` or a
    /// [`Decision`]. Do not call this from `async` code: it blocks the thread; use
    /// [`call_async`](Self::call_async).
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
    /// the result to return, the failure unchanged.
    fn decide<T, E, D, W, M>(
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
        loop {
            let wait = match self.decide::<_, _, _, V, _>(&mut state, failure, &mut on, op_type) {
                Ok(wait) => wait,
                Err(done) => return done,
            };
            state.publish();
            state.sleep(wait);
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
    /// the tokio timer between attempts (a zero wait does not touch the timer). The last error
    /// comes back unchanged.
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
    /// loop keeps `&mut` state and `Send` both), or a [`RetryContext`].
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

    /// A retrying stream: `make` makes a stream of results; an `Err` item that `on` retries
    /// ends it, and after the backoff `make` is called again and its stream continues the
    /// output (a restart: its items come again from the start). An error `on` declines, or the
    /// last one, is the final item, unchanged. See [`crate::stream`], and
    /// [`heal_after`](Self::heal_after) for long-lived streams. The caller's result predicate
    /// does not apply to items.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let mut connections = 0;
    /// let feed = caller.stream(|_: &String| true, || {
    ///     connections += 1;
    ///     // The first connection fails after one item.
    ///     let items = if connections == 1 { vec![Ok(1), Err("reset".to_string())] } else { vec![Ok(1), Ok(2)] };
    ///     stream::iter(items)
    /// });
    /// assert_eq!(feed.collect::<Vec<_>>().await, [Ok(1), Ok(1), Ok(2)]);
    /// # }
    /// ```
    pub fn stream<T, E, D, F, St, M>(
        &self,
        on: impl FnMut(&E) -> D,
        mut make: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> St,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        let connect = move || std::future::ready(Ok::<St, E>(make()));
        self.retrying_stream(on, connect, type_name::<F>())
    }

    /// A retrying stream that connects first: `connect` is an `async` fn's shape,
    /// `|| async { Ok(client.subscribe().await?) }`, returning a stream of results. A connect
    /// error and an item error both go through `on` and restart it. See
    /// [`stream`](Self::stream).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let attempts = std::cell::Cell::new(0);
    /// let feed = caller.reconnect(|_: &String| true, || async {
    ///     attempts.set(attempts.get() + 1);
    ///     match attempts.get() {
    ///         1 => Err("refused".to_string()),
    ///         _ => Ok(stream::iter([Ok("hello")])),
    ///     }
    /// });
    /// assert_eq!(feed.collect::<Vec<_>>().await, [Ok("hello")]);
    /// assert_eq!(attempts.get(), 2);
    /// # }
    /// ```
    pub fn reconnect<T, E, D, F, Fut, St, M>(
        &self,
        on: impl FnMut(&E) -> D,
        connect: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.retrying_stream(on, connect, type_name::<F>())
    }

    /// [`reconnect`](Self::reconnect), labelled by the user's closure type `op_type`.
    fn retrying_stream<T, E, D, F, Fut, St, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        connect: F,
        op_type: &'static str,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        crate::stream::retry_stream(
            self.unstarted(),
            connect,
            move |e: &E| on(e).into(),
            |_: &E| Cause::viewed::<V, M>(),
            move || self.label(op_type),
            &self.sleeper,
            |sleeper: &&S, wait| crate::sleep::backoff(*sleeper, wait),
        )
    }

    /// A retrying iterator, sleeping the thread between attempts: [`stream`](Self::stream)
    /// for `make` returning an iterator of results.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let caller = stamina::RetryingCaller::new().wait_initial(Duration::ZERO).wait_jitter(Duration::ZERO);
    /// let mut pages = 0;
    /// let rows: Vec<_> = caller
    ///     .iter(|_: &String| true, || {
    ///         pages += 1;
    ///         let rows = if pages == 1 { vec![Ok(1), Err("timeout".to_string())] } else { vec![Ok(1), Ok(2)] };
    ///         rows.into_iter()
    ///     })
    ///     .collect();
    /// assert_eq!(rows, [Ok(1), Ok(1), Ok(2)]);
    /// ```
    pub fn iter<T, E, D, F, I, M>(
        &self,
        mut on: impl FnMut(&E) -> D,
        make: F,
    ) -> impl Iterator<Item = Result<T, E>>
    where
        V: ErrorView<E, M>,
        F: FnMut() -> I,
        I: Iterator<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        let op_type = type_name::<F>();
        crate::stream::retry_iter(
            self.unstarted(),
            make,
            move |e: &E| on(e).into(),
            |_: &E| Cause::viewed::<V, M>(),
            move || self.label(op_type),
        )
    }

    /// The state of a call whose first attempt has not begun, with the per-call deadline.
    fn unstarted(&self) -> RetryState<'_, Option<Stamp>> {
        RetryState::unstarted(&self.policy, self.deadline.map(Stamp::from_instant))
    }

    /// Binds `on`, for a caller that retries one kind of error.
    #[must_use]
    pub fn on<E, D, P>(&self, on: P) -> BoundRetryingCaller<P, S, O, V>
    where
        P: Fn(&E) -> D,
        D: Into<Decision>,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        BoundRetryingCaller {
            caller: self.clone(),
            on,
        }
    }

    /// Starts an explicit retry loop: see [`RetryContext`]. It has the caller's policy,
    /// deadline, sleeper, result predicate and view of errors, and the caller's name or else its
    /// call site as its `callable` label.
    #[track_caller]
    pub fn context<E, D, P>(&self, on: P) -> RetryContext<'_, E, P, S, O, V>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        let context = RetryContext::new(&self.policy, on)
            .sleeper(self.sleeper.clone())
            .on_ok(self.on_ok.clone())
            .view(self.view.clone());
        let context = match &self.name {
            Some(name) => context.name(name.as_str()),
            None => context,
        };
        match self.deadline {
            Some(deadline) => context.deadline(deadline),
            None => context,
        }
    }
}

impl From<RetryPolicy> for RetryingCaller {
    fn from(policy: RetryPolicy) -> Self {
        Self::from_policy(policy)
    }
}

/// A [`RetryingCaller`] with its `on` bound: stamina's `BoundRetryingCaller`.
///
/// ```
/// use std::num::{IntErrorKind, ParseIntError};
///
/// let caller = stamina::RetryingCaller::new().attempts(2);
/// let bound = caller.on(|e: &ParseIntError| e.kind() == &IntErrorKind::Empty);
/// let mut calls = 0;
/// let result = bound.call(|| {
///     calls += 1;
///     "x".parse::<u8>() // InvalidDigit: not retried
/// });
/// assert!(result.is_err());
/// assert_eq!(calls, 1);
/// ```
#[derive(Clone, Debug)]
pub struct BoundRetryingCaller<P, S = DefaultSleeper, O = AcceptOk, V = DebugOnly> {
    caller: RetryingCaller<S, O, V>,
    on: P,
}

impl<P, S, O, V> BoundRetryingCaller<P, S, O, V> {
    /// The caller it is bound to.
    pub fn caller(&self) -> &RetryingCaller<S, O, V> {
        &self.caller
    }

    /// [`RetryingCaller::sleeper`]: this bound caller, sleeping on `sleeper`.
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> BoundRetryingCaller<P, T, O, V> {
        BoundRetryingCaller {
            caller: self.caller.sleeper(sleeper),
            on: self.on,
        }
    }

    /// [`RetryingCaller::on_ok`]: this bound caller, retrying the `Ok` values `on_ok` asks to.
    #[must_use]
    pub fn on_ok<R>(self, on_ok: R) -> BoundRetryingCaller<P, S, R, V> {
        BoundRetryingCaller {
            caller: self.caller.on_ok(on_ok),
            on: self.on,
        }
    }

    /// [`RetryingCaller::error_aware`]: this bound caller, with hooks that see its errors as a
    /// `dyn Error`.
    #[must_use]
    pub fn error_aware(self) -> BoundRetryingCaller<P, S, O, ErrorAware> {
        BoundRetryingCaller {
            caller: self.caller.error_aware(),
            on: self.on,
        }
    }

    policy_setters!(forward_setters caller.policy);

    /// [`RetryingCaller::call`] with the bound `on`.
    pub fn call<T, E, D, M>(&self, op: impl FnMut() -> Result<T, E>) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call(&self.on, op)
    }

    /// [`RetryingCaller::with_deadline`]: this bound caller for one call with a deadline.
    #[must_use]
    pub fn with_deadline(&self, deadline: impl Into<Instant>) -> Self
    where
        P: Clone,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        BoundRetryingCaller {
            caller: self.caller.with_deadline(deadline),
            on: self.on.clone(),
        }
    }

    /// [`RetryingCaller::call_with_attempt`] with the bound `on`.
    pub fn call_with_attempt<T, E, D, M>(
        &self,
        op: impl FnMut(Attempt) -> Result<T, E>,
    ) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_with_attempt(&self.on, op)
    }

    /// [`RetryingCaller::call_async_with_attempt`] with the bound `on`.
    pub fn call_async_with_attempt<T, E, D, Fut, M>(
        &self,
        op: impl FnMut(Attempt) -> Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async_with_attempt(&self.on, op)
    }

    /// [`RetryingCaller::call_async`] with the bound `on`.
    pub fn call_async<T, E, D, Fut, M>(
        &self,
        op: impl FnMut() -> Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async(&self.on, op)
    }

    /// [`RetryingCaller::call_async_mut`] with the bound `on`.
    pub fn call_async_mut<T, E, D, M>(
        &self,
        op: impl AsyncFnMut() -> Result<T, E>,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async_mut(&self.on, op)
    }

    /// [`RetryingCaller::stream`] with the bound `on`.
    pub fn stream<T, E, D, F, St, M>(
        &self,
        make: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> St,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.stream(&self.on, make)
    }

    /// [`RetryingCaller::reconnect`] with the bound `on`.
    pub fn reconnect<T, E, D, F, Fut, St, M>(
        &self,
        connect: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.reconnect(&self.on, connect)
    }

    /// [`RetryingCaller::iter`] with the bound `on`.
    pub fn iter<T, E, D, F, I, M>(&self, make: F) -> impl Iterator<Item = Result<T, E>>
    where
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> I,
        I: Iterator<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.iter(&self.on, make)
    }

    /// [`RetryingCaller::context`] with the bound `on`.
    #[track_caller]
    pub fn context<E, D>(&self) -> RetryContext<'_, E, &P, S, O, V>
    where
        P: Fn(&E) -> D,
        D: Into<Decision>,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        self.caller.context(&self.on)
    }
}
