//! The run history in SQLite, `<target-dir>/xpar/history.db`: every run appended in one
//! transaction (its row, a row per binary holding its tests' results, the planner's
//! estimates moved by what
//! the run measured, the runs past the retention bound deleted), in WAL mode, so a run
//! killed at any point leaves the database as it was before that run or after it. The
//! schema is documented in `docs/history-format.md`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use xpar_metadata::{ReportTest, ReportTestStatus, RunReport};

use super::query::{tally, ByTest};
use super::results::{self, CodecError, StoredResult};
use super::History;
use crate::errors::HistoryError;
use crate::plan::{ProcessCost, StoredCores, TestCores};

/// `PRAGMA user_version` of a database this version reads and writes. Raised on any
/// incompatible change of the schema; a database of another version is left alone.
pub const FORMAT_VERSION: i64 = 2;

/// How many runs are kept unless the config file says otherwise (`history-runs`).
pub const DEFAULT_KEEP_RUNS: usize = 100;

/// How long a run waits for another that is writing the history at the same time.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    started TEXT NOT NULL,
    git_commit TEXT,
    options TEXT NOT NULL,
    instrumented INTEGER NOT NULL,
    wall_secs REAL NOT NULL,
    workers INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    flaky INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    ignored INTEGER NOT NULL,
    not_run INTEGER NOT NULL,
    filtered_out INTEGER NOT NULL,
    cancel_reason TEXT
);
CREATE TABLE estimates (
    binary_id TEXT NOT NULL,
    instrumented INTEGER NOT NULL,
    durations TEXT NOT NULL,
    cores TEXT,
    mean_test_secs REAL,
    overhead_secs REAL,
    PRIMARY KEY (binary_id, instrumented)
) WITHOUT ROWID;
";

/// The tests' results, a row per binary of a run (`history::results`): in a new
/// history beside [`SCHEMA`], and what [`migrate_from_1`] adds to a version 1 one (which
/// kept a row per result).
const RUN_RESULTS: &str = "
CREATE TABLE run_results (
    run INTEGER NOT NULL,
    binary_id TEXT NOT NULL,
    tests BLOB NOT NULL,
    PRIMARY KEY (run, binary_id)
) WITHOUT ROWID;
";

/// Where the history of the workspace whose target dir is `target_dir` is.
pub fn path(target_dir: &Path) -> PathBuf {
    target_dir.join("xpar").join("history.db")
}

/// An open run history.
pub struct HistoryDb {
    pub(super) conn: Connection,
    path: PathBuf,
}

/// One run, to be appended.
pub struct RunToRecord<'a> {
    /// The run's report, as `--json` writes it: the rows are made from it.
    pub report: &'a RunReport,
    pub run_id: &'a str,
    /// When it started (RFC 3339, UTC).
    pub started: &'a str,
    /// `git rev-parse HEAD` of the workspace, when it is in a git repository.
    pub commit: Option<&'a str>,
    /// The run's options, as a JSON object.
    pub options: &'a str,
    /// The tests were instrumented for coverage: their durations are kept apart.
    pub instrumented: bool,
    /// The planner's estimates after the run, when this run updates them: the durations
    /// of the tests it measured, and the process costs.
    pub estimates: Option<&'a History>,
    /// How many runs to keep, this one included.
    pub keep_runs: usize,
}

/// The tests that failed in the last recorded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRun {
    pub run_id: String,
    /// (binary id, test name), each once.
    pub failed: Vec<(String, String)>,
}

