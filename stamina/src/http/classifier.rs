//! [`Classifier`]: which responses to retry, and how long to wait.

use std::fmt;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{MAX_RETRY_AFTER, retry_after};
use crate::decision::Decision;
use crate::on_ok::OnOk;

/// A set of status codes from 400 to 599, one bit each.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Statuses([u64; 4]);

impl Statuses {
    const fn slot(status: StatusCode) -> Option<(usize, u64)> {
        let code = status.as_u16();
        if code < 400 || code > 599 {
            return None;
        }
        let bit = (code - 400) as usize;
        Some((bit / 64, 1 << (bit % 64)))
    }

    const fn with(mut self, status: StatusCode) -> Self {
        if let Some((word, mask)) = Self::slot(status) {
            self.0[word] |= mask;
        }
        self
    }

    const fn without(mut self, status: StatusCode) -> Self {
        if let Some((word, mask)) = Self::slot(status) {
            self.0[word] &= !mask;
        }
        self
    }

    const fn contains(self, status: StatusCode) -> bool {
        match Self::slot(status) {
            Some((word, mask)) => self.0[word] & mask != 0,
            None => false,
        }
    }

    fn iter(self) -> impl Iterator<Item = u16> {
        (400..600).filter(move |&code| {
            StatusCode::from_u16(code).is_ok_and(|status| self.contains(status))
        })
    }
}

impl fmt::Debug for Statuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Decides which responses to retry, and how long to wait: see the [module docs](super) for the
/// statuses and the idempotency rule.
///
/// `const`-constructible, `Copy`, and a result predicate ([`OnOk`]) for `http::Response<B>` and
/// for a bare [`StatusCode`]; for another client's response type (reqwest's), see
/// [`on_response`](Self::on_response), or call [`classify`](Self::classify) with its status and
/// headers.
///
/// ```
/// use http::{HeaderMap, HeaderValue, Method, StatusCode};
/// use stamina::Decision;
/// use stamina::http::Classifier;
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
/// let get = Classifier::for_method(&Method::GET);
/// assert_eq!(get.classify(StatusCode::TOO_MANY_REQUESTS, &headers), Decision::Throttled(Some(Duration::from_secs(2))));
/// assert_eq!(get.classify(StatusCode::BAD_GATEWAY, &HeaderMap::new()), Decision::Retry);
/// assert_eq!(get.classify(StatusCode::NOT_FOUND, &HeaderMap::new()), Decision::NoRetry);
///
/// // A POST may have been processed behind a 502: not retried, unless it is safe to repeat.
/// let post = Classifier::for_method(&Method::POST);
/// assert_eq!(post.classify(StatusCode::BAD_GATEWAY, &HeaderMap::new()), Decision::NoRetry);
/// assert_eq!(post.assume_idempotent().classify(StatusCode::BAD_GATEWAY, &HeaderMap::new()), Decision::Retry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classifier {
    /// Retried whatever the method.
    any_method: Statuses,
    /// Retried for idempotent requests only.
    idempotent_only: Statuses,
    /// The request is idempotent, or made safe to repeat.
    idempotent: bool,
    max_retry_after: Duration,
}

impl Classifier {
    pub(crate) const DEFAULT: Classifier = Classifier {
        any_method: Statuses([0; 4])
            .with(StatusCode::TOO_MANY_REQUESTS)
            .with(StatusCode::SERVICE_UNAVAILABLE),
        idempotent_only: Statuses([0; 4])
            .with(StatusCode::BAD_GATEWAY)
            .with(StatusCode::GATEWAY_TIMEOUT),
        idempotent: true,
        max_retry_after: MAX_RETRY_AFTER,
    };

    /// The classifier for requests of an idempotent method (`GET`, `HEAD`, `OPTIONS`, `TRACE`,
    /// `PUT`, `DELETE`): 429, 502, 503 and 504 are retried.
    #[must_use]
    pub const fn idempotent() -> Self {
        Self::DEFAULT
    }

    /// The classifier for requests of a method that is not idempotent (`POST`, `PATCH`): 429
    /// and 503 are retried, 502 and 504 are not.
    #[must_use]
    pub const fn non_idempotent() -> Self {
        Classifier {
            idempotent: false,
            ..Self::DEFAULT
        }
    }

    /// The classifier for requests of `method`: [`idempotent`](Self::idempotent) or
    /// [`non_idempotent`](Self::non_idempotent), as RFC 9110 section 9.2.2 says of it.
    #[must_use]
    pub fn for_method(method: &Method) -> Self {
        if method.is_idempotent() {
            Self::idempotent()
        } else {
            Self::non_idempotent()
        }
    }

    /// Whether any classifier may retry `status`: only 4xx and 5xx are ever retried.
    #[inline]
    pub(crate) const fn may_retry(status: StatusCode) -> bool {
        Statuses::slot(status).is_some()
    }

