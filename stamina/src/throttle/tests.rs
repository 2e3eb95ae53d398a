#![allow(
    clippy::unreadable_literal,
    clippy::float_cmp,
    reason = "smithy-rs's test vectors, digit for digit as published, and the formulas, bit for bit"
)]

use std::time::Duration;

use super::adaptive::Counts;
use super::rate_limiter::{State, cubic_throttle};
use super::*;
use crate::testing::TestClock;

/// smithy-rs's `test_calculated_rate_with_successes` (ported from aws-sdk-go-v2): the rates
/// CUBIC allows after a throttle at t = 5 with a rate of 10, to the bit.
#[test]
fn cubic_success_matches_the_published_vectors() {
    let state = State {
        time_of_last_throttle: 5.0,
        last_max_rate: 10.0,
        ..State::ZERO
    };
    let vectors = [
        (5.0, 7.0),
        (6.0, 9.64893600966),
        (7.0, 10.000030849917364),
        (8.0, 10.453284520772092),
        (9.0, 13.408697022224185),
        (10.0, 21.26626835427364),
        (11.0, 36.425998516920465),
    ];
    for (t, expected) in vectors {
        let rate = state.cubic_success(t);
        assert!(
            (rate - expected).abs() <= f64::EPSILON * expected,
            "t = {t}: {rate} vs {expected}"
        );
    }
    assert_eq!(cubic_throttle(10.0), 7.0);
}

/// smithy-rs's `test_calculated_rate_with_throttles`.
#[test]
fn cubic_with_throttles_matches_the_published_vectors() {
    let mut state = State {
        time_of_last_throttle: 5.0,
        last_max_rate: 10.0,
        ..State::ZERO
    };
    let vectors = [
        (false, 5.0, 7.0),
        (false, 6.0, 9.64893600966),
        (true, 7.0, 6.754255206761999),
        (true, 8.0, 4.727978644733399),
        (false, 9.0, 4.670125557970046),
        (false, 10.0, 4.770870456867401),
        (false, 11.0, 6.011819748005445),
        (false, 12.0, 10.792973431384178),
    ];
    let mut rate = 0.0;
    for (throttled, t, expected) in vectors {
        if throttled {
            rate = cubic_throttle(rate);
            state.time_of_last_throttle = t;
            state.last_max_rate = rate;
        } else {
            rate = state.cubic_success(t);
        }
        assert!(
            (rate - expected).abs() <= 4.0 * f64::EPSILON * expected,
            "t = {t}: {rate} vs {expected}"
        );
    }
}

/// smithy-rs's `test_client_sending_rates`: the measured send rate and the fill rate after
/// each reply, 200 ms apart, throttled at 2.0 s and 3.2 s.
#[test]
fn sending_rates_match_the_published_vectors() {
    let mut state = State::ZERO;
    let vectors = [
        (false, 0.2, 0.0, 0.5),
        (false, 0.4, 0.0, 0.5),
        (false, 0.6, 4.800000000000001, 0.5),
        (false, 0.8, 4.800000000000001, 0.5),
        (false, 1.0, 4.16, 0.5),
        (false, 1.2, 4.16, 0.6912),
        (false, 1.4, 4.16, 1.0975999999999997),
        (false, 1.6, 5.632000000000001, 1.6384000000000005),
        (false, 1.8, 5.632000000000001, 2.3328),
        (true, 2.0, 4.3264, 3.0284799999999996),
        (false, 2.2, 4.3264, 3.48663917347026),
        (false, 2.4, 4.3264, 3.821874416040255),
        (false, 2.6, 5.66528, 4.053385727709987),
        (false, 2.8, 5.66528, 4.200373108479454),
        (false, 3.0, 4.333056, 4.282036558348658),
        (true, 3.2, 4.333056, 2.99742559084406),
        (false, 3.4, 4.333056, 3.4522263943863463),
    ];
    let mut elapsed = Duration::ZERO;
    for (throttled, at, measured, fill) in vectors {
        // As smithy-rs's test clock: 200 ms steps, read as seconds.
        elapsed += Duration::from_millis(200);
        let t = elapsed.as_secs_f64();
        assert_eq!(t, at);
        state.update(t, throttled);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert!(
            close(state.measured_tx_rate, measured),
            "t = {t}: measured {}",
            state.measured_tx_rate
        );
        assert!(
            close(state.fill_rate, fill),
            "t = {t}: fill {}",
            state.fill_rate
        );
    }
    assert!(state.enabled);
}

