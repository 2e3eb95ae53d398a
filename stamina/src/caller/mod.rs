//! Retrying closures without the attribute: [`RetryingCaller`] (its configuration, here), its
//! call forms (`calls.rs`), its hedged calls (`hedged.rs`), its streams and iterators
//! (`streams.rs`), the [`BoundRetryingCaller`] (`bound.rs`) and the [`ThrottledCaller`]
//! (`throttled.rs`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Stamp;
use crate::context::RetryContext;
use crate::decision::Decision;
use crate::error::ConfigError;
use crate::instrumentation::{DebugOnly, ErrorAware};
use crate::on_ok::AcceptOk;
use crate::policy::{RetryPolicy, policy_setters};
use crate::retrying::RetryState;
use crate::sleeper::DefaultSleeper;

/// The setters of [`RetryPolicy`], for a type that holds one at `self.$path`.
macro_rules! forward_setters {
    ($path:tt $($kind:ident $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(forward_setters!(@ $path $kind $name($($arg: $ty),*));)*
    };
    (@ [$($path:ident).+] const $name:ident($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("[`RetryPolicy::", stringify!($name), "`](crate::RetryPolicy::", stringify!($name), "), for this caller.")]
        #[must_use]
        pub const fn $name(mut self, $($arg: $ty),*) -> Self {
            self.$($path).+ = self.$($path).+.$name($($arg),*);
            self
        }
    };
    (@ [$($path:ident).+] try $name:ident($($arg:ident: $ty:ty),*)) => {
        #[doc = concat!("[`RetryPolicy::", stringify!($name), "`](crate::RetryPolicy::", stringify!($name), "), for this caller.")]
        pub fn $name(mut self, $($arg: $ty),*) -> Result<Self, ConfigError> {
            self.$($path).+ = self.$($path).+.$name($($arg),*)?;
            Ok(self)
        }
    };
}

/// Calls `$m!` with the caller's own setters beyond its policy's: what the bound caller
/// forwards, besides [`policy_setters`], so that a bound caller has every setter its caller has.
macro_rules! caller_setters {
    ($m:ident) => {
        $m! {
            plain policy(policy: crate::policy::RetryPolicy);
            plain wait_exp_base(base: impl Into<f64>);
            try try_wait_exp_base(base: impl Into<f64>);
            plain name(name: impl Into<std::borrow::Cow<'static, str>>);
        }
    };
}

mod bound;
mod calls;
mod hedged;
mod streams;
mod throttled;

pub use self::bound::BoundRetryingCaller;
#[cfg(feature = "tower")]
pub(crate) use self::hedged::Scope;
pub use self::throttled::ThrottledCaller;

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
    /// value returns that value, unchanged. Any [`OnOk`](crate::OnOk) works: a closure (annotate its
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
