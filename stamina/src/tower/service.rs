//! [`RetryLayer`] and the [`Retry`] service it makes.

use std::any::type_name;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http::request::Parts;
use http::{HeaderName, Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{DEFAULT_BODY_CAP, Replay, ReplayBody};
use super::classify::{Classify, HttpClassify};
use super::future::ResponseFuture;
use crate::budget::{Partitioned, RetryBudget};
use crate::error::ConfigError;
use crate::policy::RetryPolicy;
use crate::sleeper::{DefaultSleeper, Sleeper};
use crate::throttle::{Throttle, Throttled};

/// The error of a [`Retry`] service: the inner service's, unchanged, or a per-try timeout that
/// ended the last attempt.
#[derive(Debug)]
pub enum Error<E> {
    /// The inner service's error, as it returned it (the last one, when the call gave up).
    Inner(E),
    /// The last attempt outlived its [`per_try_timeout`](RetryLayer::per_try_timeout) (or the
    /// call's time left), and was dropped.
    TimedOut,
    /// The layer's [`throttle`](RetryLayer::throttle) did not send the request: the
    /// dependency has been refusing most requests (or the rate limiter's delay would pass the
    /// call's timeout). Nothing was sent.
    Throttled(Throttled),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Inner(e) => e.fmt(f),
            Error::TimedOut => f.write_str("the attempt timed out"),
            Error::Throttled(t) => t.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Inner(e) => e.source(),
            Error::TimedOut | Error::Throttled(_) => None,
        }
    }
}

/// How the body a request comes with becomes the one the inner service takes.
pub trait MapBody<B> {
    /// The inner service's body type.
    type Body;
    /// Converts the attempt's body.
    fn map(&self, body: ReplayBody<B>) -> Self::Body;
}

/// The inner service takes the [`ReplayBody`] itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unmapped;

impl<B> MapBody<B> for Unmapped {
    type Body = ReplayBody<B>;
    #[inline]
    fn map(&self, body: ReplayBody<B>) -> ReplayBody<B> {
        body
    }
}

impl<B, F, O> MapBody<B> for F
where
    F: Fn(ReplayBody<B>) -> O,
{
    type Body = O;
    #[inline]
    fn map(&self, body: ReplayBody<B>) -> O {
        self(body)
    }
}

/// What a layer keeps per authority: a budget, a throttle, or both, each of its template's
/// configuration. The policy's own apply where it has none.
#[derive(Debug, Default)]
struct PerAuthority {
    budgets: Option<Box<Partitioned>>,
    throttles: Option<Box<Partitioned<Throttle>>>,
}

impl PerAuthority {
    fn is_empty(&self) -> bool {
        self.budgets.is_none() && self.throttles.is_none()
    }
}

/// What every clone of a [`Retry`] shares.
pub(super) struct Shared<C, Sl, Mb> {
    pub(super) policy: &'static RetryPolicy,
    pub(super) classify: C,
    pub(super) sleeper: Sl,
    pub(super) map_body: Mb,
    pub(super) name: Option<Cow<'static, str>>,
    pub(super) body_cap: usize,
    pub(super) per_try: Option<Duration>,
    pub(super) attempt_header: Option<HeaderName>,
    per_authority: PerAuthority,
    /// The policy of each authority, its budget and throttle in it.
    by_authority: RwLock<HashMap<Box<str>, &'static RetryPolicy>>,
}

impl<C, Sl, Mb> Shared<C, Sl, Mb> {
    /// The policy of a request with this head: the layer's, or its authority's when the layer
    /// keeps a budget or a throttle per authority.
    #[inline]
    pub(super) fn policy_for(&self, head: &Parts) -> &'static RetryPolicy {
        if self.per_authority.is_empty() {
            return self.policy;
        }
        self.policy_of_authority(head)
    }

    /// The policy of the request's authority (its URI's, or its `Host` header's), made and
    /// interned the first time the authority is seen. Out of line, not cold: a layer with
    /// budgets or throttles per authority takes it on every request.
    #[inline(never)]
    fn policy_of_authority(&self, head: &Parts) -> &'static RetryPolicy {
        let authority = head
            .uri
            .authority()
            .map(http::uri::Authority::as_str)
            .or_else(|| {
                head.headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            });
        let key = authority.unwrap_or("");
        let known = self
            .by_authority
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied();
        if let Some(policy) = known {
            return policy;
        }
        let mut policy = *self.policy;
        if let Some(budgets) = &self.per_authority.budgets {
            policy = policy.budget(budgets.get(key));
        }
        if let Some(throttles) = &self.per_authority.throttles {
            policy = policy.with_throttle(throttles.get(key));
        }
        let policy = intern(policy);
        self.by_authority
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.into(), policy);
        policy
    }
}

/// A policy for the life of the process: equal policies share one. A layer's policy, and each
/// of its authorities', is one of few; a retry's state borrows it for as long as a request lives.
fn intern(policy: RetryPolicy) -> &'static RetryPolicy {
    static POLICIES: Mutex<Vec<&'static RetryPolicy>> = Mutex::new(Vec::new());
    let mut policies = POLICIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = policies.iter().find(|p| ***p == policy) {
        return known;
    }
    let leaked: &'static RetryPolicy = Box::leak(Box::new(policy));
    policies.push(leaked);
    leaked
}

