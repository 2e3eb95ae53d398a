//! The one configuration of a retrying call: [`RetryPolicy`].
//!
//! Every value option lives here once: the `#[retry]` attribute writes a `RetryPolicy` (its value
//! arguments are this type's setters, by name), [`RetryingCaller`](crate::RetryingCaller) holds
//! one and forwards these setters, and the explicit loop reads it. A rule on a value (`attempts`
//! at least 1, a finite `wait_exp_base` of at least 1) is written once, in the `check_*` fns
//! below, and its text once, in [`ConfigError`]: the attribute runs the same checks at compile
//! time.

use std::time::Duration;

use crate::budget::{BudgetChoice, RetryBudget};
use crate::error::ConfigError;
use crate::nesting::Nesting;
use crate::throttle::{Throttle, ThrottleChoice};

#[cfg(feature = "serde")]
mod file;

/// How `timeout` (and a caller's per-call deadline) is enforced.
///
/// ```
/// use std::time::Duration;
/// use stamina::{RetryPolicy, TimeoutMode};
///
/// const POLICY: RetryPolicy = RetryPolicy::new()
///     .timeout(Duration::from_secs(5))
///     .timeout_mode(TimeoutMode::Deadline);
/// assert_eq!(POLICY.get_timeout_mode(), TimeoutMode::Deadline);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutMode {
    /// stamina's rule, the default: after each failure that `on` wants to retry, the call gives
    /// up if the time since the first attempt began is at least the timeout (or the deadline has
    /// passed). The wait is then slept in full, so a call can overrun its timeout by one wait and
    /// one attempt.
    #[default]
    AfterFailure,
    /// The timeout is a deadline that holds: a retry whose wait would end at or past it is not
    /// scheduled, and the call gives up at once, without sleeping, with the last error. A
    /// predicate's [`Decision::RetryAfter`](crate::Decision::RetryAfter) beyond the deadline
    /// gives up likewise, and no attempt starts with
    /// [`min_attempt_time`](RetryPolicy::min_attempt_time) or less left. stamina never interrupts
    /// an attempt: the last one can still end after the deadline, unless it bounds itself with
    /// the time its [`Attempt`](crate::Attempt) has
    /// [`remaining`](crate::Attempt::remaining). Testing mode ignores the deadline, as it
    /// ignores the timeout.
    Deadline,
}

/// Whether a policy may name a budget or a throttle (or, with the `process-budget` feature,
/// use the process's budget): derived from those two fields by their setters, so that a
/// success under a policy with neither reads one word and goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Guarded(pub(crate) bool);

impl Guarded {
    /// A policy's default: the process's budget, if the feature is on; no throttle.
    pub(crate) const DEFAULT: Guarded = Guarded::of(BudgetChoice::Process, ThrottleChoice::Off);

    /// What a policy with these choices may have.
    const fn of(budget: BudgetChoice, throttle: ThrottleChoice) -> Guarded {
        Guarded(budget.may_have() || throttle.get().is_some())
    }
}

/// Calls `$m!` with `[extra tokens]`, then the policy's fields, one row each: its name, its type,
/// stamina's default, and the `serde` attributes of its form in a configuration file
/// (`policy/file.rs`, which writes each type in the file's form). The struct, its `DEFAULT` and
/// the file form all come from these rows: a new value option is a row here and its setter.
macro_rules! policy_fields {
    ($m:ident $($extra:tt)*) => {
        $m! {
            [$($extra)*]
            attempts: Option<u32> = Some(10);
            timeout: Option<Duration> = Some(Duration::from_secs(45));
            wait_initial: Duration = Duration::from_millis(100);
            wait_max: Duration = Duration::from_secs(5);
            wait_jitter: Duration = Duration::from_secs(1);
            wait_exp_base: f64 = 2.0;
            timeout_mode: TimeoutMode = TimeoutMode::AfterFailure;
            min_attempt_time: Duration = Duration::ZERO;
            /// The budget is code, not configuration: no file names one.
            #[serde(skip)]
            budget: BudgetChoice = BudgetChoice::Process;
            /// The throttle is code too, and a call with one needs an error type that carries a
            /// `Throttled`: only the attribute and `RetryingCaller::throttle` set it.
            #[serde(skip)]
            throttle: ThrottleChoice = ThrottleChoice::Off;
            /// Whether a call may have a budget or a throttle, kept by their setters: the one
            /// load that a success reads for both.
            #[serde(skip)]
            guarded: Guarded = Guarded::DEFAULT;
            /// `None`: the switches' policy.
            #[serde(skip_serializing_if = "Option::is_none")]
            nested: Option<Nesting> = None;
            /// A retrying stream or iterator starts afresh after this long without an error..
            heal_after: Option<Duration> = None;
            /// .. or after this many items without an error.
            heal_after_items: Option<u32> = None;
        }
    };
}
#[cfg(feature = "serde")]
pub(crate) use policy_fields;

