//! Hedged calls (`RetryingCaller::call_hedged`), on a `TestClock`'s virtual time: each try
//! sleeps a scripted latency on the clock, so a test asserts to the nanosecond when each hedge
//! was sent, which try won, and what was cancelled.
//!
//! The hook calls are routed by `callable`: each test names its caller uniquely, so the tests
//! run in parallel.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stamina::hedge::{HedgeEstimator, Hedging};
use stamina::testing::TestClock;
use stamina::{RetryBudget, RetryingCaller, TimeoutMode};
use stamina_tests::{hook_calls, lock, ms, record_hook_calls, unique_name};

type Outcome = Result<u32, &'static str>;

/// Tries that each take a scripted latency on the virtual clock, then give a scripted outcome;
/// a log of what happened to each, in order.
struct Script {
    clock: TestClock,
    tries: Mutex<VecDeque<(Duration, Outcome)>>,
    log: Mutex<Vec<String>>,
    made: AtomicUsize,
}

impl Script {
    fn new(clock: &TestClock, tries: impl IntoIterator<Item = (u64, Outcome)>) -> Arc<Self> {
        Arc::new(Script {
            clock: clock.clone(),
            tries: Mutex::new(tries.into_iter().map(|(t, o)| (ms(t), o)).collect()),
            log: Mutex::new(Vec::new()),
            made: AtomicUsize::new(0),
        })
    }

    /// The op: the next scripted try.
    fn op(
        self: &Arc<Self>,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Outcome>>> + use<> {
        let script = Arc::clone(self);
        move || script.next_try()
    }

    /// The next scripted try, numbered in the order the tries were made.
    fn next_try(self: &Arc<Self>) -> std::pin::Pin<Box<dyn Future<Output = Outcome>>> {
        let script = Arc::clone(self);
        let i = self.made.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let (latency, outcome) = lock(&script.tries).pop_front().expect("a scripted try");
            script.note(&format!("sent {i}"));
            let mut done = Done {
                script: &script,
                i,
                finished: false,
            };
            script.clock.sleep(latency).await;
            done.finished = true;
            script.note(&format!("done {i}"));
            outcome
        })
    }

    fn note(&self, what: &str) {
        let at = self.clock.elapsed();
        lock(&self.log).push(format!("{what} at {at:?}"));
    }

    fn log(&self) -> Vec<String> {
        lock(&self.log).clone()
    }
}

/// Logs a try dropped before it finished: cancelled.
struct Done<'a> {
    script: &'a Script,
    i: usize,
    finished: bool,
}

impl Drop for Done<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.script.note(&format!("cancelled {}", self.i));
        }
    }
}

/// A caller named uniquely, with waits of zero between attempts.
fn caller(prefix: &str) -> (RetryingCaller, String) {
    record_hook_calls();
    let name = unique_name(prefix);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .name(name.clone());
    (caller, name)
}

/// `on`: everything but `"fatal"` is retried.
fn on(e: &&'static str) -> bool {
    *e != "fatal"
}

const AFTER_10MS: Hedging = Hedging::fixed(Duration::from_millis(10));

#[test]
fn a_hedge_goes_after_the_delay_and_the_first_success_wins() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1))]);
    let (caller, name) = caller("hedge::wins");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(result, Ok(1), "the hedge's answer");
    assert_eq!(
        clock.elapsed(),
        ms(15),
        "sent at 10 ms, answered 5 ms later"
    );
    assert_eq!(
        script.log(),
        [
            "sent 0 at 0ns",
            "sent 1 at 10ms",
            "done 1 at 15ms",
            "cancelled 0 at 15ms"
        ],
        "the primary is dropped, unfinished, when the hedge wins"
    );
    assert_eq!(hook_calls(&name), ["hedge 1 (delay) at 10ms", "won 1"]);
}

#[test]
fn a_primary_that_answers_before_the_delay_sends_no_hedge() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(9, Ok(7))]);
    let (caller, name) = caller("hedge::primary");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS.hedges(4), on, script.op()));
    assert_eq!(result, Ok(7));
    assert_eq!(clock.elapsed(), ms(9));
    assert_eq!(script.log(), ["sent 0 at 0ns", "done 0 at 9ms"]);
    assert!(hook_calls(&name).is_empty());
}

