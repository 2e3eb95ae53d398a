//! Hedged calls: the happy path with hedging configured (the primary answers before the
//! delay), the estimator's update across threads, and the published tail-latency simulation
//! (lognormal latencies with a 5 ms mean, 5% stragglers at 10x) run through stamina's hedged
//! caller on a `TestClock`'s virtual time, exact to the nanosecond.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::{Duration, Instant};

use stamina::RetryingCaller;
use stamina::hedge::{HedgeEstimator, Hedging};
use stamina::testing::TestClock;

use crate::{OpError, op, op_async, retry_all};

static NO_TIMEOUT: RetryingCaller = RetryingCaller::new().no_timeout();
static HAPPY_ESTIMATOR: HedgeEstimator = HedgeEstimator::new();
const FIXED: Hedging = Hedging::fixed(Duration::from_millis(10));

/// `call_hedged` with a fixed 10 ms delay, the op ready at once.
pub fn hedged_fixed_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    NO_TIMEOUT.call_hedged(FIXED, retry_all, move || op_async(x))
}

/// `call_hedged` with an adaptive delay, the op ready at once (each call records its latency).
pub fn hedged_adaptive_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    NO_TIMEOUT.call_hedged(Hedging::adaptive(&HAPPY_ESTIMATOR), retry_all, move || {
        op_async(x)
    })
}

/// The op, after yielding to the executor once: a call that has to wait, as any I/O does.
pub async fn op_yielding(x: u64) -> Result<u64, OpError> {
    tokio::task::yield_now().await;
    op(x)
}

/// `call_async`, `no_timeout()`, around [`op_yielding`].
pub fn caller_yielding_happy_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    NO_TIMEOUT.call_async(retry_all, move || op_yielding(x))
}

/// `call_hedged` with a fixed 10 ms delay around [`op_yielding`]: the hedge timer is set (the
/// primary had to wait) and dropped unfired.
pub fn hedged_fixed_yielding_async(x: u64) -> impl Future<Output = Result<u64, OpError>> {
    NO_TIMEOUT.call_hedged(FIXED, retry_all, move || op_yielding(x))
}

/// Nanoseconds per [`HedgeEstimator::record`] on `threads` threads recording into one
/// estimator, `n` calls each (latencies spread over a few buckets, as real ones are), and the
/// estimator's [`sample_every`](HedgeEstimator::sample_every) at the end.
///
/// `steady`: the estimator has first taken calls for 200 ms, so that its stride follows their
/// rate (one call in `sample_every` records: what a hedged call pays). Else it is fresh and
/// every call records (the cost of one sampled latency: a fresh estimator samples every call
/// until it has measured the rate, 15 ms on; `n` is kept small enough to end before).
///
/// # Panics
///
/// If a thread panics.
#[must_use]
pub fn estimator_record_ns(threads: usize, n: u64, steady: bool) -> (f64, u32) {
    let estimator: &'static HedgeEstimator = Box::leak(Box::new(HedgeEstimator::new()));
    let record = |t: usize, n: u64| {
        for i in 0..n {
            let us = 3_000 + (i * 7919 + t as u64 * 104_729) % 8_000;
            estimator.record(Duration::from_micros(us));
        }
    };
    if steady {
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_millis(200) {
            record(0, 10_000);
        }
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || record(t, n));
        }
    });
    // CPU time per record: the wall time on the cores the threads had, over every record
    // (8 threads on 2 cores take turns; the contention between cores is what remains).
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let busy = threads.min(cores) as f64;
    let ns = start.elapsed().as_secs_f64() * 1e9 * busy / (threads as f64 * n as f64);
    (ns, estimator.sample_every())
}

/// The simulated dependency: lognormal latencies (mean 5 ms, sigma 0.4), 5% of them 10 times
/// longer, from a seeded generator.
#[derive(Debug)]
pub struct Latencies {
    rng: fastrand::Rng,
}

impl Latencies {
    /// The generator, seeded.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Latencies {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// One latency.
    pub fn draw(&mut self) -> Duration {
        const SIGMA: f64 = 0.4;
        let mu = 5f64.ln() - SIGMA * SIGMA / 2.0;
        // Box-Muller.
        let (u1, u2) = (1.0 - self.rng.f64(), self.rng.f64());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let mut ms = (mu + SIGMA * z).exp();
        if self.rng.f64() < 0.05 {
            ms *= 10.0;
        }
        Duration::from_secs_f64(ms / 1e3)
    }
}

/// What a simulation measured.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// The median latency of a call.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// Tries sent beyond one per call, as a fraction of calls.
    pub extra_load: f64,
    /// The hedge delay at the end (adaptive: the estimator's).
    pub delay: Option<Duration>,
}

/// The percentile `q` of sorted latencies.
#[must_use]
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `latencies` and the tries they took.
#[must_use]
pub fn summarise(mut latencies: Vec<Duration>, tries: u64, delay: Option<Duration>) -> Simulated {
    latencies.sort_unstable();
    let calls = latencies.len() as f64;
    Simulated {
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        extra_load: (tries as f64 - calls) / calls,
        delay,
    }
}

/// `calls` calls, one after the other, through stamina's hedged caller on a `TestClock`: each
/// try sleeps a latency drawn from [`Latencies`] on the virtual clock (`None`: no hedging).
///
/// # Panics
///
/// If a call fails (none can).
#[must_use]
pub fn simulate_stamina(hedging: Option<Hedging>, calls: usize, seed: u64) -> Simulated {
    let clock = TestClock::new();
    let caller = RetryingCaller::new()
        .no_timeout()
        .attempts(1)
        .name("simulation");
    let latencies = RefCell::new(Latencies::new(seed));
    let tries = Cell::new(0u64);
    let mut observed = Vec::with_capacity(calls);
    for _ in 0..calls {
        let began = clock.elapsed();
        let op = || {
            tries.set(tries.get() + 1);
            let sleep = clock.sleep(latencies.borrow_mut().draw());
            async move {
                sleep.await;
                Ok::<(), OpError>(())
            }
        };
        let result = match hedging {
            Some(hedging) => clock.block_on(caller.call_hedged(hedging, retry_all, op)),
            None => clock.block_on(caller.call_async(retry_all, op)),
        };
        result.expect("no failures");
        observed.push(clock.elapsed().saturating_sub(began));
    }
    summarise(observed, tries.get(), hedging.and_then(|h| h.delay()))
}
