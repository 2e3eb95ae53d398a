//! Helpers shared by the test binaries of this package (`stamina_tests::...`).
//!
//! - [`Failure`] and [`Flaky`]: an error with a unique id, and an operation that fails a given
//!   number of times, counting its calls and remembering the last error it returned;
//! - [`Recorder`]: owned copies of the [`RetryDetails`] that hooks see, either installed directly
//!   as a hook (binaries that serialize their tests around the global hook registry) or routed
//!   by name or thread ([`Recorder::for_name`], [`Recorder::for_this_thread`]) for binaries whose
//!   tests run in parallel;
//! - [`Log`] and [`LogGuard`]: an ordered log of what happened, and a guard that logs its drop;
//! - [`Capture`]: a `tracing` layer that records events and span lifetimes in order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::thread::ThreadId;
use std::time::Duration;

use stamina::instrumentation::{self, RetryDetails};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// Locks `mutex`, ignoring poison: a test that failed while holding it must not fail the others.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `secs` seconds, for readable expectations.
#[must_use]
pub fn secs(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// `ms` milliseconds.
#[must_use]
pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A name no other test uses, for a caller whose hook calls a test wants to see alone.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}#{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------------
// Errors and operations
// ---------------------------------------------------------------------------------------------

/// An error with an id unique in the process, to tell which error a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Failure {
    /// Unique in the process.
    pub id: u64,
    /// The number of the call (from 1) that returned it.
    pub attempt: u32,
}

impl Failure {
    /// A new error with a fresh id.
    #[must_use]
    pub fn new(attempt: u32) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Failure {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            attempt,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure #{} (attempt {})", self.id, self.attempt)
    }
}

impl std::error::Error for Failure {}

/// An operation that fails its first `failures` calls with a fresh [`Failure`] each, then
/// succeeds with the number of the call. Thread-safe, so it can be shared with async tasks.
#[derive(Debug)]
pub struct Flaky {
    failures: u32,
    calls: AtomicU32,
    last_error: Mutex<Option<Failure>>,
}

impl Flaky {
    /// Fails the first `failures` calls.
    #[must_use]
    pub const fn new(failures: u32) -> Self {
        Flaky {
            failures,
            calls: AtomicU32::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Never succeeds.
    #[must_use]
    pub const fn always() -> Self {
        Self::new(u32::MAX)
    }

    /// Never fails.
    #[must_use]
    pub const fn never() -> Self {
        Self::new(0)
    }

    /// One call of the operation.
    pub fn attempt(&self) -> Result<u32, Failure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            let error = Failure::new(n);
            *lock(&self.last_error) = Some(error);
            Err(error)
        } else {
            Ok(n)
        }
    }

    /// How many times it was called.
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The last error it returned.
    #[must_use]
    pub fn last_error(&self) -> Option<Failure> {
        *lock(&self.last_error)
    }
}

// ---------------------------------------------------------------------------------------------
// Hook calls
// ---------------------------------------------------------------------------------------------

/// An owned copy of one [`RetryDetails`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// `RetryDetails::name`.
    pub name: String,
    /// `RetryDetails::retry_num`.
    pub retry_num: u32,
    /// `RetryDetails::wait_for`.
    pub wait_for: Duration,
    /// `RetryDetails::waited_so_far`.
    pub waited_so_far: Duration,
    /// The `Debug` text of `RetryDetails::caused_by`.
    pub caused_by: String,
    /// `RetryDetails::error_type`.
    pub error_type: &'static str,
}

impl From<&RetryDetails<'_>> for Retry {
    fn from(d: &RetryDetails<'_>) -> Self {
        Retry {
            name: d.name.to_owned(),
            retry_num: d.retry_num,
            wait_for: d.wait_for,
            waited_so_far: d.waited_so_far,
            caused_by: format!("{:?}", d.caused_by),
            error_type: d.error_type,
        }
    }
}

/// Records the hook calls it is given.
#[derive(Debug, Default)]
pub struct Recorder {
    retries: Mutex<Vec<Retry>>,
}

