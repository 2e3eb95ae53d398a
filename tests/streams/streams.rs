//! Retrying streams and iterators (stamina's generator retry): restarts with duplicates, giving
//! up with the last error as the final item, declined errors, healing after a healthy period,
//! cancellation mid-wait, testing mode, inactive mode and hooks; the attribute and the callers;
//! on tokio and on `futures::executor`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use stamina::instrumentation::{self, RetryDetails, RetryGuard};
use stamina::testing::TestClock;
use stamina::{RetryingCaller, retry};
use stamina_tests::{Failure, instant, lock};

/// A source that fails on schedule: connection `n` (from 1) yields `items[n - 1]`, each `Err`
/// a fresh `Failure`; connections past the schedule yield the last entry.
#[derive(Debug)]
struct Source {
    schedule: Vec<Vec<Result<u32, ()>>>,
    connections: AtomicU32,
}

impl Source {
    fn new(schedule: Vec<Vec<Result<u32, ()>>>) -> Self {
        Source {
            schedule,
            connections: AtomicU32::new(0),
        }
    }

    fn items(&self) -> Vec<Result<u32, Failure>> {
        let n = self.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let index = (n as usize - 1).min(self.schedule.len() - 1);
        self.schedule[index]
            .iter()
            .map(|item| item.map_err(|()| Failure::new(n)))
            .collect()
    }

    fn subscribe(&self) -> impl Stream<Item = Result<u32, Failure>> + use<> {
        stream::iter(self.items())
    }

    fn connections(&self) -> u32 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The hook calls, by `callable`.
static RETRIES: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

/// Guards of `streams::cancelled`'s retries that were dropped.
static DROPPED: AtomicU32 = AtomicU32::new(0);

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        instrumentation::set_on_retry_hooks([|d: &RetryDetails<'_>| {
            lock(&RETRIES).push((d.name.to_owned(), d.retry_num));
            (d.name == "streams::cancelled").then(|| RetryGuard::new(Guard))
        }]);
    });
}

/// Items with each error shown as the number of the connection that yielded it.
fn shown(items: Vec<Result<u32, Failure>>) -> Vec<Result<u32, u32>> {
    items
        .into_iter()
        .map(|i| i.map_err(|e| e.attempt))
        .collect()
}

fn retries_of(name: &str) -> Vec<u32> {
    lock(&RETRIES)
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, r)| *r)
        .collect()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "streams::feed")]
fn feed(source: &Source) -> impl Stream<Item = Result<u32, Failure>> {
    source.subscribe()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "streams::pages")]
fn pages(source: &Source) -> impl Iterator<Item = Result<u32, Failure>> {
    source.items().into_iter()
}

/// `feed` and `pages` under names that one test alone uses, for its hook calls.
#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "streams::feed_alone")]
fn feed_alone(source: &Source) -> impl Stream<Item = Result<u32, Failure>> {
    source.subscribe()
}

#[retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 0, name = "streams::pages_alone")]
fn pages_alone(source: &Source) -> impl Iterator<Item = Result<u32, Failure>> {
    source.items().into_iter()
}

#[test]
fn a_stream_restarts_after_a_retried_error_and_its_items_come_again() {
    install();
    let source = Source::new(vec![vec![Ok(1), Ok(2), Err(())], vec![Ok(1), Ok(2), Ok(3)]]);
    let items = futures::executor::block_on(feed_alone(&source).collect::<Vec<_>>());
    assert_eq!(
        items,
        [Ok(1), Ok(2), Ok(1), Ok(2), Ok(3)],
        "a restart: duplicates"
    );
    assert_eq!(source.connections(), 2);
    assert_eq!(retries_of("streams::feed_alone"), [1]);
}

#[test]
fn an_iterator_restarts_the_same_way() {
    install();
    let source = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(1), Ok(2)]]);
    let items: Vec<_> = pages_alone(&source).collect();
    assert_eq!(items, [Ok(1), Ok(1), Ok(2)]);
    assert_eq!(retries_of("streams::pages_alone"), [1]);
}

#[test]
fn giving_up_yields_the_last_error_unchanged_and_ends() {
    install();
    let source = Source::new(vec![vec![Ok(7), Err(())]]);
    let items = futures::executor::block_on(feed(&source).collect::<Vec<_>>());
    // 3 attempts, each `Ok(7)` then an error; the third error is the final item.
    assert_eq!(
        shown(items),
        [Ok(7), Ok(7), Ok(7), Err(3)],
        "the last error, as the last item"
    );
    assert_eq!(source.connections(), 3);
    let items: Vec<_> = pages(&Source::new(vec![vec![Err(())]])).collect();
    assert_eq!(shown(items), [Err(3)]);
}

