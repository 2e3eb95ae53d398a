//! Helpers shared by the test binaries of this package (`stamina_tests::...`), one module per
//! kind, all re-exported here:
//!
//! - [`instant`]: a caller whose computed waits are zero;
//! - [`exclusive`] (`process.rs`): serializes the tests of a binary that change process-wide state
//!   (the switches, the hook registry) and restores the defaults afterwards, from sync and async
//!   tests;
//! - [`Failure`] and [`Flaky`] (`flaky.rs`): an error with a unique id, and an operation that fails
//!   a given number of times, counting its calls and remembering the last error it returned;
//!   [`calls_of`] and [`explicit_loop`] run one through an attribute fn or a `RetryContext` loop;
//! - [`Recorder`] (`recorder.rs`): owned copies of the hook calls, scheduled ([`Retry`], the
//!   [`RetryDetails`](stamina::instrumentation::RetryDetails) that hooks see) and denied
//!   ([`Denied`]), either installed directly as a hook (binaries whose tests take [`exclusive`])
//!   or routed by name or thread ([`Recorder::for_name`], [`Recorder::for_this_thread`]) for
//!   binaries whose tests run in parallel; [`record_hook_calls`] and [`hook_calls`] are one such
//!   recorder, routed every hook call of a binary, read by `callable`, for binaries whose tests
//!   run in parallel under names of their own;
//! - [`Log`] and [`LogGuard`] (`log.rs`): an ordered log of what happened, and a guard that logs
//!   its drop;
//! - [`Capture`] (`capture.rs`): records the `tracing` events and span lifetimes of one thread, in
//!   order, through one global subscriber (see its docs for why not a scoped one).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use stamina::RetryingCaller;

mod capture;
mod flaky;
mod log;
mod process;
mod recorder;

pub use self::capture::{Capture, CaptureGuard, Captured, Event, Value};
pub use self::flaky::{Flaky, calls_of, explicit_loop};
pub use self::log::{Log, LogGuard};
pub use self::process::{Exclusive, exclusive};
pub use self::recorder::{Denied, Hedge, HookCall, Recorder, Retry, hook_calls, record_hook_calls};

/// Locks `mutex`, ignoring poison: a test that failed while holding it must not fail the others.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `secs` seconds, for readable expectations.
#[must_use]
pub fn secs(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// `ms` milliseconds.
#[must_use]
pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A name no other test uses, for a caller whose hook calls a test wants to see alone.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}#{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A caller whose computed waits are zero (`wait_initial` and `wait_jitter` zero; the other
/// settings are stamina's defaults): a test with it never sleeps unless `on` asks for a wait.
#[must_use]
pub const fn instant() -> RetryingCaller {
    RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
}

/// An error with an id unique in the process, to tell which error a call returned.
///
/// Defined here rather than beside [`Flaky`]: its type name, `stamina_tests::Failure`, is the
/// `error_type` label that the tests expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Failure {
    /// Unique in the process.
    pub id: u64,
    /// The number of the call (from 1) that returned it.
    pub attempt: u32,
}

impl Failure {
    /// A new error with a fresh id.
    #[must_use]
    pub fn new(attempt: u32) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Failure {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            attempt,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure #{} (attempt {})", self.id, self.attempt)
    }
}

impl std::error::Error for Failure {}
