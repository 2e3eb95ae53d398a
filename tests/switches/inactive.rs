//! `set_active(false)`'s semantics, through every door (`#[retry]` fns, `RetryingCaller` sync and
//! async, the explicit `RetryContext` loop): each call runs its operation once, `on` is never
//! asked, no hook fires, a success is not run twice, and inactive beats testing mode.
//!
//! The switch is set for the test's thread only (`stamina::testing::set_active`), so the tests
//! run in parallel; the process-wide `stamina::set_active` is `process_switches.rs`. Hook calls
//! are observed through the routing [`Recorder`], by thread.

use std::time::Duration;

use stamina::testing::{set_active, set_testing};
use stamina::{RetryingCaller, is_active, is_testing, retry};
use stamina_tests::{Failure, Flaky, Recorder, calls_of};

fn on_panics(_: &Failure) -> bool {
    panic!("`on` asked while inactive")
}

#[retry(on = Failure, attempts = 5, wait_initial = 0.2, wait_jitter = 0)]
fn five(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = None, timeout = None, wait_initial = 0.2, wait_jitter = 0)]
fn unlimited(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

// ---------------------------------------------------------------------------------------------
// One attempt, `on` ignored, no hooks
// ---------------------------------------------------------------------------------------------

#[test]
fn attribute_fns_run_once_and_fire_no_hooks() {
    let recorder = Recorder::for_this_thread();
    let _inactive = set_active(false);
    assert!(!is_active());
    assert_eq!(calls_of(five), 1);
    assert_eq!(calls_of(unlimited), 1);
    let flaky = Flaky::never();
    assert_eq!(five(&flaky), Ok(1));
    assert_eq!(recorder.count(), 0);
}

#[test]
fn the_caller_and_the_loop_run_once_ignore_on_and_fire_no_hooks() {
    let recorder = Recorder::for_this_thread();
    let _inactive = set_active(false);
    assert!(!is_active());
    let caller = RetryingCaller::new().attempts(10);

    let flaky = Flaky::always();
    let e = caller.call(on_panics, || flaky.attempt()).unwrap_err();
    assert_eq!((Some(e), flaky.calls()), (flaky.last_error(), 1));

    let flaky = Flaky::never();
    assert_eq!(caller.call(on_panics, || flaky.attempt()), Ok(1));
    assert_eq!(flaky.calls(), 1, "a success is not run twice (stamina #53)");

    let flaky = Flaky::always();
    let mut retry = caller.context(on_panics);
    retry.attempt();
    let e = flaky.attempt().unwrap_err();
    assert_eq!(retry.backoff(e), Err(e));

    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn async_calls_of_the_caller_run_once() {
    let recorder = Recorder::for_this_thread();
    let _inactive = set_active(false);
    let caller = RetryingCaller::new();
    let flaky = Flaky::always();
    let _ = caller
        .call_async(on_panics, || async { flaky.attempt() })
        .await;
    let _ = caller
        .call_async_mut(on_panics, async || flaky.attempt())
        .await;
    assert_eq!(flaky.calls(), 2);
    assert_eq!(recorder.count(), 0);
}

#[test]
fn the_loop_waits_zero_and_gives_the_error_back_at_once() {
    let caller = RetryingCaller::new();
    let _inactive = set_active(false);
    let mut retry = caller.context(|_: &Failure| -> bool { panic!("`on` asked while inactive") });
    let attempt = retry.attempt();
    assert_eq!((attempt.num, attempt.next_wait), (1, Duration::ZERO));
    let e = Failure::new(1);
    assert_eq!(retry.decide(e), Err(e));
}

// ---------------------------------------------------------------------------------------------
// Inactive beats testing
// ---------------------------------------------------------------------------------------------

#[test]
fn inactive_beats_testing_for_attribute_fns() {
    let _testing = set_testing(true, 5, false);
    let _inactive = set_active(false);
    assert_eq!(calls_of(five), 1);
}

#[test]
fn inactive_beats_testing_for_the_caller_whichever_is_set_first() {
    let recorder = Recorder::for_this_thread();
    for inactive_first in [true, false] {
        let (_a, _b) = if inactive_first {
            (set_active(false), set_testing(true, 5, false))
        } else {
            (set_testing(true, 5, false), set_active(false))
        };
        assert!(!is_active() && is_testing());
        let flaky = Flaky::always();
        let _ = RetryingCaller::new().call(on_panics, || flaky.attempt());
        assert_eq!(flaky.calls(), 1, "inactive first: {inactive_first}");
    }
    assert_eq!(recorder.count(), 0);
}
