//! The clock behind `timeout`, deadlines and the [`Attempt`](crate::Attempt)'s elapsed time.
//!
//! A call that measures time reads a clock before its first attempt: that read is the only cost
//! of a `timeout` on the happy path, so it has to be cheap, and the elapsed time has to be exact
//! (stamina decides at the timeout's boundary; a 4 ms coarse clock made it flip).
//!
//! Measured on the 2-core VM of `BENCHMARKS.md` (2026-12-01): `Instant::now()` 35 ns;
//! `CLOCK_MONOTONIC_COARSE` 11 ns but 4 ms steps; `quanta` 0.12's `Clock::raw()` (the TSC) 13 ns.
//! quanta's own tick-to-nanosecond scale comes from a 0.68 ms calibration loop: it stayed within
//! 2.7 µs of `Instant` over 20 ms, but 11 µs over 5 s, and one preemption of that loop at the
//! wrong moment skews it for the life of the process.
//!
//! The choice:
//!
//! - **The start stamp is a raw TSC read** through quanta (safe code, already in every
//!   Prometheus user's tree; 0.12 for Rust 1.85): the 13 ns that keep a call with a timeout
//!   under half the cost of a loop that reads `Instant::now()` first.
//! - **Ticks become time on the cold path, against `Instant`**: a pair of readings (the TSC
//!   between two `Instant` reads, the tightest of three) taken when the clock was set up, and
//!   another taken at the conversion, give the tick rate over the whole time since; a
//!   preemption between two reads shows as a wide pair and is not used. The error of an
//!   elapsed time is then about one pair's width (tens of nanoseconds), whatever its length.
//! - **At the first failure the stamp becomes exact**: it is rebased on `Instant`, so every
//!   later reading is `Instant`'s.
//! - **Setting up does not land on a call**: quanta's `Clock::new()` (its detection of an
//!   invariant TSC, and its calibration, which is not used) runs on a short-lived thread
//!   (`stamina-clock`) that the first call that measures time starts; until it is done, calls
//!   start on `Instant`, exactly, at `Instant`'s cost. Where no thread can be spawned, every
//!   call uses `Instant`. Nothing runs before `main`.
//! - **Under the `test-util` feature** a reading inside a tokio runtime is tokio's clock instead,
//!   so that a paused runtime (`#[tokio::test(start_paused = true)]`) counts the time it says
//!   passed, in attempts as in waits. Finding the runtime costs a thread-local lookup and a
//!   reference count on every call that measures time: a feature for dev-dependencies.
//!   Outside a runtime, readings are the same as without the feature.
//!
//! A stamp is 8 bytes: a raw TSC reading, or nanoseconds on the monotonic clock since a
//! process-wide base, told apart by the top bit.

use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A point in time: when a call's first attempt began, or a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp(NonZeroU64);

/// The top bit: set for a monotonic reading, clear for a raw TSC one.
const MONOTONIC: u64 = 1 << 63;

/// The TSC, once the set-up thread is done.
static TSC: OnceLock<Tsc> = OnceLock::new();

/// quanta's clock, for its raw reads, and a pair of readings to convert them by.
struct Tsc {
    clock: quanta::Clock,
    anchor: (u64, Instant),
}

impl Tsc {
    fn new() -> Self {
        let clock = quanta::Clock::new();
        let anchor = pair(&clock);
        Tsc { clock, anchor }
    }

    fn raw(&self) -> u64 {
        self.clock.raw()
    }

    /// The instant of the raw reading `ticks`, from a pair read now and the anchor.
    fn instant_of(&self, ticks: u64) -> Instant {
        let (now_ticks, now) = pair(&self.clock);
        let (anchor_ticks, anchor) = self.anchor;
        let span_ticks = now_ticks.saturating_sub(anchor_ticks) as f64;
        let span_ns = now.saturating_duration_since(anchor).as_nanos() as f64;
        let back_ticks = now_ticks.saturating_sub(ticks) as f64;
        let back_ns = if span_ticks > 0.0 {
            back_ticks * span_ns / span_ticks
        } else {
            0.0
        };
        now.checked_sub(Duration::from_nanos(back_ns as u64))
            .unwrap_or(now)
    }
}

/// A raw reading and the `Instant` it was taken at: the TSC between two `Instant` reads, the
/// tightest pair of three, so that a preemption between the reads does not count.
fn pair(clock: &quanta::Clock) -> (u64, Instant) {
    let mut best: Option<(Duration, u64, Instant)> = None;
    for _ in 0..3 {
        let before = Instant::now();
        let ticks = clock.raw();
        let after = Instant::now();
        let width = after - before;
        if best.is_none_or(|(w, ..)| width < w) {
            best = Some((width, ticks, before + width / 2));
        }
    }
    let (_, ticks, at) = best.expect("three pairs");
    (ticks, at)
}
static CALIBRATING: AtomicBool = AtomicBool::new(false);

/// The monotonic clock's zero: the first reading stamina makes, less an hour when the clock goes
/// back that far, so that a paused tokio clock started before it still reads after it.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(|| {
        let now = Instant::now();
        [3600, 60, 1]
            .into_iter()
            .find_map(|s| now.checked_sub(Duration::from_secs(s)))
            .unwrap_or(now)
    })
}

