//! Retry budgets: a cap on the retries of many calls together, so that retries do not
//! multiply the load on a dependency that is already failing.
//!
//! When a dependency goes down, every caller retries at once: with stamina's 10 attempts, a
//! service that fails every request gets ten times its normal load. A [`RetryBudget`] shared by
//! the calls to one dependency allows retries only while they stay a fraction of the calls that
//! were made; past it, a call gives up at once with its last error (or value), unchanged.
//!
//! Two kinds, as production systems have them:
//!
//! - **A ratio budget** ([`RetryBudget::new`]), the model of Finagle and Linkerd that Gateway
//!   API's GEP-3388 standardises: over the last `window` (default 10 s), retries may be at most
//!   `ratio` of the calls made (default 0.2: **at most 20% extra load**), plus a floor of
//!   `min_per_sec` retries per second (default 10) so that a quiet client can still retry. In
//!   numbers: a retry is allowed if `retries_in_window + 1 <= ratio * calls_in_window +
//!   min_per_sec * window_secs`, exactly, for the ratio as written in decimal (integer
//!   arithmetic on its digits: `0.3` allows 30%, where tower's `TpsBudget` truncates it to 1/3,
//!   and where the `f64` 0.3, a little less, would allow 299 in 1,000).
//! - **A token quota** ([`RetryBudget::token_quota`]), the AWS SDKs' 2026 model: a bucket of 500
//!   tokens; a retry costs 14 (5 for a failure that the predicate marks as throttling,
//!   [`Decision::Throttled`](crate::Decision::Throttled(None))); a call that succeeds after retrying
//!   refunds the cost of its last retry; a call that succeeds at once adds 1. With these
//!   defaults the quota runs dry at about 22% of calls failing (32% throttled), and refills as
//!   calls succeed.
//!
//! A budget is a `static` (its constructors are `const`), named by the fns and callers that
//! share it: `#[retry(budget = DB, ..)]`, [`RetryingCaller::budget`](crate::RetryingCaller::budget),
//! [`RetryPolicy::budget`](crate::RetryPolicy::budget). With the `process-budget` feature,
//! `set_process_budget` sets one for every retrying call of the process that names none;
//! `budget = None` keeps a fn out of it. [`Partitioned`] gives each key (a host, a region) a
//! budget of its own. Budgets are off by default, as in stamina.
//!
//! ```
//! use std::io;
//! use stamina::RetryBudget;
//!
//! /// Retries to the database: at most 20% on top of the calls, at least 10 per second.
//! static DB: RetryBudget = RetryBudget::new();
//!
//! #[stamina::retry(on = io::Error, budget = DB)]
//! fn load(path: &str) -> io::Result<String> {
//!     std::fs::read_to_string(path)
//! }
//! # let _instant = stamina::testing::set_testing(true, 2, false);
//! # assert!(load("/nonexistent").is_err());
//! ```
//!
//! # When the budget decides
//!
//! Last: a retry is withdrawn from the budget only once every other check has allowed it (the
//! switches, `on`, the attempts, the timeout and the deadline, the nesting guard), so that a
//! retry refused for another reason spends nothing. An exhausted budget gives up at once, with
//! the last error (or value) unchanged, no hook runs (no retry was scheduled), and the denial is
//! reported: [`RetryHook::on_denied`](crate::instrumentation::RetryHook::on_denied), by default
//! a `stamina.retry_denied` event and the `stamina_retries_denied_total` counter. The first
//! attempt never waits for a budget.
//!
//! Inactive (`set_active(false)`), calls make one attempt and never withdraw. In testing mode
//! budgets are ignored, as the timeout is: a test gets its retries whatever other tests spent. In
//! both, calls are still counted (the happy path reads no switch): the switches decide retries,
//! not what the budget knows of the traffic. A test of a budget itself runs with testing mode off
//! (on a [`TestClock`](crate::testing::TestClock) for instant waits).
//!
//! # Cost
//!
//! A call under a budget pays one relaxed atomic operation on the happy path: the ratio budget's
//! deposit (an add; every 64th also reads the clock), the quota's check for a debt to repay (a
//! load; a compare-and-swap while it refills). A call that names no budget pays nothing, unless
//! the `process-budget` feature is on: then it reads whether a process budget is set (one
//! load). A retry pays a few compare-and-swaps, without a lock, and a read of the clock.
//!
//! # Precision of the window
//!
//! The ratio budget counts calls and retries in ten slots of `window / 10`: calls are counted
//! in the window to within one slot and 64 calls (a retry can see up to one slot's calls more
//! than the window's, or up to 64 fewer), retries exactly. Under any concurrency no more
//! retries are granted than the formula allows for the calls counted: the check and the
//! withdrawal are one compare-and-swap.