impl HistoryDb {
    /// Opens the history at `path` for a run, creating it (and its directory) if there is
    /// none.
    pub fn open(path: &Path) -> Result<HistoryDb, HistoryError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::open_with(path, flags, true)
    }

    /// Opens the history at `path` to read it; [`HistoryError::NoHistory`] when there is
    /// none.
    pub fn open_existing(path: &Path) -> Result<HistoryDb, HistoryError> {
        if !path.is_file() {
            return Err(HistoryError::NoHistory {
                path: path.to_owned(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::open_with(path, flags, false)
    }

    fn open_with(path: &Path, flags: OpenFlags, create: bool) -> Result<HistoryDb, HistoryError> {
        let open = |source| HistoryError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        // WAL: a writer killed mid-transaction leaves the last committed state, and
        // readers never wait for a writer. Synchronous OFF: no fsync, which would cost a
        // run more than all the rest of the history (its checkpoints took 10-70 ms). A
        // process killed at any point still leaves the database whole; only a crash of
        // the machine itself can cost it, as it can cost the rest of the target dir.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(open)?;
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(open)?;
        let mut db = HistoryDb {
            conn,
            path: path.to_owned(),
        };
        match db.version()? {
            FORMAT_VERSION => Ok(db),
            // The tables of a new history.
            0 if create => {
                db.upgrade(0, |c| {
                    c.execute_batch(SCHEMA)?;
                    c.execute_batch(RUN_RESULTS)
                })?;
                Ok(db)
            }
            1 => {
                db.upgrade(1, migrate_from_1)?;
                Ok(db)
            }
            0 => Err(HistoryError::NoHistory {
                path: path.to_owned(),
            }),
            found => Err(HistoryError::Version {
                path: path.to_owned(),
                found,
                supported: FORMAT_VERSION,
            }),
        }
    }

    fn version(&self) -> Result<i64, HistoryError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| self.read_error(source))
    }

    /// Brings a history of version `from` to [`FORMAT_VERSION`] with `upgrade`, in one
    /// transaction; a run that did it at the same time is waited for, and what it did
    /// kept.
    fn upgrade(
        &mut self,
        from: i64,
        upgrade: fn(&Connection) -> rusqlite::Result<()>,
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let write = |source| HistoryError::Write {
            path: path.clone(),
            source,
        };
        let tx = (self.conn)
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(write)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(write)?;
        if version == from {
            upgrade(&tx).map_err(write)?;
            tx.pragma_update(None, "user_version", FORMAT_VERSION)
                .map_err(write)?;
        }
        tx.commit().map_err(write)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn read_error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// What the planner knows from earlier runs: each test's expected duration and each
    /// binary's process cost, for instrumented tests or not.
    pub fn estimates(&self, instrumented: bool) -> Result<History, HistoryError> {
        let read = || -> rusqlite::Result<History> {
            let mut history = History::default();
            let mut stmt = self.conn.prepare_cached(
                "SELECT binary_id, durations, mean_test_secs, overhead_secs, cores
                 FROM estimates WHERE instrumented = ?1",
            )?;
            let mut rows = stmt.query([instrumented])?;
            while let Some(row) = rows.next()? {
                let binary: String = row.get(0)?;
                let text: String = row.get(1)?;
                let tests: BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(1, Type::Text, e.into())
                })?;
                if let (Some(mean_test), Some(overhead)) = (row.get(2)?, row.get(3)?) {
                    let cost = ProcessCost {
                        mean_test,
                        overhead,
                    };
                    history.processes.insert(binary.clone(), cost);
                }
                let cores: Option<String> = row.get(4)?;
                let cores: BTreeMap<String, StoredCores> = match cores {
                    Some(text) => serde_json::from_str(&text).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(4, Type::Text, e.into())
                    })?,
                    None => BTreeMap::new(),
                };
                if !cores.is_empty() {
                    history.cores.0.insert(
                        binary.clone(),
                        (cores.into_iter()).map(|(n, c)| (n, c.into())).collect(),
                    );
                }
                history.durations.set_binary(binary, tests);
            }
            Ok(history)
        };
        read().map_err(|e| self.read_error(e))
    }

    /// The last recorded run and the tests that failed in it; `None` before the first.
    pub fn last_run(&self) -> Result<Option<LastRun>, HistoryError> {
        let read = || -> rusqlite::Result<Option<LastRun>> {
            let last: Option<(i64, String)> = self
                .conn
                .query_row(
                    "SELECT id, run_id FROM runs ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((_, run_id)) = last else {
                return Ok(None);
            };
            // As pytest's `--lf`: each test's latest verdict among the runs it ran in,
            // so a run that left it out (filtered, stopped) keeps its failure.
            let mut newest: ByTest<Option<bool>> = ByTest::new();
            self.scan(0, &mut |_, binary, r| {
                let verdict = tally(&mut newest, binary, &r.name);
                if r.ran() && verdict.is_none() {
                    *verdict = Some(r.status == "failed");
                }
            })?;
            let mut failed: Vec<(String, String)> = Vec::new();
            for (binary, tests) in newest {
                for (name, _) in tests.into_iter().filter(|(_, v)| *v == Some(true)) {
                    failed.push((binary.clone(), name));
                }
            }
            failed.sort();
            Ok(Some(LastRun { run_id, failed }))
        };
        read().map_err(|e| self.read_error(e))
    }

    /// Calls `each` with every result of the runs from row id `start` on, newest run
    /// first, with the run's row id and the binary's id.
    pub(super) fn scan(
        &self,
        start: i64,
        each: &mut dyn FnMut(i64, &str, &StoredResult<'_>),
    ) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT run, binary_id, tests FROM run_results WHERE run >= ?1
             ORDER BY run DESC, binary_id",
        )?;
        let mut rows = stmt.query([start])?;
        while let Some(row) = rows.next()? {
            let run: i64 = row.get(0)?;
            let binary = row.get_ref(1)?.as_str()?;
            let plain = results::decompress(row.get_ref(2)?.as_blob()?).map_err(from_sql_error)?;
            for r in results::decode(&plain).map_err(from_sql_error)? {
                each(run, binary, &r);
            }
        }
        Ok(())
    }

    /// Appends `run` in one transaction, updating the estimates when it carries them and
    /// deleting the runs past `keep_runs`.
    pub fn record(&mut self, run: &RunToRecord<'_>) -> Result<(), HistoryError> {
        write_run(&mut self.conn, run).map_err(|source| HistoryError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

fn write_run(conn: &mut Connection, run: &RunToRecord<'_>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let report = run.report;
    let c = &report.counts;
    tx.execute(
        "INSERT INTO runs (run_id, started, git_commit, options, instrumented, wall_secs,
            workers, passed, flaky, failed, ignored, not_run, filtered_out, cancel_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            run.run_id,
            run.started,
            run.commit,
            run.options,
            run.instrumented,
            report.wall_secs,
            report.workers,
            c.passed,
            c.flaky,
            c.failed,
            c.ignored,
            c.not_run,
            c.filtered_out,
            report.cancel_reason,
        ],
    )?;
    let run_row = tx.last_insert_rowid();
    insert_results(&tx, run_row, &report.tests)?;
    if let Some(estimates) = run.estimates {
        write_estimates(&tx, report, estimates, run.instrumented)?;
    }
    prune(&tx, run.keep_runs)?;
    tx.commit()
}

/// The results of a run: a row per binary (`history::results`).
fn insert_results(conn: &Connection, run: i64, tests: &[ReportTest]) -> rusqlite::Result<()> {
    let rows = results::encode_report(tests).map_err(to_sql_error)?;
    let mut insert =
        conn.prepare_cached("INSERT INTO run_results (run, binary_id, tests) VALUES (?1, ?2, ?3)")?;
    for (binary, blob) in rows {
        insert.execute(params![run, binary, blob])?;
    }
    Ok(())
}

fn to_sql_error(e: CodecError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.into())
}