    /// This classifier for a request whose method is idempotent or not, as told.
    pub(crate) const fn idempotent_for(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// This classifier for a request that is safe to repeat whatever its method (it carries an
    /// idempotency key, say): the statuses for idempotent requests are retried too.
    #[must_use]
    pub const fn assume_idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// This classifier, retrying `status` too, for idempotent requests only (as 502 and 504):
    /// `.retry_on(StatusCode::INTERNAL_SERVER_ERROR)`. A status outside 400 to 599 is never
    /// retried.
    #[must_use]
    pub const fn retry_on(mut self, status: StatusCode) -> Self {
        self.idempotent_only = self.idempotent_only.with(status);
        self.any_method = self.any_method.without(status);
        self
    }

    /// This classifier, retrying `status` too, whatever the method (as 429 and 503), for a
    /// status that says the server did not process the request:
    /// `.retry_on_any_method(StatusCode::REQUEST_TIMEOUT)`.
    #[must_use]
    pub const fn retry_on_any_method(mut self, status: StatusCode) -> Self {
        self.any_method = self.any_method.with(status);
        self.idempotent_only = self.idempotent_only.without(status);
        self
    }

    /// This classifier, never retrying `status`: `.never_retry(StatusCode::BAD_GATEWAY)`.
    #[must_use]
    pub const fn never_retry(mut self, status: StatusCode) -> Self {
        self.any_method = self.any_method.without(status);
        self.idempotent_only = self.idempotent_only.without(status);
        self
    }

    /// This classifier, clamping `Retry-After` hints to `max` instead of [`MAX_RETRY_AFTER`].
    #[must_use]
    pub const fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Whether a response with `status` is retried (before its `Retry-After` is read).
    #[must_use]
    pub const fn retries(&self, status: StatusCode) -> bool {
        self.any_method.contains(status)
            || (self.idempotent && self.idempotent_only.contains(status))
    }

    /// The decision for a response with this status and these headers: see the
    /// [module docs](super).
    #[must_use]
    pub fn classify(&self, status: StatusCode, headers: &HeaderMap) -> Decision {
        if !self.retries(status) {
            return Decision::NoRetry;
        }
        let hint = retry_after(headers).map(|wait| wait.min(self.max_retry_after));
        match (status, hint) {
            (StatusCode::TOO_MANY_REQUESTS, hint) => Decision::Throttled(hint),
            (StatusCode::SERVICE_UNAVAILABLE, Some(hint)) => Decision::Throttled(Some(hint)),
            (_, Some(hint)) => Decision::RetryAfter(hint),
            (_, None) => Decision::Retry,
        }
    }

    /// The decision for a bare status, without headers (so without a hint).
    #[must_use]
    pub fn classify_status(&self, status: StatusCode) -> Decision {
        self.classify(status, &HeaderMap::new())
    }

    /// This classifier as the result predicate of another client's response type, which `parts`
    /// reads the status and the headers of: for reqwest,
    /// `on_ok = RETRYABLE.on_response(|r: &reqwest::Response| (r.status(), r.headers()))`.
    ///
    /// Hooks and logs then show a retried response as `HTTP 503 Service Unavailable` (and its
    /// `Retry-After`), rather than as its whole `Debug`.
    #[must_use]
    pub fn on_response<T, F>(self, parts: F) -> ResponseClassifier<F>
    where
        F: for<'r> Fn(&'r T) -> (StatusCode, &'r HeaderMap),
    {
        ResponseClassifier {
            classifier: self,
            parts,
        }
    }
}

/// A [`Classifier`] for a response type of one's own: see [`Classifier::on_response`].
#[derive(Clone, Copy, Debug)]
pub struct ResponseClassifier<F> {
    classifier: Classifier,
    parts: F,
}

impl<T, F> OnOk<T> for ResponseClassifier<F>
where
    F: for<'r> Fn(&'r T) -> (StatusCode, &'r HeaderMap),
{
    fn on_ok(&self, response: &T) -> Decision {
        let (status, headers) = (self.parts)(response);
        self.classifier.classify(status, headers)
    }

    /// `HTTP 503 Service Unavailable`, then `(Retry-After: 2)` if the response has one.
    fn fmt_value(&self, response: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, headers) = (self.parts)(response);
        show(status, headers, f)
    }
}

/// How hooks see a retried response.
fn show(status: StatusCode, headers: &HeaderMap, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "HTTP {status}")?;
    match headers.get(RETRY_AFTER).map(|v| v.to_str()) {
        Some(Ok(value)) => write!(f, " (Retry-After: {value})"),
        _ => Ok(()),
    }
}

impl Default for Classifier {
    /// [`Classifier::idempotent`].
    fn default() -> Self {
        Self::idempotent()
    }
}

impl<B> OnOk<Response<B>> for Classifier {
    fn on_ok(&self, response: &Response<B>) -> Decision {
        self.classify(response.status(), response.headers())
    }

    /// `HTTP 503 Service Unavailable`, then `(Retry-After: 2)` if the response has one.
    fn fmt_value(&self, response: &Response<B>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(response.status(), response.headers(), f)
    }
}

impl OnOk<StatusCode> for Classifier {
    fn on_ok(&self, status: &StatusCode) -> Decision {
        self.classify_status(*status)
    }