use std::collections::HashMap;
use std::fmt;
#[cfg(feature = "process-budget")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::decision::Decision;
use crate::error::ConfigError;

/// The number of slots the window is divided into.
const SLOTS: u64 = 10;
/// Every this many deposits, the ratio budget looks at the clock.
const OBSERVE_EVERY: u64 = 64;

/// A cap on the retries of the calls that share it: see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use stamina::RetryBudget;
///
/// // reqwest's default, in its terms: at most 20% extra load over 10 s, 10 retries per second.
/// static API: RetryBudget = RetryBudget::new()
///     .ratio(0.2)
///     .window(Duration::from_secs(10))
///     .min_per_sec(10);
/// // The AWS SDKs' quota.
/// static S3: RetryBudget = RetryBudget::token_quota();
/// # assert_eq!(API.get_ratio(), Some(0.2));
/// # assert_eq!(S3.get_capacity(), Some(500));
/// ```
pub struct RetryBudget {
    kind: Kind,
}

// A budget lives in a `static` and is built in `const` (no box), so the quota's variant being
// smaller than the ratio's window of slots costs nothing worth a pointer.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Ratio(Ratio),
    Quota(Quota),
}

/// The Finagle/Linkerd ratio budget, lock-free.
struct Ratio {
    /// The ratio as the decimal it was written as.
    fraction: Decimal,
    window: Duration,
    min_per_sec: u32,
    /// Calls ever made under the budget.
    deposits: AtomicU64,
    /// The current slot's epoch (high 32 bits) and the retries granted in it (low 32 bits).
    state: AtomicU64,
    /// Past slots: their epoch and retries, by `epoch % (SLOTS + 1)`.
    history: [AtomicU64; SLOTS as usize + 1],
    /// Per slot: its epoch and the low 32 bits of `deposits` when it was first seen.
    marks: [AtomicU64; SLOTS as usize + 1],
    /// The first epoch the budget saw, or 0.
    first: AtomicU32,
}

/// The AWS 2026 token quota, lock-free.
struct Quota {
    capacity: u32,
    cost: u16,
    throttling_cost: u16,
    /// Tokens spent and not yet given back: the quota has `capacity - debt` left.
    debt: AtomicU64,
}

const fn pack(epoch: u32, count: u32) -> u64 {
    ((epoch as u64) << 32) | count as u64
}

const fn epoch_of(packed: u64) -> u32 {
    (packed >> 32) as u32
}

const fn count_of(packed: u64) -> u32 {
    packed as u32
}

#[allow(
    clippy::declare_interior_mutable_const,
    reason = "array initialisers, each copied once"
)]
const ZERO: AtomicU64 = AtomicU64::new(0);

impl RetryBudget {
    /// A ratio budget with the defaults of Finagle, Linkerd and reqwest: retries at most 20% of
    /// the calls of the last 10 s, plus 10 per second.
    #[must_use]
    pub const fn new() -> Self {
        RetryBudget {
            kind: Kind::Ratio(Ratio {
                fraction: Decimal(2, 1),
                window: Duration::from_secs(10),
                min_per_sec: 10,
                deposits: AtomicU64::new(0),
                state: AtomicU64::new(0),
                history: [ZERO; SLOTS as usize + 1],
                marks: [ZERO; SLOTS as usize + 1],
                first: AtomicU32::new(0),
            }),
        }
    }

    /// A token quota with the AWS SDKs' 2026 defaults: 500 tokens, a retry costs 14 (5 when
    /// throttled), a success after retrying refunds its last retry, a success at once adds 1.
    #[must_use]
    pub const fn token_quota() -> Self {
        RetryBudget {
            kind: Kind::Quota(Quota {
                capacity: 500,
                cost: 14,
                throttling_cost: 5,
                debt: AtomicU64::new(0),
            }),
        }
    }

