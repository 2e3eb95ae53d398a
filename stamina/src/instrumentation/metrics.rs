//! The default `metrics` hook.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use metrics::{Counter, Key, KeyName, Label, Metadata, Recorder, SharedString};

use super::hook::{
    DeniedDetails, DenyReason, HedgeDetails, RetryDetails, RetryGuard, RetryHook, ThrottleDetails,
};
use super::redact;

const RETRIES: &str = "stamina_retries_total";
const RETRIES_HELP: &str = "Total number of retries.";
const DENIED: &str = "stamina_retries_denied_total";
const DENIED_HELP: &str = "Total number of retries denied: by a retry budget, the nested-retry guard, a throttle, or a body that cannot be sent again.";

const HEDGES: &str = "stamina_hedges_total";
const HEDGES_WON: &str = "stamina_hedges_won_total";
const THROTTLED: &str = "stamina_calls_throttled_total";
const THROTTLED_HELP: &str =
    "Total number of calls that a throttle rejected or delayed before their first attempt.";

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
/// `metrics-exporter-prometheus` included, as stamina's Prometheus hook does. Retries denied by
/// a budget, the nesting guard, a throttle or a body that cannot be sent again go to
/// `stamina_retries_denied_total`, with the same labels and `reason` (`budget`, `nested`,
/// `throttle` or `body`).
///
/// A hedged call ([`crate::hedge`]) counts each hedge it sends in `stamina_hedges_total`
/// (labels `callable` and `reason`, `delay` or `failure`) and each hedge that gave the call its
/// result in `stamina_hedges_won_total` (label `callable`): their ratio is how often hedging
/// paid. These register their counter with the recorder at each hedge (one allocation for the
/// label): a hedge is a slow call's, not the happy path's.
///
/// A call that its throttle ([`crate::throttle`]) rejected or delayed before its first attempt
/// counts in `stamina_calls_throttled_total` (labels `callable` and `action`, `rejected` or
/// `delayed`), registered at each such call, as the hedges are.
///
/// A [redactor](super::set_redactor) rewrites the `callable` label.
///
/// The `retry_num` label stops at [`RETRY_NUM_LABEL_MAX`]: retries 1 to 9 are labelled with
/// their number, and every later one `10+`, so that a call without an attempt limit (or with a
/// large one) does not grow the label set without bound. (stamina's label is unbounded.)
/// [`RetryDetails::retry_num`] stays exact for hooks of one's own.
///
/// # Cost
///
/// Under the process's global recorder (the one a fresh thread sees: an exporter's
/// `install_recorder`), a thread keeps the counters it registered, the 64 most recent label sets:
/// a retry that repeats one increments its counter, without a lookup in the recorder and without
/// an allocation. Finding out which recorder is the global one takes a look from a helper
/// thread, once per process (and once per local recorder a thread meets): `metrics` offers no
/// other way, and a local recorder made where a dropped one was (two in turn on one stack)
/// cannot be told from it by its address. Under a local recorder
/// (`metrics::with_local_recorder`), each retry registers its counter with the recorder, which
/// is then always the right one. Each recorder is told the counters' descriptions.
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

/// A recorder, by its address, and whether it has a size (a zero-sized recorder, the no-op one
/// included, has a dangling address that another zero-sized one may share).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    address: usize,
    sized: bool,
}

fn identity(recorder: &dyn Recorder) -> Identity {
    Identity {
        address: std::ptr::from_ref(recorder).cast::<()>() as usize,
        sized: std::mem::size_of_val(recorder) != 0,
    }
}

/// The address of the global recorder once a helper thread saw it (0 until then). It is set
/// once in a process's life and never freed, so that no other recorder can be where it is:
/// counters registered with it can be kept.
static GLOBAL: AtomicUsize = AtomicUsize::new(0);

/// Whether the global recorder was told the descriptions.
static DESCRIBED: AtomicBool = AtomicBool::new(false);

/// Asks a helper thread which recorder it sees (`None` if no thread could be spawned).
fn probe() -> Option<Identity> {
    std::thread::scope(|s| s.spawn(|| metrics::with_recorder(identity)).join().ok())
}

/// One label set: its key, and its counter in the global recorder once registered there.
struct Cached {
    retry_num: usize,
    error_type: &'static str,
    reason: Option<DenyReason>,
    callable: Box<str>,
    key: Key,
    counter: Option<Counter>,
}

impl Cached {
    /// Cheapest comparison first; type names are compared by address before content.
    fn is_for(&self, labels: &Labels<'_>) -> bool {
        self.retry_num == labels.retry_num
            && self.reason == labels.reason
            && (std::ptr::eq(self.error_type, labels.error_type)
                || self.error_type == labels.error_type)
            && *self.callable == *labels.callable
    }
}

/// The labels of one count.
struct Labels<'a> {
    callable: &'a str,
    retry_num: usize,
    error_type: &'static str,
    reason: Option<DenyReason>,
}

impl Labels<'_> {
    fn key(&self) -> Key {
        let mut labels = vec![
            Label::new("callable", self.callable.to_owned()),
            Label::new(
                "retry_num",
                SharedString::const_str(RETRY_NUM_LABELS[self.retry_num]),
            ),
            Label::new("error_type", SharedString::const_str(self.error_type)),
        ];
        match self.reason {
            Some(reason) => {
                labels.push(Label::new(
                    "reason",
                    SharedString::const_str(reason.as_str()),
                ));
                Key::from_parts(DENIED, labels)
            }
            None => Key::from_parts(RETRIES, labels),
        }
    }
}

