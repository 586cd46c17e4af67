//! Runs one chunk on one worker: a process of the test binary with
//! `--exact NAME1 NAME2 ... --test-threads=1`, re-spawned for the tests after one that
//! killed it, until every test sent has exactly one result.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::dispatcher::Cancel;
use super::libtest_json::{LibtestResult, ParsedEvent, StreamParser};
use super::run_env::RunEnv;
use crate::discover::{BinaryId, TestBinary};
use crate::plan::{BatchCost, Chunk};
use crate::process::{describe_status, os, ProcessBuilder};
use crate::report::{Failure, TestOutcome, TestStatus};

/// What the dispatcher tells a worker.
#[derive(Debug)]
pub enum ToWorker {
    Run(Chunk),
    /// No more work: the worker exits.
    Stop,
    /// The answer to [`WorkerMsg::MayGoOn`].
    GoOn(bool),
}

/// What a worker tells the dispatcher while it runs a chunk.
#[derive(Debug)]
pub enum WorkerMsg {
    Started {
        worker: usize,
        binary_id: BinaryId,
        name: String,
    },
    Finished {
        outcome: TestOutcome,
    },
    /// The chunk is done; the worker wants another.
    Ready {
        worker: usize,
        costs: Vec<BatchCost>,
    },
    /// The worker started a test process (and process group) with this id.
    Spawned {
        worker: usize,
        pid: u32,
    },
    /// The worker was told there is no more work, and stopped.
    Exited,
    /// The runner received this signal.
    Signal(i32),
    /// May the worker start a fresh process for the rest of its batch? (The answer comes
    /// as [`ToWorker::GoOn`].)
    MayGoOn {
        worker: usize,
    },
    /// A process of this binary died before running any test.
    BinaryBroken {
        binary: usize,
        reason: String,
    },
}

/// Everything a worker needs to run chunks of one binary.
pub struct BatchContext<'a> {
    pub binary_index: usize,
    pub binary: &'a TestBinary,
    pub worker: usize,
    pub workers: usize,
    pub include_ignored: bool,
    pub test_args: &'a [String],
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
}

impl BatchContext<'_> {
    /// The binary running `names` (all its tests, for an opaque binary), one at a time,
    /// reporting libtest's JSON events when `json`.
    fn process(&self, names: &[String], json: bool) -> ProcessBuilder {
        let mut p = ProcessBuilder::new(&self.binary.path);
        p.cwd(&self.binary.cwd);
        for (k, v) in &self.binary.env {
            p.env(k, v);
        }
        self.run_env.apply(&mut p, self.worker, self.workers);
        if !names.is_empty() {
            if json {
                // libtest's JSON events are unstable-only; RUSTC_BOOTSTRAP lets a
                // stable-built binary print them, which makes per-test results and times
                // exact.
                p.env("RUSTC_BOOTSTRAP", "1").args([
                    "-Z",
                    "unstable-options",
                    "--format",
                    "json",
                    "--report-time",
                ]);
            }
            p.args(["--test-threads=1", "--nocapture", "--exact"]);
            if self.include_ignored {
                p.arg("--include-ignored");
            }
            p.args(names);
        }
        p.args(self.test_args);
        p
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
}

/// A running test process, in a process group of its own (its id is the process's),
/// with stdout and stderr on one pipe so their interleaving is kept.
struct TestProcess {
    pid: u32,
    reader: std::io::PipeReader,
    /// Reaps the process, then kills whatever it left in its group: children a test
    /// started that outlive it would otherwise keep the pipe open and the run waiting.
    waiter: std::thread::JoinHandle<std::io::Result<ExitStatus>>,
}

impl TestProcess {
    fn wait(self) -> std::io::Result<ExitStatus> {
        drop(self.reader);
        self.waiter
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reaper thread panicked")))
    }
}

fn spawn_merged(p: &ProcessBuilder, ctx: &BatchContext<'_>) -> std::io::Result<TestProcess> {
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = p.command();
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    os::own_process_group(&mut cmd);
    let mut child: Child = cmd.spawn()?;
    // `cmd` holds the write ends; dropping it lets the reader see EOF when the child exits.
    drop(cmd);
    let pid = child.id();
    (ctx.on_spawn)(pid);
    let waiter = std::thread::Builder::new()
        .name("xpar-reaper".into())
        .spawn(move || {
            let status = child.wait();
            os::kill_group(pid, os::SIGKILL);
            status
        })?;
    Ok(TestProcess {
        pid,
        reader,
        waiter,
    })
}

