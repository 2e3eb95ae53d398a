//! The SRE book's adaptive throttling: reject locally with probability
//! `max(0, (requests - k * accepts) / (requests + 1))`, over a decaying window, with a short
//! horizon beside it that reacts within seconds.
//!
//! Lock-free: the replies are counted in a ring of [`SLOTS`] time slots per stripe, each slot
//! one `u64` (a 24-bit tag of its slot's number, 20 bits of requests sent, 20 of accepts),
//! updated by one compare-and-swap; the requests rejected locally in a second ring beside it
//! (a tag, and 40 bits of count). Each thread counts in its own stripe (one of [`STRIPES`], each
//! on its own cache lines), so threads do not contend on a counter. The probability is kept as
//! one word, recomputed from every stripe's slots by the thread whose record starts a slot (so
//! the window ages), by every failure and local rejection, and by every accept while the word
//! is not zero: the happy path (successes, nothing rejected) pays a read of the clock, one CAS
//! and one load per reply (an accept cannot raise a probability of zero). The check before an
//! attempt reads that word, and draws only when it is not zero.
//!
//! # Two horizons
//!
//! The formula over the whole window alone is slow both ways, because the window remembers:
//! an outage shorter than the window barely moves it (the successes before it dominate), and
//! after a recovery the requests it rejected keep it rejecting (what it lets through is at most
//! `k` times what was accepted, so the load it allows grows `k`-fold per window: about 1.4
//! windows from the cap back to 0 for `k = 2`, and 12 for `k = 1.1`). So the formula is also
//! taken over the [`HORIZON`] most recent slots (15 s of the default 2 minutes), and:
//!
//! - while that horizon shows the dependency refusing some of what is sent, the probability is
//!   the larger of the two: the throttle engages within the horizon, and the window keeps
//!   the memory of a sustained overload;
//! - once the horizon's requests sent were accepted well above that overload's rate (`1 / k`:
//!   half-way from it to all of them, so that the usual few failures do not hide a recovery),
//!   it is the horizon's alone, with `k` at least [`RAMP`]: the requests rejected during the outage
//!   stop counting as they age out of the horizon, the load let through at least doubles per
//!   horizon (TCP's slow start), and it is back to full within seconds, not windows.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The slots of the window: a slot is `window / SLOTS` long (7.5 s of the default 2 minutes),
/// and the window counts to within one slot.
pub(super) const SLOTS: usize = 16;
/// After a recovery, the load let through grows at least this many times per horizon.
const RAMP: f64 = 2.0;
/// The slots of the short horizon: the current one and the one before it.
pub(super) const HORIZON: u64 = 2;
/// The stripes that threads count in.
const STRIPES: usize = 8;

const TAG_BITS: u32 = 24;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const REQUESTS_SHIFT: u32 = COUNT_BITS;
const TAG_SHIFT: u32 = 2 * COUNT_BITS;
/// A slot of the ring of local rejections: the tag, and the count below it.
const REJECTED_MAX: u64 = (1 << TAG_SHIFT) - 1;

/// One stripe's slots, on cache lines of its own.
#[repr(align(128))]
struct Stripe {
    /// Requests sent, and accepted.
    slots: [AtomicU64; SLOTS],
    /// Requests rejected locally.
    rejected: [AtomicU64; SLOTS],
}

pub(super) struct Adaptive {
    pub(super) k: f64,
    pub(super) window: Duration,
    /// Slots per nanosecond: `SLOTS / window`, so that finding a reply's slot is a multiply.
    per_ns: f64,
    pub(super) max_rejection: f64,
    pub(super) min_requests: u32,
    /// The rejection probability, as `f64` bits.
    probability: AtomicU64,
    stripes: [Stripe; STRIPES],
}

/// The SRE book's two counts: the requests (sent, or rejected locally) and the accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) requests: u64,
    pub(super) accepts: u64,
}

