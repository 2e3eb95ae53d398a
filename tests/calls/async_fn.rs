//! `#[retry]` on an `async fn`: the waits are tokio sleeps, the future stays `Send` whenever the
//! body's is, the error is not kept across a wait, each attempt is a fresh `async` block (so `?`
//! and `return` end the attempt), nothing is allocated, and the future is barely larger than the
//! body's own.
//!
//! Tests with real waits run on tokio's paused clock (`start_paused = true`), which makes them
//! instant and their elapsed time exact.

use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::{Switches, retry};
use stamina_tests::{Failure, Flaky, Log};
use tokio::time::Instant;

fn assert_send<T: Send>(_: &T) {}

#[retry(on = Failure, attempts = 4, wait_initial = 1, wait_exp_base = 2, wait_jitter = 0)]
async fn fetch(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn waits_on_the_tokio_timer() {
    let start = Instant::now();
    let flaky = Flaky::always();
    let error = fetch(&flaky).await.unwrap_err();
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(flaky.calls(), 4);
    // 1 + 2 + 4 s of backoff, on tokio's clock.
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[retry(on = Failure, attempts = 6, wait_initial = 0, wait_jitter = 0)]
async fn no_waits(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn zero_waits_do_not_touch_the_timer() {
    // tokio rounds every sleep up to its 1 ms tick; a zero wait must not sleep at all.
    let start = Instant::now();
    let flaky = Flaky::new(5);
    assert_eq!(no_waits(&flaky).await, Ok(6));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// A client with state that each attempt mutates, and `&mut self`.
#[derive(Debug, Default)]
struct Client {
    attempts: Vec<u32>,
}

impl Client {
    #[retry(on = Failure, attempts = 3, wait_initial = 0.5, wait_jitter = 0)]
    async fn sync_users(&mut self, flaky: &Flaky, page: &str) -> Result<usize, Failure> {
        tokio::task::yield_now().await;
        let n = flaky.attempt()?;
        self.attempts.push(n);
        Ok(page.len() + self.attempts.len())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_future_is_send_and_spawns() {
    let mut client = Client::default();
    let flaky = Flaky::new(1);
    let page = String::from("page");
    let future = client.sync_users(&flaky, &page);
    assert_send(&future);

    let task = tokio::spawn(
        Switches::current()
            .testing(true, 3, false)
            .scope(async move {
                let mut client = Client::default();
                let flaky = Flaky::new(2);
                let n = client.sync_users(&flaky, "p").await;
                (n, client.attempts, flaky.calls())
            }),
    );
    assert_eq!(task.await.unwrap(), (Ok(2), vec![3], 3));
    drop(future);
}

#[tokio::test(start_paused = true)]
async fn mut_self_and_borrowed_arguments() {
    let mut client = Client::default();
    let flaky = Flaky::new(2);
    assert_eq!(client.sync_users(&flaky, "page").await, Ok(5));
    // Only the successful attempt got past `?`.
    assert_eq!(client.attempts, [3]);
    assert_eq!(flaky.calls(), 3);
}

/// An error that is not `Send`: it never lives across an `.await`, so the future is `Send`.
#[derive(Debug)]
struct Local(#[allow(dead_code, reason = "read through `Debug` by the hooks")] Rc<str>);

#[retry(on = Local, attempts = 3, wait_initial = 0, wait_jitter = 0)]
async fn not_send_error(calls: &AtomicU32) -> Result<u32, Local> {
    tokio::task::yield_now().await;
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err(Local(Rc::from("flaky"))),
        n => Ok(n),
    }
}

#[tokio::test]
async fn a_not_send_error_keeps_the_future_send() {
    let calls = AtomicU32::new(0);
    let future = not_send_error(&calls);
    assert_send(&future);
    assert_eq!(future.await.unwrap(), 2);
}

/// State that is not `Send`, held across an `.await` in the body: the future is not `Send`,
/// and works where that is not needed.
#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0)]
async fn not_send_body(flaky: &Flaky) -> Result<usize, Failure> {
    let local = Rc::new(flaky.calls());
    tokio::task::yield_now().await;
    flaky.attempt().map(|_| Rc::strong_count(&local))
}

#[tokio::test]
async fn a_not_send_body_works_on_one_thread() {
    let flaky = Flaky::new(2);
    assert_eq!(not_send_body(&flaky).await, Ok(1));
    assert_eq!(flaky.calls(), 3);
}

/// An error that logs its drop.
#[derive(Debug)]
struct Logged(u32, Log);

impl Drop for Logged {
    fn drop(&mut self) {
        self.1.push(format!("drop error {}", self.0));
    }
}

#[retry(on = Logged, attempts = 3, wait_initial = 1, wait_jitter = 0)]
async fn logged(log: &Log, calls: &AtomicU32) -> Result<(), Logged> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    log.push(format!("attempt {n}"));
    Err(Logged(n, log.clone()))
}

#[tokio::test(start_paused = true)]
async fn the_error_is_dropped_before_the_wait() {
    let log = Log::new();
    let calls = AtomicU32::new(0);
    let error = logged(&log, &calls).await.unwrap_err();
    assert_eq!(
        log.take(),
        [
            "attempt 1",
            "drop error 1",
            "attempt 2",
            "drop error 2",
            "attempt 3"
        ]
    );
    // The last error comes back as it was.
    assert_eq!(error.0, 3);
}

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
async fn fresh_block(flaky: &Flaky, seen: &std::sync::Mutex<Vec<u32>>) -> Result<u32, Failure> {
    // A local of the body starts afresh in every attempt.
    let mut local = 0;
    local += 1;
    seen.lock().unwrap().push(local);
    if flaky.calls() == 0 {
        // `return` ends this attempt only: its error is retried.
        return Err(flaky.attempt().unwrap_err());
    }
    let n = flaky.attempt()?;
    Ok(n)
}

#[tokio::test]
async fn each_attempt_runs_the_body_afresh() {
    let flaky = Flaky::new(3);
    let seen = std::sync::Mutex::new(Vec::new());
    assert_eq!(fresh_block(&flaky, &seen).await, Ok(4));
    assert_eq!(*seen.lock().unwrap(), [1, 1, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_mid_wait_stops_it() {
    let flaky = Flaky::always();
    let result = tokio::time::timeout(Duration::from_millis(1500), fetch(&flaky)).await;
    assert!(result.is_err(), "timed out in the second wait");
    // Attempts at 0 and 1 s; the wait until 3 s was cut short and nothing ran after it.
    assert_eq!(flaky.calls(), 2);
}

// ---------------------------------------------------------------------------------------------
// No allocation
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = 4)]
fn sync_call(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 4)]
async fn async_call(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

/// Polls `future` with a no-op waker until it is ready: no runtime, one `Pending` per retry.
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // A zero wait yields: one `Pending` per retry.
    for _ in 0..1_000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a zero-wait call completes in one poll per attempt");
}

/// The heap allocations of 100 runs of `f`, after one to warm up (thread-locals, `tracing`
/// callsites, the metrics key cache). The counter counts this thread's allocations only.
fn allocations(mut f: impl FnMut()) -> u64 {
    f();
    allocation_counter::measure(|| {
        for _ in 0..100 {
            f();
        }
    })
    .count_total
}

#[test]
fn the_expansion_allocates_nothing() {
    // A call that succeeds at once, and one that retries three times (with zero waits, and the
    // default hooks reporting to nowhere).
    assert_eq!(
        allocations(|| assert!(sync_call(&Flaky::never()).is_ok())),
        0
    );
    assert_eq!(
        allocations(|| assert!(ready(async_call(&Flaky::never())).is_ok())),
        0
    );
    let _instant = stamina::testing::set_testing(true, 4, false);
    assert_eq!(
        allocations(|| assert!(sync_call(&Flaky::new(3)).is_ok())),
        0
    );
    assert_eq!(
        allocations(|| assert!(ready(async_call(&Flaky::new(3))).is_ok())),
        0
    );
    // The counter counts: a `Box` is one allocation.
    assert_eq!(allocations(|| drop(std::hint::black_box(Box::new(1)))), 100);
}

// ---------------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------------

async fn plain_small(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

#[retry(on = Failure)]
async fn retried_small(flaky: &Flaky) -> Result<u32, Failure> {
    tokio::task::yield_now().await;
    flaky.attempt()
}

async fn plain_large(flaky: &Flaky, name: &str) -> Result<u32, Failure> {
    let buffer = [flaky.calls(); 256];
    tokio::task::yield_now().await;
    flaky.attempt().map(|n| n + buffer[name.len() % 256])
}

#[retry(on = Failure)]
async fn retried_large(flaky: &Flaky, name: &str) -> Result<u32, Failure> {
    let buffer = [flaky.calls(); 256];
    tokio::task::yield_now().await;
    flaky.attempt().map(|n| n + buffer[name.len() % 256])
}

#[test]
fn the_future_is_barely_larger_than_the_body() {
    let flaky = Flaky::never();
    let sleep = std::mem::size_of::<tokio::time::Sleep>();
    let state = std::mem::size_of::<stamina::__private::RetryState<'static>>();
    for (label, plain, retried) in [
        (
            "small",
            std::mem::size_of_val(&plain_small(&flaky)),
            std::mem::size_of_val(&retried_small(&flaky)),
        ),
        (
            "large",
            std::mem::size_of_val(&plain_large(&flaky, "")),
            std::mem::size_of_val(&retried_large(&flaky, "")),
        ),
    ] {
        let larger = plain.max(sleep);
        println!(
            "{label}: body {plain} B, Sleep {sleep} B, retried {retried} B: +{} B over the larger (RetryState {state} B)",
            retried - larger
        );
        // The retried future holds the arguments, the `RetryState` and, at any time, either
        // the attempt's future (the body's, plus the references it borrows the arguments
        // through) or the `Sleep`. Anything more is a regression: the error kept across the
        // wait, a second copy of the state, the wait's own future around the `Sleep`.
        assert!(
            retried <= larger + state + 64,
            "{label}: {retried} B > {larger} B + {state} B + 64 B"
        );
    }
}