/// Runs `p` to its end; returns how it ended (or why it could not run) and its output.
fn run_to_end(p: &ProcessBuilder, ctx: &BatchContext<'_>) -> (Result<ExitStatus, String>, Vec<u8>) {
    let mut process = match spawn_merged(p, ctx) {
        Ok(process) => process,
        Err(e) => return (Err(format!("{p} could not be started: {e}")), Vec::new()),
    };
    let mut output = Vec::new();
    let _ = std::io::Read::read_to_end(&mut process.reader, &mut output);
    let status = process
        .wait()
        .map_err(|e| format!("waiting for {p} failed: {e}"));
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
    let (status, output) = run_to_end(&ctx.process(&[], false), ctx);
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
        let p = ctx.process(std::slice::from_ref(&name), false);
        let start = Instant::now();
        let (status, output) = run_to_end(&p, ctx);
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
        let p = ctx.process(&pending, true);
        let process = match spawn_merged(&p, ctx) {
            Ok(x) => x,
            Err(e) => {
                let reason = format!("{p} could not be started: {e}");
                fail_all(ctx, pending, &reason, b"", emit);
                break;
            }
        };
        let run = read_batch(ctx, process, &mut pending, emit);
        costs.extend(run.cost);
        if run.killed_by_cancel {
            not_run(ctx, pending, emit);
            break;
        }
        let mut parser = run.parser;
        let status_text = match &run.status {
            Ok(s) => describe_status(*s),
            Err(e) => format!("an unknown status ({e})"),
        };
        if let Some((name, output)) = parser.take_in_progress() {
            // The test that was running killed its process; the rest go to a fresh one.
            let status = match run.status {
                Ok(s) => crash_failure(s),
                Err(_) => Failure::NoResult {
                    reason: format!("its process ended with {status_text}"),
                },
            };
            pending.retain(|n| *n != name);
            let outcome = ctx.outcome(
                name,
                TestStatus::Failed(status),
                (Some(run.last_start), run.last_start.elapsed()),
                &output,
            );
            emit(WorkerMsg::Finished { outcome });
            continue;
        }
        if pending.is_empty() {
            break;
        }
        let outside = parser.take_outside_output();
        if parser.suite_finished() {
            // libtest finished normally without running these: they do not exist in it.
            let reason = "the test binary finished without running it (no test of that exact name)";
            fail_all(ctx, pending, reason, &outside, emit);
            break;
        }
        if ctx.cancel.is_set() {
            // Killed because the run is stopping (a signal, --run-timeout, --maxfail
            // N:immediate), before or between its tests: the rest are not run.
            not_run(ctx, pending, emit);
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
            for name in pending {
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
    }
    costs
}

/// What reading one batch process gave.
struct BatchRun {
    parser: StreamParser,
    status: std::io::Result<ExitStatus>,
    /// When the last test that started, started.
    last_start: Instant,
    cost: Option<BatchCost>,
    killed_by_cancel: bool,
}

fn read_batch(
    ctx: &BatchContext<'_>,
    mut process: TestProcess,
    pending: &mut Vec<String>,
    emit: &mut dyn FnMut(WorkerMsg),
) -> BatchRun {
    let spawned = Instant::now();
    let sent: HashSet<String> = pending.iter().cloned().collect();
    let mut finished: HashSet<String> = HashSet::new();
    let mut parser = StreamParser::default();
    let pid = process.pid;
    let mut reader = BufReader::new(&mut process.reader);
    let mut line = Vec::new();
    let mut last_start = Instant::now();
    let (mut first_test, mut test_sum, mut count) = (None, 0.0, 0usize);
    let mut killed_by_cancel = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match parser.feed(&line) {
            Some(ParsedEvent::Started { name }) => {
                last_start = Instant::now();
                emit(WorkerMsg::Started {
                    worker: ctx.worker,
                    binary_id: ctx.binary.id.clone(),
                    name,
                });
            }
            Some(ParsedEvent::Finished {
                name,
                result,
                exec_time,
                output,
            }) => {
                // A name we did not send, or a second result for one, is not a result.
                if !sent.contains(&name) || !finished.insert(name.clone()) {
                    continue;
                }
                let duration = exec_time
                    .map(Duration::from_secs_f64)
                    .unwrap_or_else(|| last_start.elapsed());
                let secs = duration.as_secs_f64();
                first_test.get_or_insert(secs);
                test_sum += secs;
                count += 1;
                let status = match result {
                    LibtestResult::Ok => TestStatus::Passed,
                    LibtestResult::Failed => TestStatus::Failed(Failure::Failed),
                    LibtestResult::Ignored => TestStatus::Ignored,
                };
                let outcome = ctx.outcome(name, status, (Some(last_start), duration), &output);
                emit(WorkerMsg::Finished { outcome });
                if ctx.cancel.is_set() {
                    os::kill_group(pid, os::SIGKILL);
                    killed_by_cancel = true;
                    // The test libtest may have started meanwhile is not run.
                    let _ = parser.take_in_progress();
                    break;
                }
            }
            None => {}
        }
    }
    drop(reader);
    let status = process.wait();
    pending.retain(|n| !finished.contains(n));
    let cost = first_test.map(|first| BatchCost {
        binary: ctx.binary_index,
        tests: count,
        wall: spawned.elapsed().as_secs_f64(),
        first_test: first,
        test_sum,
    });
    BatchRun {
        parser,
        status,
        last_start,
        cost,
        killed_by_cancel,
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
mod stable_tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    const SUMMARY: &str = "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out; finished in 0.00s\n";

    #[test]
    fn the_summary_and_the_exit_status_give_the_verdict() {
        assert_eq!(stable_verdict(exit(0), SUMMARY), TestStatus::Passed);
        let failed = "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured";
        assert_eq!(
            stable_verdict(exit(101), failed),
            TestStatus::Failed(Failure::Failed)
        );
        let ignored = "test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured";
        assert_eq!(stable_verdict(exit(0), ignored), TestStatus::Ignored);
        let none = "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 5 filtered out";
        assert!(matches!(
            stable_verdict(exit(0), none),
            TestStatus::Failed(Failure::NoResult { .. })
        ));
    }

    /// A summary the test printed itself before ending its process is not believed.
    #[test]
    fn a_summary_the_exit_status_contradicts_is_a_crash() {
        assert_eq!(
            stable_verdict(exit(3), SUMMARY),
            TestStatus::Failed(Failure::Exited { code: 3 })
        );
        assert!(matches!(
            stable_verdict(ExitStatus::from_raw(6), SUMMARY),
            TestStatus::Failed(Failure::Signal { signal: 6, .. })
        ));
        assert_eq!(
            stable_verdict(exit(0), "running 1 test\ntest exits_zero ... "),
            TestStatus::Failed(Failure::Exited { code: 0 })
        );
    }
}

#[cfg(all(test, unix))]
mod tests {
    //! The batch protocol against a scripted stand-in for a libtest binary: it speaks the
    //! same JSON events and can crash, exit, or leave names out on command.

    use super::*;
    use crate::discover::{BinaryId, BinaryKind};
    use std::os::unix::fs::PermissionsExt;

    const FAKE_LIBTEST: &str = r#"#!/bin/sh
echo x >> "$0.spawns"
[ -n "$FAKE_STARTUP_FAILURE" ] && { echo "error while loading shared libraries"; exit 127; }
seen=0
for a in "$@"; do
  if [ "$seen" = 1 ]; then
    case "$a" in missing*) continue;; esac
    echo "{ \"type\": \"test\", \"event\": \"started\", \"name\": \"$a\" }"
    echo "output of $a"
    case "$a" in crash*) kill -ABRT $$;; exit*) exit 0;; esac
    echo "{ \"type\": \"test\", \"name\": \"$a\", \"event\": \"ok\", \"exec_time\": 0.001 }"
  fi
  [ "$a" = "--exact" ] && seen=1
