//! Operations: [`Flaky`], which fails a given number of times with a fresh
//! [`Failure`](crate::Failure) each, and [`calls_of`] and [`explicit_loop`], which run one through
//! an attribute fn or a `RetryContext` loop.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use stamina::RetryingCaller;

use crate::{Failure, lock};

/// succeeds with the number of the call. Thread-safe, so it can be shared with async tasks.
#[derive(Debug)]
pub struct Flaky {
    failures: u32,
    calls: AtomicU32,
    last_error: Mutex<Option<Failure>>,
}

impl Flaky {
    /// Fails the first `failures` calls.
    #[must_use]
    pub const fn new(failures: u32) -> Self {
        Flaky {
            failures,
            calls: AtomicU32::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Never succeeds.
    #[must_use]
    pub const fn always() -> Self {
        Self::new(u32::MAX)
    }

    /// Never fails.
    #[must_use]
    pub const fn never() -> Self {
        Self::new(0)
    }

    /// One call of the operation.
    pub fn attempt(&self) -> Result<u32, Failure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            let error = Failure::new(n);
            *lock(&self.last_error) = Some(error);
            Err(error)
        } else {
            Ok(n)
        }
    }

    /// How many times it was called.
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The last error it returned.
    #[must_use]
    pub fn last_error(&self) -> Option<Failure> {
        *lock(&self.last_error)
    }
}

/// Runs `f` (an attribute fn, say) with an operation that never succeeds, checks that the error
/// it gives back is the operation's last, unchanged, and returns the number of attempts made.
///
/// # Panics
///
/// If `f` succeeds, or gives back another error.
pub fn calls_of(f: impl FnOnce(&Flaky) -> Result<u32, Failure>) -> u32 {
    let flaky = Flaky::always();
    let error = f(&flaky).unwrap_err();
    assert_eq!(Some(error), flaky.last_error());
    flaky.calls()
}

/// `flaky` through the explicit loop of `caller` (`RetryContext::attempt` and `backoff`), which
/// checks that each attempt's number is the operation's call count.
///
/// # Panics
///
/// If an attempt's number is not the operation's call count.
pub fn explicit_loop(caller: &RetryingCaller, flaky: &Flaky) -> Result<u32, Failure> {
    let mut retry = caller.context(|_: &Failure| true);
    loop {
        let attempt = retry.attempt();
        assert_eq!(attempt.num, flaky.calls() + 1);
        match flaky.attempt() {
            Ok(v) => return Ok(v),
            Err(e) => retry.backoff(e)?,
        }
    }
}
