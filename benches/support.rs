//! The contenders of stamina's benchmarks, shared by every bench binary of this package.
//!
//! Every contender wraps the same operation ([`op`], [`op_async`], or the flaky [`flaky`] and
//! [`flaky_async`] that fail 3 times and then succeed), with the same error type ([`OpError`])
//! and a jittered exponential policy of at least 4 attempts: each crate's default where it has one.
//! The operation is `#[inline(never)]` and goes through [`black_box`], so no contender can be
//! optimised into knowing that it succeeds or fails.
//!
//! - `*_happy` take an input and return the operation's value: the happy path.
//! - `*_retry` make one call that fails `failures` times, then succeeds: `Ok(failures + 1)`, the
//!   number of attempts (the retry path uses 3 failures, and 0 as its baseline).
//!   stamina's retry contenders expect testing mode (zero waits) to be on; the peers are given zero
//!   delays.
//! - `*_small_waits` fail `failures` times (2 in the concurrency test), then succeed, with waits
//!   of 1 ms, 2 ms, ... and no jitter.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder, Retryable};
use stamina::RetryingCaller;
use tokio_retry2::strategy::{ExponentialBackoff, ExponentialFactorBackoff, jitter};
use tokio_retry2::{Retry, RetryError};

// ---------------------------------------------------------------------------------------------
// The operation.
// ---------------------------------------------------------------------------------------------

/// The error of the operation: small and `Copy`, like an error code, so that moving it around
/// costs every contender the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpError;

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("op failed")
    }
}

impl std::error::Error for OpError {}

/// The operation of the happy path: returns its input. It could fail (for `u64::MAX`), and the
/// compiler cannot see through it.
#[inline(never)]
pub fn op(x: u64) -> Result<u64, OpError> {
    let x = black_box(x);
    if x == u64::MAX { Err(OpError) } else { Ok(x) }
}

/// [`op`] as a future that is ready at once.
#[allow(clippy::unused_async, reason = "an async op that completes at once")]
pub async fn op_async(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// A future that holds 1 KiB across an await point: an operation with a large future.
pub async fn op_big_async(x: u64) -> Result<u64, OpError> {
    let buf = black_box([x as u8; 1024]);
    std::future::ready(()).await;
    op(u64::from(black_box(buf)[1023]))
}

/// Fails while `calls` (incremented here) is at most `failures`, then returns the number of calls.
///
/// The counter is an atomic (so that the futures that borrow it are `Send`) updated with a relaxed
/// load and store: no locked instruction, the cost of a `Cell`.
#[inline(never)]
pub fn flaky(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    let n = calls.load(Ordering::Relaxed) + 1;
    calls.store(n, Ordering::Relaxed);
    if n <= black_box(failures) {
        Err(OpError)
    } else {
        Ok(u64::from(n))
    }
}

/// [`flaky`] as a future that is ready at once.
#[allow(clippy::unused_async, reason = "an async op that completes at once")]
pub async fn flaky_async(calls: &AtomicU32, failures: u32) -> Result<u64, OpError> {
    flaky(calls, failures)
}

/// The failures of the retry path: 3, then success on the 4th attempt.
pub const RETRY_FAILURES: u32 = 3;
/// The failures of the concurrency test: 2, then success on the 3rd attempt.
pub const SMALL_WAIT_FAILURES: u32 = 2;
/// The waits of the concurrency test, 1 ms then 2 ms: their sum, the least time a task can take.
pub const SMALL_WAITS_SUM: Duration = Duration::from_millis(3);

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "`on` predicates take the error by reference"
)]
fn retry_all(_: &OpError) -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// The floor and the hand-written loop.
// ---------------------------------------------------------------------------------------------

/// The floor: the operation, called directly.
#[inline(never)]
pub fn bare_happy(x: u64) -> Result<u64, OpError> {
    op(x)
}

/// The async floor: the operation's future, awaited directly.
pub fn bare_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    op_async(x)
}

/// The policy of the hand-written loop: stamina's formula, in `f64` seconds.
#[derive(Clone, Copy, Debug)]
pub struct HandPolicy {
    /// Attempts in all.
    pub attempts: u32,
    /// The first wait, before jitter.
    pub initial: f64,
    /// The cap.
    pub max: f64,
    /// The upper bound of the uniform jitter.
    pub jitter: f64,
    /// The time limit, checked only by the timed loops.
    pub timeout: Duration,
}

