//! The explicit retry loop: [`RetryContext`] and stamina's [`Attempt`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::attempt::Attempt;
use crate::clock::Stamp;
use crate::decision::Decision;
use crate::instrumentation::Cause;
use crate::instrumentation::{DebugOnly, ErrorAware, ErrorView, site_label};
use crate::nesting;
use crate::on_ok::{AcceptOk, OnOk};
use crate::policy::RetryPolicy;
use crate::retrying::RetryState;
use crate::sleeper::{DefaultSleeper, Sleeper};

/// The loop's state, and whether an attempt is under way that no failure was reported for: if
/// the loop ends there, that attempt succeeded, and the budget hears of it.
#[derive(Debug)]
struct LoopState<'c> {
    state: RetryState<'c, Option<Stamp>>,
    open: bool,
    /// The publication of the loop's attempts after a sync backoff, until the next decision.
    held: nesting::Held,
}

impl Drop for LoopState<'_> {
    fn drop(&mut self) {
        if self.open {
            self.state.succeeded();
        }
    }
}

/// A loop's `callable` label: the name given, or the loop's call site.
#[derive(Clone, Copy, Debug)]
enum Label<'c> {
    Given(&'c str),
    Site(&'static Location<'static>),
}

/// An explicit retry loop, for code that cannot be a closure: stamina's `retry_context`.
///
/// It is the same state machine that `#[retry]` expands into. Each turn of the loop begins with
/// [`attempt`](Self::attempt), which reports stamina's [`Attempt`] (`num` and `next_wait`);
/// an error goes to [`backoff`](Self::backoff) (or [`backoff_async`](Self::backoff_async)),
/// which gives the error back, unchanged, when the call gives up, and otherwise sleeps.
///
/// ```
/// use std::io;
/// use stamina::RetryingCaller;
///
/// fn connect(attempt: u32) -> io::Result<&'static str> {
///     if attempt < 3 { Err(io::ErrorKind::ConnectionRefused.into()) } else { Ok("connected") }
/// }
///
/// # let _instant = stamina::testing::set_testing(true, 5, false);
/// let caller = RetryingCaller::new().attempts(5);
/// let mut retry = caller.context(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionRefused);
/// let conn = loop {
///     let attempt = retry.attempt();
///     match connect(attempt.num) {
///         Ok(conn) => break conn,
///         Err(e) => retry.backoff(e)?,
///     }
/// };
/// assert_eq!(conn, "connected");
/// # Ok::<(), io::Error>(())
/// ```
///
/// An `Ok` value goes to [`backoff_ok`](Self::backoff_ok) when the loop has a result predicate
/// ([`on_ok`](Self::on_ok)): `Break(value)` ends the loop with it, `Continue(())` comes after
/// the backoff.
///
/// ```
/// use std::ops::ControlFlow;
///
/// # let _instant = stamina::testing::set_testing(true, 5, false);
/// let caller = stamina::RetryingCaller::new().on_ok(|status: &u16| *status == 503);
/// let mut retry = caller.context(|_: &std::io::Error| false);
/// let mut statuses = vec![200, 503];
/// let status = loop {
///     retry.attempt();
///     match Ok::<_, std::io::Error>(statuses.pop().unwrap()) {
///         Ok(status) => match retry.backoff_ok(status) {
///             ControlFlow::Break(status) => break status,
///             ControlFlow::Continue(()) => continue,
///         },
///         Err(e) => retry.backoff(e)?,
///     }
/// };
/// assert_eq!(status, 200);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RetryContext<'c, E, P, S = DefaultSleeper, O = AcceptOk, V = DebugOnly> {
    state: LoopState<'c>,
    name: Label<'c>,
    on: P,
    sleeper: S,
    on_ok: O,
    view: V,
    _error: PhantomData<fn(&E)>,
}

