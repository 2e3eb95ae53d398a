//! Switches for tests that run in parallel.
//!
//! [`set_active`](crate::set_active) and [`set_testing`](crate::set_testing) are process-wide, as
//! in stamina. `cargo test` runs the tests of a binary in parallel threads, where a process-wide
//! switch set by one test changes the behaviour of the others. The functions here are the same
//! switches, scoped:
//!
//! - [`set_testing`] and [`set_active`] set them for the current thread until the returned guard
//!   is dropped: right for sync tests and `#[tokio::test]`'s default current-thread runtime;
//! - [`Switches::scope`](crate::Switches::scope) sets them for one future, whichever worker
//!   thread polls it: right for a task on a multi-thread runtime.
//!
//! A scoped state wins over the process-wide one. Like stamina's, inactive beats testing.
//!
//! Beyond stamina, [`TestClock`] keeps the production configuration as it is: in its scope
//! (a thread or a task, like the switches) no wait is slept; each is recorded, and virtual time
//! moves past it, so a test asserts the exact backoff of a real policy in microseconds. Its
//! [`sleep`](TestClock::sleep) and [`block_on`](TestClock::block_on) put operations and hedged
//! calls on the same virtual time.
//!
//! ```
//! use std::{io, time::Duration};
//! use stamina::testing::TestClock;
//!
//! #[stamina::retry(on = io::Error, attempts = 4, wait_initial = 250ms, wait_jitter = 0)]
//! fn connect() -> io::Result<()> {
//!     Err(io::ErrorKind::ConnectionRefused.into())
//! }
//!
//! let clock = TestClock::new();
//! assert!(clock.run(connect).is_err());
//! let waits: Vec<Duration> = clock.waits().iter().map(|w| w.wait).collect();
//! assert_eq!(waits, [250, 500, 1000].map(Duration::from_millis));
//! ```
//!
//! The switches, for a sync test:
//!
//! ```
//! # use std::io;
//! #[stamina::retry(on = io::Error, attempts = 10, wait_initial = 60)]
//! fn flaky(calls: &mut u32) -> io::Result<u32> {
//!     *calls += 1;
//!     if *calls < 3 { Err(io::ErrorKind::TimedOut.into()) } else { Ok(*calls) }
//! }
//!
//! // In a test: every wait is zero, at most 5 attempts, on this thread only.
//! let _guard = stamina::testing::set_testing(true, 5, false);
//! let mut calls = 0;
//! assert_eq!(flaky(&mut calls).unwrap(), 3);
//! ```
//!
//! # With a paused tokio clock
//!
//! `#[tokio::test(start_paused = true)]` gives an `async` test tokio's virtual time: a retry's
//! sleep on tokio's timer takes no real time, and the runtime moves its clock past it. The real
//! backoff then runs in microseconds, as tokio's clock shows. The switches combine with it:
//! testing mode makes every wait zero (the clock does not move) and caps the attempts; inactive
//! makes one attempt. With stamina's `test-util` feature in the dev-dependencies, timeouts and
//! deadlines read tokio's clock too, so that an attempt that sleeps on it (a simulated slow
//! server) counts against the timeout.
//!
//! ```
//! use std::{io, time::Duration};
//!
//! #[stamina::retry(on = io::Error, attempts = 4, timeout = None, wait_initial = 1s, wait_jitter = 0)]
//! async fn connect() -> io::Result<()> {
//!     Err(io::ErrorKind::ConnectionRefused.into())
//! }
//!
//! // `#[tokio::test(start_paused = true)] async fn connects() { .. }` in a test suite.
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let start = tokio::time::Instant::now();
//! assert!(connect().await.is_err());
//! assert_eq!(start.elapsed(), Duration::from_secs(7)); // 1 + 2 + 4 s, virtual
//!
//! let start = tokio::time::Instant::now();
//! let _instant = stamina::testing::set_testing(true, 2, false);
//! assert!(connect().await.is_err()); // 2 attempts, zero waits
//! assert_eq!(start.elapsed(), Duration::ZERO);
//! # }
//! ```
//!
//! A task on a multi-thread runtime:
//!
//! ```
//! # #[tokio::main] async fn main() {
//! use stamina::Switches;
//!
//! let handle = tokio::spawn(Switches::current().active(false).scope(async {
//!     assert!(!stamina::is_active()); // on whatever worker thread runs it
//! }));
//! handle.await.unwrap();
//! # }
//! ```

pub use crate::scope::clock::{RecordedWait, TestClock, VirtualSleep};
use crate::scope::switches::Switches;
pub use crate::scope::switches::{SwitchGuard, Testing};
pub use crate::scope::{ScopeGuard, Scoped};

/// [`stamina::set_testing`](crate::set_testing) for the current thread only, until the guard is
/// dropped; the active switch stays as it is.
pub fn set_testing(testing: bool, attempts: u32, cap: bool) -> SwitchGuard {
    Switches::current()
        .testing(testing, attempts, cap)
        .set_for_thread()
}

/// [`stamina::set_active`](crate::set_active) for the current thread only, until the guard is
/// dropped; testing mode stays as it is.
pub fn set_active(active: bool) -> SwitchGuard {
    Switches::current().active(active).set_for_thread()
}
