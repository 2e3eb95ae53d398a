//! The default `metrics` hook.

use std::cell::RefCell;

use metrics::{Key, KeyName, Label, SharedString};

use super::hook::{RetryDetails, RetryGuard, RetryHook};

const NAME: &str = "stamina_retries_total";
const DESCRIPTION: &str = "Total number of retries.";

/// The `retry_num` label of [`MetricsOnRetryHook`] takes this many values: `1` to `9`, then
/// `10+` for every later retry.
pub const RETRY_NUM_LABEL_MAX: u32 = 10;

const RETRY_NUM_LABELS: [&str; RETRY_NUM_LABEL_MAX as usize] =
    ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10+"];

/// The label of a retry's number: its index in [`RETRY_NUM_LABELS`], from 0.
fn retry_num_slot(retry_num: u32) -> usize {
    (retry_num.clamp(1, RETRY_NUM_LABEL_MAX) - 1) as usize
}

/// Counts every scheduled retry in the counter `stamina_retries_total`, with the labels
/// `callable`, `retry_num` and `error_type`, through the `metrics` crate: any recorder renders it,
/// `metrics-exporter-prometheus` included, as stamina's Prometheus hook does.
///
/// The `retry_num` label stops at [`RETRY_NUM_LABEL_MAX`]: retries 1 to 9 are labelled with
/// their number, and every later one `10+`, so that a call without an attempt limit (or with a
/// large one) does not grow the label set without bound. (stamina's label is unbounded.)
/// [`RetryDetails::retry_num`] stays exact for hooks of one's own.
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
    retry_num: usize,
    error_type: &'static str,
    callable: Box<str>,
    key: Key,
}

impl Cached {
    /// Cheapest comparison first; type names are compared by address before content.
    fn is_for(&self, details: &RetryDetails<'_>) -> bool {
        self.retry_num == retry_num_slot(details.retry_num)
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
            Label::new(
                "retry_num",
                SharedString::const_str(RETRY_NUM_LABELS[retry_num_slot(details.retry_num)]),
            ),
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
                            retry_num: retry_num_slot(details.retry_num),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_num_labels_stop_at_ten() {
        let label = |n| RETRY_NUM_LABELS[retry_num_slot(n)];
        assert_eq!(label(1), "1");
        assert_eq!(label(9), "9");
        assert_eq!(label(10), "10+");
        assert_eq!(label(u32::MAX), "10+");
        assert_eq!(label(0), "1", "never 0, and never a panic");
    }
}
