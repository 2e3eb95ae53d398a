//! `#[retry]` on methods and associated fns: `&self`, `&mut self` (whose changes persist from
//! attempt to attempt), `self` by value, `Self` in `on` and in the return type, generic impls,
//! trait impls and default bodies, `async fn` in traits, and `#[async_trait]` impls.

use std::sync::atomic::{AtomicU32, Ordering};

use stamina::retry;
use stamina_tests::{Failure, Flaky};

#[derive(Debug)]
struct Client {
    flaky: Flaky,
    log: Vec<u32>,
}

#[derive(Debug)]
struct Service {
    flaky: Flaky,
    calls: AtomicU32,
}

impl Service {
    /// Fails twice.
    fn new() -> Self {
        Service {
            flaky: Flaky::new(2),
            calls: AtomicU32::new(0),
        }
    }
}

impl Client {
    fn new(failures: u32) -> Self {
        Client {
            flaky: Flaky::new(failures),
            log: Vec::new(),
        }
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn by_ref(&self) -> Result<u32, Failure> {
        self.flaky.attempt()
    }

    /// Every attempt pushes, the failed ones too: `&mut self` persists across attempts.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn by_mut(&mut self) -> Result<usize, Failure> {
        let outcome = self.flaky.attempt();
        self.log.push(outcome.unwrap_or_else(|e| e.attempt));
        outcome.map(|_| self.log.len())
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn async_by_mut(&mut self) -> Result<usize, Failure> {
        tokio::task::yield_now().await;
        let n = self.flaky.attempt()?;
        self.log.push(n);
        Ok(self.log.len())
    }

    /// `self` by value, borrowed by each attempt.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn by_value(self) -> Result<u32, Failure> {
        self.flaky.attempt()
    }

    /// An associated fn that returns `Self`.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn connect(flaky: &Flaky) -> Result<Self, Failure> {
        flaky.attempt().map(|_| Client::new(0))
    }

    /// `on` names an associated fn.
    #[retry(on = Self::is_transient, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn with_assoc_predicate(&self) -> Result<u32, Failure> {
        self.flaky.attempt()
    }

    fn is_transient(e: &Failure) -> bool {
        e.attempt < 2
    }

    const ATTEMPTS: u32 = 3;

    /// Arguments may name the impl's constants.
    #[retry(on = Failure, attempts = Self::ATTEMPTS, wait_initial = 0, wait_jitter = 0)]
    fn self_constant(&self) -> Result<u32, Failure> {
        self.flaky.attempt()
    }

    /// .. and the fn's const parameters.
    #[retry(on = Failure, attempts = N, wait_initial = 0, wait_jitter = 0)]
    async fn const_parameter<const N: u32>(&self) -> Result<u32, Failure> {
        self.flaky.attempt()
    }
}

#[test]
fn by_ref_and_by_value() {
    let client = Client::new(2);
    assert_eq!(client.by_ref(), Ok(3));
    let client = Client::new(3);
    assert_eq!(client.by_value(), Ok(4));
}

#[test]
fn mut_self_changes_persist_across_attempts() {
    let mut client = Client::new(2);
    assert_eq!(client.by_mut(), Ok(3));
    assert_eq!(client.log, [1, 2, 3]);
}

#[tokio::test]
async fn async_mut_self() {
    let mut client = Client::new(2);
    assert_eq!(client.async_by_mut().await, Ok(1));
    assert_eq!(client.log, [3]);
}

#[test]
fn associated_fn_returning_self() {
    let flaky = Flaky::new(1);
    let client = Client::connect(&flaky).unwrap();
    assert_eq!(flaky.calls(), 2);
    assert_eq!(client.by_ref(), Ok(1));
}

#[tokio::test]
async fn arguments_may_name_self_and_const_parameters() {
    let client = Client::new(u32::MAX);
    assert_eq!(client.self_constant().unwrap_err().attempt, 3);
    let client = Client::new(u32::MAX);
    assert_eq!(client.const_parameter::<4>().await.unwrap_err().attempt, 4);
}

#[test]
fn on_names_an_associated_fn() {
    let client = Client::new(u32::MAX);
    assert_eq!(client.with_assoc_predicate().unwrap_err().attempt, 2);
}

// ---------------------------------------------------------------------------------------------
// Generic impls
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Cache<T> {
    value: T,
    flaky: Flaky,
}

