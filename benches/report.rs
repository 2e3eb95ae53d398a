//! The report behind `BENCHMARKS.md`: every contender timed in one run, as ratios to its
//! baseline, with heap allocations per call, future sizes, the concurrency test and the bars.
//!
//! ```text
//! cargo bench -p stamina-benches --features tryhard --bench report
//! ```
//!
//! It prints Markdown. Options, after `--`: `--quick` (fewer rounds), `--instructions` (adds
//! instructions per call, counted by valgrind's cachegrind: slow, but repeatable where times are
//! not). `--count ID FAILURES N` is internal: it runs one contender `N` times, under valgrind.
//!
//! Method: each contender runs in batches sized to take about 3 ms; the contenders of a table
//! take turns, batch after batch, for 31 rounds, so that a noisy neighbour slows them all alike;
//! a contender's time is the median of its batches, divided by the batch size. Async contenders
//! run many calls inside one `block_on` of a current-thread runtime.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use stamina::instrumentation::{Hook, reset_on_retry_hooks, set_on_retry_hooks};
use stamina_benches::{self as s, OpError};
use tokio::runtime::Runtime;

// ---------------------------------------------------------------------------------------------
// The counting allocator.
// ---------------------------------------------------------------------------------------------

/// Allocations (and reallocations) since the start.
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since it was last reset.
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

#[allow(
    unsafe_code,
    reason = "a global allocator is an `unsafe impl`; this one forwards every call to `System` \
              unchanged and only counts"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            ALLOCS.fetch_add(1, Relaxed);
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// The contenders.
// ---------------------------------------------------------------------------------------------

struct Ctx {
    /// The current-thread runtime of the async contenders.
    rt: Runtime,
}

/// One contender of one table. `run(ctx, n, failures)` makes `n` calls, each failing `failures`
/// times before it succeeds (the happy-path contenders ignore `failures`).
#[derive(Clone, Copy)]
struct Contender {
    /// Stable, for `--count`.
    id: &'static str,
    label: &'static str,
    run: fn(&Ctx, u64, u32),
    /// A `#[retry]` contender: left out while the attribute is a stub.
    attr: bool,
}

const fn c(id: &'static str, label: &'static str, run: fn(&Ctx, u64, u32)) -> Contender {
    Contender {
        id,
        label,
        run,
        attr: false,
    }
}

const fn attr(id: &'static str, label: &'static str, run: fn(&Ctx, u64, u32)) -> Contender {
    Contender {
        id,
        label,
        run,
        attr: true,
    }
}

fn sync_many<R>(n: u64, f: impl Fn(u64) -> R) {
    for i in 0..n {
        black_box(f(black_box(i)));
    }
}

fn sync_retry_many<R>(n: u64, failures: u32, f: impl Fn(u32) -> R) {
    // Every wait of stamina's is zero in testing mode (the peers have zero delays of their own).
    let _instant = stamina::testing::set_testing(true, 10, false);
    for _ in 0..n {
        black_box(f(black_box(failures)));
    }
}

fn async_retry_many<Fut: Future>(ctx: &Ctx, n: u64, failures: u32, f: impl Fn(u32) -> Fut) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    s::block_on_many(&ctx.rt, n, |_| f(black_box(failures)));
}

/// Runs a contender with no hooks at all, then restores the default hooks.
fn without_hooks(f: impl FnOnce()) {
    set_on_retry_hooks(Vec::<Hook>::new());
    f();
    reset_on_retry_hooks();
}

const HAPPY_SYNC: &[Contender] = &[
    c("hs-bare", "bare call (floor)", |_, n, _| {
        sync_many(n, s::bare_happy);
    }),
    c("hs-hand", "hand-written loop", |_, n, _| {
        sync_many(n, s::hand_happy);
    }),
    c(
        "hs-hand-timed",
        "hand-written loop + `Instant::now()`",
        |_, n, _| sync_many(n, s::hand_timed_happy),
    ),
    c("hs-backon", "backon `BlockingRetryable`", |_, n, _| {
        sync_many(n, s::backon_happy);
    }),
    c(
        "hs-caller-none",
        "stamina `RetryingCaller::call`, `no_timeout()`",
        |_, n, _| sync_many(n, s::caller_no_timeout_happy),
    ),
    c(
        "hs-caller",
        "stamina `RetryingCaller::call`, default (45 s)",
        |_, n, _| sync_many(n, s::caller_happy),
    ),
    attr(
        "hs-attr-none",
        "stamina `#[retry]`, `timeout = None`",
        |_, n, _| sync_many(n, s::attr_no_timeout_happy),
    ),
    attr(
        "hs-attr",
        "stamina `#[retry]`, default (45 s)",
        |_, n, _| sync_many(n, s::attr_happy),
    ),
];

