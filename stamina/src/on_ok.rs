//! `on_ok`: retrying on a value, not only on an error.
//!
//! Over HTTP a failure is often a value: `Ok(response)` with status 503. A result predicate sees
//! the `&T` of each `Ok` and decides as `on` does, with a [`Decision`]; when the call gives up
//! on a retried value, that last value comes back unchanged (Polly's semantics), as an error
//! would.

use std::any::type_name;
use std::fmt;

use crate::decision::Decision;

/// A result predicate: decides whether an `Ok` value is retried.
///
/// Closures `Fn(&T) -> D` are result predicates, for any `D: Into<Decision>` (a `bool`, a
/// `Duration`, an `Option<Duration>`, a [`Decision`]) and a `T` that implements `Debug` (what
/// hooks and logs show of a retried value); so is `stamina::http::Classifier` for responses
/// (feature `http`). Implement it for a classifier of one's own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a result predicate for `{T}`",
    label = "decides whether an `Ok({T})` is retried",
    note = "a result predicate is a closure `|value: &{T}| ..` returning a `bool`, a `Duration`, an `Option<Duration>` or a `Decision`, for a `{T}` that implements `Debug`",
    note = "a `stamina::http::Classifier` reads `http::Response`s and `StatusCode`s; for another response type (reqwest's, say) hand it the parts: `.on_response(|r: &{T}| (r.status(), r.headers()))`"
)]
pub trait OnOk<T: ?Sized> {
    /// What to do about this `Ok` value: [`Decision::NoRetry`] returns it.
    fn on_ok(&self, value: &T) -> Decision;

    /// How hooks and logs show a retried value, as `caused_by`: by default the value's type
    /// name. The closures' impl writes the value's `Debug`.
    fn fmt_value(&self, value: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = value;
        f.write_str(type_name::<T>())
    }
}

impl<T, F, D> OnOk<T> for F
where
    T: fmt::Debug + ?Sized,
    F: Fn(&T) -> D,
    D: Into<Decision>,
{
    #[inline]
    fn on_ok(&self, value: &T) -> Decision {
        self(value).into()
    }

    fn fmt_value(&self, value: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(value, f)
    }
}

/// The result predicate of a call that sets none: every `Ok` value is final. It costs nothing:
/// the happy path compiles to what it is without a result predicate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptOk;

impl<T: ?Sized> OnOk<T> for AcceptOk {
    #[inline]
    fn on_ok(&self, _: &T) -> Decision {
        Decision::NoRetry
    }
}

/// A retried value as hooks see it: `Debug` through the predicate's [`OnOk::fmt_value`].
pub(crate) struct ValueCause<'a, T: ?Sized, F> {
    pub(crate) value: &'a T,
    pub(crate) fmt: &'a F,
}

impl<T: ?Sized, F> fmt::Debug for ValueCause<'_, T, F>
where
    F: Fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.fmt)(self.value, f)
    }
}

/// How `on_ok` shows `value` to hooks, as a string.
#[cfg(test)]
pub(crate) fn shown<T, O: OnOk<T>>(on_ok: &O, value: &T) -> String {
    let show = |v: &T, f: &mut fmt::Formatter<'_>| on_ok.fmt_value(v, f);
    format!("{:?}", ValueCause { value, fmt: &show })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn closures_decide_and_show_the_value() {
        let on_ok = |status: &u16| (*status == 503).then_some(Duration::from_secs(1));
        assert_eq!(
            on_ok.on_ok(&503),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(on_ok.on_ok(&200), Decision::NoRetry);
        assert_eq!(shown(&on_ok, &503), "503");
    }

    #[test]
    fn accept_ok_accepts_everything() {
        assert_eq!(OnOk::<u16>::on_ok(&AcceptOk, &503), Decision::NoRetry);
        assert_eq!(shown(&AcceptOk, &503_u16), "u16");
    }
}
