//! Instrumentation: hooks that run for every scheduled retry.
//!
//! A hook runs after stamina decided to retry and before it sleeps: a call whose `N` attempts all
//! fail runs each hook `N - 1` times, with `retry_num` 1 to `N - 1`; never for the first attempt,
//! a success or the final failure. Hooks are process-global, like stamina's; the default ones are
//! [`TracingOnRetryHook`] (feature `tracing`) and [`MetricsOnRetryHook`] (feature `metrics`).
//!
//! ```
//! use stamina::instrumentation::{self, RetryDetails};
//!
//! instrumentation::set_on_retry_hooks([|d: &RetryDetails<'_>| {
//!     eprintln!("retry #{} of {} in {:?}: {:?}", d.retry_num, d.name, d.wait_for, d.caused_by);
//! }]);
//! # instrumentation::reset_on_retry_hooks();
//! ```
//!
//! # Guards
//!
//! A hook may return a [`RetryGuard`]: any `Send + 'static` value, kept alive across the backoff
//! sleep and dropped exactly once, right before the next attempt starts, or when the retrying
//! call is cancelled (its future dropped mid-sleep). Guards are dropped in reverse order of the
//! hooks. This is stamina's context-manager hooks without their bug (stamina exits them again on
//! every later attempt and across calls). Hold a `tracing::Span`, not an `Entered` guard, so that
//! a retrying `async fn` stays `Send`.
//!
//! # Panics in hooks
//!
//! A hook that panics is a bug in the hook, and the panic propagates out of the retrying call, as
//! any panic in the operation would: stamina does not swallow it, and the call's error is dropped
//! during the unwind. Nothing global is poisoned: later calls run the hooks again as usual, and a
//! [`RetryHookFactory`] that panicked is called again on the next retry.
//!
//! # Cost
//!
//! Nothing here runs before the first failure. On a retry, the registry is read without a lock
//! (one atomic load of a generation counter against the thread's cached copy; an `arc-swap` load
//! after a change) and each hook is called in order.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
mod tracing;

#[cfg(feature = "metrics")]
pub use self::metrics::MetricsOnRetryHook;
#[cfg(feature = "tracing")]
pub use self::tracing::TracingOnRetryHook;

/// What a hook learns about a scheduled retry.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RetryDetails<'a> {
    /// The `callable` label: the function's path for `#[retry]`, the name given to a
    /// [`RetryingCaller`](crate::RetryingCaller), else the operation closure's type name.
    pub name: &'a str,
    /// The number of the attempt that failed, which is also the number of this retry: 1 for the
    /// first retry.
    pub retry_num: u32,
    /// The wait before the next attempt (zero in testing mode).
    pub wait_for: Duration,
    /// The sum of the earlier planned waits of this call. `wait_for + waited_so_far` is the
    /// call's total waiting if the next attempt succeeds.
    pub waited_so_far: Duration,
    /// The error that caused this retry.
    pub caused_by: &'a dyn fmt::Debug,
    /// The error's type, as `std::any::type_name` spells it: the `error_type` metrics label.
    pub error_type: &'static str,
}

/// A value kept alive across the backoff sleep of one retry, then dropped exactly once: see the
/// [module docs](self#guards).
pub struct RetryGuard(#[allow(dead_code)] Box<dyn Send>);

impl RetryGuard {
    /// Wraps any `Send + 'static` value, a `tracing::Span` for example.
    pub fn new<G: Send + 'static>(guard: G) -> Self {
        RetryGuard(Box::new(guard))
    }
}

impl fmt::Debug for RetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryGuard")
    }
}

/// The guards of the retry under way: a stack, newest on top, so that they are dropped in
/// reverse order of the hooks. A single pointer, null for the calls (nearly all) that never have
/// one, which keeps every retrying future small.
#[derive(Debug, Default)]
pub(crate) struct Guards(Option<Box<GuardNode>>);

#[derive(Debug)]
struct GuardNode {
    guard: RetryGuard,
    next: Option<Box<GuardNode>>,
}

impl Guards {
    pub(crate) const fn new() -> Self {
        Guards(None)
    }

    fn push(&mut self, guard: RetryGuard) {
        self.0 = Some(Box::new(GuardNode {
            guard,
            next: self.0.take(),
        }));
    }