const HAPPY_ASYNC: &[Contender] = &[
    c("ha-bare", "bare `.await` (floor)", |ctx, n, _| {
        s::block_on_many(&ctx.rt, n, s::bare_happy_async);
    }),
    c("ha-hand", "hand-written loop", |ctx, n, _| {
        s::block_on_many(&ctx.rt, n, s::hand_happy_async);
    }),
    c(
        "ha-hand-timed",
        "hand-written loop + `Instant::now()`",
        |ctx, n, _| s::block_on_many(&ctx.rt, n, s::hand_timed_happy_async),
    ),
    c("ha-backon", "backon `Retryable`", |ctx, n, _| {
        s::block_on_many(&ctx.rt, n, s::backon_happy_async);
    }),
    #[cfg(feature = "tryhard")]
    c("ha-tryhard", "tryhard", |ctx, n, _| {
        s::block_on_many(&ctx.rt, n, s::tryhard_happy_async);
    }),
    c(
        "ha-tokio-retry2",
        "tokio-retry2 `Retry::spawn`",
        |ctx, n, _| {
            s::block_on_many(&ctx.rt, n, s::tokio_retry2_happy_async);
        },
    ),
    c(
        "ha-caller-none",
        "stamina `call_async`, `no_timeout()`",
        |ctx, n, _| s::block_on_many(&ctx.rt, n, s::caller_no_timeout_happy_async),
    ),
    c(
        "ha-caller",
        "stamina `call_async`, default (45 s)",
        |ctx, n, _| s::block_on_many(&ctx.rt, n, s::caller_happy_async),
    ),
    attr(
        "ha-attr-none",
        "stamina `#[retry] async fn`, `timeout = None`",
        |ctx, n, _| s::block_on_many(&ctx.rt, n, s::attr_no_timeout_happy_async),
    ),
    attr(
        "ha-attr",
        "stamina `#[retry] async fn`, default (45 s)",
        |ctx, n, _| s::block_on_many(&ctx.rt, n, s::attr_happy_async),
    ),
];

const RETRY_SYNC: &[Contender] = &[
    c("rs-hand", "hand-written loop", |_, n, f| {
        sync_retry_many(n, f, s::hand_retry);
    }),
    c("rs-backon", "backon `BlockingRetryable`", |_, n, f| {
        sync_retry_many(n, f, s::backon_retry);
    }),
    c(
        "rs-caller",
        "stamina `RetryingCaller::call` (default hooks)",
        |_, n, f| sync_retry_many(n, f, s::caller_retry),
    ),
    c(
        "rs-caller-nohooks",
        "stamina `RetryingCaller::call`, no hooks",
        |_, n, f| without_hooks(|| sync_retry_many(n, f, s::caller_retry)),
    ),
    attr(
        "rs-attr",
        "stamina `#[retry]` (default hooks)",
        |_, n, f| sync_retry_many(n, f, s::attr_retry),
    ),
];

const RETRY_ASYNC: &[Contender] = &[
    c("ra-hand", "hand-written loop", |ctx, n, f| {
        async_retry_many(ctx, n, f, s::hand_retry_async);
    }),
    c(
        "ra-backon",
        "backon `Retryable` (tokio sleeper)",
        |ctx, n, f| {
            async_retry_many(ctx, n, f, s::backon_retry_async);
        },
    ),
    c(
        "ra-backon-notimer",
        "backon `Retryable`, no-op sleeper",
        |ctx, n, f| async_retry_many(ctx, n, f, s::backon_retry_async_no_timer),
    ),
    #[cfg(feature = "tryhard")]
    c("ra-tryhard", "tryhard", |ctx, n, f| {
        async_retry_many(ctx, n, f, s::tryhard_retry_async);
    }),
    c("ra-tokio-retry2", "tokio-retry2", |ctx, n, f| {
        async_retry_many(ctx, n, f, s::tokio_retry2_retry_async);
    }),
    c(
        "ra-caller",
        "stamina `call_async` (default hooks)",
        |ctx, n, f| async_retry_many(ctx, n, f, s::caller_retry_async),
    ),
    c(
        "ra-caller-nohooks",
        "stamina `call_async`, no hooks",
        |ctx, n, f| without_hooks(|| async_retry_many(ctx, n, f, s::caller_retry_async)),
    ),
    attr(
        "ra-attr",
        "stamina `#[retry] async fn` (default hooks)",
        |ctx, n, f| async_retry_many(ctx, n, f, s::attr_retry_async),
    ),
];

