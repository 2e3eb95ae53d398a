//! What a retry's cause reads like: one bounded line of text for logs ([`CausedBy`]), and the
//! `error_type` label a user recognises ([`type_label`]).

use std::any::type_name;
use std::collections::HashMap;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::sync::{PoisonError, RwLock};

/// The most bytes of text that [`CausedBy`] writes, `…` excluded: 1 KiB.
pub const CAUSED_BY_MAX_LEN: usize = 1024;

/// A retry's cause as one line of text, at most [`CAUSED_BY_MAX_LEN`] bytes: what the default
/// hooks log as `caused_by`. From [`RetryDetails::caused_by_text`](super::RetryDetails::caused_by_text).
///
/// - An error seen as a `dyn Error` ([`RetryDetails::dyn_error`](super::RetryDetails::dyn_error)) reads
///   as its `Display` and then each `source()`'s, joined by `": "`, as `anyhow` prints with `{:#}`:
///   `error sending request: connection refused`. An `anyhow::Error` never prints its
///   backtrace here.
/// - Any other error, and a retried `Ok` value, reads as its `Debug`.
///
/// Line breaks are written as `\n` and `\r`, so that an event stays on one line. Text beyond
/// the cap is cut at a character boundary and marked with `…`; formatting stops there, so a huge
/// `Debug` costs the cap, not its size. Nothing is allocated.
#[derive(Clone, Copy)]
pub struct CausedBy<'a> {
    pub(crate) debug: &'a dyn fmt::Debug,
    pub(crate) error: Option<&'a dyn Error>,
}

impl fmt::Debug for CausedBy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for CausedBy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(f, |out| match self.error {
            Some(error) => chain(out, error),
            None => write!(out, "{:?}", self.debug),
        })
    }
}

/// Writes what `write` writes as one line of at most [`CAUSED_BY_MAX_LEN`] bytes, marked `…`
/// where the cap cut it.
pub(crate) fn one_line(
    f: &mut fmt::Formatter<'_>,
    write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
) -> fmt::Result {
    let mut out = OneLine {
        out: f,
        left: CAUSED_BY_MAX_LEN,
        full: false,
    };
    match write(&mut out) {
        Ok(()) => Ok(()),
        // The cap, not the formatter, stopped the text.
        Err(_) if out.full => out.out.write_char('…'),
        Err(e) => Err(e),
    }
}

/// `error: source: source of source`.
fn chain(out: &mut dyn fmt::Write, error: &dyn Error) -> fmt::Result {
    write!(out, "{error}")?;
    let mut source = error.source();
    while let Some(cause) = source {
        // A source chain that loops ends at the cap: each turn writes at least `": "`.
        write!(out, ": {cause}")?;
        source = cause.source();
    }
    Ok(())
}

/// A writer that escapes line breaks and stops at a byte budget.
struct OneLine<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    left: usize,
    /// The budget ran out: the `Err` that follows is the cap's.
    full: bool,
}

impl OneLine<'_, '_> {
    /// Writes `s` whole, or as much of it as the budget takes.
    #[inline]
    fn raw(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.left -= s.len();
            return self.out.write_str(s);
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.write_str(&s[..end])?;
        self.left = 0;
        self.full = true;
        Err(fmt::Error)
    }
}

impl fmt::Write for OneLine<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Nearly always: no line break (`memchr`, twice).
        let bytes = s.as_bytes();
        if !bytes.contains(&b'\n') && !bytes.contains(&b'\r') {
            return self.raw(s);
        }
        // A byte scan: `\n` and `\r` never occur inside a multi-byte character.
        let mut start = 0;
        for (i, &byte) in s.as_bytes().iter().enumerate() {
            let escape = match byte {
                b'\n' => "\\n",
                b'\r' => "\\r",
                _ => continue,
            };
            self.raw(&s[start..i])?;
            self.raw(escape)?;
            start = i + 1;
        }
        self.raw(&s[start..])
    }
}

