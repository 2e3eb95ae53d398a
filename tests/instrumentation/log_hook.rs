//! The `log` fallback, through a real `log` logger: a program without a `tracing` subscriber
//! sees each retry as one `log` record (target `stamina`, level WARN, the fields in the message
//! and as key-values); a subscriber that takes the event gets it instead; a logger that wants no
//! warnings gets nothing; a call its throttle rejects is one record too; and `LogOnRetryHook`
//! logs on its own.
//!
//! The logger and the hooks are process-wide, and `tracing` caches whether a callsite is wanted
//! for the whole process (tokio-rs/tracing#3611): the cases run in order, in one test.

use std::sync::Mutex;
use std::time::Duration;

use log::kv::{Key, Value, VisitSource};
use stamina::RetryingCaller;
use stamina::instrumentation::{self, LogOnRetryHook};
use stamina_tests::{Failure, Flaky, lock};

/// A record as the logger got it.
#[derive(Debug, Clone, PartialEq)]
struct Logged {
    target: String,
    level: log::Level,
    message: String,
    fields: Vec<(String, String)>,
}

/// A `log` logger that keeps what it gets.
struct Keeper(Mutex<Vec<Logged>>);

impl log::Log for Keeper {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        struct Fields(Vec<(String, String)>);
        impl<'kvs> VisitSource<'kvs> for Fields {
            fn visit_pair(
                &mut self,
                key: Key<'kvs>,
                value: Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                self.0.push((key.to_string(), value.to_string()));
                Ok(())
            }
        }
        let mut fields = Fields(Vec::new());
        record.key_values().visit(&mut fields).unwrap();
        lock(&self.0).push(Logged {
            target: record.target().to_owned(),
            level: record.level(),
            message: record.args().to_string(),
            fields: fields.0,
        });
    }

    fn flush(&self) {}
}

static LOGGER: Keeper = Keeper(Mutex::new(Vec::new()));

/// A throttle that rejects at its cap, once told of 1,000 failures.
static REFUSING: stamina::Throttle = stamina::Throttle::adaptive();

/// An error that carries a throttle's rejection.
#[derive(Debug)]
struct Throttleable(
    #[allow(dead_code, reason = "carried, as a user's error would")] stamina::Throttled,
);

impl From<stamina::Throttled> for Throttleable {
    fn from(t: stamina::Throttled) -> Self {
        Throttleable(t)
    }
}

fn taken() -> Vec<Logged> {
    std::mem::take(&mut *lock(&LOGGER.0))
}

fn retry_twice(name: &'static str) {
    let flaky = Flaky::new(1);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .name(name)
        .error_aware();
    assert_eq!(caller.call(|_: &Failure| true, || flaky.attempt()), Ok(2));
}

#[test]
fn retries_are_logged_through_log_when_no_subscriber_takes_them() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    // No `tracing` subscriber in this process: the default tracing hook logs through `log`.
    retry_twice("log_hook::fallback");
    let logged = taken();
    assert_eq!(logged.len(), 1, "{logged:#?}");
    let record = &logged[0];
    assert_eq!(record.target, "stamina");
    assert_eq!(record.level, log::Level::Warn);
    assert!(
        record.message.starts_with(
            "stamina.retry_scheduled callable=log_hook::fallback retry_num=1 wait_for=0 waited_so_far=0 caused_by=failure #"
        ),
        "{}",
        record.message
    );
    let keys: Vec<&str> = record.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "callable",
            "retry_num",
            "caused_by",
            "wait_for",
            "waited_so_far"
        ]
    );
    assert_eq!(record.fields[0].1, "log_hook::fallback");
    assert_eq!(record.fields[1].1, "1");
    assert!(record.fields[2].1.starts_with("failure #"));

    // A call that its throttle rejects: one WARN record too.
    for _ in 0..1000 {
        REFUSING.record(stamina::throttle::Reply::Failed);
    }
    let caller = RetryingCaller::new()
        .name("log_hook::throttled")
        .throttle(&REFUSING);
    let clock = stamina::testing::TestClock::new().seeded(8);
    clock.run(|| {
        while caller
            .call(|_: &Throttleable| false, || Ok::<_, Throttleable>(()))
            .is_ok()
        {}
    });
    let logged = taken();
    let throttled: Vec<_> = logged
        .iter()
        .filter(|r| r.message.starts_with("stamina.call_throttled"))
        .collect();
    assert_eq!(throttled.len(), 1, "{logged:#?}");
    assert_eq!(throttled[0].level, log::Level::Warn);
    assert_eq!(
        throttled[0].message,
        "stamina.call_throttled callable=log_hook::throttled action=rejected probability=0.9 delay=0"
    );

    // A subscriber that takes the event gets it, and `log` gets nothing.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        retry_twice("log_hook::subscribed");
    });
    tracing::callsite::rebuild_interest_cache();
    assert_eq!(taken(), []);

    // A logger that wants no warnings gets none.
    log::set_max_level(log::LevelFilter::Error);
    retry_twice("log_hook::filtered");
    assert_eq!(taken(), []);
    log::set_max_level(log::LevelFilter::Info);

    // The hook of its own.
    instrumentation::set_on_retry_hooks([LogOnRetryHook::new()]);
    retry_twice("log_hook::own");
    instrumentation::reset_on_retry_hooks();
    let logged = taken();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].fields[0].1, "log_hook::own");
}
