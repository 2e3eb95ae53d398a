//! stamina's backoff formula, as a property of real calls through the public API: the waits that
//! hooks see (`wait_for`, `waited_so_far`) and that `RetryContext::decide` returns.
//!
//! `min(wait_max, wait_initial * wait_exp_base^(n - 1) + U(0, wait_jitter))` after failed attempt
//! `n`. The unit tests in `stamina/src/backoff.rs` cover the formula itself; these check that the
//! calls use it, for every attempt, with fresh jitter per wait. Real sleeps here are at most a
//! millisecond, testing mode is off.

use std::collections::HashSet;
use std::time::Duration;

use stamina::RetryingCaller;
use stamina_tests::{Failure, Flaky, Recorder, ms, secs, unique_name};

const NS: Duration = Duration::from_nanos(1);
const US: Duration = Duration::from_micros(1);

/// The lower bound after failed attempt `n` for `wait_initial` 1 ns, base 2, `wait_max` 1 µs.
fn tiny_lower_bound(n: u32) -> Duration {
    if n > 10 {
        US
    } else {
        (NS * (1 << (n - 1))).min(US)
    }
}

#[test]
fn every_wait_up_to_attempt_10_000_is_within_its_bounds() {
    let name = unique_name("backoff::bounds");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .no_attempt_limit()
        .no_timeout()
        .wait_initial(NS)
        .wait_max(US)
        .wait_jitter(US)
        .name(name);
    let flaky = Flaky::always();
    let e = caller
        .call(|e: &Failure| e.attempt <= 10_000, || flaky.attempt())
        .unwrap_err();
    assert_eq!(e.attempt, 10_001, "declined by `on` after 10,000 retries");

    let retries = recorder.retries();
    assert_eq!(retries.len(), 10_000);
    let mut waited = Duration::ZERO;
    for (i, retry) in retries.iter().enumerate() {
        let n = i as u32 + 1;
        assert_eq!(retry.retry_num, n);
        let lower = tiny_lower_bound(n);
        let upper = (lower + US).min(US);
        let w = retry.wait_for;
        assert!(
            lower <= w && w <= upper,
            "attempt {n}: {w:?} not in [{lower:?}, {upper:?}]"
        );
        if n > 10 {
            // 2^10 ns > 1 µs: the exponential part alone reaches the cap, so no jitter at all.
            assert_eq!(w, US, "attempt {n}");
        }
        assert_eq!(retry.waited_so_far, waited, "attempt {n}");
        waited += w;
    }
    // The overflowing exponents: 2^1024 is infinite in f64.
    for n in [1024, 1025, 1100, 2000, 10_000] {
        assert_eq!(retries[n - 1].wait_for, US, "attempt {n}");
    }
}

#[test]
fn attempt_1100_with_base_2_waits_exactly_wait_max() {
    // stamina's defaults; `decide` hands the wait back without sleeping it.
    let recorder = Recorder::for_this_thread();
    let caller = RetryingCaller::new().no_attempt_limit().no_timeout();
    let mut retry = caller.context(|_: &Failure| true);
    let mut waits = Vec::new();
    for n in 1..=1100 {
        let attempt = retry.attempt();
        assert_eq!(attempt.num, n);
        waits.push((attempt.next_wait, retry.decide(Failure::new(n)).unwrap()));
    }
    for (n, (next_wait, wait)) in waits.iter().enumerate().skip(6) {
        assert_eq!(*next_wait, secs(5.0), "attempt {}", n + 1);
        assert_eq!(*wait, secs(5.0), "attempt {}", n + 1);
    }
    assert_eq!(waits[1099], (secs(5.0), secs(5.0)));
    let hooked = recorder.retries();
    assert_eq!(hooked.len(), 1100);
    assert_eq!(hooked[1099].retry_num, 1100);
    assert_eq!(hooked[1099].wait_for, secs(5.0));
    assert_eq!(
        hooked[1099].waited_so_far,
        hooked[1098].waited_so_far + secs(5.0)
    );
}

#[test]
fn waits_follow_the_base_without_jitter() {
    let caller = RetryingCaller::new()
        .no_attempt_limit()
        .wait_initial(ms(1))
        .wait_max(secs(1.0))
        .wait_jitter(Duration::ZERO)
        .wait_exp_base(3);
    let mut retry = caller.context(|_: &Failure| true);
    let waits: Vec<_> = (1..=9)
        .map(|n| {
            retry.attempt();
            retry.decide(Failure::new(n)).unwrap()
        })
        .collect();
    assert_eq!(waits, [1, 3, 9, 27, 81, 243, 729, 1000, 1000].map(ms));
}

