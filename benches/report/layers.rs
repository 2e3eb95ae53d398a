//! Retries in front of a client, as tower services: stamina's `RetryLayer` beside tower 0.5's
//! `Retry` and no layer at all on the happy path (in process: an inner service that answers at
//! once), and beside tower's `Retry` and reqwest-retry per retry, against one local hyper
//! server over HTTP/1 (a round trip of its own per attempt, which the first row measures).

use stamina_benches as s;
use tokio::runtime::Runtime;

use crate::bars::Bars;
use crate::contender::{Contender, contenders};
use crate::happy::happy_table;
use crate::measure::Config;
use crate::retry::retry_table;

pub(crate) const HAPPY_LAYERS: &[Contender] = contenders! {
    "tw-none" "no layer (floor)" => |_, n, _| s::tower_happy_none(n);
    "tw-tower" "tower `Retry`, a policy that retries 503" => |_, n, _| s::tower_happy_tower(n);
    "tw-stamina-none" "stamina `RetryLayer`, `no_timeout()`" => |_, n, _| s::tower_happy_stamina_no_timeout(n);
    "tw-stamina" "stamina `RetryLayer`, default policy (45 s)" => |_, n, _| s::tower_happy_stamina(n);
};

pub(crate) const RETRY_LAYERS: &[Contender] = contenders! {
    "tr-hyper" "hyper-util's client alone: one request more" => |_, n, f| s::tower_retry_hyper(n, f);
    "tr-tower" "tower `Retry` + hyper-util's client" => |_, n, f| s::tower_retry_tower(n, f);
    "tr-reqwest-retry" "reqwest-retry + reqwest" => |_, n, f| s::tower_retry_reqwest_retry(n, f);
    "tr-stamina" "stamina `RetryLayer` + hyper-util's client" => |_, n, f| s::tower_retry_stamina(n, f);
};

pub(crate) fn layers(rt: &Runtime, cfg: &Config, bars: &mut Bars) {
    println!("## A tower layer, happy path (in process: an inner service that answers at once)\n");
    let happy = happy_table(rt, cfg, HAPPY_LAYERS, &["tw-none", "tw-tower"]);
    bars.ratio(
        "tower layer, happy path",
        &happy,
        "tw-stamina-none",
        "tw-tower",
        1.0,
    );
    bars.no_allocations("tower layer, happy path, no body", &happy);

    println!("## A tower layer, per retry (a local hyper server, HTTP/1, zero waits)\n");
    println!(
        "Each retry is a round trip to the server: the first row is the cost of one request \
         without any retry layer.\n"
    );
    let retry = retry_table(rt, cfg, RETRY_LAYERS, "tr-tower");
    bars.ratio(
        "tower layer, per retry",
        &retry,
        "tr-stamina",
        "tr-tower",
        1.0,
    );
    bars.ratio(
        "tower layer, per retry",
        &retry,
        "tr-stamina",
        "tr-reqwest-retry",
        1.0,
    );
}
