//! The `tower` hedge layer (feature `tower`) in front of a scripted service on a `TestClock`'s
//! virtual time: a `GET` hedged after the delay and the first good answer winning, a retried
//! status sending the next hedge at once, the last response back when every try is retried,
//! and requests with a body or a non-idempotent method sent once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use stamina::hedge::Hedging;
use stamina::testing::TestClock;
use stamina::tower::HedgeLayer;
use stamina_tests::{hook_calls, lock, ms, record_hook_calls, unique_name};
use tower::{Layer, Service, ServiceExt};

/// Answers each request after a scripted latency on the virtual clock, with a scripted
/// status; records when each request arrived.
#[derive(Clone)]
struct Slow {
    clock: TestClock,
    script: Arc<Mutex<VecDeque<(u64, u16)>>>,
    arrived: Arc<Mutex<Vec<Duration>>>,
}

impl Slow {
    fn new(clock: &TestClock, script: &[(u64, u16)]) -> Self {
        Slow {
            clock: clock.clone(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            arrived: Arc::default(),
        }
    }

    fn arrivals(&self) -> Vec<Duration> {
        lock(&self.arrived).clone()
    }
}

type Reply = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

impl Service<Request<Full<Bytes>>> for Slow {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Reply;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Reply {
        lock(&self.arrived).push(self.clock.elapsed());
        let (latency, status) = lock(&self.script).pop_front().expect("a scripted answer");
        let sleep = self.clock.sleep(ms(latency));
        Box::pin(async move {
            sleep.await;
            let mut response = Response::new(Full::new(Bytes::from(status.to_string())));
            *response.status_mut() = StatusCode::from_u16(status).expect("a status");
            Ok(response)
        })
    }
}

fn get() -> Request<Full<Bytes>> {
    Request::builder()
        .uri("http://api.test/item")
        .body(Full::default())
        .expect("a request")
}

fn layer(name: &str) -> HedgeLayer {
    record_hook_calls();
    HedgeLayer::new(Hedging::fixed(ms(10)).hedges(2)).name(name.to_owned())
}

#[test]
fn a_get_is_hedged_after_the_delay_and_the_first_good_answer_wins() {
    let clock = TestClock::new();
    let inner = Slow::new(&clock, &[(50, 200), (50, 200), (5, 200)]);
    let name = unique_name("tower::hedge");
    let service = layer(&name).layer(inner.clone());
    let response = clock.block_on(service.oneshot(get())).expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        clock.elapsed(),
        ms(25),
        "the second hedge, sent at 20 ms, answered at 25"
    );
    assert_eq!(inner.arrivals(), [ms(0), ms(10), ms(20)]);
    assert_eq!(
        hook_calls(&name),
        [
            "hedge 1 (delay) at 10ms",
            "hedge 2 (delay) at 20ms",
            "won 2"
        ]
    );
}

#[test]
fn a_retried_status_sends_the_next_hedge_at_once_and_the_last_comes_back() {
    let clock = TestClock::new();
    let inner = Slow::new(&clock, &[(3, 503), (3, 503), (3, 503)]);
    let name = unique_name("tower::hedge-503");
    let service = layer(&name).layer(inner.clone());
    let response = clock.block_on(service.oneshot(get())).expect("a response");
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the last 503, as it was"
    );
    assert_eq!(inner.arrivals(), [ms(0), ms(3), ms(6)]);
    assert_eq!(
        hook_calls(&name),
        ["hedge 1 (failure) at 3ms", "hedge 2 (failure) at 6ms"]
    );
}

#[test]
fn a_request_with_a_body_or_a_post_is_sent_once() {
    let clock = TestClock::new();
    let inner = Slow::new(&clock, &[(50, 200), (50, 200)]);
    let name = unique_name("tower::hedge-once");
    let mut service = layer(&name).layer(inner.clone());
    let put = Request::builder()
        .method(Method::PUT)
        .uri("http://api.test/item")
        .body(Full::new(Bytes::from_static(b"a body")))
        .expect("a request");
    let post = Request::builder()
        .method(Method::POST)
        .uri("http://api.test/item")
        .body(Full::default())
        .expect("a request");
    for request in [put, post] {
        let response = clock
            .block_on(async { service.ready().await?.call(request).await })
            .expect("a response");
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(inner.arrivals(), [ms(0), ms(50)], "one try each");
    assert!(hook_calls(&name).is_empty());
}

#[test]
fn testing_mode_sends_one_try_and_never_retries() {
    let _testing = stamina::testing::set_testing(true, 5, false);
    let clock = TestClock::new();
    let inner = Slow::new(&clock, &[(50, 503), (5, 200)]);
    let name = unique_name("tower::hedge-testing");
    let service = layer(&name).layer(inner.clone());
    let response = clock.block_on(service.oneshot(get())).expect("a response");
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the one try's answer"
    );
    assert_eq!(inner.arrivals(), [ms(0)]);
    assert!(hook_calls(&name).is_empty());
}

#[test]
fn a_shared_budget_is_counted_by_the_retry_layer_an_own_one_by_this_one() {
    // A hedge per call counted: with a shared budget, the retry layer above counts the calls,
    // so this layer alone counts none and no hedge is granted; with its own, the first call
    // counted grants the second call's hedge.
    static SHARED: stamina::RetryBudget = stamina::RetryBudget::new().ratio(1.0).min_per_sec(0);
    static OWN: stamina::RetryBudget = stamina::RetryBudget::new().ratio(1.0).min_per_sec(0);
    let clock = TestClock::new();
    for (budget_of_its_own, hedges) in [(false, 0), (true, 1)] {
        let inner = Slow::new(&clock, &[(50, 200), (50, 200), (5, 200)]);
        let name = unique_name("tower::hedge-budget");
        let layer = layer(&name);
        let layer = if budget_of_its_own {
            layer.own_budget(&OWN)
        } else {
            layer.budget(&SHARED)
        };
        let mut service = layer.layer(inner.clone());
        for _ in 0..2 {
            let call = async { service.ready().await?.call(get()).await };
            assert_eq!(
                clock.block_on(call).expect("a response").status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            inner.arrivals().len(),
            2 + hedges,
            "own budget: {budget_of_its_own}"
        );
    }
}