    /// The largest extra load that retries may add, as a fraction of the calls (a ratio budget;
    /// ignored by a quota): `0.2` is "at most 20% extra load". Exact for the ratio as written in
    /// decimal (`0.3` allows 300 retries per 1,000 calls, `0.0000025` 2 per 1,000,010), to 16
    /// significant digits.
    /// Negative and NaN are 0 (retries only from `min_per_sec`); above 1000 is 1000.
    /// [`try_ratio`](Self::try_ratio) reports such values instead.
    #[must_use]
    pub const fn ratio(mut self, ratio: f64) -> Self {
        if let Kind::Ratio(r) = &mut self.kind {
            r.fraction = Decimal::of(ratio);
        }
        self
    }

    /// Like [`ratio`](Self::ratio), but a ratio outside 0 to 1000, or NaN, is an error.
    pub const fn try_ratio(self, ratio: f64) -> Result<Self, ConfigError> {
        if ratio >= 0.0 && ratio <= 1000.0 {
            Ok(self.ratio(ratio))
        } else {
            Err(ConfigError::InvalidBudget(
                "the ratio of a retry budget must be between 0 and 1000 (0.2: at most 20% extra load)",
            ))
        }
    }

    /// The time over which calls and retries are counted (a ratio budget): between 1 s and
    /// 60 s, as in Finagle (default 10 s). Shorter is 1 s, longer 60 s;
    /// [`try_window`](Self::try_window) reports such values instead.
    #[must_use]
    pub const fn window(mut self, window: Duration) -> Self {
        if let Kind::Ratio(r) = &mut self.kind {
            r.window = clamp_window(window);
        }
        self
    }

    /// Like [`window`](Self::window), but outside 1 s to 60 s is an error.
    pub const fn try_window(self, window: Duration) -> Result<Self, ConfigError> {
        if window.as_secs() >= 1 && window.as_nanos() <= 60_000_000_000 {
            Ok(self.window(window))
        } else {
            Err(ConfigError::InvalidBudget(
                "the window of a retry budget must be between 1 s and 60 s",
            ))
        }
    }

    /// The retries per second allowed whatever the ratio (a ratio budget; default 10), so that a
    /// client with few calls can still retry: `min_per_sec * window` retries per window.
    #[must_use]
    pub const fn min_per_sec(mut self, retries: u32) -> Self {
        if let Kind::Ratio(r) = &mut self.kind {
            r.min_per_sec = retries;
        }
        self
    }

    /// The tokens of a quota (default 500; ignored by a ratio budget).
    #[must_use]
    pub const fn capacity(mut self, tokens: u32) -> Self {
        if let Kind::Quota(q) = &mut self.kind {
            q.capacity = tokens;
        }
        self
    }

    /// What a retry costs a quota (default 14), and a retry of a failure marked as throttling
    /// (default 5). A cost of 0 is 1: a free retry would make the quota unlimited;
    /// [`try_retry_cost`](Self::try_retry_cost) reports it instead.
    #[must_use]
    pub const fn retry_cost(mut self, cost: u16, throttling_cost: u16) -> Self {
        if let Kind::Quota(q) = &mut self.kind {
            q.cost = if cost == 0 { 1 } else { cost };
            q.throttling_cost = if throttling_cost == 0 {
                1
            } else {
                throttling_cost
            };
        }
        self
    }

    /// Like [`retry_cost`](Self::retry_cost), but a cost of 0 is an error.
    pub const fn try_retry_cost(
        self,
        cost: u16,
        throttling_cost: u16,
    ) -> Result<Self, ConfigError> {
        if cost == 0 || throttling_cost == 0 {
            Err(ConfigError::InvalidBudget(
                "a retry must cost a token quota at least 1 token: a free retry would make it unlimited (no budget: `budget = None`, `.no_budget()`)",
            ))
        } else {
            Ok(self.retry_cost(cost, throttling_cost))
        }
    }

    /// The ratio of a ratio budget.
    #[must_use]
    pub const fn get_ratio(&self) -> Option<f64> {
        match &self.kind {
            Kind::Ratio(r) => Some(r.fraction.get()),
            Kind::Quota(_) => None,
        }
    }

