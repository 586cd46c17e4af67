//! Runs one chunk on one worker: a process of the test binary with
//! `--exact NAME1 NAME2 ... --test-threads=1 --logfile /dev/fd/3`, re-spawned for the
//! tests after one that killed it, until every test sent has exactly one result. Verdicts
//! come from libtest's result log, which no test output can forge (see `libtest_log`).
//! A test whose process dies under it is run again alone before it is blamed: one that
//! passes alone is not failed for another test's crash; the crash is reported against
//! the test that ran just before it in that process.

use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use super::context::{crash_failure, no_result, not_run, BatchContext, Mode};
use super::libtest_log::{BatchParser, Decided};
use super::messages::WorkerMsg;
use super::resources::{ChildUsage, Meter};
use super::test_process::{Input, TestProcess, LEAK_TIMEOUT};
use crate::discover::BinaryKind;
use crate::plan::BatchCost;
use crate::process::{describe_status, os, ProcessBuilder};
use crate::report::{Failure, Notice, Resources, TestOutcome, TestStatus};

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
        if ctx.inbox.stopped() || (respawn && !(ctx.may_go_on)()) {
            not_run(ctx, pending, emit);
            break;
        }
        respawn = true;
        match run_batch_process(ctx, pending, &mut costs, emit) {
            Some(rest) => pending = rest,
            None => break,
        }
    }
    costs
}

/// Runs `pending` in one batch process and hands on the results it gives; returns the
/// tests left for a fresh process, or `None` when every test has its result. A doctest
/// binary's process runs those of `pending` its selection can have at once; the others
/// are left for the next.
fn run_batch_process(
    ctx: &BatchContext<'_>,
    pending: Vec<String>,
    costs: &mut Vec<BatchCost>,
    emit: &mut dyn FnMut(WorkerMsg),
) -> Option<Vec<String>> {
    if ctx.binary.kind != BinaryKind::Doctest {
        return run_one_process(ctx, pending, costs, emit);
    }
    let (_, now) = ctx.doctest_step(&pending);
    if now.is_empty() {
        fail_all(ctx, pending, "not one of the library's doctests", b"", emit);
        return None;
    }
    let later: Vec<String> = pending.into_iter().filter(|n| !now.contains(n)).collect();
    let mut rest = run_one_process(ctx, now, costs, emit).unwrap_or_default();
    rest.extend(later);
    (!rest.is_empty()).then_some(rest)
}

fn run_one_process(
    ctx: &BatchContext<'_>,
    pending: Vec<String>,
    costs: &mut Vec<BatchCost>,
    emit: &mut dyn FnMut(WorkerMsg),
) -> Option<Vec<String>> {
    let mut parser = BatchParser::new(&pending, ctx.capture);
    if ctx.binary.kind == BinaryKind::Doctest {
        // A doctest selection may run tests not sent, and a name may run twice.
        parser = parser.knowing(ctx.all_names);
    }
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
            return None;
        }
    };
    let mut held = Held::default();
    let end = read_process(ctx, &process, &mut parser, &mut held, emit);
    costs.extend(end.cost);
    ctx.end_leftovers(&process.token, None, emit);
    // Failed tests whose captured output never came (the process died first).
    for d in parser.take_rest_decided() {
        hand_on(ctx, d, None, &mut held, emit);
    }
    if end.killed_by_cancel {
        held.flush(emit);
        let mut rest: Vec<String> = parser.take_in_progress().map(|t| t.0).into_iter().collect();
        rest.extend(parser.unfinished());
        not_run(ctx, rest, emit);
        return None;
    }
    if let Some((name, started, output)) = parser.take_in_progress() {
        let pending = parser.unfinished();
        let crash = Crash {
            name,
            started,
            output,
            status: end.status,
        };
        crashed(ctx, crash, held, emit);
        return Some(pending);
    }
    let unfinished = parser.unfinished();
    blame_last_test(ctx, &parser, &unfinished, &end.status, &mut held);
    held.flush(emit);
    if unfinished.is_empty() {
        return None;
    }
    after_early_end(ctx, &p, &mut parser, unfinished, &end.status, emit)
}

