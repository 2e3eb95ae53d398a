//! [`ThrottledCaller`]: a [`RetryingCaller`] whose calls ask a [`Throttle`] first.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use super::RetryingCaller;
use crate::attempt::Attempt;
use crate::clock::Stamp;
use crate::decision::Decision;
use crate::instrumentation::ErrorView;
use crate::on_ok::OnOk;
use crate::retrying::admit_first;
use crate::sleeper::Sleeper;
use crate::throttle::{Throttle, Throttled};

impl<S, O, V> RetryingCaller<S, O, V> {
    /// This caller, asking `throttle` before each attempt of its calls, the first included:
    /// see [`crate::throttle`]. A call that the throttle rejects before its first attempt
    /// returns `Err(Throttled.into())` at once, so the calls' error types implement
    /// `From<Throttled>`; a retry that it rejects is not made, and the call returns its last
    /// error, unchanged. The rate limiter's delay before a first attempt is slept on the
    /// caller's sleeper (the thread, for a sync call); one that would pass the call's timeout or
    /// deadline rejects the call instead.
    ///
    /// ```
    /// use stamina::{RetryingCaller, Throttle, Throttled};
    ///
    /// static BACKEND: Throttle = Throttle::adaptive();
    ///
    /// #[derive(Debug)]
    /// enum Error { Busy, Throttled(Throttled) }
    /// impl From<Throttled> for Error {
    ///     fn from(t: Throttled) -> Self { Error::Throttled(t) }
    /// }
    ///
    /// let caller = RetryingCaller::new().attempts(3).throttle(&BACKEND);
    /// let mut busy = true;
    /// let reply = caller.call(|e| matches!(e, Error::Busy), || {
    ///     if std::mem::take(&mut busy) { Err(Error::Busy) } else { Ok(7) }
    /// });
    /// match reply {
    ///     Ok(n) => assert_eq!(n, 7),
    ///     Err(Error::Throttled(t)) => eprintln!("not sent: {t}"),
    ///     Err(Error::Busy) => eprintln!("still busy after 3 attempts"),
    /// }
    /// assert_eq!(BACKEND.counts(), Some((2, 1))); // two requests, one accepted
    /// ```
    #[must_use]
    pub const fn throttle(mut self, throttle: &'static Throttle) -> ThrottledCaller<S, O, V> {
        self.policy = self.policy.with_throttle(throttle);
        ThrottledCaller {
            caller: self,
            throttle,
        }
    }
}

/// A [`RetryingCaller`] with a [`Throttle`]: made by
/// [`RetryingCaller::throttle`]. Its calls need an error type that carries a [`Throttled`]
/// (`From<Throttled>`); everything else is the caller's.
#[derive(Clone, Debug)]
pub struct ThrottledCaller<
    S = crate::sleeper::DefaultSleeper,
    O = crate::on_ok::AcceptOk,
    V = crate::instrumentation::DebugOnly,
> {
    caller: RetryingCaller<S, O, V>,
    throttle: &'static Throttle,
}

impl<S: PartialEq, O: PartialEq, V: PartialEq> PartialEq for ThrottledCaller<S, O, V> {
    /// The callers are equal, their policies naming the same throttle.
    fn eq(&self, other: &Self) -> bool {
        self.caller == other.caller
    }
}

impl<S, O, V> ThrottledCaller<S, O, V> {
    /// The caller, its policy naming the throttle.
    #[must_use]
    pub const fn get_caller(&self) -> &RetryingCaller<S, O, V> {
        &self.caller
    }

    /// The throttle.
    #[must_use]
    pub const fn get_throttle(&self) -> &'static Throttle {
        self.throttle
    }

    /// This caller for one call with a deadline: see [`RetryingCaller::with_deadline`]. The
    /// throttle's delay counts against it too.
    #[must_use]
    pub fn with_deadline(&self, deadline: impl Into<Instant>) -> Self
    where
        S: Clone,
        O: Clone,
        V: Clone,
    {
        ThrottledCaller {
            caller: self.caller.with_deadline(deadline),
            throttle: self.throttle,
        }
    }

    /// The throttle's word on a call's first attempt, the call labelled after `op_type`.
    fn admit(&self, op_type: &'static str) -> Result<Duration, Throttled> {
        let caller = &self.caller;
        let time_left = || {
            let deadline = caller.deadline.map(|d| Stamp::from_instant(d).remaining());
            match (caller.policy.get_timeout(), deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        admit_first(&caller.policy, time_left, || caller.label(op_type))
    }

    /// [`RetryingCaller::call`], after the throttle's word: `Err(Throttled.into())` at once for
    /// a call it rejects.
    pub fn call<T, E, D, F, M>(&self, on: impl FnMut(&E) -> D, op: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        sleep_thread(self.admit(type_name::<F>())?);
        self.caller.call(on, op)
    }

    /// [`RetryingCaller::call_with_attempt`], after the throttle's word.
    pub fn call_with_attempt<T, E, D, F, M>(&self, on: impl FnMut(&E) -> D, op: F) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Result<T, E>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
        O: OnOk<T>,
        V: ErrorView<E, M>,
    {
        sleep_thread(self.admit(type_name::<F>())?);
        self.caller.call_with_attempt(on, op)
    }

    /// [`RetryingCaller::call_async`], after the throttle's word; its delay is slept on the
    /// caller's sleeper.
    pub async fn call_async<T, E, D, F, Fut, M>(
        &self,
        on: impl FnMut(&E) -> D,
        op: F,
    ) -> Result<T, E>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
    {
        self.admitted(type_name::<F>()).await?;
        self.caller.call_async(on, op).await
    }

    /// [`RetryingCaller::call_async_with_attempt`], after the throttle's word.
    pub async fn call_async_with_attempt<T, E, D, F, Fut, M>(
        &self,
        on: impl FnMut(&E) -> D,
        op: F,
    ) -> Result<T, E>
    where
        S: Sleeper,
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
    {
        self.admitted(type_name::<F>()).await?;
        self.caller.call_async_with_attempt(on, op).await
    }
}

impl<S: Sleeper, O, V> ThrottledCaller<S, O, V> {
    /// The throttle's word on an `async` call's first attempt, its delay slept on the
    /// caller's sleeper.
    async fn admitted(&self, op_type: &'static str) -> Result<(), Throttled> {
        let delay = self.admit(op_type)?;
        if !delay.is_zero() {
            self.caller.sleeper.sleep(delay).await;
        }
        Ok(())
    }

    /// [`RetryingCaller::call_async_mut`], after the throttle's word.
    pub async fn call_async_mut<T, E, D, F, M>(
        &self,
        on: impl FnMut(&E) -> D,
        op: F,
    ) -> Result<T, E>
    where
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: AsyncFnMut() -> Result<T, E>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
    {
        self.admitted(type_name::<F>()).await?;
        self.caller.call_async_mut(on, op).await
    }

    /// [`RetryingCaller::call_hedged`], after the throttle's word: the throttle is asked once
    /// per attempt, not per hedge (the budget bounds the hedges).
    pub async fn call_hedged<T, E, D, F, Fut, M>(
        &self,
        hedging: crate::hedge::Hedging,
        on: impl FnMut(&E) -> D,
        op: F,
    ) -> Result<T, E>
    where
        O: OnOk<T>,
        V: ErrorView<E, M>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug + From<Throttled>,
        D: Into<Decision>,
    {
        self.admitted(type_name::<F>()).await?;
        self.caller.call_hedged(hedging, on, op).await
    }
}

/// Sleeps the thread for the throttle's delay, if any.
fn sleep_thread(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}
