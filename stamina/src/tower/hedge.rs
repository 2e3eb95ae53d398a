//! [`HedgeLayer`] and the [`Hedge`] service it makes: hedged requests in front of a client, on
//! the hedged calls of [`crate::hedge`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Method, Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::classify::{Classify, HttpClassify};
use crate::RetryingCaller;
use crate::budget::RetryBudget;
use crate::caller::Scope;
use crate::decision::Decision;
use crate::hedge::Hedging;
use crate::on_ok::OnOk;
use crate::policy::RetryPolicy;
use crate::sleeper::{DefaultSleeper, Sleeper};

/// A layer that hedges the idempotent requests without a body that go through it (`GET`,
/// `HEAD`, `OPTIONS`, `TRACE`, `PUT` and `DELETE` with an empty body): when the inner service
/// has not answered after the hedge delay, the request goes again on a clone of the service,
/// and the first answer the [`Classify`] does not retry wins; the others are dropped, which
/// cancels them. See [`crate::hedge`] for the semantics, and when not to hedge.
///
/// Other requests go through as they are: a body is sent once (a hedge would need a second
/// copy of it at the same time, which the retry layer's replay buffer, built for one attempt
/// after another, does not give). A response that the classifier retries (a 503), or an error
/// it retries, sends the next hedge at once; when every try has failed, the last response comes
/// back (or the last error), for the layer above to retry. Hedges withdraw from a
/// [`budget`](Self::budget) (the retry layer's, which counts the calls) or an
/// [`own_budget`](Self::own_budget) (which this layer counts them in). Testing mode sends one
/// try, as it makes retries instant; the layer never retries.
///
/// Below a [`RetryLayer`](super::RetryLayer), each retry is hedged in turn:
///
/// ```
/// use std::time::Duration;
/// use stamina::hedge::Hedging;
/// use stamina::tower::{HedgeLayer, RetryLayer};
/// use stamina::{RetryBudget, RetryPolicy};
///
/// static API: RetryBudget = RetryBudget::new();
/// let retry = RetryLayer::new(RetryPolicy::new().attempts(3)).budget_for_all(&API);
/// let hedge = HedgeLayer::new(Hedging::fixed(Duration::from_millis(20))).budget(&API);
/// // tower::ServiceBuilder::new().layer(retry).layer(hedge).service(client)
/// # let _ = (retry, hedge);
/// ```
pub struct HedgeLayer<C = HttpClassify, Sl = DefaultSleeper> {
    hedging: Hedging,
    classify: C,
    sleeper: Sl,
    name: Option<Cow<'static, str>>,
    budget: Option<&'static RetryBudget>,
    /// Whether the layer counts its calls in the budget (no retry layer above to do it).
    counted: bool,
}

impl<C: Clone, Sl: Clone> Clone for HedgeLayer<C, Sl> {
    fn clone(&self) -> Self {
        HedgeLayer {
            hedging: self.hedging,
            classify: self.classify.clone(),
            sleeper: self.sleeper.clone(),
            name: self.name.clone(),
            budget: self.budget,
            counted: self.counted,
        }
    }
}

impl<C, Sl> fmt::Debug for HedgeLayer<C, Sl> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeLayer")
            .field("hedging", &self.hedging)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl HedgeLayer {
    /// Hedges as `hedging` says, with the HTTP classifier and the default sleeper.
    #[must_use]
    pub fn new(hedging: Hedging) -> Self {
        HedgeLayer {
            hedging,
            classify: HttpClassify::new(),
            sleeper: DefaultSleeper,
            name: None,
            budget: None,
            counted: false,
        }
    }
}

impl<C, Sl> HedgeLayer<C, Sl> {
    /// What a response or an error means: a retried one sends the next hedge at once
    /// (default: [`HttpClassify`]; [`GrpcClassify`](super::GrpcClassify) for gRPC).
    #[must_use]
    pub fn classify<D>(self, classify: D) -> HedgeLayer<D, Sl> {
        HedgeLayer {
            hedging: self.hedging,
            classify,
            sleeper: self.sleeper,
            name: self.name,
            budget: self.budget,
            counted: self.counted,
        }
    }

    /// What the hedge timers sleep on.
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> HedgeLayer<C, T> {
        HedgeLayer {
            hedging: self.hedging,
            classify: self.classify,
            sleeper,
            name: self.name,
            budget: self.budget,
            counted: self.counted,
        }
    }

