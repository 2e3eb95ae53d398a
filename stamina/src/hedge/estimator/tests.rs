//! The estimator's buckets, percentile, window, sampling stride and settings.

use super::*;

#[test]
fn buckets_cover_the_range_in_order_within_a_sixteenth() {
    let mut last = 0;
    for units in (0..1u64 << 26)
        .step_by(997)
        .chain([1 << 26, u64::MAX >> 10])
    {
        let b = bucket(units);
        assert!(b >= last, "monotonic at {units}");
        last = b;
        let (low, width) = bounds(b);
        if b < BUCKETS - 1 {
            assert!(
                low <= units && units < low + width,
                "{units} in {b}: {low}+{width}"
            );
            assert!(width * 16 <= low.max(16), "a sixteenth at {units}");
        }
    }
    assert_eq!(bucket(u64::MAX >> 10), BUCKETS - 1);
}

#[test]
fn the_delay_is_the_percentile_after_the_warmup() {
    let e = HedgeEstimator::new()
        .max_extra_load(0.1)
        .warmup(100)
        .floor(Duration::ZERO);
    // Latencies 1..=1000 µs, one of each: p90 is 900 µs.
    for i in 1..=1000u64 {
        e.record_at(i * 1000, 1);
        if i < 100 {
            assert_eq!(e.delay(), None, "warming up at {i}");
        }
    }
    e.refresh();
    let d = e.delay().expect("warm").as_secs_f64() * 1e6;
    assert!(
        (d - 900.0).abs() < 900.0 / 16.0,
        "p90 of 1..=1000 µs: {d} µs"
    );
}

#[test]
fn the_floor_raises_and_the_ceiling_stops_hedging() {
    let e = HedgeEstimator::new()
        .warmup(1)
        .floor(Duration::from_millis(5));
    for _ in 0..100 {
        e.record_at(10_000, 1); // 10 µs
    }
    assert_eq!(e.delay(), Some(Duration::from_millis(5)));
    let e = HedgeEstimator::new()
        .warmup(1)
        .ceiling(Duration::from_millis(100));
    for _ in 0..100 {
        e.record_at(500_000_000, 1); // 0.5 s: an outage
    }
    assert_eq!(e.delay(), None);
}

#[test]
fn a_window_later_the_old_latencies_are_gone() {
    let e = HedgeEstimator::new()
        .warmup(10)
        .window(Duration::from_secs(2))
        .floor(Duration::ZERO);
    for _ in 0..100 {
        e.record_at(50_000_000, 0); // 50 ms, at t = 0
    }
    assert!(e.delay().expect("warm") > Duration::from_millis(45));
    // Half a window on: both halves count; a whole window on, only the new ones.
    for _ in 0..100 {
        e.record_at(1_000_000, 1_000_000_000);
    }
    assert!(
        e.delay().expect("warm") > Duration::from_millis(45),
        "p95 of both"
    );
    for _ in 0..100 {
        e.record_at(1_000_000, 2_000_000_000);
    }
    let d = e.delay().expect("warm");
    assert!(
        d < Duration::from_millis(2),
        "the 50 ms are forgotten: {d:?}"
    );
    assert_eq!(e.samples(), 200);
    // After a silence longer than the window, nothing is left but the newest.
    e.record_at(1_000_000, 60_000_000_000);
    assert_eq!(e.samples(), 1);
    assert_eq!(e.delay(), None, "warming up again");
}

#[test]
fn the_stride_follows_the_rate_of_calls() {
    let e = HedgeEstimator::new().warmup(1).floor(Duration::ZERO);
    assert_eq!(e.sample_every(), 1, "every call at first");
    // 100,000 sampled calls a second: far above 2,048 a half-window at any stride up to
    // the cap, so it goes to the cap at the first refresh that can project.
    let mut now = 0;
    for _ in 0..100_000 {
        now += 10_000;
        e.record_at(1_000_000, now);
    }
    assert_eq!(
        e.sample_every(),
        MAX_SAMPLE_EVERY,
        "after 1 s at 100,000 a second"
    );
    // Then 10 a second: 150 a half-window, below 512: back to 1.
    for _ in 0..200 {
        now += 100_000_000;
        e.record_at(1_000_000, now);
    }
    assert_eq!(e.sample_every(), 1, "after 20 s at 10 a second");
    // 100 a second, sampled one in one: 1,500 a half-window, between the marks.
    for _ in 0..3_000 {
        now += 10_000_000;
        e.record_at(1_000_000, now);
    }
    assert_eq!(e.sample_every(), 1, "steady at 100 a second");
}

#[test]
fn a_thread_samples_one_call_in_the_stride() {
    let e = HedgeEstimator::new();
    e.stride.store(8, Ordering::Relaxed);
    let sampled = (0..800).filter(|_| e.sample()).count();
    assert_eq!(sampled, 100);
}

#[test]
fn a_partition_is_fresh_with_the_template_s_settings() {
    use crate::budget::Partition;
    let template = HedgeEstimator::new()
        .max_extra_load(0.1)
        .window(Duration::from_secs(4))
        .warmup(3)
        .floor(Duration::from_millis(2))
        .ceiling(Duration::from_secs(1));
    for _ in 0..10 {
        template.record_at(5_000_000, 1);
    }
    let fresh = template.fresh();
    assert_eq!(fresh.samples(), 0);
    assert_eq!(fresh.delay(), None);
    assert_eq!(fresh.sample_every(), 1);
    assert_eq!(
        (
            fresh.quantile_ppm,
            fresh.half_ns,
            fresh.warmup,
            fresh.floor_ns,
            fresh.ceiling_ns
        ),
        (
            template.quantile_ppm,
            template.half_ns,
            template.warmup,
            template.floor_ns,
            template.ceiling_ns
        )
    );
}

#[test]
fn bad_settings_are_errors() {
    let e = HedgeEstimator::new();
    for load in [0.0, -0.1, 0.6, f64::NAN, f64::INFINITY] {
        assert!(
            HedgeEstimator::new().try_max_extra_load(load).is_err(),
            "{load}"
        );
    }
    assert!(HedgeEstimator::new().try_window(Duration::ZERO).is_err());
    assert!(
        HedgeEstimator::new()
            .try_window(Duration::from_secs(3600))
            .is_err()
    );
    assert!(
        HedgeEstimator::new()
            .try_bounds(Duration::from_secs(1), Duration::from_millis(1))
            .is_err()
    );
    assert!(
        HedgeEstimator::new()
            .try_bounds(Duration::ZERO, Duration::from_secs(100))
            .is_err()
    );
    assert!((e.max_extra_load(f64::NAN).get_max_extra_load() - 0.05).abs() < 1e-12);
    assert!(
        (HedgeEstimator::new()
            .max_extra_load(0.075)
            .get_max_extra_load()
            - 0.075)
            .abs()
            < 1e-9
    );
}
