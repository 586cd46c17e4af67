//! The run history against a real SQLite file: runs appended and read back, the estimates,
//! the retention bound, a write that fails halfway, the queries of `cargo xpar history`.

use super::*;
use crate::history::query::SlowTest;
use xpar_metadata::{BinaryId, DistMode, ReportAttempt, ReportCounts, REPORT_FORMAT_VERSION};

/// A test of a report: `status` with `previous` failed attempts before it.
fn test(name: &str, status: ReportTestStatus, secs: f64, previous: usize) -> ReportTest {
    let ran = matches!(status, ReportTestStatus::Passed | ReportTestStatus::Failed);
    ReportTest {
        binary_id: BinaryId::new("app"),
        name: name.into(),
        status,
        message: match status {
            ReportTestStatus::Failed => Some("test failed".into()),
            ReportTestStatus::NotRun => Some("the run stopped".into()),
            _ => None,
        },
        worker: ran.then(|| "gw1".to_owned()),
        start_secs: ran.then_some(0.5),
        duration_secs: secs,
        output: String::new(),
        flaky: status == ReportTestStatus::Passed && previous > 0,
        previous: (0..previous)
            .map(|_| ReportAttempt {
                message: "test failed".into(),
                duration_secs: secs,
                output: String::new(),
            })
            .collect(),
        shard: None,
        machine: None,
        cpu_secs: ran.then_some(secs / 2.0),
        peak_rss_bytes: ran.then_some(1 << 20),
    }
}

fn report(tests: Vec<ReportTest>) -> RunReport {
    let count = |s| tests.iter().filter(|t| t.status == s).count();
    RunReport {
        format_version: REPORT_FORMAT_VERSION,
        dist: DistMode::Load,
        workers: 2,
        wall_secs: 1.5,
        cancelled: false,
        cancel_reason: None,
        counts: ReportCounts {
            passed: count(ReportTestStatus::Passed),
            flaky: tests.iter().filter(|t| t.flaky).count(),
            failed: count(ReportTestStatus::Failed),
            ignored: count(ReportTestStatus::Ignored),
            not_run: count(ReportTestStatus::NotRun),
            filtered_out: 3,
        },
        tests,
        run_id: None,
        partition: None,
        build_id: None,
        selection: Vec::new(),
        shards: Vec::new(),
        machines: Vec::new(),
    }
}

/// A history in a temp dir, and a way to append runs to it.
struct Fixture {
    _dir: tempfile::TempDir,
    db: HistoryDb,
    runs: usize,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = HistoryDb::open(&path(dir.path())).unwrap();
        Fixture {
            _dir: dir,
            db,
            runs: 0,
        }
    }

    /// Appends a run of `tests`, keeping `keep` runs; its run id.
    fn append(&mut self, tests: Vec<ReportTest>, keep: usize) -> String {
        self.runs += 1;
        let id = format!("run-{:02}", self.runs);
        let report = report(tests);
        self.db
            .record(&RunToRecord {
                report: &report,
                run_id: &id,
                started: "2026-12-01T00:00:00Z",
                commit: Some("abc123"),
                options: r#"{"jobs": 2}"#,
                instrumented: false,
                estimates: None,
                keep_runs: keep,
            })
            .unwrap();
        id
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every kept result: (run row id, binary id, result), newest run first.
    fn results(&self) -> Vec<(i64, String, results::StoredResult<'static>)> {
        let mut all = Vec::new();
        (self.db)
            .scan(0, &mut |run, binary, r| {
                let owned = results::StoredResult {
                    name: r.name.to_string().into(),
                    status: r.status.to_string().into(),
                    worker: r.worker.as_deref().map(|w| w.to_owned().into()),
                    message: r.message.as_deref().map(|m| m.to_owned().into()),
                    ..r.clone()
                };
                all.push((run, binary.to_owned(), owned));
            })
            .unwrap();
        all
    }
}

