//! Retry budgets: what tower's `TpsBudget` and stamina's ratio budget grant at each ratio, and
//! what a budget costs a call, on one and two threads.

use std::hint::black_box;
use std::time::{Duration, Instant};

use stamina_benches as s;

use crate::contender::without_hooks;
use crate::measure::median;
use crate::table::fmt_ns;

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

pub(crate) fn budgets() {
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
