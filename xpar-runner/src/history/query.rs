//! What `cargo xpar history` asks of the run history, over the last N recorded runs: the
//! runs themselves, the flaky tests, the slowest tests and whether they got slower, and
//! one test's recent results.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;

use super::db::HistoryDb;
use crate::errors::HistoryError;

/// A test whose recent median is this much above its older median got slower...
const SLOWER_RATIO: f64 = 1.2;
/// ...if that is also at least this many seconds more: a test of 0.1 ms that takes
/// 0.2 ms is noise, not a regression.
const SLOWER_MIN_SECS: f64 = 0.001;

/// One recorded run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunSummary {
    pub run_id: String,
    pub started: String,
    pub commit: Option<String>,
    pub wall_secs: f64,
    pub workers: usize,
    pub passed: usize,
    pub flaky: usize,
    pub failed: usize,
    pub ignored: usize,
    pub not_run: usize,
}

/// A test that both passed and failed in the runs looked at.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FlakyTest {
    pub binary_id: String,
    pub name: String,
    /// Results in which it ran (passed or failed); one per run, one per worker under
    /// `--dist each`.
    pub runs: usize,
    /// Results in which it failed: at the end, or before passing on a retry.
    pub failures: usize,
    /// Of those, the ones that passed on a retry.
    pub flaky: usize,
    /// `failures / runs`.
    pub failure_rate: f64,
    /// The last run in which it failed.
    pub last_failed: String,
}

/// A slow test, and its trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SlowTest {
    pub binary_id: String,
    pub name: String,
    pub runs: usize,
    /// Over every run looked at.
    pub median_secs: f64,
    /// Over the older half of the runs looked at, if it ran in any of them.
    pub older_median_secs: Option<f64>,
    /// Over the newer half, if it ran in any of them.
    pub recent_median_secs: Option<f64>,
    /// `recent / older - 1`, when both are known and `older` is not zero.
    pub change: Option<f64>,
    /// The recent median is more than 20 % (and 1 ms) above the older one.
    pub slower: bool,
}

/// One result of a test in a recorded run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TestResult {
    pub run_id: String,
    pub started: String,
    pub commit: Option<String>,
    pub binary_id: String,
    pub name: String,
    /// `passed`, `flaky` (passed on a retry), `failed`, `ignored` or `not-run`.
    pub status: String,
    pub duration_secs: f64,
    pub attempts: usize,
    pub worker: Option<String>,
}

impl HistoryDb {
    /// The row id of the oldest of the last `runs` runs (0 when there is none).
    fn window_start(&self, runs: usize) -> Result<i64, HistoryError> {
        (self.conn)
            .query_row(
                "SELECT COALESCE(MIN(id), 0) FROM
                    (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)",
                [runs],
                |r| r.get(0),
            )
            .map_err(|e| self.read_error(e))
    }