/// The struct and its defaults, from [`policy_fields`].
macro_rules! define_policy {
    ([$(#[$meta:meta])*] $($(#[doc = $doc:literal])* $(#[serde $($file:tt)*])* $name:ident: $ty:ty = $default:expr;)*) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct RetryPolicy {
            $($(#[doc = $doc])* pub(crate) $name: $ty,)*
        }

        impl RetryPolicy {
            /// stamina's defaults: 10 attempts, 45 s, 0.1 s initial wait, 5 s cap, 1 s jitter,
            /// base 2.
            pub const DEFAULT: RetryPolicy = RetryPolicy { $($name: $default,)* };
        }
    };
}

policy_fields!(define_policy
    /// The configuration of a retrying call: its limits, its backoff and its modes.
    ///
    /// `const`-constructible, so that a policy can be a `const` or a `static` that several fns
    /// share (`#[retry(policy = DB_RETRIES, on = ..)]`), and `Copy`. The setters chain and never
    /// fail: each says what it does with an out-of-range value; the `try_*` setters and
    /// [`validate`](Self::validate) report such values instead. With the `serde` feature a policy
    /// deserializes from a service's own configuration file, durations in human form (`"250ms"`):
    /// see its `Deserialize` impl.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::RetryPolicy;
    ///
    /// static DB_RETRIES: RetryPolicy = RetryPolicy::new()
    ///     .attempts(5)
    ///     .timeout(Duration::from_secs(10))
    ///     .wait_initial(Duration::from_millis(50));
    ///
    /// #[stamina::retry(policy = DB_RETRIES, on = std::io::Error)]
    /// fn load(path: &str) -> std::io::Result<String> {
    ///     std::fs::read_to_string(path)
    /// }
    /// # let _off = stamina::testing::set_active(false);
    /// # assert!(load("/nonexistent").is_err());
    /// assert_eq!(DB_RETRIES.get_attempts(), Some(5));
    /// ```
    ///
    /// The defaults are stamina's: 10 attempts, 45 s in all, waits from 0.1 s doubling up to 5 s,
    /// each with up to 1 s of jitter.
);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// stamina's defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// At most `attempts` attempts in all, the first included (default 10). Like stamina, 0
    /// means one attempt; [`try_attempts`](Self::try_attempts) reports it as an error instead.
    #[must_use]
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// Like [`attempts`](Self::attempts), but 0 is an error.
    pub const fn try_attempts(self, attempts: u32) -> Result<Self, ConfigError> {
        match check_attempts(attempts) {
            Ok(()) => Ok(self.attempts(attempts)),
            Err(e) => Err(e),
        }
    }

    /// No limit on the number of attempts. Without a timeout either, a call retries until `on`
    /// declines: right for loops that must never give up, and nowhere else.
    #[must_use]
    pub const fn no_attempt_limit(mut self) -> Self {
        self.attempts = None;
        self
    }

    /// Gives up once `timeout` has passed since the first attempt began (default 45 s).
    ///
    /// How it is enforced is the [`timeout_mode`](Self::timeout_mode): by default stamina's
    /// rule, checked after each failure that `on` wants to retry, never interrupting an attempt
    /// or shortening a wait, so that a call can overrun it by one wait and one attempt. A zero
    /// timeout allows no retry at all;
    /// [`try_timeout`](Self::try_timeout) reports it as an error instead. No time limit is
    /// [`no_timeout`](Self::no_timeout) (the attribute's `timeout = None`, a file's `"none"`):
    /// the setters are `const`, so that a policy or a caller can be a `static`, and a `const fn`
    /// cannot take `Option<Duration>` and `Duration` both.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Like [`timeout`](Self::timeout), but zero is an error.
    pub const fn try_timeout(self, timeout: Duration) -> Result<Self, ConfigError> {
        match check_timeout(timeout) {
            Ok(()) => Ok(self.timeout(timeout)),
            Err(e) => Err(e),
        }
    }

    /// No time limit.
    #[must_use]
    pub const fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The wait after the first failure, before jitter (default 0.1 s). Zero makes every
    /// computed wait its jitter alone.
    #[must_use]
    pub const fn wait_initial(mut self, wait: Duration) -> Self {
        self.wait_initial = wait;
        self
    }

    /// The cap on every computed wait, jitter included (default 5 s). A cap below
    /// `wait_initial` makes every wait equal to it, as in stamina.
    #[must_use]
    pub const fn wait_max(mut self, wait: Duration) -> Self {
        self.wait_max = wait;
        self
    }

    /// The upper bound of the uniform jitter added to each computed wait (default 1 s).
    #[must_use]
    pub const fn wait_jitter(mut self, wait: Duration) -> Self {
        self.wait_jitter = wait;
        self
    }

    /// The base of the exponential backoff (default 2).
    ///
    /// The formula is applied as written for any value: a base below 1 makes the waits shrink,
    /// a negative one makes some of them zero; NaN or infinity make the first wait
    /// `wait_initial` and every later one `wait_max`.
    /// [`try_wait_exp_base`](Self::try_wait_exp_base) and [`validate`](Self::validate) report
    /// such values as errors instead.
    #[must_use]
    pub const fn wait_exp_base(mut self, base: f64) -> Self {
        self.wait_exp_base = base;
        self
    }

    /// Like [`wait_exp_base`](Self::wait_exp_base), but a base below 1, NaN or infinite is an
    /// error.
    pub const fn try_wait_exp_base(self, base: f64) -> Result<Self, ConfigError> {
        match check_exp_base(base) {
            Ok(()) => Ok(self.wait_exp_base(base)),
            Err(e) => Err(e),
        }
    }

    /// How `timeout` (and a caller's per-call deadline) is enforced: stamina's rule by default,
    /// or as a deadline that holds; see [`TimeoutMode`].
    #[must_use]
    pub const fn timeout_mode(mut self, mode: TimeoutMode) -> Self {
        self.timeout_mode = mode;
        self
    }

    /// In [`TimeoutMode::Deadline`], the time an attempt needs: a retry is scheduled only if
    /// more than its wait plus this is left before the deadline (default zero: more than the
    /// wait). Ignored in the default mode, where [`validate`](Self::validate) reports it (and
    /// the attribute refuses it).
    #[must_use]
    pub const fn min_attempt_time(mut self, time: Duration) -> Self {
        self.min_attempt_time = time;
        self
    }

    /// For a retrying stream or iterator: once its current run has gone `time` without an error,
    /// the next error starts the retrying afresh, as if it were the first (attempt 1, the first
    /// wait, the timeout counted from the restart before it). Off by default: without it, a
    /// stream that fails once an hour exhausts `attempts = 10` in ten hours, and one older than
    /// `timeout` gives up at its first error, as stamina's generators do. Ignored by fns (the
    /// attribute refuses it on one).
    ///
    /// Choose it well above the time a failing connection takes to fail: a run heals once it
    /// has lasted `time`, items or not (an idle feed that drops after an hour was healthy), so
    /// a stream that always fails after longer than `time` retries without end, at the first
    /// wait. Zero would heal a stream that fails at once before every error: here it heals a
    /// run once it has yielded an item, as `heal_after_items(1)` does;
    /// [`try_heal_after`](Self::try_heal_after) and [`validate`](Self::validate) report it as an
    /// error instead.
    #[must_use]
    pub const fn heal_after(mut self, time: Duration) -> Self {
        self.heal_after = Some(time);
        self
    }

    /// Like [`heal_after`](Self::heal_after), but zero is an error.
    pub const fn try_heal_after(self, time: Duration) -> Result<Self, ConfigError> {
        match check_heal_after(time) {
            Ok(()) => Ok(self.heal_after(time)),
            Err(e) => Err(e),
        }
    }

    /// For a retrying stream or iterator: as [`heal_after`](Self::heal_after), after `items`
    /// items without an error (with both, whichever comes first). `0` is 1.
    #[must_use]
    pub const fn heal_after_items(mut self, items: u32) -> Self {
        self.heal_after_items = Some(items);
        self
    }

    /// No healing: the default, stamina's.
    #[must_use]
    pub const fn no_healing(mut self) -> Self {
        self.heal_after = None;
        self.heal_after_items = None;
        self
    }

    /// Retries under `budget`, a [`RetryBudget`] that calls share (a `static`): see
    /// [`crate::budget`]. By default a call uses the process's budget, if one is set
    /// (`stamina::budget::set_process_budget`, feature `process-budget`).
    #[must_use]
    pub const fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = BudgetChoice::Use(budget);
        self.guarded = Guarded::of(self.budget, self.throttle);
        self
    }

    /// No retry budget, not even the process's.
    #[must_use]
    pub const fn no_budget(mut self) -> Self {
        self.budget = BudgetChoice::Off;
        self.guarded = Guarded::of(self.budget, self.throttle);
        self
    }

    /// Consults `throttle` before each attempt: for the attribute (`throttle = ..`) and
    /// [`RetryingCaller::throttle`](crate::RetryingCaller::throttle), which make sure the
    /// call's error type carries a [`Throttled`](crate::Throttled).
    #[must_use]
    pub(crate) const fn with_throttle(mut self, throttle: &'static Throttle) -> Self {
        self.throttle = ThrottleChoice::Use(throttle);
        self.guarded = Guarded::of(self.budget, self.throttle);
        self
    }

    /// The throttle the policy names, if any (see [`crate::throttle`]).
    #[inline]
    #[must_use]
    pub const fn get_throttle(&self) -> Option<&'static Throttle> {
        self.throttle.get()
    }

    /// What the call does when it runs inside another retrying call's attempt (see
    /// [`Nesting`]); without it, the [switches](crate::Switches::nested) decide.
    #[must_use]
    pub const fn nested(mut self, nesting: Nesting) -> Self {
        self.nested = Some(nesting);
        self
    }

    /// Checks the configuration: `attempts(0)`, a zero timeout, a `wait_exp_base` below 1, NaN
    /// or infinite, a zero `heal_after`, and a `min_attempt_time` outside deadline mode (where
    /// it does nothing) are errors, reported in that order.
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if let Some(attempts) = self.attempts {
            if let Err(e) = check_attempts(attempts) {
                return Err(e);
            }
        }
        if let Some(timeout) = self.timeout {
            if let Err(e) = check_timeout(timeout) {
                return Err(e);
            }
        }
        if let Err(e) = check_exp_base(self.wait_exp_base) {
            return Err(e);
        }
        if let Some(time) = self.heal_after {
            if let Err(e) = check_heal_after(time) {
                return Err(e);
            }
        }
        if !self.min_attempt_time.is_zero() && !matches!(self.timeout_mode, TimeoutMode::Deadline) {
            return Err(ConfigError::MinAttemptTimeWithoutDeadline);
        }
        Ok(())
    }

    /// The attempt limit, if any.
    #[must_use]
    pub const fn get_attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// The timeout, if any.
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The wait after the first failure, before jitter.
    #[must_use]
    pub const fn get_wait_initial(&self) -> Duration {
        self.wait_initial
    }

    /// The cap on every computed wait.
    #[must_use]
    pub const fn get_wait_max(&self) -> Duration {
        self.wait_max
    }

    /// The upper bound of the jitter.
    #[must_use]
    pub const fn get_wait_jitter(&self) -> Duration {
        self.wait_jitter
    }

    /// The base of the exponential backoff.
    #[must_use]
    pub const fn get_wait_exp_base(&self) -> f64 {
        self.wait_exp_base
    }

    /// How the timeout is enforced.
    #[must_use]
    pub const fn get_timeout_mode(&self) -> TimeoutMode {
        self.timeout_mode
    }

    /// The time an attempt needs, in deadline mode.
    #[must_use]
    pub const fn get_min_attempt_time(&self) -> Duration {
        self.min_attempt_time
    }

    /// The budget the policy names, if any: `None` for the process's (by default) and for
    /// [`no_budget`](Self::no_budget).
    #[must_use]
    pub const fn get_budget(&self) -> Option<&'static RetryBudget> {
        match self.budget {
            BudgetChoice::Use(budget) => Some(budget),
            BudgetChoice::Process | BudgetChoice::Off => None,
        }
    }

    /// Whether a call under this policy may have a budget or a throttle: known at compile
    /// time for a constant policy.
    #[doc(hidden)]
    #[inline]
    #[must_use]
    pub const fn get_budget_may_have(&self) -> bool {
        self.guarded.0
    }

    /// The nesting policy the policy names, if any (`None`: the switches').
    #[must_use]
    pub const fn get_nested(&self) -> Option<Nesting> {
        self.nested
    }

    /// The time without an error after which a stream or iterator heals, if any.
    #[must_use]
    pub const fn get_heal_after(&self) -> Option<Duration> {
        self.heal_after
    }

    /// The items without an error after which a stream or iterator heals, if any.
    #[must_use]
    pub const fn get_heal_after_items(&self) -> Option<u32> {
        self.heal_after_items
    }

    /// The attempt limit as it applies: `Some(0)` is one attempt.
    #[inline]
    pub(crate) fn attempt_limit(&self) -> Option<u32> {
        self.attempts.map(|a| a.max(1))
    }
}

