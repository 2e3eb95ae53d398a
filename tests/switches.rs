//! The scoped switches: `stamina::testing::{set_testing, set_active}` (thread guards) and
//! `stamina::Switches` (`current`, `active`, `testing`, `set_for_thread`, `scope`, `run`).
//!
//! stamina's testing and inactive semantics, then isolation: guards nest and restore (even on a
//! panic), two threads at once and two tasks on a multi-thread runtime each see their own state.
//! No test here touches the process-wide switches (that is `global_switches.rs`).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use stamina::testing::{Testing, set_active, set_testing};
use stamina::{Decision, RetryingCaller, Switches, is_active, is_testing};
use stamina_tests::{Failure, Flaky, Recorder, ms};

fn on_panics(_: &Failure) -> bool {
    panic!("`on` asked while inactive")
}

// ---------------------------------------------------------------------------------------------
// Testing mode
// ---------------------------------------------------------------------------------------------

#[test]
fn testing_mode_zeroes_every_wait_and_hooks_still_fire() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 4, false);
    // Were the waits not zeroed, this would sleep 2 + 4 + 8 s and then fail.
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(2))
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::always();
    let e = caller
        .call(|_: &Failure| true, || flaky.attempt())
        .unwrap_err();
    assert_eq!((e.attempt, flaky.calls()), (4, 4));
    assert_eq!(recorder.retry_nums(), [1, 2, 3]);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 3]);
    assert!(recorder.retries().iter().all(|r| r.waited_so_far.is_zero()));
}

#[test]
fn testing_mode_zeroes_a_custom_wait_too() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new().call(
        |_: &Failure| Decision::RetryAfter(Duration::from_secs(3)),
        || flaky.attempt(),
    );
    assert_eq!(flaky.calls(), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[tokio::test]
async fn testing_mode_zeroes_async_waits() {
    let recorder = Recorder::for_this_thread();
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new()
        .wait_initial(Duration::from_secs(2))
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(flaky.calls(), 3);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO; 2]);
}

#[test]
fn testing_mode_ignores_the_timeout() {
    let _testing = set_testing(true, 3, false);
    let flaky = Flaky::always();
    let _ = RetryingCaller::new()
        .timeout(Duration::ZERO)
        .call(|_: &Failure| true, || flaky.attempt());
    assert_eq!(
        flaky.calls(),
        3,
        "a zero timeout would have allowed one attempt"
    );
}

#[test]
fn testing_mode_attempt_limits_follow_stamina() {
    // (testing attempts, cap, the call's own limit) -> attempts made.
    let cases = [
        // stamina's `_Testing.get_attempts` cases.
        (2, true, Some(1), 1),
        (2, true, Some(3), 2),
        (100, true, None, 100),
        // Without `cap`, the testing value always, even above the call's own limit.
        (4, false, Some(2), 4),
        (3, false, Some(10), 3),
        (5, false, None, 5),
        (2, false, Some(1), 2),
        // 0 behaves as 1, in both places (stamina: user 0 under `cap` means "no limit").
        (0, false, Some(5), 1),
        (2, true, Some(0), 1),
    ];
    for (testing, cap, own, expected) in cases {
        let _testing = set_testing(true, testing, cap);
        // 1 ms waits: were testing mode to keep them, this would be slow, not hang.
        let caller = RetryingCaller::new()
            .wait_initial(ms(1))
            .wait_max(ms(1))
            .wait_jitter(Duration::ZERO);
        let caller = match own {
            Some(n) => caller.attempts(n),
            None => caller.no_attempt_limit(),
        };
        let flaky = Flaky::always();
        let e = caller
            .call(|_: &Failure| true, || flaky.attempt())
            .unwrap_err();
        let case = format!("testing {testing}, cap {cap}, own {own:?}");
        assert_eq!(flaky.calls(), expected, "{case}");
        assert_eq!(Some(e), flaky.last_error(), "{case}");
        assert_eq!(
            Testing {
                attempts: testing,
                cap
            }
            .attempt_limit(own),
            expected,
            "{case}"
        );
    }
}

