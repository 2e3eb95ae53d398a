//! Redaction: a way to rewrite what the default hooks emit, for errors that carry secrets (a
//! URL with a token, SQL with its values) in their text.
//!
//! One redactor for the process ([`set_redactor`]), read by the default hooks (the `tracing`
//! event, the `log` record, the metrics labels) for each retry they report. Without one, a
//! report pays one atomic load for it and allocates nothing.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::cause::{CausedBy, one_line};

/// Rewrites what the default hooks emit of a retry (or a denied one): its `caused_by` text and
/// its `callable` label. Each method's default leaves its field as it is.
///
/// The default hooks are the only readers: a hook of one's own sees
/// [`RetryDetails`](super::RetryDetails) whole, as before.
///
/// ```
/// use std::fmt;
/// use stamina::instrumentation::{self, CausedBy, Redact};
///
/// /// Keeps what an error says before its first `?` (a URL's query, with its token, goes).
/// struct DropQueries;
///
/// impl Redact for DropQueries {
///     fn caused_by(&self, cause: &CausedBy<'_>, out: &mut fmt::Formatter<'_>) -> fmt::Result {
///         let text = cause.to_string(); // only when a retry is reported
///         out.write_str(text.split('?').next().unwrap_or_default())
///     }
/// }
///
/// instrumentation::set_redactor(DropQueries);
/// # instrumentation::reset_redactor();
/// ```
///
/// A closure `Fn(&CausedBy<'_>, &mut fmt::Formatter<'_>) -> fmt::Result` is a redactor of
/// `caused_by` alone.
pub trait Redact: Send + Sync + 'static {
    /// Writes the `caused_by` text as the default hooks emit it: by default `cause` itself, one
    /// line of at most [`CAUSED_BY_MAX_LEN`](super::CAUSED_BY_MAX_LEN) bytes. Whatever this
    /// writes is held to the same line and bound.
    fn caused_by(&self, cause: &CausedBy<'_>, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(cause, out)
    }

    /// The `callable` label as the default hooks emit it, in the event, the record and the
    /// metrics label: by default `name` itself.
    fn callable<'a>(&self, name: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(name)
    }
}

impl<F> Redact for F
where
    F: Fn(&CausedBy<'_>, &mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync + 'static,
{
    fn caused_by(&self, cause: &CausedBy<'_>, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        self(cause, out)
    }
}

static SET: AtomicBool = AtomicBool::new(false);
static REDACTOR: RwLock<Option<Arc<dyn Redact>>> = RwLock::new(None);

/// Sets the process's redactor, replacing any other: from the next retry reported on, the
/// default hooks emit what it writes.
pub fn set_redactor(redactor: impl Redact) {
    *REDACTOR.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(redactor));
    SET.store(true, Ordering::Release);
}

/// Removes the process's redactor: the default hooks emit the fields as they are.
pub fn reset_redactor() {
    SET.store(false, Ordering::Release);
    *REDACTOR.write().unwrap_or_else(PoisonError::into_inner) = None;
}

/// The redactor in force, if any: one atomic load when there is none.
pub(crate) fn current() -> Option<Arc<dyn Redact>> {
    if !SET.load(Ordering::Acquire) {
        return None;
    }
    REDACTOR
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// `caused_by` as the default hooks emit it: through the redactor, if any, on one bounded line.
pub(crate) struct Emitted<'a, 'r> {
    pub(crate) cause: CausedBy<'a>,
    pub(crate) redactor: Option<&'r dyn Redact>,
}

impl fmt::Display for Emitted<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(redactor) = self.redactor else {
            return fmt::Display::fmt(&self.cause, f);
        };
        one_line(f, |out| write!(out, "{}", Through(&self.cause, redactor)))
    }
}

/// What a redactor writes of a cause, to be held to one line.
struct Through<'a, 'r>(&'a CausedBy<'a>, &'r dyn Redact);

impl fmt::Display for Through<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.1.caused_by(self.0, f)
    }
}

/// The `callable` label as the default hooks emit it.
pub(crate) fn callable<'a>(redactor: Option<&dyn Redact>, name: &'a str) -> Cow<'a, str> {
    match redactor {
        Some(redactor) => redactor.callable(name),
        None => Cow::Borrowed(name),
    }
}
