//! How a caller's or a loop's hooks see its errors: as `Debug` only ([`DebugOnly`], the
//! default), or also as a `dyn Error` ([`ErrorAware`], from
//! [`RetryingCaller::error_aware`](crate::RetryingCaller::error_aware)).
//!
//! The attribute needs none of this: it knows the fn's error type when it expands, and hooks see
//! every error that is a `dyn Error`. The callers are generic over the error, and Rust cannot ask
//! "is `E` an `Error`?" of a generic type: the caller says it once, and every call then requires
//! it of its error type.

use std::error::Error;

use super::cause::label;

/// How hooks see an error of type `E`: as a `dyn Error` or not, and its `error_type` label.
/// Plain fn pointers: a driver picks them once, when it is compiled, and they run only when
/// hooks do.
#[allow(missing_debug_implementations, reason = "three fn pointers")]
pub struct Cause<E: ?Sized> {
    /// The error as a `dyn Error + 'static`, to downcast: only an error whose type is `'static`.
    pub error: fn(&E) -> Option<&(dyn Error + 'static)>,
    /// The error as a `dyn Error` of any lifetime, for its text and its sources: any error type
    /// that implements `Error`, those that borrow or are generic included.
    pub shown: fn(&E) -> Option<&dyn Error>,
    /// The `error_type` label of this error.
    pub error_type: fn(&E) -> &'static str,
}

impl<E: ?Sized> Clone for Cause<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: ?Sized> Copy for Cause<E> {}

impl<E: ?Sized> Cause<E> {
    /// Seen as `Debug` only, labelled with its type.
    pub const OPAQUE: Self = Cause {
        error: |_| None,
        shown: |_| None,
        error_type: |_| label::<E>(),
    };

    /// Seen as [`V`](ErrorView) sees it, labelled with its type.
    #[must_use]
    pub const fn viewed<V: ErrorView<E, M>, M>() -> Self {
        Cause {
            error: V::as_error,
            shown: V::as_dyn,
            error_type: |_| label::<E>(),
        }
    }
}

impl<E: Error + ?Sized> Cause<E> {
    /// An error whose type may not be `'static` (it borrows, or is generic): seen as a
    /// `dyn Error` for its text and sources, not to downcast.
    #[must_use]
    pub const fn shown() -> Self
    where
        E: Sized,
    {
        Cause {
            error: |_| None,
            shown: |e| Some(e),
            error_type: |_| label::<E>(),
        }
    }
}

/// Whether hooks see an error of type `E` as a `dyn Error`: [`RetryDetails::error`].
///
/// `M` tells the impls apart (an `Error` type, or a type-erased error that derefs to one); it is
/// always inferred.
///
/// [`RetryDetails::error`]: super::RetryDetails::error
#[diagnostic::on_unimplemented(
    message = "an error-aware caller needs errors that are a `dyn Error`, and `{E}` is not",
    label = "this call's error type",
    note = "an error-aware caller's errors implement `std::error::Error`, or are a `Box<dyn Error ..>` or an `anyhow::Error`; for other errors, use a caller without `.error_aware()`"
)]
pub trait ErrorView<E: ?Sized, M> {
    /// The error as a `dyn Error + 'static`, if hooks see it as one.
    fn as_error(error: &E) -> Option<&(dyn Error + 'static)>;

    /// The same, as a `dyn Error` of the error's own lifetime.
    fn as_dyn(error: &E) -> Option<&dyn Error> {
        Self::as_error(error).map(|e| e as &dyn Error)
    }
}

/// Hooks see a caller's errors as `Debug` only ([`RetryDetails::error`] is `None`): the
/// default, for errors of any type.
///
/// [`RetryDetails::error`]: super::RetryDetails::error
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugOnly;

/// Hooks see a caller's errors as a `dyn Error` too: every call's error type implements
/// `Error`, or is a `Box<dyn Error ..>` or an `anyhow::Error` (with the `anyhow` feature).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorAware;

/// The kinds of errors that [`ErrorView`] tells apart; never named.
#[doc(hidden)]
pub mod kind {
    /// Any error, seen as `Debug` only.
    #[allow(missing_debug_implementations)]
    pub enum Opaque {}
    /// A type that implements `Error`.
    #[allow(missing_debug_implementations)]
    pub enum Typed {}
    /// A type-erased error that derefs to a `dyn Error`.
    #[allow(missing_debug_implementations)]
    pub enum Erased {}
}

impl<E: ?Sized> ErrorView<E, kind::Opaque> for DebugOnly {
    #[inline]
    fn as_error(_: &E) -> Option<&(dyn Error + 'static)> {
        None
    }
}

impl<E: Error + 'static> ErrorView<E, kind::Typed> for ErrorAware {
    #[inline]
    fn as_error(error: &E) -> Option<&(dyn Error + 'static)> {
        Some(error)
    }
}

/// How the attribute sees an error: `(&&ErrorProbe::new(&error)).stamina_cause()` with the
/// three traits below in scope, where autoref picks the first that applies, as
/// [`on = SomeType`](crate::retry) does. Not public API.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct ErrorProbe<E: ?Sized>(std::marker::PhantomData<fn() -> Box<E>>);

impl<E: ?Sized> ErrorProbe<E> {
    /// Probes the type of `error`.
    #[inline]
    #[must_use]
    pub fn new(_: &E) -> Self {
        ErrorProbe(std::marker::PhantomData)
    }
}