#[test]
fn the_rate_limiter_is_off_until_a_throttling_error() {
    let clock = TestClock::new();
    clock.run(|| {
        static LIMITER: Throttle = Throttle::rate_limiter();
        for _ in 0..100 {
            assert_eq!(LIMITER.check(1, None), Ok(Duration::ZERO));
            LIMITER.record(Reply::Failed);
            clock.advance(Duration::from_millis(10));
        }
        assert_eq!(LIMITER.rate(), None);
        LIMITER.record(Reply::Throttled);
        let rate = LIMITER.rate().expect("on after a throttle");
        assert!(rate >= 0.5, "{rate}");
    });
}

#[test]
fn the_rate_limiter_delays_and_gives_up_past_the_deadline() {
    let clock = TestClock::new();
    clock.run(|| {
        let limiter = Throttle::rate_limiter();
        // Ten replies a second for 2 s, then a throttle: the bucket turns on at 0.7 of the
        // measured rate, with its capacity empty.
        for _ in 0..20 {
            limiter.record(Reply::Accepted);
            clock.advance(Duration::from_millis(100));
        }
        limiter.record(Reply::Throttled);
        let rate = limiter.rate().expect("on");
        // The first attempts drain the bucket, then each waits for its token.
        let mut delays = Vec::new();
        for _ in 0..5 {
            delays.push(limiter.check(1, None).expect("never rejected without a deadline"));
        }
        assert!(delays.iter().any(|d| !d.is_zero()), "{delays:?} at {rate}/s");
        let last = *delays.last().unwrap();
        assert!(last.as_secs_f64() <= 5.0 / rate + 1e-9, "{last:?} at {rate}/s");
        // A retry costs 5 tokens: with little time left it gives up instead of waiting.
        let refused = limiter.check(2, Some(Duration::from_millis(1)));
        assert!(matches!(
            refused,
            Err(Throttled { reason: ThrottledReason::Delay { remaining } }) if remaining == Duration::from_millis(1)
        ));
    });
}

#[test]
fn the_sre_formula_with_its_cap_and_minimum() {
    let throttle = Throttle::adaptive();
    let Kind::Adaptive(a) = &throttle.kind else {
        unreachable!()
    };
    let p = |requests, accepts| a.probability_of(Counts { requests, accepts });
    assert_eq!(p(19, 0), 0.0, "below min_requests");
    assert_eq!(p(100, 50), 0.0);
    assert_eq!(p(100, 40), 20.0 / 101.0);
    assert_eq!(p(1000, 10), 0.9, "capped");
    let strict = Throttle::adaptive()
        .k(1.1)
        .max_rejection(0.5)
        .min_requests(0);
    let Kind::Adaptive(s) = &strict.kind else {
        unreachable!()
    };
    assert_eq!(
        s.probability_of(Counts {
            requests: 10,
            accepts: 5
        }),
        (10.0 - 5.5) / 11.0
    );
    assert_eq!(
        s.probability_of(Counts {
            requests: 10,
            accepts: 0
        }),
        0.5
    );
}