use ReportTestStatus::{Failed, Ignored, NotRun, Passed};

#[test]
fn a_run_is_read_back_as_its_report_said() {
    let mut f = Fixture::new();
    assert_eq!(f.db.last_run().unwrap(), None);
    let id = f.append(
        vec![
            test("ok", Passed, 0.25, 0),
            test("bad", Failed, 0.5, 1),
            test("retried", Passed, 0.1, 2),
            test("skipped", Ignored, 0.0, 0),
            test("unrun", NotRun, 0.0, 0),
        ],
        DEFAULT_KEEP_RUNS,
    );
    let runs = f.db.runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(
        (r.run_id.as_str(), r.commit.as_deref()),
        (id.as_str(), Some("abc123"))
    );
    assert_eq!(
        (r.passed, r.flaky, r.failed, r.ignored, r.not_run),
        (2, 1, 1, 1, 1)
    );
    assert_eq!(
        f.db.last_run().unwrap(),
        Some(LastRun {
            run_id: id.clone(),
            failed: vec![("app".into(), "bad".into())],
        })
    );
    let retried = f.db.test_results("retried", 10).unwrap();
    assert_eq!(retried.len(), 1);
    let t = &retried[0];
    assert_eq!((t.status.as_str(), t.attempts), ("flaky", 3));
    assert_eq!((t.duration_secs, t.worker.as_deref()), (0.1, Some("gw1")));
    // Every column of the report's test is kept; only failures keep their message.
    let kept = f.results();
    let ok = kept.iter().find(|r| r.2.name == "ok").unwrap();
    assert_eq!(
        (ok.2.cpu_secs, ok.2.peak_rss_bytes),
        (Some(0.125), Some(1 << 20))
    );
    let messages: Vec<_> = kept.iter().filter_map(|r| r.2.message.clone()).collect();
    assert_eq!(messages, ["test failed"]);
    let seqs: Vec<u32> = kept.iter().map(|r| r.2.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4], "in the report's order");
    let options: String = (f.db.conn)
        .query_row("SELECT options FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(options, r#"{"jobs": 2}"#);
}

#[test]
fn estimates_round_trip_and_instrumented_ones_are_kept_apart() {
    let mut f = Fixture::new();
    let mut estimates = History::default();
    estimates.durations.set("app", "ok", 0.25);
    estimates.durations.set("app", "bad", 0.5);
    estimates.durations.set("lib", "untouched", 9.0);
    estimates.processes.insert(
        "app".into(),
        ProcessCost {
            mean_test: 0.01,
            overhead: 0.003,
        },
    );
    let report = report(vec![
        test("ok", Passed, 0.25, 0),
        test("bad", Failed, 0.5, 0),
    ]);
    f.db.record(&RunToRecord {
        report: &report,
        run_id: "r1",
        started: "2026-12-01T00:00:00Z",
        commit: None,
        options: "{}",
        instrumented: true,
        estimates: Some(&estimates),
        keep_runs: 10,
    })
    .unwrap();
    assert!(f.db.estimates(false).unwrap().durations.is_empty());
    let known = f.db.estimates(true).unwrap();
    assert_eq!(known.durations.get("app", "ok"), Some(0.25));
    assert_eq!(known.durations.get("app", "bad"), Some(0.5));
    // A binary the run did not measure is not written.
    assert_eq!(known.durations.get("lib", "untouched"), None);
    assert_eq!(known.processes, estimates.processes);
}

#[test]
fn only_the_last_runs_are_kept_with_their_results() {
    let mut f = Fixture::new();
    let ids: Vec<String> = (0..5)
        .map(|_| {
            f.append(
                vec![test("a", Passed, 0.1, 0), test("b", Passed, 0.1, 0)],
                3,
            )
        })
        .collect();
    let kept: Vec<String> =
        f.db.runs(100)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
    assert_eq!(kept, [ids[4].clone(), ids[3].clone(), ids[2].clone()]);
    let kept = f.results();
    assert_eq!(kept.len(), 6);
    let runs: std::collections::BTreeSet<i64> = kept.iter().map(|r| r.0).collect();
    assert_eq!(runs.len(), 3);
    assert_eq!(f.count("SELECT COUNT(*) FROM run_results"), 3);
}

