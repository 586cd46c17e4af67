//! Why a run stops before its end, and how the tests still running then end.

use std::fmt;
use std::time::Duration;

use super::watchdog::{self, KillReason};
use crate::discover::BinaryId;

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
    /// A caller of [`CancelHandle::cancel`] stopped the run, saying why.
    Requested(String),
    /// The run stopped on another machine sharing its queue (or the queue was lost).
    Elsewhere(String),
}

impl CancelReason {
    /// How the tests still running end: by what kill, with which signal first (SIGKILL
    /// follows the others after the grace period). `None`: they run to their end.
    pub(super) fn kill(&self) -> Option<(KillReason, i32)> {
        match self {
            CancelReason::MaxFail {
                immediate: true, ..
            } => Some((KillReason::MaxFail, watchdog::SIGKILL)),
            CancelReason::MaxFail { .. } | CancelReason::TooManyCrashes { .. } => None,
            CancelReason::Signal(sig) => Some((KillReason::Signal(*sig), *sig)),
            CancelReason::RunTimeout(_) => Some((KillReason::RunTimeout, watchdog::SIGTERM)),
            CancelReason::Requested(_) => Some((KillReason::Cancelled, watchdog::SIGTERM)),
            CancelReason::Elsewhere(_) => None,
        }
    }
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
            CancelReason::Requested(why) => write!(f, "the run was cancelled ({why})"),
            CancelReason::Elsewhere(why) => write!(f, "the run stopped: {why}"),
        }
    }
}
