//! stamina as a `tower` layer in front of hyper-util's client: one layer, and every request the
//! client sends gets stamina's retries, budget and instrumentation.
//!
//! Against a local hyper server:
//! - `GET /flaky` answers 503 with `Retry-After: 1`, then 200: the layer waits the second the
//!   server asked for;
//! - `POST /upload` with a 10 KiB body answers 503, then 200: the body, which is not `Clone`, is
//!   replayed from the layer's buffer, byte for byte;
//! - `POST /stream`, a 1 MiB upload of unknown length streamed in 16 KiB chunks, answers 503:
//!   the body outgrows the 64 KiB buffer, so the request is sent once and its 503 comes back as
//!   it is (the hooks hear a denied retry, reason `body`).
//!
//! Every retry is a `tracing` line; the Prometheus exposition is printed at the end.
//!
//! ```text
//! cargo run --example tower
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::tower::{ReplayBody, RetryLayer};
use stamina::{RetryBudget, RetryPolicy};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};

/// The request bodies the server received, per path, in order.
#[derive(Debug, Default)]
struct Server {
    received: Mutex<Vec<(String, Bytes)>>,
}

impl Server {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let body = body
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let seen = {
            let mut received = self.received.lock().expect("not poisoned");
            received.push((path.clone(), body));
            received.iter().filter(|(p, _)| *p == path).count()
        };
        let response = Response::builder();
        let response = match (&parts.method, path.as_str(), seen) {
            (&Method::GET, "/flaky", 1) => response
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header(http::header::RETRY_AFTER, "1"),
            (&Method::POST, "/upload", 1) | (&Method::POST, "/stream", _) => {
                response.status(StatusCode::SERVICE_UNAVAILABLE)
            }
            _ => response.status(StatusCode::OK),
        };
        response
            .body(Full::new(Bytes::from_static(b"done")))
            .expect("a valid response")
    }

    fn bodies(&self, path: &str) -> Vec<Bytes> {
        let received = self.received.lock().expect("not poisoned");
        received
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Serves HTTP/1 on 127.0.0.1, on a free port, until the runtime stops.
    async fn start(self: Arc<Self>) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = Arc::clone(&self);
                let service = service_fn(move |request| {
                    let server = Arc::clone(&server);
                    async move { Ok::<_, Infallible>(server.answer(request).await) }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }
}

/// The body type of the client: any body, boxed.
type Body = BoxBody<Bytes, Infallible>;

/// hyper-util's client behind the retry layer.
fn client() -> impl tower::Service<
    Request<Body>,
    Response = Response<Incoming>,
    Error = stamina::tower::Error<hyper_util::client::legacy::Error>,
    Future: Send,
> + Clone {
    let policy = RetryPolicy::new()
        .attempts(4)
        .timeout(Duration::from_secs(10))
        .wait_initial(Duration::from_millis(50))
        .wait_jitter(Duration::from_millis(50));
    let client: Client<HttpConnector, ReplayBody<Body>> =
        Client::builder(TokioExecutor::new()).build_http();
    ServiceBuilder::new()
        .layer(
            RetryLayer::new(policy)
                .name("example-api")
                .per_try_timeout(Duration::from_secs(2))
                .budget(RetryBudget::new()),
        )
        .service(client)
}

/// What the example's three requests came to.
#[derive(Debug)]
struct Outcome {
    flaky: StatusCode,
    upload: StatusCode,
    upload_bodies: Vec<Bytes>,
    stream: StatusCode,
    stream_bodies: Vec<usize>,
}

async fn run(server: &Server, addr: SocketAddr) -> Result<Outcome, Box<dyn std::error::Error>> {
    let client = client();

    let get = Request::get(format!("http://{addr}/flaky")).body(Body::default())?;
    let flaky = client.clone().oneshot(get).await?.status();

    let data: Vec<u8> = (0..10 * 1024).map(|i| (i % 251) as u8).collect();
    let post = Request::post(format!("http://{addr}/upload"))
        .body(Full::new(Bytes::from(data)).boxed())?;
    let upload = client.clone().oneshot(post).await?.status();

    let chunks =
        (0..64).map(|i| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![i as u8; 16 * 1024]))));
    let stream = StreamBody::new(futures::stream::iter(chunks)).boxed();
    let post = Request::post(format!("http://{addr}/stream")).body(stream)?;
    let stream = client.oneshot(post).await?.status();

    Ok(Outcome {
        flaky,
        upload,
        upload_bodies: server.bodies("/upload"),
        stream,
        stream_bodies: server.bodies("/stream").iter().map(Bytes::len).collect(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let server = Arc::new(Server::default());
    let addr = Arc::clone(&server).start().await?;

    println!(
        "== GET /flaky (503 with Retry-After: 1, then 200), POST /upload (10 KiB: 503, then 200),"
    );
    println!(
        "   POST /stream (1 MiB streamed: 503), through one RetryLayer in front of hyper-util's client"
    );
    let outcome = run(&server, addr).await?;
    println!("\nGET /flaky: {}", outcome.flaky);
    let identical = outcome.upload_bodies.windows(2).all(|w| w[0] == w[1]);
    println!(
        "POST /upload: {}, the server received {} bodies of {} bytes, identical: {identical}",
        outcome.upload,
        outcome.upload_bodies.len(),
        outcome.upload_bodies.first().map_or(0, Bytes::len),
    );
    println!(
        "POST /stream: {}, sent {} time(s) ({:?} bytes): past the 64 KiB buffer, not retried",
        outcome.stream,
        outcome.stream_bodies.len(),
        outcome.stream_bodies,
    );
    println!("\n== Prometheus exposition");
    print!("{}", prometheus.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_example_against_its_local_server() {
        let server = Arc::new(Server::default());
        let addr = Arc::clone(&server).start().await.unwrap();
        let outcome = run(&server, addr).await.unwrap();
        assert_eq!(outcome.flaky, StatusCode::OK);
        assert_eq!(server.bodies("/flaky").len(), 2);
        assert_eq!(outcome.upload, StatusCode::OK);
        let expected: Vec<u8> = (0..10 * 1024).map(|i| (i % 251) as u8).collect();
        assert_eq!(outcome.upload_bodies, [&expected[..], &expected[..]]);
        assert_eq!(outcome.stream, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outcome.stream_bodies, [1024 * 1024]);
    }
}
