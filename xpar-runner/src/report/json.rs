//! The JSON report (`--json PATH`): one document for the whole run, every outcome in the
//! order it arrived, with the worker that ran it and when. Documented in
//! `docs/report-format.md`.

use std::path::Path;

use serde::Serialize;

use super::events::{worker_name, TestStatus};
use super::record::RunRecord;
use crate::errors::ReportError;

/// Raised on any incompatible change; fields may be added without raising it.
pub const REPORT_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonReport<'a> {
    format_version: u32,
    dist: &'a str,
    workers: usize,
    wall_secs: f64,
    cancelled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_reason: Option<&'a str>,
    counts: Counts,
    tests: Vec<JsonTest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Counts {
    passed: usize,
    flaky: usize,
    failed: usize,
    ignored: usize,
    not_run: usize,
    filtered_out: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonTest<'a> {
    binary_id: &'a str,
    name: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_secs: Option<f64>,
    duration_secs: f64,
    output: &'a str,
    /// Passed only after failing (`--retries`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    flaky: bool,
    /// Earlier attempts that failed, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    previous: Vec<JsonAttempt>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonAttempt {
    message: String,
    duration_secs: f64,
    output: String,
}

/// The report of a finished run, as pretty-printed JSON.
pub fn json_report(record: &RunRecord, dist: &str) -> String {
    let tests = record
        .outcomes
        .iter()
        .map(|o| {
            let (status, message) = match &o.status {
                TestStatus::Passed => ("passed", None),
                TestStatus::Failed(f) => ("failed", Some(f.message())),
                TestStatus::Ignored => ("ignored", None),
                TestStatus::NotRun(why) => ("not-run", Some(why.clone())),
            };
            JsonTest {
                binary_id: o.binary_id.as_str(),
                name: &o.name,
                status,
                message,
                worker: o.worker.map(worker_name),
                start_secs: o.started.map(|d| d.as_secs_f64()),
                duration_secs: o.duration.as_secs_f64(),
                output: &o.output,
                flaky: o.is_flaky(),
                previous: o
                    .previous
                    .iter()
                    .map(|p| JsonAttempt {
                        message: match &p.status {
                            TestStatus::Failed(f) => f.message(),
                            _ => String::new(),
                        },
                        duration_secs: p.duration.as_secs_f64(),
                        output: p.output.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    let report = JsonReport {
        format_version: REPORT_FORMAT_VERSION,
        dist,
        workers: record.workers,
        wall_secs: record.wall.as_secs_f64(),
        cancelled: record.cancelled.is_some(),
        cancel_reason: record.cancelled.as_deref(),
        counts: Counts {
            passed: record.passed(),
            flaky: record.flaky(),
            failed: record.failed(),
            ignored: record.ignored(),
            not_run: record.not_run(),
            filtered_out: record.filtered_out,
        },
        tests,
    };
    // Strings, numbers and options of them always serialise.
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the report to `path`, creating its directory.
/// `dist` names the distribution mode as `--dist` does.
pub fn write_json(record: &RunRecord, dist: &str, path: &Path) -> Result<(), ReportError> {
    let err = |source: std::io::Error| ReportError::Json {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, json_report(record, dist)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{BinaryId, BinaryKind};
    use crate::report::{Failure, RunEvent, TestOutcome};
    use std::time::Duration;

    #[test]
    fn report_from_recorded_events() {
        let mut record = RunRecord::default();
        let outcome = |name: &str, status, worker: Option<usize>| {
            RunEvent::TestFinished(TestOutcome {
                binary_id: BinaryId::new("alpha", BinaryKind::Lib, "alpha"),
                name: name.into(),
                status,
                duration: Duration::from_millis(250),
                output: "out\n".into(),
                worker,
                started: worker.map(|_| Duration::from_millis(500)),
                previous: Vec::new(),
            })
        };
        for e in [
            RunEvent::RunStarted {
                to_run: 2,
                workers: 2,
                filtered_out: 3,
                opaque: vec![],
            },
            outcome("tests::a", TestStatus::Passed, Some(1)),
            outcome(
                "tests::b",
                TestStatus::Failed(Failure::Exited { code: 0 }),
                Some(0),
            ),
            outcome(
                "tests::c",
                TestStatus::NotRun(
                    "the run stopped after a failure (--no-fail-fast runs everything)".into(),
                ),
                None,
            ),
            RunEvent::RunFinished {
                wall: Duration::from_secs(1),
                cancelled: Some(
                    "the run stopped after a failure (--no-fail-fast runs everything)".into(),
                ),
            },
        ] {
            record.handle(&e);
        }
        insta::assert_snapshot!(json_report(&record, "worksteal"));
    }
}
