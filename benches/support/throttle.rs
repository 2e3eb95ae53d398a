//! Throttles: what asking one and telling it a reply cost, on threads sharing it, beside a
//! model of google-cloud-gax's throttler (the SRE formula's two counters behind a mutex).

use std::hint::black_box;
use std::sync::Mutex;
use std::time::Instant;

use stamina::Throttle;
use stamina::throttle::Reply;

/// What a thread does `n` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleOp {
    /// stamina's adaptive throttle: the check before an attempt (nothing rejected).
    AdaptiveCheck,
    /// stamina's adaptive throttle: a reply counted (a success).
    AdaptiveRecord,
    /// stamina's adaptive throttle: both, as a call makes them.
    AdaptiveCall,
    /// stamina's rate limiter before any throttling reply: the check and a success.
    RateLimiterOff,
    /// google-cloud-gax's form: the check and the reply, on two counters behind a mutex.
    GaxMutex,
}

/// The SRE formula on counters behind a mutex, as google-cloud-gax keeps them.
struct Gax(Mutex<(f64, f64)>);

impl Gax {
    fn check(&self, draw: f64) -> bool {
        let (requests, accepts) = *self.0.lock().expect("not poisoned");
        draw >= ((requests - 2.0 * accepts) / (requests + 1.0)).max(0.0)
    }

    fn record(&self, accepted: bool) {
        let mut counts = self.0.lock().expect("not poisoned");
        counts.0 += 1.0;
        counts.1 += f64::from(u8::from(accepted));
    }
}

/// ns of CPU per operation, `threads` threads sharing one throttle, `n` operations each: the
/// wall time on the cores the threads had, over every operation (8 threads on 2 cores take
/// turns; the contention between cores is what remains).
///
/// # Panics
///
/// If a thread panics.
#[must_use]
pub fn throttle_ns(op: ThrottleOp, threads: usize, n: u64) -> f64 {
    let throttle: &'static Throttle = Box::leak(Box::new(match op {
        ThrottleOp::RateLimiterOff => Throttle::rate_limiter(),
        _ => Throttle::adaptive(),
    }));
    let gax: &'static Gax = Box::leak(Box::new(Gax(Mutex::new((0.0, 0.0)))));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                for i in 0..n {
                    match op {
                        ThrottleOp::AdaptiveCheck => {
                            black_box(throttle.check(1, None)).ok();
                        }
                        ThrottleOp::AdaptiveRecord => throttle.record(Reply::Accepted),
                        ThrottleOp::AdaptiveCall | ThrottleOp::RateLimiterOff => {
                            if black_box(throttle.check(1, None)).is_ok() {
                                throttle.record(Reply::Accepted);
                            }
                        }
                        ThrottleOp::GaxMutex => {
                            #[allow(clippy::cast_precision_loss, reason = "a draw")]
                            let draw = (i % 1024) as f64 / 1024.0;
                            if black_box(gax.check(draw)) {
                                gax.record(true);
                            }
                        }
                    }
                }
            });
        }
    });
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let busy = threads.min(cores) as f64;
    start.elapsed().as_secs_f64() * 1e9 * busy / (threads as f64 * n as f64)
}
