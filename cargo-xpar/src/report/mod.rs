//! Report: consumers of `RunEvent`s. The record keeps every outcome; the display shows
//! progress and the summary; JUnit, the JSON report and the list output are written from
//! the record.

mod display;
mod events;
mod json;
mod junit;
mod list_output;
mod record;
mod stress;

pub use display::{Display, DisplayOptions};
pub use events::{worker_name, Failure, Notice, RunEvent, TestOutcome, TestStatus};
pub use json::{json_report, write_json};
pub use junit::write_junit;
pub use list_output::write_list;
pub use record::RunRecord;
pub use stress::{summarise, write_stress, StressOutput, TestStress};
