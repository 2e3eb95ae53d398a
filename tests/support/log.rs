//! An ordered log of what happened ([`Log`]), to check the order of attempts, hooks and drops,
//! and a guard that logs its drop ([`LogGuard`]).

use std::sync::{Arc, Mutex};

use stamina::instrumentation::{RetryDetails, RetryGuard};

use crate::{Failure, Flaky, lock};

/// An ordered, shared log of what happened, to check the order of attempts, hooks and drops.
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry.
    pub fn push(&self, entry: impl Into<String>) {
        lock(&self.0).push(entry.into());
    }

    /// The entries so far.
    #[must_use]
    pub fn entries(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Removes and returns the entries so far.
    #[must_use]
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }

    /// A guard that logs `drop {label}` when it is dropped.
    #[must_use]
    pub fn guard(&self, label: impl Into<String>) -> LogGuard {
        LogGuard {
            log: self.clone(),
            label: label.into(),
        }
    }

    /// One attempt of `flaky` that first logs `attempt N` (N its call number, from 1).
    pub fn attempt(&self, flaky: &Flaky) -> Result<u32, Failure> {
        self.push(format!("attempt {}", flaky.calls() + 1));
        flaky.attempt()
    }

    /// A hook that logs `hook N` (N the `retry_num`) and returns a guard that logs `drop N`.
    pub fn guarding_hook(
        &self,
    ) -> impl Fn(&RetryDetails<'_>) -> RetryGuard + Send + Sync + 'static + use<> {
        let log = self.clone();
        move |d| {
            log.push(format!("hook {}", d.retry_num));
            RetryGuard::new(log.guard(d.retry_num.to_string()))
        }
    }
}

/// Logs `drop {label}` into its [`Log`] when dropped.
#[derive(Debug)]
pub struct LogGuard {
    log: Log,
    label: String,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.log.push(format!("drop {}", self.label));
    }
}
