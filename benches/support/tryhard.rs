//! tryhard 0.5 (async only; no jitter built in). Behind the `tryhard` feature: it turns on tokio's
//! `test-util` for the whole build.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::{OpError, flaky_async, op_async, op_big_async};

/// tryhard's documented policy: 10 retries, exponential from 10 ms, capped at 1 s (no jitter:
/// tryhard has none).
pub fn tryhard_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    tryhard::retry_fn(move || op_async(x))
        .retries(10)
        .exponential_backoff(Duration::from_millis(10))
        .max_delay(Duration::from_secs(1))
}

/// tryhard around [`op_big_async`] (future sizes).
pub fn tryhard_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    tryhard::retry_fn(move || op_big_async(x))
        .retries(10)
        .exponential_backoff(Duration::from_millis(10))
        .max_delay(Duration::from_secs(1))
}

/// tryhard on the retry path, zero delays.
pub async fn tryhard_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    tryhard::retry_fn(|| flaky_async(&calls, failures))
        .retries(10)
        .exponential_backoff(Duration::ZERO)
        .await
}

/// tryhard in the concurrency test.
pub async fn tryhard_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    tryhard::retry_fn(|| flaky_async(&calls, failures))
        .retries(9)
        .exponential_backoff(Duration::from_millis(1))
        .await
}
