//! The AWS SDKs' adaptive client rate limiter: a token bucket whose fill rate follows CUBIC
//! (TCP's congestion control) once a throttling error is seen. The arithmetic is smithy-rs's
//! (`aws-smithy-runtime`'s `client_rate_limiter.rs`), step for step, so that it reproduces that
//! crate's published test vectors to the bit.
//!
//! Its state (ten numbers that each reply updates together) is behind a mutex, as in smithy-rs;
//! unlike smithy-rs, the check before an attempt takes no lock until the first throttling
//! error has turned the bucket on (one relaxed load), and until then a success never waits for
//! the lock (see [`RateLimiter::update`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

/// The least fill rate, tokens per second.
const MIN_FILL_RATE: f64 = 0.5;
/// The least capacity of the bucket.
const MIN_CAPACITY: f64 = 1.0;
/// The weight of the newest rate measurement.
const SMOOTH: f64 = 0.8;
/// How far a throttle scales the rate down.
const BETA: f64 = 0.7;
/// How fast the rate grows back after a throttle.
const SCALE_CONSTANT: f64 = 0.4;

/// What sending an attempt costs the bucket: a first attempt 1, a retry 5.
pub(super) const FIRST_COST: f64 = 1.0;
pub(super) const RETRY_COST: f64 = 5.0;

pub(super) struct RateLimiter {
    /// On from the first throttling error: until then the check reads only this.
    enabled: AtomicBool,
    /// Successes counted while the bucket is off without the state, which another reply held:
    /// folded into the measured rate at the next reply that takes it.
    unlocked: AtomicU64,
    state: Mutex<State>,
}

/// smithy-rs's `Inner`, field for field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct State {
    pub(super) fill_rate: f64,
    pub(super) max_capacity: f64,
    pub(super) current_capacity: f64,
    pub(super) last_timestamp: Option<f64>,
    pub(super) enabled: bool,
    pub(super) measured_tx_rate: f64,
    pub(super) last_tx_rate_bucket: f64,
    pub(super) request_count: u64,
    pub(super) last_max_rate: f64,
    pub(super) time_of_last_throttle: f64,
    /// Whether the state has seen its first reply (smithy-rs starts its clocks at creation; a
    /// `static` is created at compile time, so here they start at the first reply).
    pub(super) started: bool,
}

impl State {
    /// smithy-rs's `ClientRateLimiter::new(now)`, made at `now` when `started`.
    pub(super) const INITIAL: State = State {
        fill_rate: 0.0,
        max_capacity: f64::MAX,
        current_capacity: 0.0,
        last_timestamp: None,
        enabled: false,
        measured_tx_rate: MIN_FILL_RATE,
        last_tx_rate_bucket: 0.0,
        request_count: 0,
        last_max_rate: 0.0,
        time_of_last_throttle: 0.0,
        started: false,
    };

    /// A state as smithy-rs's tests build one: everything zero but what they set.
    #[cfg(test)]
    pub(super) const ZERO: State = State {
        fill_rate: 0.0,
        max_capacity: f64::MAX,
        current_capacity: 0.0,
        last_timestamp: None,
        enabled: false,
        measured_tx_rate: 0.0,
        last_tx_rate_bucket: 0.0,
        request_count: 0,
        last_max_rate: 0.0,
        time_of_last_throttle: 0.0,
        started: true,
    };