impl HandPolicy {
    /// stamina's defaults: 10 attempts, 0.1 s doubling to 5 s, plus up to 1 s of jitter, 45 s.
    pub const DEFAULT: HandPolicy = HandPolicy {
        attempts: 10,
        initial: 0.1,
        max: 5.0,
        jitter: 1.0,
        timeout: Duration::from_secs(45),
    };

    /// Zero waits: the retry path.
    pub const ZERO: HandPolicy = HandPolicy {
        attempts: 10,
        initial: 0.0,
        max: 0.0,
        jitter: 0.0,
        timeout: Duration::from_secs(45),
    };

    /// The wait after failed attempt `n` (from 1).
    #[must_use]
    pub fn wait(&self, n: u32) -> Duration {
        let exp = self.initial * 2f64.powi(i32::try_from(n).unwrap_or(i32::MAX) - 1);
        let jitter = if self.jitter > 0.0 {
            fastrand::f64() * self.jitter
        } else {
            0.0
        };
        Duration::from_secs_f64((exp + jitter).min(self.max))
    }
}

/// The hand-written retry loop a user would write: no clock, no hooks.
pub fn hand_loop<T>(
    policy: &HandPolicy,
    mut op: impl FnMut() -> Result<T, OpError>,
) -> Result<T, OpError> {
    let mut attempt = 1;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) => {
                if attempt >= policy.attempts {
                    return Err(e);
                }
                std::thread::sleep(policy.wait(attempt));
                attempt += 1;
            }
        }
    }
}

/// The hand-written loop with a time limit: it reads `Instant::now()` before the first attempt,
/// as any loop must that measures its timeout from the first attempt (stamina's semantics).
pub fn hand_loop_timed<T>(
    policy: &HandPolicy,
    mut op: impl FnMut() -> Result<T, OpError>,
) -> Result<T, OpError> {
    let start = Instant::now();
    let mut attempt = 1;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) => {
                if attempt >= policy.attempts || start.elapsed() >= policy.timeout {
                    return Err(e);
                }
                std::thread::sleep(policy.wait(attempt));
                attempt += 1;
            }
        }
    }
}

/// [`hand_loop`] for async operations; a zero wait does not touch the timer.
pub async fn hand_loop_async<T, Fut>(
    policy: &HandPolicy,
    mut op: impl FnMut() -> Fut,
) -> Result<T, OpError>
where
    Fut: Future<Output = Result<T, OpError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                if attempt >= policy.attempts {
                    return Err(e);
                }
                let wait = policy.wait(attempt);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                attempt += 1;
            }
        }
    }
}

/// [`hand_loop_timed`] for async operations.
pub async fn hand_loop_timed_async<T, Fut>(
    policy: &HandPolicy,
    mut op: impl FnMut() -> Fut,
) -> Result<T, OpError>
where
    Fut: Future<Output = Result<T, OpError>>,
{
    let start = Instant::now();
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                if attempt >= policy.attempts || start.elapsed() >= policy.timeout {
                    return Err(e);
                }
                let wait = policy.wait(attempt);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                attempt += 1;
            }
        }
    }
}

/// The hand-written loop on the happy path.
#[inline(never)]
pub fn hand_happy(x: u64) -> Result<u64, OpError> {
    hand_loop(&HandPolicy::DEFAULT, || op(x))
}

/// The hand-written loop that reads `Instant::now()` first, on the happy path.
#[inline(never)]
pub fn hand_timed_happy(x: u64) -> Result<u64, OpError> {
    hand_loop_timed(&HandPolicy::DEFAULT, || op(x))
}

/// [`hand_happy`], async.
pub fn hand_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    hand_loop_async(&HandPolicy::DEFAULT, move || op_async(x))
}

/// [`hand_timed_happy`], async.
pub fn hand_timed_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    hand_loop_timed_async(&HandPolicy::DEFAULT, move || op_async(x))
}

/// The hand-written loop on the retry path, zero waits.
#[inline(never)]
pub fn hand_retry(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    hand_loop(&HandPolicy::ZERO, || flaky(&calls, failures))
}

/// [`hand_retry`], async.
pub async fn hand_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    hand_loop_async(&HandPolicy::ZERO, || flaky_async(&calls, failures)).await
}

