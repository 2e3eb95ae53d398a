//! What the `#[retry]` attribute expands into. **Not public API**: nothing here is covered by
//! semver, and any of it may change in any release.
//!
//! Only what the expansion calls is here. The items that a compile error can name are also
//! re-exported (hidden) at the crate root, so that rustc's diagnostics print them by their short
//! name rather than as `stamina::__private::..`.

#![allow(missing_docs, missing_debug_implementations)]

use std::time::Duration;

pub use crate::instrumentation::Cause;
pub use crate::instrumentation::{
    ErasedCause, ErrorProbe, LocalErrorProbe, OpaqueCause, TypedCause,
};
pub use crate::on::{Downcast, Exact, Mismatch, Probe, any_match, matched};
pub use crate::on_ok::OnOk;
pub use crate::policy::PolicySource;
pub use crate::retrying::RetryState;

use crate::decision::Decision;
use crate::error::{ConfigError, Spelling};
use crate::policy::RetryPolicy;
use crate::policy::{check_attempts, check_exp_base, check_heal_after, check_timeout};
pub use crate::sleep::Backoff;
#[cfg(any(feature = "tokio", feature = "async-io", feature = "futures-timer"))]
use crate::sleeper::DefaultSleeper;
use crate::sleeper::Sleeper;

/// Gives the predicate's output its expected type.
#[inline]
pub fn decide<D: Into<Decision>>(d: D) -> Decision {
    d.into()
}

/// Calls an `on` closure (or any predicate value) with the error; the closure's parameter type
/// comes from here, so `on = |e| e.is_transient()` needs no annotation.
#[inline]
#[must_use]
pub fn predicate<E: ?Sized, D: Into<Decision>>(
    error: &E,
    predicate: impl FnOnce(&E) -> D,
) -> Decision {
    predicate(error).into()
}

/// The `callable` label of a fn from the type name of an item nested in it:
/// `my_crate::Client::fetch::__stamina_name_probe` gives `my_crate::Client::fetch`.
///
/// The body of an `async fn` or of an `async` block is a closure to `type_name`
/// (`my_crate::fetch::{{closure}}::__stamina_name_probe`): those segments go too.
///
/// It runs on every retry, so the probe's known name is stripped as a suffix (a comparison of
/// 22 bytes) rather than searched for.
#[must_use]
pub fn fn_name(nested_type_name: &'static str) -> &'static str {
    let name = match nested_type_name.strip_suffix("::__stamina_name_probe") {
        Some(name) => name,
        None => match nested_type_name.rfind(':') {
            Some(i) => nested_type_name[..i].trim_end_matches(':'),
            None => nested_type_name,
        },
    };
    crate::instrumentation::enclosing_fn(name)
}

/// A rule of [`RetryPolicy`](crate::RetryPolicy), applied by const evaluation to an argument of
/// the attribute, with the rule's own text.
#[track_caller]
const fn or_panic<T: Copy>(value: T, check: Result<(), ConfigError>) -> T {
    match check {
        Ok(()) => value,
        Err(e) => panic!("{}", e.message_in(Spelling::Attribute)),
    }
}

/// `attempts = ..`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn attempts(attempts: u32) -> u32 {
    or_panic(attempts, check_attempts(attempts))
}

/// `timeout = ..`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn timeout(timeout: Duration) -> Duration {
    or_panic(timeout, check_timeout(timeout))
}

/// A duration literal of the attribute (`250ms`, `2.5e-3`), read by the one grammar at compile
/// time: a bad one is an error at the literal, with the grammar's rule.
#[track_caller]
#[must_use]
pub const fn duration(text: &str) -> Duration {
    match crate::duration::parse(text) {
        Ok(duration) => duration,
        Err(e) => panic!("{}", e.message()),
    }
}

/// A constant policy with `min_attempt_time = ..`, checked at compile time to be in deadline
/// mode, where it applies.
#[track_caller]
#[must_use]
pub const fn min_attempt_time_in_deadline_mode(policy: RetryPolicy) -> RetryPolicy {
    if matches!(policy.get_timeout_mode(), crate::TimeoutMode::AfterFailure) {
        panic!(
            "{}",
            ConfigError::MinAttemptTimeWithoutDeadline.message_in(Spelling::Attribute)
        );
    }
    policy
}

