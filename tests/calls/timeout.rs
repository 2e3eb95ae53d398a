//! `timeout`: give up once the time since the first attempt began reaches it, checked after each
//! failure that `on` wants to retry; `None` for no limit; stamina's default of 45 s. It never
//! interrupts an attempt or shortens a wait, and a success after it is still a success.
//!
//! Async tests run on tokio's paused clock, where waits take no real time: they prove that the
//! waits happened and that the budget counts them. Sync tests use small real waits and only
//! lower bounds on elapsed time.
//!
//! The clock itself: exact at the boundary, started when the first attempt begins (the explicit
//! loop too), and tokio's when a test pauses it (`stamina/test-util`). The boundary tests spin on
//! `Instant` rather than sleep, and decide what stamina must do from what `Instant` says
//! happened; a run that the machine preempted too close to the boundary is not counted, so no
//! load makes them flake.

use std::time::{Duration, Instant};

use stamina::{RetryPolicy, RetryingCaller, retry};
use stamina_tests::{Failure, Flaky};

#[retry(
    on = Failure,
    attempts = None,
    timeout = 10,
    wait_initial = 3,
    wait_max = 3,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn ten_seconds(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn gives_up_once_the_budget_is_spent() {
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    let error = ten_seconds(&flaky).await.unwrap_err();
    // Failures after 0, 3, 6 and 9 s are retried; the one after 12 s is not.
    assert_eq!(flaky.calls(), 5);
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(start.elapsed(), Duration::from_secs(12));
}

#[tokio::test(start_paused = true)]
async fn a_success_within_the_budget_is_returned() {
    let flaky = Flaky::new(3);
    assert_eq!(ten_seconds(&flaky).await, Ok(4));
}

#[retry(
    on = Failure,
    attempts = None,
    timeout = std::time::Duration::from_secs(5),
    wait_initial = 4,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn duration_expression(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn a_duration_expression() {
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert!(duration_expression(&flaky).await.is_err());
    // The failure after 4 s is retried, the one after 8 s is not.
    assert_eq!(flaky.calls(), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(8));
}

#[retry(
    on = Failure,
    attempts = None,
    timeout = Some(2.5),
    wait_initial = 1,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn float_seconds_in_some(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn a_number_of_seconds_in_some() {
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert!(float_seconds_in_some(&flaky).await.is_err());
    // Failures after 0, 1 and 2 s are retried; the one after 3 s is not.
    assert_eq!(flaky.calls(), 4);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[retry(
    on = Failure,
    attempts = 30,
    timeout = None,
    wait_initial = 10,
    wait_max = 10,
    wait_exp_base = 1,
    wait_jitter = 0
)]
async fn no_timeout(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn none_means_no_time_limit() {
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert!(no_timeout(&flaky).await.is_err());
    assert_eq!(flaky.calls(), 30);
    // 29 waits of 10 s, far past the default 45 s.
    assert_eq!(start.elapsed(), Duration::from_secs(290));
}

#[retry(on = Failure, attempts = None, wait_initial = 5, wait_max = 5, wait_jitter = 0)]
async fn default_timeout(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn the_default_is_45_seconds() {
    let flaky = Flaky::always();
    assert!(default_timeout(&flaky).await.is_err());
    // Failures after 0, 5, .., 40 s are retried; the one after 45 s is not.
    assert_eq!(flaky.calls(), 10);
}

// ---------------------------------------------------------------------------------------------
// Sync fns, on the real clock
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = None, timeout = 0.05, wait_initial = 0.01, wait_exp_base = 1, wait_jitter = 0)]
fn sync_budget(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_sync_fn_gives_up_once_the_budget_is_spent() {
    let start = Instant::now();
    let flaky = Flaky::always();
    assert!(sync_budget(&flaky).is_err());
    // It retried, sleeping 10 ms before each retry, and then gave up. (How many retries fit in
    // 50 ms depends on how late the machine wakes the sleeps.)
    let calls = flaky.calls();
    assert!(calls >= 2, "{calls}");
    assert!(start.elapsed() >= Duration::from_millis(10) * (calls - 1));
}

#[retry(on = Failure, attempts = 5, timeout = 0.01, wait_initial = 0, wait_jitter = 0)]
fn slow_attempts(flaky: &Flaky) -> Result<u32, Failure> {
    // Longer than the whole budget.
    std::thread::sleep(Duration::from_millis(30));
    flaky.attempt()
}

#[test]
fn the_timeout_never_interrupts_an_attempt() {
    // The first attempt outlasts the budget and still completes: its success is returned.
    let flaky = Flaky::never();
    assert_eq!(slow_attempts(&flaky), Ok(1));
    // Its failure is not retried: the budget is spent.
    let flaky = Flaky::always();
    assert!(slow_attempts(&flaky).is_err());
    assert_eq!(flaky.calls(), 1);
}

// The clock.

/// Spins until `Instant` reads at least `until`.
fn spin_until(until: Instant) -> Instant {
    loop {
        let now = Instant::now();
        if now >= until {
            return now;
        }
        std::hint::spin_loop();
    }
}

fn exact_caller(timeout: Duration) -> RetryingCaller {
    RetryingCaller::from_policy(
        RetryPolicy::new()
            .attempts(2)
            .timeout(timeout)
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO),
    )
}

/// One call whose first attempt fails `fail_after` after it began: whether stamina retried it,
/// how long the attempt took by `Instant` (from its first instruction: stamina's start stamp is
/// earlier, so its elapsed time at the failure is at least this), and how long the whole call
/// took (stamina's check of the failure happens within it, so its elapsed time is at most this).
fn first_attempt(timeout: Duration, fail_after: Duration) -> (bool, Duration, Duration) {
    let mut calls = 0;
    let mut took = Duration::ZERO;
    let before = Instant::now();
    let _: Result<(), _> = exact_caller(timeout).call(
        |_: &Failure| true,
        || {
            calls += 1;
            if calls == 1 {
                let began = Instant::now();
                took = spin_until(began + fail_after) - began;
            }
            Err(Failure::new(calls))
        },
    );
    (calls == 2, took, before.elapsed())
}

#[test]
fn an_attempt_that_fails_just_before_the_timeout_is_retried() {
    // A coarse clock (4 ms ticks) gave up here in about half of the runs; stamina never does.
    // A run that the machine preempted long enough to reach the timeout is not conclusive.
    let mut conclusive = 0;
    for _ in 0..25 {
        let (retried, _, whole) =
            first_attempt(Duration::from_millis(20), Duration::from_millis(18));
        if whole < Duration::from_millis(20) {
            conclusive += 1;
            assert!(
                retried,
                "gave up 2 ms before a 20 ms timeout ({whole:?} in all)"
            );
        }
    }
    assert!(conclusive >= 5, "only {conclusive} conclusive runs of 25");
}

#[test]
fn an_attempt_that_fails_just_after_the_timeout_is_not_retried() {
    // A coarse clock retried here in about a quarter of the runs; stamina never does.
    for _ in 0..25 {
        let (retried, took, _) =
            first_attempt(Duration::from_millis(22), Duration::from_millis(23));
        assert!(took >= Duration::from_millis(23));
        assert!(!retried, "retried 1 ms after a 22 ms timeout");
    }
}

#[test]
fn a_one_nanosecond_timeout_is_spent_by_any_attempt() {
    for _ in 0..25 {
        let (retried, _, _) = first_attempt(Duration::from_nanos(1), Duration::from_millis(1));
        assert!(!retried, "a 1 ms attempt fit in a 1 ns timeout");
    }
}

#[test]
fn the_explicit_loops_timeout_starts_at_its_first_attempt() {
    let policy = RetryPolicy::new()
        .timeout(Duration::from_millis(20))
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let mut retry = stamina::RetryContext::new(&policy, |_: &Failure| true);
    // Set up well before the first attempt: the set-up is not part of the budget.
    std::thread::sleep(Duration::from_millis(30));
    let attempt = retry.attempt();
    assert_eq!(attempt.num, 1);
    assert!(
        retry.backoff(Failure::new(1)).is_ok(),
        "the loop gave up after one failure: its timeout began when it was built"
    );
    // The same through a caller's context.
    let caller = RetryingCaller::from_policy(policy);
    let mut retry = caller.context(|_: &Failure| true);
    std::thread::sleep(Duration::from_millis(30));
    retry.attempt();
    assert!(retry.backoff(Failure::new(1)).is_ok());
}

#[stamina::retry(on = Failure, attempts = 5, timeout = 1s, wait_initial = 0, wait_jitter = 0)]
async fn two_second_attempts(calls: &mut u32) -> Result<(), Failure> {
    *calls += 1;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Err(Failure::new(*calls))
}

#[tokio::test(start_paused = true)]
async fn a_paused_clock_counts_the_time_inside_attempts() {
    // The paused clock says 2 s passed in the first attempt: past the 1 s timeout, as the real
    // clock would say. (Without `stamina/test-util`, stamina saw no time pass and retried
    // five times.)
    let mut calls = 0;
    assert!(two_second_attempts(&mut calls).await.is_err());
    assert_eq!(calls, 1);
}

#[tokio::test(start_paused = true)]
async fn a_paused_clock_counts_the_time_inside_call_async_attempts() {
    let caller = RetryingCaller::new()
        .attempts(5)
        .timeout(Duration::from_secs(1))
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let calls = std::sync::atomic::AtomicU32::new(0);
    let result = caller
        .call_async(
            |_: &Failure| true,
            || async {
                let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
                Err::<(), _>(Failure::new(n))
            },
        )
        .await;
    assert!(result.is_err());
    assert_eq!(calls.into_inner(), 1);
}
