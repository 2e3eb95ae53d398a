//! The clock behind `timeout`, deadlines and the [`Attempt`](crate::Attempt)'s elapsed time.
//!
//! A call that measures time reads a clock before its first attempt: that read is the only cost
//! of a `timeout` on the happy path, so it has to be cheap, and the elapsed time has to be exact
//! (stamina decides at the timeout's boundary; a 4 ms coarse clock made it flip).
//!
//! Measured on the 2-core VM of `BENCHMARKS.md` (2026-12-01, AMD EPYC): `Instant::now()` 35 ns;
//! `CLOCK_MONOTONIC_COARSE` 11 ns but 4 ms steps; `rdtsc` 13 ns. `quanta` 0.12 reads the TSC as
//! cheaply, but its tick-to-nanosecond scale comes from a 0.68 ms calibration loop (2.7 µs off
//! `Instant` over 20 ms here, 11 µs over 5 s, and skewed for the process's life by one
//! preemption at the wrong moment), and it brings `raw-cpuid` and four more crates: 6 s of a
//! user's clean build, for two instructions.
//!
//! The choice:
//!
//! - **The start stamp is a raw TSC read** where the CPU has an invariant TSC (x86-64 with the
//!   `cpuid` bit that says so; Linux, macOS and Windows keep it in step across cores on such
//!   CPUs): the 13 ns that keep a call with a timeout near half the cost of a loop that reads
//!   `Instant::now()` first. Elsewhere, `Instant`. The two `unsafe` intrinsics below are the
//!   crate's only `unsafe` code.
//! - **Ticks become time on the cold path, against `Instant`**: a pair of readings (the TSC
//!   between two `Instant` reads, the tightest of three) taken when the clock is first used, and
//!   another taken at the conversion (the first narrower than 1 µs, nearly always the first),
//!   give the tick rate over the whole time since; a preemption between two reads shows as a
//!   wide pair and is not used. The error of an elapsed time is
//!   about one pair's width (tens of nanoseconds), whatever its length. There is no calibration
//!   to run: the first use costs the detection and one pair, about 200 ns.
//! - **At the first failure the stamp becomes exact**: it is rebased on `Instant`, so every later
//!   reading is `Instant`'s.
//! - **In a [`TestClock`](crate::testing::TestClock)'s scope** every reading is its virtual
//!   time. Knowing costs a thread-local `Cell` read per call that measures time.
//! - **Under the `test-util` feature** a reading inside a tokio runtime is tokio's clock instead,
//!   so that a paused runtime (`#[tokio::test(start_paused = true)]`) counts the time it says
//!   passed, in attempts as in waits. Finding the runtime costs a thread-local lookup and a
//!   reference count on every call that measures time: a feature for dev-dependencies.
//!   Outside a runtime, readings are the same as without the feature.
//!
//! A stamp is 8 bytes: a raw TSC reading, or nanoseconds on the monotonic clock since a
//! process-wide base, told apart by the top bit. Nothing runs before `main`.

use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A point in time: when a call's first attempt began, or a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp(NonZeroU64);

/// The top bit: set for a monotonic reading, clear for a raw TSC one.
const MONOTONIC: u64 = 1 << 63;

/// The TSC, if it can be trusted here, and the pair of readings its ticks convert by.
static TSC: OnceLock<Option<Tsc>> = OnceLock::new();

#[derive(Clone, Copy)]
struct Tsc {
    anchor: (u64, Instant),
}

/// The TSC, set up on first use.
#[inline]
fn tsc() -> Option<Tsc> {
    *TSC.get_or_init(|| invariant_tsc().then(|| Tsc { anchor: pair(true) }))
}

/// The CPU's time-stamp counter.
#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` reads the time-stamp counter into two registers. It touches no memory and
    // has no precondition beyond the instruction itself, which every x86-64 CPU has.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    unreachable!("`invariant_tsc` is false off x86-64")
}

/// Whether the TSC ticks at a constant rate whatever the CPU's power state (the invariant TSC,
/// `cpuid` leaf `0x8000_0007`, `edx` bit 8): only then do its ticks measure time.
#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use core::arch::x86_64::__cpuid;
    // SAFETY: `cpuid` is on every x86-64 CPU, and reads no memory; leaf `0x8000_0000` tells the
    // highest extended leaf, and `0x8000_0007` is asked for only if it exists. (The intrinsic is
    // a safe fn since Rust 1.87, an `unsafe` one before: hence the `unused_unsafe`.)
    #[allow(unsafe_code, unused_unsafe)]
    let (highest, power) = unsafe {
        let highest = __cpuid(0x8000_0000).eax;
        let power = if highest >= 0x8000_0007 {
            __cpuid(0x8000_0007).edx
        } else {
            0
        };
        (highest, power)
    };
    highest >= 0x8000_0007 && power & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

