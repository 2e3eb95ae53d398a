//! backon 1.6: `BlockingRetryable` and `Retryable`, with its default jittered exponential policy.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use backon::{BlockingRetryable, ExponentialBuilder, Retryable};

use crate::{OpError, flaky, flaky_async, op, op_async, op_big_async};

/// backon's default jittered exponential policy: 1 s doubling to 60 s, 3 retries (4 attempts).
pub const BACKON_DEFAULT: ExponentialBuilder = ExponentialBuilder::new().with_jitter();
/// backon's policy with zero delays (jitter stays on; it scales the zero delay).
pub const BACKON_ZERO: ExponentialBuilder = BACKON_DEFAULT.with_min_delay(Duration::ZERO);
/// backon without jitter, 1 ms then 2 ms (the concurrency test).
pub const BACKON_SMALL: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(1))
    .with_max_times(9);

/// backon's `BlockingRetryable` on the happy path.
#[inline(never)]
pub fn backon_happy(x: u64) -> Result<u64, OpError> {
    (|| op(x)).retry(BACKON_DEFAULT).call()
}

/// backon's `Retryable` on the happy path.
pub fn backon_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    (move || op_async(x)).retry(BACKON_DEFAULT)
}

/// backon's `Retryable` around [`op_big_async`] (future sizes).
pub fn backon_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    (move || op_big_async(x)).retry(BACKON_DEFAULT)
}

/// backon's `BlockingRetryable` on the retry path, zero delays.
#[inline(never)]
pub fn backon_retry(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    (|| flaky(&calls, failures)).retry(BACKON_ZERO).call()
}

/// [`backon_retry`] with a `notify` that does what stamina's default hooks do: the same
/// `tracing` event and a `metrics` counter with the same labels (the instrumented baseline).
#[inline(never)]
pub fn backon_retry_notify(failures: u32) -> Result<u64, OpError> {
    const RETRY_NUM: [&str; 10] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10+"];
    let calls = AtomicU32::new(0);
    let mut retry_num = 0_usize;
    let mut waited = Duration::ZERO;
    (|| flaky(&calls, failures))
        .retry(BACKON_ZERO)
        .notify(|error: &OpError, wait: Duration| {
            retry_num += 1;
            tracing::warn!(
                target: "stamina",
                callable = "support::backon",
                retry_num,
                caused_by = %error,
                wait_for = wait.as_secs_f64(),
                waited_so_far = waited.as_secs_f64(),
                "stamina.retry_scheduled",
            );
            waited += wait;
            metrics::counter!(
                "stamina_retries_total",
                "callable" => "support::backon",
                "retry_num" => RETRY_NUM[retry_num.clamp(1, 10) - 1],
                "error_type" => "stamina_benches::OpError",
            )
            .increment(1);
        })
        .call()
}

/// backon's `Retryable` on the retry path, zero delays, its default (tokio) sleeper.
pub async fn backon_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    (|| flaky_async(&calls, failures)).retry(BACKON_ZERO).await
}

/// [`backon_retry_async`] with a sleeper that never touches the timer: backon's own cost.
pub async fn backon_retry_async_no_timer(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    (|| flaky_async(&calls, failures))
        .retry(BACKON_ZERO)
        .sleep(|_: Duration| std::future::ready(()))
        .await
}

/// backon in the concurrency test.
pub async fn backon_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    (|| flaky_async(&calls, failures)).retry(BACKON_SMALL).await
}
