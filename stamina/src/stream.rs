//! Retrying streams and iterators: stamina's generator retry.
//!
//! A fn that returns `impl Stream<Item = Result<T, E>>` (a subscription, a paginated listing, a
//! change feed) or `impl Iterator<Item = Result<T, E>>` is retried as stamina retries a
//! generator: `Ok` items pass through as they come; an `Err` item that `on` retries ends the
//! current stream, and after the backoff the fn is called again and its new stream continues
//! the output. An error `on` declines, or the last one when the call gives up, is the final
//! item, unchanged, and the stream ends. A stream that ends by itself ends the output.
//!
//! **Restart, not resume**: the new stream starts from its beginning, so the items before the
//! failure come again, as with stamina's generators. A consumer that must not see an item twice
//! makes the fn resume from where it got to (a cursor, an offset, a `Last-Event-ID`) or skips
//! what it has seen.
//!
//! **Healing** ([`RetryPolicy::heal_after`](crate::RetryPolicy::heal_after),
//! [`heal_after_items`](crate::RetryPolicy::heal_after_items); off by default): once the current
//! stream has gone that long, or yielded that many items, without an error, its next error
//! starts the retrying afresh: attempt 1, the first wait, the timeout counted from then. Without
//! it a long-lived stream that fails once an hour exhausts `attempts = 10` after ten hours, and a
//! stream older than `timeout` gives up at its first error, as stamina's generators do.
//!
//! The switches, hooks, metrics, budgets, the nesting guard, the deadline mode and the sleepers
//! apply as they do for fns. Dropping the stream mid-wait drops the sleep and the hooks' guards,
//! once. Nothing is allocated per item, and an item costs a match and a counter.
//!
//! [`RetryingCaller::stream`](crate::RetryingCaller::stream),
//! [`RetryingCaller::reconnect`](crate::RetryingCaller::reconnect) (for the shape
//! `async fn connect() -> Result<impl Stream<Item = Result<T, E>>, E>`: a connect error and an
//! item error both restart it) and [`RetryingCaller::iter`](crate::RetryingCaller::iter) are the
//! forms without the attribute.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;

use crate::clock::PerCallDeadline;
use crate::instrumentation::Cause;
use crate::nesting;
use crate::policy::PolicySource;
use crate::retrying::RetryState;

/// When the current run (since the fn was last called) began and how many items it yielded:
/// what healing looks at.
#[derive(Debug, Default)]
struct Run {
    items: u32,
    /// On stamina's clock (a test clock's virtual time in its scope), in nanoseconds; 0 when
    /// healing does not look at time.
    since: u64,
}

impl Run {
    /// A new run begins: counts from now (reading the clock only if healing needs it).
    fn begin(heal_after: Option<Duration>) -> Self {
        Run {
            items: 0,
            since: heal_after.map_or(0, |_| crate::clock::now_nanos().max(1)),
        }
    }

    /// Whether the run was healthy long enough to heal, by the policy's rule. A zero time is
    /// one item, as zero items is: a run that failed at once never heals.
    fn healed(&self, heal_after: Option<Duration>, heal_after_items: Option<u32>) -> bool {
        let by_items = |n: u32| self.items >= n.max(1);
        heal_after_items.is_some_and(by_items)
            || heal_after.filter(|_| self.since != 0).is_some_and(|after| {
                if after.is_zero() {
                    return by_items(1);
                }
                Duration::from_nanos(crate::clock::now_nanos().saturating_sub(self.since)) >= after
            })
    }
}

/// What a retrying stream does with an error: heal if the run earned it, then decide.
fn failed<'p, 'n, D, P, E>(
    state: &mut RetryState<'p, D, P>,
    run: &Run,
    error: E,
    on: &mut impl FnMut(&E) -> crate::Decision,
    cause: &mut impl FnMut(&E) -> Cause<E>,
    name: impl FnOnce() -> &'n str,
) -> Result<Duration, E>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
    E: fmt::Debug,
{
    let policy = state.policy();
    if run.healed(policy.heal_after, policy.heal_after_items) {
        state.restart();
    }
    state.failed(error, on, cause, name)
}

