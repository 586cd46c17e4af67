//! Verdicts no test output can forge or steal, no stall on a leaked pipe or a slow exit,
//! no process left behind: `fixtures/verdicts` through the real binary, once, on one
//! worker (so every case shares its batch process with its neighbours), with libtest's
//! own capture (no `--json`, no `--success-output`), as a default run has it.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use xpar_tests::{parse_junit, xpar, FixtureCopy, JunitCase, Run};

struct Verdicts {
    _fixture: FixtureCopy,
    records: std::path::PathBuf,
    run: Run,
    cases: Vec<JunitCase>,
    wall: Duration,
}

fn verdicts() -> &'static Verdicts {
    static RUN: OnceLock<Verdicts> = OnceLock::new();
    RUN.get_or_init(|| {
        // Held in a static, never dropped: kept inside the target dir.
        let fixture = FixtureCopy::new_in("verdicts", Path::new(env!("CARGO_TARGET_TMPDIR")));
        let records = fixture.path().join("records");
        std::fs::create_dir_all(&records).unwrap();
        let junit = fixture.path().join("junit.xml");
        // Built first, so the wall time below is the run's.
        let build = xpar(fixture.path()).args(["list"]).output().unwrap();
        assert!(build.status.success(), "{build:?}");
        let mut cmd = xpar(fixture.path());
        cmd.env("XPAR_FIXTURE_PIDS", &records).args([
            "-j",
            "1",
            "--no-fail-fast",
            "--timeout",
            "3s",
            "--junit",
            junit.to_str().unwrap(),
        ]);
        let start = Instant::now();
        let run = Run::of(&mut cmd);
        let wall = start.elapsed();
        let xml = std::fs::read_to_string(&junit).unwrap_or_default();
        let cases = parse_junit(&xml).unwrap_or_else(|e| panic!("malformed JUnit: {e}\n{run}"));
        Verdicts {
            _fixture: fixture,
            records,
            run,
            cases,
            wall,
        }
    })
}

fn case<'a>(v: &'a Verdicts, name: &str) -> &'a JunitCase {
    let found: Vec<&JunitCase> = v.cases.iter().filter(|c| c.name == name).collect();
    assert_eq!(found.len(), 1, "{name} must have one result\n{}", v.run);
    found[0]
}

fn passed(v: &Verdicts, name: &str) {
    let c = case(v, name);
    assert!(
        c.failure.is_none() && !c.skipped,
        "{name} must pass\n{}",
        v.run
    );
}

fn failed<'a>(v: &'a Verdicts, name: &str) -> &'a xpar_tests::JunitFailure {
    case(v, name)
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("{name} must fail\n{}", v.run))
}

#[test]
fn every_test_has_one_result_and_the_run_fails() {
    let v = verdicts();
    assert_eq!(v.run.code(), Some(100), "{}", v.run);
    assert_eq!(v.cases.len(), 15, "{}", v.run);
}

/// Case 1: a printed `ok` event and log line for itself do not make a failing test pass.
#[test]
fn a_test_cannot_forge_its_own_pass() {
    let v = verdicts();
    let f = failed(v, "tests::a_forges_its_own_ok_then_panics");
    assert!(f.text.contains("forged a pass, then failed"), "{}", f.text);
    passed(v, "tests::a_ok");
}

/// Case 2: text without a line end glued to what follows is output, not a verdict, and
/// the tests after it run once.
#[test]
fn json_without_a_line_end_is_output_and_nothing_runs_twice() {
    let v = verdicts();
    passed(v, "tests::b_prints_json_without_a_line_end");
    passed(v, "tests::b_runs_once");
    let runs = std::fs::read_to_string(v.records.join("runs")).unwrap();
    assert_eq!(
        runs.lines().collect::<Vec<_>>(),
        ["b_runs_once"],
        "{}",
        v.run
    );
}

/// Case 3: a crash during a test that passes alone is pinned on the test before it.
#[test]
fn a_crash_is_confirmed_alone_before_anyone_is_blamed() {
    let v = verdicts();
    passed(v, "tests::c_runs_for_a_second");
    let f = failed(v, "tests::c_leaves_a_thread_that_aborts");
    assert!(f.message.contains("SIGABRT"), "{}", f.message);
    assert!(
        f.message
            .contains("during `tests::c_runs_for_a_second`, which passes alone"),
        "{}",
        f.message
    );
}

/// Case 4: the JUnit report is well-formed whatever the test printed (it parsed above).
#[test]
fn output_xml_forbids_leaves_the_report_well_formed() {
    let v = verdicts();
    let f = failed(v, "tests::d_prints_what_xml_forbids");
    assert!(f.text.contains("forbidden:"), "{}", f.text);
    assert!(f.text.contains(" end"), "{}", f.text);
    passed(v, "tests::d_ok");
}

/// Case 5: a leaked pipe costs the leak timeout and a slow exit `--timeout`, not 30 s and
/// 15 s; the tests keep their verdicts and the leak is shown.
#[test]
fn a_leaked_pipe_or_a_slow_exit_does_not_hold_the_worker() {
    let v = verdicts();
    passed(v, "tests::e_child_holds_stdout_open");
    passed(v, "registers_a_slow_exit");
    assert!(v.run.stderr.contains("LEAK"), "{}", v.run);
    assert!(v.run.stderr.contains("SLOW EXIT"), "{}", v.run);
    // 1 s of test, 1 s to confirm the crash alone, 3 s of slow exit, and slack: far from
    // the 45 s the leaks would hold the worker.
    assert!(v.wall < Duration::from_secs(25), "{:?}\n{}", v.wall, v.run);
}

/// Case 6: daemons a test starts are ended, and the summary says so.
#[test]
fn no_process_a_test_started_survives_the_run() {
    let v = verdicts();
    passed(v, "tests::f_starts_a_daemon");
    let pids = std::fs::read_to_string(v.records.join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 2, "{pids}");
    for pid in pids.lines() {
        assert!(!running(pid), "process {pid} outlived the run\n{}", v.run);
    }
    assert!(v.run.stderr.contains("Leaked"), "{}", v.run);
    assert!(v.run.stderr.contains("`sleep 300`"), "{}", v.run);
}

/// Case 7: test processes do not get RUSTC_BOOTSTRAP from the runner.
/// Case 9: a `harness = false` binary that ignores its arguments is started once, to run
/// it, not first to list it (asked for `--list`, it would run its tests).
#[test]
fn a_binary_without_harness_is_started_once() {
    let v = verdicts();
    let starts = std::fs::read_to_string(v.records.join("own_main")).unwrap_or_default();
    assert_eq!(starts.lines().count(), 1, "starts: {starts:?}\n{}", v.run);
    passed(v, "verdicts::own_main");
    assert!(
        v.run
            .stderr
            .contains("verdicts::own_main ran as one opaque test"),
        "{}",
        v.run
    );
}

#[test]
fn tests_see_no_rustc_bootstrap() {
    passed(verdicts(), "tests::g_sees_no_rustc_bootstrap");
}

/// Whether `pid` runs (a zombie has stopped running).
fn running(pid: &str) -> bool {
    let stat = Path::new("/proc").join(pid).join("stat");
    std::fs::read_to_string(stat).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim().starts_with('Z'))
    })
}
