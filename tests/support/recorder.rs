//! The recorder of hook calls, [`Recorder`]: owned copies of what hooks see, a scheduled retry
//! ([`Retry`]) or a denied one ([`Denied`]), in order. A recorder is either installed directly as
//! a hook (binaries whose tests take [`exclusive`](crate::exclusive)), or routed: the binary's
//! only hook, installed once, hands each hook call to the recorders whose routes accept it (by
//! name, by thread, or every call), so that tests that run in parallel see their own calls.
//! [`record_hook_calls`] and [`hook_calls`] are a routed recorder that sees every call, read by
//! `callable`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Once, OnceLock, Weak};
use std::thread::ThreadId;
use std::time::Duration;

use stamina::Decision;
use stamina::instrumentation::{
    self, DeniedDetails, DenyReason, HedgeDetails, HedgeReason, RetryDetails, RetryGuard,
    ThrottleAction, ThrottleDetails,
};

use crate::lock;
use crate::process::{EXCLUSIVE_USED, ROUTING_INSTALLED};

/// An owned copy of one [`RetryDetails`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// `RetryDetails::name`.
    pub name: String,
    /// `RetryDetails::retry_num`.
    pub retry_num: u32,
    /// `RetryDetails::wait_for`.
    pub wait_for: Duration,
    /// `RetryDetails::waited_so_far`.
    pub waited_so_far: Duration,
    /// The `Debug` text of `RetryDetails::caused_by`.
    pub caused_by: String,
    /// `RetryDetails::caused_by_text`, as the default hooks log it.
    pub caused_by_text: String,
    /// The `Display` text of each error in `RetryDetails::dyn_error` and its `source()` chain;
    /// empty where `dyn_error` is `None`.
    pub error_chain: Vec<String>,
    /// Whether `RetryDetails::error` (the error as a `dyn Error + 'static`, to downcast) is
    /// `Some`.
    pub downcastable: bool,
    /// The kind of the first `std::io::Error` in `RetryDetails::error` and its sources, found
    /// by downcasting in the hook.
    pub io_error_kind: Option<std::io::ErrorKind>,
    /// `RetryDetails::error_type`.
    pub error_type: &'static str,
    /// `RetryDetails::decision`.
    pub decision: Decision,
    /// `RetryDetails::is_value`.
    pub is_value: bool,
    /// `RetryDetails::attempt.elapsed()`, read in the hook.
    pub elapsed: Option<Duration>,
    /// `RetryDetails::attempt.remaining()`, read in the hook.
    pub remaining: Option<Duration>,
}

impl From<&RetryDetails<'_>> for Retry {
    fn from(d: &RetryDetails<'_>) -> Self {
        Retry {
            name: d.name.to_owned(),
            retry_num: d.retry_num,
            wait_for: d.wait_for,
            waited_so_far: d.waited_so_far,
            caused_by: format!("{:?}", d.caused_by),
            caused_by_text: d.caused_by_text.to_string(),
            error_chain: std::iter::successors(d.dyn_error, |e| e.source())
                .map(ToString::to_string)
                .collect(),
            downcastable: d.error.is_some(),
            io_error_kind: std::iter::successors(d.error, |e| e.source())
                .find_map(|e| e.downcast_ref::<std::io::Error>())
                .map(std::io::Error::kind),
            error_type: d.error_type,
            decision: d.decision,
            is_value: d.is_value,
            elapsed: d.attempt.elapsed(),
            remaining: d.attempt.remaining(),
        }
    }
}

/// An owned copy of one [`DeniedDetails`]: what the tests read of a denied retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// `DeniedDetails::name`.
    pub name: String,
    /// `DeniedDetails::retry_num`: the retry that was denied would have been this one.
    pub retry_num: u32,
    /// `DeniedDetails::reason`.
    pub reason: DenyReason,
}

impl From<&DeniedDetails<'_>> for Denied {
    fn from(d: &DeniedDetails<'_>) -> Self {
        Denied {
            name: d.name.to_owned(),
            retry_num: d.retry_num,
            reason: d.reason,
        }
    }
}

/// An owned copy of one [`HedgeDetails`], sent or won.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hedge {
    /// `HedgeDetails::name`.
    pub name: String,
    /// `HedgeDetails::hedge_num`.
    pub hedge_num: u32,
    /// `HedgeDetails::attempt_num`.
    pub attempt_num: u32,
    /// `HedgeDetails::after`.
    pub after: Duration,
    /// `HedgeDetails::reason`.
    pub reason: HedgeReason,
    /// Whether this is `on_hedge_won` rather than `on_hedge`.
    pub won: bool,
}

