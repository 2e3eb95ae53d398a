//! The process's budget (feature `process-budget`): every retrying call that names no budget
//! uses it; a call's own budget wins; `budget = None` (`no_budget()`) keeps a call out of it; it
//! is set once.
//!
//! Only meaningful with the feature: `cargo test -p stamina --features process-budget --test
//! process_budget` (in `.ci/run`). One test, since the budget is the whole process's.

#![cfg(feature = "process-budget")]

use std::time::Duration;

use stamina::budget::{process_budget, set_process_budget};
use stamina::{RetryBudget, RetryingCaller};

#[derive(Debug, PartialEq)]
struct Down(u32);

/// Two retries in all, then none.
static PROCESS: RetryBudget = RetryBudget::new()
    .ratio(0.0)
    .min_per_sec(2)
    .window(Duration::from_secs(1));
static OWN: RetryBudget = RetryBudget::token_quota();

#[stamina::retry(on = Down, attempts = 5, wait_initial = 0, wait_jitter = 0)]
fn under_the_process_budget(calls: &mut u32) -> Result<(), Down> {
    *calls += 1;
    Err(Down(*calls))
}

#[stamina::retry(on = Down, attempts = 5, wait_initial = 0, wait_jitter = 0, budget = None)]
fn under_none(calls: &mut u32) -> Result<(), Down> {
    *calls += 1;
    Err(Down(*calls))
}

#[stamina::retry(on = Down, attempts = 5, wait_initial = 0, wait_jitter = 0, budget = OWN)]
fn under_its_own(calls: &mut u32) -> Result<(), Down> {
    *calls += 1;
    Err(Down(*calls))
}

fn calls_of(f: impl FnOnce(&mut u32) -> Result<(), Down>) -> (u32, Result<(), Down>) {
    let mut calls = 0;
    let result = f(&mut calls);
    (calls, result)
}

#[test]
fn calls_that_name_no_budget_share_the_processs() {
    assert!(process_budget().is_none());
    // Before one is set, no budget: all five attempts.
    assert_eq!(calls_of(under_the_process_budget), (5, Err(Down(5))));

    set_process_budget(&PROCESS).expect("the first");
    assert!(std::ptr::eq(process_budget().unwrap(), &raw const PROCESS));
    assert!(set_process_budget(&OWN).is_err(), "set once");

    // Two retries, then the last error, unchanged.
    assert_eq!(calls_of(under_the_process_budget), (3, Err(Down(3))));
    // A caller that names none is under it too: spent.
    let caller = RetryingCaller::new()
        .attempts(5)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let mut calls = 0;
    let result = caller.call(
        |_: &Down| true,
        || {
            calls += 1;
            Err::<(), _>(Down(calls))
        },
    );
    assert_eq!((calls, result), (1, Err(Down(1))));
    // Out of it, and under a budget of its own.
    assert_eq!(calls_of(under_none), (5, Err(Down(5))));
    assert_eq!(calls_of(under_its_own), (5, Err(Down(5))));
    assert_eq!(OWN.available(), 500 - 4 * 14);
    let mut calls = 0;
    let result = caller.no_budget().call(
        |_: &Down| true,
        || {
            calls += 1;
            Err::<(), _>(Down(calls))
        },
    );
    assert_eq!((calls, result), (5, Err(Down(5))));
}
