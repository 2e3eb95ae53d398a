//! Retry storms: many tasks failing at once on 1, 2 and 8 workers, with stamina's budgets and
//! without; the retries made and the wall and CPU time per retry.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use stamina_benches as s;
use tokio::runtime::Runtime;

use crate::concurrency::TASKS;
use crate::contender::without_hooks;
use crate::measure::median;
use crate::table::fmt_ns;

const STORM_FAILURES: u32 = 3;

/// CPU time of the whole process so far: the sum over its threads (Linux: each thread's
/// `schedstat`, in nanoseconds), or `None` elsewhere.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// One storm: `TASKS` tasks at once on `rt`, each calling `f`; the attempts made, the wall time
/// and the CPU time.
fn storm_once<Fut>(
    rt: &Runtime,
    failures: u32,
    f: fn(u32, &'static AtomicU32) -> Fut,
) -> (u64, f64, Option<u64>)
where
    Fut: Future<Output = Result<u64, s::OpError>> + Send + 'static,
{
    let attempts: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
    let cpu = process_cpu_ns();
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(f(failures, attempts)))
            .collect();
        for h in handles {
            let _ = h.await.expect("a task");
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu.zip(process_cpu_ns()).map(|(a, b)| b - a);
    (u64::from(attempts.load(Ordering::Relaxed)), wall, cpu)
}

fn storm_row<Fut>(label: &str, threads: usize, f: fn(u32, &'static AtomicU32) -> Fut)
where
    Fut: Future<Output = Result<u64, s::OpError>> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");
    // Storms and calm runs (the same tasks, no failure) in turn, 7 of each: the medians of the
    // storm's wall time and of the per-pair differences.
    let pairs: Vec<_> = (0..7)
        .map(|_| (storm_once(&rt, STORM_FAILURES, f), storm_once(&rt, 0, f)))
        .collect();
    let attempts = pairs[0].0.0;
    let wall = median(pairs.iter().map(|p| p.0.1).collect());
    let extra_wall = median(pairs.iter().map(|p| p.0.1 - p.1.1).collect());
    let extra_cpu: Option<Vec<f64>> = pairs
        .iter()
        .map(|p| Some((p.0.2? as f64 - p.1.2? as f64) * 1e-9))
        .collect();
    let extra_cpu = extra_cpu.map(median);
    let retries = attempts - TASKS;
    let per_retry = |extra: f64| {
        if retries == 0 {
            "–".to_owned()
        } else {
            fmt_ns(extra * 1e9 / retries as f64)
        }
    };
    println!(
        "| {label} | {threads} | {retries} | {:.1} ms | {:.2} M/s | {} | {} |",
        wall * 1e3,
        retries as f64 / wall / 1e6,
        per_retry(extra_wall),
        extra_cpu.map_or_else(|| "–".to_owned(), per_retry),
    );
}

pub(crate) fn storm() {
    println!(
        "{TASKS} tasks spawned at once on a multi-thread runtime of 1, 2 and 8 workers, each \
         failing {STORM_FAILURES} times, then succeeding (zero waits: each retry yields once). \
         Retries: those made in one storm (a budget denies some). Wall and CPU per retry: (storm \
         − the same tasks without failures) ÷ retries, CPU summed over the process's threads; \
         medians of 7 storms, each followed by its calm run. No hooks (backon has none), so \
         that both do the same work per retry.\n"
    );
    println!(
        "| contender | workers | retries | wall time | retries per second | wall per retry | CPU per retry |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|");
    without_hooks(|| {
        for threads in [1, 2, 8] {
            storm_rows(threads);
        }
    });
    println!();
}

fn storm_rows(threads: usize) {
    storm_row("backon `Retryable` (no budget)", threads, s::backon_storm);
    storm_row("stamina `call_async`, no budget", threads, |n, a| {
        s::caller_storm(&s::CALLER_STORM, n, a)
    });
    storm_row(
        "stamina `call_async`, ratio budget granting all",
        threads,
        |n, a| s::caller_storm(&s::CALLER_STORM_ROOMY, n, a),
    );
    storm_row(
        "stamina `call_async`, default budget (20%)",
        threads,
        |n, a| s::caller_storm(&s::CALLER_STORM_DEFAULT, n, a),
    );
}