#[test]
fn testing_mode_still_honours_on() {
    let _testing = set_testing(true, 5, false);
    let flaky = Flaky::always();
    let e = RetryingCaller::new()
        .call(|_: &Failure| false, || flaky.attempt())
        .unwrap_err();
    assert_eq!((e.attempt, flaky.calls()), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// Inactive
// ---------------------------------------------------------------------------------------------

#[test]
fn inactive_runs_once_ignores_on_and_fires_no_hooks() {
    let recorder = Recorder::for_this_thread();
    let _inactive = set_active(false);
    assert!(!is_active());
    let caller = RetryingCaller::new().attempts(10);

    let flaky = Flaky::always();
    let e = caller.call(on_panics, || flaky.attempt()).unwrap_err();
    assert_eq!((Some(e), flaky.calls()), (flaky.last_error(), 1));

    let flaky = Flaky::never();
    assert_eq!(caller.call(on_panics, || flaky.attempt()), Ok(1));
    assert_eq!(flaky.calls(), 1, "a success is not run twice (stamina #53)");

    let flaky = Flaky::always();
    let mut retry = caller.context(on_panics);
    retry.attempt();
    let e = flaky.attempt().unwrap_err();
    assert_eq!(retry.backoff(e), Err(e));

    assert_eq!(recorder.count(), 0);
}

#[tokio::test]
async fn inactive_runs_async_calls_once() {
    let recorder = Recorder::for_this_thread();
    let _inactive = set_active(false);
    let caller = RetryingCaller::new();
    let flaky = Flaky::always();
    let _ = caller
        .call_async(on_panics, || async { flaky.attempt() })
        .await;
    let _ = caller
        .call_async_mut(on_panics, async || flaky.attempt())
        .await;
    assert_eq!(flaky.calls(), 2);
    assert_eq!(recorder.count(), 0);
}

#[test]
fn inactive_beats_testing() {
    let recorder = Recorder::for_this_thread();
    for inactive_first in [true, false] {
        let (_a, _b) = if inactive_first {
            (set_active(false), set_testing(true, 5, false))
        } else {
            (set_testing(true, 5, false), set_active(false))
        };
        assert!(!is_active() && is_testing());
        let flaky = Flaky::always();
        let _ = RetryingCaller::new().call(on_panics, || flaky.attempt());
        assert_eq!(flaky.calls(), 1, "inactive first: {inactive_first}");
    }
    assert_eq!(recorder.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Guards and `Switches`
// ---------------------------------------------------------------------------------------------

#[test]
fn switches_values() {
    assert_eq!(Switches::new(), Switches::default());
    assert!(Switches::new().is_active());
    assert_eq!(Switches::new().testing_mode(), None);
    let s = Switches::new().active(false).testing(true, 3, true);
    assert!(!s.is_active());
    assert_eq!(
        s.testing_mode(),
        Some(Testing {
            attempts: 3,
            cap: true
        })
    );
    assert_eq!(s.testing(false, 9, true).testing_mode(), None);
    // No override on a fresh test thread: the current state is the (untouched) global one.
    assert_eq!(Switches::current(), Switches::global());
    assert_eq!(Switches::current(), Switches::new());
}

#[test]
fn guards_nest_and_restore_on_drop() {
    let base = Switches::current();
    {
        let _outer = set_testing(true, 3, false);
        assert_eq!(Switches::current(), base.testing(true, 3, false));
        {
            let _inner = set_testing(true, 5, true);
            assert_eq!(
                Switches::current().testing_mode(),
                Some(Testing {
                    attempts: 5,
                    cap: true
                })
            );
            {
                let _off = set_active(false);
                assert!(!is_active());
                // `set_active` keeps the testing mode in force.
                assert_eq!(
                    Switches::current(),
                    base.testing(true, 5, true).active(false)
                );
            }
            assert!(is_active());
        }
        assert_eq!(Switches::current(), base.testing(true, 3, false));
        {
            let _not_testing = set_testing(false, 1, false);
            assert!(!is_testing());
        }
        assert!(is_testing());
    }
    assert_eq!(Switches::current(), base);
    assert!(!is_testing() && is_active());
}

#[test]
fn set_for_thread_and_run() {
    let state = Switches::new().testing(true, 7, false).active(false);
    {
        let _guard = state.set_for_thread();
        assert_eq!(Switches::current(), state);
    }
    assert_eq!(Switches::current(), Switches::new());
    let seen = state.run(Switches::current);
    assert_eq!(seen, state);
    assert_eq!(Switches::current(), Switches::new());
}

#[test]
fn guards_restore_when_the_body_panics() {
    let base = Switches::current();
    let result = catch_unwind(|| {
        let _testing = set_testing(true, 3, false);
        let _inactive = set_active(false);
        assert!(!is_active());
        panic!("test body fails");
    });
    assert!(result.is_err());
    assert_eq!(Switches::current(), base);

    let result = catch_unwind(|| {
        Switches::new()
            .testing(true, 2, false)
            .run(|| panic!("test body fails"));
    });
    assert!(result.is_err());
    assert_eq!(Switches::current(), base);
}

#[test]
fn scoped_future_restores_the_thread_when_it_panics() {
    let mut fut = pin!(Switches::new().active(false).scope(async {
        assert!(!is_active());
        panic!("task fails");
    }));
    let mut cx = Context::from_waker(Waker::noop());
    let result = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
    assert!(result.is_err());
    assert!(is_active());
}

#[test]
fn scoped_future_applies_only_while_it_is_polled() {
    let polls = AtomicU32::new(0);
    let mut fut = pin!(Switches::new().testing(true, 2, false).scope(async {
        for _ in 0..3 {
            assert!(is_testing(), "inside the scope");
            polls.fetch_add(1, Ordering::SeqCst);
            YieldOnce(false).await;
        }
        "done"
    }));
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let poll = fut.as_mut().poll(&mut cx);
        assert!(!is_testing(), "between polls");
        if let Poll::Ready(v) = poll {
            assert_eq!(v, "done");
            break;
        }
    }
    assert_eq!(polls.load(Ordering::SeqCst), 3);
}

/// Pending once, then ready: a yield point without a runtime.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[tokio::test]
async fn interleaved_futures_on_one_thread_each_see_their_own() {
    // Two futures polled in turn on the same thread by `join!`: only the scoped one is testing.
    let scoped = Switches::current()
        .testing(true, 2, false)
        .scope(observe(true));
    let (a, b) = tokio::join!(scoped, observe(false));
    assert_eq!((a, b), (2, 5));
}

/// Checks `is_testing()` across yields, then runs a retrying call and returns its attempts.
async fn observe(testing: bool) -> u32 {
    let caller = RetryingCaller::new().attempts(5);
    let flaky = Flaky::always();
    for _ in 0..10 {
        assert_eq!(is_testing(), testing);
        tokio::task::yield_now().await;
    }
    let _ = caller
        .call_async(
            |_: &Failure| Duration::ZERO,
            || async {
                tokio::task::yield_now().await;
                assert_eq!(is_testing(), testing);
                flaky.attempt()
            },
        )
        .await;
    flaky.calls()
}

// ---------------------------------------------------------------------------------------------
// Isolation across threads and tasks
// ---------------------------------------------------------------------------------------------

/// What one thread or task observed in one round.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    testing: bool,
    calls: u32,
    next_wait: Duration,
    decided: Duration,
}

/// One round of observations with `caller` (5 attempts, 1 h initial wait capped at 5 s). The
/// call's predicate asks for zero waits, so nothing here sleeps in either mode.
fn observe_round(caller: &RetryingCaller) -> Observed {
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| Duration::ZERO, || flaky.attempt());
    let mut retry = caller.context(|_: &Failure| true);
    let next_wait = retry.attempt().next_wait;
    // No panics in here: a thread that panics would leave the other stuck at the barrier.
    let decided = retry.decide(Failure::new(1)).unwrap_or(Duration::MAX);
    Observed {
        testing: is_testing(),
        calls: flaky.calls(),
        next_wait,
        decided,
    }
}

const TESTING_SEES: Observed = Observed {
    testing: true,
    calls: 2,
    next_wait: Duration::ZERO,
    decided: Duration::ZERO,
};

const NORMAL_SEES: Observed = Observed {
    testing: false,
    calls: 5,
    next_wait: Duration::from_secs(5),
    decided: Duration::from_secs(5),
};

fn isolation_caller() -> RetryingCaller {
    RetryingCaller::new()
        .attempts(5)
        .wait_initial(Duration::from_secs(3600))
        .wait_jitter(Duration::ZERO)
}

#[test]
fn two_threads_at_once_each_see_their_own_switches() {
    const ROUNDS: usize = 20;
    let barrier = Barrier::new(2);
    let caller = isolation_caller();
    let (testing, normal) = std::thread::scope(|s| {
        let testing = s.spawn(|| {
            let _testing = set_testing(true, 2, false);
            let mut seen = Vec::new();
            for _ in 0..ROUNDS {
                // Both threads are past their setup and run this round together.
                barrier.wait();
                seen.push(observe_round(&caller));
            }
            // The other thread's last round ran while this guard was alive.
            barrier.wait();
            seen
        });
        let normal = s.spawn(|| {
            let mut seen = Vec::new();
            for _ in 0..ROUNDS {
                barrier.wait();
                seen.push(observe_round(&caller));
            }
            barrier.wait();
            seen
        });
        (testing.join().unwrap(), normal.join().unwrap())
    });
    assert_eq!(testing.len(), ROUNDS);
    assert!(testing.iter().all(|o| *o == TESTING_SEES), "{testing:?}");
    assert_eq!(normal.len(), ROUNDS);
    assert!(normal.iter().all(|o| *o == NORMAL_SEES), "{normal:?}");
}

const TASK_ROUNDS: usize = 20;

/// One task of `two_tasks_at_once_each_see_their_own_switches`: in step with the other task
/// through `barrier`, it records what it sees across yields, calls and waits. It never panics,
/// which would leave the other task stuck at the barrier: it returns what went wrong instead.
async fn task(barrier: Arc<tokio::sync::Barrier>, testing: bool) -> Vec<String> {
    let caller = isolation_caller();
    let expected = if testing { TESTING_SEES } else { NORMAL_SEES };
    let wrong = std::sync::Mutex::new(Vec::new());
    let check = |what: String, ok: bool| {
        if !ok {
            stamina_tests::lock(&wrong).push(what);
        }
    };
    for round in 0..TASK_ROUNDS {
        barrier.wait().await;
        for step in 0..5 {
            check(
                format!("round {round}, step {step}"),
                is_testing() == testing,
            );
            // A yield may resume the task on the other worker.
            tokio::task::yield_now().await;
        }
        let observed = observe_round(&caller);
        check(format!("round {round}: {observed:?}"), observed == expected);

        // An async call whose attempts and waits straddle await points: 1 ms waits that
        // testing mode zeroes.
        let flaky = Flaky::always();
        let _ = caller
            .call_async(
                |_: &Failure| ms(1),
                || async {
                    tokio::task::yield_now().await;
                    check(
                        format!("round {round}, in an attempt"),
                        is_testing() == testing,
                    );
                    flaky.attempt()
                },
            )
            .await;
        check(
            format!("round {round}: {} calls", flaky.calls()),
            flaky.calls() == expected.calls,
        );
    }
    barrier.wait().await;
    wrong
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_at_once_each_see_their_own_switches() {
    let barrier = Arc::new(tokio::sync::Barrier::new(2));

    let scoped = tokio::spawn(
        Switches::current()
            .testing(true, 2, false)
            .scope(task(Arc::clone(&barrier), true)),
    );
    let plain = tokio::spawn(task(Arc::clone(&barrier), false));
    let (scoped, plain) = (scoped.await.unwrap(), plain.await.unwrap());
    assert!(scoped.is_empty(), "the scoped task saw: {scoped:#?}");
    assert!(plain.is_empty(), "the plain task saw: {plain:#?}");
    // The workers are left as they were: nothing leaked out of the scoped task.
    let after = tokio::spawn(async { is_testing() }).await.unwrap();
    assert!(!after);
}
