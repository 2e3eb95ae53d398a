//! Hedged calls against a slow dependency: a local HTTP server whose answers take a lognormal
//! time (5 ms on average) and, one time in twenty, ten times as long (a straggler: a GC pause,
//! a slow replica). The same calls, through hyper-util's client, without hedging, with a fixed
//! delay, with an adaptive one (the slowest 5% of calls get a second try), and with the adaptive
//! one as stamina's `HedgeLayer` (feature `tower`) in front of the client; the table shows
//! the median and the 99th percentile of what callers waited, and the extra load the server
//! took.
//!
//! ```text
//! cargo run --example hedge
//! ```
//!
//! Hedge only what is safe to send twice (this server's answers are reads), and never a
//! dependency that is slow because it is saturated: see `stamina::hedge`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use stamina::RetryingCaller;
use stamina::hedge::{HedgeEstimator, Hedging};
use stamina::tower::HedgeLayer;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

/// The slow dependency: counts the requests it answers.
#[derive(Debug, Default)]
struct Server {
    requests: AtomicU64,
    seed: AtomicU64,
}

impl Server {
    /// A latency: lognormal (mean 5 ms, sigma 0.4), ten times longer one time in twenty.
    fn latency(&self) -> Duration {
        // splitmix64 over a shared counter: independent draws, no lock.
        let mut z = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (x ^ (x >> 31)) as f64 / u64::MAX as f64
        };
        let (u1, u2, straggler) = (1.0 - next(), next(), next());
        let sigma: f64 = 0.4;
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let mut ms = ((5f64).ln() - sigma * sigma / 2.0 + sigma * z).exp();
        if straggler < 0.05 {
            ms *= 10.0;
        }
        Duration::from_secs_f64(ms / 1e3)
    }

    async fn answer(&self, _: Request<Incoming>) -> Response<Full<Bytes>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latency()).await;
        Response::new(Full::new(Bytes::from_static(b"ok")))
    }

    async fn start(self: Arc<Self>) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = Arc::clone(&self);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = Arc::clone(&server);
                        async move { Ok::<_, Infallible>(server.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }
}