/// `heal_after = ..`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn heal_after(time: Duration) -> Duration {
    or_panic(time, check_heal_after(time))
}

/// `hedges = ..`, checked at compile time: 1 to [`MAX_HEDGES`](crate::hedge::MAX_HEDGES).
#[track_caller]
#[must_use]
pub const fn hedges(hedges: u32) -> u8 {
    assert!(
        hedges != 0 && hedges <= crate::hedge::MAX_HEDGES as u32,
        "`hedges` must be 1 to 4: the hedges sent beyond the first try, gRPC's cap being 5 tries in all"
    );
    #[allow(clippy::cast_possible_truncation, reason = "checked just above")]
    {
        hedges as u8
    }
}

/// What `hedge = ..` takes: a duration (a fixed delay), a [`Hedging`](crate::hedge::Hedging),
/// or a `static` [`HedgeEstimator`](crate::hedge::HedgeEstimator) (an adaptive delay).
#[diagnostic::on_unimplemented(
    message = "`hedge = ..` takes a delay, a `Hedging` or a `static` `HedgeEstimator`, not `{Self}`",
    label = "the hedge delay",
    note = "`hedge = 50ms`, `hedge = LOOKUP` (a `const LOOKUP: Hedging`), `hedge = SEARCH` (a `static SEARCH: HedgeEstimator`)"
)]
pub trait IntoHedging {
    /// The hedging it stands for.
    fn into_hedging(self) -> crate::hedge::Hedging;
}

impl IntoHedging for Duration {
    fn into_hedging(self) -> crate::hedge::Hedging {
        crate::hedge::Hedging::fixed(self)
    }
}

impl IntoHedging for &Duration {
    fn into_hedging(self) -> crate::hedge::Hedging {
        crate::hedge::Hedging::fixed(*self)
    }
}

impl IntoHedging for crate::hedge::Hedging {
    fn into_hedging(self) -> crate::hedge::Hedging {
        self
    }
}

impl IntoHedging for &crate::hedge::Hedging {
    fn into_hedging(self) -> crate::hedge::Hedging {
        *self
    }
}

impl IntoHedging for &'static crate::hedge::HedgeEstimator {
    fn into_hedging(self) -> crate::hedge::Hedging {
        crate::hedge::Hedging::adaptive(self)
    }
}

/// `hedge = ..` and `hedges = ..` (`None`: the hedging's own count).
#[inline]
pub fn hedging(hedge: impl IntoHedging, hedges: Option<u8>) -> crate::hedge::Hedging {
    let hedging = hedge.into_hedging();
    match hedges {
        Some(n) => hedging.hedges(n),
        None => hedging,
    }
}

/// Every argument of a hedged `async fn` is used by several tries at once, each with its own
/// copy: it must be `Copy` (a reference, a number, `&self`).
#[diagnostic::on_unimplemented(
    message = "a hedged fn's argument of type `{Self}` would be used by several tries at once",
    label = "each try of a hedged call gets its own copy of every argument, so each must be `Copy`",
    note = "take a reference (`&str` for `String`, `&self` for `&mut self`), or hedge a closure with `RetryingCaller::call_hedged`"
)]
pub trait HedgeArg {}

impl<T: Copy> HedgeArg for T {}

/// A hedged fn's `on`, its argument typed as the error of the fn's return type `R`, so that
/// `on = SomeType` can probe it where the closure is written.
#[inline]
pub fn hedged_on<R: IsResult, F: FnMut(&R::Err) -> Decision>(on: F) -> F {
    on
}

/// Requires a hedged fn's argument to be [`HedgeArg`].
#[inline]
pub fn hedge_arg<T: HedgeArg>(_: &T) {}

/// `wait_exp_base = ..`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn wait_exp_base(base: f64) -> f64 {
    or_panic(base, check_exp_base(base))
}

pub use crate::outcome::{IsResult, Outcome, OutcomeOk, split, split_ok};

/// A closure `on_ok`, called with the value; the closure's parameter type comes from here, so
/// `on_ok = |r| r.status() == 503` needs no annotation.
///
/// The value goes in and comes back out, rather than being borrowed in the fn's body: a local
/// that the body borrows keeps its storage in an `async fn`'s future across every later
/// `.await` (the backoff's).
#[inline]
#[must_use]
pub fn on_ok_fn<T, D: Into<Decision>>(value: T, on_ok: impl FnOnce(&T) -> D) -> (T, Decision) {
    let decision = on_ok(&value).into();
    (value, decision)
}

