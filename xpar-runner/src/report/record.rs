//! The record of a run: every outcome, and the counts and exit code derived from them.

use std::time::Duration;

use super::events::{Notice, RunEvent, TestOutcome, TestStatus};
use crate::discover::BinaryId;
use crate::exit_codes;

#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// Every result, in the order it arrived.
    pub outcomes: Vec<TestOutcome>,
    pub workers: usize,
    pub to_run: usize,
    pub filtered_out: usize,
    pub opaque: Vec<(BinaryId, String)>,
    pub wall: Duration,
    /// Why the run stopped scheduling early, if it did.
    pub cancelled: Option<String>,
    /// `--flaky-result fail`: a test that passed only on a retry fails the run.
    pub flaky_is_failure: bool,
    /// Binaries that could not start, and why.
    pub broken: Vec<(BinaryId, String)>,
    /// What test processes did beyond their tests' results (leaks, slow exits).
    pub notices: Vec<RecordedNotice>,
}

/// A [`Notice`] with where it came from; `binary_id` is `None` for the processes
/// ended when the run was over.
#[derive(Clone, Debug)]
pub struct RecordedNotice {
    pub binary_id: Option<BinaryId>,
    pub worker: Option<usize>,
    pub test: Option<String>,
    pub notice: Notice,
}

impl RunRecord {
    pub fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                to_run,
                workers,
                filtered_out,
                opaque,
                ..
            } => {
                self.to_run = *to_run;
                self.workers = *workers;
                self.filtered_out = *filtered_out;
                self.opaque = opaque.clone();
            }
            RunEvent::TestStarted { .. }
            | RunEvent::Stopping { .. }
            | RunEvent::TmpKept { .. }
            | RunEvent::TestSlow { .. }
            | RunEvent::TestRetrying { .. }
            | RunEvent::TooManyCrashes { .. } => {}
            RunEvent::BinaryBroken { binary_id, reason } => {
                self.broken.push((binary_id.clone(), reason.clone()));
            }
            RunEvent::TestFinished(outcome) => self.outcomes.push(outcome.clone()),
            RunEvent::ProcessNotice {
                binary_id,
                worker,
                test,
                notice,
            } => self.notices.push(RecordedNotice {
                binary_id: Some(binary_id.clone()),
                worker: Some(*worker),
                test: test.clone(),
                notice: notice.clone(),
            }),
            RunEvent::LeftoversEnded { processes } => self.notices.push(RecordedNotice {
                binary_id: None,
                worker: None,
                test: None,
                notice: Notice::Ended {
                    processes: processes.clone(),
                },
            }),
            RunEvent::RunFinished { wall, cancelled } => {
                self.wall = *wall;
                self.cancelled.clone_from(cancelled);
            }
        }
    }

    fn count(&self, pred: impl Fn(&TestStatus) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(&o.status)).count()
    }

    /// How many processes tests left running were ended.
    pub fn processes_ended(&self) -> usize {
        self.notices
            .iter()
            .map(|n| match &n.notice {
                Notice::Ended { processes } => processes.len(),
                _ => 0,
            })
            .sum()
    }

    pub fn passed(&self) -> usize {
        self.count(|s| *s == TestStatus::Passed)
    }

    /// Tests that passed on a retry after failing (counted among the passed).
    pub fn flaky(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_flaky()).count()
    }

    pub fn failed(&self) -> usize {
        self.count(TestStatus::is_failure)
    }

    pub fn ignored(&self) -> usize {
        self.count(|s| *s == TestStatus::Ignored)
    }

    pub fn not_run(&self) -> usize {
        self.count(|s| matches!(s, TestStatus::NotRun(_)))
    }

    /// Tests that ran to a verdict.
    pub fn ran(&self) -> usize {
        self.passed() + self.failed()
    }

    /// The time all tests took, added up: what one worker would have needed.
    pub fn test_time_sum(&self) -> Duration {
        self.outcomes.iter().map(|o| o.duration).sum()
    }

    /// How much parallelism gave: the sum of test times over the wall time.
    pub fn speedup(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.test_time_sum().as_secs_f64() / wall
        } else {
            0.0
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &TestOutcome> {
        self.outcomes.iter().filter(|o| o.status.is_failure())
    }

    pub fn exit_code(&self) -> i32 {
        // Tests left unrun (`--run-timeout`, say) make a run that did not pass.
        if self.failed() > 0 || (self.flaky_is_failure && self.flaky() > 0) || self.not_run() > 0 {
            exit_codes::TEST_RUN_FAILED
        } else if self.to_run == 0 {
            exit_codes::NO_TESTS_RUN
        } else {
            exit_codes::OK
        }
    }
}