    /// The `callable` label of the hooks (default: the inner service's type).
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The budget hedges withdraw from: the one the retry layer above uses
    /// ([`budget_for_all`](super::RetryLayer::budget_for_all)), for one bound on retries and
    /// hedges together. That layer counts the calls; this one does not, so that no call is
    /// counted twice.
    #[must_use]
    pub fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(budget);
        self.counted = false;
        self
    }

    /// A budget of the hedge layer's own, with no retry layer above: the layer counts its calls
    /// in it, and its hedges withdraw from it.
    #[must_use]
    pub fn own_budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(budget);
        self.counted = true;
        self
    }
}

impl<S, C: Clone, Sl: Clone> Layer<S> for HedgeLayer<C, Sl> {
    type Service = Hedge<S, C, Sl>;

    fn layer(&self, inner: S) -> Hedge<S, C, Sl> {
        let policy = RetryPolicy::new().attempts(1).no_timeout();
        let policy = match self.budget {
            Some(budget) => policy.budget(budget),
            None => policy.no_budget(),
        };
        let name = self
            .name
            .clone()
            .unwrap_or(Cow::Borrowed(std::any::type_name::<S>()));
        Hedge {
            inner,
            hedging: self.hedging,
            classify: self.classify.clone(),
            scope: Scope::Attempt {
                counted: self.counted,
            },
            caller: RetryingCaller::from_policy(policy)
                .name(name)
                .sleeper(self.sleeper.clone()),
        }
    }
}

/// The service of a [`HedgeLayer`].
pub struct Hedge<S, C = HttpClassify, Sl = DefaultSleeper> {
    inner: S,
    hedging: Hedging,
    classify: C,
    scope: Scope,
    caller: RetryingCaller<Sl>,
}

impl<S: Clone, C: Clone, Sl: Clone> Clone for Hedge<S, C, Sl> {
    fn clone(&self) -> Self {
        Hedge {
            inner: self.inner.clone(),
            hedging: self.hedging,
            classify: self.classify.clone(),
            scope: self.scope,
            caller: self.caller.clone(),
        }
    }
}

impl<S: fmt::Debug, C, Sl> fmt::Debug for Hedge<S, C, Sl> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("inner", &self.inner)
            .field("hedging", &self.hedging)
            .finish_non_exhaustive()
    }
}

/// Whether a request may be sent several times at once: an idempotent method, and a body that
/// is known to be empty.
fn hedgeable<B: Body>(parts: &Parts, body: &B) -> bool {
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    );
    idempotent && body.size_hint().exact() == Some(0)
}

/// A response the classifier retries is a failed try: the result predicate of the hedged call.
struct Responses<'a, C, E> {
    classify: &'a C,
    parts: &'a Parts,
    error: PhantomData<fn(&E)>,
}

impl<C, RB, E> OnOk<Response<RB>> for Responses<'_, C, E>
where
    C: Classify<RB, E>,
{
    fn on_ok(&self, response: &Response<RB>) -> Decision {
        self.classify.classify_response(self.parts, response)
    }

    fn fmt_value(&self, response: &Response<RB>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.classify.response_label(response))
    }
}

/// The future of a [`Hedge`] service: the inner service's own for a request that is not
/// hedged, else the hedged call, boxed.
pub type HedgeFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, RB, C, Sl> Service<Request<B>> for Hedge<S, C, Sl>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: fmt::Debug + Send,
    B: Body + Default + Send + 'static,
    RB: Send + 'static,
    C: Classify<RB, S::Error> + Clone + Send + Sync + 'static,
    Sl: Sleeper + Clone + Send + Sync + 'static,
    Sl::Sleep: Send,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = HedgeFuture<Response<RB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        if !hedgeable(&parts, &body) {
            return Box::pin(self.inner.call(Request::from_parts(parts, body)));
        }
        // The ready service takes the primary; each hedge a clone, made ready first.
        let primary = self.inner.clone();
        let primary = std::mem::replace(&mut self.inner, primary);
        let inner = self.inner.clone();
        let (hedging, scope) = (self.hedging, self.scope);
        let (classify, caller) = (self.classify.clone(), self.caller.clone());
        Box::pin(async move {
            let mut primary = Some((primary, body));
            let head = parts.clone();
            // Owns what it makes tries of, so that the future needs `S: Send` only.
            let op = move || {
                let parts = head.clone();
                let (mut service, body, ready) = match primary.take() {
                    Some((service, body)) => (service, body, true),
                    None => (inner.clone(), B::default(), false),
                };
                async move {
                    if !ready {
                        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
                    }
                    service.call(Request::from_parts(parts, body)).await
                }
            };
            let on_ok = Responses {
                classify: &classify,
                parts: &parts,
                error: PhantomData::<fn(&S::Error)>,
            };
            let on = |e: &S::Error| classify.classify_error(&parts, e);
            // One attempt: the retry layer above retries it, and counts the call in the budget.
            caller.on_ok(on_ok).hedged(hedging, on, op, scope).await
        })
    }
}
