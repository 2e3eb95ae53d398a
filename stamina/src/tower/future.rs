//! [`ResponseFuture`]: one request through a [`Retry`](super::Retry) service. Its attempts,
//! waits and per-try timers are one hand-written state machine driving the [`RetryState`] that
//! the attribute and the callers drive, so that tower can name the future and a request costs
//! no allocation of its own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::Replay;
use super::classify::{Classify, show_response};
use super::service::{Error, MapBody, Shared};
use crate::instrumentation::{Cause, DenyReason, label};
use crate::policy::RetryPolicy;
use crate::retrying::{RetryState, admit_first};
use crate::sleep::{Backoff, YieldNow, backoff_named};
use crate::sleeper::Sleeper;
use crate::throttle::Throttled;

/// How much of a retried response's body is read before it is dropped, so that an HTTP/1
/// connection goes back to the pool: 64 KiB (a longer body costs more to read than a new
/// connection).
const DRAIN_CAP: usize = 64 * 1024;

pin_project_lite::pin_project! {
    /// The future of a [`Retry`](super::Retry) service's call: the response that ended the
    /// call (a success, or the last retried one), or the last error.
    pub struct ResponseFuture<S, B, RB, C, Sl, Mb>
    where
        S: Service<Request<Mb::Body>, Response = Response<RB>>,
        Mb: MapBody<B>,
        Sl: Sleeper,
    {
        #[pin]
        step: Step<S::Future, Sl::Sleep, RB>,
        service: S,
        shared: Arc<Shared<C, Sl, Mb>>,
        retry: RetryState<'static>,
        parts: Parts,
        replay: Replay<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StepProj]
    enum Step<F, Z, RB> {
        /// Waiting for the service to be ready for the next attempt.
        Ready,
        /// An attempt under way, and its per-try timer.
        Calling {
            #[pin]
            future: F,
            timer: Option<Pin<Box<Z>>>,
        },
        /// The wait before the next attempt, draining the retried response's body meanwhile.
        Waiting {
            #[pin]
            backoff: Backoff<Z, YieldNow>,
            #[pin]
            drain: Option<RB>,
            drained: usize,
        },
        /// The throttle did not send the request: the call ends with this.
        Throttled { throttled: Throttled },
        /// The call has ended.
        Done,
    }
}

impl<S, B, RB, C, Sl, Mb> ResponseFuture<S, B, RB, C, Sl, Mb>
where
    S: Service<Request<Mb::Body>, Response = Response<RB>>,
    Mb: MapBody<B>,
    B: Body,
    C: Classify<RB, S::Error>,
    Sl: Sleeper,
{
    /// The call, its first attempt sent on `service`, which is ready.
    #[inline]
    pub(super) fn new(
        mut service: S,
        shared: Arc<Shared<C, Sl, Mb>>,
        policy: &'static RetryPolicy,
        parts: Parts,
        mut replay: Replay<B>,
    ) -> Self {
        let retry = RetryState::new(policy);
        if policy.get_throttle().is_some() {
            return Self::throttled(service, shared, policy, parts, replay, retry);
        }
        let (request, timer) = attempt(&shared, &retry, &parts, &mut replay);
        let future = service.call(request);
        ResponseFuture {
            step: Step::Calling { future, timer },
            service,
            shared,
            retry,
            parts,
            replay,
        }
    }
}

