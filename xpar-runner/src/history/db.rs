//! The run history in SQLite, `<target-dir>/xpar/history.db`: every run appended in one
//! transaction (its row, a row per test result, the planner's estimates moved by what
//! the run measured, the runs past the retention bound deleted), in WAL mode, so a run
//! killed at any point leaves the database as it was before that run or after it. The
//! schema is documented in `docs/history-format.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use xpar_metadata::{ReportTestStatus, RunReport};

use super::History;
use crate::errors::HistoryError;
use crate::plan::{Durations, ProcessCost, ProcessCosts};

/// `PRAGMA user_version` of a database this version reads and writes. Raised on any
/// incompatible change of the schema; a database of another version is left alone.
pub const FORMAT_VERSION: i64 = 1;

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
CREATE TABLE tests (
    id INTEGER PRIMARY KEY,
    binary_id TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (binary_id, name)
);
CREATE TABLE results (
    run INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    test INTEGER NOT NULL,
    status TEXT NOT NULL,
    flaky INTEGER NOT NULL,
    duration_secs REAL NOT NULL,
    attempts INTEGER NOT NULL,
    worker TEXT,
    start_secs REAL,
    cpu_secs REAL,
    peak_rss_bytes INTEGER,
    message TEXT,
    PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE TABLE durations (
    test INTEGER NOT NULL,
    instrumented INTEGER NOT NULL,
    secs REAL NOT NULL,
    PRIMARY KEY (test, instrumented)
) WITHOUT ROWID;
CREATE TABLE process_costs (
    binary_id TEXT NOT NULL,
    instrumented INTEGER NOT NULL,
    mean_test_secs REAL NOT NULL,
    overhead_secs REAL NOT NULL,
    PRIMARY KEY (binary_id, instrumented)
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
    /// Test ids by binary id, then name, as far as they were read.
    ids: HashMap<String, HashMap<String, i64>>,
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
        // readers never wait for a writer. NORMAL: no fsync per commit; after a power
        // loss the last runs may be missing, never half written.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(open)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open)?;
        let mut db = HistoryDb {
            conn,
            path: path.to_owned(),
            ids: HashMap::new(),
        };
        match db.version()? {
            FORMAT_VERSION => Ok(db),
            0 if create => {
                db.create_schema()?;
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

    /// The tables of a new history; a run that created them at the same time is waited
    /// for, and its tables kept.
    fn create_schema(&mut self) -> Result<(), HistoryError> {
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
        if version == 0 {
            tx.execute_batch(SCHEMA).map_err(write)?;
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
    pub fn estimates(&mut self, instrumented: bool) -> Result<History, HistoryError> {
        let mut durations = Durations::default();
        let mut ids: HashMap<String, HashMap<String, i64>> = HashMap::new();
        let mut stmt = (self.conn)
            .prepare_cached(
                "SELECT t.id, t.binary_id, t.name, d.secs FROM tests t
                 LEFT JOIN durations d ON d.test = t.id AND d.instrumented = ?1",
            )
            .map_err(|e| self.read_error(e))?;
        let mut rows = stmt.query([instrumented]).map_err(|e| self.read_error(e))?;
        while let Some(row) = rows.next().map_err(|e| self.read_error(e))? {
            let read = |row: &rusqlite::Row| -> rusqlite::Result<_> {
                let fields: (i64, String, String, Option<f64>) =
                    (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                Ok(fields)
            };
            let (id, binary, name, secs) = read(row).map_err(|e| self.read_error(e))?;
            if let Some(secs) = secs {
                durations.set(&binary, &name, secs);
            }
            ids.entry(binary).or_default().insert(name, id);
        }
        drop(rows);
        drop(stmt);
        self.ids = ids;
        let processes = self.process_costs(instrumented)?;
        Ok(History {
            durations,
            processes,
        })
    }

    fn process_costs(&self, instrumented: bool) -> Result<ProcessCosts, HistoryError> {
        let mut stmt = (self.conn)
            .prepare_cached(
                "SELECT binary_id, mean_test_secs, overhead_secs FROM process_costs
                 WHERE instrumented = ?1",
            )
            .map_err(|e| self.read_error(e))?;
        let costs = stmt
            .query_map([instrumented], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    ProcessCost {
                        mean_test: r.get(1)?,
                        overhead: r.get(2)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<ProcessCosts>>());
        costs.map_err(|e| self.read_error(e))
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
            let Some((run, run_id)) = last else {
                return Ok(None);
            };
            let mut stmt = self.conn.prepare(
                "SELECT DISTINCT t.binary_id, t.name FROM results r
                 JOIN tests t ON t.id = r.test
                 WHERE r.run = ?1 AND r.status = 'failed'
                 ORDER BY t.binary_id, t.name",
            )?;
            let failed = stmt
                .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(LastRun { run_id, failed }))
        };
        read().map_err(|e| self.read_error(e))
    }

    /// Appends `run` in one transaction, updating the estimates when it carries them and
    /// deleting the runs past `keep_runs`.
    pub fn record(&mut self, run: &RunToRecord<'_>) -> Result<(), HistoryError> {
        // Ids inserted by a transaction that is rolled back must not be remembered.
        let mut ids = std::mem::take(&mut self.ids);
        let written = write_run(&mut self.conn, &mut ids, run);
        if written.is_ok() {
            self.ids = ids;
        }
        written.map_err(|source| HistoryError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// The name a status has in the `results` table (as in the JSON report).
pub(super) fn status_name(status: ReportTestStatus) -> &'static str {
    match status {
        ReportTestStatus::Passed => "passed",
        ReportTestStatus::Failed => "failed",
        ReportTestStatus::Ignored => "ignored",
        ReportTestStatus::NotRun => "not-run",
    }
}

type Ids = HashMap<String, HashMap<String, i64>>;

fn write_run(conn: &mut Connection, ids: &mut Ids, run: &RunToRecord<'_>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if ids.is_empty() {
        *ids = read_ids(&tx)?;
    }
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
    let mut test_ids = Vec::with_capacity(report.tests.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO results (run, seq, test, status, flaky, duration_secs, attempts,
                worker, start_secs, cpu_secs, peak_rss_bytes, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for (seq, t) in report.tests.iter().enumerate() {
            let test = test_id(&tx, ids, t.binary_id.as_str(), &t.name)?;
            test_ids.push(test);
            // Only a failure's message is kept: a stopped run's not-run tests all have
            // the same one.
            let message = (t.status == ReportTestStatus::Failed)
                .then_some(t.message.as_deref())
                .flatten();
            insert.execute(params![
                run_row,
                seq,
                test,
                status_name(t.status),
                t.flaky,
                t.duration_secs,
                t.previous.len() + 1,
                t.worker,
                t.start_secs,
                t.cpu_secs,
                t.peak_rss_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                message,
            ])?;
        }
    }
    if let Some(estimates) = run.estimates {
        write_estimates(&tx, report, &test_ids, estimates, run.instrumented)?;
    }
    prune(&tx, run.keep_runs)?;
    tx.commit()
}

fn read_ids(conn: &Connection) -> rusqlite::Result<Ids> {
    let mut ids = Ids::new();
    let mut stmt = conn.prepare("SELECT id, binary_id, name FROM tests")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        ids.entry(row.get(1)?)
            .or_default()
            .insert(row.get(2)?, row.get(0)?);
    }
    Ok(ids)
}

/// The id of a test, inserted if it is new (another run may have inserted it since the
/// ids were read: its id is taken then).
fn test_id(conn: &Connection, ids: &mut Ids, binary: &str, name: &str) -> rusqlite::Result<i64> {
    if let Some(&id) = ids.get(binary).and_then(|t| t.get(name)) {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO tests (binary_id, name) VALUES (?1, ?2)
         ON CONFLICT (binary_id, name) DO NOTHING",
    )?
    .execute(params![binary, name])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM tests WHERE binary_id = ?1 AND name = ?2")?
        .query_row(params![binary, name], |r| r.get(0))?;
    ids.entry(binary.to_owned())
        .or_default()
        .insert(name.to_owned(), id);
    Ok(id)
}

/// The estimates of the tests the run measured (those that ran on a worker and passed or
/// failed), and every process cost.
fn write_estimates(
    conn: &Connection,
    report: &RunReport,
    test_ids: &[i64],
    estimates: &History,
    instrumented: bool,
) -> rusqlite::Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO durations (test, instrumented, secs) VALUES (?1, ?2, ?3)
         ON CONFLICT (test, instrumented) DO UPDATE SET secs = excluded.secs",
    )?;
    for (t, &id) in report.tests.iter().zip(test_ids) {
        let ran = matches!(
            t.status,
            ReportTestStatus::Passed | ReportTestStatus::Failed
        );
        if !ran || t.worker.is_none() {
            continue;
        }
        if let Some(secs) = estimates.durations.get(t.binary_id.as_str(), &t.name) {
            upsert.execute(params![id, instrumented, secs])?;
        }
    }
    let mut cost = conn.prepare_cached(
        "INSERT INTO process_costs (binary_id, instrumented, mean_test_secs, overhead_secs)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (binary_id, instrumented) DO UPDATE SET
            mean_test_secs = excluded.mean_test_secs, overhead_secs = excluded.overhead_secs",
    )?;
    for (binary, c) in &estimates.processes {
        cost.execute(params![binary, instrumented, c.mean_test, c.overhead])?;
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
        conn.execute("DELETE FROM results WHERE run <= ?1", [cut])?;
        conn.execute("DELETE FROM runs WHERE id <= ?1", [cut])?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
