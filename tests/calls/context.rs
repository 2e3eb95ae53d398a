//! The explicit loop, `RetryContext` (stamina's `retry_context`): `attempt()` reports stamina's
//! `Attempt { num, next_wait }`, `backoff`/`backoff_async` sleep or give the error back, and
//! `decide` hands the wait to a loop that sleeps on its own.
//!
//! The loop under testing mode and inactive is in `switches/testing_mode.rs` and
//! `switches/inactive.rs`, under a `Switches::run` scope in `switches/scoped_switches.rs`; its
//! hook calls in `instrumentation/hook_calls.rs`, its names in `instrumentation/hook_names.rs`.

use std::time::Duration;

use stamina::{Decision, RetryingCaller};
use stamina_tests::{Failure, Flaky, explicit_loop, instant, ms, secs};

#[test]
fn attempt_num_equals_the_call_count() {
    let caller = instant().attempts(5);
    let flaky = Flaky::new(3);
    let mut retry = caller.context(|_: &Failure| true);
    let value = loop {
        let attempt = retry.attempt();
        match flaky.attempt() {
            Ok(v) => {
                assert_eq!(attempt.num, flaky.calls());
                break v;
            }
            Err(e) => {
                assert_eq!(attempt.num, flaky.calls());
                assert_eq!(attempt.num, e.attempt);
                retry.backoff(e).unwrap();
            }
        }
    };
    assert_eq!((value, flaky.calls()), (4, 4));
}

#[test]
fn backoff_gives_the_last_error_back_unchanged() {
    let flaky = Flaky::always();
    let result = explicit_loop(&instant().attempts(3), &flaky);
    assert_eq!(result, Err(flaky.last_error().unwrap()));
    assert_eq!(flaky.calls(), 3);
}

#[test]
fn backoff_gives_a_declined_error_back_at_once() {
    let caller = instant();
    let flaky = Flaky::always();
    let mut retry = caller.context(|_: &Failure| Decision::NoRetry);
    retry.attempt();
    let e = flaky.attempt().unwrap_err();
    assert_eq!(retry.backoff(e), Err(e));
    assert_eq!(flaky.calls(), 1);
}

#[test]
fn next_wait_is_the_jitterless_lower_bound() {
    // stamina's default schedule; `decide` does not sleep, so the real waits are not slept here.
    let caller = RetryingCaller::new();
    let mut retry = caller.context(|_: &Failure| true);
    let expected = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0];
    let mut gave_up = Vec::new();
    for (i, lower) in expected.into_iter().enumerate() {
        let attempt = retry.attempt();
        assert_eq!(attempt.num as usize, i + 1);
        assert_eq!(attempt.next_wait, secs(lower), "attempt {}", attempt.num);
        match retry.decide(Failure::new(attempt.num)) {
            Ok(wait) => {
                // The wait that follows is the bound plus jitter below 1 s, capped at 5 s.
                assert!(wait >= attempt.next_wait, "{wait:?}");
                assert!(wait <= secs((lower + 1.0).min(5.0)), "{wait:?}");
            }
            Err(e) => gave_up.push((attempt.num, e.attempt)),
        }
    }
    assert_eq!(gave_up, [(10, 10)], "gives up after the 10th attempt only");
}

#[test]
fn next_wait_ignores_a_custom_wait() {
    let caller = RetryingCaller::new();
    let mut retry = caller.context(|_: &Failure| Duration::from_secs(3));
    assert_eq!(retry.attempt().next_wait, secs(0.1));
    assert_eq!(retry.decide(Failure::new(1)), Ok(Duration::from_secs(3)));
    assert_eq!(retry.attempt().next_wait, secs(0.2));
}

#[test]
fn next_wait_is_zero_with_wait_max_zero() {
    let caller = RetryingCaller::new().wait_max(Duration::ZERO);
    let flaky = Flaky::new(4);
    let mut retry = caller.context(|_: &Failure| true);
    loop {
        let attempt = retry.attempt();
        assert_eq!(attempt.next_wait, Duration::ZERO, "{attempt:?}");
        match flaky.attempt() {
            Ok(_) => break,
            Err(e) => assert_eq!(retry.decide(e), Ok(Duration::ZERO)),
        }
    }
    assert_eq!(flaky.calls(), 5);
}

#[test]
fn next_wait_with_a_tiny_wait_max_is_that_cap() {
    let caller = RetryingCaller::new().wait_max(Duration::from_micros(100));
    let flaky = Flaky::new(3);
    let mut retry = caller.context(|_: &Failure| true);
    loop {
        let attempt = retry.attempt();
        assert_eq!(attempt.next_wait, Duration::from_micros(100));
        match flaky.attempt() {
            Ok(_) => break,
            Err(e) => retry.backoff(e).unwrap(),
        }
    }
    assert_eq!(flaky.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn backoff_async_sleeps_the_wait() {
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::new(3);
    let mut retry = caller.context(|_: &Failure| true);
    let start = tokio::time::Instant::now();
    let mut starts = Vec::new();
    let value = loop {
        let attempt = retry.attempt();
        starts.push(start.elapsed());
        assert_eq!(
            attempt.next_wait,
            Duration::from_secs(1 << (attempt.num - 1))
        );
        match flaky.attempt() {
            Ok(v) => break v,
            Err(e) => retry.backoff_async(e).await.unwrap(),
        }
    };
    assert_eq!(value, 4);
    assert_eq!(starts, [0, 1, 3, 7].map(Duration::from_secs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_loop_runs_in_a_spawned_task() {
    let handle = tokio::spawn(async {
        let caller = RetryingCaller::new()
            .wait_initial(ms(1))
            .wait_jitter(Duration::ZERO);
        let flaky = Flaky::new(2);
        let mut retry = caller.context(|_: &Failure| true);
        loop {
            retry.attempt();
            tokio::task::yield_now().await;
            match flaky.attempt() {
                Ok(v) => break v,
                Err(e) => retry.backoff_async(e).await.unwrap(),
            }
        }
    });
    assert_eq!(handle.await.unwrap(), 3);
}

#[test]
fn decide_returns_the_wait_for_the_loop_to_sleep() {
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(2))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(60))
        .attempts(3);
    let mut retry = caller.context(|_: &Failure| true);
    let mut waits = Vec::new();
    let error = loop {
        retry.attempt();
        match retry.decide(Failure::new(0)) {
            Ok(wait) => waits.push(wait),
            Err(e) => break e,
        }
    };
    assert_eq!(waits, [Duration::from_secs(2), Duration::from_secs(4)]);
    assert_eq!(error.attempt, 0);
}
