//! The events of a run: what the runner's executor hands to every reporter (progress
//! display, summary, JUnit, the run's record), in order. A run is recorded as a
//! [`RunHeader`] line followed by one JSON event per line
//! (`target/xpar/runs/<run-id>/events.jsonl`), so it can be shown and reported again
//! (`cargo xpar replay`) or read by other tools. `Duration`s are written as serde writes
//! them (`{"secs": S, "nanos": N}`); the record's version is [`RUN_LOG_FORMAT_VERSION`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BinaryId;

/// One thing that happened during a run, in the order the dispatcher saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    RunStarted {
        /// Tests that will be run (each opaque binary counts as one).
        to_run: usize,
        /// Workers that will run them.
        workers: usize,
        /// Tests the filters left out.
        filtered_out: usize,
        /// Binaries that run as one opaque test, with the reason.
        opaque: Vec<(BinaryId, String)>,
        /// The run's id (its record's, [`RunHeader::run_id`]), when it has one: with a
        /// test's id and attempt, it names a result across runs and machines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
    },
    TestStarted {
        binary_id: BinaryId,
        name: String,
        worker: usize,
    },
    /// A test is still running after a multiple of `--slow-timeout`.
    TestSlow {
        binary_id: BinaryId,
        name: String,
        worker: usize,
        elapsed: Duration,
    },
    TestFinished(TestOutcome),
    /// A test binary died before running any test: its tests all fail with
    /// [`Failure::BinaryBroken`], and this says why, once.
    BinaryBroken {
        binary_id: BinaryId,
        reason: String,
    },
    /// The run stopped because processes kept crashing (`--max-worker-restart`).
    TooManyCrashes {
        binary_id: BinaryId,
        crashes: usize,
    },
    /// A test failed and will run again (`--retries`) after `delay`.
    TestRetrying {
        outcome: TestOutcome,
        /// The attempt that failed, from 1.
        attempt: usize,
        delay: Duration,
    },
    /// Something about a test process beyond its tests' results: it held the run up
    /// or left processes behind. The tests keep their verdicts.
    ProcessNotice {
        binary_id: BinaryId,
        worker: usize,
        /// The test it concerns most likely (the last that ran in the process).
        test: Option<String>,
        notice: Notice,
    },
    /// Processes tests left running that no batch's own sweep found, ended when the
    /// run's workers were done (pid, command line).
    LeftoversEnded {
        processes: Vec<(u32, String)>,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP) arrived: no test starts any more, and the
    /// running ones are being stopped; a second one kills them at once.
    Stopping {
        signal: i32,
    },
    /// `--keep-tmp`: the run's temporary directories are kept here.
    TmpKept {
        dir: std::path::PathBuf,
    },
    RunFinished {
        wall: Duration,
        /// Why the run stopped scheduling early (fail-fast, --maxfail, a signal), if it did.
        cancelled: Option<String>,
    },
}

/// What a test process did beyond its tests' results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    /// It exited, but something it started kept its output pipe open past the leak
    /// timeout: the runner stopped waiting.
    LeakedPipe { after: Duration },
    /// It was still running this long after its last test ended, and was killed.
    SlowExit { after: Duration },
    /// Processes the tests left running (pid, command line), ended by the runner.
    Ended { processes: Vec<(u32, String)> },
}

impl Notice {
    /// One line, for the display and the reports.
    pub fn message(&self) -> String {
        match self {
            Notice::LeakedPipe { after } => format!(
                "a process it started kept its output open {:.3}s after it exited; \
                 stopped waiting",
                after.as_secs_f64()
            ),
            Notice::SlowExit { after } => format!(
                "still running {:.3}s after its last test ended (--timeout): killed",
                after.as_secs_f64()
            ),
            Notice::Ended { processes } => {
                let list: Vec<String> = processes
                    .iter()
                    .map(|(pid, cmd)| format!("{pid} `{cmd}`"))
                    .collect();
                format!(
                    "ended {} process{} its tests left running: {}",
                    processes.len(),
                    if processes.len() == 1 { "" } else { "es" },
                    list.join(", ")
                )
            }
        }
    }
}

/// The one result of one test.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestOutcome {
    pub binary_id: BinaryId,
    pub name: String,
    pub status: TestStatus,
    pub duration: Duration,
    /// The test's stdout and stderr, interleaved as written.
    pub output: String,
    /// The worker that ran it (`gw<N>`); `None` for tests that did not run.
    pub worker: Option<usize>,
    /// When it started, from the start of the run; `None` for tests that did not run.
    pub started: Option<Duration>,
    /// Earlier attempts that failed and were retried (`--retries`), oldest first.
    pub previous: Vec<TestOutcome>,
    /// Which run of the test this is: 1, or more after retries. With the run's id (from
    /// [`RunEvent::RunStarted`]) and the test's [`TestId`](crate::TestId), it names this
    /// result; under `--dist each` the worker too, as every worker runs every test.
    #[serde(default = "first_attempt")]
    pub attempt: crate::Attempt,
    /// What it used of the machine, when that was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// What a test used: CPU time (user + system) and peak resident memory. How each is
/// measured, and how exactly, depends on whether the test had a process of its own
/// (README, "CPU time and memory").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: Duration,
    /// Bytes; `None` when it could not be measured.
    pub peak_rss: Option<u64>,
}

fn first_attempt() -> crate::Attempt {
    crate::Attempt::FIRST
}

