//! The run's stop flag: set by the dispatcher alone, read by the workers, which report
//! the tests they then do not run with its reason.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::report::TestStatus;

/// Whether the run has stopped scheduling, and why: shared with the workers, which
/// report the tests they then do not run with the reason.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    reason: OnceLock<String>,
}

impl Cancel {
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Stops the run; false if it was already stopped. Only the dispatcher stops it.
    pub fn set(&self, reason: String) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.flag.store(true, Ordering::Relaxed);
        first
    }

    /// Why the run stopped, if it did.
    pub fn reason(&self) -> Option<String> {
        self.reason.get().cloned()
    }

    /// The status of a test the stop left unrun.
    pub fn not_run(&self) -> TestStatus {
        TestStatus::NotRun(
            self.reason
                .get()
                .cloned()
                .unwrap_or_else(|| "the run stopped".into()),
        )
    }
}
