//! Future sizes: the overhead of each stamina future over the larger of the op's future and a
//! `Sleep`, beside the peers' futures.

use stamina_benches as s;

/// What a future row measures its overhead against: the op's own future (a peer, `call_async`)
/// or the same `async fn` without `#[retry]`.
#[derive(Clone, Copy, PartialEq)]
enum Base {
    Op,
    Plain,
}

/// The rows of the future-size table: label, sizes around the small and the 1 KiB op, base,
/// and the bar the row counts towards (if any).
fn future_rows() -> Vec<(&'static str, [usize; 2], Base, Option<&'static str>)> {
    use std::mem::size_of_val as size;
    let caller = "stamina `call_async`";
    let attr = "stamina `#[retry] async fn`";
    let timer = "stamina `#[retry] async fn`, each timer";
    let on_ok = "stamina with `on_ok`, `call_async` and `#[retry] async fn`";
    vec![
        (
            "backon `Retryable`",
            [
                size(&s::backon_happy_async(0)),
                size(&s::backon_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        #[cfg(feature = "tryhard")]
        (
            "tryhard",
            [
                size(&s::tryhard_happy_async(0)),
                size(&s::tryhard_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        (
            "tokio-retry2",
            [
                size(&s::tokio_retry2_happy_async(0)),
                size(&s::tokio_retry2_big_async(0)),
            ],
            Base::Op,
            None,
        ),
        (
            caller,
            [
                size(&s::caller_happy_async(0)),
                size(&s::caller_big_async(0)),
            ],
            Base::Op,
            Some(caller),
        ),
        (
            "stamina `#[retry] async fn`, default sleeper (op: the same fn without `#[retry]`)",
            [size(&s::attr_happy_async(0)), size(&s::attr_big_async(0))],
            Base::Plain,
            Some(attr),
        ),
        (
            "stamina `call_async` with `on_ok`",
            [
                size(&s::caller_on_ok_async(0)),
                size(&s::caller_on_ok_big_async(0)),
            ],
            Base::Op,
            Some(on_ok),
        ),
        (
            "stamina `#[retry] async fn` with `on_ok`",
            [
                size(&s::attr_on_ok_async(0)),
                size(&s::attr_on_ok_big_async(0)),
            ],
            Base::Plain,
            Some(on_ok),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = TokioSleeper`",
            [
                size(&s::attr_tokio_async(0)),
                size(&s::attr_tokio_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = AsyncIoSleeper`",
            [
                size(&s::attr_async_io_async(0)),
                size(&s::attr_async_io_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
        (
            "stamina `#[retry] async fn`, `sleeper = FuturesTimerSleeper`",
            [
                size(&s::attr_futures_timer_async(0)),
                size(&s::attr_futures_timer_big_async(0)),
            ],
            Base::Plain,
            Some(timer),
        ),
    ]
}

/// Prints the future-size table; the largest overhead of each bar's rows.
pub(crate) fn future_sizes() -> Vec<(&'static str, i64)> {
    use std::mem::{size_of, size_of_val};
    let sleep = size_of::<tokio::time::Sleep>();
    let op = [
        size_of_val(&s::op_async(0)),
        size_of_val(&s::op_big_async(0)),
    ];
    let plain = [
        size_of_val(&s::plain_happy_async(0)),
        size_of_val(&s::plain_big_async(0)),
    ];
    println!(
        "The op's own future: {} B (ready at once) or {} B (holds 1 KiB across an \
         await); a tokio `Sleep`: {sleep} B. Overhead = size − max(op's future, `Sleep`).\n",
        op[0], op[1]
    );
    println!("| future | small op | overhead | 1 KiB op | overhead |\n|---|--:|--:|--:|--:|");
    let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut bars: Vec<(&'static str, i64)> = Vec::new();
    for (label, sizes, base, bar) in future_rows() {
        let base = if base == Base::Op { op } else { plain };
        let [o1, o2] = [0, 1].map(|i| signed(sizes[i]) - signed(base[i].max(sleep)));
        println!(
            "| {label} | {} B | {o1:+} B | {} B | {o2:+} B |",
            sizes[0], sizes[1]
        );
        if let Some(bar) = bar {
            match bars.iter_mut().find(|(b, _)| *b == bar) {
                Some((_, worst)) => *worst = (*worst).max(o1.max(o2)),
                None => bars.push((bar, o1.max(o2))),
            }
        }
    }
    println!();
    bars
}
