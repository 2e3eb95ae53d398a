//! Client-side throttling: stop sending what a dependency is already refusing.
//!
//! A [retry budget](crate::budget) bounds the retries; when a dependency sheds load, the first
//! attempts are the storm, and every client keeps sending them. A [`Throttle`] shared by the
//! calls to one dependency is consulted before each attempt, the first included, and acts on
//! what the dependency has been answering:
//!
//! - **Adaptive throttling** ([`Throttle::adaptive`], the Google SRE book's, "Handling
//!   Overload"): over the last `window` (default 2 minutes), a call is rejected locally, before
//!   it is sent, with probability `max(0, (requests - k * accepts) / (requests + 1))`, capped at
//!   `max_rejection` (default 0.9: never everything), once at least `min_requests` (default 20)
//!   were counted. `k` (default 2) is the load allowed per request accepted: with `k = 2`, a
//!   dependency that accepts 100 requests a second gets about 200; `k = 1.1` is more
//!   protective. Requests rejected locally count as requests, so the rejection rate rises until
//!   what is sent is about `k` times what is accepted. Beyond the book, the formula is also
//!   taken over a short horizon (the last two of the window's 16 slots: 15 s of the default 2
//!   minutes), so that the throttle engages within seconds of an outage shorter than the
//!   window, and, once what it sends is accepted again, lets the load back at least doubling
//!   per horizon: a recovery is back to full within seconds, where the window alone takes more
//!   than a window (1.4 windows for `k = 2`, 12 for `k = 1.1`) and google-cloud-gax's counters,
//!   which never decay, take as long as the outage was long (and a day of success hides an
//!   hour of outage). BENCHMARKS.md has the simulated outage, side by side.
//! - **An adaptive rate limiter** ([`Throttle::rate_limiter`], the AWS SDKs' "adaptive" retry
//!   mode, CUBIC): off until a throttling error is seen; then each attempt takes tokens from a
//!   bucket (a first attempt 1, a retry 5) whose fill rate drops to 0.7 of the measured send
//!   rate at each throttling error and grows back along a cubic curve. It never rejects: it
//!   **delays** the attempt until the bucket has its tokens, unless the delay would pass the
//!   call's timeout or deadline, and then it gives up instead. The arithmetic is smithy-rs's,
//!   checked against its published test vectors. AWS recommends it for a client of one
//!   throttling-heavy, latency-tolerant resource.
//!
//! What counts as "not accepted" is [`Rejections`]: by default every failure that `on` (or the
//! result predicate) retries, throttling decisions included (429, `RESOURCE_EXHAUSTED`,
//! [`Decision::Throttled`]); an error that `on` declines was an answer, and counts as accepted.
//! The rate limiter acts on throttling decisions only.
//!
//! ```
//! use stamina::{Throttle, Throttled};
//!
//! /// The calls to the database: rejected locally while it refuses more than half of them.
//! static DB: Throttle = Throttle::adaptive();
//!
//! #[derive(Debug)]
//! enum Error {
//!     Io(std::io::Error),
//!     Throttled(Throttled),
//! }
//! impl From<std::io::Error> for Error {
//!     fn from(e: std::io::Error) -> Self { Error::Io(e) }
//! }
//! impl From<Throttled> for Error {
//!     fn from(t: Throttled) -> Self { Error::Throttled(t) }
//! }
//!
//! #[stamina::retry(on = |e| matches!(e, Error::Io(_)), throttle = DB)]
//! fn load(path: &str) -> Result<String, Error> {
//!     Ok(std::fs::read_to_string(path)?)
//! }
//! # let _off = stamina::testing::set_active(false);
//! match load("/etc/app.toml") {
//!     Ok(text) => println!("{text}"),
//!     Err(Error::Throttled(t)) => eprintln!("not sent: {t}"), // fail fast, or a fallback
//!     Err(Error::Io(e)) => eprintln!("the database failed: {e}"),
//! }
//! assert_eq!(DB.rejection_probability(), 0.0);
//! ```
//!
//! # A call that is throttled
//!
//! A **first attempt** rejected locally (or whose delay would pass its deadline) is not sent,
//! and the call returns at once with a [`Throttled`]: stamina cannot make a value of your
//! error type, so a fn or caller with a throttle needs `From<Throttled>` for its error (a
//! compile error says so otherwise), and your error carries it as its own variant, never
//! mistaken for one of the dependency's. A **retry** that the throttle rejects is not sent
//! either, and the call gives up with its last error, unchanged, as it does when a budget
//! denies a retry (reported as a denial with reason `throttle`).
//!
//! Every rejection and every delay runs
//! [`RetryHook::on_throttled`](crate::instrumentation::RetryHook::on_throttled): by default a
//! `stamina.call_throttled` event and the `stamina_calls_throttled_total` counter (labels
//! `callable` and `action`, `rejected` or `delayed`). For dashboards,
//! [`rejection_probability`](Throttle::rejection_probability) and [`rate`](Throttle::rate) read
//! the throttle's state.
//!
//! Testing mode and `set_active(false)` turn throttling off, as they turn off the timeout and
//! the budgets: every attempt is sent at once. Replies are still counted in testing mode; when
//! inactive, `on` is not asked, so only the successes are.
//!
//! # Where it decides
//!
//! First, before the first attempt; for a retry, after the limits and the nesting guard and
//! before the budget, so that a retry the throttle rejects spends no budget. A rate limiter's
//! delay before a retry is added to the backoff's wait, and the two together must fit in the
//! time left. A hedged call asks once per attempt, not per hedge (hedges are bounded by the
//! budget).
//!
//! # Cost
//!
//! The check before an attempt reads one word (the adaptive throttle's probability; the rate
//! limiter's switch) and draws a random number only while the probability is above zero. Each
//! reply is counted: a read of the clock and a compare-and-swap in the thread's own stripe of
//! slots (the adaptive throttle, lock-free; a failure, or any reply while it rejects, also
//! sums the slots again: 32 cache lines), or a short lock (the rate limiter, as smithy-rs's,
//! taken only once it is on). BENCHMARKS.md has the figures.
//!
//! Here: the [`Throttle`] and its settings. The adaptive throttle's window is `adaptive.rs`,
//! the rate limiter `rate_limiter.rs`, what a throttle hears and says `replies.rs`; the
//! machine asks it in `retrying/throttle.rs`.

