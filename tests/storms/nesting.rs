//! The nested-retry guard (stamina issue #19): a retrying call inside another retrying call's
//! attempt retries as usual by default (stamina's behaviour: attempts multiply), or, under
//! `Nesting::Once`, makes one attempt and leaves the retrying to the outer call. The outer call
//! tells its attempts apart from its second on, so under `Once` the inner call makes at most
//! `inner + outer - 1` attempts in all (the first outer attempt's inner call retries in full).
//!
//! Sync fns, `async fn`s on tokio (both runtimes) and `futures::executor`, the callers and the
//! explicit loop. One hook for the binary records the hook calls by name; each test has its own
//! names, and the switches it sets are scoped to its thread or task, so tests run in parallel.

use stamina::{Nesting, Switches, retry};
use stamina_tests::{Failure, Flaky, hook_calls, instant, record_hook_calls};

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "nesting::inner")]
fn inner(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, nested = Once, name = "nesting::inner_once")]
fn inner_once(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

/// `inner_once`, under a name that one test alone uses.
#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, nested = Once, name = "nesting::reported")]
fn reported(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, nested = Retry, name = "nesting::inner_retry")]
fn inner_retry(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

/// Three attempts, each calling `attempt` (which fails), then failing itself.
fn outer(name: &'static str, attempt: impl Fn()) -> u32 {
    let outer = Flaky::always();
    let _ = instant().attempts(3).name(name).call(
        |_: &Failure| true,
        || {
            attempt();
            outer.attempt()
        },
    );
    outer.calls()
}

#[test]
fn by_default_nested_calls_retry_and_attempts_multiply() {
    record_hook_calls();
    let dead = Flaky::always();
    assert_eq!(
        outer("nesting::outer_default", || {
            let _ = inner(&dead);
        }),
        3
    );
    assert_eq!(dead.calls(), 3 * 3, "stamina's behaviour");
}

#[test]
fn nested_once_makes_one_attempt_inside_an_outer_retry() {
    record_hook_calls();
    let dead = Flaky::always();
    assert_eq!(
        outer("nesting::outer_once", || {
            let _ = reported(&dead);
        }),
        3
    );
    assert_eq!(dead.calls(), 3 + 1 + 1, "inner + outer - 1");
    assert_eq!(
        hook_calls("nesting::reported"),
        ["retry 1", "retry 2", "denied:nested 1", "denied:nested 1"],
        "the suppressed retries are reported"
    );
    // Alone, the same fn retries in full, and the error it returns is its last one.
    let dead = Flaky::always();
    assert_eq!(reported(&dead).err(), dead.last_error());
    assert_eq!(dead.calls(), 3);
}

#[test]
fn the_switch_sets_the_policy_of_fns_that_name_none() {
    record_hook_calls();
    let _once = Switches::current().nested(Nesting::Once).set_for_thread();
    let dead = Flaky::always();
    outer("nesting::outer_switch", || {
        let _ = inner(&dead);
    });
    assert_eq!(dead.calls(), 5, "the switch applies");
    let dead = Flaky::always();
    outer("nesting::outer_switch", || {
        let _ = inner_retry(&dead);
    });
    assert_eq!(dead.calls(), 9, "`nested = Retry` overrides it");
    // A caller's own setting, likewise.
    let dead = Flaky::always();
    outer("nesting::outer_switch", || {
        let _ = instant()
            .attempts(3)
            .nested(Nesting::Retry)
            .call(|_: &Failure| true, || dead.attempt());
    });
    assert_eq!(dead.calls(), 9);
}

#[test]
fn a_panicking_attempt_does_not_leave_its_thread_nested() {
    record_hook_calls();
    let outer = Flaky::new(1);
    let result = std::panic::catch_unwind(|| {
        instant().attempts(3).call(
            |_: &Failure| true,
            || {
                assert_ne!(outer.calls(), 1, "a panic in the second attempt");
                outer.attempt()
            },
        )
    });
    assert!(result.is_err());
    let dead = Flaky::always();
    let _ = inner_once(&dead);
    assert_eq!(dead.calls(), 3, "not nested after the panic");
}

#[test]
fn the_explicit_loop_publishes_its_attempts_too() {
    record_hook_calls();
    let dead = Flaky::always();
    let outer = Flaky::always();
    let caller = instant().attempts(3);
    let mut retry = caller.context(|_: &Failure| true);
    let result: Result<u32, Failure> = loop {
        let _attempt = retry.attempt();
        let _ = inner_once(&dead);
        match outer.attempt() {
            Ok(v) => break Ok(v),
            Err(e) => {
                if let Err(e) = retry.backoff(e) {
                    break Err(e);
                }
            }
        }
    };
    assert_eq!(result.err(), outer.last_error());
    assert_eq!(outer.calls(), 3);
    assert_eq!(dead.calls(), 5);
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, nested = Once, name = "nesting::async_inner")]
async fn async_inner(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "nesting::async_outer")]
async fn async_outer(dead: &Flaky, outer: &Flaky) -> Result<u32, Failure> {
    let _ = async_inner(dead).await;
    // A sync retrying call inside an async attempt is nested as well.
    let _ = inner_once(dead);
    outer.attempt()
}