impl TestOutcome {
    /// The result of a test that no process ran (ignored, not run, lost): no time, no
    /// output, no worker, its first attempt.
    pub fn not_started(binary_id: BinaryId, name: impl Into<String>, status: TestStatus) -> Self {
        TestOutcome {
            binary_id,
            name: name.into(),
            status,
            duration: std::time::Duration::ZERO,
            output: String::new(),
            worker: None,
            started: None,
            previous: Vec::new(),
            attempt: crate::Attempt::FIRST,
            resources: None,
        }
    }

    /// Its name as it follows its binary id, a space first; nothing when it is the
    /// binary id (an opaque binary's one test, a suite).
    pub fn name_after_id(&self) -> String {
        if self.name == self.binary_id.as_str() {
            String::new()
        } else {
            format!(" {}", self.name)
        }
    }

    /// Passed after failing: flaky.
    pub fn is_flaky(&self) -> bool {
        self.status == TestStatus::Passed && !self.previous.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestStatus {
    Passed,
    Failed(Failure),
    /// `#[ignore]`d and not asked for.
    Ignored,
    /// Never started, for the reason given (the run was cancelled).
    NotRun(String),
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// libtest reported it failed: a panic, a failed assertion, an `Err` result, a
    /// `#[should_panic]` that did not panic.
    Failed,
    /// Its process died of a signal while it ran (abort, segfault).
    Signal { signal: i32, name: String },
    /// Its process exited while it ran (`std::process::exit`), with this status.
    Exited { code: i32 },
    /// It was sent to its binary but came back with no result.
    NoResult { reason: String },
    /// An opaque binary exited unsuccessfully.
    OpaqueExit { status: String },
    /// It ran past `--timeout` (or the run past `--run-timeout`) and was killed.
    TimedOut { after: Duration, run: bool },
    /// Its test binary could not start (reported once, as [`RunEvent::BinaryBroken`]).
    BinaryBroken,
    /// It was running when the run was interrupted by this signal, and was killed.
    Interrupted { signal: i32, name: String },
    /// It passed, but its process died (of this signal or exit status) during the next
    /// test, which passed when run again alone (or, `during` empty, before the next test
    /// started): most likely something this test did or left running ended the process.
    CrashedAfter { during: String, how: String },
}

impl Failure {
    /// One line, for JUnit's `message` and the summary.
    pub fn message(&self) -> String {
        match self {
            Failure::Failed => "test failed".to_owned(),
            Failure::Signal { signal, name } => {
                format!("test process killed by signal {signal} ({name}) during the test")
            }
            Failure::Exited { code } => {
                let code = crate::exit_code_text(*code);
                format!("test process exited with status {code} during the test")
            }
            Failure::NoResult { reason } => format!("no result: {reason}"),
            Failure::OpaqueExit { status } => format!("test binary failed with {status}"),
            Failure::TimedOut { after, run: false } => {
                format!("test timed out after {:.3}s", after.as_secs_f64())
            }
            Failure::BinaryBroken => "its test binary could not start".to_owned(),
            Failure::Interrupted { name, .. } => {
                format!("killed while it ran: the run was interrupted by {name}")
            }
            Failure::CrashedAfter { during, how } if during.is_empty() => format!(
                "its test process was {how} after it passed, before the next test started: \
                 most likely caused by this test"
            ),
            Failure::CrashedAfter { during, how } => format!(
                "its test process was {how} after it passed, during `{during}`, which \
                 passes alone: most likely caused by this test (a thread it left running?)"
            ),
            Failure::TimedOut { after, run: true } => format!(
                "test killed after {:.3}s: the run reached --run-timeout",
                after.as_secs_f64()
            ),
        }
    }
}

impl TestStatus {
    pub fn is_failure(&self) -> bool {
        matches!(self, TestStatus::Failed(_))
    }
}

/// `gw0`, `gw1`, ...: pytest-xdist's worker names.
pub fn worker_name(index: usize) -> String {
    format!("gw{index}")
}

/// Raised on any incompatible change of the header or the events.
pub const RUN_LOG_FORMAT_VERSION: u32 = 1;

/// The first line of a record: what the events alone do not say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunHeader {
    pub format_version: u32,
    pub run_id: String,
    /// When the run started, RFC 3339, UTC.
    pub started: String,
    /// The distribution mode (`--dist`), as the JSON report names it.
    pub dist: String,
    /// `--flaky-result fail`: a test that passed on retry fails the run.
    pub flaky_is_failure: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded line reads back, and writes again the same, with its attempt.
    #[test]
    fn a_recorded_event_reads_back() {
        let line = r#"{"event":"test-finished","binary_id":"a::t","name":"x","status":{"failed":{"signal":{"signal":6,"name":"SIGABRT"}}},"duration":{"secs":1,"nanos":5},"output":"boom\n","worker":0,"started":{"secs":0,"nanos":3},"previous":[]}"#;
        let event: RunEvent = serde_json::from_str(line).unwrap();
        let RunEvent::TestFinished(o) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(o.binary_id.as_str(), "a::t");
        assert_eq!(
            o.status,
            TestStatus::Failed(Failure::Signal {
                signal: 6,
                name: "SIGABRT".into()
            })
        );
        // A record written before results carried their attempt reads as the first.
        assert_eq!(o.attempt, crate::Attempt::FIRST);
        let written = line.replace(r#""previous":[]}"#, r#""previous":[],"attempt":1}"#);
        assert_eq!(serde_json::to_string(&event).unwrap(), written);
    }

    #[test]
    fn a_header_reads_back() {
        let h: RunHeader = serde_json::from_str(
            r#"{"format-version":1,"run-id":"r","started":"2026-11-30T18:00:00Z","dist":"load","flaky-is-failure":false}"#,
        )
        .unwrap();
        assert_eq!(h.format_version, RUN_LOG_FORMAT_VERSION);
        assert_eq!(h.run_id, "r");
    }
}