/// A batch process that died between tests, not under one: the test that ran last most
/// likely did it (closed its stdout, left a destructor that aborts), unless it was
/// killed.
fn blame_last_test(
    ctx: &BatchContext<'_>,
    parser: &BatchParser,
    unfinished: &[String],
    status: &std::io::Result<ExitStatus>,
    held: &mut Held,
) {
    let abnormal = status.as_ref().map_or(true, |s| !s.success());
    if unfinished.is_empty() || !parser.started_any() || parser.suite_finished() || !abnormal {
        return;
    }
    let Some(last) = held.0.as_mut() else {
        return;
    };
    let killed = ctx.inbox.stopped() || (ctx.was_killed)();
    if !killed && last.status == TestStatus::Passed {
        let how = match status {
            Ok(s) => how_it_ended(&crash_failure(*s)),
            Err(_) => "ended".to_owned(),
        };
        last.status = TestStatus::Failed(Failure::CrashedAfter {
            during: String::new(),
            how,
        });
    }
}

/// What becomes of the `unfinished` tests of a batch process that ended with no test
/// running: the tests for a fresh process, or `None` when they got their results here.
fn after_early_end(
    ctx: &BatchContext<'_>,
    p: &ProcessBuilder,
    parser: &mut BatchParser,
    unfinished: Vec<String>,
    status: &std::io::Result<ExitStatus>,
    emit: &mut dyn FnMut(WorkerMsg),
) -> Option<Vec<String>> {
    let status_text = match status {
        Ok(s) => describe_status(*s),
        Err(e) => format!("an unknown status ({e})"),
    };
    let outside = parser.take_outside_output();
    if parser.suite_finished() {
        // libtest finished normally without running these: they do not exist in it.
        let reason = "the test binary finished without running it (no test of that exact name)";
        fail_all(ctx, unfinished, reason, &outside, emit);
        return None;
    }
    if ctx.inbox.stopped() {
        // Killed because the run is stopping (a signal, --run-timeout, --maxfail
        // N:immediate), before or between its tests: the rest are not run.
        not_run(ctx, unfinished, emit);
        return None;
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
        return None;
    }
    // Died between tests (in a destructor, say): the rest go to a fresh process.
    Some(unfinished)
}

/// What has come in from a batch process so far.
struct Progress {
    status: Option<(std::io::Result<ExitStatus>, Instant)>,
    /// What `wait4` said the process used.
    usage: Option<ChildUsage>,
    stream_open: bool,
    log_open: bool,
    /// When the result log held a verdict for every test sent.
    all_in: Option<Instant>,
    /// Killed for going on `--timeout` after its last test ended.
    exit_killed: bool,
    /// Killed because the run is stopping.
    killed_by_cancel: bool,
    /// For its cost: the first test's seconds, all tests' seconds, how many tests.
    first_test: Option<f64>,
    test_sum: f64,
    count: usize,
}

impl Progress {
    fn new() -> Self {
        Progress {
            status: None,
            usage: None,
            stream_open: true,
            log_open: true,
            all_in: None,
            exit_killed: false,
            killed_by_cancel: false,
            first_test: None,
            test_sum: 0.0,
            count: 0,
        }
    }

    /// Whether anything may still come: the exit status, output, or results.
    fn open(&self) -> bool {
        self.status.is_none() || self.stream_open || self.log_open
    }

    /// How long to wait for the next input: the leak timeout once the process exited;
    /// `exit_timeout` once every test has its verdict (until the process is killed).
    fn deadline(&self, exit_timeout: Option<Duration>) -> Option<Instant> {
        match (&self.status, self.all_in, exit_timeout) {
            (Some((_, exited)), _, _) => Some(*exited + LEAK_TIMEOUT),
            (None, Some(at), Some(limit)) if !self.exit_killed => Some(at + limit),
            _ => None,
        }
    }

    /// Takes in what arrived at `at`; returns the test that started, if one did.
    fn take(&mut self, input: Input, at: Instant, parser: &mut BatchParser) -> Option<String> {
        match input {
            Input::Stream(bytes) => {
                // Only the last test that started may still run: the others started and
                // ended within this read, and their results say all there is.
                return parser.feed_stream(&bytes, at).pop();
            }
            Input::Log(bytes) => {
                parser.feed_log(&bytes, at);
                if self.all_in.is_none() && parser.all_verdicts() {
                    self.all_in = Some(at);
                }
            }
            Input::StreamEnd => {
                self.stream_open = false;
                parser.end_stream(at);
            }
            Input::LogEnd => self.log_open = false,
            Input::Exited(s, usage) => {
                self.status = Some((s, at));
                self.usage = usage;
            }
        }
        None
    }

    fn count(&mut self, d: &Decided) {
        let secs = d.duration.as_secs_f64();
        self.first_test.get_or_insert(secs);
        self.test_sum += secs;
        self.count += 1;
    }

