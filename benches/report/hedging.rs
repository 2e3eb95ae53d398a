//! Hedged calls: the happy path with hedging configured (the primary answers before the delay)
//! beside the same call without hedging, and the adaptive estimator's update on 1, 2 and 8
//! threads. The tail-latency simulation, beside tower's `hedge`, is the `hedging` bench (it
//! needs tokio's paused clock).

use stamina_benches as s;
use tokio::runtime::Runtime;

use crate::bars::Bars;
use crate::contender::{Contender, async_many, contenders};
use crate::happy::happy_table;
use crate::measure::{Config, median};

pub(crate) const HAPPY_HEDGED: &[Contender] = contenders! {
    "hh-caller" "stamina `call_async`, `no_timeout()`" => |rt, n, _| async_many(rt, n, s::caller_no_timeout_happy_async);
    "hh-fixed" "stamina `call_hedged`, fixed 10 ms" => |rt, n, _| async_many(rt, n, s::hedged_fixed_happy_async);
    "hh-adaptive" "stamina `call_hedged`, adaptive" => |rt, n, _| async_many(rt, n, s::hedged_adaptive_happy_async);
    "hh-caller-yield" "stamina `call_async`, `no_timeout()`, the op yields once" => |rt, n, _| async_many(rt, n, s::caller_yielding_happy_async);
    "hh-fixed-yield" "stamina `call_hedged`, fixed 10 ms, the op yields once" => |rt, n, _| async_many(rt, n, s::hedged_fixed_yielding_async);
};

pub(crate) fn hedging(rt: &Runtime, cfg: &Config, bars: &mut Bars) {
    println!("## Hedged calls, the primary answering before the delay\n");
    let table = happy_table(rt, cfg, HAPPY_HEDGED, &["hh-caller", "hh-caller-yield"]);
    for (id, den) in [
        ("hh-fixed", "hh-caller"),
        ("hh-adaptive", "hh-caller"),
        ("hh-fixed-yield", "hh-caller-yield"),
    ] {
        bars.ratio("hedged happy path", &table, id, den, 2.0);
    }
    bars.no_allocations("hedged happy path", &table);

    println!("## The adaptive hedge delay: its cost, on threads sharing one estimator\n");
    println!(
        "Per call in the steady state (the estimator has measured the rate of calls: one in \
         `sample_every` records its latency), and per sampled latency (a fresh estimator, which \
         records every call). Median of 7.\n"
    );
    println!(
        "| threads | ns per call, steady | `sample_every` | ns per sampled latency |\n|--:|--:|--:|--:|"
    );
    for threads in [1, 2, 8] {
        let run = |steady: bool, n: u64| {
            let runs: Vec<(f64, u32)> = (0..7)
                .map(|_| s::estimator_record_ns(threads, n, steady))
                .collect();
            let stride = runs[0].1;
            (median(runs.into_iter().map(|(ns, _)| ns).collect()), stride)
        };
        let (per_call, stride) = run(true, 200_000);
        let (per_sample, fresh) = run(false, 20_000 / threads as u64);
        assert_eq!(fresh, 1, "the fresh estimator's calls were all recorded");
        println!("| {threads} | {per_call:.1} | {stride} | {per_sample:.1} |");
        bars.push(
            format!("adaptive hedge delay: per call on {threads} thread(s) ≤ 35 ns"),
            format!("{per_call:.1} ns"),
            per_call <= 35.0,
        );
    }
    println!();
}
