//! [`Partitioned`]: a budget (or a throttle, or a hedge estimator) per key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use super::RetryBudget;

/// What [`Partitioned`] holds one of per key: a [`RetryBudget`], a
/// [`Throttle`](crate::Throttle) or a [`HedgeEstimator`](crate::hedge::HedgeEstimator).
pub trait Partition: Sync + 'static + Sealed {
    /// The same configuration with nothing counted.
    #[must_use]
    fn fresh(&self) -> Self;
}

/// Only stamina's types partition (the throttle and the estimator implement it in their own
/// modules).
pub(crate) mod sealed {
    pub trait Sealed {}
}

use self::sealed::Sealed;

impl Sealed for RetryBudget {}

impl Partition for RetryBudget {
    fn fresh(&self) -> Self {
        RetryBudget::fresh(self)
    }
}

/// A budget (or a [`Throttle`](crate::Throttle)) per key: per host, as reqwest scopes its
/// budget, or per region, as smithy-rs's `RetryPartition` does. Each key gets a fresh budget of
/// the template's configuration the first time it is asked for, kept for the life of the
/// process: keys should be a bounded set.
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
/// A throttle per key is the same type, `Partitioned<Throttle>`:
///
/// ```
/// use stamina::Throttle;
/// use stamina::throttle::Partitioned;
///
/// static BY_REGION: Partitioned<Throttle> = Partitioned::new(Throttle::adaptive());
/// assert!(std::ptr::eq(BY_REGION.get("eu-west-1"), BY_REGION.get("eu-west-1")));
/// ```
///
/// And a hedge estimator per key, `Partitioned<HedgeEstimator>`: each key's latencies make
/// its own delay (`Hedging::adaptive(BY_SHARD.get(shard))`, or `hedge = BY_SHARD.get(shard)` on
/// the attribute).
///
/// ```
/// use stamina::hedge::{HedgeEstimator, Partitioned};
///
/// static BY_SHARD: Partitioned<HedgeEstimator> = Partitioned::new(HedgeEstimator::new());
/// assert!(!std::ptr::eq(BY_SHARD.get("shard-1"), BY_SHARD.get("shard-2")));
/// ```
///
/// A lookup takes a read lock and hashes the key: a call under a partitioned budget pays that
/// on its happy path, on top of the budget's own deposit.
pub struct Partitioned<T: Partition = RetryBudget> {
    template: T,
    budgets: RwLock<Option<HashMap<Box<str>, &'static T>>>,
}

impl<T: Partition> Partitioned<T> {
    /// Partitions with `template`'s configuration.
    #[must_use]
    pub const fn new(template: T) -> Self {
        Partitioned {
            template,
            budgets: RwLock::new(None),
        }
    }

    /// The budget (or throttle) of `key`, made on first use.
    pub fn get(&self, key: &str) -> &'static T {
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

impl<T: Partition + fmt::Debug> fmt::Debug for Partitioned<T> {
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
