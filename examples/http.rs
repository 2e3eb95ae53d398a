//! Retrying HTTP requests with reqwest: a real client against a real local server that answers
//! 503, then 429 with `Retry-After: 1`, then 200.
//!
//! The result predicate (`on_ok`) sees each `reqwest::Response` and the ready
//! `stamina::http::Classifier` decides: 503 and 429 are retried (after the server's hint), a
//! 502 for a `POST` is not (it may have been processed), and a call that gives up returns the
//! last response as it is. Every scheduled retry is a `tracing` line; the Prometheus
//! exposition of `stamina_retries_total` is printed at the end. The server listens on
//! 127.0.0.1, on a port of its own, and stops with the example.
//!
//! ```text
//! cargo run --example http
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::http::Classifier;
use tokio::net::TcpListener;

/// What the client may retry: 429, 502, 503, 504 for idempotent requests, only 429 and 503
/// for the others (RFC 9110 section 9.2.2).
const IDEMPOTENT: Classifier = Classifier::idempotent();
const NON_IDEMPOTENT: Classifier = Classifier::non_idempotent();

/// Connection errors and timeouts are worth another try; a bad URL is not.
fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout()
}

/// `GET url`, retried on transient errors and on retryable responses: 5 attempts in 10 s at
/// most, waits from 50 ms (or the server's `Retry-After`).
#[stamina::retry(
    on = is_transient,
    on_ok = IDEMPOTENT.on_response(|r: &reqwest::Response| (r.status(), r.headers())),
    attempts = 5,
    timeout = 10s,
    wait_initial = 50ms,
    wait_jitter = 10ms,
)]
async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    client.get(url).send().await
}

/// `POST url`: a 502 is not retried, since the server may have acted on the request.
#[stamina::retry(
    on = is_transient,
    on_ok = NON_IDEMPOTENT.on_response(|r: &reqwest::Response| (r.status(), r.headers())),
    attempts = 3,
    wait_initial = 50ms,
)]
async fn post(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    client.post(url).body("{}").send().await
}

/// A server that answers from a script, per path, and counts the requests it got.
#[derive(Debug, Default)]
struct FlakyServer {
    requests: AtomicU32,
    flaky: AtomicU32,
}

impl FlakyServer {
    fn answer(&self, method: &Method, path: &str) -> http::Response<Full<Bytes>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = http::Response::builder();
        let (response, body) = match (method, path) {
            (&Method::GET, "/flaky") => match self.flaky.fetch_add(1, Ordering::Relaxed) {
                0 => (response.status(StatusCode::SERVICE_UNAVAILABLE), "down"),
                1 => (
                    response
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header(http::header::RETRY_AFTER, "1"),
                    "slow down",
                ),
                _ => (response.status(StatusCode::OK), "hello"),
            },
            (&Method::POST, "/orders") => (response.status(StatusCode::BAD_GATEWAY), "lost"),
            (_, "/down") => (response.status(StatusCode::SERVICE_UNAVAILABLE), "down"),
            _ => (response.status(StatusCode::NOT_FOUND), "no such page"),
        };
        response
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("a valid response")
    }

    /// Serves on 127.0.0.1, on a free port, until the runtime stops.
    async fn start(self: Arc<Self>) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = Arc::clone(&self);
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let response = server.answer(request.method(), request.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(async move {
                    // A client that hangs up mid-request is no concern of the example.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let server = Arc::new(FlakyServer::default());
    let addr = Arc::clone(&server).start().await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;

    println!("== GET /flaky: 503, then 429 with Retry-After: 1, then 200");
    let response = get(&client, &format!("http://{addr}/flaky")).await?;
    println!(
        "{} {:?} after {} requests",
        response.status(),
        response.text().await?,
        server.requests.load(Ordering::Relaxed)
    );

    println!("\n== POST /orders: a 502 is not retried for a POST");
    let response = post(&client, &format!("http://{addr}/orders")).await?;
    println!("{} (1 request)", response.status());

    println!("\n== GET /down: giving up returns the last response, as it is");
    let response = get(&client, &format!("http://{addr}/down")).await?;
    println!("{} {:?}", response.status(), response.text().await?);

    println!("\n== Prometheus exposition");
    print!("{}", prometheus.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stamina::Decision;
    use stamina::testing::TestClock;

    /// The example's calls against its server, with the waits recorded on a test clock
    /// instead of slept: the test takes milliseconds, and sees the exact waits.
    #[tokio::test]
    async fn the_example_against_its_local_server() {
        let server = Arc::new(FlakyServer::default());
        let addr = Arc::clone(&server).start().await.unwrap();
        let client = reqwest::Client::new();
        let clock = TestClock::new();

        let response = clock
            .scope(get(&client, &format!("http://{addr}/flaky")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "hello");
        let waits = clock.waits();
        assert_eq!(waits.len(), 2, "{waits:?}");
        // The 503 had no hint: the backoff, 50 ms plus up to 10 ms of jitter.
        assert!(
            (Duration::from_millis(50)..=Duration::from_millis(60)).contains(&waits[0].wait),
            "{waits:?}"
        );
        // The 429's `Retry-After: 1`, exactly.
        assert_eq!(waits[1].wait, Duration::from_secs(1));
        assert_eq!(waits[1].name, "http::get");
        assert_eq!(waits[1].error_type, "reqwest::Response");

        clock.clear();
        let response = clock
            .scope(post(&client, &format!("http://{addr}/orders")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert!(clock.waits().is_empty(), "a POST's 502 is not retried");

        let before = server.requests.load(Ordering::Relaxed);
        let response = clock
            .scope(get(&client, &format!("http://{addr}/down")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.text().await.unwrap(),
            "down",
            "the last response, unread"
        );
        assert_eq!(server.requests.load(Ordering::Relaxed) - before, 5);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_and_comes_back_as_the_error() {
        // A port nothing listens on: bind one, then close it.
        let addr = TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let clock = TestClock::new();
        let error = clock
            .scope(get(&reqwest::Client::new(), &format!("http://{addr}/")))
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error}");
        assert_eq!(clock.waits().len(), 4);
    }

    #[test]
    fn the_classifiers_of_the_example() {
        let none = http::HeaderMap::new();
        assert_eq!(
            IDEMPOTENT.classify(StatusCode::BAD_GATEWAY, &none),
            Decision::Retry
        );
        assert_eq!(
            NON_IDEMPOTENT.classify(StatusCode::BAD_GATEWAY, &none),
            Decision::NoRetry
        );
    }
}
