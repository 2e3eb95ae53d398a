//! `on` in all its forms: an error type, a type held in a type-erased error, a tuple of types, a
//! predicate fn (returning a `bool`, a `Decision`, a `Duration` or an `Option<Duration>`) and a
//! closure. An error that `on` declines comes back at once, unchanged; `on` is only asked about
//! errors, never about successes.

use std::cell::Cell;
use std::error::Error;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::{Decision, retry};
use stamina_tests::{Failure, Flaky};

type BoxError = Box<dyn Error + Send + Sync>;

/// A second error type, that `on = Failure` does not name.
#[derive(Debug, PartialEq)]
struct Other;

impl std::fmt::Display for Other {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("other")
    }
}

impl Error for Other {}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn exact(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_type_retries_errors_of_that_type() {
    let flaky = Flaky::new(2);
    assert_eq!(exact(&flaky), Ok(3));
    assert_eq!(flaky.calls(), 3);
}

#[test]
fn a_type_gives_back_the_last_error_unchanged() {
    let flaky = Flaky::always();
    let error = exact(&flaky).unwrap_err();
    assert_eq!(flaky.calls(), 5);
    assert_eq!(Some(error), flaky.last_error());
    assert_eq!(error.attempt, 5);
}

/// `Box<dyn Error>` that holds a `Failure` or an `Other`, by the calls that fail.
#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn boxed(flaky: &Flaky, other_from: u32) -> Result<u32, BoxError> {
    match flaky.attempt() {
        Ok(n) => Ok(n),
        Err(e) if e.attempt >= other_from => Err(Box::new(Other)),
        Err(e) => Err(Box::new(e)),
    }
}

#[test]
fn a_type_matches_inside_a_boxed_error() {
    let flaky = Flaky::new(3);
    assert_eq!(boxed(&flaky, u32::MAX).unwrap(), 4);
    assert_eq!(flaky.calls(), 4);
}

#[test]
fn a_boxed_error_of_another_type_is_not_retried() {
    let flaky = Flaky::always();
    let error = boxed(&flaky, 2).unwrap_err();
    // Attempt 1 held a `Failure` and was retried; attempt 2 held an `Other`.
    assert_eq!(flaky.calls(), 2);
    assert!(error.downcast_ref::<Other>().is_some());
}

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn boxed_local(flaky: &Flaky) -> Result<u32, Box<dyn Error>> {
    Ok(flaky.attempt()?)
}

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn boxed_send(flaky: &Flaky) -> Result<u32, Box<dyn Error + Send>> {
    flaky
        .attempt()
        .map_err(|e| Box::new(e) as Box<dyn Error + Send>)
}

#[test]
fn every_boxed_error_form_downcasts() {
    let flaky = Flaky::new(1);
    assert_eq!(boxed_local(&flaky).unwrap(), 2);
    let flaky = Flaky::new(1);
    assert_eq!(boxed_send(&flaky).unwrap(), 2);
}

#[retry(on = io::Error, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn with_anyhow(flaky: &Flaky, kind: io::ErrorKind) -> anyhow::Result<u32> {
    match flaky.attempt() {
        Ok(n) => Ok(n),
        Err(_) if kind == io::ErrorKind::Other => Err(anyhow::anyhow!("not io")),
        Err(_) => Err(io::Error::from(kind).into()),
    }
}

#[test]
fn a_type_matches_inside_an_anyhow_error() {
    let flaky = Flaky::new(2);
    assert_eq!(with_anyhow(&flaky, io::ErrorKind::TimedOut).unwrap(), 3);
    assert_eq!(flaky.calls(), 3);

    let flaky = Flaky::new(2);
    let error = with_anyhow(&flaky, io::ErrorKind::Other).unwrap_err();
    assert_eq!(flaky.calls(), 1);
    assert_eq!(error.to_string(), "not io");
}

#[retry(on = (Other, Failure), attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn tuple(flaky: &Flaky, other_until: u32) -> Result<u32, BoxError> {
    match flaky.attempt() {
        Ok(n) => Ok(n),
        Err(e) if e.attempt <= other_until => Err(Box::new(Other)),
        Err(e) => Err(Box::new(e)),
    }
}