pin_project_lite::pin_project! {
    #[project = PhaseProj]
    enum Phase<Fut, St, W> {
        // The fn is to be called: at the first poll, and after each wait.
        Call,
        Connecting { #[pin] future: Fut },
        Streaming { #[pin] stream: St },
        Waiting { #[pin] wait: W },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// A retrying stream: see the [module docs](self). Made by `#[retry]` on a fn that returns
    /// `impl Stream`, [`RetryingCaller::stream`](crate::RetryingCaller::stream) and
    /// [`RetryingCaller::reconnect`](crate::RetryingCaller::reconnect).
    #[must_use = "streams do nothing unless polled"]
    pub(crate) struct RetryStream<'p, D, P, F, Fut, St, S, W, G, On, C, N>
    where
        D: PerCallDeadline,
        P: PolicySource<'p>,
    {
        state: RetryState<'p, D, P>,
        run: Run,
        connect: F,
        on: On,
        cause: C,
        name: N,
        sleeper: S,
        backoff: G,
        #[pin]
        phase: Phase<Fut, St, W>,
    }
}

impl<'p, D, P, F, Fut, St, S, W, G, On, C, N> fmt::Debug
    for RetryStream<'p, D, P, F, Fut, St, S, W, G, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryStream")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Builds a retrying stream: `connect` makes each attempt's stream (through a future, which is
/// ready at once for a plain stream); `backoff` is [`crate::sleep::backoff`], passed as a value
/// so that the stream can name the type of its waits.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one retrying stream"
)]
pub(crate) fn retry_stream<'p, D, P, F, Fut, St, S, W, G, On, C, N>(
    state: RetryState<'p, D, P>,
    connect: F,
    on: On,
    cause: C,
    name: N,
    sleeper: S,
    backoff: G,
) -> RetryStream<'p, D, P, F, Fut, St, S, W, G, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
{
    RetryStream {
        state,
        run: Run::default(),
        connect,
        on,
        cause,
        name,
        sleeper,
        backoff,
        phase: Phase::Call,
    }
}

impl<'p, 'n, D, P, F, Fut, St, T, E, S, W, G, On, C, N> Stream
    for RetryStream<'p, D, P, F, Fut, St, S, W, G, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<St, E>>,
    St: Stream<Item = Result<T, E>>,
    E: fmt::Debug,
    W: Future<Output = ()>,
    G: Fn(&S, Duration) -> W,
    On: FnMut(&E) -> crate::Decision,
    C: FnMut(&E) -> Cause<E>,
    N: FnMut() -> &'n str + 'n,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            let attempt = this.state.attempt_num();
            let error = match this.phase.as_mut().project() {
                PhaseProj::Call => {
                    // The timeout counts from the first attempt, not from when the stream was
                    // made (idempotent: later calls keep that start).
                    this.state.begin(false);
                    let future = nesting::run(attempt, &mut *this.connect);
                    this.phase.set(Phase::Connecting { future });
                    continue;
                }
                PhaseProj::Connecting { future } => {
                    match ready!(nesting::run(attempt, || future.poll(cx))) {
                        Ok(stream) => {
                            // The healthy period counts from the connection.
                            *this.run = Run::begin(this.state.policy().heal_after);
                            this.phase.set(Phase::Streaming { stream });
                            continue;
                        }
                        Err(error) => error,
                    }
                }
                PhaseProj::Streaming { stream } => {
                    match ready!(nesting::run(attempt, || stream.poll_next(cx))) {
                        Some(Ok(item)) => {
                            this.run.items = this.run.items.saturating_add(1);
                            return Poll::Ready(Some(Ok(item)));
                        }
                        Some(Err(error)) => error,
                        None => {
                            this.state.succeeded();
                            this.phase.set(Phase::Done);
                            return Poll::Ready(None);
                        }
                    }
                }
                PhaseProj::Waiting { wait } => {
                    ready!(wait.poll(cx));
                    this.state.release_guards();
                    this.phase.set(Phase::Call);
                    continue;
                }
                PhaseProj::Done => return Poll::Ready(None),
            };
            // The failed stream (or connection) is dropped before the wait.
            this.phase.set(Phase::Done);
            match failed(
                this.state,
                this.run,
                error,
                this.on,
                this.cause,
                &mut *this.name,
            ) {
                Ok(wait) => {
                    let wait = (this.backoff)(this.sleeper, wait);
                    this.phase.set(Phase::Waiting { wait });
                }
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }
}

/// A retrying iterator: see the [module docs](self). It sleeps its thread between attempts.
/// Made by `#[retry]` on a fn that returns `impl Iterator` and by
/// [`RetryingCaller::iter`](crate::RetryingCaller::iter).
#[must_use = "iterators do nothing unless iterated"]
pub(crate) struct RetryIter<'p, D, P, F, I, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
{
    state: RetryState<'p, D, P>,
    run: Run,
    make: F,
    on: On,
    cause: C,
    name: N,
    current: Option<I>,
    done: bool,
}

impl<'p, D, P, F, I, On, C, N> fmt::Debug for RetryIter<'p, D, P, F, I, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryIter")
            .field("state", &self.state)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Builds a retrying iterator: `make` makes each attempt's iterator.
pub(crate) fn retry_iter<'p, D, P, F, I, On, C, N>(
    state: RetryState<'p, D, P>,
    make: F,
    on: On,
    cause: C,
    name: N,
) -> RetryIter<'p, D, P, F, I, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
{
    RetryIter {
        state,
        run: Run::default(),
        make,
        on,
        cause,
        name,
        current: None,
        done: false,
    }
}

impl<'p, 'n, D, P, F, I, T, E, On, C, N> Iterator for RetryIter<'p, D, P, F, I, On, C, N>
where
    D: PerCallDeadline,
    P: PolicySource<'p>,
    F: FnMut() -> I,
    I: Iterator<Item = Result<T, E>>,
    E: fmt::Debug,
    On: FnMut(&E) -> crate::Decision,
    C: FnMut(&E) -> Cause<E>,
    N: FnMut() -> &'n str + 'n,
{
    type Item = Result<T, E>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let attempt = self.state.attempt_num();
            if self.current.is_none() {
                self.state.begin(false);
                let made = nesting::run(attempt, &mut self.make);
                self.run = Run::begin(self.state.policy().heal_after);
                self.current = Some(made);
            }
            let current = self.current.as_mut().expect("made above");
            let error = match nesting::run(attempt, || current.next()) {
                Some(Ok(item)) => {
                    self.run.items = self.run.items.saturating_add(1);
                    return Some(Ok(item));
                }
                Some(Err(error)) => error,
                None => {
                    self.state.succeeded();
                    self.done = true;
                    self.current = None;
                    return None;
                }
            };
            self.current = None;
            let name = &mut self.name;
            match failed(
                &mut self.state,
                &self.run,
                error,
                &mut self.on,
                &mut self.cause,
                name,
            ) {
                // No thread-long publication, as a sync fn's: between items the consumer's
                // code runs, and its retrying calls are not nested in this iterator.
                Ok(wait) => self.state.sleep(wait),
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}
