//! What a hook is: [`RetryHook`], the [`RetryDetails`] it sees, the [`RetryGuard`] it may
//! return, and the registry entries that hold hooks ([`Hook`], [`RetryHookFactory`]).

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::cause::CausedBy;
use crate::attempt::Attempt;
use crate::decision::Decision;

/// What a hook learns about a scheduled retry.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RetryDetails<'a> {
    /// The `callable` label: the fn's path for `#[retry]` (or its `name`); for a
    /// [`RetryingCaller`](crate::RetryingCaller), the name it was given, else the path of the fn
    /// that the operation closure is written in; for an explicit loop, the name it was given,
    /// else its call site (`src/sync.rs:42`).
    pub name: &'a str,
    /// The number of the attempt that failed, which is also the number of this retry: 1 for the
    /// first retry.
    pub retry_num: u32,
    /// The wait before the next attempt (zero in testing mode).
    pub wait_for: Duration,
    /// The sum of the earlier planned waits of this call. `wait_for + waited_so_far` is the
    /// call's total waiting if the next attempt succeeds.
    pub waited_so_far: Duration,
    /// What caused this retry, whole: the error, or the `Ok` value that the result predicate
    /// retried ([`is_value`](Self::is_value)), as the predicate shows it (a closure's: the value's
    /// `Debug`). For one bounded line of text, see [`caused_by_text`](Self::caused_by_text).
    pub caused_by: &'a dyn fmt::Debug,
    /// [`caused_by`](Self::caused_by) as one line of text of at most
    /// [`CAUSED_BY_MAX_LEN`](super::CAUSED_BY_MAX_LEN) bytes, as the default hooks log it (before
    /// any [redaction](super::set_redactor)): an error's `Display` and its sources, `: `-joined;
    /// anything else's `Debug`. See [`CausedBy`]. Formatting it allocates nothing.
    pub caused_by_text: CausedBy<'a>,
    /// The error as a `dyn Error + 'static`, to downcast it: `Some` for an error whose type
    /// implements `Error` and is `'static`, and for a `Box<dyn Error ..>` or `anyhow::Error`
    /// (which deref to one). `None` for a retried value, for an error of another type (a
    /// `String`), for an error type that borrows or is generic (see
    /// [`dyn_error`](Self::dyn_error)), and for the callers and loops that are not
    /// [`error_aware`](crate::RetryingCaller::error_aware).
    pub error: Option<&'a (dyn Error + 'static)>,
    /// The error as a `dyn Error` of any lifetime, to show it and walk its `source()` chain:
    /// wherever [`error`](Self::error) is `Some`, and also for an error type that `#[retry]`
    /// cannot prove `'static` (one that borrows its input, `ParseError<'a>`, or is generic,
    /// `MyError<T>`), which a hook can read but not downcast.
    pub dyn_error: Option<&'a dyn Error>,
    /// The `error_type` metrics label. For an error, its type as `std::any::type_name` spells
    /// it (`my_crate::ApiError`), except that `#[retry(on = io::Error)]` labels an error that
    /// matched a type of `on` with that type as written there (`io::Error`), a type-erased
    /// error that nothing matched is labelled `Box<dyn Error + Send + Sync>` (and the like) or
    /// `anyhow::Error`. For a retried value, the value's type: as the fn's return type writes
    /// it, for `#[retry]` (`reqwest::Response` in `reqwest::Result<reqwest::Response>`).
    pub error_type: &'static str,
    /// The decision that scheduled this retry: [`Decision::Retry`],
    /// [`Decision::RetryAfter`] (a hint) or [`Decision::Throttled`].
    pub decision: Decision,
    /// Whether [`caused_by`](Self::caused_by) is an `Ok` value that the result predicate
    /// retried, rather than an error.
    pub is_value: bool,
    /// The attempt that failed, as it saw itself: its number, and its time, read when asked
    /// ([`elapsed`](Attempt::elapsed), [`remaining`](Attempt::remaining): `None` for a call
    /// that does not measure time, and `remaining` in testing mode). Its
    /// [`next_wait`](Attempt::next_wait) is zero here: [`wait_for`](Self::wait_for) is the wait.
    pub attempt: Attempt,
}

