//! The AWS SDKs' 2026 token quota, lock-free.

use std::sync::atomic::{AtomicU64, Ordering};

/// The AWS 2026 token quota, lock-free.
pub(super) struct Quota {
    pub(super) capacity: u32,
    pub(super) cost: u16,
    pub(super) throttling_cost: u16,
    /// Tokens spent and not yet given back: the quota has `capacity - debt` left.
    pub(super) debt: AtomicU64,
}

impl Quota {
    pub(super) fn withdraw(&self, cost: u16) -> bool {
        let cost = u64::from(cost);
        let capacity = u64::from(self.capacity);
        self.debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                (debt + cost <= capacity).then_some(debt + cost)
            })
            .is_ok()
    }

    pub(super) fn repay(&self, tokens: u64) {
        let _ = self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                (debt != 0).then(|| debt.saturating_sub(tokens))
            });
    }
}
