//! stamina's `RetryingCaller`: `call` and `call_async`, with the default policy, without a
//! timeout, with a result predicate (`on_ok`), and with the small waits of the concurrency test.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use stamina::RetryingCaller;

use crate::{OpError, flaky, flaky_async, op, op_async, op_big_async, retry_all};

/// stamina's defaults: 10 attempts, 45 s, 0.1 s doubling to 5 s plus up to 1 s of jitter.
pub static CALLER_DEFAULT: RetryingCaller = RetryingCaller::new();
/// stamina's defaults without a timeout: the peers' semantics.
pub static CALLER_NO_TIMEOUT: RetryingCaller = RetryingCaller::new().no_timeout();
/// 1 ms then 2 ms, no jitter (the concurrency test).
pub static CALLER_SMALL: RetryingCaller = RetryingCaller::new()
    .wait_initial(Duration::from_millis(1))
    .wait_jitter(Duration::ZERO);

/// `RetryingCaller::call`, default policy (45 s timeout), happy path.
#[inline(never)]
pub fn caller_happy(x: u64) -> Result<u64, OpError> {
    CALLER_DEFAULT.call(retry_all, || op(x))
}

/// `RetryingCaller::call`, `no_timeout()`, happy path.
#[inline(never)]
pub fn caller_no_timeout_happy(x: u64) -> Result<u64, OpError> {
    CALLER_NO_TIMEOUT.call(retry_all, || op(x))
}

/// `RetryingCaller::call_async`, default policy, happy path.
pub fn caller_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    CALLER_DEFAULT.call_async(retry_all, move || op_async(x))
}

/// `RetryingCaller::call_async`, `no_timeout()`, happy path.
pub fn caller_no_timeout_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    CALLER_NO_TIMEOUT.call_async(retry_all, move || op_async(x))
}

/// `RetryingCaller::call_async` around [`op_big_async`] (future sizes).
pub fn caller_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    CALLER_DEFAULT.call_async(retry_all, move || op_big_async(x))
}

/// `RetryingCaller::call`, retry path (needs testing mode for zero waits).
#[inline(never)]
pub fn caller_retry(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    CALLER_DEFAULT.call(retry_all, || flaky(&calls, failures))
}

/// `RetryingCaller::call_async`, retry path (needs testing mode for zero waits).
pub async fn caller_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    CALLER_DEFAULT
        .call_async(retry_all, || flaky_async(&calls, failures))
        .await
}

/// `RetryingCaller::call_async` in the concurrency test.
pub async fn caller_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    CALLER_SMALL
        .call_async(retry_all, || flaky_async(&calls, failures))
        .await
}

/// `RetryingCaller::call` with a result predicate, `no_timeout()`, happy path.
#[inline(never)]
pub fn caller_on_ok_happy(x: u64) -> Result<u64, OpError> {
    // Built in place: constants throughout, which the optimizer folds (a caller with a
    // predicate is not `const`-constructible).
    RetryingCaller::new()
        .no_timeout()
        .on_ok(is_max)
        .call(retry_all, || op(x))
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "a result predicate's signature"
)]
fn is_max(v: &u64) -> bool {
    *v == u64::MAX - 1
}

/// A caller whose result predicate is a fn pointer.
type OnOkCaller = RetryingCaller<stamina::sleeper::DefaultSleeper, fn(&u64) -> bool>;

/// A caller with a result predicate, shared as [`CALLER_DEFAULT`] is.
static CALLER_ON_OK: std::sync::LazyLock<OnOkCaller> =
    std::sync::LazyLock::new(|| CALLER_DEFAULT.clone().on_ok(is_max));

/// `call_async` with a result predicate, around [`op_async`] (future sizes): the caller's
/// own future, as [`caller_happy_async`]'s is.
pub fn caller_on_ok_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    CALLER_ON_OK.call_async(retry_all, move || op_async(x))
}

/// `call_async` with a result predicate, around [`op_big_async`] (future sizes).
pub fn caller_on_ok_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    CALLER_ON_OK.call_async(retry_all, move || op_big_async(x))
}