impl<S, B, RB, C, Sl, Mb> ResponseFuture<S, B, RB, C, Sl, Mb>
where
    S: Service<Request<Mb::Body>, Response = Response<RB>>,
    Mb: MapBody<B>,
    B: Body,
    C: Classify<RB, S::Error>,
    Sl: Sleeper,
{
    /// [`new`](Self::new) under a throttle, which first has its word on the first attempt:
    /// out of line, so that a layer without one builds its future in place.
    #[cold]
    #[inline(never)]
    fn throttled(
        mut service: S,
        shared: Arc<Shared<C, Sl, Mb>>,
        policy: &'static RetryPolicy,
        parts: Parts,
        mut replay: Replay<B>,
        retry: RetryState<'static>,
    ) -> Self {
        let name = || shared.name.as_deref().unwrap_or("");
        let step = match admit_first(policy, || policy.get_timeout(), name) {
            Ok(delay) if delay.is_zero() => {
                let (request, timer) = attempt(&shared, &retry, &parts, &mut replay);
                let future = service.call(request);
                Step::Calling { future, timer }
            }
            // The rate limiter's delay: waited, then the service is made ready again.
            Ok(delay) => Step::Waiting {
                backoff: backoff_named(&shared.sleeper, delay),
                drain: None,
                drained: 0,
            },
            Err(throttled) => Step::Throttled { throttled },
        };
        ResponseFuture {
            step,
            service,
            shared,
            retry,
            parts,
            replay,
        }
    }
}

/// A try's own timer: boxed, so the response future does not carry the sleeper's future inline
/// when no per-try timeout is set.
type TryTimer<Sl> = Option<Pin<Box<<Sl as Sleeper>::Sleep>>>;

/// The next attempt's request (the head cloned, marked for the protocol; the body replayed)
/// and its per-try timer.
#[inline]
fn attempt<B, C, Sl, Mb, RB, E>(
    shared: &Shared<C, Sl, Mb>,
    retry: &RetryState<'static>,
    parts: &Parts,
    replay: &mut Replay<B>,
) -> (Request<Mb::Body>, TryTimer<Sl>)
where
    B: Body,
    Mb: MapBody<B>,
    C: Classify<RB, E>,
    Sl: Sleeper,
{
    let n = retry.attempt_num();
    let remaining = retry.time_left();
    let limit = match (shared.per_try, remaining) {
        (Some(per_try), Some(left)) => Some(per_try.min(left)),
        (per_try, left) => per_try.or(left),
    };
    let mut head = parts.clone();
    shared.classify.mark_attempt(&mut head.headers, n, limit);
    if let Some(name) = &shared.attempt_header {
        if n > 1 {
            head.headers.insert(name.clone(), HeaderValue::from(n - 1));
        }
    }
    let body = shared.map_body.map(replay.attempt());
    // Only a per-try timeout cuts an attempt: without one, the call's timeout is stamina's
    // (checked after a failure, never interrupting an attempt), and only `grpc-timeout` says
    // it to the server.
    let timer = shared
        .per_try
        .and(limit)
        .map(|limit| Box::pin(shared.sleeper.sleep(limit.max(Duration::from_nanos(1)))));
    (Request::from_parts(head, body), timer)
}

/// How hooks see an error of the service: by `Debug`, labelled with its type (or `timeout`).
fn error_cause<E>() -> Cause<Error<E>> {
    Cause {
        error: |_| None,
        shown: |_| None,
        error_type: |e| match e {
            Error::Inner(_) => label::<E>(),
            Error::TimedOut => "timeout",
            Error::Throttled(_) => "throttled",
        },
    }
}