#[test]
fn each_further_hedge_waits_one_more_delay_up_to_the_count() {
    let clock = TestClock::new();
    let script = Script::new(
        &clock,
        [(100, Ok(0)), (100, Ok(1)), (100, Ok(2)), (100, Ok(3))],
    );
    let (caller, name) = caller("hedge::count");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS.hedges(3), on, script.op()));
    assert_eq!(result, Ok(0), "the primary still answers first");
    assert_eq!(
        hook_calls(&name),
        [
            "hedge 1 (delay) at 10ms",
            "hedge 2 (delay) at 20ms",
            "hedge 3 (delay) at 30ms"
        ]
    );
    assert_eq!(
        script.log()[4..],
        [
            "done 0 at 100ms",
            "cancelled 1 at 100ms",
            "cancelled 2 at 100ms",
            "cancelled 3 at 100ms"
        ]
    );
}

#[test]
fn a_retried_failure_sends_the_next_hedge_at_once() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(3, Err("flaky")), (4, Ok(1))]);
    let (caller, name) = caller("hedge::failure");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(result, Ok(1));
    assert_eq!(clock.elapsed(), ms(7));
    assert_eq!(hook_calls(&name), ["hedge 1 (failure) at 3ms", "won 1"]);
}

#[test]
fn a_declined_failure_ends_the_call_with_it_and_cancels_the_rest() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(100, Ok(0)), (2, Err("fatal"))]);
    let (caller, name) = caller("hedge::fatal");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(result, Err("fatal"), "the declined error, unchanged");
    assert_eq!(clock.elapsed(), ms(12));
    assert_eq!(
        script.log().last().map(String::as_str),
        Some("cancelled 0 at 12ms")
    );
    assert_eq!(hook_calls(&name), ["hedge 1 (delay) at 10ms"], "no retry");
}

#[test]
fn when_every_try_fails_the_policy_retries_the_attempt_hedged_again() {
    let clock = TestClock::new();
    let script = Script::new(
        &clock,
        [
            (20, Err("a")),
            (20, Err("b")),
            (20, Err("c")),
            (20, Err("d")),
        ],
    );
    let (caller, name) = caller("hedge::retries");
    let result = clock.block_on(caller.attempts(2).call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(result, Err("d"), "the last error, unchanged");
    assert_eq!(
        hook_calls(&name),
        [
            "hedge 1 (delay) at 10ms",
            "retry 1",
            "hedge 1 (delay) at 10ms"
        ],
        "attempts * (1 + hedges) tries: 4"
    );
    assert_eq!(clock.elapsed(), ms(60), "30 ms per attempt, zero waits");
    assert!(lock(&script.tries).is_empty());
}

#[test]
fn a_zero_delay_sends_every_hedge_with_the_primary() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(30, Ok(0)), (20, Ok(1)), (10, Ok(2))]);
    let (caller, name) = caller("hedge::zero");
    let hedging = Hedging::fixed(Duration::ZERO).hedges(2);
    let result = clock.block_on(caller.call_hedged(hedging, on, script.op()));
    assert_eq!(result, Ok(2));
    assert_eq!(clock.elapsed(), ms(10));
    assert_eq!(
        hook_calls(&name),
        ["hedge 1 (delay) at 0ns", "hedge 2 (delay) at 0ns", "won 2"]
    );
}

#[test]
fn testing_mode_turns_hedging_off() {
    let _testing = stamina::testing::set_testing(true, 3, false);
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Err("a")), (50, Err("b")), (50, Ok(2))]);
    let (caller, name) = caller("hedge::testing");
    let result = clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(
        result,
        Ok(2),
        "one try per attempt, as a plain retrying call"
    );
    assert_eq!(hook_calls(&name), ["retry 1", "retry 2"]);
    assert_eq!(clock.elapsed(), ms(150));
}

