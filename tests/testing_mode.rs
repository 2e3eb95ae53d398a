//! `#[retry]` fns under the switches: testing mode (every wait zero, the timeout ignored, hooks
//! still firing, stamina's attempt rules with and without `cap`) and inactive (one attempt, `on`
//! ignored, no hooks), in their scoped forms: a guard for the thread, a wrapper for a task.
//!
//! Hook calls are observed through the routing [`Recorder`], by thread.

use std::time::Duration;

use stamina::{Decision, Switches, retry};
use stamina_tests::{Failure, Flaky, Recorder};

#[retry(on = Failure, attempts = 5, wait_initial = 0.2, wait_jitter = 0)]
fn five(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 2, wait_initial = 0.2, wait_jitter = 0)]
fn two(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = None, timeout = None, wait_initial = 0.2, wait_jitter = 0)]
fn unlimited(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

fn calls_of(f: fn(&Flaky) -> Result<u32, Failure>) -> u32 {
    let flaky = Flaky::always();
    let error = f(&flaky).unwrap_err();
    assert_eq!(Some(error), flaky.last_error());
    flaky.calls()
}

#[test]
fn testing_mode_makes_waits_zero_and_hooks_still_fire() {
    let recorder = Recorder::for_this_thread();
    let _testing = stamina::testing::set_testing(true, 3, false);
    assert!(stamina::is_testing());
    assert_eq!(calls_of(five), 3);
    assert_eq!(recorder.retry_nums(), [1, 2]);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[test]
fn without_cap_the_testing_attempts_replace_the_fns() {
    let _testing = stamina::testing::set_testing(true, 4, false);
    assert_eq!(calls_of(two), 4);
    assert_eq!(calls_of(five), 4);
    assert_eq!(calls_of(unlimited), 4);
}

#[test]
fn with_cap_the_smaller_limit_wins() {
    let _testing = stamina::testing::set_testing(true, 4, true);
    assert_eq!(calls_of(two), 2);
    assert_eq!(calls_of(five), 4);
    // A fn without a limit takes the testing attempts.
    assert_eq!(calls_of(unlimited), 4);
}

#[test]
fn guards_nest_and_restore() {
    {
        let _outer = stamina::testing::set_testing(true, 3, false);
        {
            let _inner = stamina::testing::set_testing(true, 5, true);
            assert_eq!(calls_of(five), 5);
            assert_eq!(calls_of(two), 2);
        }
        assert_eq!(calls_of(five), 3);
    }
    assert!(!stamina::is_testing());
}

#[retry(on = Failure, attempts = 10, timeout = 0.01, wait_initial = 0, wait_jitter = 0)]
fn slow(flaky: &Flaky) -> Result<u32, Failure> {
    // Longer than the timeout (and than a tick of the coarse clock).
    std::thread::sleep(Duration::from_millis(30));
    flaky.attempt()
}

#[test]
fn testing_mode_ignores_the_timeout() {
    assert_eq!(calls_of(slow), 1);
    let _testing = stamina::testing::set_testing(true, 3, false);
    assert_eq!(calls_of(slow), 3);
}

fn ten_seconds(_: &Failure) -> Decision {
    Decision::RetryAfter(Duration::from_secs(10))
}

#[retry(on = ten_seconds, attempts = 3)]
fn custom_wait(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn testing_mode_makes_a_predicates_wait_zero_too() {
    let recorder = Recorder::for_this_thread();
    let _testing = stamina::testing::set_testing(true, 3, true);
    assert_eq!(calls_of(custom_wait), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[retry(on = |e: &Failure| e.attempt < 2, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn declines_the_second(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn testing_mode_still_asks_on() {
    let _testing = stamina::testing::set_testing(true, 5, false);
    assert_eq!(calls_of(declines_the_second), 2);
}

#[test]
fn inactive_runs_once_ignores_on_and_fires_no_hooks() {
    let recorder = Recorder::for_this_thread();
    let _inactive = stamina::testing::set_active(false);
    assert!(!stamina::is_active());
    assert_eq!(calls_of(five), 1);
    assert_eq!(calls_of(unlimited), 1);
    let flaky = Flaky::never();
    assert_eq!(five(&flaky), Ok(1));
    assert_eq!(recorder.count(), 0);
}

#[test]
fn inactive_beats_testing() {
    let _testing = stamina::testing::set_testing(true, 5, false);
    let _inactive = stamina::testing::set_active(false);
    assert_eq!(calls_of(five), 1);
}

// ---------------------------------------------------------------------------------------------
// Async fns
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = 2, wait_initial = 30, wait_jitter = 0)]
async fn fetch(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn a_thread_guard_covers_a_current_thread_test() {
    let start = tokio::time::Instant::now();
    let _testing = stamina::testing::set_testing(true, 4, false);
    let flaky = Flaky::always();
    assert!(fetch(&flaky).await.is_err());
    assert_eq!(flaky.calls(), 4);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_task_keeps_its_switches_across_threads() {
    let testing = Switches::current().testing(true, 6, false);
    let inactive = Switches::current().active(false);
    let tasks = [
        tokio::spawn(testing.scope(async {
            let flaky = Flaky::always();
            let _ = fetch(&flaky).await;
            flaky.calls()
        })),
        tokio::spawn(inactive.scope(async {
            let flaky = Flaky::always();
            let _ = fetch(&flaky).await;
            flaky.calls()
        })),
    ];
    let mut calls = Vec::new();
    for task in tasks {
        calls.push(task.await.unwrap());
    }
    assert_eq!(calls, [6, 1]);
}
