//! The default `metrics` hook.

use std::cell::RefCell;

use metrics::{Key, KeyName, Label, SharedString};

use super::hook::{RetryDetails, RetryGuard, RetryHook};

const NAME: &str = "stamina_retries_total";
const DESCRIPTION: &str = "Total number of retries.";

/// Counts every scheduled retry in the counter `stamina_retries_total`, with the labels
/// `callable`, `retry_num` and `error_type`, through the `metrics` crate: any recorder renders it,
/// `metrics-exporter-prometheus` included, as stamina's Prometheus hook does.
///
/// `retry_num` is unbounded for calls without an attempt limit: mind the label's cardinality.
///
/// The metric keys are cached per thread (the 64 most recent), so retries that repeat allocate
/// nothing here: without a recorder a retry costs no allocation at all. The counter is described
/// ("Total number of retries.") to each recorder a thread retries under; a recorder that takes
/// the place of another at the same address (two local recorders in turn on one stack) counts
/// correctly but is not described again.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsOnRetryHook {
    _private: (),
}

impl MetricsOnRetryHook {
    /// The hook.
    #[must_use]
    pub const fn new() -> Self {
        MetricsOnRetryHook { _private: () }
    }
}

struct Cached {
    retry_num: u32,
    error_type: &'static str,
    callable: Box<str>,
    key: Key,
}

impl Cached {
    /// Cheapest comparison first; type names are compared by address before content.
    fn is_for(&self, details: &RetryDetails<'_>) -> bool {
        self.retry_num == details.retry_num
            && (std::ptr::eq(self.error_type, details.error_type)
                || self.error_type == details.error_type)
            && *self.callable == *details.name
    }
}

const CACHE_SIZE: usize = 64;

/// The keys of one recorder, the one at address `recorder`.
struct KeyCache {
    recorder: usize,
    keys: Vec<Cached>,
}

thread_local! {
    static KEYS: RefCell<KeyCache> = const {
        RefCell::new(KeyCache { recorder: 0, keys: Vec::new() })
    };
}

fn new_key(details: &RetryDetails<'_>) -> Key {
    Key::from_parts(
        NAME,
        vec![
            Label::new("callable", details.name.to_owned()),
            Label::new("retry_num", details.retry_num.to_string()),
            Label::new("error_type", SharedString::const_str(details.error_type)),
        ],
    )
}

impl RetryHook for MetricsOnRetryHook {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        metrics::with_recorder(|recorder| {
            let metadata =
                metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
            let describe = || {
                recorder.describe_counter(
                    KeyName::from_const_str(NAME),
                    None,
                    SharedString::const_str(DESCRIPTION),
                );
            };
            // A retry from a thread-local's destructor may find the cache gone: a fresh key.
            let cached = KEYS.try_with(|cache| {
                // A recorder that retries through stamina while registering finds the cache
                // busy: it gets a fresh key instead of a panic.
                let Ok(mut cache) = cache.try_borrow_mut() else {
                    describe();
                    recorder
                        .register_counter(&new_key(details), &metadata)
                        .increment(1);
                    return;
                };
                // Another recorder than last time on this thread (installed since, or a local
                // one): describe the counter to it, and start its keys afresh. A recorder is
                // known by its address, so one that replaces another at the same address (two
                // local recorders in turn on the stack) is not told the description again.
                let address = std::ptr::from_ref(recorder).cast::<()>() as usize;
                if cache.recorder != address {
                    describe();
                    cache.recorder = address;
                    cache.keys.clear();
                }
                let keys = &mut cache.keys;
                // Newest first: a call's retries are usually the latest entries.
                let index = keys
                    .iter()
                    .rposition(|c| c.is_for(details))
                    .unwrap_or_else(|| {
                        if keys.len() == CACHE_SIZE {
                            keys.remove(0);
                        }
                        keys.push(Cached {
                            retry_num: details.retry_num,
                            error_type: details.error_type,
                            callable: details.name.into(),
                            key: new_key(details),
                        });
                        keys.len() - 1
                    });
                recorder
                    .register_counter(&keys[index].key, &metadata)
                    .increment(1);
            });
            if cached.is_err() {
                describe();
                recorder
                    .register_counter(&new_key(details), &metadata)
                    .increment(1);
            }
        });
        None
    }
}