const INSTRUMENTED: &[Contender] = &[
    c(
        "rs-caller",
        "stamina `RetryingCaller::call` (default hooks)",
        |_, n, f| sync_retry_many(n, f, s::caller_retry),
    ),
    c(
        "rs-caller-nohooks",
        "stamina `RetryingCaller::call`, no hooks",
        |_, n, f| without_hooks(|| sync_retry_many(n, f, s::caller_retry)),
    ),
    attr(
        "rs-attr",
        "stamina `#[retry]` (default hooks)",
        |_, n, f| sync_retry_many(n, f, s::attr_retry),
    ),
    c(
        "ra-caller",
        "stamina `call_async` (default hooks)",
        |ctx, n, f| async_retry_many(ctx, n, f, s::caller_retry_async),
    ),
    attr(
        "ra-attr",
        "stamina `#[retry] async fn` (default hooks)",
        |ctx, n, f| async_retry_many(ctx, n, f, s::attr_retry_async),
    ),
];

// ---------------------------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------------------------

struct Config {
    rounds: usize,
    sample: Duration,
    instructions: bool,
    attr_is_real: bool,
}

fn time_batch(ctx: &Ctx, c: &Contender, n: u64, failures: u32) -> Duration {
    let start = Instant::now();
    (c.run)(ctx, n, failures);
    start.elapsed()
}

/// The batch size that takes about `target`.
fn calibrate(ctx: &Ctx, c: &Contender, failures: u32, target: Duration) -> u64 {
    let mut n = 1;
    loop {
        let t = time_batch(ctx, c, n, failures);
        if t >= target / 8 || n >= 1 << 32 {
            let scaled = (n as f64 * target.as_secs_f64() / t.as_secs_f64().max(1e-9)) as u64;
            return scaled.max(1);
        }
        n *= 4;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        f64::midpoint(v[mid - 1], v[mid])
    }
}

/// The median ns per call of each `(contender, failures)`, the contenders taking turns.
fn time_all(ctx: &Ctx, cfg: &Config, list: &[(Contender, u32)]) -> Vec<f64> {
    let batches: Vec<u64> = list
        .iter()
        .map(|(c, f)| calibrate(ctx, c, *f, cfg.sample))
        .collect();
    let mut samples = vec![Vec::with_capacity(cfg.rounds); list.len()];
    for _ in 0..cfg.rounds {
        for (i, (c, f)) in list.iter().enumerate() {
            let t = time_batch(ctx, c, batches[i], *f);
            samples[i].push(t.as_nanos() as f64 / batches[i] as f64);
        }
    }
    samples.into_iter().map(median).collect()
}

/// Heap allocations per call: the difference between `2n` and `n` calls, so that the batch's
/// own setup (a `block_on`, a testing-mode guard) cancels out.
fn allocs_per_call(ctx: &Ctx, c: &Contender, failures: u32, n: u64) -> f64 {
    (c.run)(ctx, n, failures); // warm-up: thread-locals, caches, lazily built hooks
    let count = |n| {
        let before = ALLOCS.load(Relaxed);
        (c.run)(ctx, n, failures);
        ALLOCS.load(Relaxed) - before
    };
    let one = count(n);
    let two = count(2 * n);
    two.saturating_sub(one) as f64 / n as f64
}

/// Instructions per call from valgrind's cachegrind: this binary runs the contender `n` and `2n`
/// times, and the difference is divided by `n`.
fn instructions_per_call(c: &Contender, failures: u32, n: u64) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let count = |n: u64| -> Option<f64> {
        let out = Command::new("valgrind")
            .args([
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
            ])
            .arg(&exe)
            .args(["--count", c.id, &failures.to_string(), &n.to_string()])
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().find(|l| l.contains("I refs:"))?;
        let digits: String = line
            .rsplit(':')
            .next()?
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((count(2 * n)? - count(n)?) / n as f64)
}

