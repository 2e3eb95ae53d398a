//! [`BoundRetryingCaller`]: a [`RetryingCaller`] with its `on` bound.

use std::fmt;
use std::future::Future;
use std::time::Instant;

use super::RetryingCaller;
use crate::attempt::Attempt;
use crate::context::RetryContext;
use crate::decision::Decision;
use crate::error::ConfigError;
use crate::instrumentation::{DebugOnly, ErrorAware, ErrorView};
use crate::on_ok::{AcceptOk, OnOk};
use crate::policy::policy_setters;
use crate::sleeper::{DefaultSleeper, Sleeper};

/// The caller's own setters, for the bound caller: see [`caller_setters`].
macro_rules! to_the_caller {
    ($($kind:ident $name:ident($arg:ident: $ty:ty);)*) => {
        $(to_the_caller!(@ $kind $name($arg: $ty));)*
    };
    (@ plain $name:ident($arg:ident: $ty:ty)) => {
        #[doc = concat!("[`RetryingCaller::", stringify!($name), "`], for this bound caller.")]
        #[must_use]
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.caller = self.caller.$name($arg);
            self
        }
    };
    (@ try $name:ident($arg:ident: $ty:ty)) => {
        #[doc = concat!("[`RetryingCaller::", stringify!($name), "`], for this bound caller.")]
        pub fn $name(mut self, $arg: $ty) -> Result<Self, ConfigError> {
            self.caller = self.caller.$name($arg)?;
            Ok(self)
        }
    };
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
pub struct BoundRetryingCaller<P, S = DefaultSleeper, O = AcceptOk, V = DebugOnly> {
    pub(super) caller: RetryingCaller<S, O, V>,
    pub(super) on: P,
}

impl<P, S, O, V> BoundRetryingCaller<P, S, O, V> {
    /// The caller it is bound to.
    pub fn caller(&self) -> &RetryingCaller<S, O, V> {
        &self.caller
    }

    /// [`RetryingCaller::sleeper`]: this bound caller, sleeping on `sleeper`.
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> BoundRetryingCaller<P, T, O, V> {
        BoundRetryingCaller {
            caller: self.caller.sleeper(sleeper),
            on: self.on,
        }
    }

    /// [`RetryingCaller::on_ok`]: this bound caller, retrying the `Ok` values `on_ok` asks to.
    #[must_use]
    pub fn on_ok<R>(self, on_ok: R) -> BoundRetryingCaller<P, S, R, V> {
        BoundRetryingCaller {
            caller: self.caller.on_ok(on_ok),
            on: self.on,
        }
    }

    /// [`RetryingCaller::error_aware`]: this bound caller, with hooks that see its errors as a
    /// `dyn Error`.
    #[must_use]
    pub fn error_aware(self) -> BoundRetryingCaller<P, S, O, ErrorAware> {
        BoundRetryingCaller {
            caller: self.caller.error_aware(),
            on: self.on,
        }
    }

    policy_setters!(forward_setters caller.policy);
    caller_setters!(to_the_caller);

    /// [`RetryingCaller::call`] with the bound `on`.
    pub fn call<T, E, D, M>(&self, op: impl FnMut() -> Result<T, E>) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call(&self.on, op)
    }

    /// [`RetryingCaller::with_deadline`]: this bound caller for one call with a deadline.
    #[must_use]
    pub fn with_deadline(&self, deadline: impl Into<Instant>) -> Self
    where
        P: Clone,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        BoundRetryingCaller {
            caller: self.caller.with_deadline(deadline),
            on: self.on.clone(),
        }
    }

    /// [`RetryingCaller::call_with_attempt`] with the bound `on`.
    pub fn call_with_attempt<T, E, D, M>(
        &self,
        op: impl FnMut(Attempt) -> Result<T, E>,
    ) -> Result<T, E>
    where
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_with_attempt(&self.on, op)
    }

    /// [`RetryingCaller::call_async_with_attempt`] with the bound `on`.
    pub fn call_async_with_attempt<T, E, D, Fut, M>(
        &self,
        op: impl FnMut(Attempt) -> Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async_with_attempt(&self.on, op)
    }

    /// [`RetryingCaller::call_async`] with the bound `on`.
    pub fn call_async<T, E, D, Fut, M>(
        &self,
        op: impl FnMut() -> Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async(&self.on, op)
    }

    /// [`RetryingCaller::call_async_mut`] with the bound `on`.
    pub fn call_async_mut<T, E, D, M>(
        &self,
        op: impl AsyncFnMut() -> Result<T, E>,
    ) -> impl Future<Output = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        E: fmt::Debug,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        self.caller.call_async_mut(&self.on, op)
    }

    /// [`RetryingCaller::stream`] with the bound `on`.
    pub fn stream<T, E, D, F, St, M>(
        &self,
        make: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> St,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.stream(&self.on, make)
    }

    /// [`RetryingCaller::reconnect`] with the bound `on`.
    pub fn reconnect<T, E, D, F, Fut, St, M>(
        &self,
        connect: F,
    ) -> impl futures_core::Stream<Item = Result<T, E>>
    where
        S: Sleeper,
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<St, E>>,
        St: futures_core::Stream<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.reconnect(&self.on, connect)
    }

    /// [`RetryingCaller::iter`] with the bound `on`.
    pub fn iter<T, E, D, F, I, M>(&self, make: F) -> impl Iterator<Item = Result<T, E>>
    where
        P: Fn(&E) -> D,
        V: ErrorView<E, M>,
        F: FnMut() -> I,
        I: Iterator<Item = Result<T, E>>,
        E: fmt::Debug,
        D: Into<Decision>,
    {
        self.caller.iter(&self.on, make)
    }

    /// [`RetryingCaller::context`] with the bound `on`.
    #[track_caller]
    pub fn context<E, D>(&self) -> RetryContext<'_, E, &P, S, O, V>
    where
        P: Fn(&E) -> D,
        D: Into<Decision>,
        S: Clone,
        O: Clone,
        V: Clone,
    {
        self.caller.context(&self.on)
    }
}
