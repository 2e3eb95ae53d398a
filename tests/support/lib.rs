//! Helpers shared by the test binaries of this package (`stamina_tests::...`).
//!
//! - [`instant`]: a caller whose computed waits are zero;
//! - [`exclusive`]: serializes the tests of a binary that change process-wide state (the
//!   switches, the hook registry) and restores the defaults afterwards, from sync and async tests;
//! - [`Failure`] and [`Flaky`]: an error with a unique id, and an operation that fails a given
//!   number of times, counting its calls and remembering the last error it returned;
//!   [`calls_of`] and [`explicit_loop`] run one through an attribute fn or a `RetryContext` loop;
//! - [`Recorder`]: owned copies of the [`RetryDetails`] that hooks see, either installed directly
//!   as a hook (binaries whose tests take [`exclusive`]) or routed by name or thread
//!   ([`Recorder::for_name`], [`Recorder::for_this_thread`]) for binaries whose tests run in
//!   parallel;
//! - [`Log`] and [`LogGuard`]: an ordered log of what happened, and a guard that logs its drop;
//! - [`record_hook_calls`] and [`hook_calls`]: every hook call of a binary, scheduled and
//!   denied, by `callable`, for binaries whose tests run in parallel under names of their own;
//! - [`Capture`]: records the `tracing` events and span lifetimes of one thread, in order, through
//!   one global subscriber (see its docs for why not a scoped one).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::thread::ThreadId;
use std::time::Duration;

use stamina::instrumentation::{self, RetryDetails, RetryGuard};
use stamina::{Decision, RetryingCaller, Switches};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
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

/// A caller whose computed waits are zero (`wait_initial` and `wait_jitter` zero; the other
/// settings are stamina's defaults): a test with it never sleeps unless `on` asks for a wait.
#[must_use]
pub const fn instant() -> RetryingCaller {
    RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
}

// ---------------------------------------------------------------------------------------------
// Process-wide state
// ---------------------------------------------------------------------------------------------

/// The lock behind [`exclusive`].
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Set once a test of this process took [`exclusive`]; [`Recorder::routed`] refuses to run then.
static EXCLUSIVE_USED: AtomicBool = AtomicBool::new(false);

/// Set once [`Recorder::routed`] installed the routing hook; [`exclusive`] refuses to run then.
static ROUTING_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Holds the lock of [`exclusive`]; restores the defaults when dropped, before the lock is
/// released, even when the test fails.
#[derive(Debug)]
#[must_use = "the test is serialized only while the guard lives"]
pub struct Exclusive {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        stamina::set_active(true);
        stamina::set_testing(false, 1, false);
        instrumentation::reset_on_retry_hooks();
    }
}

