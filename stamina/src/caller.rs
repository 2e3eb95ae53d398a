//! Retrying without the attribute: [`RetryingCaller`], [`BoundRetryingCaller`] and the
//! explicit loop, [`RetryContext`].

use std::borrow::Cow;
use std::fmt;
#[cfg(feature = "tokio")]
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::Decision;
use crate::policy::{ConfigError, Policy, check_exp_base};
use crate::retrying::RetryState;

/// The loop of `call_async` and `call_async_mut`, which differ only in the bound on `op`.
#[cfg(feature = "tokio")]
macro_rules! retry_async {
    ($caller:ident, $on:ident, $op:ident, $Op:ty) => {{
        let mut state = RetryState::new(&$caller.policy);
        loop {
            match $op().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    // The name is the op's type name, computed when needed rather than held
                    // across the awaits: a smaller future.
                    let name = || $caller.label(std::any::type_name::<$Op>());
                    let wait = state.failed(error, |e| $on(e).into(), name)?;
                    // The `Sleep` right in this future, not inside another one that also holds
                    // the state: that keeps the future small.
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    state.release_guards();
                }
            }
        }
    }};
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
#[derive(Clone, Debug, PartialEq)]
pub struct RetryingCaller {
    policy: Policy,
    name: Option<Name>,
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
        RetryingCaller {
            policy: Policy::DEFAULT,
            name: None,
        }
    }

    /// At most `attempts` attempts in all, the first included (default 10). Like stamina, 0
    /// means one attempt; [`try_attempts`](Self::try_attempts) reports it as an error instead.
    #[must_use]
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.policy = self.policy.attempts(Some(attempts));
        self
    }

    /// Like [`attempts`](Self::attempts), but 0 is an error.
    pub fn try_attempts(self, attempts: u32) -> Result<Self, ConfigError> {
        if attempts == 0 {
            Err(ConfigError::ZeroAttempts)
        } else {
            Ok(self.attempts(attempts))
        }
    }

    /// No limit on the number of attempts. Without a timeout either, the call retries until `on`
    /// declines: use that for loops that must never give up, and nowhere else.
    #[must_use]
    pub const fn no_attempt_limit(mut self) -> Self {
        self.policy = self.policy.attempts(None);
        self
    }

    /// Gives up once `timeout` has passed since the first attempt began (default 45 s).
    ///
    /// The time is checked after each failure that `on` wants to retry: it never interrupts an
    /// attempt or shortens a sleep, so a call can overrun it by one wait and one attempt, as in
    /// stamina. A zero timeout means no retries at all. It is measured on the coarse monotonic
    /// clock, exact to within one tick of it (1 to 4 ms on Linux).
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.policy = self.policy.timeout(Some(timeout));
        self
    }

    /// No time limit.
    #[must_use]
    pub const fn no_timeout(mut self) -> Self {
        self.policy = self.policy.timeout(None);
        self
    }

    /// The wait after the first failure, before jitter (default 0.1 s).
    #[must_use]
    pub const fn wait_initial(mut self, wait: Duration) -> Self {
        self.policy = self.policy.wait_initial(wait);
        self
    }

    /// The cap on every computed wait, jitter included (default 5 s). A cap below `wait_initial`
    /// makes every wait equal to it, as in stamina.
    #[must_use]
    pub const fn wait_max(mut self, wait: Duration) -> Self {
        self.policy = self.policy.wait_max(wait);
        self
    }

    /// The upper bound of the uniform jitter added to each computed wait (default 1 s).
    #[must_use]
    pub const fn wait_jitter(mut self, wait: Duration) -> Self {
        self.policy = self.policy.wait_jitter(wait);
        self
    }

    /// The base of the exponential backoff (default 2).
    ///
    /// The formula is applied as written for any value: a base below 1 makes the waits shrink,
    /// a negative one makes some of them zero, and NaN or infinity make every wait `wait_max`.
    /// [`try_wait_exp_base`](Self::try_wait_exp_base) and [`validate`](Self::validate) report
    /// such values as errors instead.
    #[must_use]
    pub fn wait_exp_base(mut self, base: impl Into<f64>) -> Self {
        self.policy = self.policy.wait_exp_base(base.into());
        self
    }

    /// Like [`wait_exp_base`](Self::wait_exp_base), but a base below 1, NaN or infinite is an
    /// error.
    pub fn try_wait_exp_base(self, base: impl Into<f64>) -> Result<Self, ConfigError> {
        let base = base.into();
        check_exp_base(base)?;
        Ok(self.wait_exp_base(base))
    }

    /// The `callable` label in hooks, logs and metrics. Without it, a call is labelled with the
    /// type name of its operation closure (`my_crate::sync_users::{{closure}}`), an explicit loop
    /// with `<context block>`, as in stamina.
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(match name.into() {
            Cow::Borrowed(s) => Name::Static(s),
            Cow::Owned(s) => Name::Shared(s.into()),
        });
        self
    }

    /// Checks the configuration: `attempts(0)` and a `wait_exp_base` below 1, NaN or infinite
    /// are errors.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()
    }

    /// The attempt limit, if any.
    #[must_use]
    pub const fn get_attempts(&self) -> Option<u32> {
        self.policy.attempts
    }

    /// The timeout, if any.
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.policy.timeout
    }

    /// The `callable` label set with [`name`](Self::name), if any.
    #[must_use]
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_ref().map(Name::as_str)
    }

    fn label(&self, fallback: &'static str) -> &str {
        self.name.as_ref().map_or(fallback, Name::as_str)
    }

    /// Calls `op` until it succeeds, `on` declines its error, or a limit is reached; sleeps the
    /// thread between attempts. The last error comes back unchanged.
    ///
    /// `on` decides per error: it returns a `bool`, a [`Duration`], an `Option<Duration>` or a
    /// [`Decision`]. Do not call this from `async` code: it blocks the thread; use
    /// [`call_async`](Self::call_async).
    pub fn call<T, E, D>(
        &self,
        on: impl FnMut(&E) -> D,
        mut op: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: fmt::Debug,
        D: Into<Decision>,
    {
        let state = RetryState::new(&self.policy);
        match op() {
            Ok(value) => Ok(value),
            Err(error) => self.retry(state, error, on, op),
        }
    }

    /// [`call`](Self::call) after its first attempt failed: out of line, so that the first
    /// attempt's code is as tight as a bare call.
    #[cold]
    #[inline(never)]
    fn retry<T, E, D, F>(
        &self,
        mut state: RetryState<'_>,
        mut error: E,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        loop {
            let name = || self.label(std::any::type_name::<F>());
            state.retry_or_give_up(error, |e| on(e).into(), name)?;
            match op() {
                Ok(value) => return Ok(value),
                Err(next) => error = next,
            }
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
    #[cfg(feature = "tokio")]
    pub async fn call_async<T, E, D, F, Fut>(
        &self,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        retry_async!(self, on, op, F)
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
    #[cfg(feature = "tokio")]
    pub async fn call_async_mut<T, E, D, F>(
        &self,
        mut on: impl FnMut(&E) -> D,
        mut op: F,
    ) -> Result<T, E>
    where
        F: AsyncFnMut() -> Result<T, E>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        retry_async!(self, on, op, F)
    }

    /// Binds `on`, for a caller that retries one kind of error.
    #[must_use]
    pub fn on<E, D, P>(&self, on: P) -> BoundRetryingCaller<P>
    where
        P: Fn(&E) -> D,
        D: Into<Decision>,
    {
        BoundRetryingCaller {
            caller: self.clone(),
            on,
        }
    }

    /// Starts an explicit retry loop: see [`RetryContext`].
    pub fn context<E, D, P>(&self, on: P) -> RetryContext<'_, E, P>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
    {
        RetryContext {
            state: RetryState::new(&self.policy),
            name: self.label(CONTEXT_BLOCK),
            on,
            _error: PhantomData,
        }
    }
}

const CONTEXT_BLOCK: &str = "<context block>";

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
pub struct BoundRetryingCaller<P> {
    caller: RetryingCaller,
    on: P,
}

impl<P> BoundRetryingCaller<P> {
    /// The caller it is bound to.
    pub fn caller(&self) -> &RetryingCaller {
        &self.caller
    }

    /// [`RetryingCaller::call`] with the bound `on`.
    pub fn call<T, E, D>(&self, op: impl FnMut() -> Result<T, E>) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.call(&self.on, op)
    }

    /// [`RetryingCaller::call_async`] with the bound `on`.
    #[cfg(feature = "tokio")]
    pub async fn call_async<T, E, D, Fut>(&self, op: impl FnMut() -> Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.call_async(&self.on, op).await
    }

    /// [`RetryingCaller::call_async_mut`] with the bound `on`.
    #[cfg(feature = "tokio")]
    pub async fn call_async_mut<T, E, D>(
        &self,
        op: impl AsyncFnMut() -> Result<T, E>,
    ) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.call_async_mut(&self.on, op).await
    }

    /// [`RetryingCaller::context`] with the bound `on`.
    pub fn context<E, D>(&self) -> RetryContext<'_, E, &P>
    where
        P: Fn(&E) -> D,
        D: Into<Decision>,
    {
        self.caller.context(&self.on)
    }
}

