//! stamina's backoff formula.
//!
//! After failed attempt `n` (1-based) the wait is
//! `min(wait_max, wait_initial * wait_exp_base^(n - 1) + U(0, wait_jitter))`: jitter is added before
//! the cap, so once the exponential part reaches `wait_max` every wait is exactly `wait_max`.
//!
//! The arithmetic is done in `f64` nanoseconds: exact for every integer up to 2^53 ns (104 days),
//! so no wait of a sane policy loses precision, and far below a microsecond for any wait at all.
//! An exponent that overflows `f64` (attempt 1100 with base 2) saturates to `wait_max`, as does a
//! NaN from a nonsensical base; results below zero (a negative base) are zero, and a zero
//! `wait_initial` gives zero for every base and attempt. No input panics.

use std::time::Duration;

use crate::policy::RetryPolicy;

const NANOS_PER_SEC: f64 = 1e9;

#[inline]
fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// `ns` nanoseconds as a `Duration`; saturates at `Duration::MAX`, negative and NaN are zero.
fn from_nanos(ns: f64) -> Duration {
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else if ns < 18_446_744_073_709_551_615.0 {
        Duration::from_nanos(ns as u64)
    } else {
        Duration::try_from_secs_f64(ns / NANOS_PER_SEC).unwrap_or(Duration::MAX)
    }
}

/// `wait_initial * wait_exp_base^(n - 1)` in nanoseconds; may be infinite or NaN, but zero for
/// a zero `wait_initial` whatever the base: `0 * inf` would be NaN, and land on the cap.
fn exponential_ns(policy: &RetryPolicy, n: u32) -> f64 {
    if policy.wait_initial.is_zero() {
        return 0.0;
    }
    let exp = n.saturating_sub(1);
    let factor = match i32::try_from(exp) {
        Ok(exp) => policy.wait_exp_base.powi(exp),
        Err(_) => policy.wait_exp_base.powf(f64::from(exp)),
    };
    nanos(policy.wait_initial) * factor
}

/// The wait after failed attempt `n` without jitter: stamina's `Attempt.next_wait`.
pub(crate) fn lower_bound(policy: &RetryPolicy, n: u32) -> Duration {
    let exp = exponential_ns(policy, n);
    // NaN fails the comparison and lands on `wait_max`.
    if exp < nanos(policy.wait_max) {
        from_nanos(exp)
    } else {
        policy.wait_max
    }
}

