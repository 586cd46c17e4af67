//! What a worker needs to run tests of one binary, and how it starts their processes and
//! words their outcomes: shared by the batch runner (`batch`) and the runs without a
//! result log (`alone`).

use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::filters::prefix_filters;
use super::inbox::Inbox;
use super::libtest_log::{Decided, Verdict};
use super::messages::WorkerMsg;
use super::run_env::RunEnv;
use super::test_process::{self, run_token, LogVia, TestProcess};
use crate::discover::{BinaryKind, TestBinary};
use crate::doctest::select::{self, Invocation};
use crate::ids::TestId;
use crate::process::{os, ProcessBuilder};
use crate::report::{Failure, Notice, TestOutcome, TestStatus};

/// Everything a worker needs to run chunks of one binary.
pub struct BatchContext<'a> {
    pub binary_index: usize,
    pub binary: &'a TestBinary,
    pub worker: usize,
    pub workers: usize,
    pub include_ignored: bool,
    /// libtest captures the tests' output itself: nobody will read a passing test's
    /// output, and a pipe costs a test that prints a lot several times its run time.
    pub capture: bool,
    /// `--timeout`: the most a process may go on after its last test ended.
    pub exit_timeout: Option<Duration>,
    pub test_args: &'a [String],
    /// Every test name of the binary, sorted: what a filter may select besides a batch.
    pub all_names: &'a [&'a str],
    /// The dispatcher's messages: whether the run stopped.
    pub inbox: &'a Inbox,
    /// When the run started: test start times are reported from it.
    pub run_start: Instant,
    pub run_env: &'a RunEnv,
    /// Told the id of every test process (and process group) the worker starts.
    pub on_spawn: &'a (dyn Fn(u32) + Sync),
    /// Asked before the rest of a batch goes to a fresh process after a test killed
    /// its process: the dispatcher may have stopped the run meanwhile (`--maxfail`,
    /// `--max-worker-restart`), and only it knows.
    pub may_go_on: &'a dyn Fn() -> bool,
    /// Asked when a process died under a test: did the dispatcher end it?
    pub was_killed: &'a dyn Fn() -> bool,
}

/// How a test process runs its tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The whole binary, as one test.
    Opaque,
    /// One test, with stable arguments only (harnesses that take one filter).
    Alone,
    /// Named tests with libtest's result log; `capture`: libtest's own output capture.
    Batch { capture: bool },
}

/// Tells test processes apart in `XPAR_PROCESS_TOKEN`, which what they start inherits.
static PROCESS_SEQ: AtomicU64 = AtomicU64::new(0);

