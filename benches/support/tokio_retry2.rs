//! tokio-retry2 0.9 (async only): `Retry::spawn` with its documented jittered exponential
//! strategy.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use tokio_retry2::strategy::{ExponentialBackoff, ExponentialFactorBackoff, jitter};
use tokio_retry2::{Retry, RetryError};

use crate::{OpError, flaky_async, op_async, op_big_async};

async fn transient<T>(
    fut: impl Future<Output = Result<T, OpError>>,
) -> Result<T, RetryError<OpError>> {
    fut.await.map_err(RetryError::transient)
}

/// tokio-retry2's documented jittered exponential policy: 10 ms, then 100 ms, ... jittered by
/// 50-150 %, 3 retries (4 attempts).
fn tokio_retry2_default() -> impl Iterator<Item = Duration> {
    ExponentialBackoff::from_millis(10)
        .map(jitter as fn(Duration) -> Duration)
        .take(3)
}

/// tokio-retry2's `Retry::spawn` on the happy path.
pub fn tokio_retry2_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    Retry::spawn(tokio_retry2_default(), move || transient(op_async(x)))
}

/// tokio-retry2 around [`op_big_async`] (future sizes).
pub fn tokio_retry2_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    Retry::spawn(tokio_retry2_default(), move || transient(op_big_async(x)))
}

/// tokio-retry2 on the retry path, zero delays.
pub async fn tokio_retry2_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    let zero = ExponentialBackoff::from_millis(0)
        .map(jitter as fn(Duration) -> Duration)
        .take(3);
    Retry::spawn(zero, || transient(flaky_async(&calls, failures))).await
}

/// tokio-retry2 in the concurrency test.
pub async fn tokio_retry2_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    let small = ExponentialFactorBackoff::from_millis(1, 2.0).take(9);
    Retry::spawn(small, || transient(flaky_async(&calls, failures))).await
}