/// Any other `on_ok`: a [`OnOk`] value, such as `stamina::http::Classifier`; as [`on_ok_fn`].
#[inline]
#[must_use]
pub fn on_ok_value<T, O: OnOk<T> + ?Sized>(value: T, on_ok: &O) -> (T, Decision) {
    let decision = on_ok.on_ok(&value);
    (value, decision)
}

/// `budget = EXPR` read on each call: a `&'static RetryBudget`, such as a partition's.
#[inline]
#[must_use]
pub fn budget<B: SharedBudget>(budget: B) -> &'static crate::RetryBudget {
    budget.shared()
}

/// What `budget = EXPR` takes: a budget that the calls share, `&'static RetryBudget`.
#[diagnostic::on_unimplemented(
    message = "`budget = ..` takes a budget that the calls share, a `&'static RetryBudget`, not `{Self}`",
    label = "not a shared budget",
    note = "a budget counts the calls to one dependency: make it a `static` (`static DB: RetryBudget = RetryBudget::new();`) and name it, `budget = DB`, or per key: `budget = BY_HOST.get(host)` with a `static BY_HOST: Partitioned`"
)]
pub trait SharedBudget {
    fn shared(self) -> &'static crate::RetryBudget;
}

impl SharedBudget for &'static crate::RetryBudget {
    #[inline]
    fn shared(self) -> &'static crate::RetryBudget {
        self
    }
}

/// `throttle = EXPR` read on each call: a `&'static Throttle`, such as a partition's.
#[inline]
#[must_use]
pub fn throttle<T: SharedThrottle>(throttle: T) -> &'static crate::Throttle {
    throttle.shared()
}

/// What `throttle = EXPR` takes: a throttle that the calls share, `&'static Throttle`.
#[diagnostic::on_unimplemented(
    message = "`throttle = ..` takes a throttle that the calls share, a `&'static Throttle`, not `{Self}`",
    label = "not a shared throttle",
    note = "a throttle counts the replies of one dependency: make it a `static` (`static DB: Throttle = Throttle::adaptive();`) and name it, `throttle = DB`, or per key: `throttle = BY_HOST.get(host)` with a `static BY_HOST: Partitioned<Throttle>`"
)]
pub trait SharedThrottle {
    fn shared(self) -> &'static crate::Throttle;
}

impl SharedThrottle for &'static crate::Throttle {
    #[inline]
    fn shared(self) -> &'static crate::Throttle {
        self
    }
}

/// The policy with `throttle = ..`: a `const` fn, so that a constant policy keeps it.
#[inline]
#[must_use]
pub const fn with_throttle(policy: RetryPolicy, throttle: &'static crate::Throttle) -> RetryPolicy {
    policy.with_throttle(throttle)
}

/// `throttle = adaptive(k = ..)`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn throttle_k(k: f64) -> f64 {
    or_panic(k, crate::throttle::check_k(k))
}

/// `throttle = adaptive(window = ..)`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn throttle_window(window: Duration) -> Duration {
    or_panic(window, crate::throttle::check_window(window))
}

/// `throttle = adaptive(max_rejection = ..)`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn throttle_max_rejection(max: f64) -> f64 {
    or_panic(max, crate::throttle::check_max_rejection(max))
}

/// The return type of a fn with `throttle = ..`: a `Result` whose error carries a
/// [`Throttled`](crate::Throttled), which a call rejected before its first attempt returns.
#[diagnostic::on_unimplemented(
    message = "a fn with `throttle = ..` returns `Err(Throttled.into())` when the throttle rejects its call, and `{Self}` cannot carry a `stamina::Throttled`",
    label = "the throttle's rejection must convert into this type's error",
    note = "implement `From<stamina::Throttled>` for the fn's error type (a variant `Throttled(stamina::Throttled)` keeps it distinguishable)"
)]
pub trait FromThrottled {
    fn throttled(throttled: crate::Throttled) -> Self;
}

impl<T, E: From<crate::Throttled>> FromThrottled for Result<T, E> {
    #[inline]
    fn throttled(throttled: crate::Throttled) -> Self {
        Err(E::from(throttled))
    }
}