#[test]
fn an_error_on_declines_ends_the_stream_at_once() {
    install();
    let source = Source::new(vec![vec![Ok(1), Err(()), Ok(2)]]);
    let caller = instant().name("streams::declined");
    let items = futures::executor::block_on(
        caller
            .stream(|_: &Failure| false, || source.subscribe())
            .collect::<Vec<_>>(),
    );
    assert_eq!(shown(items), [Ok(1), Err(1)]);
    assert!(retries_of("streams::declined").is_empty());
}

#[test]
fn without_healing_a_long_lived_stream_exhausts_its_attempts() {
    install();
    // Each connection yields 5 items, then fails: ten hours of a stream that fails once an hour.
    let source = Source::new(vec![vec![Ok(1), Ok(2), Ok(3), Ok(4), Ok(5), Err(())]]);
    let caller = instant().attempts(3).name("streams::unhealed");
    let items: Vec<_> = caller
        .iter(|_: &Failure| true, || source.items().into_iter())
        .collect();
    assert_eq!(items.len(), 3 * 5 + 1, "three connections, then the error");
    assert!(items.last().unwrap().is_err());
}

#[test]
fn healing_after_enough_items_resets_the_attempts_and_the_backoff() {
    install();
    let source = Source::new(vec![vec![Ok(1), Ok(2), Ok(3), Ok(4), Ok(5), Err(())]]);
    let clock = TestClock::new();
    let caller = RetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .heal_after_items(5)
        .name("streams::healed");
    let items: Vec<_> = clock.run(|| {
        caller
            .iter(|_: &Failure| true, || source.items().into_iter())
            .take(100)
            .collect()
    });
    // Every connection was healthy for 5 items: each error is a first retry again.
    assert_eq!(items.len(), 100, "never gives up");
    assert!(items.iter().all(Result::is_ok));
    let waits: Vec<_> = clock
        .waits()
        .iter()
        .map(|w| (w.retry_num, w.wait))
        .collect();
    assert!(waits.len() >= 19, "{waits:?}");
    assert!(
        waits
            .iter()
            .all(|&(n, w)| n == 1 && w == Duration::from_secs(1)),
        "{waits:?}"
    );
}

#[test]
fn healing_needs_the_healthy_period_a_short_run_does_not_reset() {
    install();
    // Two items, then an error: below `heal_after_items = 5`, so the attempts run out.
    let source = Source::new(vec![vec![Ok(1), Ok(2), Err(())]]);
    let caller = instant().attempts(3).heal_after_items(5);
    let items: Vec<_> = caller
        .iter(|_: &Failure| true, || source.items().into_iter())
        .collect();
    assert_eq!(items.len(), 3 * 2 + 1);
    assert_eq!(shown(items).last(), Some(&Err(3)));
}

#[test]
fn healing_after_a_time_without_errors() {
    install();
    // The error comes an hour into the stream (virtual time): older than the timeout, so
    // without healing it gives up at its first error, as stamina's generators do.
    let clock = TestClock::new();
    let late = |source: &Source| {
        let clock = clock.clone();
        source.items().into_iter().inspect(move |item| {
            if item.is_err() {
                clock.advance(Duration::from_secs(3600));
            }
        })
    };
    let caller = instant().timeout(Duration::from_secs(45));
    let source = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(2), Ok(3)]]);
    let items: Vec<_> = clock.run(|| caller.iter(|_: &Failure| true, || late(&source)).collect());
    assert_eq!(shown(items), [Ok(1), Err(1)], "older than the timeout");
    // With `heal_after` below that age, the error is a first failure again: it retries.
    let healed = caller.clone().heal_after(Duration::from_secs(60));
    let source = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(2), Ok(3)]]);
    let items: Vec<_> = clock.run(|| healed.iter(|_: &Failure| true, || late(&source)).collect());
    assert_eq!(shown(items), [Ok(1), Ok(2), Ok(3)]);
}

