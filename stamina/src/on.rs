//! `on = SomeType`: does an error match a type?
//!
//! The attribute writes `matched((&&Probe::<On, E>::new(&error)).stamina_matches())` with the
//! three probe traits in scope, and autoref picks the first impl that applies:
//!
//! - [`Exact`], on `&&Probe<On, On>`: the error is an `On`;
//! - [`Downcast`], on `&Probe<On, E>` for a type-erased `E` (`Box<dyn Error ..>`, `anyhow::Error`):
//!   the error holds an `On` if it downcasts to one;
//! - [`Mismatch`], on `Probe<On, E>`: neither. Its result, [`Mismatched`], fails to compile in
//!   [`matched`] with a message that names both types ([`CanHold`] has no impls).
//!
//! Rust has no specialization, and a single trait with an exact impl and a downcast impl would
//! overlap for `On = Box<dyn Error ..>`; autoref decides at compile time instead, for free.

use std::marker::PhantomData;

/// An error of type `E`, asked whether it matches `On`.
#[allow(
    missing_debug_implementations,
    reason = "a probe lives inside one expression"
)]
pub struct Probe<'e, On, E: ?Sized>(&'e E, PhantomData<fn() -> On>);

impl<'e, On, E: ?Sized> Probe<'e, On, E> {
    /// Probes `error`.
    #[inline]
    pub fn new(error: &'e E) -> Self {
        Probe(error, PhantomData)
    }
}

/// The error is an `On`.
pub trait Exact {
    /// Always `true`.
    fn stamina_matches(&self) -> bool;
}

impl<T> Exact for &&Probe<'_, T, T> {
    #[inline]
    fn stamina_matches(&self) -> bool {
        true
    }
}

/// The error is type-erased: it matches if it downcasts to an `On`.
pub trait Downcast {
    /// Whether the error holds an `On`.
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

/// Calls `$m!` with the boxed type-erased errors: the one list that `on`'s `Downcast` and the
/// hooks' view of errors (`instrumentation::view`) both implement for.
macro_rules! boxed_errors {
    ($m:ident) => {
        $m!(
            Box<dyn std::error::Error + Send + Sync>,
            Box<dyn std::error::Error + Send>,
            Box<dyn std::error::Error>
        );
    };
}
pub(crate) use boxed_errors;

boxed_errors!(downcast);

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

/// Neither: the error can never be an `On`.
pub trait Mismatch<On, E: ?Sized> {
    /// A value that [`matched`] refuses to compile.
    fn stamina_matches(&self) -> Mismatched<On, E>;
}

impl<On, E: ?Sized> Mismatch<On, E> for Probe<'_, On, E> {
    #[inline]
    fn stamina_matches(&self) -> Mismatched<On, E> {
        Mismatched(PhantomData)
    }
}

/// The outcome of a probe that found no way for an `E` to hold an `On`.
#[allow(
    missing_debug_implementations,
    reason = "it never exists: it does not compile"
)]
pub struct Mismatched<On, E: ?Sized>(PhantomData<Types<On, E>>);

type Types<On, E> = fn() -> (On, Box<E>);

/// The error type of the fn cannot hold an `On`. No type implements it: it exists for its
/// message.
#[diagnostic::on_unimplemented(
    message = "`on = {On}` cannot match errors of type `{Self}`",
    label = "the fn's error type is `{Self}`",
    note = "a type in `on` matches an error of exactly that type, or a `Box<dyn Error + ..>` (or `anyhow::Error` with the `anyhow` feature) that holds one",
    note = "to decide on something else, pass a predicate: a closure `|e: &{Self}| ...` or the path of a `fn(&{Self}) -> bool`"
)]
pub trait CanHold<On> {}

/// What a probe says: a `bool`, or a [`Mismatched`] that does not compile.
pub trait MatchOutcome {
    /// The answer.
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

/// The answer of a probe.
#[inline]
pub fn matched(outcome: impl MatchOutcome) -> bool {
    outcome.get()
}

/// What a probe says, where a mismatch is `false` rather than an error: for the `error_type`
/// label, which asks again what [`matched`] already checked (one error per mistake).
pub trait AnyMatch {
    /// The answer.
    fn get(self) -> bool;
}

impl AnyMatch for bool {
    #[inline]
    fn get(self) -> bool {
        self
    }
}

impl<On, E: ?Sized> AnyMatch for Mismatched<On, E> {
    #[inline]
    fn get(self) -> bool {
        false
    }
}

/// The answer of a probe, a mismatch included.
#[inline]
pub fn any_match(outcome: impl AnyMatch) -> bool {
    outcome.get()
}

#[cfg(test)]
mod tests {
    #![allow(unused_imports)]
    use super::{Downcast as _, Exact as _, Mismatch as _, Probe, matched};
    use std::error::Error;
    use std::{fmt, io};

    #[derive(Debug)]
    struct Other;

    impl fmt::Display for Other {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("other")
        }
    }

    impl Error for Other {}

    macro_rules! matches_type {
        ($on:ty, $error:expr) => {
            matched((&&Probe::<$on, _>::new(&$error)).stamina_matches())
        };
    }

    #[test]
    fn an_error_of_the_type_matches() {
        assert!(matches_type!(io::Error, io::Error::other("x")));
        assert!(matches_type!(u8, 3u8));
    }

    #[test]
    fn a_boxed_error_matches_when_it_holds_the_type() {
        let held: Box<dyn Error + Send + Sync> = io::Error::other("x").into();
        let other: Box<dyn Error + Send + Sync> = Other.into();
        assert!(matches_type!(io::Error, held));
        assert!(!matches_type!(io::Error, other));
        let send: Box<dyn Error + Send> = Box::new(Other);
        let local: Box<dyn Error> = Box::new(Other);
        assert!(matches_type!(Other, send));
        assert!(matches_type!(Other, local));
    }

    #[test]
    fn a_boxed_error_matches_itself_exactly() {
        // `on = Box<dyn Error + Send + Sync>` with that error type: exact beats downcast.
        let boxed: Box<dyn Error + Send + Sync> = Other.into();
        assert!(matches_type!(Box<dyn Error + Send + Sync>, boxed));
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn an_anyhow_error_matches_when_it_holds_the_type() {
        assert!(matches_type!(Other, anyhow::Error::new(Other)));
        assert!(!matches_type!(io::Error, anyhow::Error::new(Other)));
    }
}
