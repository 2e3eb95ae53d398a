//! The result predicate, `on_ok`: an `Ok` value that it retries is retried as an error would
//! be, and a call that gives up on one returns that last value unchanged; on the attribute
//! (sync, async, a closure, a fn, a value), the callers and the explicit loop, under the
//! switches, the limits and the test clock; and what hooks see of a retried value.
//!
//! Hooks are routed per thread ([`Recorder::for_this_thread`]), so the tests run in parallel.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::testing::{self, TestClock};
use stamina::{Decision, OnOk, RetryPolicy, TimeoutMode, retry};
use stamina_tests::{Failure, Recorder, instant, lock};

/// A response of a scripted server: its status and the call (from 1) that got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reply {
    status: u16,
    attempt: u32,
}

/// What each call gets: a status, or an error (`0`); the last entry repeats.
#[derive(Debug)]
struct Script {
    steps: Vec<u16>,
    calls: AtomicU32,
}

impl Script {
    fn new(steps: &[u16]) -> Self {
        Script {
            steps: steps.to_vec(),
            calls: AtomicU32::new(0),
        }
    }

    fn call(&self) -> Result<Reply, Failure> {
        let attempt = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let index = (attempt as usize - 1).min(self.steps.len() - 1);
        match self.steps[index] {
            0 => Err(Failure::new(attempt)),
            status => Ok(Reply { status, attempt }),
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "a result predicate takes its value by reference"
)]
fn is_unavailable(reply: &Reply) -> bool {
    reply.status == 503
}

#[retry(on_ok = |r: &Reply| r.status == 503, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn get(script: &Script) -> Result<Reply, Failure> {
    script.call()
}

#[retry(
    on = Failure,
    on_ok = is_unavailable,
    attempts = 5,
    wait_initial = 0,
    wait_jitter = 0
)]
fn get_or_fail(script: &Script) -> Result<Reply, Failure> {
    script.call()
}

#[retry(on_ok = |r| r.status == 503, attempts = 4, wait_initial = 0, wait_jitter = 0)]
async fn get_async(script: &Script) -> Result<Reply, Failure> {
    tokio::task::yield_now().await;
    script.call()
}

#[test]
fn the_attribute_retries_values_until_one_is_accepted() {
    let script = Script::new(&[503, 503, 200]);
    assert_eq!(
        get(&script),
        Ok(Reply {
            status: 200,
            attempt: 3
        })
    );
    assert_eq!(script.calls(), 3);
}

#[test]
fn giving_up_returns_the_last_value_unchanged() {
    let script = Script::new(&[503]);
    assert_eq!(
        get(&script),
        Ok(Reply {
            status: 503,
            attempt: 5
        })
    );
    assert_eq!(script.calls(), 5);
}

#[test]
fn without_on_no_error_is_retried() {
    let script = Script::new(&[503, 0, 200]);
    let error = get(&script).unwrap_err();
    assert_eq!(error.attempt, 2);
    assert_eq!(script.calls(), 2);
}

#[test]
fn on_and_on_ok_retry_errors_and_values_alike() {
    let script = Script::new(&[0, 503, 0, 200]);
    assert_eq!(get_or_fail(&script).unwrap().attempt, 4);
    // The last failure is what comes back, whichever kind it is.
    let script = Script::new(&[503, 0]);
    assert_eq!(get_or_fail(&script).unwrap_err().attempt, 5);
    let script = Script::new(&[0, 503]);
    assert_eq!(get_or_fail(&script).unwrap().attempt, 5);
}

#[tokio::test]
async fn async_fns_retry_values_and_keep_their_future_send() {
    fn assert_send<T: Send>(_: &T) {}
    let script = Script::new(&[503, 200]);
    let future = get_async(&script);
    assert_send(&future);
    assert_eq!(future.await.unwrap().attempt, 2);
    let script = Script::new(&[503]);
    assert_eq!(get_async(&script).await.unwrap().attempt, 4);
}

/// A classifier of one's own: a value that implements `OnOk`, with its own text for hooks.
#[derive(Clone, Copy, Debug)]
struct Unavailable;

