//! The report behind `BENCHMARKS.md`: every contender timed in one run, as ratios to its
//! baselines, with heap allocations per call, future sizes, concurrency and the bars.
//!
//! ```text
//! cargo bench -p stamina-benches --features tryhard --bench report
//! ```
//!
//! It prints Markdown. Options, after `--`: `--quick` (fewer rounds), `--instructions` (adds
//! instructions per call, counted by valgrind's cachegrind: slow, but repeatable where times are
//! not). `--count ID FAILURES N [--listening]` is internal: it runs one contender `N` times, under
//! valgrind (with `--listening`, with the subscriber and the recorder of the instrumented table).
//!
//! Method: each contender runs in batches sized to take about 3 ms; the contenders of a table
//! take turns, batch after batch, for 31 rounds, so that a noisy neighbour slows them all alike;
//! a contender's time is the median of its batches, divided by the batch size. Async contenders
//! run many calls inside one `block_on` of a current-thread runtime.

use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use stamina::instrumentation::{Hook, reset_on_retry_hooks, set_on_retry_hooks};
use stamina_benches::{self as s, OpError};
use tokio::runtime::Runtime;

// ---------------------------------------------------------------------------------------------
// The contenders.
// ---------------------------------------------------------------------------------------------

/// One contender of one table: `run(rt, n, failures)` makes `n` calls, each failing `failures`
/// times before it succeeds (the happy-path contenders ignore `failures`).
#[derive(Clone, Copy)]
struct Contender {
    /// Stable, for `--count` and the bars.
    id: &'static str,
    label: &'static str,
    run: fn(&Runtime, u64, u32),
}

