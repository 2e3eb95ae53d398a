//! `stamina::instrumentation`: the hook registry (`set_on_retry_hooks`, `reset_on_retry_hooks`,
//! `get_on_retry_hooks`), the forms a hook takes, when hooks run and what they see, the lifetime
//! of the guards they return, and panics in hooks.
//!
//! The registry is process-wide: every test takes [`exclusive`], which serializes the tests of
//! this binary and restores the default hooks when it is dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use stamina::instrumentation::{
    Hook, RetryDetails, RetryGuard, RetryHook, RetryHookFactory, get_on_retry_hooks,
    reset_on_retry_hooks, set_on_retry_hooks,
};
use stamina::{Decision, RetryingCaller};
use stamina_tests::{Capture, Failure, Flaky, Log, Recorder, lock, ms};

static LOCK: Mutex<()> = Mutex::new(());

/// Holds [`LOCK`]; restores the default hooks on drop, before the lock is released.
struct Exclusive {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        reset_on_retry_hooks();
    }
}

fn exclusive() -> Exclusive {
    Exclusive { _lock: lock(&LOCK) }
}

/// Zero waits.
fn instant() -> RetryingCaller {
    RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
}

/// An operation that logs `attempt N` and fails its first `failures` calls.
fn logged(log: &Log, flaky: &Flaky) -> Result<u32, Failure> {
    log.push(format!("attempt {}", flaky.calls() + 1));
    flaky.attempt()
}

/// A hook that logs `hook N` and returns a guard that logs `drop N`.
fn guarding_hook(
    log: &Log,
) -> impl Fn(&RetryDetails<'_>) -> RetryGuard + Send + Sync + 'static + use<> {
    let log = log.clone();
    move |d| {
        log.push(format!("hook {}", d.retry_num));
        RetryGuard::new(log.guard(d.retry_num.to_string()))
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

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
        tracing::subscriber::with_default(capture.subscriber(), || {
            instant().call(|_: &Failure| true, || flaky.attempt())
        })
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

// ---------------------------------------------------------------------------------------------
// When hooks run
// ---------------------------------------------------------------------------------------------

#[test]
fn n_failing_attempts_give_n_minus_1_hook_calls() {
    let _x = exclusive();
    for n in 1..=6 {
        let recorder = Recorder::new();
        set_on_retry_hooks([recorder.hook()]);
        let flaky = Flaky::always();
        let _ = instant()
            .attempts(n)
            .call(|_: &Failure| true, || flaky.attempt());
        assert_eq!(recorder.retry_nums(), (1..n).collect::<Vec<_>>(), "n = {n}");
    }
}

#[test]
fn hooks_run_between_attempts_never_on_success_or_the_final_failure() {
    let _x = exclusive();
    let log = Log::new();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {}", d.retry_num));
    }]);

    let flaky = Flaky::always();
    let _ = instant()
        .attempts(3)
        .call(|_: &Failure| true, || logged(&log, &flaky));
    assert_eq!(
        log.take(),
        strings(&["attempt 1", "hook 1", "attempt 2", "hook 2", "attempt 3"])
    );

    let flaky = Flaky::never();
    let _ = instant().call(|_: &Failure| true, || logged(&log, &flaky));
    assert_eq!(log.take(), strings(&["attempt 1"]), "success at once");

    let flaky = Flaky::new(1);
    let _ = instant().call(|_: &Failure| true, || logged(&log, &flaky));
    assert_eq!(log.take(), strings(&["attempt 1", "hook 1", "attempt 2"]));

    let flaky = Flaky::always();
    let _ = instant().call(|_: &Failure| false, || logged(&log, &flaky));
    assert_eq!(log.take(), strings(&["attempt 1"]), "declined by `on`");
}

