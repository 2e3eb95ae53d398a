//! The clock behind `timeout`.
//!
//! `timeout` is measured from the moment the first attempt begins, so a call with a timeout has to
//! read a clock before its first attempt: that read is the only cost of a `timeout` on the happy
//! path. On Linux the clock is `CLOCK_MONOTONIC_COARSE`, read through the vDSO: it costs about a
//! third of `Instant::now()` (`CLOCK_MONOTONIC`), and its resolution (one scheduler tick, 1 to 4 ms)
//! is three orders of magnitude below any sensible retry budget. Elsewhere it is `Instant`.
//!
//! Both ends of a measurement are read from the same clock, so an elapsed time is exact to within
//! one tick of that clock.

use std::time::Duration;

/// A point in time on the coarse monotonic clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp(Inner);

/// Nanoseconds since boot; never zero, so that `Option<Stamp>` takes 8 bytes.
#[cfg(any(target_os = "linux", target_os = "android"))]
type Inner = std::num::NonZeroU64;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
type Inner = std::time::Instant;

impl Stamp {
    /// Reads the clock.
    #[inline]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        // A monotonic clock counts from boot: neither field is ever negative.
        let ns = (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64);
        Stamp(Inner::new(ns).unwrap_or(Inner::MIN))
    }

    /// Reads the clock.
    #[inline]
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn now() -> Self {
        Stamp(std::time::Instant::now())
    }

    /// The time from `self` to now; zero if the clock reads earlier than `self`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn elapsed(self) -> Duration {
        Duration::from_nanos(Self::now().0.get().saturating_sub(self.0.get()))
    }

    /// The time from `self` to now; zero if the clock reads earlier than `self`.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn elapsed(self) -> Duration {
        self.0.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_is_monotonic_and_tracks_real_time() {
        let start = Stamp::now();
        let std_start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        let coarse = start.elapsed();
        let fine = std_start.elapsed();
        // Both ends come from the same clock: the error is at most one tick of it (<= 10 ms for
        // any kernel HZ), whatever the machine's load.
        assert!(
            coarse + Duration::from_millis(10) >= Duration::from_millis(30),
            "{coarse:?}"
        );
        assert!(
            coarse <= fine + Duration::from_millis(10),
            "{coarse:?} vs {fine:?}"
        );
    }
}
