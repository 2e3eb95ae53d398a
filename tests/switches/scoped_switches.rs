//! The scoped switches: the thread guards (`stamina::testing::set_testing`, `set_active`,
//! `Switches::set_for_thread`, `Switches::run`) and the task scope (`Switches::scope`), with
//! `Switches`' values (`new`, `current`, `global`, `active`, `testing`).
//!
//! Guards nest and restore (even on a panic); a scoped future carries its switches only while
//! it is polled; the switches reach every door started inside them (`#[retry]` fns, the caller,
//! the explicit loop); and two threads, two futures on one thread and two tasks on a
//! multi-thread runtime each see their own state. What testing mode and inactive *do* is
//! `testing_mode.rs` and `inactive.rs`. No test here touches the process-wide switches (that is
//! `process_switches.rs`).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use stamina::testing::{Testing, set_active, set_testing};
use stamina::{RetryingCaller, Switches, is_active, is_testing, retry};
use stamina_tests::{Failure, Flaky, calls_of, explicit_loop, ms};

#[retry(on = Failure, attempts = 5, wait_initial = 0.2, wait_jitter = 0)]
fn five(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 2, wait_initial = 0.2, wait_jitter = 0)]
fn two(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 2, wait_initial = 30, wait_jitter = 0)]
async fn fetch(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

// ---------------------------------------------------------------------------------------------
// Values, guards and `Switches::run`
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
fn guards_nest_and_restore_for_attribute_fns() {
    {
        let _outer = set_testing(true, 3, false);
        {
            let _inner = set_testing(true, 5, true);
            assert_eq!(calls_of(five), 5);
            assert_eq!(calls_of(two), 2);
        }
        assert_eq!(calls_of(five), 3);
    }
    assert!(!stamina::is_testing());
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
fn switches_run_applies_to_a_loop_started_inside_it() {
    // `Switches::run` with testing mode: zero waits even for a 1-hour initial wait.
    let caller = RetryingCaller::new().wait_initial(Duration::from_secs(3600));
    let calls = Switches::new().testing(true, 4, false).run(|| {
        let flaky = Flaky::always();
        let _ = explicit_loop(&caller, &flaky);
        flaky.calls()
    });
    assert_eq!(calls, 4);
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

// ---------------------------------------------------------------------------------------------
// Async code: the task scope, and a thread guard in a current-thread test
// ---------------------------------------------------------------------------------------------

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

#[tokio::test(start_paused = true)]
async fn a_thread_guard_covers_a_current_thread_test() {
    let start = tokio::time::Instant::now();
    let _testing = set_testing(true, 4, false);
    let flaky = Flaky::always();
    assert!(fetch(&flaky).await.is_err());
    assert_eq!(flaky.calls(), 4);
    assert_eq!(start.elapsed(), Duration::ZERO);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_task_keeps_its_switches_across_threads() {
    let testing = Switches::current().testing(true, 6, false);
    let inactive = Switches::current().active(false);
    let tasks = [
        tokio::spawn(testing.scope(async {
            let flaky = Flaky::always();
            let _ = fetch(&flaky).await;
            flaky.calls()
        })),
        tokio::spawn(inactive.scope(async {
            let flaky = Flaky::always();
            let _ = fetch(&flaky).await;
            flaky.calls()
        })),
    ];
    let mut calls = Vec::new();
    for task in tasks {
        calls.push(task.await.unwrap());
    }
    assert_eq!(calls, [6, 1]);
}

// Guards in any order, and guards inside a scope.

#[test]
fn guards_dropped_out_of_order_leave_nothing_behind() {
    let before = Switches::current();
    let inactive = set_active(false);
    let testing_mode = set_testing(true, 3, false);
    drop(inactive); // the older guard first
    // The newer guard still holds what it set (it was set on top of the older one).
    assert!(is_testing());
    drop(testing_mode);
    // Once every guard is gone, the thread is as it was: a pooled thread runs its next job
    // with the switches it should.
    assert_eq!(Switches::current(), before);
    assert!(is_active());
}

#[test]
fn three_guards_in_any_order() {
    let before = Switches::current();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let mut guards: Vec<Option<stamina::testing::SwitchGuard>> = vec![
            Some(set_active(false)),
            Some(set_testing(true, 2, true)),
            Some(set_active(true)),
        ];
        for i in order {
            guards[i] = None;
        }
        assert_eq!(Switches::current(), before, "order {order:?}");
    }
}

#[tokio::test]
async fn a_thread_guard_inside_a_scope_holds_across_awaits() {
    Switches::new()
        .scope(async {
            assert!(is_active());
            let _off = set_active(false);
            assert!(!is_active());
            tokio::task::yield_now().await;
            assert!(!is_active(), "the guard stopped applying after an await");
            tokio::task::yield_now().await;
            assert!(!is_active());
        })
        .await;
    assert!(is_active());
}

#[tokio::test]
async fn a_guard_dropped_inside_a_scope_ends_there() {
    Switches::new()
        .scope(async {
            {
                let _off = set_active(false);
                tokio::task::yield_now().await;
            }
            assert!(is_active());
            tokio::task::yield_now().await;
            assert!(is_active());
        })
        .await;
}
