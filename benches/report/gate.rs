//! The instruction-count gate of `.ci/run` (`-- --gate FILE [--update]`): valgrind counts the
//! instructions of a fixed set of paths, and the run fails when one of them grows by more than
//! [`TOLERANCE`] over the count recorded in `FILE` (`benches/instructions.txt`). Counts are
//! repeatable where times are not: the same binary counts the same instructions on any machine
//! of the same architecture, whatever its neighbours do.
//!
//! A path is one contender and what is counted per: a call (the happy path: `2n` calls less `n`
//! calls, over `n`), a retry (`n` calls failing 3 times less `n` calls failing none, over `3n`),
//! or an item of a stream (`2n` items less `n` items, over `n`). Each count is one run of this
//! binary under valgrind, in its `--count` mode; the process's setup cancels out of every
//! difference.
//!
//! `--update` rewrites `FILE` with the new counts: a reviewed change, in the commit of the code
//! that moved them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::poll_fn;
use std::hint::black_box;
use std::pin::pin;

use futures_core::Stream;
use stamina_benches as s;

use crate::contender::{Contender, contenders, sync_retry_many, without_hooks};
use crate::measure::instructions;

/// How much a count may grow before the gate fails: 3%.
const TOLERANCE: f64 = 0.03;

/// Calls (or items) per count: enough that a one-off cost (a lazily built registry, a
/// thread-local's first use) is under a hundredth of an instruction per call.
const N: u64 = 20_000;

/// The contenders only the gate counts: a budget's withdrawal and the items of an iterator
/// and a stream (found by [`crate::by_id`] like any other).
pub(crate) const GATE_ONLY: &[Contender] = contenders! {
    "rs-attr-budget-nohooks" "stamina `#[retry]` under a budget, no hooks" => |_, n, f| without_hooks(|| sync_retry_many(n, f, s::attr_budget_retry));
    "it-attr" "stamina `#[retry]` iterator, `timeout = None`" => |_, n, _| s::attr_items(n).for_each(|item| { black_box(&item); });
    "st-attr" "stamina `#[retry]` stream, `timeout = None`" => |rt, n, _| rt.block_on(async {
        let mut stream = pin!(s::attr_stream(n));
        while let Some(item) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            black_box(&item);
        }
    });
};

/// What a path's count is per.
#[derive(Clone, Copy)]
enum Per {
    Call,
    Retry,
    Item,
}

impl Per {
    fn name(self) -> &'static str {
        match self {
            Per::Call => "call",
            Per::Retry => "retry",
            Per::Item => "item",
        }
    }
}

/// The gated paths: the contender's id, what is counted per, and what the path is.
const PATHS: &[(&str, Per, &str)] = &[
    (
        "hs-attr-none",
        Per::Call,
        "sync happy path, `#[retry]`, `timeout = None`",
    ),
    (
        "hs-attr",
        Per::Call,
        "sync happy path, `#[retry]`, default timeout",
    ),
    (
        "ha-attr-none",
        Per::Call,
        "async happy path, `#[retry]`, `timeout = None`",
    ),
    (
        "ha-attr",
        Per::Call,
        "async happy path, `#[retry]`, default timeout",
    ),
    ("hs-caller", Per::Call, "sync happy path, `RetryingCaller`"),
    ("ha-caller", Per::Call, "async happy path, `RetryingCaller`"),
    (
        "rs-attr-nohooks",
        Per::Retry,
        "sync retry, `#[retry]`, hooks off",
    ),
    (
        "rs-attr",
        Per::Retry,
        "sync retry, `#[retry]`, default hooks, no subscriber",
    ),
    (
        "ra-attr",
        Per::Retry,
        "async retry, `#[retry]`, default hooks, no subscriber",
    ),
    (
        "rs-caller-nohooks",
        Per::Retry,
        "sync retry, `RetryingCaller`, hooks off",
    ),
    (
        "rs-caller",
        Per::Retry,
        "sync retry, `RetryingCaller`, default hooks, no subscriber",
    ),
    (
        "hs-attr-budget",
        Per::Call,
        "a budget's deposit (sync happy path under a budget)",
    ),
    (
        "rs-attr-budget-nohooks",
        Per::Retry,
        "a budget's withdrawal (sync retry under a budget, hooks off)",
    ),
    (
        "tw-stamina",
        Per::Call,
        "the tower layer's happy path, a request without a body",
    ),
    // Not the adaptive delay's: its clock reads `Instant` until 50 ms into the process, then the
    // TSC, so its count depends on how long valgrind took to get there.
    (
        "hh-fixed",
        Per::Call,
        "a hedged call whose primary answers at once, fixed delay",
    ),
    ("it-attr", Per::Item, "an iterator's item, `#[retry]`"),
    ("st-attr", Per::Item, "a stream's item, `#[retry]`"),
];