/// A write that fails halfway (a duration JSON cannot hold, after the run's row and a
/// first binary's results went in) leaves the history as it was: one transaction per
/// run.
#[test]
fn a_run_that_fails_to_be_written_leaves_nothing_behind() {
    let mut f = Fixture::new();
    f.append(vec![test("a", Passed, 0.1, 0)], 10);
    let mut tests: Vec<ReportTest> = (0..150)
        .map(|i| test(&format!("t{i}"), Passed, 0.1, 0))
        .collect();
    let mut broken = test("c", Passed, f64::NAN, 0);
    broken.binary_id = BinaryId::new("zzz");
    tests.push(broken);
    let broken = report(tests);
    let err =
        f.db.record(&RunToRecord {
            report: &broken,
            run_id: "broken",
            started: "2026-12-01T00:00:00Z",
            commit: None,
            options: "{}",
            instrumented: false,
            estimates: None,
            keep_runs: 10,
        })
        .unwrap_err();
    assert!(matches!(err, HistoryError::Write { .. }), "{err:?}");
    assert_eq!(f.count("SELECT COUNT(*) FROM runs"), 1);
    assert_eq!(f.results().len(), 1);
}

#[test]
fn flaky_tests_are_those_that_passed_and_failed_highest_rate_first() {
    let mut f = Fixture::new();
    // flips: failed 2 of 4; retried: failed once before passing, 1 of 4; broken never
    // passes and steady never fails: neither is flaky.
    for i in 0..4 {
        let flips = if i % 2 == 0 { Failed } else { Passed };
        let retries = usize::from(i == 3);
        f.append(
            vec![
                test("flips", flips, 0.1, 0),
                test("retried", Passed, 0.1, retries),
                test("broken", Failed, 0.1, 0),
                test("steady", Passed, 0.1, 0),
                test("skipped", Ignored, 0.0, 0),
            ],
            10,
        );
    }
    let flaky = f.db.flaky(20).unwrap();
    let summary: Vec<(&str, usize, usize, usize, f64, &str)> = (flaky.iter())
        .map(|t| {
            let last = t.last_failed.as_str();
            (
                t.name.as_str(),
                t.runs,
                t.failures,
                t.flaky,
                t.failure_rate,
                last,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("flips", 4, 2, 0, 0.5, "run-03"),
            ("retried", 4, 1, 1, 0.25, "run-04")
        ]
    );
    // Over the last two runs only: flips failed once (run 3), retried once (run 4).
    let recent = f.db.flaky(2).unwrap();
    let rates: Vec<(&str, f64)> = (recent.iter())
        .map(|t| (t.name.as_str(), t.failure_rate))
        .collect();
    assert_eq!(rates, [("flips", 0.5), ("retried", 0.5)]);
}

#[test]
fn the_slowest_tests_with_their_trend() {
    let mut f = Fixture::new();
    // grows: 0.1 s in the older half of the runs, 0.3 s in the newer; still: 0.2 s.
    for i in 0..6 {
        let grows = if i < 3 { 0.1 } else { 0.3 };
        f.append(
            vec![
                test("grows", Passed, grows, 0),
                test("still", Passed, 0.2, 0),
                test("quick", Passed, 0.001, 0),
                test("skipped", Ignored, 5.0, 0),
            ],
            10,
        );
    }
    let slow = f.db.slowest(20, 2).unwrap();
    let grows = SlowTest {
        binary_id: "app".into(),
        name: "grows".into(),
        runs: 6,
        median_secs: 0.2,
        older_median_secs: Some(0.1),
        recent_median_secs: Some(0.3),
        change: Some(0.3 / 0.1 - 1.0),
        slower: true,
    };
    assert_eq!(slow.len(), 2);
    assert_eq!(slow[0].name, "grows", "{slow:?}");
    assert_eq!(slow[0], grows);
    assert_eq!(slow[1].name, "still");
    assert!(!slow[1].slower && slow[1].change == Some(0.0), "{slow:?}");
    // One run: nothing to compare with.
    let one = f.db.slowest(1, 1).unwrap();
    assert_eq!(one[0].median_secs, 0.3);
    assert_eq!((one[0].older_median_secs, one[0].slower), (None, false));
}

#[test]
fn a_test_is_found_by_name_then_by_part_of_it() {
    let mut f = Fixture::new();
    for _ in 0..3 {
        f.append(
            vec![
                test("mod::alpha", Passed, 0.1, 0),
                test("mod::beta", Failed, 0.1, 0),
            ],
            10,
        );
    }
    let exact = f.db.test_results("mod::alpha", 2).unwrap();
    assert_eq!(exact.len(), 2, "the last two runs");
    assert_eq!(exact[0].run_id, "run-03", "newest first");
    assert_eq!(f.db.test_results("app mod::beta", 10).unwrap().len(), 3);
    let both = f.db.test_results("mod::", 1).unwrap();
    let names: Vec<&str> = both.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["mod::alpha", "mod::beta"]);
    let err = f.db.test_results("gamma", 5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no test named `gamma` in the last 5 recorded runs"
    );
}