#[test]
fn a_budget_that_denies_a_hedge_leaves_it_unsent() {
    static NONE_LEFT: RetryBudget = RetryBudget::new().ratio(0.0).min_per_sec(0);
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1))]);
    let (caller, name) = caller("hedge::budget");
    let result = clock.block_on(
        caller
            .budget(&NONE_LEFT)
            .call_hedged(AFTER_10MS, on, script.op()),
    );
    assert_eq!(result, Ok(0), "the primary alone");
    assert_eq!(clock.elapsed(), ms(50));
    assert!(hook_calls(&name).is_empty());
}

#[test]
fn a_ratio_budget_bounds_hedges_and_retries_together() {
    // 10% over the window, no reserve. A hedge asks the budget before its own call ends and is
    // counted, so the 100th call's hedge sees 99 calls: 9 extra tries, hedges or retries.
    static TENTH: RetryBudget = RetryBudget::new().ratio(0.1).min_per_sec(0);
    let clock = TestClock::new();
    let (caller, _) = caller("hedge::shared");
    let caller = caller.budget(&TENTH).attempts(3);
    // Every primary is slow: each call would hedge.
    let mut extra = 0;
    for _ in 0..100 {
        let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1)), (5, Ok(2))]);
        clock
            .block_on(caller.call_hedged(AFTER_10MS, on, script.op()))
            .unwrap();
        extra += script
            .log()
            .iter()
            .filter(|l| l.starts_with("sent"))
            .count()
            - 1;
    }
    assert_eq!(extra, 9, "what the budget allows, and no more");
    // With those 100 counted, one more extra try: a hedge for the failed primary. Then neither
    // a hedge nor a retry is left: they spend the same budget.
    let script = Script::new(&clock, [(1, Err("down")), (1, Ok(1))]);
    assert_eq!(
        clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op())),
        Ok(1)
    );
    let script = Script::new(&clock, [(1, Err("down"))]);
    let result = clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op()));
    assert_eq!(
        result,
        Err("down"),
        "the first error, unchanged: no retry either"
    );
}

#[test]
fn grpc_throttling_lets_hedges_through_only_above_half_its_tokens() {
    static TOKENS: RetryBudget = RetryBudget::grpc_throttling(4, 1.0);
    let clock = TestClock::new();
    let (caller, name) = caller("hedge::grpc");
    let caller = caller.budget(&TOKENS).attempts(1);
    // A failed primary sends the hedge at once (4 tokens are above half); both failures take a
    // token: 2 of 4 is not above half.
    let script = Script::new(&clock, [(1, Err("down")), (1, Err("down"))]);
    assert_eq!(
        clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op())),
        Err("down")
    );
    assert_eq!(TOKENS.get_tokens(), Some(2.0));
    assert_eq!(hook_calls(&name), ["hedge 1 (failure) at 1ms"]);
    let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1))]);
    assert_eq!(
        clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op())),
        Ok(0)
    );
    assert_eq!(hook_calls(&name).len(), 1, "no hedge at half the tokens");
    assert_eq!(TOKENS.get_tokens(), Some(3.0), "the success gave one back");
    let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1))]);
    assert_eq!(
        clock.block_on(caller.call_hedged(AFTER_10MS, on, script.op())),
        Ok(1)
    );
    assert_eq!(hook_calls(&name)[1..], ["hedge 1 (delay) at 10ms", "won 1"]);
}

#[test]
fn in_deadline_mode_no_hedge_goes_past_the_timeout() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Ok(0)), (100, Ok(1)), (100, Ok(2))]);
    let (caller, name) = caller("hedge::deadline");
    let caller = caller.timeout(ms(15)).timeout_mode(TimeoutMode::Deadline);
    let result = clock.block_on(caller.call_hedged(AFTER_10MS.hedges(2), on, script.op()));
    assert_eq!(result, Ok(0));
    assert_eq!(
        hook_calls(&name),
        ["hedge 1 (delay) at 10ms"],
        "none at 20 ms, past 15 ms"
    );
}

