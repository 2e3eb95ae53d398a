//! gRPC A6's retry throttling, lock-free: tokens kept in thousandths, as grpc-java keeps them.

use std::sync::atomic::{AtomicU64, Ordering};

/// gRPC A6's `retryThrottling`: `max_tokens` tokens, a qualifying failure takes one, a success
/// gives back `token_ratio`; retries and hedges only while more than half are left.
pub(super) struct Tokens {
    /// `maxTokens`, in thousandths of a token.
    pub(super) max: u64,
    /// `tokenRatio`, in thousandths of a token (A6 keeps 3 decimals).
    pub(super) ratio: u64,
    /// The tokens left, in thousandths.
    pub(super) count: AtomicU64,
}

impl Tokens {
    /// A success: `token_ratio` back, up to `max_tokens`. One load while the bucket is full.
    #[inline]
    pub(super) fn succeeded(&self) {
        if self.count.load(Ordering::Relaxed) >= self.max {
            return;
        }
        let _ = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < self.max).then(|| (count + self.ratio).min(self.max))
            });
    }

    /// A qualifying failure (one `on` retries): one token less, down to zero.
    pub(super) fn failed(&self) {
        let _ = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count != 0).then(|| count.saturating_sub(1000))
            });
    }

    /// Whether a retry or a hedge may be sent: more than half of `max_tokens` left.
    pub(super) fn allows(&self) -> bool {
        self.count.load(Ordering::Acquire) > self.max / 2
    }
}
