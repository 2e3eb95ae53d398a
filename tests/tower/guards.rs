//! The guards hooks return for a retry of the `tower` layer: dropped once when the wait ends,
//! and once when the request is dropped mid-wait. (A binary of its own: it sets the hooks.)

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use stamina::RetryPolicy;
use stamina::instrumentation::set_on_retry_hooks;
use stamina::tower::RetryLayer;
use stamina_tests::{Log, exclusive};
use tower::{Layer, Service, ServiceExt};

/// Answers 503, then 200.
#[derive(Clone, Default)]
struct Busy(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl<B> Service<Request<B>> for Busy {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let status = if n == 0 { 503 } else { 200 };
        let response = Response::builder()
            .status(status)
            .body(Full::default())
            .unwrap();
        std::future::ready(Ok(response))
    }
}

fn get() -> Request<Full<Bytes>> {
    Request::get("http://api.test/")
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn a_retry_drops_its_guard_once_when_its_wait_ends() {
    let _exclusive = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let policy = RetryPolicy::new()
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO);
    let svc = RetryLayer::new(policy).layer(Busy::default());
    let response = svc.oneshot(get()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(log.entries(), ["hook 1", "drop 1"]);
}

#[test]
fn a_request_dropped_mid_wait_drops_its_guard_once() {
    let _exclusive = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let policy = RetryPolicy::new().wait_initial(Duration::from_secs(3600));
    // A sleeper that never wakes: the wait lasts until the request is dropped.
    let mut svc = RetryLayer::new(policy)
        .sleeper(|_| std::future::pending::<()>())
        .layer(Busy::default());
    {
        let mut call = pin!(svc.call(get()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(call.as_mut().poll(&mut cx).is_pending());
        assert_eq!(log.entries(), ["hook 1"]);
    }
    assert_eq!(log.entries(), ["hook 1", "drop 1"]);
}
