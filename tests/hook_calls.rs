//! What hooks see and when, through every door (`#[retry]` fns sync and async, `RetryingCaller`
//! sync and async, the explicit `RetryContext` loop): hooks run only for a scheduled retry,
//! after the failure and before the wait (never on success, for the final failure, for an
//! error `on` declines, nor when inactive); the `RetryDetails` they get (`retry_num`,
//! `wait_for`, `waited_so_far`, `caused_by`, `error_type`); the `callable` name of every form of
//! fn, of `name = ..` and `RetryingCaller::name`, and the defaults; and the guards they return:
//! alive across the wait, dropped exactly once right before the next attempt (or with the loop,
//! or with a cancelled call), never leaking into later calls.
//!
//! The registry itself, hook forms and panics are `hook_registry.rs`. Every test here installs
//! its own hooks, process-wide: each takes [`exclusive`], which serializes them and restores the
//! default hooks when it is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stamina::instrumentation::{RetryDetails, RetryGuard, set_on_retry_hooks};
use stamina::{Decision, RetryContext, RetryingCaller, retry};
use stamina_tests::{
    Exclusive, Failure, Flaky, Log, Recorder, exclusive, explicit_loop, instant, lock, ms,
    unique_name,
};
use tokio::time::Instant;

/// Takes [`exclusive`] and installs a fresh recorder as the only hook.
fn recording() -> (Exclusive, Arc<Recorder>) {
    let exclusive = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    (exclusive, recorder)
}

// ---------------------------------------------------------------------------------------------
// When hooks run
// ---------------------------------------------------------------------------------------------

#[test]
fn n_failing_attempts_give_n_minus_1_hook_calls() {
    let _x = exclusive();
    for n in 1..=6 {
        let recorder = Recorder::new();
        set_on_retry_hooks([recorder.hook()]);
        let flaky = Flaky::always();
        let _ = instant()
            .attempts(n)
            .call(|_: &Failure| true, || flaky.attempt());
        assert_eq!(recorder.retry_nums(), (1..n).collect::<Vec<_>>(), "n = {n}");
    }
}

#[test]
fn hooks_run_between_attempts_never_on_success_or_the_final_failure() {
    let _x = exclusive();
    let log = Log::new();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {}", d.retry_num));
    }]);

    let flaky = Flaky::always();
    let _ = instant()
        .attempts(3)
        .call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(
        log.take(),
        ["attempt 1", "hook 1", "attempt 2", "hook 2", "attempt 3"]
    );

    let flaky = Flaky::never();
    let _ = instant().call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1"], "success at once");

    let flaky = Flaky::new(1);
    let _ = instant().call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1", "hook 1", "attempt 2"]);

    let flaky = Flaky::always();
    let _ = instant().call(|_: &Failure| false, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1"], "declined by `on`");
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
    let (_x, recorder) = recording();

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
// The details
// ---------------------------------------------------------------------------------------------

#[test]
fn retry_details_follow_stamina_sequence() {
    // stamina, verified: jitter 0, initial 0.01, max 0.05.
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO)
        .name("hooks::sequence");
    let flaky = Flaky::always();
    let mut errors = Vec::new();
    let last = caller
        .call(
            |_: &Failure| true,
            || {
                let result = flaky.attempt();
                errors.push(result.unwrap_err());
                result
            },
        )
        .unwrap_err();
    assert_eq!(last, errors[5]);

    let retries = recorder.retries();
    assert_eq!(retries.len(), 5);
    let wait_for: Vec<_> = retries.iter().map(|r| r.wait_for).collect();
    let waited: Vec<_> = retries.iter().map(|r| r.waited_so_far).collect();
    assert_eq!(wait_for, [10, 20, 40, 50, 50].map(ms));
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
    for (i, r) in retries.iter().enumerate() {
        assert_eq!(r.name, "hooks::sequence");
        assert_eq!(r.retry_num as usize, i + 1);
        assert_eq!(r.caused_by, format!("{:?}", errors[i]));
        assert_eq!(r.error_type, "stamina_tests::Failure");
        assert_eq!(r.error_type, std::any::type_name::<Failure>());
    }
}

#[tokio::test(start_paused = true)]
async fn retry_details_follow_stamina_sequence_async() {
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .attempts(6)
        .wait_initial(ms(10))
        .wait_max(ms(50))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let start = tokio::time::Instant::now();
    let _ = caller
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await;
    assert_eq!(start.elapsed(), ms(170));
    assert_eq!(recorder.wait_fors(), [10, 20, 40, 50, 50].map(ms));
    let waited: Vec<_> = recorder.retries().iter().map(|r| r.waited_so_far).collect();
    assert_eq!(waited, [0, 10, 30, 70, 120].map(ms));
}

