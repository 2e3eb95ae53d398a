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
//! - **gRPC's retry throttling** ([`RetryBudget::grpc_throttling`], gRPC A6's
//!   `retryThrottling`): `max_tokens` tokens; every failure that `on` retries takes one
//!   (whether or not it is then retried), every success gives back `token_ratio`; a retry or a
//!   hedge is sent only while more than half of the tokens are left. Kept in thousandths of a
//!   token, as grpc-java keeps them, so a ratio of 3 decimals is exact. It bounds the failure
//!   rate at which retries stop (about `token_ratio / (1 + token_ratio)` of attempts failing),
//!   not the extra load: for "at most 20% extra load", use a ratio budget.
//!
//! A budget is a `static` (its constructors are `const`), named by the fns and callers that
//! share it: `#[retry(budget = DB, ..)]`, [`RetryingCaller::budget`](crate::RetryingCaller::budget),
//! [`RetryPolicy::budget`](crate::RetryPolicy::budget). With the `process-budget` feature,
//! `set_process_budget` sets one for every retrying call of the process that names none;
//! `budget = None` keeps a fn out of it. [`Partitioned`] gives each key (a host, a region) a
//! budget of its own (and, as `Partitioned<Throttle>`, a [throttle](crate::throttle)). Budgets
//! are off by default, as in stamina. A budget caps the retries; to hold back first attempts
//! too while a dependency refuses most of them, add a [`Throttle`](crate::Throttle).
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

use std::fmt;
#[cfg(feature = "process-budget")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::decision::Decision;
use crate::error::ConfigError;

mod partitioned;
mod quota;
mod ratio;
#[cfg(test)]
mod tests;
mod tokens;

pub(crate) use self::partitioned::sealed;
pub use self::partitioned::{Partition, Partitioned};
use self::quota::Quota;
use self::ratio::{Decimal, Ratio, SLOTS, ZERO, clamp_window, now_epoch};
use self::tokens::Tokens;

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
    Tokens(Tokens),
}

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

    /// The tokens of a quota (default 500; ignored by the other kinds).
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
            Kind::Quota(_) | Kind::Tokens(_) => None,
        }
    }

    /// The window of a ratio budget.
    #[must_use]
    pub const fn get_window(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Ratio(r) => Some(r.window),
            Kind::Quota(_) | Kind::Tokens(_) => None,
        }
    }

    /// The capacity of a quota, or the `max_tokens` of gRPC retry throttling.
    #[must_use]
    pub const fn get_capacity(&self) -> Option<u32> {
        match &self.kind {
            Kind::Quota(q) => Some(q.capacity),
            #[allow(clippy::cast_possible_truncation, reason = "at most 1000")]
            Kind::Tokens(t) => Some((t.max / 1000) as u32),
            Kind::Ratio(_) => None,
        }
    }

    /// The tokens left of gRPC retry throttling, to the thousandth: for dashboards and tests.
    #[must_use]
    pub fn get_tokens(&self) -> Option<f64> {
        match &self.kind {
            #[allow(clippy::cast_precision_loss, reason = "at most 10^6")]
            Kind::Tokens(t) => Some(t.count.load(Ordering::Relaxed) as f64 / 1000.0),
            _ => None,
        }
    }

    /// The retries the budget would grant now, if none were made meanwhile: for a ratio budget
    /// in retries, for a quota in tokens left. For dashboards and tests.
    #[must_use]
    pub fn available(&self) -> u64 {
        match &self.kind {
            Kind::Ratio(r) => r.available(now_epoch(r.window)),
            Kind::Quota(q) => u64::from(q.capacity).saturating_sub(q.debt.load(Ordering::Relaxed)),
            // Every retry while above half: the whole tokens above it.
            Kind::Tokens(t) => t.count.load(Ordering::Relaxed).saturating_sub(t.max / 2) / 1000,
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
            Kind::Tokens(t) => RetryBudget {
                kind: Kind::Tokens(Tokens {
                    max: t.max,
                    ratio: t.ratio,
                    count: AtomicU64::new(t.max),
                }),
            },
        }
    }

    /// A call succeeded at its first attempt: the ratio budget counts a call, the quota repays
    /// one token of its debt, gRPC throttling gains `token_ratio`.
    #[inline]
    pub(crate) fn first_try_success(&self) {
        // The ratio budget, the default, on one compare; the others out of line.
        if let Kind::Ratio(r) = &self.kind {
            r.deposit();
        } else {
            self.other_first_try_success();
        }
    }

    #[inline(never)]
    fn other_first_try_success(&self) {
        match &self.kind {
            Kind::Quota(q) => {
                if q.debt.load(Ordering::Relaxed) != 0 {
                    q.repay(1);
                }
            }
            Kind::Tokens(t) => t.succeeded(),
            Kind::Ratio(r) => r.deposit(),
        }
    }

    /// A call's first attempt failed: the ratio budget counts the call.
    #[cold]
    pub(crate) fn first_failure(&self) {
        if let Kind::Ratio(r) = &self.kind {
            r.deposit();
        }
    }

    /// A failure that `on` retries and that no withdrawal counted (a limit stopped the call
    /// first): gRPC throttling takes its token all the same.
    #[cold]
    pub(crate) fn failed_unretried(&self) {
        if let Kind::Tokens(t) = &self.kind {
            t.failed();
        }
    }

    /// Withdraws a retry: its cost (a quota's; 1 for the other kinds), or `None` if the budget
    /// is exhausted. gRPC throttling counts the failure first, then asks for half its tokens.
    pub(crate) fn withdraw(&self, decision: Decision) -> Option<u16> {
        match &self.kind {
            Kind::Ratio(r) => r.withdraw(now_epoch(r.window)).then_some(1),
            Kind::Tokens(t) => {
                t.failed();
                t.allows().then_some(1)
            }
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

    /// Withdraws a hedge (a further attempt sent while the others are in flight, no failure
    /// behind it): as a retry for a ratio budget and a quota; gRPC throttling only asks for
    /// half its tokens. Its cost, or `None`: the hedge is not sent.
    pub(crate) fn withdraw_hedge(&self) -> Option<u16> {
        match &self.kind {
            Kind::Tokens(t) => t.allows().then_some(0),
            _ => self.withdraw(Decision::Retry),
        }
    }

    /// A call succeeded after retrying, its last retry having cost `cost`: the quota refunds
    /// it, gRPC throttling counts a success.
    pub(crate) fn success_after_retry(&self, cost: u16) {
        match &self.kind {
            Kind::Quota(q) => q.repay(u64::from(cost)),
            Kind::Tokens(t) => t.succeeded(),
            Kind::Ratio(_) => {}
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
            Kind::Tokens(t) => f
                .debug_struct("RetryBudget")
                .field("max_tokens", &(t.max / 1000))
                .field("token_ratio", &(t.ratio as f64 / 1000.0))
                .field("tokens", &self.get_tokens())
                .finish(),
        }
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
