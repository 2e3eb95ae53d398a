//! stamina as a `tower` layer in front of a tonic channel: a real gRPC client and server on
//! 127.0.0.1, the server being gRPC's standard health service (`tonic-health`, no code
//! generation of our own).
//!
//! The server is warming up: its first two calls fail with `UNAVAILABLE` and
//! `grpc-retry-pushback-ms: 100`. The client's layer classifies gRPC statuses
//! ([`GrpcClassify`]: `UNAVAILABLE` retried, the pushback waited, as gRPC A6 says), gives each
//! attempt `grpc-timeout` (its per-try limit or the time left, whichever is sooner) and, from the
//! second, `grpc-previous-rpc-attempts`; the server prints both as it sees them.
//!
//! ```text
//! cargo run -p stamina-examples --features grpc --example grpc
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{Either, Ready, ready};
use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::RetryPolicy;
use stamina::tower::{GrpcClassify, ReplayBody, RetryLayer};
use tonic::body::Body;
use tonic::transport::{Channel, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::{Service, ServiceBuilder};

/// The headers of each call the server saw: `grpc-timeout`, `grpc-previous-rpc-attempts`.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// In front of the health service: fails the first `failing` calls with `UNAVAILABLE` and a
/// pushback of 100 ms, and records what each call carried.
#[derive(Clone)]
struct WarmingUp<S> {
    inner: S,
    failing: Arc<AtomicU32>,
    seen: Seen,
}

impl<S> Service<http::Request<Body>> for WarmingUp<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<http::Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let seen = (header("grpc-timeout"), header("grpc-previous-rpc-attempts"));
        println!(
            "server: {} (grpc-timeout {}, grpc-previous-rpc-attempts {})",
            request.uri().path(),
            seen.0.as_deref().unwrap_or("-"),
            seen.1.as_deref().unwrap_or("-"),
        );
        self.seen.lock().expect("not poisoned").push(seen);
        let failing = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            let mut response = tonic::Status::unavailable("warming up").into_http::<Body>();
            response.headers_mut().insert(
                "grpc-retry-pushback-ms",
                http::HeaderValue::from_static("100"),
            );
            return Either::Left(ready(Ok(response)));
        }
        Either::Right(self.inner.call(request))
    }
}

/// Serves the health service (reporting `SERVING`) on 127.0.0.1, failing its first `failing`
/// calls.
async fn start(failing: u32, seen: Seen) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let service = WarmingUp {
        inner: health,
        failing: Arc::new(AtomicU32::new(failing)),
        seen,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        // Kept alive for as long as the server runs.
        let _reporter = reporter;
        Server::builder()
            .serve_with_incoming(service, incoming)
            .await
            .expect("the server runs");
    });
    Ok(addr)
}

/// A health client whose channel retries through stamina's layer.
async fn client(
    addr: SocketAddr,
) -> Result<
    HealthClient<
        stamina::tower::Retry<
            Channel,
            GrpcClassify,
            stamina::sleeper::DefaultSleeper,
            fn(ReplayBody<Body>) -> Body,
        >,
    >,
    Box<dyn std::error::Error>,
> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let policy = RetryPolicy::new()
        .attempts(5)
        .timeout(Duration::from_secs(10))
        .wait_initial(Duration::from_millis(50));
    let to_tonic: fn(ReplayBody<Body>) -> Body = Body::new;
    let channel = ServiceBuilder::new()
        .layer(
            RetryLayer::new(policy)
                .name("grpc.health.v1.Health/Check")
                .classify(GrpcClassify::new())
                .per_try_timeout(Duration::from_secs(2))
                .map_body(to_tonic),
        )
        .service(channel);
    Ok(HealthClient::new(channel))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let seen = Seen::default();
    let addr = start(2, Arc::clone(&seen)).await?;
    let mut health = client(addr).await?;

    println!(
        "== grpc.health.v1.Health/Check against a server whose first two calls are UNAVAILABLE"
    );
    let response = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    println!(
        "client: {:?} after {} calls",
        response.into_inner().status(),
        seen.lock().expect("not poisoned").len()
    );
    println!("\n== Prometheus exposition");
    print!("{}", prometheus.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::pb::health_check_response::ServingStatus as Status;

    #[tokio::test]
    async fn the_client_retries_unavailable_with_the_pushback() {
        let seen = Seen::default();
        let addr = start(2, Arc::clone(&seen)).await.unwrap();
        let mut health = client(addr).await.unwrap();
        let started = std::time::Instant::now();
        let response = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(response.into_inner().status(), Status::Serving);
        // Two pushbacks of 100 ms were waited.
        assert!(started.elapsed() >= Duration::from_millis(200));
        let seen = seen.lock().unwrap().clone();
        let attempts: Vec<_> = seen.iter().map(|(_, n)| n.as_deref()).collect();
        assert_eq!(attempts, [None, Some("1"), Some("2")]);
        assert!(seen.iter().all(|(timeout, _)| timeout.is_some()));
    }

    #[tokio::test]
    async fn a_server_that_stays_unavailable_is_the_last_status() {
        let addr = start(u32::MAX, Seen::default()).await.unwrap();
        let mut health = client(addr).await.unwrap();
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.message(), "warming up");
    }
}
