//! The run history through the real binary, on `fixtures/history`, whose tests fail or
//! slow down as the environment says: what `cargo xpar history` reports after a series of
//! runs (flaky tests and their rates, the slowest and which got slower, one test's
//! results) in each format, `--last-failed` and `--failed-first`, a run killed with
//! SIGKILL, the retention bound, and no history yet.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use xpar_tests::{run_json_cmd, xpar, FixtureCopy, JsonRun, Run};

/// `cargo xpar ARGS` in `dir` with `env` set, writing `--json DIR/report.json`.
fn json_run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> JsonRun {
    let report = dir.join("report.json");
    let mut cmd = xpar(dir);
    cmd.arg("--json")
        .arg(&report)
        .args(args)
        .envs(env.iter().copied());
    run_json_cmd(&mut cmd, &report)
}

/// `cargo xpar history ARGS` in `dir`.
fn history(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = xpar(dir);
    cmd.arg("history").args(args);
    Run::of(&mut cmd)
}

/// `history ARGS --format json`, parsed.
fn history_json(dir: &Path, args: &[&str]) -> Vec<Value> {
    let r = history(dir, &[args, &["--format", "json"]].concat());
    assert_eq!(r.code(), Some(0), "{r}");
    match serde_json::from_str(&r.stdout) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("not a JSON array: {other:?}\n{r}"),
    }
}

