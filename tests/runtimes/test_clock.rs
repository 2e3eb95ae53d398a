//! `stamina::testing::TestClock`: in its scope no retry sleeps; each scheduled wait is recorded,
//! and virtual time, which the timeout, the deadline mode and the attempt read, moves past it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use stamina::testing::TestClock;
use stamina::{RetryingCaller, TimeoutMode, retry};
use stamina_tests::{Failure, Flaky, Recorder};

const MS: Duration = Duration::from_millis(1);

fn waits(clock: &TestClock) -> Vec<Duration> {
    clock.waits().iter().map(|w| w.wait).collect()
}

#[retry(on = Failure, attempts = 5, wait_initial = 1s, wait_max = 3s, wait_jitter = 0, name = "clock::sync")]
fn production(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_sync_fn_records_its_waits_instead_of_sleeping_them() {
    let clock = TestClock::new();
    let flaky = Flaky::always();
    let started = Instant::now();
    let error = clock.run(|| production(&flaky)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "it slept");
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(waits(&clock), [1000 * MS, 2000 * MS, 3000 * MS, 3000 * MS]);
    let recorded = clock.waits();
    assert_eq!(
        recorded.iter().map(|w| w.retry_num).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(recorded.iter().all(|w| w.name == "clock::sync"));
    assert!(
        recorded[0].error_type.ends_with("Failure"),
        "{}",
        recorded[0].error_type
    );
    assert_eq!(
        recorded.iter().map(|w| w.at).collect::<Vec<_>>(),
        [Duration::ZERO, 1000 * MS, 3000 * MS, 6000 * MS]
    );
    assert_eq!(clock.elapsed(), 9000 * MS);
    // Outside its scope, the clock is not in force.
    let flaky = Flaky::new(1);
    let started = Instant::now();
    let _ = RetryingCaller::new()
        .wait_initial(Duration::from_millis(20))
        .wait_jitter(Duration::ZERO)
        .call(|_: &Failure| true, || flaky.attempt());
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(clock.waits().len(), 4);
}

#[retry(on = Failure, attempts = None, timeout = 10s, wait_initial = 1s, wait_exp_base = 1, wait_jitter = 0)]
fn forever_but_ten_seconds(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn no_attempt_limit_stops_at_the_timeout_in_virtual_time() {
    let clock = TestClock::new();
    let flaky = Flaky::always();
    assert!(clock.run(|| forever_but_ten_seconds(&flaky)).is_err());
    // Failures at 0..=9 s are retried; the one at 10 s is not.
    assert_eq!(flaky.calls(), 11);
    assert_eq!(clock.elapsed(), Duration::from_secs(10));
}

#[test]
fn advancing_by_hand_stands_for_slow_attempts() {
    let clock = TestClock::new();
    let caller = RetryingCaller::new()
        .no_attempt_limit()
        .timeout(Duration::from_secs(1))
        .wait_initial(100 * MS)
        .wait_exp_base(1)
        .wait_jitter(Duration::ZERO);
    let calls = AtomicU32::new(0);
    let result = clock.run(|| {
        caller.call(
            |_: &Failure| true,
            || {
                let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
                clock.advance(200 * MS); // each attempt takes 200 ms
                Err::<(), _>(Failure::new(n))
            },
        )
    });
    assert!(result.is_err());
    // Failures at 200, 500, 800 ms are retried; the one at 1.1 s is not.
    assert_eq!(calls.into_inner(), 4);
    assert_eq!(clock.elapsed(), 1100 * MS);
}

#[test]
fn the_deadline_mode_and_the_attempt_read_virtual_time() {
    let clock = TestClock::new();
    let caller = RetryingCaller::new()
        .no_attempt_limit()
        .timeout(Duration::from_secs(1))
        .timeout_mode(TimeoutMode::Deadline)
        .wait_initial(400 * MS)
        .wait_exp_base(1)
        .wait_jitter(Duration::ZERO);
    let mut seen = Vec::new();
    let _ = clock.run(|| {
        caller.call_with_attempt(
            |_: &Failure| true,
            |a| {
                seen.push((a.elapsed(), a.remaining()));
                Err::<(), _>(Failure::new(a.num))
            },
        )
    });
    assert_eq!(
        seen,
        [
            (Some(Duration::ZERO), Some(1000 * MS)),
            (Some(400 * MS), Some(600 * MS)),
            (Some(800 * MS), Some(200 * MS)),
        ]
    );
    assert_eq!(waits(&clock), [400 * MS, 400 * MS]);
}

#[test]
fn seeded_jitter_is_the_same_on_every_run() {
    let caller = RetryingCaller::new().attempts(6).no_timeout();
    let run = |clock: TestClock| {
        let flaky = Flaky::always();
        let _ = clock.run(|| caller.call(|_: &Failure| true, || flaky.attempt()));
        waits(&clock)
    };
    let first = run(TestClock::new().seeded(42));
    assert_eq!(first, run(TestClock::new().seeded(42)));
    assert_ne!(first, run(TestClock::new().seeded(43)));
    // Unseeded, the jitter is the OS's: two runs differ.
    assert_ne!(run(TestClock::new()), run(TestClock::new()));
    // And each seeded wait is within the formula's bounds: 0.1 s · 2^(n-1) plus up to 1 s.
    for (n, wait) in first.iter().enumerate() {
        let floor = 100 * MS * (1 << n);
        assert!(
            *wait >= floor && *wait < floor + Duration::from_secs(1),
            "{n}: {wait:?}"
        );
    }
}

#[retry(on = Failure, attempts = 3, timeout = None, wait_initial = 1h, wait_max = 3h, wait_jitter = 0)]
async fn an_hour_between_attempts(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn async_fns_on_any_executor_record_too() {
    let clock = TestClock::new();
    let flaky = Flaky::new(2);
    let result = futures::executor::block_on(clock.scope(an_hour_between_attempts(&flaky)));
    assert_eq!(result, Ok(3));
    assert_eq!(
        waits(&clock),
        [Duration::from_secs(3600), Duration::from_secs(7200)]
    );

    // A task on a multi-thread runtime carries the clock to whatever worker polls it.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = TestClock::new();
    let task = rt.spawn(clock.scope(async {
        let flaky = Flaky::new(2);
        let caller = RetryingCaller::new()
            .no_timeout()
            .wait_initial(Duration::from_secs(60))
            .wait_max(Duration::from_secs(600))
            .wait_jitter(Duration::ZERO);
        caller
            .call_async(|_: &Failure| true, || async { flaky.attempt() })
            .await
    }));
    assert_eq!(rt.block_on(task).unwrap(), Ok(3));
    assert_eq!(
        waits(&clock),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
}

#[test]
fn hooks_still_run_and_the_explicit_loop_is_told_to_sleep_nothing() {
    let recorder = Recorder::for_this_thread();
    let clock = TestClock::new();
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(5))
        .wait_jitter(Duration::ZERO);
    clock.run(|| {
        let mut retry = caller.context(|_: &Failure| true);
        retry.attempt();
        assert_eq!(retry.decide(Failure::new(1)), Ok(Duration::ZERO));
    });
    assert_eq!(waits(&clock), [Duration::from_secs(5)]);
    assert_eq!(
        recorder.wait_fors(),
        [Duration::from_secs(5)],
        "hooks see the planned wait"
    );
}

#[test]
fn a_guard_ends_the_clock_and_clear_forgets() {
    let clock = TestClock::new();
    {
        let _in_force = clock.set_for_thread();
        let _ = production(&Flaky::new(1));
    }
    assert_eq!(clock.waits().len(), 1);
    clock.clear();
    assert!(clock.waits().is_empty());
    assert_eq!(clock.elapsed(), Duration::from_secs(1), "time stays");
}