/// A try that failed: the client's error or the body's.
#[derive(Debug)]
enum Failed {
    Client(#[allow(dead_code, reason = "shown by `Debug`")] hyper_util::client::legacy::Error),
    Body(#[allow(dead_code, reason = "shown by `Debug`")] hyper::Error),
}

impl From<hyper_util::client::legacy::Error> for Failed {
    fn from(e: hyper_util::client::legacy::Error) -> Self {
        Failed::Client(e)
    }
}

impl From<hyper::Error> for Failed {
    fn from(e: hyper::Error) -> Self {
        Failed::Body(e)
    }
}

/// What one run measured.
#[derive(Debug)]
struct Run {
    p50: Duration,
    p99: Duration,
    /// Requests the server took beyond one per call, as a fraction of calls.
    extra_load: f64,
    failed: usize,
}

/// How the calls are made.
#[derive(Clone, Copy)]
enum Via {
    /// `RetryingCaller::call_async` (`None`) or `call_hedged`.
    Caller(Option<Hedging>),
    /// stamina's `HedgeLayer` in front of the client, as a tower service.
    Layer(Hedging),
}

/// `calls` calls, `concurrency` at a time, each one `GET` through hyper-util's client, made
/// as `via` says.
async fn run(server: &Server, addr: SocketAddr, via: Via, calls: usize, concurrency: usize) -> Run {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let caller = RetryingCaller::new().attempts(3).name("example::hedge");
    let layered = match via {
        Via::Layer(hedging) => Some(
            HedgeLayer::new(hedging)
                .name("example::hedge-layer")
                .layer(client.clone()),
        ),
        Via::Caller(_) => None,
    };
    let uri: http::Uri = format!("http://{addr}/").parse().expect("a URI");
    let before = server.requests.load(Ordering::Relaxed);
    let worker = |n: usize| {
        let (client, caller, uri, layered) = (&client, &caller, &uri, &layered);
        async move {
            let mut waited = Vec::with_capacity(n);
            let mut failed = 0;
            for _ in 0..n {
                let get = || async move {
                    let response = client.get(uri.clone()).await.map_err(Failed::from)?;
                    response.into_body().collect().await.map_err(Failed::from)?;
                    Ok::<_, Failed>(())
                };
                // Every failure is worth another try: the server only answers late.
                let on = |_: &Failed| true;
                let start = Instant::now();
                let outcome = match (via, layered) {
                    (Via::Caller(Some(hedging)), _) => caller.call_hedged(hedging, on, get).await,
                    (Via::Layer(_), Some(service)) => {
                        let request = Request::get(uri.clone())
                            .body(Empty::new())
                            .expect("a request");
                        match service.clone().oneshot(request).await {
                            Ok(response) => response
                                .into_body()
                                .collect()
                                .await
                                .map(drop)
                                .map_err(Failed::from),
                            Err(e) => Err(Failed::from(e)),
                        }
                    }
                    _ => caller.call_async(on, get).await,
                };
                waited.push(start.elapsed());
                failed += usize::from(outcome.is_err());
            }
            (waited, failed)
        }
    };
    let results =
        futures::future::join_all((0..concurrency).map(|_| worker(calls / concurrency))).await;
    let mut waited: Vec<Duration> = results.iter().flat_map(|(w, _)| w.clone()).collect();
    let failed = results.iter().map(|(_, f)| f).sum();
    waited.sort_unstable();
    let at =
        |q: f64| waited[((waited.len() as f64 * q).ceil() as usize).clamp(1, waited.len()) - 1];
    let sent = server.requests.load(Ordering::Relaxed) - before;
    Run {
        p50: at(0.5),
        p99: at(0.99),
        extra_load: sent as f64 / waited.len() as f64 - 1.0,
        failed,
    }
}

/// The three runs, printed as a table.
async fn compare(calls: usize) -> Vec<(&'static str, Run)> {
    static ADAPTIVE: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.05);
    static ADAPTIVE_LAYER: HedgeEstimator = HedgeEstimator::new().max_extra_load(0.05);
    let server = Arc::new(Server::default());
    let addr = Arc::clone(&server).start().await.expect("a local server");
    let mut runs = Vec::new();
    for (label, via) in [
        ("no hedging", Via::Caller(None)),
        (
            "fixed delay, 15 ms",
            Via::Caller(Some(Hedging::fixed(Duration::from_millis(15)))),
        ),
        (
            "adaptive delay, at most 5% extra load",
            Via::Caller(Some(Hedging::adaptive(&ADAPTIVE))),
        ),
        (
            "the same, as a `HedgeLayer` in front of the client",
            Via::Layer(Hedging::adaptive(&ADAPTIVE_LAYER)),
        ),
    ] {
        runs.push((label, run(&server, addr, via, calls, 10).await));
    }
    println!("| {calls} calls, 10 at a time | p50 | p99 | extra load | failed |");
    println!("|---|--:|--:|--:|--:|");
    for (label, r) in &runs {
        println!(
            "| {label} | {:.1} ms | {:.1} ms | {:.1}% | {} |",
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.extra_load * 100.0,
            r.failed
        );
    }
    if let Some(delay) = ADAPTIVE.delay() {
        println!("\nThe adaptive delay settled at {delay:?}.");
    }
    runs
}

#[tokio::main]
async fn main() {
    compare(2_000).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_example_against_its_local_server() {
        let runs = compare(400).await;
        for (label, r) in &runs {
            assert_eq!(r.failed, 0, "{label}: every call answered");
            assert!(r.p50 <= r.p99, "{label}");
        }
        assert!(
            runs[0].1.extra_load.abs() < 1e-9,
            "no hedging, no extra request"
        );
        // At most one hedge per call (and no retries: nothing fails).
        for (label, r) in &runs[1..] {
            assert!(
                (0.0..=1.0).contains(&r.extra_load),
                "{label}: {}",
                r.extra_load
            );
        }
    }
}
