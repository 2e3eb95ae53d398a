//! The contenders as the report runs them: a [`Contender`] makes `n` calls of one of the
//! library's functions, and the helpers below run those calls (sync or in one `block_on`, in
//! testing mode for the retry path, with or without hooks). The tables' lists live with their
//! sections ([`crate::happy`], [`crate::retry`]); [`crate::by_id`] finds any of them, for
//! `--count`.

use std::future::Future;
use std::hint::black_box;

use stamina::instrumentation::{Hook, reset_on_retry_hooks, set_on_retry_hooks};
use stamina_benches as s;
use tokio::runtime::Runtime;

/// One contender of one table: `run(rt, n, failures)` makes `n` calls, each failing `failures`
/// times before it succeeds (the happy-path contenders ignore `failures`).
#[derive(Clone, Copy)]
pub(crate) struct Contender {
    /// Stable, for `--count` and the bars.
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) run: fn(&Runtime, u64, u32),
}

macro_rules! contenders {
    ($($(#[$attr:meta])* $id:literal $label:literal => $run:expr;)*) => {
        &[$($(#[$attr])* Contender { id: $id, label: $label, run: $run },)*]
    };
}
pub(crate) use contenders;

pub(crate) fn sync_many<R>(n: u64, f: impl Fn(u64) -> R) {
    for i in 0..n {
        black_box(f(black_box(i)));
    }
}

pub(crate) fn async_many<Fut: Future>(rt: &Runtime, n: u64, f: impl FnMut(u64) -> Fut) {
    s::block_on_many(rt, n, f);
}

/// stamina's waits are zero in testing mode (the peers have zero delays of their own).
pub(crate) fn sync_retry_many<R>(n: u64, failures: u32, f: impl Fn(u32) -> R) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    sync_many(n, |_| f(failures));
}

pub(crate) fn async_retry_many<Fut: Future>(
    rt: &Runtime,
    n: u64,
    failures: u32,
    f: impl Fn(u32) -> Fut,
) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    async_many(rt, n, |_| f(failures));
}

/// Runs `f` with no hooks at all, then restores the default hooks.
pub(crate) fn without_hooks(f: impl FnOnce()) {
    set_on_retry_hooks(Vec::<Hook>::new());
    f();
    reset_on_retry_hooks();
}
