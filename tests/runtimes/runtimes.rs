//! The same retrying `async fn` and `call_async` on every executor: tokio (current-thread and
//! multi-thread), smol, and `futures::executor::block_on`, with real (short) waits on the
//! default sleeper, and on each sleeper by name.
//!
//! The default sleeper picks tokio's timer inside a tokio runtime and another timer compiled in
//! elsewhere (here async-io's): no executor panics with "no reactor running".

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use stamina::sleeper::{AsyncIoSleeper, FuturesTimerSleeper, TokioSleeper};
use stamina::{RetryingCaller, Sleeper, retry};
use stamina_tests::Failure;

/// Two failures, then success: two real waits of 2 ms and 4 ms.
const WAITS: Duration = Duration::from_millis(6);

fn flaky(calls: &AtomicU32) -> Result<u32, Failure> {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= 2 { Err(Failure::new(n)) } else { Ok(n) }
}

#[retry(on = Failure, wait_initial = 2ms, wait_jitter = 0)]
async fn attribute(calls: &AtomicU32) -> Result<u32, Failure> {
    std::future::ready(()).await;
    flaky(calls)
}

fn caller() -> RetryingCaller {
    RetryingCaller::new()
        .wait_initial(Duration::from_millis(2))
        .wait_jitter(Duration::ZERO)
}

async fn through_the_caller<S: Sleeper>(
    caller: &RetryingCaller<S>,
    calls: &AtomicU32,
) -> Result<u32, Failure> {
    caller
        .call_async(|_: &Failure| true, || async { flaky(calls) })
        .await
}

/// Runs both doors on `block_on` and checks that each retried twice, sleeping the waits.
fn both_doors(block_on: impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>)) {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    block_on(Box::pin(async {
        assert_eq!(attribute(&calls).await, Ok(3));
    }));
    assert!(start.elapsed() >= WAITS, "{:?}", start.elapsed());

    let calls = AtomicU32::new(0);
    let start = Instant::now();
    block_on(Box::pin(async {
        assert_eq!(through_the_caller(&caller(), &calls).await, Ok(3));
    }));
    assert!(start.elapsed() >= WAITS, "{:?}", start.elapsed());
}

#[test]
fn tokio_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    both_doors(|f| rt.block_on(f));
}

#[test]
fn tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    both_doors(|f| rt.block_on(f));
    // And spawned onto its workers.
    rt.block_on(async {
        let task = tokio::spawn(async {
            let calls = AtomicU32::new(0);
            attribute(&calls).await
        });
        assert_eq!(task.await.unwrap(), Ok(3));
    });
}

#[test]
fn smol() {
    both_doors(|f| smol::block_on(f));
}

#[test]
fn futures_block_on() {
    both_doors(|f| futures::executor::block_on(f));
}

#[test]
fn each_sleeper_on_its_executor() {
    let calls = AtomicU32::new(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(through_the_caller(&caller().sleeper(TokioSleeper), &calls)),
        Ok(3)
    );

    let calls = AtomicU32::new(0);
    assert_eq!(
        smol::block_on(through_the_caller(
            &caller().sleeper(AsyncIoSleeper),
            &calls
        )),
        Ok(3)
    );

    let calls = AtomicU32::new(0);
    let result = futures::executor::block_on(through_the_caller(
        &caller().sleeper(FuturesTimerSleeper),
        &calls,
    ));
    assert_eq!(result, Ok(3));
}

#[retry(on = Failure, wait_initial = 2ms, wait_jitter = 0, sleeper = |wait| futures_timer::Delay::new(wait))]
async fn with_a_closure_sleeper(calls: &AtomicU32) -> Result<u32, Failure> {
    flaky(calls)
}

#[test]
fn a_sleeper_of_ones_own_per_fn_and_per_caller() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(
        futures::executor::block_on(with_a_closure_sleeper(&calls)),
        Ok(3)
    );
    assert!(start.elapsed() >= WAITS);

    // A sleeper that counts its waits, on a caller and on its explicit loop.
    let slept = std::sync::Arc::new(AtomicU32::new(0));
    let counting = {
        let slept = std::sync::Arc::clone(&slept);
        move |wait: Duration| {
            slept.fetch_add(1, Ordering::Relaxed);
            futures_timer::Delay::new(wait)
        }
    };
    let caller = caller().sleeper(counting);
    let calls = AtomicU32::new(0);
    assert_eq!(
        futures::executor::block_on(through_the_caller(&caller, &calls)),
        Ok(3)
    );
    assert_eq!(slept.load(Ordering::Relaxed), 2);
    let mut retry = caller.context(|_: &Failure| true);
    futures::executor::block_on(async {
        retry.attempt();
        retry.backoff_async(Failure::new(1)).await.unwrap();
    });
    assert_eq!(slept.load(Ordering::Relaxed), 3);
}

// Regression: a sleeper closure whose future outputs something (`smol::Timer::after` gives the
// `Instant` it fired at) got the same error three times; its output is now dropped.
#[stamina::retry(on = Failure, attempts = 2, wait_initial = 1ms, wait_jitter = 0, sleeper = |wait| smol::Timer::after(wait))]
async fn on_smols_timer(flaky: &stamina_tests::Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_sleeper_whose_future_outputs_a_value_works() {
    let flaky = stamina_tests::Flaky::new(1);
    assert_eq!(smol::block_on(on_smols_timer(&flaky)), Ok(2));
}

// Regression: a retrying `async fn` driven by another executor's `block_on` inside a
// current-thread tokio runtime hung at its first wait, forever: tokio's timer, which the
// default sleeper picked, is driven by the thread that `block_on` blocks. The wait now also
// ends on futures-timer's helper thread (late: at most twice the wait, plus 10 ms).
#[test]
fn another_executor_inside_a_current_thread_runtime_does_not_hang() {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let outcome = runtime.block_on(async { futures::executor::block_on(attribute(&calls)) });
        let _ = done.send(outcome);
    });
    let outcome = result
        .recv_timeout(Duration::from_secs(20))
        .expect("the retry hung at its first wait");
    assert_eq!(outcome, Ok(3));
}