/// Where a call's policy is: a reference, or for a fn whose policy is a constant, a zero-sized
/// value that the attribute writes, which keeps the reference out of the state (8 bytes less in
/// every retrying future).
pub trait PolicySource<'p>: Copy {
    /// The policy.
    fn get(self) -> &'p RetryPolicy;
}

impl<'p> PolicySource<'p> for &'p RetryPolicy {
    #[inline]
    fn get(self) -> &'p RetryPolicy {
        self
    }
}

/// `attempts` is at least 1.
pub(crate) const fn check_attempts(attempts: u32) -> Result<(), ConfigError> {
    if attempts == 0 {
        Err(ConfigError::ZeroAttempts)
    } else {
        Ok(())
    }
}

/// A timeout is not zero.
pub(crate) const fn check_timeout(timeout: Duration) -> Result<(), ConfigError> {
    if timeout.is_zero() {
        Err(ConfigError::ZeroTimeout)
    } else {
        Ok(())
    }
}

/// `heal_after` is not zero.
pub(crate) const fn check_heal_after(time: Duration) -> Result<(), ConfigError> {
    if time.is_zero() {
        Err(ConfigError::ZeroHealAfter)
    } else {
        Ok(())
    }
}

/// `wait_exp_base` is a finite number of at least 1.
pub(crate) const fn check_exp_base(base: f64) -> Result<(), ConfigError> {
    // NaN fails every comparison, so it fails this one.
    if base >= 1.0 && base < f64::INFINITY {
        Ok(())
    } else {
        Err(ConfigError::InvalidExpBase(base))
    }
}

