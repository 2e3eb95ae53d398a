//! [`TestClock`]: virtual time, and a record of every wait that would have been slept.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::{ScopeGuard, Scoped, Setting};

/// A clock for tests: in its scope (a thread, with [`set_for_thread`](Self::set_for_thread), or a
/// task, with [`scope`](Self::scope)), every retrying call sleeps no time at all, records each
/// wait it schedules instead, and reads virtual time, which each recorded wait advances.
///
/// So a test asserts the exact backoff of a real configuration, testing mode off, in
/// microseconds: sync fns, `async fn`s on any runtime, the callers and the explicit loop alike.
/// The timeout, the deadline mode and the [`Attempt`](crate::Attempt)'s elapsed and remaining
/// time read the virtual clock, and [`advance`](Self::advance) stands for an attempt that took
/// time. Hooks still run, and see the wait as planned; the explicit loop's
/// [`decide`](crate::RetryContext::decide) returns zero for the loop to sleep. A zero wait still
/// yields once in `async` code, as outside a test clock.
///
/// Operations and hedges can take virtual time too: [`sleep`](Self::sleep) is a future that
/// completes when virtual time reaches it, a hedged call's hedge timers are such sleeps, and
/// [`block_on`](Self::block_on) runs a future in the clock's scope, jumping virtual time to the
/// next due sleep whenever nothing else can run: a test asserts when each hedge was sent, to the
/// nanosecond (retry waits are still recorded and skipped, as above).
///
/// With [`seeded`](Self::seeded), the jitter of the calls in its scope comes from a generator
/// seeded with the given seed: reproducible, run after run. Outside a seeded scope, jitter is
/// seeded from the OS, never from a constant.
///
/// ```
/// use std::{io, time::Duration};
/// use stamina::testing::TestClock;
///
/// // A production configuration: waits from 100 ms doubling, no jitter, 1 s in all.
/// #[stamina::retry(on = io::Error, timeout = 1s, wait_initial = 100ms, wait_jitter = 0)]
/// fn fetch() -> io::Result<()> {
///     Err(io::ErrorKind::TimedOut.into())
/// }
///
/// let clock = TestClock::new();
/// clock.run(|| assert!(fetch().is_err()));
/// let waits: Vec<Duration> = clock.waits().iter().map(|w| w.wait).collect();
/// // Failures at 0, 100, 300 and 700 ms are retried; the one at 1.5 s is past the timeout.
/// assert_eq!(waits, [100, 200, 400, 800].map(Duration::from_millis));
/// assert_eq!(clock.elapsed(), Duration::from_millis(1500));
/// ```
#[derive(Clone, Debug)]
pub struct TestClock(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The real instant that virtual time zero stands for.
    origin: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    elapsed: Duration,
    waits: Vec<RecordedWait>,
    /// The jitter generator's state, if seeded.
    rng: Option<u64>,
    /// The virtual timers not yet due: when, their number, and who to wake.
    timers: Vec<(Duration, u64, Waker)>,
    /// The number of the next virtual timer.
    next_timer: u64,
}

impl State {
    /// The wakers of the timers now due, taken out.
    fn take_due(&mut self) -> Vec<Waker> {
        let now = self.elapsed;
        let mut due = Vec::new();
        self.timers.retain(|t| {
            if t.0 <= now {
                due.push(t.2.clone());
                false
            } else {
                true
            }
        });
        due
    }
}

/// A wait on a [`TestClock`]'s virtual time: see [`TestClock::sleep`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct VirtualSleep {
    clock: TestClock,
    due: Duration,
    id: Option<u64>,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.clock.poll_timer(this.due, &mut this.id, cx.waker())
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.clock.cancel_timer(id);
        }
    }
}

/// One wait that a [`TestClock`] recorded instead of sleeping it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedWait {
    /// The number of the retry, from 1, as hooks see it.
    pub retry_num: u32,
    /// The wait.
    pub wait: Duration,
    /// The `callable` label of the call.
    pub name: String,
    /// The type of the error that caused the retry.
    pub error_type: &'static str,
    /// The virtual time at which the retry was scheduled.
    pub at: Duration,
}

impl Default for TestClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClock {
    /// A clock at virtual time zero, with no wait recorded and jitter from the OS.
    #[must_use]
    pub fn new() -> Self {
        TestClock(Arc::new(Inner {
            origin: Instant::now(),
            state: Mutex::new(State::default()),
        }))
    }

    /// The same clock, with the jitter of the calls in its scope drawn from a generator seeded
    /// with `seed`: the same waits on every run.
    #[must_use]
    pub fn seeded(self, seed: u64) -> Self {
        self.lock().rng = Some(seed);
        self
    }

    /// Puts the clock in force on the current thread until the guard is dropped. A thread
    /// guard does not follow an `async` task to another worker thread: for a task, use
    /// [`scope`](Self::scope).
    pub fn set_for_thread(&self) -> ScopeGuard {
        ScopeGuard::set(Setting::Clock(self.clone()))
    }

