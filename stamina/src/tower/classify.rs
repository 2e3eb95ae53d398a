//! What the layer retries: a [`Classify`] sees the request's head, and the response's head or
//! the error, and decides as a predicate does, with a [`Decision`].
//!
//! [`HttpClassify`] reads HTTP statuses with [`stamina::http::Classifier`](crate::http::Classifier)
//! (429, 502, 503, 504; `Retry-After`; 502 and 504 only for idempotent methods). [`GrpcClassify`]
//! reads a gRPC status from a response's headers (a trailers-only response, as a server sends an
//! error before any message): `UNAVAILABLE` is retried, `RESOURCE_EXHAUSTED` is throttling,
//! `grpc-retry-pushback-ms` is honoured (a negative or malformed one stops, as gRPC A6 says).

use std::fmt;
use std::time::Duration;

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response};

use crate::decision::Decision;
use crate::error::ConfigError;
use crate::http::Classifier;

/// Decides whether a request is retried after its response or its error.
///
/// Implemented by [`HttpClassify`], [`GrpcClassify`], and closures
/// `Fn(&Parts, Result<&Response<B>, &E>) -> Decision` (with `B` the response body's type and `E`
/// the service's error) for rules of one's own.
pub trait Classify<B, E> {
    /// The decision on a response.
    fn classify_response(&self, request: &Parts, response: &Response<B>) -> Decision;

    /// The decision on an error of the service: a failed connection, a reset stream.
    fn classify_error(&self, request: &Parts, error: &E) -> Decision;

    /// The decision on an attempt that outlived its per-try timeout and was dropped: retried by
    /// default (the request may have reached the server: [`HttpClassify`] retries it for
    /// idempotent methods only).
    fn classify_timeout(&self, request: &Parts) -> Decision {
        let _ = request;
        Decision::Retry
    }

    /// The `error_type` label of a retried response in hooks and metrics: its status
    /// (`http 503`) by default, its gRPC status for [`GrpcClassify`] (`grpc UNAVAILABLE`).
    fn response_label(&self, response: &Response<B>) -> &'static str {
        http_label(response.status())
    }

    /// The headers each attempt's request carries for the protocol: none by default; gRPC's
    /// `grpc-timeout` (the time the attempt has) and `grpc-previous-rpc-attempts`.
    fn mark_attempt(&self, headers: &mut HeaderMap, attempt: u32, time_left: Option<Duration>) {
        let _ = (headers, attempt, time_left);
    }
}

impl<B, E, F> Classify<B, E> for F
where
    F: Fn(&Parts, Result<&Response<B>, &E>) -> Decision,
{
    fn classify_response(&self, request: &Parts, response: &Response<B>) -> Decision {
        self(request, Ok(response))
    }

    fn classify_error(&self, request: &Parts, error: &E) -> Decision {
        self(request, Err(error))
    }
}

/// HTTP: statuses by [`Classifier`], for the request's method; an error (the request may not
/// have reached the server, or its answer was lost) is retried for an idempotent method only.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpClassify {
    statuses: Option<Classifier>,
    any_method: bool,
}

impl HttpClassify {
    /// The default: [`Classifier::for_method`] of each request.
    #[must_use]
    pub const fn new() -> Self {
        HttpClassify {
            statuses: None,
            any_method: false,
        }
    }

    /// This classification with statuses of one's own: `Classifier::idempotent().retry_on(..)`;
    /// the request's method still decides whether the idempotent-only statuses apply, unless the
    /// classifier [`assume_idempotent`](Classifier::assume_idempotent)s.
    #[must_use]
    pub const fn statuses(mut self, classifier: Classifier) -> Self {
        self.statuses = Some(classifier);
        self
    }

    /// This classification for requests that are safe to repeat whatever their method (they
    /// carry an idempotency key): errors and the idempotent-only statuses are retried for every
    /// method.
    #[must_use]
    pub const fn assume_idempotent(mut self) -> Self {
        self.any_method = true;
        self
    }

