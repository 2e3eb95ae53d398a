//! The retry path: the op fails 3 times, then succeeds, with zero waits (stamina in testing
//! mode, the peers with zero delays). divan's absolute times per call (4 attempts) and allocation
//! counts; the per-retry ratios that `BENCHMARKS.md` reports come from the `report` bench.
//!
//! ```text
//! cargo bench -p stamina-benches --features tryhard --bench retry_path
//! ```

use std::sync::LazyLock;

use divan::{Bencher, black_box};
use stamina_benches as s;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

static ATTR_IS_REAL: LazyLock<bool> = LazyLock::new(s::retry_attr_is_real);

fn main() {
    if !*ATTR_IS_REAL {
        eprintln!("`#[retry]` benches {}", s::RETRY_ATTR_STUB);
    }
    divan::main();
}

/// Checks that the contender really makes 4 attempts, then times it in testing mode.
fn bench_sync(bencher: Bencher<'_, '_>, f: fn(u32) -> Result<u64, s::OpError>) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    assert_eq!(
        f(s::RETRY_FAILURES),
        Ok(4),
        "the contender must make 4 attempts"
    );
    bencher.bench_local(|| f(black_box(s::RETRY_FAILURES)));
}

fn bench_async<Fut>(bencher: Bencher<'_, '_>, f: fn(u32) -> Fut)
where
    Fut: std::future::Future<Output = Result<u64, s::OpError>>,
{
    let _instant = stamina::testing::set_testing(true, 10, false);
    let rt = s::current_thread_runtime();
    assert_eq!(
        rt.block_on(f(s::RETRY_FAILURES)),
        Ok(4),
        "the contender must make 4 attempts"
    );
    bencher.bench_local(|| rt.block_on(f(black_box(s::RETRY_FAILURES))));
}

#[divan::bench_group]
mod sync {
    use super::{ATTR_IS_REAL, Bencher, bench_sync, s};

    #[divan::bench]
    fn hand_loop(bencher: Bencher<'_, '_>) {
        bench_sync(bencher, s::hand_retry);
    }

    #[divan::bench]
    fn backon_blocking(bencher: Bencher<'_, '_>) {
        bench_sync(bencher, s::backon_retry);
    }

    #[divan::bench]
    fn stamina_caller(bencher: Bencher<'_, '_>) {
        bench_sync(bencher, s::caller_retry);
    }

    #[divan::bench]
    fn stamina_attr(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            bench_sync(bencher, s::attr_retry);
        }
    }
}

#[divan::bench_group]
mod r#async {
    use super::{ATTR_IS_REAL, Bencher, bench_async, s};

    #[divan::bench]
    fn hand_loop(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::hand_retry_async);
    }

    /// backon's default sleeper: `tokio::time::sleep(ZERO)` waits for the next timer tick.
    #[divan::bench(sample_count = 20)]
    fn backon_tokio_sleeper(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::backon_retry_async);
    }

    #[divan::bench]
    fn backon_no_op_sleeper(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::backon_retry_async_no_timer);
    }

    #[cfg(feature = "tryhard")]
    #[divan::bench(sample_count = 20)]
    fn tryhard(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::tryhard_retry_async);
    }

    #[divan::bench(sample_count = 20)]
    fn tokio_retry2(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::tokio_retry2_retry_async);
    }

    #[divan::bench]
    fn stamina_caller(bencher: Bencher<'_, '_>) {
        bench_async(bencher, s::caller_retry_async);
    }

    #[divan::bench]
    fn stamina_attr(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            bench_async(bencher, s::attr_retry_async);
        }
    }
}
