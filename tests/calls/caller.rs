//! stamina's conformance checklist through `RetryingCaller` (`call`, `call_async`,
//! `call_async_mut`) and `BoundRetryingCaller`: values and errors pass through unchanged, the
//! attempt and time limits are exact, `on` decides in all its forms, and the configuration checks
//! report their errors.
//!
//! Hook calls are observed through the routing [`Recorder`], by name. The caller under the
//! switches is in `switches/testing_mode.rs`, `switches/inactive.rs` and
//! `switches/scoped_switches.rs`; what its hooks see in `instrumentation/hook_calls.rs`, its
//! `name` in `instrumentation/hook_names.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::{ConfigError, Decision, RetryingCaller};
use stamina_tests::{Failure, Flaky, Recorder, instant, ms, secs, unique_name};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Every combination of attempts ∈ {no limit, 0, 1} × timeout ∈ {none, 0, 1 s, 1 day}, with a
/// label for failure messages.
fn matrix() -> Vec<(String, RetryingCaller)> {
    type Setter = fn(RetryingCaller) -> RetryingCaller;
    let attempts: [(&str, Setter); 3] = [
        ("no attempt limit", RetryingCaller::no_attempt_limit),
        ("attempts 0", |c| c.attempts(0)),
        ("attempts 1", |c| c.attempts(1)),
    ];
    let timeouts: [(&str, Setter); 4] = [
        ("no timeout", RetryingCaller::no_timeout),
        ("timeout 0", |c| c.timeout(Duration::ZERO)),
        ("timeout 1 s", |c| c.timeout(Duration::from_secs(1))),
        ("timeout 1 day", |c| c.timeout(DAY)),
    ];
    let mut all = Vec::new();
    for (a_label, a) in attempts {
        for (t_label, t) in timeouts {
            all.push((format!("{a_label}, {t_label}"), t(a(RetryingCaller::new()))));
        }
    }
    assert_eq!(all.len(), 12);
    all
}

/// An `on` that counts its calls and always retries.
fn counting_on(calls: &AtomicU32) -> impl Fn(&Failure) -> bool + '_ {
    move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Success passes through
// ---------------------------------------------------------------------------------------------

#[test]
fn success_passes_the_value_through_sync() {
    for (label, caller) in matrix() {
        let on_calls = AtomicU32::new(0);
        let mut calls = 0;
        let value = caller.call(counting_on(&on_calls), || {
            calls += 1;
            Ok::<_, Failure>(format!("value of {label}"))
        });
        assert_eq!(value, Ok(format!("value of {label}")), "{label}");
        assert_eq!(calls, 1, "{label}");
        assert_eq!(
            on_calls.load(Ordering::SeqCst),
            0,
            "{label}: `on` ran on success"
        );

        let bound = caller.on(counting_on(&on_calls));
        assert_eq!(bound.call(|| Ok::<_, Failure>(42)), Ok(42), "{label}");
        assert_eq!(on_calls.load(Ordering::SeqCst), 0, "{label}");
    }
}

