//! What hooks see from `#[retry]` fns: the `callable` name of every form of fn (or `name = ..`),
//! `retry_num`, `wait_for` and `waited_so_far`, the error; when they run (only for a scheduled
//! retry, before the wait); and the guards they return, dropped once before the next attempt.
//!
//! Every test here installs its own hooks, process-wide: they all hold [`SERIAL`] while they run.

use std::sync::Arc;
use std::time::Duration;

use stamina::instrumentation::{self, RetryDetails, RetryGuard};
use stamina::retry;
use stamina_tests::{Failure, Flaky, Log, Recorder};
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// Serializes the tests of this binary: each sets the process's hooks.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Holds [`SERIAL`]; restores the default hooks when dropped.
struct Hooks(#[allow(dead_code, reason = "held for its drop")] MutexGuard<'static, ()>);

impl Drop for Hooks {
    fn drop(&mut self) {
        instrumentation::reset_on_retry_hooks();
    }
}

/// Sets `recorder` as the only hook, from a sync test.
fn record(recorder: &Arc<Recorder>) -> Hooks {
    let serial = SERIAL.blocking_lock();
    instrumentation::set_on_retry_hooks([recorder.hook()]);
    Hooks(serial)
}

/// Sets `recorder` as the only hook, from an async test.
async fn record_async(recorder: &Arc<Recorder>) -> Hooks {
    let serial = SERIAL.lock().await;
    instrumentation::set_on_retry_hooks([recorder.hook()]);
    Hooks(serial)
}

// ---------------------------------------------------------------------------------------------
// The `callable` name
// ---------------------------------------------------------------------------------------------

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
fn free_fn(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
async fn async_fn(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0, name = "my_app::sync_users")]
fn named(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

mod net {
    use stamina::retry;
    use stamina_tests::{Failure, Flaky};

    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    pub(crate) fn in_a_module(flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

fn outer(flaky: &Flaky) -> Result<u32, Failure> {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn nested(flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
    nested(flaky)
}

struct Client;

impl Client {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn method(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }

    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    async fn async_method(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

struct Cache<T>(T);

impl<T: Sync> Cache<T> {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn get(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

trait Fetch {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    fn fetch_default(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }

    async fn fetch(&self, flaky: &Flaky) -> Result<u32, Failure>;
}

impl Fetch for Client {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    async fn fetch(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

#[async_trait::async_trait]
trait Remote {
    async fn get(&self, flaky: &Flaky) -> Result<u32, Failure>;
}

#[async_trait::async_trait]
impl Remote for Client {
    #[retry(on = Failure, attempts = 2, wait_initial = 0, wait_jitter = 0)]
    async fn get(&self, flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

#[tokio::test]
async fn the_name_is_the_fns_path() {
    let recorder = Recorder::new();
    let _hooks = record_async(&recorder).await;
    let f = || Flaky::always();
    let _ = free_fn(&f());
    let _ = async_fn(&f()).await;
    let _ = named(&f());
    let _ = net::in_a_module(&f());
    let _ = outer(&f());
    let _ = Client.method(&f());
    let _ = Client.async_method(&f()).await;
    let _ = Cache(()).get(&f());
    let _ = Client.fetch_default(&f());
    let _ = Fetch::fetch(&Client, &f()).await;
    let _ = Remote::get(&Client, &f()).await;
    let names: Vec<String> = recorder.retries().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "instrumentation::free_fn",
            "instrumentation::async_fn",
            "my_app::sync_users",
            "instrumentation::net::in_a_module",
            "instrumentation::outer::nested",
            "instrumentation::Client::method",
            "instrumentation::Client::async_method",
            "instrumentation::Cache<_>::get",
            "instrumentation::Fetch::fetch_default",
            "<instrumentation::Client as instrumentation::Fetch>::fetch",
            "<instrumentation::Client as instrumentation::Remote>::get",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The details
// ---------------------------------------------------------------------------------------------

#[retry(
    on = Failure,
    attempts = 5,
    wait_initial = 1,
    wait_max = 5,
    wait_exp_base = 2,
    wait_jitter = 0,
    timeout = None
)]
async fn backoff(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[tokio::test(start_paused = true)]
async fn hooks_see_each_scheduled_retry() {
    let recorder = Recorder::new();
    let _hooks = record_async(&recorder).await;
    let flaky = Flaky::always();
    let error = backoff(&flaky).await.unwrap_err();
    let retries = recorder.retries();
    // Five failing attempts: four retries, none for the final failure.
    assert_eq!(recorder.retry_nums(), [1, 2, 3, 4]);
    let secs = |s: [u64; 4]| s.map(Duration::from_secs).to_vec();
    assert_eq!(recorder.wait_fors(), secs([1, 2, 4, 5]));
    assert_eq!(
        retries.iter().map(|r| r.waited_so_far).collect::<Vec<_>>(),
        secs([0, 1, 3, 7])
    );
    for (retry, attempt) in retries.iter().zip(1..) {
        assert_eq!(retry.name, "instrumentation::backoff");
        assert_eq!(retry.error_type, std::any::type_name::<Failure>());
        assert!(retry.caused_by.contains(&format!("attempt: {attempt}")));
    }
    assert_eq!(error.attempt, 5);
}

#[retry(on = Failure, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn five(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(on = |e: &Failure| e.attempt < 2, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn declines_the_second(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn no_hook_for_a_success_a_declined_error_or_when_inactive() {
    let recorder = Recorder::new();
    let _hooks = record(&recorder);

    assert_eq!(five(&Flaky::never()), Ok(1));
    assert_eq!(recorder.count(), 0);

    // One retry, then `on` declines: no hook for the declined error.
    assert!(declines_the_second(&Flaky::always()).is_err());
    assert_eq!(recorder.retry_nums(), [1]);

    let _inactive = stamina::testing::set_active(false);
    let flaky = Flaky::always();
    assert!(five(&flaky).is_err());
    assert_eq!(flaky.calls(), 1);
    assert_eq!(recorder.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// When hooks run, and their guards
// ---------------------------------------------------------------------------------------------

/// A hook that logs its call and returns a guard that logs its drop.
fn logging_hook(log: &Log) -> impl Fn(&RetryDetails<'_>) -> RetryGuard + Send + Sync + 'static {
    let log = log.clone();
    move |d| {
        log.push(format!("hook {}", d.retry_num));
        RetryGuard::new(log.guard(format!("guard {}", d.retry_num)))
    }
}

#[retry(on = Failure, attempts = 3, wait_initial = 0.001, wait_jitter = 0)]
fn logged(flaky: &Flaky, log: &Log) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!("attempt {}", flaky.calls()));
    outcome
}

#[retry(on = Failure, attempts = 3, wait_initial = 1, wait_jitter = 0)]
async fn logged_async(flaky: &Flaky, log: &Log, start: Instant) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!("attempt {} at {}s", flaky.calls(), secs(start)));
    outcome
}

/// Seconds on tokio's (paused) clock since `start`.
fn secs(start: Instant) -> u64 {
    start.elapsed().as_secs()
}

/// Logs when (on tokio's clock) it is dropped.
struct TimedGuard(Log, u32, Instant);

impl Drop for TimedGuard {
    fn drop(&mut self) {
        self.0
            .push(format!("drop guard {} at {}s", self.1, secs(self.2)));
    }
}

const GUARDED: [&str; 7] = [
    "attempt 1",
    "hook 1",
    "drop guard 1",
    "attempt 2",
    "hook 2",
    "drop guard 2",
    "attempt 3",
];

#[test]
fn guards_are_dropped_once_before_the_next_attempt() {
    let serial = SERIAL.blocking_lock();
    let log = Log::new();
    instrumentation::set_on_retry_hooks([logging_hook(&log)]);
    let _hooks = Hooks(serial);

    assert!(logged(&Flaky::always(), &log).is_err());
    assert_eq!(log.take(), GUARDED);
}

#[tokio::test(start_paused = true)]
async fn async_guards_live_across_the_wait() {
    let serial = SERIAL.lock().await;
    let log = Log::new();
    let hook_log = log.clone();
    let start = Instant::now();
    instrumentation::set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {} at {}s", d.retry_num, secs(start)));
        RetryGuard::new(TimedGuard(hook_log.clone(), d.retry_num, start))
    }]);
    let _hooks = Hooks(serial);

    assert!(logged_async(&Flaky::always(), &log, start).await.is_err());
    // The hook runs right after the failure, before the wait (1 s, then 2 s); its guard lives
    // across the wait and is dropped right before the next attempt.
    assert_eq!(
        log.take(),
        [
            "attempt 1 at 0s",
            "hook 1 at 0s",
            "drop guard 1 at 1s",
            "attempt 2 at 1s",
            "hook 2 at 1s",
            "drop guard 2 at 3s",
            "attempt 3 at 3s",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_drops_its_guards() {
    let serial = SERIAL.lock().await;
    let log = Log::new();
    instrumentation::set_on_retry_hooks([logging_hook(&log)]);
    let _hooks = Hooks(serial);

    let flaky = Flaky::always();
    let call = logged_async(&flaky, &log, Instant::now());
    assert!(
        tokio::time::timeout(Duration::from_millis(500), call)
            .await
            .is_err()
    );
    // Cut in its first wait: the guard is dropped with the call's future, exactly once.
    assert_eq!(log.take(), ["attempt 1 at 0s", "hook 1", "drop guard 1"]);
}
