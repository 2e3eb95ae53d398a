//! A build whose only timer is tokio's, retrying on another executor: it sleeps on
//! futures-timer's helper thread instead of panicking with "no reactor running".
//!
//! Only meaningful in a build of stamina with the `tokio` feature alone, which `cargo test
//! --workspace` does not make (it unifies features): `cargo test -p stamina
//! --no-default-features --features macros,tokio --test tokio_only` (in `.ci/run`).

#[cfg(all(
    feature = "tokio",
    not(feature = "async-io"),
    not(feature = "futures-timer")
))]
#[test]
fn a_tokio_build_sleeps_outside_a_tokio_runtime() {
    use std::time::{Duration, Instant};

    #[derive(Debug, PartialEq)]
    struct Flaky;

    #[stamina::retry(on = Flaky, wait_initial = 5ms, wait_jitter = 0)]
    async fn twice(calls: &mut u32) -> Result<u32, Flaky> {
        *calls += 1;
        if *calls < 3 { Err(Flaky) } else { Ok(*calls) }
    }

    let start = Instant::now();
    let mut calls = 0;
    assert_eq!(futures::executor::block_on(twice(&mut calls)), Ok(3));
    assert!(start.elapsed() >= Duration::from_millis(15));
    let caller = stamina::RetryingCaller::new()
        .wait_initial(Duration::from_millis(5))
        .wait_jitter(Duration::ZERO);
    let mut tries = 0;
    let result = futures::executor::block_on(caller.call_async(
        |_: &Flaky| true,
        || {
            tries += 1;
            std::future::ready(if tries < 2 { Err(Flaky) } else { Ok(tries) })
        },
    ));
    assert_eq!(result, Ok(2));
}
