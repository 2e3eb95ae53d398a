//! The default hooks as a user sees them: a `tracing` subscriber receives one WARN event
//! `stamina.retry_scheduled` per scheduled retry, and a Prometheus recorder renders
//! `stamina_retries_total`.
//!
//! This binary never changes the hook registry. Subscribers and recorders are installed for the
//! test's thread only (`with_default`, `with_local_recorder`), so tests running in parallel do
//! not see each other's events, and each test uses its own `callable` name.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::RetryingCaller;
use stamina::instrumentation::get_on_retry_hooks;
use stamina_tests::{Capture, Captured, Event, Failure, Flaky, Value, ms};
use tracing::Level;

/// Waits of 1, 2, 4, .. ms, no jitter.
fn caller(name: &'static str, attempts: u32) -> RetryingCaller {
    RetryingCaller::new()
        .attempts(attempts)
        .wait_initial(ms(1))
        .wait_jitter(Duration::ZERO)
        .name(name)
}

fn stamina_events(capture: &Capture) -> Vec<Event> {
    capture
        .events()
        .into_iter()
        .filter(|e| e.target == "stamina")
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tracing
// ---------------------------------------------------------------------------------------------

#[test]
fn tracing_emits_one_warn_event_per_scheduled_retry() {
    assert_eq!(get_on_retry_hooks().len(), 2, "the default hooks");
    let capture = Capture::default();
    let flaky = Flaky::always();
    let mut errors = Vec::new();
    let result = tracing::subscriber::with_default(capture.subscriber(), || {
        caller("default_hooks::tracing", 4).call(
            |_: &Failure| true,
            || {
                let result = flaky.attempt();
                errors.push(result.unwrap_err());
                result
            },
        )
    });
    assert_eq!(result.unwrap_err(), errors[3]);

    let events = stamina_events(&capture);
    assert_eq!(events.len(), 3, "{events:#?}");
    let waits = [ms(1), ms(2), ms(4)];
    let waited = [ms(0), ms(1), ms(3)];
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.level, Level::WARN);
        assert_eq!(event.message.as_deref(), Some("stamina.retry_scheduled"));
        let expected = [
            ("callable", Value::Str("default_hooks::tracing".into())),
            ("caused_by", Value::Debug(format!("{:?}", errors[i]))),
            ("retry_num", Value::U64(i as u64 + 1)),
            ("wait_for", Value::F64(waits[i].as_secs_f64())),
            ("waited_so_far", Value::F64(waited[i].as_secs_f64())),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into_iter()
        .collect();
        // Exactly these fields: the operation's arguments are never logged.
        assert_eq!(event.fields, expected, "retry {}", i + 1);
    }
}

#[test]
fn tracing_events_carry_the_debug_text_of_any_error() {
    let capture = Capture::default();
    let _ = tracing::subscriber::with_default(capture.subscriber(), || {
        caller("default_hooks::io", 2).call(
            |_: &std::io::Error| true,
            || Err::<(), _>(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow")),
        )
    });
    let events = stamina_events(&capture);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].fields.get("caused_by"),
        Some(&Value::Debug(format!(
            "{:?}",
            std::io::Error::new(std::io::ErrorKind::TimedOut, "slow")
        )))
    );
}

#[test]
fn tracing_backoff_span_covers_exactly_the_sleep() {
    let capture = Capture::default();
    let flaky = Flaky::new(2);
    let v = tracing::subscriber::with_default(capture.subscriber(), || {
        caller("default_hooks::span", 5).call(
            |_: &Failure| true,
            || {
                tracing::info!(target: "test", "attempt");
                flaky.attempt()
            },
        )
    });
    assert_eq!(v, Ok(3));
    let timeline: Vec<String> = capture
        .all()
        .into_iter()
        .map(|c| match c {
            Captured::Event(e) => format!("{} {}", e.target, e.message.unwrap_or_default()),
            Captured::NewSpan { name, target } => format!("new {target} {name}"),
            Captured::CloseSpan { name } => format!("close {name}"),
        })
        .collect();
    let retry = [
        "test attempt",
        "stamina stamina.retry_scheduled",
        "new stamina stamina.backoff",
        "close stamina.backoff",
    ];
    let expected: Vec<&str> = [&retry[..], &retry[..], &["test attempt"]].concat();
    assert_eq!(timeline, expected);
}

#[tokio::test]
async fn tracing_sees_async_retries() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.subscriber());
    let flaky = Flaky::new(2);
    let v = caller("default_hooks::async", 5)
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(v, Ok(3));
    let retry_nums: Vec<_> = stamina_events(&capture)
        .into_iter()
        .map(|e| e.fields["retry_num"].clone())
        .collect();
    assert_eq!(retry_nums, [Value::U64(1), Value::U64(2)]);
}

#[test]
fn no_tracing_event_without_a_retry() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.subscriber(), || {
        let flaky = Flaky::never();
        caller("default_hooks::none", 3)
            .call(|_: &Failure| true, || flaky.attempt())
            .unwrap();
        let flaky = Flaky::always();
        let _ = caller("default_hooks::none", 3).call(|_: &Failure| false, || flaky.attempt());
        let flaky = Flaky::always();
        let _ = caller("default_hooks::none", 1).call(|_: &Failure| true, || flaky.attempt());
    });
    assert!(capture.all().is_empty(), "{:?}", capture.all());
}

// ---------------------------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------------------------

fn counter_line(callable: &str, retry_num: u32, error_type: &str, value: u64) -> String {
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
                caller("default_hooks::prometheus", 3).call(|_: &Failure| true, || flaky.attempt());
        }
        // Another callable and another error type: their own series.
        let _ = caller("default_hooks::prometheus_io", 2).call(
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
        counter_line("default_hooks::prometheus", 1, failure, 2),
        counter_line("default_hooks::prometheus", 2, failure, 2),
        counter_line(
            "default_hooks::prometheus_io",
            1,
            "std::io::error::Error",
            1,
        ),
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
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        for _ in 0..2 {
            let flaky = Flaky::always();
            let _ = RetryingCaller::new()
                .no_attempt_limit()
                .wait_initial(Duration::ZERO)
                .wait_jitter(Duration::ZERO)
                .name("default_hooks::many")
                .call(|e: &Failure| e.attempt < 100, || flaky.attempt());
        }
    });
    let text = recorder.handle().render();
    for n in [1, 50, 64, 65, 99] {
        let line = counter_line("default_hooks::many", n, "stamina_tests::Failure", 2);
        assert!(text.contains(&line), "missing {line:?}");
    }
    let series = text
        .lines()
        .filter(|l| l.starts_with("stamina_retries_total{"))
        .count();
    assert_eq!(series, 99);
}

#[test]
fn metrics_counts_nothing_without_a_retry() {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let flaky = Flaky::new(0);
        caller("default_hooks::no_retry", 3)
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
            let _ = caller("default_hooks::later", 2).call(|_: &Failure| true, || flaky.attempt());
        });
    }
    for recorder in [&first, &second] {
        let text = recorder.handle().render();
        assert!(
            text.contains("# HELP stamina_retries_total Total number of retries.\n"),
            "{text}"
        );
        let line = counter_line("default_hooks::later", 1, "stamina_tests::Failure", 1);
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
}
