//! The report behind `BENCHMARKS.md`: every contender timed in one run, as ratios to its
//! baselines, with heap allocations per call, future sizes, concurrency and the bars.
//!
//! ```text
//! cargo bench -p stamina-benches --features tryhard --bench report
//! ```
//!
//! It prints Markdown. Options, after `--`: `--quick` (fewer rounds), `--instructions` (adds
//! instructions per call, counted by valgrind's cachegrind: slow, but repeatable where times are
//! not). `--layers` prints the tower layer's tables alone, `--hedging` the hedged calls',
//! `--throttles` the throttles'. `--gate FILE [--update]` is the instruction-count gate of
//! `.ci/run` ([`gate`]).
//! `--count ID FAILURES N [--listening]` is internal: it runs one contender `N` times, under
//! valgrind (with `--listening`, with the subscriber and the recorder of the instrumented table).
//!
//! Method: each contender runs in batches sized to take about 3 ms; the contenders of a table
//! take turns, batch after batch, for 31 rounds, so that a noisy neighbour slows them all alike;
//! a contender's time is the median of its batches, divided by the batch size. Async contenders
//! run many calls inside one `block_on` of a current-thread runtime.
//!
//! One module per section of the report, in the order it prints: [`happy`] and [`retry`] (the
//! happy and the retry path, sync and async), [`sizes`], [`concurrency`], [`storm`] and
//! [`budgets`], [`instrumented`], [`layers`] (the tower layer), [`hedging`], [`throttles`], and
//! [`bars`] last; [`gate`] is the gate's. The rest is shared: [`contender`] (what a
//! contender is and how it runs), [`measure`] (times, allocations, instructions) and [`table`] (a
//! table's rows and its Markdown); [`by_id`], here, finds the contender of any table by its id.

mod bars;
mod budgets;
mod concurrency;
mod contender;
mod gate;
mod happy;
mod hedging;
mod instrumented;
mod layers;
mod measure;
mod retry;
mod sizes;
mod storm;
mod table;
mod throttles;

use std::process::Command;
use std::time::{Duration, Instant};

use stamina_benches as s;

use crate::bars::Bars;
use crate::budgets::budgets;
use crate::concurrency::{concurrency, two_threads};
use crate::contender::Contender;
use crate::happy::{HAPPY_ASYNC, HAPPY_SYNC, happy_paths};
use crate::instrumented::{instrumented, listen};
use crate::measure::Config;
use crate::retry::{RETRY_ASYNC, RETRY_SYNC, retry_paths};
use crate::sizes::future_sizes;
use crate::storm::storm;

/// Every contender: the timed tables' and the gate's own.
fn all() -> impl Iterator<Item = &'static Contender> {
    [
        HAPPY_SYNC,
        HAPPY_ASYNC,
        RETRY_SYNC,
        RETRY_ASYNC,
        layers::HAPPY_LAYERS,
        layers::RETRY_LAYERS,
        hedging::HAPPY_HEDGED,
        gate::GATE_ONLY,
    ]
    .into_iter()
    .flatten()
}

/// The contender of any table with this id (`--count`, the instrumented table).
pub(crate) fn by_id(id: &str) -> Contender {
    *all().find(|c| c.id == id).expect("a contender id")
}

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
    if let Some(i) = args.iter().position(|a| a == "--gate") {
        let file = args.get(i + 1).expect("usage: --gate FILE [--update]");
        let update = args.iter().any(|a| a == "--update");
        if !gate::gate(file, update) {
            std::process::exit(1);
        }
        return;
    }
    if args.iter().any(|a| a == "--layers") {
        let cfg = Config {
            rounds: 7,
            sample: Duration::from_millis(3),
            instructions: false,
        };
        let mut bars = Bars::default();
        layers::layers(&s::current_thread_runtime(), &cfg, &mut bars);
        bars.print();
        return;
    }
    if args.iter().any(|a| a == "--hedging") {
        let cfg = Config {
            rounds: 7,
            sample: Duration::from_millis(3),
            instructions: args.iter().any(|a| a == "--instructions"),
        };
        let mut bars = Bars::default();
        hedging::hedging(&s::current_thread_runtime(), &cfg, &mut bars);
        bars.print();
        return;
    }
    if args.iter().any(|a| a == "--throttles") {
        let mut bars = Bars::default();
        throttles::throttles(&mut bars);
        bars.print();
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

    layers::layers(&rt, &cfg, &mut bars);

    hedging::hedging(&rt, &cfg, &mut bars);

    throttles::throttles(&mut bars);

    println!("## The bars\n");
    bars.print();
    eprintln!("report: {:.0} s", started.elapsed().as_secs_f64());
}
