//! The switches: process-global, as in stamina, plus thread- and task-scoped overrides.
//!
//! The global state is one `AtomicU64`, read with one relaxed load, and only after an attempt
//! failed: a call that succeeds at once never looks at the switches. A scoped override (a thread
//! guard or a task's scope, in `scope.rs`) is one `Cell` read more.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{ScopeGuard, Scoped, Setting};
use crate::nesting::Nesting;

/// The low 32 bits hold the testing attempts.
const TESTING: u64 = 1 << 32;
const CAP: u64 = 1 << 33;
const INACTIVE: u64 = 1 << 34;
const NESTED_ONCE: u64 = 1 << 35;
const ATTEMPTS_MASK: u64 = u32::MAX as u64;

static GLOBAL: AtomicU64 = AtomicU64::new(0);

/// The state of stamina's two switches, active or not and testing mode, and beyond stamina the
/// process-wide [`Nesting`] policy.
///
/// The process-wide state is set with [`set_active`](crate::set_active),
/// [`set_testing`](crate::set_testing) and [`set_nested`](crate::set_nested). A `Switches` value overrides it for one thread
/// ([`Switches::set_for_thread`]) or one task ([`Switches::scope`]), so that tests running in
/// parallel in one `cargo test` binary do not disturb each other. See [`crate::testing`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Switches {
    /// Packed, as the process-wide state is kept ([`GLOBAL`]) and a retry reads it: see the
    /// bits above. Reading them costs a retry no unpacking.
    word: u64,
}

impl std::fmt::Debug for Switches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switches")
            .field("active", &self.is_active())
            .field("testing", &self.testing_mode())
            .field("nested", &self.get_nested())
            .finish()
    }
}

/// Testing mode's settings, as [`set_testing`](crate::set_testing) takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Testing {
    /// The attempt limit in testing mode; 0 behaves as 1.
    pub attempts: u32,
    /// `true`: the limit is the smaller of `attempts` and the call's own limit.
    pub cap: bool,
}

impl Testing {
    /// The attempt limit for a call whose own limit is `own` (`None`: no limit).
    ///
    /// stamina's rule: without `cap` the testing attempts replace the call's own limit, even when
    /// that is lower; with `cap` the smaller one wins, and a call without a limit takes the testing
    /// attempts. A call configured with 0 attempts runs once here (stamina treats 0 as "no limit"
    /// under `cap`, a quirk this port does not keep: 0 attempts means one attempt everywhere).
    #[must_use]
    #[inline]
    pub fn attempt_limit(self, own: Option<u32>) -> u32 {
        let testing = self.attempts.max(1);
        match own {
            Some(own) if self.cap => own.clamp(1, testing),
            _ => testing,
        }
    }
}

impl Default for Switches {
    fn default() -> Self {
        Self::new()
    }
}

impl Switches {
    /// The process's initial state: active, not testing.
    #[must_use]
    pub const fn new() -> Self {
        Switches { word: 0 }
    }

    /// The state in force on this thread (or in this task): a scoped override if one is set,
    /// the process-wide state otherwise.
    #[must_use]
    #[inline]
    pub fn current() -> Self {
        let word = super::switches().unwrap_or_else(|| GLOBAL.load(Ordering::Relaxed));
        Switches { word }
    }

    /// The process-wide state, ignoring scoped overrides.
    #[must_use]
    pub fn global() -> Self {
        Switches {
            word: GLOBAL.load(Ordering::Relaxed),
        }
    }

    /// The same state, active or not. Inactive, every retrying call runs exactly once and no hook
    /// fires; that beats testing mode.
    #[must_use]
    pub const fn active(mut self, active: bool) -> Self {
        self.word = if active {
            self.word & !INACTIVE
        } else {
            self.word | INACTIVE
        };
        self
    }

    /// The same state in testing mode (`testing = true`) or out of it, with stamina's semantics:
    /// every wait is zero, the timeout is ignored, hooks still fire, and the attempt limit is
    /// `attempts` (with `cap`: the smaller of `attempts` and the call's own limit).
    #[must_use]
    pub const fn testing(mut self, testing: bool, attempts: u32, cap: bool) -> Self {
        self.word &= !(TESTING | CAP | ATTEMPTS_MASK);
        if testing {
            self.word |= TESTING | attempts as u64;
            if cap {
                self.word |= CAP;
            }
        }
        self
    }

    /// The same state with `nested` as the policy of the calls whose own policy names none:
    /// see [`Nesting`].
    #[must_use]
    pub const fn nested(mut self, nested: Nesting) -> Self {
        self.word = match nested {
            Nesting::Once => self.word | NESTED_ONCE,
            Nesting::Retry => self.word & !NESTED_ONCE,
        };
        self
    }

    /// The nesting policy.
    #[must_use]
    #[inline]
    pub const fn get_nested(&self) -> Nesting {
        if self.word & NESTED_ONCE == 0 {
            Nesting::Retry
        } else {
            Nesting::Once
        }
    }

    /// Whether retrying is active.
    #[must_use]
    #[inline]
    pub const fn is_active(&self) -> bool {
        self.word & INACTIVE == 0
    }

    /// Testing mode's settings, if it is on.
    #[must_use]
    #[inline]
    pub const fn testing_mode(&self) -> Option<Testing> {
        if self.word & TESTING == 0 {
            None
        } else {
            Some(Testing {
                attempts: (self.word & ATTEMPTS_MASK) as u32,
                cap: self.word & CAP != 0,
            })
        }
    }

