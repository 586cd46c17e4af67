//! Reads `cargo xpar --json` reports (docs/report-format.md) for the tests that check
//! which worker ran what, and when. The report is read with [`xpar_metadata::RunReport`],
//! the schema the runner writes; the tests see each test in the plain strings they compare.

use std::path::Path;
use std::process::Command;

use xpar_metadata::{ReportTest, ReportTestStatus, RunReport};

use crate::xpar::{xpar, Run};

/// One test of a JSON report.
#[derive(Debug, Clone)]
pub struct JsonTest {
    pub binary_id: String,
    pub name: String,
    /// As the report writes it: `passed`, `failed`, `ignored`, `not-run`.
    pub status: String,
    /// Why it failed, or why it did not run.
    pub message: Option<String>,
    pub worker: Option<String>,
    pub start_secs: Option<f64>,
    pub duration_secs: f64,
    pub output: String,
    pub cpu_secs: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
}

impl From<ReportTest> for JsonTest {
    fn from(t: ReportTest) -> Self {
        JsonTest {
            binary_id: t.binary_id.as_str().to_owned(),
            name: t.name,
            status: status_name(t.status),
            message: t.message,
            worker: t.worker,
            start_secs: t.start_secs,
            duration_secs: t.duration_secs,
            output: t.output,
            cpu_secs: t.cpu_secs,
            peak_rss_bytes: t.peak_rss_bytes,
        }
    }
}

/// The status's name in the report, taken from the schema's serde names so that the two
/// cannot differ.
fn status_name(status: ReportTestStatus) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("{status:?} is not written as a string: {other:?}"),
    }
}

/// A run that wrote a JSON report, and the report.
#[derive(Debug, Clone)]
pub struct JsonRun {
    pub run: Run,
    pub workers: usize,
    pub tests: Vec<JsonTest>,
}

/// Runs `cargo xpar --json DIR/report.json ARGS...` in `dir` and reads the report;
/// panics, showing the run, if there is no valid report.
pub fn run_json(dir: &Path, args: &[&str]) -> JsonRun {
    let path = dir.join("report.json");
    let mut cmd = xpar(dir);
    cmd.arg("--json").arg(&path).args(args);
    run_json_cmd(&mut cmd, &path)
}

/// Runs `cmd`, a [`xpar`] command that asks for `--json PATH` (its environment set as the
/// test wants), and reads the report; panics, showing the run, if there is none.
pub fn run_json_cmd(cmd: &mut Command, path: &Path) -> JsonRun {
    let run = Run::of(cmd);
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("no JSON report at {}: {err}\n\n{run}", path.display()));
    // from_json refuses any format version but the one the runner writes.
    let report = RunReport::from_json(&text).unwrap_or_else(|err| {
        let source = std::error::Error::source(&err).map(|s| s.to_string());
        panic!("bad JSON report: {err} ({source:?})\n{text}\n\n{run}")
    });
    JsonRun {
        run,
        workers: report.workers,
        tests: report.tests.into_iter().map(JsonTest::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named_as_the_report_writes_them() {
        let names = [
            ReportTestStatus::Passed,
            ReportTestStatus::Failed,
            ReportTestStatus::Ignored,
            ReportTestStatus::NotRun,
        ]
        .map(status_name);
        assert_eq!(names, ["passed", "failed", "ignored", "not-run"]);
    }
}