    /// Drops every guard, newest first. Inline, and a null check when there are none: every
    /// retrying call runs this when it ends.
    #[inline]
    pub(crate) fn release(&mut self) {
        if self.0.is_some() {
            self.release_all();
        }
    }

    #[cold]
    #[inline(never)]
    fn release_all(&mut self) {
        while let Some(node) = self.0.take() {
            let GuardNode { guard, next } = *node;
            self.0 = next;
            drop(guard);
        }
    }

    pub(crate) fn len(&self) -> usize {
        std::iter::successors(self.0.as_deref(), |node| node.next.as_deref()).count()
    }
}

impl Drop for Guards {
    #[inline]
    fn drop(&mut self) {
        // Iteratively, newest first: a recursive drop of a long list could overflow the stack.
        self.release();
    }
}

/// What a hook closure may return: nothing, a [`RetryGuard`], or an `Option` of one.
pub trait IntoRetryGuard {
    /// The guard, if any.
    fn into_retry_guard(self) -> Option<RetryGuard>;
}

impl IntoRetryGuard for () {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        None
    }
}

impl IntoRetryGuard for RetryGuard {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        Some(self)
    }
}

impl IntoRetryGuard for Option<RetryGuard> {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        self
    }
}

/// Called for each scheduled retry, after the decision to retry and before the sleep.
///
/// Closures `Fn(&RetryDetails<'_>)` returning `()`, a [`RetryGuard`] or an `Option<RetryGuard>`
/// are hooks.
pub trait RetryHook: Send + Sync + 'static {
    /// Called for each scheduled retry; may return a guard that lives across the sleep.
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard>;
}

impl<F, R> RetryHook for F
where
    F: Fn(&RetryDetails<'_>) -> R + Send + Sync + 'static,
    R: IntoRetryGuard,
{
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        self(details).into_retry_guard()
    }
}

/// Builds a hook lazily, on the first retry after it was registered (or on
/// [`get_on_retry_hooks`]): for hooks whose setup is expensive or has side effects, such as
/// registering a metric.
#[derive(Clone)]
pub struct RetryHookFactory(Arc<dyn Fn() -> Arc<dyn RetryHook> + Send + Sync>);

impl RetryHookFactory {
    /// A factory that calls `build` once per registration.
    pub fn new<H: RetryHook>(build: impl Fn() -> H + Send + Sync + 'static) -> Self {
        RetryHookFactory(Arc::new(move || Arc::new(build()) as Arc<dyn RetryHook>))
    }
}

impl fmt::Debug for RetryHookFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryHookFactory")
    }
}

/// An entry of the hook registry: a hook, a shared hook or a factory.
///
/// Anything that implements [`RetryHook`] (closures included) converts into a `Hook`, and so do
/// a [`RetryHookFactory`] and an `Arc<dyn RetryHook>`, such as [`get_on_retry_hooks`] returns:
///
/// ```
/// use stamina::instrumentation::{get_on_retry_hooks, set_on_retry_hooks, reset_on_retry_hooks};
///
/// let defaults = get_on_retry_hooks();
/// set_on_retry_hooks(defaults); // the same hooks again, shared
/// # reset_on_retry_hooks();
/// ```
#[derive(Clone, Debug)]
pub struct Hook(HookKind);

#[derive(Clone)]
enum HookKind {
    Ready(Arc<dyn RetryHook>),
    Factory(RetryHookFactory),
}

impl fmt::Debug for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookKind::Ready(_) => f.write_str("Hook"),
            HookKind::Factory(factory) => factory.fmt(f),
        }
    }
}

impl Hook {
    /// A registry entry for a shared hook: the same as `Hook::from(hook)`.
    pub fn shared(hook: Arc<dyn RetryHook>) -> Self {
        Hook(HookKind::Ready(hook))
    }

    fn resolve(&self) -> Arc<dyn RetryHook> {
        match &self.0 {
            HookKind::Ready(hook) => Arc::clone(hook),
            HookKind::Factory(factory) => (factory.0)(),
        }
    }
}

impl<H: RetryHook> From<H> for Hook {
    fn from(hook: H) -> Self {
        Hook(HookKind::Ready(Arc::new(hook)))
    }
}

impl From<Arc<dyn RetryHook>> for Hook {
    /// A shared hook, registered as it is (not wrapped in another `Arc`).
    fn from(hook: Arc<dyn RetryHook>) -> Self {
        Hook::shared(hook)
    }
}

