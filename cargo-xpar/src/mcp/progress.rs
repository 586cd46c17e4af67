//! The runner's events as MCP progress: a [`Reporter`] on the run's (blocking) thread
//! that turns what happens into numbered progress messages on a channel, which the tool
//! call's async side sends as `notifications/progress`. It also keeps what the tool's
//! result needs beyond the record: the run's id and the runner's warnings.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use xpar_runner::report::{RunEvent, TestStatus};
use xpar_runner::session::Reporter;

/// One progress notification: `progress` increases with every one, as MCP requires.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: String,
}

/// What a step that finishes no test adds to the progress, so that it still increases
/// while staying below the next finished test's whole number.
const STEP: f64 = 0.001;

pub struct ProgressReporter {
    tx: Option<UnboundedSender<Progress>>,
    last: f64,
    total: Option<f64>,
    finished: usize,
    pub run_id: Option<String>,
    pub warnings: Vec<String>,
}

impl ProgressReporter {
    /// `tx`: where progress goes; `None` when the client asked for none.
    pub fn new(tx: Option<UnboundedSender<Progress>>) -> Self {
        ProgressReporter {
            tx,
            last: 0.0,
            total: None,
            finished: 0,
            run_id: None,
            warnings: Vec::new(),
        }
    }

    /// Says `message`; `finished` a test, when it moves the count.
    pub fn say(&mut self, message: String, finished: bool) {
        if finished {
            self.finished += 1;
        }
        let whole = self.finished as f64;
        let next = if whole > self.last {
            whole
        } else {
            // Rounded, so that the client reads 3.003 rather than 3.0029999999999997.
            ((self.last + STEP) * 1000.0).round() / 1000.0
        };
        self.last = next;
        if let Some(tx) = &self.tx {
            // The call may be over (cancelled): nobody listens, and that is fine.
            let _ = tx.send(Progress {
                progress: next,
                total: self.total,
                message,
            });
        }
    }
}

impl Reporter for ProgressReporter {
    fn planned(&mut self, _show: bool, _expected: Option<Duration>) {}

    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                to_run,
                workers,
                run_id,
                ..
            } => {
                self.run_id.clone_from(run_id);
                self.total = Some(*to_run as f64);
                self.say(
                    format!("running {to_run} tests on {workers} workers"),
                    false,
                );
            }
            RunEvent::TestStarted {
                binary_id, name, ..
            } => {
                self.say(format!("started {binary_id} {name}"), false);
            }
            RunEvent::TestSlow {
                binary_id,
                name,
                elapsed,
                ..
            } => self.say(
                format!(
                    "slow: {binary_id} {name} has run {:.1}s",
                    elapsed.as_secs_f64()
                ),
                false,
            ),
            RunEvent::TestFinished(o) => {
                let status = match &o.status {
                    TestStatus::Passed if o.is_flaky() => "flaky",
                    TestStatus::Passed => "passed",
                    TestStatus::Failed(_) => "failed",
                    TestStatus::Ignored => "ignored",
                    TestStatus::NotRun(_) => "not run",
                };
                let name = o.name_after_id();
                // Ignored tests are reported, but are not among those to run (the total).
                let counts = !matches!(o.status, TestStatus::Ignored);
                self.say(format!("{status}: {}{name}", o.binary_id), counts);
            }
            RunEvent::TestRetrying {
                outcome, attempt, ..
            } => self.say(
                format!(
                    "retrying {}{} after attempt {attempt} failed",
                    outcome.binary_id,
                    outcome.name_after_id()
                ),
                false,
            ),
            _ => {}
        }
    }

    fn warning(&mut self, message: &str) {
        self.warnings.push(message.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MCP: "the progress value MUST increase with each notification".
    #[test]
    fn progress_increases_with_every_message() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut r = ProgressReporter::new(Some(tx));
        r.say("building".into(), false);
        r.say("started a".into(), false);
        r.say("started b".into(), false);
        r.say("passed a".into(), true);
        r.say("started c".into(), false);
        r.say("passed b".into(), true);
        r.say("passed c".into(), true);
        let mut got = Vec::new();
        while let Ok(p) = rx.try_recv() {
            got.push(p.progress);
        }
        assert_eq!(got.len(), 7);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        assert_eq!(got[3], 1.0);
        assert_eq!(got[6], 3.0);
    }
}
