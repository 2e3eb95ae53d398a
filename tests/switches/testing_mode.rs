//! Testing mode's semantics, through every door (`#[retry]` fns, `RetryingCaller`, the explicit
//! `RetryContext` loop): every wait is zero (the computed ones and those `on` asks for), hooks
//! still fire, the attempt limit follows stamina's rules with and without `cap`, the timeout is
//! ignored, and `on` is still asked.
//!
//! Testing mode is set for the test's thread only (`stamina::testing::set_testing`), so the
//! tests run in parallel. How the thread guard and the task scope nest and stay apart is
//! `scoped_switches.rs`; the process-wide `stamina::set_testing` is `process_switches.rs`.
//! Hook calls are observed through the routing [`Recorder`], by thread.

use std::time::Duration;

use stamina::testing::{Testing, set_testing};
use stamina::{Decision, RetryingCaller, retry};
use stamina_tests::{Failure, Flaky, Recorder, calls_of, ms, secs};

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

// ---------------------------------------------------------------------------------------------
// Zero waits, and hooks still fire
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_waits_and_hooks_still_fire_for_attribute_fns() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, false);
    assert!(stamina::is_testing());
    assert_eq!(calls_of(five), 3);
    assert_eq!(recorder.retry_nums(), [1, 2]);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[test]
fn zero_waits_and_hooks_still_fire_for_the_caller() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 4, false);
    // Were the waits not zeroed, this would sleep 2 + 4 + 8 s and then fail.
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(2))
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::always();
    let e = caller
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap_err();
    assert_eq!((e.attempt, flaky.calls()), (4, 4));
    assert_eq!(recorder.retry_nums(), [1, 2, 3]);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 3]);
    assert!(recorder.retries().iter().all(|r| r.waited_so_far.is_zero()));
}

#[tokio::test]
async fn zero_waits_for_async_calls_of_the_caller() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new()
        .wait_initial(Duration::from_secs(2))
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(flaky.calls(), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[test]
fn zero_waits_in_the_explicit_loop_and_not_without_testing_mode() {
    let caller = RetryingCaller::new().attempts(10);
    {
        let _testing = set_testing(true, 3, false);
        let mut retry = caller.context(|_: &Failure| true);
        let mut nums = Vec::new();
        let error = loop {
            let attempt = retry.attempt();
            nums.push(attempt.num);
            assert_eq!(attempt.next_wait, Duration::ZERO);
            match retry.decide(Failure::new(attempt.num)) {
                Ok(wait) => assert_eq!(wait, Duration::ZERO),
                Err(e) => break e,
            }
        };
        assert_eq!(nums, [1, 2, 3], "testing mode's 3 attempts");
        assert_eq!(error.attempt, 3);
    }
    let mut retry = caller.context(|_: &Failure| true);
    assert_eq!(retry.attempt().next_wait, secs(0.1));
}

fn ten_seconds(_: &Failure) -> Decision {
    Decision::RetryAfter(Duration::from_secs(10))
}

#[retry(on = ten_seconds, attempts = 3)]
fn custom_wait(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_wait_from_on_is_zero_too_for_attribute_fns() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, true);
    assert_eq!(calls_of(custom_wait), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[test]
fn a_wait_from_on_is_zero_too_for_the_caller() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new().call(
        |_: &Failure| Decision::RetryAfter(Duration::from_secs(3)),
        || flaky.attempt(),
    );
    assert_eq!(flaky.calls(), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

// ---------------------------------------------------------------------------------------------
// The attempt limit, with and without `cap`
// ---------------------------------------------------------------------------------------------

#[test]
fn without_cap_the_testing_attempts_replace_the_fns() {
    let _testing = set_testing(true, 4, false);
    assert_eq!(calls_of(two), 4);
    assert_eq!(calls_of(five), 4);
    assert_eq!(calls_of(unlimited), 4);
}

#[test]
fn with_cap_the_smaller_limit_wins() {
    let _testing = set_testing(true, 4, true);
    assert_eq!(calls_of(two), 2);
    assert_eq!(calls_of(five), 4);
    // A fn without a limit takes the testing attempts.
    assert_eq!(calls_of(unlimited), 4);
}

#[test]
fn attempt_limits_of_the_caller_follow_stamina() {
    // (testing attempts, cap, the call's own limit) -> attempts made.
    let cases = [
        // stamina's `_Testing.get_attempts` cases.
        (2, true, Some(1), 1),
        (2, true, Some(3), 2),
        (100, true, None, 100),
        // Without `cap`, the testing value always, even above the call's own limit.
        (4, false, Some(2), 4),
        (3, false, Some(10), 3),
        (5, false, None, 5),
        (2, false, Some(1), 2),
        // 0 behaves as 1, in both places (stamina: user 0 under `cap` means "no limit").
        (0, false, Some(5), 1),
        (2, true, Some(0), 1),
    ];
    for (testing, cap, own, expected) in cases {
        let _testing = set_testing(true, testing, cap);
        // 1 ms waits: were testing mode to keep them, this would be slow, not hang.
        let caller = RetryingCaller::new()
            .wait_initial(ms(1))
            .wait_max(ms(1))
            .wait_jitter(Duration::ZERO);
        let caller = match own {
            Some(n) => caller.attempts(n),
            None => caller.no_attempt_limit(),
        };
        let flaky = Flaky::always();
        let e = caller
            .call(|_: &Failure| true, || flaky.attempt())
            .unwrap_err();
        let case = format!("testing {testing}, cap {cap}, own {own:?}");
        assert_eq!(flaky.calls(), expected, "{case}");
        assert_eq!(Some(e), flaky.last_error(), "{case}");
        assert_eq!(
            Testing {
                attempts: testing,
                cap
            }
            .attempt_limit(own),
            expected,
            "{case}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The timeout is ignored
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = 10, timeout = 0.01, wait_initial = 0, wait_jitter = 0)]
fn slow(flaky: &Flaky) -> Result<u32, Failure> {
    // Longer than the timeout.
    std::thread::sleep(Duration::from_millis(30));
    flaky.attempt()
}

#[test]
fn the_timeout_is_ignored_for_attribute_fns() {
    assert_eq!(calls_of(slow), 1);
    let _testing = set_testing(true, 3, false);
    assert_eq!(calls_of(slow), 3);
}

#[test]
fn the_timeout_is_ignored_for_the_caller() {
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new()
        .timeout(Duration::ZERO)
        .call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(
        flaky.calls(),
        3,
        "a zero timeout would have allowed one attempt"
    );
}

// ---------------------------------------------------------------------------------------------
// `on` is still asked
// ---------------------------------------------------------------------------------------------

#[retry(on = |e: &Failure| e.attempt < 2, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn declines_the_second(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn on_is_still_asked_by_attribute_fns() {
    let _testing = set_testing(true, 5, false);
    assert_eq!(calls_of(declines_the_second), 2);
}

#[test]
fn on_is_still_asked_by_the_caller() {
    let _testing = set_testing(true, 5, false);
    let flaky = Flaky::always();
    let e = RetryingCaller::new()
        .call(|_: &Failure| false, || flaky.attempt())
        .unwrap_err();
    assert_eq!((e.attempt, flaky.calls()), (1, 1));
}
