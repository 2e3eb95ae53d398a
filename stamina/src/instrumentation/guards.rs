//! The guards of the retry under way: see the [module docs](super#guards).

use std::cell::Cell;
use std::mem::ManuallyDrop;

use super::hook::RetryGuard;

/// The guards that hooks returned for the retry under way, dropped newest first.
///
/// One pointer, null for the calls (nearly all) that never see a guard, so that every retrying
/// future stays small and dropping the state is a null check. The field is `ManuallyDrop` (and
/// `drop` empties it, in safe code): without drop glue of its own, the state's drop inlines into
/// the happy path as that one check, where the glue of a plain `Option<Box<..>>` kept it an
/// out-of-line call on every return (6 instructions per call, measured with callgrind). The vector is kept (emptied)
/// across a call's retries, and given back to its thread when the call ends, for the next call:
/// a hook that returns a guard on every retry allocates once per thread, not once per call.
#[derive(Debug)]
#[allow(
    clippy::box_collection,
    reason = "one pointer, not a vector's three, in every retrying future"
)]
pub(crate) struct Guards(ManuallyDrop<Option<Box<Vec<RetryGuard>>>>);

impl Default for Guards {
    fn default() -> Self {
        Self::new()
    }
}

impl Guards {
    pub(crate) const fn new() -> Self {
        Guards(ManuallyDrop::new(None))
    }

    pub(crate) fn push(&mut self, guard: RetryGuard) {
        self.0.get_or_insert_with(take_spare).push(guard);
    }

    /// Drops every guard, newest first. Inline, and a null check when there are none: every
    /// retrying call runs this before each attempt after the first, and when it ends.
    #[inline]
    pub(crate) fn release(&mut self) {
        if let Some(guards) = &mut *self.0 {
            release_all(guards);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |guards| guards.len())
    }
}

#[cold]
#[inline(never)]
fn release_all(guards: &mut Vec<RetryGuard>) {
    while let Some(guard) = guards.pop() {
        drop(guard);
    }
}

impl Drop for Guards {
    /// Inline, and a null check when there are none: the drop of every retrying call's state.
    /// Whatever is there goes out of line, the vector taken out so that what is left for the
    /// field's own drop is `None`.
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            drop_all(self);
        }
    }
}

#[cold]
#[inline(never)]
fn drop_all(guards: &mut Guards) {
    if let Some(mut all) = guards.0.take() {
        release_all(&mut all);
        give_spare(all);
    }
}

/// The vector of guards, boxed as `Guards` holds it: handed between calls whole.
#[allow(clippy::box_collection, reason = "what `Guards` holds, one pointer")]
type Stack = Box<Vec<RetryGuard>>;

thread_local! {
    /// An emptied vector of guards that a call of this thread gave back, for the next call that
    /// gets a guard: calls that get a guard on every retry (the default tracing hook's span,
    /// under a subscriber) allocate nothing once the thread has one.
    static SPARE: Cell<Option<Stack>> = const { Cell::new(None) };
}

#[allow(
    clippy::unnecessary_box_returns,
    reason = "the box is reused, not made"
)]
fn take_spare() -> Stack {
    SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn give_spare(guards: Stack) {
    // A vector grown by an unusual call is not kept; during the thread's exit it is dropped.
    if guards.capacity() <= 16 {
        let _ = SPARE.try_with(|spare| spare.set(Some(guards)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Logged(&'static str, Arc<Mutex<Vec<&'static str>>>);

    impl Drop for Logged {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    #[test]
    fn guards_drop_newest_first_and_once() {
        let log = Arc::default();
        let mut guards = Guards::new();
        guards.push(RetryGuard::new(Logged("first", Arc::clone(&log))));
        guards.push(RetryGuard::new(Logged("second", Arc::clone(&log))));
        assert_eq!(guards.len(), 2);
        guards.release();
        assert_eq!(*log.lock().unwrap(), ["second", "first"]);
        guards.release();
        drop(guards);
        assert_eq!(log.lock().unwrap().len(), 2);
    }

    #[test]
    fn dropping_releases() {
        let log = Arc::default();
        let mut guards = Guards::new();
        guards.push(RetryGuard::new(Logged("only", Arc::clone(&log))));
        drop(guards);
        assert_eq!(*log.lock().unwrap(), ["only"]);
    }

    #[test]
    fn no_guard_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Guards>(), std::mem::size_of::<usize>());
    }
}
