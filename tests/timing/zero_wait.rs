//! A zero wait yields to the executor once: testing mode and `Decision::RetryAfter(ZERO)` let
//! other tasks on the same thread run between attempts, as stamina's `asyncio.sleep(0)` does.
//!
//! Each test retries an operation that succeeds only once another task on the same
//! current-thread runtime has run: without the yield, every attempt fails.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stamina::{Decision, RetryingCaller};
use stamina_tests::Failure;

fn ready(flag: &AtomicBool, attempt: u32) -> Result<u32, Failure> {
    if flag.load(Ordering::Relaxed) {
        Ok(attempt)
    } else {
        Err(Failure::new(attempt))
    }
}

/// Spawns the task that the operation waits for, on this thread.
fn other_task() -> Rc<AtomicBool> {
    let flag = Rc::new(AtomicBool::new(false));
    let set = Rc::clone(&flag);
    tokio::task::spawn_local(async move { set.store(true, Ordering::Relaxed) });
    flag
}

async fn on_one_thread<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::LocalSet::new().run_until(f).await
}

#[stamina::retry(on = Failure, attempts = 5)]
async fn waits_for_the_other_task(flag: &AtomicBool, calls: &mut u32) -> Result<u32, Failure> {
    *calls += 1;
    ready(flag, *calls)
}

#[tokio::test]
async fn testing_mode_yields_between_attempts_of_an_async_fn() {
    let _instant = stamina::testing::set_testing(true, 5, false);
    on_one_thread(async {
        let flag = other_task();
        let mut calls = 0;
        assert_eq!(waits_for_the_other_task(&flag, &mut calls).await, Ok(2));
    })
    .await;
}

#[stamina::retry(on = |_: &Failure| Decision::RetryAfter(Duration::ZERO), attempts = 5)]
async fn retries_at_once(flag: &AtomicBool, calls: &mut u32) -> Result<u32, Failure> {
    *calls += 1;
    ready(flag, *calls)
}

#[tokio::test]
async fn a_zero_retry_after_yields_too() {
    on_one_thread(async {
        let flag = other_task();
        let mut calls = 0;
        assert_eq!(retries_at_once(&flag, &mut calls).await, Ok(2));
    })
    .await;
}

#[tokio::test]
async fn call_async_yields_between_attempts() {
    let _instant = stamina::testing::set_testing(true, 5, false);
    on_one_thread(async {
        let flag = other_task();
        let calls = std::cell::Cell::new(0);
        let result = RetryingCaller::new()
            .call_async(
                |_: &Failure| true,
                || async {
                    calls.set(calls.get() + 1);
                    ready(&flag, calls.get())
                },
            )
            .await;
        assert_eq!(result, Ok(2));
    })
    .await;
}

#[tokio::test]
async fn the_async_explicit_loop_yields_between_attempts() {
    let _instant = stamina::testing::set_testing(true, 5, false);
    on_one_thread(async {
        let flag = other_task();
        let caller = RetryingCaller::new();
        let mut retry = caller.context(|_: &Failure| true);
        let result = loop {
            let attempt = retry.attempt();
            match ready(&flag, attempt.num) {
                Ok(n) => break Ok(n),
                Err(e) => {
                    if let Err(e) = retry.backoff_async(e).await {
                        break Err(e);
                    }
                }
            }
        };
        assert_eq!(result, Ok(2));
    })
    .await;
}