done
echo '{ "type": "suite", "event": "ok", "passed": 0, "failed": 0, "ignored": 0, "measured": 0, "filtered_out": 0, "exec_time": 0 }'
"#;

    struct Fake {
        dir: tempfile::TempDir,
        binary: TestBinary,
    }

    fn fake(env: &[(&str, &str)]) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake-test");
        std::fs::write(&path, FAKE_LIBTEST).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = TestBinary {
            id: BinaryId::new("fake", BinaryKind::Lib, "fake"),
            package: "fake".into(),
            kind: BinaryKind::Lib,
            path,
            cwd: dir.path().to_owned(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        Fake { dir, binary }
    }

    impl Fake {
        fn spawns(&self) -> usize {
            std::fs::read_to_string(self.dir.path().join("fake-test.spawns"))
                .map_or(0, |s| s.lines().count())
        }

        fn run(&self, names: &[&str]) -> Vec<TestOutcome> {
            self.run_with_broken(names).0
        }

        /// The outcomes, and the reasons given for a binary that could not start.
        fn run_with_broken(&self, names: &[&str]) -> (Vec<TestOutcome>, Vec<String>) {
            let cancel = Cancel::default();
            let run_env = RunEnv::create(1, false, None).unwrap();
            let ctx = BatchContext {
                binary_index: 0,
                binary: &self.binary,
                worker: 0,
                workers: 1,
                include_ignored: false,
                test_args: &[],
                cancel: &cancel,
                run_start: Instant::now(),
                run_env: &run_env,
                on_spawn: &|_| {},
                may_go_on: &|| true,
            };
            let mut outcomes = Vec::new();
            let mut broken = Vec::new();
            let names = names.iter().map(|s| s.to_string()).collect();
            run_named(&ctx, names, &mut |msg| match msg {
                WorkerMsg::Finished { outcome } => outcomes.push(outcome),
                WorkerMsg::BinaryBroken { reason, .. } => broken.push(reason),
                _ => {}
            });
            (outcomes, broken)
        }
    }

    fn status_of<'a>(outcomes: &'a [TestOutcome], name: &str) -> &'a TestStatus {
        let found: Vec<_> = outcomes.iter().filter(|o| o.name == name).collect();
        assert_eq!(
            found.len(),
            1,
            "{name} must have exactly one result: {outcomes:#?}"
        );
        &found[0].status
    }

    #[test]
    fn crashes_fail_one_test_and_the_rest_run_in_a_fresh_process() {
        let f = fake(&[]);
        let out = f.run(&["a", "crash", "b", "exit0", "c"]);
        assert_eq!(out.len(), 5);
        for name in ["a", "b", "c"] {
            assert_eq!(*status_of(&out, name), TestStatus::Passed);
        }
        assert_eq!(
            *status_of(&out, "crash"),
            TestStatus::Failed(Failure::Signal {
                signal: 6,
                name: "SIGABRT"
            })
        );
        assert_eq!(
            *status_of(&out, "exit0"),
            TestStatus::Failed(Failure::Exited { code: 0 })
        );
        let crash = out.iter().find(|o| o.name == "crash").unwrap();
        assert_eq!(crash.output, "output of crash\n");
        assert_eq!(f.spawns(), 3);
    }

    #[test]
    fn a_name_that_comes_back_without_a_result_fails() {
        let f = fake(&[]);
        let out = f.run(&["a", "missing_one"]);
        assert_eq!(*status_of(&out, "a"), TestStatus::Passed);
        match status_of(&out, "missing_one") {
            TestStatus::Failed(Failure::NoResult { reason }) => {
                assert!(reason.contains("finished without running it"), "{reason}")
            }
            other => panic!("missing test reported as {other:?}"),
        }
        assert_eq!(f.spawns(), 1);
    }

    #[test]
    fn a_binary_that_dies_on_start_fails_its_tests_once_without_looping() {
        let f = fake(&[("FAKE_STARTUP_FAILURE", "1")]);
        let (out, broken) = f.run_with_broken(&["a", "b", "c"]);
        assert_eq!(out.len(), 3);
        for o in &out {
            assert_eq!(
                o.status,
                TestStatus::Failed(Failure::BinaryBroken),
                "{}",
                o.name
            );
        }
        // Why, said once for the binary, with what it printed.
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains("exit status 127 before running any test"),
            "{broken:?}"
        );
        assert!(
            broken[0].contains("error while loading shared libraries"),
            "{broken:?}"
        );
        assert_eq!(f.spawns(), 1);
    }
}
