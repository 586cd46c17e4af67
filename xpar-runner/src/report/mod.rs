//! Report: the events of a run and their consumers. The record keeps every outcome; JUnit,
//! the JSON report and the stress statistics are written from the record, the HTML report
//! from the JSON report's model.

mod events;
mod html;
mod json;
mod junit;
pub mod log;
mod log_dir;
mod record;
pub mod results_dir;
mod stress;

pub use events::{worker_name, Failure, Notice, RunEvent, TestOutcome, TestStatus};
pub use html::{html_report, write_html};
pub use json::{json_report, run_report, write_json, write_report, ReportMeta};
pub use junit::write_junit;
pub use log_dir::{log_path, write_log, write_logs};
pub use record::RunRecord;
pub use stress::{summarise, write_stress, StressOutput, TestStress};