use std::fmt;
use std::time::Duration;

use crate::decision::Decision;
use crate::error::ConfigError;
use crate::scope::switches::Switches;

mod adaptive;
mod rate_limiter;
mod replies;
#[cfg(test)]
mod tests;

use self::adaptive::Adaptive;
use self::rate_limiter::{FIRST_COST, RETRY_COST, RateLimiter};
pub use self::replies::{Rejections, Reply, Throttled, ThrottledReason};
pub use crate::budget::Partitioned;

/// A client-side throttle, shared by the calls to one dependency: see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use stamina::Throttle;
///
/// // The SRE book's throttle, more protective than its default k = 2.
/// static API: Throttle = Throttle::adaptive().k(1.1).window(Duration::from_secs(60));
/// // The AWS SDKs' adaptive rate limiter.
/// static S3: Throttle = Throttle::rate_limiter();
/// # assert_eq!(API.get_k(), Some(1.1));
/// # assert_eq!(S3.rate(), None);
/// ```
pub struct Throttle {
    kind: Kind,
    rejections: Rejections,
}

// A throttle lives in a `static` and is built in `const`: the adaptive throttle's slots need no
// box.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Adaptive(Adaptive),
    RateLimiter(RateLimiter),
}

/// What the `try_*` setters of adaptive throttling say to a rate limiter.
const ONLY_ADAPTIVE: &str = "a setting of adaptive throttling (`k`, `window`, `max_rejection`): the rate limiter has the AWS SDKs' constants and none of these";

impl Throttle {
    /// The SRE book's adaptive throttling with its defaults: `k = 2` over 2 minutes, at most
    /// 90% rejected, from 20 requests on.
    #[must_use]
    pub const fn adaptive() -> Self {
        Throttle {
            kind: Kind::Adaptive(Adaptive::new(2.0, Duration::from_secs(120), 0.9, 20)),
            rejections: Rejections::Retried,
        }
    }

    /// The AWS SDKs' adaptive rate limiter (CUBIC), with their constants.
    #[must_use]
    pub const fn rate_limiter() -> Self {
        Throttle {
            kind: Kind::RateLimiter(RateLimiter::new()),
            rejections: Rejections::Throttling,
        }
    }

