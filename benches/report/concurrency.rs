//! Concurrency: many tasks retrying with small waits at once (wall time and peak heap), and the
//! same calls on two threads at once (contention on shared state).

use std::future::Future;
use std::time::{Duration, Instant};

use stamina_benches::{self as s, OpError};
use tokio::runtime::Runtime;

use crate::contender::{sync_many, sync_retry_many};
use crate::measure::median;

pub(crate) const TASKS: u64 = 10_000;

type TaskFn<Fut> = fn(u32) -> Fut;

/// `TASKS` tasks spawned at once, each failing `failures` times: the wall time until all are
/// done on `rt`.
fn run_tasks<Fut>(rt: &Runtime, failures: u32, f: TaskFn<Fut>) -> f64
where
    Fut: Future<Output = Result<u64, OpError>> + Send + 'static,
{
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(f(failures))).collect();
        for h in handles {
            assert_eq!(h.await.expect("a task"), Ok(u64::from(failures) + 1));
        }
    });
    start.elapsed().as_secs_f64()
}

fn concurrency_row<Fut>(multi: &Runtime, label: &str, f: TaskFn<Fut>)
where
    Fut: Future<Output = Result<u64, OpError>> + Send + 'static,
{
    let failures = s::SMALL_WAIT_FAILURES;
    let with = median((0..5).map(|_| run_tasks(multi, failures, f)).collect());
    let without = median((0..5).map(|_| run_tasks(multi, 0, f)).collect());
    // The heap's peak, with every task on this thread, where `allocation_counter` counts.
    let single = s::current_thread_runtime();
    let peak = allocation_counter::measure(|| {
        run_tasks(&single, failures, f);
    })
    .bytes_max as f64;
    println!(
        "| {label} | {:.1} ms | {:.1} ms | {:.1} | {:.2} MiB | {:.0} B |",
        with * 1e3,
        without * 1e3,
        with / s::SMALL_WAITS_SUM.as_secs_f64(),
        peak / (1024.0 * 1024.0),
        peak / TASKS as f64,
    );
}

pub(crate) fn concurrency() {
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");
    println!(
        "{TASKS} tasks spawned at once on a 2-worker multi-thread runtime, each failing twice \
         with waits of 1 ms then 2 ms (no jitter; one task's waits add up to {} ms). Median of \
         5. The peak heap is measured with the same tasks on a current-thread runtime.\n",
        s::SMALL_WAITS_SUM.as_millis()
    );
    println!(
        "| contender | wall time, 2 retries each | same tasks, no failure | ÷ one task's waits | peak heap | heap per task |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    concurrency_row(&multi, "backon `Retryable`", s::backon_small_waits);
    #[cfg(feature = "tryhard")]
    concurrency_row(&multi, "tryhard", s::tryhard_small_waits);
    concurrency_row(&multi, "tokio-retry2", s::tokio_retry2_small_waits);
    concurrency_row(&multi, "stamina `call_async`", s::caller_small_waits);
    concurrency_row(&multi, "stamina `#[retry] async fn`", s::attr_small_waits);
    println!();
}

/// The time per call of `f` on two threads at once over its time alone (1.0: no contention),
/// and that over the control's.
fn scaling(label: &str, f: fn(u64), control: Option<f64>) -> f64 {
    let mut n = 1_000u64;
    while {
        let start = Instant::now();
        f(n);
        start.elapsed() < Duration::from_millis(5)
    } {
        n *= 2;
    }
    let n = n * 4; // about 20 ms
    let timed = move || {
        let start = Instant::now();
        f(n);
        start.elapsed().as_secs_f64()
    };
    let ratio = median(
        (0..7)
            .map(|_| {
                let alone = std::thread::scope(|sc| sc.spawn(timed).join().expect("a thread"));
                let together = std::thread::scope(|sc| {
                    let (a, b) = (sc.spawn(timed), sc.spawn(timed));
                    f64::midpoint(a.join().expect("a thread"), b.join().expect("a thread"))
                });
                together / alone
            })
            .collect(),
    );
    println!(
        "| {label} | {ratio:.2} | {:.2} |",
        ratio / control.unwrap_or(ratio)
    );
    ratio
}

pub(crate) fn two_threads() {
    println!(
        "The same calls on one thread, then on two threads at once (2 cores): time per call on \
         two threads ÷ on one, median of 7. 1.0 means no shared state is contended, on an idle \
         machine; on a busy one the two threads also compete for the cores, so the last column \
         divides by backon's ratio (backon shares no state: the control).\n"
    );
    println!("| contender | two threads ÷ one | ÷ backon's |\n|---|--:|--:|");
    let control = Some(scaling(
        "backon `BlockingRetryable`, happy path",
        |n| sync_many(n, s::backon_happy),
        None,
    ));
    scaling(
        "stamina `call`, `no_timeout()`, happy path",
        |n| sync_many(n, s::caller_no_timeout_happy),
        control,
    );
    scaling(
        "stamina `call`, default (45 s), happy path",
        |n| sync_many(n, s::caller_happy),
        control,
    );
    scaling(
        "stamina `#[retry]`, default (45 s), happy path",
        |n| sync_many(n, s::attr_happy),
        control,
    );
    scaling(
        "stamina `call`, 3 retries (testing mode, default hooks)",
        |n| sync_retry_many(n, s::RETRY_FAILURES, s::caller_retry),
        control,
    );
    println!();
}