#[tokio::test]
async fn dropping_the_stream_mid_wait_cancels_it_and_drops_the_guards_once() {
    install();
    let source = Source::new(vec![vec![Ok(1), Err(())]]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(3600))
        .wait_jitter(Duration::ZERO)
        .name("streams::cancelled");
    let mut feed = Box::pin(caller.stream(|_: &Failure| true, || source.subscribe()));
    assert_eq!(feed.next().await, Some(Ok(1)));
    // The error is retried: the stream now waits an hour, holding the hook's guard.
    let waited = tokio::time::timeout(Duration::from_millis(20), feed.next()).await;
    assert!(waited.is_err(), "still waiting");
    assert_eq!(DROPPED.load(Ordering::SeqCst), 0, "held across the wait");
    drop(feed);
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        1,
        "dropped with the stream, once"
    );
    assert_eq!(source.connections(), 1, "not called again");
    assert_eq!(retries_of("streams::cancelled"), [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_stream_restarts_on_connect_errors_and_item_errors() {
    install();
    let connects = AtomicU32::new(0);
    let caller = instant().name("streams::reconnect");
    let feed = caller.reconnect(
        |_: &Failure| true,
        || async {
            let n = connects.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::task::yield_now().await;
            match n {
                1 => Err(Failure::new(n)),
                2 => Ok(stream::iter(vec![Ok(1), Err(Failure::new(n))])),
                _ => Ok(stream::iter(vec![Ok(1), Ok(2)])),
            }
        },
    );
    assert_eq!(feed.collect::<Vec<_>>().await, [Ok(1), Ok(1), Ok(2)]);
    assert_eq!(connects.load(Ordering::SeqCst), 3);
    assert_eq!(retries_of("streams::reconnect"), [1, 2]);
}

#[test]
fn testing_mode_and_inactive_mode_apply() {
    install();
    let source = Source::new(vec![vec![Ok(1), Err(())]]);
    {
        let _testing = stamina::testing::set_testing(true, 2, false);
        let items: Vec<_> = pages(&source).collect();
        assert_eq!(
            shown(items),
            [Ok(1), Ok(1), Err(2)],
            "testing mode's 2 attempts"
        );
    }
    let source = Source::new(vec![vec![Ok(1), Err(())]]);
    {
        let _off = stamina::testing::set_active(false);
        let items = futures::executor::block_on(feed(&source).collect::<Vec<_>>());
        assert_eq!(shown(items), [Ok(1), Err(1)], "inactive: one attempt");
    }
}

#[test]
fn a_stream_that_never_fails_is_passed_through() {
    install();
    let source = Source::new(vec![vec![Ok(1), Ok(2), Ok(3)]]);
    let items: Vec<_> = futures::executor::block_on(feed(&source).collect());
    assert_eq!(items, [Ok(1), Ok(2), Ok(3)]);
    assert_eq!(source.connections(), 1);
}

/// A future of a stream's items, for one executor or another.
type Items<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<Result<u32, u32>>> + 'a>>;

#[test]
fn real_waits_on_smol_and_futures_executor() {
    install();
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_millis(2))
        .wait_jitter(Duration::ZERO);
    for run in [
        |f: Items<'_>| smol::block_on(f),
        |f: Items<'_>| futures::executor::block_on(f),
    ] {
        let source = Source::new(vec![vec![Ok(1), Err(())], vec![Err(())], vec![Ok(2)]]);
        let started = std::time::Instant::now();
        let items = run(Box::pin(async {
            shown(
                caller
                    .stream(|_: &Failure| true, || source.subscribe())
                    .collect()
                    .await,
            )
        }));
        assert_eq!(items, [Ok(1), Ok(2)]);
        assert!(
            started.elapsed() >= Duration::from_millis(2 + 4),
            "it slept"
        );
    }
}

#[test]
fn the_wrapper_adds_little_to_the_streams_size() {
    let source = Source::new(vec![vec![Ok(1)]]);
    let bare = std::mem::size_of_val(&source.subscribe());
    let wrapped = std::mem::size_of_val(&feed(&source));
    // As for an `async fn`'s future: at most 64 B over the larger of the stream and tokio's
    // `Sleep` (112 B), which the wrapper holds in turn.
    let sleep = std::mem::size_of::<tokio::time::Sleep>();
    eprintln!("stream {bare} B, `Sleep` {sleep} B, retrying {wrapped} B");
    assert!(
        wrapped <= bare.max(sleep) + 64,
        "{wrapped} B around {bare} B"
    );
}

static FEED_POLICY: stamina::RetryPolicy = stamina::RetryPolicy::new()
    .attempts(2)
    .wait_initial(Duration::from_millis(1))
    .wait_jitter(Duration::ZERO);

#[retry(on = Failure, policy = FEED_POLICY, sleeper = |wait| futures_timer::Delay::new(wait))]
fn feed_on_a_timer(source: &Source) -> impl Stream<Item = Result<u32, Failure>> {
    source.subscribe()
}

#[test]
fn a_stream_fn_takes_a_static_policy_and_a_sleeper() {
    install();
    let source = Source::new(vec![vec![Ok(1), Err(())]]);
    let started = std::time::Instant::now();
    let items = futures::executor::block_on(feed_on_a_timer(&source).collect::<Vec<_>>());
    assert_eq!(
        shown(items),
        [Ok(1), Ok(1), Err(2)],
        "the policy's 2 attempts"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1),
        "slept on futures-timer"
    );
}