    /// The load allowed per request the dependency accepts (adaptive throttling; default 2).
    /// Below 1 would reject requests the dependency accepts, so it is 1; NaN is 2. A rate
    /// limiter has no `k` and is left as it is. [`try_k`](Self::try_k) reports both instead.
    #[must_use]
    pub const fn k(mut self, k: f64) -> Self {
        if let Kind::Adaptive(a) = &mut self.kind {
            a.k = if k.is_nan() { 2.0 } else { k.max(1.0) };
        }
        self
    }

    /// Like [`k`](Self::k), but below 1, infinite or NaN is an error, and so is a rate limiter.
    pub const fn try_k(self, k: f64) -> Result<Self, ConfigError> {
        if let Kind::RateLimiter(_) = &self.kind {
            return Err(ConfigError::InvalidThrottle(ONLY_ADAPTIVE));
        }
        match check_k(k) {
            Ok(()) => Ok(self.k(k)),
            Err(e) => Err(e),
        }
    }

    /// The time over which requests and accepts are counted (adaptive throttling; default
    /// 2 minutes), to within a sixteenth of it: between 1 s and 1 hour. Shorter is 1 s, longer
    /// 1 hour; [`try_window`](Self::try_window) reports such values instead.
    #[must_use]
    pub const fn window(mut self, window: Duration) -> Self {
        if let Kind::Adaptive(a) = &mut self.kind {
            a.set_window(if window.as_secs() < 1 {
                Duration::from_secs(1)
            } else if window.as_secs() >= 3600 {
                Duration::from_secs(3600)
            } else {
                window
            });
        }
        self
    }

    /// Like [`window`](Self::window), but outside 1 s to 1 hour is an error, and so is a rate
    /// limiter.
    pub const fn try_window(self, window: Duration) -> Result<Self, ConfigError> {
        if let Kind::RateLimiter(_) = &self.kind {
            return Err(ConfigError::InvalidThrottle(ONLY_ADAPTIVE));
        }
        match check_window(window) {
            Ok(()) => Ok(self.window(window)),
            Err(e) => Err(e),
        }
    }

    /// The largest rejection probability (adaptive throttling; default 0.9, failsafe-go's), so
    /// that some requests always reach the dependency and see it recover. Negative is 0, 1 or
    /// more is 0.99, NaN is 0.9; [`try_max_rejection`](Self::try_max_rejection) reports such
    /// values instead.
    #[must_use]
    pub const fn max_rejection(mut self, max: f64) -> Self {
        if let Kind::Adaptive(a) = &mut self.kind {
            a.max_rejection = if max.is_nan() {
                0.9
            } else {
                max.clamp(0.0, 0.99)
            };
        }
        self
    }

    /// Like [`max_rejection`](Self::max_rejection), but outside `[0, 1)` or NaN is an error, and
    /// so is a rate limiter.
    pub const fn try_max_rejection(self, max: f64) -> Result<Self, ConfigError> {
        if let Kind::RateLimiter(_) = &self.kind {
            return Err(ConfigError::InvalidThrottle(ONLY_ADAPTIVE));
        }
        match check_max_rejection(max) {
            Ok(()) => Ok(self.max_rejection(max)),
            Err(e) => Err(e),
        }
    }

    /// The requests counted in the window before the throttle rejects any (adaptive
    /// throttling; default 20), so that a few failures of a quiet client reject nothing.
    #[must_use]
    pub const fn min_requests(mut self, requests: u32) -> Self {
        if let Kind::Adaptive(a) = &mut self.kind {
            a.min_requests = requests;
        }
        self
    }

    /// Which replies count as not accepted (adaptive throttling; default
    /// [`Rejections::Retried`]). The rate limiter acts on throttling errors only, whatever this
    /// says.
    #[must_use]
    pub const fn rejections(mut self, rejections: Rejections) -> Self {
        if let Kind::Adaptive(_) = &self.kind {
            self.rejections = rejections;
        }
        self
    }

    /// `k`, for adaptive throttling.
    #[must_use]
    pub const fn get_k(&self) -> Option<f64> {
        match &self.kind {
            Kind::Adaptive(a) => Some(a.k),
            Kind::RateLimiter(_) => None,
        }
    }