impl OnOk<Reply> for Unavailable {
    fn on_ok(&self, reply: &Reply) -> Decision {
        match reply.status {
            429 => Decision::Throttled(Some(Duration::from_millis(250))),
            503 => Decision::RetryAfter(Duration::from_secs(2)),
            _ => Decision::NoRetry,
        }
    }

    fn fmt_value(&self, reply: &Reply, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", reply.status)
    }
}

const UNAVAILABLE: Unavailable = Unavailable;

#[retry(on_ok = UNAVAILABLE, attempts = 4, timeout = None)]
fn get_hinted(script: &Script) -> Result<Reply, Failure> {
    script.call()
}

#[test]
fn a_value_predicate_gives_hints_and_its_own_text_to_hooks() {
    let recorder = Recorder::for_this_thread();
    let clock = TestClock::new();
    let script = Script::new(&[503, 429, 200]);
    let reply = clock.run(|| get_hinted(&script)).unwrap();
    assert_eq!(reply.attempt, 3);
    let waits: Vec<Duration> = clock.waits().iter().map(|w| w.wait).collect();
    assert_eq!(waits, [Duration::from_secs(2), Duration::from_millis(250)]);

    let retries = recorder.retries();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0].caused_by, "status 503");
    assert_eq!(retries[0].caused_by_text, "status 503");
    assert_eq!(
        retries[0].decision,
        Decision::RetryAfter(Duration::from_secs(2))
    );
    assert_eq!(
        retries[1].decision,
        Decision::Throttled(Some(Duration::from_millis(250)))
    );
    for retry in &retries {
        assert!(retry.is_value);
        assert!(retry.error_chain.is_empty(), "a value is no `dyn Error`");
        assert_eq!(retry.error_type, "Reply");
        assert_eq!(retry.name, "on_ok::get_hinted");
    }
}

#[test]
fn hooks_see_a_closure_predicates_value_as_its_debug() {
    let recorder = Recorder::for_this_thread();
    let script = Script::new(&[503, 200]);
    get(&script).unwrap();
    let retries = recorder.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].caused_by,
        format!(
            "{:?}",
            Reply {
                status: 503,
                attempt: 1
            }
        )
    );
    assert!(retries[0].is_value);
    assert_eq!(retries[0].decision, Decision::Retry);
}

#[test]
fn the_predicate_sees_each_value_once_and_no_error() {
    let seen = std::sync::Mutex::new(Vec::new());
    let script = Script::new(&[503, 0, 200]);
    let result = instant()
        .on_ok(|r: &Reply| {
            lock(&seen).push(r.attempt);
            r.status == 503
        })
        .call(|_: &Failure| true, || script.call());
    assert_eq!(result.unwrap().attempt, 3);
    assert_eq!(*lock(&seen), [1, 3]);
}

#[test]
fn inactive_calls_return_the_first_value() {
    let _off = testing::set_active(false);
    let script = Script::new(&[503, 200]);
    assert_eq!(get(&script).unwrap().status, 503);
    assert_eq!(script.calls(), 1);
}

#[test]
fn testing_mode_makes_value_retries_instant_and_caps_them() {
    let _testing = testing::set_testing(true, 2, false);
    let clock = TestClock::new();
    let script = Script::new(&[503]);
    assert_eq!(clock.run(|| get_hinted(&script)).unwrap().attempt, 2);
    // The 2 s hint became zero.
    assert_eq!(clock.waits()[0].wait, Duration::ZERO);
}

#[test]
fn the_deadline_mode_gives_up_at_once_on_a_hint_past_the_timeout() {
    let clock = TestClock::new();
    let caller = stamina::RetryingCaller::from_policy(
        RetryPolicy::new()
            .timeout(Duration::from_secs(1))
            .timeout_mode(TimeoutMode::Deadline),
    )
    .on_ok(UNAVAILABLE);
    let script = Script::new(&[503, 200]);
    let reply = clock.run(|| caller.call(|_: &Failure| true, || script.call()));
    // The 2 s hint would end past the 1 s timeout: the 503 comes back, unretried.
    assert_eq!(reply.unwrap().status, 503);
    assert!(clock.waits().is_empty());
}