impl BatchContext<'_> {
    pub fn process(&self, names: &[String], mode: Mode) -> ProcessBuilder {
        let mut p = self.binary.process();
        p.cwd(&self.binary.cwd);
        p.args(&self.binary.args);
        for (k, v) in &self.binary.env {
            p.env(k, v);
        }
        self.run_env.apply(&mut p, self.worker, self.workers);
        let log = test_process::LOG_ARG.to_owned();
        let mut libtest: Vec<String> = Vec::new();
        match mode {
            Mode::Opaque => {}
            Mode::Alone => libtest.extend(["--test-threads=1".into(), "--nocapture".into()]),
            Mode::Batch { capture } => {
                libtest.extend(["--test-threads=1".into(), "--logfile".into(), log]);
                if !capture {
                    libtest.push("--nocapture".into());
                }
            }
        }
        if mode != Mode::Opaque {
            if self.include_ignored {
                libtest.push("--include-ignored".into());
            }
            libtest.extend(self.selection(names, mode));
        }
        // What follows `--` is for libtest; a suite's command line is its own.
        if self.binary.kind != BinaryKind::Suite {
            libtest.extend(self.test_args.iter().cloned());
        }
        if self.binary.kind == BinaryKind::Doctest {
            // rustdoc hands each `--test-args` value on to libtest (split on whitespace).
            for a in libtest {
                p.arg("--test-args").arg(a);
            }
        } else {
            p.args(libtest);
        }
        p
    }

    /// The libtest arguments that select `names`: for a doctest binary the pieces of its
    /// first step (see [`Self::doctest_step`]), else prefixes or `--exact` names.
    fn selection(&self, names: &[String], mode: Mode) -> Vec<String> {
        if self.binary.kind == BinaryKind::Doctest {
            return self.doctest_step(names).0.test_args();
        }
        let prefixes = match mode {
            Mode::Batch { .. } => prefix_filters(self.all_names, names),
            _ => None,
        };
        match prefixes {
            Some(prefixes) => prefixes,
            None => std::iter::once("--exact".to_owned())
                .chain(names.iter().cloned())
                .collect(),
        }
    }

    /// The first invocation that runs some of `names` of a doctest binary, and which of
    /// them it runs (doctest names cannot be given whole: see `doctest::select`).
    pub fn doctest_step(&self, names: &[String]) -> (Invocation, Vec<String>) {
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let first = select::plan(self.all_names, &wanted)
            .into_iter()
            .next()
            .unwrap_or_default();
        let runs = select::selected(self.all_names, &first.filters, &first.skips);
        let covered = (names.iter())
            .filter(|n| runs.contains(n.as_str()))
            .cloned()
            .collect();
        (first, covered)
    }

    /// Starts `p`, with libtest's result log if `log`.
    pub fn spawn(&self, p: &ProcessBuilder, log: bool) -> std::io::Result<TestProcess> {
        let seq = PROCESS_SEQ.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}.{}", run_token(), seq);
        let log = match (log, cfg!(unix) && self.binary.runner.is_empty()) {
            (false, _) => LogVia::None,
            (true, true) => LogVia::Pipe,
            // Windows cannot pass a pipe as a path, and under a runner (wine, an
            // emulator) the program may not see ours: a file it can.
            (true, false) => LogVia::File(self.run_env.log_dir()),
        };
        let process = test_process::spawn(p, log, token)?;
        (self.on_spawn)(process.pid);
        Ok(process)
    }

    /// The message that `name` started.
    pub fn started(&self, name: String) -> WorkerMsg {
        WorkerMsg::Started {
            worker: self.worker,
            test: TestId::new(self.binary.id.clone(), name),
        }
    }

    pub fn outcome(
        &self,
        name: String,
        status: TestStatus,
        (started, duration): (Option<Instant>, Duration),
        output: &[u8],
    ) -> TestOutcome {
        TestOutcome {
            binary_id: self.binary.id.clone(),
            name,
            status,
            duration,
            output: String::from_utf8_lossy(output).into_owned(),
            worker: Some(self.worker),
            started: started.map(|s| s.saturating_duration_since(self.run_start)),
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        }
    }

    pub fn decided(&self, d: Decided) -> TestOutcome {
        let status = match d.verdict {
            Verdict::Ok => TestStatus::Passed,
            Verdict::Failed(_) => TestStatus::Failed(Failure::Failed),
            Verdict::Ignored(_) => TestStatus::Ignored,
        };
        self.outcome(d.name, status, (d.started, d.duration), &d.output)
    }

    pub fn notice(&self, test: Option<String>, notice: Notice, emit: &mut dyn FnMut(WorkerMsg)) {
        emit(WorkerMsg::Notice {
            worker: self.worker,
            binary_id: self.binary.id.clone(),
            test,
            notice,
        });
    }

    /// Ends what the process with `token` left running, and says so.
    pub fn end_leftovers(
        &self,
        token: &str,
        test: Option<String>,
        emit: &mut dyn FnMut(WorkerMsg),
    ) {
        let processes = os::end_leftovers(&|t| t == token);
        if !processes.is_empty() {
            self.notice(test, Notice::Ended { processes }, emit);
        }
    }
}

/// The status of a test that has no result.
pub fn no_result(reason: String) -> TestStatus {
    TestStatus::Failed(Failure::NoResult { reason })
}

/// How a test's process ended under it, as its failure.
pub fn crash_failure(status: ExitStatus) -> Failure {
    match (status.code(), os::signal(status)) {
        (Some(code), _) => Failure::Exited { code },
        (None, Some(signal)) => Failure::Signal {
            signal,
            name: os::signal_name(signal).to_owned(),
        },
        (None, None) => Failure::NoResult {
            reason: "its process ended with an unknown status".into(),
        },
    }
}

/// Reports `names` not run: the run stopped before them.
pub fn not_run(ctx: &BatchContext<'_>, names: Vec<String>, emit: &mut dyn FnMut(WorkerMsg)) {
    for name in names {
        let mut outcome = ctx.outcome(name, ctx.inbox.not_run(), (None, Duration::ZERO), b"");
        outcome.worker = None;
        emit(WorkerMsg::Finished { outcome });
    }
}
