//! The adaptive hedge delay: a latency percentile of recent calls, lock-free.
//!
//! Latencies go into a log-linear histogram (16 buckets per power of two: each within 6.25% of
//! its value, read with linear interpolation inside the bucket), from about 1 µs to 68 s, in two
//! halves of the window that take turns: the percentile reads both, so it covers between one
//! half and the whole window, and a latency older than the window is forgotten.
//!
//! One call in [`sample_every`](HedgeEstimator::sample_every) of each thread is recorded (a
//! thread-local count picks it, so the sample does not depend on the latency and the percentile
//! is unbiased): the calls not picked read no clock. The stride starts at 1 (every call) and
//! follows the rate of calls, a power of two up to [`MAX_SAMPLE_EVERY`], so that a window holds
//! between about 500 and 2,000 latencies per half: a dependency called a few times a second is
//! measured on every call, one called a million times a second on one call in 128. A record is
//! one relaxed `fetch_add` on its bucket. The delay, which the
//! hot path reads with one load, is recomputed by the first record after a refresh interval (a
//! 1024th of the half-window: 15 ms by default), and by every record while there is none (so
//! that the warm-up ends at the record that completes it): at a high rate one record in many
//! thousands scans the buckets, which keeps the scan off the other threads' cache lines. No
//! lock anywhere.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ConfigError;

/// Sub-buckets per power of two.
const SUB: usize = 16;
const SUB_BITS: u32 = 4;
/// Latencies are counted in units of 2^10 ns (1.024 µs).
const UNIT_BITS: u32 = 10;
/// Powers of two tracked: 2^26 units is 68.7 s; anything longer is in the last bucket.
const LEVELS: usize = 27 - SUB_BITS as usize;
const BUCKETS: usize = SUB + LEVELS * SUB;
/// No delay: hedging is off (warming up, or the percentile is out of range).
const NONE: u64 = u64::MAX;
/// The refresh interval is the half-window shifted right by this (15 ms of the default 30 s).
const REFRESH_SHIFT: u32 = 10;
/// The most calls per sample: at a million calls a second, a record costs a sampled call's
/// clock reads and bucket once in this many calls.
pub const MAX_SAMPLE_EVERY: u32 = 128;
/// Samples per half-window that the stride keeps between, projected from the samples since the
/// last refresh: outside, it is set at once to the power of two that gives about `SAMPLES_AIM`.
const SAMPLES_LOW: u64 = 512;
const SAMPLES_HIGH: u64 = 2048;
const SAMPLES_AIM: u64 = 1024;

/// The bucket of a latency of `units`.
#[inline]
#[allow(clippy::cast_possible_truncation, reason = "bounded by BUCKETS")]
fn bucket(units: u64) -> usize {
    if units < SUB as u64 {
        return units as usize;
    }
    let level = units.ilog2(); // >= SUB_BITS
    let sub = (units >> (level - SUB_BITS)) as usize & (SUB - 1);
    ((level - SUB_BITS + 1) as usize * SUB + sub).min(BUCKETS - 1)
}

/// The lowest latency of bucket `b`, and the bucket's width, in units.
fn bounds(b: usize) -> (u64, u64) {
    if b < SUB {
        return (b as u64, 1);
    }
    let level = (b / SUB) as u32 - 1 + SUB_BITS;
    let sub = (b % SUB) as u64;
    let width = 1u64 << (level - SUB_BITS);
    (((SUB as u64) + sub) * width, width)
}

