//! The default `metrics` hook as a user sees it: a Prometheus recorder renders the counter
//! `stamina_retries_total` (described, by `callable`, `retry_num` and `error_type`), exact past
//! the hook's per-thread key cache, described to every recorder, and untouched without a retry.
//!
//! This binary never changes the hook registry. Recorders are installed for the test's thread
//! only (`metrics::with_local_recorder`), so tests running in parallel do not see each other's
//! counts, and each test uses its own `callable` name.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::RetryingCaller;
use stamina_tests::{Failure, Flaky, instant, ms};

/// Waits of 1, 2, 4, .. ms, no jitter.
fn caller(name: &'static str, attempts: u32) -> RetryingCaller {
    RetryingCaller::new()
        .attempts(attempts)
        .wait_initial(ms(1))
        .wait_jitter(Duration::ZERO)
        .name(name)
}

fn counter_line(
    callable: &str,
    retry_num: impl std::fmt::Display,
    error_type: &str,
    value: u64,
) -> String {
    format!(
        "stamina_retries_total{{callable=\"{callable}\",retry_num=\"{retry_num}\",error_type=\"{error_type}\"}} {value}\n"
    )
}

#[test]
fn metrics_renders_stamina_retries_total_in_prometheus() {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        // Two calls of 3 failing attempts: retry 1 and retry 2, twice each.
        for _ in 0..2 {
            let flaky = Flaky::always();
            let _ =
                caller("metrics_hook::prometheus", 3).call(|_: &Failure| true, || flaky.attempt());
        }
        // Another callable and another error type: their own series.
        let _ = caller("metrics_hook::prometheus_io", 2).call(
            |_: &std::io::Error| true,
            || Err::<(), _>(std::io::Error::other("x")),
        );
    });
    let text = recorder.handle().render();
    assert!(
        text.contains("# HELP stamina_retries_total Total number of retries.\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE stamina_retries_total counter\n"),
        "{text}"
    );
    let failure = "stamina_tests::Failure";
    for line in [
        counter_line("metrics_hook::prometheus", 1, failure, 2),
        counter_line("metrics_hook::prometheus", 2, failure, 2),
        counter_line("metrics_hook::prometheus_io", 1, "std::io::error::Error", 1),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
    let series = text
        .lines()
        .filter(|l| l.starts_with("stamina_retries_total{"))
        .count();
    assert_eq!(series, 3, "{text}");
}

#[test]
fn metrics_counts_stay_exact_past_the_key_cache() {
    // 99 distinct keys, more than the hook caches per thread: twice each.
    let names: Vec<String> = (1..100).map(|i| format!("metrics_hook::many{i}")).collect();
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        for _ in 0..2 {
            for name in &names {
                let flaky = Flaky::always();
                let _ = instant()
                    .attempts(2)
                    .name(name.clone())
                    .call(|_: &Failure| true, || flaky.attempt());
            }
        }
    });
    let text = recorder.handle().render();
    for i in [1, 50, 64, 65, 99] {
        let line = counter_line(
            &format!("metrics_hook::many{i}"),
            1,
            "stamina_tests::Failure",
            2,
        );
        assert!(text.contains(&line), "missing {line:?}");
    }
    let series = text
        .lines()
        .filter(|l| l.starts_with("stamina_retries_total{"))
        .count();
    assert_eq!(series, 99);
}

#[test]
fn metrics_retry_num_label_stops_at_ten() {
    // A call without an attempt limit that retries 30 times: ten series, not thirty.
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let flaky = Flaky::always();
        let _ = instant()
            .no_attempt_limit()
            .name("metrics_hook::unbounded")
            .call(|e: &Failure| e.attempt <= 30, || flaky.attempt());
    });
    let text = recorder.handle().render();
    assert_eq!(stamina::instrumentation::RETRY_NUM_LABEL_MAX, 10);
    for n in 1..10 {
        let line = counter_line("metrics_hook::unbounded", n, "stamina_tests::Failure", 1);
        assert!(text.contains(&line), "missing {line:?} in {text}");
    }
    let line = counter_line(
        "metrics_hook::unbounded",
        "10+",
        "stamina_tests::Failure",
        21,
    );
    assert!(text.contains(&line), "missing {line:?} in {text}");
    let series = text
        .lines()
        .filter(|l| l.starts_with("stamina_retries_total{"))
        .count();
    assert_eq!(series, 10);
}

#[test]
fn metrics_counts_nothing_without_a_retry() {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let flaky = Flaky::new(0);
        caller("metrics_hook::no_retry", 3)
            .call(|_: &Failure| true, || flaky.attempt())
            .unwrap();
    });
    assert!(
        !recorder.handle().render().contains("stamina_retries_total"),
        "{}",
        recorder.handle().render()
    );
}

