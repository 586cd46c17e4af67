//! Nothing a test does can hang the run, lose a result or leave a process behind:
//! `fixtures/adversarial` under `--timeout`, `--maxfail`, `--run-timeout` and SIGINT,
//! through the real binary. Processes are checked by the pids the fixture records, not
//! by sleeping.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use xpar_tests::{run, run_json, xpar, FixtureCopy, JsonRun};

/// How each test of the fixture must end under `--timeout`: (name, status, message part).
const EXPECTED: &[(&str, &str, &str)] = &[
    ("tests::a_hangs", "failed", "timed out after"),
    ("tests::a_ok", "passed", ""),
    ("tests::b_spins", "failed", "timed out after"),
    ("tests::b_ok", "passed", ""),
    ("tests::c_spawns_a_child_that_outlives_it", "passed", ""),
    ("tests::c_ok", "passed", ""),
    ("tests::d_prints_100_mb", "passed", ""),
    ("tests::d_ok", "passed", ""),
    // std ignores writes to a closed stdout and libtest goes on, its results going to the
    // result log: it passes, as under cargo test.
    ("tests::e_closes_stdout", "passed", ""),
    ("tests::e_ok", "passed", ""),
    // Its output goes to /dev/null, and libtest goes on: it passes, as under cargo test.
    ("tests::f_reopens_stdout", "passed", ""),
    ("tests::f_ok", "passed", ""),
    ("tests::g_overflows_its_stack", "failed", "SIGABRT"),
    ("tests::g_ok", "passed", ""),
    ("tests::h_flaky_one_in_three", "passed", ""),
    ("tests::h_ok", "passed", ""),
    (
        "tests::i_sigterms_its_own_process_group",
        "failed",
        "SIGTERM",
    ),
    ("tests::i_ok", "passed", ""),
    ("tests::j_ignores_stop_signals", "failed", "timed out after"),
    ("tests::j_ok", "passed", ""),
];

/// Pids the fixture's tests recorded that still run (a zombie has stopped running).
fn survivors(pid_dir: &Path) -> Vec<String> {
    let pids = std::fs::read_to_string(pid_dir.join("pids")).unwrap_or_default();
    pids.lines()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| !s.trim().starts_with('Z'))
            })
        })
        .map(str::to_owned)
        .collect()
}

/// The one result of `name` in a JSON report.
fn result<'a>(run: &'a JsonRun, name: &str) -> &'a xpar_tests::JsonTest {
    run.tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no result for {name}\n{}", run.run))
}

fn adversarial(args: &[&str]) -> (FixtureCopy, JsonRun) {
    let fixture = FixtureCopy::new("adversarial");
    let run = run_json(fixture.path(), args);
    (fixture, run)
}

#[test]
fn every_misbehaving_test_is_handled_and_the_rest_kept() {
    let fixture = FixtureCopy::new("adversarial");
    let pids = fixture.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let mut cmd = xpar(fixture.path());
    let report = fixture.path().join("report.json");
    cmd.env("XPAR_FIXTURE_PIDS", &pids).args([
        "-j",
        "2",
        "--no-fail-fast",
        // Room for the 100 MB test on a loaded machine; the hanging ones take this long.
        "--timeout",
        "5s",
        "--timeout-grace",
        "500ms",
        "--json",
        report.to_str().unwrap(),
    ]);
    let r = xpar_tests::Run::of(&mut cmd);
    assert_eq!(r.code(), Some(100), "{r}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(tests.len(), EXPECTED.len(), "{r}");
    for (name, status, message) in EXPECTED {
        let found: Vec<_> = tests.iter().filter(|t| t["name"] == *name).collect();
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        let t = found[0];
        assert_eq!(t["status"], *status, "{name}: {t}");
        let got = t["message"].as_str().unwrap_or("");
        assert!(got.contains(message), "{name}: {got:?} lacks {message:?}");
    }
    let flood = tests
        .iter()
        .find(|t| t["name"] == "tests::d_prints_100_mb")
        .unwrap()["output"]
        .as_str()
        .unwrap();
    assert!(
        flood.len() < 10 << 20,
        "the flood is cut: {} bytes",
        flood.len()
    );
    assert!(flood.contains("bytes of this test's output left out"));
    assert!(flood.trim_end().ends_with("the end of the flood"));
    assert!(r.stderr.contains("TIMEOUT"), "{r}");
    let left = survivors(&pids);
    assert!(left.is_empty(), "processes left running: {left:?}\n{r}");
}

/// A `cargo xpar` started in the background, its stderr read line by line.
struct Background {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStderr>>,
    seen: String,
}

impl Background {
    fn start(fixture: &FixtureCopy, args: &[&str]) -> Background {
        let pids = fixture.path().join("pids");
        std::fs::create_dir_all(&pids).unwrap();
        let mut cmd = xpar(fixture.path());
        cmd.env("XPAR_FIXTURE_PIDS", &pids)
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = cmd.spawn().expect("start cargo xpar");
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        Background {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Reads stderr until a line holds every one of `parts`.
    fn wait_for(&mut self, parts: &[&str]) {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            self.seen += &line;
            self.seen.push('\n');
            if parts.iter().all(|p| line.contains(p)) {
                return;
            }
        }
        panic!("no line with {parts:?}:\n{}", self.seen);
    }

    fn signal(&self, name: &str) {
        let kill = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    }

    /// Waits for the exit; returns its code and everything it wrote to stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        for line in self.lines.by_ref().map_while(Result::ok) {
            self.seen += &line;
            self.seen.push('\n');
        }
        let status = self.child.wait().unwrap();
        (status.code(), self.seen)
    }
}