impl<E, P, S, O, V> fmt::Debug for RetryContext<'_, E, P, S, O, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryContext")
            .field("state", &self.state)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'c, E, P> RetryContext<'c, E, P> {
    /// A loop under `policy`, retrying the errors that `on` accepts; its `callable` label is
    /// its call site (`src/sync.rs:42`) until [`name`](Self::name) sets one.
    /// [`RetryingCaller::context`](crate::RetryingCaller::context) starts one with the caller's
    /// policy and name.
    #[track_caller]
    pub fn new<D>(policy: &'c RetryPolicy, on: P) -> Self
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
    {
        RetryContext {
            // The clock starts at the first `attempt`, not here: setting a loop up is not part
            // of its time.
            state: LoopState {
                state: RetryState::unstarted(policy, None),
                open: false,
                held: nesting::Held::default(),
            },
            name: Label::Site(Location::caller()),
            on,
            sleeper: DefaultSleeper,
            on_ok: AcceptOk,
            view: DebugOnly,
            _error: PhantomData,
        }
    }
}

impl<'c, E, P, S, O, V> RetryContext<'c, E, P, S, O, V> {
    /// This loop, with [`backoff_async`](Self::backoff_async) sleeping on `sleeper` instead of
    /// the [`DefaultSleeper`].
    #[must_use]
    pub fn sleeper<T>(self, sleeper: T) -> RetryContext<'c, E, P, T, O, V> {
        RetryContext {
            state: self.state,
            name: self.name,
            on: self.on,
            sleeper,
            on_ok: self.on_ok,
            view: self.view,
            _error: PhantomData,
        }
    }

    /// This loop, with the result predicate `on_ok` for [`backoff_ok`](Self::backoff_ok): see
    /// [`RetryingCaller::on_ok`](crate::RetryingCaller::on_ok).
    #[must_use]
    pub fn on_ok<R>(self, on_ok: R) -> RetryContext<'c, E, P, S, R, V> {
        RetryContext {
            state: self.state,
            name: self.name,
            on: self.on,
            sleeper: self.sleeper,
            on_ok,
            view: self.view,
            _error: PhantomData,
        }
    }

    /// This loop, with hooks that see its errors as a `dyn Error`: see
    /// [`RetryingCaller::error_aware`](crate::RetryingCaller::error_aware).
    #[must_use]
    pub fn error_aware(self) -> RetryContext<'c, E, P, S, O, ErrorAware> {
        self.view(ErrorAware)
    }

    pub(crate) fn view<W>(self, view: W) -> RetryContext<'c, E, P, S, O, W> {
        RetryContext {
            state: self.state,
            name: self.name,
            on: self.on,
            sleeper: self.sleeper,
            on_ok: self.on_ok,
            view,
            _error: PhantomData,
        }
    }

    /// The `callable` label in hooks, logs and metrics.
    #[must_use]
    pub fn name(mut self, name: &'c str) -> Self {
        self.name = Label::Given(name);
        self
    }

    /// A deadline for this call, such as one handed down from an incoming request: the call
    /// gives up by it as by its timeout (whichever comes first), enforced by the policy's
    /// [`TimeoutMode`](crate::TimeoutMode). A `tokio::time::Instant` converts too.
    #[must_use]
    pub fn deadline(mut self, deadline: impl Into<Instant>) -> Self {
        let policy = self.state.state.policy();
        let state = std::mem::replace(&mut self.state.state, RetryState::unstarted(policy, None));
        self.state.state = state.deadline(Some(Stamp::from_instant(deadline.into())));
        self
    }

    /// Begins the next attempt (the first, on the first call, which also starts the clock of
    /// the timeout): the attempt's number, the next wait's lower bound, the time elapsed since
    /// the first attempt began and the time left.
    pub fn attempt(&mut self) -> Attempt {
        let state = &mut self.state.state;
        state.release_guards();
        state.begin(true);
        self.state.open = true;
        state.attempt()
    }

    /// Runs the body of the attempt under way, published for the
    /// [nested-retry guard](crate::Nesting) from the second attempt on, as the attribute and
    /// the callers publish theirs: a retrying call inside `f` then knows it is nested. A loop
    /// that sleeps with [`backoff`](Self::backoff) needs none of it (it publishes on its
    /// thread); one that uses [`decide`](Self::decide) or the `async` forms does.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.state.state.run(f)
    }

    /// [`run`](Self::run) for an `async` attempt: `future`, published around each poll from the
    /// second attempt on.
    pub async fn run_async<F: std::future::Future>(&self, future: F) -> F::Output {
        if self.state.state.attempt_num() == 1 {
            future.await
        } else {
            crate::nesting::attempting(future).await
        }
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps the thread for the backoff and returns `Ok(())`.
    pub fn backoff<D, M>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
        V: ErrorView<E, M>,
    {
        let wait = self.decide(error)?;
        self.state.held.publish();
        self.state.state.sleep(wait);
        Ok(())
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps the backoff on the loop's sleeper (a zero wait yields once) and returns `Ok(())`.
    pub async fn backoff_async<D, M>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
        S: Sleeper,
        V: ErrorView<E, M>,
    {
        let wait = self.decide(error)?;
        crate::sleep::backoff(&self.sleeper, wait).await;
        self.state.state.release_guards();
        Ok(())
    }

    /// Handles a failed attempt's error without sleeping: `Err(error)`, unchanged, if the call
    /// gives up, else the wait before the next attempt, for a loop that sleeps on its own timer.
    /// The hooks' guards live until the next [`attempt`](Self::attempt).
    pub fn decide<D, M>(&mut self, error: E) -> Result<Duration, E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
        V: ErrorView<E, M>,
    {
        let on = &mut self.on;
        let name = self.name;
        self.state.open = false;
        // The loop's own publication is not nesting.
        self.state.held.release();
        self.state.state.failed(
            error,
            |e| on(e).into(),
            |_| Cause::viewed::<V, M>(),
            move || label(name),
        )
    }

    /// Handles an attempt's `Ok` value: `Break(value)`, unchanged, if the result predicate
    /// accepts it or the call gives up, else sleeps the thread for the backoff and returns
    /// `Continue(())`, for the next attempt.
    pub fn backoff_ok<T>(&mut self, value: T) -> ControlFlow<T>
    where
        O: OnOk<T>,
    {
        let wait = self.decide_ok(value)?;
        self.state.held.publish();
        self.state.state.sleep(wait);
        ControlFlow::Continue(())
    }

    /// [`backoff_ok`](Self::backoff_ok), sleeping on the loop's sleeper.
    pub async fn backoff_ok_async<T>(&mut self, value: T) -> ControlFlow<T>
    where
        O: OnOk<T>,
        S: Sleeper,
    {
        let wait = self.decide_ok(value)?;
        crate::sleep::backoff(&self.sleeper, wait).await;
        self.state.state.release_guards();
        ControlFlow::Continue(())
    }

    /// [`backoff_ok`](Self::backoff_ok) without sleeping: `Continue(wait)` is the wait before
    /// the next attempt, for a loop that sleeps on its own timer.
    pub fn decide_ok<T>(&mut self, value: T) -> ControlFlow<T, Duration>
    where
        O: OnOk<T>,
    {
        let decision = self.on_ok.on_ok(&value);
        if !decision.is_retry() {
            // Accepted: the attempt succeeded (the budget hears of it when the loop ends).
            return ControlFlow::Break(value);
        }
        let on_ok = &self.on_ok;
        let name = self.name;
        let show = |v: &T, f: &mut fmt::Formatter<'_>| on_ok.fmt_value(v, f);
        self.state.open = false;
        self.state.held.release();
        match self.state.state.value_failed(
            value,
            decision,
            show,
            crate::instrumentation::label::<T>,
            move || label(name),
        ) {
            Ok(wait) => ControlFlow::Continue(wait),
            Err(value) => ControlFlow::Break(value),
        }
    }
}

/// The text of a loop's label.
fn label(label: Label<'_>) -> &str {
    match label {
        Label::Given(name) => name,
        Label::Site(site) => site_label(site),
    }
}
