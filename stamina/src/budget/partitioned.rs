//! [`Partitioned`]: a budget per key.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use super::RetryBudget;

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