    /// Asks to send an attempt of `cost` at `now` (seconds): `Ok(())` at once, or the time to
    /// wait first. A wait longer than `limit` is `Err(None)`, and takes nothing from the bucket.
    pub(super) fn acquire(
        &mut self,
        now: f64,
        cost: f64,
        limit: Option<Duration>,
    ) -> Result<(), Option<Duration>> {
        if !self.enabled {
            return Ok(());
        }
        self.refill(now);
        let mut result = Ok(());
        if cost > self.current_capacity {
            let wait = (cost - self.current_capacity) / self.fill_rate;
            let wait = Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX);
            if limit.is_some_and(|limit| wait >= limit) {
                return Err(None);
            }
            result = Err(Some(wait));
        }
        self.current_capacity -= cost;
        result
    }

    /// A reply at `now` (seconds), a throttling error or not.
    pub(super) fn update(&mut self, now: f64, throttled: bool) {
        if !self.started {
            self.started = true;
            self.time_of_last_throttle = now;
            self.last_tx_rate_bucket = now.floor();
        }
        self.update_measured_rate(now);
        let calculated = if throttled {
            let rate = if self.enabled {
                self.measured_tx_rate.min(self.fill_rate)
            } else {
                self.measured_tx_rate
            };
            self.last_max_rate = rate;
            self.time_of_last_throttle = now;
            self.enabled = true;
            cubic_throttle(rate)
        } else {
            self.cubic_success(now)
        };
        let new_rate = calculated.min(2.0 * self.measured_tx_rate);
        self.update_fill_rate(now, new_rate);
    }

    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_timestamp {
            let fill = (now - last) * self.fill_rate;
            self.current_capacity = self.max_capacity.min(self.current_capacity + fill);
        }
        self.last_timestamp = Some(now);
    }

    fn update_fill_rate(&mut self, now: f64, new_rate: f64) {
        self.refill(now);
        self.fill_rate = new_rate.max(MIN_FILL_RATE);
        self.max_capacity = new_rate.max(MIN_CAPACITY);
        self.current_capacity = self.current_capacity.min(self.max_capacity);
    }

    fn update_measured_rate(&mut self, now: f64) {
        let bucket = (now * 2.0).floor() / 2.0;
        self.request_count += 1;
        if bucket > self.last_tx_rate_bucket {
            #[allow(clippy::cast_precision_loss, reason = "a count of one half-second")]
            let rate = self.request_count as f64 / (bucket - self.last_tx_rate_bucket);
            self.measured_tx_rate = rate * SMOOTH + self.measured_tx_rate * (1.0 - SMOOTH);
            self.request_count = 0;
            self.last_tx_rate_bucket = bucket;
        }
    }

    /// CUBIC's `K`: the time the rate takes to grow back to where it was throttled.
    pub(super) fn time_window(&self) -> f64 {
        ((self.last_max_rate * (1.0 - BETA)) / SCALE_CONSTANT).powf(1.0 / 3.0)
    }

    /// The rate CUBIC allows at `now` after its last throttle.
    pub(super) fn cubic_success(&self, now: f64) -> f64 {
        let dt = now - self.time_of_last_throttle - self.time_window();
        SCALE_CONSTANT * dt.powi(3) + self.last_max_rate
    }
}

/// The rate after a throttle at `rate`.
pub(super) fn cubic_throttle(rate: f64) -> f64 {
    rate * BETA
}

impl RateLimiter {
    pub(super) const fn new() -> Self {
        RateLimiter {
            enabled: AtomicBool::new(false),
            unlocked: AtomicU64::new(0),
            state: Mutex::new(State::INITIAL),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the bucket is on: from the first throttling reply.
    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// See [`State::acquire`]: no lock while the bucket is off.
    #[inline]
    pub(super) fn acquire(
        &self,
        now: impl FnOnce() -> f64,
        cost: f64,
        limit: Option<Duration>,
    ) -> Result<(), Option<Duration>> {
        if !self.is_on() {
            return Ok(());
        }
        self.lock().acquire(now(), cost, limit)
    }

    /// See [`State::update`]. While the bucket is off, a success that finds the state held by
    /// another reply does not wait for it: it is counted for the measured rate, which is all
    /// that the first throttling error reads of it, and the next reply folds it in (alone, the
    /// replies update the state one by one, as smithy-rs's do).
    pub(super) fn update(&self, now: f64, throttled: bool) {
        let mut state = if throttled || self.enabled.load(Ordering::Relaxed) {
            self.lock()
        } else {
            match self.state.try_lock() {
                Ok(state) => state,
                Err(TryLockError::Poisoned(state)) => state.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    self.unlocked.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        };
        if self.unlocked.load(Ordering::Relaxed) != 0 {
            state.request_count += self.unlocked.swap(0, Ordering::Relaxed);
        }
        state.update(now, throttled);
        if state.enabled {
            self.enabled.store(true, Ordering::Relaxed);
        }
    }

    /// The fill rate in tokens (first attempts) per second, once the bucket is on.
    pub(super) fn rate(&self) -> Option<f64> {
        let state = self.lock();
        state.enabled.then_some(state.fill_rate)
    }
}
