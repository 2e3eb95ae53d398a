//! The floor (the operation, called directly) and the hand-written retry loop a user would
//! write: stamina's formula, no clock (or one `Instant::now()`), no hooks.

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use crate::{OpError, flaky, flaky_async, op, op_async};

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
