//! Process-wide state: [`exclusive`], which serializes the tests of a binary that change the
//! switches or the hook registry, and the flags that keep it and the routing of hook calls
//! ([`Recorder::routed`](crate::Recorder::routed)) out of each other's binaries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use stamina::Switches;
use stamina::instrumentation;

use crate::lock;

/// The lock behind [`exclusive`].
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Set once a test of this process took [`exclusive`]; the routing of hook calls
/// ([`Recorder::routed`](crate::Recorder::routed)) refuses to run then.
pub(crate) static EXCLUSIVE_USED: AtomicBool = AtomicBool::new(false);

/// Set once the routing hook of [`Recorder::routed`](crate::Recorder::routed) is installed;
/// [`exclusive`] refuses to run then.
pub(crate) static ROUTING_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Holds the lock of [`exclusive`]; restores the defaults when dropped, before the lock is
/// released, even when the test fails.
#[derive(Debug)]
#[must_use = "the test is serialized only while the guard lives"]
pub struct Exclusive {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        stamina::set_active(true);
        stamina::set_testing(false, 1, false);
        instrumentation::reset_on_retry_hooks();
    }
}

/// Serializes the tests of this binary that change process-wide state: `stamina::set_active`,
/// `stamina::set_testing` and the hook registry. Every such test takes it first; its guard
/// restores the defaults (active, not testing, the default hooks) when it is dropped.
///
/// The lock is a `std::sync::Mutex`, taken with a blocking lock, so sync and async tests share
/// it. An async test may hold the guard across `.await`s: each `#[tokio::test]` runs its own
/// runtime on its own test thread, so a test waiting for the lock blocks only its own thread,
/// never the runtime of the test that holds it. Take it once per test, in the test's body: a
/// second `exclusive()` in a task of the same test would block, for good, the thread of the
/// runtime (a current-thread one, by default) that the holder needs in order to finish.
///
/// # Panics
///
/// In a binary that uses [`Recorder::routed`](crate::Recorder::routed) (whose hook the guard
/// would remove): neither runs in a process where the other ran. Also if the switches are not
/// the defaults once the lock is taken: a test changed them without the lock.
pub fn exclusive() -> Exclusive {
    assert!(
        !ROUTING_INSTALLED.load(Ordering::SeqCst),
        "this binary routes hook calls (`Recorder::routed`): `exclusive()` would remove the routing hook"
    );
    EXCLUSIVE_USED.store(true, Ordering::SeqCst);
    let lock = lock(&EXCLUSIVE);
    // A test that failed before restoring the defaults cannot have left them changed: its
    // `Exclusive` restored them while unwinding. Check anyway, so a leak cannot go unnoticed.
    assert_eq!(Switches::global(), Switches::new(), "defaults not restored");
    Exclusive { _lock: lock }
}
