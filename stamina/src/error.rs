//! [`ConfigError`]: an invalid configuration, as the checked forms report it, with its fix in
//! the spelling of the place it was written: the attribute (`timeout = None`), code
//! (`.no_timeout()`) or a configuration file (`"timeout": "none"`).

use std::fmt;

/// An invalid retry configuration, as the checked forms report it.
///
/// The plain setters of [`RetryPolicy`](crate::RetryPolicy) and
/// [`RetryingCaller`](crate::RetryingCaller) never fail: each documents what it does with an
/// out-of-range value, as stamina does. The `try_*` setters and
/// [`RetryPolicy::validate`](crate::RetryPolicy::validate) report such values as this error
/// instead, and so do the attribute, at compile time, and a policy read from a file (feature
/// `serde`), each in its own spelling. `Display` writes the rule and its fix in code's
/// spelling: `.no_timeout()`.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("{}", self.display_in(Spelling::Code))]
#[non_exhaustive]
pub enum ConfigError {
    /// `attempts` was 0.
    ZeroAttempts,
    /// `timeout` was zero, which allows no retry at all.
    ZeroTimeout,
    /// `wait_exp_base` was below 1, NaN or infinite.
    InvalidExpBase(f64),
    /// A [`RetryBudget`](crate::RetryBudget) setting was out of range; the text says which.
    InvalidBudget(&'static str),
    /// `heal_after` was zero: a stream that fails at once would heal before every error, and
    /// never give up.
    ZeroHealAfter,
    /// `min_attempt_time` was set without [`TimeoutMode::Deadline`](crate::TimeoutMode), where it
    /// does nothing.
    MinAttemptTimeWithoutDeadline,
    /// A setting of the `tower` layer was out of range; the text says which.
    InvalidLayer(&'static str),
    /// A hedging setting was out of range (a count of hedges, a delay, an extra load); the
    /// text says which.
    InvalidHedging(&'static str),
    /// A [`Throttle`](crate::Throttle) setting was out of range (its `k`, its window, its
    /// rejection cap, NaN anywhere); the text says which.
    InvalidThrottle(&'static str),
}

/// Where a configuration was written, which decides how its errors spell the fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// `#[retry(timeout = None)]`.
    Attribute,
    /// `.no_timeout()`.
    Code,
    /// `"timeout": "none"`.
    #[cfg_attr(
        not(feature = "serde"),
        allow(dead_code, reason = "the file form's (feature `serde`)")
    )]
    File,
}

impl ConfigError {
    /// The rule that was broken, and its fix in code's spelling: the error's text without the
    /// offending value.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        self.message_in(Spelling::Code)
    }