async fn async_case() {
    let (dead, outer) = (Flaky::always(), Flaky::always());
    assert!(async_outer(&dead, &outer).await.is_err());
    assert_eq!(outer.calls(), 3);
    // Outer attempt 1: 3 + 3; attempts 2 and 3: 1 + 1 each.
    assert_eq!(dead.calls(), 6 + 2 + 2);
    // Through `call_async` too.
    let (dead, outer) = (Flaky::always(), Flaky::always());
    let _ = instant()
        .attempts(3)
        .call_async(
            |_: &Failure| true,
            || async {
                let _ = async_inner(&dead).await;
                outer.attempt()
            },
        )
        .await;
    assert_eq!(dead.calls(), 3 + 1 + 1);
}

#[tokio::test]
async fn async_fns_on_a_current_thread_runtime() {
    record_hook_calls();
    async_case().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fns_on_a_multi_thread_runtime() {
    record_hook_calls();
    // Spawned, so that the attempts move between worker threads at each yield.
    tokio::spawn(async_case()).await.unwrap();
}

#[test]
fn async_fns_on_futures_executor() {
    record_hook_calls();
    // `yield_now` is tokio's, but it only wakes the task: any executor runs it.
    futures::executor::block_on(async_case());
}

#[test]
fn a_retrying_iterator_nests_what_runs_inside_it_and_not_what_runs_between_its_items() {
    record_hook_calls();
    let caller = instant().attempts(3);
    let dead = Flaky::always();
    let mut made = 0;
    let rows = caller.iter(
        |_: &Failure| true,
        || {
            made += 1;
            // Inside the iterator's second making: nested.
            let _ = reported_in_iter(&dead);
            let first = made == 1;
            (0..2).map(move |i| {
                if first && i == 1 {
                    Err(Failure::new(0))
                } else {
                    Ok(i)
                }
            })
        },
    );
    let mut between = Vec::new();
    for row in rows {
        let _ = row;
        // The consumer's own retrying call, between items: not nested, retries in full.
        let alone = Flaky::always();
        let _ = inner_once(&alone);
        between.push(alone.calls());
    }
    assert!(between.iter().all(|&calls| calls == 3), "{between:?}");
    assert_eq!(
        dead.calls(),
        3 + 1,
        "in full, then once inside the second making"
    );
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, nested = Once, name = "nesting::reported_in_iter")]
fn reported_in_iter(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

// Regression: a `RetryContext` is `Send`; one that published its attempts on a worker thread
// (after a sync `backoff`) and was then dropped on another thread left the worker nested for
// good (its `nested = Once` calls made 1 attempt instead of 3), and lowered the other thread's
// depth, which could un-nest a real outer call there.
#[test]
fn a_loop_dropped_on_another_thread_leaves_both_threads_as_they_were() {
    let caller = instant().attempts(5);
    let (to_main, from_worker) = std::sync::mpsc::channel();
    let (to_worker, dropped) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let caller = &caller;
        let worker = s.spawn(move || {
            let mut retry = caller.context(|_: &Failure| true);
            retry.attempt();
            retry.backoff(Failure::new(1)).unwrap();
            to_main.send(retry).unwrap();
            dropped.recv().unwrap();
            let dead = Flaky::always();
            let _ = inner_once(&dead);
            dead.calls()
        });
        let mut context = Some(from_worker.recv().unwrap());
        let dead = Flaky::always();
        let mut outer_attempts = 0;
        let _ = instant().attempts(2).call(
            |_: &Failure| true,
            || {
                outer_attempts += 1;
                if outer_attempts == 2 {
                    // Inside the outer call's second (published) attempt.
                    drop(context.take());
                    to_worker.send(()).unwrap();
                    let _ = inner_once(&dead);
                }
                Err::<(), _>(Failure::new(outer_attempts))
            },
        );
        assert_eq!(
            dead.calls(),
            1,
            "this thread's outer attempt is still nested"
        );
        assert_eq!(
            worker.join().unwrap(),
            3,
            "the worker is not nested once the loop left it"
        );
    });
}
