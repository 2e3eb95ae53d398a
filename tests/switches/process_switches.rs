//! The process-wide switches, as in stamina: `set_active`/`is_active` and
//! `set_testing`/`is_testing`, for every thread and task, read again at each failure; and how
//! the scoped overrides (thread guards, `Switches::set_for_thread`, `Switches::scope`) beat them.
//!
//! The state is process-wide, so every test takes [`exclusive`], which serializes the tests of
//! this binary and restores the defaults when it is dropped, even if the test fails.

use std::time::Duration;

use stamina::testing::Testing;
use stamina::{RetryingCaller, Switches, is_active, is_testing, set_active, set_testing};
use stamina_tests::{Failure, Flaky, exclusive, instant};

/// Runs a call that always fails, and returns its attempts.
fn attempts_made(caller: &RetryingCaller) -> u32 {
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| true, || flaky.attempt());
    flaky.calls()
}

/// A caller whose waits add up to 10 s: only testing mode (or inactivity) makes it return at
/// once. A broken switch makes a test slow and then fail, never hang.
fn slow_caller() -> RetryingCaller {
    RetryingCaller::new()
        .attempts(4)
        .wait_initial(Duration::from_secs(2))
        .wait_max(Duration::from_secs(4))
        .wait_jitter(Duration::ZERO)
}

#[test]
fn defaults_are_active_and_not_testing() {
    let _x = exclusive();
    assert!(is_active());
    assert!(!is_testing());
    assert_eq!(Switches::global(), Switches::new());
    assert_eq!(Switches::current(), Switches::new());
}

#[test]
fn set_active_false_makes_every_call_run_once() {
    let _x = exclusive();
    set_active(false);
    assert!(!is_active());
    assert!(!Switches::global().is_active());
    assert_eq!(attempts_made(&slow_caller()), 1);
    let flaky = Flaky::never();
    assert_eq!(
        slow_caller().call(|_: &Failure| true, || flaky.attempt()),
        Ok(1)
    );

    set_active(true);
    assert!(is_active());
    let flaky = Flaky::new(1);
    let v = instant().call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(v, Ok(2), "retries again once active");
}

#[test]
fn set_active_is_idempotent() {
    let _x = exclusive();
    set_active(false);
    set_active(false);
    assert!(!is_active());
    set_active(true);
    set_active(true);
    assert!(is_active());
}

#[test]
fn set_testing_persists_until_changed() {
    let _x = exclusive();
    set_testing(true, 3, false);
    assert!(is_testing());
    assert_eq!(
        Switches::global().testing_mode(),
        Some(Testing {
            attempts: 3,
            cap: false
        })
    );
    // Zero waits (the caller's are an hour) and the testing attempts, call after call.
    assert_eq!(attempts_made(&slow_caller()), 3);
    assert_eq!(attempts_made(&slow_caller()), 3);

    set_testing(true, 2, true);
    assert_eq!(
        Switches::global().testing_mode(),
        Some(Testing {
            attempts: 2,
            cap: true
        })
    );
    assert_eq!(attempts_made(&slow_caller().attempts(1)), 1, "capped");

    set_testing(false, 2, true);
    assert!(!is_testing());
    assert_eq!(Switches::global(), Switches::new());
}

#[test]
fn set_testing_ignores_the_timeout_and_leaves_active_alone() {
    let _x = exclusive();
    set_active(false);
    set_testing(true, 5, false);
    assert!(!is_active(), "set_testing changed the active switch");
    assert_eq!(attempts_made(&slow_caller()), 1, "inactive beats testing");
    set_active(true);
    assert!(is_testing(), "set_active changed testing mode");
    let caller = slow_caller().timeout(Duration::ZERO);
    assert_eq!(attempts_made(&caller), 5);
}

#[test]
fn global_switches_apply_to_every_thread() {
    let _x = exclusive();
    set_testing(true, 2, false);
    let seen = std::thread::spawn(|| (is_testing(), attempts_made(&slow_caller())))
        .join()
        .unwrap();
    assert_eq!(seen, (true, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_switches_apply_to_async_tasks() {
    let _x = exclusive();
    set_testing(true, 2, false);
    let calls = tokio::spawn(async {
        let flaky = Flaky::always();
        let _ = slow_caller()
            .call_async(
                |_: &Failure| true,
                || async {
                    tokio::task::yield_now().await;
                    flaky.attempt()
                },
            )
            .await;
        flaky.calls()
    })
    .await
    .unwrap();
    assert_eq!(calls, 2);
}

#[test]
fn scoped_overrides_beat_the_global_state() {
    let _x = exclusive();
    set_active(false);
    set_testing(true, 2, false);
    {
        // The thread's override wins: active and not testing; the 1 ms waits are slept.
        let _normal = Switches::new().set_for_thread();
        assert!(is_active() && !is_testing());
        let caller = RetryingCaller::new()
            .attempts(3)
            .wait_initial(Duration::from_millis(1))
            .wait_jitter(Duration::ZERO);
        assert_eq!(attempts_made(&caller), 3);
    }
    {
        let _active = stamina::testing::set_active(true);
        assert!(is_active());
        assert!(
            is_testing(),
            "the thread guard starts from the state in force"
        );
        assert_eq!(attempts_made(&slow_caller()), 2);
    }
    {
        let _testing = stamina::testing::set_testing(true, 3, false);
        assert!(
            !is_active(),
            "the thread guard starts from the state in force"
        );
        assert_eq!(attempts_made(&slow_caller()), 1);
    }
    // Back to the global state once the guards are gone.
    assert_eq!(Switches::current(), Switches::global());
    assert!(!is_active() && is_testing());
    // Another thread never sees this thread's override.
    let _normal = Switches::new().set_for_thread();
    let other = std::thread::spawn(|| (is_active(), is_testing()))
        .join()
        .unwrap();
    assert_eq!(other, (false, true));
}

#[tokio::test]
async fn a_scoped_future_beats_the_global_state() {
    let _x = exclusive();
    set_testing(true, 2, false);
    let scoped = Switches::new().testing(true, 4, false).scope(async {
        tokio::task::yield_now().await;
        attempts_made(&slow_caller())
    });
    assert_eq!(scoped.await, 4);
    assert_eq!(attempts_made(&slow_caller()), 2);
}

#[test]
fn global_state_changes_reach_calls_under_way() {
    // The switches are read at each failure: a call that began active stops retrying when the
    // process turns inactive under it.
    let _x = exclusive();
    let flaky = Flaky::always();
    let caller = instant().attempts(10);
    let _ = caller.call(
        |_: &Failure| true,
        || {
            let result = flaky.attempt();
            if flaky.calls() == 3 {
                set_active(false);
            }
            result
        },
    );
    assert_eq!(flaky.calls(), 3);
}
