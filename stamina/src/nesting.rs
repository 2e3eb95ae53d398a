//! The nested-retry guard (stamina issue #19): a retrying fn that calls another retrying fn
//! multiplies their attempts, 10 x 10 = 100 calls to a dead service.
//!
//! Every retrying call publishes "an attempt of a retrying call is running here" while its
//! attempts run, from its **second** attempt on: on the thread, from a sync fn's first
//! scheduled retry until it returns; around each call into a retrying iterator's attempt (not
//! between its items, where the consumer's code runs); and around each poll of an `async`
//! attempt or a retrying stream, so that it follows the task to whatever thread polls it, on any
//! runtime. A call whose attempt fails while another call's attempt is published is nested.
//! Under [`Nesting::Once`] it then gives up after that one attempt, and leaves the retrying to
//! the outer call.
//!
//! Why not from the first attempt: publishing costs every call, success or not. Measured on the
//! sync `#[retry]` happy path, publishing the first attempt took 65 instructions where the call
//! takes 46 without it (BENCHMARKS.md); from the second attempt on, a call that never retries
//! pays one check of a byte when it ends (sync) or of its attempt number (`async`). The guard
//! then bounds a nested call to `inner + outer - 1` attempts instead of `inner * outer`: 19
//! rather than 100 with stamina's defaults, since the outer call's first attempt, still
//! unpublished, lets the inner one retry in full.
//!
//! A call made in a thread or task that an attempt spawns is not nested: it runs on its own.
//! The explicit loop ([`RetryContext`](crate::RetryContext)) publishes its attempts after a
//! [`backoff`](crate::RetryContext::backoff), on its thread, until its next decision or its
//! drop (a loop moved to another thread and dropped there takes its publication back from the
//! thread it made it on, and from no other); after
//! [`backoff_async`](crate::RetryContext::backoff_async) or [`decide`](crate::RetryContext::decide)
//! it cannot know where its attempts run: run them with
//! [`RetryContext::run`](crate::RetryContext::run) or
//! [`run_async`](crate::RetryContext::run_async).

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

/// What a retrying call does when it runs inside another retrying call's attempt.
///
/// The process-wide choice is a switch ([`Switches::nested`](crate::Switches::nested),
/// [`set_nested`](crate::set_nested)); a fn or caller overrides it with
/// `#[retry(nested = Once)]` or [`RetryPolicy::nested`](crate::RetryPolicy::nested).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Nesting {
    /// Retry as usual, nested or not: stamina's behaviour, the default.
    #[default]
    Retry,
    /// When nested, make one attempt and leave the retrying to the outer call: its error (or
    /// value) comes back after the first failure, unchanged, and the denial is reported
    /// ([`RetryHook::on_denied`](crate::instrumentation::RetryHook::on_denied)).
    Once,
}

thread_local! {
    /// The number of published attempts running on this thread, innermost included.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The attempts published on this thread by explicit loops: a count that a loop holds a
    /// share of, so that the loop (which is `Send`) takes its publication back from this
    /// thread wherever it is dropped. Made by the first loop that publishes here.
    static HELD: OnceCell<Arc<AtomicU32>> = const { OnceCell::new() };
}

/// The attempts published on this thread, by calls and by explicit loops.
fn depth() -> u32 {
    let held = HELD
        .try_with(|held| held.get().map_or(0, |h| h.load(Ordering::Relaxed)))
        .unwrap_or(0);
    DEPTH.try_with(Cell::get).unwrap_or(0).saturating_add(held)
}

/// Whether an attempt of a retrying call is running here.
#[cfg(test)]
fn nested() -> bool {
    depth() > 0
}

/// An attempt published while it lives, left on drop (a panic in the attempt included).
pub(crate) struct Published(());

impl Published {
    pub(crate) fn enter() -> Self {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_add(1)));
        Published(())
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// A sync call's publication: from its first scheduled retry until the call ends (its state is
/// dropped), every attempt it runs on its thread is published. One byte in the state's padding;
/// the call that never retries pays a check of it when it ends.
#[derive(Debug, Default)]
pub(crate) struct Publication(bool);

impl Publication {
    /// Publishes the call's attempts from now on (once).
    #[inline]
    pub(crate) fn publish(&mut self) {
        if !self.0 {
            let _ = DEPTH.try_with(|d| d.set(d.get().saturating_add(1)));
            self.0 = true;
        }
    }
}

impl Publication {
    /// Whether an attempt of *another* retrying call is running here: the thread's depth, less
    /// this call's own publication.
    #[inline]
    pub(crate) fn nested(&self) -> bool {
        depth() > u32::from(self.0)
    }
}

impl Drop for Publication {
    #[inline]
    fn drop(&mut self) {
        if self.0 {
            let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
}

/// An explicit loop's publication of its attempts on the thread that made it: from a sync
/// `backoff` until the loop decides on its next failure, or is dropped, on whatever thread.
/// It holds a share of that thread's count, so it never changes another thread's.
#[derive(Debug, Default)]
pub(crate) struct Held(Option<Arc<AtomicU32>>);

impl Held {
    /// Publishes the loop's attempts on this thread (taken back from the thread it published
    /// on before, if another).
    #[cold]
    pub(crate) fn publish(&mut self) {
        let Ok(here) = HELD.try_with(|held| Arc::clone(held.get_or_init(Arc::default))) else {
            return;
        };
        if self
            .0
            .as_ref()
            .is_some_and(|there| Arc::ptr_eq(there, &here))
        {
            return;
        }
        self.release();
        here.fetch_add(1, Ordering::Relaxed);
        self.0 = Some(here);
    }

    /// Takes the publication back, from the thread it was made on.
    pub(crate) fn release(&mut self) {
        if let Some(there) = self.0.take() {
            there.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// Runs one attempt of a sync call, published unless it is the first.
#[inline]
pub(crate) fn run<R>(attempt: u32, f: impl FnOnce() -> R) -> R {
    if attempt > 1 { run_published(f) } else { f() }
}

/// Runs `f` published: out of line, off the first attempt's path.
#[cold]
#[inline(never)]
pub(crate) fn run_published<R>(f: impl FnOnce() -> R) -> R {
    let _published = Published::enter();
    f()
}

pin_project_lite::pin_project! {
    /// An attempt's future, published around each poll (for an attempt after the first).
    #[allow(missing_docs, reason = "internal")]
    #[derive(Debug)]
    pub struct Attempting<F> {
        #[pin]
        future: F,
    }
}

/// `future`, published around each poll: an attempt after the first.
#[inline]
pub fn attempting<F: Future>(future: F) -> Attempting<F> {
    Attempting { future }
}

impl<F: Future> Future for Attempting<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _published = Published::enter();
        self.project().future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_lasts_until_dropped() {
        let mut publication = Publication::default();
        assert!(!nested());
        publication.publish();
        publication.publish();
        assert!(nested());
        drop(publication);
        assert!(!nested());
    }

    #[test]
    fn published_attempts_nest_and_unwind() {
        assert!(!nested());
        run(1, || {
            assert!(!nested(), "the first attempt is not published");
        });
        run(2, || {
            assert!(nested());
            run_published(|| assert!(nested()));
            assert!(nested());
        });
        assert!(!nested());
        let caught = std::panic::catch_unwind(|| run(2, || panic!("in an attempt")));
        assert!(caught.is_err());
        assert!(!nested(), "a panicking attempt leaves");
    }
}