impl<S, B, RB, C, Sl, Mb> Future for ResponseFuture<S, B, RB, C, Sl, Mb>
where
    S: Service<Request<Mb::Body>, Response = Response<RB>>,
    S::Error: fmt::Debug,
    Mb: MapBody<B>,
    B: Body,
    RB: Body,
    C: Classify<RB, S::Error>,
    Sl: Sleeper,
{
    type Output = Result<Response<RB>, Error<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The attempt's outcome, when one has ended and is not a success: a response to
            // retry (and its decision), or an error.
            let outcome = match this.step.as_mut().project() {
                StepProj::Ready => match this.service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => Err(Error::Inner(e)),
                    Poll::Ready(Ok(())) => {
                        let (request, timer) =
                            attempt(this.shared, this.retry, this.parts, this.replay);
                        let future = this.retry.run(|| this.service.call(request));
                        this.step.set(Step::Calling { future, timer });
                        continue;
                    }
                },
                StepProj::Calling { future, timer } => {
                    // From the second attempt on, published for the nested-retry guard.
                    match this.retry.run(|| future.poll(cx)) {
                        Poll::Ready(Ok(response)) => {
                            let decision = this
                                .shared
                                .classify
                                .classify_response(this.parts, &response);
                            if !decision.is_retry() {
                                this.retry.succeeded();
                                this.step.set(Step::Done);
                                return Poll::Ready(Ok(response));
                            }
                            Ok((response, decision))
                        }
                        Poll::Ready(Err(e)) => Err(Error::Inner(e)),
                        Poll::Pending => match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                            Some(Poll::Ready(())) => Err(Error::TimedOut),
                            _ => return Poll::Pending,
                        },
                    }
                }
                StepProj::Waiting {
                    backoff,
                    mut drain,
                    drained,
                } => {
                    drain_some(drain.as_mut(), drained, cx);
                    if backoff.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.retry.release_guards();
                    this.step.set(Step::Ready);
                    continue;
                }
                StepProj::Throttled { throttled } => {
                    let throttled = *throttled;
                    this.step.set(Step::Done);
                    return Poll::Ready(Err(Error::Throttled(throttled)));
                }
                StepProj::Done => panic!("`ResponseFuture` polled after it completed"),
            };
            let shared = &**this.shared;
            let name = || shared.name.as_deref().unwrap_or("");
            let refused = (!this.replay.replayable()).then_some(DenyReason::Body);
            let parts = &*this.parts;
            let (wait, drain) = match outcome {
                Ok((response, decision)) => {
                    let label = shared.classify.response_label(&response);
                    let retried = this.retry.value_failed_unless(
                        &response,
                        decision,
                        show_response,
                        || label,
                        name,
                        refused,
                    );
                    let Ok(wait) = retried else {
                        this.step.set(Step::Done);
                        return Poll::Ready(Ok(response));
                    };
                    (wait, Some(response.into_body()))
                }
                Err(error) => {
                    let on = |e: &Error<S::Error>| match e {
                        Error::Inner(e) => shared.classify.classify_error(parts, e),
                        Error::TimedOut => shared.classify.classify_timeout(parts),
                        // Never an attempt's outcome: the throttle's ends the call before one.
                        Error::Throttled(_) => crate::Decision::NoRetry,
                    };
                    match this
                        .retry
                        .failed_unless(error, on, |_| error_cause(), name, refused)
                    {
                        Ok(wait) => (wait, None),
                        Err(error) => {
                            this.step.set(Step::Done);
                            return Poll::Ready(Err(error));
                        }
                    }
                }
            };
            this.step.set(Step::Waiting {
                backoff: backoff_named(&shared.sleeper, wait),
                drain,
                drained: 0,
            });
        }
    }
}

/// Reads what is ready of a retried response's body, up to [`DRAIN_CAP`] in all, and drops it
/// at its end, at the cap, or at an error.
fn drain_some<RB: Body>(
    mut drain: Pin<&mut Option<RB>>,
    drained: &mut usize,
    cx: &mut Context<'_>,
) {
    while let Some(body) = drain.as_mut().as_pin_mut() {
        match body.poll_frame(cx) {
            Poll::Pending => return,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *drained += bytes::Buf::remaining(data);
                }
                if *drained > DRAIN_CAP {
                    drain.set(None);
                }
            }
            Poll::Ready(None | Some(Err(_))) => drain.set(None),
        }
    }
}

impl<S, B, RB, C, Sl, Mb> fmt::Debug for ResponseFuture<S, B, RB, C, Sl, Mb>
where
    S: Service<Request<Mb::Body>, Response = Response<RB>>,
    Mb: MapBody<B>,
    Sl: Sleeper,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}
