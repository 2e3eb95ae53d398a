//! The default `tracing` hook.

use super::hook::{
    DeniedDetails, HedgeDetails, RetryDetails, RetryGuard, RetryHook, ThrottleDetails,
};
use super::redact::{self, Emitted};

/// Emits one `tracing` event per scheduled retry, as stamina's structlog and logging hooks do.
///
/// The event has target `stamina`, level `WARN`, message `stamina.retry_scheduled` and the fields
/// `callable`, `retry_num`, `caused_by`, `wait_for` and `waited_so_far` (seconds, as `f64`). The
/// function's arguments are never logged: they may hold secrets.
///
/// A [redactor](super::set_redactor) rewrites `callable` and `caused_by`, in the events and the
/// span alike.
///
/// `caused_by` is [`RetryDetails::caused_by_text`]: one line of at most
/// [`CAUSED_BY_MAX_LEN`](super::CAUSED_BY_MAX_LEN) bytes, an error's `Display` and its
/// `source()` chain (`request failed: connection refused`) where the error is a `dyn Error`,
/// else its `Debug`. (stamina logs `repr(exc)`, Python's `Debug`, whole: an `anyhow::Error`'s
/// `Debug` under `RUST_BACKTRACE=1` is a backtrace, dozens of lines per retry.) The whole error
/// is [`RetryDetails::caused_by`], for a hook of one's own.
///
/// With the `log` feature, a retry whose event no subscriber takes (no subscriber at all, or
/// one that filters `stamina` out) is logged through `log` instead: see `LogOnRetryHook`
/// (feature `log`).
///
/// A denied retry (a budget, the nesting guard, a body that cannot be sent again) is an event
/// too: message `stamina.retry_denied`, level `WARN`, fields `callable`, `retry_num`,
/// `caused_by` and `reason` (`budget`, `nested`, `throttle` or `body`). So is a hedge sent by
/// a hedged call ([`crate::hedge`]): message `stamina.hedge_scheduled`, level `INFO`, fields
/// `callable`, `hedge_num`, `attempt_num`, `after` and `delay` (seconds) and `reason` (`delay`
/// or `failure`). And a call that its throttle ([`crate::throttle`]) rejected or delayed:
/// message `stamina.call_throttled`, level `WARN` (a rejection) or `INFO` (a delay), fields
/// `callable`, `action` (`rejected` or `delayed`), `probability` and `delay` (seconds).
///
/// Beyond stamina, it opens a `stamina.backoff` span (target `stamina`, level `DEBUG`, fields
/// `callable` and `retry_num`) that lives exactly as long as the backoff sleep, as a guard: a
/// subscriber that records span timings shows how long each call spent waiting. When no subscriber
/// wants the span it costs nothing and no guard is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingOnRetryHook {
    _private: (),
}

impl TracingOnRetryHook {
    /// The hook.
    #[must_use]
    pub const fn new() -> Self {
        TracingOnRetryHook { _private: () }
    }
}

impl RetryHook for TracingOnRetryHook {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        #[cfg(feature = "log")]
        if !tracing::event_enabled!(target: "stamina", tracing::Level::WARN) {
            super::log::emit(details);
            return None;
        }
        let redactor = redact::current();
        let redactor = redactor.as_deref();
        let callable = redact::callable(redactor, details.name);
        tracing::warn!(
            target: "stamina",
            callable = &*callable,
            retry_num = details.retry_num,
            caused_by = %Emitted { cause: details.caused_by_text, redactor },
            wait_for = details.wait_for.as_secs_f64(),
            waited_so_far = details.waited_so_far.as_secs_f64(),
            "stamina.retry_scheduled",
        );
        let span = tracing::debug_span!(
            target: "stamina",
            "stamina.backoff",
            callable = &*callable,
            retry_num = details.retry_num,
        );
        if span.is_disabled() {
            None
        } else {
            Some(RetryGuard::from(span))
        }
    }

    fn on_denied(&self, details: &DeniedDetails<'_>) {
        #[cfg(feature = "log")]
        if !tracing::event_enabled!(target: "stamina", tracing::Level::WARN) {
            super::log::emit_denied(details);
            return;
        }
        let redactor = redact::current();
        let redactor = redactor.as_deref();
        tracing::warn!(
            target: "stamina",
            callable = &*redact::callable(redactor, details.name),
            retry_num = details.retry_num,
            caused_by = %Emitted { cause: details.caused_by_text, redactor },
            reason = details.reason.as_str(),
            "stamina.retry_denied",
        );
    }

    fn on_hedge(&self, details: &HedgeDetails<'_>) {
        let redactor = redact::current();
        tracing::info!(
            target: "stamina",
            callable = &*redact::callable(redactor.as_deref(), details.name),
            hedge_num = details.hedge_num,
            attempt_num = details.attempt_num,
            after = details.after.as_secs_f64(),
            delay = details.delay.map(|d| d.as_secs_f64()),
            reason = details.reason.as_str(),
            "stamina.hedge_scheduled",
        );
    }

    fn on_throttled(&self, details: &ThrottleDetails<'_>) {
        #[cfg(feature = "log")]
        if !tracing::event_enabled!(target: "stamina", tracing::Level::WARN) {
            super::log::emit_throttled(details);
            return;
        }
        let redactor = redact::current();
        let callable = redact::callable(redactor.as_deref(), details.name);
        if details.action == super::ThrottleAction::Rejected {
            tracing::warn!(
                target: "stamina",
                callable = &*callable,
                action = details.action.as_str(),
                probability = details.probability,
                delay = details.delay.as_secs_f64(),
                "stamina.call_throttled",
            );
        } else {
            tracing::info!(
                target: "stamina",
                callable = &*callable,
                action = details.action.as_str(),
                probability = details.probability,
                delay = details.delay.as_secs_f64(),
                "stamina.call_throttled",
            );
        }
    }
}
