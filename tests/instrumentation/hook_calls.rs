//! What hooks see and when, through every door (`#[retry]` fns sync and async, `RetryingCaller`
//! sync and async, the explicit `RetryContext` loop): hooks run only for a scheduled retry,
//! after the failure and before the wait (never on success, for the final failure, for an
//! error `on` declines, nor when inactive); and the `RetryDetails` they get (`retry_num`,
//! `wait_for`, `waited_so_far`, `caused_by`, `error_type`).
//!
//! The `callable` name is `hook_names.rs`; the guards that hooks return are `hook_guards.rs` and
//! `hook_guards_async.rs`; the registry itself, hook forms and panics are `hook_registry.rs`.
//! Every test here installs its own hooks, process-wide: each takes [`exclusive`], which
//! serializes them and restores the default hooks when it is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stamina::instrumentation::{RetryDetails, set_on_retry_hooks};
use stamina::{RetryingCaller, retry};
use stamina_tests::{
    Exclusive, Failure, Flaky, Log, Recorder, exclusive, explicit_loop, instant, lock, ms,
};

/// Takes [`exclusive`] and installs a fresh recorder as the only hook.
fn recording() -> (Exclusive, Arc<Recorder>) {
    let exclusive = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    (exclusive, recorder)
}

// ---------------------------------------------------------------------------------------------
// When hooks run
// ---------------------------------------------------------------------------------------------

#[test]
fn n_failing_attempts_give_n_minus_1_hook_calls() {
    let _x = exclusive();
    for n in 1..=6 {
        let recorder = Recorder::new();
        set_on_retry_hooks([recorder.hook()]);
        let flaky = Flaky::always();
        let _ = instant()
            .attempts(n)
            .call(|_: &Failure| true, || flaky.attempt());
        assert_eq!(recorder.retry_nums(), (1..n).collect::<Vec<_>>(), "n = {n}");
    }
}

#[test]
fn hooks_run_between_attempts_never_on_success_or_the_final_failure() {
    let _x = exclusive();
    let log = Log::new();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {}", d.retry_num));
    }]);

    let flaky = Flaky::always();
    let _ = instant()
        .attempts(3)
        .call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(
        log.take(),
        ["attempt 1", "hook 1", "attempt 2", "hook 2", "attempt 3"]
    );

    let flaky = Flaky::never();
    let _ = instant().call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1"], "success at once");

    let flaky = Flaky::new(1);
    let _ = instant().call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1", "hook 1", "attempt 2"]);

    let flaky = Flaky::always();
    let _ = instant().call(|_: &Failure| false, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1"], "declined by `on`");
}

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn five(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = |e: &Failure| e.attempt < 2, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn declines_the_second(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn no_hook_for_a_success_a_declined_error_or_when_inactive() {
    let (_x, recorder) = recording();

    assert_eq!(five(&Flaky::never()), Ok(1));
    assert_eq!(recorder.count(), 0);

    // One retry, then `on` declines: no hook for the declined error.
    assert!(declines_the_second(&Flaky::always()).is_err());
    assert_eq!(recorder.retry_nums(), [1]);

    let _inactive = stamina::testing::set_active(false);
    let flaky = Flaky::always();
    assert!(five(&flaky).is_err());
    assert_eq!(flaky.calls(), 1);
    assert_eq!(recorder.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// The details
// ---------------------------------------------------------------------------------------------

#[test]
fn retry_details_follow_stamina_sequence() {
    // stamina, verified: jitter 0, initial 0.01, max 0.05.
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO)
        .name("hooks::sequence");
    let flaky = Flaky::always();
    let mut errors = Vec::new();
    let last = caller
        .call(
            |_: &Failure| true,
            || {
                let result = flaky.attempt();
                errors.push(result.unwrap_err());
                result
            },
        )
        .unwrap_err();
    assert_eq!(last, errors[5]);

    let retries = recorder.retries();
    assert_eq!(retries.len(), 5);
    let wait_for: Vec<_> = retries.iter().map(|r| r.wait_for).collect();
    let waited: Vec<_> = retries.iter().map(|r| r.waited_so_far).collect();
    assert_eq!(wait_for, [10, 20, 40, 50, 50].map(ms));
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
    for (i, r) in retries.iter().enumerate() {
        assert_eq!(r.name, "hooks::sequence");
        assert_eq!(r.retry_num as usize, i + 1);
        assert_eq!(r.caused_by, format!("{:?}", errors[i]));
        assert_eq!(r.error_type, "stamina_tests::Failure");
        assert_eq!(r.error_type, std::any::type_name::<Failure>());
    }
}

#[tokio::test(start_paused = true)]
async fn retry_details_follow_stamina_sequence_async() {
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let start = tokio::time::Instant::now();
    let _ = caller
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(start.elapsed(), ms(170));
    assert_eq!(recorder.wait_fors(), [10, 20, 40, 50, 50].map(ms));
    let waited: Vec<_> = recorder.retries().iter().map(|r| r.waited_so_far).collect();
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
}

#[test]
fn caused_by_is_the_error_itself() {
    let _x = exclusive();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        lock(&hook_seen).push((format!("{:?}", d.caused_by), d.error_type));
    }]);
    let _ = instant().attempts(2).call(
        |_: &std::io::Error| true,
        || Err::<(), _>(std::io::Error::other("disk on fire")),
    );
    let seen = lock(&seen).clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].0,
        format!("{:?}", std::io::Error::other("disk on fire"))
    );
    assert_eq!(seen[0].1, "std::io::error::Error");
}

#[retry(
    on = Failure,
    attempts = 5,
    wait_initial = 1,
    wait_max = 5,
    wait_exp_base = 2,
    wait_jitter = 0,
    timeout = None
)]
async fn backoff(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn hooks_see_each_scheduled_retry() {
    let (_x, recorder) = recording();
    let flaky = Flaky::always();
    let error = backoff(&flaky).await.unwrap_err();
    let retries = recorder.retries();
    // Five failing attempts: four retries, none for the final failure.
    assert_eq!(recorder.retry_nums(), [1, 2, 3, 4]);
    let secs = |s: [u64; 4]| s.map(Duration::from_secs).to_vec();
    assert_eq!(recorder.wait_fors(), secs([1, 2, 4, 5]));
    assert_eq!(
        retries.iter().map(|r| r.waited_so_far).collect::<Vec<_>>(),
        secs([0, 1, 3, 7])
    );
    for (retry, attempt) in retries.iter().zip(1..) {
        assert_eq!(retry.name, "hook_calls::backoff");
        assert_eq!(retry.error_type, "Failure");
        assert!(retry.caused_by.contains(&format!("attempt: {attempt}")));
    }
    assert_eq!(error.attempt, 5);
}

#[test]
fn hooks_see_each_retry_of_the_loop() {
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .wait_initial(ms(1))
        .wait_jitter(Duration::ZERO)
        .attempts(4);
    let flaky = Flaky::always();
    let e = explicit_loop(&caller, &flaky).unwrap_err();
    assert_eq!(e.attempt, 4);
    assert_eq!(recorder.retry_nums(), [1, 2, 3]);
    assert_eq!(recorder.wait_fors(), [ms(1), ms(2), ms(4)]);
}