/// Asks a fn's throttle whether the call's first attempt may be sent: `Ok(delay)` (zero: now),
/// or the fn's return value for a rejected call. The time left is the policy's timeout.
#[inline]
pub fn admit<'n, R: FromThrottled>(
    policy: &RetryPolicy,
    name: impl FnOnce() -> &'n str,
) -> Result<Duration, R> {
    crate::retrying::admit_first(policy, || policy.get_timeout(), name).map_err(R::throttled)
}

/// How hooks see a value that a closure `on_ok` retried: its `Debug`.
pub fn show_debug<T: core::fmt::Debug + ?Sized>(
    value: &T,
    f: &mut core::fmt::Formatter<'_>,
) -> core::fmt::Result {
    core::fmt::Debug::fmt(value, f)
}

/// The `error_type` label of a type-erased error that `on = SomeType` matched by downcasting:
/// the matched type. `None` where the error is not type-erased or nothing matched.
#[inline]
#[must_use]
pub fn matched_type<On>(matched: bool) -> Option<&'static str> {
    matched.then(crate::instrumentation::label::<On>)
}

/// The `error_type` label of a retried value whose type the fn's return type does not write:
/// its full name.
#[inline]
#[must_use]
pub fn type_label_of<T>(_: &T) -> fn() -> &'static str {
    crate::instrumentation::label::<T>
}

/// The `make` of a stream fn, its item type fixed as the fn's return type writes it: a body
/// that leaves the error type to inference (`stream::iter(..).map(Ok)`) gets it here, before
/// `on` is checked against it.
#[inline]
pub fn stream_of<I, St, F>(make: F) -> F
where
    St: futures_core::Stream<Item = I>,
    F: FnMut() -> St,
{
    make
}

/// [`stream_of`] for an iterator fn.
#[inline]
pub fn iter_of<I, It, F>(make: F) -> F
where
    It: Iterator<Item = I>,
    F: FnMut() -> It,
{
    make
}

/// Runs one attempt of a sync fn: the closure's return type is `R`, the fn's own, so that `?`
/// and `return` in the body convert into it. (From the second attempt on, the state publishes
/// the call's attempts for the nested-retry guard.)
#[inline]
pub fn attempt_sync<R, F: FnOnce() -> R>(attempt: F) -> R {
    attempt()
}

pub use crate::nesting::{Attempting, attempting};

/// A call succeeded: the budget hears of it. The policy is passed as the expansion has it (a
/// `const`, for most fns), so that the compiler sees which budget it names.
#[inline]
pub fn succeeded<'p, D: crate::clock::PerCallDeadline, P: PolicySource<'p>>(
    policy: &RetryPolicy,
    state: &RetryState<'p, D, P>,
) {
    if !policy.get_budget_may_have() {
        return;
    }
    if state.attempt_num() == 1 {
        crate::retrying::first_try_success(policy);
    } else {
        state.succeeded();
    }
}

/// The state of an `async fn`'s call, just before its first attempt: the start stamp read
/// first, then the state built in place in the future (`RetryState::begun`).
#[inline]
pub fn async_state<'p, P: PolicySource<'p>>(
    policy: P,
) -> RetryState<'p, crate::clock::NoDeadline, P> {
    RetryState::begun(policy, crate::clock::NoDeadline, false)
}

/// One attempt of an `async fn`: gives the `async` block its output type, `R`, the fn's own,
/// so that `?` and `return` in the body convert into it.
#[inline]
pub fn attempt<R, F: core::future::Future<Output = R>>(attempt: F) -> F {
    attempt
}

/// The timer that an `async fn` without a `sleeper` sleeps on: the [`DefaultSleeper`], when a
/// timer feature is compiled in.
///
/// [`DefaultSleeper`]: crate::sleeper::DefaultSleeper
#[diagnostic::on_unimplemented(
    message = "`#[stamina::retry]` on an `async fn` needs a timer: none of `stamina`'s timer features is enabled",
    label = "the `async fn` sleeps between attempts",
    note = "enable one: `stamina = {{ version = \"..\", features = [\"tokio\"] }}` (or `\"async-io\"` for smol and async-std, `\"futures-timer\"` for any executor)",
    note = "or pass a sleeper of your own: `#[retry(sleeper = |wait| my_timer(wait), ..)]`"
)]
pub trait Timer {
    type Sleeper: Sleeper;
    fn sleeper(self) -> Self::Sleeper;
}