#[test]
fn retry_details_follow_stamina_sequence() {
    // stamina, verified: jitter 0, initial 0.01, max 0.05.
    let _x = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO)
        .name("hooks::sequence");
    let flaky = Flaky::always();
    let mut errors = Vec::new();
    let last = caller
        .call(
            |_: &Failure| true,
            || {
                let result = flaky.attempt();
                errors.push(result.unwrap_err());
                result
            },
        )
        .unwrap_err();
    assert_eq!(last, errors[5]);

    let retries = recorder.retries();
    assert_eq!(retries.len(), 5);
    let wait_for: Vec<_> = retries.iter().map(|r| r.wait_for).collect();
    let waited: Vec<_> = retries.iter().map(|r| r.waited_so_far).collect();
    assert_eq!(wait_for, [10, 20, 40, 50, 50].map(ms));
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
    for (i, r) in retries.iter().enumerate() {
        assert_eq!(r.name, "hooks::sequence");
        assert_eq!(r.retry_num as usize, i + 1);
        assert_eq!(r.caused_by, format!("{:?}", errors[i]));
        assert_eq!(r.error_type, "stamina_tests::Failure");
        assert_eq!(r.error_type, std::any::type_name::<Failure>());
    }
}

#[tokio::test(start_paused = true)]
async fn retry_details_follow_stamina_sequence_async() {
    let _x = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let start = tokio::time::Instant::now();
    let _ = caller
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(start.elapsed(), ms(170));
    assert_eq!(recorder.wait_fors(), [10, 20, 40, 50, 50].map(ms));
    let waited: Vec<_> = recorder.retries().iter().map(|r| r.waited_so_far).collect();
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
}

#[test]
fn caused_by_is_the_error_itself() {
    let _x = exclusive();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        lock(&hook_seen).push((format!("{:?}", d.caused_by), d.error_type));
    }]);
    let _ = instant().attempts(2).call(
        |_: &std::io::Error| true,
        || Err::<(), _>(std::io::Error::other("disk on fire")),
    );
    let seen = lock(&seen).clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].0,
        format!("{:?}", std::io::Error::other("disk on fire"))
    );
    assert_eq!(seen[0].1, "std::io::error::Error");
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
        instant().call(|_: &Failure| true, || logged(&log, &flaky)),
        Ok(2)
    );
    assert_eq!(
        log.entries(),
        strings(&[
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
        ])
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
// Guards
// ---------------------------------------------------------------------------------------------

#[test]
fn guard_drops_exactly_once_right_before_the_next_attempt() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = RetryingCaller::new()
        .attempts(4)
        .wait_initial(ms(2))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| true, || logged(&log, &flaky));
    assert_eq!(
        log.entries(),
        strings(&[
            "attempt 1",
            "hook 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "drop 2",
            "attempt 3",
            "hook 3",
            "drop 3",
            "attempt 4",
        ])
    );
}

/// A guard that logs the (paused) time at which it is dropped.
struct TimedGuard {
    log: Log,
    label: String,
    start: tokio::time::Instant,
}

impl Drop for TimedGuard {
    fn drop(&mut self) {
        let at = self.start.elapsed().as_millis();
        self.log.push(format!("drop {} at {at}", self.label));
    }
}

#[tokio::test(start_paused = true)]
async fn guard_lives_across_the_whole_sleep() {
    let _x = exclusive();
    let log = Log::new();
    let start = tokio::time::Instant::now();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        let at = start.elapsed().as_millis();
        hook_log.push(format!("hook {} at {at}", d.retry_num));
        RetryGuard::new(TimedGuard {
            log: hook_log.clone(),
            label: d.retry_num.to_string(),
            start,
        })
    }]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::new(3);
    let v = caller
        .call_async(
            |_: &Failure| true,
            || async {
                let at = start.elapsed().as_millis();
                log.push(format!("attempt {} at {at}", flaky.calls() + 1));
                flaky.attempt()
            },
        )
        .await;
    assert_eq!(v, Ok(4));
    assert_eq!(
        log.entries(),
        strings(&[
            "attempt 1 at 0",
            "hook 1 at 0",
            "drop 1 at 1000",
            "attempt 2 at 1000",
            "hook 2 at 1000",
            "drop 2 at 3000",
            "attempt 3 at 3000",
            "hook 3 at 3000",
            "drop 3 at 7000",
            "attempt 4 at 7000",
        ])
    );
}

