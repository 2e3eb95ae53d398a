//! Retries in front of a client, as tower services: stamina's `RetryLayer`, tower 0.5's `Retry`
//! with a policy of the same rules, and reqwest-retry's middleware.
//!
//! - The happy path runs in process: an inner service that answers 200 with a ready future, a
//!   request without a body; `tower_happy_*` make `n` requests.
//! - The retry path runs against a local hyper server (HTTP/1, keep-alive, its own runtime on a
//!   thread of its own), which answers 503 to the first `x-failures` attempts of each call (the
//!   call named by `x-call`), then 200; `tower_retry_*` make `n` calls, the waits zero.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use stamina::RetryPolicy;
use stamina::tower::{ReplayBody, RetryLayer};
use tower::{Layer, Service, ServiceExt};

/// Answers 200 at once: a future that is ready, nothing allocated.
#[derive(Clone, Copy, Debug)]
pub struct Ok200;

impl<B> Service<Request<B>> for Ok200 {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok(Response::new(Empty::new())))
    }
}

/// tower's `Retry` policy with the rules of the layer: 503 is retried, up to `left` times, at
/// once (tower's retry has no backoff of its own); the request cloned for each attempt.
#[derive(Clone, Copy, Debug)]
pub struct On503 {
    left: u32,
}

impl<B: Clone, Res, E> tower::retry::Policy<Request<B>, Response<Res>, E> for On503 {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<B>,
        result: &mut Result<Response<Res>, E>,
    ) -> Option<Ready<()>> {
        let retry = matches!(result, Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE);
        if retry && self.left > 0 {
            self.left -= 1;
            Some(ready(()))
        } else {
            None
        }
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        Some(request.clone())
    }
}

/// stamina's policy for these contenders: 10 attempts, zero waits.
fn instant() -> RetryPolicy {
    RetryPolicy::new()
        .attempts(10)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
}

/// Polls a future that is ready at once (the in-process services').
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the in-process services answer at once"),
    }
}

fn empty_request() -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = http::Uri::from_static("http://api.test/items");
    request
}

/// `n` requests straight to the inner service: the floor.
pub fn tower_happy_none(n: u64) {
    let mut svc = Ok200;
    for _ in 0..n {
        let response = now(svc.call(std::hint::black_box(empty_request())));
        std::hint::black_box(response.ok());
    }
}

/// `n` requests through tower's `Retry` with [`On503`].
pub fn tower_happy_tower(n: u64) {
    let mut svc = tower::retry::RetryLayer::new(On503 { left: 9 }).layer(Ok200);
    for _ in 0..n {
        let response = now(svc.call(std::hint::black_box(empty_request())));
        std::hint::black_box(response.ok());
    }
}

/// `n` requests through stamina's `RetryLayer` (default policy: 45 s timeout, default hooks).
pub fn tower_happy_stamina(n: u64) {
    let mut svc = RetryLayer::new(RetryPolicy::new()).layer(Ok200);
    for _ in 0..n {
        let response = now(svc.call(std::hint::black_box(empty_request())));
        std::hint::black_box(response.ok());
    }
}

/// [`tower_happy_stamina`] without a timeout: tower's `Retry` has none either.
pub fn tower_happy_stamina_no_timeout(n: u64) {
    let mut svc = RetryLayer::new(RetryPolicy::new().no_timeout()).layer(Ok200);
    for _ in 0..n {
        let response = now(svc.call(std::hint::black_box(empty_request())));
        std::hint::black_box(response.ok());
    }
}

/// The local server's address (started on first use, on a runtime of its own).
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the server's runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a port");
                tx.send(listener.local_addr().expect("an address"))
                    .expect("the bench waits");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let service = hyper::service::service_fn(answer);
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service),
                    );
                }
            });
        });
        rx.recv().expect("the server's address")
    })
}