/// What a span of slots holds, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) sent: u64,
    pub(super) accepts: u64,
    pub(super) rejected: u64,
}

impl Span {
    pub(super) const fn counts(self) -> Counts {
        Counts {
            requests: self.sent + self.rejected,
            accepts: self.accepts,
        }
    }
}

const fn tag(word: u64) -> u64 {
    word >> TAG_SHIFT
}

const fn requests(word: u64) -> u64 {
    (word >> REQUESTS_SHIFT) & COUNT_MAX
}

const fn accepts(word: u64) -> u64 {
    word & COUNT_MAX
}

const fn pack(slot: u64, requests: u64, accepts: u64) -> u64 {
    ((slot & TAG_MASK) << TAG_SHIFT) | (requests << REQUESTS_SHIFT) | accepts
}

/// Slots per nanosecond for a window.
const fn per_ns(window: Duration) -> f64 {
    SLOTS as f64 / (window.as_secs() as f64 * 1e9 + window.subsec_nanos() as f64)
}

thread_local! {
    /// This thread's stripe, `usize::MAX` until its first record.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The next thread's stripe.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

fn stripe() -> usize {
    STRIPE.with(|cell| {
        let mut stripe = cell.get();
        if stripe == usize::MAX {
            stripe = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            cell.set(stripe);
        }
        stripe
    })
}

impl Adaptive {
    pub(super) const fn new(
        k: f64,
        window: Duration,
        max_rejection: f64,
        min_requests: u32,
    ) -> Self {
        Adaptive {
            k,
            window,
            per_ns: per_ns(window),
            max_rejection,
            min_requests,
            probability: AtomicU64::new(0),
            stripes: [const {
                Stripe {
                    slots: [const { AtomicU64::new(0) }; SLOTS],
                    rejected: [const { AtomicU64::new(0) }; SLOTS],
                }
            }; STRIPES],
        }
    }

    /// The rejection probability now (as last recomputed).
    #[inline]
    pub(super) fn probability(&self) -> f64 {
        f64::from_bits(self.probability.load(Ordering::Relaxed))
    }

    /// The number of the slot that `now` (nanoseconds) falls in, from 1.
    #[inline]
    fn slot_of(&self, now: u64) -> u64 {
        // A multiply, not a division (a 64-bit division is 40 cycles on many cores): exact to
        // within a nanosecond or so of a slot's edge, for a process younger than 100 days.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "nanoseconds since the clock's base, and a slot number below 2^53"
        )]
        let slot = (now as f64 * self.per_ns) as u64;
        slot.saturating_add(1)
    }

    /// A window of `window` (1 s to 1 hour).
    pub(super) const fn set_window(&mut self, window: Duration) {
        self.window = window;
        self.per_ns = per_ns(window);
    }

    /// Counts a request rejected locally at `now` (nanoseconds), in this thread's stripe.
    pub(super) fn reject(&self, now: u64) {
        let slot = self.slot_of(now);
        let cell = &self.stripes[stripe()].rejected[(slot % SLOTS as u64) as usize];
        let mut old = cell.load(Ordering::Relaxed);
        loop {
            let new = if old >> TAG_SHIFT == slot & TAG_MASK {
                if old & REJECTED_MAX == REJECTED_MAX {
                    break;
                }
                old + 1
            } else {
                ((slot & TAG_MASK) << TAG_SHIFT) | 1
            };
            match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        self.recompute(slot);
    }

    /// Counts a request sent and answered at `now` (nanoseconds), accepted or not, in this
    /// thread's stripe.
    pub(super) fn record(&self, now: u64, accepted: bool) {
        let slot = self.slot_of(now);
        let cell = &self.stripes[stripe()].slots[(slot % SLOTS as u64) as usize];
        let mut old = cell.load(Ordering::Relaxed);
        loop {
            let (new, fresh) = if tag(old) == slot & TAG_MASK {
                if requests(old) == COUNT_MAX || accepts(old) == COUNT_MAX {
                    // A full slot keeps the ratio of the requests it has counted.
                    return;
                }
                (old + (1 << REQUESTS_SHIFT) + u64::from(accepted), false)
            } else {
                (pack(slot, 1, u64::from(accepted)), true)
            };
            match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    // A failure may raise the probability, and an accept lower one in force:
                    // recomputed at once. A success while nothing is rejected (the happy
                    // path) recomputes only to age the window.
                    if fresh || !accepted || self.probability.load(Ordering::Relaxed) != 0 {
                        self.recompute(slot);
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// The window that ends in slot `slot`, and its short horizon.
    pub(super) fn spans(&self, slot: u64) -> (Span, Span) {
        let (mut window, mut horizon) = (Span::default(), Span::default());
        // How many slots back from `slot` a cell's tag is, if within the window.
        let back = |word: u64| {
            let back = (slot & TAG_MASK).wrapping_sub(word >> TAG_SHIFT) & TAG_MASK;
            (word != 0 && back < SLOTS as u64 && back < slot).then_some(back)
        };
        for stripe in &self.stripes {
            for (cell, rejected) in stripe.slots.iter().zip(&stripe.rejected) {
                let word = cell.load(Ordering::Relaxed);
                if let Some(back) = back(word) {
                    let (sent, accepts) = (requests(word), accepts(word));
                    window.sent += sent;
                    window.accepts += accepts;
                    if back < HORIZON {
                        horizon.sent += sent;
                        horizon.accepts += accepts;
                    }
                }
                let word = rejected.load(Ordering::Relaxed);
                if let Some(back) = back(word) {
                    let count = word & REJECTED_MAX;
                    window.rejected += count;
                    if back < HORIZON {
                        horizon.rejected += count;
                    }
                }
            }
        }
        (window, horizon)
    }

    /// The SRE book's counts of the window that ends now.
    pub(super) fn counts_now(&self, now: u64) -> Counts {
        self.spans(self.slot_of(now)).0.counts()
    }

    /// The probability for the window that ends in slot `slot`, stored.
    fn recompute(&self, slot: u64) {
        let (window, horizon) = self.spans(slot);
        let p = self.probability_in(window, horizon);
        self.probability.store(p.to_bits(), Ordering::Relaxed);
    }

    /// The probability for a window and its horizon: see the module docs.
    pub(super) fn probability_in(&self, window: Span, horizon: Span) -> f64 {
        // The horizon's requests sent were accepted well above the rate of an overload that
        // the throttle holds (`1 / k`): half-way from it to all of them. The dependency has
        // recovered (a few failures as usual aside), and the load let through at least
        // doubles per horizon, whatever `k`.
        #[allow(clippy::cast_precision_loss, reason = "counts of at most 2^27")]
        let recovered = horizon.sent > 0
            && horizon.accepts as f64 * 2.0 * self.k >= horizon.sent as f64 * (self.k + 1.0);
        if recovered {
            return self.formula(horizon.counts(), self.k.max(RAMP));
        }
        let recent = self.probability_of(horizon.counts());
        self.probability_of(window.counts()).max(recent)
    }

    /// The SRE formula, capped, for `counts`: 0 below the minimum of requests.
    pub(super) fn probability_of(&self, counts: Counts) -> f64 {
        self.formula(counts, self.k)
    }

    /// The SRE formula with this `k`, capped: 0 below the minimum of requests.
    #[allow(clippy::cast_precision_loss, reason = "counts of at most 2^27")]
    fn formula(&self, counts: Counts, k: f64) -> f64 {
        if counts.requests < u64::from(self.min_requests) {
            return 0.0;
        }
        let requests = counts.requests as f64;
        let p = (requests - k * counts.accepts as f64) / (requests + 1.0);
        p.clamp(0.0, self.max_rejection)
    }
}
