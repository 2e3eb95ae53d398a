//! stamina in one screen: flaky operations, sync and async, retried with `#[stamina::retry]`.
//!
//! Every scheduled retry is printed by `tracing_subscriber::fmt()`, and the Prometheus
//! exposition of `stamina_retries_total` is printed at the end.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::Decision;

/// A file share that drops the first reads, like an NFS mount after a failover.
#[derive(Debug, Default)]
struct FlakyShare {
    reads: AtomicU32,
}

impl FlakyShare {
    fn read(&self, path: &str) -> io::Result<String> {
        match self.reads.fetch_add(1, Ordering::Relaxed) {
            0 => Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out")),
            1 => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset",
            )),
            _ => Ok(format!("# {path}\nlisten = \"0.0.0.0:8080\"\n")),
        }
    }
}

/// Reads the configuration, retrying any I/O error: 5 attempts at most, 2 s at most in all,
/// waits of 50 ms, 100 ms, 200 ms... plus up to 20 ms of jitter.
#[stamina::retry(
    on = io::Error,
    attempts = 5,
    timeout = Duration::from_secs(2),
    wait_initial = Duration::from_millis(50),
    wait_jitter = Duration::from_millis(20),
)]
fn read_config(share: &FlakyShare, path: &str) -> io::Result<String> {
    share.read(path)
}

/// The errors of a rate-limited HTTP API.
#[derive(Debug)]
enum ApiError {
    /// 503 with a `Retry-After` header.
    Unavailable { retry_after: Option<Duration> },
    /// 500: worth another try with the normal backoff.
    Internal,
    /// 404: retrying won't help.
    NotFound(u64),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unavailable { .. } => f.write_str("503 service unavailable"),
            ApiError::Internal => f.write_str("500 internal server error"),
            ApiError::NotFound(id) => write!(f, "404 user {id} not found"),
        }
    }
}

impl std::error::Error for ApiError {}

/// Which API errors to retry, and how long to wait: the server's hint when it sends one.
fn is_transient(error: &ApiError) -> Decision {
    match error {
        ApiError::Unavailable {
            retry_after: Some(hint),
        } => Decision::RetryAfter(*hint),
        ApiError::Unavailable { retry_after: None } | ApiError::Internal => Decision::Retry,
        ApiError::NotFound(_) => Decision::NoRetry,
    }
}

/// A client for the API whose first responses are errors.
#[derive(Debug, Default)]
struct Client {
    requests: AtomicU32,
}

impl Client {
    /// Fetches a user's name, retrying 503s and 500s for up to 4 attempts.
    #[stamina::retry(on = is_transient, attempts = 4, wait_initial = 0.05, wait_jitter = 0.02)]
    async fn fetch_user(&self, id: u64) -> Result<String, ApiError> {
        tokio::time::sleep(Duration::from_millis(5)).await; // the network
        match (id, self.requests.fetch_add(1, Ordering::Relaxed)) {
            (404, _) => Err(ApiError::NotFound(id)),
            (_, 0) => Err(ApiError::Unavailable {
                retry_after: Some(Duration::from_millis(120)),
            }),
            (_, 1) => Err(ApiError::Internal),
            _ => Ok(format!("user-{id}")),
        }
    }

    /// A dependency that is down for good: gives up after 3 attempts with the last error.
    #[stamina::retry(on = ApiError, attempts = 3, wait_initial = 0.02, wait_jitter = 0)]
    async fn fetch_avatar(&self, _id: u64) -> Result<Vec<u8>, ApiError> {
        Err(ApiError::Internal)
    }
}

#[tokio::main]
async fn main() {
    // Each retry is a WARN event with target `stamina`.
    tracing_subscriber::fmt().with_target(true).init();
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("no other metrics recorder is installed");

    println!("== a sync fn: two I/O errors, then success");
    let started = Instant::now();
    let share = FlakyShare::default();
    match read_config(&share, "app.toml") {
        Ok(config) => println!(
            "read {} bytes after {} attempts in {:?}",
            config.len(),
            share.reads.load(Ordering::Relaxed),
            started.elapsed()
        ),
        Err(e) => println!("gave up: {e}"),
    }

    println!("\n== an async method: a 503 with Retry-After, a 500, then success");
    let client = Client::default();
    let started = Instant::now();
    match client.fetch_user(7).await {
        Ok(user) => println!("got {user} in {:?}", started.elapsed()),
        Err(e) => println!("gave up: {e}"),
    }

    println!("\n== an error the predicate declines comes back at once");
    match client.fetch_user(404).await {
        Ok(user) => println!("unexpected: {user}"),
        Err(e) => println!("not retried: {e}"),
    }

    println!("\n== giving up returns the last error unchanged");
    match client.fetch_avatar(7).await {
        Ok(_) => println!("unexpected success"),
        Err(e) => println!("gave up: {e:?}"),
    }

    println!("\n== Prometheus exposition");
    print!("{}", prometheus.render());
}