/// The wait after failed attempt `n`, with `unit_jitter` in `[0, 1)` scaling `wait_jitter`.
///
/// `unit_jitter` is only called when the jitter can matter: not once the exponential part has
/// reached the cap, and not with a zero `wait_jitter`.
pub(crate) fn wait(policy: &RetryPolicy, n: u32, unit_jitter: impl FnOnce() -> f64) -> Duration {
    let exp = exponential_ns(policy, n);
    let max = nanos(policy.wait_max);
    // NaN and infinity fail the comparison and land on `wait_max`.
    let below_cap = exp < max;
    if !below_cap {
        return policy.wait_max;
    }
    let jitter = if policy.wait_jitter.is_zero() {
        0.0
    } else {
        unit_jitter() * nanos(policy.wait_jitter)
    };
    let total = exp + jitter;
    if total < max {
        from_nanos(total)
    } else {
        policy.wait_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draw from the thread's generator.
    fn draw() -> f64 {
        crate::rng::unit_from(crate::rng::next_u64())
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::new()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn default_schedule_lower_and_upper_bounds() {
        // stamina's table: lower bounds 0.1 .. 3.2, then exactly 5.0.
        let lower = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0];
        for (i, expected) in lower.iter().enumerate() {
            let n = i as u32 + 1;
            assert_eq!(lower_bound(&policy(), n), secs(*expected), "n = {n}");
            assert_eq!(wait(&policy(), n, || 0.0), secs(*expected), "n = {n}");
            let upper = wait(&policy(), n, || 1.0 - f64::EPSILON);
            assert!(
                upper <= secs((expected + 1.0).min(5.0)),
                "n = {n}: {upper:?}"
            );
            assert!(upper >= secs(*expected), "n = {n}");
        }
    }

    #[test]
    fn jitter_is_added_before_the_cap() {
        // 3.2 s + 0.9 * 1 s = 4.1 s, under the cap; 3.2 s + 0.99 s would be under too, but at
        // n = 7 the exponential part is already 6.4 s: exactly the cap, and no draw is made.
        assert_eq!(wait(&policy(), 6, || 0.9), Duration::from_millis(4100));
        let p = policy().wait_max(Duration::from_millis(3500));
        assert_eq!(wait(&p, 6, || 0.9), Duration::from_millis(3500));
        assert_eq!(
            wait(&policy(), 7, || panic!("no draw at the cap")),
            secs(5.0)
        );
    }

    #[test]
    fn zero_jitter_makes_no_draw() {
        let p = policy().wait_jitter(Duration::ZERO);
        assert_eq!(wait(&p, 1, || panic!("no draw without jitter")), secs(0.1));
    }

    #[test]
    fn verified_sequence_without_jitter() {
        // stamina, verified: jitter 0, initial 0.01, max 0.05.
        let p = policy()
            .wait_jitter(Duration::ZERO)
            .wait_initial(secs(0.01))
            .wait_max(secs(0.05));
        let waits: Vec<_> = (1..=5).map(|n| wait(&p, n, || 0.0)).collect();
        assert_eq!(waits, [0.01, 0.02, 0.04, 0.05, 0.05].map(secs));
    }

    #[test]
    fn overflowing_exponent_saturates_to_wait_max() {
        for n in [1025, 1100, 2000, 10_000, u32::MAX / 2, u32::MAX] {
            assert_eq!(wait(&policy(), n, draw), secs(5.0), "n = {n}");
            assert_eq!(lower_bound(&policy(), n), secs(5.0), "n = {n}");
        }
    }

    #[test]
    fn max_below_initial_gives_max() {
        // stamina, verified: initial 3, max 1 gives 1, 1, 1.
        let p = policy().wait_initial(secs(3.0)).wait_max(secs(1.0));
        for n in 1..=3 {
            assert_eq!(wait(&p, n, draw), secs(1.0));
        }
    }

    #[test]
    fn nonsensical_bases_never_panic() {
        let p = policy().wait_jitter(Duration::ZERO);
        assert_eq!(wait(&p.wait_exp_base(f64::NAN), 3, || 0.0), secs(5.0));
        assert_eq!(wait(&p.wait_exp_base(f64::INFINITY), 3, || 0.0), secs(5.0));
        assert_eq!(wait(&p.wait_exp_base(-2.0), 2, || 0.0), Duration::ZERO);
        assert_eq!(wait(&p.wait_exp_base(0.5), 2, || 0.0), secs(0.05));
        assert_eq!(wait(&p.wait_exp_base(1.0), 500, || 0.0), secs(0.1));
    }

    #[test]
    fn zero_stays_zero_for_every_base_and_attempt() {
        let p = policy()
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO);
        for base in [1.0, 2.0, 1e300, f64::INFINITY, f64::NAN, -1.0] {
            for n in [1, 2, 1024, 1025, 1100, u32::MAX] {
                assert_eq!(
                    wait(&p.wait_exp_base(base), n, || 0.0),
                    Duration::ZERO,
                    "{base} {n}"
                );
                assert_eq!(lower_bound(&p.wait_exp_base(base), n), Duration::ZERO);
            }
        }
    }

    #[test]
    fn huge_durations_saturate() {
        let p = policy()
            .wait_initial(Duration::MAX)
            .wait_max(Duration::MAX)
            .wait_jitter(Duration::MAX);
        assert_eq!(wait(&p, 1, || 0.5), Duration::MAX);
        let p = policy()
            .wait_initial(Duration::from_secs(u64::MAX / 4))
            .wait_max(Duration::MAX);
        let w = wait(&p, 2, || 0.0);
        assert!(w > Duration::from_secs(u64::MAX / 3), "{w:?}");
    }

    #[test]
    fn nanosecond_precision() {
        let p = policy()
            .wait_initial(Duration::from_nanos(1_234_567_891))
            .wait_jitter(Duration::ZERO)
            .wait_max(Duration::from_secs(60));
        assert_eq!(wait(&p, 1, || 0.0), Duration::from_nanos(1_234_567_891));
        assert_eq!(wait(&p, 3, || 0.0), Duration::from_nanos(4_938_271_564));
    }

    #[test]
    fn bounds_hold_for_every_attempt_up_to_10_000() {
        let p = policy();
        for n in 1..=10_000 {
            let lower = lower_bound(&p, n);
            let w = wait(&p, n, draw);
            assert!(w >= lower, "n = {n}: {w:?} < {lower:?}");
            assert!(w <= p.wait_max, "n = {n}: {w:?}");
            assert!(w <= lower + p.wait_jitter, "n = {n}: {w:?}");
        }
    }

    #[test]
    fn jitter_is_uniform_within_its_bounds() {
        // 20,000 draws of the first wait, in ten buckets over [0.1 s, 1.1 s). Each bucket expects
        // 2,000; the bounds are far outside anything a uniform RNG produces (> 10 sigma).
        let p = policy();
        let mut buckets = [0u32; 10];
        let mut sum = 0.0;
        for _ in 0..20_000 {
            let w = wait(&p, 1, draw).as_secs_f64();
            assert!((0.1..1.1).contains(&w), "{w}");
            sum += w;
            buckets[((w - 0.1) * 10.0) as usize] += 1;
        }
        for (i, count) in buckets.iter().enumerate() {
            assert!(
                (1_400..2_600).contains(count),
                "bucket {i}: {count} of 20000"
            );
        }
        let mean = sum / 20_000.0;
        assert!((0.58..0.62).contains(&mean), "mean {mean}");
    }

    #[test]
    fn jitter_differs_between_calls() {
        let draws: std::collections::HashSet<_> =
            (0..100).map(|_| wait(&policy(), 1, draw)).collect();
        assert!(
            draws.len() > 90,
            "only {} distinct waits in 100",
            draws.len()
        );
    }
}
