//! The guards that hooks return, in async calls on tokio's (paused) clock: alive across the
//! whole wait and dropped right before the next attempt, never leaking into later async calls,
//! and dropped exactly once with a call that is cancelled mid-wait.
//!
//! In sync calls and the explicit loop: `hook_guards.rs`. Every test here installs its own
//! hooks, process-wide: each takes [`exclusive`], which serializes them and restores the
//! default hooks when it is dropped.

use std::time::Duration;

use stamina::instrumentation::{RetryDetails, RetryGuard, set_on_retry_hooks};
use stamina::{Decision, RetryingCaller, retry};
use stamina_tests::{Failure, Flaky, Log, exclusive, instant};
use tokio::time::Instant;

/// A guard that logs the (paused) time at which it is dropped.
struct TimedGuard {
    log: Log,
    label: String,
    start: tokio::time::Instant,
}

impl Drop for TimedGuard {
    fn drop(&mut self) {
        let at = self.start.elapsed().as_millis();
        self.log.push(format!("drop {} at {at}", self.label));
    }
}

#[tokio::test(start_paused = true)]
async fn guard_lives_across_the_whole_sleep() {
    let _x = exclusive();
    let log = Log::new();
    let start = tokio::time::Instant::now();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        let at = start.elapsed().as_millis();
        hook_log.push(format!("hook {} at {at}", d.retry_num));
        RetryGuard::new(TimedGuard {
            log: hook_log.clone(),
            label: d.retry_num.to_string(),
            start,
        })
    }]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::new(3);
    let v = caller
        .call_async(
            |_: &Failure| true,
            || async {
                let at = start.elapsed().as_millis();
                log.push(format!("attempt {} at {at}", flaky.calls() + 1));
                flaky.attempt()
            },
        )
        .await;
    assert_eq!(v, Ok(4));
    assert_eq!(
        log.entries(),
        [
            "attempt 1 at 0",
            "hook 1 at 0",
            "drop 1 at 1000",
            "attempt 2 at 1000",
            "hook 2 at 1000",
            "drop 2 at 3000",
            "attempt 3 at 3000",
            "hook 3 at 3000",
            "drop 3 at 7000",
            "attempt 4 at 7000",
        ]
    );
}

#[retry(on = Failure, attempts = 3, wait_initial = 1, wait_jitter = 0)]
async fn logged_async(flaky: &Flaky, log: &Log, start: Instant) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!(
        "attempt {} at {}s",
        flaky.calls(),
        seconds_since(start)
    ));
    outcome
}

/// Seconds on tokio's (paused) clock since `start`.
fn seconds_since(start: Instant) -> u64 {
    start.elapsed().as_secs()
}

/// Logs when (on tokio's clock) it is dropped.
struct SecondsGuard(Log, u32, Instant);

impl Drop for SecondsGuard {
    fn drop(&mut self) {
        self.0.push(format!(
            "drop guard {} at {}s",
            self.1,
            seconds_since(self.2)
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn async_guards_live_across_the_wait() {
    let _x = exclusive();
    let log = Log::new();
    let hook_log = log.clone();
    let start = Instant::now();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {} at {}s", d.retry_num, seconds_since(start)));
        RetryGuard::new(SecondsGuard(hook_log.clone(), d.retry_num, start))
    }]);

    assert!(logged_async(&Flaky::always(), &log, start).await.is_err());
    // The hook runs right after the failure, before the wait (1 s, then 2 s); its guard lives
    // across the wait and is dropped right before the next attempt.
    assert_eq!(
        log.take(),
        [
            "attempt 1 at 0s",
            "hook 1 at 0s",
            "drop guard 1 at 1s",
            "attempt 2 at 1s",
            "hook 2 at 1s",
            "drop guard 2 at 3s",
            "attempt 3 at 3s",
        ]
    );
}

#[tokio::test]
async fn guards_never_leak_into_later_async_calls() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant().attempts(3);
    for _ in 0..2 {
        let flaky = Flaky::always();
        let _ = caller
            .call_async(|_: &Failure| true, || async { log.attempt(&flaky) })
            .await;
        let flaky = Flaky::always();
        let _ = caller
            .call_async_mut(|_: &Failure| true, async || log.attempt(&flaky))
            .await;
    }
    let expected = [
        "attempt 1",
        "hook 1",
        "drop 1",
        "attempt 2",
        "hook 2",
        "drop 2",
        "attempt 3",
    ];
    assert_eq!(log.take(), [&expected[..]; 4].concat());
}

#[tokio::test(start_paused = true)]
async fn guard_drops_once_when_the_call_is_cancelled_mid_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(3600))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(3600));

    let flaky = Flaky::always();
    let outcome = tokio::time::timeout(
        Duration::from_secs(1),
        caller.call_async(|_: &Failure| true, || async { log.attempt(&flaky) }),
    )
    .await;
    assert!(outcome.is_err(), "the call should still be sleeping");
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1"], "timeout");

    let flaky = Flaky::always();
    let mut call = Box::pin(caller.call_async_mut(
        |_: &Failure| Decision::RetryAfter(Duration::from_secs(60)),
        async || log.attempt(&flaky),
    ));
    tokio::select! {
        _ = &mut call => panic!("the call should still be sleeping"),
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    assert_eq!(log.entries(), ["attempt 1", "hook 1"], "alive");
    drop(call);
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1"], "select");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_drops_its_guards() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);

    let flaky = Flaky::always();
    let call = logged_async(&flaky, &log, Instant::now());
    assert!(
        tokio::time::timeout(Duration::from_millis(500), call)
            .await
            .is_err()
    );
    // Cut in its first wait: the guard is dropped with the call's future, exactly once.
    assert_eq!(log.take(), ["attempt 1 at 0s", "hook 1", "drop 1"]);
}
