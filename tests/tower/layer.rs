//! The `tower` layer (feature `tower`) against a scripted inner service: bodies replayed byte
//! for byte and the cap's boundaries, Retry-After and the per-try timeout under a paused clock,
//! the headers each attempt carries, budgets and throttles shared by clones and split per
//! authority, a request dropped mid-wait, and every bad configuration as an error value.
//! Against a real local server: a connection closed before and during a response.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use stamina::instrumentation::DenyReason;
use stamina::testing::TestClock;
use stamina::tower::{DEFAULT_BODY_CAP, Error, GrpcClassify, GrpcCode, ReplayBody, RetryLayer};
use stamina::{ConfigError, RetryBudget, RetryPolicy, Throttle};
use stamina_tests::{HookCall, Recorder, lock, unique_name};
use tower::{Layer, Service, ServiceExt};

/// What the scripted service answers, in order (the last answer repeats).
#[derive(Clone, Debug)]
enum Answer {
    Status(u16, &'static [(&'static str, &'static str)]),
    Refused,
    Hang,
}

/// One request as the scripted service received it.
#[derive(Debug)]
struct Seen {
    headers: HeaderMap,
    body: Result<Vec<u8>, String>,
}

#[derive(Debug)]
struct Refused;

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    seen: Vec<Seen>,
}

/// An inner service that reads each request's body whole, then answers as scripted.
#[derive(Clone)]
struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    fn new(answers: &[Answer]) -> Self {
        Scripted(Arc::new(Mutex::new(Script {
            answers: answers.iter().cloned().collect(),
            seen: Vec::new(),
        })))
    }

    fn seen(&self) -> Vec<Seen> {
        std::mem::take(&mut lock(&self.0).seen)
    }

    fn attempts(&self) -> usize {
        lock(&self.0).seen.len()
    }
}

type Reply = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Refused>> + Send>>;

impl<B> Service<Request<ReplayBody<B>>> for Scripted
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<stamina::tower::BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Refused;
    type Future = Reply;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Refused>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody<B>>) -> Reply {
        let script = Arc::clone(&self.0);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .map_err(|e| e.to_string());
            let answer = {
                let mut script = lock(&script);
                script.seen.push(Seen {
                    headers: parts.headers,
                    body,
                });
                if script.answers.len() > 1 {
                    script.answers.pop_front()
                } else {
                    script.answers.front().cloned()
                }
            };
            match answer.expect("a scripted answer") {
                Answer::Status(status, headers) => {
                    let mut response = Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(*name, *value);
                    }
                    Ok(response
                        .body(Full::new(Bytes::from_static(b"answer")))
                        .unwrap())
                }
                Answer::Refused => Err(Refused),
                Answer::Hang => std::future::pending().await,
            }
        })
    }
}

/// Zero waits, so that a test needs no clock.
fn instant(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .attempts(attempts)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
}

fn post(body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post("http://api.test/items")
        .body(Full::new(body.into()))
        .unwrap()
}

/// A body of unknown length, from its frames.
type Streamed = StreamBody<
    futures::stream::Iter<std::vec::IntoIter<Result<http_body::Frame<Bytes>, Infallible>>>,
>;

/// A body of unknown length: `chunks` chunks of `size` bytes.
fn streamed(chunks: usize, size: usize) -> Streamed {
    let frames: Vec<_> = (0..chunks)
        .map(|i| Ok(http_body::Frame::data(Bytes::from(vec![i as u8; size]))))
        .collect();
    StreamBody::new(futures::stream::iter(frames))
}

/// Polls `future` once.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

fn summaries(recorder: &Recorder) -> Vec<String> {
    recorder.calls().iter().map(HookCall::summary).collect()
}