    /// `HTTP 503 Service Unavailable`.
    fn fmt_value(&self, status: &StatusCode, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_ok::shown;
    use http::HeaderValue;

    /// A client's own response type, as reqwest's is.
    struct Reply(StatusCode, HeaderMap);

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn the_default_statuses() {
        let get = Classifier::idempotent();
        let none = HeaderMap::new();
        assert_eq!(
            get.classify(StatusCode::TOO_MANY_REQUESTS, &none),
            Decision::Throttled(None)
        );
        assert_eq!(
            get.classify(StatusCode::SERVICE_UNAVAILABLE, &none),
            Decision::Retry
        );
        assert_eq!(
            get.classify(StatusCode::SERVICE_UNAVAILABLE, &headers("3")),
            Decision::Throttled(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            get.classify(StatusCode::GATEWAY_TIMEOUT, &headers("3")),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        for status in [200, 201, 301, 400, 401, 404, 408, 409, 500, 501, 505] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                get.classify(status, &headers("1")),
                Decision::NoRetry,
                "{status}"
            );
        }
    }

    #[test]
    fn non_idempotent_methods_skip_502_and_504_unless_told_otherwise() {
        let post = Classifier::for_method(&Method::POST);
        assert_eq!(post, Classifier::non_idempotent());
        assert!(!post.retries(StatusCode::BAD_GATEWAY));
        assert!(!post.retries(StatusCode::GATEWAY_TIMEOUT));
        assert!(post.retries(StatusCode::TOO_MANY_REQUESTS));
        assert!(post.retries(StatusCode::SERVICE_UNAVAILABLE));
        assert!(post.assume_idempotent().retries(StatusCode::BAD_GATEWAY));
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert_eq!(Classifier::for_method(&method), Classifier::idempotent());
        }
        assert_eq!(
            Classifier::for_method(&Method::PATCH),
            Classifier::non_idempotent()
        );
    }

    #[test]
    fn statuses_can_be_added_and_removed() {
        const CUSTOM: Classifier = Classifier::non_idempotent()
            .retry_on_any_method(StatusCode::REQUEST_TIMEOUT)
            .retry_on(StatusCode::INTERNAL_SERVER_ERROR)
            .never_retry(StatusCode::SERVICE_UNAVAILABLE);
        assert!(CUSTOM.retries(StatusCode::REQUEST_TIMEOUT));
        assert!(!CUSTOM.retries(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(
            CUSTOM
                .assume_idempotent()
                .retries(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(!CUSTOM.retries(StatusCode::SERVICE_UNAVAILABLE));
        // Outside 400..=599: never retried, never a panic.
        let odd = Classifier::idempotent().retry_on_any_method(StatusCode::OK);
        assert!(!odd.retries(StatusCode::OK));
        assert!(!odd.retries(StatusCode::from_u16(999).unwrap()));
        assert_eq!(
            format!("{:?}", Classifier::idempotent()),
            "Classifier { any_method: {429, 503}, idempotent_only: {502, 504}, idempotent: true, max_retry_after: 60s }"
        );
    }

    #[test]
    fn long_hints_are_clamped() {
        let get = Classifier::idempotent();
        assert_eq!(
            get.classify(StatusCode::TOO_MANY_REQUESTS, &headers("3600")),
            Decision::Throttled(Some(MAX_RETRY_AFTER))
        );
        assert_eq!(
            get.max_retry_after(Duration::from_secs(5))
                .classify(StatusCode::BAD_GATEWAY, &headers("99999999999999999999")),
            Decision::RetryAfter(Duration::from_secs(5))
        );
        // A bad hint is no hint.
        assert_eq!(
            get.classify(StatusCode::BAD_GATEWAY, &headers("later")),
            Decision::Retry
        );
    }

    #[test]
    fn responses_and_statuses_are_result_predicates() {
        let response = Response::builder()
            .status(503)
            .header(RETRY_AFTER, "2")
            .body(())
            .unwrap();
        let classifier = Classifier::idempotent();
        assert_eq!(
            classifier.on_ok(&response),
            Decision::Throttled(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            OnOk::<StatusCode>::on_ok(&classifier, &StatusCode::BAD_GATEWAY),
            Decision::Retry
        );
        assert_eq!(
            shown(&classifier, &response),
            "HTTP 503 Service Unavailable (Retry-After: 2)"
        );
    }

    #[test]
    fn other_response_types_through_their_parts() {
        let on_ok = Classifier::non_idempotent().on_response(|r: &Reply| (r.0, &r.1));
        assert_eq!(
            on_ok.on_ok(&Reply(StatusCode::TOO_MANY_REQUESTS, headers("4"))),
            Decision::Throttled(Some(Duration::from_secs(4)))
        );
        assert_eq!(
            on_ok.on_ok(&Reply(StatusCode::BAD_GATEWAY, HeaderMap::new())),
            Decision::NoRetry
        );
        let down = Reply(StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new());
        assert_eq!(shown(&on_ok, &down), "HTTP 503 Service Unavailable");
    }
}
