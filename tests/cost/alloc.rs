//! Zero heap allocations on the steady-state paths, with the default hooks and no `tracing`
//! subscriber or `metrics` recorder installed: a call that succeeds at once, and a call that
//! retries with zero waits in testing mode.
//!
//! `allocation-counter` installs a counting global allocator in this binary and counts per
//! thread, so the tests here may run in parallel. Each path runs once to warm up (thread-locals,
//! `tracing` callsite registration, the metrics key cache), then many times under the counter.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use allocation_counter::measure;
use stamina::RetryingCaller;
use stamina::instrumentation::get_on_retry_hooks;
use stamina_tests::Failure;

const CALLS: usize = 1_000;

/// Polls `future` with a no-op waker until it is ready: a retrying future with zero waits needs
/// no runtime, and yields (returns `Pending`) once per retry.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a zero-wait call should complete in one poll per attempt");
}

/// Fails its first `failures` calls.
fn flaky(calls: &mut u32, failures: u32) -> Result<u32, Failure> {
    *calls += 1;
    if *calls <= failures {
        Err(Failure::new(*calls))
    } else {
        Ok(*calls)
    }
}

/// Runs `f` once to warm up, then `CALLS` times under the counter; returns the allocations.
fn allocations(mut f: impl FnMut()) -> u64 {
    f();
    measure(|| {
        for _ in 0..CALLS {
            f();
        }
    })
    .count_total
}

#[test]
fn the_counter_counts() {
    // The counter itself works: without this, "zero allocations" would prove nothing.
    let info = measure(|| {
        black_box(Box::new(black_box(1_u64)));
    });
    assert_eq!(info.count_total, 1);
    assert_eq!(
        allocations(|| {
            black_box(vec![1_u8; 16]);
        }),
        CALLS as u64
    );
}

#[test]
fn happy_path_allocates_nothing() {
    let defaults = RetryingCaller::new();
    let named = RetryingCaller::new()
        .no_timeout()
        .name(String::from("alloc::happy"));
    let count = allocations(|| {
        let v = defaults.call(|_: &Failure| true, || Ok::<_, Failure>(black_box(7)));
        assert_eq!(v, Ok(7));
        let v = named.call(|_: &Failure| true, || Ok::<_, Failure>(black_box(8)));
        assert_eq!(v, Ok(8));
        let v = ready(defaults.call_async(|_: &Failure| true, || async { Ok::<_, Failure>(9) }));
        assert_eq!(v, Ok(9));
        let v = ready(named.call_async_mut(|_: &Failure| true, async || Ok::<_, Failure>(10)));
        assert_eq!(v, Ok(10));
    });
    assert_eq!(count, 0);
}

#[test]
fn retry_path_allocates_nothing_in_testing_mode() {
    // The default hooks (metrics and tracing) run for each retry, with nowhere to report to.
    assert_eq!(get_on_retry_hooks().len(), 2);
    let _testing = stamina::testing::set_testing(true, 5, false);
    // Small waits, so that a broken testing mode makes this test slow, never hang; and a check
    // that the waits are zero indeed, which the rest of this test takes for granted.
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO);
    let named = caller.clone().name("alloc::retry");
    assert_eq!(
        caller.context(|_: &Failure| true).decide(Failure::new(1)),
        Ok(Duration::ZERO)
    );
    let count = allocations(|| {
        let mut calls = 0;
        let v = caller.call(|_: &Failure| true, || flaky(&mut calls, 4));
        assert_eq!(v, Ok(5));
        let mut calls = 0;
        let v = named.call(
            |_: &Failure| Duration::from_millis(1),
            || flaky(&mut calls, 4),
        );
        assert_eq!(v, Ok(5));
        let mut calls = 0;
        let v = ready(named.call_async_mut(|_: &Failure| true, async || flaky(&mut calls, 4)));
        assert_eq!(v, Ok(5));
        // Giving up allocates nothing either.
        let mut calls = 0;
        let v = caller.call(|_: &Failure| true, || flaky(&mut calls, u32::MAX));
        assert_eq!(v.map_err(|e| e.attempt), Err(5));
    });
    assert_eq!(count, 0);
}

#[test]
fn explicit_loop_allocates_nothing_in_testing_mode() {
    let _testing = stamina::testing::set_testing(true, 3, false);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO);
    assert_eq!(
        caller.context(|_: &Failure| true).decide(Failure::new(1)),
        Ok(Duration::ZERO)
    );
    let count = allocations(|| {
        let mut retry = caller.context(|_: &Failure| true);
        let mut calls = 0;
        let v = loop {
            let attempt = retry.attempt();
            assert_eq!(attempt.next_wait, Duration::ZERO);
            match flaky(&mut calls, 2) {
                Ok(v) => break v,
                Err(e) => retry.backoff(e).unwrap(),
            }
        };
        assert_eq!(v, 3);
    });
    assert_eq!(count, 0);
}

#[test]
fn retrying_streams_and_iterators_allocate_nothing_per_item() {
    use futures::StreamExt as _;
    let caller = RetryingCaller::new();
    // Built (and started) outside the counter; each item inside it.
    let mut rows = caller.iter(|_: &Failure| true, || (0..u64::MAX).map(Ok::<_, Failure>));
    assert_eq!(rows.next(), Some(Ok(0)));
    let count = allocations(|| assert!(black_box(rows.next()).is_some()));
    assert_eq!(count, 0);
    let mut feed = Box::pin(caller.stream(
        |_: &Failure| true,
        || futures::stream::iter((0..u64::MAX).map(Ok::<_, Failure>)),
    ));
    assert_eq!(ready(feed.next()), Some(Ok(0)));
    let count = allocations(|| assert!(black_box(ready(feed.next())).is_some()));
    assert_eq!(count, 0);
}

/// An inner service that answers 200 at once, with a future that is not boxed: what the
/// `tower` layer allocates is all the counter sees.
#[derive(Clone)]
struct Ok200;

impl<B> tower::Service<http::Request<B>> for Ok200 {
    type Response = http::Response<http_body_util::Empty<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(http_body_util::Empty::new())))
    }
}

#[test]
fn the_tower_layer_allocates_nothing_for_a_request_without_a_body() {
    use tower::{Layer, Service};
    let mut svc = stamina::tower::RetryLayer::new(stamina::RetryPolicy::new()).layer(Ok200);
    let count = allocations(|| {
        let mut request = http::Request::new(http_body_util::Empty::<bytes::Bytes>::new());
        *request.uri_mut() = http::Uri::from_static("http://api.test/items");
        let response = ready(svc.call(request)).unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
    });
    assert_eq!(count, 0);
    // A body to replay costs its buffer: the shared state, the original in it, the chunks.
    let count = allocations(|| {
        let mut request =
            http::Request::new(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")));
        *request.uri_mut() = http::Uri::from_static("http://api.test/items");
        ready(svc.call(request)).unwrap();
    });
    assert!(count <= 3 * CALLS as u64, "{count}");
}