#[test]
fn a_bound_caller_streams_and_iterates_with_its_on() {
    install();
    let caller = instant();
    let bound = caller.on(|_: &Failure| true);
    let source = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(2)]]);
    let rows: Vec<_> = bound.iter(|| source.items().into_iter()).collect();
    assert_eq!(shown(rows), [Ok(1), Ok(2)]);
    let source = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(2)]]);
    let items =
        futures::executor::block_on(bound.stream(|| source.subscribe()).collect::<Vec<_>>());
    assert_eq!(shown(items), [Ok(1), Ok(2)]);
    let source = Source::new(vec![vec![Ok(3)]]);
    let items = futures::executor::block_on(
        bound
            .reconnect(|| async { Ok::<_, Failure>(source.subscribe()) })
            .collect::<Vec<_>>(),
    );
    assert_eq!(shown(items), [Ok(3)]);
}

#[test]
fn an_unnamed_stream_is_labelled_with_the_fn_it_is_written_in() {
    install();
    let source = Source::new(vec![vec![Err(())], vec![Ok(1)]]);
    let items = futures::executor::block_on(
        instant()
            .stream(|_: &Failure| true, || source.subscribe())
            .collect::<Vec<_>>(),
    );
    assert_eq!(shown(items), [Ok(1)]);
    let rows: Vec<_> = instant()
        .iter(
            |_: &Failure| true,
            || Source::new(vec![vec![Ok(2)]]).items().into_iter(),
        )
        .collect();
    assert_eq!(shown(rows), [Ok(2)]);
    assert_eq!(
        retries_of("streams::an_unnamed_stream_is_labelled_with_the_fn_it_is_written_in"),
        [1]
    );
}

static LINES: stamina::RetryPolicy = stamina::RetryPolicy::new().attempts(2);

// Regression: `on = SomeType` on a stream or iterator fn whose body leaves the error type to
// inference failed with errors naming `Probe: Downcast` and `ErrorProbe: ErasedCause`; the
// error type was unknown when `on` was checked. It now comes from the fn's `Item`.
#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn inferred_stream() -> impl Stream<Item = Result<u32, Failure>> {
    stream::iter([1, 2]).map(Ok)
}

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn inferred_iter() -> impl Iterator<Item = Result<u32, Failure>> {
    [Ok(1)].into_iter()
}

#[retry(policy = LINES, on = Failure)]
fn inferred_with_a_policy() -> impl Iterator<Item = Result<u32, Failure>> {
    [1, 2, 3].into_iter().map(Ok)
}

#[tokio::test]
async fn a_body_that_leaves_the_error_type_to_inference_compiles() {
    assert_eq!(inferred_stream().collect::<Vec<_>>().await.len(), 2);
    assert_eq!(inferred_iter().count(), 1);
    assert_eq!(inferred_with_a_policy().count(), 3);
}

// Regression: `heal_after = 0` healed a stream that fails at once before every error: it
// reconnected without end (501 times, the test's cap) despite `attempts = 2, timeout = 1s`.
// A zero time now heals once the run yielded an item, as `heal_after_items = 0` does.
#[test]
fn a_stream_that_fails_at_once_is_bounded_by_attempts_with_a_zero_heal_after() {
    let failing = Source::new(vec![vec![Err(())]]);
    let policy = stamina::RetryPolicy::new()
        .attempts(2)
        .timeout(Duration::from_secs(1))
        .heal_after(Duration::ZERO);
    let caller = RetryingCaller::from_policy(policy)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let items: Vec<_> = caller
        .iter(|_: &Failure| true, || failing.items().into_iter())
        .collect();
    assert_eq!(failing.connections(), 2, "bounded by `attempts`");
    assert_eq!(items.len(), 1, "the last error, and the end");
    // A run that yielded an item before its error heals, as with `heal_after_items = 1`.
    let flaky = Source::new(vec![vec![Ok(1), Err(())], vec![Ok(2)]]);
    let items: Vec<_> = caller
        .iter(|_: &Failure| true, || flaky.items().into_iter())
        .collect();
    assert_eq!(shown(items), [Ok(1), Ok(2)]);
}