/// The error implements `Error`.
#[doc(hidden)]
pub trait TypedCause<E: ?Sized> {
    fn stamina_cause(&self) -> Cause<E>;
}

impl<E: Error + 'static> TypedCause<E> for &&ErrorProbe<E> {
    #[inline]
    fn stamina_cause(&self) -> Cause<E> {
        Cause::viewed::<ErrorAware, kind::Typed>()
    }
}

/// The attribute's probe for an error type it cannot prove `'static` (the fn's return type
/// names a lifetime, a reference, `Self` or a generic parameter): the same three traits, but
/// an `Error` is seen for its text and sources only, never as a `dyn Error + 'static` (which
/// rustc would then require of it, at the fn). Not public API.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct LocalErrorProbe<E: ?Sized>(std::marker::PhantomData<fn() -> Box<E>>);

impl<E: ?Sized> LocalErrorProbe<E> {
    /// Probes the type of `error`.
    #[inline]
    #[must_use]
    pub fn new(_: &E) -> Self {
        LocalErrorProbe(std::marker::PhantomData)
    }
}

impl<E: Error> TypedCause<E> for &&LocalErrorProbe<E> {
    #[inline]
    fn stamina_cause(&self) -> Cause<E> {
        Cause::shown()
    }
}

impl<E: ?Sized> OpaqueCause<E> for LocalErrorProbe<E> {
    #[inline]
    fn stamina_cause(&self) -> Cause<E> {
        Cause::OPAQUE
    }
}

/// The error is type-erased and derefs to a `dyn Error`.
#[doc(hidden)]
pub trait ErasedCause<E: ?Sized> {
    fn stamina_cause(&self) -> Cause<E>;
}

// The type-erased errors: each derefs to a `dyn Error`, for callers (`ErrorView`) and the
// attribute (`ErasedCause`) alike. One impl per type, as for `on`'s `Downcast`: an impl whose
// header matches any type, with a bound that fails, would be picked and fail rather than fall
// through to `OpaqueCause`.
macro_rules! erased {
    ($($ty:ty),*) => {$(
        impl ErrorView<$ty, kind::Erased> for ErrorAware {
            #[inline]
            fn as_error(error: &$ty) -> Option<&(dyn Error + 'static)> {
                Some(&**error)
            }
        }

        impl ErasedCause<$ty> for &ErrorProbe<$ty> {
            #[inline]
            fn stamina_cause(&self) -> Cause<$ty> {
                Cause::viewed::<ErrorAware, kind::Erased>()
            }
        }

        impl ErasedCause<$ty> for &LocalErrorProbe<$ty> {
            #[inline]
            fn stamina_cause(&self) -> Cause<$ty> {
                Cause::viewed::<ErrorAware, kind::Erased>()
            }
        }
    )*};
}

crate::on::boxed_errors!(erased);

#[cfg(feature = "anyhow")]
erased!(anyhow::Error);

/// Neither: hooks see the error as `Debug` only.
#[doc(hidden)]
pub trait OpaqueCause<E: ?Sized> {
    fn stamina_cause(&self) -> Cause<E>;
}

impl<E: ?Sized> OpaqueCause<E> for ErrorProbe<E> {
    #[inline]
    fn stamina_cause(&self) -> Cause<E> {
        Cause::OPAQUE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn seen<V: ErrorView<E, M>, E, M>(error: &E) -> Option<String> {
        V::as_error(error).map(ToString::to_string)
    }

    #[test]
    fn error_aware_sees_typed_and_erased_errors() {
        let io = io::Error::other("disk");
        assert_eq!(seen::<ErrorAware, _, _>(&io).as_deref(), Some("disk"));
        let boxed: Box<dyn Error + Send + Sync> = "boxed".into();
        assert_eq!(seen::<ErrorAware, _, _>(&boxed).as_deref(), Some("boxed"));
        let local: Box<dyn Error> = "local".into();
        assert_eq!(seen::<ErrorAware, _, _>(&local).as_deref(), Some("local"));
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn error_aware_sees_anyhow_errors() {
        let error = anyhow::Error::new(io::Error::other("inner")).context("outer");
        assert_eq!(seen::<ErrorAware, _, _>(&error).as_deref(), Some("outer"));
    }

    #[test]
    fn the_attribute_probe_sees_what_error_aware_sees() {
        #![allow(unused_imports)]
        use super::{ErasedCause as _, OpaqueCause as _, TypedCause as _};
        let io = io::Error::other("disk");
        let cause = (&&ErrorProbe::new(&io)).stamina_cause();
        assert_eq!(
            (cause.error)(&io).map(ToString::to_string).as_deref(),
            Some("disk")
        );
        assert_eq!((cause.error_type)(&io), "std::io::error::Error");
        let boxed: Box<dyn Error + Send + Sync> = "boxed".into();
        let cause = (&&ErrorProbe::new(&boxed)).stamina_cause();
        assert!((cause.error)(&boxed).is_some());
        assert_eq!((cause.error_type)(&boxed), "Box<dyn Error + Send + Sync>");
        let text = "not an error";
        #[allow(
            clippy::needless_borrow,
            reason = "autoref picks the impl: the point of the test"
        )]
        let cause = (&&ErrorProbe::new(&text)).stamina_cause();
        assert!((cause.error)(&text).is_none());
    }

    #[test]
    fn debug_only_sees_none() {
        assert_eq!(seen::<DebugOnly, _, _>(&io::Error::other("x")), None);
        assert_eq!(seen::<DebugOnly, _, _>(&"not an error"), None);
    }
}