    /// The window of a ratio budget.
    #[must_use]
    pub const fn get_window(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Ratio(r) => Some(r.window),
            Kind::Quota(_) => None,
        }
    }

    /// The capacity of a quota.
    #[must_use]
    pub const fn get_capacity(&self) -> Option<u32> {
        match &self.kind {
            Kind::Quota(q) => Some(q.capacity),
            Kind::Ratio(_) => None,
        }
    }

    /// The retries the budget would grant now, if none were made meanwhile: for a ratio budget
    /// in retries, for a quota in tokens left. For dashboards and tests.
    #[must_use]
    pub fn available(&self) -> u64 {
        match &self.kind {
            Kind::Ratio(r) => r.available(now_epoch(r.window)),
            Kind::Quota(q) => u64::from(q.capacity).saturating_sub(q.debt.load(Ordering::Relaxed)),
        }
    }

    /// The same configuration with nothing spent: for [`Partitioned`].
    #[must_use]
    pub const fn fresh(&self) -> Self {
        match &self.kind {
            Kind::Ratio(r) => RetryBudget::new()
                .ratio(r.fraction.get())
                .window(r.window)
                .min_per_sec(r.min_per_sec),
            Kind::Quota(q) => RetryBudget::token_quota()
                .capacity(q.capacity)
                .retry_cost(q.cost, q.throttling_cost),
        }
    }

    /// A call succeeded at its first attempt: the ratio budget counts a call, the quota repays
    /// one token of its debt.
    #[inline]
    pub(crate) fn first_try_success(&self) {
        match &self.kind {
            Kind::Ratio(r) => r.deposit(),
            Kind::Quota(q) => {
                if q.debt.load(Ordering::Relaxed) != 0 {
                    q.repay(1);
                }
            }
        }
    }

    /// A call's first attempt failed: the ratio budget counts the call.
    #[cold]
    pub(crate) fn first_failure(&self) {
        if let Kind::Ratio(r) = &self.kind {
            r.deposit();
        }
    }

    /// Withdraws a retry: its cost (a quota's; 1 for a ratio budget), or `None` if the budget
    /// is exhausted.
    pub(crate) fn withdraw(&self, decision: Decision) -> Option<u16> {
        match &self.kind {
            Kind::Ratio(r) => r.withdraw(now_epoch(r.window)).then_some(1),
            Kind::Quota(q) => {
                let cost = if decision.is_throttling() {
                    q.throttling_cost
                } else {
                    q.cost
                };
                q.withdraw(cost).then_some(cost)
            }
        }
    }

    /// A call succeeded after retrying, its last retry having cost `cost`: the quota refunds it.
    pub(crate) fn success_after_retry(&self, cost: u16) {
        if let Kind::Quota(q) = &self.kind {
            q.repay(u64::from(cost));
        }
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Ratio(r) => f
                .debug_struct("RetryBudget")
                .field("ratio", &r.fraction.get())
                .field("window", &r.window)
                .field("min_per_sec", &r.min_per_sec)
                .field("available", &self.available())
                .finish(),
            Kind::Quota(q) => f
                .debug_struct("RetryBudget")
                .field("capacity", &q.capacity)
                .field("retry_cost", &q.cost)
                .field("throttling_cost", &q.throttling_cost)
                .field("available", &self.available())
                .finish(),
        }
    }
}

/// A ratio as a decimal fraction, `numerator / 10^exponent`: the shortest decimal that reads
/// back as the `f64` given (what a user wrote: `0.3`, `0.0000025`), so that the budget's
/// arithmetic is exact in integers for it, where the `f64` itself is not (`0.3` is
/// `0.29999999999999998889..`: 299 retries per 1,000 calls, not 300).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal(u64, u32);

impl Decimal {
    /// The largest numerator tried: below 2^53, every integer is an exact `f64`, and so is
    /// the quotient's rounding.
    const EXACT: u64 = 1 << 53;