#[retry(on = (io::Error,), attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn one_tuple(flaky: &Flaky) -> Result<u32, BoxError> {
    flaky
        .attempt()
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut).into())
}

#[test]
fn a_tuple_retries_any_of_its_types() {
    let flaky = Flaky::new(4);
    // Attempts 1 and 2 fail with `Other`, 3 and 4 with `Failure`.
    assert_eq!(tuple(&flaky, 2).unwrap(), 5);
    assert_eq!(flaky.calls(), 5);

    let flaky = Flaky::new(1);
    assert_eq!(one_tuple(&flaky).unwrap(), 2);
}

#[retry(on = u8, attempts = 3, wait_initial = 0, wait_jitter = 0)]
fn primitive(calls: &Cell<u8>) -> Result<(), u8> {
    calls.set(calls.get() + 1);
    Err(calls.get())
}

#[test]
fn a_primitive_type_is_a_type() {
    let calls = Cell::new(0);
    assert_eq!(primitive(&calls), Err(3));
}

// ---------------------------------------------------------------------------------------------
// Predicate fns
// ---------------------------------------------------------------------------------------------

fn before_third(e: &Failure) -> bool {
    e.attempt < 3
}

#[retry(on = before_third, attempts = 10, wait_initial = 0, wait_jitter = 0)]
fn by_bool(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_predicate_fn_decides_per_error() {
    let flaky = Flaky::new(1);
    assert_eq!(by_bool(&flaky), Ok(2));

    // The predicate declines the third error: it comes back as it was.
    let flaky = Flaky::always();
    let error = by_bool(&flaky).unwrap_err();
    assert_eq!(flaky.calls(), 3);
    assert_eq!(Some(error), flaky.last_error());
}

fn any_error(_: &dyn Error) -> bool {
    true
}

#[retry(on = any_error, attempts = 3, wait_initial = 0, wait_jitter = 0)]
fn by_dyn(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

fn retry_any<E: ?Sized>(_: &E) -> bool {
    true
}

#[retry(on = retry_any::<Failure>, attempts = 3, wait_initial = 0, wait_jitter = 0)]
fn by_generic(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = retry_any, attempts = 3, wait_initial = 0, wait_jitter = 0)]
fn by_inferred_generic(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_predicate_fn_is_called_like_a_fn() {
    // `&Failure` coerces to `&dyn Error`, and generic predicates infer or take a turbofish.
    for f in [by_dyn, by_generic, by_inferred_generic] {
        let flaky = Flaky::always();
        assert!(f(&flaky).is_err());
        assert_eq!(flaky.calls(), 3);
    }
}

mod predicates {
    use stamina_tests::Failure;

    pub(crate) fn odd(e: &Failure) -> bool {
        e.attempt % 2 == 1
    }
}

#[retry(on = predicates::odd, attempts = 10, wait_initial = 0, wait_jitter = 0)]
fn by_path(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_predicate_fn_by_its_path() {
    let flaky = Flaky::always();
    assert_eq!(by_path(&flaky).unwrap_err().attempt, 2);
}

fn decision(e: &Failure) -> Decision {
    match e.attempt {
        1 => Decision::Retry,
        2 => Decision::RetryAfter(Duration::from_millis(1)),
        _ => Decision::NoRetry,
    }
}

#[retry(on = decision, attempts = 10, wait_initial = 0, wait_jitter = 0)]
fn by_decision(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_predicate_fn_returns_a_decision() {
    let flaky = Flaky::always();
    assert_eq!(by_decision(&flaky).unwrap_err().attempt, 3);
}

fn retry_after(_: &Failure) -> Duration {
    Duration::from_secs(3)
}

fn retry_after_maybe(e: &Failure) -> Option<Duration> {
    (e.attempt < 2).then_some(Duration::from_secs(5))
}

#[retry(on = retry_after, attempts = 3, wait_initial = 0, wait_jitter = 0)]
async fn by_duration(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = retry_after_maybe, attempts = 10, wait_initial = 0, wait_jitter = 0)]
async fn by_option(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn a_duration_from_the_predicate_is_the_wait() {
    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert!(by_duration(&flaky).await.is_err());
    assert_eq!(flaky.calls(), 3);
    // Exactly the predicate's waits: no jitter, no cap, though the policy's waits are zero.
    assert_eq!(start.elapsed(), Duration::from_secs(6));

    let start = tokio::time::Instant::now();
    let flaky = Flaky::always();
    assert_eq!(by_option(&flaky).await.unwrap_err().attempt, 2);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// Closures
// ---------------------------------------------------------------------------------------------

#[retry(on = |e: &Failure| e.attempt < 4, attempts = 10, wait_initial = 0, wait_jitter = 0)]
fn annotated_closure(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = |e| e.attempt < 2, attempts = 10, wait_initial = 0, wait_jitter = 0)]
fn inferred_closure(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(
    on = |e: &io::Error| match e.kind() {
        io::ErrorKind::TimedOut => Decision::Retry,
        _ => Decision::NoRetry,
    },
    attempts = 10,
    wait_initial = 0,
    wait_jitter = 0
)]
fn decision_closure(flaky: &Flaky, kind: io::ErrorKind) -> io::Result<u32> {
    flaky.attempt().map_err(|_| io::Error::from(kind))
}

#[test]
fn a_closure_decides_per_error() {
    let flaky = Flaky::always();
    assert_eq!(annotated_closure(&flaky).unwrap_err().attempt, 4);
    let flaky = Flaky::always();
    assert_eq!(inferred_closure(&flaky).unwrap_err().attempt, 2);

    let flaky = Flaky::new(2);
    assert_eq!(
        decision_closure(&flaky, io::ErrorKind::TimedOut).unwrap(),
        3
    );
    let flaky = Flaky::new(2);
    let error = decision_closure(&flaky, io::ErrorKind::NotFound).unwrap_err();
    assert_eq!((error.kind(), flaky.calls()), (io::ErrorKind::NotFound, 1));
}

/// The closure sits in the fn's body, so it may use the fn's arguments.
#[retry(on = |e: &Failure| e.attempt < limit, attempts = None, wait_initial = 0, wait_jitter = 0)]
fn closure_with_argument(flaky: &Flaky, limit: u32) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_closure_may_use_the_fns_arguments() {
    let flaky = Flaky::always();
    assert_eq!(closure_with_argument(&flaky, 6).unwrap_err().attempt, 6);
}

/// Any other expression is a predicate value, evaluated on each failure.
fn below(limit: u32) -> impl Fn(&Failure) -> bool {
    move |e| e.attempt < limit
}

#[retry(on = below(3), attempts = None, wait_initial = 0, wait_jitter = 0)]
fn predicate_value(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn an_expression_gives_the_predicate() {
    let flaky = Flaky::always();
    assert_eq!(predicate_value(&flaky).unwrap_err().attempt, 3);
}

// ---------------------------------------------------------------------------------------------
// When `on` is asked
// ---------------------------------------------------------------------------------------------

fn counting(calls: &AtomicU32) -> impl Fn(&Failure) -> bool + '_ {
    |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        true
    }
}

#[retry(on = counting(asked), attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn counted(flaky: &Flaky, asked: &AtomicU32) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn on_is_asked_about_each_error_and_never_about_a_success() {
    let asked = AtomicU32::new(0);
    let flaky = Flaky::never();
    assert_eq!(counted(&flaky, &asked), Ok(1));
    assert_eq!(asked.load(Ordering::SeqCst), 0);

    let flaky = Flaky::new(3);
    assert_eq!(counted(&flaky, &asked), Ok(4));
    assert_eq!(asked.load(Ordering::SeqCst), 3);

    // Also about the last error, whose retry the attempt limit then refuses.
    let asked = AtomicU32::new(0);
    let flaky = Flaky::always();
    assert!(counted(&flaky, &asked).is_err());
    assert_eq!(asked.load(Ordering::SeqCst), 5);
}

#[test]
fn an_error_that_on_declines_comes_back_after_one_call() {
    #[retry(on = Other, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn declined(flaky: &Flaky) -> Result<u32, BoxError> {
        Ok(flaky.attempt()?)
    }

    let flaky = Flaky::always();
    let error = declined(&flaky).unwrap_err();
    assert_eq!(flaky.calls(), 1);
    assert_eq!(error.downcast_ref::<Failure>().copied(), flaky.last_error());
}