#[test]
fn caused_by_is_the_error_itself() {
    let _x = exclusive();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        lock(&hook_seen).push((format!("{:?}", d.caused_by), d.error_type));
    }]);
    let _ = instant().attempts(2).call(
        |_: &std::io::Error| true,
        || Err::<(), _>(std::io::Error::other("disk on fire")),
    );
    let seen = lock(&seen).clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].0,
        format!("{:?}", std::io::Error::other("disk on fire"))
    );
    assert_eq!(seen[0].1, "std::io::error::Error");
}

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
    let (_x, recorder) = recording();
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
        assert_eq!(retry.name, "hook_calls::backoff");
        assert_eq!(retry.error_type, "Failure");
        assert!(retry.caused_by.contains(&format!("attempt: {attempt}")));
    }
    assert_eq!(error.attempt, 5);
}

#[test]
fn hooks_see_each_retry_of_the_loop() {
    let (_x, recorder) = recording();
    let caller = RetryingCaller::new()
        .wait_initial(ms(1))
        .wait_jitter(Duration::ZERO)
        .attempts(4);
    let flaky = Flaky::always();
    let e = explicit_loop(&caller, &flaky).unwrap_err();
    assert_eq!(e.attempt, 4);
    assert_eq!(recorder.retry_nums(), [1, 2, 3]);
    assert_eq!(recorder.wait_fors(), [ms(1), ms(2), ms(4)]);
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

// Methods for their names; `self` unused, as the lint says of any method.
#[allow(clippy::unused_self)]
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

#[allow(clippy::unused_self)]
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
    let (_x, recorder) = recording();
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
            "hook_calls::free_fn",
            "hook_calls::async_fn",
            "my_app::sync_users",
            "hook_calls::net::in_a_module",
            "hook_calls::outer::nested",
            "hook_calls::Client::method",
            "hook_calls::Client::async_method",
            "hook_calls::Cache<_>::get",
            "hook_calls::Fetch::fetch_default",
            "<hook_calls::Client as hook_calls::Fetch>::fetch",
            "<hook_calls::Client as hook_calls::Remote>::get",
        ]
    );
}

#[test]
fn name_sets_the_callable_label() {
    let (_x, recorder) = recording();
    let name = unique_name("caller::named");
    let caller = instant().name(name.clone());
    assert_eq!(caller.get_name(), Some(name.as_str()));
    let flaky = Flaky::new(2);
    assert_eq!(caller.call(|_: &Failure| true, || flaky.attempt()), Ok(3));
    let names: Vec<_> = recorder.retries().into_iter().map(|r| r.name).collect();
    assert_eq!(names, [name.clone(), name]);
}

#[test]
fn name_accepts_a_static_str() {
    let (_x, recorder) = recording();
    let caller = instant().name("caller::static_name");
    assert_eq!(caller.get_name(), Some("caller::static_name"));
    let flaky = Flaky::new(1);
    caller.call(|_: &Failure| true, || flaky.attempt()).unwrap();
    assert_eq!(recorder.retries()[0].name, "caller::static_name");
}

fn fetch() -> Result<u32, Failure> {
    Err(Failure::new(1))
}

#[test]
fn default_name_is_the_fn_the_operation_closure_is_written_in() {
    let (_x, recorder) = recording();
    let caller = instant();
    assert_eq!(caller.get_name(), None);
    let flaky = Flaky::new(1);
    caller.call(|_: &Failure| true, || flaky.attempt()).unwrap();
    let bound = caller.on(|_: &Failure| true);
    let flaky = Flaky::new(1);
    bound.call(|| flaky.attempt()).unwrap();

    // A fn as the operation: its own path.
    let _ = caller.attempts(2).call(|_: &Failure| true, fetch);

    let names: Vec<_> = recorder.retries().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "hook_calls::default_name_is_the_fn_the_operation_closure_is_written_in",
            "hook_calls::default_name_is_the_fn_the_operation_closure_is_written_in",
            "hook_calls::fetch",
        ]
    );
}

#[tokio::test]
async fn default_name_of_an_async_call_is_the_fn_its_closure_is_written_in() {
    let (_x, recorder) = recording();
    let flaky = Flaky::new(1);
    instant()
        .call_async(|_: &Failure| true, || async { flaky.attempt() })
        .await
        .unwrap();
    let flaky = Flaky::new(1);
    instant()
        .call_async_mut(|_: &Failure| true, async || flaky.attempt())
        .await
        .unwrap();
    let names: Vec<_> = recorder.retries().into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        ["hook_calls::default_name_of_an_async_call_is_the_fn_its_closure_is_written_in"; 2]
    );
}

