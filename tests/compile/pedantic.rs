//! Generated code is clean: every form of `#[retry]` compiles without a warning under
//! `#![deny(warnings, clippy::pedantic)]` (CI runs clippy with `--all-targets`, so this file is
//! linted too), and the annotated fns work.
#![deny(warnings, clippy::pedantic)]

use std::fmt::{self, Debug, Display};
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::Decision;
use stamina::retry;

/// An error of this test.
#[derive(Debug, PartialEq)]
pub struct Transient(u32);

impl Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transient #{}", self.0)
    }
}

impl std::error::Error for Transient {}

fn is_transient(e: &Transient) -> bool {
    e.0 > 0
}

fn is_io_transient(e: &io::Error) -> Decision {
    match e.kind() {
        io::ErrorKind::Interrupted => Decision::RetryAfter(Duration::ZERO),
        io::ErrorKind::TimedOut => Decision::Retry,
        _ => Decision::NoRetry,
    }
}

fn always<E: ?Sized>(_: &E) -> bool {
    true
}

/// Fails `failures` times with `Transient`, then returns the call count.
fn flaky(calls: &AtomicU32, failures: u32) -> Result<u32, Transient> {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= failures {
        Err(Transient(n))
    } else {
        Ok(n)
    }
}

const FAST: Duration = Duration::ZERO;

/// A sync fn with an `io::Result` alias, docs, `#[must_use]` and every argument.
///
/// # Errors
///
/// The last `io::Error`.
#[must_use = "the text is the point"]
#[retry(
    on = io::Error,
    attempts = 3,
    timeout = 45,
    wait_initial = 0,
    wait_max = 5.0,
    wait_jitter = FAST,
    wait_exp_base = 2,
    name = "pedantic::read"
)]
pub fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[retry(on = Transient, attempts = None, timeout = None, wait_initial = 0, wait_jitter = 0)]
fn sync_form(calls: &AtomicU32) -> Result<u32, Transient> {
    flaky(calls, 2)
}

#[retry(on = is_transient, wait_initial = Duration::ZERO, wait_jitter = 0, wait_exp_base = 1.5)]
async fn async_form(calls: &AtomicU32) -> Result<u32, Transient> {
    tokio::task::yield_now().await;
    flaky(calls, 2)
}

#[retry(on = (io::Error, Transient), wait_initial = 0, wait_jitter = 0)]
fn tuple_form(calls: &AtomicU32) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(flaky(calls, 1)?)
}

#[retry(on = is_io_transient, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn decision_form() -> io::Result<()> {
    Err(io::ErrorKind::NotFound.into())
}

#[retry(on = |e: &Transient| e.0 < 3, wait_initial = 0, wait_jitter = 0)]
fn closure_form(calls: &AtomicU32) -> Result<u32, Transient> {
    flaky(calls, 5)
}

#[retry(on = always::<Transient>, wait_initial = 0, wait_jitter = 0)]
fn turbofish_form(calls: &AtomicU32) -> Result<u32, Transient> {
    flaky(calls, 1)
}

/// `?` converts into the fn's error type, `return` ends the attempt.
#[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn question_mark(calls: &AtomicU32, text: &str) -> Result<u32, Transient> {
    let parsed: u32 = text.parse().map_err(|_| Transient(0))?;
    if parsed == 0 {
        return Err(Transient(0));
    }
    Ok(parsed + flaky(calls, 1)?)
}

/// Generics, a `where` clause, and `on` naming the generic error type.
#[retry(on = T::Err, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn generic<T>(text: &str) -> Result<T, T::Err>
where
    T: FromStr,
    T::Err: Debug,
{
    text.trim().parse()
}

#[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn impl_trait_arg(text: impl AsRef<str>, calls: &AtomicU32) -> Result<usize, Transient> {
    flaky(calls, 1).map(|_| text.as_ref().len())
}

#[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn impl_trait_return(calls: &AtomicU32) -> Result<impl Display, Transient> {
    flaky(calls, 1)
}

#[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn lifetimes<'a>(items: &'a [String], calls: &AtomicU32) -> Result<&'a str, Transient> {
    flaky(calls, 1)?;
    Ok(items.first().map_or("", String::as_str))
}

#[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn inner_attributes(calls: &AtomicU32) -> Result<u32, Transient> {
    #![allow(clippy::let_and_return)]
    let n = flaky(calls, 1)?;
    Ok(n)
}

#[retry(on = anyhow::Error, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn anyhow_form() -> anyhow::Result<()> {
    anyhow::bail!("always")
}

#[retry(on = io::Error, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn anyhow_downcast(calls: &AtomicU32) -> anyhow::Result<u32> {
    if calls.fetch_add(1, Ordering::Relaxed) == 0 {
        return Err(io::Error::from(io::ErrorKind::TimedOut).into());
    }
    Ok(1)
}

mod reexport {
    pub(crate) use ::stamina as runtime;
}

#[retry(crate = reexport::runtime, on = Transient, wait_initial = 0, wait_jitter = 0)]
fn crate_override(calls: &AtomicU32) -> Result<u32, Transient> {
    flaky(calls, 1)
}

