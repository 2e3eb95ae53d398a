//! Instrumentation on: the retry path's stamina contenders again, once a `tracing` subscriber
//! and a Prometheus recorder listen (last: both are process-wide and stay installed).

use tokio::runtime::Runtime;

use crate::bars::Bars;
use crate::by_id;
use crate::contender::Contender;
use crate::measure::Config;
use crate::retry::retry_table;
use crate::table::{Table, fmt_ns};

/// The stamina contenders of the retry path, again once a subscriber and a recorder listen.
const INSTRUMENTED: [&str; 6] = [
    "rs-backon-notify",
    "rs-caller",
    "rs-caller-nohooks",
    "rs-attr",
    "ra-caller",
    "ra-attr",
];

/// Last: the subscriber and the recorder are process-wide and stay installed.
pub(crate) fn instrumented(rt: &Runtime, cfg: &Config, rs: &Table, ra: &Table, bars: &mut Bars) {
    println!(
        "## Instrumentation on (a `tracing_subscriber::fmt` subscriber writing to `io::sink`, \
         and a Prometheus recorder)\n"
    );
    listen();
    let list: Vec<Contender> = INSTRUMENTED.iter().map(|id| by_id(id)).collect();
    let on = retry_table(rt, cfg, &list, "rs-backon-notify");
    for id in ["rs-caller", "rs-attr"] {
        bars.ratio(
            "instrumented sync retry, per retry",
            &on,
            id,
            "rs-backon-notify",
            1.0,
        );
    }
    for id in INSTRUMENTED {
        if let (Some(with), Some(without)) = (on.get(id), rs.get(id).or_else(|| ra.get(id))) {
            println!(
                "- {}: {} per retry with the subscriber and recorder, {} without.",
                with.c.label,
                fmt_ns(with.ns),
                fmt_ns(without.ns)
            );
        }
    }
    println!();
}

/// Installs the subscriber and the recorder of the instrumented table, for the process.
pub(crate) fn listen() {
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
}
