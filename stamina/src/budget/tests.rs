//! The budgets' arithmetic, exactness and concurrency, on their internals.

use std::sync::atomic::AtomicU64;
use std::thread;

use super::ratio::Decimal;
use super::*;

/// Grants retries until the budget refuses one; their number.
fn drain(budget: &RetryBudget, decision: Decision) -> u64 {
    let mut granted = 0;
    while budget.withdraw(decision).is_some() {
        granted += 1;
        assert!(granted < 10_000_000, "the budget never refuses");
    }
    granted
}

fn calls(budget: &RetryBudget, n: u64) {
    for _ in 0..n {
        budget.first_try_success();
    }
}

#[test]
fn a_ratio_is_exact_where_towers_truncates() {
    // tower's `TpsBudget` allows 33% for 0.3 and 100% for 0.6 (tower#857).
    for (ratio, calls_made, expected) in [
        (0.01, 10_000, 100),
        (0.1, 1_000, 100),
        (0.2, 1_000, 200),
        (0.3, 1_000, 300),
        (0.6, 1_000, 600),
        (0.7, 999, 699), // 699.3, rounded down: the +1 must fit
        (1.0, 1_000, 1_000),
        (1.5, 1_000, 1_500),
        (10.0, 100, 1_000),
        (0.123_456, 1_000_000, 123_456),
        // Regression: rounded to parts per million this was 3 (3 ppm); exact, it is 2.
        (0.000_002_5, 1_000_010, 2),
        (0.000_002_5, 1_199_999, 2),
        (0.000_002_5, 1_200_000, 3),
        (1.0 / 3.0, 3_000_000, 999_999),
        (999.999, 1_000, 999_999),
    ] {
        let budget = RetryBudget::new()
            .ratio(ratio)
            .min_per_sec(0)
            .window(Duration::from_secs(60));
        calls(&budget, calls_made);
        assert_eq!(budget.available(), expected, "ratio {ratio}");
        assert_eq!(drain(&budget, Decision::Retry), expected, "ratio {ratio}");
        assert_eq!(budget.available(), 0);
    }
}

#[test]
fn the_reserve_allows_min_per_sec_over_the_window_without_calls() {
    let budget = RetryBudget::new()
        .ratio(0.0)
        .min_per_sec(10)
        .window(Duration::from_secs(10));
    assert_eq!(drain(&budget, Decision::Retry), 100);
    let budget = RetryBudget::new(); // 20%, 10 s, 10 per second
    calls(&budget, 50);
    assert_eq!(drain(&budget, Decision::Retry), 110);
}

#[test]
fn a_failed_first_attempt_counts_as_a_call() {
    let budget = RetryBudget::new().ratio(0.5).min_per_sec(0);
    for _ in 0..4 {
        budget.first_failure();
    }
    assert_eq!(drain(&budget, Decision::Retry), 2);
}

#[test]
fn concurrent_retries_never_overdraw_a_ratio_budget() {
    // Eight threads call and retry at once: granted <= ratio x calls + reserve, for every
    // ratio; with no calls, exactly the reserve is granted, however the threads interleave.
    for ratio in [0.05, 0.3, 0.6, 2.0] {
        let budget: &'static RetryBudget =
            Box::leak(Box::new(RetryBudget::new().ratio(ratio).min_per_sec(3)));
        let granted = AtomicU64::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for i in 0..2_000 {
                        if i % 3 == 0 {
                            budget.first_failure();
                        } else {
                            budget.first_try_success();
                        }
                        while budget.withdraw(Decision::Retry).is_some() {
                            granted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let bound = (ratio * 16_000.0 + 30.0).floor() as u64;
        let granted = granted.into_inner();
        assert!(granted <= bound, "ratio {ratio}: {granted} > {bound}");
        // Everything the calls paid for was spent, bar rounding.
        assert!(granted + 1 >= bound, "ratio {ratio}: {granted} of {bound}");
    }
    let reserve_only: &'static RetryBudget =
        Box::leak(Box::new(RetryBudget::new().ratio(0.0).min_per_sec(7)));
    let granted = AtomicU64::new(0);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| granted.fetch_add(drain(reserve_only, Decision::Retry), Ordering::Relaxed));
        }
    });
    assert_eq!(granted.into_inner(), 70);
}

