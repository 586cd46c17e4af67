//! The run's stop flag: set by the dispatcher alone, read by the workers, which report
//! the tests they then do not run with its reason; and the reasons a run stops.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::discover::BinaryId;
use crate::report::TestStatus;

/// Why a run stopped scheduling before its end. Its text is what the run's end
/// ([`RunEvent::RunFinished`]) and the tests it left unrun ([`TestStatus::NotRun`]) say.
///
/// [`RunEvent::RunFinished`]: crate::report::RunEvent::RunFinished
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// `--maxfail N[:immediate]` (`--fail-fast` is 1) was reached.
    MaxFail { count: usize, immediate: bool },
    /// `--max-worker-restart`: test processes crashed more often than `max`, the last
    /// one a process of `last`.
    TooManyCrashes {
        crashes: usize,
        last: BinaryId,
        max: usize,
    },
    /// The runner received this signal (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
    /// `--run-timeout` was reached.
    RunTimeout(Duration),
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::MaxFail {
                count: 1,
                immediate: false,
            } => f.write_str("the run stopped after a failure (--no-fail-fast runs everything)"),
            CancelReason::MaxFail { count, .. } => {
                write!(f, "the run stopped after {count} failures (--maxfail)")
            }
            CancelReason::TooManyCrashes { crashes, last, max } => write!(
                f,
                "test processes crashed {crashes} times, the last of {last} \
                 (--max-worker-restart {max})"
            ),
            CancelReason::Signal(sig) => write!(
                f,
                "the run was interrupted by {}",
                crate::process::os::signal_name(*sig)
            ),
            CancelReason::RunTimeout(limit) => write!(
                f,
                "the run reached --run-timeout ({:.3}s)",
                limit.as_secs_f64()
            ),
        }
    }
}

/// Whether the run has stopped scheduling, and why: shared with the workers, which
/// report the tests they then do not run with the reason.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    reason: OnceLock<CancelReason>,
}

impl Cancel {
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Stops the run; false if it was already stopped. Only the dispatcher stops it.
    pub fn set(&self, reason: CancelReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.flag.store(true, Ordering::Relaxed);
        first
    }

    /// Why the run stopped, if it did.
    pub fn reason(&self) -> Option<&CancelReason> {
        self.reason.get()
    }

    /// The status of a test the stop left unrun.
    pub fn not_run(&self) -> TestStatus {
        TestStatus::NotRun(match self.reason.get() {
            Some(reason) => reason.to_string(),
            None => "the run stopped".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;

    /// The texts reach the output and the reports: they stay as they were.
    #[test]
    fn reasons_read_as_before() {
        let table = [
            (
                CancelReason::MaxFail {
                    count: 1,
                    immediate: false,
                },
                "the run stopped after a failure (--no-fail-fast runs everything)",
            ),
            (
                CancelReason::MaxFail {
                    count: 1,
                    immediate: true,
                },
                "the run stopped after 1 failures (--maxfail)",
            ),
            (
                CancelReason::MaxFail {
                    count: 3,
                    immediate: false,
                },
                "the run stopped after 3 failures (--maxfail)",
            ),
            (
                CancelReason::TooManyCrashes {
                    crashes: 5,
                    last: BinaryId::new("a", BinaryKind::Test, "t"),
                    max: 4,
                },
                "test processes crashed 5 times, the last of a::t (--max-worker-restart 4)",
            ),
            (
                CancelReason::RunTimeout(Duration::from_millis(1500)),
                "the run reached --run-timeout (1.500s)",
            ),
        ];
        for (reason, text) in table {
            assert_eq!(reason.to_string(), text);
        }
        #[cfg(unix)]
        assert_eq!(
            CancelReason::Signal(2).to_string(),
            "the run was interrupted by SIGINT"
        );
    }
}
