//! The explicit retry loop: [`RetryContext`] and stamina's [`Attempt`].

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::decision::Decision;
use crate::policy::RetryPolicy;
use crate::retrying::RetryState;

/// The `callable` label of a loop that was given no name, as in stamina.
pub(crate) const CONTEXT_BLOCK: &str = "<context block>";

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
pub struct RetryContext<'c, E, P> {
    state: RetryState<'c>,
    name: &'c str,
    on: P,
    _error: PhantomData<fn(&E)>,
}

impl<E, P> fmt::Debug for RetryContext<'_, E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryContext")
            .field("state", &self.state)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One attempt of an explicit retry loop: stamina's `Attempt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The attempt's number, from 1.
    pub num: u32,
    /// The jitter-less lower bound of the wait that follows if this attempt fails:
    /// `min(wait_max, wait_initial * wait_exp_base^(num - 1))`. Zero in testing mode and when
    /// inactive. It does not know whether a retry will follow, nor what a predicate's
    /// [`Decision::RetryAfter`] will ask for.
    pub next_wait: Duration,
}

impl<'c, E, P> RetryContext<'c, E, P> {
    /// A loop under `policy`, retrying the errors that `on` accepts; its `callable` label is
    /// `<context block>` until [`name`](Self::name) sets one.
    /// [`RetryingCaller::context`](crate::RetryingCaller::context) starts one with the caller's
    /// policy and name.
    pub fn new<D>(policy: &'c RetryPolicy, on: P) -> Self
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
    {
        RetryContext {
            state: RetryState::new(policy),
            name: CONTEXT_BLOCK,
            on,
            _error: PhantomData,
        }
    }

    /// The `callable` label in hooks, logs and metrics.
    #[must_use]
    pub fn name(mut self, name: &'c str) -> Self {
        self.name = name;
        self
    }

    /// Begins the next attempt (the first, on the first call).
    pub fn attempt(&mut self) -> Attempt {
        self.state.release_guards();
        Attempt {
            num: self.state.attempt_num(),
            next_wait: self.state.next_wait(),
        }
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps the thread for the backoff and returns `Ok(())`.
    pub fn backoff<D>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let wait = self.decide(error)?;
        self.state.sleep(wait);
        Ok(())
    }

    /// Handles a failed attempt's error: `Err(error)`, unchanged, if the call gives up, else
    /// sleeps on the tokio timer for the backoff and returns `Ok(())`.
    #[cfg(feature = "tokio")]
    pub async fn backoff_async<D>(&mut self, error: E) -> Result<(), E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let wait = self.decide(error)?;
        self.state.sleep_async(wait).await;
        Ok(())
    }

    /// Handles a failed attempt's error without sleeping: `Err(error)`, unchanged, if the call
    /// gives up, else the wait before the next attempt, for a loop that sleeps on its own timer.
    /// The hooks' guards live until the next [`attempt`](Self::attempt).
    pub fn decide<D>(&mut self, error: E) -> Result<Duration, E>
    where
        P: FnMut(&E) -> D,
        D: Into<Decision>,
        E: fmt::Debug,
    {
        let on = &mut self.on;
        self.state.failed(error, |e| on(e).into(), || self.name)
    }
}
