//! [`Capture`]: the `tracing` events and span lifetimes of one thread, in order, through one
//! global subscriber that routes each to the capture of its thread.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use crate::lock;

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
