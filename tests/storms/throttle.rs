//! Throttles as a user sees them: a call rejected before its first attempt returns the user's
//! error made `From<Throttled>`, a retry it rejects returns the last error unchanged, the replies
//! are counted, testing mode turns it off, the rate limiter delays on virtual time and gives up
//! before a deadline; through the attribute (a `static`, a fn's own, a partition's) and the
//! callers, sync and `async`, and reported through `RetryHook::on_throttled`.
//!
//! One hook for the whole binary records every hook call by name; each test uses names and
//! throttles of its own, so tests run in parallel; the switches they set are scoped to their
//! thread, and the draws come from a seeded test clock.

use std::time::Duration;

use stamina::testing::{self, TestClock};
use stamina::throttle::{Partitioned, Reply, ThrottledReason};
use stamina::{Throttle, Throttled, retry};
use stamina_tests::{Failure, Flaky, hook_calls, instant, record_hook_calls};

/// An error type that carries a throttle's rejection, as the docs say to write it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Error {
    Backend(Failure),
    Throttled(Throttled),
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::Backend(f)
    }
}

impl From<Throttled> for Error {
    fn from(t: Throttled) -> Self {
        Error::Throttled(t)
    }
}

/// The backend's errors are retried; a throttle's rejection is not (it is never an attempt's).
fn backend(e: &Error) -> bool {
    matches!(e, Error::Backend(_))
}

/// Makes `throttle` reject at its cap: `n` requests, none accepted, told to it directly.
fn overloaded(throttle: &Throttle, n: u32) {
    for _ in 0..n {
        throttle.record(Reply::Failed);
    }
}

/// How a batch of calls ended: rejected before any attempt, failed with the backend's last
/// error, succeeded.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    throttled: u32,
    failed: u32,
    ok: u32,
}

static STATIC: Throttle = Throttle::adaptive();

