//! The happy path (the op succeeds at once), sync and async: divan's absolute times and
//! allocation counts. The ratios that `BENCHMARKS.md` reports come from the `report` bench.
//!
//! ```text
//! cargo bench -p stamina-benches --features tryhard --bench happy_path
//! ```

use std::sync::LazyLock;

use divan::{Bencher, black_box, counter::ItemsCount};
use stamina_benches as s;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// Calls per `block_on` in the async benches: divan's time is for all of them, its throughput is
/// per call.
const N: u64 = 1_000;

static ATTR_IS_REAL: LazyLock<bool> = LazyLock::new(s::retry_attr_is_real);

fn main() {
    if !*ATTR_IS_REAL {
        eprintln!("`#[retry]` benches {}", s::RETRY_ATTR_STUB);
    }
    divan::main();
}

#[divan::bench_group]
mod sync {
    use super::{ATTR_IS_REAL, Bencher, black_box, s};

    #[divan::bench]
    fn bare() -> Result<u64, s::OpError> {
        s::bare_happy(black_box(1))
    }

    #[divan::bench]
    fn hand_loop() -> Result<u64, s::OpError> {
        s::hand_happy(black_box(1))
    }

    #[divan::bench]
    fn hand_loop_instant_now() -> Result<u64, s::OpError> {
        s::hand_timed_happy(black_box(1))
    }

    #[divan::bench]
    fn backon_blocking() -> Result<u64, s::OpError> {
        s::backon_happy(black_box(1))
    }

    #[divan::bench]
    fn stamina_caller_no_timeout() -> Result<u64, s::OpError> {
        s::caller_no_timeout_happy(black_box(1))
    }

    #[divan::bench]
    fn stamina_caller_default() -> Result<u64, s::OpError> {
        s::caller_happy(black_box(1))
    }

    #[divan::bench]
    fn stamina_attr_no_timeout(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            bencher.bench_local(|| s::attr_no_timeout_happy(black_box(1)));
        }
    }

    #[divan::bench]
    fn stamina_attr_default(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            bencher.bench_local(|| s::attr_happy(black_box(1)));
        }
    }
}

#[divan::bench_group]
mod r#async {
    use std::future::Future;

    use super::{ATTR_IS_REAL, Bencher, ItemsCount, N, s};

    fn many<Fut: Future>(bencher: Bencher<'_, '_>, f: impl Fn(u64) -> Fut) {
        let rt = s::current_thread_runtime();
        bencher
            .counter(ItemsCount::new(N))
            .bench_local(|| s::block_on_many(&rt, N, &f));
    }

    #[divan::bench]
    fn bare(bencher: Bencher<'_, '_>) {
        many(bencher, s::bare_happy_async);
    }

    #[divan::bench]
    fn hand_loop(bencher: Bencher<'_, '_>) {
        many(bencher, s::hand_happy_async);
    }

    #[divan::bench]
    fn hand_loop_instant_now(bencher: Bencher<'_, '_>) {
        many(bencher, s::hand_timed_happy_async);
    }

    #[divan::bench]
    fn backon(bencher: Bencher<'_, '_>) {
        many(bencher, s::backon_happy_async);
    }

    #[cfg(feature = "tryhard")]
    #[divan::bench]
    fn tryhard(bencher: Bencher<'_, '_>) {
        many(bencher, s::tryhard_happy_async);
    }

    #[divan::bench]
    fn tokio_retry2(bencher: Bencher<'_, '_>) {
        many(bencher, s::tokio_retry2_happy_async);
    }

    #[divan::bench]
    fn stamina_caller_no_timeout(bencher: Bencher<'_, '_>) {
        many(bencher, s::caller_no_timeout_happy_async);
    }

    #[divan::bench]
    fn stamina_caller_default(bencher: Bencher<'_, '_>) {
        many(bencher, s::caller_happy_async);
    }

    #[divan::bench]
    fn stamina_attr_no_timeout(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            many(bencher, s::attr_no_timeout_happy_async);
        }
    }

    #[divan::bench]
    fn stamina_attr_default(bencher: Bencher<'_, '_>) {
        if *ATTR_IS_REAL {
            many(bencher, s::attr_happy_async);
        }
    }
}