impl From<RetryHookFactory> for Hook {
    fn from(factory: RetryHookFactory) -> Self {
        Hook(HookKind::Factory(factory))
    }
}

type Resolved = Box<[Arc<dyn RetryHook>]>;

struct Registry {
    hooks: Vec<Hook>,
    resolved: OnceLock<Resolved>,
}

impl Registry {
    fn resolved(&self) -> &[Arc<dyn RetryHook>] {
        self.resolved
            .get_or_init(|| self.hooks.iter().map(Hook::resolve).collect())
    }
}

/// `None`: the default hooks.
static REGISTRY: ArcSwapOption<Registry> = ArcSwapOption::const_empty();
static DEFAULTS: OnceLock<Registry> = OnceLock::new();

fn default_registry() -> &'static Registry {
    DEFAULTS.get_or_init(|| Registry {
        hooks: default_hooks(),
        resolved: OnceLock::new(),
    })
}

/// The default hooks, in order: metrics first, then tracing (stamina: Prometheus, then logging).
fn default_hooks() -> Vec<Hook> {
    vec![
        #[cfg(feature = "metrics")]
        Hook::from(MetricsOnRetryHook::new()),
        #[cfg(feature = "tracing")]
        Hook::from(TracingOnRetryHook::new()),
    ]
}

/// Replaces the process's hooks; an empty iterator turns all instrumentation off.
///
/// Factories are called again on the next retry (or [`get_on_retry_hooks`]).
///
/// ```
/// use stamina::instrumentation::{set_on_retry_hooks, get_on_retry_hooks, reset_on_retry_hooks, Hook};
///
/// set_on_retry_hooks(Vec::<Hook>::new());   // no instrumentation at all
/// assert!(get_on_retry_hooks().is_empty());
/// reset_on_retry_hooks();                   // back to the defaults
/// ```
pub fn set_on_retry_hooks<I>(hooks: I)
where
    I: IntoIterator,
    I::Item: Into<Hook>,
{
    let hooks = hooks.into_iter().map(Into::into).collect();
    REGISTRY.store(Some(Arc::new(Registry {
        hooks,
        resolved: OnceLock::new(),
    })));
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Restores the default hooks (stamina's `set_on_retry_hooks(None)`).
pub fn reset_on_retry_hooks() {
    REGISTRY.store(None);
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The hooks in force, with factories resolved (which calls them if no retry did yet).
#[must_use]
pub fn get_on_retry_hooks() -> Vec<Arc<dyn RetryHook>> {
    hooks_of(REGISTRY.load().as_deref()).to_vec()
}

/// Bumped by every change of the registry, after the change.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of the registry, and the generation it was read at. Reading the
    /// registry costs an `arc-swap` load (tens of instructions); this makes it one atomic load
    /// and a comparison on every retry but the first after a change. A thread keeps its copy of
    /// replaced hooks alive until its next retry.
    static CACHED: RefCell<Option<(u64, Option<Arc<Registry>>)>> = const { RefCell::new(None) };
}

fn hooks_of(registry: Option<&Registry>) -> &[Arc<dyn RetryHook>] {
    match registry {
        Some(registry) => registry.resolved(),
        None => default_registry().resolved(),
    }
}

/// Runs every hook for one scheduled retry, pushing their guards onto `guards`.
pub(crate) fn run_hooks(details: &RetryDetails<'_>, guards: &mut Guards) {
    let mut run = |hooks: &[Arc<dyn RetryHook>]| {
        for hook in hooks {
            if let Some(guard) = hook.on_retry(details) {
                guards.push(guard);
            }
        }
    };
    let generation = GENERATION.load(Ordering::Acquire);
    CACHED.with(|cached| {
        let fresh = matches!(&*cached.borrow(), Some((g, _)) if *g == generation);
        if !fresh {
            // Busy only while a hook of this thread retries something itself: read directly.
            let Ok(mut cached) = cached.try_borrow_mut() else {
                return run(hooks_of(REGISTRY.load().as_deref()));
            };
            *cached = Some((generation, REGISTRY.load_full()));
        }
        let cached = cached.borrow();
        let registry = cached
            .as_ref()
            .and_then(|(_, registry)| registry.as_deref());
        run(hooks_of(registry));
    });
}
