//! Hedged calls: when a try is slow, send another, and take the first success.
//!
//! Retries fix failures; hedging fixes the slow call that never fails. A hedged `async` call
//! sends its first try (the primary); if no try has answered after the hedge delay, it sends a
//! hedge, then another after each further delay, up to [`hedges`](Hedging::hedges) (gRPC A6's
//! cap: 5 tries in all). The first success wins and the other tries are dropped, which cancels
//! them. A delay is [fixed](Hedging::fixed) (`hedgingDelay` in gRPC, Polly's `Delay`) or
//! [adaptive](Hedging::adaptive): the latency percentile `1 - max_extra_load` of recent calls,
//! from a [`HedgeEstimator`], so that about `max_extra_load` of calls send a hedge whatever
//! the dependency's latency does, as Finagle's backup requests do. An estimator is shared by
//! the calls that name it; [`Partitioned<HedgeEstimator>`](Partitioned) gives each key (a host,
//! a shard) its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use stamina::hedge::{HedgeEstimator, Hedging};
//! use stamina::RetryingCaller;
//!
//! // At most 5% extra load: the slowest 5% of calls get a second try.
//! static SEARCH: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.05);
//!
//! let caller = RetryingCaller::new().attempts(3);
//! let hits = caller
//!     .call_hedged(Hedging::adaptive(&SEARCH), |_: &std::io::Error| true, || async {
//!         Ok::<_, std::io::Error>(42) // an idempotent read
//!     })
//!     .await;
//! assert_eq!(hits.unwrap(), 42);
//! # }
//! ```
//!
//! # What a hedged call does
//!
//! - **The first success wins**; the other tries are dropped (cancelled) at once. A success is
//!   an `Ok` that the result predicate accepts.
//! - **A failure that `on` retries sends the next hedge at once** (gRPC A6's rule for a
//!   non-fatal status), if any hedge is left; the others keep running.
//! - **A failure that `on` declines ends the call** with that error, unchanged, and drops the
//!   other tries (A6's fatal status).
//! - **When every try of an attempt has failed**, the last failure is the attempt's: the
//!   policy then decides as for any failed attempt (attempts, timeout, deadline, budget,
//!   backoff), and a retry is a new attempt, hedged again. So hedging and retrying compose, as
//!   in Finagle (gRPC forbids a method both), and are bounded by `attempts * (1 + hedges)`
//!   tries in all; a budget bounds them together (below). When the call gives up, the last
//!   error (or value) comes back unchanged.
//! - **The timeout spans the whole chain**, hedges included: no hedge is sent once the policy's
//!   timeout has passed (in either [`TimeoutMode`](crate::TimeoutMode)), and no retry after it,
//!   as without hedging. stamina never interrupts a try. (A caller's per-call
//!   [`with_deadline`](crate::RetryingCaller::with_deadline) bounds the retries, not the
//!   hedges within an attempt.)
//! - **One budget for retries and hedges**: a hedge withdraws from the policy's
//!   [`RetryBudget`](crate::RetryBudget) as a retry does (gRPC's throttling kind,
//!   [`RetryBudget::grpc_throttling`](crate::RetryBudget::grpc_throttling), only asks that more
//!   than half its tokens are left, as A6 says). A hedge that the budget denies is not sent;
//!   the call goes on with the tries in flight. So a ratio budget of 0.2 holds "at most 20%
//!   extra load" for retries and hedges together.
//! - **Testing mode turns hedging off**: in [`set_testing`](crate::set_testing)'s mode (and
//!   when retries are inactive) a hedged call sends one try per attempt, as a plain retrying
//!   call does, so a test sees the same tries every run. A
//!   [`TestClock`](crate::testing::TestClock) keeps hedging on and times the hedges on its
//!   virtual time ([`TestClock::sleep`](crate::testing::TestClock::sleep),
//!   [`TestClock::block_on`](crate::testing::TestClock::block_on)): a test asserts exactly
//!   when each hedge was sent.
//! - **Instrumentation**: each hedge sent runs [`RetryHook::on_hedge`] (the default hooks: a
//!   `stamina.hedge_scheduled` event at `INFO`, the `stamina_hedges_total` counter); a hedge
//!   that gives the call its result runs [`RetryHook::on_hedge_won`]
//!   (`stamina_hedges_won_total`). An adaptive estimator's delay is
//!   [`HedgeEstimator::delay`], for a dashboard.
//!
//! [`RetryHook::on_hedge`]: crate::instrumentation::RetryHook::on_hedge
//! [`RetryHook::on_hedge_won`]: crate::instrumentation::RetryHook::on_hedge_won
//!
//! # When not to hedge
//!
//! Hedge only what is safe to do twice: reads, and writes that the dependency deduplicates (an
//! idempotency key). A hedged payment is two payments. Do not hedge a dependency that is slow
//! because it is saturated: a hedge adds load where load is the problem; the adaptive delay
//! stops hedging when the percentile passes its ceiling (an outage), and a budget caps what
//! retries and hedges add together, but a fixed delay keeps hedging. Hedge when the slowness is
//! in one replica, one connection or one GC pause, not in all of them: spread the tries over
//! replicas (a load balancer, several connections). Keep the extra load small (5% is the
//! usual), and watch `stamina_hedges_won_total` against `stamina_hedges_total`: hedges that
//! rarely win are load for nothing.
//!
//! # Cost
//!
//! A call whose primary answers at once reads no clock for a fixed delay and allocates
//! nothing (1.5–1.7× a plain `call_async` of an op that is ready at once, a few nanoseconds); with
//! an adaptive delay, one call in [`HedgeEstimator::sample_every`] (1 at first, up to
//! [`MAX_SAMPLE_EVERY`] as the rate of calls grows) reads the clock twice (the TSC where it
//! can) and records the primary's latency. A primary that has to wait also sets the hedge timer (for
//! the default sleeper in a tokio runtime, tokio's own `Sleep`, not watched from another
//! thread), which it drops unfired when it answers in time. Each hedge sent allocates its
//! future (the primary's lives in the call's own future). Figures: `BENCHMARKS.md`.

