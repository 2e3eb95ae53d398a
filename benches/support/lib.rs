//! The contenders of stamina's benchmarks, shared by the sections of the report and its
//! `--count` mode (which runs one contender under valgrind).
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
//!
//! The operation and the runtime helpers are here; the contenders are in one module per
//! contender (the floor and the hand-written loop, each peer crate, stamina's `RetryingCaller`
//! and `#[retry]`, the storm's), all re-exported at the root.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

mod attr;
mod backon;
mod caller;
mod hand;
mod hedging;
mod layers;
mod storm;
mod throttle;
mod tokio_retry2;
#[cfg(feature = "tryhard")]
mod tryhard;

pub use self::attr::*;
pub use self::backon::*;
pub use self::caller::*;
pub use self::hand::*;
pub use self::hedging::*;
pub use self::layers::*;
pub use self::storm::*;
pub use self::throttle::*;
pub use self::tokio_retry2::*;
#[cfg(feature = "tryhard")]
pub use self::tryhard::*;

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
pub(crate) fn retry_all(_: &OpError) -> bool {
    true
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
