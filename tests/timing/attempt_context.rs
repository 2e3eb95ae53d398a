//! What an attempt knows: its number, the time since the first attempt began and the time left
//! before the timeout or the deadline; through `#[retry(attempt = name)]`, the callers'
//! `*_with_attempt` forms, the explicit loop and the hooks (`RetryDetails::attempt`'s
//! `elapsed` and `remaining`).
//!
//! On tokio's paused clock (`stamina/test-util`), where time moves only when a test says so.

use std::sync::Mutex;
use std::time::Duration;

use stamina::{Attempt, RetryPolicy, RetryingCaller, retry};
use stamina_tests::{Failure, Recorder, unique_name};

const SECOND: Duration = Duration::from_secs(1);

/// What an attempt knew when it began: its number, the elapsed time and the time left.
type Seen = Mutex<Vec<(u32, Option<Duration>, Option<Duration>)>>;

/// Fails the first `failures` attempts, each taking a second of the paused clock, and records
/// what each one knew when it began (an `Attempt` reads the clock when asked).
async fn one_second_each(seen: &Seen, attempt: Attempt, failures: u32) -> Result<u32, Failure> {
    seen.lock()
        .unwrap()
        .push((attempt.num, attempt.elapsed(), attempt.remaining()));
    tokio::time::sleep(SECOND).await;
    if attempt.num <= failures {
        Err(Failure::new(attempt.num))
    } else {
        Ok(attempt.num)
    }
}

#[retry(on = Failure, timeout = 10s, wait_initial = 0, wait_jitter = 0, attempt = attempt)]
async fn knows_its_attempt(seen: &Mutex<Vec<Attempt>>) -> Result<u32, Failure> {
    // Read at the start of the attempt, before its own second passes.
    let remaining = attempt.remaining();
    let elapsed = attempt.elapsed();
    seen.lock().unwrap().push(attempt);
    assert_eq!(
        remaining.zip(elapsed).map(|(r, e)| r + e),
        Some(Duration::from_secs(10))
    );
    tokio::time::sleep(SECOND).await;
    if attempt.num < 3 {
        Err(Failure::new(attempt.num))
    } else {
        Ok(attempt.num)
    }
}

#[tokio::test(start_paused = true)]
async fn the_attribute_binds_the_attempt_to_a_name() {
    let seen = Mutex::new(Vec::new());
    assert_eq!(knows_its_attempt(&seen).await, Ok(3));
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.iter().map(|a| a.num).collect::<Vec<_>>(), [1, 2, 3]);
}

#[retry(on = Failure, timeout = None, wait_initial = 0, wait_jitter = 0, attempt = attempt)]
fn no_limit(calls: &mut Vec<(Option<Duration>, Option<Duration>)>) -> Result<(), Failure> {
    calls.push((attempt.elapsed(), attempt.remaining()));
    if calls.len() < 2 {
        Err(Failure::new(1))
    } else {
        Ok(())
    }
}

#[test]
fn without_a_timeout_nothing_remains_to_count_but_time_is_measured() {
    let mut calls = Vec::new();
    no_limit(&mut calls).unwrap();
    assert!(
        calls
            .iter()
            .all(|(elapsed, remaining)| elapsed.is_some() && remaining.is_none())
    );
}

#[tokio::test(start_paused = true)]
async fn call_async_with_attempt_passes_each_attempt() {
    let caller = RetryingCaller::new()
        .timeout(Duration::from_secs(10))
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let seen = Mutex::new(Vec::new());
    let result = caller
        .call_async_with_attempt(|_: &Failure| true, |a| one_second_each(&seen, a, 2))
        .await;
    assert_eq!(result, Ok(3));
    assert_eq!(
        seen.into_inner().unwrap(),
        [
            (1, Some(Duration::ZERO), Some(Duration::from_secs(10))),
            (2, Some(SECOND), Some(Duration::from_secs(9))),
            (3, Some(2 * SECOND), Some(Duration::from_secs(8))),
        ]
    );
}

#[test]
fn call_with_attempt_passes_each_attempt() {
    let caller = RetryingCaller::new()
        .no_timeout()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let mut nums = Vec::new();
    let result = caller.call_with_attempt(
        |_: &Failure| true,
        |a| {
            nums.push(a.num);
            assert!(
                a.elapsed().is_some(),
                "the clock runs for an attempt that asks"
            );
            assert_eq!(a.remaining(), None);
            if a.num < 3 {
                Err(Failure::new(a.num))
            } else {
                Ok(a.num)
            }
        },
    );
    assert_eq!(result, Ok(3));
    assert_eq!(nums, [1, 2, 3]);
    // The bound caller too.
    let mut nums = Vec::new();
    let _ = caller.on(|_: &Failure| true).call_with_attempt(|a| {
        nums.push(a.num);
        Err::<(), _>(Failure::new(a.num))
    });
    assert_eq!(nums, (1..=10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn the_explicit_loop_reads_its_attempt() {
    let policy = RetryPolicy::new()
        .timeout(Duration::from_secs(10))
        .wait_initial(SECOND)
        .wait_exp_base(1.0)
        .wait_jitter(Duration::ZERO);
    let mut retry = stamina::RetryContext::new(&policy, |_: &Failure| true);
    let first = retry.attempt();
    assert_eq!(
        (first.num, first.elapsed(), first.remaining()),
        (1, Some(Duration::ZERO), Some(10 * SECOND))
    );
    tokio::time::advance(SECOND).await;
    // Read again later, the same attempt knows that time went by.
    assert_eq!(first.elapsed(), Some(SECOND));
    assert_eq!(first.remaining(), Some(9 * SECOND));
    retry.backoff_async(Failure::new(1)).await.unwrap();
    let second = retry.attempt();
    assert_eq!(
        (second.num, second.elapsed(), second.remaining()),
        (2, Some(2 * SECOND), Some(8 * SECOND))
    );
}

#[tokio::test(start_paused = true)]
async fn testing_mode_removes_the_time_limit_from_the_attempt() {
    let _instant = stamina::testing::set_testing(true, 3, false);
    let caller = RetryingCaller::new().timeout(Duration::from_secs(10));
    let mut remaining = Vec::new();
    let _ = caller.call_with_attempt(
        |_: &Failure| true,
        |a| {
            remaining.push((a.remaining(), a.next_wait));
            Err::<(), _>(Failure::new(a.num))
        },
    );
    assert_eq!(remaining, [(None, Duration::ZERO); 3]);
}

#[tokio::test(start_paused = true)]
async fn hooks_see_the_failed_attempts_time() {
    let name = unique_name("attempt_context::hooks");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .timeout(Duration::from_secs(10))
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .name(name);
    let seen = Mutex::new(Vec::new());
    let _ = caller
        .call_async_with_attempt(|_: &Failure| true, |a| one_second_each(&seen, a, 2))
        .await;
    let retries = recorder.retries();
    assert_eq!(
        retries
            .iter()
            .map(|r| (r.elapsed, r.remaining))
            .collect::<Vec<_>>(),
        [
            (Some(SECOND), Some(9 * SECOND)),
            (Some(2 * SECOND), Some(8 * SECOND)),
        ]
    );
    // A call that does not measure time: no elapsed time to report.
    let name = unique_name("attempt_context::unmeasured");
    let recorder = Recorder::for_name(&name);
    let _ = RetryingCaller::new()
        .no_timeout()
        .attempts(2)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .name(name)
        .call(|_: &Failure| true, || Err::<(), _>(Failure::new(1)));
    assert_eq!(recorder.retries()[0].elapsed, None);
    assert_eq!(recorder.retries()[0].remaining, None);
}
