//! The storm: many tasks failing at once, with budgets and without; stamina's callers under each
//! budget, and backon (which has none).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;
use stamina::RetryingCaller;

use crate::{BACKON_ZERO, OpError, flaky_async, retry_all};

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