/// `history ARGS --format csv`, parsed: the header and the rows.
fn history_csv(dir: &Path, args: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let r = history(dir, &[args, &["--format", "csv"]].concat());
    assert_eq!(r.code(), Some(0), "{r}");
    let mut reader = csv::Reader::from_reader(r.stdout.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The names of the tests a run ran, in the order they started.
fn started(run: &JsonRun) -> Vec<String> {
    let mut tests: Vec<_> = run
        .tests
        .iter()
        .filter(|t| t.start_secs.is_some())
        .collect();
    tests.sort_by(|a, b| a.start_secs.partial_cmp(&b.start_secs).unwrap());
    tests.iter().map(|t| t.name.clone()).collect()
}

fn names(run: &JsonRun) -> BTreeSet<String> {
    run.tests.iter().map(|t| t.name.clone()).collect()
}

const FLIPS: &str = "tests::flips";
const OTHER: &str = "tests::other";
const SLOWS: &str = "tests::slows";
const ONCE: &str = "tests::once";

#[test]
fn no_history_yet_is_one_line_and_exit_2() {
    let fixture = FixtureCopy::new("history");
    let r = history(fixture.path(), &["--flaky"]);
    assert_eq!(r.code(), Some(2), "{r}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{r}");
    assert!(
        lines[0].starts_with("error: no run history at ")
            && lines[0].contains("target/xpar/history.db"),
        "{r}"
    );
}

/// Eight runs: `flips` fails in three, `once` passes on a retry in one, `slows` takes
/// ten times as long in the newer half. Then every view, in every format.
#[test]
fn history_reports_flaky_and_slow_tests_and_one_tests_runs() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    let once = dir.join("once-marker");
    let mut run_ids = Vec::new();
    for i in 0..8 {
        let fail = if [0, 3, 6].contains(&i) { "flips" } else { "" };
        let slow = if i < 4 { "20" } else { "200" };
        let mut env = vec![("HISTORY_FAIL", fail), ("HISTORY_SLOW_MS", slow)];
        let once_path = once.to_str().unwrap();
        if i == 5 {
            env.push(("HISTORY_ONCE", once_path));
        }
        let r = json_run(dir, &env, &["-j", "2", "--no-fail-fast", "--retries", "1"]);
        let code = if fail.is_empty() { 0 } else { 100 };
        assert_eq!(r.run.code(), Some(code), "run {i}: {}", r.run);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        run_ids.push(report["run-id"].as_str().unwrap().to_owned());
    }

    // --flaky: flips failed in 3 of 8 runs (its retry failed too), once in 1 of 8 (a
    // pass on its retry); steady and slows never failed.
    let flaky = history_json(dir, &["--flaky"]);
    let rows: Vec<(&str, u64, u64, u64, f64, &str)> = flaky
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["runs"].as_u64().unwrap(),
                t["failures"].as_u64().unwrap(),
                t["flaky"].as_u64().unwrap(),
                t["failure-rate"].as_f64().unwrap(),
                t["last-failed"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (FLIPS, 8, 3, 0, 0.375, run_ids[6].as_str()),
            (ONCE, 8, 1, 1, 0.125, run_ids[5].as_str()),
        ]
    );
    let table = history(dir, &["--flaky"]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("test ") && lines[0].contains("rate"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("history tests::flips") && lines[1].contains("37.5%"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("history tests::once") && lines[2].contains("12.5%"),
        "{table}"
    );
    // --runs: over the last two runs, only flips failed (run 6).
    let recent = history_json(dir, &["--flaky", "--runs", "2"]);
    assert_eq!(recent.len(), 1, "{recent:?}");
    assert_eq!(recent[0]["failure-rate"].as_f64(), Some(0.5));

    // --slowest: slows first, 20 ms in the older half, 200 ms in the newer: slower.
    let slowest = history_json(dir, &["--slowest", "2"]);
    assert_eq!(slowest.len(), 2, "{slowest:?}");
    let s = &slowest[0];
    assert_eq!(s["name"], SLOWS, "{slowest:?}");
    assert_eq!(s["slower"], true, "{s}");
    let older = s["older-median-secs"].as_f64().unwrap();
    let recent = s["recent-median-secs"].as_f64().unwrap();
    // A test is timed from when its start line is read, a hair after it started.
    assert!((0.01..0.15).contains(&older) && recent >= 0.15, "{s}");
    assert_eq!(slowest[1]["slower"], false, "{slowest:?}");
    let (header, rows) = history_csv(dir, &["--slowest"]);
    assert_eq!(header[..3], ["binary_id", "name", "runs"]);
    assert_eq!(rows[0][..3], ["history", SLOWS, "8"]);
    assert_eq!(rows[0].last().map(String::as_str), Some("slower"));
    let table = history(dir, &["--slowest", "1"]);
    assert!(
        table.stdout.lines().nth(1).unwrap().ends_with("slower"),
        "{table}"
    );

    // --test: flips in every run, newest first, failed where it was told to.
    let (header, rows) = history_csv(dir, &["--test", FLIPS]);
    assert_eq!(
        header,
        [
            "run",
            "started",
            "commit",
            "binary_id",
            "name",
            "status",
            "duration",
            "attempts",
            "worker"
        ]
    );
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[5].as_str(), r[7].as_str()))
        .collect();
    let want: Vec<(&str, &str, &str)> = (0..8)
        .rev()
        .map(|i| {
            let failed = [0, 3, 6].contains(&i);
            let (status, attempts) = if failed {
                ("failed", "2")
            } else {
                ("passed", "1")
            };
            (run_ids[i].as_str(), status, attempts)
        })
        .collect();
    assert_eq!(got, want);
    assert!(rows.iter().all(|r| r[8].starts_with("gw")), "{rows:?}");
    let once_runs = history_json(dir, &["--test", ONCE, "--runs", "3"]);
    let statuses: Vec<&str> = once_runs
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed", "passed", "flaky"]);
    let none = history(dir, &["--test", "no_such_test"]);
    assert_eq!(none.code(), Some(4), "{none}");
    assert_eq!(
        none.stderr.trim(),
        "error: no test named `no_such_test` in the last 20 recorded runs"
    );

    // The runs themselves, newest first, with their counts.
    let runs = history_json(dir, &[]);
    let ids: Vec<&str> = runs.iter().map(|r| r["run-id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = run_ids.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);
    assert_eq!(runs[1]["failed"], 1);
    assert_eq!(runs[2]["flaky"], 1);
    assert_eq!(runs[0]["passed"], 6);
}

/// The commit of the workspace's repository is recorded with the run.
#[test]
fn a_run_records_its_git_commit() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
    };
    let Ok(init) = git(&["init", "-q"]) else {
        assert!(
            std::env::var_os("XPAR_REQUIRE_TOOLS").is_none(),
            "git is not installed"
        );
        eprintln!("skipped: git is not installed");
        return;
    };
    assert!(init.status.success(), "{init:?}");
    // Outside a commit's history there is no commit yet: none is recorded.
    assert_eq!(json_run(dir, &[], &["steady"]).run.code(), Some(0));
    let commit = git(&["commit", "-q", "--allow-empty", "-m", "first"]).unwrap();
    assert!(commit.status.success(), "{commit:?}");
    let head = git(&["rev-parse", "HEAD"]).unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
    assert_eq!(json_run(dir, &[], &["steady"]).run.code(), Some(0));
    let runs = history_json(dir, &[]);
    assert_eq!(runs[0]["commit"].as_str(), Some(head.as_str()), "{runs:?}");
    assert_eq!(runs[1]["commit"], Value::Null, "{runs:?}");
}

#[test]
fn last_failed_runs_exactly_the_tests_that_failed_last_time() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    let first = json_run(dir, &[("HISTORY_FAIL", "flips,other")], &["--no-fail-fast"]);
    assert_eq!(first.run.code(), Some(100), "{}", first.run);
    assert_eq!(names(&first).len(), 6);
    // They fail again: only they ran.
    let again = json_run(dir, &[("HISTORY_FAIL", "flips,other")], &["--last-failed"]);
    assert_eq!(again.run.code(), Some(100), "{}", again.run);
    assert_eq!(names(&again), BTreeSet::from([FLIPS.into(), OTHER.into()]));
    assert!(
        again
            .run
            .stderr
            .contains("History running the 2 tests that failed in run"),
        "{}",
        again.run
    );
    assert!(again.run.stderr.contains("4 filtered out"), "{}", again.run);
    // Now flips passes: --lf runs both, then only other.
    let fixed = json_run(
        dir,
        &[("HISTORY_FAIL", "other")],
        &["--lf", "--no-fail-fast"],
    );
    assert_eq!(names(&fixed), BTreeSet::from([FLIPS.into(), OTHER.into()]));
    let last = json_run(dir, &[], &["--lf"]);
    assert_eq!(last.run.code(), Some(0), "{}", last.run);
    assert_eq!(names(&last), BTreeSet::from([OTHER.into()]));
    // Nothing failed last time: everything runs, and the run says why.
    let all = json_run(dir, &[], &["--last-failed"]);
    assert_eq!(all.run.code(), Some(0), "{}", all.run);
    assert_eq!(names(&all).len(), 6);
    assert!(
        all.run.stderr.contains("no test failed in run")
            && all
                .run
                .stderr
                .contains("running every selected test (--last-failed)"),
        "{}",
        all.run
    );
}

