//! `timeout`: give up once the time since the first attempt began reaches it, checked after each
//! failure that `on` wants to retry; `None` for no limit; stamina's default of 45 s. It never
//! interrupts an attempt or shortens a wait, and a success after it is still a success.
//!
//! Async tests run on tokio's paused clock, where waits take no real time: they prove that the
//! waits happened and that the budget counts them. Sync tests use small real waits and only
//! lower bounds on elapsed time.

use std::time::{Duration, Instant};

use stamina::retry;
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
    // 50 ms depends on the coarse clock's tick, 1 to 10 ms.)
    let calls = flaky.calls();
    assert!(calls >= 2, "{calls}");
    assert!(start.elapsed() >= Duration::from_millis(10) * (calls - 1));
}

#[retry(on = Failure, attempts = 5, timeout = 0.01, wait_initial = 0, wait_jitter = 0)]
fn slow_attempts(flaky: &Flaky) -> Result<u32, Failure> {
    // Longer than the whole budget, and than a tick of the coarse clock.
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