/// A `tower` layer that retries requests under a [`RetryPolicy`]: see the
/// [module docs](super).
///
/// `C` says what is retried ([`HttpClassify`] by default), `Sl` what the waits sleep on (the
/// [`DefaultSleeper`]), `Mb` how the attempt's [`ReplayBody`] becomes the inner service's body.
pub struct RetryLayer<C = HttpClassify, Sl = DefaultSleeper, Mb = Unmapped> {
    policy: RetryPolicy,
    classify: C,
    sleeper: Sl,
    map_body: Mb,
    name: Option<Cow<'static, str>>,
    body_cap: usize,
    per_try: Option<Duration>,
    attempt_header: Option<HeaderName>,
    budget: Option<RetryBudget>,
    throttle: Option<Throttle>,
}

/// A clone has the same configuration; the budgets and throttles it makes start afresh, as
/// each service a layer makes has budgets and throttles of its own.
impl<C: Clone, Sl: Clone, Mb: Clone> Clone for RetryLayer<C, Sl, Mb> {
    fn clone(&self) -> Self {
        RetryLayer {
            policy: self.policy,
            classify: self.classify.clone(),
            sleeper: self.sleeper.clone(),
            map_body: self.map_body.clone(),
            name: self.name.clone(),
            body_cap: self.body_cap,
            per_try: self.per_try,
            attempt_header: self.attempt_header.clone(),
            budget: self.budget.as_ref().map(RetryBudget::fresh),
            throttle: self.throttle.as_ref().map(Throttle::fresh),
        }
    }
}

impl<C, Sl, Mb> fmt::Debug for RetryLayer<C, Sl, Mb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("policy", &self.policy)
            .field("name", &self.name)
            .field("body_cap", &self.body_cap)
            .field("per_try_timeout", &self.per_try)
            .finish_non_exhaustive()
    }
}

impl RetryLayer {
    /// A layer that retries under `policy`, HTTP responses and errors by [`HttpClassify`]. The
    /// policy is taken as its plain setters made it ([`try_new`](Self::try_new) checks it).
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer {
            policy,
            classify: HttpClassify::new(),
            sleeper: DefaultSleeper,
            map_body: Unmapped,
            name: None,
            body_cap: DEFAULT_BODY_CAP,
            per_try: None,
            attempt_header: None,
            budget: None,
            throttle: None,
        }
    }

    /// [`new`](Self::new), with the policy [validated](RetryPolicy::validate) first.
    pub fn try_new(policy: RetryPolicy) -> Result<Self, ConfigError> {
        policy.validate()?;
        Ok(Self::new(policy))
    }
}

impl<C, Sl, Mb> RetryLayer<C, Sl, Mb> {
    /// This layer, deciding with `classify`: [`GrpcClassify`](super::GrpcClassify), or a closure.
    #[must_use]
    pub fn classify<D>(self, classify: D) -> RetryLayer<D, Sl, Mb> {
        RetryLayer {
            policy: self.policy,
            classify,
            sleeper: self.sleeper,
            map_body: self.map_body,
            name: self.name,
            body_cap: self.body_cap,
            per_try: self.per_try,
            attempt_header: self.attempt_header,
            budget: self.budget,
            throttle: self.throttle,
        }
    }

    /// This layer, sleeping its waits on `sleeper`.
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> RetryLayer<C, T, Mb> {
        RetryLayer {
            policy: self.policy,
            classify: self.classify,
            sleeper,
            map_body: self.map_body,
            name: self.name,
            body_cap: self.body_cap,
            per_try: self.per_try,
            attempt_header: self.attempt_header,
            budget: self.budget,
            throttle: self.throttle,
        }
    }

    /// This layer, for an inner service that takes a body type of its own: each attempt's
    /// [`ReplayBody`] goes through `map` (`tonic::body::Body::new`, for a tonic channel).
    #[must_use]
    pub fn map_body<F>(self, map: F) -> RetryLayer<C, Sl, F> {
        RetryLayer {
            policy: self.policy,
            classify: self.classify,
            sleeper: self.sleeper,
            map_body: map,
            name: self.name,
            body_cap: self.body_cap,
            per_try: self.per_try,
            attempt_header: self.attempt_header,
            budget: self.budget,
            throttle: self.throttle,
        }
    }

    /// The `callable` label in hooks, logs and metrics. Without it, the inner service's type,
    /// without its generic arguments (`hyper_util::client::legacy::Client`).
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most a request's body buffers for a retry (default [`DEFAULT_BODY_CAP`], 64 KiB);
    /// a longer body is sent once and not retried.
    #[must_use]
    pub fn body_cap(mut self, bytes: usize) -> Self {
        self.body_cap = bytes;
        self
    }

