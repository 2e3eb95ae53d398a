//! What an `async` retry sleeps on: a [`Sleeper`].
//!
//! The [`DefaultSleeper`] works on any executor, from the timers that the crate's features
//! compile in: inside a tokio runtime, tokio's timer (feature `tokio`); elsewhere async-io's
//! (feature `async-io`, for smol and async-std), else futures-timer's helper thread (feature
//! `futures-timer`, which the `tokio` feature brings too, so that a tokio build run on another
//! executor sleeps there instead of panicking). An `async` retry with no timer compiled in and no
//! sleeper of its own is a compile error that names the features.
//!
//! A sleeper of one's own plugs in per fn (`#[retry(sleeper = ..)]`), per caller
//! ([`RetryingCaller::sleeper`](crate::RetryingCaller::sleeper)) and per loop
//! ([`RetryContext::sleeper`](crate::RetryContext::sleeper)): any [`Sleeper`], a closure
//! `Fn(Duration) -> impl Future<Output = ()>` included.
//!
//! ```
//! # fn main() {
//! use std::time::Duration;
//!
//! // A sleeper for an executor of one's own, here futures' `block_on` with futures-timer.
//! let sleeper = |wait: Duration| futures_timer::Delay::new(wait);
//! let caller = stamina::RetryingCaller::new().wait_initial(Duration::from_millis(1)).sleeper(sleeper);
//! let mut tries = 0;
//! let result = futures::executor::block_on(caller.call_async(|_: &&str| true, || {
//!     tries += 1;
//!     let outcome = if tries < 3 { Err("flaky") } else { Ok(tries) };
//!     std::future::ready(outcome)
//! }));
//! assert_eq!(result, Ok(3));
//! # }
//! ```
//!
//! A zero wait never reaches the sleeper: it yields to the executor once instead (tokio's own
//! yield with the `tokio` feature, which defers the task until the runtime has polled the
//! others; a wake-and-`Pending` elsewhere).
//!
//! A thread inside a tokio runtime that polls the retry on another executor (a
//! `futures::executor::block_on` inside a task) sleeps on tokio's timer, which a
//! current-thread runtime drives only while that thread is free: there, a wait that is still
//! pending is also watched by a helper thread of stamina's, which wakes the retry 10 ms after
//! its deadline, so that a runtime blocked by the other executor ends the wait late rather than
//! never. (The other executor cannot be told apart from tokio's own polling; the watch costs a
//! current-thread runtime's real waits one lock, and nothing in the future's size.) A tokio
//! runtime built without
//! `enable_time()` has no timer, which cannot be detected either: tokio panics at the first
//! real wait; build it with `enable_time()` or `enable_all()`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Sleeps an `async` retry's waits.
///
/// Implemented for the crate's sleepers and for closures `Fn(Duration) -> F` where `F` is any
/// future: what it outputs is dropped (`smol::Timer::after`'s `Instant`, say).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a sleeper",
    label = "a sleeper for an `async` retry",
    note = "a sleeper implements `stamina::Sleeper`, or is a closure `|wait: Duration| some_timer(wait)` returning a future"
)]
pub trait Sleeper {
    /// The future of one wait.
    type Sleep: Future<Output = ()>;

    /// Sleeps `wait` (never zero: a zero wait yields instead).
    fn sleep(&self, wait: Duration) -> Self::Sleep;

    /// Whether a hedge's timer ([`crate::hedge`]) may be tokio's own, inside a tokio runtime,
    /// rather than [`sleep`](Self::sleep)'s: `true` for the [`DefaultSleeper`] only. A hedge's
    /// timer is nearly always dropped before it is due, and one that fires late delays only
    /// the hedge, so it need not be watched from another thread on a current-thread runtime as
    /// a retry's wait is (4 µs a timer, measured). Not for sleepers of one's own.
    #[doc(hidden)]
    fn hedge_on_tokio(&self) -> bool {
        false
    }
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future,
{
    type Sleep = Slept<Fut>;

    fn sleep(&self, wait: Duration) -> Slept<Fut> {
        Slept { future: self(wait) }
    }
}

pin_project_lite::pin_project! {
    /// The wait of a closure sleeper: its future, whatever it outputs, as a wait that outputs
    /// `()`.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Slept<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Slept<F> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().future.poll(cx).map(drop)
    }
}

/// The sleeper of every `async` retry that names none: see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultSleeper;

/// tokio's timer: panics outside a tokio runtime with a timer. (The [`DefaultSleeper`] uses it
/// only inside one.)
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, wait: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(wait)
    }
}

/// async-io's timer: smol's and async-std's.
#[cfg(feature = "async-io")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncIoSleeper;

