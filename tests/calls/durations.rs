//! One duration grammar: the attribute's literals and a configuration file's strings read the
//! same text as the same duration, and refuse the same text for the same reason.
//!
//! Each accepted literal is a fn's `wait_initial`, whose first wait a `TestClock` records; the
//! same text in a file is a policy's `wait_initial`. The refused literals are the compile
//! errors of `ui/fail/duration-forms.rs` and `ui/fail/duration-negative.rs`, whose messages
//! the file's errors below repeat.

use std::time::Duration;

use stamina::RetryPolicy;
use stamina::testing::TestClock;
use stamina_tests::{Failure, Flaky};

/// The first wait of a fn whose `wait_initial` is each literal, as written there.
macro_rules! first_waits {
    ($($lit:tt),* $(,)?) => {{
        let mut waits = Vec::new();
        $({
            #[stamina::retry(
                on = Failure,
                attempts = 2,
                timeout = None,
                wait_initial = $lit,
                wait_max = Duration::MAX,
                wait_jitter = 0
            )]
            fn f(flaky: &Flaky) -> Result<u32, Failure> {
                flaky.attempt()
            }
            let clock = TestClock::new();
            let _ = clock.run(|| f(&Flaky::always()));
            waits.push((stringify!($lit), clock.waits()[0].wait));
        })*
        waits
    }};
}

fn from_file(text: &str) -> Result<Duration, String> {
    let json = format!(r#"{{"wait_initial": {}}}"#, serde_json::Value::from(text));
    serde_json::from_str::<RetryPolicy>(&json)
        .map(|p| p.get_wait_initial())
        .map_err(|e| e.to_string())
}

#[test]
fn the_attribute_and_a_file_read_the_same_durations() {
    let waits = first_waits![250ms, 1.5s, 2.5e-3, 1h, 90min, 0, 10us, 1µs, 1_000ms, 45];
    let expected = [
        Duration::from_millis(250),
        Duration::from_millis(1500),
        Duration::from_micros(2500),
        Duration::from_secs(3600),
        Duration::from_secs(5400),
        Duration::ZERO,
        Duration::from_micros(10),
        Duration::from_micros(1),
        Duration::from_secs(1),
        Duration::from_secs(45),
    ];
    for ((text, by_attribute), expected) in waits.into_iter().zip(expected) {
        assert_eq!(by_attribute, expected, "the attribute's `{text}`");
        assert_eq!(from_file(text), Ok(expected), "a file's {text:?}");
    }
}

#[test]
fn a_file_refuses_what_the_attribute_refuses_with_the_same_rule() {
    // The messages of `ui/fail/duration-forms.stderr` and `duration-negative.stderr`.
    for (text, rule) in [
        (
            "5m",
            "unknown unit: a duration takes one of `ns`, `us`, `µs`, `ms`, `s`, `min`, `h`",
        ),
        ("3fortnights", "unknown unit"),
        ("-1s", "a duration cannot be negative"),
        ("-0.5", "a duration cannot be negative"),
        ("1e400s", "a duration too large for a `Duration`"),
    ] {
        let error = from_file(text).expect_err(text);
        assert!(error.contains(rule), "{text:?}: {error}");
    }
}
