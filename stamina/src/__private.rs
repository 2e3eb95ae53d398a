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
/// `my_crate::Client::fetch::__stamina_name` gives `my_crate::Client::fetch`.
#[must_use]
pub fn fn_name(nested_type_name: &'static str) -> &'static str {
    match nested_type_name.rfind("::") {
        Some(i) => &nested_type_name[..i],
        None => nested_type_name,
    }
}

/// Not public API. Type of the value the fn returns, checked to be a `Result`.
#[diagnostic::on_unimplemented(
    message = "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, not `{Self}`",
    label = "this type is not a `Result`",
    note = "stamina retries on errors: return a `Result` (or an alias of one, like `io::Result<T>`)"
)]
pub trait IsResult {
    type Ok;
    type Err;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
}

/// Not public API. Fails to compile unless `R` is a `Result`.
#[inline]
pub const fn assert_result<R: IsResult>() {}

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