/// 503 to the first `x-failures` attempts of the call `x-call`, then 200.
async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    static SEEN: Mutex<Option<HashMap<u64, u32>>> = Mutex::new(None);
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (call, failures) = (header("x-call"), header("x-failures"));
    let failed = {
        let mut seen = SEEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = seen.get_or_insert_with(HashMap::new);
        let n = seen.entry(call).or_insert(0);
        *n += 1;
        let failed = u64::from(*n) <= failures;
        if !failed {
            seen.remove(&call);
        }
        failed
    };
    let _ = request.into_body().collect().await;
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok")))
        .expect("a response"))
}

/// A request of a new call that fails `failures` times.
fn call_request(failures: u32) -> Request<Full<Bytes>> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    Request::get(format!("http://{}/", server()))
        .header("x-call", CALLS.fetch_add(1, Ordering::Relaxed).to_string())
        .header("x-failures", failures.to_string())
        .body(Full::new(Bytes::new()))
        .expect("a request")
}

/// The runtime the network contenders run on: current-thread, with IO.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// Checks the status and reads the body to its end, so that the connection is reused.
async fn done<B: http_body::Body>(response: Response<B>) {
    assert_eq!(response.status(), StatusCode::OK);
    let _ = response.into_body().collect().await;
}

/// `n` calls through hyper-util's client alone (each fails `failures` times, unretried): the
/// cost of one request on this server.
///
/// # Panics
/// When the local server does not answer or a call ends in anything but 200 OK.
pub fn tower_retry_hyper(n: u64, failures: u32) {
    runtime().block_on(async {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        for _ in 0..n {
            let request = call_request(failures);
            // One request per failure, then the one that succeeds: what a retry would send.
            for _ in 0..failures {
                let r = client.request(request.clone()).await.expect("a response");
                let _ = r.into_body().collect().await;
            }
            done(client.request(request).await.expect("a response")).await;
        }
    });
}

/// `n` calls through stamina's `RetryLayer` in front of hyper-util's client.
///
/// # Panics
/// When the local server does not answer or a call ends in anything but 200 OK.
pub fn tower_retry_stamina(n: u64, failures: u32) {
    runtime().block_on(async {
        let client: Client<HttpConnector, ReplayBody<Full<Bytes>>> =
            Client::builder(TokioExecutor::new()).build_http();
        let svc = RetryLayer::new(instant()).layer(client);
        for _ in 0..n {
            let response = svc.clone().oneshot(call_request(failures)).await;
            done(response.expect("a response")).await;
        }
    });
}

/// `n` calls through tower's `Retry` in front of hyper-util's client.
///
/// # Panics
/// When the local server does not answer or a call ends in anything but 200 OK.
pub fn tower_retry_tower(n: u64, failures: u32) {
    runtime().block_on(async {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let svc = tower::retry::RetryLayer::new(On503 { left: 9 }).layer(client);
        for _ in 0..n {
            let response = svc.clone().oneshot(call_request(failures)).await;
            done(response.expect("a response")).await;
        }
    });
}

/// `n` calls through reqwest with reqwest-retry's middleware (its exponential policy, zero
/// bounds: no waits).
///
/// # Panics
/// When the local server does not answer or a call ends in anything but 200 OK.
pub fn tower_retry_reqwest_retry(n: u64, failures: u32) {
    use reqwest_retry::policies::ExponentialBackoff;
    static CALLS: AtomicU64 = AtomicU64::new(1 << 40);
    runtime().block_on(async {
        let policy = ExponentialBackoff::builder()
            .retry_bounds(Duration::ZERO, Duration::ZERO)
            .build_with_max_retries(9);
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(reqwest_retry::RetryTransientMiddleware::new_with_policy(
                policy,
            ))
            .build();
        let url = format!("http://{}/", server());
        for _ in 0..n {
            let response = client
                .get(&url)
                .header("x-call", CALLS.fetch_add(1, Ordering::Relaxed).to_string())
                .header("x-failures", failures.to_string())
                .send()
                .await
                .expect("a response");
            assert_eq!(response.status(), StatusCode::OK);
            let _ = response.bytes().await;
        }
    });
}
