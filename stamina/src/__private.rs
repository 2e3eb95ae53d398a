//! What the `#[retry]` attribute expands into. **Not public API**: nothing here is covered by
//! semver, and any of it may change in any release.

#![allow(missing_docs, missing_debug_implementations)]

use std::marker::PhantomData;

pub use crate::Decision;
pub use crate::policy::Policy;
pub use crate::retrying::RetryState;
pub use core;
pub use std::time::Duration;

/// Not public API. Gives the predicate's output its expected type.
#[inline]
pub fn decide<D: Into<Decision>>(d: D) -> Decision {
    d.into()
}

/// Not public API. The `callable` label of a fn from the type name of an item nested in it:
/// `my_crate::Client::fetch::__stamina_name_probe` gives `my_crate::Client::fetch`.
///
/// The body of an `async fn` or of an `async` block is a closure to `type_name`
/// (`my_crate::fetch::{{closure}}::__stamina_name_probe`): those segments go too.
///
/// It runs on every retry, so the probe's known name is stripped as a suffix (a comparison of
/// 22 bytes) rather than searched for.
#[must_use]
pub fn fn_name(nested_type_name: &'static str) -> &'static str {
    let mut name = match nested_type_name.strip_suffix("::__stamina_name_probe") {
        Some(name) => name,
        None => match nested_type_name.rfind(':') {
            Some(i) => nested_type_name[..i].trim_end_matches(':'),
            None => nested_type_name,
        },
    };
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    name
}

/// Not public API. Type of the value the fn returns, checked to be a `Result`.
///
/// [`split`] is the one place where the expansion needs the fn's return type to be a `Result`,
/// so that a fn that returns something else gets one error, this one, and nothing after it.
#[diagnostic::on_unimplemented(
    message = "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, not `{Self}`",
    label = "this type is not a `Result`",
    note = "stamina retries on errors: return a `Result` (or an alias of one, like `io::Result<T>`)"
)]
pub trait IsResult: Sized {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    fn from_ok(value: Self::Ok) -> Self;
    fn from_err(error: Self::Err) -> Self;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn into_result(self) -> Self {
        self
    }
    #[inline]
    fn from_ok(value: T) -> Self {
        Ok(value)
    }
    #[inline]
    fn from_err(error: E) -> Self {
        Err(error)
    }
}

/// Not public API. An attempt's outcome: the value to return, or the error and the way back to
/// the fn's return type once the call gives up.
pub enum Outcome<R, E> {
    Done(R),
    Failed(E, fn(E) -> R),
}

/// Not public API. Splits an attempt's outcome; the only bound on the fn's return type.
#[inline]
pub fn split<R, E>(outcome: R) -> Outcome<R, E>
where
    R: IsResult<Err = E>,
{
    match outcome.into_result() {
        Ok(value) => Outcome::Done(R::from_ok(value)),
        Err(error) => Outcome::Failed(error, R::from_err),
    }
}

/// Not public API. Runs one attempt of a sync fn: the closure's return type is `R`, the fn's
/// own, so that `?` and `return` in the body convert into it.
#[inline]
pub fn attempt_sync<R, F: FnOnce() -> R>(attempt: F) -> R {
    attempt()
}

/// Not public API. One attempt of an `async fn`: gives the `async` block its output type, `R`,
/// the fn's own, so that `?` and `return` in the body convert into it.
#[inline]
pub fn attempt<R, F: core::future::Future<Output = R>>(attempt: F) -> F {
    attempt
}

#[cfg(feature = "tokio")]
pin_project_lite::pin_project! {
    /// Not public API. The backoff sleep of an `async fn`: no timer at all for a zero wait
    /// (tokio rounds every sleep up to its 1 ms tick). The expansion awaits it in the fn's own
    /// future, then drops the retry's guards with `RetryState::release_guards`: the same as
    /// `RetryState::sleep_async`, whose future keeps the state's address and the wait next to
    /// the `Sleep`, 32 bytes more in every retrying future.
    pub struct Backoff {
        #[pin]
        sleep: Option<tokio::time::Sleep>,
    }
}

#[cfg(feature = "tokio")]
impl core::future::Future for Backoff {
    type Output = ();

    #[inline]
    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        match self.project().sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => core::task::Poll::Ready(()),
        }
    }
}

/// Not public API. Without a timer, `sleep` only reports the missing feature (see [`Timer`]).
#[cfg(not(feature = "tokio"))]
pub type Backoff = core::future::Ready<()>;

/// Not public API. The timer that `async fn`s sleep on: tokio's, with the `tokio` feature.
#[diagnostic::on_unimplemented(
    message = "`#[stamina::retry]` on an `async fn` needs the `tokio` feature of `stamina`",
    label = "the `async fn` sleeps between attempts on the tokio timer",
    note = "enable the feature: `stamina = {{ version = \"..\", features = [\"tokio\"] }}`"
)]
pub trait Timer {}

/// Not public API. See [`Timer`].
pub struct Tokio;

#[cfg(feature = "tokio")]
impl Timer for Tokio {}

