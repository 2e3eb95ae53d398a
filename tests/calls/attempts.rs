//! `attempts`: the number of attempts in all, the first included; `None` for no limit; stamina's
//! default of 10. The last error comes back unchanged, and hooks run once per scheduled retry.
//!
//! Hook calls are observed through the routing [`Recorder`], by the `name` of each fn.

use std::time::Duration;

use stamina::retry;
use stamina_tests::{Failure, Flaky, Recorder};

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "attempts::three")]
fn three(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn stops_after_the_last_attempt_with_its_error() {
    let recorder = Recorder::for_name("attempts::three");
    let flaky = Flaky::always();
    let error = three(&flaky).unwrap_err();
    assert_eq!(flaky.calls(), 3);
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(error.attempt, 3);
    // N failing attempts: N - 1 hook calls, none for the final failure.
    assert_eq!(recorder.retry_nums(), [1, 2]);
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0)]
fn three_unnamed(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_success_within_the_limit_is_returned() {
    let flaky = Flaky::new(2);
    assert_eq!(three_unnamed(&flaky), Ok(3));
    let flaky = Flaky::never();
    assert_eq!(three_unnamed(&flaky), Ok(1));
}

#[retry(on = Failure, attempts = 1, name = "attempts::one")]
fn one(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn one_attempt_never_retries() {
    let recorder = Recorder::for_name("attempts::one");
    let flaky = Flaky::always();
    assert!(one(&flaky).is_err());
    assert_eq!(flaky.calls(), 1);
    assert_eq!(recorder.count(), 0);
}

#[retry(on = Failure, wait_initial = 0, wait_jitter = 0, timeout = None)]
fn default_limit(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn the_default_is_ten_attempts() {
    let flaky = Flaky::always();
    assert_eq!(default_limit(&flaky).unwrap_err().attempt, 10);
    assert_eq!(flaky.calls(), 10);
}

#[retry(on = Failure, attempts = None, timeout = None, wait_initial = 0, wait_jitter = 0)]
fn unlimited(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn none_means_no_limit() {
    let flaky = Flaky::new(100);
    assert_eq!(unlimited(&flaky), Ok(101));
    assert_eq!(flaky.calls(), 101);
}

const ATTEMPTS: u32 = 4;

#[retry(on = Failure, attempts = ATTEMPTS, wait_initial = 0, wait_jitter = 0)]
fn from_a_const(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = Some(2), wait_initial = 0, wait_jitter = 0)]
fn from_some(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = ATTEMPTS * 2 - 1, wait_initial = 0, wait_jitter = 0)]
fn from_an_expression(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn constant_expressions_and_some() {
    let flaky = Flaky::always();
    assert_eq!(from_a_const(&flaky).unwrap_err().attempt, 4);
    let flaky = Flaky::always();
    assert_eq!(from_some(&flaky).unwrap_err().attempt, 2);
    let flaky = Flaky::always();
    assert_eq!(from_an_expression(&flaky).unwrap_err().attempt, 7);
}

#[retry(
    on = Failure,
    attempts = 4,
    wait_initial = 0.01,
    wait_exp_base = 3,
    wait_jitter = 0,
    timeout = None,
    name = "attempts::waits"
)]
async fn waits(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn each_retry_waits_its_backoff() {
    let recorder = Recorder::for_name("attempts::waits");
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert!(waits(&flaky).await.is_err());
    let expected = [10, 30, 90].map(Duration::from_millis);
    assert_eq!(recorder.wait_fors(), expected);
    // The waits happened, on tokio's (paused) clock.
    assert_eq!(start.elapsed(), expected.iter().sum());
}

#[retry(on = Failure, attempts = u32::MAX, timeout = None, wait_initial = 0, wait_jitter = 0)]
fn huge_limit(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn the_largest_limit_is_accepted() {
    let flaky = Flaky::new(20);
    assert_eq!(huge_limit(&flaky), Ok(21));
}