    /// `ratio` as the shortest decimal that reads back as it, to 16 significant digits
    /// (rounded there if it has more). Negative and NaN are 0; above 1000 is 1000.
    const fn of(ratio: f64) -> Self {
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
    const fn get(self) -> f64 {
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

const fn clamp_window(window: Duration) -> Duration {
    if window.as_secs() < 1 {
        Duration::from_secs(1)
    } else if window.as_nanos() > 60_000_000_000 {
        Duration::from_secs(60)
    } else {
        window
    }
}

/// The current epoch of a window: the number of the slot, from 1.
fn now_epoch(window: Duration) -> u32 {
    let slot = (window.as_nanos() / u128::from(SLOTS)).max(1);
    let now = u128::from(crate::clock::now_nanos());
    u32::try_from(now / slot).unwrap_or(u32::MAX - 1) + 1
}

impl Ratio {
    #[inline]
    fn deposit(&self) {
        let n = self.deposits.fetch_add(1, Ordering::Relaxed);
        if n % OBSERVE_EVERY == OBSERVE_EVERY - 1 {
            self.observe_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn observe_now(&self) {
        self.observe(now_epoch(self.window));
    }

    /// Moves the current slot up to `epoch` (never back): the finished slot's retries go to the
    /// history, and the new slot marks the calls counted so far. Returns the current state.
    fn observe(&self, epoch: u32) -> u64 {
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
    fn mark(&self, epoch: u32) {
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
    fn deposits_in_window(&self, epoch: u32) -> u64 {
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
    fn withdrawn_in_window(&self, state: u64) -> u64 {
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
    fn reserve(&self) -> u128 {
        u128::from(self.min_per_sec) * self.window.as_millis() / 1000
    }

    /// Whether one more retry fits: `withdrawn + 1 <= ratio * deposits + reserve`, in integers
    /// (the ratio's numerator and its power of ten), exact.
    fn allows(&self, withdrawn: u64, deposits: u64) -> bool {
        let scale = self.fraction.scale();
        (u128::from(withdrawn) + 1) * scale
            <= u128::from(self.fraction.0) * u128::from(deposits) + self.reserve() * scale
    }

    fn withdraw(&self, epoch: u32) -> bool {
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

    fn available(&self, epoch: u32) -> u64 {
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

fn slot_of(epoch: u32) -> usize {
    (u64::from(epoch) % (SLOTS + 1)) as usize
}

impl Quota {
    fn withdraw(&self, cost: u16) -> bool {
        let cost = u64::from(cost);
        let capacity = u64::from(self.capacity);
        self.debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                (debt + cost <= capacity).then_some(debt + cost)
            })
            .is_ok()
    }

    fn repay(&self, tokens: u64) {
        let _ = self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                (debt != 0).then(|| debt.saturating_sub(tokens))
            });
    }
}

// ---------------------------------------------------------------------------------------------
// The process's budget.
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "process-budget")]
static PROCESS: OnceLock<&'static RetryBudget> = OnceLock::new();

/// Sets the budget of every retrying call in the process that names none of its own, once, as
/// `tracing` and `metrics` set their global subscriber and recorder: `Err` with the budget
/// already set if there is one (feature `process-budget`). A fn or caller with a budget of its
/// own uses that one; one with `budget = None`
/// ([`RetryPolicy::no_budget`](crate::RetryPolicy::no_budget)) uses none. Without a process
/// budget, calls that name none have none.
///
/// Behind a feature because it costs every call that names no budget, in every crate of the
/// program: one load on the happy path, to see whether a process budget is set. Without the
/// feature, a call that names no budget pays nothing for budgets.
///
/// ```
/// use stamina::RetryBudget;
///
/// static ALL: RetryBudget = RetryBudget::new().ratio(0.1);
/// stamina::budget::set_process_budget(&ALL).expect("the first");
/// assert!(std::ptr::eq(stamina::budget::process_budget().unwrap(), &ALL));
/// assert!(stamina::budget::set_process_budget(&ALL).is_err());
/// ```
#[cfg(feature = "process-budget")]
pub fn set_process_budget(budget: &'static RetryBudget) -> Result<(), &'static RetryBudget> {
    PROCESS.set(budget)?;
    Ok(())
}

/// The process's budget, if one is set (feature `process-budget`).
#[cfg(feature = "process-budget")]
#[inline]
#[must_use]
pub fn process_budget() -> Option<&'static RetryBudget> {
    PROCESS.get().copied()
}

/// Which budget a call uses: the policy's choice.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum BudgetChoice {
    /// The process's, if one is set: the default.
    #[default]
    Process,
    /// None.
    Off,
    /// This one.
    Use(&'static RetryBudget),
}

impl BudgetChoice {
    /// The budget a call under this choice uses.
    #[inline]
    pub(crate) fn get(self) -> Option<&'static RetryBudget> {
        match self {
            #[cfg(feature = "process-budget")]
            BudgetChoice::Process => process_budget(),
            #[cfg(not(feature = "process-budget"))]
            BudgetChoice::Process => None,
            BudgetChoice::Off => None,
            BudgetChoice::Use(budget) => Some(budget),
        }
    }

    /// Whether a call under this choice may have a budget: `false` is known at compile time for
    /// a constant policy, and then budgets cost its happy path nothing.
    #[inline]
    pub(crate) const fn may_have(self) -> bool {
        match self {
            BudgetChoice::Process => cfg!(feature = "process-budget"),
            BudgetChoice::Off => false,
            BudgetChoice::Use(_) => true,
        }
    }
}

impl PartialEq for BudgetChoice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (BudgetChoice::Use(a), BudgetChoice::Use(b)) => std::ptr::eq(*a, *b),
            (BudgetChoice::Process, BudgetChoice::Process)
            | (BudgetChoice::Off, BudgetChoice::Off) => true,
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Partitions.
// ---------------------------------------------------------------------------------------------

/// A budget per key: per host, as reqwest scopes its budget, or per region, as smithy-rs's
/// `RetryPartition` does. Each key gets a fresh budget of the template's configuration the first
/// time it is asked for, kept for the life of the process: keys should be a bounded set.
///
/// ```
/// use stamina::RetryBudget;
/// use stamina::budget::Partitioned;
///
/// static BY_HOST: Partitioned = Partitioned::new(RetryBudget::new().ratio(0.1));
///
/// #[stamina::retry(on = std::io::Error, budget = BY_HOST.get(host))]
/// fn fetch(host: &str) -> std::io::Result<String> {
///     std::fs::read_to_string(format!("/srv/{host}"))
/// }
/// # let _off = stamina::testing::set_active(false);
/// # assert!(fetch("a.example").is_err());
/// assert!(std::ptr::eq(BY_HOST.get("a.example"), BY_HOST.get("a.example")));
/// assert!(!std::ptr::eq(BY_HOST.get("a.example"), BY_HOST.get("b.example")));
/// ```
///
/// A lookup takes a read lock and hashes the key: a call under a partitioned budget pays that
/// on its happy path, on top of the budget's own deposit.
pub struct Partitioned {
    template: RetryBudget,
    budgets: RwLock<Option<HashMap<Box<str>, &'static RetryBudget>>>,
}

impl Partitioned {
    /// Partitions with `template`'s configuration.
    #[must_use]
    pub const fn new(template: RetryBudget) -> Self {
        Partitioned {
            template,
            budgets: RwLock::new(None),
        }
    }

    /// The budget of `key`, made on first use.
    pub fn get(&self, key: &str) -> &'static RetryBudget {
        let known = self
            .budgets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|budgets| budgets.get(key).copied());
        if let Some(budget) = known {
            return budget;
        }
        let mut budgets = self.budgets.write().unwrap_or_else(PoisonError::into_inner);
        budgets
            .get_or_insert_with(HashMap::new)
            .entry(key.into())
            .or_insert_with(|| Box::leak(Box::new(self.template.fresh())))
    }
}

impl fmt::Debug for Partitioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self
            .budgets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, HashMap::len);
        f.debug_struct("Partitioned")
            .field("template", &self.template)
            .field("keys", &keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::thread;

    use super::*;

    /// Grants retries until the budget refuses one; their number.
    fn drain(budget: &RetryBudget, decision: Decision) -> u64 {
        let mut granted = 0;
        while budget.withdraw(decision).is_some() {
            granted += 1;
            assert!(granted < 10_000_000, "the budget never refuses");
        }
        granted
    }

    fn calls(budget: &RetryBudget, n: u64) {
        for _ in 0..n {
            budget.first_try_success();
        }
    }

    #[test]
    fn a_ratio_is_exact_where_towers_truncates() {
        // tower's `TpsBudget` allows 33% for 0.3 and 100% for 0.6 (tower#857).
        for (ratio, calls_made, expected) in [
            (0.01, 10_000, 100),
            (0.1, 1_000, 100),
            (0.2, 1_000, 200),
            (0.3, 1_000, 300),
            (0.6, 1_000, 600),
            (0.7, 999, 699), // 699.3, rounded down: the +1 must fit
            (1.0, 1_000, 1_000),
            (1.5, 1_000, 1_500),
            (10.0, 100, 1_000),
            (0.123_456, 1_000_000, 123_456),
            // Regression: rounded to parts per million this was 3 (3 ppm); exact, it is 2.
            (0.000_002_5, 1_000_010, 2),
            (0.000_002_5, 1_199_999, 2),
            (0.000_002_5, 1_200_000, 3),
            (1.0 / 3.0, 3_000_000, 999_999),
            (999.999, 1_000, 999_999),
        ] {
            let budget = RetryBudget::new()
                .ratio(ratio)
                .min_per_sec(0)
                .window(Duration::from_secs(60));
            calls(&budget, calls_made);
            assert_eq!(budget.available(), expected, "ratio {ratio}");
            assert_eq!(drain(&budget, Decision::Retry), expected, "ratio {ratio}");
            assert_eq!(budget.available(), 0);
        }
    }

    #[test]
    fn the_reserve_allows_min_per_sec_over_the_window_without_calls() {
        let budget = RetryBudget::new()
            .ratio(0.0)
            .min_per_sec(10)
            .window(Duration::from_secs(10));
        assert_eq!(drain(&budget, Decision::Retry), 100);
        let budget = RetryBudget::new(); // 20%, 10 s, 10 per second
        calls(&budget, 50);
        assert_eq!(drain(&budget, Decision::Retry), 110);
    }

    #[test]
    fn a_failed_first_attempt_counts_as_a_call() {
        let budget = RetryBudget::new().ratio(0.5).min_per_sec(0);
        for _ in 0..4 {
            budget.first_failure();
        }
        assert_eq!(drain(&budget, Decision::Retry), 2);
    }

    #[test]
    fn concurrent_retries_never_overdraw_a_ratio_budget() {
        // Eight threads call and retry at once: granted <= ratio x calls + reserve, for every
        // ratio; with no calls, exactly the reserve is granted, however the threads interleave.
        for ratio in [0.05, 0.3, 0.6, 2.0] {
            let budget: &'static RetryBudget =
                Box::leak(Box::new(RetryBudget::new().ratio(ratio).min_per_sec(3)));
            let granted = AtomicU64::new(0);
            thread::scope(|s| {
                for _ in 0..8 {
                    s.spawn(|| {
                        for i in 0..2_000 {
                            if i % 3 == 0 {
                                budget.first_failure();
                            } else {
                                budget.first_try_success();
                            }
                            while budget.withdraw(Decision::Retry).is_some() {
                                granted.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            let bound = (ratio * 16_000.0 + 30.0).floor() as u64;
            let granted = granted.into_inner();
            assert!(granted <= bound, "ratio {ratio}: {granted} > {bound}");
            // Everything the calls paid for was spent, bar rounding.
            assert!(granted + 1 >= bound, "ratio {ratio}: {granted} of {bound}");
        }
        let reserve_only: &'static RetryBudget =
            Box::leak(Box::new(RetryBudget::new().ratio(0.0).min_per_sec(7)));
        let granted = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    granted.fetch_add(drain(reserve_only, Decision::Retry), Ordering::Relaxed)
                });
            }
        });
        assert_eq!(granted.into_inner(), 70);
    }

    #[test]
    fn a_quota_charges_refunds_and_repays() {
        let quota = RetryBudget::token_quota();
        assert_eq!(quota.available(), 500);
        assert_eq!(quota.withdraw(Decision::Retry), Some(14));
        assert_eq!(quota.available(), 486);
        // A success after the retry refunds it.
        quota.success_after_retry(14);
        assert_eq!(quota.available(), 500);
        // Throttling is cheaper.
        assert_eq!(quota.withdraw(Decision::Throttled(None)), Some(5));
        assert_eq!(quota.available(), 495);
        // Each success at once repays a token, never past the capacity.
        calls(&quota, 10);
        assert_eq!(quota.available(), 500);
        // 500 / 14: 35 retries, and the 36th is refused.
        assert_eq!(drain(&quota, Decision::Retry), 35);
        assert_eq!(quota.available(), 10);
        assert_eq!(drain(&quota, Decision::Throttled(None)), 2);
        let small = RetryBudget::token_quota().capacity(10).retry_cost(3, 1);
        assert_eq!(drain(&small, Decision::Retry), 3);
        assert_eq!(drain(&small, Decision::Throttled(None)), 1);
    }

    #[test]
    fn a_free_retry_is_refused_or_costs_one_token() {
        // Regression: `retry_cost(0, 0)` made a quota unlimited without a word.
        let free = RetryBudget::token_quota().capacity(3).retry_cost(0, 0);
        assert_eq!(drain(&free, Decision::Retry), 3);
        assert_eq!(drain(&free, Decision::Throttled(None)), 0);
        for (cost, throttling) in [(0, 5), (14, 0), (0, 0)] {
            assert!(matches!(
                RetryBudget::token_quota().try_retry_cost(cost, throttling),
                Err(ConfigError::InvalidBudget(_))
            ));
        }
        assert!(RetryBudget::token_quota().try_retry_cost(1, 1).is_ok());
    }

    #[test]
    fn a_ratio_reads_back_as_written() {
        for ratio in [0.2, 0.3, 0.000_002_5, 1.0 / 3.0, 7.0, 999.999, 0.0] {
            assert_eq!(
                RetryBudget::new().ratio(ratio).get_ratio(),
                Some(ratio),
                "{ratio}"
            );
        }
        assert_eq!(Decimal::of(0.3), Decimal(3, 1));
        assert_eq!(Decimal::of(0.000_002_5), Decimal(25, 7));
        // Beyond 16 significant digits, the nearest 16-digit decimal.
        assert_eq!(Decimal::of(0.1 + 0.2), Decimal(3_000_000_000_000_001, 16));
    }

    #[test]
    fn concurrent_retries_never_overdraw_a_quota() {
        let quota: &'static RetryBudget = Box::leak(Box::new(RetryBudget::token_quota()));
        let granted = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| granted.fetch_add(drain(quota, Decision::Retry), Ordering::Relaxed));
            }
        });
        assert_eq!(granted.into_inner(), 35);
    }