impl Tsc {
    /// The instant of the raw reading `ticks`, from a pair read now and the anchor.
    fn instant_of(self, ticks: u64) -> Instant {
        let (now_ticks, now) = pair(false);
        let (anchor_ticks, anchor) = self.anchor;
        let span_ticks = now_ticks.saturating_sub(anchor_ticks) as f64;
        // Through `u64` (584 years of nanoseconds): a `u128` to `f64` is a soft-float call.
        let span_ns = u64::try_from(now.saturating_duration_since(anchor).as_nanos())
            .unwrap_or(u64::MAX) as f64;
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

/// A raw reading and the `Instant` it was taken at: the TSC between two `Instant` reads. The
/// first pair narrower than [`TIGHT`] is taken at once (nearly always the first: two reads of
/// the clock); else the tightest of three, so that a preemption between the reads does not
/// count. The anchor, read once per process, is always the tightest of three.
fn pair(tightest: bool) -> (u64, Instant) {
    let mut best: Option<(Duration, u64, Instant)> = None;
    for _ in 0..3 {
        let before = Instant::now();
        let ticks = rdtsc();
        let after = Instant::now();
        let width = after.saturating_duration_since(before);
        if best.is_none_or(|(w, ..)| width < w) {
            best = Some((width, ticks, before + width / 2));
        }
        if !tightest && width <= TIGHT {
            break;
        }
    }
    let (_, ticks, at) = best.expect("a pair");
    (ticks, at)
}

/// A pair this narrow places its TSC reading within half of it, 0.5 µs at worst: a converted
/// reading is then off by about one pair's width, as the module docs say, and never by more
/// than this.
const TIGHT: Duration = Duration::from_micros(1);

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
#[inline]
fn on_tokio_clock() -> bool {
    #[cfg(feature = "test-util")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "test-util"))]
    false
}

/// The current time on the monotonic clock: a test clock's virtual time in its scope, tokio's
/// clock inside a runtime with `test-util`, else `Instant`'s.
fn monotonic_now() -> Instant {
    if let Some(clock) = crate::scope::clock() {
        return clock.now();
    }
    #[cfg(feature = "test-util")]
    if on_tokio_clock() {
        return tokio::time::Instant::now().into_std();
    }
    Instant::now()
}

/// Nanoseconds on the monotonic clock since its process-wide base, read now (a test clock's
/// virtual time in its scope): the time of the retry budgets.
pub(crate) fn now_nanos() -> u64 {
    Stamp::now_nanos()
}

/// Nanoseconds since the clock's base for rough spans (hedging's latencies): the TSC scaled by
/// a rate measured once, at least 50 ms after the anchor (off `Instant` by one pair's width over
/// that span: a few parts in a million), else [`now_nanos`]. A test clock's virtual time in its
/// scope, tokio's clock where [`now_nanos`] reads it.
#[inline]
pub(crate) fn quick_nanos() -> u64 {
    if let Some(tsc) = tsc() {
        if !on_tokio_clock() && !crate::scope::clocked() {
            let rate = f64::from_bits(RATE.load(Ordering::Acquire));
            if rate > 0.0 {
                let (anchor_ticks, _) = tsc.anchor;
                let ticks = rdtsc().saturating_sub(anchor_ticks) as f64;
                return ANCHOR_NS.load(Ordering::Relaxed) + (ticks * rate) as u64;
            }
            return measure_rate(tsc);
        }
    }
    now_nanos()
}

/// Nanoseconds per tick of the TSC, as `f64` bits; 0 until measured.
static RATE: AtomicU64 = AtomicU64::new(0);
/// The anchor's instant, in nanoseconds since the base.
static ANCHOR_NS: AtomicU64 = AtomicU64::new(0);

/// [`now_nanos`], and the TSC's rate once 50 ms have passed since its anchor.
#[cold]
#[inline(never)]
fn measure_rate(tsc: Tsc) -> u64 {
    let now = now_nanos();
    let (anchor_ticks, anchor) = tsc.anchor;
    if anchor.elapsed() >= Duration::from_millis(50) {
        let (ticks, at) = pair(true);
        let span_ns = at.saturating_duration_since(anchor).as_nanos() as f64;
        let span_ticks = ticks.saturating_sub(anchor_ticks) as f64;
        if span_ticks > 0.0 {
            // The anchor on this clock: now, less the span since it (the base may postdate it).
            let anchor_ns = now_nanos().saturating_sub(span_ns as u64);
            ANCHOR_NS.store(anchor_ns, Ordering::Relaxed);
            RATE.store((span_ns / span_ticks).to_bits(), Ordering::Release);
        }
    }
    now
}

impl Stamp {
    /// Reads the clock: the TSC when it can be trusted, else the monotonic clock.
    #[inline]
    #[must_use]
    pub fn now() -> Self {
        if tsc().is_some() && !on_tokio_clock() && !crate::scope::clocked() {
            return Stamp::raw(rdtsc());
        }
        Self::now_monotonic()
    }

    /// A reading of the monotonic clock: out of line, off the TSC's path.
    #[cold]
    #[inline(never)]
    fn now_monotonic() -> Self {
        Self::from_instant(monotonic_now())
    }

    #[inline]
    fn raw(ticks: u64) -> Self {
        // A raw reading with the top bit set would read as monotonic: that is 97 years of uptime
        // at 3 GHz. Zero is the niche.
        Stamp(NonZeroU64::new((ticks & !MONOTONIC).max(1)).expect("not zero"))
    }

    /// `instant` on this clock, saturating at its base and at 2^63 - 1 ns (292 years) after
    /// it: a deadline farther ahead reads as that far, never as passed.
    #[must_use]
    pub fn from_instant(instant: Instant) -> Self {
        let nanos = instant.saturating_duration_since(base()).as_nanos();
        let nanos = u64::try_from(nanos).map_or(!MONOTONIC, |n| n.min(!MONOTONIC));
        Stamp(NonZeroU64::new(nanos | MONOTONIC).expect("the top bit is set"))
    }

    /// This stamp on the monotonic clock: a raw reading is rebased on a pair of readings taken
    /// now, so that later readings are exact.
    #[must_use]
    pub fn exact(self) -> Self {
        match (self.0.get() & MONOTONIC == 0, tsc()) {
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

/// A per-call deadline, or none: the attribute's calls never have one and pay nothing for it
/// (a zero-sized [`NoDeadline`]); the callers and the explicit loop hold an `Option<Stamp>`.
pub trait PerCallDeadline: Copy {
    /// The deadline, if any.
    fn get(self) -> Option<Stamp>;
}

/// No per-call deadline.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDeadline;

impl PerCallDeadline for NoDeadline {
    #[inline]
    fn get(self) -> Option<Stamp> {
        None
    }
}

impl PerCallDeadline for Option<Stamp> {
    #[inline]
    fn get(self) -> Option<Stamp> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_track_the_monotonic_clock_to_microseconds() {
        for stamp in [Stamp::now, || Stamp::from_instant(Instant::now())] {
            let stamp = stamp();
            let std_start = Instant::now();
            std::thread::sleep(Duration::from_millis(20));
            let (ours, theirs) = (stamp.elapsed(), std_start.elapsed());
            // The readings are not simultaneous: `ours` starts a little earlier and ends a little
            // earlier. 100 µs is a wide margin over the microsecond the clock keeps, for a busy
            // machine's preemptions between the two readings.
            let diff = ours.abs_diff(theirs);
            assert!(diff < Duration::from_micros(100), "{ours:?} vs {theirs:?}");
        }
    }

    #[test]
    fn an_exact_stamp_keeps_the_start() {
        let start = Stamp::now();
        std::thread::sleep(Duration::from_millis(5));
        let before = start.elapsed();
        let exact = start.exact();
        assert_ne!(exact.0.get() & MONOTONIC, 0);
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
        // Past the range: saturates instead of wrapping round to the past.
        let far = Stamp::from_instant(Instant::now() + Duration::from_nanos(1 << 63));
        assert!(far.remaining() > Duration::from_secs(290 * 365 * 86_400));
    }

    #[test]
    fn this_machine_reads_the_tsc() {
        // The measurements of `BENCHMARKS.md` assume it; elsewhere readings are `Instant`'s.
        if cfg!(target_arch = "x86_64") && invariant_tsc() {
            assert!(tsc().is_some());
            assert_eq!(Stamp::now().0.get() & MONOTONIC, 0);
        }
    }

    #[test]
    fn a_stamp_is_eight_bytes_and_an_option_of_one_too() {
        assert_eq!(std::mem::size_of::<Option<Stamp>>(), 8);
    }
}
