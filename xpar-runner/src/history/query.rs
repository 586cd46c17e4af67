//! What `cargo xpar history` asks of the run history, over the last N recorded runs: the
//! runs themselves, the flaky tests, the slowest tests and whether they got slower, and
//! one test's recent results.

use std::collections::{BTreeMap, HashMap};

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
        let ids = self.runs_from(start)?;
        #[derive(Default)]
        struct Tally {
            runs: usize,
            failures: usize,
            flaky: usize,
            passes: usize,
            /// Runs are scanned newest first: the first failure seen is the last.
            last_failed: Option<i64>,
        }
        let mut tallies: ByTest<Tally> = BTreeMap::new();
        self.scan(start, &mut |run, binary, r| {
            if !r.ran() {
                return;
            }
            let t = tally(&mut tallies, binary, &r.name);
            let failed = r.status == "failed" || r.flaky;
            t.runs += 1;
            t.failures += usize::from(failed);
            t.flaky += usize::from(r.flaky);
            t.passes += usize::from(r.status == "passed");
            if failed && t.last_failed.is_none() {
                t.last_failed = Some(run);
            }
        })
        .map_err(|e| self.read_error(e))?;
        let mut flaky = Vec::new();
        for (binary_id, tests) in tallies {
            for (name, t) in tests {
                let Some(last) = t.last_failed.and_then(|run| ids.get(&run)) else {
                    continue;
                };
                if t.passes == 0 || t.failures == 0 {
                    continue;
                }
                flaky.push(FlakyTest {
                    binary_id: binary_id.clone(),
                    name,
                    runs: t.runs,
                    failures: t.failures,
                    flaky: t.flaky,
                    failure_rate: t.failures as f64 / t.runs as f64,
                    last_failed: last.run_id.clone(),
                });
            }
        }
        flaky.sort_by(|a, b| {
            (b.failure_rate.total_cmp(&a.failure_rate))
                .then(b.failures.cmp(&a.failures))
                .then_with(|| (&a.binary_id, &a.name).cmp(&(&b.binary_id, &b.name)))
        });
        Ok(flaky)
    }

    /// The runs from row id `start` on, by row id.
    fn runs_from(&self, start: i64) -> Result<HashMap<i64, RunIds>, HistoryError> {
        let read = || -> rusqlite::Result<HashMap<i64, RunIds>> {
            let mut stmt = self
                .conn
                .prepare("SELECT id, run_id, started, git_commit FROM runs WHERE id >= ?1")?;
            let rows = stmt.query_map([start], |r| {
                let ids = RunIds {
                    run_id: r.get(1)?,
                    started: r.get(2)?,
                    commit: r.get(3)?,
                };
                Ok((r.get(0)?, ids))
            })?;
            rows.collect()
        };
        read().map_err(|e| self.read_error(e))
    }

    /// The `top` tests with the longest median duration over the last `runs` runs, with
    /// the median of the newer half of those runs against the older half's.
    pub fn slowest(&self, runs: usize, top: usize) -> Result<Vec<SlowTest>, HistoryError> {
        let start = self.window_start(runs)?;
        let mut window: Vec<i64> = self.runs_from(start)?.into_keys().collect();
        window.sort_unstable();
        // The newer half: the second half of the runs, the middle one with it.
        let recent_from = window.get(window.len() / 2).copied().unwrap_or(i64::MAX);
        let mut by_test: ByTest<(Vec<f64>, Vec<f64>)> = BTreeMap::new();
        self.scan(start, &mut |run, binary, r| {
            if !r.ran() {
                return;
            }
            let (older, recent) = tally(&mut by_test, binary, &r.name);
            if run >= recent_from {
                recent.push(r.duration_secs);
            } else {
                older.push(r.duration_secs);
            }
        })
        .map_err(|e| self.read_error(e))?;
        let mut slow: Vec<SlowTest> = Vec::new();
        for (binary_id, tests) in by_test {
            for (name, (older, recent)) in tests {
                slow.push(SlowTest {
                    binary_id: binary_id.clone(),
                    name,
                    ..trend(older, recent)
                });
            }
        }
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
        let ids = self.runs_from(start)?;
        let exact = |binary: &str, test: &str| {
            test == name
                || name
                    .strip_prefix(binary)
                    .and_then(|rest| rest.strip_prefix(' '))
                    == Some(test)
        };
        let mut results = self.results_where(start, &ids, &exact)?;
        if results.is_empty() {
            results = self.results_where(start, &ids, &|_, test| test.contains(name))?;
        }
        if results.is_empty() {
            return Err(HistoryError::NoSuchTest {
                name: name.to_owned(),
                runs,
            });
        }
        Ok(results)
    }

    /// The results of the tests `wanted` picks, newest run first, in each run in the
    /// order of its report.
    fn results_where(
        &self,
        start: i64,
        ids: &HashMap<i64, RunIds>,
        wanted: &dyn Fn(&str, &str) -> bool,
    ) -> Result<Vec<TestResult>, HistoryError> {
        let mut found: Vec<(i64, u32, TestResult)> = Vec::new();
        self.scan(start, &mut |run, binary, r| {
            let Some(run_ids) = ids.get(&run).filter(|_| wanted(binary, &r.name)) else {
                return;
            };
            let status = if r.flaky { "flaky" } else { &r.status };
            found.push((
                run,
                r.seq,
                TestResult {
                    run_id: run_ids.run_id.clone(),
                    started: run_ids.started.clone(),
                    commit: run_ids.commit.clone(),
                    binary_id: binary.to_owned(),
                    name: r.name.to_string(),
                    status: status.to_owned(),
                    duration_secs: r.duration_secs,
                    attempts: r.attempts as usize,
                    worker: r.worker.as_deref().map(str::to_owned),
                },
            ));
        })
        .map_err(|e| self.read_error(e))?;
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(found.into_iter().map(|(_, _, r)| r).collect())
    }
}

/// Something of each test, by binary id, then name.
pub(super) type ByTest<T> = BTreeMap<String, HashMap<String, T>>;

/// What a run is known by.
struct RunIds {
    run_id: String,
    started: String,
    commit: Option<String>,
}

/// The entry of test `name` of `binary` in `by_binary`, made on first use without
/// allocating for one that exists.
pub(super) fn tally<'m, T: Default>(
    by_binary: &'m mut ByTest<T>,
    binary: &str,
    name: &str,
) -> &'m mut T {
    if !by_binary.contains_key(binary) {
        by_binary.insert(binary.to_owned(), HashMap::new());
    }
    let tests = by_binary.get_mut(binary).expect("inserted above");
    if !tests.contains_key(name) {
        tests.insert(name.to_owned(), T::default());
    }
    tests.get_mut(name).expect("inserted above")
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