/// Whether readings are tokio's: with `test-util`, inside a tokio runtime (whose clock a test
/// may pause). Outside one, tokio's clock is `Instant` anyway, and readings take the TSC path.
fn on_tokio_clock() -> bool {
    #[cfg(feature = "test-util")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "test-util"))]
    false
}

/// The current time on the monotonic clock (tokio's inside a runtime, with `test-util`).
fn monotonic_now() -> Instant {
    #[cfg(feature = "test-util")]
    if on_tokio_clock() {
        return tokio::time::Instant::now().into_std();
    }
    Instant::now()
}

impl Stamp {
    /// Reads the clock: the TSC when it is calibrated, else the monotonic clock.
    #[inline]
    #[must_use]
    pub fn now() -> Self {
        if let Some(tsc) = TSC.get() {
            if !on_tokio_clock() {
                return Stamp::raw(tsc.raw());
            }
        }
        Self::first_readings()
    }

    /// The readings before the TSC is calibrated (start calibrating, read the monotonic clock),
    /// and those on tokio's clock.
    #[cold]
    #[inline(never)]
    fn first_readings() -> Self {
        if !CALIBRATING.swap(true, Ordering::Relaxed) {
            // A thread that cannot be spawned leaves every reading on the monotonic clock.
            let _ = std::thread::Builder::new()
                .name("stamina-clock".to_owned())
                .spawn(|| TSC.get_or_init(Tsc::new));
        }
        Self::from_instant(monotonic_now())
    }

    fn raw(ticks: u64) -> Self {
        // A raw reading with the top bit set would read as monotonic: that is 97 years of uptime
        // at 3 GHz. Zero is the niche.
        Stamp(NonZeroU64::new((ticks & !MONOTONIC).max(1)).expect("not zero"))
    }

    /// `instant` on this clock (saturating at its base).
    #[must_use]
    pub fn from_instant(instant: Instant) -> Self {
        let nanos = instant.saturating_duration_since(base()).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX) & !MONOTONIC;
        Stamp(NonZeroU64::new(nanos | MONOTONIC).expect("the top bit is set"))
    }

    /// This stamp on the monotonic clock: a raw reading is rebased on a reading of both clocks
    /// now, so that later readings are exact.
    #[must_use]
    pub fn exact(self) -> Self {
        match (self.0.get() & MONOTONIC == 0, TSC.get()) {
            (true, Some(tsc)) => Self::from_instant(tsc.instant_of(self.0.get())),
            _ => self,
        }
    }

    /// The nanoseconds since the base of a monotonic stamp.
    fn monotonic_nanos(self) -> u64 {
        self.exact().0.get() & !MONOTONIC
    }

    fn now_nanos() -> u64 {
        Self::from_instant(monotonic_now()).0.get() & !MONOTONIC
    }

    /// The time from `self` to now; zero if the clock reads earlier than `self`.
    #[must_use]
    pub fn elapsed(self) -> Duration {
        Duration::from_nanos(Self::now_nanos().saturating_sub(self.monotonic_nanos()))
    }

    /// The time from now to `self`; zero if it has passed.
    #[must_use]
    pub fn remaining(self) -> Duration {
        Duration::from_nanos(self.monotonic_nanos().saturating_sub(Self::now_nanos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until the calibration thread is done (it takes about a millisecond).
    fn calibrated() -> &'static Tsc {
        let _ = Stamp::now();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(tsc) = TSC.get() {
                return tsc;
            }
            assert!(Instant::now() < deadline, "the clock never calibrated");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn readings_track_the_monotonic_clock_to_microseconds() {
        let _ = calibrated();
        for stamp in [Stamp::now, || Stamp::from_instant(Instant::now())] {
            let stamp = stamp();
            let std_start = Instant::now();
            std::thread::sleep(Duration::from_millis(20));
            let (ours, theirs) = (stamp.elapsed(), std_start.elapsed());
            // The readings are not simultaneous: `ours` starts a little earlier and ends a little
            // earlier. 100 µs is a wide margin over the 10 µs the clock keeps.
            let diff = ours.abs_diff(theirs);
            assert!(diff < Duration::from_micros(100), "{ours:?} vs {theirs:?}");
        }
    }

    #[test]
    fn an_exact_stamp_keeps_the_start() {
        let _ = calibrated();
        let start = Stamp::now();
        std::thread::sleep(Duration::from_millis(5));
        let before = start.elapsed();
        let exact = start.exact();
        assert!(exact.0.get() & MONOTONIC != 0);
        let after = exact.elapsed();
        assert!(after >= before, "{before:?} then {after:?}");
        assert!(
            after.saturating_sub(before) < Duration::from_millis(5),
            "{before:?} then {after:?}"
        );
    }

    #[test]
    fn deadlines_count_down_and_saturate() {
        let deadline = Stamp::from_instant(Instant::now() + Duration::from_secs(60));
        let left = deadline.remaining();
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60));
        let past = Stamp::from_instant(base());
        assert_eq!(past.remaining(), Duration::ZERO);
        assert!(past.elapsed() > Duration::ZERO);
        // At the base: saturates instead of panicking.
        assert_eq!(Stamp::from_instant(base()).remaining(), Duration::ZERO);
    }

    #[test]
    fn a_stamp_is_eight_bytes_and_an_option_of_one_too() {
        assert_eq!(std::mem::size_of::<Option<Stamp>>(), 8);
    }
}
