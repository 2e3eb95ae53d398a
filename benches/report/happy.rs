//! The happy path, sync and async: the op succeeds at once; ns per call, as ratios to the bare
//! call, backon and the hand-written loop, and the bars these ratios count towards.

use stamina_benches as s;
use tokio::runtime::Runtime;

use crate::bars::Bars;
use crate::contender::{Contender, async_many, contenders, sync_many};
use crate::measure::{Config, allocs_per_call, instructions_per_call, time_all};
use crate::table::{Row, Table, fmt_ns};

pub(crate) const HAPPY_SYNC: &[Contender] = contenders! {
    "hs-bare" "bare call (floor)" => |_, n, _| sync_many(n, s::bare_happy);
    "hs-hand" "hand-written loop" => |_, n, _| sync_many(n, s::hand_happy);
    "hs-hand-timed" "hand-written loop + `Instant::now()`" => |_, n, _| sync_many(n, s::hand_timed_happy);
    "hs-backon" "backon `BlockingRetryable`" => |_, n, _| sync_many(n, s::backon_happy);
    "hs-caller-none" "stamina `RetryingCaller::call`, `no_timeout()`" => |_, n, _| sync_many(n, s::caller_no_timeout_happy);
    "hs-caller" "stamina `RetryingCaller::call`, default (45 s)" => |_, n, _| sync_many(n, s::caller_happy);
    "hs-attr-none" "stamina `#[retry]`, `timeout = None`" => |_, n, _| sync_many(n, s::attr_no_timeout_happy);
    "hs-attr-budget" "stamina `#[retry]`, `timeout = None`, under a budget" => |_, n, _| sync_many(n, s::attr_budget_happy);
    "hs-attr" "stamina `#[retry]`, default (45 s)" => |_, n, _| sync_many(n, s::attr_happy);
    "hs-caller-on-ok" "stamina `RetryingCaller::call`, `on_ok`, `no_timeout()`" => |_, n, _| sync_many(n, s::caller_on_ok_happy);
    "hs-attr-on-ok" "stamina `#[retry]`, `on_ok`, `timeout = None`" => |_, n, _| sync_many(n, s::attr_on_ok_happy);
};

pub(crate) const HAPPY_ASYNC: &[Contender] = contenders! {
    "ha-bare" "bare `.await` (floor)" => |rt, n, _| async_many(rt, n, s::bare_happy_async);
    "ha-hand" "hand-written loop" => |rt, n, _| async_many(rt, n, s::hand_happy_async);
    "ha-hand-timed" "hand-written loop + `Instant::now()`" => |rt, n, _| async_many(rt, n, s::hand_timed_happy_async);
    "ha-backon" "backon `Retryable`" => |rt, n, _| async_many(rt, n, s::backon_happy_async);
    #[cfg(feature = "tryhard")]
    "ha-tryhard" "tryhard" => |rt, n, _| async_many(rt, n, s::tryhard_happy_async);
    "ha-tokio-retry2" "tokio-retry2 `Retry::spawn`" => |rt, n, _| async_many(rt, n, s::tokio_retry2_happy_async);
    "ha-caller-none" "stamina `call_async`, `no_timeout()`" => |rt, n, _| async_many(rt, n, s::caller_no_timeout_happy_async);
    "ha-caller" "stamina `call_async`, default (45 s)" => |rt, n, _| async_many(rt, n, s::caller_happy_async);
    "ha-attr-none" "stamina `#[retry] async fn`, `timeout = None`" => |rt, n, _| async_many(rt, n, s::attr_no_timeout_happy_async);
    "ha-attr" "stamina `#[retry] async fn`, default (45 s)" => |rt, n, _| async_many(rt, n, s::attr_happy_async);
};

pub(crate) fn happy_paths(rt: &Runtime, cfg: &Config, bars: &mut Bars) -> (Table, Table) {
    println!("## Happy path, sync (the op succeeds at once)\n");
    let hs = happy_table(
        rt,
        cfg,
        HAPPY_SYNC,
        &["hs-bare", "hs-backon", "hs-hand-timed"],
    );
    for (id, den, max) in [
        ("hs-caller-none", "hs-backon", 0.5),
        ("hs-attr-none", "hs-backon", 0.5),
        ("hs-caller", "hs-hand-timed", 0.5),
        ("hs-attr", "hs-hand-timed", 0.5),
    ] {
        bars.ratio("sync happy path", &hs, id, den, max);
    }

    println!("## Happy path, async (many calls in one `block_on`, current-thread runtime)\n");
    let baselines = ["ha-bare", "ha-backon", "ha-tryhard", "ha-hand-timed"];
    let ha = happy_table(rt, cfg, HAPPY_ASYNC, &baselines);
    for (id, den, max) in [
        ("ha-caller-none", "ha-tryhard", 1.0),
        ("ha-attr-none", "ha-tryhard", 1.0),
        ("ha-caller-none", "ha-backon", 0.2),
        ("ha-attr-none", "ha-backon", 0.2),
        ("ha-caller", "ha-hand-timed", 0.5),
        ("ha-attr", "ha-hand-timed", 0.5),
    ] {
        bars.ratio("async happy path", &ha, id, den, max);
    }

    (hs, ha)
}

/// A happy-path table: ns per call and its ratio to each baseline.
pub(crate) fn happy_table(
    rt: &Runtime,
    cfg: &Config,
    list: &[Contender],
    baselines: &[&str],
) -> Table {
    let pairs: Vec<_> = list.iter().map(|c| (*c, 0)).collect();
    let ns = time_all(rt, cfg, &pairs);
    let table = Table(
        list.iter()
            .zip(ns)
            .map(|(c, ns)| Row {
                c: *c,
                ns,
                call_ns: ns,
                allocs: allocs_per_call(rt, c, 0, 10_000),
                instructions: cfg
                    .instructions
                    .then(|| instructions_per_call(c, 0, 20_000))
                    .flatten(),
            })
            .collect(),
    );
    table.print(&[("time per call", |r| fmt_ns(r.ns))], baselines);
    table
}