    fn for_request(&self, request: &Parts) -> Classifier {
        let idempotent = self.any_method || request.method.is_idempotent();
        self.statuses
            .unwrap_or(Classifier::DEFAULT)
            .idempotent_for(idempotent)
    }
}

impl<B, E> Classify<B, E> for HttpClassify {
    #[inline]
    fn classify_response(&self, request: &Parts, response: &Response<B>) -> Decision {
        let status = response.status();
        // A success (any status outside 4xx and 5xx) is decided without the classifier.
        if !Classifier::may_retry(status) {
            return Decision::NoRetry;
        }
        self.for_request(request)
            .classify(status, response.headers())
    }

    fn classify_error(&self, request: &Parts, _: &E) -> Decision {
        (self.any_method || request.method.is_idempotent()).into()
    }

    fn classify_timeout(&self, request: &Parts) -> Decision {
        (self.any_method || request.method.is_idempotent()).into()
    }
}

/// `http 503`: the label of a status (`http` alone past the statuses a retry sees).
fn http_label(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        408 => "http 408",
        425 => "http 425",
        429 => "http 429",
        500 => "http 500",
        502 => "http 502",
        503 => "http 503",
        504 => "http 504",
        _ => "http",
    }
}

/// A gRPC status code (`grpc-status`), as gRPC numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrpcCode(pub u8);

impl GrpcCode {
    /// `OK`.
    pub const OK: GrpcCode = GrpcCode(0);
    /// `CANCELLED`.
    pub const CANCELLED: GrpcCode = GrpcCode(1);
    /// `DEADLINE_EXCEEDED`.
    pub const DEADLINE_EXCEEDED: GrpcCode = GrpcCode(4);
    /// `RESOURCE_EXHAUSTED`: throttling.
    pub const RESOURCE_EXHAUSTED: GrpcCode = GrpcCode(8);
    /// `ABORTED`.
    pub const ABORTED: GrpcCode = GrpcCode(10);
    /// `INTERNAL`.
    pub const INTERNAL: GrpcCode = GrpcCode(13);
    /// `UNAVAILABLE`: the one gRPC's guide calls safe to retry.
    pub const UNAVAILABLE: GrpcCode = GrpcCode(14);
}

/// gRPC: the status of a trailers-only response (`grpc-status` in the headers, as a server sends
/// an error before any message), by gRPC A6's `retryableStatusCodes`: `UNAVAILABLE` by default,
/// `RESOURCE_EXHAUSTED` retried as throttling when in the set. `grpc-retry-pushback-ms: n` waits
/// `n` ms; a negative or malformed one stops retrying (A6). A status in the trailers, after a
/// response message, is past A6's commit point (response headers arrived) and is not retried.
/// An error of the channel (no response: a refused connection) is retried, as A6's transparent
/// retry of a call that did not leave the client; [`errors`](Self::errors) says otherwise.
///
/// Each attempt carries `grpc-timeout` (the time it has: the layer's per-try timeout and the
/// call's timeout or deadline, whichever is sooner) and, from the second, the
/// `grpc-previous-rpc-attempts` A6 defines.
#[derive(Clone, Copy, Debug)]
pub struct GrpcClassify {
    /// One bit per code, 0 to 16.
    retryable: u32,
    errors: bool,
}

impl Default for GrpcClassify {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcClassify {
    /// `UNAVAILABLE` and `RESOURCE_EXHAUSTED` (as throttling), and errors of the channel.
    #[must_use]
    pub const fn new() -> Self {
        GrpcClassify {
            retryable: (1 << GrpcCode::UNAVAILABLE.0) | (1 << GrpcCode::RESOURCE_EXHAUSTED.0),
            errors: true,
        }
    }