impl Hedge {
    fn of(d: &HedgeDetails<'_>, won: bool) -> Self {
        Hedge {
            name: d.name.to_owned(),
            hedge_num: d.hedge_num,
            attempt_num: d.attempt_num,
            after: d.after,
            reason: d.reason,
            won,
        }
    }
}

/// An owned copy of one [`ThrottleDetails`]: a call's first attempt rejected or delayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Throttled {
    /// `ThrottleDetails::name`.
    pub name: String,
    /// `ThrottleDetails::action`.
    pub action: ThrottleAction,
    /// `ThrottleDetails::probability`.
    pub probability: f64,
    /// `ThrottleDetails::delay`.
    pub delay: Duration,
}

impl Eq for Throttled {}

impl From<&ThrottleDetails<'_>> for Throttled {
    fn from(d: &ThrottleDetails<'_>) -> Self {
        Throttled {
            name: d.name.to_owned(),
            action: d.action,
            probability: d.probability,
            delay: d.delay,
        }
    }
}

/// One hook call, as a [`Recorder`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookCall {
    /// `RetryHook::on_retry`: a scheduled retry.
    Retry(Retry),
    /// `RetryHook::on_denied`: a retry denied by a budget or the nested-retry guard.
    Denied(Denied),
    /// `RetryHook::on_hedge` or `on_hedge_won`.
    Hedge(Hedge),
    /// `RetryHook::on_throttled`: a call rejected or delayed before its first attempt.
    Throttled(Throttled),
}

impl HookCall {
    /// The `callable` of the call.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            HookCall::Retry(r) => &r.name,
            HookCall::Denied(d) => &d.name,
            HookCall::Hedge(h) => &h.name,
            HookCall::Throttled(t) => &t.name,
        }
    }

    /// `"retry 1"` for a scheduled retry, `"denied:budget 2"` or `"denied:nested 1"` for a
    /// denied one, `"hedge 1 (delay) at 10ms"` for a hedge sent, `"won 1"` for a hedge that won,
    /// `"throttled:rejected"` or `"throttled:delayed 10ms"` for a call its throttle held back.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            HookCall::Retry(r) => format!("retry {}", r.retry_num),
            HookCall::Denied(d) => format!("denied:{} {}", d.reason.as_str(), d.retry_num),
            HookCall::Hedge(h) if h.won => format!("won {}", h.hedge_num),
            HookCall::Hedge(h) => format!(
                "hedge {} ({}) at {:?}",
                h.hedge_num,
                h.reason.as_str(),
                h.after
            ),
            HookCall::Throttled(t) if t.delay.is_zero() => {
                format!("throttled:{}", t.action.as_str())
            }
            HookCall::Throttled(t) => format!("throttled:{} {:?}", t.action.as_str(), t.delay),
        }
    }
}

/// Records the hook calls it is given, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<HookCall>>,
}

/// Which callables a route accepts (by their name; a route by thread ignores it).
type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// The routes of the routing hook: which recorder sees which hook calls.
static ROUTES: Mutex<Vec<(Matcher, Weak<Recorder>)>> = Mutex::new(Vec::new());

/// The routing hook: hands each hook call, scheduled or denied, to the recorders whose routes
/// accept it.
struct Routing;

impl Routing {
    fn route(callable: &str, record: impl Fn(&Recorder)) {
        for (matches, recorder) in lock(&ROUTES).iter() {
            if let Some(recorder) = recorder.upgrade() {
                if matches(callable) {
                    record(&recorder);
                }
            }
        }
    }
}

impl instrumentation::RetryHook for Routing {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        Self::route(details.name, |r| r.record(details));
        None
    }

    fn on_denied(&self, details: &DeniedDetails<'_>) {
        Self::route(details.name, |r| r.record_denied(details));
    }

    fn on_hedge(&self, details: &HedgeDetails<'_>) {
        Self::route(details.name, |r| r.record_hedge(details, false));
    }

    fn on_hedge_won(&self, details: &HedgeDetails<'_>) {
        Self::route(details.name, |r| r.record_hedge(details, true));
    }

    fn on_throttled(&self, details: &ThrottleDetails<'_>) {
        Self::route(details.name, |r| {
            lock(&r.calls).push(HookCall::Throttled(details.into()));
        });
    }
}

/// Installs the routing hook as the process's only hook, once per process.
///
/// # Panics
///
/// In a binary whose tests take [`exclusive`](crate::exclusive).
fn install_routing() {
    static INSTALL: Once = Once::new();
    assert!(
        !EXCLUSIVE_USED.load(Ordering::SeqCst),
        "this binary sets the hooks under `exclusive()`: routing would be reset by its guard"
    );
    INSTALL.call_once(|| {
        ROUTING_INSTALLED.store(true, Ordering::SeqCst);
        instrumentation::set_on_retry_hooks([Routing]);
    });
}