#[test]
fn a_loop_is_labelled_with_its_call_site_unless_named() {
    let (_x, recorder) = recording();
    let flaky = Flaky::new(2);
    let _ = explicit_loop(&instant(), &flaky);
    let flaky = Flaky::new(1);
    let _ = explicit_loop(&instant().name("context::named"), &flaky);
    let caller = instant();
    let bound = caller.on(|_: &Failure| true);
    let (mut retry, line) = (bound.context(), line!());
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();
    let policy = stamina::RetryPolicy::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let (mut retry, standalone) = (RetryContext::new(&policy, |_: &Failure| true), line!());
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();
    let mut retry = RetryContext::new(&policy, |_: &Failure| true).name("loop::named");
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();

    let names: Vec<_> = recorder.retries().into_iter().map(|r| r.name).collect();
    // `explicit_loop` starts its loop in the support crate: that is its call site.
    let helper = names[0].clone();
    assert!(helper.starts_with("tests/support/lib.rs:"), "{helper}");
    assert_eq!(
        names,
        [
            helper.clone(),
            helper,
            "context::named".to_owned(),
            format!("tests/hook_calls.rs:{line}"),
            format!("tests/hook_calls.rs:{standalone}"),
            "loop::named".to_owned(),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------------

#[test]
fn guard_drops_exactly_once_right_before_the_next_attempt() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = RetryingCaller::new()
        .attempts(4)
        .wait_initial(ms(2))
        .wait_jitter(Duration::ZERO);
    let flaky = Flaky::always();
    let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(
        log.entries(),
        [
            "attempt 1",
            "hook 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "drop 2",
            "attempt 3",
            "hook 3",
            "drop 3",
            "attempt 4",
        ]
    );
}

#[retry(on = Failure, attempts = 3, wait_initial = 0.001, wait_jitter = 0)]
fn logged(flaky: &Flaky, log: &Log) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!("attempt {}", flaky.calls()));
    outcome
}

const GUARDED: [&str; 7] = [
    "attempt 1",
    "hook 1",
    "drop 1",
    "attempt 2",
    "hook 2",
    "drop 2",
    "attempt 3",
];

#[test]
fn guards_are_dropped_once_before_the_next_attempt() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);

    assert!(logged(&Flaky::always(), &log).is_err());
    assert_eq!(log.take(), GUARDED);
}

/// A guard that logs the (paused) time at which it is dropped.
struct TimedGuard {
    log: Log,
    label: String,
    start: tokio::time::Instant,
}

impl Drop for TimedGuard {
    fn drop(&mut self) {
        let at = self.start.elapsed().as_millis();
        self.log.push(format!("drop {} at {at}", self.label));
    }
}

#[tokio::test(start_paused = true)]
async fn guard_lives_across_the_whole_sleep() {
    let _x = exclusive();
    let log = Log::new();
    let start = tokio::time::Instant::now();
    let hook_log = log.clone();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        let at = start.elapsed().as_millis();
        hook_log.push(format!("hook {} at {at}", d.retry_num));
        RetryGuard::new(TimedGuard {
            log: hook_log.clone(),
            label: d.retry_num.to_string(),
            start,
        })
    }]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(60));
    let flaky = Flaky::new(3);
    let v = caller
        .call_async(
            |_: &Failure| true,
            || async {
                let at = start.elapsed().as_millis();
                log.push(format!("attempt {} at {at}", flaky.calls() + 1));
                flaky.attempt()
            },
        )
        .await;
    assert_eq!(v, Ok(4));
    assert_eq!(
        log.entries(),
        [
            "attempt 1 at 0",
            "hook 1 at 0",
            "drop 1 at 1000",
            "attempt 2 at 1000",
            "hook 2 at 1000",
            "drop 2 at 3000",
            "attempt 3 at 3000",
            "hook 3 at 3000",
            "drop 3 at 7000",
            "attempt 4 at 7000",
        ]
    );
}

#[retry(on = Failure, attempts = 3, wait_initial = 1, wait_jitter = 0)]
async fn logged_async(flaky: &Flaky, log: &Log, start: Instant) -> Result<u32, Failure> {
    let outcome = flaky.attempt();
    log.push(format!(
        "attempt {} at {}s",
        flaky.calls(),
        seconds_since(start)
    ));
    outcome
}

/// Seconds on tokio's (paused) clock since `start`.
fn seconds_since(start: Instant) -> u64 {
    start.elapsed().as_secs()
}

/// Logs when (on tokio's clock) it is dropped.
struct SecondsGuard(Log, u32, Instant);