#[test]
fn a_history_that_cannot_be_used_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(dir.path());
    let err = HistoryDb::open_existing(&p).err().unwrap();
    assert!(matches!(err, HistoryError::NoHistory { .. }), "{err:?}");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        &p,
        "not a database, but long enough to look like one's header",
    )
    .unwrap();
    let err = HistoryDb::open(&p).err().unwrap();
    assert!(err.to_string().contains("history.db"), "{err}");
    std::fs::remove_file(&p).unwrap();
    drop(HistoryDb::open(&p).unwrap());
    let conn = Connection::open(&p).unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);
    let err = HistoryDb::open(&p).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "the run history {} has format version 7, not 2: another version of cargo xpar wrote it",
            p.display()
        )
    );
}

/// The schema of format version 1, a row per result, as earlier versions created it.
const SCHEMA_1: &str = "
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, started TEXT NOT NULL,
    git_commit TEXT, options TEXT NOT NULL, instrumented INTEGER NOT NULL,
    wall_secs REAL NOT NULL, workers INTEGER NOT NULL, passed INTEGER NOT NULL,
    flaky INTEGER NOT NULL, failed INTEGER NOT NULL, ignored INTEGER NOT NULL,
    not_run INTEGER NOT NULL, filtered_out INTEGER NOT NULL, cancel_reason TEXT
);
CREATE TABLE results (
    run INTEGER NOT NULL, seq INTEGER NOT NULL, binary_id TEXT NOT NULL, name TEXT NOT NULL,
    status TEXT NOT NULL, flaky INTEGER NOT NULL, duration_secs REAL NOT NULL,
    attempts INTEGER NOT NULL, worker TEXT, start_secs REAL, cpu_secs REAL,
    peak_rss_bytes INTEGER, message TEXT, PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE TABLE estimates (
    binary_id TEXT NOT NULL, instrumented INTEGER NOT NULL, durations TEXT NOT NULL,
    cores TEXT, mean_test_secs REAL, overhead_secs REAL,
    PRIMARY KEY (binary_id, instrumented)
) WITHOUT ROWID;
INSERT INTO runs VALUES
    (1, 'old-1', '2026-11-01T00:00:00Z', NULL, '{}', 0, 1.0, 2, 2, 0, 1, 0, 0, 0, NULL),
    (2, 'old-2', '2026-11-02T00:00:00Z', 'abc', '{}', 0, 1.0, 2, 3, 1, 0, 0, 0, 0, NULL);
INSERT INTO results VALUES
    (1, 0, 'app', 'flips', 'failed', 0, 0.5, 1, 'gw0', 0.0, 0.25, 1048576, 'boom'),
    (1, 1, 'app', 'steady', 'passed', 0, 0.25, 1, 'gw1', 0.0, NULL, NULL, NULL),
    (1, 2, 'lib', 'other', 'passed', 0, 0.125, 1, 'gw0', 0.5, NULL, NULL, NULL),
    (2, 0, 'app', 'flips', 'passed', 1, 0.75, 2, 'gw0', 0.0, 0.5, 2097152, NULL),
    (2, 1, 'app', 'steady', 'passed', 0, 0.25, 1, 'gw1', 0.0, NULL, NULL, NULL),
    (2, 2, 'lib', 'other', 'passed', 0, 0.125, 1, 'gw0', 0.5, NULL, NULL, NULL);
PRAGMA user_version = 1;
";

/// A history of format version 1 is rewritten as version 2 when opened, every result
/// kept, and the queries find what they found.
#[test]
fn a_version_1_history_is_migrated_with_every_result() {
    let dir = tempfile::tempdir().unwrap();
    let p = path(dir.path());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let old = Connection::open(&p).unwrap();
    old.execute_batch(SCHEMA_1).unwrap();
    let columns = "run, binary_id, seq, name, status, flaky, duration_secs, attempts, worker,
        start_secs, cpu_secs, peak_rss_bytes, message";
    let mut stmt = old
        .prepare(&format!(
            "SELECT {columns} FROM results ORDER BY run DESC, binary_id, seq"
        ))
        .unwrap();
    let before: Vec<String> = stmt
        .query_map([], |r| {
            let values: Vec<rusqlite::types::Value> =
                (0..13).map(|i| r.get(i)).collect::<Result<_, _>>()?;
            Ok(format!("{values:?}"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(stmt);
    drop(old);

    let f = Fixture {
        db: HistoryDb::open_existing(&p).unwrap(),
        _dir: dir,
        runs: 2,
    };
    assert_eq!(f.db.version().unwrap(), FORMAT_VERSION);
    use rusqlite::types::Value;
    let opt_text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_owned()));
    let opt_real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    let after: Vec<String> = (f.results().into_iter())
        .map(|(run, binary, r)| {
            let values = vec![
                Value::Integer(run),
                Value::Text(binary),
                Value::Integer(r.seq.into()),
                Value::Text(r.name.to_string()),
                Value::Text(r.status.to_string()),
                Value::Integer(r.flaky.into()),
                Value::Real(r.duration_secs),
                Value::Integer(r.attempts.into()),
                opt_text(r.worker.as_deref()),
                opt_real(r.start_secs),
                opt_real(r.cpu_secs),
                r.peak_rss_bytes
                    .map_or(Value::Null, |b| Value::Integer(b.try_into().unwrap())),
                opt_text(r.message.as_deref()),
            ];
            format!("{values:?}")
        })
        .collect();
    assert_eq!(after, before, "every result, every column, as it was");
    assert_eq!(
        f.count("SELECT COUNT(*) FROM run_results"),
        4,
        "a row per binary of a run"
    );
    let old_table = "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'results'";
    assert_eq!(f.count(old_table), 0);
    let flaky = f.db.flaky(10).unwrap();
    assert_eq!(flaky.len(), 1);
    assert_eq!((flaky[0].name.as_str(), flaky[0].failures), ("flips", 2));
    assert_eq!(
        flaky[0].last_failed, "old-2",
        "failed before passing on a retry"
    );
    let last = f.db.last_run().unwrap().unwrap();
    assert_eq!((last.run_id.as_str(), last.failed.len()), ("old-2", 0));
    drop(f);
    // Opened again, it is left as it is.
    let again = HistoryDb::open(&p).unwrap();
    assert_eq!(again.version().unwrap(), FORMAT_VERSION);
}
