//! How an `async` driver waits between attempts.
//!
//! A zero wait (testing mode, a predicate's `RetryAfter(Duration::ZERO)`) yields to the executor
//! once, as stamina's `asyncio.sleep(0)` does, so that other tasks on the thread run between the
//! attempts: an operation that waits for one of them would otherwise fail every attempt. It
//! never touches a timer (tokio rounds every sleep up to its 1 ms tick). On tokio the yield is
//! tokio's own, which defers the wake-up until the runtime has polled its other tasks and
//! drivers; elsewhere it wakes the task and returns `Pending` once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::sleeper::Sleeper;

pin_project_lite::pin_project! {
    /// The backoff of an `async` driver: the sleeper's sleep, or a yield for a zero wait.
    ///
    /// A named enum rather than an `async fn`, so that a retrying future holds one sleep and
    /// nothing around it (the wait, a second state machine).
    #[project = BackoffProj]
    #[allow(missing_docs, reason = "a variant's one field is its future")]
    pub enum Backoff<S, Y> {
        /// A wait on the sleeper.
        Sleep { #[pin] sleep: S },
        /// A zero wait.
        Yield { #[pin] yielding: Y },
    }
}

impl<S: Future<Output = ()>, Y: Future<Output = ()>> Future for Backoff<S, Y> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            BackoffProj::Sleep { sleep } => sleep.poll(cx),
            BackoffProj::Yield { yielding } => yielding.poll(cx),
        }
    }
}

/// Waits `wait` on `sleeper`, or yields once for a zero wait.
#[inline]
pub(crate) fn backoff<S: Sleeper>(
    sleeper: &S,
    wait: Duration,
) -> Backoff<S::Sleep, impl Future<Output = ()> + use<S>> {
    if wait.is_zero() {
        Backoff::Yield {
            yielding: yield_now(),
        }
    } else {
        Backoff::Sleep {
            sleep: sleeper.sleep(wait),
        }
    }
}

/// Yields to the executor once.
#[cfg(feature = "tokio")]
fn yield_now() -> impl Future<Output = ()> {
    tokio::task::yield_now()
}

/// Yields to the executor once.
#[cfg(not(feature = "tokio"))]
fn yield_now() -> impl Future<Output = ()> {
    YieldNow(false)
}

/// [`backoff`] with a yield of a type that a hand-written future can name (the `tower`
/// layer's): on tokio too, it wakes the task and returns `Pending` once, without tokio's
/// deferral.
#[cfg(feature = "tower")]
#[inline]
pub(crate) fn backoff_named<S: Sleeper>(
    sleeper: &S,
    wait: Duration,
) -> Backoff<S::Sleep, YieldNow> {
    if wait.is_zero() {
        Backoff::Yield {
            yielding: YieldNow(false),
        }
    } else {
        Backoff::Sleep {
            sleep: sleeper.sleep(wait),
        }
    }
}

/// A future that wakes its task and returns `Pending` once.
#[cfg(any(not(feature = "tokio"), feature = "tower"))]
pub(crate) struct YieldNow(bool);

#[cfg(any(not(feature = "tokio"), feature = "tower"))]
impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