/// A row's results that could not be read (column 2 of `run_results`).
fn from_sql_error(e: CodecError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(2, Type::Blob, e.into())
}

/// Rewrites the results of a version 1 history (a row per result) as version 2's.
fn migrate_from_1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(RUN_RESULTS)?;
    let mut select = conn.prepare(
        "SELECT run, binary_id, seq, name, status, flaky, duration_secs, attempts, worker,
            start_secs, cpu_secs, peak_rss_bytes, message
         FROM results ORDER BY run, binary_id, seq",
    )?;
    let mut insert =
        conn.prepare("INSERT INTO run_results (run, binary_id, tests) VALUES (?1, ?2, ?3)")?;
    let mut rows = select.query([])?;
    let mut batch: Option<(i64, String, Vec<StoredResult<'static>>)> = None;
    let mut flush = |batch: Option<(i64, String, Vec<StoredResult<'static>>)>| match batch {
        Some((run, binary, results)) => {
            let blob = results::encode(&results).map_err(to_sql_error)?;
            insert.execute(params![run, binary, blob]).map(drop)
        }
        None => Ok(()),
    };
    while let Some(row) = rows.next()? {
        let (run, binary): (i64, String) = (row.get(0)?, row.get(1)?);
        let result = StoredResult {
            seq: row.get(2)?,
            name: Cow::Owned(row.get(3)?),
            status: Cow::Owned(row.get(4)?),
            flaky: row.get(5)?,
            duration_secs: row.get(6)?,
            attempts: row.get(7)?,
            worker: row.get::<_, Option<String>>(8)?.map(Cow::Owned),
            start_secs: row.get(9)?,
            cpu_secs: row.get(10)?,
            peak_rss_bytes: row.get(11)?,
            message: row.get::<_, Option<String>>(12)?.map(Cow::Owned),
        };
        match &mut batch {
            Some((r, b, results)) if *r == run && *b == binary => results.push(result),
            _ => flush(batch.replace((run, binary, vec![result])))?,
        }
    }
    flush(batch)?;
    drop(rows);
    drop(select);
    drop(insert);
    conn.execute_batch("DROP TABLE results")
}

