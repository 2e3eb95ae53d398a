//! `policy = ..`: a `RetryPolicy` from an expression, shared by several fns or read at run time,
//! and how the other value arguments combine with it (they apply on top, per field).
//!
//! Hook calls are observed through the routing [`Recorder`], by the `name` of each fn (or by
//! thread, for a fn that another test calls too).

use std::sync::LazyLock;
use std::time::Duration;

use stamina::{RetryPolicy, RetryingCaller, retry};
use stamina_tests::{Failure, Flaky, Recorder};

/// No waits: each test counts attempts, not time.
const INSTANT: RetryPolicy = RetryPolicy::new()
    .attempts(3)
    .wait_initial(Duration::ZERO)
    .wait_jitter(Duration::ZERO);

static SHARED: RetryPolicy = INSTANT.attempts(4);

#[retry(policy = SHARED, on = Failure)]
fn first_user(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(policy = SHARED, on = Failure)]
fn second_user(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_static_policy_is_shared_by_several_fns() {
    for f in [first_user, second_user] {
        let flaky = Flaky::always();
        let error = f(&flaky).unwrap_err();
        assert_eq!(flaky.calls(), 4);
        assert_eq!(Some(error), flaky.last_error());
    }
}

#[retry(policy = INSTANT, on = Failure)]
fn from_a_const(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_const_policy_applies() {
    let flaky = Flaky::always();
    assert!(from_a_const(&flaky).is_err());
    assert_eq!(flaky.calls(), 3);
}

/// Filled once, at the first call, from the environment: a service tunes its retries without a
/// rebuild.
static FROM_ENV: LazyLock<RetryPolicy> = LazyLock::new(|| {
    let attempts = std::env::var("STAMINA_TESTS_POLICY_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    INSTANT.attempts(attempts)
});

#[retry(policy = FROM_ENV, on = Failure)]
fn from_a_lazy_lock(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_lazy_lock_policy_is_read_at_run_time() {
    let flaky = Flaky::always();
    assert!(from_a_lazy_lock(&flaky).is_err());
    let expected = std::env::var("STAMINA_TESTS_POLICY_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    assert_eq!(flaky.calls(), expected);
}

#[retry(policy = SHARED, on = Failure, attempts = 2, name = "policy::overridden")]
fn overridden(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(policy = SHARED, on = Failure, attempts = None, timeout = None, name = "policy::unlimited")]
fn unlimited(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn arguments_apply_on_top_of_the_policy() {
    let flaky = Flaky::always();
    assert!(overridden(&flaky).is_err());
    assert_eq!(flaky.calls(), 2, "`attempts = 2` wins over the policy's 4");

    // The policy's other fields stay: no waits, so 50 attempts take no time.
    let flaky = Flaky::new(49);
    assert_eq!(unlimited(&flaky), Ok(50));
}

#[test]
fn an_override_keeps_the_policys_waits() {
    // By thread, not by name: `arguments_apply_on_top_of_the_policy` calls `overridden` too, in
    // parallel, and its retry would be recorded here as well.
    let recorder = Recorder::for_this_thread();
    let flaky = Flaky::always();
    let _ = overridden(&flaky);
    assert_eq!(recorder.wait_fors(), [Duration::ZERO]);
}

struct Client {
    policy: RetryPolicy,
    calls: u32,
}

impl Client {
    /// The policy is a field, and the body takes `&mut self`: the policy is copied for the call,
    /// so the body's borrow does not conflict with it.
    #[retry(policy = self.policy, on = Failure)]
    fn fetch(&mut self) -> Result<u32, Failure> {
        self.calls += 1;
        Err(Failure::new(self.calls))
    }

    #[retry(policy = self.policy, on = Failure)]
    async fn fetch_async(&mut self) -> Result<u32, Failure> {
        self.calls += 1;
        Err(Failure::new(self.calls))
    }
}

#[test]
fn a_policy_from_a_field_with_mut_self() {
    let mut client = Client {
        policy: INSTANT.attempts(6),
        calls: 0,
    };
    assert_eq!(client.fetch().unwrap_err().attempt, 6);
    assert_eq!(client.calls, 6);
}

#[tokio::test]
async fn a_policy_from_a_field_in_an_async_fn() {
    let mut client = Client {
        policy: INSTANT.attempts(2),
        calls: 0,
    };
    assert_eq!(client.fetch_async().await.unwrap_err().attempt, 2);
}

#[retry(policy = policy, on = Failure)]
fn from_an_argument(policy: &RetryPolicy, flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[retry(policy = INSTANT.attempts(attempts), on = Failure)]
fn from_an_expression(attempts: u32, flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn a_policy_from_an_argument_or_any_expression() {
    let flaky = Flaky::always();
    assert!(from_an_argument(&INSTANT.attempts(7), &flaky).is_err());
    assert_eq!(flaky.calls(), 7);
    let flaky = Flaky::always();
    assert!(from_an_expression(2, &flaky).is_err());
    assert_eq!(flaky.calls(), 2);
}

struct Tuned;

impl Tuned {
    const ATTEMPTS: u32 = 2;

    /// An override that names `Self` is checked in an inline `const`.
    #[retry(policy = SHARED, on = Failure, attempts = Self::ATTEMPTS)]
    fn fetch(flaky: &Flaky) -> Result<u32, Failure> {
        flaky.attempt()
    }
}

#[test]
fn an_override_may_name_self() {
    let flaky = Flaky::always();
    assert!(Tuned::fetch(&flaky).is_err());
    assert_eq!(flaky.calls(), 2);
}

#[test]
fn the_caller_holds_the_same_policy() {
    let caller = RetryingCaller::from_policy(SHARED);
    assert_eq!(caller.get_policy(), &SHARED);
    let flaky = Flaky::always();
    assert!(caller.call(|_: &Failure| true, || flaky.attempt()).is_err());
    assert_eq!(flaky.calls(), 4);
    assert_eq!(RetryingCaller::from(SHARED), caller);
    // The caller's setters are the policy's.
    assert_eq!(
        RetryingCaller::new().attempts(4).get_policy(),
        &RetryPolicy::new().attempts(4)
    );
}

#[retry(
    on = Failure,
    attempts = 3u32,
    wait_initial = 2ms,
    wait_max = 1h,
    wait_jitter = 0us,
    wait_exp_base = 1.0f64,
    name = "policy::suffixed"
)]
fn suffixed(flaky: &Flaky) -> Result<u32, Failure> {
    flaky.attempt()
}

#[test]
fn suffixed_literals_mean_what_they_say() {
    // `wait_initial = 2ms` is two milliseconds (it was once read as two seconds), and
    // `wait_max = 1h` an hour (once one second): the waits are exactly 2 ms.
    let recorder = Recorder::for_name("policy::suffixed");
    let flaky = Flaky::always();
    assert!(suffixed(&flaky).is_err());
    assert_eq!(flaky.calls(), 3);
    assert_eq!(recorder.wait_fors(), [Duration::from_millis(2); 2]);
}
