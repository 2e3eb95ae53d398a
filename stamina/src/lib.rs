//! Production-grade retries for Rust: a port of Python's [stamina], and more.
//!
//! Annotate a fallible function, name the errors worth retrying, and get exponential backoff
//! with jitter, bounded by attempts and by total time; one switch turns retries off or makes
//! them instant in tests; every retry is a `tracing` event and a Prometheus counter.
//!
//! ```
//! use std::io;
//!
//! #[stamina::retry(on = io::Error, attempts = 5, timeout = 10s)]
//! fn read_config(path: &str) -> io::Result<String> {
//!     std::fs::read_to_string(path)
//! }
//! # let _off = stamina::testing::set_active(false);
//! # assert!(read_config("/nonexistent").is_err());
//! ```
//!
//! The defaults are stamina's, chosen for calls across a network: 10 attempts, at most 45 s in
//! all, waits starting at 0.1 s and doubling up to 5 s, each with up to 1 s of random jitter.
//! On giving up, the last error comes back unchanged; an error that `on` does not name comes back
//! at once. A result predicate, `on_ok`, retries `Ok` values too (an HTTP 503 response; see
//! `stamina::http`, feature `http`), and gives the last one back when it gives up. The [`retry`]
//! attribute's docs are the reference.
//!
//! # One configuration
//!
//! [`RetryPolicy`] holds the limits and the backoff: the attribute's arguments are its setters
//! (`attempts = 5` is `.attempts(5)`), `#[retry(policy = DB_RETRIES, on = ..)]` shares one
//! between fns or reads it at run time (a `LazyLock` filled from the environment, or a config file
//! with the `serde` feature), and [`RetryingCaller`] holds one for closures.
//!
//! # Sync and async
//!
//! `#[retry]` works on `fn` and `async fn` alike, methods (`&self`, `&mut self`) included. A
//! sync fn sleeps its thread between attempts; an `async fn` sleeps on a [`Sleeper`]: by default
//! tokio's timer inside a tokio runtime, and elsewhere async-io's (smol, async-std) or
//! futures-timer's helper thread, so it runs on any executor; or one of its own. Its future stays
//! `Send` whenever the body's is. Without the attribute, [`RetryingCaller`] retries closures
//! (`call`, `call_async`) and [`RetryContext`] is the explicit loop.
//!
//! # Outages and overload
//!
//! Opt-in, each shared by the calls to one dependency: a [`RetryBudget`] caps the extra load
//! that retries add ([`budget`]); a [`Throttle`] stops sending first attempts and retries alike
//! while the dependency refuses most of them ([`throttle`]); `nested = Once` stops a retrying
//! call inside another's attempt from multiplying them; and [`hedge`] cuts the tail latency of
//! slow calls within the same budget.
//!
//! # Testing
//!
//! [`set_active(false)`](set_active) makes every retrying call run once; [`set_testing`] keeps
//! the retries but makes every wait zero and caps the attempts;
//! [`testing::TestClock`] keeps a production configuration as it is and records the waits it
//! would sleep, on virtual time, so a test asserts the exact backoff in microseconds. Both are process-wide, as in
//! stamina; [`testing`] has the same switches scoped to a thread or a task, for test suites that
//! run in parallel.
//!
//! # Instrumentation
//!
//! Each scheduled retry runs the [`instrumentation`] hooks. The defaults emit a `tracing` event
//! `stamina.retry_scheduled` (target `stamina`, level WARN) and count the retry in the
//! `stamina_retries_total{callable, retry_num, error_type}` counter of the `metrics` crate. Nothing
//! runs before the first failure: the happy path costs no allocation, lock or RNG draw.
//!
//! # Feature flags
//!
//! | feature   | default | what it does |
//! |-----------|---------|--------------|
//! | `macros`  | yes     | the `#[retry]` attribute |
//! | `tokio`   | yes     | `async` retries sleep on tokio's timer in a tokio runtime, on futures-timer's thread outside one |
//! | `async-io` | no     | `async` retries outside a tokio runtime sleep on async-io's timer (smol, async-std) |
//! | `futures-timer` | no | `async` retries outside a tokio runtime sleep on futures-timer's helper thread (any executor) |
//! | `tracing` | yes     | the default `tracing` hook ([`instrumentation::TracingOnRetryHook`]) |
//! | `metrics` | yes     | the default `metrics` hook ([`instrumentation::MetricsOnRetryHook`]) |
//! | `log`     | no      | retries are logged through `log` when no `tracing` subscriber takes them |
//! | `http`    | no      | `stamina::http`: `Retry-After`, and a classifier of responses for `on_ok` |
//! | `anyhow`  | no      | `on = SomeType` also matches inside `anyhow::Error` |
//! | `serde`   | no      | [`RetryPolicy`] deserializes from a configuration file (`"250ms"`) |
//! | `test-util` | no    | for dev-dependencies: timeouts read tokio's (pausable) clock inside a runtime |
//!
//! `tracing` 0.1 and `metrics` 0.24 are public dependencies: a subscriber or recorder built on
//! another major version would silently see nothing.
//!
//! # Minimum supported Rust version
//!
//! 1.85 (async closures).
//!
//! [stamina]: https://github.com/hynek/stamina
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attempt;
mod backoff;
pub mod budget;
mod caller;
mod clock;
mod context;
mod decision;
mod duration;
mod error;
pub mod hedge;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod instrumentation;
mod nesting;
mod on;
mod on_ok;
mod outcome;
mod policy;
mod retrying;
mod rng;
mod scope;
mod sleep;
pub mod sleeper;
pub mod stream;
pub mod testing;
pub mod throttle;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "tokio")]
mod watch;

#[doc(hidden)]
pub mod __private;

pub use attempt::Attempt;
pub use budget::RetryBudget;
pub use caller::{BoundRetryingCaller, RetryingCaller, ThrottledCaller};
pub use context::RetryContext;
pub use decision::Decision;
pub use error::ConfigError;
pub use nesting::Nesting;
pub use on_ok::{AcceptOk, OnOk};
pub use policy::RetryPolicy;
pub use policy::TimeoutMode;
pub use scope::switches::{Switches, is_active, is_testing, set_active, set_nested, set_testing};
pub use sleeper::Sleeper;
pub use throttle::{Throttle, Throttled};

#[cfg(feature = "macros")]
#[doc = include_str!("retry.md")]
pub use stamina_macros::retry;

// The expansion's items that a compile error can name, under a short name: rustc prints items
// reachable only through a hidden module with its full path (`stamina::__private::IsResult`), and
// these by their name alone. Not public API.
#[doc(hidden)]
pub use __private::{DefaultTimer, Timer, decide, predicate, sleep, sleep_on};
#[doc(hidden)]
pub use __private::{on_ok_fn, on_ok_value, show_debug};
#[doc(hidden)]
pub use on::{CanHold, MatchOutcome, Mismatched, matched};
#[doc(hidden)]
pub use outcome::{IsResult, split, split_ok};