#[test]
fn a_quota_charges_refunds_and_repays() {
    let quota = RetryBudget::token_quota();
    assert_eq!(quota.available(), 500);
    assert_eq!(quota.withdraw(Decision::Retry), Some(14));
    assert_eq!(quota.available(), 486);
    // A success after the retry refunds it.
    quota.success_after_retry(14);
    assert_eq!(quota.available(), 500);
    // Throttling is cheaper.
    assert_eq!(quota.withdraw(Decision::Throttled(None)), Some(5));
    assert_eq!(quota.available(), 495);
    // Each success at once repays a token, never past the capacity.
    calls(&quota, 10);
    assert_eq!(quota.available(), 500);
    // 500 / 14: 35 retries, and the 36th is refused.
    assert_eq!(drain(&quota, Decision::Retry), 35);
    assert_eq!(quota.available(), 10);
    assert_eq!(drain(&quota, Decision::Throttled(None)), 2);
    let small = RetryBudget::token_quota().capacity(10).retry_cost(3, 1);
    assert_eq!(drain(&small, Decision::Retry), 3);
    assert_eq!(drain(&small, Decision::Throttled(None)), 1);
}

#[test]
fn a_free_retry_is_refused_or_costs_one_token() {
    // Regression: `retry_cost(0, 0)` made a quota unlimited without a word.
    let free = RetryBudget::token_quota().capacity(3).retry_cost(0, 0);
    assert_eq!(drain(&free, Decision::Retry), 3);
    assert_eq!(drain(&free, Decision::Throttled(None)), 0);
    for (cost, throttling) in [(0, 5), (14, 0), (0, 0)] {
        assert!(matches!(
            RetryBudget::token_quota().try_retry_cost(cost, throttling),
            Err(ConfigError::InvalidBudget(_))
        ));
    }
    assert!(RetryBudget::token_quota().try_retry_cost(1, 1).is_ok());
}

#[test]
fn a_ratio_reads_back_as_written() {
    for ratio in [0.2, 0.3, 0.000_002_5, 1.0 / 3.0, 7.0, 999.999, 0.0] {
        assert_eq!(
            RetryBudget::new().ratio(ratio).get_ratio(),
            Some(ratio),
            "{ratio}"
        );
    }
    assert_eq!(Decimal::of(0.3), Decimal(3, 1));
    assert_eq!(Decimal::of(0.000_002_5), Decimal(25, 7));
    // Beyond 16 significant digits, the nearest 16-digit decimal.
    assert_eq!(Decimal::of(0.1 + 0.2), Decimal(3_000_000_000_000_001, 16));
}

#[test]
fn concurrent_retries_never_overdraw_a_quota() {
    let quota: &'static RetryBudget = Box::leak(Box::new(RetryBudget::token_quota()));
    let granted = AtomicU64::new(0);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| granted.fetch_add(drain(quota, Decision::Retry), Ordering::Relaxed));
        }
    });
    assert_eq!(granted.into_inner(), 35);
}