#[test]
fn no_hedge_goes_past_the_timeout_in_stamina_s_mode_either() {
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Ok(0)), (100, Ok(1)), (100, Ok(2))]);
    let (caller, name) = caller("hedge::timeout");
    let caller = caller.timeout(ms(15));
    let result = clock.block_on(caller.call_hedged(AFTER_10MS.hedges(2), on, script.op()));
    assert_eq!(result, Ok(0));
    assert_eq!(
        hook_calls(&name),
        ["hedge 1 (delay) at 10ms"],
        "none at 20 ms, past 15 ms"
    );
}

#[test]
fn an_adaptive_delay_hedges_the_slowest_calls_after_its_warmup() {
    static ESTIMATOR: HedgeEstimator = HedgeEstimator::new()
        .max_extra_load(0.1)
        .warmup(50)
        .floor(Duration::ZERO);
    let clock = TestClock::new();
    let (caller, name) = caller("hedge::adaptive");
    let hedging = Hedging::adaptive(&ESTIMATOR);
    // Latencies of 1 to 100 ms, each once in every 100 calls (in a scrambled order): p90 is
    // 90 ms, so one call in ten outlives the delay and sends a hedge.
    let latency = |i: u64| (i * 37) % 100 + 1;
    let mut hedged = 0;
    for i in 0..1_000u64 {
        let script = Script::new(&clock, [(latency(i), Ok(0)), (1, Ok(1))]);
        let result = clock.block_on(caller.call_hedged(hedging, on, script.op()));
        if i < 50 {
            assert_eq!(result, Ok(0), "no hedge while warming up ({i})");
        }
        hedged += u32::from(result == Ok(1));
    }
    let delay = ESTIMATOR.delay().expect("warm").as_secs_f64() * 1e3;
    assert!(
        (delay - 90.0).abs() < 90.0 / 16.0,
        "p90 of 1..=100 ms: {delay} ms"
    );
    assert!(
        (80..=120).contains(&hedged),
        "about 10% of 950 calls hedged: {hedged}"
    );
    assert_eq!(
        hook_calls(&name)
            .iter()
            .filter(|c| c.starts_with("won"))
            .count(),
        hedged as usize
    );
}

// The attribute's door: the same hedged call, written on the fn.

#[stamina::retry(on = on, hedge = 10ms, attempts = 2, wait_initial = 0, wait_jitter = 0, name = "hedge::attribute")]
async fn fetch(script: &Arc<Script>) -> Outcome {
    script.next_try().await
}

// The same, under a name of its own: the tests run in parallel, each reading its own calls.
#[stamina::retry(on = on, hedge = 10ms, attempts = 2, wait_initial = 0, wait_jitter = 0, name = "hedge::attribute-retries")]
async fn fetch_again(script: &Arc<Script>) -> Outcome {
    script.next_try().await
}

static LOOKUP: Hedging = Hedging::fixed(Duration::from_millis(10)).hedges(1);
const TWO: u32 = 2;

struct Client {
    script: Arc<Script>,
}

impl Client {
    #[stamina::retry(on = on, hedge = LOOKUP, hedges = TWO, name = "hedge::method")]
    async fn get(&self, offset: u32) -> Outcome {
        self.script.next_try().await.map(|n| n + offset)
    }
}

static ESTIMATOR: HedgeEstimator = HedgeEstimator::new();

#[stamina::retry(on = on, hedge = ESTIMATOR, name = "hedge::adaptive-attribute")]
async fn adaptive(script: &Arc<Script>) -> Outcome {
    script.next_try().await
}

#[test]
fn the_attribute_hedges_an_async_fn() {
    record_hook_calls();
    let clock = TestClock::new();
    let script = Script::new(&clock, [(50, Ok(0)), (5, Ok(1))]);
    assert_eq!(clock.block_on(fetch(&script)), Ok(1));
    assert_eq!(clock.elapsed(), ms(15));
    assert_eq!(
        script.log().last().map(String::as_str),
        Some("cancelled 0 at 15ms")
    );
    assert_eq!(
        hook_calls("hedge::attribute"),
        ["hedge 1 (delay) at 10ms", "won 1"]
    );
}