/// The estimates of the binaries the run measured (a test that ran on a worker and
/// passed or failed), and of those it learned a process cost of: one row per binary,
/// its tests' durations one JSON object, so a run of thousands of tests writes a row
/// per binary rather than per test.
fn write_estimates(
    conn: &Connection,
    report: &RunReport,
    estimates: &History,
    instrumented: bool,
) -> rusqlite::Result<()> {
    let mut binaries: BTreeSet<&str> = report
        .tests
        .iter()
        .filter(|t| {
            matches!(
                t.status,
                ReportTestStatus::Passed | ReportTestStatus::Failed
            ) && t.worker.is_some()
        })
        .map(|t| t.binary_id.as_str())
        .collect();
    binaries.extend(estimates.processes.keys().map(String::as_str));
    let mut upsert = conn.prepare_cached(
        "INSERT INTO estimates (binary_id, instrumented, durations, mean_test_secs,
            overhead_secs, cores)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (binary_id, instrumented) DO UPDATE SET
            durations = excluded.durations, mean_test_secs = excluded.mean_test_secs,
            overhead_secs = excluded.overhead_secs, cores = excluded.cores",
    )?;
    let empty = BTreeMap::new();
    for binary in binaries {
        let tests = estimates.durations.of_binary(binary).unwrap_or(&empty);
        let json = serde_json::to_string(tests)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let cost = estimates.processes.get(binary);
        // Sorted, so one run's row reads as the next's.
        let cores: Option<BTreeMap<&String, &TestCores>> =
            (estimates.cores.0.get(binary)).map(|c| c.iter().collect());
        let cores = cores
            .map(|c| serde_json::to_string(&c))
            .transpose()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        upsert.execute(params![
            binary,
            instrumented,
            json,
            cost.map(|c| c.mean_test),
            cost.map(|c| c.overhead),
            cores,
        ])?;
    }
    Ok(())
}

/// Deletes every run but the newest `keep` (at least this one), with their results.
fn prune(conn: &Connection, keep: usize) -> rusqlite::Result<()> {
    let newest_dropped: Option<i64> = conn
        .query_row(
            "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1",
            [keep.max(1)],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(cut) = newest_dropped {
        conn.execute("DELETE FROM run_results WHERE run <= ?1", [cut])?;
        conn.execute("DELETE FROM runs WHERE id <= ?1", [cut])?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