#[retry(on = backend, attempts = 3, wait_initial = 0, wait_jitter = 0, throttle = STATIC, name = "throttle::static_fn")]
fn static_fn(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn an_overloaded_throttle_rejects_first_attempts_and_retries() {
    record_hook_calls();
    overloaded(&STATIC, 1000);
    assert!(
        (STATIC.rejection_probability() - 0.9).abs() < 1e-12,
        "capped at 0.9"
    );
    let clock = TestClock::new().seeded(7);
    let mut tally = Tally::default();
    let mut sent = 0;
    clock.run(|| {
        for _ in 0..200 {
            let flaky = Flaky::always();
            match static_fn(&flaky) {
                Err(Error::Throttled(t)) => {
                    assert_eq!(flaky.calls(), 0, "a rejected call makes no attempt");
                    assert!(matches!(
                        t.reason(),
                        ThrottledReason::Rejected { probability } if probability > 0.89
                    ));
                    tally.throttled += 1;
                }
                Err(Error::Backend(e)) => {
                    assert_eq!(Some(e), flaky.last_error(), "the last error, unchanged");
                    sent += flaky.calls();
                    tally.failed += 1;
                }
                Ok(_) => tally.ok += 1,
            }
        }
    });
    assert_eq!(tally.ok, 0);
    // About 90% of first attempts rejected: 180 of 200 expected, seeded.
    assert!(
        (160..=195).contains(&tally.throttled),
        "rejected {} of 200",
        tally.throttled
    );
    assert!(tally.failed > 0, "some calls are sent");
    let calls = hook_calls("throttle::static_fn");
    assert_eq!(
        calls.iter().filter(|c| *c == "throttled:rejected").count() as u32,
        tally.throttled,
        "one hook call per rejected call"
    );
    // A call that is sent has its retries asked too: most are denied.
    let denied = calls
        .iter()
        .filter(|c| *c == "denied:throttle 1" || *c == "denied:throttle 2")
        .count();
    assert!(denied > 0, "retries denied by the throttle: {calls:?}");
    assert!(
        sent < tally.failed * 3,
        "fewer attempts than without a throttle ({sent} for {} calls)",
        tally.failed
    );
}

static COUNTED: Throttle = Throttle::adaptive();

#[retry(on = backend, attempts = 3, wait_initial = 0, wait_jitter = 0, throttle = COUNTED, name = "throttle::counted")]
fn counted(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn each_attempt_is_a_request_and_each_success_an_accept() {
    assert_eq!(COUNTED.counts(), Some((0, 0)));
    assert_eq!(counted(&Flaky::never()), Ok(1));
    assert_eq!(COUNTED.counts(), Some((1, 1)));
    // Two retried failures, then a success: three requests, one accepted.
    assert_eq!(counted(&Flaky::new(2)), Ok(3));
    assert_eq!(COUNTED.counts(), Some((4, 2)));
    // Below `min_requests` (20), nothing is rejected whatever the counts.
    assert!(COUNTED.rejection_probability() <= 0.0);
}

static QUIET: Throttle = Throttle::adaptive();

#[retry(on = backend, attempts = 2, wait_initial = 0, wait_jitter = 0, throttle = QUIET, name = "throttle::testing")]
fn in_testing(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn testing_mode_and_inactivity_turn_the_throttle_off() {
    overloaded(&QUIET, 1000);
    let clock = TestClock::new().seeded(1);
    clock.run(|| {
        let _testing = testing::set_testing(true, 1, false);
        for _ in 0..50 {
            assert_eq!(
                in_testing(&Flaky::never()),
                Ok(1),
                "never rejected in testing mode"
            );
        }
    });
    clock.run(|| {
        let _inactive = testing::set_active(false);
        for _ in 0..50 {
            assert_eq!(
                in_testing(&Flaky::never()),
                Ok(1),
                "never rejected when inactive"
            );
        }
    });
    assert!(
        QUIET.rejection_probability() > 0.0,
        "still overloaded outside"
    );
}

#[retry(on = backend, attempts = 10, wait_initial = 0, wait_jitter = 0, throttle = adaptive(k = 1.5, min_requests = 5, window = 30s), name = "throttle::inline")]
fn inline(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn a_fns_own_throttle_engages_after_its_min_requests() {
    let clock = TestClock::new().seeded(3);
    let rejected = clock.run(|| {
        // Ten failed attempts: above 5 requests, with no accepts, it rejects.
        let flaky = Flaky::always();
        assert!(matches!(inline(&flaky), Err(Error::Backend(_))));
        (0..100)
            .filter(|_| matches!(inline(&Flaky::never()), Err(Error::Throttled(_))))
            .count()
    });
    assert!(rejected > 0, "the fn's own throttle rejected none");
    assert!(
        rejected < 100,
        "the successes that went through lower the probability"
    );
}

static BY_HOST: Partitioned<Throttle> = Partitioned::new(Throttle::adaptive().min_requests(5));

#[retry(on = backend, attempts = 1, throttle = BY_HOST.get(host), name = "throttle::per_host")]
fn per_host(host: &str, flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn a_partition_keeps_one_throttle_per_key() {
    for _ in 0..10 {
        assert!(per_host("down.example", &Flaky::always()).is_err());
    }
    assert_eq!(per_host("up.example", &Flaky::never()), Ok(1));
    assert_eq!(BY_HOST.get("down.example").counts(), Some((10, 0)));
    assert_eq!(BY_HOST.get("up.example").counts(), Some((1, 1)));
    assert!(BY_HOST.get("down.example").rejection_probability() > 0.8);
    assert!(BY_HOST.get("up.example").rejection_probability() <= 0.0);
}

static LIMITED: Throttle = Throttle::rate_limiter();

#[retry(on = backend, attempts = 1, timeout = 10s, throttle = LIMITED, name = "throttle::limited")]
fn limited(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[retry(on = backend, attempts = 1, timeout = 100ms, throttle = LIMITED, name = "throttle::limited_short")]
fn limited_short(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn the_rate_limiter_delays_on_virtual_time_and_gives_up_before_the_timeout() {
    record_hook_calls();
    let clock = TestClock::new();
    clock.run(|| {
        // Off until the first throttling reply: no delay, however many calls.
        for _ in 0..20 {
            assert_eq!(limited(&Flaky::never()), Ok(1));
        }
        assert_eq!(clock.elapsed(), Duration::ZERO);
        assert_eq!(LIMITED.rate(), None);
        LIMITED.record(Reply::Throttled);
        let rate = LIMITED.rate().expect("on after a throttle");
        assert!(rate > 0.0);
        // Sending faster than the rate waits for tokens, on virtual time.
        for _ in 0..5 {
            assert_eq!(limited(&Flaky::never()), Ok(1));
        }
        assert!(clock.elapsed() > Duration::ZERO, "the calls were paced");
        // A call whose timeout is shorter than the wait is rejected instead.
        let before = clock.elapsed();
        let flaky = Flaky::never();
        let mut rejected = None;
        for _ in 0..5 {
            if let Err(Error::Throttled(t)) = limited_short(&flaky) {
                rejected = Some(t);
                break;
            }
        }
        let rejected = rejected.expect("a wait past the 100 ms timeout gives up");
        assert!(matches!(rejected.reason(), ThrottledReason::Delay { .. }));
        assert!(clock.elapsed().saturating_sub(before) < Duration::from_secs(1));
    });
    let calls = hook_calls("throttle::limited");
    assert!(
        calls.iter().any(|c| c.starts_with("throttled:delayed ")),
        "{calls:?}"
    );
    assert!(hook_calls("throttle::limited_short").contains(&"throttled:rejected".to_owned()));
}

static VIA_CALLER: Throttle = Throttle::adaptive();

#[test]
fn the_caller_asks_the_throttle_and_counts_the_replies() {
    record_hook_calls();
    let caller = instant()
        .attempts(3)
        .name("throttle::caller")
        .throttle(&VIA_CALLER);
    assert!(std::ptr::eq(caller.get_throttle(), &raw const VIA_CALLER));
    let flaky = Flaky::new(1);
    let reply: Result<u32, Error> = caller.call(backend, || Ok(flaky.attempt()?));
    assert_eq!(reply, Ok(2));
    assert_eq!(VIA_CALLER.counts(), Some((2, 1)));
    overloaded(&VIA_CALLER, 1000);
    let clock = TestClock::new().seeded(11);
    let throttled = clock.run(|| {
        (0..50)
            .filter(|_| {
                let reply: Result<u32, Error> =
                    caller.call(backend, || Ok(Flaky::never().attempt()?));
                matches!(reply, Err(Error::Throttled(_)))
            })
            .count()
    });
    assert!(throttled > 30, "rejected {throttled} of 50");
    assert_eq!(
        hook_calls("throttle::caller")
            .iter()
            .filter(|c| *c == "throttled:rejected")
            .count(),
        throttled
    );
}

static ASYNC: Throttle = Throttle::adaptive();

#[retry(on = backend, attempts = 3, wait_initial = 0, wait_jitter = 0, throttle = ASYNC, name = "throttle::async_fn")]
async fn async_fn(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[tokio::test]
async fn async_fns_and_callers_are_throttled_too() {
    assert_eq!(async_fn(&Flaky::new(1)).await, Ok(2));
    assert_eq!(ASYNC.counts(), Some((2, 1)));
    let caller = instant().name("throttle::async_caller").throttle(&ASYNC);
    let flaky = Flaky::never();
    let reply: Result<u32, Error> = caller
        .call_async(backend, || async { Ok(flaky.attempt()?) })
        .await;
    assert_eq!(reply, Ok(1));
    assert_eq!(ASYNC.counts(), Some((3, 2)));
    overloaded(&ASYNC, 1000);
    let clock = TestClock::new().seeded(5);
    let rejected = clock
        .scope(async {
            let mut rejected = 0;
            for _ in 0..50 {
                if let Err(Error::Throttled(_)) = async_fn(&Flaky::never()).await {
                    rejected += 1;
                }
            }
            rejected
        })
        .await;
    assert!(rejected > 30, "rejected {rejected} of 50");
}

static HEDGED: Throttle = Throttle::adaptive();

#[retry(on = backend, attempts = 2, wait_initial = 0, wait_jitter = 0, hedge = 50ms, throttle = HEDGED, name = "throttle::hedged")]
async fn hedged(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[tokio::test]
async fn a_hedged_fn_asks_its_throttle_once_per_call() {
    assert_eq!(hedged(&Flaky::never()).await, Ok(1));
    assert_eq!(HEDGED.counts(), Some((1, 1)));
    overloaded(&HEDGED, 1000);
    let clock = TestClock::new().seeded(6);
    let rejected = clock
        .scope(async {
            let mut rejected = 0;
            for _ in 0..50 {
                let flaky = Flaky::never();
                if let Err(Error::Throttled(_)) = hedged(&flaky).await {
                    assert_eq!(flaky.calls(), 0, "nothing sent");
                    rejected += 1;
                }
            }
            rejected
        })
        .await;
    assert!(rejected > 30, "rejected {rejected} of 50");
}

#[retry(on = backend, attempts = 2, wait_initial = 0, wait_jitter = 0, throttle = adaptive(min_requests = 5, rejections = Throttling), name = "throttle::throttling_only")]
fn throttling_only(flaky: &Flaky) -> Result<u32, Error> {
    Ok(flaky.attempt()?)
}

#[test]
fn rejections_throttling_counts_other_failures_as_answers() {
    // Every call fails twice with a retried error that is not a throttling one: with
    // `rejections = Throttling` the dependency answered each, and nothing is ever rejected.
    let clock = TestClock::new().seeded(12);
    clock.run(|| {
        for _ in 0..100 {
            let flaky = Flaky::always();
            assert!(matches!(throttling_only(&flaky), Err(Error::Backend(_))));
            assert_eq!(flaky.calls(), 2);
        }
    });
}