#[tokio::test]
async fn a_body_is_replayed_byte_for_byte() {
    let name = unique_name("tower::replayed");
    let recorder = Recorder::for_name(&name);
    let inner = Scripted::new(&[
        Answer::Status(503, &[]),
        Answer::Status(502, &[]),
        Answer::Status(200, &[]),
    ]);
    let svc = RetryLayer::new(instant(5))
        .name(name.clone())
        .classify(stamina::tower::HttpClassify::new().assume_idempotent())
        .layer(inner.clone());
    let body: Vec<u8> = (0..10 * 1024).map(|i| (i % 251) as u8).collect();
    let response = svc.oneshot(post(body.clone())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = inner.seen();
    assert_eq!(seen.len(), 3);
    for attempt in &seen {
        assert_eq!(attempt.body.as_deref(), Ok(&body[..]));
    }
    assert_eq!(summaries(&recorder), ["retry 1", "retry 2"]);
    let retries = recorder.retries();
    assert_eq!(retries[0].error_type, "http 503");
    assert_eq!(retries[0].caused_by, "HTTP 503 Service Unavailable");
    assert!(retries[0].is_value);
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_retried() {
    let inner = Scripted::new(&[Answer::Status(503, &[]), Answer::Status(200, &[])]);
    let svc = RetryLayer::new(instant(3))
        .body_cap(1000)
        .layer(inner.clone());
    let response = svc.oneshot(post(vec![7u8; 1000])).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = inner.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.body.as_deref() == Ok(&[7u8; 1000][..]))
    );
}

#[tokio::test]
async fn a_body_one_byte_over_the_cap_is_sent_once_and_the_denial_reported() {
    let name = unique_name("tower::over");
    let recorder = Recorder::for_name(&name);
    let inner = Scripted::new(&[Answer::Status(503, &[]), Answer::Status(200, &[])]);
    let svc = RetryLayer::new(instant(3))
        .name(name.clone())
        .body_cap(1000)
        .layer(inner.clone());
    let response = svc.oneshot(post(vec![7u8; 1001])).await.unwrap();
    // The last response, unchanged: not an error of its own.
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(inner.attempts(), 1);
    assert_eq!(summaries(&recorder), ["denied:body 1"]);
}

#[tokio::test]
async fn a_body_of_unknown_length_is_retried_within_the_cap_and_sent_once_past_it() {
    // 4 chunks of 250 bytes: exactly the cap, retried, byte for byte.
    let inner = Scripted::new(&[Answer::Status(503, &[]), Answer::Status(200, &[])]);
    let svc = RetryLayer::new(instant(3))
        .body_cap(1000)
        .layer(inner.clone());
    let request = Request::post("http://api.test/")
        .body(streamed(4, 250))
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = inner.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(seen[1].body.as_ref().unwrap().len(), 1000);

    // One byte more, in a fifth chunk: sent whole once, then not retried.
    let name = unique_name("tower::grew");
    let recorder = Recorder::for_name(&name);
    let inner = Scripted::new(&[Answer::Status(503, &[]), Answer::Status(200, &[])]);
    let svc = RetryLayer::new(instant(3))
        .name(name.clone())
        .body_cap(1000)
        .layer(inner.clone());
    let frames: Vec<Result<http_body::Frame<Bytes>, Infallible>> = [250, 250, 250, 250, 1]
        .iter()
        .map(|&n| Ok(http_body::Frame::data(Bytes::from(vec![1u8; n]))))
        .collect();
    let request = Request::post("http://api.test/")
        .body(StreamBody::new(futures::stream::iter(frames)))
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let seen = inner.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref().unwrap().len(), 1001);
    assert_eq!(summaries(&recorder), ["denied:body 1"]);
}

