//! Retry budgets as a user sees them: shared by fns and callers, exhausted with the last error
//! unchanged, withdrawn from last, ignored in testing mode, untouched when inactive, and
//! reported through `RetryHook::on_denied`.
//!
//! One hook for the whole binary records every hook call by name; each test uses names of its
//! own, so tests run in parallel; the switches they set are scoped to their thread.

use std::time::Duration;

use stamina::testing::TestClock;
use stamina::{RetryBudget, RetryingCaller, TimeoutMode, retry};
use stamina_tests::{Failure, Flaky, hook_calls, instant, record_hook_calls};

fn caller(name: &'static str, budget: &'static RetryBudget) -> RetryingCaller {
    instant().attempts(10).name(name).budget(budget)
}

/// Two retries, then none (ratio 0, a reserve of 2 over a 1 s window).
const fn two_retries() -> RetryBudget {
    RetryBudget::new()
        .ratio(0.0)
        .min_per_sec(2)
        .window(Duration::from_secs(1))
}

#[test]
fn an_exhausted_budget_gives_up_at_once_with_the_last_error() {
    static TWO: RetryBudget = two_retries();
    record_hook_calls();
    let flaky = Flaky::always();
    let error = caller("budget::exhausted", &TWO)
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap_err();
    assert_eq!(flaky.calls(), 3, "1 attempt + 2 retries of 10 allowed");
    assert_eq!(Some(error), flaky.last_error(), "the last error, unchanged");
    assert_eq!(
        hook_calls("budget::exhausted"),
        ["retry 1", "retry 2", "denied:budget 3"],
        "hooks for the scheduled retries only, then the denial"
    );
    // The budget is spent: the next call makes one attempt.
    let flaky = Flaky::always();
    assert!(
        caller("budget::exhausted", &TWO)
            .call(|_: &Failure| true, || flaky.attempt())
            .is_err()
    );
    assert_eq!(flaky.calls(), 1);
    // A call that succeeds at once is not touched by it.
    let flaky = Flaky::never();
    assert_eq!(
        caller("budget::exhausted", &TWO).call(|_: &Failure| true, || flaky.attempt()),
        Ok(1)
    );
}

static SHARED: RetryBudget = two_retries();