use std::time::Duration;

use crate::error::ConfigError;

mod estimator;

pub use self::estimator::{HedgeEstimator, MAX_SAMPLE_EVERY};
pub use crate::budget::Partitioned;

/// The most hedges a call sends per attempt beyond its primary: gRPC A6 caps `maxAttempts` at
/// 5, the primary included.
pub const MAX_HEDGES: u8 = 4;

/// How a call hedges: the delay before each hedge, and how many hedges an attempt may send.
/// `const`-constructible and `Copy`, for a `const` or a `static` shared by calls.
///
/// ```
/// use std::time::Duration;
/// use stamina::hedge::Hedging;
///
/// // Polly's shape: after 50 ms without an answer, a second try; after 100 ms, a third.
/// const LOOKUP: Hedging = Hedging::fixed(Duration::from_millis(50)).hedges(2);
/// assert_eq!(LOOKUP.get_hedges(), 2);
/// assert_eq!(LOOKUP.delay(), Some(Duration::from_millis(50)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hedging {
    delay: Delay,
    hedges: u8,
}

#[derive(Clone, Copy, Debug)]
enum Delay {
    Fixed(Duration),
    Adaptive(&'static HedgeEstimator),
}

impl PartialEq for Delay {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Delay::Fixed(a), Delay::Fixed(b)) => a == b,
            (Delay::Adaptive(a), Delay::Adaptive(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

impl Hedging {
    /// One hedge after `delay` without an answer. A zero delay sends every hedge at once, with
    /// the primary (gRPC's `hedgingDelay: 0s`).
    #[must_use]
    pub const fn fixed(delay: Duration) -> Self {
        Hedging {
            delay: Delay::Fixed(delay),
            hedges: 1,
        }
    }

    /// One hedge after the delay `estimator` learns from the calls that share it: see
    /// [`HedgeEstimator`].
    #[must_use]
    pub const fn adaptive(estimator: &'static HedgeEstimator) -> Self {
        Hedging {
            delay: Delay::Adaptive(estimator),
            hedges: 1,
        }
    }

    /// At most `hedges` hedges per attempt beyond the primary (default 1), each one delay
    /// after the one before. 0 is 1 and above [`MAX_HEDGES`] is `MAX_HEDGES`;
    /// [`try_hedges`](Self::try_hedges) reports such values instead.
    #[must_use]
    pub const fn hedges(mut self, hedges: u8) -> Self {
        self.hedges = if hedges == 0 {
            1
        } else if hedges > MAX_HEDGES {
            MAX_HEDGES
        } else {
            hedges
        };
        self
    }

    /// Like [`hedges`](Self::hedges), but 0 or above [`MAX_HEDGES`] is an error.
    pub const fn try_hedges(self, hedges: u8) -> Result<Self, ConfigError> {
        if hedges == 0 || hedges > MAX_HEDGES {
            Err(ConfigError::InvalidHedging(
                "a hedged call sends 1 to 4 hedges beyond its first try (gRPC's cap: 5 tries in all); no hedging: `call_async`",
            ))
        } else {
            Ok(self.hedges(hedges))
        }
    }

    /// The most hedges per attempt.
    #[must_use]
    pub const fn get_hedges(&self) -> u8 {
        self.hedges
    }

    /// The delay before a hedge now: the fixed one, or the estimator's (`None` while it warms
    /// up or while the percentile is past its ceiling: no hedge is sent).
    #[must_use]
    pub fn delay(&self) -> Option<Duration> {
        match self.delay {
            Delay::Fixed(delay) => Some(delay),
            Delay::Adaptive(estimator) => estimator.delay(),
        }
    }

    /// The estimator of an adaptive delay.
    #[must_use]
    pub const fn get_estimator(&self) -> Option<&'static HedgeEstimator> {
        match self.delay {
            Delay::Adaptive(estimator) => Some(estimator),
            Delay::Fixed(_) => None,
        }
    }
}