/// Calls `$m!` with `[extra tokens]`, then every setter that [`RetryingCaller`](crate::RetryingCaller) and
/// [`BoundRetryingCaller`](crate::BoundRetryingCaller) forward to their policy, so that a new
/// option is one setter above and one line here. `const` setters take their arguments as
/// written; `try` setters return `Result<Self, ConfigError>`.
macro_rules! policy_setters {
    ($m:ident $($extra:tt)*) => {
        $m! {
            [$($extra)*]
            const attempts(attempts: u32);
            try try_attempts(attempts: u32);
            const no_attempt_limit();
            const timeout(timeout: std::time::Duration);
            try try_timeout(timeout: std::time::Duration);
            const no_timeout();
            const wait_initial(wait: std::time::Duration);
            const wait_max(wait: std::time::Duration);
            const wait_jitter(wait: std::time::Duration);
            const timeout_mode(mode: crate::policy::TimeoutMode);
            const min_attempt_time(time: std::time::Duration);
            const budget(budget: &'static crate::budget::RetryBudget);
            const no_budget();
            const nested(nesting: crate::nesting::Nesting);
            const heal_after(time: std::time::Duration);
            try try_heal_after(time: std::time::Duration);
            const heal_after_items(items: u32);
            const no_healing();
        }
    };
}
pub(crate) use policy_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_forms_report_each_rule() {
        let p = RetryPolicy::new();
        assert_eq!(p.try_attempts(0), Err(ConfigError::ZeroAttempts));
        assert_eq!(p.try_attempts(1).map(|p| p.get_attempts()), Ok(Some(1)));
        assert_eq!(p.try_timeout(Duration::ZERO), Err(ConfigError::ZeroTimeout));
        assert_eq!(
            p.try_wait_exp_base(0.5),
            Err(ConfigError::InvalidExpBase(0.5))
        );
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.attempts(0).validate(), Err(ConfigError::ZeroAttempts));
        assert_eq!(p.no_attempt_limit().no_timeout().validate(), Ok(()));
    }

    #[test]
    fn exp_base_checks() {
        for base in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.99, -2.0] {
            assert!(check_exp_base(base).is_err(), "{base}");
        }
    }
}
