//! The retry path, sync and async: 3 failures then success, zero waits (stamina in testing
//! mode); the cost of one retry, which contenders reach the tokio timer for a zero wait, and the
//! bars of the retry path.

use stamina_benches as s;
use tokio::runtime::Runtime;

use crate::bars::Bars;
use crate::contender::{Contender, async_retry_many, contenders, sync_retry_many, without_hooks};
use crate::measure::{Config, allocs_per_call, instructions_per_call, time_all};
use crate::table::{Row, Table, fmt_ns};

pub(crate) const RETRY_SYNC: &[Contender] = contenders! {
    "rs-hand" "hand-written loop" => |_, n, f| sync_retry_many(n, f, s::hand_retry);
    "rs-backon" "backon `BlockingRetryable`" => |_, n, f| sync_retry_many(n, f, s::backon_retry);
    "rs-backon-notify" "backon `BlockingRetryable` + an event and a counter in `notify`" => |_, n, f| sync_retry_many(n, f, s::backon_retry_notify);
    "rs-caller" "stamina `RetryingCaller::call` (default hooks)" => |_, n, f| sync_retry_many(n, f, s::caller_retry);
    "rs-caller-nohooks" "stamina `RetryingCaller::call`, no hooks" => |_, n, f| without_hooks(|| sync_retry_many(n, f, s::caller_retry));
    "rs-attr" "stamina `#[retry]` (default hooks)" => |_, n, f| sync_retry_many(n, f, s::attr_retry);
    "rs-attr-nohooks" "stamina `#[retry]`, no hooks" => |_, n, f| without_hooks(|| sync_retry_many(n, f, s::attr_retry));
};

pub(crate) const RETRY_ASYNC: &[Contender] = contenders! {
    "ra-hand" "hand-written loop" => |rt, n, f| async_retry_many(rt, n, f, s::hand_retry_async);
    "ra-backon" "backon `Retryable` (tokio sleeper)" => |rt, n, f| async_retry_many(rt, n, f, s::backon_retry_async);
    "ra-backon-notimer" "backon `Retryable`, no-op sleeper" => |rt, n, f| async_retry_many(rt, n, f, s::backon_retry_async_no_timer);
    #[cfg(feature = "tryhard")]
    "ra-tryhard" "tryhard" => |rt, n, f| async_retry_many(rt, n, f, s::tryhard_retry_async);
    "ra-tokio-retry2" "tokio-retry2" => |rt, n, f| async_retry_many(rt, n, f, s::tokio_retry2_retry_async);
    "ra-caller" "stamina `call_async` (default hooks)" => |rt, n, f| async_retry_many(rt, n, f, s::caller_retry_async);
    "ra-caller-nohooks" "stamina `call_async`, no hooks" => |rt, n, f| without_hooks(|| async_retry_many(rt, n, f, s::caller_retry_async));
    "ra-attr" "stamina `#[retry] async fn` (default hooks)" => |rt, n, f| async_retry_many(rt, n, f, s::attr_retry_async);
};

pub(crate) fn retry_paths(rt: &Runtime, cfg: &Config, bars: &mut Bars) -> (Table, Table) {
    println!(
        "## Retry path, sync (3 failures then success, zero waits; stamina in testing mode)\n"
    );
    println!("Time per retry = (time with 3 failures − time with none) ÷ 3.\n");
    let rs = retry_table(rt, cfg, RETRY_SYNC, "rs-backon");
    for id in ["rs-caller-nohooks", "rs-attr-nohooks"] {
        bars.ratio("sync retry, no hooks, per retry", &rs, id, "rs-backon", 0.7);
    }

    println!("## Retry path, async (3 failures then success, zero waits)\n");
    let ra = retry_table(rt, cfg, RETRY_ASYNC, "ra-backon-notimer");
    let timer: Vec<&str> = RETRY_ASYNC
        .iter()
        .filter(|c| touches_timer(c))
        .map(|c| c.label)
        .collect();
    println!(
        "Reach the tokio timer for a zero wait (they panic on a runtime without one): {}.\n",
        if timer.is_empty() {
            "none".to_owned()
        } else {
            timer.join(", ")
        }
    );
    for id in ["ra-caller", "ra-attr"] {
        if let Some(r) = ra.get(id) {
            let what = format!("zero-wait async retry: {} < 1 µs per retry", r.c.label);
            bars.push(what, fmt_ns(r.ns), r.ns < 1_000.0);
        }
    }
    (rs, ra)
}

/// A retry-path table: each contender with 3 failures and with none, so that the cost of one
/// retry is `(t3 - t0) / 3`: the op and the call's setup cancel out.
pub(crate) fn retry_table(rt: &Runtime, cfg: &Config, list: &[Contender], baseline: &str) -> Table {
    let failures = s::RETRY_FAILURES;
    let pairs: Vec<_> = list
        .iter()
        .flat_map(|c| [(*c, failures), (*c, 0)])
        .collect();
    let ns = time_all(rt, cfg, &pairs);
    let per_retry = |with: f64, without: f64| (with - without) / f64::from(failures);
    let table = Table(
        list.iter()
            .enumerate()
            .map(|(i, c)| Row {
                c: *c,
                ns: per_retry(ns[2 * i], ns[2 * i + 1]),
                call_ns: ns[2 * i],
                allocs: allocs_per_call(rt, c, failures, 200),
                // Not for a contender that sleeps on a timer: its count would be the waits'.
                instructions: (cfg.instructions && !touches_timer(c))
                    .then(|| {
                        let with = instructions_per_call(c, failures, 20_000)?;
                        Some(per_retry(with, instructions_per_call(c, 0, 20_000)?))
                    })
                    .flatten(),
            })
            .collect(),
    );
    table.print(
        &[
            ("time per call (3 retries)", |r| fmt_ns(r.call_ns)),
            ("time per retry", |r| fmt_ns(r.ns)),
        ],
        &[baseline],
    );
    table
}

/// Whether a contender's zero-wait retry reaches the tokio timer: on a runtime without one, a
/// `tokio::time::sleep` panics.
fn touches_timer(c: &Contender) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (c.run)(&rt, 1, s::RETRY_FAILURES);
    }))
    .is_err();
    std::panic::set_hook(hook);
    panicked
}
