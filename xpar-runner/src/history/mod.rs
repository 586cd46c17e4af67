//! What earlier runs left for later ones. The run history (`db`): every run appended to
//! `<target-dir>/xpar/history.db`, with each test's result, and the planner's estimates
//! (each test's expected duration, each binary's process cost) kept beside them; what
//! `cargo xpar history` asks of it (`query`, `show`); and the duration file (`file`)
//! that `--durations FILE`, results directories and merges carry where no history
//! survives (CI). A history that cannot be read or written costs a run a warning, never
//! the run: it only makes schedules better.

mod db;
pub mod file;
mod git;
mod query;
mod rerun;
mod results;
mod run;
mod show;

pub use db::{path, HistoryDb, LastRun, RunToRecord, DEFAULT_KEEP_RUNS, FORMAT_VERSION};
pub use file::{load, updated, write};
pub use git::CommitProbe;
pub use query::{FlakyTest, RunSummary, SlowTest, TestResult};
pub use rerun::{failed_tests, Rerun};
pub use run::{RunHistory, RunMeta};
pub use show::{write_history, HistoryFormat, HistoryView};

use crate::plan::{CoreUse, Durations, ProcessCosts};

/// What the planner knows from earlier runs.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub durations: Durations,
    pub processes: ProcessCosts,
    /// The cores each test kept busy when last measured (see `plan::apply_cpu_slots`).
    pub cores: CoreUse,
}
