//! The `callable` name that hooks see: the path of every form of `#[retry]` fn (free, `async`,
//! in a module, nested in a fn, methods, generic impls, trait defaults and impls,
//! `#[async_trait]` impls), `name = ..` and `RetryingCaller::name`, and the defaults (the fn that
//! the operation closure is written in; an explicit loop's call site). The paths are in this
//! binary's crate, `hook_names`.
//!
//! Every test here installs its own hooks, process-wide: each takes [`exclusive`], which
//! serializes them and restores the default hooks when it is dropped.

use std::sync::Arc;
use std::time::Duration;

use stamina::instrumentation::set_on_retry_hooks;
use stamina::{RetryContext, retry};
use stamina_tests::{
    Exclusive, Failure, Flaky, Recorder, exclusive, explicit_loop, instant, unique_name,
};

/// Takes [`exclusive`] and installs a fresh recorder as the only hook.
fn recording() -> (Exclusive, Arc<Recorder>) {
    let exclusive = exclusive();
    let recorder = Recorder::new();
    set_on_retry_hooks([recorder.hook()]);
    (exclusive, recorder)
}

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
            "hook_names::free_fn",
            "hook_names::async_fn",
            "my_app::sync_users",
            "hook_names::net::in_a_module",
            "hook_names::outer::nested",
            "hook_names::Client::method",
            "hook_names::Client::async_method",
            "hook_names::Cache<_>::get",
            "hook_names::Fetch::fetch_default",
            "<hook_names::Client as hook_names::Fetch>::fetch",
            "<hook_names::Client as hook_names::Remote>::get",
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
            "hook_names::default_name_is_the_fn_the_operation_closure_is_written_in",
            "hook_names::default_name_is_the_fn_the_operation_closure_is_written_in",
            "hook_names::fetch",
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
        ["hook_names::default_name_of_an_async_call_is_the_fn_its_closure_is_written_in"; 2]
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
    assert!(helper.starts_with("tests/support/flaky.rs:"), "{helper}");
    assert_eq!(
        names,
        [
            helper.clone(),
            helper,
            "context::named".to_owned(),
            format!("tests/instrumentation/hook_names.rs:{line}"),
            format!("tests/instrumentation/hook_names.rs:{standalone}"),
            "loop::named".to_owned(),
        ]
    );
}
