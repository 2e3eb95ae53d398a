//! The default `tracing` hook as a user sees it: one WARN event `stamina.retry_scheduled` per
//! scheduled retry (target `stamina`, exactly the fields `callable`, `caused_by`, `retry_num`,
//! `wait_for`, `waited_so_far`), and a `stamina.backoff` span that covers exactly the wait; sync
//! and async calls; nothing without a retry; and a thread that retries without a capture
//! neither hides this thread's events nor adds its own.
//!
//! This binary never changes the hook registry, and each test uses its own `callable` name.
//! Every test begins by capturing its thread's events with [`Capture`], which installs one
//! global subscriber for the whole binary (not a scoped one per test: see its docs, and
//! tokio-rs/tracing#3611), so tests running in parallel neither miss nor see each other's events.

use std::sync::Barrier;
use std::time::Duration;

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

#[test]
fn tracing_emits_one_warn_event_per_scheduled_retry() {
    let capture = Capture::default();
    assert_eq!(get_on_retry_hooks().len(), 2, "the default hooks");
    let flaky = Flaky::always();
    let mut errors = Vec::new();
    let result = capture.with_default(|| {
        caller("tracing_hook::tracing", 4).call(
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
            ("callable", Value::Str("tracing_hook::tracing".into())),
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

#[stamina::retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0, name = "tracing_hook::chain")]
fn syncing(flaky: &Flaky) -> anyhow::Result<u32> {
    use anyhow::Context as _;
    flaky.attempt().context("syncing users")
}

#[test]
fn tracing_events_show_an_errors_display_chain_on_one_line() {
    let capture = Capture::default();
    let flaky = Flaky::always();
    let _ = capture.with_default(|| syncing(&flaky));
    let events = stamina_events(&capture);
    assert_eq!(events.len(), 1);
    let Some(Value::Debug(caused_by)) = events[0].fields.get("caused_by") else {
        panic!("{events:?}")
    };
    assert!(
        caused_by.starts_with("syncing users: failure #"),
        "{caused_by}"
    );
    assert!(!caused_by.contains('\n'), "{caused_by}");
}

#[test]
fn tracing_events_carry_the_debug_text_of_an_error_a_caller_sees_as_debug_only() {
    let capture = Capture::default();
    let _ = capture.with_default(|| {
        caller("tracing_hook::io", 2).call(
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
    let v = capture.with_default(|| {
        caller("tracing_hook::span", 5).call(
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
    let _default = capture.set_default();
    let flaky = Flaky::new(2);
    let v = caller("tracing_hook::async", 5)
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
    capture.with_default(|| {
        let flaky = Flaky::never();
        caller("tracing_hook::none", 3)
            .call(|_: &Failure| true, || flaky.attempt())
            .unwrap();
        let flaky = Flaky::always();
        let _ = caller("tracing_hook::none", 3).call(|_: &Failure| false, || flaky.attempt());
        let flaky = Flaky::always();
        let _ = caller("tracing_hook::none", 1).call(|_: &Failure| true, || flaky.attempt());
    });
    assert!(capture.all().is_empty(), "{:?}", capture.all());
}

#[test]
fn a_thread_without_a_capture_neither_hides_nor_adds_events() {
    // tokio-rs/tracing#3611: with a scoped subscriber per test, a retry on a thread that has
    // none could register stamina's callsites first, as "never", and hide this thread's events.
    // Here another thread retries, without a capture, while this one captures and retries.
    let capture = Capture::default();
    let _default = capture.set_default();
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            barrier.wait();
            for _ in 0..10 {
                let flaky = Flaky::always();
                let _ = caller("tracing_hook::elsewhere", 3)
                    .call(|_: &Failure| true, || flaky.attempt());
            }
        });
        barrier.wait();
        for _ in 0..10 {
            let flaky = Flaky::always();
            let _ = caller("tracing_hook::here", 3).call(|_: &Failure| true, || flaky.attempt());
        }
    });
    let callables: Vec<_> = stamina_events(&capture)
        .into_iter()
        .map(|e| e.fields["callable"].clone())
        .collect();
    assert_eq!(
        callables,
        vec![Value::Str("tracing_hook::here".into()); 20],
        "two events per call, all of this thread's"
    );
    let spans = capture
        .all()
        .into_iter()
        .filter(|c| matches!(c, Captured::NewSpan { .. }))
        .count();
    assert_eq!(spans, 20, "one backoff span per retry");
}

#[test]
fn a_retry_denied_by_a_budget_is_one_warn_event_stamina_retry_denied() {
    static ONE: stamina::RetryBudget = stamina::RetryBudget::new()
        .ratio(0.0)
        .min_per_sec(1)
        .window(Duration::from_secs(1));
    let capture = Capture::default();
    let flaky = Flaky::always();
    let result = capture.with_default(|| {
        caller("tracing_hook::denied", 5)
            .budget(&ONE)
            .call(|_: &Failure| true, || flaky.attempt())
    });
    assert_eq!(result.err(), flaky.last_error());
    let events = stamina_events(&capture);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(
        events[0].message.as_deref(),
        Some("stamina.retry_scheduled")
    );
    let denied = &events[1];
    assert_eq!(denied.level, Level::WARN);
    assert_eq!(denied.message.as_deref(), Some("stamina.retry_denied"));
    let expected = [
        ("callable", Value::Str("tracing_hook::denied".into())),
        (
            "caused_by",
            Value::Debug(format!("{:?}", flaky.last_error().unwrap())),
        ),
        ("reason", Value::Str("budget".into())),
        ("retry_num", Value::U64(2)),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .collect();
    assert_eq!(denied.fields, expected);
}

/// An error that carries a throttle's rejection.
#[derive(Debug)]
enum Throttleable {
    Failed,
    Throttled(stamina::Throttled),
}

impl From<stamina::Throttled> for Throttleable {
    fn from(t: stamina::Throttled) -> Self {
        Throttleable::Throttled(t)
    }
}

#[test]
fn a_call_rejected_by_its_throttle_is_one_warn_event_stamina_call_throttled() {
    static REFUSING: stamina::Throttle = stamina::Throttle::adaptive();
    for _ in 0..1000 {
        REFUSING.record(stamina::throttle::Reply::Failed);
    }
    let capture = Capture::default();
    let caller = caller("tracing_hook::throttled", 1).throttle(&REFUSING);
    let clock = stamina::testing::TestClock::new().seeded(2);
    let rejected = capture.with_default(|| {
        clock.run(|| {
            loop {
                let reply = caller.call(
                    |e| matches!(e, Throttleable::Failed),
                    || Err::<(), _>(Throttleable::Failed),
                );
                if let Err(Throttleable::Throttled(t)) = reply {
                    break t;
                }
            }
        })
    });
    assert!(
        rejected.to_string().contains("rejection probability 90%"),
        "{rejected}"
    );
    let events: Vec<Event> = stamina_events(&capture)
        .into_iter()
        .filter(|e| e.message.as_deref() == Some("stamina.call_throttled"))
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].level, Level::WARN);
    let expected = [
        ("action", Value::Str("rejected".into())),
        ("callable", Value::Str("tracing_hook::throttled".into())),
        ("delay", Value::F64(0.0)),
        ("probability", Value::F64(0.9)),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .collect();
    assert_eq!(events[0].fields, expected);
}
