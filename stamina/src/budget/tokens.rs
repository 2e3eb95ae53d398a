//! gRPC A6's retry throttling, lock-free: tokens kept in thousandths, as grpc-java keeps them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Kind, RetryBudget};
use crate::error::ConfigError;

/// The constructors of this kind, beside it.
impl RetryBudget {
    /// gRPC A6's retry throttling (`retryThrottling`): `max_tokens` tokens, full at the start;
    /// a failure that `on` retries takes one, a success gives back `token_ratio`; retries and
    /// hedges are sent only while more than `max_tokens / 2` are left. A6 allows `max_tokens`
    /// in 1 to 1000 and `token_ratio` above 0 with 3 decimals (grpc-java's, and its defaults in
    /// examples: 10 tokens, a ratio of 0.1).
    ///
    /// Outside those, the nearest allowed value: `max_tokens` 0 is 1, above 1000 is 1000; a
    /// ratio below 0.001, or NaN, is 0.001, above 1000 is 1000, and the rest is rounded to 3
    /// decimals. [`try_grpc_throttling`](Self::try_grpc_throttling) reports such values
    /// instead.
    ///
    /// ```
    /// use stamina::RetryBudget;
    ///
    /// // A6's example: 10 tokens, 0.1 back per success.
    /// static CHANNEL: RetryBudget = RetryBudget::grpc_throttling(10, 0.1);
    /// # assert_eq!(CHANNEL.get_capacity(), Some(10));
    /// ```
    #[must_use]
    pub const fn grpc_throttling(max_tokens: u32, token_ratio: f64) -> Self {
        let max = match max_tokens {
            0 => 1,
            1..=1000 => max_tokens as u64,
            _ => 1000,
        } * 1000;
        // `as` saturates and reads NaN as 0; the rounding is to the nearest thousandth.
        let ratio = ((token_ratio * 1000.0) + 0.5) as u64;
        let ratio = if ratio == 0 {
            1
        } else if ratio > 1_000_000 {
            1_000_000
        } else {
            ratio
        };
        RetryBudget {
            kind: Kind::Tokens(Tokens {
                max,
                ratio,
                count: AtomicU64::new(max),
            }),
        }
    }

    /// Like [`grpc_throttling`](Self::grpc_throttling), but values outside A6's are an error:
    /// `max_tokens` outside 1 to 1000, a ratio that is not a number from 0.001 to 1000 or has
    /// more than 3 decimals.
    pub fn try_grpc_throttling(max_tokens: u32, token_ratio: f64) -> Result<Self, ConfigError> {
        if !(1..=1000).contains(&max_tokens) {
            return Err(ConfigError::InvalidBudget(
                "gRPC retry throttling takes `max_tokens` from 1 to 1000 (A6's `maxTokens`)",
            ));
        }
        let thousandths = token_ratio * 1000.0;
        if !(1.0..=1_000_000.0).contains(&thousandths)
            || (thousandths - thousandths.round()).abs() > 1e-6
        {
            return Err(ConfigError::InvalidBudget(
                "gRPC retry throttling takes a `token_ratio` from 0.001 to 1000, with at most 3 decimals (A6's `tokenRatio`)",
            ));
        }
        Ok(Self::grpc_throttling(max_tokens, token_ratio))
    }
}

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