/// An outage on the virtual clock: the dependency serves 1 call a second of the 10 it gets.
/// The probability rises to the formula's, the load sent falls to about `k` times what is
/// accepted, and the probability is back at 0 well within one window of the recovery (the
/// short horizon's doing: see `adaptive.rs`).
#[test]
fn adaptive_throttling_forgets_an_outage_after_its_window() {
    let clock = TestClock::new().seeded(7);
    clock.run(|| {
        let window = Duration::from_secs(20);
        let throttle = Throttle::adaptive().window(window);
        let step = Duration::from_millis(100);
        // 60 s of success at 10 calls a second.
        for _ in 0..600 {
            throttle.record(Reply::Accepted);
            clock.advance(step);
        }
        assert_eq!(throttle.rejection_probability(), 0.0);
        // 60 s in which the dependency accepts one call a second.
        let (mut sent, mut accepted) = (0, 0);
        for i in 0..600 {
            if throttle.check(1, None).is_ok() {
                let second = i / 10;
                let served = accepted < second + 1;
                if i >= 300 {
                    sent += 1;
                    accepted += u32::from(served);
                } else if served {
                    accepted += 1;
                }
                throttle.record(if served {
                    Reply::Accepted
                } else {
                    Reply::Throttled
                });
            }
            clock.advance(step);
        }
        let p = throttle.rejection_probability();
        let (requests, accepts) = throttle.counts().unwrap();
        let formula = (requests as f64 - 2.0 * accepts as f64) / (requests as f64 + 1.0);
        assert!((p - formula).abs() < 0.05, "{p} vs {formula}");
        // The last 30 s: about twice what was accepted was sent.
        let ratio = f64::from(sent) / 30.0;
        assert!(
            (1.5..=2.6).contains(&ratio),
            "sent {sent} in 30 s, {ratio}x the 1/s accepted"
        );
        // Recovery.
        let mut back_at = None;
        for i in 0..600 {
            if throttle.check(1, None).is_ok() {
                throttle.record(Reply::Accepted);
            }
            if back_at.is_none() && throttle.rejection_probability() == 0.0 {
                back_at = Some(i);
            }
            clock.advance(step);
        }
        let back_at = Duration::from_millis(100 * back_at.expect("back at 0"));
        assert!(back_at <= window / 2, "back at 0 after {back_at:?}");
        // After a full window, the outage is gone from the counts.
        let (requests, accepts) = throttle.counts().unwrap();
        assert_eq!(requests, accepts, "only the recovery is counted");
    });
}

/// With the default 2-minute window, an outage of 30 s after a minute of success: the window
/// alone would not engage (the successes before it outweigh it), the horizon does within
/// seconds; and after the recovery, the load let through at least doubles per horizon even
/// for a `k` close to 1, where the window alone would take many windows.
#[test]
fn the_short_horizon_engages_within_seconds_and_ramps_up_after_a_recovery() {
    for k in [2.0, 1.1] {
        let clock = TestClock::new().seeded(3);
        clock.run(|| {
            let throttle = Throttle::adaptive().k(k);
            let step = Duration::from_millis(10);
            for _ in 0..6000 {
                throttle.record(Reply::Accepted);
                clock.advance(step);
            }
            // The dependency refuses everything: engaged within 15 s (a horizon of 2 slots).
            let mut engaged = None;
            for i in 0..3000 {
                if throttle.check(1, None).is_ok() {
                    throttle.record(Reply::Throttled);
                }
                if engaged.is_none() && throttle.rejection_probability() >= 0.5 {
                    engaged = Some(i);
                }
                clock.advance(step);
            }
            let engaged = Duration::from_millis(10 * engaged.expect("engaged"));
            assert!(
                engaged <= Duration::from_secs(15),
                "k {k}: engaged after {engaged:?}"
            );
            let (requests, accepts) = throttle.counts().unwrap();
            let window_alone = (requests as f64 - k * accepts as f64) / (requests as f64 + 1.0);
            assert!(
                window_alone < 0.5,
                "k {k}: the window alone says {window_alone}"
            );
            // Recovered, one reply in a hundred still failing as usual: back at 0 within a
            // fraction of the window.
            let mut back = None;
            for i in 0..12_000 {
                if throttle.check(1, None).is_ok() {
                    throttle.record(if i % 100 == 0 {
                        Reply::Failed
                    } else {
                        Reply::Accepted
                    });
                }
                if back.is_none() && throttle.rejection_probability() == 0.0 {
                    back = Some(i);
                }
                clock.advance(step);
            }
            let back = Duration::from_millis(10 * back.expect("back at 0"));
            assert!(
                back <= Duration::from_secs(60),
                "k {k}: back at 0 after {back:?}"
            );
        });
    }
}

