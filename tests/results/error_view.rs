//! What hooks see of an error: `RetryDetails::error` as a `dyn Error` (to walk its sources or
//! downcast it) for errors that are one, `Box<dyn Error>` and `anyhow::Error` included; the
//! `error_type` label a user recognises; `caused_by_text` as one bounded line. The attribute
//! decides when it expands; the callers and loops once they are `error_aware`.
//!
//! Hooks are routed per thread ([`Recorder::for_this_thread`]), so the tests run in parallel.

use stamina::instrumentation::CAUSED_BY_MAX_LEN;
use stamina::retry;
use stamina_tests::{Failure, Flaky, Recorder, instant};
use std::error::Error;
use std::fmt;
use std::io;

type BoxError = Box<dyn Error + Send + Sync>;

/// An error with a source, as libraries build them.
#[derive(Debug)]
struct Request {
    source: io::Error,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request failed")
    }
}

impl Error for Request {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

fn refused() -> Request {
    Request {
        source: io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused"),
    }
}

#[retry(on = Request, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn typed() -> Result<(), Request> {
    Err(refused())
}

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn boxed_downcast(flaky: &Flaky) -> Result<u32, BoxError> {
    Ok(flaky.attempt()?)
}

#[retry(on = |_: &BoxError| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn boxed_predicate(flaky: &Flaky) -> Result<u32, BoxError> {
    Ok(flaky.attempt()?)
}

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn with_anyhow(flaky: &Flaky) -> anyhow::Result<u32> {
    use anyhow::Context as _;
    flaky.attempt().context("syncing users")
}

#[retry(on = |_: &String| true, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn stringly() -> Result<(), String> {
    Err("disk\nfull".to_owned())
}

#[retry(on = Request, attempts = 2, wait_initial = 0, wait_jitter = 0)]
async fn typed_async() -> Result<(), Request> {
    tokio::task::yield_now().await;
    Err(refused())
}

#[test]
fn the_attribute_shows_an_error_with_its_sources() {
    let recorder = Recorder::for_this_thread();
    let _ = typed();
    let retry = &recorder.retries()[0];
    assert_eq!(retry.error_chain, ["request failed", "connection refused"]);
    assert_eq!(retry.caused_by_text, "request failed: connection refused");
    assert_eq!(
        retry.caused_by,
        format!("{:?}", refused()),
        "`caused_by` is whole"
    );
    assert_eq!(retry.error_type, "Request", "`on`'s type as written");
    assert!(!retry.is_value);
}

#[tokio::test]
async fn an_async_fn_shows_its_error_too() {
    let recorder = Recorder::for_this_thread();
    let _ = typed_async().await;
    assert_eq!(
        recorder.retries()[0].caused_by_text,
        "request failed: connection refused"
    );
}

#[test]
fn a_boxed_error_is_a_dyn_error_labelled_with_the_type_it_downcast_to() {
    let recorder = Recorder::for_this_thread();
    let _ = boxed_downcast(&Flaky::always());
    let _ = boxed_predicate(&Flaky::always());
    let retries = recorder.retries();
    assert_eq!(retries[0].error_type, "Failure");
    assert_eq!(retries[1].error_type, "Box<dyn Error + Send + Sync>");
    for retry in &retries {
        assert_eq!(retry.error_chain.len(), 1);
        assert!(retry.error_chain[0].starts_with("failure #"), "{retry:?}");
        assert_eq!(retry.caused_by_text, retry.error_chain[0]);
    }
}

#[test]
fn an_anyhow_error_reads_as_its_chain_on_one_line() {
    let recorder = Recorder::for_this_thread();
    let _ = with_anyhow(&Flaky::always());
    let retry = &recorder.retries()[0];
    assert_eq!(retry.error_type, "Failure");
    assert_eq!(retry.error_chain[0], "syncing users");
    assert!(
        retry.caused_by_text.starts_with("syncing users: failure #"),
        "{}",
        retry.caused_by_text
    );
    // anyhow's `Debug` is several lines ("Caused by:", and a backtrace when enabled): the
    // logged text is one.
    assert!(retry.caused_by.contains('\n'));
    assert!(!retry.caused_by_text.contains('\n'));
}

#[test]
fn an_error_that_is_not_an_error_type_reads_as_its_debug() {
    let recorder = Recorder::for_this_thread();
    let _ = stringly();
    let retry = &recorder.retries()[0];
    assert!(retry.error_chain.is_empty());
    assert_eq!(retry.caused_by_text, r#""disk\nfull""#);
    assert_eq!(retry.error_type, "alloc::string::String");
}

#[test]
fn a_hook_can_downcast_the_error() {
    // The recorder's hook walks `error`'s sources and downcasts each to an `io::Error`.
    let recorder = Recorder::for_this_thread();
    let _ = typed();
    let _ = stringly();
    let retries = recorder.retries();
    assert_eq!(
        retries[0].io_error_kind,
        Some(io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(retries[1].io_error_kind, None);
}

#[test]
fn callers_show_errors_once_error_aware() {
    let recorder = Recorder::for_this_thread();
    let _ = instant()
        .attempts(2)
        .call(|_: &Request| true, || Err::<(), _>(refused()));
    let _ = instant()
        .attempts(2)
        .error_aware()
        .call(|_: &Request| true, || Err::<(), _>(refused()));
    let _ = instant()
        .attempts(2)
        .on(|_: &BoxError| true)
        .error_aware()
        .call(|| Err::<(), BoxError>("boxed".into()));
    let caller = instant().attempts(2).error_aware();
    let mut retry = caller.context(|_: &Request| true);
    retry.attempt();
    retry.backoff(refused()).unwrap();

    let retries = recorder.retries();
    assert!(
        retries[0].error_chain.is_empty(),
        "not error-aware: `Debug` only"
    );
    assert_eq!(retries[0].caused_by_text, format!("{:?}", refused()));
    assert_eq!(
        retries[1].caused_by_text,
        "request failed: connection refused"
    );
    assert_eq!(retries[2].error_chain, ["boxed"]);
    assert_eq!(retries[2].error_type, "Box<dyn Error + Send + Sync>");
    assert_eq!(retries[3].error_chain.len(), 2);
}

#[tokio::test]
async fn async_callers_show_errors_once_error_aware() {
    let recorder = Recorder::for_this_thread();
    let _ = instant()
        .attempts(2)
        .error_aware()
        .call_async(|_: &Request| true, || async { Err::<(), _>(refused()) })
        .await;
    assert_eq!(recorder.retries()[0].error_chain.len(), 2);
}

/// An error whose `Display` is a megabyte.
#[derive(Debug)]
struct Huge;

impl fmt::Display for Huge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..(1 << 20) {
            f.write_str("x")?;
        }
        Ok(())
    }
}

impl Error for Huge {}

#[retry(on = Huge, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn huge() -> Result<(), Huge> {
    Err(Huge)
}

#[test]
fn the_text_of_a_huge_error_stops_at_the_cap() {
    let recorder = Recorder::for_this_thread();
    let _ = huge();
    let text = &recorder.retries()[0].caused_by_text;
    assert_eq!(text.len(), CAUSED_BY_MAX_LEN + '…'.len_utf8());
    assert!(text.ends_with('…'));
}
