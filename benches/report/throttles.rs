//! Throttles: the check before an attempt and the count of a reply, on 1, 2 and 8 threads
//! sharing one throttle, beside google-cloud-gax's form (two counters behind a mutex). The
//! outage they act on is `examples/throttle.rs`, on virtual time.

use stamina_benches::{self as s, ThrottleOp};

use crate::bars::Bars;
use crate::measure::median;

const ROWS: &[(ThrottleOp, &str)] = &[
    (ThrottleOp::AdaptiveCheck, "stamina adaptive: the check"),
    (
        ThrottleOp::AdaptiveRecord,
        "stamina adaptive: a reply counted",
    ),
    (ThrottleOp::AdaptiveCall, "stamina adaptive: check + reply"),
    (
        ThrottleOp::RateLimiterOff,
        "stamina rate limiter, off: check + reply",
    ),
    (
        ThrottleOp::GaxMutex,
        "google-cloud-gax's form (mutex): check + reply",
    ),
];

pub(crate) fn throttles(bars: &mut Bars) {
    println!("## Throttles: what a call pays to ask one\n");
    println!(
        "ns of CPU per operation, threads sharing one throttle (median of 7; 8 threads on \
         {} cores take turns, so what grows is contention).\n",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    // The clock's first 50 ms read the OS's clock while the TSC's rate is measured: past them.
    let _ = s::throttle_ns(ThrottleOp::AdaptiveRecord, 1, 1_000);
    std::thread::sleep(std::time::Duration::from_millis(60));
    println!("| operation | 1 thread | 2 threads | 8 threads |\n|---|--:|--:|--:|");
    for &(op, label) in ROWS {
        let ns: Vec<f64> = [1, 2, 8]
            .iter()
            .map(|&threads| {
                median(
                    (0..7)
                        .map(|_| s::throttle_ns(op, threads, 200_000))
                        .collect(),
                )
            })
            .collect();
        println!("| {label} | {:.1} | {:.1} | {:.1} |", ns[0], ns[1], ns[2]);
        if op == ThrottleOp::AdaptiveCheck {
            bars.push(
                "throttle: the check, uncontended ≤ 10 ns".to_owned(),
                format!("{:.1} ns", ns[0]),
                ns[0] <= 10.0,
            );
            bars.push(
                "throttle: the check on 8 threads ≤ 2x on 1 (no lock)".to_owned(),
                format!("{:.2}x", ns[2] / ns[0]),
                ns[2] <= 2.0 * ns[0],
            );
        }
        if op == ThrottleOp::AdaptiveCall {
            bars.push(
                "throttle: check + reply on 8 threads ≤ 2x on 1".to_owned(),
                format!("{:.2}x", ns[2] / ns[0]),
                ns[2] <= 2.0 * ns[0],
            );
        }
    }
    println!();
}