    /// The codes retried, as A6's `retryableStatusCodes`:
    /// `GrpcClassify::new().retryable(&[GrpcCode::UNAVAILABLE, GrpcCode::ABORTED])`. An empty
    /// set, `OK` or a code above 16 (`UNAUTHENTICATED`) is an error, as A6 makes them.
    pub const fn retryable(mut self, codes: &[GrpcCode]) -> Result<Self, ConfigError> {
        if codes.is_empty() {
            return Err(ConfigError::InvalidLayer(
                "`retryable` needs at least one gRPC status code, as gRPC A6's `retryableStatusCodes` (no retries on any status: `.retryable_none()`)",
            ));
        }
        self.retryable = 0;
        let mut i = 0;
        while i < codes.len() {
            let code = codes[i].0;
            if code == 0 || code > 16 {
                return Err(ConfigError::InvalidLayer(
                    "`retryable` takes the gRPC status codes 1 (`CANCELLED`) to 16 (`UNAUTHENTICATED`): `OK` is never retried",
                ));
            }
            self.retryable |= 1 << code;
            i += 1;
        }
        Ok(self)
    }

    /// No status is retried: only errors of the channel, unless [`errors`](Self::errors) says
    /// otherwise.
    #[must_use]
    pub const fn retryable_none(mut self) -> Self {
        self.retryable = 0;
        self
    }

    /// Whether an error of the channel (no response at all) is retried: yes by default.
    #[must_use]
    pub const fn errors(mut self, retried: bool) -> Self {
        self.errors = retried;
        self
    }

    /// The status of a response's headers, if it has one.
    #[must_use]
    pub fn status(headers: &HeaderMap) -> Option<GrpcCode> {
        let value = headers.get("grpc-status")?.to_str().ok()?;
        value.parse::<u8>().ok().map(GrpcCode)
    }
}

/// `grpc UNAVAILABLE`: the label of a gRPC status.
fn grpc_label(code: Option<GrpcCode>) -> &'static str {
    const NAMES: [&str; 17] = [
        "grpc OK",
        "grpc CANCELLED",
        "grpc UNKNOWN",
        "grpc INVALID_ARGUMENT",
        "grpc DEADLINE_EXCEEDED",
        "grpc NOT_FOUND",
        "grpc ALREADY_EXISTS",
        "grpc PERMISSION_DENIED",
        "grpc RESOURCE_EXHAUSTED",
        "grpc FAILED_PRECONDITION",
        "grpc ABORTED",
        "grpc OUT_OF_RANGE",
        "grpc UNIMPLEMENTED",
        "grpc INTERNAL",
        "grpc UNAVAILABLE",
        "grpc DATA_LOSS",
        "grpc UNAUTHENTICATED",
    ];
    code.and_then(|c| NAMES.get(usize::from(c.0)).copied())
        .unwrap_or("grpc")
}

impl<B, E> Classify<B, E> for GrpcClassify {
    fn response_label(&self, response: &Response<B>) -> &'static str {
        grpc_label(GrpcClassify::status(response.headers()))
    }

    fn classify_timeout(&self, _: &Parts) -> Decision {
        self.errors.into()
    }

    fn classify_response(&self, _: &Parts, response: &Response<B>) -> Decision {
        let headers = response.headers();
        let Some(code) = GrpcClassify::status(headers) else {
            return Decision::NoRetry;
        };
        if code.0 > 16 || self.retryable & (1 << code.0) == 0 {
            return Decision::NoRetry;
        }
        let pushback = match headers.get("grpc-retry-pushback-ms") {
            None => None,
            Some(value) => match value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
            {
                Some(ms) if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs())),
                // Negative or not an integer: the server asks not to retry (A6).
                _ => return Decision::NoRetry,
            },
        };
        match (code, pushback) {
            (GrpcCode::RESOURCE_EXHAUSTED, pushback) => Decision::Throttled(pushback),
            (_, Some(wait)) => Decision::RetryAfter(wait),
            (_, None) => Decision::Retry,
        }
    }

    fn classify_error(&self, _: &Parts, _: &E) -> Decision {
        self.errors.into()
    }

    fn mark_attempt(&self, headers: &mut HeaderMap, attempt: u32, time_left: Option<Duration>) {
        if attempt > 1 {
            headers.insert("grpc-previous-rpc-attempts", HeaderValue::from(attempt - 1));
        }
        if let Some(left) = time_left {
            if let Ok(value) = HeaderValue::from_str(&grpc_timeout(left).to_string()) {
                headers.insert("grpc-timeout", value);
            }
        }
    }
}