#[test]
fn sigint_stops_the_run_writes_the_reports_and_leaves_nothing_running() {
    let fixture = FixtureCopy::new("adversarial");
    let junit = fixture.path().join("junit.xml");
    let junit_arg = junit.to_str().unwrap();
    let mut run = Background::start(
        &fixture,
        &["-j", "2", "--no-fail-fast", "--slow-timeout", "200ms"]
            .into_iter()
            .chain(["--junit", junit_arg])
            .collect::<Vec<_>>(),
    );
    run.wait_for(&["SLOW", "a_hangs"]);
    run.signal("INT");
    let (code, all) = run.finish();
    assert_eq!(code, Some(130), "{all}");
    let cases = xpar_tests::read_junit(&junit);
    let hang = cases
        .iter()
        .find(|c| c.name == "tests::a_hangs")
        .unwrap_or_else(|| panic!("the interrupted test is in the report: {cases:?}"));
    // It ran until the signal: not "not run", and not passed.
    let failure = hang.failure.as_ref().unwrap_or_else(|| panic!("{hang:?}"));
    assert!(
        failure.message.contains("interrupted by SIGINT"),
        "{hang:?}"
    );
    assert!(all.contains("interrupted by SIGINT"), "{all}");
    let left = survivors(&fixture.path().join("pids"));
    assert!(left.is_empty(), "processes left running: {left:?}\n{all}");
}