#[test]
fn the_attribute_retries_an_attempt_whose_tries_all_failed() {
    record_hook_calls();
    let clock = TestClock::new();
    let script = Script::new(
        &clock,
        [
            (20, Err("a")),
            (20, Err("b")),
            (20, Err("c")),
            (20, Err("d")),
        ],
    );
    // `attempts = 2`: two attempts of a primary and a hedge each.
    assert_eq!(
        clock.block_on(fetch_again(&script)),
        Err("d"),
        "the last error, unchanged"
    );
    assert!(lock(&script.tries).is_empty());
    assert_eq!(
        hook_calls("hedge::attribute-retries"),
        [
            "hedge 1 (delay) at 10ms",
            "retry 1",
            "hedge 1 (delay) at 10ms"
        ]
    );
}

#[test]
fn a_method_takes_a_hedging_constant_and_a_count() {
    record_hook_calls();
    let clock = TestClock::new();
    let script = Script::new(&clock, [(100, Ok(0)), (100, Ok(1)), (5, Ok(2))]);
    let client = Client { script };
    assert_eq!(
        clock.block_on(client.get(40)),
        Ok(42),
        "the second hedge's answer"
    );
    assert_eq!(
        hook_calls("hedge::method"),
        [
            "hedge 1 (delay) at 10ms",
            "hedge 2 (delay) at 20ms",
            "won 2"
        ]
    );
}

#[test]
fn the_attribute_takes_a_static_estimator() {
    let clock = TestClock::new();
    // Warming up: no hedge, whatever the latency.
    let script = Script::new(&clock, [(500, Ok(0))]);
    assert_eq!(clock.block_on(adaptive(&script)), Ok(0));
    assert_eq!(ESTIMATOR.delay(), None);
}

// An estimator per key: each shard's latencies make its own delay.

static BY_SHARD: stamina::hedge::Partitioned<HedgeEstimator> = stamina::hedge::Partitioned::new(
    HedgeEstimator::new()
        .max_extra_load(0.1)
        .warmup(20)
        .floor(Duration::ZERO),
);

#[stamina::retry(on = on, hedge = BY_SHARD.get(shard), name = "hedge::by-shard")]
async fn sharded(shard: &str, script: &Arc<Script>) -> Outcome {
    script.next_try().await
}

#[test]
fn a_partitioned_estimator_learns_a_delay_per_key() {
    let clock = TestClock::new();
    // The fast shard answers in 1 to 10 ms, the slow one in 10 to 100 ms: p90 9 ms and 90 ms.
    // A hedge sent past a delay takes a second, so the primary always wins.
    for i in 0..200u64 {
        let fast = Script::new(&clock, [(i % 10 + 1, Ok(0)), (1_000, Ok(1))]);
        assert_eq!(clock.block_on(sharded("fast", &fast)), Ok(0));
        let slow = Script::new(&clock, [((i % 10 + 1) * 10, Ok(0)), (1_000, Ok(1))]);
        assert_eq!(clock.block_on(sharded("slow", &slow)), Ok(0));
    }
    let delay = |shard| BY_SHARD.get(shard).delay().expect("warm").as_secs_f64() * 1e3;
    assert!(
        (delay("fast") - 9.0).abs() < 1.0,
        "fast: {} ms",
        delay("fast")
    );
    assert!(
        (delay("slow") - 90.0).abs() < 9.0,
        "slow: {} ms",
        delay("slow")
    );
    assert_eq!(
        BY_SHARD.get("unseen").delay(),
        None,
        "a new key warms up on its own"
    );
    // The caller's door takes the same estimator.
    let (caller, _) = caller("hedge::by-shard-caller");
    let script = Script::new(&clock, [(50, Ok(0)), (1, Ok(1))]);
    let hedging = Hedging::adaptive(BY_SHARD.get("fast"));
    assert_eq!(
        clock.block_on(caller.call_hedged(hedging, on, script.op())),
        Ok(1),
        "50 ms is past the fast shard's delay: its hedge wins"
    );
}
