//! The `tower` layer in front of hyper-util's client, against a local server that misbehaves as
//! real ones do: a connection closed before the response, a response cut short, and a retried
//! response whose body the layer drains so that hyper keeps the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stamina::RetryPolicy;
use stamina::tower::{ReplayBody, RetryLayer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, ServiceExt};

/// What the server does with each connection, in order (the last repeats): answers its
/// requests with these raw responses, one each, then closes it (at once, for none).
type Conn = &'static [&'static str];

/// A server on 127.0.0.1 that treats its connections as scripted; it counts them.
async fn server(script: &'static [Conn]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            let conn = script[n.min(script.len() - 1)];
            tokio::spawn(serve(stream, conn));
        }
    });
    (url, accepted)
}

/// Serves one connection: each request read whole (headers, then a `content-length` body).
async fn serve(mut stream: TcpStream, conn: Conn) {
    let mut buf = Vec::new();
    let mut answers = conn.iter();
    loop {
        let mut chunk = [0u8; 4096];
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if buf.len() < end + 4 + length {
            continue;
        }
        buf.drain(..end + 4 + length);
        let Some(raw) = answers.next() else { return };
        stream.write_all(raw.as_bytes()).await.unwrap();
        if answers.len() == 0 {
            // Closed after its last answer: a response cut short ends here.
            return;
        }
    }
}

type Hyper = Client<HttpConnector, ReplayBody<Full<Bytes>>>;

fn client() -> Hyper {
    Client::builder(TokioExecutor::new()).build_http()
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .attempts(attempts)
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO)
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test]
async fn a_connection_closed_before_the_response_is_retried_for_a_get() {
    static SCRIPT: [Conn; 2] = [&[], &[OK]];
    let (url, accepted) = server(&SCRIPT).await;
    let svc = RetryLayer::new(quick(3)).layer(client());
    let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "ok"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_closed_before_the_response_is_the_error_of_a_post() {
    static SCRIPT: [Conn; 1] = [&[]];
    let (url, accepted) = server(&SCRIPT).await;
    let svc = RetryLayer::new(quick(3)).layer(client());
    let request = Request::post(url)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let error = svc.oneshot(request).await.unwrap_err();
    assert!(
        matches!(error, stamina::tower::Error::Inner(_)),
        "{error:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_response_cut_short_reaches_the_caller_as_a_body_error_and_a_retried_one_is_dropped() {
    // A 200 cut short: the response is the call's (not retried); reading its body fails.
    static RETRIED: [Conn; 2] = [
        &["HTTP/1.1 503 Service Unavailable\r\ncontent-length: 100\r\n\r\npartial"],
        &[OK],
    ];
    static CUT: [Conn; 1] = [&["HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"]];
    let (url, _) = server(&CUT).await;
    let svc = RetryLayer::new(quick(3)).layer(client());
    let response = svc
        .oneshot(Request::get(url).body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.into_body().collect().await.is_err());

    // A 503 cut short: retried on a new connection, its broken body dropped while waiting.
    let (url, accepted) = server(&RETRIED).await;
    let svc = RetryLayer::new(quick(3)).layer(client());
    let response = svc
        .oneshot(Request::get(url).body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retried_response_is_drained_so_that_hyper_reuses_its_connection() {
    // One connection answers 503 (with a 32 KiB body) and then 200: the retry goes out on the
    // same connection only if the 503's body was read to its end (hyper closes a connection
    // whose response body was dropped unread).
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{}",
        32 * 1024,
        "b".repeat(32 * 1024)
    );
    let answers: &'static [&'static str] = Box::leak(vec![&*busy.leak(), OK].into_boxed_slice());
    // A second connection, if the client opens one, answers 200 at once: the count tells.
    let script: &'static [Conn] = Box::leak(vec![answers, &[OK][..]].into_boxed_slice());
    let (url, accepted) = server(script).await;
    let svc = RetryLayer::new(quick(3)).layer(client());
    let response = svc
        .oneshot(
            Request::post(url)
                .body(Full::new(Bytes::from(vec![5u8; 10 * 1024])))
                .unwrap(),
        )
        .await
        .unwrap();
    // (A 503 is retried for every method.)
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