/// Serializes the tests of this binary that change process-wide state: `stamina::set_active`,
/// `stamina::set_testing` and the hook registry. Every such test takes it first; its guard
/// restores the defaults (active, not testing, the default hooks) when it is dropped.
///
/// The lock is a `std::sync::Mutex`, taken with a blocking lock, so sync and async tests share
/// it. An async test may hold the guard across `.await`s: each `#[tokio::test]` runs its own
/// runtime on its own test thread, so a test waiting for the lock blocks only its own thread,
/// never the runtime of the test that holds it. Take it once per test, in the test's body: a
/// second `exclusive()` in a task of the same test would block, for good, the thread of the
/// runtime (a current-thread one, by default) that the holder needs in order to finish.
///
/// # Panics
///
/// In a binary that uses [`Recorder::routed`] (whose hook the guard would remove): neither runs
/// in a process where the other ran. Also if the switches are not the defaults once the lock is
/// taken: a test changed them without the lock.
pub fn exclusive() -> Exclusive {
    assert!(
        !ROUTING_INSTALLED.load(Ordering::SeqCst),
        "this binary routes hook calls (`Recorder::routed`): `exclusive()` would remove the routing hook"
    );
    EXCLUSIVE_USED.store(true, Ordering::SeqCst);
    let lock = lock(&EXCLUSIVE);
    // A test that failed before restoring the defaults cannot have left them changed: its
    // `Exclusive` restored them while unwinding. Check anyway, so a leak cannot go unnoticed.
    assert_eq!(Switches::global(), Switches::new(), "defaults not restored");
    Exclusive { _lock: lock }
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

/// Runs `f` (an attribute fn, say) with an operation that never succeeds, checks that the error
/// it gives back is the operation's last, unchanged, and returns the number of attempts made.
///
/// # Panics
///
/// If `f` succeeds, or gives back another error.
pub fn calls_of(f: impl FnOnce(&Flaky) -> Result<u32, Failure>) -> u32 {
    let flaky = Flaky::always();
    let error = f(&flaky).unwrap_err();
    assert_eq!(Some(error), flaky.last_error());
    flaky.calls()
}

/// `flaky` through the explicit loop of `caller` (`RetryContext::attempt` and `backoff`), which
/// checks that each attempt's number is the operation's call count.
///
/// # Panics
///
/// If an attempt's number is not the operation's call count.
pub fn explicit_loop(caller: &RetryingCaller, flaky: &Flaky) -> Result<u32, Failure> {
    let mut retry = caller.context(|_: &Failure| true);
    loop {
        let attempt = retry.attempt();
        assert_eq!(attempt.num, flaky.calls() + 1);
        match flaky.attempt() {
            Ok(v) => return Ok(v),
            Err(e) => retry.backoff(e)?,
        }
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
    /// `RetryDetails::caused_by_text`, as the default hooks log it.
    pub caused_by_text: String,
    /// The `Display` text of each error in `RetryDetails::dyn_error` and its `source()` chain;
    /// empty where `dyn_error` is `None`.
    pub error_chain: Vec<String>,
    /// Whether `RetryDetails::error` (the error as a `dyn Error + 'static`, to downcast) is
    /// `Some`.
    pub downcastable: bool,
    /// The kind of the first `std::io::Error` in `RetryDetails::error` and its sources, found
    /// by downcasting in the hook.
    pub io_error_kind: Option<std::io::ErrorKind>,
    /// `RetryDetails::error_type`.
    pub error_type: &'static str,
    /// `RetryDetails::decision`.
    pub decision: Decision,
    /// `RetryDetails::is_value`.
    pub is_value: bool,
    /// `RetryDetails::attempt.elapsed()`, read in the hook.
    pub elapsed: Option<Duration>,
    /// `RetryDetails::attempt.remaining()`, read in the hook.
    pub remaining: Option<Duration>,
}

impl From<&RetryDetails<'_>> for Retry {
    fn from(d: &RetryDetails<'_>) -> Self {
        Retry {
            name: d.name.to_owned(),
            retry_num: d.retry_num,
            wait_for: d.wait_for,
            waited_so_far: d.waited_so_far,
            caused_by: format!("{:?}", d.caused_by),
            caused_by_text: d.caused_by_text.to_string(),
            error_chain: std::iter::successors(d.dyn_error, |e| e.source())
                .map(ToString::to_string)
                .collect(),
            downcastable: d.error.is_some(),
            io_error_kind: std::iter::successors(d.error, |e| e.source())
                .find_map(|e| e.downcast_ref::<std::io::Error>())
                .map(std::io::Error::kind),
            error_type: d.error_type,
            decision: d.decision,
            is_value: d.is_value,
            elapsed: d.attempt.elapsed(),
            remaining: d.attempt.remaining(),
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
    ///
    /// # Panics
    ///
    /// In a binary whose tests take [`exclusive`].
    pub fn routed(
        matches: impl Fn(&RetryDetails<'_>) -> bool + Send + Sync + 'static,
    ) -> Arc<Self> {
        static INSTALL: Once = Once::new();
        assert!(
            !EXCLUSIVE_USED.load(Ordering::SeqCst),
            "this binary sets the hooks under `exclusive()`: routing would be reset by its guard"
        );
        INSTALL.call_once(|| {
            ROUTING_INSTALLED.store(true, Ordering::SeqCst);
            instrumentation::set_on_retry_hooks([route]);
        });
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

    /// One attempt of `flaky` that first logs `attempt N` (N its call number, from 1).
    pub fn attempt(&self, flaky: &Flaky) -> Result<u32, Failure> {
        self.push(format!("attempt {}", flaky.calls() + 1));
        flaky.attempt()
    }

    /// A hook that logs `hook N` (N the `retry_num`) and returns a guard that logs `drop N`.
    pub fn guarding_hook(
        &self,
    ) -> impl Fn(&RetryDetails<'_>) -> RetryGuard + Send + Sync + 'static + use<> {
        let log = self.clone();
        move |d| {
            log.push(format!("hook {}", d.retry_num));
            RetryGuard::new(log.guard(d.retry_num.to_string()))
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

/// Records the `tracing` events and span lifetimes of one thread, in order, while it is the
/// thread's capture ([`with_default`](Self::with_default), [`set_default`](Self::set_default)).
///
/// ```
/// let capture = stamina_tests::Capture::default();
/// capture.with_default(|| tracing::warn!("hi"));
/// assert_eq!(capture.events()[0].message.as_deref(), Some("hi"));
/// ```
///
/// It is not a scoped subscriber of its own, on purpose. `tracing` caches each callsite's
/// *interest* process-wide, computed when the callsite is first hit; while a single dispatcher
/// is registered, it is computed against the default subscriber of whichever thread gets there
/// first (tokio-rs/tracing#3611). A scoped subscriber (`tracing::subscriber::with_default`,
/// `set_default`) on one test thread and a retry on another test thread with no subscriber make
/// that thread's `Interest::never()` win now and then: stamina's event is then skipped even on
/// the thread that is capturing. So the first capture of a process installs one global
/// subscriber for good, a registry with a layer that is interested in every callsite and hands
/// each event to the capture of the thread it happens on (and each span to the capture that saw
/// it open). Every thread's default is then that subscriber, every callsite's interest
/// "always", and captures of parallel tests stay apart.
///
/// The installation runs once, and other threads that start a capture meanwhile wait for it;
/// it then rebuilds the interest of the callsites registered before it. In a binary where every
/// test that retries begins with a capture, no callsite is ever registered against another
/// subscriber. The binary must install no global subscriber of its own.
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<Captured>>>);

thread_local! {
    /// The capture of this thread, if any.
    static CURRENT: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// The capture of the current thread (none in a thread-local destructor).
fn current_capture() -> Option<Capture> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Installs the routing subscriber as the process's global default, once.
fn install_routing_subscriber() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Router))
            .expect("a test binary that uses `Capture` installs no global subscriber of its own");
        // Callsites registered between the dispatcher's registration and its becoming the
        // global default were computed against no subscriber: compute them again, from this
        // thread, whose default is now the global one.
        tracing::callsite::rebuild_interest_cache();
    });
}

/// Restores the thread's previous capture when dropped.
#[derive(Debug)]
#[must_use = "the capture ends when the guard is dropped"]
pub struct CaptureGuard {
    previous: Option<Capture>,
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

impl Capture {
    /// Makes this the current thread's capture until the guard is dropped (as
    /// `tracing::subscriber::set_default` does for a subscriber).
    pub fn set_default(&self) -> CaptureGuard {
        install_routing_subscriber();
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        CaptureGuard { previous }
    }

    /// Runs `f` with this as the current thread's capture (as
    /// `tracing::subscriber::with_default` does for a subscriber).
    pub fn with_default<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.set_default();
        f()
    }

    fn push(&self, captured: Captured) {
        lock(&self.0).push(captured);
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

/// The layer of the global subscriber behind [`Capture`]: interested in everything, it hands
/// each event to the current thread's capture, and each span to the capture that saw it open.
struct Router;

impl<S> Layer<S> for Router
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(capture) = current_capture() else {
            return;
        };
        let meta = attrs.metadata();
        capture.push(Captured::NewSpan {
            name: meta.name(),
            target: meta.target().to_owned(),
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(capture);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let Some(capture) = current_capture() else {
            return;
        };
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        capture.push(Captured::Event(Event {
            target: meta.target().to_owned(),
            level: *meta.level(),
            message: visitor.message,
            fields: visitor.fields,
        }));
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(capture) = span.extensions().get::<Capture>() {
                capture.push(Captured::CloseSpan { name: span.name() });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hook calls, scheduled and denied, by name
// ---------------------------------------------------------------------------------------------

/// `(callable, entry)` for every hook call since [`record_hook_calls`].
static HOOK_CALLS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

struct HookCalls;

impl instrumentation::RetryHook for HookCalls {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        let entry = format!("retry {}", details.retry_num);
        lock(&HOOK_CALLS).push((details.name.to_owned(), entry));
        None
    }

    fn on_denied(&self, details: &instrumentation::DeniedDetails<'_>) {
        let entry = format!("denied:{} {}", details.reason.as_str(), details.retry_num);
        lock(&HOOK_CALLS).push((details.name.to_owned(), entry));
    }
}

/// Installs, once per process, the binary's only hook: it records every scheduled retry and
/// every denied one, for [`hook_calls`].
///
/// # Panics
///
/// In a binary whose tests take [`exclusive`], whose guard would reset it.
pub fn record_hook_calls() {
    static INSTALL: Once = Once::new();
    assert!(
        !EXCLUSIVE_USED.load(Ordering::SeqCst),
        "this binary sets the hooks under `exclusive()`: the recording hook would be reset"
    );
    INSTALL.call_once(|| {
        ROUTING_INSTALLED.store(true, Ordering::SeqCst);
        instrumentation::set_on_retry_hooks([HookCalls]);
    });
}

/// The hook calls of the callable `name`, in order: `"retry 1"` for a scheduled retry,
/// `"denied:budget 2"` or `"denied:nested 1"` for a denied one.
#[must_use]
pub fn hook_calls(name: &str) -> Vec<String> {
    lock(&HOOK_CALLS)
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, entry)| entry.clone())
        .collect()
}