#[cfg(feature = "async-io")]
impl Sleeper for AsyncIoSleeper {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, wait: Duration) -> AsyncIoSleep {
        AsyncIoSleep(async_io::Timer::after(wait))
    }
}

/// The future of an [`AsyncIoSleeper`]'s wait.
#[cfg(feature = "async-io")]
#[derive(Debug)]
pub struct AsyncIoSleep(async_io::Timer);

#[cfg(feature = "async-io")]
impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// futures-timer's helper thread: works on any executor.
#[cfg(any(feature = "tokio", feature = "futures-timer"))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuturesTimerSleeper;

#[cfg(any(feature = "tokio", feature = "futures-timer"))]
impl Sleeper for FuturesTimerSleeper {
    type Sleep = futures_timer::Delay;

    fn sleep(&self, wait: Duration) -> futures_timer::Delay {
        futures_timer::Delay::new(wait)
    }
}

#[cfg(any(feature = "tokio", feature = "async-io", feature = "futures-timer"))]
impl Sleeper for DefaultSleeper {
    type Sleep = DefaultSleep;

    fn hedge_on_tokio(&self) -> bool {
        true
    }

    fn sleep(&self, wait: Duration) -> DefaultSleep {
        #[cfg(feature = "tokio")]
        if tokio::runtime::Handle::try_current().is_ok() {
            return DefaultSleep::Tokio {
                sleep: tokio::time::sleep(wait),
            };
        }
        #[cfg(feature = "async-io")]
        return DefaultSleep::AsyncIo {
            sleep: AsyncIoSleeper.sleep(wait),
        };
        #[cfg(all(
            not(feature = "async-io"),
            any(feature = "tokio", feature = "futures-timer")
        ))]
        DefaultSleep::FuturesTimer {
            sleep: FuturesTimerSleeper.sleep(wait),
        }
    }
}

/// Polls a wait on tokio's timer; on a current-thread runtime, a wait still pending is watched
/// from another thread, in case another executor blocks the runtime's (see the
/// [module docs](self)).
#[cfg(feature = "tokio")]
fn poll_tokio(sleep: Pin<&mut TokioSleep>, cx: &mut Context<'_>) -> Poll<()> {
    let deadline = sleep.deadline();
    if sleep.poll(cx).is_ready() {
        return Poll::Ready(());
    }
    let current_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|rt| rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    if current_thread {
        // On tokio's clock, which a paused runtime holds still: a test's virtual wait is not
        // cut short by the real time that passes.
        let late = deadline + Duration::from_millis(10);
        let now = tokio::time::Instant::now();
        if now >= late {
            return Poll::Ready(());
        }
        crate::watch::wake_at(std::time::Instant::now() + (late - now), cx.waker());
    }
    Poll::Pending
}

#[cfg(not(feature = "tokio"))]
fn poll_tokio(sleep: Pin<&mut TokioSleep>, cx: &mut Context<'_>) -> Poll<()> {
    sleep.poll(cx)
}

/// A future that never exists: the variant of a timer that is not compiled in.
#[derive(Debug)]
pub enum Absent {}

impl Future for Absent {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        match *self {}
    }
}

#[cfg(feature = "tokio")]
type TokioSleep = tokio::time::Sleep;
#[cfg(not(feature = "tokio"))]
type TokioSleep = Absent;
#[cfg(not(feature = "async-io"))]
type AsyncIoSleep = Absent;
#[cfg(any(feature = "tokio", feature = "futures-timer"))]
type FuturesTimerSleep = futures_timer::Delay;
#[cfg(not(any(feature = "tokio", feature = "futures-timer")))]
type FuturesTimerSleep = Absent;

pin_project_lite::pin_project! {
    /// The future of a [`DefaultSleeper`]'s wait, on whichever timer it chose. (A variant whose
    /// timer is not compiled in holds a future that cannot exist.)
    #[project = DefaultSleepProj]
    #[allow(missing_docs, reason = "a variant's one field is its future")]
    #[derive(Debug)]
    pub enum DefaultSleep {
        /// tokio's timer (watched on a current-thread runtime).
        Tokio { #[pin] sleep: TokioSleep },
        /// async-io's timer.
        AsyncIo { #[pin] sleep: AsyncIoSleep },
        /// futures-timer's helper thread.
        FuturesTimer { #[pin] sleep: FuturesTimerSleep },
    }
}

impl Future for DefaultSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            DefaultSleepProj::Tokio { sleep } => poll_tokio(sleep, cx),
            DefaultSleepProj::AsyncIo { sleep } => sleep.poll(cx),
            DefaultSleepProj::FuturesTimer { sleep } => sleep.poll(cx),
        }
    }
}
