//! The hook registry, `stamina::instrumentation`: `set_on_retry_hooks`, `reset_on_retry_hooks`
//! and `get_on_retry_hooks` (the defaults, an empty set, setting back what was read); the forms a
//! hook takes (`Hook` from closures with and without guards, `RetryHook` structs,
//! `Hook::shared`, `Arc<dyn RetryHook>`) and the order they run in; `RetryHookFactory` (built
//! lazily, once per registration); and panics in hooks and factories.
//!
//! When hooks run and what they see is `hook_calls.rs` (the `callable` name `hook_names.rs`, the
//! guards `hook_guards.rs` and `hook_guards_async.rs`); the default hooks themselves are
//! `tracing_hook.rs` and `metrics_hook.rs`. The registry is process-wide: every test takes
//! [`exclusive`], which serializes the tests of this binary and restores the default hooks when
//! it is dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use stamina::instrumentation::{
    Hook, RetryDetails, RetryGuard, RetryHook, RetryHookFactory, get_on_retry_hooks,
    reset_on_retry_hooks, set_on_retry_hooks,
};
use stamina_tests::{Capture, Failure, Flaky, Log, Recorder, exclusive, instant};

// ---------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------

#[test]
fn defaults_are_two_hooks_and_an_empty_set_is_none() {
    let _x = exclusive();
    // metrics and tracing, both default features.
    assert_eq!(get_on_retry_hooks().len(), 2);
    set_on_retry_hooks(Vec::<Hook>::new());
    assert!(get_on_retry_hooks().is_empty());
    reset_on_retry_hooks();
    assert_eq!(get_on_retry_hooks().len(), 2);
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    assert_eq!(get_on_retry_hooks().len(), 1);
}

#[test]
fn an_empty_set_runs_no_hooks_and_reset_brings_the_defaults_back() {
    let _x = exclusive();
    let capture = Capture::default();
    let run = || {
        let flaky = Flaky::new(2);
        capture.with_default(|| instant().call(|_: &Failure| true, || flaky.attempt()))
    };
    set_on_retry_hooks(Vec::<Hook>::new());
    assert_eq!(run(), Ok(3));
    assert!(capture.events().is_empty(), "{:?}", capture.events());
    reset_on_retry_hooks();
    assert_eq!(run(), Ok(3));
    assert_eq!(capture.events().len(), 2, "the default tracing hook");
}

#[test]
fn get_on_retry_hooks_can_be_set_again_through_hook_shared() {
    let _x = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    let hooks = get_on_retry_hooks();
    set_on_retry_hooks(Vec::<Hook>::new());
    set_on_retry_hooks(hooks.into_iter().map(Hook::shared));
    let flaky = Flaky::new(1);
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    assert_eq!(recorder.count(), 1);
}

#[test]
fn an_arc_dyn_retry_hook_converts_into_a_hook_as_it_is() {
    let _x = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    let hooks = get_on_retry_hooks();
    // `From<Arc<dyn RetryHook>>`: the very same hook, not a wrapper around it.
    set_on_retry_hooks(hooks.clone());
    assert!(Arc::ptr_eq(&hooks[0], &get_on_retry_hooks()[0]));
    let flaky = Flaky::new(1);
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    assert_eq!(recorder.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Hook forms
// ---------------------------------------------------------------------------------------------

/// A hook that is a struct, returning a guard.
struct StructHook {
    log: Log,
    label: &'static str,
}

impl RetryHook for StructHook {
    fn on_retry(&self, _: &RetryDetails<'_>) -> Option<RetryGuard> {
        self.log.push(self.label);
        Some(RetryGuard::new(self.log.guard(self.label)))
    }
}

#[test]
fn every_hook_form_runs_and_guards_drop_in_reverse_order() {
    let _x = exclusive();
    let log = Log::new();
    let (a, b, c, d) = (log.clone(), log.clone(), log.clone(), log.clone());
    let shared: Arc<dyn RetryHook> = Arc::new(StructHook {
        log: log.clone(),
        label: "F",
    });
    set_on_retry_hooks([
        Hook::from(move |_: &RetryDetails<'_>| a.push("A")),
        Hook::from(move |_: &RetryDetails<'_>| {
            b.push("B");
            RetryGuard::new(b.guard("B"))
        }),
        Hook::from(move |_: &RetryDetails<'_>| {
            c.push("C");
            Some(RetryGuard::new(c.guard("C")))
        }),
        Hook::from(move |_: &RetryDetails<'_>| -> Option<RetryGuard> {
            d.push("D");
            None
        }),
        Hook::from(StructHook {
            log: log.clone(),
            label: "E",
        }),
        Hook::shared(shared),
    ]);
    let flaky = Flaky::new(1);
    assert_eq!(
        instant().call(|_: &Failure| true, || log.attempt(&flaky)),
        Ok(2)
    );
    assert_eq!(
        log.entries(),
        [
            "attempt 1",
            "A",
            "B",
            "C",
            "D",
            "E",
            "F",
            "drop F",
            "drop E",
            "drop C",
            "drop B",
            "attempt 2",
        ]
    );
}

