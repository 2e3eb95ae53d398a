//! How the attribute reads an attempt's outcome: [`split`] a `Result` into the value to return
//! or the error to retry, keeping the way back to the fn's own return type.
//!
//! It is the one place where the expansion needs the fn's return type to be a `Result`, so that
//! a fn that returns something else gets one error, [`IsResult`]'s.

/// The type of the value the fn returns, checked to be a `Result`.
///
/// [`split`] is the one place where the expansion needs the fn's return type to be a
/// `Result`, so that a fn that returns something else gets one error, this one.
#[diagnostic::on_unimplemented(
    message = "`#[stamina::retry]` needs a fn that returns `Result<T, E>`, not `{Self}`",
    label = "this type is not a `Result`",
    note = "stamina retries on errors: return a `Result` (or an alias of one, like `io::Result<T>`)"
)]
pub trait IsResult: Sized {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// The value as a `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// A success, as the fn returns it.
    fn from_ok(value: Self::Ok) -> Self;
    /// An error, as the fn returns it.
    fn from_err(error: Self::Err) -> Self;
}

#[diagnostic::do_not_recommend]
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

/// An attempt's outcome: the value to return, or the error and the way back to the fn's
/// return type once the call gives up.
#[allow(
    missing_debug_implementations,
    reason = "it lives inside one expression"
)]
pub enum Outcome<R, E> {
    /// The value to return.
    Done(R),
    /// The error, and how to return it.
    Failed(E, fn(E) -> R),
}

/// Splits an attempt's outcome; the only bound on the fn's return type.
#[inline]
///
/// `E` is a parameter of its own, not `R::Err` in the signature: that projection would be a
/// second error for a fn that does not return a `Result`.
pub fn split<R, E>(outcome: R) -> Outcome<R, E>
where
    R: IsResult<Err = E>,
{
    match outcome.into_result() {
        Ok(value) => Outcome::Done(R::from_ok(value)),
        Err(error) => Outcome::Failed(error, R::from_err),
    }
}

/// An attempt's outcome for a fn with a result predicate: the value, which the predicate sees
/// before it is returned, or the error; each with the way back to the fn's return type.
#[allow(
    missing_debug_implementations,
    reason = "it lives inside one expression"
)]
pub enum OutcomeOk<T, E, R> {
    /// The `Ok` value, and how to return it.
    Value(T, fn(T) -> R),
    /// The error, and how to return it.
    Failed(E, fn(E) -> R),
}

/// [`split`] for a fn with a result predicate.
#[inline]
pub fn split_ok<R, T, E>(outcome: R) -> OutcomeOk<T, E, R>
where
    R: IsResult<Ok = T, Err = E>,
{
    match outcome.into_result() {
        Ok(value) => OutcomeOk::Value(value, R::from_ok),
        Err(error) => OutcomeOk::Failed(error, R::from_err),
    }
}