    /// The window, for adaptive throttling.
    #[must_use]
    pub const fn get_window(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Adaptive(a) => Some(a.window),
            Kind::RateLimiter(_) => None,
        }
    }

    /// The rejection cap, for adaptive throttling.
    #[must_use]
    pub const fn get_max_rejection(&self) -> Option<f64> {
        match &self.kind {
            Kind::Adaptive(a) => Some(a.max_rejection),
            Kind::RateLimiter(_) => None,
        }
    }

    /// The minimum of requests, for adaptive throttling.
    #[must_use]
    pub const fn get_min_requests(&self) -> Option<u32> {
        match &self.kind {
            Kind::Adaptive(a) => Some(a.min_requests),
            Kind::RateLimiter(_) => None,
        }
    }

    /// Which replies count as not accepted.
    #[must_use]
    pub const fn get_rejections(&self) -> Rejections {
        self.rejections
    }

    /// The probability that the adaptive throttle rejects a call now (as last recomputed, at
    /// most a few replies ago): for dashboards and tests. Always 0 for the rate limiter.
    #[must_use]
    pub fn rejection_probability(&self) -> f64 {
        match &self.kind {
            Kind::Adaptive(a) => a.probability(),
            Kind::RateLimiter(_) => 0.0,
        }
    }

    /// The requests and accepts that the adaptive throttle counts in its window now: for
    /// dashboards and tests. `None` for the rate limiter.
    #[must_use]
    pub fn counts(&self) -> Option<(u64, u64)> {
        match &self.kind {
            Kind::Adaptive(a) => {
                let counts = a.counts_now(crate::clock::now_nanos());
                Some((counts.requests, counts.accepts))
            }
            Kind::RateLimiter(_) => None,
        }
    }

    /// The rate limiter's fill rate, in first attempts per second, once a throttling error has
    /// turned it on: for dashboards and tests. `None` while it is off, and for adaptive
    /// throttling.
    #[must_use]
    pub fn rate(&self) -> Option<f64> {
        match &self.kind {
            Kind::RateLimiter(r) => r.rate(),
            Kind::Adaptive(_) => None,
        }
    }

    /// The same configuration with nothing counted: for [`Partitioned`].
    #[must_use]
    pub const fn fresh(&self) -> Self {
        let kind = match &self.kind {
            Kind::Adaptive(a) => Kind::Adaptive(Adaptive::new(
                a.k,
                a.window,
                a.max_rejection,
                a.min_requests,
            )),
            Kind::RateLimiter(_) => Kind::RateLimiter(RateLimiter::new()),
        };
        Throttle {
            kind,
            rejections: self.rejections,
        }
    }

    /// Asks the throttle whether attempt `attempt_num` (from 1) may be sent, with `time_left`
    /// to the call's timeout or deadline, if it has one: `Ok(delay)` to wait that long first
    /// (zero: send it now), or `Err` not to send it. A rejection counts as a request. For a
    /// loop of your own (the attribute and the callers ask for you); then tell the throttle
    /// each attempt's reply with [`record`](Self::record). Testing mode and inactivity always
    /// answer `Ok(Duration::ZERO)`.
    #[inline]
    pub fn check(
        &self,
        attempt_num: u32,
        time_left: Option<Duration>,
    ) -> Result<Duration, Throttled> {
        match &self.kind {
            Kind::Adaptive(a) => {
                let p = a.probability();
                if p == 0.0 {
                    return Ok(Duration::ZERO);
                }
                Self::reject_maybe(a, p)
            }
            // Off until a throttling reply: one load, before the switches are read.
            Kind::RateLimiter(r) if !r.is_on() => Ok(Duration::ZERO),
            Kind::RateLimiter(r) => {
                if !plain() {
                    return Ok(Duration::ZERO);
                }
                let cost = if attempt_num <= 1 {
                    FIRST_COST
                } else {
                    RETRY_COST
                };
                match r.acquire(seconds, cost, time_left) {
                    Ok(()) => Ok(Duration::ZERO),
                    Err(Some(delay)) => Ok(delay),
                    Err(None) => Err(Throttled {
                        reason: ThrottledReason::Delay {
                            remaining: time_left.unwrap_or(Duration::ZERO),
                        },
                    }),
                }
            }
        }
    }

    /// Tells the throttle what the dependency answered an attempt that was sent.
    pub fn record(&self, reply: Reply) {
        match &self.kind {
            Kind::Adaptive(a) => {
                let accepted = match (reply, self.rejections) {
                    (Reply::Accepted, _) | (Reply::Failed, Rejections::Throttling) => true,
                    (Reply::Failed | Reply::Throttled, _) => false,
                };
                a.record(crate::clock::quick_nanos(), accepted);
            }
            Kind::RateLimiter(r) => r.update(seconds(), reply == Reply::Throttled),
        }
    }

    /// A failure with this decision was the reply.
    #[inline]
    pub(crate) fn failed(&self, decision: Decision) {
        self.record(Reply::of(decision));
    }

    #[cold]
    #[inline(never)]
    fn reject_maybe(a: &Adaptive, p: f64) -> Result<Duration, Throttled> {
        if !plain() {
            return Ok(Duration::ZERO);
        }
        let seeded = crate::scope::clock().and_then(|clock| clock.next_u64());
        let draw = crate::rng::unit_from(seeded.unwrap_or_else(crate::rng::next_u64));
        if draw >= p {
            return Ok(Duration::ZERO);
        }
        a.reject(crate::clock::quick_nanos());
        Err(Throttled {
            reason: ThrottledReason::Rejected { probability: p },
        })
    }
}

