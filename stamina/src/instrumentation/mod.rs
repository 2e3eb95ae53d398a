//! Instrumentation: hooks that run for every scheduled retry.
//!
//! A hook runs after stamina decided to retry and before it sleeps: a call whose `N` attempts all
//! fail runs each hook `N - 1` times, with `retry_num` 1 to `N - 1`; never for the first attempt,
//! a success or the final failure. Hooks are process-global, like stamina's; the default ones are
//! [`MetricsOnRetryHook`] (feature `metrics`) and [`TracingOnRetryHook`] (feature `tracing`),
//! which falls back to the `log` crate when no subscriber takes its event (feature `log`;
//! without `tracing`, `LogOnRetryHook` is the default instead).
//!
//! ```
//! use stamina::instrumentation::{self, RetryDetails};
//!
//! instrumentation::set_on_retry_hooks([|d: &RetryDetails<'_>| {
//!     eprintln!("retry #{} of {} in {:?}: {:?}", d.retry_num, d.name, d.wait_for, d.caused_by);
//! }]);
//! # instrumentation::reset_on_retry_hooks();
//! ```
//!
//! # Wiring the default hooks
//!
//! The `tracing` event goes wherever a subscriber sends it; with `tracing-subscriber`'s `fmt`
//! layer, one line per retry:
//!
//! ```
//! tracing_subscriber::fmt().with_target(true).init();
//! // WARN stamina: stamina.retry_scheduled callable="app::fetch" retry_num=1
//! //     caused_by=request failed: connection refused wait_for=0.1 waited_so_far=0.0
//! ```
//!
//! The counter goes to whichever `metrics` recorder is installed; with
//! `metrics-exporter-prometheus`, rendered for a `/metrics` endpoint:
//!
//! ```
//! use metrics_exporter_prometheus::PrometheusBuilder;
//!
//! let prometheus = PrometheusBuilder::new().install_recorder().expect("no other recorder");
//! // .. later, in the handler of `/metrics`:
//! let exposition: String = prometheus.render();
//! // stamina_retries_total{callable="app::fetch",retry_num="1",error_type="app::ApiError"} 3
//! # let _ = exposition;
//! ```
//!
//! A program that logs through the `log` crate instead turns on stamina's `log` feature: a retry
//! whose `tracing` event no subscriber takes is logged through `log` (see `LogOnRetryHook`, feature `log`).
//!
//! # What hooks see
//!
//! [`RetryDetails`] holds the retry's cause whole ([`caused_by`](RetryDetails::caused_by), as
//! `&dyn Debug`), and as a `dyn Error` where it is one ([`error`](RetryDetails::error)), to walk
//! its `source()` chain or downcast it: always for `#[retry]`, which sees the fn's error type
//! when it expands; for a caller or a loop once it is
//! [`error_aware`](crate::RetryingCaller::error_aware). [`caused_by_text`](RetryDetails::caused_by_text)
//! is the one bounded line that the default hooks log. The labels:
//!
//! - `callable`: the fn's path for `#[retry]`; a caller's name, else the path of the fn its
//!   operation closure is written in; a loop's name, else its call site (`src/sync.rs:42`).
//! - `error_type`: the error's type (`my_crate::ApiError`); for a type-erased error that
//!   `on = SomeType` downcast, that type; for one that nothing downcast, a short name
//!   (`Box<dyn Error + Send + Sync>`, `anyhow::Error`); for a retried value, its type.
//! - `retry_num`: the retry's number, in the metrics label `1` to `9`, then `10+`
//!   ([`RETRY_NUM_LABEL_MAX`]), so that calls without an attempt limit do not grow the label
//!   set without bound.
//!
//! # Secrets in logs
//!
//! An error's text may carry a secret: a URL with its token, SQL with its values. A
//! [`Redact`]or set with [`set_redactor`] rewrites what the default hooks emit, `caused_by`
//! and `callable`, in the `tracing` event, the `log` record and the metrics labels alike (a
//! hook of one's own sees the details whole). Without one, nothing is rewritten and a report
//! pays one atomic load for it. The fn's arguments are never logged.
//!
//! # Guards
//!
//! A hook may return a [`RetryGuard`]: any `Send + 'static` value, kept alive across the backoff
//! sleep and dropped exactly once, right before the next attempt starts, or when the retrying
//! call is cancelled (its future dropped mid-sleep). Guards are dropped in reverse order of the
//! hooks. This is stamina's context-manager hooks without their bug (stamina exits them again on
//! every later attempt and across calls). Hold a `tracing::Span`, not an `Entered` guard, so that
//! a retrying `async fn` stays `Send`.
//!
//! # Panics in hooks
//!
//! A hook that panics is a bug in the hook, and the panic propagates out of the retrying call, as
//! any panic in the operation would: stamina does not swallow it, and the call's error is dropped
//! during the unwind. Nothing global is poisoned: later calls run the hooks again as usual, and a
//! [`RetryHookFactory`] that panicked is called again on the next retry.
//!
//! # Asserting on stamina's events in tests
//!
//! `tracing` caches each callsite's *interest* for the whole process, decided once, by the first
//! thread that reaches it, from that thread's default subscriber (tokio-rs/tracing#3611). If one
//! test captures events with a scoped subscriber (`tracing::subscriber::with_default`) while a
//! test on another thread, with no subscriber, retries first, `stamina.retry_scheduled` can be
//! cached as "never" and go missing even on the capturing thread: intermittently, and more often
//! the more test threads there are. `tracing::callsite::rebuild_interest_cache()` in the scope
//! does not fix it. Instead, install **one global subscriber per test binary**, once, before
//! anything retries: a `tracing_subscriber::registry()` with a layer whose `register_callsite`
//! returns `Interest::always()` and that hands each event to the current test's capture (kept
//! in a thread-local that each test sets and restores), and call `rebuild_interest_cache()`
//! right after `set_global_default`. stamina's own tests do this (`tests/support/capture.rs`,
//! `Capture`).
//!
//! # Cost
//!
//! Nothing here runs before the first failure. On a retry, the registry is read without a lock
//! (one atomic load tells whether the thread's copy of it is current) and each hook is called in
//! order.

