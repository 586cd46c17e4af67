//! `--results-dir DIR`: what one run (typically one shard of a CI matrix) leaves for
//! `cargo xpar merge`. The layout is documented in `docs/report-format.md`:
//!
//! - `report.json`: the JSON report, with the run id, the partition, the build identity
//!   and every test the partition was cut from;
//! - `junit.xml`: the JUnit report;
//! - `events.jsonl`: the run's record (as under `<target-dir>/xpar/runs`), from which a
//!   merge rebuilds every outcome exactly;
//! - `durations.json`: the duration history with the run's measurements;
//! - `coverage.profdata`: under `--coverage`, the run's merged profile.

use std::path::{Path, PathBuf};

use xpar_metadata::ReportBinaryTests;

use super::json::{write_json, ReportMeta};
use super::junit::write_junit;
use super::record::RunRecord;
use crate::discover::TestList;
use crate::errors::ReportError;
use crate::history::{self, History};
use crate::plan::{Selection, UnitTests};

pub const REPORT_FILE: &str = "report.json";
pub const JUNIT_FILE: &str = "junit.xml";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const DURATIONS_FILE: &str = "durations.json";
pub const COVERAGE_FILE: &str = "coverage.profdata";

/// What a run writes to its results directory, beside its record.
pub struct ResultsInput<'a> {
    pub record: &'a RunRecord,
    pub dist: &'a str,
    pub meta: &'a ReportMeta,
    /// The run's record directory (holding `events.jsonl`).
    pub run_log_dir: Option<&'a Path>,
    /// The duration history with the run's measurements.
    pub history: &'a History,
    /// The run's merged coverage profile, under `--coverage`.
    pub coverage: Option<&'a Path>,
}

/// Writes everything into `dir` (made if missing), replacing what an earlier run left
/// there, so that no file of another run can be merged as this one's.
pub fn write(dir: &Path, input: &ResultsInput<'_>) -> Result<(), ReportError> {
    let err =
        |path: PathBuf| move |source: std::io::Error| ReportError::ResultsDir { path, source };
    std::fs::create_dir_all(dir).map_err(err(dir.to_owned()))?;
    for name in [
        REPORT_FILE,
        JUNIT_FILE,
        EVENTS_FILE,
        DURATIONS_FILE,
        COVERAGE_FILE,
    ] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(err(dir.join(name))(e))
            }
            _ => {}
        }
    }
    let Some(log_dir) = input.run_log_dir else {
        return Err(err(dir.join(EVENTS_FILE))(std::io::Error::other(
            "the run could not be recorded",
        )));
    };
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, dir.join(name))
            .map(drop)
            .map_err(err(dir.join(name)))
    };
    copy(&log_dir.join(EVENTS_FILE), EVENTS_FILE)?;
    history::write(&dir.join(DURATIONS_FILE), input.history)
        .map_err(err(dir.join(DURATIONS_FILE)))?;
    if let Some(profile) = input.coverage {
        copy(profile, COVERAGE_FILE)?;
    }
    write_junit(input.record, &dir.join(JUNIT_FILE))?;
    // The report last: a directory with a report is a complete one.
    write_json(input.record, input.dist, input.meta, &dir.join(REPORT_FILE))
}

/// Every test of `selection` (ignored ones too; an opaque binary under its binary id),
/// by binary, in list order.
pub fn selection_tests(list: &TestList, selection: &Selection) -> Vec<ReportBinaryTests> {
    let mut by_binary: Vec<Vec<String>> = vec![Vec::new(); list.binaries.len()];
    for unit in &selection.units {
        let id = list.binaries[unit.binary].binary.id.as_str();
        match &unit.tests {
            UnitTests::Named(names) => by_binary[unit.binary].extend(names.iter().cloned()),
            UnitTests::Opaque => by_binary[unit.binary].push(id.to_owned()),
        }
    }
    for t in &selection.ignored {
        by_binary[t.binary].push(t.name.clone());
    }
    list.binaries
        .iter()
        .zip(by_binary)
        .filter(|(_, tests)| !tests.is_empty())
        .map(|(lb, tests)| ReportBinaryTests {
            binary_id: xpar_metadata::BinaryId::new(lb.binary.id.as_str()),
            tests,
        })
        .collect()
}