#[retry(on = Failure, attempts = 10, wait_initial = 0, wait_jitter = 0, budget = SHARED, name = "budget::shared_fn")]
fn shared_fn(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 10, wait_initial = 0, wait_jitter = 0, budget = SHARED, name = "budget::shared_async")]
async fn shared_async(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn fns_callers_and_async_fns_share_one_static_budget() {
    record_hook_calls();
    let flaky = Flaky::new(1);
    assert_eq!(shared_fn(&flaky), Ok(2));
    let flaky = Flaky::new(1);
    assert_eq!(futures::executor::block_on(shared_async(&flaky)), Ok(2));
    // Both retries of the reserve are spent: a caller on the same budget gets none.
    let flaky = Flaky::always();
    let error = caller("budget::shared_caller", &SHARED)
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap_err();
    assert_eq!((flaky.calls(), Some(error)), (1, flaky.last_error()));
    assert_eq!(hook_calls("budget::shared_caller"), ["denied:budget 1"]);
    // Nor does the attribute fn, sync or async.
    let flaky = Flaky::always();
    assert!(shared_fn(&flaky).is_err());
    assert_eq!(flaky.calls(), 1);
    let flaky = Flaky::always();
    assert!(futures::executor::block_on(shared_async(&flaky)).is_err());
    assert_eq!(flaky.calls(), 1);
}

#[test]
fn a_ratio_budget_grants_retries_in_proportion_to_the_calls() {
    // 50% of the calls, no reserve.
    static HALF: RetryBudget = RetryBudget::new().ratio(0.5).min_per_sec(0);
    record_hook_calls();
    let caller = caller("budget::ratio", &HALF);
    for _ in 0..10 {
        let flaky = Flaky::never();
        assert!(caller.call(|_: &Failure| true, || flaky.attempt()).is_ok());
    }
    // 10 calls so far; the failing call is the 11th: 5 retries fit (5.5 allowed).
    let flaky = Flaky::always();
    assert!(caller.call(|_: &Failure| true, || flaky.attempt()).is_err());
    assert_eq!(flaky.calls(), 6);
    assert_eq!(HALF.available(), 0);
}

#[test]
fn a_quota_refunds_a_successful_retry_and_prices_throttling_apart() {
    static QUOTA: RetryBudget = RetryBudget::token_quota();
    record_hook_calls();
    let caller = caller("budget::quota", &QUOTA);
    let flaky = Flaky::new(2);
    assert_eq!(caller.call(|_: &Failure| true, || flaky.attempt()), Ok(3));
    // Two retries of 14; the success refunds the last one.
    assert_eq!(QUOTA.available(), 500 - 14);
    let flaky = Flaky::new(1);
    let throttled = |_: &Failure| stamina::Decision::Throttled(None);
    assert_eq!(caller.call(throttled, || flaky.attempt()), Ok(2));
    assert_eq!(QUOTA.available(), 500 - 14, "5 spent, 5 refunded");
    let flaky = Flaky::always();
    assert!(
        caller
            .clone()
            .attempts(3)
            .call(throttled, || flaky.attempt())
            .is_err()
    );
    assert_eq!(QUOTA.available(), 500 - 14 - 10);
    // Successes at once repay a token each.
    for _ in 0..24 {
        let flaky = Flaky::never();
        assert!(caller.call(throttled, || flaky.attempt()).is_ok());
    }
    assert_eq!(QUOTA.available(), 500);
}

#[test]
fn the_budget_is_asked_last_so_a_retry_refused_otherwise_spends_nothing() {
    static ONE: RetryBudget = RetryBudget::new()
        .ratio(0.0)
        .min_per_sec(1)
        .window(Duration::from_secs(1));
    record_hook_calls();
    let left = || ONE.available();
    assert_eq!(left(), 1);
    // The attempt limit.
    let flaky = Flaky::always();
    let _ = caller("budget::last", &ONE)
        .attempts(1)
        .call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(left(), 1, "attempts");
    // `on` declines.
    let flaky = Flaky::always();
    let _ = caller("budget::last", &ONE).call(|_: &Failure| false, || flaky.attempt());
    assert_eq!(left(), 1, "on");
    // The timeout has passed.
    let clock = TestClock::new();
    let flaky = Flaky::always();
    let _ = clock.run(|| {
        caller("budget::last", &ONE)
            .timeout(Duration::from_secs(1))
            .call(
                |_: &Failure| true,
                || {
                    clock.advance(Duration::from_secs(2));
                    flaky.attempt()
                },
            )
    });
    assert_eq!((left(), flaky.calls()), (1, 1), "timeout");
    // The deadline mode: the wait would outlive the timeout.
    let flaky = Flaky::always();
    let _ = clock.run(|| {
        RetryingCaller::new()
            .name("budget::last")
            .budget(&ONE)
            .wait_initial(Duration::from_secs(5))
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_secs(1))
            .timeout_mode(TimeoutMode::Deadline)
            .call(|_: &Failure| true, || flaky.attempt())
    });
    assert_eq!((left(), flaky.calls()), (1, 1), "deadline");
    // The nesting guard: the inner call runs once inside the outer's second attempt.
    let outer = Flaky::new(1);
    let inner = Flaky::always();
    let _ = instant()
        .attempts(2)
        .name("budget::last_outer")
        .no_budget()
        .call(
            |_: &Failure| true,
            || {
                let _ = caller("budget::last", &ONE)
                    .attempts(2)
                    .nested(stamina::Nesting::Once)
                    .call(|_: &Failure| true, || inner.attempt());
                outer.attempt()
            },
        );
    // Outer attempt 1: the inner call retried once, spending the budget's one retry. Its
    // attempt 2 is nested: the inner call ran once and spent nothing (there was nothing left
    // anyway, so the hook says which check refused it).
    assert_eq!(inner.calls(), 2 + 1);
    assert_eq!(left(), 0);
    let denied = hook_calls("budget::last");
    assert_eq!(
        denied.last().map(String::as_str),
        Some("denied:nested 1"),
        "{denied:?}"
    );
}