    /// Wraps a future so that the clock is in force whenever it runs, on whatever thread
    /// polls it.
    pub fn scope<F: std::future::Future>(&self, future: F) -> Scoped<F> {
        Scoped::new(Setting::Clock(self.clone()), future)
    }

    /// Runs `f` with the clock in force on the current thread.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.set_for_thread();
        f()
    }

    /// Moves virtual time forward, as an attempt that takes `time` would, and wakes the
    /// [`sleep`](Self::sleep)s and hedge timers that are then due.
    pub fn advance(&self, time: Duration) {
        let mut state = self.lock();
        state.elapsed = state.elapsed.saturating_add(time);
        let due = state.take_due();
        drop(state);
        due.into_iter().for_each(Waker::wake);
    }

    /// A future that completes once virtual time has moved `time` on: an operation's latency
    /// on the virtual clock, moved on by [`advance`](Self::advance), by the retries' recorded
    /// waits, or by [`block_on`](Self::block_on) when nothing else can run. Hedged calls time
    /// their hedges with it in the clock's scope.
    pub fn sleep(&self, time: Duration) -> VirtualSleep {
        VirtualSleep {
            clock: self.clone(),
            due: self.elapsed().saturating_add(time),
            id: None,
        }
    }

    /// Runs `future` to completion on the current thread, in the clock's scope, on virtual
    /// time: whenever it can make no progress, virtual time jumps to the next due
    /// [`sleep`](Self::sleep) or hedge timer. A simulation of 50,000 calls with latencies on the
    /// virtual clock takes milliseconds, and is exact to the nanosecond. A future that waits for
    /// something else (a real timer, a socket) is waited for, the thread parked until it wakes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::TestClock;
    ///
    /// let clock = TestClock::new();
    /// let slow = clock.sleep(Duration::from_secs(3600));
    /// clock.block_on(slow);
    /// assert_eq!(clock.elapsed(), Duration::from_secs(3600));
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        struct Flag {
            woken: std::sync::atomic::AtomicBool,
            thread: std::thread::Thread,
        }
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.wake_by_ref();
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.woken.store(true, std::sync::atomic::Ordering::Release);
                self.thread.unpark();
            }
        }
        let flag = Arc::new(Flag {
            woken: std::sync::atomic::AtomicBool::new(true),
            thread: std::thread::current(),
        });
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(self.scope(future));
        loop {
            if flag.woken.swap(false, std::sync::atomic::Ordering::Acquire) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
                continue;
            }
            // Nothing woke: the next virtual timer, if any, else a real wake-up.
            let next = self.lock().timers.iter().map(|t| t.0).min();
            match next {
                Some(due) => {
                    let now = self.elapsed();
                    self.advance(due.saturating_sub(now));
                }
                None => std::thread::park(),
            }
        }
    }

    /// The virtual time since the clock was made.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    /// The waits recorded so far, in order.
    #[must_use]
    pub fn waits(&self) -> Vec<RecordedWait> {
        self.lock().waits.clone()
    }

    /// Forgets the waits recorded so far; virtual time stays where it is.
    pub fn clear(&self) {
        self.lock().waits.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The virtual now, as an instant of the real clock.
    pub(crate) fn now(&self) -> Instant {
        self.0.origin + self.elapsed()
    }

    /// Records a scheduled wait and moves virtual time past it.
    pub(crate) fn record(
        &self,
        retry_num: u32,
        wait: Duration,
        name: &str,
        error_type: &'static str,
    ) {
        let mut state = self.lock();
        let at = state.elapsed;
        state.waits.push(RecordedWait {
            retry_num,
            wait,
            name: name.to_owned(),
            error_type,
            at,
        });
        state.elapsed = at.saturating_add(wait);
        let due = state.take_due();
        drop(state);
        due.into_iter().for_each(Waker::wake);
    }

    /// Registers the virtual timer `id` (a new one if `None`) due at `due`, or says it is due.
    fn poll_timer(&self, due: Duration, id: &mut Option<u64>, waker: &Waker) -> Poll<()> {
        let mut state = self.lock();
        if state.elapsed >= due {
            if let Some(id) = id.take() {
                state.timers.retain(|t| t.1 != id);
            }
            return Poll::Ready(());
        }
        if let Some(id) = *id {
            if let Some(timer) = state.timers.iter_mut().find(|t| t.1 == id) {
                timer.2.clone_from(waker);
            } else {
                state.timers.push((due, id, waker.clone()));
            }
        } else {
            let n = state.next_timer;
            state.next_timer += 1;
            state.timers.push((due, n, waker.clone()));
            *id = Some(n);
        }
        Poll::Pending
    }

    fn cancel_timer(&self, id: u64) {
        self.lock().timers.retain(|t| t.1 != id);
    }

    /// The next draw of the seeded generator, if the clock is seeded.
    pub(crate) fn next_u64(&self) -> Option<u64> {
        let mut state = self.lock();
        state.rng.as_mut().map(crate::rng::wyrand)
    }
}
