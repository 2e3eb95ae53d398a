//! Secrets in logs (hynek/stamina #151): a redactor rewrites what the default hooks emit, and a
//! redacted field reaches neither the `tracing` event, nor the `log` record, nor a metric label,
//! for a scheduled retry and a denied one alike. Without a redactor, the same fields are
//! emitted as they are (which shows that the checks below can fail).
//!
//! The redactor, the hooks and the `log` logger are process-wide: the cases run in order, in
//! one test.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::instrumentation::TracingOnRetryHook;
use stamina::instrumentation::{self, CausedBy, Hook, LogOnRetryHook, MetricsOnRetryHook, Redact};
use stamina::{RetryBudget, RetryingCaller};
use stamina_tests::{Capture, lock};

const SECRET: &str = "hunter2";

/// An error whose text carries a token, as a URL in an error message does.
#[derive(Debug)]
struct Leaky;

impl fmt::Display for Leaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET https://api.example/v1/users?token={SECRET} failed")
    }
}

impl std::error::Error for Leaky {}

/// Replaces the secret in both fields.
struct Scrub;

impl Redact for Scrub {
    fn caused_by(&self, cause: &CausedBy<'_>, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&cause.to_string().replace(SECRET, "[redacted]"))
    }

    fn callable<'a>(&self, name: &'a str) -> Cow<'a, str> {
        Cow::Owned(name.replace(SECRET, "[redacted]"))
    }
}

/// A `log` logger that keeps each record's message and key-values as one line of text.
struct Keeper(Mutex<Vec<String>>);

impl log::Log for Keeper {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        struct Fields(String);
        impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
            fn visit_pair(
                &mut self,
                key: log::kv::Key<'kvs>,
                value: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                use std::fmt::Write as _;
                let _ = write!(self.0, " {key}={value}");
                Ok(())
            }
        }
        let mut fields = Fields(String::new());
        record.key_values().visit(&mut fields).unwrap();
        lock(&self.0).push(format!("{}{}", record.args(), fields.0));
    }

    fn flush(&self) {}
}

static LOGGER: Keeper = Keeper(Mutex::new(Vec::new()));

/// A budget that denies every retry.
static EMPTY: RetryBudget = RetryBudget::token_quota().capacity(0);

/// One scheduled retry and one denied retry, under a name that carries the secret.
fn retry_and_deny() {
    let caller = RetryingCaller::new()
        .attempts(2)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .error_aware()
        .name(format!("fetch for {SECRET}"));
    let _ = caller.call(|_: &Leaky| true, || Err::<(), _>(Leaky));
    let _ = caller
        .clone()
        .budget(&EMPTY)
        .call(|_: &Leaky| true, || Err::<(), _>(Leaky));
}

/// What the default hooks emitted for [`retry_and_deny`]: the events' fields, the metrics
/// exposition, the `log` records.
fn emitted(hooks: Vec<Hook>) -> (String, String, String) {
    instrumentation::set_on_retry_hooks(hooks);
    let capture = Capture::default();
    let recorder = PrometheusBuilder::new().build_recorder();
    lock(&LOGGER.0).clear();
    capture.with_default(|| metrics::with_local_recorder(&recorder, retry_and_deny));
    let events = format!("{:?}", capture.events());
    let logged = lock(&LOGGER.0).join("\n");
    (events, recorder.handle().render(), logged)
}

#[test]
fn a_redacted_field_reaches_no_event_no_record_and_no_label() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let tracing_and_metrics = || -> Vec<Hook> {
        vec![
            MetricsOnRetryHook::new().into(),
            TracingOnRetryHook::new().into(),
        ]
    };
    let log_only = || -> Vec<Hook> { vec![LogOnRetryHook::new().into()] };

    // Without a redactor: the secret is in every one of them.
    let (events, exposition, _) = emitted(tracing_and_metrics());
    assert!(events.contains(SECRET), "{events}");
    assert!(events.contains("stamina.retry_denied"), "{events}");
    assert!(exposition.contains(SECRET), "{exposition}");
    let (_, _, logged) = emitted(log_only());
    assert!(logged.contains(SECRET), "{logged}");

    instrumentation::set_redactor(Scrub);
    let (events, exposition, _) = emitted(tracing_and_metrics());
    assert!(!events.contains(SECRET), "{events}");
    assert!(events.contains("token=[redacted] failed"), "{events}");
    assert!(events.contains("fetch for [redacted]"), "{events}");
    assert!(events.contains("stamina.retry_denied"), "{events}");
    assert!(!exposition.contains(SECRET), "{exposition}");
    assert!(
        exposition.contains("callable=\"fetch for [redacted]\""),
        "{exposition}"
    );
    let (_, _, logged) = emitted(log_only());
    assert!(!logged.contains(SECRET), "{logged}");
    assert_eq!(
        logged.matches("token=[redacted] failed").count(),
        4,
        "{logged}"
    );

    // A closure redacts `caused_by` alone.
    instrumentation::set_redactor(|_: &CausedBy<'_>, out: &mut fmt::Formatter<'_>| {
        out.write_str("an error")
    });
    let (events, _, _) = emitted(tracing_and_metrics());
    assert!(events.contains("an error"), "{events}");
    assert!(!events.contains("token="), "{events}");

    instrumentation::reset_redactor();
    let (events, _, _) = emitted(tracing_and_metrics());
    assert!(events.contains(SECRET), "reset: {events}");
    instrumentation::reset_on_retry_hooks();
}
