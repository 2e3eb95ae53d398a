//! The retry path with instrumentation on: stamina's default hooks, with a `tracing_subscriber`
//! fmt subscriber (writing to `io::sink`) and a Prometheus recorder installed. 3 failures, then
//! success, in testing mode (zero waits).
//!
//! ```text
//! cargo bench -p stamina-benches --bench instrumented
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
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .finish(),
    )
    .expect("no subscriber yet");
    metrics::set_global_recorder(
        metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
    )
    .expect("no recorder yet");
    divan::main();
}

#[divan::bench]
fn stamina_caller(bencher: Bencher<'_, '_>) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    bencher.bench_local(|| s::caller_retry(black_box(s::RETRY_FAILURES)));
}

#[divan::bench]
fn stamina_caller_async(bencher: Bencher<'_, '_>) {
    let _instant = stamina::testing::set_testing(true, 10, false);
    let rt = s::current_thread_runtime();
    bencher.bench_local(|| rt.block_on(s::caller_retry_async(black_box(s::RETRY_FAILURES))));
}

#[divan::bench]
fn stamina_attr(bencher: Bencher<'_, '_>) {
    if *ATTR_IS_REAL {
        let _instant = stamina::testing::set_testing(true, 10, false);
        bencher.bench_local(|| s::attr_retry(black_box(s::RETRY_FAILURES)));
    }
}

#[divan::bench]
fn stamina_attr_async(bencher: Bencher<'_, '_>) {
    if *ATTR_IS_REAL {
        let _instant = stamina::testing::set_testing(true, 10, false);
        let rt = s::current_thread_runtime();
        bencher.bench_local(|| rt.block_on(s::attr_retry_async(black_box(s::RETRY_FAILURES))));
    }
}
