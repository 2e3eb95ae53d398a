//! Measuring: batches sized to take about the sample time, the contenders of a table taking
//! turns, round after round; a contender's time is the median of its batches. Also the heap
//! allocations per call (`allocation_counter`) and the instructions per call (valgrind's
//! cachegrind, through this binary's `--count` mode).

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::contender::Contender;

pub(crate) struct Config {
    pub(crate) rounds: usize,
    pub(crate) sample: Duration,
    pub(crate) instructions: bool,
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

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        f64::midpoint(v[mid - 1], v[mid])
    }
}

/// The median ns per call of each `(contender, failures)`, the contenders taking turns.
pub(crate) fn time_all(rt: &Runtime, cfg: &Config, list: &[(Contender, u32)]) -> Vec<f64> {
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
pub(crate) fn allocs_per_call(rt: &Runtime, c: &Contender, failures: u32, n: u64) -> f64 {
    (c.run)(rt, n, failures); // warm-up: thread-locals, caches, lazily built hooks
    let count = |n| allocation_counter::measure(|| (c.run)(rt, n, failures)).count_total;
    let one = count(n);
    count(2 * n).saturating_sub(one) as f64 / n as f64
}

/// Instructions per call from valgrind's cachegrind: this binary runs the contender `n` and `2n`
/// times, and the difference is divided by `n`.
pub(crate) fn instructions_per_call(c: &Contender, failures: u32, n: u64) -> Option<f64> {
    Some((instructions(c, failures, 2 * n)? - instructions(c, failures, n)?) / n as f64)
}

/// The instructions of one run of this binary under valgrind's cachegrind, making `n` calls of
/// the contender (its `--count` mode); `None` when valgrind is missing or fails.
pub(crate) fn instructions(c: &Contender, failures: u32, n: u64) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
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
    if !out.status.success() {
        return None;
    }
    // `==PID== I   refs:      13,912,747`: the count is the line's last word (the PID's digits
    // are not part of it; valgrind pads `I refs` differently across versions).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("refs:"))?;
    line.split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}