// ---------------------------------------------------------------------------------------------
// Tables.
// ---------------------------------------------------------------------------------------------

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn fmt_allocs(a: f64) -> String {
    if a == 0.0 {
        "0".to_owned()
    } else {
        format!("{a:.2}")
    }
}

struct Measured {
    label: &'static str,
    id: &'static str,
    ns: f64,
    allocs: f64,
    instructions: Option<f64>,
}

fn enabled(cfg: &Config, list: &[Contender]) -> Vec<Contender> {
    list.iter()
        .copied()
        .filter(|c| cfg.attr_is_real || !c.attr)
        .collect()
}

fn find<'m>(rows: &'m [Measured], id: &str) -> Option<&'m Measured> {
    rows.iter().find(|m| m.id == id)
}

/// A happy-path table: ns per call and its ratio to each baseline.
fn happy_table(ctx: &Ctx, cfg: &Config, list: &[Contender], baselines: &[&str]) -> Vec<Measured> {
    let list = enabled(cfg, list);
    let pairs: Vec<_> = list.iter().map(|c| (*c, 0)).collect();
    let ns = time_all(ctx, cfg, &pairs);
    let rows: Vec<Measured> = list
        .iter()
        .zip(ns)
        .map(|(c, ns)| Measured {
            label: c.label,
            id: c.id,
            ns,
            allocs: allocs_per_call(ctx, c, 0, 10_000),
            instructions: if cfg.instructions {
                instructions_per_call(c, 0, 20_000)
            } else {
                None
            },
        })
        .collect();
    let mut header = "| contender | time per call |".to_owned();
    let mut rule = "|---|--:|".to_owned();
    for b in baselines {
        let label = find(&rows, b).map_or(*b, |m| m.label);
        write!(header, " ÷ {label} |").expect("a String");
        rule += "--:|";
    }
    header += " allocs per call |";
    rule += "--:|";
    if cfg.instructions {
        header += " instructions per call |";
        rule += "--:|";
    }
    println!("{header}\n{rule}");
    for m in &rows {
        let mut line = format!("| {} | {} |", m.label, fmt_ns(m.ns));
        for b in baselines {
            match find(&rows, b) {
                Some(base) => write!(line, " {:.2} |", m.ns / base.ns).expect("a String"),
                None => line += " – |",
            }
        }
        write!(line, " {} |", fmt_allocs(m.allocs)).expect("a String");
        if cfg.instructions {
            line += &m
                .instructions
                .map_or(" – |".to_owned(), |i| format!(" {i:.0} |"));
        }
        println!("{line}");
    }
    println!();
    rows
}

/// A retry-path table: each contender with 3 failures and with none, so that the cost of one
/// retry is `(t3 - t0) / 3`.
fn retry_table(ctx: &Ctx, cfg: &Config, list: &[Contender], baseline: &str) -> Vec<Measured> {
    let list = enabled(cfg, list);
    let mut pairs = Vec::new();
    for c in &list {
        pairs.push((*c, s::RETRY_FAILURES));
        pairs.push((*c, 0));
    }
    let ns = time_all(ctx, cfg, &pairs);
    let per_retry = |i: usize| (ns[2 * i] - ns[2 * i + 1]) / f64::from(s::RETRY_FAILURES);
    let rows: Vec<Measured> = list
        .iter()
        .enumerate()
        .map(|(i, c)| Measured {
            label: c.label,
            id: c.id,
            ns: per_retry(i),
            allocs: allocs_per_call(ctx, c, s::RETRY_FAILURES, 200),
            instructions: if cfg.instructions {
                let with = instructions_per_call(c, s::RETRY_FAILURES, 20_000);
                let without = instructions_per_call(c, 0, 20_000);
                with.zip(without)
                    .map(|(w, o)| (w - o) / f64::from(s::RETRY_FAILURES))
            } else {
                None
            },
        })
        .collect();
    let base_label = find(&rows, baseline).map_or(baseline, |m| m.label);
    let mut header = format!(
        "| contender | time per call (3 retries) | time per retry | ÷ {base_label} | allocs per call |"
    );
    let mut rule = "|---|--:|--:|--:|--:|".to_owned();
    if cfg.instructions {
        header += " instructions per retry |";
        rule += "--:|";
    }
    println!("{header}\n{rule}");
    for (i, m) in rows.iter().enumerate() {
        let ratio =
            find(&rows, baseline).map_or("–".to_owned(), |b| format!("{:.2}", m.ns / b.ns));
        let mut line = format!(
            "| {} | {} | {} | {ratio} | {} |",
            m.label,
            fmt_ns(ns[2 * i]),
            fmt_ns(m.ns),
            fmt_allocs(m.allocs)
        );
        if cfg.instructions {
            line += &m
                .instructions
                .map_or(" – |".to_owned(), |i| format!(" {i:.0} |"));
        }
        println!("{line}");
    }
    println!();
    rows
}

