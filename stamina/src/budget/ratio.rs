//! The Finagle/Linkerd ratio budget: calls and retries counted in a window of slots, lock-free,
//! and the ratio as the decimal it was written as.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The number of slots the window is divided into.
pub(super) const SLOTS: u64 = 10;
/// Every this many deposits, the ratio budget looks at the clock.
pub(super) const OBSERVE_EVERY: u64 = 64;

/// The Finagle/Linkerd ratio budget, lock-free.
pub(super) struct Ratio {
    /// The ratio as the decimal it was written as.
    pub(super) fraction: Decimal,
    pub(super) window: Duration,
    pub(super) min_per_sec: u32,
    /// Calls ever made under the budget.
    pub(super) deposits: AtomicU64,
    /// The current slot's epoch (high 32 bits) and the retries granted in it (low 32 bits).
    pub(super) state: AtomicU64,
    /// Past slots: their epoch and retries, by `epoch % (SLOTS + 1)`.
    pub(super) history: [AtomicU64; SLOTS as usize + 1],
    /// Per slot: its epoch and the low 32 bits of `deposits` when it was first seen.
    pub(super) marks: [AtomicU64; SLOTS as usize + 1],
    /// The first epoch the budget saw, or 0.
    pub(super) first: AtomicU32,
}

pub(super) const fn pack(epoch: u32, count: u32) -> u64 {
    ((epoch as u64) << 32) | count as u64
}

pub(super) const fn epoch_of(packed: u64) -> u32 {
    (packed >> 32) as u32
}

pub(super) const fn count_of(packed: u64) -> u32 {
    packed as u32
}

#[allow(
    clippy::declare_interior_mutable_const,
    reason = "array initialisers, each copied once"
)]
pub(super) const ZERO: AtomicU64 = AtomicU64::new(0);

/// A ratio as a decimal fraction, `numerator / 10^exponent`: the shortest decimal that reads
/// back as the `f64` given (what a user wrote: `0.3`, `0.0000025`), so that the budget's
/// arithmetic is exact in integers for it, where the `f64` itself is not (`0.3` is
/// `0.29999999999999998889..`: 299 retries per 1,000 calls, not 300).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decimal(pub(crate) u64, pub(crate) u32);

impl Decimal {
    /// The largest numerator tried: below 2^53, every integer is an exact `f64`, and so is
    /// the quotient's rounding.
    const EXACT: u64 = 1 << 53;

    /// `ratio` as the shortest decimal that reads back as it, to 16 significant digits
    /// (rounded there if it has more). Negative and NaN are 0; above 1000 is 1000.
    pub(super) const fn of(ratio: f64) -> Self {
        if ratio.is_nan() || ratio <= 0.0 {
            return Decimal(0, 0);
        }
        if ratio >= 1000.0 {
            return Decimal(1000, 0);
        }
        let mut exponent = 0;
        let mut best = Decimal(0, 0);
        while exponent <= 18 {
            let scale = pow10_f64(exponent);
            let scaled = ratio * scale;
            if scaled >= Self::EXACT as f64 {
                break;
            }
            // The nearest numerator, and its neighbours: the product above may be off by one.
            let nearest = (scaled + 0.5) as u64;
            let mut candidate = nearest.saturating_sub(1);
            while candidate <= nearest + 1 {
                // `candidate` and `scale` are exact, and the division rounds once: this is
                // the `f64` that the decimal reads as.
                if (candidate as f64 / scale).to_bits() == ratio.to_bits() {
                    return Decimal(candidate, exponent);
                }
                candidate += 1;
            }
            best = Decimal(nearest, exponent);
            exponent += 1;
        }
        best
    }

    /// The ratio as an `f64`.
    pub(super) const fn get(self) -> f64 {
        self.0 as f64 / pow10_f64(self.1)
    }

    /// `10^exponent`, the denominator.
    const fn scale(self) -> u128 {
        10u128.pow(self.1)
    }
}

/// `10^n` as an `f64`: exact for `n <= 22`.
const fn pow10_f64(n: u32) -> f64 {
    let mut scale = 1.0;
    let mut i = 0;
    while i < n {
        scale *= 10.0;
        i += 1;
    }
    scale
}

pub(super) const fn clamp_window(window: Duration) -> Duration {
    if window.as_secs() < 1 {
        Duration::from_secs(1)
    } else if window.as_nanos() > 60_000_000_000 {
        Duration::from_secs(60)
    } else {
        window
    }
}

/// The current epoch of a window: the number of the slot, from 1.
pub(super) fn now_epoch(window: Duration) -> u32 {
    let slot = (window.as_nanos() / u128::from(SLOTS)).max(1);
    let now = u128::from(crate::clock::now_nanos());
    u32::try_from(now / slot).unwrap_or(u32::MAX - 1) + 1
}