/// What a retried response shows in hooks: its status, and its gRPC status and message if it
/// has them (`HTTP 200 OK, grpc UNAVAILABLE: warming up`).
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "the signature of `value_failed`'s `show`, for a value that is a reference"
)]
pub(super) fn show_response<B>(response: &&Response<B>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "HTTP {}", response.status())?;
    let headers = response.headers();
    if let Some(code) = GrpcClassify::status(headers) {
        write!(f, ", {}", grpc_label(Some(code)))?;
        if let Some(message) = headers.get("grpc-message") {
            f.write_str(": ")?;
            percent_decoded(message.as_bytes(), f)?;
        }
    }
    Ok(())
}

/// A `grpc-message`, percent-decoded as gRPC encodes it (bytes that do not decode to UTF-8 are
/// written as they came).
fn percent_decoded(raw: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                bytes.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, ..) => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    f.write_str(&String::from_utf8_lossy(&bytes))
}

/// A `grpc-timeout` value: at most 8 digits and a unit, the finest that fits (rounded up, so
/// that the server's deadline is never before the client's).
pub(super) fn grpc_timeout(left: Duration) -> impl fmt::Display {
    struct Timeout(Duration);
    impl fmt::Display for Timeout {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            const MAX: u128 = 99_999_999;
            let nanos = self.0.as_nanos();
            for (unit, len) in [
                ("n", 1u128),
                ("u", 1_000),
                ("m", 1_000_000),
                ("S", 1_000_000_000),
                ("M", 60_000_000_000),
                ("H", 3_600_000_000_000),
            ] {
                let n = nanos.div_ceil(len);
                if n <= MAX {
                    return write!(f, "{n}{unit}");
                }
            }
            write!(f, "{MAX}H")
        }
    }
    Timeout(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, Request, StatusCode};

    fn parts(method: Method) -> Parts {
        Request::builder()
            .method(method)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> Response<()> {
        let mut builder = Response::builder().status(StatusCode::from_u16(status).unwrap());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn http_statuses_follow_the_method() {
        let c = HttpClassify::new();
        let get = parts(Method::GET);
        let post = parts(Method::POST);
        let decide = |p: &Parts, r: &Response<()>| Classify::<(), ()>::classify_response(&c, p, r);
        assert_eq!(decide(&get, &response(502, &[])), Decision::Retry);
        assert_eq!(decide(&post, &response(502, &[])), Decision::NoRetry);
        assert_eq!(
            decide(&post, &response(503, &[("retry-after", "2")])),
            Decision::Throttled(Some(Duration::from_secs(2)))
        );
        assert_eq!(decide(&get, &response(200, &[])), Decision::NoRetry);
        assert_eq!(
            Classify::<(), ()>::classify_error(&c, &get, &()),
            Decision::Retry
        );
        assert_eq!(
            Classify::<(), ()>::classify_error(&c, &post, &()),
            Decision::NoRetry
        );
        let keyed = HttpClassify::new().assume_idempotent();
        assert_eq!(
            Classify::<(), ()>::classify_response(&keyed, &post, &response(504, &[])),
            Decision::Retry
        );
    }

    #[test]
    fn grpc_statuses_and_pushback() {
        let c = GrpcClassify::new();
        let p = parts(Method::POST);
        let decide = |r: &Response<()>| Classify::<(), ()>::classify_response(&c, &p, r);
        assert_eq!(
            decide(&response(200, &[("grpc-status", "14")])),
            Decision::Retry
        );
        assert_eq!(
            decide(&response(200, &[("grpc-status", "0")])),
            Decision::NoRetry
        );
        assert_eq!(
            decide(&response(200, &[("grpc-status", "13")])),
            Decision::NoRetry
        );
        assert_eq!(decide(&response(200, &[])), Decision::NoRetry);
        assert_eq!(
            decide(&response(
                200,
                &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "250")]
            )),
            Decision::RetryAfter(Duration::from_millis(250))
        );
        assert_eq!(
            decide(&response(
                200,
                &[("grpc-status", "8"), ("grpc-retry-pushback-ms", "100")]
            )),
            Decision::Throttled(Some(Duration::from_millis(100)))
        );
        for stop in ["-1", "soon", "1.5"] {
            assert_eq!(
                decide(&response(
                    200,
                    &[("grpc-status", "14"), ("grpc-retry-pushback-ms", stop)]
                )),
                Decision::NoRetry,
                "{stop}"
            );
        }
        let aborted = GrpcClassify::new().retryable(&[GrpcCode::ABORTED]).unwrap();
        assert_eq!(
            Classify::<(), ()>::classify_response(
                &aborted,
                &p,
                &response(200, &[("grpc-status", "10")])
            ),
            Decision::Retry
        );
        assert_eq!(
            Classify::<(), ()>::classify_response(
                &aborted,
                &p,
                &response(200, &[("grpc-status", "14")])
            ),
            Decision::NoRetry
        );
    }

    #[test]
    fn grpc_codes_out_of_range_are_errors() {
        for codes in [
            &[][..],
            &[GrpcCode::OK],
            &[GrpcCode::UNAVAILABLE, GrpcCode(17)],
        ] {
            let error = GrpcClassify::new().retryable(codes).unwrap_err();
            assert!(
                matches!(error, ConfigError::InvalidLayer(_)),
                "{codes:?}: {error}"
            );
        }
        let none = GrpcClassify::new().retryable_none();
        let p = parts(Method::POST);
        assert_eq!(
            Classify::<(), ()>::classify_response(
                &none,
                &p,
                &response(200, &[("grpc-status", "14")])
            ),
            Decision::NoRetry
        );
        assert_eq!(
            Classify::<(), ()>::response_label(&none, &response(200, &[("grpc-status", "14")])),
            "grpc UNAVAILABLE"
        );
    }

    #[test]
    fn a_retried_response_shows_its_statuses() {
        struct Shown<'a>(&'a Response<()>);
        impl fmt::Display for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                show_response(&self.0, f)
            }
        }
        let grpc = response(
            200,
            &[
                ("grpc-status", "14"),
                ("grpc-message", "warming%20up%E2%9C%93"),
            ],
        );
        assert_eq!(
            Shown(&grpc).to_string(),
            "HTTP 200 OK, grpc UNAVAILABLE: warming up\u{2713}"
        );
        assert_eq!(
            Shown(&response(503, &[])).to_string(),
            "HTTP 503 Service Unavailable"
        );
    }

    #[test]
    fn grpc_marks_each_attempt() {
        let c = GrpcClassify::new();
        let mut headers = HeaderMap::new();
        Classify::<(), ()>::mark_attempt(&c, &mut headers, 1, Some(Duration::from_millis(1500)));
        assert_eq!(headers.get("grpc-timeout").unwrap(), "1500000u");
        assert!(headers.get("grpc-previous-rpc-attempts").is_none());
        Classify::<(), ()>::mark_attempt(&c, &mut headers, 3, None);
        assert_eq!(headers.get("grpc-previous-rpc-attempts").unwrap(), "2");
        assert_eq!(grpc_timeout(Duration::from_nanos(1)).to_string(), "1n");
        assert_eq!(
            grpc_timeout(Duration::from_secs(100_000)).to_string(),
            "100000S"
        );
        assert_eq!(
            grpc_timeout(Duration::from_secs(100_000_000)).to_string(),
            "1666667M"
        );
        assert_eq!(grpc_timeout(Duration::MAX).to_string(), "99999999H");
    }
}
