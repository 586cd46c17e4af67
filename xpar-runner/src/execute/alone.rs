//! Tests run without libtest's result log, each in a process of its own: an opaque
//! binary as one test, and the tests of a harness that takes stable arguments only. The
//! verdict comes from how the process ended (and the summary line it printed).

use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Instant;

use super::context::{crash_failure, no_result, not_run, BatchContext, Mode};
use super::messages::WorkerMsg;
use super::resources::{self, Meter};
use super::test_process::{Input, LEAK_TIMEOUT};
use crate::process::{describe_status, ProcessBuilder};
use crate::report::{Failure, Notice, Resources, TestStatus};

/// Runs test `name` in a process of its own without a result log, to its end: its exit
/// status and its output. The test is said started once its process is (the watchdog
/// times it from there; a process start clears what it timed before). A stream held
/// open by something it left running is given up after the leak timeout.
fn run_to_end(
    ctx: &BatchContext<'_>,
    p: &ProcessBuilder,
    name: &str,
    emit: &mut dyn FnMut(WorkerMsg),
) -> (Result<ExitStatus, String>, Vec<u8>, Option<Resources>) {
    let spawned = ctx.spawn(p, false);
    emit(ctx.started(name.to_owned()));
    let process = match spawned {
        Ok(process) => process,
        Err(e) => {
            return (
                Err(format!("{p} could not be started: {e}")),
                Vec::new(),
                None,
            )
        }
    };
    // Its peak as it goes, read whenever it writes (see `resources`).
    let mut meter = Meter::new(process.pid);
    let mut usage = None;
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
            Input::Stream(b) => {
                output.extend_from_slice(&b);
                if status.is_none() {
                    meter.peek();
                }
            }
            Input::StreamEnd => stream_open = false,
            Input::Exited(s, u) => {
                status = Some((s, Instant::now()));
                usage = u;
            }
            Input::Log(_) | Input::LogEnd => {}
        }
    }
    ctx.end_leftovers(&process.token, None, emit);
    let status = match status {
        Some((s, _)) => s.map_err(|e| format!("waiting for {p} failed: {e}")),
        None => Err(format!("lost track of {p}")),
    };
    let resources = usage.map(|u| resources::own_process(u, process.inherited_rss, meter.highest));
    (status, output, resources)
}

/// Runs an opaque binary as one test: its verdict is its exit status.
pub fn run_opaque(ctx: &BatchContext<'_>, emit: &mut dyn FnMut(WorkerMsg)) {
    let name = ctx.binary.id.to_string();
    let start = Instant::now();
    let (status, output, resources) = run_to_end(ctx, &ctx.process(&[], Mode::Opaque), &name, emit);
    let status = match status {
        Ok(s) if s.success() => TestStatus::Passed,
        Ok(s) => TestStatus::Failed(Failure::OpaqueExit {
            status: describe_status(s),
        }),
        Err(reason) => no_result(reason),
    };
    let mut outcome = ctx.outcome(name, status, (Some(start), start.elapsed()), &output);
    outcome.resources = resources;
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
        if ctx.inbox.stopped() {
            not_run(ctx, std::iter::once(name).chain(tests).collect(), emit);
            return;
        }
        let p = ctx.process(std::slice::from_ref(&name), Mode::Alone);
        let start = Instant::now();
        let (status, output, resources) = run_to_end(ctx, &p, &name, emit);
        let status = match status {
            Ok(s) => stable_verdict(s, &String::from_utf8_lossy(&output)),
            Err(reason) => no_result(reason),
        };
        let mut outcome = ctx.outcome(name, status, (Some(start), start.elapsed()), &output);
        outcome.resources = resources;
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

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
