//! Reads `cargo xpar --json` reports (docs/report-format.md) for the tests that check
//! which worker ran what, and when.

use std::path::Path;

use serde::Deserialize;

use crate::xpar::{xpar, Run};

/// One test of a JSON report.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JsonTest {
    pub binary_id: String,
    pub name: String,
    pub status: String,
    /// Why it failed, or why it did not run.
    #[serde(default)]
    pub message: Option<String>,
    pub worker: Option<String>,
    pub start_secs: Option<f64>,
    pub duration_secs: f64,
    pub output: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonReport {
    format_version: u32,
    workers: usize,
    tests: Vec<JsonTest>,
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
    let run = Run::of(&mut cmd);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("no JSON report at {}: {err}\n\n{run}", path.display()));
    let report: JsonReport = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("bad JSON report: {err}\n{text}\n\n{run}"));
    assert_eq!(report.format_version, 1, "{text}");
    JsonRun {
        run,
        workers: report.workers,
        tests: report.tests,
    }
}