const CACHE_SIZE: usize = 64;

/// A thread's view of the recorders.
struct Thread {
    /// The label sets this thread counted, newest last.
    counters: Vec<Cached>,
    /// Recorders that this thread found to be local, by address: never cached.
    local: Vec<usize>,
    /// The local recorder last told the descriptions.
    described: Option<usize>,
}

thread_local! {
    static THREAD: RefCell<Thread> = const {
        RefCell::new(Thread { counters: Vec::new(), local: Vec::new(), described: None })
    };
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

fn describe(recorder: &dyn Recorder) {
    recorder.describe_counter(
        KeyName::from_const_str(RETRIES),
        None,
        SharedString::const_str(RETRIES_HELP),
    );
    recorder.describe_counter(
        KeyName::from_const_str(DENIED),
        None,
        SharedString::const_str(DENIED_HELP),
    );
}

/// Registers the count with `recorder` and increments it: where the thread's cache is
/// unavailable (a retry from a thread-local's destructor, or from inside a recorder).
fn count_uncached(recorder: &dyn Recorder, labels: &Labels<'_>) {
    describe(recorder);
    recorder
        .register_counter(&labels.key(), &metadata())
        .increment(1);
}

fn count(labels: &Labels<'_>) {
    metrics::with_recorder(|recorder| {
        let me = identity(recorder);
        let counted = THREAD.try_with(|thread| {
            let Ok(mut thread) = thread.try_borrow_mut() else {
                count_uncached(recorder, labels);
                return;
            };
            let global = is_global(&mut thread, me);
            if global {
                if !DESCRIBED.swap(true, Ordering::Relaxed) {
                    describe(recorder);
                }
            } else if thread.described != Some(me.address) {
                describe(recorder);
                thread.described = Some(me.address);
            }
            let counters = &mut thread.counters;
            let index = counters
                .iter()
                .rposition(|c| c.is_for(labels))
                .unwrap_or_else(|| {
                    if counters.len() == CACHE_SIZE {
                        counters.remove(0);
                    }
                    counters.push(Cached {
                        retry_num: labels.retry_num,
                        error_type: labels.error_type,
                        reason: labels.reason,
                        callable: labels.callable.into(),
                        key: labels.key(),
                        counter: None,
                    });
                    counters.len() - 1
                });
            let cached = &mut counters[index];
            if global {
                // The global recorder's counter, registered once and kept.
                cached
                    .counter
                    .get_or_insert_with(|| recorder.register_counter(&cached.key, &metadata()))
                    .increment(1);
            } else {
                // Any other recorder is asked each time: it may not be the one of last time.
                recorder
                    .register_counter(&cached.key, &metadata())
                    .increment(1);
            }
        });
        if counted.is_err() {
            count_uncached(recorder, labels);
        }
    });
}

/// Whether `me` is the global recorder, asking a helper thread the first time this thread meets
/// a recorder it does not know, until the global one is known.
fn is_global(thread: &mut Thread, me: Identity) -> bool {
    if !me.sized {
        return false;
    }
    let global = GLOBAL.load(Ordering::Acquire);
    if global == me.address {
        return true;
    }
    // Once the global recorder is known, any other is local; before, a recorder this thread
    // found to be local stays so.
    if global != 0 || thread.local.contains(&me.address) {
        return false;
    }
    let seen = probe();
    if let Some(seen) = seen.filter(|seen| seen.sized) {
        let _ = GLOBAL.compare_exchange(0, seen.address, Ordering::AcqRel, Ordering::Acquire);
        if seen.address == me.address {
            return true;
        }
    }
    if thread.local.len() == CACHE_SIZE {
        thread.local.remove(0);
    }
    thread.local.push(me.address);
    false
}

impl RetryHook for MetricsOnRetryHook {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        let redactor = redact::current();
        count(&Labels {
            callable: &redact::callable(redactor.as_deref(), details.name),
            retry_num: retry_num_slot(details.retry_num),
            error_type: details.error_type,
            reason: None,
        });
        None
    }

    fn on_denied(&self, details: &DeniedDetails<'_>) {
        let redactor = redact::current();
        count(&Labels {
            callable: &redact::callable(redactor.as_deref(), details.name),
            retry_num: retry_num_slot(details.retry_num),
            error_type: details.error_type,
            reason: Some(details.reason),
        });
    }

    fn on_hedge(&self, details: &HedgeDetails<'_>) {
        let redactor = redact::current();
        let callable = redact::callable(redactor.as_deref(), details.name).into_owned();
        metrics::counter!(HEDGES, "callable" => callable, "reason" => details.reason.as_str())
            .increment(1);
    }

    fn on_hedge_won(&self, details: &HedgeDetails<'_>) {
        let redactor = redact::current();
        let callable = redact::callable(redactor.as_deref(), details.name).into_owned();
        metrics::counter!(HEDGES_WON, "callable" => callable).increment(1);
    }

    fn on_throttled(&self, details: &ThrottleDetails<'_>) {
        let redactor = redact::current();
        let callable = redact::callable(redactor.as_deref(), details.name).into_owned();
        metrics::describe_counter!(THROTTLED, THROTTLED_HELP);
        metrics::counter!(THROTTLED, "callable" => callable, "action" => details.action.as_str())
            .increment(1);
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