/// A type with methods of every receiver.
#[derive(Debug, Default)]
pub struct Client {
    calls: AtomicU32,
    seen: Vec<u32>,
}

impl Client {
    /// An associated fn.
    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    fn new(failures: u32) -> Result<Self, Transient> {
        static CALLS: AtomicU32 = AtomicU32::new(0);
        flaky(&CALLS, failures).map(|_| Self::default())
    }

    #[retry(on = Self::should_retry, wait_initial = 0, wait_jitter = 0)]
    fn by_ref(&self) -> Result<u32, Transient> {
        flaky(&self.calls, 1)
    }

    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    fn by_mut(&mut self) -> Result<usize, Transient> {
        let n = flaky(&self.calls, 1)?;
        self.seen.push(n);
        Ok(self.seen.len())
    }

    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    async fn async_by_mut(&mut self) -> Result<usize, Transient> {
        tokio::task::yield_now().await;
        let n = flaky(&self.calls, 1)?;
        self.seen.push(n);
        Ok(self.seen.len())
    }

    fn should_retry(e: &Transient) -> bool {
        is_transient(e)
    }
}

/// A generic impl.
#[derive(Debug)]
pub struct Cache<T>(T, AtomicU32);

impl<T: Clone + Send + Sync> Cache<T> {
    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    async fn get(&self) -> Result<T, Transient> {
        flaky(&self.1, 1).map(|_| self.0.clone())
    }
}

/// `async fn` in a trait, with a default body and in an impl.
trait Fetch {
    fn calls(&self) -> &AtomicU32;

    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    async fn fetch_default(&self) -> Result<u32, Transient> {
        flaky(self.calls(), 1)
    }

    async fn fetch(&self, id: u32) -> Result<u32, Transient>;
}

impl Fetch for Client {
    fn calls(&self) -> &AtomicU32 {
        &self.calls
    }

    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    async fn fetch(&self, id: u32) -> Result<u32, Transient> {
        flaky(&self.calls, 1).map(|n| n + id)
    }
}

/// A fn in an `#[async_trait]` impl.
#[async_trait::async_trait]
trait Remote {
    async fn get(&self, key: String) -> Result<usize, Transient>;
}

#[async_trait::async_trait]
impl Remote for Client {
    #[retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
    async fn get(&self, key: String) -> Result<usize, Transient> {
        flaky(&self.calls, 1).map(|_| key.len())
    }
}

#[test]
fn every_form_works() {
    let calls = AtomicU32::new(0);
    assert_eq!(sync_form(&calls), Ok(3));
    let calls = AtomicU32::new(0);
    assert_eq!(tuple_form(&calls).unwrap(), 2);
    assert_eq!(decision_form().unwrap_err().kind(), io::ErrorKind::NotFound);
    let calls = AtomicU32::new(0);
    assert_eq!(closure_form(&calls), Err(Transient(3)));
    let calls = AtomicU32::new(0);
    assert_eq!(turbofish_form(&calls), Ok(2));
    let calls = AtomicU32::new(0);
    assert_eq!(question_mark(&calls, "40"), Ok(42));
    assert_eq!(question_mark(&calls, "x"), Err(Transient(0)));
    assert_eq!(generic::<u8>(" 7 "), Ok(7));
    assert!(generic::<u8>("x").is_err());
    let calls = AtomicU32::new(0);
    assert_eq!(impl_trait_arg(String::from("abc"), &calls), Ok(3));
    let calls = AtomicU32::new(0);
    assert_eq!(impl_trait_return(&calls).unwrap().to_string(), "2");
    let calls = AtomicU32::new(0);
    let items = vec![String::from("first")];
    assert_eq!(lifetimes(&items, &calls), Ok("first"));
    let calls = AtomicU32::new(0);
    assert_eq!(inner_attributes(&calls), Ok(2));
    assert!(anyhow_form().is_err());
    let calls = AtomicU32::new(0);
    assert_eq!(anyhow_downcast(&calls).unwrap(), 1);
    let calls = AtomicU32::new(0);
    assert_eq!(crate_override(&calls), Ok(2));
    assert!(read("/nonexistent/stamina").is_err());

    assert!(Client::new(1).is_ok());
    let mut client = Client::default();
    assert_eq!(client.by_ref(), Ok(2));
    assert_eq!(client.by_mut(), Ok(1));
}

#[tokio::test]
async fn every_async_form_works() {
    let calls = AtomicU32::new(0);
    assert_eq!(async_form(&calls).await, Ok(3));
    assert_eq!(Client::default().async_by_mut().await, Ok(1));
    assert_eq!(Client::default().fetch_default().await, Ok(2));
    assert_eq!(Client::default().fetch(10).await, Ok(12));
    assert_eq!(Client::default().get(String::from("key")).await, Ok(3));
    let cache = Cache(String::from("v"), AtomicU32::new(0));
    assert_eq!(cache.get().await.as_deref(), Ok("v"));
}