mod cause;
mod guards;
mod hook;
#[cfg(feature = "log")]
mod log;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg_attr(
    not(any(feature = "tracing", feature = "log", feature = "metrics")),
    allow(dead_code, reason = "read by the default hooks")
)]
mod redact;
mod registry;
#[cfg(feature = "tracing")]
mod tracing;
mod view;

pub use self::cause::{CAUSED_BY_MAX_LEN, CausedBy};
pub(crate) use self::cause::{enclosing_fn, label, site_label};
pub(crate) use self::guards::Guards;
pub use self::hook::{
    DeniedDetails, DenyReason, HedgeDetails, HedgeReason, Hook, IntoRetryGuard, RetryDetails,
    RetryGuard, RetryHook, RetryHookFactory, ThrottleAction, ThrottleDetails,
};
#[cfg(feature = "log")]
pub use self::log::LogOnRetryHook;
#[cfg(feature = "metrics")]
pub use self::metrics::{MetricsOnRetryHook, RETRY_NUM_LABEL_MAX};
pub use self::redact::{Redact, reset_redactor, set_redactor};
pub(crate) use self::registry::{any_hooks, run_denied, run_hedge, run_hooks, run_throttled};
pub use self::registry::{get_on_retry_hooks, reset_on_retry_hooks, set_on_retry_hooks};
#[cfg(feature = "tracing")]
pub use self::tracing::TracingOnRetryHook;
#[doc(hidden)]
pub use self::view::Cause;
pub use self::view::{DebugOnly, ErrorAware, ErrorView};
#[doc(hidden)]
pub use self::view::{ErasedCause, ErrorProbe, LocalErrorProbe, OpaqueCause, TypedCause, kind};
