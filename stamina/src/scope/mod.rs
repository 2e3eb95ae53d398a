//! What is in force on a thread or in a task: the switches ([`Switches`], process-wide and
//! scoped, in `switches.rs`) and the test clock ([`TestClock`], in `clock.rs`). The public
//! faces are the crate root's switches and [`crate::testing`].
//!
//! A thread holds a stack of the settings in force, each entry known by an id: a thread guard
//! pushes one and takes out its own when dropped, in any order, so the setting in force is always
//! the newest live entry of its kind. A [`Scoped`] future keeps its own entries (its base, and any
//! guard taken inside it), appends them to the thread's stack for each poll and takes them back
//! after it, so that a task carries its settings to whatever thread polls it next, and a guard
//! taken inside a task holds across its awaits. Nested scopes nest.
//!
//! The reads of a retry are of two `Cell`s, kept in step with the stack: the switches in force,
//! and whether a test clock is. Neither has a destructor, so both read even while the thread's
//! other thread-locals are destroyed; the stack itself is only touched by guards and scopes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

pub(crate) mod clock;
pub(crate) mod switches;

use self::clock::TestClock;
use self::switches::Switches;

/// A setting a scope can hold.
#[derive(Clone, Debug)]
pub(crate) enum Setting {
    Switches(Switches),
    Clock(TestClock),
}

#[derive(Debug)]
struct Entry {
    id: u64,
    setting: Setting,
}

thread_local! {
    static STACK: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    /// What a retry reads of the stack, in one word: the switches of the newest
    /// `Setting::Switches` (packed, with [`SCOPED`] set), and [`CLOCKED`] if the stack holds a
    /// `Setting::Clock`; 0 for an empty stack.
    static HERE: Cell<u64> = const { Cell::new(0) };
}

/// In [`HERE`]: a scope sets the switches (the low bits hold them).
const SCOPED: u64 = 1 << 62;
/// In [`HERE`]: a test clock is in force.
const CLOCKED: u64 = 1 << 63;

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `f` on this thread's stack and brings the cached reads up to date; nothing if the
/// thread-local is gone (a guard dropped while the thread exits).
fn with_stack<R>(f: impl FnOnce(&mut Vec<Entry>) -> R) -> Option<R> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.borrow_mut();
            let result = f(&mut stack);
            let switches = stack.iter().rev().find_map(|e| match e.setting {
                Setting::Switches(s) => Some(s),
                Setting::Clock(_) => None,
            });
            let clocked = stack.iter().any(|e| matches!(e.setting, Setting::Clock(_)));
            let word =
                switches.map_or(0, |s| s.pack() | SCOPED) | if clocked { CLOCKED } else { 0 };
            HERE.with(|here| here.set(word));
            result
        })
        .ok()
}

/// The packed switches in force on this thread, if a scope sets them: one `Cell` read.
#[inline]
pub(crate) fn switches() -> Option<u64> {
    let here = HERE.with(Cell::get);
    (here & SCOPED != 0).then_some(here & !(SCOPED | CLOCKED))
}

/// Whether a test clock is in force on this thread: one `Cell` read.
#[inline]
pub(crate) fn clocked() -> bool {
    HERE.with(Cell::get) & CLOCKED != 0
}

/// The test clock in force on this thread, if any: one `Cell` read when there is none.
#[inline]
pub(crate) fn clock() -> Option<TestClock> {
    if clocked() { clock_in_force() } else { None }
}

#[cold]
#[inline(never)]
fn clock_in_force() -> Option<TestClock> {
    STACK
        .try_with(|stack| {
            stack.borrow().iter().rev().find_map(|e| match &e.setting {
                Setting::Clock(clock) => Some(clock.clone()),
                Setting::Switches(_) => None,
            })
        })
        .ok()
        .flatten()
}

/// A setting in force on the current thread until the guard is dropped.
#[derive(Debug)]
#[must_use = "the setting ends when the guard is dropped"]
pub struct ScopeGuard {
    id: u64,
    // The setting belongs to the thread that set it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl ScopeGuard {
    pub(crate) fn set(setting: Setting) -> Self {
        let id = next_id();
        with_stack(|stack| stack.push(Entry { id, setting }));
        ScopeGuard {
            id,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        with_stack(|stack| stack.retain(|e| e.id != self.id));
    }
}

pin_project_lite::pin_project! {
    /// A future with settings of its own, in force whenever it is polled, on whatever thread:
    /// see [`Switches::scope`] and [`TestClock::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        entries: Vec<Entry>,
        #[pin]
        future: F,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(setting: Setting, future: F) -> Self {
        Scoped {
            entries: vec![Entry {
                id: next_id(),
                setting,
            }],
            future,
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        /// Takes the future's entries back off the thread's stack when dropped, also if the
        /// future panics: whatever was added while it was polled, less what was taken out.
        struct Back<'a> {
            entries: &'a mut Vec<Entry>,
            before: Vec<u64>,
        }
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                let before = std::mem::take(&mut self.before);
                let entries = &mut *self.entries;
                with_stack(|stack| {
                    let (stay, ours) = std::mem::take(stack)
                        .into_iter()
                        .partition(|e| before.contains(&e.id));
                    *stack = stay;
                    *entries = ours;
                });
            }
        }
        let this = self.project();
        let before = with_stack(|stack| {
            let before = stack.iter().map(|e| e.id).collect();
            stack.append(this.entries);
            before
        })
        .unwrap_or_default();
        let _back = Back {
            entries: this.entries,
            before,
        };
        this.future.poll(cx)
    }
}