/// The `error_type` label of an error type's name: the name itself (`my_crate::ApiError`),
/// except for the type-erased errors, whose full names are long and say little:
/// `Box<dyn Error + Send + Sync>` rather than
/// `alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>`.
pub(crate) fn type_label(name: &'static str) -> &'static str {
    if name.starts_with("alloc::boxed::Box<dyn core::error::Error") {
        const ERASED: [&str; 3] = [
            "Box<dyn Error + Send + Sync>",
            "Box<dyn Error + Send>",
            "Box<dyn Error>",
        ];
        let full = [
            type_name::<Box<dyn Error + Send + Sync>>(),
            type_name::<Box<dyn Error + Send>>(),
            type_name::<Box<dyn Error>>(),
        ];
        if let Some(i) = full.iter().position(|f| *f == name) {
            return ERASED[i];
        }
    }
    name
}

/// The `error_type` label of a type.
#[must_use]
pub(crate) fn label<E: ?Sized>() -> &'static str {
    type_label(type_name::<E>())
}

/// The path of the fn that a closure is written in, from the closure's type name:
/// `my_crate::sync::{{closure}}::{{closure}}` gives `my_crate::sync`. Any other name is its own.
pub(crate) fn enclosing_fn(mut name: &str) -> &str {
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    name
}

/// The `callable` label of a call site: `src/sync.rs:42`. Made once per site, then kept for the
/// process (a program has as many as it has loops in its source).
pub(crate) fn site_label(site: &'static Location<'static>) -> &'static str {
    static SITES: RwLock<Option<HashMap<&'static Location<'static>, &'static str>>> =
        RwLock::new(None);
    let known = SITES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|sites| sites.get(site).copied());
    if let Some(label) = known {
        return label;
    }
    let mut sites = SITES.write().unwrap_or_else(PoisonError::into_inner);
    sites
        .get_or_insert_with(HashMap::new)
        .entry(site)
        .or_insert_with(|| Box::leak(format!("{}:{}", site.file(), site.line()).into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    fn text(debug: &dyn fmt::Debug, error: Option<&dyn Error>) -> String {
        CausedBy { debug, error }.to_string()
    }

    #[test]
    fn an_error_reads_as_its_chain() {
        let e = Layer(
            "request failed",
            Some(Box::new(Layer("connection refused", None))),
        );
        assert_eq!(text(&e, Some(&e)), "request failed: connection refused");
    }

    #[test]
    fn anything_else_reads_as_its_debug_on_one_line() {
        assert_eq!(text(&"a\nb\r\nc", None), r#""a\nb\r\nc""#);
        let multiline = Layer("one\ntwo", None);
        assert_eq!(text(&multiline, Some(&multiline)), "one\\ntwo");
    }

    #[test]
    fn long_text_stops_at_the_cap_on_a_char_boundary() {
        let huge = "é".repeat(1 << 20);
        let shown = text(&huge, None);
        assert!(shown.ends_with('…'));
        let body = shown.strip_suffix('…').unwrap();
        assert!(body.len() <= CAUSED_BY_MAX_LEN && body.len() > CAUSED_BY_MAX_LEN - 2);
        assert!(body.starts_with("\"éé"));
        // Exactly at the cap: no mark.
        let exact = "x".repeat(CAUSED_BY_MAX_LEN - 2);
        assert_eq!(text(&exact, None).len(), CAUSED_BY_MAX_LEN);
    }

    #[test]
    fn a_looping_chain_ends_at_the_cap() {
        struct Loop;
        impl fmt::Debug for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Loop")
            }
        }
        impl fmt::Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("loop")
            }
        }
        impl Error for Loop {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&Loop)
            }
        }
        let shown = text(&Loop, Some(&Loop));
        assert!(shown.starts_with("loop: loop: "));
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn closures_are_labelled_with_their_fn() {
        assert_eq!(enclosing_fn("app::sync::{{closure}}"), "app::sync");
        assert_eq!(
            enclosing_fn("<app::Db as app::Store>::get::{{closure}}::{{closure}}"),
            "<app::Db as app::Store>::get"
        );
        assert_eq!(enclosing_fn("app::fetch"), "app::fetch");
    }

    #[test]
    fn call_sites_are_labelled_once() {
        let here = Location::caller();
        let label = site_label(here);
        assert_eq!(label, format!("{}:{}", here.file(), here.line()));
        assert!(std::ptr::eq(label, site_label(here)));
    }

    #[test]
    fn erased_errors_get_short_labels() {
        assert_eq!(
            type_label(type_name::<Box<dyn Error + Send + Sync>>()),
            "Box<dyn Error + Send + Sync>"
        );
        assert_eq!(type_label(type_name::<Box<dyn Error>>()), "Box<dyn Error>");
        assert_eq!(
            type_label(type_name::<std::io::Error>()),
            "std::io::error::Error"
        );
    }
}
