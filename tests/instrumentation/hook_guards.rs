//! The guards that hooks return, in sync calls and the explicit loop: each is dropped exactly
//! once, right before the next attempt (or with the loop, or after `backoff`'s sleep), and none
//! leaks into later calls.
//!
//! On tokio's clock, through `call_async` and when a call is cancelled: `hook_guards_async.rs`.
//! Every test here installs its own hooks, process-wide: each takes [`exclusive`], which
//! serializes them and restores the default hooks when it is dropped.

use std::time::Duration;

use stamina::instrumentation::set_on_retry_hooks;
use stamina::{RetryingCaller, retry};
use stamina_tests::{Failure, Flaky, Log, exclusive, instant, ms};

#[test]
fn guard_drops_exactly_once_right_before_the_next_attempt() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = RetryingCaller::new()
        .attempts(4)
        .wait_initial(ms(2))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(
        log.entries(),
        [
            "attempt 1",
            "hook 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "drop 2",
            "attempt 3",
            "hook 3",
            "drop 3",
            "attempt 4",
        ]
    );
}

#[retry(on = Failure, attempts = 3, wait_initial = 0.001, wait_jitter = 0)]
fn logged(flaky: &Flaky, log: &Log) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!("attempt {}", flaky.calls()));
    outcome
}

const GUARDED: [&str; 7] = [
    "attempt 1",
    "hook 1",
    "drop 1",
    "attempt 2",
    "hook 2",
    "drop 2",
    "attempt 3",
];

#[test]
fn guards_are_dropped_once_before_the_next_attempt() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);

    assert!(logged(&Flaky::always(), &log).is_err());
    assert_eq!(log.take(), GUARDED);
}

#[test]
fn guards_never_leak_into_later_calls() {
    // stamina's bug: the entered context managers are never cleared, and every later attempt
    // (of this call and of later calls) exits them again.
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant().attempts(3);
    for call in 0..3 {
        let flaky = Flaky::always();
        let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
        assert_eq!(
            log.take(),
            [
                "attempt 1",
                "hook 1",
                "drop 1",
                "attempt 2",
                "hook 2",
                "drop 2",
                "attempt 3",
            ],
            "call {call}"
        );
    }
    let flaky = Flaky::new(1);
    let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1", "attempt 2"]);
}

#[test]
fn context_guards_live_until_the_next_attempt_or_the_end_of_the_loop() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant();
    {
        let mut retry = caller.context(|_: &Failure| true);
        retry.attempt();
        log.push("attempt 1");
        retry.decide(Failure::new(1)).unwrap();
        log.push("decided 1");
        retry.attempt();
        log.push("attempt 2");
        retry.decide(Failure::new(2)).unwrap();
        log.push("decided 2");
        // The loop ends here without another attempt: the guard goes with the context.
    }
    log.push("after the loop");
    assert_eq!(
        log.entries(),
        [
            "attempt 1",
            "hook 1",
            "decided 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "decided 2",
            "drop 2",
            "after the loop",
        ]
    );
}

#[test]
fn context_backoff_drops_the_guard_after_its_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant();
    let mut retry = caller.context(|_: &Failure| true);
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();
    log.push("backoff returned");
    retry.attempt();
    log.push("attempt 2");
    assert_eq!(
        log.entries(),
        ["hook 1", "drop 1", "backoff returned", "attempt 2"]
    );
}