/// Why a retry that everything else allowed was not scheduled: see [`DeniedDetails`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// The call's [`RetryBudget`](crate::RetryBudget) is exhausted.
    Budget,
    /// The call runs inside another retrying call's attempt, under
    /// [`Nesting::Once`](crate::Nesting::Once).
    Nested,
    /// The request cannot be sent again: its body outgrew the buffer that replays it (the
    /// `tower` layer's `body_cap`, feature `tower`), or failed.
    Body,
    /// The call's [`Throttle`](crate::Throttle) rejected the retry, or its rate limiter's delay
    /// would pass the call's timeout or deadline.
    Throttle,
}

impl DenyReason {
    /// `budget`, `nested`, `body` or `throttle`: the `reason` label and field of the default
    /// hooks.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            DenyReason::Budget => "budget",
            DenyReason::Nested => "nested",
            DenyReason::Body => "body",
            DenyReason::Throttle => "throttle",
        }
    }
}

/// What a hook learns about a retry that was denied: one that the predicate, the attempts and
/// the time allowed, refused by a retry budget, by the nested-retry guard, or because the
/// request cannot be sent again (the `tower` layer's). The call gives up at once with this
/// cause, unchanged. No [`RetryHook::on_retry`] runs for it: no retry was scheduled.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct DeniedDetails<'a> {
    /// The `callable` label, as in [`RetryDetails::name`].
    pub name: &'a str,
    /// The number of the attempt that failed: the retry that was denied would have been
    /// `retry_num`, as in [`RetryDetails::retry_num`].
    pub retry_num: u32,
    /// The error (or value) the call gives back, as in [`RetryDetails::caused_by`].
    pub caused_by: &'a dyn fmt::Debug,
    /// [`caused_by`](Self::caused_by) as one bounded line of text, as in
    /// [`RetryDetails::caused_by_text`].
    pub caused_by_text: CausedBy<'a>,
    /// The error as a `dyn Error + 'static`, as in [`RetryDetails::error`].
    pub error: Option<&'a (dyn Error + 'static)>,
    /// The error as a `dyn Error` of any lifetime, as in [`RetryDetails::dyn_error`].
    pub dyn_error: Option<&'a dyn Error>,
    /// The `error_type` label, as in [`RetryDetails::error_type`].
    pub error_type: &'static str,
    /// Whether `caused_by` is an `Ok` value that the result predicate retried.
    pub is_value: bool,
    /// What the predicate decided.
    pub decision: Decision,
    /// Why the retry was denied.
    pub reason: DenyReason,
}

/// Why a hedge was sent: see [`HedgeDetails`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HedgeReason {
    /// The hedge delay passed with no try answered.
    Delay,
    /// A try failed with an error that `on` retries: the next hedge goes at once (gRPC A6's
    /// rule for a non-fatal status).
    Failure,
}

impl HedgeReason {
    /// `delay` or `failure`: the `reason` label and field of the default hooks.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            HedgeReason::Delay => "delay",
            HedgeReason::Failure => "failure",
        }
    }
}

/// What a hook learns about a hedge (a further try of a hedged call, sent while the others
/// are in flight), when it is sent and when it wins: see [`crate::hedge`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct HedgeDetails<'a> {
    /// The `callable` label, as in [`RetryDetails::name`].
    pub name: &'a str,
    /// The hedge's number among the tries of its attempt: 1 for the first hedge (the
    /// primary is 0).
    pub hedge_num: u32,
    /// The number of the attempt the hedge belongs to, from 1: a hedged call that also
    /// retries sends its hedges again in each attempt.
    pub attempt_num: u32,
    /// The time since the attempt's primary was sent.
    pub after: Duration,
    /// The hedge delay in force (`None` when the hedge was sent for a failure with no delay
    /// known).
    pub delay: Option<Duration>,
    /// Why it was sent.
    pub reason: HedgeReason,
}

