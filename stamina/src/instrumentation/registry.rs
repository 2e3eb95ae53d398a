//! The process's hooks: [`set_on_retry_hooks`], [`reset_on_retry_hooks`],
//! [`get_on_retry_hooks`], and how a retry reads them.
//!
//! One mechanism reads the registry: [`current`], a lock and an `Arc` clone. A retry does that
//! only when the registry changed since its thread last looked (one atomic load of a generation
//! counter tells), and otherwise runs the hooks of its thread's copy, without a lock or a
//! reference count. A thread whose thread-locals are gone (a retry from a thread-local's
//! destructor) or whose copy is being replaced by a hook that retries, reads the registry
//! directly.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::guards::Guards;
use super::hook::{DeniedDetails, HedgeDetails, Hook, RetryDetails, RetryHook, ThrottleDetails};

struct Registry {
    hooks: Vec<Hook>,
    /// The hooks, factories called: on the first retry that reads them.
    resolved: OnceLock<Box<[Arc<dyn RetryHook>]>>,
}

impl Registry {
    fn new(hooks: Vec<Hook>) -> Self {
        Registry {
            hooks,
            resolved: OnceLock::new(),
        }
    }

    fn hooks(&self) -> &[Arc<dyn RetryHook>] {
        self.resolved
            .get_or_init(|| self.hooks.iter().map(Hook::resolve).collect())
    }
}

/// The hooks set by `set_on_retry_hooks`; `None`: the defaults.
static SET: Mutex<Option<Arc<Registry>>> = Mutex::new(None);
static DEFAULTS: OnceLock<Arc<Registry>> = OnceLock::new();
/// Bumped by every change of `SET`, after the change.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Whether the registry in force has no hook: what a retry asks first, in one load, so that a
/// process without hooks (a benchmark, a test that turned them off) skips the thread's copy of
/// the registry. Set by every change of `SET`, after the change; the defaults are hooks unless
/// no default hook is compiled in.
static EMPTY: AtomicBool = AtomicBool::new(!DEFAULT_HOOKS);

/// Whether any default hook is compiled in.
const DEFAULT_HOOKS: bool = cfg!(any(
    feature = "metrics",
    feature = "tracing",
    feature = "log"
));

thread_local! {
    /// This thread's copy of the registry, and the generation it was read at.
    static CACHED: RefCell<Option<(u64, Arc<Registry>)>> = const { RefCell::new(None) };
}

/// The registry in force.
fn current() -> Arc<Registry> {
    let set = SET.lock().unwrap_or_else(PoisonError::into_inner).clone();
    set.unwrap_or_else(|| {
        Arc::clone(DEFAULTS.get_or_init(|| Arc::new(Registry::new(default_hooks()))))
    })
}

fn replace(registry: Option<Arc<Registry>>) {
    let empty = registry
        .as_ref()
        .map_or(!DEFAULT_HOOKS, |r| r.hooks.is_empty());
    let mut set = SET.lock().unwrap_or_else(PoisonError::into_inner);
    let old = std::mem::replace(&mut *set, registry);
    EMPTY.store(empty, Ordering::Release);
    drop(set);
    GENERATION.fetch_add(1, Ordering::Release);
    // Dropped outside the lock: a hook's destructor may read the registry.
    drop(old);
}

/// The default hooks, in order: metrics first, then tracing (stamina: Prometheus, then logging).
fn default_hooks() -> Vec<Hook> {
    vec![
        #[cfg(feature = "metrics")]
        Hook::from(super::MetricsOnRetryHook::new()),
        #[cfg(feature = "tracing")]
        Hook::from(super::TracingOnRetryHook::new()),
        #[cfg(all(feature = "log", not(feature = "tracing")))]
        Hook::from(super::LogOnRetryHook::new()),
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
    replace(Some(Arc::new(Registry::new(hooks))));
}

/// Restores the default hooks (stamina's `set_on_retry_hooks(None)`).
pub fn reset_on_retry_hooks() {
    replace(None);
}

/// The hooks in force, with factories resolved (which calls them if no retry did yet).
#[must_use]
pub fn get_on_retry_hooks() -> Vec<Arc<dyn RetryHook>> {
    current().hooks().to_vec()
}

/// Runs `f` with the registry in force: this thread's copy when it is current (one atomic load
/// tells), else the registry itself.
#[inline]
fn with_registry<R>(f: impl FnOnce(&Registry) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let ran = CACHED.try_with(|cached| {
        let fresh = matches!(&*cached.borrow(), Some((g, _)) if *g == generation);
        if !fresh {
            let Ok(mut cached) = cached.try_borrow_mut() else {
                return None;
            };
            *cached = Some((generation, current()));
        }
        let cached = cached.borrow();
        let (_, registry) = cached.as_ref()?;
        let f = f.take()?;
        Some(f(registry))
    });
    match (ran, f) {
        (Ok(Some(result)), _) => result,
        // The thread-locals are gone, or a hook is replacing them: the registry itself.
        (_, Some(f)) => f(&current()),
        (_, None) => unreachable!("`f` ran, so it returned"),
    }
}

/// Whether hooks run at all: `false` for an empty registry, which skips building the details.
#[inline]
pub(crate) fn any_hooks() -> bool {
    !EMPTY.load(Ordering::Acquire) && with_registry(|registry| !registry.hooks.is_empty())
}

/// Runs every hook for one scheduled retry, pushing their guards onto `guards`. The details are
/// built only if there is a hook.
pub(crate) fn run_hooks<'a>(details: impl FnOnce() -> RetryDetails<'a>, guards: &mut Guards) {
    with_registry(|registry| {
        if !registry.hooks.is_empty() {
            run(registry, &details(), guards);
        }
    });
}

/// Tells every hook about a denied retry. The details are built only if there is a hook.
pub(crate) fn run_denied<'a>(details: impl FnOnce() -> DeniedDetails<'a>) {
    if EMPTY.load(Ordering::Acquire) {
        return;
    }
    with_registry(|registry| {
        if !registry.hooks.is_empty() {
            let details = details();
            for hook in registry.hooks() {
                hook.on_denied(&details);
            }
        }
    });
}

/// Tells every hook about a hedge sent (`won`: `false`) or a hedge that won.
pub(crate) fn run_hedge(details: &HedgeDetails<'_>, won: bool) {
    if EMPTY.load(Ordering::Acquire) {
        return;
    }
    with_registry(|registry| {
        for hook in registry.hooks() {
            if won {
                hook.on_hedge_won(details);
            } else {
                hook.on_hedge(details);
            }
        }
    });
}

/// Tells every hook about a call that a throttle rejected or delayed.
pub(crate) fn run_throttled(details: &ThrottleDetails<'_>) {
    if EMPTY.load(Ordering::Acquire) {
        return;
    }
    with_registry(|registry| {
        for hook in registry.hooks() {
            hook.on_throttled(details);
        }
    });
}

fn run(registry: &Registry, details: &RetryDetails<'_>, guards: &mut Guards) {
    for hook in registry.hooks() {
        if let Some(guard) = hook.on_retry(details) {
            guards.push(guard);
        }
    }
}