#[test]
fn testing_mode_and_inactivity_turn_throttling_off() {
    let clock = TestClock::new();
    clock.run(|| {
        let throttle = Throttle::adaptive().min_requests(0);
        for _ in 0..100 {
            throttle.record(Reply::Failed);
        }
        assert!(throttle.rejection_probability() > 0.8);
        {
            let _testing = crate::testing::set_testing(true, 3, false);
            assert!((0..100).all(|_| throttle.check(1, None) == Ok(Duration::ZERO)));
        }
        {
            let _off = crate::testing::set_active(false);
            assert!((0..100).all(|_| throttle.check(1, None) == Ok(Duration::ZERO)));
        }
        assert!((0..100).any(|_| throttle.check(1, None).is_err()));
    });
}

#[test]
fn rejections_throttling_counts_only_throttling_as_refused() {
    let clock = TestClock::new();
    clock.run(|| {
        let throttle = Throttle::adaptive()
            .min_requests(0)
            .rejections(Rejections::Throttling);
        for _ in 0..100 {
            throttle.record(Reply::Failed);
        }
        assert_eq!(throttle.rejection_probability(), 0.0);
        for _ in 0..300 {
            throttle.record(Reply::Throttled);
        }
        assert!(throttle.rejection_probability() > 0.0);
    });
}

#[test]
fn bad_settings_are_errors_and_plain_setters_say_what_they_make_of_them() {
    assert!(matches!(
        Throttle::adaptive().try_k(0.5),
        Err(ConfigError::InvalidThrottle(_))
    ));
    assert!(Throttle::adaptive().try_k(f64::NAN).is_err());
    assert!(Throttle::adaptive().try_k(f64::INFINITY).is_err());
    assert!(Throttle::adaptive().try_window(Duration::ZERO).is_err());
    assert!(
        Throttle::adaptive()
            .try_window(Duration::from_secs(7200))
            .is_err()
    );
    assert!(Throttle::adaptive().try_max_rejection(1.0).is_err());
    assert!(Throttle::adaptive().try_max_rejection(-0.1).is_err());
    assert!(Throttle::adaptive().try_max_rejection(f64::NAN).is_err());
    assert!(Throttle::adaptive().try_k(1.0).is_ok());
    assert!(Throttle::adaptive().try_max_rejection(0.0).is_ok());
    assert_eq!(Throttle::adaptive().k(0.5).get_k(), Some(1.0));
    assert_eq!(Throttle::adaptive().k(f64::NAN).get_k(), Some(2.0));
    assert_eq!(
        Throttle::adaptive().max_rejection(1.0).get_max_rejection(),
        Some(0.99)
    );
    assert_eq!(
        Throttle::adaptive().window(Duration::ZERO).get_window(),
        Some(Duration::from_secs(1))
    );
    let text = Throttle::adaptive().try_k(0.0).err().unwrap().to_string();
    assert!(text.contains("at least 1"), "{text}");
    // A setting of adaptive throttling does nothing on a rate limiter: an error, not a no-op.
    for result in [
        Throttle::rate_limiter().try_k(2.0),
        Throttle::rate_limiter().try_window(Duration::from_secs(60)),
        Throttle::rate_limiter().try_max_rejection(0.5),
    ] {
        let text = result.expect_err("an error").to_string();
        assert!(text.contains("the rate limiter"), "{text}");
    }
}

#[test]
fn a_full_slot_keeps_its_ratio() {
    let clock = TestClock::new();
    clock.run(|| {
        let throttle = Throttle::adaptive();
        let Kind::Adaptive(a) = &throttle.kind else {
            unreachable!()
        };
        let now = crate::clock::quick_nanos();
        for i in 0..(1u64 << 20) + 10 {
            a.record(now, i % 2 == 0);
        }
        let counts = a.counts_now(now);
        assert_eq!(counts.requests, (1 << 20) - 1);
        assert!(counts.accepts.abs_diff(counts.requests / 2) <= 1);
    });
}
