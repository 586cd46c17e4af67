//! The machine-readable formats of cargo-xpar, read and written by the runner, its tests
//! and outside tools alike, so that writer and readers cannot drift apart.
//!
//! - The **run report** ([`RunReport`]), written by `cargo xpar --json PATH`: every
//!   selected test of a finished run, its status, worker, timing, output and earlier
//!   attempts. Documented in `docs/report-format.md`; version [`REPORT_FORMAT_VERSION`].
//! - The **test list** ([`TestListSummary`]), written by `cargo xpar list --format json`:
//!   every test binary, where it runs, and the tests it lists. Documented in
//!   `docs/list-format.md`; version [`LIST_FORMAT_VERSION`].
//! - The **recorded run** ([`events`]): a [`RunHeader`] line, then every `RunEvent` of the
//!   run as a JSON line, under `target/xpar/runs/<run-id>/`. Version
//!   [`RUN_LOG_FORMAT_VERSION`].
//! - The **work queue** several machines share on Redis ([`queue`]): each chunk of work
//!   as JSON. Version [`QUEUE_FORMAT_VERSION`].
//! - The **stress plan report** ([`StressPlanReport`]), written by `cargo xpar stress
//!   --plan ... --output json`: per plan, its figures and thresholds. Documented in
//!   `docs/stress-plan.md`; version [`STRESS_PLAN_FORMAT_VERSION`].
//!
//! Each document carries its `format-version`. It is raised on any incompatible change: a
//! field removed, renamed or given another type or meaning, or a new value of a field
//! every reader must handle (a test's `status`). Fields may be added without raising it,
//! and readers ignore fields they do not know; a new value of a descriptive field (`dist`,
//! `kind`) does not raise it either, and reads as `Other`. The `from_json` functions
//! refuse any version but their own rather than guess.

mod binary_id;
pub mod events;
mod exit_code;
mod ids;
mod list;
pub mod queue;
mod report;
mod stress_plan;
mod versioned;

pub use binary_id::{BinaryId, DOCTEST_PREFIX, SUITE_PREFIX};
pub use events::{RunHeader, RUN_LOG_FORMAT_VERSION};
pub use exit_code::exit_code_text;
pub use ids::{Attempt, TestId};
pub use list::{BinaryKind, ListBinary, ListSuite, ListTest, TestListSummary, LIST_FORMAT_VERSION};
pub use queue::QUEUE_FORMAT_VERSION;
pub use report::{
    DistMode, ReportAttempt, ReportBinaryTests, ReportCounts, ReportMachine, ReportPartition,
    ReportShard, ReportTest, ReportTestStatus, RunReport, REPORT_FORMAT_VERSION,
};
pub use stress_plan::{
    Metric, PlanResult, StressPlanReport, StressTest, ThresholdOp, ThresholdResult,
    STRESS_PLAN_FORMAT_VERSION,
};
pub use versioned::ReadError;
