//! stamina's `#[retry]` on `fn` and `async fn`: the default policy, `timeout = None`, a budget,
//! a result predicate (`on_ok`), each named sleeper, a budget's withdrawal, an iterator's and a
//! stream's items, and the same `async fn`s without the attribute (the base of the future sizes).

use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::AtomicU32;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::{OpError, STORM_ROOMY, flaky, flaky_async, op, op_async, op_big_async};

/// `#[retry]` with `timeout = None`, happy path.
#[stamina::retry(on = OpError, timeout = None)]
#[inline(never)]
pub fn attr_no_timeout_happy(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// [`attr_no_timeout_happy`] under a ratio budget: the happy path's one deposit.
#[stamina::retry(on = OpError, timeout = None, budget = STORM_ROOMY)]
#[inline(never)]
pub fn attr_budget_happy(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// `#[retry]`, default policy (45 s timeout), happy path.
#[stamina::retry(on = OpError)]
#[inline(never)]
pub fn attr_happy(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// `#[retry]` with a result predicate, `timeout = None`, happy path: the predicate accepts the
/// value, which is all it costs.
#[stamina::retry(on = OpError, on_ok = |v: &u64| *v == u64::MAX - 1, timeout = None)]
#[inline(never)]
pub fn attr_on_ok_happy(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// `#[retry]` on an `async fn` with `timeout = None`, happy path.
#[stamina::retry(on = OpError, timeout = None)]
pub async fn attr_no_timeout_happy_async(x: u64) -> Result<u64, OpError> {
    op_async(x).await
}

/// `#[retry]` on an `async fn`, default policy, happy path.
#[stamina::retry(on = OpError)]
pub async fn attr_happy_async(x: u64) -> Result<u64, OpError> {
    op_async(x).await
}

/// `#[retry]` around [`op_big_async`] (future sizes).
#[stamina::retry(on = OpError)]
pub async fn attr_big_async(x: u64) -> Result<u64, OpError> {
    op_big_async(x).await
}

/// [`attr_happy_async`] with a result predicate (future sizes).
#[stamina::retry(on = OpError, on_ok = |v: &u64| *v == u64::MAX - 1)]
pub async fn attr_on_ok_async(x: u64) -> Result<u64, OpError> {
    op_async(x).await
}

/// [`attr_big_async`] with a result predicate (future sizes).
#[stamina::retry(on = OpError, on_ok = |v: &u64| *v == u64::MAX - 1)]
pub async fn attr_on_ok_big_async(x: u64) -> Result<u64, OpError> {
    op_big_async(x).await
}

/// [`attr_happy_async`] and [`attr_big_async`] on each named sleeper: future sizes per timer.
macro_rules! on_sleeper {
    ($($small:ident, $big:ident, $sleeper:expr;)*) => {$(
        #[doc = concat!("`#[retry]` on `", stringify!($sleeper), "`, happy path.")]
        #[stamina::retry(on = OpError, sleeper = $sleeper)]
        pub async fn $small(x: u64) -> Result<u64, OpError> {
            op_async(x).await
        }

        #[doc = concat!("`#[retry]` on `", stringify!($sleeper), "`, around [`op_big_async`].")]
        #[stamina::retry(on = OpError, sleeper = $sleeper)]
        pub async fn $big(x: u64) -> Result<u64, OpError> {
            op_big_async(x).await
        }
    )*};
}

on_sleeper! {
    attr_tokio_async, attr_tokio_big_async, stamina::sleeper::TokioSleeper;
    attr_async_io_async, attr_async_io_big_async, stamina::sleeper::AsyncIoSleeper;
    attr_futures_timer_async, attr_futures_timer_big_async, stamina::sleeper::FuturesTimerSleeper;
}

/// The body of [`attr_big_async`] without the attribute: the op's own future.
pub async fn plain_big_async(x: u64) -> Result<u64, OpError> {
    op_big_async(x).await
}

/// The body of [`attr_happy_async`] without the attribute: the op's own future.
pub async fn plain_happy_async(x: u64) -> Result<u64, OpError> {
    op_async(x).await
}

#[stamina::retry(on = OpError)]
fn attr_flaky(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    flaky(calls, failures)
}

#[stamina::retry(on = OpError)]
async fn attr_flaky_async(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    flaky_async(calls, failures).await
}

#[stamina::retry(on = OpError, wait_initial = Duration::from_millis(1), wait_jitter = Duration::ZERO)]
async fn attr_flaky_small_waits(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    flaky_async(calls, failures).await
}

/// `#[retry]`, retry path (needs testing mode for zero waits).
#[inline(never)]
pub fn attr_retry(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    attr_flaky(&calls, failures)
}

#[stamina::retry(on = OpError, budget = STORM_ROOMY)]
fn attr_budget_flaky(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    flaky(calls, failures)
}

/// [`attr_retry`] under a ratio budget that grants every retry: each retry's one withdrawal.
#[inline(never)]
pub fn attr_budget_retry(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    attr_budget_flaky(&calls, failures)
}

/// `#[retry]` on a `fn` returning an iterator, `timeout = None`: `n` items, each the op's.
#[stamina::retry(on = OpError, timeout = None)]
pub fn attr_items(n: u64) -> impl Iterator<Item = Result<u64, OpError>> {
    (0..n).map(op)
}

/// `#[retry]` on a `fn` returning a stream, `timeout = None`: `n` items, each the op's.
#[stamina::retry(on = OpError, timeout = None)]
pub fn attr_stream(n: u64) -> impl Stream<Item = Result<u64, OpError>> {
    Items(0..n)
}

/// A stream of the op's values over a range: ready at once, as [`op_async`] is.
struct Items(Range<u64>);

impl Stream for Items {
    type Item = Result<u64, OpError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next().map(op))
    }
}

/// `#[retry]` on an `async fn`, retry path (needs testing mode for zero waits).
pub async fn attr_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    attr_flaky_async(&calls, failures).await
}

/// `#[retry]` in the concurrency test.
pub async fn attr_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    attr_flaky_small_waits(&calls, failures).await
}