#[test]
fn the_callers_retry_values() {
    let caller = instant().attempts(3).on_ok(is_unavailable);
    let script = Script::new(&[503, 200]);
    assert_eq!(
        caller
            .call(|_: &Failure| false, || script.call())
            .unwrap()
            .attempt,
        2
    );
    let script = Script::new(&[503]);
    let last = caller
        .call_with_attempt(
            |_: &Failure| false,
            |attempt| {
                let reply = script.call();
                assert_eq!(reply.map(|r| r.attempt), Ok(attempt.num));
                reply
            },
        )
        .unwrap();
    assert_eq!(last.attempt, 3);

    let bound = instant()
        .attempts(3)
        .on(|_: &Failure| true)
        .on_ok(is_unavailable);
    let script = Script::new(&[0, 503, 200]);
    assert_eq!(bound.call(|| script.call()).unwrap().attempt, 3);
}

#[tokio::test]
async fn the_async_callers_retry_values() {
    let caller = instant().attempts(3).on_ok(is_unavailable);
    let script = Script::new(&[503, 200]);
    let reply = caller
        .call_async(|_: &Failure| false, || async { script.call() })
        .await;
    assert_eq!(reply.unwrap().attempt, 2);
    let script = Script::new(&[503]);
    let reply = caller
        .call_async_mut(|_: &Failure| false, async || script.call())
        .await;
    assert_eq!(reply.unwrap().attempt, 3);
    let script = Script::new(&[503, 503, 200]);
    let reply = caller
        .on(|_: &Failure| false)
        .call_async_with_attempt(|_| async { script.call() })
        .await;
    assert_eq!(reply.unwrap().attempt, 3);
}

#[test]
fn a_caller_without_a_result_predicate_returns_every_value() {
    let script = Script::new(&[503, 200]);
    let reply = instant().call(|_: &Failure| true, || script.call());
    assert_eq!(reply.unwrap().status, 503);
}

#[test]
fn the_explicit_loop_retries_values() {
    let caller = instant().attempts(3).on_ok(is_unavailable);
    let script = Script::new(&[503, 0, 200]);
    let mut retry = caller.context(|_: &Failure| true);
    let reply = loop {
        retry.attempt();
        match script.call() {
            Ok(reply) => match retry.backoff_ok(reply) {
                ControlFlow::Break(reply) => break reply,
                ControlFlow::Continue(()) => {}
            },
            Err(e) => retry.backoff(e).unwrap(),
        }
    };
    assert_eq!(reply.attempt, 3);

    // `decide_ok` gives the wait to a loop that sleeps on its own, and the value on giving up.
    let policy = RetryPolicy::new()
        .attempts(2)
        .wait_initial(Duration::from_secs(1));
    let mut retry = stamina::RetryContext::new(&policy, |_: &Failure| false)
        .on_ok(|r: &Reply| (r.status == 503).then_some(Duration::from_millis(7)));
    retry.attempt();
    let first = Reply {
        status: 503,
        attempt: 1,
    };
    assert_eq!(
        retry.decide_ok(first),
        ControlFlow::Continue(Duration::from_millis(7))
    );
    retry.attempt();
    let second = Reply {
        status: 503,
        attempt: 2,
    };
    assert_eq!(retry.decide_ok(second), ControlFlow::Break(second));
    let accepted = Reply {
        status: 200,
        attempt: 3,
    };
    assert_eq!(retry.decide_ok(accepted), ControlFlow::Break(accepted));
}

#[tokio::test]
async fn the_explicit_async_loop_retries_values() {
    let caller = instant().attempts(3).on_ok(is_unavailable);
    let script = Script::new(&[503, 200]);
    let mut retry = caller.context(|_: &Failure| true);
    let reply = loop {
        retry.attempt();
        match script.call() {
            Ok(reply) => match retry.backoff_ok_async(reply).await {
                ControlFlow::Break(reply) => break reply,
                ControlFlow::Continue(()) => {}
            },
            Err(e) => retry.backoff_async(e).await.unwrap(),
        }
    };
    assert_eq!(reply.attempt, 2);
}
