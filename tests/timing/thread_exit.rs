//! A retrying call made from a thread-local's destructor, after stamina's own thread-locals
//! (the hook registry's copy, the metrics keys, the RNG) are gone: it falls back to an uncached
//! path instead of aborting the process.
//!
//! An abort kills the whole test binary, so the scenario runs in a child process: this binary
//! again, with an environment variable that selects it.

use std::time::Duration;

use stamina::RetryingCaller;
use stamina_tests::Failure;

const CHILD: &str = "STAMINA_TESTS_THREAD_EXIT_CHILD";

struct RetriesOnDrop;

impl Drop for RetriesOnDrop {
    fn drop(&mut self) {
        let mut calls = 0;
        let result = retrying_call(&mut calls);
        assert!(result.is_err());
        assert_eq!(calls, 3, "the call made every attempt");
        eprintln!("retried from a thread-local destructor");
    }
}

thread_local! {
    static RETRIES_ON_DROP: RetriesOnDrop = const { RetriesOnDrop };
}

fn retrying_call(calls: &mut u32) -> Result<(), Failure> {
    RetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::from_micros(10))
        .call(
            |_: &Failure| true,
            || {
                *calls += 1;
                Err(Failure::new(*calls))
            },
        )
}

#[stamina::retry(on = Failure, attempts = 3, wait_initial = 0, wait_jitter = 10us)]
fn retrying_fn() -> Result<(), Failure> {
    Err(Failure::new(1))
}

/// The child: registers the thread-local first, then makes stamina's own thread-locals exist
/// (a retry with the default hooks), so that they are destroyed before it at thread exit.
fn child() {
    std::thread::spawn(|| {
        RETRIES_ON_DROP.with(|_| {});
        let mut calls = 0;
        let _ = retrying_call(&mut calls);
        let _ = retrying_fn();
    })
    .join()
    .expect("the thread exits cleanly");
}

#[test]
fn a_retry_in_a_thread_local_destructor_does_not_abort() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_retry_in_a_thread_local_destructor_does_not_abort",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}\n{stderr}", output.status);
    assert!(
        stderr.contains("retried from a thread-local destructor"),
        "{stderr}"
    );
}