/// An explicit retry loop, for code that cannot be a closure: stamina's `retry_context`.
///
/// It is the same state machine that `#[retry]` expands into. Each turn of the loop begins with
/// [`attempt`](Self::attempt), which reports stamina's [`Attempt`] (`num` and `next_wait`);
/// an error goes to [`backoff`](Self::backoff) (or [`backoff_async`](Self::backoff_async)),
/// which gives the error back, unchanged, when the call gives up, and otherwise sleeps.
///
/// ```
/// use std::io;
/// use stamina::RetryingCaller;
///
/// fn connect(attempt: u32) -> io::Result<&'static str> {
///     if attempt < 3 { Err(io::ErrorKind::ConnectionRefused.into()) } else { Ok("connected") }
/// }
///
/// # let _instant = stamina::testing::set_testing(true, 5, false);
/// let caller = RetryingCaller::new().attempts(5);
/// let mut retry = caller.context(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionRefused);
/// let conn = loop {
///     let attempt = retry.attempt();
///     match connect(attempt.num) {
///         Ok(conn) => break conn,
///         Err(e) => retry.backoff(e)?,
///     }
/// };
/// assert_eq!(conn, "connected");
/// # Ok::<(), io::Error>(())
/// ```
pub struct RetryContext<'c, E, P> {
    state: RetryState<'c>,
    name: &'c str,
    on: P,
    _error: PhantomData<fn(&E)>,
}

