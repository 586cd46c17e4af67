//! Report: the events of a run and their consumers. The record keeps every outcome; JUnit,
//! the JSON report and the stress statistics (of tests, and of plans against their
//! thresholds) are written from the record, the HTML report from the JSON report's model.

mod events;
mod html;
mod json;
mod junit;
pub mod log;
mod log_dir;
mod record;
pub mod results_dir;
mod stress;
mod stress_plan;

pub use events::{worker_name, Failure, Notice, Resources, RunEvent, TestOutcome, TestStatus};
pub use html::{html_report, write_html};
pub use json::{json_report, run_report, write_json, write_report, ReportMeta};
pub use junit::{junit_report, write_junit};
pub use log_dir::{log_path, write_log, write_logs};
pub use record::RunRecord;
pub use stress::{summarise, write_stress, StressOutput, TestStress};
pub use stress_plan::{
    plan_result, plans_report, write_stress_plans, DurationStats, Limit, PlanSettings, Threshold,
};
