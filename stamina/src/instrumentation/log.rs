//! The `log` hook, and the fallback of the `tracing` hook when no subscriber takes its event.

use super::hook::{
    DeniedDetails, RetryDetails, RetryGuard, RetryHook, ThrottleAction, ThrottleDetails,
};
use super::redact::{self, Emitted};

/// Logs one `WARN` record per scheduled retry through the `log` crate, as stamina's standard
/// library logging hook does (stamina falls back to it when structlog is missing).
///
/// The record has target `stamina`; its message reads
/// `stamina.retry_scheduled callable=my_crate::fetch retry_num=1 wait_for=0.1 waited_so_far=0
/// caused_by=connection refused`, for loggers that print messages only, and it carries the same
/// fields as key-values (`callable`, `retry_num`, `caused_by`, `wait_for`, `waited_so_far`, in
/// seconds) for structured ones. `caused_by` is
/// [`RetryDetails::caused_by_text`]: one line, bounded. The fn's arguments are never logged.
/// A denied retry is a `stamina.retry_denied` record (with `reason`), and a call that its
/// throttle rejected or delayed a `stamina.call_throttled` one (`WARN` or `INFO`, with `action`,
/// `probability` and `delay`).
///
/// With the `log` feature, the [`TracingOnRetryHook`](super::TracingOnRetryHook) writes this
/// record when no `tracing` subscriber takes its event, so that a program that logs through
/// `log` alone sees its retries without turning on `tracing`'s own `log` feature (which would
/// change every crate's events). Without the `tracing` feature, this is the default hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOnRetryHook {
    _private: (),
}

impl LogOnRetryHook {
    /// The hook.
    #[must_use]
    pub const fn new() -> Self {
        LogOnRetryHook { _private: () }
    }
}

impl RetryHook for LogOnRetryHook {
    fn on_retry(&self, details: &RetryDetails<'_>) -> Option<RetryGuard> {
        emit(details);
        None
    }

    fn on_denied(&self, details: &DeniedDetails<'_>) {
        emit_denied(details);
    }

    fn on_throttled(&self, details: &ThrottleDetails<'_>) {
        emit_throttled(details);
    }
}

/// The record, if a logger wants it.
pub(crate) fn emit(details: &RetryDetails<'_>) {
    if !log::log_enabled!(target: "stamina", log::Level::Warn) {
        return;
    }
    let redactor = redact::current();
    let redactor = redactor.as_deref();
    let caused_by = Emitted {
        cause: details.caused_by_text,
        redactor,
    };
    let callable = redact::callable(redactor, details.name);
    let callable = &*callable;
    let wait_for = details.wait_for.as_secs_f64();
    let waited_so_far = details.waited_so_far.as_secs_f64();
    log::warn!(
        target: "stamina",
        callable = callable,
        retry_num = details.retry_num,
        caused_by:% = caused_by,
        wait_for = wait_for,
        waited_so_far = waited_so_far;
        "stamina.retry_scheduled callable={callable} retry_num={} wait_for={wait_for} waited_so_far={waited_so_far} caused_by={caused_by}",
        details.retry_num,
    );
}

/// The record of a denied retry, if a logger wants it.
pub(crate) fn emit_denied(details: &DeniedDetails<'_>) {
    if !log::log_enabled!(target: "stamina", log::Level::Warn) {
        return;
    }
    let redactor = redact::current();
    let redactor = redactor.as_deref();
    let caused_by = Emitted {
        cause: details.caused_by_text,
        redactor,
    };
    let callable = redact::callable(redactor, details.name);
    let callable = &*callable;
    let reason = details.reason.as_str();
    log::warn!(
        target: "stamina",
        callable = callable,
        retry_num = details.retry_num,
        caused_by:% = caused_by,
        reason = reason;
        "stamina.retry_denied callable={callable} retry_num={} reason={reason} caused_by={caused_by}",
        details.retry_num,
    );
}

/// The record of a call that its throttle rejected (`WARN`) or delayed (`INFO`), if a logger
/// wants it.
pub(crate) fn emit_throttled(details: &ThrottleDetails<'_>) {
    let level = match details.action {
        ThrottleAction::Rejected => log::Level::Warn,
        ThrottleAction::Delayed => log::Level::Info,
    };
    if !log::log_enabled!(target: "stamina", level) {
        return;
    }
    let redactor = redact::current();
    let callable = redact::callable(redactor.as_deref(), details.name);
    let callable = &*callable;
    let action = details.action.as_str();
    let probability = details.probability;
    let delay = details.delay.as_secs_f64();
    log::log!(
        target: "stamina",
        level,
        callable = callable,
        action = action,
        probability = probability,
        delay = delay;
        "stamina.call_throttled callable={callable} action={action} probability={probability} delay={delay}",
    );
}