#[test]
fn wait_max_below_wait_initial_gives_wait_max() {
    // stamina, verified: initial 3, max 1 gives 1, 1, 1.
    let caller = RetryingCaller::new()
        .wait_initial(secs(3.0))
        .wait_max(secs(1.0));
    let mut retry = caller.context(|_: &Failure| true);
    let waits: Vec<_> = (1..=3)
        .map(|n| {
            retry.attempt();
            retry.decide(Failure::new(n)).unwrap()
        })
        .collect();
    assert_eq!(waits, [secs(1.0); 3]);
}

/// The first wait of `calls` calls that fail once, each drawn afresh.
fn first_waits(calls: usize, jitter: Duration) -> Vec<Duration> {
    let name = unique_name("backoff::first_wait");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .attempts(2)
        .wait_initial(Duration::ZERO)
        .wait_jitter(jitter)
        .wait_max(secs(1.0))
        .name(name);
    for _ in 0..calls {
        let flaky = Flaky::new(1);
        assert_eq!(caller.call(|_: &Failure| true, || flaky.attempt()), Ok(2));
    }
    let waits = recorder.wait_fors();
    assert_eq!(waits.len(), calls);
    waits
}

#[test]
fn jitter_is_uniform_within_its_bounds() {
    // 2,000 draws of U(0, 1 µs) in ten 100 ns buckets: 200 expected in each, with a standard
    // deviation of 13.4; the bounds below are more than 6 standard deviations out, and so is
    // the bound on the mean (499.5 ns expected, standard error 6.5 ns).
    const DRAWS: usize = 2_000;
    let waits = first_waits(DRAWS, US);
    let mut buckets = [0_u32; 10];
    let mut sum = 0;
    for w in &waits {
        assert!(*w <= US, "{w:?}");
        let ns = w.as_nanos();
        sum += ns;
        buckets[(ns / 100).min(9) as usize] += 1;
    }
    for (i, count) in buckets.iter().enumerate() {
        assert!(
            (110..=290).contains(count),
            "bucket {i}: {count} of {DRAWS}: {buckets:?}"
        );
    }
    let mean = sum / DRAWS as u128;
    assert!((450..=550).contains(&mean), "mean {mean} ns");
}

#[test]
fn jitter_differs_between_calls() {
    // 100 draws from a million possible nanosecond values: a repeated value is a 1-in-200
    // event, five of them practically impossible.
    let waits = first_waits(100, ms(1));
    let distinct: HashSet<_> = waits.iter().collect();
    assert!(
        distinct.len() >= 95,
        "{} distinct waits in 100",
        distinct.len()
    );
}

#[test]
fn jitter_differs_between_the_waits_of_one_call() {
    let name = unique_name("backoff::one_call");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .attempts(21)
        .wait_initial(Duration::ZERO)
        .wait_jitter(ms(1))
        .wait_max(secs(1.0))
        .wait_exp_base(1)
        .name(name);
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| true, || flaky.attempt());
    let waits = recorder.wait_fors();
    assert_eq!(waits.len(), 20);
    let distinct: HashSet<_> = waits.iter().collect();
    assert!(distinct.len() >= 19, "{waits:?}");
}

#[test]
fn a_zero_wait_initial_stays_zero_past_attempt_1024() {
    // `0 * inf` is NaN, which once landed on the cap: retry 1025 of a 20 ms loop slept 5 s.
    let name = unique_name("backoff::zero");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .no_attempt_limit()
        .no_timeout()
        .wait_initial(Duration::ZERO)
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO)
        .name(name);
    let flaky = Flaky::always();
    let _ = caller.call(|e: &Failure| e.attempt <= 1100, || flaky.attempt());
    assert_eq!(flaky.calls(), 1101);
    let waits = recorder.wait_fors();
    assert_eq!(waits.len(), 1100);
    assert!(
        waits.iter().all(Duration::is_zero),
        "{:?}",
        waits.iter().find(|w| !w.is_zero())
    );
    // Every base keeps zero at zero.
    for base in [1.0, 2.0, 1e300, f64::INFINITY, f64::NAN] {
        let name = unique_name("backoff::zero-base");
        let recorder = Recorder::for_name(&name);
        let flaky = Flaky::always();
        let _ = caller
            .clone()
            .wait_exp_base(base)
            .name(name)
            .call(|e: &Failure| e.attempt <= 1100, || flaky.attempt());
        assert!(
            recorder.wait_fors().iter().all(Duration::is_zero),
            "base {base}"
        );
    }
}