/// See [`Timer`].
pub struct DefaultTimer;

#[cfg(any(feature = "tokio", feature = "async-io", feature = "futures-timer"))]
impl Timer for DefaultTimer {
    type Sleeper = DefaultSleeper;
    #[inline]
    fn sleeper(self) -> DefaultSleeper {
        DefaultSleeper
    }
}

/// The backoff of an `async fn` on the default timer: a zero wait yields once, another sleeps.
/// The expansion awaits it in the fn's own future, then drops the retry's guards.
#[inline]
#[must_use = "the backoff happens when awaited"]
pub fn sleep<T: Timer>(
    timer: T,
    wait: Duration,
) -> Backoff<<T::Sleeper as Sleeper>::Sleep, impl core::future::Future<Output = ()>> {
    crate::sleep::backoff(&timer.sleeper(), wait)
}

/// [`sleep`] on the fn's own `sleeper`.
#[inline]
#[must_use = "the backoff happens when awaited"]
pub fn sleep_on<S: Sleeper>(
    sleeper: &S,
    wait: Duration,
) -> Backoff<S::Sleep, impl core::future::Future<Output = ()> + use<S>> {
    crate::sleep::backoff(sleeper, wait)
}

/// `#[retry]` on a fn that returns `impl Stream<Item = Result<T, E>>`: the stream, its waits on
/// `timer`'s sleeper (the default timer, or the fn's `sleeper`).
#[allow(
    clippy::too_many_arguments,
    reason = "the parts the expansion hands over"
)]
#[inline]
pub fn retry_stream<'n, P, F, St, T, E, S, On, C, N>(
    policy: P,
    sleeper: S,
    mut make: F,
    on: On,
    cause: C,
    name: N,
) -> impl futures_core::Stream<Item = Result<T, E>>
where
    P: PolicySource<'static>,
    S: Sleeper,
    F: FnMut() -> St,
    St: futures_core::Stream<Item = Result<T, E>>,
    E: core::fmt::Debug,
    On: FnMut(&E) -> Decision,
    C: FnMut(&E) -> Cause<E>,
    N: FnMut() -> &'n str + 'n,
{
    crate::stream::retry_stream(
        RetryState::unstarted(policy, crate::clock::NoDeadline),
        move || core::future::ready(Ok::<St, E>(make())),
        on,
        cause,
        name,
        sleeper,
        |sleeper: &S, wait| crate::sleep::backoff(sleeper, wait),
    )
}

/// The sleeper of a stream fn without `sleeper = ..`: the default timer's.
#[inline]
pub fn default_sleeper<T: Timer>(timer: T) -> T::Sleeper {
    timer.sleeper()
}

/// `#[retry]` on a fn that returns `impl Iterator<Item = Result<T, E>>`.
#[inline]
pub fn retry_iter<'n, P, F, I, T, E, On, C, N>(
    policy: P,
    make: F,
    on: On,
    cause: C,
    name: N,
) -> impl Iterator<Item = Result<T, E>>
where
    P: PolicySource<'static>,
    F: FnMut() -> I,
    I: Iterator<Item = Result<T, E>>,
    E: core::fmt::Debug,
    On: FnMut(&E) -> Decision,
    C: FnMut(&E) -> Cause<E>,
    N: FnMut() -> &'n str + 'n,
{
    crate::stream::retry_iter(
        RetryState::unstarted(policy, crate::clock::NoDeadline),
        make,
        on,
        cause,
        name,
    )
}

#[cfg(test)]
mod tests {
    use super::fn_name;

    #[test]
    fn fn_name_strips_the_probe_and_closures() {
        assert_eq!(
            fn_name("app::Client::fetch::__stamina_name_probe"),
            "app::Client::fetch"
        );
        assert_eq!(
            fn_name("app::get::{{closure}}::__stamina_name_probe"),
            "app::get"
        );
        assert_eq!(
            fn_name(
                "<app::Client as app::Fetch>::fetch::{{closure}}::{{closure}}::__stamina_name_probe"
            ),
            "<app::Client as app::Fetch>::fetch"
        );
        assert_eq!(
            fn_name("app::Cache<_>::get::other_probe"),
            "app::Cache<_>::get"
        );
        assert_eq!(fn_name("probe"), "probe");
    }
}
