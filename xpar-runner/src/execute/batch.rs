//! Runs one chunk on one worker: a process of the test binary with
//! `--exact NAME1 NAME2 ... --test-threads=1 --logfile /dev/fd/3`, re-spawned for the
//! tests after one that killed it, until every test sent has exactly one result. Verdicts
//! come from libtest's result log, which no test output can forge (see `libtest_log`).
//! A test whose process dies under it is run again alone before it is blamed: one that
//! passes alone is not failed for another test's crash; the crash is reported against
//! the test that ran just before it in that process.

use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::cancel::Cancel;
use super::filters::prefix_filters;
use super::libtest_log::{BatchParser, Decided, Verdict};
use super::messages::WorkerMsg;
use super::run_env::RunEnv;
use super::test_process::{self, run_token, Input, TestProcess, LEAK_TIMEOUT, LOG_FD};
use crate::discover::TestBinary;
use crate::plan::BatchCost;
use crate::process::{describe_status, os, ProcessBuilder};
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
    pub cancel: &'a Cancel,
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
enum Mode {
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
    fn process(&self, names: &[String], mode: Mode) -> ProcessBuilder {
        let mut p = ProcessBuilder::new(&self.binary.path);
        p.cwd(&self.binary.cwd);
        for (k, v) in &self.binary.env {
            p.env(k, v);
        }
        self.run_env.apply(&mut p, self.worker, self.workers);
        match mode {
            Mode::Opaque => {}
            Mode::Alone => {
                p.args(["--test-threads=1", "--nocapture"]);
            }
            Mode::Batch { capture } => {
                p.args([
                    "--test-threads=1",
                    "--logfile",
                    &format!("/dev/fd/{LOG_FD}"),
                ]);
                if !capture {
                    p.arg("--nocapture");
                }
            }
        }
        if mode != Mode::Opaque {
            if self.include_ignored {
                p.arg("--include-ignored");
            }
            let prefixes = match mode {
                Mode::Batch { .. } => prefix_filters(self.all_names, names),
                _ => None,
            };
            match prefixes {
                Some(prefixes) => p.args(prefixes),
                None => p.arg("--exact").args(names),
            };
        }
        p.args(self.test_args);
        p
    }

    fn spawn(&self, p: &ProcessBuilder, log: bool) -> std::io::Result<TestProcess> {
        let seq = PROCESS_SEQ.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}.{}", run_token(), seq);
        let process = test_process::spawn(p, log, token)?;
        (self.on_spawn)(process.pid);
        Ok(process)
    }

    fn outcome(
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
        }
    }

    fn decided(&self, d: Decided) -> TestOutcome {
        let status = match d.verdict {
            Verdict::Ok => TestStatus::Passed,
            Verdict::Failed(_) => TestStatus::Failed(Failure::Failed),
            Verdict::Ignored(_) => TestStatus::Ignored,
        };
        self.outcome(d.name, status, (d.started, d.duration), &d.output)
    }

    fn notice(&self, test: Option<String>, notice: Notice, emit: &mut dyn FnMut(WorkerMsg)) {
        emit(WorkerMsg::Notice {
            worker: self.worker,
            binary_id: self.binary.id.clone(),
            test,
            notice,
        });
    }

    /// Ends what the process with `token` left running, and says so.
    fn end_leftovers(&self, token: &str, test: Option<String>, emit: &mut dyn FnMut(WorkerMsg)) {
        let processes = os::end_leftovers(&|t| t == token);
        if !processes.is_empty() {
            self.notice(test, Notice::Ended { processes }, emit);
        }
    }
}

