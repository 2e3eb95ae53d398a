//! The default `metrics` hook.

use std::cell::RefCell;

use metrics::{Key, Label, SharedString};

use super::{RetryDetails, RetryGuard, RetryHook};

const NAME: &str = "stamina_retries_total";
const DESCRIPTION: &str = "Total number of retries.";

/// Counts every scheduled retry in the counter `stamina_retries_total`, with the labels
/// `callable`, `retry_num` and `error_type`, through the `metrics` crate: any recorder renders it,
/// `metrics-exporter-prometheus` included, as stamina's Prometheus hook does.
///
/// `retry_num` is unbounded for calls without an attempt limit: mind the label's cardinality.
///
/// The metric keys are cached per thread (the 64 most recent), so retries that repeat allocate
/// nothing here: without a recorder a retry costs no allocation at all.
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

thread_local! {
    static KEYS: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
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

fn increment(key: &Key) {
    metrics::with_recorder(|recorder| {
        let metadata =
            metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        recorder.register_counter(key, &metadata).increment(1);
    });
}

impl RetryHook for MetricsOnRetryHook {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        KEYS.with(|keys| {
            // A recorder that retries through stamina while registering finds the cache busy:
            // it gets a fresh key instead of a panic.
            let Ok(mut keys) = keys.try_borrow_mut() else {
                increment(&new_key(details));
                return;
            };
            // Newest first: a call's retries are usually the latest entries.
            let hit = keys.iter().rposition(|c| c.is_for(details));
            let index = hit.unwrap_or_else(|| {
                // A new key may mean a new recorder: describe the counter to it.
                metrics::describe_counter!(NAME, DESCRIPTION);
                if keys.len() == CACHE_SIZE {
                    keys.remove(0);
                }
                let key = new_key(details);
                keys.push(Cached {
                    retry_num: details.retry_num,
                    error_type: details.error_type,
                    callable: details.name.into(),
                    key,
                });
                keys.len() - 1
            });
            increment(&keys[index].key);
        });
        None
    }
}
