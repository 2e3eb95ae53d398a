//! Retrying closures without the attribute: [`RetryingCaller`] and [`BoundRetryingCaller`].

use std::borrow::Cow;
use std::fmt;
#[cfg(feature = "tokio")]
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::context::RetryContext;
use crate::decision::Decision;
use crate::policy::{ConfigError, RetryPolicy, policy_setters};
use crate::retrying::RetryState;

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
    policy: RetryPolicy,
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
        Self::from_policy(RetryPolicy::DEFAULT)
    }

    /// A caller with this policy.
    #[must_use]
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        RetryingCaller { policy, name: None }
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
        RetryContext::new(&self.policy, on).name(self.label(crate::context::CONTEXT_BLOCK))
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
pub struct BoundRetryingCaller<P> {
    caller: RetryingCaller,
    on: P,
}

impl<P> BoundRetryingCaller<P> {
    /// The caller it is bound to.
    pub fn caller(&self) -> &RetryingCaller {
        &self.caller
    }

    policy_setters!(forward_setters caller.policy);

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