    #[test]
    fn out_of_range_settings_are_errors_or_clamped() {
        for bad in [-0.1, f64::NAN, 1000.5, f64::INFINITY] {
            assert!(RetryBudget::new().try_ratio(bad).is_err(), "{bad}");
        }
        assert_eq!(RetryBudget::new().ratio(-1.0).get_ratio(), Some(0.0));
        assert_eq!(RetryBudget::new().ratio(f64::NAN).get_ratio(), Some(0.0));
        assert_eq!(RetryBudget::new().ratio(5000.0).get_ratio(), Some(1000.0));
        assert!(
            RetryBudget::new()
                .try_window(Duration::from_millis(999))
                .is_err()
        );
        assert!(
            RetryBudget::new()
                .try_window(Duration::from_secs(61))
                .is_err()
        );
        assert_eq!(
            RetryBudget::new().window(Duration::ZERO).get_window(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(RetryBudget::token_quota().get_ratio(), None);
        assert_eq!(RetryBudget::new().get_capacity(), None);
    }

    #[test]
    fn old_calls_and_retries_leave_the_window() {
        // Explicit epochs (slots of 1 s in a 10 s window), off the real clock.
        let budget = RetryBudget::new().ratio(0.5).min_per_sec(0);
        let Kind::Ratio(r) = &budget.kind else {
            unreachable!()
        };
        r.observe(100);
        for _ in 0..100 {
            r.deposits.fetch_add(1, Ordering::Relaxed);
        }
        let mut granted = 0;
        while r.withdraw(100) {
            granted += 1;
        }
        assert_eq!(granted, 50);
        // Five slots on, the same calls and retries are in the window.
        assert!(!r.withdraw(105));
        // Twenty slots on, both have left it: nothing to retry on, until new calls come.
        assert!(!r.withdraw(120));
        for _ in 0..10 {
            r.deposits.fetch_add(1, Ordering::Relaxed);
        }
        let mut granted = 0;
        while r.withdraw(120) {
            granted += 1;
        }
        assert_eq!(granted, 5);
        assert_eq!(r.available(120), 0);
    }

    #[test]
    fn partitions_are_budgets_of_their_own() {
        static BY_HOST: Partitioned = Partitioned::new(RetryBudget::token_quota().capacity(28));
        let a = BY_HOST.get("a");
        assert!(std::ptr::eq(a, BY_HOST.get("a")));
        assert_eq!(drain(a, Decision::Retry), 2);
        assert_eq!(BY_HOST.get("b").available(), 28);
        assert_eq!(BY_HOST.get("a").available(), 0);
    }
}
