//! Error types that are generic or borrow their input, under `#[retry]`: every shape compiles,
//! retries, and gives its last error back; hooks see such an error's text and sources
//! (`RetryDetails::dyn_error`), but cannot downcast it (`RetryDetails::error` is `None`: only a
//! `'static` error is a `dyn Error + 'static`).
//!
//! Regression: these compiled at a8c56d5 and then failed with E0310 ("the parameter type `T` may
//! not live long enough") or "lifetime may not live long enough", from the probe that shows hooks
//! the error as a `dyn Error + 'static`.
//!
//! Hooks are routed per thread ([`Recorder::for_this_thread`]), so the tests run in parallel.

use std::error::Error;
use std::fmt;

use stamina_tests::Recorder;

#[derive(Debug)]
struct GenericErr<T>(T);

impl<T: fmt::Debug> fmt::Display for GenericErr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "generic {:?}", self.0)
    }
}

impl<T: fmt::Debug> Error for GenericErr<T> {}

#[derive(Debug)]
struct Borrowed<'a>(&'a str);

impl fmt::Display for Borrowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot parse {:?}", self.0)
    }
}

impl Error for Borrowed<'_> {}

#[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn generic_fn<T: Default + fmt::Debug>() -> Result<(), GenericErr<T>> {
    Err(GenericErr(T::default()))
}

#[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
async fn generic_fn_async<T: Default + fmt::Debug>() -> Result<(), GenericErr<T>> {
    Err(GenericErr(T::default()))
}

struct Cache<T>(T);

impl<T: Default + fmt::Debug + Clone> Cache<T> {
    // The impl's `T`: the attribute cannot see its declaration.
    #[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn get(&self) -> Result<(), GenericErr<T>> {
        Err(GenericErr(self.0.clone()))
    }

    #[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    async fn get_async(&self) -> Result<(), GenericErr<T>> {
        Err(GenericErr(self.0.clone()))
    }

    // `on = Type` with a generic error type.
    #[stamina::retry(on = GenericErr<T>, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn typed(&self) -> Result<(), GenericErr<T>> {
        Err(GenericErr(self.0.clone()))
    }
}

#[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn borrowed(s: &str) -> Result<(), Borrowed<'_>> {
    Err(Borrowed(s))
}

#[stamina::retry(on = |_| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
async fn borrowed_async(s: &str) -> Result<(), Borrowed<'_>> {
    Err(Borrowed(s))
}

#[stamina::retry(on = Borrowed<'_>, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn borrowed_typed<'a>(s: &'a str) -> Result<(), Borrowed<'a>> {
    Err(Borrowed(s))
}

/// Each recorded retry shows the error's text, and no downcastable error.
fn assert_seen_as_text(recorder: &Recorder, text: &str) {
    let retries = recorder.retries();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0].caused_by_text, text);
    assert_eq!(retries[0].error_chain, [text]);
    assert!(!retries[0].downcastable, "{:?}", retries[0]);
}

#[test]
fn a_generic_error_type_is_retried_and_shown_as_text() {
    let recorder = Recorder::for_this_thread();
    let error = generic_fn::<u32>().unwrap_err();
    assert_eq!(error.0, 0);
    assert_seen_as_text(&recorder, "generic 0");
}

#[test]
fn an_error_generic_over_the_impls_parameter_is_retried() {
    let recorder = Recorder::for_this_thread();
    let cache = Cache(7_u8);
    assert_eq!(cache.get().unwrap_err().0, 7);
    assert_seen_as_text(&recorder, "generic 7");
    let recorder = Recorder::for_this_thread();
    assert_eq!(cache.typed().unwrap_err().0, 7);
    assert_seen_as_text(&recorder, "generic 7");
}

#[test]
fn a_borrowed_error_comes_back_borrowing_the_input() {
    let recorder = Recorder::for_this_thread();
    let input = String::from("x=1");
    let error = borrowed(&input).unwrap_err();
    assert!(std::ptr::eq(error.0, input.as_str()));
    assert_seen_as_text(&recorder, "cannot parse \"x=1\"");
    let recorder = Recorder::for_this_thread();
    assert!(borrowed_typed(&input).is_err());
    assert_seen_as_text(&recorder, "cannot parse \"x=1\"");
}

#[tokio::test]
async fn async_twins_compile_and_retry() {
    let recorder = Recorder::for_this_thread();
    assert!(generic_fn_async::<u32>().await.is_err());
    assert!(Cache(1_u8).get_async().await.is_err());
    let input = String::from("y");
    assert!(borrowed_async(&input).await.is_err());
    let texts: Vec<String> = recorder
        .retries()
        .into_iter()
        .map(|r| r.caused_by_text)
        .collect();
    assert_eq!(texts, ["generic 0", "generic 1", "cannot parse \"y\""]);
}