/// On one worker the tests run in list order (one process, libtest's order), `other`
/// fourth; with `--failed-first`, having failed last time, it starts first, in a process
/// of its own, before the rest. On two workers it starts before anything else its
/// worker runs, while the other worker starts on the rest.
#[test]
fn failed_first_starts_the_failed_tests_first() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    let failing = [("HISTORY_SLOW_MS", "300"), ("HISTORY_FAIL", "other")];
    let failed = json_run(dir, &failing, &["-j", "1", "--no-fail-fast"]);
    assert_eq!(failed.run.code(), Some(100), "{}", failed.run);
    let order = started(&failed);
    assert_ne!(order[0], OTHER, "without --failed-first: {order:?}");

    let ff = json_run(
        dir,
        &failing,
        &["-j", "1", "--failed-first", "--no-fail-fast"],
    );
    let order = started(&ff);
    assert_eq!(order[0], OTHER, "{order:?}\n{}", ff.run);
    assert_eq!(order.len(), 6);
    assert!(!order[1..].contains(&OTHER.to_owned()), "{order:?}");
    assert!(
        ff.run
            .stderr
            .contains("History the test that failed in run")
            && ff.run.stderr.contains("runs first (--failed-first)"),
        "{}",
        ff.run
    );
    // Two workers: the failed test is in the first chunk, alone, and starts before the
    // rest, which the other worker begins.
    let two = json_run(dir, &failing, &["-j", "2", "--ff", "--no-fail-fast"]);
    let other = two.tests.iter().find(|t| t.name == OTHER).unwrap();
    let start = other.start_secs.unwrap();
    let worker = other.worker.clone();
    for t in two
        .tests
        .iter()
        .filter(|t| t.worker == worker && t.name != OTHER)
    {
        assert!(t.start_secs.unwrap() > start, "{t:?} before {other:?}");
    }
}

/// A run killed with SIGKILL while its tests run leaves the history as the runs before
/// it left it: readable, and appended to by the next run.
#[cfg(unix)]
#[test]
fn a_run_killed_mid_run_leaves_a_readable_history() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    for _ in 0..2 {
        assert_eq!(json_run(dir, &[], &["-j", "2"]).run.code(), Some(0));
    }
    let mut cmd = xpar(dir);
    cmd.args(["-j", "2", "--slow-timeout", "200ms"])
        .env("HISTORY_HANG", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start cargo xpar");
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen += &line;
        seen.push('\n');
        if line.contains("SLOW") && line.contains("tests::hangs") {
            break;
        }
    }
    assert!(
        seen.contains("SLOW"),
        "the run never got to its hanging test:\n{seen}"
    );
    let kill = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal: {status:?}");

    let runs = history_json(dir, &[]);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r["passed"] == 6), "{runs:?}");
    assert_eq!(json_run(dir, &[], &["-j", "2"]).run.code(), Some(0));
    assert_eq!(history_json(dir, &[]).len(), 3);
    assert_eq!(history_json(dir, &["--test", "tests::hangs"]).len(), 3);
}

/// `history-runs = 3` in the config file: after five runs the last three are kept, with
/// their results and nothing of the others'.
#[test]
fn the_history_keeps_the_last_runs_the_config_file_says() {
    let fixture = FixtureCopy::new("history");
    let dir = fixture.path();
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(
        dir.join(".config/xpar.toml"),
        "[profile.default]\nhistory-runs = 3\n",
    )
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = json_run(dir, &[], &["steady"]);
        assert_eq!(r.run.code(), Some(0), "{}", r.run);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        ids.push(report["run-id"].as_str().unwrap().to_owned());
    }
    let runs = history_json(dir, &["--runs", "100"]);
    let kept: Vec<&str> = runs.iter().map(|r| r["run-id"].as_str().unwrap()).collect();
    assert_eq!(kept, [&ids[4], &ids[3], &ids[2]]);
    let results = history_json(dir, &["--test", "tests::steady", "--runs", "100"]);
    assert_eq!(results.len(), 3);
    std::fs::write(
        dir.join(".config/xpar.toml"),
        "[profile.default]\nhistory-runs = 0\n",
    )
    .unwrap();
    let r = Run::of(xpar(dir).arg("steady"));
    assert_eq!(r.code(), Some(2), "{r}");
    assert!(r.stderr.contains("history-runs: must be at least 1"), "{r}");
}
