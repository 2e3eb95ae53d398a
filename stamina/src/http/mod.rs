//! HTTP (feature `http`): `Retry-After`, and a [`Classifier`] of responses to use as the
//! result predicate.
//!
//! Over HTTP a failure is often a response, not an error: `Ok(response)` with status 503, or 429
//! with a `Retry-After` header. The [`Classifier`] turns a status and its headers into the
//! [`Decision`](crate::Decision) of a result predicate (`on_ok`). It is built on the `http` 1.x crate, which
//! reqwest, hyper, axum and tonic share, and needs no dependency on any of them:
//!
//! ```
//! # #[allow(dead_code)] mod reqwest { #[derive(Debug)] pub struct Response(pub http::StatusCode, pub http::HeaderMap);
//! #   impl Response { pub fn status(&self) -> http::StatusCode { self.0 } pub fn headers(&self) -> &http::HeaderMap { &self.1 } }
//! #   #[derive(Debug)] pub struct Error; impl Error { pub fn is_connect(&self) -> bool { true } } }
//! use stamina::http::Classifier;
//!
//! // GET is idempotent: 429, 502, 503 and 504 are retried, after `Retry-After` when it is sent.
//! const RETRYABLE: Classifier = Classifier::idempotent();
//!
//! #[stamina::retry(
//!     on = |e: &reqwest::Error| e.is_connect(),
//!     on_ok = RETRYABLE.on_response(|r: &reqwest::Response| (r.status(), r.headers())),
//!     attempts = 5,
//! )]
//! async fn fetch(/* client: &reqwest::Client, url: &str */) -> Result<reqwest::Response, reqwest::Error> {
//!     // client.get(url).send().await
//! #   Ok(reqwest::Response(http::StatusCode::OK, http::HeaderMap::new()))
//! }
//! # assert!(futures::executor::block_on(fetch()).is_ok());
//! ```
//!
//! When the call gives up on a retried response (the attempts ran out, or the time), that last
//! response comes back as it is, `Ok`, for the code that follows to read its status and body.
//! For an `http::Response<B>` (hyper's and axum's clients), the classifier is the predicate
//! itself: `on_ok = Classifier::idempotent()`.
//!
//! # Which statuses
//!
//! | status | retried | decision |
//! |---|---|---|
//! | 429 Too Many Requests | every method | [`Decision::Throttled`](crate::Decision::Throttled), after `Retry-After` if sent |
//! | 503 Service Unavailable | every method | [`Decision::Throttled`](crate::Decision::Throttled) after `Retry-After` if sent, else [`Decision::Retry`](crate::Decision::Retry) |
//! | 502 Bad Gateway, 504 Gateway Timeout | idempotent methods | [`Decision::RetryAfter`](crate::Decision::RetryAfter) if `Retry-After` is sent, else [`Decision::Retry`](crate::Decision::Retry) |
//! | anything else | no | [`Decision::NoRetry`](crate::Decision::NoRetry) |
//!
//! 429 and 503 say that the server did not process the request, so repeating it is safe for any
//! method. 502 and 504 say that a gateway lost the answer: the server may have acted on the
//! request, so a retry may repeat a `POST`. RFC 9110 section 9.2.2 allows automatic retries of
//! idempotent methods only (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`): a classifier
//! [`for_method`](Classifier::for_method) `POST` does not retry them, unless the request is
//! made safe to repeat (an idempotency key) and the classifier is told so with
//! [`assume_idempotent`](Classifier::assume_idempotent).
//!
//! Two statuses are choices left to the caller: 408 Request Timeout (the server gave up waiting
//! for the request, which it did not process: `.retry_on_any_method(StatusCode::REQUEST_TIMEOUT)`)
//! and 500 Internal Server Error (a bug is rarely transient, and the server may have acted:
//! `.retry_on(StatusCode::INTERNAL_SERVER_ERROR)`, for idempotent methods).
//!
//! # `Retry-After`
//!
//! Both forms of RFC 9110 section 10.2.3 are read: delta-seconds (`120`) and an HTTP-date
//! (`Fri, 31 Dec 1999 23:59:59 GMT`, and the two obsolete date formats). A value that is neither
//! is ignored (the backoff applies), never a panic; a date in the past is a wait of zero. A hint
//! longer than [`MAX_RETRY_AFTER`] (a server that asks for an hour) is clamped to it, or to the
//! classifier's own [`max_retry_after`](Classifier::max_retry_after).
//!
//! A hint is a wait that the call honours exactly (no jitter, no `wait_max`), so it can outlive
//! the call's `timeout`: in stamina's timeout mode the call sleeps the hint and gives up at the
//! next failure. With [`TimeoutMode::Deadline`](crate::TimeoutMode::Deadline) a call gives up
//! at once, with the response, when the hint would end past its timeout or deadline:
//! `#[retry(.., timeout_mode = Deadline)]`.

mod classifier;
mod retry_after;

pub use self::classifier::{Classifier, ResponseClassifier};
pub use self::retry_after::{MAX_RETRY_AFTER, parse_retry_after, retry_after};