/// Counts every path, compares the counts with `file` (or rewrites it, with `update`), prints
/// the table, and returns whether the gate passes.
pub(crate) fn gate(file: &str, update: bool) -> bool {
    let mut counts: BTreeMap<(&str, u32, u64), f64> = BTreeMap::new();
    let mut count = |id: &'static str, failures: u32, n: u64| -> f64 {
        *counts.entry((id, failures, n)).or_insert_with(|| {
            instructions(&crate::by_id(id), failures, n).unwrap_or_else(|| {
                panic!("valgrind could not count `{id}` (is valgrind installed?)")
            })
        })
    };
    let new: Vec<(String, &str, u64)> = PATHS
        .iter()
        .map(|&(id, per, what)| {
            let n = N as f64;
            let value = match per {
                Per::Call | Per::Item => (count(id, 0, 2 * N) - count(id, 0, N)) / n,
                Per::Retry => {
                    let failures = s::RETRY_FAILURES;
                    (count(id, failures, N) - count(id, 0, N)) / (n * f64::from(failures))
                }
            };
            (format!("{id}/{}", per.name()), what, value.round() as u64)
        })
        .collect();

    if update {
        let mut out = String::from(HEADER);
        for (key, what, value) in &new {
            writeln!(out, "{key:<30} {value:>6}  # {what}").expect("a String");
        }
        std::fs::write(file, out).unwrap_or_else(|e| panic!("writing {file}: {e}"));
        println!("{file}: {} counts written", new.len());
        return true;
    }

    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {file}: {e}"));
    let old = parse(&text);
    let mut pass = true;
    println!("| path | baseline | now | change | |\n|---|--:|--:|--:|---|");
    for (key, what, value) in &new {
        let (baseline, change, verdict) = match old.get(key.as_str()) {
            None => {
                pass = false;
                ("-".to_owned(), "-".to_owned(), "FAIL: not in the baseline")
            }
            Some(&was) => {
                let change = *value as f64 / was.max(1) as f64 - 1.0;
                let verdict = if change > TOLERANCE {
                    pass = false;
                    "FAIL: grew by more than 3%"
                } else if change < -TOLERANCE {
                    "shrank: update the baseline"
                } else {
                    "ok"
                };
                (was.to_string(), format!("{:+.1}%", change * 100.0), verdict)
            }
        };
        println!("| {what} (`{key}`) | {baseline} | {value} | {change} | {verdict} |");
    }
    for key in old.keys().filter(|k| !new.iter().any(|(n, ..)| n == *k)) {
        println!("| `{key}`: in the baseline, no longer counted | | | | update the baseline |");
    }
    pass
}

const HEADER: &str = "\
# Instructions per call, per retry or per item, counted by valgrind (cachegrind) on x86_64:
# the baseline of the gate in `.ci/run`, which fails when a count grows by more than 3%.
# A change that moves a count updates this file in the same commit, reviewed with the code:
#   cargo bench -p stamina-benches --features tryhard --bench report -- --gate \"$PWD/benches/instructions.txt\" --update
# What each path is: benches/report/gate.rs.
";

/// `key value  # comment` lines; `#` starts a comment.
fn parse(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let (key, value) = line.split_once(char::is_whitespace)?;
            Some((key, value.trim().parse().ok()?))
        })
        .collect()
}
