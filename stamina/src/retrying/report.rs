//! What a retrying call reports of a failure: to the hooks, for a scheduled retry or a denied
//! one, and to a test clock, which records the wait instead of the driver sleeping it.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use super::{RetryState, Stop};
use crate::clock::PerCallDeadline;
use crate::decision::Decision;
use crate::instrumentation::{CausedBy, DeniedDetails, RetryDetails, run_denied, run_hooks};
use crate::policy::PolicySource;
use crate::scope::switches::Switches;

/// What hooks see of one failure.
#[derive(Clone, Copy)]
pub(super) struct Seen<'a> {
    pub(super) caused_by: &'a dyn fmt::Debug,
    pub(super) error: Option<&'a (dyn Error + 'static)>,
    pub(super) shown: Option<&'a dyn Error>,
    pub(super) error_type: &'static str,
    pub(super) decision: Decision,
    pub(super) is_value: bool,
}

impl<'a> Seen<'a> {
    /// The one line of text the default hooks log.
    fn text(&self) -> CausedBy<'a> {
        CausedBy {
            debug: self.caused_by,
            error: self.shown,
        }
    }
}

impl<'p, D: PerCallDeadline, P: PolicySource<'p>> RetryState<'p, D, P> {
    /// Reports a retry that everything else allowed and that was denied.
    #[cold]
    pub(super) fn stopped<'a, 'n>(
        &self,
        stop: Stop,
        seen: impl FnOnce() -> Seen<'a>,
        name: impl FnOnce() -> &'n str,
    ) {
        let Stop::Denied(reason) = stop else { return };
        run_denied(|| {
            let seen = seen();
            DeniedDetails {
                name: name(),
                retry_num: self.attempt,
                caused_by: seen.caused_by,
                caused_by_text: seen.text(),
                error: seen.error,
                dyn_error: seen.shown,
                error_type: seen.error_type,
                is_value: seen.is_value,
                decision: seen.decision,
                reason,
            }
        });
    }

    /// Schedules the retry: runs the hooks (building what they see only if there is one), then
    /// counts the wait and the attempt. The wait for the driver to sleep: `wait`, or zero in a
    /// test clock's scope, which records the wait and moves its virtual time past it instead.
    #[inline]
    pub(super) fn schedule<'a, 'n>(
        &mut self,
        switches: Switches,
        wait: Duration,
        seen: impl FnOnce() -> Seen<'a>,
        name: impl FnOnce() -> &'n str,
    ) -> Duration {
        // Guards of an earlier retry are gone by now unless the driver skipped `sleep`.
        self.release_guards();
        let n = self.attempt;
        let clock = crate::scope::clock();
        if clock.is_some() || crate::instrumentation::any_hooks() {
            let seen = seen();
            let name = name();
            if let Some(clock) = &clock {
                clock.record(n, wait, name, seen.error_type);
            }
            let waited_so_far = self.waited();
            let attempt = self.attempt_in(switches);
            run_hooks(
                || RetryDetails {
                    name,
                    retry_num: n,
                    wait_for: wait,
                    waited_so_far,
                    caused_by: seen.caused_by,
                    caused_by_text: seen.text(),
                    error: seen.error,
                    dyn_error: seen.shown,
                    error_type: seen.error_type,
                    decision: seen.decision,
                    is_value: seen.is_value,
                    attempt,
                },
                &mut self.guards,
            );
        }
        if !wait.is_zero() {
            // In `u64` arithmetic: a `Duration`'s `u128` nanoseconds cost a retry ten
            // instructions more.
            let nanos = wait
                .as_secs()
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(wait.subsec_nanos()));
            self.waited_ns = self.waited_ns.saturating_add(nanos);
        }
        self.attempt = n.saturating_add(1);
        if clock.is_some() {
            Duration::ZERO
        } else {
            wait
        }
    }
}