impl<T> Cache<T>
where
    T: Clone + Send + Sync,
{
    const ATTEMPTS: u32 = 5;

    /// A constant of a generic impl.
    #[retry(on = Failure, attempts = Self::ATTEMPTS, wait_initial = 0, wait_jitter = 0)]
    fn get(&self) -> Result<T, Failure> {
        self.flaky.attempt().map(|_| self.value.clone())
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn get_async<'a>(&'a self, key: &'a str) -> Result<(&'a str, T), Failure> {
        self.flaky.attempt().map(|_| (key, self.value.clone()))
    }

    /// A generic method of a generic impl.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn map<U, F>(&self, f: F) -> Result<U, Failure>
    where
        F: Fn(&T) -> U,
    {
        self.flaky.attempt().map(|_| f(&self.value))
    }
}

#[tokio::test]
async fn generic_impls() {
    let cache = Cache {
        value: String::from("v"),
        flaky: Flaky::new(1),
    };
    assert_eq!(cache.get().as_deref(), Ok("v"));
    let cache = Cache {
        value: 7_u8,
        flaky: Flaky::new(2),
    };
    assert_eq!(cache.get_async("k").await, Ok(("k", 7)));
    let cache = Cache {
        value: 7_u8,
        flaky: Flaky::new(2),
    };
    assert_eq!(cache.map(|v| u32::from(*v) * 2), Ok(14));
}

// ---------------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------------

trait Fetch {
    fn flaky(&self) -> &Flaky;

    /// A default body.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn fetch_default(&self) -> Result<u32, Failure> {
        self.flaky().attempt()
    }

    /// An `async fn` default body.
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn fetch_default_async(&self) -> Result<u32, Failure> {
        self.flaky().attempt()
    }

    fn fetch(&self, id: u32) -> Result<u32, Failure>;

    async fn fetch_async(&self, id: u32) -> Result<u32, Failure>;
}

impl Fetch for Client {
    fn flaky(&self) -> &Flaky {
        &self.flaky
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    fn fetch(&self, id: u32) -> Result<u32, Failure> {
        self.flaky.attempt().map(|n| n * 100 + id)
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn fetch_async(&self, id: u32) -> Result<u32, Failure> {
        tokio::task::yield_now().await;
        self.flaky.attempt().map(|n| n * 100 + id)
    }
}

#[tokio::test]
async fn trait_methods() {
    assert_eq!(Client::new(1).fetch_default(), Ok(2));
    assert_eq!(Client::new(1).fetch_default_async().await, Ok(2));
    assert_eq!(Client::new(2).fetch(7), Ok(307));
    assert_eq!(Client::new(2).fetch_async(7).await, Ok(307));
}

#[async_trait::async_trait]
trait Remote {
    async fn get(&self, key: String) -> Result<String, Failure>;

    async fn put(&mut self, key: &str, value: Vec<u8>) -> Result<usize, Failure>;
}

#[async_trait::async_trait]
impl Remote for Service {
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn get(&self, key: String) -> Result<String, Failure> {
        tokio::task::yield_now().await;
        // `key` is owned by the fn and borrowed by each attempt.
        self.flaky.attempt().map(|n| format!("{key}{n}"))
    }

    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn put(&mut self, key: &str, value: Vec<u8>) -> Result<usize, Failure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.flaky.attempt()?;
        Ok(key.len() + value.len())
    }
}

#[tokio::test]
async fn async_trait_methods() {
    let service = Service::new();
    let future = service.get(String::from("k"));
    // `#[async_trait]` boxes it as `dyn Future + Send`: the loop inside must be `Send`.
    let _: &(dyn std::future::Future<Output = _> + Send) = &future;
    assert_eq!(future.await.as_deref(), Ok("k3"));

    let mut service = Service::new();
    assert_eq!(service.put("key", vec![1, 2]).await, Ok(5));
    assert_eq!(service.calls.load(Ordering::SeqCst), 3);
}

#[async_trait::async_trait(?Send)]
trait LocalRemote {
    async fn get(&self) -> Result<u32, Failure>;
}

#[async_trait::async_trait(?Send)]
impl LocalRemote for std::rc::Rc<Flaky> {
    #[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
    async fn get(&self) -> Result<u32, Failure> {
        self.attempt()
    }
}

#[tokio::test]
async fn async_trait_without_send() {
    let flaky = std::rc::Rc::new(Flaky::new(1));
    assert_eq!(LocalRemote::get(&flaky).await, Ok(2));
}