    /// Overrides the switches for the current thread until the guard is dropped. Guards nest,
    /// and may be dropped in any order: the switches in force are always the newest live
    /// guard's, and once every guard is gone the thread has what it had before the first.
    ///
    /// A thread-local override does not follow an `async` task to another worker thread: for a
    /// task, use [`Switches::scope`]. A guard taken inside a scoped task belongs to the task,
    /// and holds across its awaits.
    pub fn set_for_thread(self) -> SwitchGuard {
        ScopeGuard::set(Setting::Switches(self))
    }

    /// Wraps a future so that these switches are in force whenever it runs, on whatever thread
    /// polls it, and nowhere else.
    pub fn scope<F: std::future::Future>(self, future: F) -> Scoped<F> {
        Scoped::new(Setting::Switches(self), future)
    }

    /// Runs `f` with these switches in force on the current thread.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.set_for_thread();
        f()
    }

    /// The packed word.
    pub(super) const fn pack(self) -> u64 {
        self.word
    }

    fn update_global(f: impl Fn(Switches) -> Switches) {
        // `fetch_update` never fails with a closure that always returns `Some`.
        let _ = GLOBAL.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
            Some(f(Switches { word }).word)
        });
    }
}

/// Ends a thread's override of the switches ([`Switches::set_for_thread`]) when dropped.
pub type SwitchGuard = ScopeGuard;

/// Turns retrying on or off for the whole process, like stamina's `set_active`.
///
/// Inactive, every retrying call runs its operation exactly once, the `on` predicate is not
/// consulted, any error comes back as is and no hook fires. Inactive beats testing mode. The
/// switch is read when an attempt fails, so it applies to calls already under way from their
/// next failure on. For a switch that only this thread or task sees, use
/// [`testing::set_active`](crate::testing::set_active) or [`Switches::scope`].
pub fn set_active(active: bool) {
    Switches::update_global(|s| s.active(active));
}

/// Whether retrying is active here: the scoped override of this thread or task, if any, else the
/// process-wide switch.
#[must_use]
pub fn is_active() -> bool {
    Switches::current().is_active()
}

/// Turns testing mode on or off for the whole process, like stamina's `set_testing`.
///
/// In testing mode every wait is zero (a predicate's [`RetryAfter`](crate::Decision::RetryAfter)
/// too), the timeout is ignored, hooks still fire, and each call makes at most `attempts`
/// attempts (0 behaves as 1). Without `cap` that replaces the call's own limit, even a lower one;
/// with `cap` the smaller of the two applies, and a call without a limit takes `attempts`. The
/// state persists until changed. For a mode that only this thread or task sees, use
/// [`testing::set_testing`](crate::testing::set_testing) or [`Switches::scope`].
pub fn set_testing(testing: bool, attempts: u32, cap: bool) {
    Switches::update_global(|s| s.testing(testing, attempts, cap));
}

/// Sets the [`Nesting`] policy of every retrying call in the process whose own policy names
/// none: [`Nesting::Retry`] (stamina's behaviour, the default) or [`Nesting::Once`], under which a
/// call that runs inside another retrying call's attempt makes one attempt and leaves the
/// retrying to the outer call. Read when an attempt fails. For a policy that only this thread or
/// task sees, use [`Switches::nested`] with [`Switches::set_for_thread`] or [`Switches::scope`].
pub fn set_nested(nesting: Nesting) {
    Switches::update_global(|s| s.nested(nesting));
}

/// Whether testing mode is on here: the scoped override of this thread or task, if any, else the
/// process-wide switch.
#[must_use]
pub fn is_testing() -> bool {
    Switches::current().testing_mode().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for s in [
            Switches::new(),
            Switches::new().active(false),
            Switches::new().testing(true, 0, false),
            Switches::new().testing(true, u32::MAX, true).active(false),
            Switches::new().testing(true, 3, true),
            Switches::new().nested(Nesting::Once).active(false),
        ] {
            assert_eq!(Switches { word: s.pack() }, s);
        }
    }

    #[test]
    fn testing_limits_follow_stamina() {
        // stamina's `_Testing.get_attempts` cases.
        let cap = Testing {
            attempts: 2,
            cap: true,
        };
        assert_eq!(cap.attempt_limit(Some(1)), 1);
        assert_eq!(cap.attempt_limit(Some(3)), 2);
        assert_eq!(
            Testing {
                attempts: 100,
                cap: true
            }
            .attempt_limit(None),
            100
        );
        let no_cap = Testing {
            attempts: 4,
            cap: false,
        };
        assert_eq!(no_cap.attempt_limit(Some(2)), 4);
        assert_eq!(no_cap.attempt_limit(None), 4);
        assert_eq!(
            Testing {
                attempts: 0,
                cap: false
            }
            .attempt_limit(Some(5)),
            1
        );
        assert_eq!(cap.attempt_limit(Some(0)), 1);
    }

    #[test]
    fn thread_guards_nest_and_restore() {
        let base = Switches::current();
        {
            let _outer = Switches::new().testing(true, 3, false).set_for_thread();
            assert_eq!(
                Switches::current().testing_mode().map(|t| t.attempts),
                Some(3)
            );
            {
                let _inner = Switches::new().testing(true, 5, true).set_for_thread();
                assert_eq!(
                    Switches::current().testing_mode().map(|t| t.attempts),
                    Some(5)
                );
            }
            assert_eq!(
                Switches::current().testing_mode().map(|t| t.attempts),
                Some(3)
            );
        }
        assert_eq!(Switches::current(), base);
    }
}