#[tokio::test]
async fn errors_and_gateway_statuses_are_retried_for_idempotent_methods_only() {
    let inner = Scripted::new(&[
        Answer::Refused,
        Answer::Status(504, &[]),
        Answer::Status(200, &[]),
    ]);
    let svc = RetryLayer::new(instant(5)).layer(inner.clone());
    let get = Request::get("http://api.test/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        svc.clone().oneshot(get).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(inner.attempts(), 3);

    let inner = Scripted::new(&[Answer::Refused]);
    let svc = RetryLayer::new(instant(5)).layer(inner.clone());
    let error = svc.oneshot(post("x")).await.unwrap_err();
    assert!(matches!(error, Error::Inner(Refused)), "{error:?}");
    assert_eq!(inner.attempts(), 1);

    let inner = Scripted::new(&[Answer::Status(504, &[])]);
    let svc = RetryLayer::new(instant(5)).layer(inner.clone());
    let response = svc.oneshot(post("x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(inner.attempts(), 1);
}

#[tokio::test]
async fn giving_up_returns_the_last_response_or_error_unchanged() {
    let inner = Scripted::new(&[
        Answer::Status(503, &[("x-n", "1")]),
        Answer::Status(503, &[("x-n", "2")]),
    ]);
    let svc = RetryLayer::new(instant(2)).layer(inner.clone());
    let response = svc.oneshot(post("x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["x-n"], "2");
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "answer"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_and_each_try_gets_the_smaller_of_its_limit_and_the_time_left() {
    let name = unique_name("tower::time");
    let recorder = Recorder::for_name(&name);
    let inner = Scripted::new(&[Answer::Status(429, &[("retry-after", "2")]), Answer::Hang]);
    let policy = RetryPolicy::new()
        .attempts(10)
        .timeout(Duration::from_secs(5));
    let svc = RetryLayer::new(policy)
        .name(name.clone())
        .per_try_timeout(Duration::from_secs(2))
        .layer(inner.clone());
    let start = tokio::time::Instant::now();
    let error = svc
        .oneshot(
            Request::get("http://api.test/")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TimedOut), "{error:?}");
    let retries = recorder.retries();
    assert_eq!(retries[0].wait_for, Duration::from_secs(2), "Retry-After");
    assert_eq!(retries[0].error_type, "http 429");
    assert!(retries[1..].iter().all(|r| r.error_type == "timeout"));
    // 2 s of Retry-After, then tries of 2 s each (and the waits between): nothing after 5 s
    // but the last try's end, cut at the time left.
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(5), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn grpc_attempts_carry_their_time_and_their_number() {
    let inner = Scripted::new(&[
        Answer::Status(
            200,
            &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "100")],
        ),
        Answer::Status(200, &[("grpc-status", "14")]),
        Answer::Status(200, &[("grpc-status", "0")]),
    ]);
    let policy = RetryPolicy::new()
        .attempts(5)
        .timeout(Duration::from_secs(10));
    let svc = RetryLayer::new(policy)
        .classify(GrpcClassify::new())
        .per_try_timeout(Duration::from_secs(3))
        .layer(inner.clone());
    let response = svc.oneshot(post("msg")).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "0");
    let seen = inner.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].headers["grpc-timeout"], "3000000u");
    assert!(seen[0].headers.get("grpc-previous-rpc-attempts").is_none());
    assert_eq!(seen[1].headers["grpc-previous-rpc-attempts"], "1");
    assert_eq!(seen[2].headers["grpc-previous-rpc-attempts"], "2");

    // A negative pushback stops at once; the codes retried are A6's `retryableStatusCodes`.
    let inner = Scripted::new(&[Answer::Status(
        200,
        &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "-1")],
    )]);
    let svc = RetryLayer::new(instant(5))
        .classify(GrpcClassify::new())
        .layer(inner.clone());
    svc.oneshot(post("msg")).await.unwrap();
    assert_eq!(inner.attempts(), 1);
    let inner = Scripted::new(&[
        Answer::Status(200, &[("grpc-status", "10")]),
        Answer::Status(200, &[("grpc-status", "0")]),
    ]);
    let aborted = GrpcClassify::new().retryable(&[GrpcCode::ABORTED]).unwrap();
    let svc = RetryLayer::new(instant(5))
        .classify(aborted)
        .layer(inner.clone());
    svc.oneshot(post("msg")).await.unwrap();
    assert_eq!(inner.attempts(), 2);
}