/// SIGTERM and SIGHUP stop a run as SIGINT does, with their own exit codes; a test that
/// ignores them is killed after the grace period, or at once on a second signal.
#[test]
fn sigterm_and_sighup_stop_the_run_and_a_second_signal_kills_at_once() {
    let fixture = FixtureCopy::new("adversarial");
    let pids = fixture.path().join("pids");
    let report = fixture.path().join("report.json");
    let stubborn = |grace: &str| {
        let mut run = Background::start(
            &fixture,
            &[
                "j_ignores_stop_signals",
                "--slow-timeout",
                "200ms",
                "--timeout-grace",
                grace,
                "--json",
                report.to_str().unwrap(),
            ],
        );
        run.wait_for(&["SLOW", "j_ignores_stop_signals"]);
        run
    };

    // One SIGHUP: the test ignores it and is killed when the 1 s grace runs out.
    let mut run = stubborn("1s");
    run.signal("HUP");
    run.wait_for(&["SIGHUP received"]);
    let (code, all) = run.finish();
    assert_eq!(code, Some(129), "{all}");
    assert!(all.contains("interrupted by SIGHUP"), "{all}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let t = &json["tests"][0];
    assert_eq!(t["name"], "tests::j_ignores_stop_signals", "{json}");
    assert_eq!(t["status"], "failed", "{json}");
    assert!(
        t["message"]
            .as_str()
            .unwrap_or("")
            .contains("interrupted by SIGHUP"),
        "{json}"
    );
    let left = survivors(&pids);
    assert!(left.is_empty(), "processes left running: {left:?}\n{all}");

    // SIGTERM, then SIGTERM again: no waiting for the 10-minute grace.
    let mut run = stubborn("10min");
    run.signal("TERM");
    run.wait_for(&["SIGTERM received"]);
    let second = std::time::Instant::now();
    run.signal("TERM");
    let (code, all) = run.finish();
    assert_eq!(code, Some(143), "{all}");
    assert!(
        second.elapsed() < std::time::Duration::from_secs(60),
        "the second signal did not kill at once: {:?}\n{all}",
        second.elapsed()
    );
    let left = survivors(&pids);
    assert!(left.is_empty(), "processes left running: {left:?}\n{all}");
}

#[test]
fn maxfail_stops_scheduling_and_immediate_kills_the_running() {
    let (_f, run) = adversarial(&[
        "-j",
        "1",
        "--maxfail",
        "2",
        "--timeout",
        "1s",
        "--timeout-grace",
        "200ms",
    ]);
    assert_eq!(run.run.code(), Some(100), "{}", run.run);
    let failed = run.tests.iter().filter(|t| t.status == "failed").count();
    let not_run = run.tests.iter().filter(|t| t.status == "not-run").count();
    // One worker: the second failure is the last test that ran.
    assert_eq!(failed, 2, "{}", run.run);
    assert!(
        not_run > 0 && failed + not_run < EXPECTED.len(),
        "{}",
        run.run
    );
    assert!(run.run.stderr.contains("--maxfail"), "{}", run.run);

    let (_f, run) = adversarial(&["-j", "2", "--maxfail", "1:immediate", "--timeout", "30s"]);
    assert_eq!(run.run.code(), Some(100), "{}", run.run);
    // Whatever the other worker was doing when the first failure came in was ended, so
    // the test that hangs never reached its 30 s timeout.
    let hang = result(&run, "tests::a_hangs");
    assert_eq!(hang.status, "not-run", "{hang:?}\n{}", run.run);
}

#[test]
fn run_timeout_bounds_the_whole_run() {
    let (_f, run) = adversarial(&[
        "-j",
        "2",
        "--no-fail-fast",
        "--run-timeout",
        "1500ms",
        "--timeout-grace",
        "200ms",
    ]);
    assert_eq!(run.run.code(), Some(100), "{}", run.run);
    let hang = result(&run, "tests::a_hangs");
    assert_eq!(hang.status, "failed", "{hang:?}");
    assert!(run.run.stderr.contains("--run-timeout"), "{}", run.run);
    assert_eq!(
        run.tests.len(),
        EXPECTED.len(),
        "every test has its one result"
    );
}

/// A runner killed outright (SIGKILL: no clean-up of its own) takes its test processes
/// with it.
#[cfg(target_os = "linux")]
#[test]
fn test_processes_die_with_a_killed_runner() {
    let fixture = FixtureCopy::new("adversarial");
    let mut run = Background::start(&fixture, &["a_hangs", "--slow-timeout", "200ms"]);
    run.wait_for(&["SLOW", "a_hangs"]);
    run.signal("KILL");
    let (code, all) = run.finish();
    assert_eq!(code, None, "killed by a signal: {all}");
    let pids = fixture.path().join("pids");
    // The kernel's kill is asynchronous: give it a moment, by polling, not a fixed sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !survivors(&pids).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let left = survivors(&pids);
    assert!(left.is_empty(), "processes left running: {left:?}\n{all}");
}

/// A run timeout that strikes while a test process is still starting: its tests are
/// not run, never a crash or a binary that could not start, and the run fails (unless
/// every test was over before the first look at the clock).
#[test]
fn a_run_timeout_at_start_up_leaves_tests_unrun() {
    let fixture = FixtureCopy::new("adversarial");
    for _ in 0..5 {
        let run = run_json(fixture.path(), &["_ok", "-j", "1", "--run-timeout", "1ms"]);
        // The dispatcher looks at the clock between messages: a process that starts and
        // runs its ten tiny tests before the first look leaves nothing to stop, and the
        // run passes. Otherwise tests are left unrun and the run fails.
        let all_passed = run.tests.iter().all(|t| t.status == "passed");
        let expected = if all_passed { 0 } else { 100 };
        assert_eq!(run.run.code(), Some(expected), "{}", run.run);
        assert!(!run.run.stderr.contains("could not start"), "{}", run.run);
        for t in &run.tests {
            let message = t.message.as_deref().unwrap_or("");
            let fine = match t.status.as_str() {
                "passed" | "not-run" => true,
                "failed" => message.contains("the run reached --run-timeout"),
                _ => false,
            };
            assert!(fine, "{t:?}\n{}", run.run);
        }
    }
}

/// Runs the fixture's flaky test (it fails on every third run of its counter) with
/// `args`, its counter set so that the first attempt fails.
fn flaky_run(args: &[&str]) -> (FixtureCopy, xpar_tests::Run) {
    let fixture = FixtureCopy::new("adversarial");
    let counter = fixture.path().join("counter");
    std::fs::write(&counter, "2").unwrap();
    let mut cmd = xpar(fixture.path());
    cmd.env("XPAR_FIXTURE_COUNTER", &counter)
        .args(["h_flaky_one_in_three", "--junit"])
        .arg(fixture.path().join("junit.xml"))
        .args(args);
    let r = xpar_tests::Run::of(&mut cmd);
    (fixture, r)
}

#[test]
fn a_test_that_passes_on_retry_is_flaky() {
    let (f, r) = flaky_run(&["--retries", "2", "--retry-delay", "50ms"]);
    assert_eq!(r.code(), Some(0), "{r}");
    assert!(
        r.stderr.contains("TRY 1 FAIL") && r.stderr.contains("FLAKY"),
        "{r}"
    );
    assert!(r.stderr.contains("1 flaky"), "{r}");
    let xml = std::fs::read_to_string(f.path().join("junit.xml")).unwrap();
    assert!(xml.contains("<flakyFailure"), "{xml}");
    let cases = xpar_tests::read_junit(&f.path().join("junit.xml"));
    assert_eq!(
        cases.len(),
        1,
        "one result for the test, not one per attempt"
    );

    let (_f, r) = flaky_run(&["--retries", "2", "--flaky-result", "fail"]);
    assert_eq!(r.code(), Some(100), "--flaky-result fail: {r}");

    // Without retries, or when the failure does not match --retry-on, it just fails.
    let (_f, r) = flaky_run(&[]);
    assert_eq!(r.code(), Some(100), "{r}");
    let (f, r) = flaky_run(&["--retries", "2", "--retry-on", "connection refused"]);
    assert_eq!(r.code(), Some(100), "{r}");
    assert!(!r.stderr.contains("TRY 1"), "{r}");
    let xml = std::fs::read_to_string(f.path().join("junit.xml")).unwrap();
    assert!(
        !xml.contains("rerunFailure") && xml.contains("<failure"),
        "{xml}"
    );
}

#[test]
fn a_test_that_keeps_failing_reports_every_attempt() {
    let fixture = FixtureCopy::new("adversarial");
    let junit = fixture.path().join("junit.xml");
    let mut cmd = xpar(fixture.path());
    cmd.args([
        "i_sigterms_its_own_process_group",
        "--retries",
        "2",
        "--junit",
    ])
    .arg(&junit);
    let r = xpar_tests::Run::of(&mut cmd);
    assert_eq!(r.code(), Some(100), "{r}");
    assert!(r.stderr.contains("TRY 2 FAIL"), "{r}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 1, "{xml}");
    assert_eq!(xml.matches("<rerunFailure").count(), 2, "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn a_run_whose_processes_keep_crashing_stops() {
    // The fixture has two tests that crash their process (g_ and i_); allow one.
    let (_f, run) = adversarial(&[
        "-j",
        "1",
        "--no-fail-fast",
        "--timeout",
        "1s",
        "--max-worker-restart",
        "1",
    ]);
    assert_eq!(run.run.code(), Some(100), "{}", run.run);
    assert!(run.run.stderr.contains("crashed 2 times"), "{}", run.run);
    assert!(
        run.run.stderr.contains("--max-worker-restart"),
        "{}",
        run.run
    );
    assert!(
        run.tests.iter().any(|t| t.status == "not-run"),
        "{}",
        run.run
    );
    assert_eq!(
        run.tests.len(),
        EXPECTED.len(),
        "every test has its one result"
    );
}

/// A retried test that timed out says so on its `TRY` line, as a retried failure does.
#[test]
fn a_retried_timeout_keeps_its_try_number() {
    let (_f, run) = adversarial(&[
        "a_hangs",
        "--timeout",
        "300ms",
        "--timeout-grace",
        "100ms",
        "--retries",
        "1",
    ]);
    assert_eq!(run.run.code(), Some(100), "{}", run.run);
    assert!(run.run.stderr.contains("TRY 1 TIMEOUT"), "{}", run.run);
    assert!(!run.run.stderr.contains("TRY 1 FAIL"), "{}", run.run);
}

#[test]
fn log_dir_keeps_every_attempt_of_each_test_in_a_file_of_its_own() {
    let (f, r) = flaky_run(&["--retries", "2", "--log-dir", "logs", "h_ok"]);
    assert_eq!(r.code(), Some(0), "{r}");
    let logs = f.path().join("logs/adversarial");
    let flaky = std::fs::read_to_string(logs.join("tests/h_flaky_one_in_three.log")).unwrap();
    let headers: Vec<&str> = flaky.lines().filter(|l| l.starts_with("==> ")).collect();
    assert_eq!(headers.len(), 2, "{flaky}");
    assert!(
        headers[0]
            .starts_with("==> adversarial tests::h_flaky_one_in_three, attempt 1 of 2: failed in ")
            && headers[1].contains("attempt 2 of 2: passed in "),
        "{flaky}"
    );
    assert!(flaky.contains("flaky failure on run 2"), "{flaky}");
    // A test that passed at once has its own file, with one attempt.
    let ok = std::fs::read_to_string(logs.join("tests/h_ok.log")).unwrap();
    assert_eq!(
        ok.lines().filter(|l| l.starts_with("==> ")).count(),
        1,
        "{ok}"
    );
    // Tests the run did not select have none.
    assert!(!logs.join("tests/a_hangs.log").exists());

    // A log dir that cannot be made is said before anything runs.
    std::fs::write(f.path().join("file"), "").unwrap();
    let bad = run(f.path(), &["--log-dir", "file/logs"]);
    assert_eq!(bad.code(), Some(2), "{bad}");
    assert!(bad.stderr.contains("--log-dir"), "{bad}");
}