impl Recorder {
    /// A recorder to install as a hook with [`hook`](Self::hook).
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Installs the routing hook as the process's only hook (once per process) and returns a
    /// recorder that sees the hook calls, scheduled and denied, whose `callable` `matches`
    /// accepts, for as long as it lives.
    ///
    /// For binaries whose tests run in parallel: each test routes its own calls to its own
    /// recorder. A binary that uses this must not set the hooks any other way.
    ///
    /// # Panics
    ///
    /// In a binary whose tests take [`exclusive`](crate::exclusive).
    pub fn routed(matches: impl Fn(&str) -> bool + Send + Sync + 'static) -> Arc<Self> {
        install_routing();
        let recorder = Self::new();
        let mut routes = lock(&ROUTES);
        routes.retain(|(_, r)| r.strong_count() > 0);
        routes.push((Box::new(matches), Arc::downgrade(&recorder)));
        recorder
    }

    /// [`routed`](Self::routed) to the hook calls of callers named `name`.
    #[must_use]
    pub fn for_name(name: &str) -> Arc<Self> {
        let name = name.to_owned();
        Self::routed(move |callable| callable == name)
    }

    /// [`routed`](Self::routed) to the hook calls made on the current thread: the calls of sync
    /// code and of futures on a current-thread runtime.
    #[must_use]
    pub fn for_this_thread() -> Arc<Self> {
        let me: ThreadId = std::thread::current().id();
        Self::routed(move |_| std::thread::current().id() == me)
    }

    /// Records one scheduled retry.
    pub fn record(&self, details: &RetryDetails<'_>) {
        lock(&self.calls).push(HookCall::Retry(details.into()));
    }

    /// Records one denied retry.
    pub fn record_denied(&self, details: &DeniedDetails<'_>) {
        lock(&self.calls).push(HookCall::Denied(details.into()));
    }

    /// Records one hedge sent, or one that won.
    pub fn record_hedge(&self, details: &HedgeDetails<'_>, won: bool) {
        lock(&self.calls).push(HookCall::Hedge(Hedge::of(details, won)));
    }

    /// A hook that records the scheduled retries into this recorder.
    pub fn hook(self: &Arc<Self>) -> impl Fn(&RetryDetails<'_>) + Send + Sync + 'static + use<> {
        let recorder = Arc::clone(self);
        move |d| recorder.record(d)
    }

    /// Every hook call so far, scheduled and denied, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<HookCall> {
        lock(&self.calls).clone()
    }

    /// The [`summary`](HookCall::summary) of each hook call so far of the callable `name`, in
    /// order.
    #[must_use]
    pub fn hook_calls_of(&self, name: &str) -> Vec<String> {
        lock(&self.calls)
            .iter()
            .filter(|c| c.name() == name)
            .map(HookCall::summary)
            .collect()
    }

    /// The scheduled retries so far.
    #[must_use]
    pub fn retries(&self) -> Vec<Retry> {
        lock(&self.calls)
            .iter()
            .filter_map(|c| match c {
                HookCall::Retry(r) => Some(r.clone()),
                HookCall::Denied(_) | HookCall::Hedge(_) | HookCall::Throttled(_) => None,
            })
            .collect()
    }

    /// The `retry_num` of each scheduled retry so far.
    #[must_use]
    pub fn retry_nums(&self) -> Vec<u32> {
        self.retries().iter().map(|r| r.retry_num).collect()
    }

    /// The `wait_for` of each scheduled retry so far.
    #[must_use]
    pub fn wait_fors(&self) -> Vec<Duration> {
        self.retries().iter().map(|r| r.wait_for).collect()
    }

    /// The number of scheduled retries so far.
    #[must_use]
    pub fn count(&self) -> usize {
        self.retries().len()
    }
}

/// The routed recorder behind [`record_hook_calls`] and [`hook_calls`]: every hook call of the
/// process.
static EVERY_CALL: OnceLock<Arc<Recorder>> = OnceLock::new();

/// Installs, once per process, the binary's only hook (the routing hook) and a recorder routed
/// every hook call, scheduled and denied, for [`hook_calls`].
///
/// # Panics
///
/// In a binary whose tests take [`exclusive`](crate::exclusive), whose guard would reset it.
pub fn record_hook_calls() {
    install_routing();
    EVERY_CALL.get_or_init(|| Recorder::routed(|_| true));
}

/// The hook calls of the callable `name` since [`record_hook_calls`], in order: `"retry 1"` for
/// a scheduled retry, `"denied:budget 2"` or `"denied:nested 1"` for a denied one.
#[must_use]
pub fn hook_calls(name: &str) -> Vec<String> {
    EVERY_CALL
        .get()
        .map(|every| every.hook_calls_of(name))
        .unwrap_or_default()
}