    fn end(self, ctx: &BatchContext<'_>, spawned: Instant) -> ProcessEnd {
        let status = match self.status {
            Some((s, _)) => s,
            None => Err(std::io::Error::other("the process was lost")),
        };
        let cost = self.first_test.map(|first| BatchCost {
            binary: ctx.binary_index,
            tests: self.count,
            wall: spawned.elapsed().as_secs_f64(),
            first_test: first,
            test_sum: self.test_sum,
        });
        ProcessEnd {
            status,
            killed_by_cancel: self.killed_by_cancel,
            cost,
        }
    }
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
    let mut progress = Progress::new();
    let mut meter = Meter::new(process.pid);
    let mut read_once = false;
    // Tests decided after the process was gone, held for its figures.
    let mut late: Vec<Decided> = Vec::new();
    // Where a running process cannot be read (not Linux), the one test of a process is
    // held for what the process used in all, known at its end.
    let alone = !meter.is_live() && parser.sent() == 1;
    while progress.open() {
        let received = match progress.deadline(ctx.exit_timeout) {
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
                if let Some((_, exited)) = &progress.status {
                    let after = exited.elapsed();
                    ctx.notice(None, Notice::LeakedPipe { after }, emit);
                    break;
                }
                os::kill_group(process.pid, os::SIGKILL);
                progress.exit_killed = true;
                let after = progress.all_in.map_or(Duration::ZERO, |at| at.elapsed());
                ctx.notice(held.last_name(), Notice::SlowExit { after }, emit);
                continue;
            }
        };
        let mut round: Vec<WorkerMsg> = Vec::new();
        let started = progress.take(input, at, parser);
        let decided = parser.take_decided();
        let any = !decided.is_empty();
        // The CPU and peak since the last reading go to the tests that ended; the
        // process's start, up to the first thing it writes (libtest's `running N
        // tests`), to no one. A test's start is no reading: its line may come before
        // the previous test's result.
        let span = (any || !read_once)
            .then(|| {
                read_once = true;
                meter.span()
            })
            .flatten();
        if let Some(name) = started {
            round.push(ctx.started(name));
        }
        for d in &decided {
            progress.count(d);
        }
        match span {
            // Read too late: the process is gone, and what `wait4` says of it is
            // shared among these at its end.
            None if (meter.is_live() || alone) && (any || !late.is_empty()) => {
                late.extend(decided);
            }
            _ => {
                let durations: Vec<Duration> = decided.iter().map(|d| d.duration).collect();
                let shares = span.map(|(cpu, peak)| Meter::share(cpu, peak, &durations));
                let mut shares = shares.unwrap_or_default().into_iter();
                for d in decided {
                    hand_on(ctx, d, shares.next(), held, &mut |m| round.push(m));
                }
            }
        }
        match round.len() {
            0 => {}
            1 => round.into_iter().for_each(&mut *emit),
            _ => emit(WorkerMsg::Many(round)),
        }
        if any && ctx.inbox.stopped() && progress.status.is_none() && !progress.killed_by_cancel {
            // The run is stopping: the test libtest may have started meanwhile is not run.
            os::kill_group(process.pid, os::SIGKILL);
            progress.killed_by_cancel = true;
        }
    }
    if progress.stream_open {
        parser.end_stream(Instant::now());
    }
    // Results read after the process ended share what it used since the last reading,
    // and get its peak when that is its own (above what it started with): the peak of
    // the tests since the last reading, or of one before them.
    late.extend(parser.take_decided());
    let durations: Vec<Duration> = late.iter().map(|d| d.duration).collect();
    let mut shares = (progress.usage)
        .map(|u| {
            let peak = (u.max_rss > process.inherited_rss).then_some(u.max_rss);
            Meter::share(meter.rest(u.cpu), peak, &durations)
        })
        .unwrap_or_default()
        .into_iter();
    for d in late {
        hand_on(ctx, d, shares.next(), held, emit);
    }
    progress.end(ctx, spawned)
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
    if ctx.inbox.stopped() || (ctx.was_killed)() {
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
fn hand_on(
    ctx: &BatchContext<'_>,
    d: Decided,
    resources: Option<Resources>,
    held: &mut Held,
    emit: &mut dyn FnMut(WorkerMsg),
) {
    let lost = d.output_lost;
    let mut o = ctx.decided(d);
    o.resources = resources;
    if lost && !ctx.inbox.stopped() {
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
        Failure::Exited { code } => format!(
            "ended with exit status {}",
            crate::process::exit_code_text(*code)
        ),
        _ => "ended".to_owned(),
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

#[cfg(all(test, unix))]
#[path = "batch_tests.rs"]
mod tests;