/// An adaptive hedge delay: the latency percentile `1 - max_extra_load` of the recent calls
/// that share it, as Finagle's backup requests pick theirs. A `static`, named by the calls it
/// measures ([`Hedging::adaptive`](super::Hedging::adaptive)).
///
/// ```
/// use std::time::Duration;
/// use stamina::hedge::HedgeEstimator;
///
/// // Hedge the slowest 5% of calls, learnt over the last 30 s, never sooner than 1 ms.
/// static SEARCH: HedgeEstimator = HedgeEstimator::new()
///     .max_extra_load(0.05)
///     .window(Duration::from_secs(30))
///     .floor(Duration::from_millis(1));
/// assert_eq!(SEARCH.delay(), None, "no hedge before the warm-up's calls are in");
/// ```
///
/// What it measures: the latency of each call's first try (its primary) that succeeded, or
/// that was still running when a hedge won (censored: the time it had run, which is above the
/// delay, so the count above the percentile stays right). Tries that fail are left out (a fast
/// failure would pull the delay down, as Finagle notes), and so are the hedges (a hedge that
/// wins is a fast sample by selection).
///
/// The delay is off ([`delay`](Self::delay) `None`) until `warmup` latencies are in the window,
/// and while the percentile is at or above the `ceiling` (an outage: every call is slow, and
/// hedging would double the load on a dependency that cannot take it).
pub struct HedgeEstimator {
    /// `1 - max_extra_load`, in parts per million.
    quantile_ppm: u32,
    /// Half the window, in nanoseconds.
    half_ns: u64,
    warmup: u32,
    floor_ns: u64,
    ceiling_ns: u64,
    /// The half-window under way: its number since the clock's base.
    epoch: AtomicU64,
    halves: [Half; 2],
    /// The delay in nanoseconds, or [`NONE`].
    delay: AtomicU64,
    /// When the delay is next recomputed, on the crate's clock in nanoseconds.
    next_refresh: AtomicU64,
    /// One call in this many is sampled (a power of two); changed only by a refresh, so that
    /// the samples between two refreshes were taken at one stride.
    stride: AtomicU32,
    /// What the last refresh saw: the samples in the window, when, and in which half-window
    /// (written by the refreshing record alone, which the interval's claim elects).
    last_total: AtomicU64,
    last_ns: AtomicU64,
    last_epoch: AtomicU64,
}

struct Half {
    buckets: [AtomicU32; BUCKETS],
}

impl Half {
    const fn new() -> Self {
        Half {
            buckets: [const { AtomicU32::new(0) }; BUCKETS],
        }
    }

    fn clear(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
    }
}

impl Default for HedgeEstimator {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// The calls of this thread until its next sample, that one included (no destructor).
    static CALLS: Cell<u32> = const { Cell::new(0) };
}

impl HedgeEstimator {
    /// Finagle's defaults, with bhope/hedge's warm-up: at most 5% extra load (the p95 of
    /// latency), a 30 s window, 20 latencies (20 calls, sampled at first) before the first hedge, a
    /// 1 ms floor and a 2 s ceiling.
    #[must_use]
    pub const fn new() -> Self {
        HedgeEstimator {
            quantile_ppm: 950_000,
            half_ns: 15_000_000_000,
            warmup: 20,
            floor_ns: 1_000_000,
            ceiling_ns: 2_000_000_000,
            epoch: AtomicU64::new(0),
            halves: [Half::new(), Half::new()],
            delay: AtomicU64::new(NONE),
            next_refresh: AtomicU64::new(0),
            stride: AtomicU32::new(1),
            last_total: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            last_epoch: AtomicU64::new(u64::MAX),
        }
    }