    /// The last `runs` runs, newest first.
    pub fn runs(&self, runs: usize) -> Result<Vec<RunSummary>, HistoryError> {
        let read = || -> rusqlite::Result<Vec<RunSummary>> {
            let mut stmt = self.conn.prepare(
                "SELECT run_id, started, git_commit, wall_secs, workers, passed, flaky,
                    failed, ignored, not_run
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([runs], |r| {
                Ok(RunSummary {
                    run_id: r.get(0)?,
                    started: r.get(1)?,
                    commit: r.get(2)?,
                    wall_secs: r.get(3)?,
                    workers: r.get(4)?,
                    passed: r.get(5)?,
                    flaky: r.get(6)?,
                    failed: r.get(7)?,
                    ignored: r.get(8)?,
                    not_run: r.get(9)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.read_error(e))
    }

    /// The tests that passed in some of the last `runs` runs and failed in some (a pass
    /// after a failed attempt counts as both), highest failure rate first.
    pub fn flaky(&self, runs: usize) -> Result<Vec<FlakyTest>, HistoryError> {
        let start = self.window_start(runs)?;
        let read = || -> rusqlite::Result<Vec<FlakyTest>> {
            let mut stmt = self.conn.prepare(
                "SELECT f.binary_id, f.name, f.runs, f.failures, f.flaky, ru.run_id
                 FROM (
                    SELECT binary_id, name,
                        COUNT(*) AS runs,
                        SUM(status = 'failed' OR flaky) AS failures,
                        SUM(flaky) AS flaky,
                        SUM(status = 'passed') AS passes,
                        MAX(CASE WHEN status = 'failed' OR flaky THEN run END) AS last_failed
                    FROM results
                    WHERE run >= ?1 AND status IN ('passed', 'failed')
                    GROUP BY binary_id, name
                 ) f
                 JOIN runs ru ON ru.id = f.last_failed
                 WHERE f.passes > 0 AND f.failures > 0
                 ORDER BY CAST(f.failures AS REAL) / f.runs DESC, f.failures DESC,
                    f.binary_id, f.name",
            )?;
            let rows = stmt.query_map([start], |r| {
                let runs: usize = r.get(2)?;
                let failures: usize = r.get(3)?;
                Ok(FlakyTest {
                    binary_id: r.get(0)?,
                    name: r.get(1)?,
                    runs,
                    failures,
                    flaky: r.get(4)?,
                    failure_rate: failures as f64 / runs as f64,
                    last_failed: r.get(5)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.read_error(e))
    }

    /// The `top` tests with the longest median duration over the last `runs` runs, with
    /// the median of the newer half of those runs against the older half's.
    pub fn slowest(&self, runs: usize, top: usize) -> Result<Vec<SlowTest>, HistoryError> {
        let start = self.window_start(runs)?;
        type Row = (i64, (String, String), f64);
        let read = || -> rusqlite::Result<(Vec<i64>, Vec<Row>)> {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM runs WHERE id >= ?1 ORDER BY id")?;
            let window = stmt
                .query_map([start], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            let mut stmt = self.conn.prepare(
                "SELECT run, binary_id, name, duration_secs FROM results
                 WHERE run >= ?1 AND status IN ('passed', 'failed')",
            )?;
            let rows = stmt
                .query_map([start], |r| {
                    Ok((r.get(0)?, (r.get(1)?, r.get(2)?), r.get(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((window, rows))
        };
        let (window, rows) = read().map_err(|e| self.read_error(e))?;
        // The newer half: the second half of the runs, the middle one with it.
        let recent_from = window.get(window.len() / 2).copied().unwrap_or(i64::MAX);
        let mut by_test: HashMap<(String, String), (Vec<f64>, Vec<f64>)> = HashMap::new();
        for (run, test, secs) in rows {
            let (older, recent) = by_test.entry(test).or_default();
            if run >= recent_from {
                recent.push(secs);
            } else {
                older.push(secs);
            }
        }
        let mut slow: Vec<SlowTest> = by_test
            .into_iter()
            .map(|((binary_id, name), (older, recent))| SlowTest {
                binary_id,
                name,
                ..trend(older, recent)
            })
            .collect();
        slow.sort_by(|a, b| {
            (b.median_secs.total_cmp(&a.median_secs))
                .then_with(|| (&a.binary_id, &a.name).cmp(&(&b.binary_id, &b.name)))
        });
        slow.truncate(top);
        Ok(slow)
    }

    /// The results in the last `runs` runs of the tests named `name` (also as
    /// `BINARY-ID NAME`), else of those whose name contains it; newest first.
    pub fn test_results(&self, name: &str, runs: usize) -> Result<Vec<TestResult>, HistoryError> {
        let start = self.window_start(runs)?;
        let exact = "r.name = ?2 OR (r.binary_id || ' ' || r.name) = ?2";
        let mut results = self.results_where(start, exact, name)?;
        if results.is_empty() {
            results = self.results_where(start, "instr(r.name, ?2) > 0", name)?;
        }
        if results.is_empty() {
            return Err(HistoryError::NoSuchTest {
                name: name.to_owned(),
                runs,
            });
        }
        Ok(results)
    }

    fn results_where(
        &self,
        start: i64,
        test: &str,
        name: &str,
    ) -> Result<Vec<TestResult>, HistoryError> {
        let read = || -> rusqlite::Result<Vec<TestResult>> {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT ru.run_id, ru.started, ru.git_commit, r.binary_id, r.name, r.status,
                    r.flaky, r.duration_secs, r.attempts, r.worker
                 FROM results r
                 JOIN runs ru ON ru.id = r.run
                 WHERE r.run >= ?1 AND ({test})
                 ORDER BY r.run DESC, r.seq"
            ))?;
            let rows = stmt.query_map(params![start, name], |r| {
                let status: String = r.get(5)?;
                let flaky: bool = r.get(6)?;
                Ok(TestResult {
                    run_id: r.get(0)?,
                    started: r.get(1)?,
                    commit: r.get(2)?,
                    binary_id: r.get(3)?,
                    name: r.get(4)?,
                    status: if flaky { "flaky".to_owned() } else { status },
                    duration_secs: r.get(7)?,
                    attempts: r.get(8)?,
                    worker: r.get(9)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.read_error(e))
    }
}

/// A test's durations in the older and the newer half of the runs, summed up.
fn trend(older: Vec<f64>, recent: Vec<f64>) -> SlowTest {
    let runs = older.len() + recent.len();
    let all: Vec<f64> = older.iter().chain(&recent).copied().collect();
    let median_secs = median(all).unwrap_or(0.0);
    let older = median(older);
    let recent = median(recent);
    let change = match (older, recent) {
        (Some(o), Some(r)) if o > 0.0 => Some(r / o - 1.0),
        _ => None,
    };
    let slower = matches!((older, recent),
        (Some(o), Some(r)) if r > o * SLOWER_RATIO && r - o >= SLOWER_MIN_SECS);
    SlowTest {
        binary_id: String::new(),
        name: String::new(),
        runs,
        median_secs,
        older_median_secs: older,
        recent_median_secs: recent,
        change,
        slower,
    }
}

/// The middle value, or the mean of the two middle ones.
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}