// ---------------------------------------------------------------------------------------------
// backon 1.6.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// tokio-retry2 0.9 (async only).
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// tryhard 0.5 (async only; no jitter built in). Behind the `tryhard` feature: it turns on tokio's
// `test-util` for the whole build.
// ---------------------------------------------------------------------------------------------

/// tryhard's documented policy: 10 retries, exponential from 10 ms, capped at 1 s (no jitter:
/// tryhard has none).
#[cfg(feature = "tryhard")]
pub fn tryhard_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    tryhard::retry_fn(move || op_async(x))
        .retries(10)
        .exponential_backoff(Duration::from_millis(10))
        .max_delay(Duration::from_secs(1))
}

/// tryhard around [`op_big_async`] (future sizes).
#[cfg(feature = "tryhard")]
pub fn tryhard_big_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    tryhard::retry_fn(move || op_big_async(x))
        .retries(10)
        .exponential_backoff(Duration::from_millis(10))
        .max_delay(Duration::from_secs(1))
}

/// tryhard on the retry path, zero delays.
#[cfg(feature = "tryhard")]
pub async fn tryhard_retry_async(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    tryhard::retry_fn(|| flaky_async(&calls, failures))
        .retries(10)
        .exponential_backoff(Duration::ZERO)
        .await
}

/// tryhard in the concurrency test.
#[cfg(feature = "tryhard")]
pub async fn tryhard_small_waits(failures: u32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    tryhard::retry_fn(|| flaky_async(&calls, failures))
        .retries(9)
        .exponential_backoff(Duration::from_millis(1))
        .await
}

// ---------------------------------------------------------------------------------------------
// stamina: `RetryingCaller`.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// stamina: `#[retry]`.
// ---------------------------------------------------------------------------------------------

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

/// A current-thread tokio runtime with the timer, as the async benches use.
///
/// # Panics
///
/// If tokio cannot build it.
#[must_use]
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// Runs `n` calls of an async contender in one `block_on`, each with a fresh input.
pub fn block_on_many<F, Fut, T>(rt: &tokio::runtime::Runtime, n: u64, mut f: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = T>,
{
    rt.block_on(async {
        for i in 0..n {
            black_box(f(black_box(i)).await);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The storm: many tasks failing at once, with budgets and without.
// ---------------------------------------------------------------------------------------------

/// Zero waits (each retry yields to the executor once), no jitter: the retry machinery alone.
const fn storm_caller() -> RetryingCaller {
    RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .no_budget()
}

/// A ratio budget that grants every retry of the storm (ten retries per call): its cost alone.
pub static STORM_ROOMY: stamina::RetryBudget = stamina::RetryBudget::new().ratio(10.0);
/// A budget with reqwest's and Finagle's defaults (20%, 10 s, 10 per second): it denies.
pub static STORM_DEFAULT: stamina::RetryBudget = stamina::RetryBudget::new();

/// The storm's caller, without a budget.
pub static CALLER_STORM: RetryingCaller = storm_caller();
/// The storm's caller, under [`STORM_ROOMY`].
pub static CALLER_STORM_ROOMY: RetryingCaller = storm_caller().budget(&STORM_ROOMY);
/// The storm's caller, under [`STORM_DEFAULT`].
pub static CALLER_STORM_DEFAULT: RetryingCaller = storm_caller().budget(&STORM_DEFAULT);

/// `call_async` through `caller` in the storm: `Ok(attempts)` or the last error; adds the
/// attempts it made to `attempts`.
pub async fn caller_storm(
    caller: &'static RetryingCaller,
    failures: u32,
    attempts: &AtomicU32,
) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    let result = caller
        .call_async(retry_all, || flaky_async(&calls, failures))
        .await;
    attempts.fetch_add(calls.load(Ordering::Relaxed), Ordering::Relaxed);
    result
}

/// backon in the storm: zero delays, yielding once per retry as stamina does, 3 retries (no
/// budget: it has none).
pub async fn backon_storm(failures: u32, attempts: &AtomicU32) -> Result<u64, OpError> {
    let calls = AtomicU32::new(0);
    let result = (|| flaky_async(&calls, failures))
        .retry(BACKON_ZERO)
        .sleep(|_: Duration| tokio::task::yield_now())
        .await;
    attempts.fetch_add(calls.load(Ordering::Relaxed), Ordering::Relaxed);
    result
}