#[tokio::test]
async fn success_passes_the_value_through_async() {
    for (label, caller) in matrix() {
        let on_calls = AtomicU32::new(0);
        let flaky = Flaky::never();

        let v = caller
            .call_async(counting_on(&on_calls), || async { flaky.attempt() })
            .await;
        assert_eq!(v, Ok(1), "{label}: call_async with `|| async {{}}`");

        let v = caller
            .call_async(counting_on(&on_calls), async || flaky.attempt())
            .await;
        assert_eq!(v, Ok(2), "{label}: call_async with `async ||`");

        let mut calls = 0;
        let v = caller
            .call_async_mut(counting_on(&on_calls), async || {
                calls += 1;
                Ok::<_, Failure>(format!("value of {label}"))
            })
            .await;
        assert_eq!(
            v,
            Ok(format!("value of {label}")),
            "{label}: call_async_mut"
        );
        assert_eq!(calls, 1, "{label}");

        let bound = caller.on(counting_on(&on_calls));
        assert_eq!(
            bound.call_async(|| async { flaky.attempt() }).await,
            Ok(3),
            "{label}: bound call_async"
        );
        assert_eq!(
            bound.call_async_mut(async || flaky.attempt()).await,
            Ok(4),
            "{label}: bound call_async_mut"
        );
        assert_eq!(flaky.calls(), 4, "{label}");
        assert_eq!(
            on_calls.load(Ordering::SeqCst),
            0,
            "{label}: `on` ran on success"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// One failure, then success
// ---------------------------------------------------------------------------------------------

#[test]
fn one_failure_then_success_sync() {
    let flaky = Flaky::new(1);
    assert_eq!(
        instant().call(|_: &Failure| true, || flaky.attempt()),
        Ok(2)
    );
    assert_eq!(flaky.calls(), 2);

    let flaky = Flaky::new(1);
    let bound = instant().on(|_: &Failure| true);
    assert_eq!(bound.call(|| flaky.attempt()), Ok(2));
    assert_eq!(flaky.calls(), 2);
}

#[tokio::test]
async fn one_failure_then_success_async() {
    let flaky = Flaky::new(1);
    let v = instant()
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!((v, flaky.calls()), (Ok(2), 2));

    let flaky = Flaky::new(1);
    let v = instant()
        .call_async(|_: &Failure| true, async || flaky.attempt())
        .await;
    assert_eq!((v, flaky.calls()), (Ok(2), 2));

    let mut calls = 0;
    let v = instant()
        .call_async_mut(
            |_: &Failure| true,
            async || {
                calls += 1;
                if calls < 2 {
                    Err(Failure::new(calls))
                } else {
                    Ok(42)
                }
            },
        )
        .await;
    assert_eq!((v, calls), (Ok(42), 2));

    let bound = instant().on(|_: &Failure| true);
    let flaky = Flaky::new(1);
    assert_eq!(bound.call_async(|| async { flaky.attempt() }).await, Ok(2));
    let flaky2 = Flaky::new(1);
    assert_eq!(bound.call_async_mut(async || flaky2.attempt()).await, Ok(2));
    assert_eq!((flaky.calls(), flaky2.calls()), (2, 2));
}

// ---------------------------------------------------------------------------------------------
// `on` in all its forms
// ---------------------------------------------------------------------------------------------

#[test]
fn on_may_return_a_bool() {
    let flaky = Flaky::new(1);
    assert_eq!(
        instant().call(|_: &Failure| true, || flaky.attempt()),
        Ok(2)
    );
    let flaky = Flaky::new(1);
    let result = instant().call(|_: &Failure| false, || flaky.attempt());
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
}

#[test]
fn on_may_return_a_duration() {
    let flaky = Flaky::new(2);
    let result = instant().call(|_: &Failure| Duration::ZERO, || flaky.attempt());
    assert_eq!((result, flaky.calls()), (Ok(3), 3));
}

#[test]
fn on_may_return_an_option_of_a_duration() {
    let flaky = Flaky::new(1);
    let result = instant().call(|_: &Failure| Some(Duration::ZERO), || flaky.attempt());
    assert_eq!((result, flaky.calls()), (Ok(2), 2));
    let flaky = Flaky::new(1);
    let result = instant().call(|_: &Failure| None::<Duration>, || flaky.attempt());
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
}

#[test]
fn on_may_return_a_decision() {
    for (decision, calls) in [
        (Decision::Retry, 2),
        (Decision::RetryAfter(Duration::ZERO), 2),
        (Decision::NoRetry, 1),
    ] {
        let flaky = Flaky::new(1);
        let result = instant().call(|_: &Failure| decision, || flaky.attempt());
        assert_eq!(flaky.calls(), calls, "{decision:?}");
        assert_eq!(result.is_ok(), calls == 2, "{decision:?}");
    }
}

#[test]
fn on_sees_each_error_and_may_keep_state() {
    // `call` takes an `FnMut` predicate: this one retries twice, then declines.
    let mut seen = Vec::new();
    let flaky = Flaky::always();
    let result = instant().call(
        |e: &Failure| {
            seen.push(e.attempt);
            seen.len() < 3
        },
        || flaky.attempt(),
    );
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(result, Err(flaky.last_error().unwrap()));
    assert_eq!(flaky.calls(), 3);
}

#[test]
fn on_decides_by_the_error_value() {
    // Retry only odd attempts' errors: attempt 1 fails (retried), attempt 2 fails (declined).
    let flaky = Flaky::always();
    let result = instant().call(|e: &Failure| e.attempt % 2 == 1, || flaky.attempt());
    assert_eq!(result.map_err(|e| e.attempt), Err(2));
    assert_eq!(flaky.calls(), 2);
}

// ---------------------------------------------------------------------------------------------
// Errors come back unchanged
// ---------------------------------------------------------------------------------------------

#[test]
fn declined_error_comes_back_after_one_call_unchanged() {
    let flaky = Flaky::always();
    let result = instant()
        .attempts(10)
        .call(|_: &Failure| false, || flaky.attempt());
    let returned = result.unwrap_err();
    assert_eq!(flaky.calls(), 1);
    assert_eq!(Some(returned), flaky.last_error());
    assert_eq!(returned.attempt, 1);

    let flaky = Flaky::always();
    let bound = instant().on(|_: &Failure| Decision::NoRetry);
    assert_eq!(
        bound.call(|| flaky.attempt()),
        Err(flaky.last_error().unwrap())
    );
    assert_eq!(flaky.calls(), 1);
}

#[tokio::test]
async fn declined_error_comes_back_after_one_call_unchanged_async() {
    let flaky = Flaky::always();
    let result = instant()
        .call_async(|_: &Failure| false, || async { flaky.attempt() })
        .await;
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );

    let flaky = Flaky::always();
    let result = instant()
        .call_async_mut(|_: &Failure| None::<Duration>, async || flaky.attempt())
        .await;
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
}

#[test]
fn giving_up_returns_the_last_error_unchanged() {
    for attempts in [1, 2, 3, 7] {
        let flaky = Flaky::always();
        let result = instant()
            .attempts(attempts)
            .call(|_: &Failure| true, || flaky.attempt());
        let returned = result.unwrap_err();
        assert_eq!(Some(returned), flaky.last_error(), "attempts {attempts}");
        assert_eq!(returned.attempt, attempts);
    }
}

#[tokio::test]
async fn giving_up_returns_the_last_error_unchanged_async() {
    let caller = instant().attempts(4);
    let flaky = Flaky::always();
    let e = caller
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await
        .unwrap_err();
    assert_eq!((Some(e), e.attempt), (flaky.last_error(), 4));

    let flaky = Flaky::always();
    let e = caller
        .on(|_: &Failure| true)
        .call_async_mut(async || flaky.attempt())
        .await
        .unwrap_err();
    assert_eq!((Some(e), e.attempt), (flaky.last_error(), 4));
}

#[test]
fn type_erased_errors_pass_through_unchanged() {
    // The same identity holds for an error that is not `Copy`: the very box comes back.
    let mut boxes = Vec::new();
    let result = instant().attempts(2).call(
        |_| true,
        || {
            let e: Box<dyn std::error::Error + Send + Sync> = Box::new(Failure::new(0));
            boxes.push(std::ptr::from_ref(&*e).cast::<u8>() as usize);
            Err::<(), _>(e)
        },
    );
    let returned = result.unwrap_err();
    assert_eq!(boxes.len(), 2);
    assert_eq!(
        std::ptr::from_ref(&*returned).cast::<u8>() as usize,
        boxes[1],
        "not the last error's allocation"
    );
}

// ---------------------------------------------------------------------------------------------
// The attempt limit
// ---------------------------------------------------------------------------------------------

#[test]
fn attempt_limit_is_exact() {
    for n in [1, 2, 3, 5, 10] {
        let flaky = Flaky::always();
        let result = instant()
            .attempts(n)
            .call(|_: &Failure| true, || flaky.attempt());
        assert!(result.is_err());
        assert_eq!(flaky.calls(), n, "attempts({n})");
    }
}

#[test]
fn default_attempt_limit_is_ten() {
    let flaky = Flaky::always();
    let _ = instant().call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(flaky.calls(), 10);
    assert_eq!(RetryingCaller::new().get_attempts(), Some(10));
}

#[tokio::test]
async fn attempt_limit_is_exact_async() {
    for n in [1, 2, 5] {
        let caller = instant().attempts(n);
        let flaky = Flaky::always();
        let _ = caller
            .call_async(|_: &Failure| true, || async { flaky.attempt() })
            .await;
        let _ = caller
            .call_async_mut(|_: &Failure| true, async || flaky.attempt())
            .await;
        let _ = caller
            .on(|_: &Failure| true)
            .call_async(|| async { flaky.attempt() })
            .await;
        assert_eq!(flaky.calls(), 3 * n, "attempts({n})");
    }
}

#[test]
fn attempts_zero_means_one_attempt() {
    let flaky = Flaky::always();
    let caller = instant().attempts(0);
    assert_eq!(caller.get_attempts(), Some(0));
    let result = caller.call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
}

#[test]
fn no_attempt_limit_and_no_timeout_retry_until_on_declines() {
    let flaky = Flaky::always();
    let caller = instant().no_attempt_limit().no_timeout();
    assert_eq!((caller.get_attempts(), caller.get_timeout()), (None, None));
    let result = caller.call(|e: &Failure| e.attempt < 500, || flaky.attempt());
    assert_eq!(result.map_err(|e| e.attempt), Err(500));
    assert_eq!(flaky.calls(), 500);
}

// ---------------------------------------------------------------------------------------------
// The timeout
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_timeout_means_one_attempt() {
    let on_calls = AtomicU32::new(0);
    let flaky = Flaky::always();
    // 100 attempts: a safety net, so that a broken timeout fails this test instead of hanging it.
    let result = instant()
        .attempts(100)
        .timeout(Duration::ZERO)
        .call(counting_on(&on_calls), || flaky.attempt());
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
    // The timeout is checked after `on` wants a retry, not instead of asking it.
    assert_eq!(on_calls.load(Ordering::SeqCst), 1);
}

#[test]
fn success_after_the_deadline_is_returned() {
    // The timeout never interrupts an attempt nor discards its success.
    let mut calls = 0;
    let result = instant().timeout(ms(1)).call(
        |_: &Failure| true,
        || {
            calls += 1;
            std::thread::sleep(ms(20));
            Ok::<_, Failure>("late but fine")
        },
    );
    assert_eq!((result, calls), (Ok("late but fine"), 1));
}

#[test]
fn declined_error_after_the_deadline_comes_back_unchanged() {
    let flaky = Flaky::always();
    let result = instant().timeout(Duration::ZERO).call(
        |_: &Failure| false,
        || {
            std::thread::sleep(ms(5));
            flaky.attempt()
        },
    );
    assert_eq!(
        (result, flaky.calls()),
        (Err(flaky.last_error().unwrap()), 1)
    );
}

#[test]
fn timeout_bounds_the_retries_in_real_time() {
    // Constant 10 ms waits and a 30 ms budget: the planned waits alone reach the budget after the
    // fourth failure, so the call gives up after at most 4 attempts, whatever the machine's load.
    let flaky = Flaky::always();
    let started = std::time::Instant::now();
    let result = RetryingCaller::new()
        .attempts(100) // a safety net against a broken timeout
        .timeout(ms(30))
        .wait_initial(ms(10))
        .wait_jitter(Duration::ZERO)
        .wait_exp_base(1)
        .call(|_: &Failure| true, || flaky.attempt());
    let calls = flaky.calls();
    assert_eq!(result, Err(flaky.last_error().unwrap()));
    assert!((1..=4).contains(&calls), "{calls} attempts");
    assert!(started.elapsed() >= ms(10) * (calls - 1));
}

#[tokio::test(start_paused = true)]
async fn timeout_bounds_the_retries_under_paused_time() {
    // Waits of 10 minutes, a budget of one hour: failure k sees (k - 1) * 10 min of planned waits,
    // so the call gives up at failure 7 after sleeping exactly 60 (virtual) minutes.
    let caller = RetryingCaller::new()
        .attempts(100) // a safety net against a broken timeout
        .timeout(Duration::from_secs(3600))
        .wait_initial(Duration::from_secs(600))
        .wait_jitter(Duration::ZERO)
        .wait_max(DAY)
        .try_wait_exp_base(1)
        .unwrap();
    let flaky = Flaky::always();
    let start = tokio::time::Instant::now();
    let result = caller
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(result, Err(flaky.last_error().unwrap()));
    assert_eq!(flaky.calls(), 7);
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn timeout_does_not_shorten_a_wait_nor_skip_the_next_attempt() {
    // A 5 s server hint against a 1 s budget: the wait is slept in full and the next attempt
    // runs; its success is returned. Another failure after that gives up.
    let caller = RetryingCaller::new().timeout(Duration::from_secs(1));
    let flaky = Flaky::new(1);
    let start = tokio::time::Instant::now();
    let v = caller
        .call_async(
            |_: &Failure| Duration::from_secs(5),
            || async { flaky.attempt() },
        )
        .await;
    assert_eq!((v, flaky.calls()), (Ok(2), 2));
    assert_eq!(start.elapsed(), Duration::from_secs(5));

    let flaky = Flaky::always();
    let e = caller
        .call_async(
            |_: &Failure| Duration::from_secs(5),
            || async { flaky.attempt() },
        )
        .await
        .unwrap_err();
    assert_eq!((e.attempt, flaky.calls()), (2, 2));
}

#[test]
fn default_timeout_is_45_seconds() {
    assert_eq!(
        RetryingCaller::new().get_timeout(),
        Some(Duration::from_secs(45))
    );
}

// ---------------------------------------------------------------------------------------------
// `RetryAfter` waits exactly
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retry_after_waits_exactly_its_duration() {
    // No jitter, and not capped by `wait_max` (1 s here).
    let name = unique_name("retry_after_async");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .wait_max(Duration::from_secs(1))
        .wait_jitter(Duration::from_secs(1))
        .name(name);
    let hints = [
        Decision::RetryAfter(Duration::from_secs(7)),
        Decision::RetryAfter(Duration::from_millis(2500)),
    ];
    let flaky = Flaky::new(2);
    let start = tokio::time::Instant::now();
    let v = caller
        .call_async(
            |e: &Failure| hints[e.attempt as usize - 1],
            || async { flaky.attempt() },
        )
        .await;
    assert_eq!(v, Ok(3));
    assert_eq!(start.elapsed(), Duration::from_millis(9500));
    assert_eq!(recorder.wait_fors(), [secs(7.0), secs(2.5)]);
}

#[test]
fn retry_after_waits_exactly_its_duration_sync() {
    let name = unique_name("retry_after_sync");
    let recorder = Recorder::for_name(&name);
    let caller = RetryingCaller::new()
        .wait_max(Duration::from_nanos(1))
        .wait_jitter(Duration::from_secs(1))
        .name(name);
    let flaky = Flaky::new(2);
    let started = std::time::Instant::now();
    let v = caller.call(|_: &Failure| Some(ms(3)), || flaky.attempt());
    assert_eq!(v, Ok(3));
    assert_eq!(recorder.wait_fors(), [ms(3), ms(3)]);
    assert!(started.elapsed() >= ms(6));
}

// ---------------------------------------------------------------------------------------------
// Configuration checks
// ---------------------------------------------------------------------------------------------

#[test]
fn validate_reports_invalid_configuration() {
    assert_eq!(RetryingCaller::new().validate(), Ok(()));
    assert_eq!(instant().attempts(1).wait_exp_base(1).validate(), Ok(()));
    assert_eq!(
        RetryingCaller::new().attempts(0).validate(),
        Err(ConfigError::ZeroAttempts)
    );
    for base in [0.5, 0.0, -2.0, 0.999_999, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(
            RetryingCaller::new().wait_exp_base(base).validate(),
            Err(ConfigError::InvalidExpBase(base)),
            "{base}"
        );
    }
    assert!(matches!(
        RetryingCaller::new().wait_exp_base(f64::NAN).validate(),
        Err(ConfigError::InvalidExpBase(b)) if b.is_nan()
    ));
    // The limits take precedence in the order they are listed: attempts first.
    assert_eq!(
        RetryingCaller::new()
            .attempts(0)
            .wait_exp_base(0.5)
            .validate(),
        Err(ConfigError::ZeroAttempts)
    );
}

#[test]
fn try_setters_report_invalid_values() {
    assert_eq!(
        RetryingCaller::new().try_attempts(0),
        Err(ConfigError::ZeroAttempts)
    );
    assert_eq!(
        RetryingCaller::new()
            .try_attempts(3)
            .map(|c| c.get_attempts()),
        Ok(Some(3))
    );
    assert_eq!(
        RetryingCaller::new().try_wait_exp_base(0.5),
        Err(ConfigError::InvalidExpBase(0.5))
    );
    assert!(matches!(
        RetryingCaller::new().try_wait_exp_base(f64::NAN),
        Err(ConfigError::InvalidExpBase(b)) if b.is_nan()
    ));
    assert_eq!(
        RetryingCaller::new().try_wait_exp_base(f32::INFINITY),
        Err(ConfigError::InvalidExpBase(f64::INFINITY))
    );
    assert_eq!(
        RetryingCaller::new().try_wait_exp_base(1),
        Ok(RetryingCaller::new().wait_exp_base(1.0))
    );
    assert_eq!(
        RetryingCaller::new().try_wait_exp_base(3_u8),
        Ok(RetryingCaller::new().wait_exp_base(3.0))
    );
}

#[test]
fn config_errors_display_their_fix_in_codes_spelling() {
    // `attempts = 0` is fixed by one attempt, never by `None` (no limit: the opposite).
    assert_eq!(
        ConfigError::ZeroAttempts.to_string(),
        "`attempts` must be at least 1 (one attempt, no retries: `.attempts(1)`; `.no_attempt_limit()` is no limit at all)"
    );
    assert_eq!(
        ConfigError::ZeroTimeout.to_string(),
        "a `timeout` of zero allows no retry at all (one attempt: `.attempts(1)`; no time limit: `.no_timeout()`)"
    );
    assert_eq!(
        ConfigError::InvalidExpBase(0.5).to_string(),
        "`wait_exp_base` must be a finite number of at least 1 (waits that do not grow: `.wait_exp_base(1)`) (got 0.5)"
    );
    assert_eq!(
        ConfigError::InvalidExpBase(f64::NAN).to_string(),
        "`wait_exp_base` must be a finite number of at least 1 (waits that do not grow: `.wait_exp_base(1)`) (got NaN)"
    );
    let as_error: &dyn std::error::Error = &ConfigError::ZeroAttempts;
    assert!(as_error.source().is_none());
}

#[test]
fn validate_reports_options_that_would_do_nothing() {
    assert_eq!(
        RetryingCaller::new().min_attempt_time(ms(50)).validate(),
        Err(ConfigError::MinAttemptTimeWithoutDeadline)
    );
    assert_eq!(
        RetryingCaller::new()
            .min_attempt_time(ms(50))
            .timeout_mode(stamina::TimeoutMode::Deadline)
            .validate(),
        Ok(())
    );
    assert_eq!(
        RetryingCaller::new().heal_after(Duration::ZERO).validate(),
        Err(ConfigError::ZeroHealAfter)
    );
    assert_eq!(
        RetryingCaller::new().try_heal_after(Duration::ZERO),
        Err(ConfigError::ZeroHealAfter)
    );
}

#[test]
fn an_invalid_base_still_never_panics() {
    // The chaining setter keeps the value and the formula copes: no panic, a result.
    for base in [f64::NAN, f64::INFINITY, -2.0, 0.0] {
        let flaky = Flaky::new(2);
        let v = RetryingCaller::new()
            .wait_initial(ms(1))
            .wait_max(ms(2))
            .wait_jitter(Duration::ZERO)
            .wait_exp_base(base)
            .call(|_: &Failure| true, || flaky.attempt());
        assert_eq!(v, Ok(3), "{base}");
    }
}

// ---------------------------------------------------------------------------------------------
// Send, Sync, Clone
// ---------------------------------------------------------------------------------------------

static SHARED: RetryingCaller = RetryingCaller::new()
    .wait_initial(Duration::from_millis(1))
    .wait_jitter(Duration::ZERO);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_async_future_can_be_spawned_on_a_multi_thread_runtime() {
    let flaky = Arc::new(Flaky::new(2));
    let op_flaky = Arc::clone(&flaky);
    let handle = tokio::spawn(SHARED.call_async(
        |_: &Failure| true,
        move || {
            let flaky = Arc::clone(&op_flaky);
            async move {
                tokio::task::yield_now().await;
                flaky.attempt()
            }
        },
    ));
    assert_eq!(handle.await.unwrap(), Ok(3));
    assert_eq!(flaky.calls(), 3);

    // An owned caller moved into the task, and a bound one.
    let caller = SHARED.clone().attempts(2);
    let bound = caller.on(|_: &Failure| true);
    let flaky = Arc::new(Flaky::always());
    let op_flaky = Arc::clone(&flaky);
    let handle = tokio::spawn(async move {
        let first = caller
            .call_async(|_: &Failure| true, async || op_flaky.attempt())
            .await;
        let second = bound.call_async(|| async { op_flaky.attempt() }).await;
        (first, second)
    });
    let (first, second) = handle.await.unwrap();
    assert_eq!(
        (first.unwrap_err().attempt, second.unwrap_err().attempt),
        (2, 4)
    );
    assert_eq!(flaky.calls(), 4);
}

fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}

#[test]
fn callers_are_clone_send_and_sync() {
    assert_clone_send_sync::<RetryingCaller>();
    assert_clone_send_sync::<stamina::BoundRetryingCaller<fn(&Failure) -> bool>>();

    let caller = instant().attempts(3).name(String::from("shared"));
    let copy = caller.clone();
    assert_eq!(copy, caller);
    assert_eq!(copy.get_name(), Some("shared"));
    let bound = caller.on(|_: &Failure| true);
    assert_eq!(bound.clone().caller(), &caller);

    // One caller, many threads at once.
    let totals: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let flaky = Flaky::always();
                    let _ = caller.call(|_: &Failure| true, || flaky.attempt());
                    let _ = bound.call(|| flaky.attempt());
                    flaky.calls()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(totals, [6, 6, 6, 6]);
}