/// What a [`Throttle`](crate::Throttle) did to a call's first attempt: see
/// [`ThrottleDetails`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThrottleAction {
    /// The call was not sent: it returns a [`Throttled`](crate::Throttled).
    Rejected,
    /// The call waits for the rate limiter before its first attempt.
    Delayed,
}

impl ThrottleAction {
    /// `rejected` or `delayed`: the `action` label and field of the default hooks.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleAction::Rejected => "rejected",
            ThrottleAction::Delayed => "delayed",
        }
    }
}

/// What a hook learns about a call that its [`Throttle`](crate::Throttle) rejected or delayed
/// before its first attempt (see [`crate::throttle`]). A retry that the throttle rejects is a
/// denial ([`DenyReason::Throttle`]), and a retry it delays has the delay in its wait.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ThrottleDetails<'a> {
    /// The `callable` label, as in [`RetryDetails::name`].
    pub name: &'a str,
    /// What the throttle did.
    pub action: ThrottleAction,
    /// The adaptive throttle's rejection probability in force (0 for the rate limiter).
    pub probability: f64,
    /// The rate limiter's delay (zero for a rejection).
    pub delay: Duration,
}

/// A value kept alive across the backoff sleep of one retry, then dropped exactly once: see the
/// [module docs](super#guards).
pub struct RetryGuard(#[allow(dead_code, reason = "held for its drop")] Held);

/// What a guard holds: a span in place (the default tracing hook's guard, on every retry, with
/// no allocation), anything else boxed.
enum Held {
    Boxed(#[allow(dead_code, reason = "held for its drop")] Box<dyn Send>),
    #[cfg(feature = "tracing")]
    Span(#[allow(dead_code, reason = "held for its drop")] tracing::Span),
}

impl RetryGuard {
    /// Wraps any `Send + 'static` value (boxed: one allocation). For a `tracing::Span`,
    /// `RetryGuard::from(span)` keeps it in place.
    pub fn new<G: Send + 'static>(guard: G) -> Self {
        RetryGuard(Held::Boxed(Box::new(guard)))
    }
}

/// A span as a guard, without an allocation (feature `tracing`).
#[cfg(feature = "tracing")]
impl From<tracing::Span> for RetryGuard {
    fn from(span: tracing::Span) -> Self {
        RetryGuard(Held::Span(span))
    }
}

impl fmt::Debug for RetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryGuard")
    }
}

/// What a hook closure may return: nothing, a [`RetryGuard`], or an `Option` of one.
pub trait IntoRetryGuard {
    /// The guard, if any.
    fn into_retry_guard(self) -> Option<RetryGuard>;
}

impl IntoRetryGuard for () {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        None
    }
}

impl IntoRetryGuard for RetryGuard {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        Some(self)
    }
}

impl IntoRetryGuard for Option<RetryGuard> {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        self
    }
}

/// Called for each scheduled retry, after the decision to retry and before the sleep, and
/// (optionally) for each retry denied by a budget, the nesting guard, a throttle or a body that
/// cannot be sent again, each hedge, and each call a throttle rejects or delays.
///
/// Closures `Fn(&RetryDetails<'_>)` returning `()`, a [`RetryGuard`] or an `Option<RetryGuard>`
/// are hooks (of scheduled retries only).
pub trait RetryHook: Send + Sync + 'static {
    /// Called for each scheduled retry; may return a guard that lives across the sleep.
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard>;

    /// Called when a retry is denied (a retry budget, the nested-retry guard, a body that cannot
    /// be sent again: [`DenyReason`]): by default nothing. The default hooks emit a `stamina.retry_denied` event and count
    /// `stamina_retries_denied_total`.
    fn on_denied(&self, details: &DeniedDetails<'_>) {
        let _ = details;
    }

    /// Called when a hedged call sends a hedge ([`crate::hedge`]): by default nothing. The
    /// default hooks emit a `stamina.hedge_scheduled` event and count `stamina_hedges_total`.
    fn on_hedge(&self, details: &HedgeDetails<'_>) {
        let _ = details;
    }

    /// Called when a hedge, not the primary, gave a hedged call its result: by default
    /// nothing. The default metrics hook counts `stamina_hedges_won_total`.
    fn on_hedge_won(&self, details: &HedgeDetails<'_>) {
        let _ = details;
    }

    /// Called when a call's [`Throttle`](crate::Throttle) rejects or delays its first attempt
    /// ([`crate::throttle`]): by default nothing. The default hooks emit a
    /// `stamina.call_throttled` event and count `stamina_calls_throttled_total`.
    fn on_throttled(&self, details: &ThrottleDetails<'_>) {
        let _ = details;
    }
}