macro_rules! contenders {
    ($($(#[$attr:meta])* $id:literal $label:literal => $run:expr;)*) => {
        &[$($(#[$attr])* Contender { id: $id, label: $label, run: $run },)*]
    };
}

fn sync_many<R>(n: u64, f: impl Fn(u64) -> R) {
    for i in 0..n {
        black_box(f(black_box(i)));
    }
}

fn async_many<Fut: Future>(rt: &Runtime, n: u64, f: impl FnMut(u64) -> Fut) {
    s::block_on_many(rt, n, f);
}

/// stamina's waits are zero in testing mode (the peers have zero delays of their own).
fn sync_retry_many<R>(n: u64, failures: u32, f: impl Fn(u32) -> R) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    sync_many(n, |_| f(failures));
}

fn async_retry_many<Fut: Future>(rt: &Runtime, n: u64, failures: u32, f: impl Fn(u32) -> Fut) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    async_many(rt, n, |_| f(failures));
}

/// Runs `f` with no hooks at all, then restores the default hooks.
fn without_hooks(f: impl FnOnce()) {
    set_on_retry_hooks(Vec::<Hook>::new());
    f();
    reset_on_retry_hooks();
}

const HAPPY_SYNC: &[Contender] = contenders! {
    "hs-bare" "bare call (floor)" => |_, n, _| sync_many(n, s::bare_happy);
    "hs-hand" "hand-written loop" => |_, n, _| sync_many(n, s::hand_happy);
    "hs-hand-timed" "hand-written loop + `Instant::now()`" => |_, n, _| sync_many(n, s::hand_timed_happy);
    "hs-backon" "backon `BlockingRetryable`" => |_, n, _| sync_many(n, s::backon_happy);
    "hs-caller-none" "stamina `RetryingCaller::call`, `no_timeout()`" => |_, n, _| sync_many(n, s::caller_no_timeout_happy);
    "hs-caller" "stamina `RetryingCaller::call`, default (45 s)" => |_, n, _| sync_many(n, s::caller_happy);
    "hs-attr-none" "stamina `#[retry]`, `timeout = None`" => |_, n, _| sync_many(n, s::attr_no_timeout_happy);
    "hs-attr-budget" "stamina `#[retry]`, `timeout = None`, under a budget" => |_, n, _| sync_many(n, s::attr_budget_happy);
    "hs-attr" "stamina `#[retry]`, default (45 s)" => |_, n, _| sync_many(n, s::attr_happy);
    "hs-caller-on-ok" "stamina `RetryingCaller::call`, `on_ok`, `no_timeout()`" => |_, n, _| sync_many(n, s::caller_on_ok_happy);
    "hs-attr-on-ok" "stamina `#[retry]`, `on_ok`, `timeout = None`" => |_, n, _| sync_many(n, s::attr_on_ok_happy);
};

const HAPPY_ASYNC: &[Contender] = contenders! {
    "ha-bare" "bare `.await` (floor)" => |rt, n, _| async_many(rt, n, s::bare_happy_async);
    "ha-hand" "hand-written loop" => |rt, n, _| async_many(rt, n, s::hand_happy_async);
    "ha-hand-timed" "hand-written loop + `Instant::now()`" => |rt, n, _| async_many(rt, n, s::hand_timed_happy_async);
    "ha-backon" "backon `Retryable`" => |rt, n, _| async_many(rt, n, s::backon_happy_async);
    #[cfg(feature = "tryhard")]
    "ha-tryhard" "tryhard" => |rt, n, _| async_many(rt, n, s::tryhard_happy_async);
    "ha-tokio-retry2" "tokio-retry2 `Retry::spawn`" => |rt, n, _| async_many(rt, n, s::tokio_retry2_happy_async);
    "ha-caller-none" "stamina `call_async`, `no_timeout()`" => |rt, n, _| async_many(rt, n, s::caller_no_timeout_happy_async);
    "ha-caller" "stamina `call_async`, default (45 s)" => |rt, n, _| async_many(rt, n, s::caller_happy_async);
    "ha-attr-none" "stamina `#[retry] async fn`, `timeout = None`" => |rt, n, _| async_many(rt, n, s::attr_no_timeout_happy_async);
    "ha-attr" "stamina `#[retry] async fn`, default (45 s)" => |rt, n, _| async_many(rt, n, s::attr_happy_async);
};

const RETRY_SYNC: &[Contender] = contenders! {
    "rs-hand" "hand-written loop" => |_, n, f| sync_retry_many(n, f, s::hand_retry);
    "rs-backon" "backon `BlockingRetryable`" => |_, n, f| sync_retry_many(n, f, s::backon_retry);
    "rs-backon-notify" "backon `BlockingRetryable` + an event and a counter in `notify`" => |_, n, f| sync_retry_many(n, f, s::backon_retry_notify);
    "rs-caller" "stamina `RetryingCaller::call` (default hooks)" => |_, n, f| sync_retry_many(n, f, s::caller_retry);
    "rs-caller-nohooks" "stamina `RetryingCaller::call`, no hooks" => |_, n, f| without_hooks(|| sync_retry_many(n, f, s::caller_retry));
    "rs-attr" "stamina `#[retry]` (default hooks)" => |_, n, f| sync_retry_many(n, f, s::attr_retry);
    "rs-attr-nohooks" "stamina `#[retry]`, no hooks" => |_, n, f| without_hooks(|| sync_retry_many(n, f, s::attr_retry));
};

const RETRY_ASYNC: &[Contender] = contenders! {
    "ra-hand" "hand-written loop" => |rt, n, f| async_retry_many(rt, n, f, s::hand_retry_async);
    "ra-backon" "backon `Retryable` (tokio sleeper)" => |rt, n, f| async_retry_many(rt, n, f, s::backon_retry_async);
    "ra-backon-notimer" "backon `Retryable`, no-op sleeper" => |rt, n, f| async_retry_many(rt, n, f, s::backon_retry_async_no_timer);
    #[cfg(feature = "tryhard")]
    "ra-tryhard" "tryhard" => |rt, n, f| async_retry_many(rt, n, f, s::tryhard_retry_async);
    "ra-tokio-retry2" "tokio-retry2" => |rt, n, f| async_retry_many(rt, n, f, s::tokio_retry2_retry_async);
    "ra-caller" "stamina `call_async` (default hooks)" => |rt, n, f| async_retry_many(rt, n, f, s::caller_retry_async);
    "ra-caller-nohooks" "stamina `call_async`, no hooks" => |rt, n, f| without_hooks(|| async_retry_many(rt, n, f, s::caller_retry_async));
    "ra-attr" "stamina `#[retry] async fn` (default hooks)" => |rt, n, f| async_retry_many(rt, n, f, s::attr_retry_async);
};

/// The stamina contenders of the retry path, again once a subscriber and a recorder listen.
const INSTRUMENTED: [&str; 6] = [
    "rs-backon-notify",
    "rs-caller",
    "rs-caller-nohooks",
    "rs-attr",
    "ra-caller",
    "ra-attr",
];

fn all() -> impl Iterator<Item = &'static Contender> {
    [HAPPY_SYNC, HAPPY_ASYNC, RETRY_SYNC, RETRY_ASYNC]
        .into_iter()
        .flatten()
}

fn by_id(id: &str) -> Contender {
    *all().find(|c| c.id == id).expect("a contender id")
}

// ---------------------------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------------------------

struct Config {
    rounds: usize,
    sample: Duration,
    instructions: bool,
}

fn time_batch(rt: &Runtime, c: &Contender, n: u64, failures: u32) -> f64 {
    let start = Instant::now();
    (c.run)(rt, n, failures);
    start.elapsed().as_secs_f64() * 1e9
}

/// The batch size that takes about `target`.
fn calibrate(rt: &Runtime, c: &Contender, failures: u32, target: Duration) -> u64 {
    let target = target.as_secs_f64() * 1e9;
    let mut n = 1;
    loop {
        let ns = time_batch(rt, c, n, failures);
        if ns >= target / 8.0 || n >= 1 << 32 {
            return ((n as f64 * target / ns.max(1.0)) as u64).max(1);
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
fn time_all(rt: &Runtime, cfg: &Config, list: &[(Contender, u32)]) -> Vec<f64> {
    let batches: Vec<u64> = list
        .iter()
        .map(|(c, f)| calibrate(rt, c, *f, cfg.sample))
        .collect();
    let mut samples = vec![Vec::with_capacity(cfg.rounds); list.len()];
    for _ in 0..cfg.rounds {
        for (i, (c, f)) in list.iter().enumerate() {
            samples[i].push(time_batch(rt, c, batches[i], *f) / batches[i] as f64);
        }
    }
    samples.into_iter().map(median).collect()
}

/// Heap allocations per call: the difference between `2n` and `n` calls, so that the batch's
/// own setup (a `block_on`, a testing-mode guard) cancels out. The calls run on this thread,
/// where `allocation_counter` counts.
fn allocs_per_call(rt: &Runtime, c: &Contender, failures: u32, n: u64) -> f64 {
    (c.run)(rt, n, failures); // warm-up: thread-locals, caches, lazily built hooks
    let count = |n| allocation_counter::measure(|| (c.run)(rt, n, failures)).count_total;
    let one = count(n);
    count(2 * n).saturating_sub(one) as f64 / n as f64
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
        // `==PID== I   refs:      13,912,747`: the count is the line's last word (the PID's
        // digits are not part of it; valgrind pads `I refs` differently across versions).
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().find(|l| l.contains("refs:"))?;
        line.split_whitespace()
            .last()?
            .replace(',', "")
            .parse()
            .ok()
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

/// One row of a table: for the retry path, `ns` is per retry and `call_ns` per call.
struct Row {
    c: Contender,
    ns: f64,
    call_ns: f64,
    allocs: f64,
    instructions: Option<f64>,
}

struct Table(Vec<Row>);

/// A column of a table: its header and how a row fills it.
type Column = (&'static str, fn(&Row) -> String);

impl Table {
    fn get(&self, id: &str) -> Option<&Row> {
        self.0.iter().find(|r| r.c.id == id)
    }

    fn ratio(&self, num: &str, den: &str) -> Option<f64> {
        Some(self.get(num)?.ns / self.get(den)?.ns)
    }

    /// Prints the table: `columns` are the extra leading columns, then the ratios to each of
    /// `baselines`, the allocations and, if measured, the instructions.
    fn print(&self, columns: &[Column], baselines: &[&str]) {
        let mut header = "| contender |".to_owned();
        let mut rule = "|---|".to_owned();
        for (name, _) in columns {
            write!(header, " {name} |").expect("a String");
            rule += "--:|";
        }
        for b in baselines {
            let label = self.get(b).map_or(*b, |r| r.c.label);
            write!(header, " ÷ {label} |").expect("a String");
            rule += "--:|";
        }
        header += " allocs per call |";
        rule += "--:|";
        let instructions = self.0.iter().any(|r| r.instructions.is_some());
        if instructions {
            header += " instructions |";
            rule += "--:|";
        }
        println!("{header}\n{rule}");
        for r in &self.0 {
            let mut line = format!("| {} |", r.c.label);
            for (_, cell) in columns {
                write!(line, " {} |", cell(r)).expect("a String");
            }
            for b in baselines {
                match self.get(b) {
                    Some(base) => write!(line, " {:.2} |", r.ns / base.ns),
                    None => write!(line, " – |"),
                }
                .expect("a String");
            }
            write!(line, " {} |", fmt_allocs(r.allocs)).expect("a String");
            if instructions {
                let i = r.instructions.map_or("–".to_owned(), |i| format!("{i:.0}"));
                write!(line, " {i} |").expect("a String");
            }
            println!("{line}");
        }
        println!();
    }
}

/// A happy-path table: ns per call and its ratio to each baseline.
fn happy_table(rt: &Runtime, cfg: &Config, list: &[Contender], baselines: &[&str]) -> Table {
    let pairs: Vec<_> = list.iter().map(|c| (*c, 0)).collect();
    let ns = time_all(rt, cfg, &pairs);
    let table = Table(
        list.iter()
            .zip(ns)
            .map(|(c, ns)| Row {
                c: *c,
                ns,
                call_ns: ns,
                allocs: allocs_per_call(rt, c, 0, 10_000),
                instructions: cfg
                    .instructions
                    .then(|| instructions_per_call(c, 0, 20_000))
                    .flatten(),
            })
            .collect(),
    );
    table.print(&[("time per call", |r| fmt_ns(r.ns))], baselines);
    table
}

/// A retry-path table: each contender with 3 failures and with none, so that the cost of one
/// retry is `(t3 - t0) / 3`: the op and the call's setup cancel out.
fn retry_table(rt: &Runtime, cfg: &Config, list: &[Contender], baseline: &str) -> Table {
    let failures = s::RETRY_FAILURES;
    let pairs: Vec<_> = list
        .iter()
        .flat_map(|c| [(*c, failures), (*c, 0)])
        .collect();
    let ns = time_all(rt, cfg, &pairs);
    let per_retry = |with: f64, without: f64| (with - without) / f64::from(failures);
    let table = Table(
        list.iter()
            .enumerate()
            .map(|(i, c)| Row {
                c: *c,
                ns: per_retry(ns[2 * i], ns[2 * i + 1]),
                call_ns: ns[2 * i],
                allocs: allocs_per_call(rt, c, failures, 200),
                // Not for a contender that sleeps on a timer: its count would be the waits'.
                instructions: (cfg.instructions && !touches_timer(c))
                    .then(|| {
                        let with = instructions_per_call(c, failures, 20_000)?;
                        Some(per_retry(with, instructions_per_call(c, 0, 20_000)?))
                    })
                    .flatten(),
            })
            .collect(),
    );
    table.print(
        &[
            ("time per call (3 retries)", |r| fmt_ns(r.call_ns)),
            ("time per retry", |r| fmt_ns(r.ns)),
        ],
        &[baseline],
    );
    table
}

/// Whether a contender's zero-wait retry reaches the tokio timer: on a runtime without one, a
/// `tokio::time::sleep` panics.
fn touches_timer(c: &Contender) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (c.run)(&rt, 1, s::RETRY_FAILURES);
    }))
    .is_err();
    std::panic::set_hook(hook);
    panicked
}

// ---------------------------------------------------------------------------------------------
// Future sizes and concurrency.
// ---------------------------------------------------------------------------------------------

/// The overhead of each stamina future over the larger of the op's future and a `Sleep`.
/// What a future row measures its overhead against: the op's own future (a peer, `call_async`)
/// or the same `async fn` without `#[retry]`.
#[derive(Clone, Copy, PartialEq)]
enum Base {
    Op,
    Plain,
}

/// The rows of the future-size table: label, sizes around the small and the 1 KiB op, base,
/// and the bar the row counts towards (if any).
fn future_rows() -> Vec<(&'static str, [usize; 2], Base, Option<&'static str>)> {
    use std::mem::size_of_val as size;
    let caller = "stamina `call_async`";
    let attr = "stamina `#[retry] async fn`";
    let timer = "stamina `#[retry] async fn`, each timer";
    let on_ok = "stamina with `on_ok`, `call_async` and `#[retry] async fn`";
    vec![
        (
            "backon `Retryable`",
            [
                size(&s::backon_happy_async(0)),
                size(&s::backon_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        #[cfg(feature = "tryhard")]
        (
            "tryhard",
            [
                size(&s::tryhard_happy_async(0)),
                size(&s::tryhard_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        (
            "tokio-retry2",
            [
                size(&s::tokio_retry2_happy_async(0)),
                size(&s::tokio_retry2_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        (
            caller,
            [
                size(&s::caller_happy_async(0)),
                size(&s::caller_big_async(0)),
            ],
            Base::Op,
            Some(caller),
        ),
        (
            "stamina `#[retry] async fn`, default sleeper (op: the same fn without `#[retry]`)",
            [size(&s::attr_happy_async(0)), size(&s::attr_big_async(0))],
            Base::Plain,
            Some(attr),
        ),
        (
            "stamina `call_async` with `on_ok`",
            [
                size(&s::caller_on_ok_async(0)),
                size(&s::caller_on_ok_big_async(0)),
            ],
            Base::Op,
            Some(on_ok),
        ),
        (
            "stamina `#[retry] async fn` with `on_ok`",
            [
                size(&s::attr_on_ok_async(0)),
                size(&s::attr_on_ok_big_async(0)),
            ],
            Base::Plain,
            Some(on_ok),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = TokioSleeper`",
            [
                size(&s::attr_tokio_async(0)),
                size(&s::attr_tokio_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = AsyncIoSleeper`",
            [
                size(&s::attr_async_io_async(0)),
                size(&s::attr_async_io_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = FuturesTimerSleeper`",
            [
                size(&s::attr_futures_timer_async(0)),
                size(&s::attr_futures_timer_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
    ]
}

/// Prints the future-size table; the largest overhead of each bar's rows.
fn future_sizes() -> Vec<(&'static str, i64)> {
    use std::mem::{size_of, size_of_val};
    let sleep = size_of::<tokio::time::Sleep>();
    let op = [
        size_of_val(&s::op_async(0)),
        size_of_val(&s::op_big_async(0)),
    ];
    let plain = [
        size_of_val(&s::plain_happy_async(0)),
        size_of_val(&s::plain_big_async(0)),
    ];
    println!(
        "The op's own future: {} B (ready at once) or {} B (holds 1 KiB across an \
         await); a tokio `Sleep`: {sleep} B. Overhead = size − max(op's future, `Sleep`).\n",
        op[0], op[1]
    );
    println!("| future | small op | overhead | 1 KiB op | overhead |\n|---|--:|--:|--:|--:|");
    let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut bars: Vec<(&'static str, i64)> = Vec::new();
    for (label, sizes, base, bar) in future_rows() {
        let base = if base == Base::Op { op } else { plain };
        let [o1, o2] = [0, 1].map(|i| signed(sizes[i]) - signed(base[i].max(sleep)));
        println!(
            "| {label} | {} B | {o1:+} B | {} B | {o2:+} B |",
            sizes[0], sizes[1]
        );
        if let Some(bar) = bar {
            match bars.iter_mut().find(|(b, _)| *b == bar) {
                Some((_, worst)) => *worst = (*worst).max(o1.max(o2)),
                None => bars.push((bar, o1.max(o2))),
            }
        }
    }
    println!();
    bars
}

const TASKS: u64 = 10_000;

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

fn concurrency() {
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

fn two_threads() {
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

// ---------------------------------------------------------------------------------------------
// The storm: retry budgets under load.
// ---------------------------------------------------------------------------------------------

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

fn storm() {
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

/// The retries a budget grants after `calls` calls, none failing before: tower's `TpsBudget`
/// and stamina's ratio budget, at `ratio` with no minimum.
fn granted(ratio: f32, calls: u32) -> (u32, u32) {
    use tower::retry::budget::{Budget as _, TpsBudget};
    let tower = TpsBudget::new(Duration::from_secs(10), 0, ratio);
    for _ in 0..calls {
        tower.deposit();
    }
    let mut by_tower = 0;
    while tower.withdraw() {
        by_tower += 1;
    }
    // stamina, through its public API: successes, then one call that retries until the
    // budget says no (no attempt limit, no timeout, zero waits).
    let budget: &'static stamina::RetryBudget = Box::leak(Box::new(
        stamina::RetryBudget::new()
            .ratio(f64::from(ratio))
            .min_per_sec(0),
    ));
    let caller = stamina::RetryingCaller::new()
        .no_attempt_limit()
        .no_timeout()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .budget(budget);
    // The failing call is a call too: `calls - 1` successes before it.
    for _ in 1..calls {
        let _ = caller.call(|_: &s::OpError| true, || Ok::<_, s::OpError>(()));
    }
    let mut attempts = 0;
    let _ = caller.call(
        |_: &s::OpError| true,
        || {
            attempts += 1;
            Err::<(), _>(s::OpError)
        },
    );
    (by_tower, attempts - 1)
}

/// ns per call of `f` on each of `threads` threads at once.
fn per_call_on(threads: usize, f: fn(u64)) -> f64 {
    let n = 200_000;
    let ns = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(move || {
                    let start = Instant::now();
                    f(n);
                    start.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a thread"))
            .sum::<f64>()
    });
    ns * 1e9 / (n as f64 * threads as f64)
}

/// `n` deposits and withdrawals on tower's `TpsBudget`.
fn tower_calls(n: u64) {
    use tower::retry::budget::{Budget as _, TpsBudget};
    static BUDGET: std::sync::LazyLock<TpsBudget> =
        std::sync::LazyLock::new(|| TpsBudget::new(Duration::from_secs(10), 10, 10.0));
    for _ in 0..n {
        BUDGET.deposit();
        black_box(BUDGET.withdraw());
    }
}
/// `n` calls through `caller` that fail once, then succeed.
fn stamina_calls(caller: &stamina::RetryingCaller, n: u64) {
    for _ in 0..n {
        let mut failed = false;
        let _ = caller.call(
            |_: &s::OpError| true,
            || {
                if std::mem::replace(&mut failed, true) {
                    Ok(black_box(1))
                } else {
                    Err(s::OpError)
                }
            },
        );
    }
}

/// A labelled benchmark of `n` calls.
type BudgetRow = (&'static str, fn(u64));

fn budgets() {
    println!(
        "What a budget grants after 10,000 calls, at each ratio, with no minimum: tower 0.5's \
         `TpsBudget` (reqwest's budget) and stamina's ratio budget, through its public API (one \
         call that retries until the budget refuses).\n"
    );
    println!("| ratio | exact | tower `TpsBudget` | stamina `RetryBudget` |\n|--:|--:|--:|--:|");
    for ratio in [0.1_f32, 0.2, 0.3, 0.5, 0.6, 1.0, 2.0] {
        let (tower, stamina) = granted(ratio, 10_000);
        let exact = (f64::from(ratio) * 10_000.0).round();
        println!("| {ratio} | {exact} | {tower} | {stamina} |");
    }
    println!();
    println!(
        "A call that fails once, then succeeds, through each budget (a deposit and a withdrawal; \
         stamina's through a `RetryingCaller::call` with zero waits, less the same call without \
         a budget), in ns per call on 1 and 2 threads sharing one budget.\n"
    );
    println!("| budget | 1 thread | 2 threads |\n|---|--:|--:|");
    let rows: [BudgetRow; 3] = [
        ("tower `TpsBudget`: deposit + withdraw", tower_calls),
        ("stamina: the call, no budget", |n| {
            stamina_calls(&s::CALLER_STORM, n);
        }),
        ("stamina: the call, ratio budget", |n| {
            stamina_calls(&s::CALLER_STORM_ROOMY, n);
        }),
    ];
    let mut measured: Vec<[f64; 2]> = Vec::new();
    without_hooks(|| {
        measured = rows
            .iter()
            .map(|(_, f)| {
                let one = median((0..5).map(|_| per_call_on(1, *f)).collect());
                let two = median((0..5).map(|_| per_call_on(2, *f)).collect());
                [one, two]
            })
            .collect();
    });
    for ((label, _), [one, two]) in rows.iter().zip(&measured) {
        println!("| {label} | {} | {} |", fmt_ns(*one), fmt_ns(*two));
    }
    let [none1, none2] = measured[1];
    let [with1, with2] = measured[2];
    println!(
        "| stamina's ratio budget alone (difference) | {} | {} |",
        fmt_ns(with1 - none1),
        fmt_ns(with2 - none2)
    );
    println!();
}

// ---------------------------------------------------------------------------------------------
// The bars.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Bars(Vec<(String, String, bool)>);

impl Bars {
    fn push(&mut self, what: String, measured: String, met: bool) {
        self.0.push((what, measured, met));
    }

    /// `num ÷ den ≤ max` in one table.
    fn ratio(&mut self, what: &str, table: &Table, num: &str, den: &str, max: f64) {
        if let (Some(r), Some(n), Some(d)) = (table.ratio(num, den), table.get(num), table.get(den))
        {
            let what = format!("{what}: {} ÷ {} ≤ {max}", n.c.label, d.c.label);
            self.push(what, format!("{r:.2}"), r <= max);
        }
    }

    fn no_allocations(&mut self, path: &str, table: &Table) {
        for r in table.0.iter().filter(|r| r.c.label.starts_with("stamina")) {
            if !r.c.id.ends_with("nohooks") {
                let what = format!("0 allocations per call, {path}: {}", r.c.label);
                self.push(what, fmt_allocs(r.allocs), r.allocs == 0.0);
            }
        }
    }

    fn print(&self) {
        println!("| bar | measured | met |\n|---|--:|:-:|");
        for (what, measured, met) in &self.0 {
            let met = if *met { "yes" } else { "**no**" };
            println!("| {what} | {measured} | {met} |");
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
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split(':').nth(1)?.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("--version")
        .output()
        .map_or_else(
            |_| "rustc (unknown version)".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    format!("{cores} cores ({cpu}), {rustc}")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--count") {
        let [id, failures, n, rest @ ..] = &args[i + 1..] else {
            panic!("usage: --count ID FAILURES N [--listening]");
        };
        if rest.iter().any(|a| a == "--listening") {
            listen();
        }
        let rt = s::current_thread_runtime();
        (by_id(id).run)(
            &rt,
            n.parse().expect("N"),
            failures.parse().expect("FAILURES"),
        );
        return;
    }
    if args.iter().any(|a| a == "--storm") {
        println!("## Retry storms and budgets\n");
        storm();
        budgets();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let cfg = Config {
        rounds: if quick { 7 } else { 31 },
        sample: Duration::from_millis(if quick { 1 } else { 3 }),
        instructions: args.iter().any(|a| a == "--instructions"),
    };
    let rt = s::current_thread_runtime();
    let started = Instant::now();
    let mut bars = Bars::default();

    println!("# stamina benchmark report\n\nMachine: {}.\n", machine());
    if cfg!(not(feature = "tryhard")) {
        println!("tryhard rows: left out (build with `--features tryhard`).\n");
    }

    let (hs, ha) = happy_paths(&rt, &cfg, &mut bars);
    let (rs, ra) = retry_paths(&rt, &cfg, &mut bars);
    for (path, table) in [
        ("happy sync", &hs),
        ("happy async", &ha),
        ("retry sync", &rs),
    ] {
        bars.no_allocations(path, table);
    }
    bars.no_allocations("retry async", &ra);

    println!("## Future sizes\n");
    for (label, overhead) in future_sizes() {
        let what = format!("{label}: future ≤ max(op's future, `Sleep`) + 64 B");
        bars.push(what, format!("{overhead:+} B"), overhead <= 64);
    }

    println!("## Concurrency\n");
    concurrency();
    two_threads();

    println!("## Retry storms and budgets\n");
    storm();
    budgets();

    instrumented(&rt, &cfg, &rs, &ra, &mut bars);

    println!("## The bars\n");
    bars.print();
    eprintln!("report: {:.0} s", started.elapsed().as_secs_f64());
}

/// Last: the subscriber and the recorder are process-wide and stay installed.
fn instrumented(rt: &Runtime, cfg: &Config, rs: &Table, ra: &Table, bars: &mut Bars) {
    println!(
        "## Instrumentation on (a `tracing_subscriber::fmt` subscriber writing to `io::sink`, \
         and a Prometheus recorder)\n"
    );
    listen();
    let list: Vec<Contender> = INSTRUMENTED.iter().map(|id| by_id(id)).collect();
    let on = retry_table(rt, cfg, &list, "rs-backon-notify");
    for id in ["rs-caller", "rs-attr"] {
        bars.ratio(
            "instrumented sync retry, per retry",
            &on,
            id,
            "rs-backon-notify",
            1.0,
        );
    }
    for id in INSTRUMENTED {
        if let (Some(with), Some(without)) = (on.get(id), rs.get(id).or_else(|| ra.get(id))) {
            println!(
                "- {}: {} per retry with the subscriber and recorder, {} without.",
                with.c.label,
                fmt_ns(with.ns),
                fmt_ns(without.ns)
            );
        }
    }
    println!();
}

/// Installs the subscriber and the recorder of the instrumented table, for the process.
fn listen() {
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
}

fn happy_paths(rt: &Runtime, cfg: &Config, bars: &mut Bars) -> (Table, Table) {
    println!("## Happy path, sync (the op succeeds at once)\n");
    let hs = happy_table(
        rt,
        cfg,
        HAPPY_SYNC,
        &["hs-bare", "hs-backon", "hs-hand-timed"],
    );
    for (id, den, max) in [
        ("hs-caller-none", "hs-backon", 0.5),
        ("hs-attr-none", "hs-backon", 0.5),
        ("hs-caller", "hs-hand-timed", 0.5),
        ("hs-attr", "hs-hand-timed", 0.5),
    ] {
        bars.ratio("sync happy path", &hs, id, den, max);
    }

    println!("## Happy path, async (many calls in one `block_on`, current-thread runtime)\n");
    let baselines = ["ha-bare", "ha-backon", "ha-tryhard", "ha-hand-timed"];
    let ha = happy_table(rt, cfg, HAPPY_ASYNC, &baselines);
    for (id, den, max) in [
        ("ha-caller-none", "ha-tryhard", 1.0),
        ("ha-attr-none", "ha-tryhard", 1.0),
        ("ha-caller-none", "ha-backon", 0.2),
        ("ha-attr-none", "ha-backon", 0.2),
        ("ha-caller", "ha-hand-timed", 0.5),
        ("ha-attr", "ha-hand-timed", 0.5),
    ] {
        bars.ratio("async happy path", &ha, id, den, max);
    }

    (hs, ha)
}

fn retry_paths(rt: &Runtime, cfg: &Config, bars: &mut Bars) -> (Table, Table) {
    println!(
        "## Retry path, sync (3 failures then success, zero waits; stamina in testing mode)\n"
    );
    println!("Time per retry = (time with 3 failures − time with none) ÷ 3.\n");
    let rs = retry_table(rt, cfg, RETRY_SYNC, "rs-backon");
    for id in ["rs-caller-nohooks", "rs-attr-nohooks"] {
        bars.ratio("sync retry, no hooks, per retry", &rs, id, "rs-backon", 0.7);
    }

    println!("## Retry path, async (3 failures then success, zero waits)\n");
    let ra = retry_table(rt, cfg, RETRY_ASYNC, "ra-backon-notimer");
    let timer: Vec<&str> = RETRY_ASYNC
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
        if let Some(r) = ra.get(id) {
            let what = format!("zero-wait async retry: {} < 1 µs per retry", r.c.label);
            bars.push(what, fmt_ns(r.ns), r.ns < 1_000.0);
        }
    }
    (rs, ra)
}
