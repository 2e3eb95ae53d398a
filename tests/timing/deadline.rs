//! The deadline mode (`timeout_mode = Deadline`, `min_attempt_time`) and per-call deadlines
//! (`RetryingCaller::with_deadline`, `RetryContext::deadline`): a retry whose wait would end at or
//! past the deadline is not scheduled, and the call gives up at once with the last error.
//!
//! On tokio's paused clock (`stamina/test-util`), where the waits and the attempts' own sleeps
//! take no real time and the deadlines are exact.

use std::time::Duration;

use stamina::{Decision, RetryPolicy, RetryingCaller, TimeoutMode, retry};
use stamina_tests::{Failure, Flaky};
use tokio::time::Instant;

#[retry(
    on = Failure,
    attempts = None,
    timeout = 1s,
    timeout_mode = Deadline,
    wait_initial = 400ms,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn deadline_mode(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(
    on = Failure,
    attempts = None,
    timeout = 1s,
    wait_initial = 400ms,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn stamina_mode(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn the_deadline_mode_never_sleeps_past_the_timeout() {
    let start = Instant::now();
    let flaky = Flaky::always();
    let error = deadline_mode(&flaky).await.unwrap_err();
    // Failures at 0 and 400 ms are retried; at 800 ms only 200 ms are left for a 400 ms wait.
    assert_eq!(flaky.calls(), 3);
    assert_eq!(Some(error), flaky.last_error(), "the last error, unchanged");
    assert_eq!(start.elapsed(), Duration::from_millis(800));
}

#[tokio::test(start_paused = true)]
async fn stamina_mode_sleeps_in_full_and_overruns() {
    let start = Instant::now();
    let flaky = Flaky::always();
    assert!(stamina_mode(&flaky).await.is_err());
    // stamina retries the failure at 800 ms (elapsed < 1 s) and gives up at 1.2 s.
    assert_eq!(flaky.calls(), 4);
    assert_eq!(start.elapsed(), Duration::from_millis(1200));
}

#[retry(
    on = Failure,
    attempts = None,
    timeout = 1s,
    timeout_mode = TimeoutMode::Deadline,
    min_attempt_time = 250ms,
    wait_initial = 400ms,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn needs_250ms(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_with_less_than_its_minimum_left() {
    let start = Instant::now();
    let flaky = Flaky::always();
    assert!(needs_250ms(&flaky).await.is_err());
    // At 400 ms, 600 ms are left: a 400 ms wait leaves 200 ms, under the 250 ms an attempt needs.
    assert_eq!(flaky.calls(), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(400));
}

#[retry(
    on = |_: &Failure| Decision::RetryAfter(Duration::from_secs(3600)),
    timeout = 5s,
    timeout_mode = Deadline
)]
async fn retry_after_an_hour(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
    // stamina held such a call for an hour, then gave up anyway.
    let start = Instant::now();
    let flaky = Flaky::always();
    assert!(retry_after_an_hour(&flaky).await.is_err());
    assert_eq!(flaky.calls(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

fn every_400ms() -> RetryingCaller {
    RetryingCaller::new()
        .no_attempt_limit()
        .no_timeout()
        .wait_initial(Duration::from_millis(400))
        .wait_exp_base(1)
        .wait_jitter(Duration::ZERO)
}

#[tokio::test(start_paused = true)]
async fn a_per_call_deadline_holds_in_deadline_mode() {
    let caller = every_400ms().timeout_mode(TimeoutMode::Deadline);
    let start = Instant::now();
    let flaky = Flaky::always();
    let result = caller
        .with_deadline(start + Duration::from_secs(1))
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(result.err(), flaky.last_error());
    assert_eq!(flaky.calls(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    // The caller it came from has no deadline.
    assert_eq!(caller.get_deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn a_per_call_deadline_is_checked_after_failures_in_stamina_mode() {
    let start = Instant::now();
    let flaky = Flaky::always();
    let result = every_400ms()
        .with_deadline(start + Duration::from_secs(1))
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert!(result.is_err());
    // As a timeout: the failures before 1 s are retried, the one at 1.2 s is not.
    assert_eq!(flaky.calls(), 4);
    assert_eq!(start.elapsed(), Duration::from_millis(1200));
}

#[tokio::test(start_paused = true)]
async fn the_earlier_of_the_timeout_and_the_deadline_wins() {
    let caller = every_400ms()
        .timeout(Duration::from_millis(500))
        .timeout_mode(TimeoutMode::Deadline);
    let start = Instant::now();
    let flaky = Flaky::always();
    let _ = caller
        .with_deadline(start + Duration::from_secs(60))
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    // The timeout (500 ms) is the earlier: only the failure at 0 is retried.
    assert_eq!(flaky.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_explicit_loop_takes_a_deadline() {
    let policy = RetryPolicy::new()
        .no_attempt_limit()
        .no_timeout()
        .timeout_mode(TimeoutMode::Deadline)
        .wait_initial(Duration::from_millis(400))
        .wait_exp_base(1.0)
        .wait_jitter(Duration::ZERO);
    let start = Instant::now();
    let mut retry = stamina::RetryContext::new(&policy, |_: &Failure| true)
        .deadline(start + Duration::from_secs(1));
    let flaky = Flaky::always();
    let error = loop {
        retry.attempt();
        match flaky.attempt() {
            Ok(_) => unreachable!("always fails"),
            Err(e) => {
                if let Err(e) = retry.backoff_async(e).await {
                    break e;
                }
            }
        }
    };
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(flaky.calls(), 3);
    // The caller's deadline reaches its loops too.
    let caller = every_400ms().timeout_mode(TimeoutMode::Deadline);
    let caller = caller.with_deadline(Instant::now() + Duration::from_millis(500));
    let mut retry = caller.context(|_: &Failure| true);
    retry.attempt();
    assert!(retry.decide(Failure::new(1)).is_ok());
    retry.attempt();
    tokio::time::advance(Duration::from_millis(400)).await;
    assert!(
        retry.decide(Failure::new(2)).is_err(),
        "100 ms left for a 400 ms wait"
    );
}

#[tokio::test(start_paused = true)]
async fn testing_mode_ignores_the_deadline() {
    let _instant = stamina::testing::set_testing(true, 4, false);
    let start = Instant::now();
    let flaky = Flaky::always();
    let _ = every_400ms()
        .timeout_mode(TimeoutMode::Deadline)
        .with_deadline(start)
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(flaky.calls(), 4);
}

#[test]
fn a_deadline_already_passed_still_runs_the_first_attempt() {
    // There is no error to return before the first attempt: it runs, and is not retried.
    let flaky = Flaky::always();
    let past = std::time::Instant::now();
    let result = every_400ms()
        .timeout_mode(TimeoutMode::Deadline)
        .with_deadline(past)
        .call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(result.err(), flaky.last_error());
    assert_eq!(flaky.calls(), 1);
}

// Regression: a deadline far ahead wrapped in the conversion to stamina's clock:
// `now + 2^63 ns` read as already passed, 400 years ahead as 107. It saturates at the clock's
// range (292 years from the first reading), which is as good as no deadline.
#[test]
fn a_far_deadline_saturates_instead_of_wrapping() {
    let year = Duration::from_secs(365 * 24 * 3600);
    for ahead in [Duration::from_nanos(1 << 63), 400 * year] {
        let deadline = std::time::Instant::now() + ahead;
        let flaky = Flaky::new(1);
        let mut remaining = None;
        let caller = stamina_tests::instant()
            .no_timeout()
            .timeout_mode(TimeoutMode::Deadline);
        let result = caller.with_deadline(deadline).call_with_attempt(
            |_: &Failure| true,
            |attempt| {
                remaining = attempt.remaining();
                flaky.attempt()
            },
        );
        assert!(result.is_ok(), "{ahead:?}: the deadline read as passed");
        assert!(
            remaining.is_some_and(|left| left > 290 * year),
            "{ahead:?}: {remaining:?}"
        );
    }
}