#[test]
fn guards_never_leak_into_later_calls() {
    // stamina's bug: the entered context managers are never cleared, and every later attempt
    // (of this call and of later calls) exits them again.
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = instant().attempts(3);
    for call in 0..3 {
        let flaky = Flaky::always();
        let _ = caller.call(|_: &Failure| true, || logged(&log, &flaky));
        assert_eq!(
            log.take(),
            strings(&[
                "attempt 1",
                "hook 1",
                "drop 1",
                "attempt 2",
                "hook 2",
                "drop 2",
                "attempt 3",
            ]),
            "call {call}"
        );
    }
    let flaky = Flaky::new(1);
    let _ = caller.call(|_: &Failure| true, || logged(&log, &flaky));
    assert_eq!(
        log.take(),
        strings(&["attempt 1", "hook 1", "drop 1", "attempt 2"])
    );
}

#[tokio::test]
async fn guards_never_leak_into_later_async_calls() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = instant().attempts(3);
    for _ in 0..2 {
        let flaky = Flaky::always();
        let _ = caller
            .call_async(|_: &Failure| true, || async { logged(&log, &flaky) })
            .await;
        let flaky = Flaky::always();
        let _ = caller
            .call_async_mut(|_: &Failure| true, async || logged(&log, &flaky))
            .await;
    }
    let expected = strings(&[
        "attempt 1",
        "hook 1",
        "drop 1",
        "attempt 2",
        "hook 2",
        "drop 2",
        "attempt 3",
    ]);
    assert_eq!(log.take(), [&expected[..]; 4].concat());
}

#[test]
fn context_guards_live_until_the_next_attempt_or_the_end_of_the_loop() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = instant();
    {
        let mut retry = caller.context(|_: &Failure| true);
        retry.attempt();
        log.push("attempt 1");
        retry.decide(Failure::new(1)).unwrap();
        log.push("decided 1");
        retry.attempt();
        log.push("attempt 2");
        retry.decide(Failure::new(2)).unwrap();
        log.push("decided 2");
        // The loop ends here without another attempt: the guard goes with the context.
    }
    log.push("after the loop");
    assert_eq!(
        log.entries(),
        strings(&[
            "attempt 1",
            "hook 1",
            "decided 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "decided 2",
            "drop 2",
            "after the loop",
        ])
    );
}

#[test]
fn context_backoff_drops_the_guard_after_its_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = instant();
    let mut retry = caller.context(|_: &Failure| true);
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();
    log.push("backoff returned");
    retry.attempt();
    log.push("attempt 2");
    assert_eq!(
        log.entries(),
        strings(&["hook 1", "drop 1", "backoff returned", "attempt 2"])
    );
}

#[tokio::test(start_paused = true)]
async fn guard_drops_once_when_the_call_is_cancelled_mid_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([guarding_hook(&log)]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(3600))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(3600));

    let flaky = Flaky::always();
    let outcome = tokio::time::timeout(
        Duration::from_secs(1),
        caller.call_async(|_: &Failure| true, || async { logged(&log, &flaky) }),
    )
    .await;
    assert!(outcome.is_err(), "the call should still be sleeping");
    assert_eq!(
        log.take(),
        strings(&["attempt 1", "hook 1", "drop 1"]),
        "timeout"
    );

    let flaky = Flaky::always();
    let mut call = Box::pin(caller.call_async_mut(
        |_: &Failure| Decision::RetryAfter(Duration::from_secs(60)),
        async || logged(&log, &flaky),
    ));
    tokio::select! {
        _ = &mut call => panic!("the call should still be sleeping"),
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    assert_eq!(log.entries(), strings(&["attempt 1", "hook 1"]), "alive");
    drop(call);
    assert_eq!(
        log.take(),
        strings(&["attempt 1", "hook 1", "drop 1"]),
        "select"
    );
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
        Hook::from(guarding_hook(&log)),
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
    assert_eq!(log.take(), strings(&["hook 1", "drop 1"]));
    assert_eq!(recorder.count(), 0);

    panicking.store(false, Ordering::SeqCst);
    let flaky = Flaky::new(1);
    assert_eq!(
        instant().call(|_: &Failure| true, || flaky.attempt()),
        Ok(2)
    );
    assert_eq!(log.take(), strings(&["hook 1", "drop 1"]));
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
