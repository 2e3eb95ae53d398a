//! Hedging's tail-latency simulation, as published (bhope/hedge; `frontier.md`, section 2):
//! lognormal latencies with a 5 ms mean (sigma 0.4), 5% stragglers at 10x, 50,000 calls one
//! after the other; each try's latency an independent draw. stamina's hedged caller runs it on
//! a `TestClock`'s virtual time (exact to the nanosecond, in well under a second); tower 0.5's
//! `hedge` runs it on a paused tokio clock, beside stamina on the same clock.
//!
//! ```text
//! cargo bench -p stamina-benches --features hedge-sim --bench hedging
//! ```
//!
//! A paused tokio clock moves in whole milliseconds: each sleep is rounded up to the next
//! millisecond, so the rows on it read up to 1 ms slower than the virtual-time rows.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use stamina::RetryingCaller;
use stamina::hedge::{HedgeEstimator, Hedging};
use stamina_benches::{Latencies, Simulated, simulate_stamina, summarise};
use tower::{BoxError, Service, ServiceExt};

const CALLS: usize = 50_000;
const SEED: u64 = 0x5eed;

/// tower's hedge policy: every request may be hedged.
#[derive(Clone)]
struct Always;

impl tower::hedge::Policy<()> for Always {
    fn clone_request(&self, (): &()) -> Option<()> {
        Some(())
    }

    fn can_retry(&self, (): &()) -> bool {
        true
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a paused runtime")
}

/// tower's `Hedge` (one hedge after the latency percentile `percentile` of a rotating
/// histogram of successes, after 20 data points, over 30 s), on a paused tokio clock. Also the
/// median delay it waited before its hedges, read from when each hedge arrived.
fn simulate_tower(percentile: f32) -> Simulated {
    paused_runtime().block_on(async {
        let latencies = Rc::new(RefCell::new(Latencies::new(SEED)));
        let tries = Rc::new(Cell::new(0u64));
        // When the call under way began, and when its second try arrived.
        let began = Rc::new(Cell::new(tokio::time::Instant::now()));
        let delays = Rc::new(RefCell::new(Vec::new()));
        let service = {
            let (latencies, tries, began, delays) = (
                latencies.clone(),
                tries.clone(),
                began.clone(),
                delays.clone(),
            );
            tower::service_fn(move |(): ()| {
                tries.set(tries.get() + 1);
                let now = tokio::time::Instant::now();
                if now > began.get() {
                    delays.borrow_mut().push(now - began.get());
                }
                let latency = latencies.borrow_mut().draw();
                async move {
                    tokio::time::sleep(latency).await;
                    Ok::<(), BoxError>(())
                }
            })
        };
        let mut hedge =
            tower::hedge::Hedge::new(service, Always, 20, percentile, Duration::from_secs(30));
        let mut observed = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = tokio::time::Instant::now();
            began.set(start);
            let ready = hedge.ready().await.expect("ready");
            ready.call(()).await.expect("no failures");
            observed.push(start.elapsed());
        }
        let mut delays = delays.take();
        delays.sort_unstable();
        let delay = delays.get(delays.len() / 2).copied();
        summarise(observed, tries.get(), delay)
    })
}

/// stamina's hedged caller on the same paused tokio clock: its hedge timer is tokio's, the
/// estimator reads tokio's clock (stamina's `test-util` feature).
fn simulate_stamina_on_tokio(hedging: Hedging) -> Simulated {
    paused_runtime().block_on(async {
        let caller = RetryingCaller::new().no_timeout().attempts(1);
        let latencies = RefCell::new(Latencies::new(SEED));
        let tries = Cell::new(0u64);
        let mut observed = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = tokio::time::Instant::now();
            let op = || {
                tries.set(tries.get() + 1);
                let sleep = tokio::time::sleep(latencies.borrow_mut().draw());
                async move {
                    sleep.await;
                    Ok::<(), ()>(())
                }
            };
            caller
                .call_hedged(hedging, |(): &()| true, op)
                .await
                .expect("no failures");
            observed.push(start.elapsed());
        }
        summarise(observed, tries.get(), hedging.delay())
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn row(label: &str, clock: &str, r: &Simulated) {
    println!(
        "| {label} | {clock} | {} | {} | {:.1}% | {} |",
        ms(r.p50),
        ms(r.p99),
        r.extra_load * 100.0,
        r.delay.map_or_else(|| "–".to_owned(), ms),
    );
}

fn main() {
    static ADAPTIVE_5: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.05);
    static ADAPTIVE_75: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.075);
    static ADAPTIVE_75_TOKIO: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.075);

    println!(
        "## Hedging: {CALLS} calls, lognormal latencies (mean 5 ms, sigma 0.4), 5% stragglers at 10x\n"
    );
    println!("| contender | clock | p50 | p99 | extra load | hedge delay (at the end) |");
    println!("|---|---|--:|--:|--:|--:|");
    let none = simulate_stamina(None, CALLS, SEED);
    row("no hedging", "virtual", &none);
    for d in [9, 10, 11] {
        let fixed = Hedging::fixed(Duration::from_millis(d));
        let r = simulate_stamina(Some(fixed), CALLS, SEED);
        row(&format!("stamina, fixed {d} ms"), "virtual", &r);
    }
    let adaptive_5 = simulate_stamina(Some(Hedging::adaptive(&ADAPTIVE_5)), CALLS, SEED);
    row(
        "stamina, adaptive, `max_extra_load(0.05)`",
        "virtual",
        &adaptive_5,
    );
    let adaptive = simulate_stamina(Some(Hedging::adaptive(&ADAPTIVE_75)), CALLS, SEED);
    row(
        "stamina, adaptive, `max_extra_load(0.075)`",
        "virtual",
        &adaptive,
    );
    let on_tokio = simulate_stamina_on_tokio(Hedging::adaptive(&ADAPTIVE_75_TOKIO));
    row(
        "stamina, adaptive, `max_extra_load(0.075)`",
        "tokio, paused",
        &on_tokio,
    );
    let tower_95 = simulate_tower(0.95);
    row("tower `hedge`, p95", "tokio, paused", &tower_95);
    let tower = simulate_tower(0.925);
    row("tower `hedge`, p92.5", "tokio, paused", &tower);
    println!();
    println!(
        "Published (bhope/hedge): no hedging p99 65.0 ms; static 10 ms 17.5 ms at 7.7%; \
         adaptive (DDSketch) 17.3 ms at 8.9%.\n"
    );
    println!("| bar | measured | met |\n|---|--:|:-:|");
    let met = adaptive.p99 <= Duration::from_millis(17) && adaptive.extra_load <= 0.08;
    println!(
        "| stamina adaptive: p99 ≤ 17 ms at ≤ 8% extra load (virtual time) | {} at {:.1}% | {} |",
        ms(adaptive.p99),
        adaptive.extra_load * 100.0,
        if met { "yes" } else { "**no**" }
    );
    let beats = adaptive.p99 <= tower.p99 && adaptive.extra_load <= tower.extra_load;
    println!(
        "| stamina adaptive ≤ tower `hedge` at the same percentile, in p99 and extra load | {} / {:.1}% vs {} / {:.1}% | {} |",
        ms(adaptive.p99),
        adaptive.extra_load * 100.0,
        ms(tower.p99),
        tower.extra_load * 100.0,
        if beats { "yes" } else { "**no**" }
    );
    println!();
}