impl Drop for SecondsGuard {
    fn drop(&mut self) {
        self.0.push(format!(
            "drop guard {} at {}s",
            self.1,
            seconds_since(self.2)
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn async_guards_live_across_the_wait() {
    let _x = exclusive();
    let log = Log::new();
    let hook_log = log.clone();
    let start = Instant::now();
    set_on_retry_hooks([move |d: &RetryDetails<'_>| {
        hook_log.push(format!("hook {} at {}s", d.retry_num, seconds_since(start)));
        RetryGuard::new(SecondsGuard(hook_log.clone(), d.retry_num, start))
    }]);

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

#[test]
fn guards_never_leak_into_later_calls() {
    // stamina's bug: the entered context managers are never cleared, and every later attempt
    // (of this call and of later calls) exits them again.
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant().attempts(3);
    for call in 0..3 {
        let flaky = Flaky::always();
        let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
        assert_eq!(
            log.take(),
            [
                "attempt 1",
                "hook 1",
                "drop 1",
                "attempt 2",
                "hook 2",
                "drop 2",
                "attempt 3",
            ],
            "call {call}"
        );
    }
    let flaky = Flaky::new(1);
    let _ = caller.call(|_: &Failure| true, || log.attempt(&flaky));
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1", "attempt 2"]);
}

#[tokio::test]
async fn guards_never_leak_into_later_async_calls() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant().attempts(3);
    for _ in 0..2 {
        let flaky = Flaky::always();
        let _ = caller
            .call_async(|_: &Failure| true, || async { log.attempt(&flaky) })
            .await;
        let flaky = Flaky::always();
        let _ = caller
            .call_async_mut(|_: &Failure| true, async || log.attempt(&flaky))
            .await;
    }
    let expected = [
        "attempt 1",
        "hook 1",
        "drop 1",
        "attempt 2",
        "hook 2",
        "drop 2",
        "attempt 3",
    ];
    assert_eq!(log.take(), [&expected[..]; 4].concat());
}

#[test]
fn context_guards_live_until_the_next_attempt_or_the_end_of_the_loop() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant();
    {
        let mut retry = caller.context(|_: &Failure| true);
        retry.attempt();
        log.push("attempt 1");
        retry.decide(Failure::new(1)).unwrap();
        log.push("decided 1");
        retry.attempt();
        log.push("attempt 2");
        retry.decide(Failure::new(2)).unwrap();
        log.push("decided 2");
        // The loop ends here without another attempt: the guard goes with the context.
    }
    log.push("after the loop");
    assert_eq!(
        log.entries(),
        [
            "attempt 1",
            "hook 1",
            "decided 1",
            "drop 1",
            "attempt 2",
            "hook 2",
            "decided 2",
            "drop 2",
            "after the loop",
        ]
    );
}

#[test]
fn context_backoff_drops_the_guard_after_its_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = instant();
    let mut retry = caller.context(|_: &Failure| true);
    retry.attempt();
    retry.backoff(Failure::new(1)).unwrap();
    log.push("backoff returned");
    retry.attempt();
    log.push("attempt 2");
    assert_eq!(
        log.entries(),
        ["hook 1", "drop 1", "backoff returned", "attempt 2"]
    );
}

#[tokio::test(start_paused = true)]
async fn guard_drops_once_when_the_call_is_cancelled_mid_sleep() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::from_secs(3600))
        .wait_jitter(Duration::ZERO)
        .wait_max(Duration::from_secs(3600));

    let flaky = Flaky::always();
    let outcome = tokio::time::timeout(
        Duration::from_secs(1),
        caller.call_async(|_: &Failure| true, || async { log.attempt(&flaky) }),
    )
    .await;
    assert!(outcome.is_err(), "the call should still be sleeping");
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1"], "timeout");

    let flaky = Flaky::always();
    let mut call = Box::pin(caller.call_async_mut(
        |_: &Failure| Decision::RetryAfter(Duration::from_secs(60)),
        async || log.attempt(&flaky),
    ));
    tokio::select! {
        _ = &mut call => panic!("the call should still be sleeping"),
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    assert_eq!(log.entries(), ["attempt 1", "hook 1"], "alive");
    drop(call);
    assert_eq!(log.take(), ["attempt 1", "hook 1", "drop 1"], "select");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_drops_its_guards() {
    let _x = exclusive();
    let log = Log::new();
    set_on_retry_hooks([log.guarding_hook()]);

    let flaky = Flaky::always();
    let call = logged_async(&flaky, &log, Instant::now());
    assert!(
        tokio::time::timeout(Duration::from_millis(500), call)
            .await
            .is_err()
    );
    // Cut in its first wait: the guard is dropped with the call's future, exactly once.
    assert_eq!(log.take(), ["attempt 1 at 0s", "hook 1", "drop 1"]);
}