/// Whether a contender's zero-wait retry reaches the tokio timer: on a runtime without one, a
/// `tokio::time::sleep` panics.
fn touches_timer(c: &Contender) -> bool {
    let ctx = Ctx {
        rt: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime"),
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (c.run)(&ctx, 1, s::RETRY_FAILURES);
    }))
    .is_err();
    std::panic::set_hook(hook);
    panicked
}

// ---------------------------------------------------------------------------------------------
// Future sizes.
// ---------------------------------------------------------------------------------------------

struct Sizes {
    /// The overhead of `call_async` and of `#[retry] async fn`, the worse of the two ops.
    overheads: Vec<(&'static str, i64)>,
}

fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn future_sizes(cfg: &Config) -> Sizes {
    use std::mem::{size_of, size_of_val};
    let sleep = size_of::<tokio::time::Sleep>();
    let small = size_of_val(&s::op_async(0));
    let big = size_of_val(&s::op_big_async(0));
    println!(
        "The op's own future: {small} B (ready at once) or {big} B (holds 1 KiB across an \
         await); a tokio `Sleep`: {sleep} B. Overhead = size − max(op's future, `Sleep`).\n"
    );
    println!("| future | small op | overhead | 1 KiB op | overhead |");
    println!("|---|--:|--:|--:|--:|");
    let row = |label: &str, sm: usize, sm_op: usize, bg: usize, bg_op: usize| {
        let o1 = signed(sm) - signed(sm_op.max(sleep));
        let o2 = signed(bg) - signed(bg_op.max(sleep));
        println!("| {label} | {sm} B | {o1:+} B | {bg} B | {o2:+} B |");
        o1.max(o2)
    };
    row(
        "backon `Retryable`",
        size_of_val(&s::backon_happy_async(0)),
        small,
        size_of_val(&s::backon_big_async(0)),
        big,
    );
    #[cfg(feature = "tryhard")]
    row(
        "tryhard",
        size_of_val(&s::tryhard_happy_async(0)),
        small,
        size_of_val(&s::tryhard_big_async(0)),
        big,
    );
    row(
        "tokio-retry2",
        size_of_val(&s::tokio_retry2_happy_async(0)),
        small,
        size_of_val(&s::tokio_retry2_big_async(0)),
        big,
    );
    let mut overheads = Vec::new();
    let caller = row(
        "stamina `call_async`",
        size_of_val(&s::caller_happy_async(0)),
        small,
        size_of_val(&s::caller_big_async(0)),
        big,
    );
    overheads.push(("stamina `call_async`", caller));
    if cfg.attr_is_real {
        let attr = row(
            "stamina `#[retry] async fn` (op: the same fn without `#[retry]`)",
            size_of_val(&s::attr_happy_async(0)),
            size_of_val(&s::plain_happy_async(0)),
            size_of_val(&s::attr_big_async(0)),
            size_of_val(&s::plain_big_async(0)),
        );
        overheads.push(("stamina `#[retry] async fn`", attr));
    }
    println!();
    Sizes { overheads }
}

// ---------------------------------------------------------------------------------------------
// Concurrency.
// ---------------------------------------------------------------------------------------------

const TASKS: usize = 10_000;

/// Spawns `TASKS` tasks on the multi-thread runtime, each failing `failures` times: the wall time
/// until all are done, and the peak of the heap above where it started.
fn run_tasks<Fut>(rt: &Runtime, failures: u32, f: fn(u32) -> Fut) -> (Duration, usize)
where
    Fut: Future<Output = Result<u64, OpError>> + Send + 'static,
{
    let mut handles = Vec::with_capacity(TASKS);
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..TASKS {
            handles.push(tokio::spawn(f(failures)));
        }
        for h in handles.drain(..) {
            assert_eq!(h.await.expect("a task"), Ok(u64::from(failures) + 1));
        }
    });
    let elapsed = start.elapsed();
    (elapsed, PEAK.load(Relaxed).saturating_sub(base))
}

