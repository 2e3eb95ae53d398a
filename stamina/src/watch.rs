//! A late wake-up, from a helper thread of stamina's: for a wait on the timer of a
//! current-thread tokio runtime whose thread another executor may be blocking (see
//! [`crate::sleeper`]). The thread starts with the first wait it watches, and sleeps on a
//! condition variable until the next wake-up is due.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Instant;

struct Watch {
    /// The tasks to wake, and when: one entry per task (a task that waits again moves its
    /// entry).
    due: Mutex<Vec<(Instant, Waker)>>,
    changed: Condvar,
}

static WATCH: OnceLock<Option<&'static Watch>> = OnceLock::new();

/// Wakes `waker`'s task at `at` (or soon after), unless no helper thread could be started.
pub(crate) fn wake_at(at: Instant, waker: &Waker) {
    let Some(watch) = WATCH.get_or_init(start) else {
        return;
    };
    let mut due = watch.due.lock().unwrap_or_else(PoisonError::into_inner);
    // The helper sleeps until the earliest entry: it needs telling only of an earlier one (a
    // later one it finds when it wakes). A hedged call's timer is nearly always dropped before
    // it is due: a futex wake per timer cost it 5 µs.
    let earliest = due.iter().map(|(at, _)| *at).min();
    match due.iter_mut().find(|(_, w)| w.will_wake(waker)) {
        Some(entry) => entry.0 = at,
        None => due.push((at, waker.clone())),
    }
    drop(due);
    if earliest.is_none_or(|earliest| at < earliest) {
        watch.changed.notify_one();
    }
}

/// The watch, its thread started.
fn start() -> Option<&'static Watch> {
    let watch: &'static Watch = Box::leak(Box::new(Watch {
        due: Mutex::new(Vec::new()),
        changed: Condvar::new(),
    }));
    std::thread::Builder::new()
        .name("stamina-watch".to_owned())
        .spawn(move || run(watch))
        .ok()
        .map(|_| watch)
}

fn run(watch: &Watch) {
    let mut due = watch.due.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        let mut woken = Vec::new();
        due.retain(|(at, waker)| {
            let ready = *at <= now;
            if ready {
                woken.push(waker.clone());
            }
            !ready
        });
        let next = due.iter().map(|(at, _)| *at).min();
        if !woken.is_empty() {
            // Wakers run outside the lock: a task woken here may wait again at once.
            drop(due);
            woken.into_iter().for_each(Waker::wake);
            due = watch.due.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        due = match next {
            Some(at) => {
                watch
                    .changed
                    .wait_timeout(due, at.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => watch
                .changed
                .wait(due)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