    /// A time limit for each attempt: the attempt is dropped after the smaller of `timeout` and
    /// the call's time left, and [classified](super::Classify::classify_timeout) as a timeout
    /// (retried, for idempotent HTTP methods and gRPC). Without it an attempt runs until it ends,
    /// as the policy's timeout never cuts one short. A zero `timeout` ends every attempt at once;
    /// [`try_per_try_timeout`](Self::try_per_try_timeout) reports it instead.
    #[must_use]
    pub fn per_try_timeout(mut self, timeout: Duration) -> Self {
        self.per_try = Some(timeout);
        self
    }

    /// Like [`per_try_timeout`](Self::per_try_timeout), but zero is an error.
    pub fn try_per_try_timeout(self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::InvalidLayer(
                "a `per_try_timeout` of zero ends every attempt before it starts (no limit per attempt: leave it unset)",
            ));
        }
        Ok(self.per_try_timeout(timeout))
    }

    /// Each retry of an HTTP request carries its number of resends in this header (OpenTelemetry's
    /// `http.request.resend_count`: 1 for the first retry); none by default.
    #[must_use]
    pub fn attempt_header(mut self, name: HeaderName) -> Self {
        self.attempt_header = Some(name);
        self
    }

    /// Retries under a budget per authority (`host:port`), each with `template`'s configuration:
    /// the calls to one dependency share one, as reqwest scopes its budget per host.
    #[must_use]
    pub fn budget(mut self, template: RetryBudget) -> Self {
        self.budget = Some(template);
        self
    }

    /// Retries under one budget for every authority.
    #[must_use]
    pub fn budget_for_all(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = None;
        self.policy = self.policy.budget(budget);
        self
    }

    /// Asks a [`Throttle`] per authority (`host:port`), each with `template`'s configuration,
    /// before every attempt, the first included (see [`crate::throttle`]): a request it
    /// rejects is not sent and fails at once with [`Error::Throttled`]; a retry it rejects is
    /// not made, and the last response or error comes back. It counts the replies as the
    /// classifier decides them (429 and `RESOURCE_EXHAUSTED` are throttling).
    #[must_use]
    pub fn throttle(mut self, template: Throttle) -> Self {
        self.throttle = Some(template);
        self
    }

    /// Asks one [`Throttle`] for every authority, shared with whatever else names it.
    #[must_use]
    pub fn throttle_for_all(mut self, throttle: &'static Throttle) -> Self {
        self.throttle = None;
        self.policy = self.policy.with_throttle(throttle);
        self
    }

    /// The policy.
    #[must_use]
    pub fn get_policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl<S, C: Clone, Sl: Clone, Mb: Clone> Layer<S> for RetryLayer<C, Sl, Mb> {
    type Service = Retry<S, C, Sl, Mb>;

    fn layer(&self, inner: S) -> Self::Service {
        let name = self.name.clone().or_else(|| {
            let full = type_name::<S>();
            Some(Cow::Borrowed(full.split('<').next().unwrap_or(full)))
        });
        Retry {
            inner,
            shared: Arc::new(Shared {
                policy: intern(self.policy),
                classify: self.classify.clone(),
                sleeper: self.sleeper.clone(),
                map_body: self.map_body.clone(),
                name,
                body_cap: self.body_cap,
                per_try: self.per_try,
                attempt_header: self.attempt_header.clone(),
                per_authority: PerAuthority {
                    budgets: self
                        .budget
                        .as_ref()
                        .map(|template| Box::new(Partitioned::new(template.fresh()))),
                    throttles: self
                        .throttle
                        .as_ref()
                        .map(|template| Box::new(Partitioned::new(template.fresh()))),
                },
                by_authority: RwLock::new(HashMap::new()),
            }),
        }
    }
}

/// A service that retries requests: see [`RetryLayer`]. Clones share their budgets and
/// throttles.
pub struct Retry<S, C = HttpClassify, Sl = DefaultSleeper, Mb = Unmapped> {
    inner: S,
    shared: Arc<Shared<C, Sl, Mb>>,
}

impl<S: Clone, C, Sl, Mb> Clone for Retry<S, C, Sl, Mb> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, C, Sl, Mb> fmt::Debug for Retry<S, C, Sl, Mb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl<S, B, RB, C, Sl, Mb> Service<Request<B>> for Retry<S, C, Sl, Mb>
where
    S: Service<Request<Mb::Body>, Response = Response<RB>> + Clone,
    S::Error: fmt::Debug,
    Mb: MapBody<B>,
    B: Body,
    B::Data: Buf,
    RB: Body,
    C: Classify<RB, S::Error>,
    Sl: Sleeper,
{
    type Response = Response<RB>;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S, B, RB, C, Sl, Mb>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    #[inline]
    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was made ready takes the first attempt; a clone, the retries (made
        // ready again before each).
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = request.into_parts();
        let policy = self.shared.policy_for(&parts);
        let retries = policy.get_attempts() != Some(1) && policy.get_attempts() != Some(0);
        let replay = Replay::new(body, self.shared.body_cap, retries);
        ResponseFuture::new(ready, Arc::clone(&self.shared), policy, parts, replay)
    }
}