fn concurrency_row<Fut>(rt: &Runtime, label: &str, f: fn(u32) -> Fut) -> f64
where
    Fut: Future<Output = Result<u64, OpError>> + Send + 'static,
{
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..5 {
        let (t, peak) = run_tasks(rt, s::SMALL_WAIT_FAILURES, f);
        with.push(t.as_secs_f64());
        peaks.push(peak as f64);
        without.push(run_tasks(rt, 0, f).0.as_secs_f64());
    }
    let with = median(with);
    let without = median(without);
    let peak = median(peaks);
    let waits = s::SMALL_WAITS_SUM.as_secs_f64();
    println!(
        "| {label} | {:.1} ms | {:.1} ms | {:.1} | {:.2} MiB | {:.0} B |",
        with * 1e3,
        without * 1e3,
        with / waits,
        peak / (1024.0 * 1024.0),
        peak / TASKS as f64,
    );
    with / waits
}

fn concurrency(cfg: &Config) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");
    println!(
        "{TASKS} tasks spawned at once on a 2-worker multi-thread runtime, each failing twice \
         with waits of 1 ms then 2 ms (no jitter; one task's waits add up to {} ms). Median of 5.\n",
        s::SMALL_WAITS_SUM.as_millis()
    );
    println!(
        "| contender | wall time, 2 retries each | same tasks, no failure | ÷ one task's waits | peak heap | heap per task |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    concurrency_row(&rt, "backon `Retryable`", s::backon_small_waits);
    #[cfg(feature = "tryhard")]
    concurrency_row(&rt, "tryhard", s::tryhard_small_waits);
    concurrency_row(&rt, "tokio-retry2", s::tokio_retry2_small_waits);
    concurrency_row(&rt, "stamina `call_async`", s::caller_small_waits);
    if cfg.attr_is_real {
        concurrency_row(&rt, "stamina `#[retry] async fn`", s::attr_small_waits);
    }
    println!();
}

/// The time per call of `f` on two threads at once, over its time alone (1.0: no contention).
fn scaling(label: &str, f: fn(u64), control: Option<f64>) -> f64 {
    let n = {
        let mut n = 1_000u64;
        loop {
            let start = Instant::now();
            f(n);
            if start.elapsed() >= Duration::from_millis(5) {
                break n * 4; // about 20 ms
            }
            n *= 2;
        }
    };
    let timed = move || {
        let start = Instant::now();
        f(n);
        start.elapsed().as_secs_f64()
    };
    let mut ratios = Vec::new();
    for _ in 0..7 {
        let alone = std::thread::scope(|sc| sc.spawn(timed).join().expect("a thread"));
        let together = std::thread::scope(|sc| {
            let a = sc.spawn(timed);
            let b = sc.spawn(timed);
            f64::midpoint(a.join().expect("a thread"), b.join().expect("a thread"))
        });
        ratios.push(together / alone);
    }
    let ratio = median(ratios);
    let control = control.unwrap_or(ratio);
    println!("| {label} | {ratio:.2} | {:.2} |", ratio / control);
    ratio
}

fn two_threads(cfg: &Config) {
    println!(
        "The same calls on one thread, then on two threads at once (2 cores): time per call on \
         two threads ÷ on one, median of 7. 1.0 means no shared state is contended, on an idle \
         machine; on a busy one the two threads also compete for the cores, so the last column \
         divides by backon's ratio (backon shares no state: the control).\n"
    );
    println!("| contender | two threads ÷ one | ÷ backon's |");
    println!("|---|--:|--:|");
    let control = scaling(
        "backon `BlockingRetryable`, happy path",
        |n| sync_many(n, s::backon_happy),
        None,
    );
    let control = Some(control);
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
    if cfg.attr_is_real {
        scaling(
            "stamina `#[retry]`, default (45 s), happy path",
            |n| sync_many(n, s::attr_happy),
            control,
        );
    }
    scaling(
        "stamina `call`, 3 retries (testing mode, default hooks)",
        |n| sync_retry_many(n, s::RETRY_FAILURES, s::caller_retry),
        control,
    );
    println!();
}