    /// The rule that was broken, and its fix as `spelling` writes it.
    pub(crate) const fn message_in(&self, spelling: Spelling) -> &'static str {
        use Spelling::{Attribute, Code, File};
        match (self, spelling) {
            (ConfigError::ZeroAttempts, Attribute) => {
                "`attempts` must be at least 1 (one attempt, no retries: `attempts = 1`; `None` is no limit at all)"
            }
            (ConfigError::ZeroAttempts, Code) => {
                "`attempts` must be at least 1 (one attempt, no retries: `.attempts(1)`; `.no_attempt_limit()` is no limit at all)"
            }
            (ConfigError::ZeroAttempts, File) => {
                "`attempts` must be at least 1 (one attempt, no retries: `\"attempts\": 1`; `\"none\"` is no limit at all)"
            }
            (ConfigError::ZeroTimeout, Attribute) => {
                "a `timeout` of zero allows no retry at all (one attempt: `attempts = 1`; no time limit: `timeout = None`)"
            }
            (ConfigError::ZeroTimeout, Code) => {
                "a `timeout` of zero allows no retry at all (one attempt: `.attempts(1)`; no time limit: `.no_timeout()`)"
            }
            (ConfigError::ZeroTimeout, File) => {
                "a `timeout` of zero allows no retry at all (one attempt: `\"attempts\": 1`; no time limit: `\"timeout\": \"none\"`)"
            }
            (ConfigError::InvalidExpBase(_), Attribute) => {
                "`wait_exp_base` must be a finite number of at least 1 (waits that do not grow: `wait_exp_base = 1`)"
            }
            (ConfigError::InvalidExpBase(_), Code) => {
                "`wait_exp_base` must be a finite number of at least 1 (waits that do not grow: `.wait_exp_base(1)`)"
            }
            (ConfigError::InvalidExpBase(_), File) => {
                "`wait_exp_base` must be a finite number of at least 1 (waits that do not grow: `\"wait_exp_base\": 1`)"
            }
            (
                ConfigError::InvalidBudget(message)
                | ConfigError::InvalidLayer(message)
                | ConfigError::InvalidHedging(message)
                | ConfigError::InvalidThrottle(message),
                _,
            ) => message,
            (ConfigError::ZeroHealAfter, Attribute) => {
                "`heal_after` must be longer than zero: a stream that fails at once would heal before every error (to heal after each item: `heal_after_items = 1`)"
            }
            (ConfigError::ZeroHealAfter, Code) => {
                "`heal_after` must be longer than zero: a stream that fails at once would heal before every error (to heal after each item: `.heal_after_items(1)`)"
            }
            (ConfigError::ZeroHealAfter, File) => {
                "`heal_after` must be longer than zero: a stream that fails at once would heal before every error (to heal after each item: `\"heal_after_items\": 1`)"
            }
            (ConfigError::MinAttemptTimeWithoutDeadline, Attribute) => {
                "`min_attempt_time` applies in deadline mode only, and does nothing here: add `timeout_mode = Deadline`, or remove it"
            }
            (ConfigError::MinAttemptTimeWithoutDeadline, Code) => {
                "`min_attempt_time` applies in deadline mode only, and does nothing here: add `.timeout_mode(TimeoutMode::Deadline)`, or remove it"
            }
            (ConfigError::MinAttemptTimeWithoutDeadline, File) => {
                "`min_attempt_time` applies in deadline mode only, and does nothing here: add `\"timeout_mode\": \"deadline\"`, or remove it"
            }
        }
    }

    /// The error's text as `spelling` writes the fix, with the offending value where it says
    /// more than the rule.
    pub(crate) fn display_in(self, spelling: Spelling) -> impl fmt::Display {
        struct Shown(ConfigError, Spelling);
        impl fmt::Display for Shown {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.message_in(self.1))?;
                match self.0 {
                    ConfigError::InvalidExpBase(base) => write!(f, " (got {base})"),
                    _ => Ok(()),
                }
            }
        }
        Shown(self, spelling)
    }
}

/// Equal when the same rule is broken by the same value, bit for bit: an invalid base of NaN
/// equals itself.
impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ConfigError::InvalidExpBase(a), ConfigError::InvalidExpBase(b)) => {
                a.to_bits() == b.to_bits()
            }
            (ConfigError::InvalidBudget(a), ConfigError::InvalidBudget(b))
            | (ConfigError::InvalidLayer(a), ConfigError::InvalidLayer(b))
            | (ConfigError::InvalidHedging(a), ConfigError::InvalidHedging(b))
            | (ConfigError::InvalidThrottle(a), ConfigError::InvalidThrottle(b)) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ConfigError; 5] = [
        ConfigError::ZeroAttempts,
        ConfigError::ZeroTimeout,
        ConfigError::InvalidExpBase(0.5),
        ConfigError::ZeroHealAfter,
        ConfigError::MinAttemptTimeWithoutDeadline,
    ];

    #[test]
    fn each_surface_spells_the_fix_its_own_way() {
        for error in ALL {
            let attribute = error.message_in(Spelling::Attribute);
            let code = error.message_in(Spelling::Code);
            let file = error.message_in(Spelling::File);
            assert!(code.contains("`."), "{code}");
            assert!(!attribute.contains("`."), "{attribute}");
            assert!(file.contains("`\""), "{file}");
            assert!(!code.contains(" = ") && !code.contains("\": "), "{code}");
        }
    }

    #[test]
    fn messages_name_the_fix_and_not_the_opposite() {
        let zero = ConfigError::ZeroAttempts.to_string();
        // No limit is the opposite of one attempt: named as such, never as the fix.
        assert!(
            zero.contains("one attempt, no retries: `.attempts(1)`"),
            "{zero}"
        );
        assert_eq!(
            ConfigError::InvalidExpBase(0.5).to_string(),
            format!("{} (got 0.5)", ConfigError::InvalidExpBase(0.5).message())
        );
    }

    #[test]
    fn an_invalid_base_of_nan_equals_itself() {
        assert_eq!(
            ConfigError::InvalidExpBase(f64::NAN),
            ConfigError::InvalidExpBase(f64::NAN)
        );
        assert_ne!(
            ConfigError::InvalidExpBase(1.0),
            ConfigError::InvalidExpBase(0.5)
        );
        assert_ne!(ConfigError::ZeroAttempts, ConfigError::ZeroTimeout);
    }
}
