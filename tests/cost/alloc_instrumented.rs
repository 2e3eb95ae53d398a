//! Zero heap allocations per retry with a Prometheus recorder and a `tracing` subscriber
//! installed, as in a service: after the first retry of a label set, the metrics hook reuses the
//! counter it registered (no lookup in the recorder, no key built), and the tracing hook hands
//! the subscriber borrowed fields. Also with a retry budget, and for denied retries.
//!
//! A binary of its own: it installs the process's recorder and subscriber. One test, so that
//! nothing else runs on the counting allocator's thread meanwhile.

use std::hint::black_box;
use std::time::Duration;

use allocation_counter::measure;
use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::{RetryBudget, RetryingCaller};
use stamina_tests::{Failure, Flaky};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::{Event, Metadata, Subscriber};

/// A subscriber that wants every event and reads every field, keeping nothing: what stamina
/// hands it is all that could allocate.
struct Reading;

struct Discard;

impl Visit for Discard {
    fn record_debug(&mut self, _: &Field, value: &dyn std::fmt::Debug) {
        // Formats into a sink: a `Display` of the error must not allocate on stamina's side.
        use std::fmt::Write as _;
        struct Sink;
        impl std::fmt::Write for Sink {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                black_box(s);
                Ok(())
            }
        }
        let _ = write!(Sink, "{value:?}");
    }
}

impl Subscriber for Reading {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut Discard);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[test]
fn retries_allocate_nothing_with_a_recorder_and_a_subscriber_installed() {
    // Room for the three retries of every call.
    static BUDGET: RetryBudget = RetryBudget::new().ratio(10.0);
    static NONE_LEFT: RetryBudget = RetryBudget::new().ratio(0.0).min_per_sec(0);
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("the first recorder");
    tracing::subscriber::set_global_default(Reading).expect("the first subscriber");
    let caller = RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .name("alloc::instrumented");
    let budgeted = caller.clone().budget(&BUDGET);
    let denied = caller.clone().budget(&NONE_LEFT);
    // Three failures, then success: `Ok(4)`.
    let run = || {
        let flaky = Flaky::new(3);
        assert_eq!(caller.call(|_: &Failure| true, || flaky.attempt()), Ok(4));
        let flaky = Flaky::new(3);
        assert_eq!(budgeted.call(|_: &Failure| true, || flaky.attempt()), Ok(4));
        let flaky = Flaky::new(3);
        assert!(denied.call(|_: &Failure| true, || flaky.attempt()).is_err());
    };
    // The first retry of each label set registers its counter.
    run();
    let info = measure(|| {
        for _ in 0..1_000 {
            run();
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // And the counts are right: the cached counters are the recorder's.
    let text = handle.render();
    let failure = "stamina_tests::Failure";
    for retry_num in 1..=3 {
        let line = format!(
            "stamina_retries_total{{callable=\"alloc::instrumented\",retry_num=\"{retry_num}\",error_type=\"{failure}\"}} 2002\n"
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    let line = format!(
        "stamina_retries_denied_total{{callable=\"alloc::instrumented\",retry_num=\"1\",error_type=\"{failure}\",reason=\"budget\"}} 1001\n"
    );
    assert!(text.contains(&line), "{line} in {text}");
}
