//! The run history as one run uses it: opened as the run starts, its estimates read for
//! the planner, the last run's failures asked for (`--last-failed`, `--failed-first`),
//! the workspace's commit found, and the run appended once it is over. Whatever fails is
//! a warning through the caller's `warn`, and the run goes on without the history.

use std::path::Path;

use xpar_metadata::RunReport;

use super::db::{self, HistoryDb, LastRun, RunToRecord};
use super::git::CommitProbe;
use super::History;

/// The history of one run.
pub struct RunHistory {
    db: Option<HistoryDb>,
    instrumented: bool,
    probe: Option<CommitProbe>,
    commit: Option<String>,
}

/// The run, as the history records it beside its report.
pub struct RunMeta<'a> {
    pub run_id: &'a str,
    pub started: &'a str,
    /// The options, as a JSON object.
    pub options: &'a str,
    /// The estimates after the run, when this run updates them.
    pub estimates: Option<&'a History>,
    pub keep_runs: usize,
}

/// `e` and what caused it, on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}

impl RunHistory {
    /// Opens the history under `target_dir`; `probe` is asking git for the commit.
    /// `instrumented`: the run's tests are built for coverage, and their durations are
    /// kept apart.
    pub fn open(
        target_dir: &Path,
        probe: CommitProbe,
        instrumented: bool,
        warn: &mut dyn FnMut(String),
    ) -> RunHistory {
        let db = HistoryDb::open(&db::path(target_dir))
            .map_err(|e| warn(format!("{}; this run is not recorded", one_line(&e))))
            .ok();
        RunHistory {
            db,
            instrumented,
            probe: Some(probe),
            commit: None,
        }
    }

    /// What the planner knows from earlier runs; nothing when the history cannot say.
    pub fn estimates(&mut self, warn: &mut dyn FnMut(String)) -> History {
        let Some(db) = &self.db else {
            return History::default();
        };
        db.estimates(self.instrumented).unwrap_or_else(|e| {
            warn(format!("{}; planning without it", one_line(&e)));
            History::default()
        })
    }

    /// The last recorded run and its failures; `None` before the first, or when the
    /// history cannot say.
    pub fn last_run(&self, warn: &mut dyn FnMut(String)) -> Option<LastRun> {
        let db = self.db.as_ref()?;
        db.last_run().map_err(|e| warn(one_line(&e))).ok().flatten()
    }

    /// Waits for the commit: before the tests start, while the runner reaps no orphan.
    pub fn find_commit(&mut self) {
        if let Some(probe) = self.probe.take() {
            self.commit = probe.finish();
        }
    }

    /// Appends the run of `report`.
    pub fn record(mut self, report: &RunReport, meta: &RunMeta<'_>, warn: &mut dyn FnMut(String)) {
        self.find_commit();
        let Some(db) = &mut self.db else {
            return;
        };
        let run = RunToRecord {
            report,
            run_id: meta.run_id,
            started: meta.started,
            commit: self.commit.as_deref(),
            options: meta.options,
            instrumented: self.instrumented,
            estimates: meta.estimates,
            keep_runs: meta.keep_runs,
        };
        if let Err(e) = db.record(&run) {
            warn(format!("{}; this run is not recorded", one_line(&e)));
        }
    }
}