type Matcher = Box<dyn Fn(&RetryDetails<'_>) -> bool + Send + Sync>;

/// The routes of the routing hook: which recorder sees which hook calls.
static ROUTES: Mutex<Vec<(Matcher, Weak<Recorder>)>> = Mutex::new(Vec::new());

fn route(details: &RetryDetails<'_>) {
    for (matches, recorder) in lock(&ROUTES).iter() {
        if let Some(recorder) = recorder.upgrade() {
            if matches(details) {
                recorder.record(details);
            }
        }
    }
}

impl Recorder {
    /// A recorder to install as a hook with [`hook`](Self::hook).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Installs the routing hook as the process's only hook (once per process) and returns a
    /// recorder that sees the hook calls that `matches` accepts, for as long as it lives.
    ///
    /// For binaries whose tests run in parallel: each test routes its own calls to its own
    /// recorder. A binary that uses this must not set the hooks any other way.
    pub fn routed(
        matches: impl Fn(&RetryDetails<'_>) -> bool + Send + Sync + 'static,
    ) -> Arc<Self> {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| instrumentation::set_on_retry_hooks([route]));
        let recorder = Self::new();
        let mut routes = lock(&ROUTES);
        routes.retain(|(_, r)| r.strong_count() > 0);
        routes.push((Box::new(matches), Arc::downgrade(&recorder)));
        recorder
    }

    /// [`routed`](Self::routed) to the hook calls of callers named `name`.
    #[must_use]
    pub fn for_name(name: &str) -> Arc<Self> {
        let name = name.to_owned();
        Self::routed(move |d| d.name == name)
    }

    /// [`routed`](Self::routed) to the hook calls made on the current thread: the calls of sync
    /// code and of futures on a current-thread runtime.
    #[must_use]
    pub fn for_this_thread() -> Arc<Self> {
        let me: ThreadId = std::thread::current().id();
        Self::routed(move |_| std::thread::current().id() == me)
    }

    /// Records one hook call.
    pub fn record(&self, details: &RetryDetails<'_>) {
        lock(&self.retries).push(details.into());
    }

    /// A hook that records into this recorder.
    pub fn hook(self: &Arc<Self>) -> impl Fn(&RetryDetails<'_>) + Send + Sync + 'static + use<> {
        let recorder = Arc::clone(self);
        move |d| recorder.record(d)
    }

    /// The hook calls so far.
    #[must_use]
    pub fn retries(&self) -> Vec<Retry> {
        lock(&self.retries).clone()
    }

    /// The `retry_num` of each hook call so far.
    #[must_use]
    pub fn retry_nums(&self) -> Vec<u32> {
        lock(&self.retries).iter().map(|r| r.retry_num).collect()
    }

    /// The `wait_for` of each hook call so far.
    #[must_use]
    pub fn wait_fors(&self) -> Vec<Duration> {
        lock(&self.retries).iter().map(|r| r.wait_for).collect()
    }

    /// The number of hook calls so far.
    #[must_use]
    pub fn count(&self) -> usize {
        lock(&self.retries).len()
    }
}

// ---------------------------------------------------------------------------------------------
// An ordered log
// ---------------------------------------------------------------------------------------------

/// An ordered, shared log of what happened, to check the order of attempts, hooks and drops.
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry.
    pub fn push(&self, entry: impl Into<String>) {
        lock(&self.0).push(entry.into());
    }

    /// The entries so far.
    #[must_use]
    pub fn entries(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Removes and returns the entries so far.
    #[must_use]
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }

    /// A guard that logs `drop {label}` when it is dropped.
    #[must_use]
    pub fn guard(&self, label: impl Into<String>) -> LogGuard {
        LogGuard {
            log: self.clone(),
            label: label.into(),
        }
    }
}

/// Logs `drop {label}` into its [`Log`] when dropped.
#[derive(Debug)]
pub struct LogGuard {
    log: Log,
    label: String,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.label));
    }
}

// ---------------------------------------------------------------------------------------------
// tracing
// ---------------------------------------------------------------------------------------------

/// The value of a field, as a `tracing` visitor receives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Recorded with `record_f64`.
    F64(f64),
    /// Recorded with `record_i64`.
    I64(i64),
    /// Recorded with `record_u64`.
    U64(u64),
    /// Recorded with `record_bool`.
    Bool(bool),
    /// Recorded with `record_str`.
    Str(String),
    /// Recorded with `record_debug`: the `Debug` text.
    Debug(String),
}

/// A captured `tracing` event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's target.
    pub target: String,
    /// The event's level.
    pub level: tracing::Level,
    /// The event's message, if any.
    pub message: Option<String>,
    /// The other fields, by name.
    pub fields: BTreeMap<String, Value>,
}

/// What a [`Capture`] saw, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Captured {
    /// An event.
    Event(Event),
    /// A span was created: its name and target.
    NewSpan {
        /// The span's name.
        name: &'static str,
        /// The span's target.
        target: String,
    },
    /// A span was closed (its last handle dropped).
    CloseSpan {
        /// The span's name.
        name: &'static str,
    },
}

#[derive(Default)]
struct FieldVisitor {
    message: Option<String>,
    fields: BTreeMap<String, Value>,
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        self.fields.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.put(field, Value::Debug(format!("{value:?}")));
        }
    }
}

/// A `tracing` layer that records every event and span lifetime, in order.
///
/// ```
/// let capture = stamina_tests::Capture::default();
/// tracing::subscriber::with_default(capture.subscriber(), || tracing::warn!("hi"));
/// assert_eq!(capture.events()[0].message.as_deref(), Some("hi"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// A subscriber made of this layer alone (on a registry), to install with
    /// `tracing::subscriber::with_default` or `set_default`.
    #[must_use]
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::registry().with(self.clone())
    }

    /// Everything captured so far.
    #[must_use]
    pub fn all(&self) -> Vec<Captured> {
        lock(&self.0).clone()
    }

    /// The events captured so far.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0)
            .iter()
            .filter_map(|c| match c {
                Captured::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
}

impl<S> Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _id: &span::Id, _ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        lock(&self.0).push(Captured::NewSpan {
            name: meta.name(),
            target: meta.target().to_owned(),
        });
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        lock(&self.0).push(Captured::Event(Event {
            target: meta.target().to_owned(),
            level: *meta.level(),
            message: visitor.message,
            fields: visitor.fields,
        }));
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            lock(&self.0).push(Captured::CloseSpan { name: span.name() });
        }
    }
}