/// Not public API. See [`Backoff`].
#[inline]
#[must_use = "the backoff happens when awaited"]
pub fn sleep<T: Timer>(_timer: T, wait: Duration) -> Backoff {
    #[cfg(feature = "tokio")]
    return Backoff {
        sleep: if wait.is_zero() {
            None
        } else {
            Some(tokio::time::sleep(wait))
        },
    };
    #[cfg(not(feature = "tokio"))]
    {
        let _ = wait;
        core::future::ready(())
    }
}

/// Not public API. Calls an `on` closure (or any predicate value) with the error; the closure's
/// parameter type comes from here, so `on = |e| e.is_transient()` needs no annotation.
#[inline]
#[must_use]
pub fn predicate<E: ?Sized, D: Into<Decision>>(
    error: &E,
    predicate: impl FnOnce(&E) -> D,
) -> Decision {
    predicate(error).into()
}

/// Not public API. `attempts = <const expr>`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn attempts(attempts: u32) -> Option<u32> {
    assert!(
        attempts >= 1,
        "`attempts` must be at least 1; use `attempts = None` for no limit"
    );
    Some(attempts)
}

/// Not public API. `wait_exp_base = <const expr>`, checked at compile time.
#[track_caller]
#[must_use]
pub const fn wait_exp_base(base: f64) -> f64 {
    // NaN fails the first comparison.
    assert!(
        base >= 1.0 && base < f64::INFINITY,
        "`wait_exp_base` must be a finite number of at least 1"
    );
    base
}

/// Not public API. A probe for `on = SomeType`: does the error match `On`? The expansion calls
/// `__private::matched((&&Probe::<On, E>::new(error)).stamina_matches())`, and autoref picks the
/// first impl that applies: the error is `On` itself (`Exact`, on `&&Probe`), a type-erased error
/// that may hold an `On` (`Downcast`, on `&Probe`), or neither (`Mismatch`, on `Probe`, whose
/// result fails to compile in `matched` with a message that names both types).
pub struct Probe<'e, On, E: ?Sized>(pub &'e E, pub PhantomData<fn() -> On>);

impl<'e, On, E: ?Sized> Probe<'e, On, E> {
    #[inline]
    pub fn new(error: &'e E) -> Self {
        Probe(error, PhantomData)
    }
}

pub trait Exact {
    fn stamina_matches(&self) -> bool;
}

impl<T> Exact for &&Probe<'_, T, T> {
    #[inline]
    fn stamina_matches(&self) -> bool {
        true
    }
}

pub trait Downcast {
    fn stamina_matches(&self) -> bool;
}

macro_rules! downcast {
    ($($ty:ty),*) => {$(
        impl<On: std::error::Error + 'static> Downcast for &Probe<'_, On, $ty> {
            #[inline]
            fn stamina_matches(&self) -> bool {
                self.0.downcast_ref::<On>().is_some()
            }
        }
    )*};
}

downcast!(
    Box<dyn std::error::Error + Send + Sync>,
    Box<dyn std::error::Error + Send>,
    Box<dyn std::error::Error>
);

#[cfg(feature = "anyhow")]
impl<On> Downcast for &Probe<'_, On, anyhow::Error>
where
    On: std::fmt::Display + std::fmt::Debug + Send + Sync + 'static,
{
    #[inline]
    fn stamina_matches(&self) -> bool {
        self.0.downcast_ref::<On>().is_some()
    }
}

pub trait Mismatch<On, E: ?Sized> {
    fn stamina_matches(&self) -> Mismatched<On, E>;
}

impl<On, E: ?Sized> Mismatch<On, E> for Probe<'_, On, E> {
    #[inline]
    fn stamina_matches(&self) -> Mismatched<On, E> {
        Mismatched(PhantomData)
    }
}

pub struct Mismatched<On, E: ?Sized>(PhantomData<MismatchedTypes<On, E>>);

type MismatchedTypes<On, E> = fn() -> (On, Box<E>);

/// Not public API. The error type of the fn cannot hold an `On`.
#[diagnostic::on_unimplemented(
    message = "`on = {On}` cannot match errors of type `{Self}`",
    label = "the fn's error type is `{Self}`",
    note = "a type in `on` matches an error of exactly that type, or a `Box<dyn Error + ..>` (or `anyhow::Error` with the `anyhow` feature) that holds one",
    note = "to decide on something else, pass a predicate: a closure `|e: &{Self}| ...` or the path of a `fn(&{Self}) -> bool`"
)]
pub trait CanHold<On> {}

pub trait MatchOutcome {
    fn get(self) -> bool;
}

impl MatchOutcome for bool {
    #[inline]
    fn get(self) -> bool {
        self
    }
}

impl<On, E: ?Sized + CanHold<On>> MatchOutcome for Mismatched<On, E> {
    fn get(self) -> bool {
        false
    }
}

/// Not public API. The outcome of a `Probe`.
#[inline]
pub fn matched(outcome: impl MatchOutcome) -> bool {
    outcome.get()
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
