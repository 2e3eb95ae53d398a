//! Retries where Rust services configure them: a `tower` layer for HTTP and gRPC clients
//! (feature `tower`).
//!
//! A client built once and stacked with layers (hyper-util's client, a tonic channel, any
//! `tower::Service<http::Request<B>>`) gets stamina's retries from one more layer: the same
//! [`RetryPolicy`](crate::RetryPolicy) (attempts, timeout and deadline mode, backoff, testing switches, budgets, the
//! nested-retry guard), the same hooks (`stamina.retry_scheduled`, `stamina_retries_total`, with
//! `callable` the layer's name or the service's type), and a sleeper of any runtime.
//!
//! ```
//! use std::time::Duration;
//! use stamina::RetryPolicy;
//! use stamina::tower::RetryLayer;
//!
//! let layer = RetryLayer::new(RetryPolicy::new().attempts(3).timeout(Duration::from_secs(5)))
//!     .name("billing-api")
//!     .per_try_timeout(Duration::from_secs(1));
//! // tower::ServiceBuilder::new().layer(layer).service(client)
//! # let _ = layer;
//! ```
//!
//! # What is retried
//!
//! A [`Classify`] sees each request's head, and the response's head or the error:
//! [`HttpClassify`] by default (429, 502, 503, 504 with `Retry-After`; 502, 504 and errors only
//! for idempotent methods), [`GrpcClassify`] for gRPC (`UNAVAILABLE`, `RESOURCE_EXHAUSTED` as
//! throttling, `grpc-retry-pushback-ms`), or a closure. A decision is made when the response's
//! head arrives, as tower's own retry and gRPC A6 decide: a response that will be retried has
//! its body drained, up to 64 KiB during the wait, then dropped, so that hyper can reuse the
//! connection (hyper closes an HTTP/1 connection whose response body was left unread; an HTTP/2
//! stream is reset instead, the connection kept). Giving up on a retried response returns it,
//! unchanged; giving up on an error returns it as [`Error::Inner`].
//!
//! # Bodies without `Clone`
//!
//! A request's body is sent as it streams and kept, chunk by chunk (refcounted `Bytes`, no copy),
//! up to a cap (64 KiB by default, [`body_cap`](RetryLayer::body_cap)): a retry plays it back,
//! then continues from the original where the first attempt left it. A body known to be longer
//! than the cap is not kept at all, and one that grows past it lets its chunks go: such a
//! request is sent once and not retried, which the hooks hear as a denied retry (`reason` `body`),
//! never an error of its own. The head (method, URI, headers, extensions) is cloned for each
//! attempt, as tower's retry clones a request.
//!
//! # Time
//!
//! The policy's `timeout` (or, in deadline mode, its deadline) spans every attempt; a
//! [`per_try_timeout`](RetryLayer::per_try_timeout) bounds each, to the smaller of it and the time
//! left. A gRPC call carries that time in `grpc-timeout`, and from its second attempt
//! `grpc-previous-rpc-attempts`; an HTTP request carries nothing of it, unless
//! [`attempt_header`](RetryLayer::attempt_header) names a header for the attempt's number.
//!
//! # Budgets
//!
//! Every clone of the service shares the layer's state, as tower clones a service per request:
//! a [`budget`](RetryLayer::budget) is split per authority (`host:port`), each with stamina's
//! exact arithmetic; [`budget_for_all`](RetryLayer::budget_for_all) shares one.
//!
//! # Throttles
//!
//! A [`throttle`](RetryLayer::throttle) per authority (or one for all,
//! [`throttle_for_all`](RetryLayer::throttle_for_all)) is asked before every attempt, the first
//! included ([`crate::throttle`]): while an authority refuses most requests, the layer stops
//! sending most of them and fails them at once with [`Error::Throttled`], and a throttled
//! retry gives back the last response or error. The replies count as the classifier decides
//! them: a retried status or error is not accepted, 429 and `RESOURCE_EXHAUSTED` are throttling.
//!
//! # Hedging
//!
//! A [`HedgeLayer`] below the retry layer hedges idempotent requests without a body
//! ([`crate::hedge`]): a second `GET` after the delay, the first answer the classifier accepts
//! winning. Give it the retry layer's budget (`budget_for_all`) for one bound on retries and
//! hedges together.

mod body;
mod classify;
mod future;
mod hedge;
mod service;

pub use self::body::{BoxError, DEFAULT_BODY_CAP, ReplayBody, Superseded};
pub use self::classify::{Classify, GrpcClassify, GrpcCode, HttpClassify};
pub use self::future::ResponseFuture;
pub use self::hedge::{Hedge, HedgeFuture, HedgeLayer};
pub use self::service::{Error, MapBody, Retry, RetryLayer, Unmapped};