impl<E, P> fmt::Debug for RetryContext<'_, E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryContext")
            .field("state", &self.state)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One attempt of an explicit retry loop: stamina's `Attempt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's number, from 1.
    pub num: u32,
    /// The jitter-less lower bound of the wait that follows if this attempt fails:
    /// `min(wait_max, wait_initial * wait_exp_base^(num - 1))`. Zero in testing mode and when
    /// inactive. It does not know whether a retry will follow, nor what a predicate's
    /// [`Decision::RetryAfter`] will ask for.
    pub next_wait: Duration,
}

impl<E, P> RetryContext<'_, E, P> {
    /// Begins the next attempt (the first, on the first call).
    pub fn attempt(&mut self) -> Attempt {
        self.state.release_guards();
        Attempt {
            num: self.state.attempt_num(),
            next_wait: self.state.next_wait(),
        }
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps the thread for the backoff and returns `Ok(())`.
    pub fn backoff<D>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let wait = self.decide(error)?;
        self.state.sleep(wait);
        Ok(())
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps on the tokio timer for the backoff and returns `Ok(())`.
    #[cfg(feature = "tokio")]
    pub async fn backoff_async<D>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let wait = self.decide(error)?;
        self.state.sleep_async(wait).await;
        Ok(())
    }

    /// Handles a failed attempt's error without sleeping: `Err(error)`, unchanged, if the call
    /// gives up, else the wait before the next attempt, for a loop that sleeps on its own timer.
    /// The hooks' guards live until the next [`attempt`](Self::attempt).
    pub fn decide<D>(&mut self, error: E) -> Result<Duration, E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let on = &mut self.on;
        self.state.failed(error, |e| on(e).into(), || self.name)
    }
}