/// Reads a process without a result log to its end: its exit status and its output.
/// A stream held open by something it left running is given up after the leak timeout.
fn run_to_end(
    ctx: &BatchContext<'_>,
    p: &ProcessBuilder,
    emit: &mut dyn FnMut(WorkerMsg),
) -> (Result<ExitStatus, String>, Vec<u8>) {
    let process = match ctx.spawn(p, false) {
        Ok(process) => process,
        Err(e) => return (Err(format!("{p} could not be started: {e}")), Vec::new()),
    };
    let mut output = Vec::new();
    let mut status: Option<(std::io::Result<ExitStatus>, Instant)> = None;
    let mut stream_open = true;
    while stream_open || status.is_none() {
        let input = match &status {
            Some((_, at)) => {
                let wait = (*at + LEAK_TIMEOUT).saturating_duration_since(Instant::now());
                match process.inputs.recv_timeout(wait) {
                    Ok((input, _)) => input,
                    Err(RecvTimeoutError::Timeout) => {
                        let after = at.elapsed();
                        ctx.notice(None, Notice::LeakedPipe { after }, emit);
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match process.inputs.recv() {
                Ok((input, _)) => input,
                Err(_) => break,
            },
        };
        match input {
            Input::Stream(b) => output.extend_from_slice(&b),
            Input::StreamEnd => stream_open = false,
            Input::Exited(s) => status = Some((s, Instant::now())),
            Input::Log(_) | Input::LogEnd => {}
        }
    }
    ctx.end_leftovers(&process.token, None, emit);
    let status = match status {
        Some((s, _)) => s.map_err(|e| format!("waiting for {p} failed: {e}")),
        None => Err(format!("lost track of {p}")),
    };
    (status, output)
}

/// Runs an opaque binary as one test: its verdict is its exit status.
pub fn run_opaque(ctx: &BatchContext<'_>, emit: &mut dyn FnMut(WorkerMsg)) {
    let name = ctx.binary.id.to_string();
    emit(WorkerMsg::Started {
        worker: ctx.worker,
        binary_id: ctx.binary.id.clone(),
        name: name.clone(),
    });
    let start = Instant::now();
    let (status, output) = run_to_end(ctx, &ctx.process(&[], Mode::Opaque), emit);
    let status = match status {
        Ok(s) if s.success() => TestStatus::Passed,
        Ok(s) => TestStatus::Failed(Failure::OpaqueExit {
            status: describe_status(s),
        }),
        Err(reason) => no_result(reason),
    };
    let outcome = ctx.outcome(name, status, (Some(start), start.elapsed()), &output);
    emit(WorkerMsg::Finished { outcome });
}

/// Runs each of `tests` of a binary whose harness has no JSON events (libtest-mimic, an
/// old libtest) in a process of its own, `BIN --exact NAME --test-threads=1`, with
/// nothing unstable: such a harness takes one filter only. The verdict comes from the
/// summary line both print (`test result: ok. 1 passed; 0 failed; 0 ignored; ...`)
/// together with the exit status, so a name the harness did not run is no result.
pub fn run_alone(ctx: &BatchContext<'_>, tests: Vec<String>, emit: &mut dyn FnMut(WorkerMsg)) {
    let mut tests = tests.into_iter();
    while let Some(name) = tests.next() {
        if ctx.cancel.is_set() {
            not_run(ctx, std::iter::once(name).chain(tests).collect(), emit);
            return;
        }
        emit(WorkerMsg::Started {
            worker: ctx.worker,
            binary_id: ctx.binary.id.clone(),
            name: name.clone(),
        });
        let p = ctx.process(std::slice::from_ref(&name), Mode::Alone);
        let start = Instant::now();
        let (status, output) = run_to_end(ctx, &p, emit);
        let status = match status {
            Ok(s) => stable_verdict(s, &String::from_utf8_lossy(&output)),
            Err(reason) => no_result(reason),
        };
        let outcome = ctx.outcome(name, status, (Some(start), start.elapsed()), &output);
        emit(WorkerMsg::Finished { outcome });
    }
}

/// The result of one test run alone, from the last `test result:` line of its process's
/// output and how the process ended. A summary that the exit status contradicts was
/// printed by the test itself, which then ended its process.
fn stable_verdict(status: ExitStatus, output: &str) -> TestStatus {
    let counts = output
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("test result: "))
        .map(|summary| {
            let count = |word: &str| -> usize {
                summary
                    .split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(word)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            (count(" passed"), count(" failed"), count(" ignored"))
        });
    match counts {
        Some((_, failed, _)) if failed > 0 && status.code() == Some(101) => {
            TestStatus::Failed(Failure::Failed)
        }
        Some((1, 0, 0)) if status.success() => TestStatus::Passed,
        Some((0, 0, 1)) if status.success() => TestStatus::Ignored,
        Some((0, 0, 0)) if status.success() => no_result(
            "the test binary finished without running it (no test of that exact name)".into(),
        ),
        _ => TestStatus::Failed(crash_failure(status)),
    }
}

fn no_result(reason: String) -> TestStatus {
    TestStatus::Failed(Failure::NoResult { reason })
}

/// Decided outcomes of one process not yet handed on: the last is kept back until the
/// next is decided or the process ends well, so that a crash in the next test can still
/// be pinned on it.
#[derive(Default)]
struct Held(Option<TestOutcome>);

impl Held {
    fn push(&mut self, o: TestOutcome, emit: &mut dyn FnMut(WorkerMsg)) {
        if let Some(outcome) = self.0.replace(o) {
            emit(WorkerMsg::Finished { outcome });
        }
    }

    fn flush(&mut self, emit: &mut dyn FnMut(WorkerMsg)) {
        if let Some(outcome) = self.0.take() {
            emit(WorkerMsg::Finished { outcome });
        }
    }

    fn last_name(&self) -> Option<String> {
        self.0.as_ref().map(|o| o.name.clone())
    }
}

/// How one process of a batch ended.
struct ProcessEnd {
    status: std::io::Result<ExitStatus>,
    killed_by_cancel: bool,
    cost: Option<BatchCost>,
}

/// Runs `tests` of one binary until each has a result; returns the cost of each process.
pub fn run_named(
    ctx: &BatchContext<'_>,
    tests: Vec<String>,
    emit: &mut dyn FnMut(WorkerMsg),
) -> Vec<BatchCost> {
    let mut costs = Vec::new();
    let mut pending: Vec<String> = tests;
    let mut respawn = false;
    while !pending.is_empty() {
        if ctx.cancel.is_set() || (respawn && !(ctx.may_go_on)()) {
            not_run(ctx, pending, emit);
            break;
        }
        respawn = true;
        let mut parser = BatchParser::new(&pending, ctx.capture);
        let p = ctx.process(
            &pending,
            Mode::Batch {
                capture: ctx.capture,
            },
        );
        let process = match ctx.spawn(&p, true) {
            Ok(x) => x,
            Err(e) => {
                let reason = format!("{p} could not be started: {e}");
                fail_all(ctx, pending, &reason, b"", emit);
                break;
            }
        };
        let mut held = Held::default();
        let end = read_process(ctx, &process, &mut parser, &mut held, emit);
        costs.extend(end.cost);
        ctx.end_leftovers(&process.token, None, emit);
        // Failed tests whose captured output never came (the process died first).
        for d in parser.take_rest_decided() {
            hand_on(ctx, d, &mut held, emit);
        }
        if end.killed_by_cancel {
            held.flush(emit);
            let mut rest: Vec<String> =
                parser.take_in_progress().map(|t| t.0).into_iter().collect();
            rest.extend(parser.unfinished());
            not_run(ctx, rest, emit);
            break;
        }
        if let Some((name, started, output)) = parser.take_in_progress() {
            pending = parser.unfinished();
            let crash = Crash {
                name,
                started,
                output,
                status: end.status,
            };
            crashed(ctx, crash, held, emit);
            continue;
        }
        let unfinished = parser.unfinished();
        let abnormal = end.status.as_ref().map_or(true, |s| !s.success());
        if !unfinished.is_empty() && parser.started_any() && !parser.suite_finished() && abnormal {
            // The process died between tests: the test that ran last most likely did it
            // (closed its stdout, left a destructor that aborts), unless it was killed.
            if let Some(last) = held.0.as_mut() {
                let killed = ctx.cancel.is_set() || (ctx.was_killed)();
                if !killed && last.status == TestStatus::Passed {
                    let how = match &end.status {
                        Ok(s) => how_it_ended(&crash_failure(*s)),
                        Err(_) => "ended".to_owned(),
                    };
                    last.status = TestStatus::Failed(Failure::CrashedAfter {
                        during: String::new(),
                        how,
                    });
                }
            }
        }
        held.flush(emit);
        if unfinished.is_empty() {
            break;
        }
        let status_text = match &end.status {
            Ok(s) => describe_status(*s),
            Err(e) => format!("an unknown status ({e})"),
        };
        let outside = parser.take_outside_output();
        if parser.suite_finished() {
            // libtest finished normally without running these: they do not exist in it.
            let reason = "the test binary finished without running it (no test of that exact name)";
            fail_all(ctx, unfinished, reason, &outside, emit);
            break;
        }
        if ctx.cancel.is_set() {
            // Killed because the run is stopping (a signal, --run-timeout, --maxfail
            // N:immediate), before or between its tests: the rest are not run.
            not_run(ctx, unfinished, emit);
            break;
        }
        if !parser.started_any() {
            // Died before running anything (a missing shared library, say): running it
            // again would only die again. Said once for the binary, not once per test.
            let reason = format!("{p} ended with {status_text} before running any test");
            emit(WorkerMsg::BinaryBroken {
                binary: ctx.binary_index,
                reason: format!("{reason}\n{}", String::from_utf8_lossy(&outside).trim_end()),
            });
            for name in unfinished {
                let outcome = ctx.outcome(
                    name,
                    TestStatus::Failed(Failure::BinaryBroken),
                    (None, Duration::ZERO),
                    b"",
                );
                emit(WorkerMsg::Finished { outcome });
            }
            break;
        }
        // Died between tests (in a destructor, say): the rest go to a fresh process.
        pending = unfinished;
    }
    costs
}

/// Reads one batch process to its end, handing on what is decided as it is decided
/// (but the last, see [`Held`]). A process that exited but whose pipes something it
/// started keeps open is given up after the leak timeout; one still running
/// `--timeout` after its last test ended is killed.
fn read_process(
    ctx: &BatchContext<'_>,
    process: &TestProcess,
    parser: &mut BatchParser,
    held: &mut Held,
    emit: &mut dyn FnMut(WorkerMsg),
) -> ProcessEnd {
    let spawned = Instant::now();
    let mut status: Option<(std::io::Result<ExitStatus>, Instant)> = None;
    let (mut stream_open, mut log_open) = (true, true);
    let mut all_in: Option<Instant> = None;
    let mut exit_killed = false;
    let mut killed_by_cancel = false;
    let (mut first_test, mut test_sum, mut count) = (None, 0.0, 0usize);
    while status.is_none() || stream_open || log_open {
        let deadline = match (&status, all_in, ctx.exit_timeout) {
            (Some((_, exited)), _, _) => Some(*exited + LEAK_TIMEOUT),
            (None, Some(at), Some(limit)) if !exit_killed => Some(at + limit),
            _ => None,
        };
        let received = match deadline {
            Some(d) => process
                .inputs
                .recv_timeout(d.saturating_duration_since(Instant::now())),
            None => process
                .inputs
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        let (input, at) = match received {
            Ok(x) => x,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if let Some((_, exited)) = &status {
                    let after = exited.elapsed();
                    ctx.notice(None, Notice::LeakedPipe { after }, emit);
                    break;
                }
                os::kill_group(process.pid, os::SIGKILL);
                exit_killed = true;
                let after = all_in.map_or(Duration::ZERO, |at| at.elapsed());
                ctx.notice(held.last_name(), Notice::SlowExit { after }, emit);
                continue;
            }
        };
        let mut round: Vec<WorkerMsg> = Vec::new();
        let mut emit_round = |m: WorkerMsg| round.push(m);
        match input {
            Input::Stream(bytes) => {
                // Only the last test that started may still run: the others started and
                // ended within this read, and their results say all there is.
                if let Some(name) = parser.feed_stream(&bytes, at).pop() {
                    emit_round(WorkerMsg::Started {
                        worker: ctx.worker,
                        binary_id: ctx.binary.id.clone(),
                        name,
                    });
                }
            }
            Input::Log(bytes) => {
                parser.feed_log(&bytes, at);
                if all_in.is_none() && parser.all_verdicts() {
                    all_in = Some(at);
                }
            }
            Input::StreamEnd => {
                stream_open = false;
                parser.end_stream(at);
            }
            Input::LogEnd => log_open = false,
            Input::Exited(s) => status = Some((s, at)),
        }
        let decided = parser.take_decided();
        let any = !decided.is_empty();
        for d in decided {
            let secs = d.duration.as_secs_f64();
            first_test.get_or_insert(secs);
            test_sum += secs;
            count += 1;
            hand_on(ctx, d, held, &mut emit_round);
        }
        match round.len() {
            0 => {}
            1 => round.into_iter().for_each(&mut *emit),
            _ => emit(WorkerMsg::Many(round)),
        }
        if any && ctx.cancel.is_set() && status.is_none() && !killed_by_cancel {
            // The run is stopping: the test libtest may have started meanwhile is not run.
            os::kill_group(process.pid, os::SIGKILL);
            killed_by_cancel = true;
        }
    }
    if stream_open {
        parser.end_stream(Instant::now());
    }
    for d in parser.take_decided() {
        hand_on(ctx, d, held, emit);
    }
    let status = match status {
        Some((s, _)) => s,
        None => Err(std::io::Error::other("the process was lost")),
    };
    let cost = first_test.map(|first| BatchCost {
        binary: ctx.binary_index,
        tests: count,
        wall: spawned.elapsed().as_secs_f64(),
        first_test: first,
        test_sum,
    });
    ProcessEnd {
        status,
        killed_by_cancel,
        cost,
    }
}

/// A test whose process died under it.
struct Crash {
    name: String,
    started: Option<Instant>,
    output: Vec<u8>,
    status: std::io::Result<ExitStatus>,
}

/// Decides who is to blame for a process that died under `crash.name`: unless the
/// dispatcher ended it, the test runs again alone. Failing or dying alone, it is its own
/// verdict. Passing alone, it passed, and the crash is reported against the test that
/// ran just before it in that process, whose leftover (a thread, say) most likely did
/// it; with none before it, the crash stays its own, with a note.
fn crashed(ctx: &BatchContext<'_>, crash: Crash, mut held: Held, emit: &mut dyn FnMut(WorkerMsg)) {
    let failure = match &crash.status {
        Ok(s) => crash_failure(*s),
        Err(e) => Failure::NoResult {
            reason: format!("its process ended with an unknown status ({e})"),
        },
    };
    let how = how_it_ended(&failure);
    let ran = crash.started.map_or(Duration::ZERO, |s| s.elapsed());
    let mut in_batch = ctx.outcome(
        crash.name.clone(),
        TestStatus::Failed(failure),
        (crash.started, ran),
        &crash.output,
    );
    if ctx.cancel.is_set() || (ctx.was_killed)() {
        held.flush(emit);
        emit(WorkerMsg::Finished { outcome: in_batch });
        return;
    }
    let Some(mut alone) = run_alone_to_confirm(ctx, &crash.name, emit) else {
        held.flush(emit);
        emit(WorkerMsg::Finished { outcome: in_batch });
        return;
    };
    if alone.status != TestStatus::Passed {
        held.flush(emit);
        alone.output.push_str(&format!(
            "\n[cargo-xpar: run again alone after its batch process was {how} during it]\n"
        ));
        emit(WorkerMsg::Finished { outcome: alone });
        return;
    }
    match held.0.take() {
        Some(mut suspect) => {
            if suspect.status == TestStatus::Passed {
                suspect.status = TestStatus::Failed(Failure::CrashedAfter {
                    during: crash.name.clone(),
                    how,
                });
            } else {
                suspect.output.push_str(&format!(
                    "\n[cargo-xpar: its process was then {how} during `{}`, which passes \
                     alone]\n",
                    crash.name
                ));
            }
            emit(WorkerMsg::Finished { outcome: suspect });
            emit(WorkerMsg::Finished { outcome: alone });
        }
        None => {
            in_batch.output.push_str(&format!(
                "\n[cargo-xpar: its process was {how} during it; run again alone, it passed: \
                 nothing else had run in that process]\n"
            ));
            emit(WorkerMsg::Finished { outcome: in_batch });
        }
    }
}

/// Hands a decided test on; one whose captured output was lost gets it back first.
fn hand_on(ctx: &BatchContext<'_>, d: Decided, held: &mut Held, emit: &mut dyn FnMut(WorkerMsg)) {
    let lost = d.output_lost;
    let mut o = ctx.decided(d);
    if lost && !ctx.cancel.is_set() {
        recover_output(ctx, &mut o, emit);
    }
    held.push(o, emit);
}

/// A failed test whose captured output the batch process died before printing: its
/// output comes from running it again alone. Its verdict stays the batch's.
fn recover_output(ctx: &BatchContext<'_>, o: &mut TestOutcome, emit: &mut dyn FnMut(WorkerMsg)) {
    let again = run_alone_to_confirm(ctx, &o.name, emit);
    let (note, output) = match &again {
        Some(a) if a.status == TestStatus::Passed => {
            ("it passed alone; its output then", &a.output)
        }
        Some(a) => ("its output run again alone", &a.output),
        None => ("it could not be run again alone", &o.output),
    };
    o.output = format!(
        "{output}\n[cargo-xpar: its batch process died before libtest printed what it \
         captured of this test; {note}]\n"
    );
}

/// Runs `name` alone (all its output, no capture): its outcome, or `None` when it
/// could not be run or came back with nothing to go by.
fn run_alone_to_confirm(
    ctx: &BatchContext<'_>,
    name: &str,
    emit: &mut dyn FnMut(WorkerMsg),
) -> Option<TestOutcome> {
    let names = vec![name.to_owned()];
    let mut parser = BatchParser::new(&names, false);
    let p = ctx.process(&names, Mode::Batch { capture: false });
    let process = ctx.spawn(&p, true).ok()?;
    let mut held = Held::default();
    let end = read_process(ctx, &process, &mut parser, &mut held, emit);
    ctx.end_leftovers(&process.token, Some(name.to_owned()), emit);
    if let Some(o) = held.0.take() {
        return Some(o);
    }
    let (name, started, output) = parser.take_in_progress()?;
    let failure = crash_failure(end.status.ok()?);
    let ran = started.map_or(Duration::ZERO, |s| s.elapsed());
    Some(ctx.outcome(name, TestStatus::Failed(failure), (started, ran), &output))
}

/// How a process ended, for a message: "killed by signal 6 (SIGABRT)".
fn how_it_ended(failure: &Failure) -> String {
    match failure {
        Failure::Signal { signal, name } => format!("killed by signal {signal} ({name})"),
        Failure::Exited { code } => format!("ended with exit status {code}"),
        _ => "ended".to_owned(),
    }
}

fn crash_failure(status: ExitStatus) -> Failure {
    match (status.code(), os::signal(status)) {
        (Some(code), _) => Failure::Exited { code },
        (None, Some(signal)) => Failure::Signal {
            signal,
            name: os::signal_name(signal),
        },
        (None, None) => Failure::NoResult {
            reason: "its process ended with an unknown status".into(),
        },
    }
}

fn fail_all(
    ctx: &BatchContext<'_>,
    names: Vec<String>,
    reason: &str,
    output: &[u8],
    emit: &mut dyn FnMut(WorkerMsg),
) {
    for name in names {
        let status = no_result(reason.to_owned());
        let outcome = ctx.outcome(name, status, (None, Duration::ZERO), output);
        emit(WorkerMsg::Finished { outcome });
    }
}

fn not_run(ctx: &BatchContext<'_>, names: Vec<String>, emit: &mut dyn FnMut(WorkerMsg)) {
    for name in names {
        let mut outcome = ctx.outcome(name, ctx.cancel.not_run(), (None, Duration::ZERO), b"");
        outcome.worker = None;
        emit(WorkerMsg::Finished { outcome });
    }
}

#[cfg(all(test, unix))]
#[path = "batch_tests.rs"]
mod tests;
