//! The JSON report (`--json PATH`): one document for the whole run, every outcome in the
//! order it arrived, with the worker that ran it and when. The schema is
//! [`xpar_metadata::RunReport`], documented in `docs/report-format.md`; this module only
//! fills it from a [`RunRecord`].

use std::io::{BufWriter, Write};
use std::path::Path;

use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use xpar_metadata::{
    DistMode, ReportAttempt, ReportBinaryTests, ReportCounts, ReportPartition, ReportTest,
    ReportTestStatus, RunReport, REPORT_FORMAT_VERSION,
};

use super::events::{worker_name, TestOutcome, TestStatus};
use super::record::RunRecord;
use crate::errors::ReportError;

/// What the report says of a run beside its record.
#[derive(Clone, Debug, Default)]
pub struct ReportMeta {
    pub run_id: Option<String>,
    pub partition: Option<ReportPartition>,
    /// Under `--results-dir`: the build identity and every test the partition was cut
    /// from.
    pub build_id: Option<String>,
    pub selection: Vec<ReportBinaryTests>,
}

/// The report of a finished run. `dist` names the distribution mode as `--dist` does.
pub fn run_report(record: &RunRecord, dist: &str, meta: &ReportMeta) -> RunReport {
    RunReport {
        format_version: REPORT_FORMAT_VERSION,
        dist: dist_mode(dist),
        workers: record.workers,
        wall_secs: record.wall.as_secs_f64(),
        cancelled: record.cancelled.is_some(),
        cancel_reason: record.cancelled.clone(),
        counts: ReportCounts {
            passed: record.passed(),
            flaky: record.flaky(),
            failed: record.failed(),
            ignored: record.ignored(),
            not_run: record.not_run(),
            filtered_out: record.filtered_out,
        },
        tests: record.outcomes.iter().map(report_test).collect(),
        run_id: meta.run_id.clone(),
        partition: meta.partition.clone(),
        build_id: meta.build_id.clone(),
        selection: meta.selection.clone(),
        shards: Vec::new(),
        machines: Vec::new(),
    }
}

/// `--dist`'s name of a mode, read by the report's own serde names so that the two cannot
/// differ; a name the schema does not know (a replayed log's) is kept as written.
fn dist_mode(name: &str) -> DistMode {
    let de: StrDeserializer<'_, ValueError> = name.into_deserializer();
    DistMode::deserialize(de).unwrap_or_else(|_| DistMode::Other(name.to_owned()))
}

fn report_test(o: &TestOutcome) -> ReportTest {
    let (status, message) = match &o.status {
        TestStatus::Passed => (ReportTestStatus::Passed, None),
        TestStatus::Failed(f) => (ReportTestStatus::Failed, Some(f.message())),
        TestStatus::Ignored => (ReportTestStatus::Ignored, None),
        TestStatus::NotRun(why) => (ReportTestStatus::NotRun, Some(why.clone())),
    };
    ReportTest {
        binary_id: xpar_metadata::BinaryId::new(o.binary_id.as_str()),
        name: o.name.clone(),
        status,
        message,
        worker: o.worker.map(worker_name),
        start_secs: o.started.map(|d| d.as_secs_f64()),
        duration_secs: o.duration.as_secs_f64(),
        output: o.output.clone(),
        flaky: o.is_flaky(),
        previous: o
            .previous
            .iter()
            .map(|p| ReportAttempt {
                message: match &p.status {
                    TestStatus::Failed(f) => f.message(),
                    _ => String::new(),
                },
                duration_secs: p.duration.as_secs_f64(),
                output: p.output.clone(),
            })
            .collect(),
        shard: None,
        machine: None,
        cpu_secs: o.resources.map(|r| r.cpu.as_secs_f64()),
        peak_rss_bytes: o.resources.and_then(|r| r.peak_rss),
    }
}

/// The report of a finished run, as pretty-printed JSON.
pub fn json_report(record: &RunRecord, dist: &str, meta: &ReportMeta) -> String {
    run_report(record, dist, meta).to_json_pretty()
}

/// Writes the report to `path`, creating its directory.
/// `dist` names the distribution mode as `--dist` does.
pub fn write_json(
    record: &RunRecord,
    dist: &str,
    meta: &ReportMeta,
    path: &Path,
) -> Result<(), ReportError> {
    write_report(&run_report(record, dist, meta), path)
}

/// Writes `report` to `path`, creating its directory.
pub fn write_report(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    let err = |source: std::io::Error| ReportError::Json {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut out = BufWriter::new(std::fs::File::create(path).map_err(err)?);
    report.to_writer(&mut out).map_err(err)?;
    out.flush().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;
    use crate::report::{Failure, RunEvent, TestOutcome};
    use std::time::Duration;

    #[test]
    fn report_from_recorded_events() {
        let mut record = RunRecord::default();
        let outcome = |name: &str, status, worker: Option<usize>| {
            RunEvent::TestFinished(TestOutcome {
                binary_id: crate::discover::binary_id("alpha", BinaryKind::Lib, "alpha"),
                name: name.into(),
                status,
                duration: Duration::from_millis(250),
                output: "out\n".into(),
                worker,
                started: worker.map(|_| Duration::from_millis(500)),
                previous: Vec::new(),
                attempt: xpar_metadata::Attempt::FIRST,
                resources: None,
            })
        };
        for e in [
            RunEvent::RunStarted {
                to_run: 2,
                workers: 2,
                filtered_out: 3,
                opaque: vec![],
                run_id: None,
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
        insta::assert_snapshot!(json_report(&record, "worksteal", &ReportMeta::default()));
    }

    #[test]
    fn the_report_reads_back_as_written() {
        let failed = TestOutcome {
            binary_id: crate::discover::binary_id("alpha", BinaryKind::Lib, "alpha"),
            name: "tests::flaky".into(),
            status: TestStatus::Failed(Failure::Exited { code: 101 }),
            duration: Duration::from_millis(100),
            output: "first\n".into(),
            worker: Some(0),
            started: Some(Duration::ZERO),
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        };
        let passed = TestOutcome {
            status: TestStatus::Passed,
            output: "second\n".into(),
            previous: vec![failed.clone()],
            ..failed.clone()
        };
        let mut record = RunRecord::default();
        record.handle(&RunEvent::TestFinished(passed));
        let text = json_report(&record, "loadscope", &ReportMeta::default());
        let report = RunReport::from_json(&text).unwrap();
        assert_eq!(
            report,
            run_report(&record, "loadscope", &ReportMeta::default())
        );
        assert_eq!(report.dist, DistMode::Loadscope);
        let t = &report.tests[0];
        assert!(t.flaky && t.status == ReportTestStatus::Passed, "{text}");
        assert_eq!(t.previous[0].output, "first\n");
        assert!(!t.previous[0].message.is_empty(), "{text}");
    }

    #[test]
    fn a_dist_name_the_schema_does_not_know_is_kept() {
        assert_eq!(dist_mode("each"), DistMode::Each);
        assert_eq!(dist_mode("loadsmart"), DistMode::Other("loadsmart".into()));
        let text = json_report(&RunRecord::default(), "loadsmart", &ReportMeta::default());
        assert!(text.contains("\"dist\": \"loadsmart\""), "{text}");
    }
}