#[test]
fn testing_mode_ignores_budgets_and_an_inactive_process_leaves_them_untouched() {
    static NONE_LEFT: RetryBudget = RetryBudget::new().ratio(0.0).min_per_sec(0);
    static COUNTED: RetryBudget = RetryBudget::new().ratio(1.0).min_per_sec(0);
    record_hook_calls();
    {
        let _testing = stamina::testing::set_testing(true, 3, false);
        let flaky = Flaky::always();
        assert!(
            caller("budget::testing", &NONE_LEFT)
                .call(|_: &Failure| true, || flaky.attempt())
                .is_err()
        );
        assert_eq!(
            flaky.calls(),
            3,
            "testing mode's attempts, whatever the budget"
        );
    }
    {
        let _inactive = stamina::testing::set_active(false);
        for _ in 0..5 {
            let flaky = Flaky::always();
            let _ =
                caller("budget::inactive", &COUNTED).call(|_: &Failure| true, || flaky.attempt());
            assert_eq!(flaky.calls(), 1);
        }
        // Never withdrawn from, still counted: the switches decide retries, not the traffic.
        assert_eq!(COUNTED.available(), 5);
    }
    let flaky = Flaky::never();
    let _ = caller("budget::inactive", &COUNTED).call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(COUNTED.available(), 6);
    assert!(hook_calls("budget::inactive").is_empty() && hook_calls("budget::testing").len() == 2);
}

#[test]
fn a_partitioned_budget_keeps_each_key_apart() {
    use stamina::budget::Partitioned;
    static BY_HOST: Partitioned = Partitioned::new(two_retries());

    #[retry(on = Failure, attempts = 10, wait_initial = 0, wait_jitter = 0, budget = BY_HOST.get(host), name = "budget::partitioned")]
    fn fetch(host: &str, flaky: &Flaky) -> Result<u32, Failure> {
        let _ = host;
        flaky.attempt()
    }
    record_hook_calls();

    let flaky = Flaky::always();
    assert!(fetch("a.example", &flaky).is_err());
    assert_eq!(flaky.calls(), 3);
    let flaky = Flaky::always();
    assert!(fetch("a.example", &flaky).is_err());
    assert_eq!(flaky.calls(), 1, "a.example's budget is spent");
    let flaky = Flaky::always();
    assert!(fetch("b.example", &flaky).is_err());
    assert_eq!(flaky.calls(), 3, "b.example's is not");
}

#[test]
fn budget_none_keeps_a_fn_out_of_any_budget() {
    #[retry(on = Failure, attempts = 4, wait_initial = 0, wait_jitter = 0, budget = None)]
    fn unbudgeted(flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
    record_hook_calls();
    let flaky = Flaky::always();
    assert!(unbudgeted(&flaky).is_err());
    assert_eq!(flaky.calls(), 4);
}

#[test]
fn grpc_throttling_counts_every_retried_failure_and_every_success() {
    // 10 tokens: every failure that `on` retries takes one, the last one too, which the
    // attempt limit stops before the budget is asked.
    static TOKENS: RetryBudget = RetryBudget::grpc_throttling(10, 0.5);
    let flaky = Flaky::always();
    let caller = instant().attempts(3).name("budget::grpc").budget(&TOKENS);
    assert!(caller.call(|_: &Failure| true, || flaky.attempt()).is_err());
    assert_eq!(flaky.calls(), 3);
    assert_eq!(
        TOKENS.get_tokens(),
        Some(7.0),
        "three failures, three tokens"
    );
    // A failure that `on` declines is not a qualifying failure.
    assert!(
        caller
            .call(|_: &Failure| false, || flaky.attempt())
            .is_err()
    );
    assert_eq!(TOKENS.get_tokens(), Some(7.0));
    // Two more: 5 left, not above half: the second is the last attempt of its call.
    let flaky = Flaky::always();
    assert!(
        instant()
            .attempts(10)
            .name("budget::grpc")
            .budget(&TOKENS)
            .call(|_: &Failure| true, || flaky.attempt())
            .is_err()
    );
    assert_eq!(flaky.calls(), 2, "6 tokens allow a retry, 5 do not");
    assert_eq!(TOKENS.get_tokens(), Some(5.0));
    // Successes give back 0.5 each, at the first attempt or after retrying.
    let ok = Flaky::new(0);
    for _ in 0..4 {
        assert!(caller.call(|_: &Failure| true, || ok.attempt()).is_ok());
    }
    assert_eq!(TOKENS.get_tokens(), Some(7.0));
}