impl crate::budget::sealed::Sealed for Throttle {}

impl crate::budget::Partition for Throttle {
    fn fresh(&self) -> Self {
        Throttle::fresh(self)
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::adaptive()
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Adaptive(a) => f
                .debug_struct("Throttle")
                .field("k", &a.k)
                .field("window", &a.window)
                .field("max_rejection", &a.max_rejection)
                .field("min_requests", &a.min_requests)
                .field("rejections", &self.rejections)
                .field("rejection_probability", &a.probability())
                .finish(),
            Kind::RateLimiter(r) => f
                .debug_struct("Throttle")
                .field("rate_limiter", &true)
                .field("rate", &r.rate())
                .finish(),
        }
    }
}

/// Neither inactive nor in testing mode: the throttle acts.
fn plain() -> bool {
    let switches = Switches::current();
    switches.is_active() && switches.testing_mode().is_none()
}

/// Now, in seconds, for the rate limiter.
fn seconds() -> f64 {
    #[allow(
        clippy::cast_precision_loss,
        reason = "nanoseconds of a process's life"
    )]
    let now = crate::clock::now_nanos() as f64;
    now / 1e9
}

/// `k` at least 1 and finite.
pub(crate) const fn check_k(k: f64) -> Result<(), ConfigError> {
    if k >= 1.0 && k.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::InvalidThrottle(
            "a throttle's `k` must be a finite number of at least 1 (2 sends about twice what the dependency accepts; 1.1 is more protective)",
        ))
    }
}

/// A window of 1 s to 1 hour.
pub(crate) const fn check_window(window: Duration) -> Result<(), ConfigError> {
    if window.as_secs() >= 1 && window.as_secs() < 3600
        || window.as_secs() == 3600 && window.subsec_nanos() == 0
    {
        Ok(())
    } else {
        Err(ConfigError::InvalidThrottle(
            "a throttle's window must be between 1 s and 1 hour (the SRE book's: 2 minutes)",
        ))
    }
}

/// A rejection cap in `[0, 1)`.
pub(crate) const fn check_max_rejection(max: f64) -> Result<(), ConfigError> {
    if max >= 0.0 && max < 1.0 {
        Ok(())
    } else {
        Err(ConfigError::InvalidThrottle(
            "a throttle's `max_rejection` must be at least 0 and below 1: a throttle that rejects everything never sees the dependency recover (failsafe-go's: 0.9)",
        ))
    }
}

/// Which throttle a call uses: the policy's choice.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum ThrottleChoice {
    /// None: the default.
    #[default]
    Off,
    /// This one.
    Use(&'static Throttle),
}

impl ThrottleChoice {
    /// The throttle, if any.
    #[inline]
    pub(crate) const fn get(self) -> Option<&'static Throttle> {
        match self {
            ThrottleChoice::Off => None,
            ThrottleChoice::Use(throttle) => Some(throttle),
        }
    }
}

impl PartialEq for ThrottleChoice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ThrottleChoice::Use(a), ThrottleChoice::Use(b)) => std::ptr::eq(*a, *b),
            (ThrottleChoice::Off, ThrottleChoice::Off) => true,
            _ => false,
        }
    }
}