#[tokio::test]
async fn an_attempt_header_counts_resends() {
    let inner = Scripted::new(&[
        Answer::Status(503, &[]),
        Answer::Status(503, &[]),
        Answer::Status(200, &[]),
    ]);
    let svc = RetryLayer::new(instant(5))
        .attempt_header(http::HeaderName::from_static("x-resend-count"))
        .layer(inner.clone());
    svc.oneshot(post("x")).await.unwrap();
    let counts: Vec<_> = inner
        .seen()
        .iter()
        .map(|s| {
            s.headers
                .get("x-resend-count")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(counts, [None, Some("1".to_owned()), Some("2".to_owned())]);
}

#[tokio::test]
async fn clones_share_one_budget_per_authority() {
    let name = unique_name("tower::budget");
    let recorder = Recorder::for_name(&name);
    // Two retries' worth of tokens: the third retry is denied, whichever clone makes it.
    let template = RetryBudget::token_quota().capacity(28);
    let svc = RetryLayer::new(instant(2))
        .name(name.clone())
        .budget(template)
        .layer(Scripted::new(&[Answer::Status(503, &[])]));
    for _ in 0..3 {
        svc.clone().oneshot(post("x")).await.unwrap();
    }
    assert_eq!(
        summaries(&recorder),
        ["retry 1", "retry 1", "denied:budget 1"]
    );
    // Another authority has a budget of its own.
    let other = Request::post("http://other.test/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    svc.clone().oneshot(other).await.unwrap();
    assert_eq!(summaries(&recorder).last().unwrap(), "retry 1");
}

#[tokio::test]
async fn a_throttle_per_authority_stops_sending_what_its_authority_refuses() {
    let name = unique_name("tower::throttle");
    let recorder = Recorder::for_name(&name);
    let inner = Scripted::new(&[Answer::Status(503, &[])]);
    let svc = RetryLayer::new(instant(1))
        .name(name.clone())
        .throttle(Throttle::adaptive().min_requests(10))
        .layer(inner.clone());
    let clock = TestClock::new().seeded(9);
    let (throttled, answered) = clock
        .scope(async {
            let (mut throttled, mut answered) = (0, 0);
            for _ in 0..200 {
                match svc.clone().oneshot(post("x")).await {
                    Err(Error::Throttled(t)) => {
                        assert!(t.to_string().starts_with("throttled locally"));
                        throttled += 1;
                    }
                    Ok(response) => {
                        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                        answered += 1;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            (throttled, answered)
        })
        .await;
    // Every 503 is a request not accepted: once 10 are counted, about 90% are not sent.
    assert_eq!(inner.attempts(), answered);
    assert!(throttled > 150, "{throttled} of 200 throttled");
    let rejected = summaries(&recorder)
        .iter()
        .filter(|s| *s == "throttled:rejected")
        .count();
    assert_eq!(rejected, throttled);
    // Another authority has a throttle of its own, and it is not refusing.
    let other = Request::post("http://other.test/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = svc.clone().oneshot(other).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_request_dropped_mid_wait_releases_everything() {
    let inner = Scripted::new(&[Answer::Status(503, &[])]);
    let policy = RetryPolicy::new()
        .attempts(3)
        .wait_initial(Duration::from_secs(3600));
    let svc = RetryLayer::new(policy).layer(inner.clone());
    let mut call = Box::pin(svc.oneshot(post(vec![1u8; 100])));
    // One attempt, then the wait of an hour.
    for _ in 0..100 {
        if inner.attempts() == 1 {
            break;
        }
        let _ = poll_once(call.as_mut()).await;
        tokio::task::yield_now().await;
    }
    assert!(poll_once(call.as_mut()).await.is_pending());
    assert_eq!(inner.attempts(), 1);
    drop(call);
    // The service, its clones and the body's buffer are gone with the call.
    assert_eq!(Arc::strong_count(&inner.0), 1);
}

#[test]
fn bad_configurations_are_error_values() {
    let error = RetryLayer::try_new(RetryPolicy::new().attempts(0)).unwrap_err();
    assert_eq!(error, ConfigError::ZeroAttempts);
    let error = RetryLayer::new(RetryPolicy::new())
        .try_per_try_timeout(Duration::ZERO)
        .unwrap_err();
    assert!(matches!(error, ConfigError::InvalidLayer(_)), "{error}");
    assert!(GrpcClassify::new().retryable(&[]).is_err());
    assert!(GrpcClassify::new().retryable(&[GrpcCode(17)]).is_err());
    assert_eq!(DEFAULT_BODY_CAP, 64 * 1024);
    let _ = DenyReason::Body;
}