#[test]
fn factory_builds_its_hook_lazily_on_the_first_retry() {
    let _x = exclusive();
    let builds = Arc::new(AtomicU32::new(0));
    let recorder = Recorder::new();
    let factory = {
        let builds = Arc::clone(&builds);
        let recorder = Arc::clone(&recorder);
        RetryHookFactory::new(move || {
            builds.fetch_add(1, Ordering::SeqCst);
            recorder.hook()
        })
    };
    set_on_retry_hooks([factory.clone()]);
    assert_eq!(builds.load(Ordering::SeqCst), 0, "built when registered");

    let flaky = Flaky::never();
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    let flaky = Flaky::always();
    let _ = instant()
        .call(|_: &Failure| false, || flaky.attempt())
        .unwrap_err();
    assert_eq!(builds.load(Ordering::SeqCst), 0, "built before any retry");

    let flaky = Flaky::new(3);
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    assert_eq!(builds.load(Ordering::SeqCst), 1, "built once for 3 retries");
    assert_eq!(recorder.retry_nums(), [1, 2, 3]);
    let flaky = Flaky::new(1);
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    assert_eq!(
        builds.load(Ordering::SeqCst),
        1,
        "built again for another call"
    );

    // Each registration re-arms it.
    set_on_retry_hooks([Hook::from(factory.clone())]);
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    let flaky = Flaky::new(1);
    instant()
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap();
    assert_eq!(builds.load(Ordering::SeqCst), 2);
    assert_eq!(recorder.count(), 5);

    // `get_on_retry_hooks` resolves it too, once per registration.
    set_on_retry_hooks([factory]);
    assert_eq!(get_on_retry_hooks().len(), 1);
    assert_eq!(get_on_retry_hooks().len(), 1);
    assert_eq!(builds.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------------
// Panics in hooks
// ---------------------------------------------------------------------------------------------

#[test]
fn a_panicking_hook_propagates_and_later_calls_keep_working() {
    let _x = exclusive();
    let log = Log::new();
    let panicking = Arc::new(AtomicBool::new(true));
    let recorder = Recorder::new();
    let hook_panicking = Arc::clone(&panicking);
    set_on_retry_hooks([
        Hook::from(log.guarding_hook()),
        Hook::from(move |_: &RetryDetails<'_>| {
            assert!(!hook_panicking.load(Ordering::SeqCst), "hook failed");
        }),
        Hook::from(recorder.hook()),
    ]);

    let flaky = Flaky::new(1);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        instant().call(|_: &Failure| true, || flaky.attempt())
    }));
    let payload = outcome.unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(message, Some("hook failed"));
    assert_eq!(flaky.calls(), 1, "no attempt after the panic");
    // The first hook's guard was dropped exactly once, during the unwind.
    assert_eq!(log.take(), ["hook 1", "drop 1"]);
    assert_eq!(recorder.count(), 0);

    panicking.store(false, Ordering::SeqCst);
    let flaky = Flaky::new(1);
    assert_eq!(
        instant().call(|_: &Failure| true, || flaky.attempt()),
        Ok(2)
    );
    assert_eq!(log.take(), ["hook 1", "drop 1"]);
    assert_eq!(recorder.count(), 1, "the hooks run again");
}

#[tokio::test]
async fn a_panicking_hook_in_an_async_call_panics_its_task() {
    let _x = exclusive();
    set_on_retry_hooks([|_: &RetryDetails<'_>| -> Option<RetryGuard> { panic!("hook failed") }]);
    let handle = tokio::spawn(async {
        let flaky = Flaky::new(1);
        instant()
            .call_async(|_: &Failure| true, || async { flaky.attempt() })
            .await
    });
    assert!(handle.await.unwrap_err().is_panic());
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    let flaky = Flaky::new(1);
    let v = instant()
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!((v, recorder.count()), (Ok(2), 1));
}

#[test]
fn a_factory_that_panicked_is_called_again_on_the_next_retry() {
    let _x = exclusive();
    let builds = Arc::new(AtomicU32::new(0));
    let recorder = Recorder::new();
    let factory = {
        let builds = Arc::clone(&builds);
        let recorder = Arc::clone(&recorder);
        RetryHookFactory::new(move || {
            let n = builds.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(n > 1, "factory failed");
            recorder.hook()
        })
    };
    set_on_retry_hooks([factory]);

    let flaky = Flaky::new(1);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        instant().call(|_: &Failure| true, || flaky.attempt())
    }));
    assert!(outcome.is_err());
    assert_eq!(builds.load(Ordering::SeqCst), 1);

    let flaky = Flaky::new(2);
    assert_eq!(
        instant().call(|_: &Failure| true, || flaky.attempt()),
        Ok(3)
    );
    assert_eq!(builds.load(Ordering::SeqCst), 2, "built again, once");
    assert_eq!(recorder.retry_nums(), [1, 2]);
}