#[test]
fn out_of_range_settings_are_errors_or_clamped() {
    for bad in [-0.1, f64::NAN, 1000.5, f64::INFINITY] {
        assert!(RetryBudget::new().try_ratio(bad).is_err(), "{bad}");
    }
    assert_eq!(RetryBudget::new().ratio(-1.0).get_ratio(), Some(0.0));
    assert_eq!(RetryBudget::new().ratio(f64::NAN).get_ratio(), Some(0.0));
    assert_eq!(RetryBudget::new().ratio(5000.0).get_ratio(), Some(1000.0));
    assert!(
        RetryBudget::new()
            .try_window(Duration::from_millis(999))
            .is_err()
    );
    assert!(
        RetryBudget::new()
            .try_window(Duration::from_secs(61))
            .is_err()
    );
    assert_eq!(
        RetryBudget::new().window(Duration::ZERO).get_window(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(RetryBudget::token_quota().get_ratio(), None);
    assert_eq!(RetryBudget::new().get_capacity(), None);
}

#[test]
fn old_calls_and_retries_leave_the_window() {
    // Explicit epochs (slots of 1 s in a 10 s window), off the real clock.
    let budget = RetryBudget::new().ratio(0.5).min_per_sec(0);
    let Kind::Ratio(r) = &budget.kind else {
        unreachable!()
    };
    r.observe(100);
    for _ in 0..100 {
        r.deposits.fetch_add(1, Ordering::Relaxed);
    }
    let mut granted = 0;
    while r.withdraw(100) {
        granted += 1;
    }
    assert_eq!(granted, 50);
    // Five slots on, the same calls and retries are in the window.
    assert!(!r.withdraw(105));
    // Twenty slots on, both have left it: nothing to retry on, until new calls come.
    assert!(!r.withdraw(120));
    for _ in 0..10 {
        r.deposits.fetch_add(1, Ordering::Relaxed);
    }
    let mut granted = 0;
    while r.withdraw(120) {
        granted += 1;
    }
    assert_eq!(granted, 5);
    assert_eq!(r.available(120), 0);
}

#[test]
fn partitions_are_budgets_of_their_own() {
    static BY_HOST: Partitioned = Partitioned::new(RetryBudget::token_quota().capacity(28));
    let a = BY_HOST.get("a");
    assert!(std::ptr::eq(a, BY_HOST.get("a")));
    assert_eq!(drain(a, Decision::Retry), 2);
    assert_eq!(BY_HOST.get("b").available(), 28);
    assert_eq!(BY_HOST.get("a").available(), 0);
}

#[test]
fn grpc_throttling_retries_only_above_half_its_tokens() {
    // A6's example: 10 tokens, 0.1 per success. Each retried failure takes one token first:
    // 9, 8, 7, 6 are above 5; the fifth leaves 5, not above half.
    let budget = RetryBudget::grpc_throttling(10, 0.1);
    assert_eq!(budget.get_tokens(), Some(10.0));
    assert_eq!(
        drain(&budget, Decision::Retry),
        4,
        "the fifth failure is refused"
    );
    assert_eq!(budget.get_tokens(), Some(5.0));
    // Ten successes give back exactly one token (in thousandths: no drift of 0.1 * 10); a
    // failure then leaves 5.0 again, refused; eleven leave 5.1, allowed.
    calls(&budget, 10);
    assert_eq!(budget.get_tokens(), Some(6.0));
    assert_eq!(budget.withdraw(Decision::Retry), None);
    calls(&budget, 11);
    assert_eq!(budget.get_tokens(), Some(6.1));
    assert_eq!(budget.withdraw(Decision::Retry), Some(1));
    assert_eq!(budget.get_tokens(), Some(5.1));
    // Successes stop at the maximum; failures at zero.
    calls(&budget, 1_000);
    assert_eq!(budget.get_tokens(), Some(10.0));
    for _ in 0..20 {
        budget.failed_unretried();
    }
    assert_eq!(budget.get_tokens(), Some(0.0));
    budget.success_after_retry(1);
    assert_eq!(budget.get_tokens(), Some(0.1));
}

#[test]
fn grpc_throttling_lets_hedges_ask_without_spending() {
    let budget = RetryBudget::grpc_throttling(4, 0.5);
    for _ in 0..100 {
        assert_eq!(budget.withdraw_hedge(), Some(0));
    }
    assert_eq!(budget.get_tokens(), Some(4.0));
    budget.failed_unretried();
    budget.failed_unretried();
    assert_eq!(budget.withdraw_hedge(), None, "2 of 4 is not above half");
    // The other kinds spend on a hedge as on a retry.
    let quota = RetryBudget::token_quota().capacity(28);
    assert_eq!(quota.withdraw_hedge(), Some(14));
    assert_eq!(quota.withdraw_hedge(), Some(14));
    assert_eq!(quota.withdraw_hedge(), None);
}

#[test]
fn grpc_throttling_is_exact_under_concurrency() {
    // 16 threads, 1,000 failures and 1,000 successes each at a ratio of 1: whatever the
    // interleaving, no update is lost, so the count ends where the clamping lets it.
    static BUDGET: RetryBudget = RetryBudget::grpc_throttling(1000, 1.0);
    thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    BUDGET.failed_unretried();
                }
            });
        }
    });
    assert_eq!(
        BUDGET.get_tokens(),
        Some(0.0),
        "16,000 failures empty 1,000 tokens"
    );
    thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..100 {
                    BUDGET.first_try_success();
                }
            });
        }
    });
    assert_eq!(
        BUDGET.get_tokens(),
        Some(1000.0),
        "1,600 successes fill it, clamped"
    );
    let counted = AtomicU64::new(0);
    thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..100 {
                    if BUDGET.withdraw(Decision::Retry).is_some() {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(BUDGET.get_tokens(), Some(0.0));
    // Each withdrawal takes its token before it looks: exactly the first 499 see more than 500.
    assert_eq!(counted.into_inner(), 499);
}

#[test]
fn grpc_throttling_rejects_what_a6_rejects() {
    for (max, ratio) in [
        (0, 0.1),
        (1001, 0.1),
        (10, 0.0),
        (10, -1.0),
        (10, f64::NAN),
        (10, f64::INFINITY),
        (10, 0.0005),
        (10, 0.1234),
        (10, 1000.001),
    ] {
        assert!(
            RetryBudget::try_grpc_throttling(max, ratio).is_err(),
            "{max} tokens, ratio {ratio}"
        );
    }
    for (max, ratio) in [(1, 0.001), (1000, 1000.0), (10, 0.125), (3, 0.3)] {
        let budget = RetryBudget::try_grpc_throttling(max, ratio).expect("A6 allows it");
        assert_eq!(budget.get_capacity(), Some(max));
    }
    // The plain constructor takes the nearest allowed value.
    assert_eq!(RetryBudget::grpc_throttling(0, 0.1).get_capacity(), Some(1));
    assert_eq!(
        RetryBudget::grpc_throttling(5000, 0.1).get_capacity(),
        Some(1000)
    );
    let fresh = RetryBudget::grpc_throttling(10, 0.1);
    fresh.failed_unretried();
    assert_eq!(fresh.fresh().get_tokens(), Some(10.0));
}