impl<F, R> RetryHook for F
where
    F: Fn(&RetryDetails<'_>) -> R + Send + Sync + 'static,
    R: IntoRetryGuard,
{
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        self(details).into_retry_guard()
    }
}

/// Builds a hook lazily, on the first retry after it was registered (or on
/// [`get_on_retry_hooks`](super::get_on_retry_hooks)): for hooks whose setup is expensive or
/// has side effects, such as registering a metric.
#[derive(Clone)]
pub struct RetryHookFactory(Arc<dyn Fn() -> Arc<dyn RetryHook> + Send + Sync>);

impl RetryHookFactory {
    /// A factory that calls `build` once per registration.
    pub fn new<H: RetryHook>(build: impl Fn() -> H + Send + Sync + 'static) -> Self {
        RetryHookFactory(Arc::new(move || Arc::new(build()) as Arc<dyn RetryHook>))
    }
}

impl fmt::Debug for RetryHookFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryHookFactory")
    }
}

/// An entry of the hook registry: a hook, a shared hook or a factory.
///
/// Anything that implements [`RetryHook`] (closures included) converts into a `Hook`, and so do
/// a [`RetryHookFactory`] and an `Arc<dyn RetryHook>`, such as
/// [`get_on_retry_hooks`](super::get_on_retry_hooks) returns:
///
/// ```
/// use stamina::instrumentation::{get_on_retry_hooks, set_on_retry_hooks, reset_on_retry_hooks};
///
/// let defaults = get_on_retry_hooks();
/// set_on_retry_hooks(defaults); // the same hooks again, shared
/// # reset_on_retry_hooks();
/// ```
#[derive(Clone, Debug)]
pub struct Hook(HookKind);

#[derive(Clone)]
enum HookKind {
    Ready(Arc<dyn RetryHook>),
    Factory(RetryHookFactory),
}

impl fmt::Debug for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookKind::Ready(_) => f.write_str("Hook"),
            HookKind::Factory(factory) => factory.fmt(f),
        }
    }
}

impl Hook {
    /// A registry entry for a shared hook: the same as `Hook::from(hook)`.
    pub fn shared(hook: Arc<dyn RetryHook>) -> Self {
        Hook(HookKind::Ready(hook))
    }

    /// The hook, built by its factory if it has one.
    pub(super) fn resolve(&self) -> Arc<dyn RetryHook> {
        match &self.0 {
            HookKind::Ready(hook) => Arc::clone(hook),
            HookKind::Factory(factory) => (factory.0)(),
        }
    }
}

impl<H: RetryHook> From<H> for Hook {
    fn from(hook: H) -> Self {
        Hook(HookKind::Ready(Arc::new(hook)))
    }
}

impl From<Arc<dyn RetryHook>> for Hook {
    /// A shared hook, registered as it is (not wrapped in another `Arc`).
    fn from(hook: Arc<dyn RetryHook>) -> Self {
        Hook::shared(hook)
    }
}

impl From<RetryHookFactory> for Hook {
    fn from(factory: RetryHookFactory) -> Self {
        Hook(HookKind::Factory(factory))
    }
}