// Regression: the counter was described only when a key was new to the thread, so a recorder
// that came after a retry on the same thread rendered no `# HELP` line.
#[test]
fn metrics_describes_the_counter_to_a_recorder_that_comes_later() {
    let first = PrometheusBuilder::new().build_recorder();
    let second = PrometheusBuilder::new().build_recorder();
    for recorder in [&first, &second] {
        metrics::with_local_recorder(recorder, || {
            let flaky = Flaky::always();
            let _ = caller("metrics_hook::later", 2).call(|_: &Failure| true, || flaky.attempt());
        });
    }
    for recorder in [&first, &second] {
        let text = recorder.handle().render();
        assert!(
            text.contains("# HELP stamina_retries_total Total number of retries.\n"),
            "{text}"
        );
        let line = counter_line("metrics_hook::later", 1, "stamina_tests::Failure", 1);
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn metrics_counts_retries_denied_by_budget_and_nesting() {
    static NONE_LEFT: stamina::RetryBudget = stamina::RetryBudget::new().ratio(0.0).min_per_sec(0);
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        for _ in 0..3 {
            let flaky = Flaky::always();
            let _ = caller("metrics_hook::denied", 5)
                .budget(&NONE_LEFT)
                .call(|_: &Failure| true, || flaky.attempt());
            assert_eq!(flaky.calls(), 1);
        }
        // Nested under `Once`: denied from the outer call's second attempt on.
        let outer = Flaky::always();
        let _ = instant().attempts(3).call(
            |_: &Failure| true,
            || {
                let inner = Flaky::always();
                let _ = instant()
                    .attempts(2)
                    .name("metrics_hook::nested")
                    .nested(stamina::Nesting::Once)
                    .call(|_: &Failure| true, || inner.attempt());
                outer.attempt()
            },
        );
    });
    let text = recorder.handle().render();
    let failure = "stamina_tests::Failure";
    assert!(
        text.contains("# TYPE stamina_retries_denied_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "stamina_retries_denied_total{{callable=\"metrics_hook::denied\",retry_num=\"1\",error_type=\"{failure}\",reason=\"budget\"}} 3\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "stamina_retries_denied_total{{callable=\"metrics_hook::nested\",retry_num=\"1\",error_type=\"{failure}\",reason=\"nested\"}} 2\n"
        )),
        "{text}"
    );
    // The retry that outer attempt 1's inner call made is a retry, not a denial.
    assert!(
        text.contains(&counter_line("metrics_hook::nested", 1, failure, 1)),
        "{text}"
    );
}

#[test]
fn metrics_counts_go_to_each_recorder_even_one_made_where_a_dropped_one_was() {
    // Two recorders in turn in the same stack slot: very likely at the same address. A cache
    // keyed by address would send the second one's counts to the first's (dropped) counters.
    let render = |retries: u32| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let address = std::ptr::from_ref(&recorder) as usize;
        metrics::with_local_recorder(&recorder, || {
            let flaky = Flaky::always();
            let _ = instant()
                .attempts(retries + 1)
                .name("metrics_hook::same_address")
                .call(|_: &Failure| true, || flaky.attempt());
        });
        (address, recorder.handle().render())
    };
    let (first_address, first) = render(1);
    let (second_address, second) = render(2);
    let failure = "stamina_tests::Failure";
    let line = |n| counter_line("metrics_hook::same_address", n, failure, 1);
    assert!(
        first.contains(&line(1)) && !first.contains(&line(2)),
        "{first}"
    );
    assert!(
        second.contains(&line(1)) && second.contains(&line(2)),
        "{second}"
    );
    // Not an assertion on the layout, only a note of whether the case was exercised.
    eprintln!("same address: {}", first_address == second_address);
}

/// An error that carries a throttle's rejection.
#[derive(Debug)]
enum Throttleable {
    Failed,
    Throttled(#[allow(dead_code, reason = "carried, as a user's error would")] stamina::Throttled),
}

impl From<stamina::Throttled> for Throttleable {
    fn from(t: stamina::Throttled) -> Self {
        Throttleable::Throttled(t)
    }
}

#[test]
fn metrics_counts_calls_throttled_by_action() {
    static REFUSING: stamina::Throttle = stamina::Throttle::adaptive();
    for _ in 0..1000 {
        REFUSING.record(stamina::throttle::Reply::Failed);
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    let caller = caller("metrics_hook::throttled", 1).throttle(&REFUSING);
    let clock = stamina::testing::TestClock::new().seeded(4);
    let rejected = metrics::with_local_recorder(&recorder, || {
        clock.run(|| {
            (0..100)
                .filter(|_| {
                    let reply = caller.call(
                        |e| matches!(e, Throttleable::Failed),
                        || Err::<(), _>(Throttleable::Failed),
                    );
                    matches!(reply, Err(Throttleable::Throttled(_)))
                })
                .count()
        })
    });
    assert!(rejected > 70, "{rejected} of 100");
    let text = recorder.handle().render();
    assert!(
        text.contains("# TYPE stamina_calls_throttled_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "stamina_calls_throttled_total{{callable=\"metrics_hook::throttled\",action=\"rejected\"}} {rejected}\n"
        )),
        "{text}"
    );
}
