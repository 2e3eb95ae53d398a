//! Retries in a test suite: turn them off, keep them and make every wait zero, or keep the
//! production configuration as it is and assert its exact backoff on a test clock.
//!
//! The process-wide switches (`stamina::set_active`, `stamina::set_testing`) are stamina's;
//! the scoped ones in `stamina::testing` change only the current thread (or, with
//! `Switches::scope`, one task), so tests running in parallel don't disturb each other.
//! `stamina::testing::TestClock` records every wait a call would sleep, on virtual time: a test
//! of a 45 s retry policy takes microseconds.
//!
//! ```text
//! cargo test --example testing      # runs the test module below
//! cargo run --example testing       # the same, as a program
//! ```

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fn retried with production settings: waits up to 5 s, 45 s in all.
#[stamina::retry(on = io::Error, attempts = 5)]
fn sync_inventory(failures: &AtomicU32) -> io::Result<&'static str> {
    if failures.fetch_sub(1, Ordering::Relaxed) > 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "warehouse API timed out",
        ));
    }
    Ok("synced")
}

/// The async twin.
#[stamina::retry(on = io::Error, attempts = 5)]
async fn sync_prices(failures: &AtomicU32) -> io::Result<&'static str> {
    if failures.fetch_sub(1, Ordering::Relaxed) > 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "pricing API timed out",
        ));
    }
    Ok("synced")
}

fn main() {
    // As a program: the same checks the tests make.
    let instant = stamina::testing::set_testing(true, 3, false);
    let failures = AtomicU32::new(2);
    println!("testing mode, 2 failures: {:?}", sync_inventory(&failures));
    let failures = AtomicU32::new(5);
    println!(
        "testing mode, 5 failures, 3 attempts: {:?}",
        sync_inventory(&failures).map_err(|e| e.to_string())
    );
    drop(instant);

    let off = stamina::testing::set_active(false);
    let failures = AtomicU32::new(1);
    println!(
        "inactive, 1 failure: {:?}",
        sync_inventory(&failures).map_err(|e| e.to_string())
    );
    drop(off);

    // A task: the switches travel with the future, whichever thread polls it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let failures = AtomicU32::new(2);
    let scoped = stamina::Switches::current()
        .testing(true, 3, false)
        .scope(sync_prices(&failures));
    println!(
        "async, testing mode, 2 failures: {:?}",
        runtime.block_on(scoped)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use stamina::Switches;

    #[test]
    fn retries_are_instant_in_testing_mode() {
        // Every wait is zero and at most 3 attempts are made: on this thread only.
        let _guard = stamina::testing::set_testing(true, 3, false);
        let failures = AtomicU32::new(2);
        assert_eq!(sync_inventory(&failures).unwrap(), "synced");

        let failures = AtomicU32::new(10);
        assert_eq!(
            sync_inventory(&failures).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        assert_eq!(failures.load(Ordering::Relaxed), 7, "3 attempts, no more");
    }

    #[test]
    fn retries_are_off_when_inactive() {
        let _guard = stamina::testing::set_active(false);
        let failures = AtomicU32::new(1);
        assert!(sync_inventory(&failures).is_err(), "one attempt, no retry");
    }

    #[test]
    fn the_production_backoff_is_exactly_what_was_configured() {
        use stamina::testing::TestClock;
        use std::time::Duration;

        // Testing mode off: the real waits, recorded instead of slept, jitter reproducible.
        let clock = TestClock::new().seeded(7);
        let failures = AtomicU32::new(10);
        let started = std::time::Instant::now();
        assert!(clock.run(|| sync_inventory(&failures)).is_err());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "nothing was slept"
        );
        let waits: Vec<Duration> = clock.waits().iter().map(|w| w.wait).collect();
        assert_eq!(waits.len(), 4, "5 attempts: 4 waits");
        for (n, wait) in waits.iter().enumerate() {
            // 0.1 s doubling, plus up to 1 s of jitter, capped at 5 s.
            let floor = Duration::from_millis(100) * (1 << n);
            assert!(
                *wait >= floor
                    && *wait <= (floor + Duration::from_secs(1)).min(Duration::from_secs(5))
            );
        }
        // The same seed, the same waits.
        let again = TestClock::new().seeded(7);
        let failures = AtomicU32::new(10);
        let _ = again.run(|| sync_inventory(&failures));
        assert_eq!(again.waits(), clock.waits());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_keeps_its_switches_across_threads() {
        let failures = AtomicU32::new(2);
        let result = Switches::current()
            .testing(true, 3, false)
            .scope(sync_prices(&failures))
            .await;
        assert_eq!(result.unwrap(), "synced");
    }
}