impl Ratio {
    #[inline]
    pub(super) fn deposit(&self) {
        let n = self.deposits.fetch_add(1, Ordering::Relaxed);
        if n % OBSERVE_EVERY == OBSERVE_EVERY - 1 {
            self.observe_now();
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn observe_now(&self) {
        self.observe(now_epoch(self.window));
    }

    /// Moves the current slot up to `epoch` (never back): the finished slot's retries go to the
    /// history, and the new slot marks the calls counted so far. Returns the current state.
    pub(super) fn observe(&self, epoch: u32) -> u64 {
        let _ = self
            .first
            .compare_exchange(0, epoch, Ordering::Relaxed, Ordering::Relaxed);
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let at = epoch_of(current);
            if at >= epoch {
                return current;
            }
            if at != 0 {
                // Only grows, so a slow thread cannot write an older count over a newer one.
                self.history[slot_of(at)].fetch_max(current, Ordering::AcqRel);
            }
            self.mark(epoch);
            match self.state.compare_exchange_weak(
                current,
                pack(epoch, 0),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return pack(epoch, 0),
                Err(now) => current = now,
            }
        }
    }

    /// Records the calls counted when `epoch` is first seen, unless its slot has them already.
    pub(super) fn mark(&self, epoch: u32) {
        let deposits = self.deposits.load(Ordering::Acquire) as u32;
        let mark = &self.marks[slot_of(epoch)];
        let mut old = mark.load(Ordering::Acquire);
        while epoch_of(old) < epoch {
            match mark.compare_exchange_weak(
                old,
                pack(epoch, deposits),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
    }

    /// The calls counted in the window that ends in slot `epoch`.
    pub(super) fn deposits_in_window(&self, epoch: u32) -> u64 {
        let now = self.deposits.load(Ordering::Acquire);
        let start = epoch.saturating_sub(SLOTS as u32 - 1);
        let first = self.first.load(Ordering::Relaxed);
        if first == 0 || first >= start {
            // The budget is younger than the window: every call counts.
            return now;
        }
        let mark_of = |e: u32| {
            let packed = self.marks[slot_of(e)].load(Ordering::Acquire);
            (epoch_of(packed) == e).then_some(count_of(packed))
        };
        // The calls since the slot before the window began (up to one slot too many), else
        // since the oldest slot seen in the window (up to 64 calls too few).
        let base = mark_of(start - 1).or_else(|| (start..=epoch).find_map(mark_of));
        match base {
            Some(base) => u64::from((now as u32).wrapping_sub(base)),
            None => 0,
        }
    }

    /// The retries granted in the window that ends in the current slot `state`.
    pub(super) fn withdrawn_in_window(&self, state: u64) -> u64 {
        let epoch = epoch_of(state);
        let start = epoch.saturating_sub(SLOTS as u32 - 1);
        let past: u64 = (start..epoch)
            .map(|e| {
                let packed = self.history[slot_of(e)].load(Ordering::Acquire);
                if epoch_of(packed) == e {
                    u64::from(count_of(packed))
                } else {
                    0
                }
            })
            .sum();
        past + u64::from(count_of(state))
    }

    /// The retries the window allows whatever the calls: `min_per_sec` for each whole second
    /// of it.
    pub(super) fn reserve(&self) -> u128 {
        u128::from(self.min_per_sec) * self.window.as_millis() / 1000
    }

    /// Whether one more retry fits: `withdrawn + 1 <= ratio * deposits + reserve`, in integers
    /// (the ratio's numerator and its power of ten), exact.
    pub(super) fn allows(&self, withdrawn: u64, deposits: u64) -> bool {
        let scale = self.fraction.scale();
        (u128::from(withdrawn) + 1) * scale
            <= u128::from(self.fraction.0) * u128::from(deposits) + self.reserve() * scale
    }

    pub(super) fn withdraw(&self, epoch: u32) -> bool {
        let mut state = self.observe(epoch);
        loop {
            let at = epoch_of(state);
            let withdrawn = self.withdrawn_in_window(state);
            if !self.allows(withdrawn, self.deposits_in_window(at)) || count_of(state) == u32::MAX {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                // Another retry, or a new slot: decide again on what is there now.
                Err(now) => state = self.observe(epoch.max(epoch_of(now))),
            }
        }
    }

    pub(super) fn available(&self, epoch: u32) -> u64 {
        let state = self.state.load(Ordering::Acquire);
        let state = if epoch_of(state) < epoch {
            pack(epoch, 0)
        } else {
            state
        };
        let withdrawn = self.withdrawn_in_window(state);
        let deposits = self.deposits_in_window(epoch_of(state));
        let scale = self.fraction.scale();
        let allowed =
            (u128::from(self.fraction.0) * u128::from(deposits) + self.reserve() * scale) / scale;
        u64::try_from(allowed.saturating_sub(u128::from(withdrawn))).unwrap_or(u64::MAX)
    }
}

pub(super) fn slot_of(epoch: u32) -> usize {
    (u64::from(epoch) % (SLOTS + 1)) as usize
}