    /// The extra load hedging may add, as a fraction of calls (default 0.05): the delay is the
    /// latency percentile `1 - max_extra_load`, so that about that fraction of calls is still
    /// running when it passes. Clamped to 0.000001..=0.5, NaN is the default;
    /// [`try_max_extra_load`](Self::try_max_extra_load) reports such values instead.
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped first"
    )]
    pub const fn max_extra_load(mut self, load: f64) -> Self {
        let load = if load.is_nan() {
            0.05
        } else if load < 0.000_001 {
            0.000_001
        } else if load > 0.5 {
            0.5
        } else {
            load
        };
        self.quantile_ppm = 1_000_000 - (load * 1_000_000.0 + 0.5) as u32;
        self
    }

    /// Like [`max_extra_load`](Self::max_extra_load), but outside (0, 0.5], or NaN, is an
    /// error.
    pub const fn try_max_extra_load(self, load: f64) -> Result<Self, ConfigError> {
        if load > 0.0 && load <= 0.5 {
            Ok(self.max_extra_load(load))
        } else {
            Err(ConfigError::InvalidHedging(
                "the extra load of an adaptive hedge must be above 0 and at most 0.5 (0.05: the slowest 5% of calls are hedged)",
            ))
        }
    }

    /// The time over which latencies count (default 30 s): between 1 s and 10 min, nearer
    /// clamped; [`try_window`](Self::try_window) reports such values instead.
    #[must_use]
    pub const fn window(mut self, window: Duration) -> Self {
        let ns = window.as_nanos();
        let ns = if ns < 1_000_000_000 {
            1_000_000_000
        } else if ns > 600_000_000_000 {
            600_000_000_000
        } else {
            ns
        };
        #[allow(clippy::cast_possible_truncation, reason = "at most 6e11")]
        {
            self.half_ns = (ns / 2) as u64;
        }
        self
    }

    /// Like [`window`](Self::window), but outside 1 s to 10 min is an error.
    pub const fn try_window(self, window: Duration) -> Result<Self, ConfigError> {
        if window.as_secs() >= 1 && window.as_nanos() <= 600_000_000_000 {
            Ok(self.window(window))
        } else {
            Err(ConfigError::InvalidHedging(
                "the window of an adaptive hedge must be between 1 s and 10 min",
            ))
        }
    }

    /// The latencies in the window before the first hedge (default 20; 0 is 1): sampled ones,
    /// which at first are every call's (see [`sample_every`](Self::sample_every)).
    #[must_use]
    pub const fn warmup(mut self, calls: u32) -> Self {
        self.warmup = if calls == 0 { 1 } else { calls };
        self
    }

    /// The shortest delay (default 1 ms): a percentile below it is raised to it.
    #[must_use]
    pub const fn floor(mut self, floor: Duration) -> Self {
        self.floor_ns = saturating_nanos(floor);
        self
    }

    /// The longest trackable delay (default 2 s): a percentile at or above it stops hedging
    /// until it falls back below (an outage).
    #[must_use]
    pub const fn ceiling(mut self, ceiling: Duration) -> Self {
        self.ceiling_ns = saturating_nanos(ceiling);
        self
    }

    /// Like setting [`floor`](Self::floor) and [`ceiling`](Self::ceiling), but a floor above
    /// the ceiling, or a ceiling beyond the histogram's 68 s, is an error.
    pub const fn try_bounds(self, floor: Duration, ceiling: Duration) -> Result<Self, ConfigError> {
        if saturating_nanos(floor) < saturating_nanos(ceiling) && ceiling.as_secs() <= 68 {
            Ok(self.floor(floor).ceiling(ceiling))
        } else {
            Err(ConfigError::InvalidHedging(
                "the floor of an adaptive hedge must be below its ceiling, and the ceiling at most 68 s",
            ))
        }
    }

    /// The extra load it is set for.
    #[must_use]
    pub fn get_max_extra_load(&self) -> f64 {
        f64::from(1_000_000 - self.quantile_ppm) / 1_000_000.0
    }

    /// The hedge delay now: `None` while warming up or while the percentile is at or above the
    /// ceiling. For dashboards (Finagle's `send_backup_after_ms`) and tests.
    #[must_use]
    pub fn delay(&self) -> Option<Duration> {
        match self.delay.load(Ordering::Relaxed) {
            NONE => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// The latencies counted in the window now (the sampled ones: one call in
    /// [`sample_every`](Self::sample_every)).
    #[must_use]
    pub fn samples(&self) -> u64 {
        self.halves
            .iter()
            .flat_map(|h| &h.buckets)
            .map(|b| u64::from(b.load(Ordering::Relaxed)))
            .sum()
    }

    /// One call in this many is sampled now: 1 at first, then a power of two that follows the
    /// rate of calls, up to [`MAX_SAMPLE_EVERY`]. For dashboards and tests.
    #[must_use]
    pub fn sample_every(&self) -> u32 {
        self.stride.load(Ordering::Relaxed)
    }

    /// Counts one call of this thread, and says whether its latency is one to record: one call
    /// in [`sample_every`](Self::sample_every).
    #[inline]
    pub(crate) fn sample(&self) -> bool {
        // A countdown: the stride is read only by the call it picks.
        CALLS.with(|c| {
            let left = c.get();
            if left > 1 {
                c.set(left - 1);
                false
            } else {
                c.set(self.stride.load(Ordering::Relaxed));
                true
            }
        })
    }

    /// Counts the latency of one call that ended now, for latencies measured elsewhere (a tower
    /// layer of one's own, a client's metrics), as a hedged call counts its primary's: one call
    /// in [`sample_every`](Self::sample_every) of each thread is recorded, and only those read
    /// the clock.
    #[inline]
    pub fn record(&self, latency: Duration) {
        if self.sample() {
            let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
            self.record_at(ns, crate::clock::quick_nanos());
        }
    }

    /// Records one latency, ended at `now_ns` on the crate's clock.
    #[inline]
    pub(crate) fn record_at(&self, latency_ns: u64, now_ns: u64) {
        let epoch = now_ns / self.half_ns;
        let seen = self.epoch.load(Ordering::Relaxed);
        if epoch != seen {
            self.rotate(seen, epoch);
        }
        #[allow(clippy::cast_possible_truncation, reason = "the parity")]
        let half = &self.halves[(epoch & 1) as usize];
        half.buckets[bucket(latency_ns >> UNIT_BITS)].fetch_add(1, Ordering::Relaxed);
        let due = self.next_refresh.load(Ordering::Relaxed);
        if now_ns >= due || self.delay.load(Ordering::Relaxed) == NONE {
            self.refresh_due(due, now_ns);
        }
    }

    /// The refresh interval has passed, or there is no delay (warming up, or past the
    /// ceiling: every record refreshes, so that the first hedge need not wait): the record that
    /// claims the interval recomputes the delay and sets the next one.
    #[cold]
    #[inline(never)]
    fn refresh_due(&self, due: u64, now_ns: u64) {
        let next = now_ns.saturating_add(self.half_ns >> REFRESH_SHIFT);
        if self
            .next_refresh
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            || self.delay.load(Ordering::Relaxed) == NONE
        {
            let total = self.refresh();
            self.pace(total, now_ns);
        }
    }

    /// Sets the stride from the samples since the last refresh, all taken at the stride now
    /// (only a refresh changes it): when they project to more than [`SAMPLES_HIGH`] or fewer
    /// than [`SAMPLES_LOW`] a half-window, to the power of two that gives about
    /// [`SAMPLES_AIM`]. A half-window that began in between, or a refresh too soon after the
    /// last to project from, leaves it.
    fn pace(&self, total: u64, now_ns: u64) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let last_total = self.last_total.load(Ordering::Relaxed);
        let elapsed = now_ns.saturating_sub(self.last_ns.load(Ordering::Relaxed));
        let comparable = epoch == self.last_epoch.load(Ordering::Relaxed) && total >= last_total;
        if comparable && elapsed < self.half_ns >> REFRESH_SHIFT {
            return; // too soon: the next refresh projects from the same mark
        }
        self.last_total.store(total, Ordering::Relaxed);
        self.last_ns.store(now_ns, Ordering::Relaxed);
        self.last_epoch.store(epoch, Ordering::Relaxed);
        if !comparable {
            return;
        }
        let projected =
            u128::from(total - last_total) * u128::from(self.half_ns) / u128::from(elapsed);
        if (u128::from(SAMPLES_LOW)..=u128::from(SAMPLES_HIGH)).contains(&projected) {
            return;
        }
        // The calls a half-window, over the samples it should hold: the stride at once.
        let stride = u128::from(self.stride.load(Ordering::Relaxed));
        let wanted = (projected * stride / u128::from(SAMPLES_AIM)).max(1);
        let stride = u32::try_from(wanted.next_power_of_two())
            .map_or(MAX_SAMPLE_EVERY, |s| s.min(MAX_SAMPLE_EVERY));
        self.stride.store(stride, Ordering::Relaxed);
    }

    /// A new half-window began: the thread that moves the epoch clears the half it reuses (both,
    /// after a whole window without a record).
    #[cold]
    fn rotate(&self, seen: u64, epoch: u64) {
        if epoch < seen
            || self
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        #[allow(clippy::cast_possible_truncation, reason = "the parity")]
        self.halves[(epoch & 1) as usize].clear();
        if epoch > seen + 1 {
            #[allow(clippy::cast_possible_truncation, reason = "the parity")]
            self.halves[((epoch + 1) & 1) as usize].clear();
        }
        self.refresh();
    }

    /// Recomputes the delay from both halves; returns the samples in the window.
    #[cold]
    #[inline(never)]
    fn refresh(&self) -> u64 {
        let count = |b: usize| {
            u64::from(self.halves[0].buckets[b].load(Ordering::Relaxed))
                + u64::from(self.halves[1].buckets[b].load(Ordering::Relaxed))
        };
        let total: u64 = (0..BUCKETS).map(count).sum();
        if total < u64::from(self.warmup) {
            self.delay.store(NONE, Ordering::Relaxed);
            return total;
        }
        // The rank of the percentile among `total` latencies, in millionths.
        let rank = u128::from(total) * u128::from(self.quantile_ppm);
        let mut below = 0u64;
        let mut delay = NONE;
        for b in 0..BUCKETS {
            let n = count(b);
            if n == 0 {
                continue;
            }
            if u128::from(below + n) * 1_000_000 >= rank {
                let (low, width) = bounds(b);
                // Linear inside the bucket: the share of its latencies below the rank.
                let into = (rank - u128::from(below) * 1_000_000) as f64 / (n as f64 * 1e6);
                let units = low as f64 + into * width as f64;
                delay = (units * f64::from(1u32 << UNIT_BITS)) as u64;
                break;
            }
            below += n;
        }
        let delay = if delay >= self.ceiling_ns {
            NONE
        } else {
            delay.max(self.floor_ns)
        };
        self.delay.store(delay, Ordering::Relaxed);
        total
    }
}

impl crate::budget::sealed::Sealed for HedgeEstimator {}

/// An estimator per key: `Partitioned<HedgeEstimator>` (see [`Partitioned`](super::Partitioned)).
impl crate::budget::Partition for HedgeEstimator {
    fn fresh(&self) -> Self {
        HedgeEstimator {
            quantile_ppm: self.quantile_ppm,
            half_ns: self.half_ns,
            warmup: self.warmup,
            floor_ns: self.floor_ns,
            ceiling_ns: self.ceiling_ns,
            ..HedgeEstimator::new()
        }
    }
}

const fn saturating_nanos(d: Duration) -> u64 {
    let ns = d.as_nanos();
    if ns > u64::MAX as u128 - 1 {
        u64::MAX - 1
    } else {
        ns as u64
    }
}

impl fmt::Debug for HedgeEstimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeEstimator")
            .field("max_extra_load", &self.get_max_extra_load())
            .field("window", &Duration::from_nanos(self.half_ns * 2))
            .field("warmup", &self.warmup)
            .field("floor", &Duration::from_nanos(self.floor_ns))
            .field("ceiling", &Duration::from_nanos(self.ceiling_ns))
            .field("delay", &self.delay())
            .field("samples", &self.samples())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
