//! The validated configuration of a retrying call: its limits and its backoff.

use std::time::Duration;

/// An invalid retry configuration, as the checked forms report it.
///
/// The chaining setters of [`RetryingCaller`](crate::RetryingCaller) never fail: each documents
/// what it does with an out-of-range value. [`RetryingCaller::validate`](crate::RetryingCaller::validate)
/// and the `try_*` setters report such values as this error instead.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `attempts` was 0.
    #[error("`attempts` must be at least 1; use `no_attempt_limit()` for no limit")]
    ZeroAttempts,
    /// `wait_exp_base` was below 1, NaN or infinite.
    #[error("`wait_exp_base` must be a finite number of at least 1, got {0}")]
    InvalidExpBase(f64),
}

/// The limits and the backoff of a retrying call. `const`-constructible, so that the `#[retry]`
/// attribute can keep its configuration in a `static`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub(crate) attempts: Option<u32>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) wait_initial: Duration,
    pub(crate) wait_max: Duration,
    pub(crate) wait_jitter: Duration,
    pub(crate) wait_exp_base: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// stamina's defaults: 10 attempts, 45 s, 0.1 s initial wait, 5 s cap, 1 s jitter, base 2.
    pub const DEFAULT: Policy = Policy {
        attempts: Some(10),
        timeout: Some(Duration::from_secs(45)),
        wait_initial: Duration::from_millis(100),
        wait_max: Duration::from_secs(5),
        wait_jitter: Duration::from_secs(1),
        wait_exp_base: 2.0,
    };

    /// stamina's defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// At most `attempts` attempts in all, the first included; `None` for no limit. `Some(0)`
    /// behaves as `Some(1)`, as in stamina.
    #[must_use]
    pub const fn attempts(mut self, attempts: Option<u32>) -> Self {
        self.attempts = attempts;
        self
    }

    /// Give up once this much time has passed since the first attempt began; `None` for no limit.
    #[must_use]
    pub const fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The backoff after the first failure, before jitter.
    #[must_use]
    pub const fn wait_initial(mut self, wait: Duration) -> Self {
        self.wait_initial = wait;
        self
    }

    /// The cap on every computed backoff, jitter included.
    #[must_use]
    pub const fn wait_max(mut self, wait: Duration) -> Self {
        self.wait_max = wait;
        self
    }

    /// The upper bound of the uniform jitter added to each computed backoff.
    #[must_use]
    pub const fn wait_jitter(mut self, wait: Duration) -> Self {
        self.wait_jitter = wait;
        self
    }

    /// The base of the exponential backoff.
    #[must_use]
    pub const fn wait_exp_base(mut self, base: f64) -> Self {
        self.wait_exp_base = base;
        self
    }

    /// The attempt limit as it applies: `Some(0)` is one attempt.
    #[inline]
    pub(crate) fn attempt_limit(&self) -> Option<u32> {
        self.attempts.map(|a| a.max(1))
    }

    /// Checks the configuration.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.attempts == Some(0) {
            return Err(ConfigError::ZeroAttempts);
        }
        check_exp_base(self.wait_exp_base)
    }
}

pub(crate) fn check_exp_base(base: f64) -> Result<(), ConfigError> {
    // NaN fails every comparison, so it fails this one.
    let at_least_one = base >= 1.0;
    if !at_least_one || base.is_infinite() {
        return Err(ConfigError::InvalidExpBase(base));
    }
    Ok(())
}
