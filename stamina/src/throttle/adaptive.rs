//! The SRE book's adaptive throttling: reject locally with probability
//! `max(0, (requests - k * accepts) / (requests + 1))`, over a decaying window.
//!
//! Lock-free: requests and accepts are counted in a ring of [`SLOTS`] time slots per stripe,
//! each slot one `u64` (a 24-bit tag of its slot's number, 20 bits of requests, 20 of
//! accepts), updated by one compare-and-swap. Each thread counts in its own stripe (one of
//! [`STRIPES`], each on its own cache lines), so threads do not contend on a counter. The
//! probability is kept as one word, recomputed from every stripe's slots (16 cache lines) by
//! the thread whose record starts a slot, by every failure, by every accept while the word is not
//! zero, and otherwise every [`RECOMPUTE_EVERY`] records of a slot: the happy path (successes,
//! nothing rejected) pays one CAS and one load per reply. The check before an attempt reads that
//! word, and draws only when it is not zero.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The slots of the window: a slot is `window / SLOTS` long (7.5 s of the default 2 minutes),
/// and the window counts to within one slot.
pub(super) const SLOTS: usize = 16;
/// The stripes that threads count in.
const STRIPES: usize = 8;
/// While nothing is rejected, a stripe recomputes the probability after this many accepts in
/// its slot (to age the window).
const RECOMPUTE_EVERY: u64 = 16;

const TAG_BITS: u32 = 24;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const REQUESTS_SHIFT: u32 = COUNT_BITS;
const TAG_SHIFT: u32 = 2 * COUNT_BITS;

/// One stripe's slots, on cache lines of its own.
#[repr(align(128))]
struct Stripe {
    slots: [AtomicU64; SLOTS],
}

pub(super) struct Adaptive {
    pub(super) k: f64,
    pub(super) window: Duration,
    pub(super) max_rejection: f64,
    pub(super) min_requests: u32,
    /// The rejection probability, as `f64` bits.
    probability: AtomicU64,
    stripes: [Stripe; STRIPES],
}

/// What one window holds, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) requests: u64,
    pub(super) accepts: u64,
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
            max_rejection,
            min_requests,
            probability: AtomicU64::new(0),
            stripes: [const {
                Stripe {
                    slots: [const { AtomicU64::new(0) }; SLOTS],
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
    fn slot_of(&self, now: u64) -> u64 {
        let width = (self.window.as_nanos() / SLOTS as u128).max(1);
        u64::try_from(u128::from(now) / width).unwrap_or(u64::MAX - 1) + 1
    }

    /// Counts a request at `now` (nanoseconds), accepted or not, in this thread's stripe.
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
                    if fresh
                        || !accepted
                        || self.probability.load(Ordering::Relaxed) != 0
                        || requests(new) % RECOMPUTE_EVERY == 0
                    {
                        self.recompute(slot);
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// The requests and accepts of the window that ends in slot `slot`.
    pub(super) fn counts(&self, slot: u64) -> Counts {
        let mut counts = Counts::default();
        let oldest = slot.saturating_sub(SLOTS as u64 - 1);
        for stripe in &self.stripes {
            for cell in &stripe.slots {
                let word = cell.load(Ordering::Relaxed);
                // The slot's number from its tag: the latest with that tag, at or before `slot`.
                let back = (slot & TAG_MASK).wrapping_sub(tag(word)) & TAG_MASK;
                if word != 0
                    && slot
                        .checked_sub(back)
                        .is_some_and(|tagged| tagged >= oldest)
                {
                    counts.requests += requests(word);
                    counts.accepts += accepts(word);
                }
            }
        }
        counts
    }

    /// The counts of the window that ends now.
    pub(super) fn counts_now(&self, now: u64) -> Counts {
        self.counts(self.slot_of(now))
    }

    /// The probability for the window that ends in slot `slot`, stored.
    fn recompute(&self, slot: u64) {
        let p = self.probability_of(self.counts(slot));
        self.probability.store(p.to_bits(), Ordering::Relaxed);
    }

    /// The SRE formula, capped, for `counts`: 0 below the minimum of requests.
    #[allow(clippy::cast_precision_loss, reason = "counts of at most 2^27")]
    pub(super) fn probability_of(&self, counts: Counts) -> f64 {
        if counts.requests < u64::from(self.min_requests) {
            return 0.0;
        }
        let requests = counts.requests as f64;
        let p = (requests - self.k * counts.accepts as f64) / (requests + 1.0);
        p.clamp(0.0, self.max_rejection)
    }
}