// ---------------------------------------------------------------------------------------------
// The bars.
// ---------------------------------------------------------------------------------------------

struct Bars(Vec<(String, String, bool)>);

impl Bars {
    fn ratio(&mut self, what: &str, rows: &[Measured], num: &str, den: &str, max: f64) {
        let (Some(n), Some(d)) = (find(rows, num), find(rows, den)) else {
            return;
        };
        let r = n.ns / d.ns;
        self.0.push((
            format!("{what}: {} ÷ {} ≤ {max}", n.label, d.label),
            format!("{r:.2}"),
            r <= max,
        ));
    }

    fn print(&self) {
        println!("| bar | measured | met |");
        println!("|---|--:|:-:|");
        for (what, measured, met) in &self.0 {
            println!(
                "| {what} | {measured} | {} |",
                if *met { "yes" } else { "**no**" }
            );
        }
        println!();
    }
}

// ---------------------------------------------------------------------------------------------
// Main.
// ---------------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .ok()
        .map_or_else(
            || "rustc (unknown version)".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    format!("{cores} cores ({cpu}), {rustc}")
}

fn count_mode(args: &[String]) {
    let [id, failures, n] = args else {
        panic!("usage: --count ID FAILURES N");
    };
    let failures: u32 = failures.parse().expect("FAILURES");
    let n: u64 = n.parse().expect("N");
    let ctx = Ctx {
        rt: s::current_thread_runtime(),
    };
    let all = HAPPY_SYNC
        .iter()
        .chain(HAPPY_ASYNC)
        .chain(RETRY_SYNC)
        .chain(RETRY_ASYNC);
    let c = all.clone().find(|c| c.id == id).expect("a contender id");
    (c.run)(&ctx, n, failures);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--count") {
        count_mode(&args[i + 1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let cfg = Config {
        rounds: if quick { 7 } else { 31 },
        sample: Duration::from_millis(if quick { 1 } else { 3 }),
        instructions: args.iter().any(|a| a == "--instructions"),
        attr_is_real: s::retry_attr_is_real(),
    };
    let ctx = Ctx {
        rt: s::current_thread_runtime(),
    };
    let started = Instant::now();

    println!("# stamina benchmark report\n");
    println!("Machine: {}.\n", machine());
    if !cfg.attr_is_real {
        println!("`#[retry]` rows: {}.\n", s::RETRY_ATTR_STUB);
    }
    if cfg!(not(feature = "tryhard")) {
        println!("tryhard rows: left out (build with `--features tryhard`).\n");
    }
    let mut bars = Bars(Vec::new());
    let happy = happy_sections(&ctx, &cfg, &mut bars);
    let retry = retry_sections(&ctx, &cfg, &mut bars);
    allocation_bars(&happy, &retry, &mut bars);

    println!("## Future sizes\n");
    for (label, overhead) in future_sizes(&cfg).overheads {
        bars.0.push((
            format!("{label}: future ≤ max(op's future, `Sleep`) + 64 B"),
            format!("{overhead:+} B"),
            overhead <= 64,
        ));
    }

    println!("## Concurrency\n");
    concurrency(&cfg);
    two_threads(&cfg);

    instrumented_section(&ctx, &cfg, &retry);

    println!("## The bars\n");
    bars.print();
    eprintln!("report: {:.0} s", started.elapsed().as_secs_f64());
}

fn happy_sections(ctx: &Ctx, cfg: &Config, bars: &mut Bars) -> [Vec<Measured>; 2] {
    println!("## Happy path, sync (the op succeeds at once)\n");
    let hs = happy_table(
        ctx,
        cfg,
        HAPPY_SYNC,
        &["hs-bare", "hs-backon", "hs-hand-timed"],
    );
    bars.ratio("sync, no timeout", &hs, "hs-caller-none", "hs-backon", 0.5);
    bars.ratio("sync, no timeout", &hs, "hs-attr-none", "hs-backon", 0.5);
    bars.ratio("sync, 45 s timeout", &hs, "hs-caller", "hs-hand-timed", 0.5);
    bars.ratio("sync, 45 s timeout", &hs, "hs-attr", "hs-hand-timed", 0.5);

    println!("## Happy path, async (many calls in one `block_on`, current-thread runtime)\n");
    let ha = happy_table(
        ctx,
        cfg,
        HAPPY_ASYNC,
        &["ha-bare", "ha-backon", "ha-tryhard", "ha-hand-timed"],
    );
    bars.ratio(
        "async, no timeout",
        &ha,
        "ha-caller-none",
        "ha-tryhard",
        1.0,
    );
    bars.ratio("async, no timeout", &ha, "ha-attr-none", "ha-tryhard", 1.0);
    bars.ratio("async, no timeout", &ha, "ha-caller-none", "ha-backon", 0.2);
    bars.ratio("async, no timeout", &ha, "ha-attr-none", "ha-backon", 0.2);
    bars.ratio(
        "async, 45 s timeout",
        &ha,
        "ha-caller",
        "ha-hand-timed",
        0.5,
    );
    bars.ratio("async, 45 s timeout", &ha, "ha-attr", "ha-hand-timed", 0.5);
    [hs, ha]
}

fn retry_sections(ctx: &Ctx, cfg: &Config, bars: &mut Bars) -> [Vec<Measured>; 2] {
    println!(
        "## Retry path, sync (3 failures then success, zero waits; stamina in testing mode)\n"
    );
    println!("Time per retry = (time with 3 failures − time with none) ÷ 3.\n");
    let rs = retry_table(ctx, cfg, RETRY_SYNC, "rs-backon");
    bars.ratio("sync retry, per retry", &rs, "rs-caller", "rs-backon", 0.7);
    bars.ratio("sync retry, per retry", &rs, "rs-attr", "rs-backon", 0.7);

    println!("## Retry path, async (3 failures then success, zero waits)\n");
    let ra = retry_table(ctx, cfg, RETRY_ASYNC, "ra-backon-notimer");
    let timer: Vec<&str> = enabled(cfg, RETRY_ASYNC)
        .iter()
        .filter(|c| touches_timer(c))
        .map(|c| c.label)
        .collect();
    println!(
        "Reach the tokio timer for a zero wait (they panic on a runtime without one): {}.\n",
        if timer.is_empty() {
            "none".to_owned()
        } else {
            timer.join(", ")
        }
    );
    for id in ["ra-caller", "ra-attr"] {
        if let Some(m) = find(&ra, id) {
            bars.0.push((
                format!("zero-wait async retry: {} < 1 µs per retry", m.label),
                fmt_ns(m.ns),
                m.ns < 1_000.0,
            ));
        }
    }
    [rs, ra]
}

fn allocation_bars(happy: &[Vec<Measured>; 2], retry: &[Vec<Measured>; 2], bars: &mut Bars) {
    let paths = [
        (&happy[0], "happy sync"),
        (&happy[1], "happy async"),
        (&retry[0], "retry sync"),
        (&retry[1], "retry async"),
    ];
    for (rows, path) in paths {
        for m in rows.iter().filter(|m| m.label.starts_with("stamina")) {
            if m.id.ends_with("nohooks") {
                continue;
            }
            bars.0.push((
                format!("0 allocations per call, {path}: {}", m.label),
                fmt_allocs(m.allocs),
                m.allocs == 0.0,
            ));
        }
    }
}

/// Last: the subscriber and the recorder are process-wide and stay installed.
fn instrumented_section(ctx: &Ctx, cfg: &Config, retry: &[Vec<Measured>; 2]) {
    println!(
        "## Instrumentation on (a `tracing_subscriber::fmt` subscriber writing to `io::sink`, \
         and a Prometheus recorder)\n"
    );
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .finish(),
    )
    .expect("no subscriber yet");
    metrics::set_global_recorder(
        metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
    )
    .expect("no recorder yet");
    let instrumented = retry_table(ctx, cfg, INSTRUMENTED, "rs-caller-nohooks");
    for id in ["rs-caller", "rs-attr", "ra-caller", "ra-attr"] {
        let off = find(&retry[0], id).or_else(|| find(&retry[1], id));
        if let (Some(on), Some(off)) = (find(&instrumented, id), off) {
            println!(
                "- {}: {} per retry with the subscriber and recorder, {} without.",
                on.label,
                fmt_ns(on.ns),
                fmt_ns(off.ns)
            );
        }
    }
    println!();
}
