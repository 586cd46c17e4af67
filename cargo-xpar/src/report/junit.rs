//! The JUnit XML report (quick-junit): a `testsuite` per binary id, a `testcase` per test
//! with `classname` = binary id, failures with their message and captured output, ignored
//! and unrun tests as `skipped`.

use std::collections::BTreeMap;
use std::path::Path;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::events::{worker_name, TestStatus};
use super::record::RunRecord;
use crate::errors::ReportError;

/// Builds the report from a finished run.
pub fn junit_report(record: &RunRecord) -> Report {
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for o in &record.outcomes {
        let status = match &o.status {
            TestStatus::Passed => TestCaseStatus::success(),
            TestStatus::Failed(f) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(f.message())
                    .set_description(o.output.as_str());
                s
            }
            TestStatus::Ignored => TestCaseStatus::skipped(),
            TestStatus::NotRun(reason) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("not run: {reason}"));
                s
            }
        };
        let mut status = status;
        // Earlier failed attempts: flakyFailure under a pass, rerunFailure under a failure.
        status.add_reruns(o.previous.iter().map(|p| {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            if let TestStatus::Failed(f) = &p.status {
                rerun.set_message(f.message());
            }
            rerun
                .set_time(p.duration)
                .set_description(p.output.as_str());
            rerun
        }));
        let mut case = TestCase::new(o.name.as_str(), status);
        case.set_classname(o.binary_id.as_str())
            .set_time(o.duration);
        if let Some(w) = o.worker {
            case.add_property(Property::new("xpar.worker", worker_name(w)));
        }
        suites
            .entry(o.binary_id.as_str())
            .or_insert_with(|| TestSuite::new(o.binary_id.as_str()))
            .add_test_case(case);
    }
    let mut report = Report::new("cargo-xpar");
    report
        .set_time(record.wall)
        .add_test_suites(suites.into_values());
    report
}

/// Writes the report to `path`, creating its directory.
pub fn write_junit(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| ReportError::Junit {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(Box::new(e)))?;
    }
    let file = std::fs::File::create(path).map_err(|e| err(Box::new(e)))?;
    junit_report(record)
        .serialize(std::io::BufWriter::new(file))
        .map_err(|e| err(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{BinaryId, BinaryKind};
    use crate::report::{Failure, RunEvent, TestOutcome};
    use std::time::Duration;

    fn outcome(bin: &str, name: &str, status: TestStatus, output: &str) -> RunEvent {
        RunEvent::TestFinished(TestOutcome {
            binary_id: BinaryId::new(bin, BinaryKind::Lib, bin),
            name: name.into(),
            status,
            duration: Duration::from_millis(5),
            output: output.into(),
            worker: Some(1),
            started: None,
            previous: Vec::new(),
        })
    }

    #[test]
    fn report_from_recorded_events() {
        let mut record = RunRecord::default();
        let events = [
            outcome("alpha", "tests::passes", TestStatus::Passed, "hidden"),
            outcome(
                "alpha",
                "tests::aborts",
                TestStatus::Failed(Failure::Signal {
                    signal: 6,
                    name: "SIGABRT",
                }),
                "output before abort\n",
            ),
            outcome("beta", "tests::slow", TestStatus::Ignored, ""),
            RunEvent::RunFinished {
                wall: Duration::from_millis(20),
                cancelled: None,
            },
        ];
        for e in &events {
            record.handle(e);
        }
        let xml = junit_report(&record).to_string().unwrap();
        insta::assert_snapshot!(xml);
    }
}
