//! The run report (`cargo xpar --json PATH`), documented in `docs/report-format.md`.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::versioned::{read_versioned, to_pretty, write_pretty};
use crate::{BinaryId, ReadError};

/// The version of [`RunReport`] this crate reads and writes.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// One document for a whole run, written when the run ends (also when it stopped early).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunReport {
    /// [`REPORT_FORMAT_VERSION`] in a report this crate writes or reads.
    pub format_version: u32,
    pub dist: DistMode,
    pub workers: usize,
    /// Wall time of the test phase (not the build), in seconds.
    pub wall_secs: f64,
    /// The run stopped scheduling early (`--fail-fast`, `--maxfail`, a signal, ...).
    pub cancelled: bool,
    /// Why it stopped; `None` when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub counts: ReportCounts,
    /// One entry per selected test (per worker under `--dist each`), in the order the
    /// results arrived.
    pub tests: Vec<ReportTest>,
    /// The run's id, as its record under `<target-dir>/xpar/runs` is named. Absent in a
    /// merged report (see `shards`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `--partition`: the shard this run was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<ReportPartition>,
    /// Under `--results-dir`, and after a merge: the identity of the build (or archive)
    /// the tests ran from, a hash of every test binary and of the executables its tests
    /// spawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// Under `--results-dir`: every test the run's partition was cut from (all selected
    /// tests, ignored ones too), by binary, so that a merge can tell a test that no shard
    /// ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<ReportBinaryTests>,
    /// After a merge: the shards merged, in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ReportShard>,
    /// A queue report (`cargo xpar queue report`): the machines of the run, in the order
    /// they started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machines: Vec<ReportMachine>,
}

/// One machine of a run on a shared queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportMachine {
    pub name: String,
    /// Its workers are numbered from `first-worker` in the report (`gw{N}`).
    pub first_worker: usize,
    pub workers: usize,
}

/// Which shard of how many a run was (`--partition KIND:K/N`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportPartition {
    /// `slice`, `hash` or `time`.
    pub kind: String,
    /// From 1.
    pub index: usize,
    pub total: usize,
}

/// The tests of one binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportBinaryTests {
    pub binary_id: BinaryId,
    pub tests: Vec<String>,
}

/// One shard of a merged report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportShard {
    /// From 1 (1 for a run without `--partition`).
    pub index: usize,
    pub run_id: Option<String>,
    /// Its workers are numbered from `first-worker` in the merged report (`gw{N}`).
    pub first_worker: usize,
    pub workers: usize,
    pub wall_secs: f64,
}

/// How tests were shared among workers (`--dist`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistMode {
    Load,
    Loadscope,
    Loadfile,
    Loadgroup,
    Worksteal,
    Each,
    No,
    /// A mode added after this crate: kept as written, so a report read and written
    /// again is unchanged.
    #[serde(untagged)]
    Other(String),
}

/// How many tests ended each way. `flaky` ones are counted in `passed` too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportCounts {
    pub passed: usize,
    /// Passed only on a retry.
    pub flaky: usize,
    pub failed: usize,
    pub ignored: usize,
    pub not_run: usize,
    pub filtered_out: usize,
}

/// One test of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportTest {
    pub binary_id: BinaryId,
    /// The name as libtest lists it (for an opaque binary: its binary id).
    pub name: String,
    pub status: ReportTestStatus,
    /// For `failed`, the one-line reason; for `not-run`, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `gw0`, `gw1`, ...; `None` for a test that did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Seconds from the start of the test phase; `None` for a test that did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_secs: Option<f64>,
    pub duration_secs: f64,
    /// Its stdout and stderr, interleaved as written.
    pub output: String,
    /// Passed only after failing (`--retries`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Earlier attempts that failed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<ReportAttempt>,
    /// In a merged report: the shard (from 1) that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
    /// In a queue report: the machine that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// CPU time (user + system) the test used, in seconds, when it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_secs: Option<f64>,
    /// The test's peak resident memory in bytes, when it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

/// How a test ended. A reader must handle every value, so a new one raises
/// [`REPORT_FORMAT_VERSION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportTestStatus {
    Passed,
    /// Also a test killed by `--timeout`.
    Failed,
    /// `#[ignore]`d and not asked for.
    Ignored,
    /// Never started (the run was cancelled).
    NotRun,
}

/// An earlier, failed attempt of a retried test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReportAttempt {
    pub message: String,
    pub duration_secs: f64,
    pub output: String,
}

impl RunReport {
    /// Parses a report, refusing a format version other than [`REPORT_FORMAT_VERSION`].
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        read_versioned(text, "run report", REPORT_FORMAT_VERSION)
    }

    /// The report as cargo-xpar writes it: pretty-printed, ending in a newline.
    pub fn to_json_pretty(&self) -> String {
        to_pretty(self)
    }

    /// Writes the report as [`RunReport::to_json_pretty`] does.
    pub fn to_writer(&self, out: impl Write) -> io::Result<()> {
        write_pretty(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Written by `cargo xpar --json` (at commit 4329215) in `fixtures/basic`: a run
    /// cancelled by its first failure, with passed, failed, ignored and not-run tests.
    const BASIC: &str = include_str!("../testdata/report-basic.json");
    /// Written in `fixtures/adversarial` with `--retries 2 --dist loadscope -j 2
    /// h_flaky_one_in_three h_ok` and the counter set to fail once: a flaky test.
    const FLAKY: &str = include_str!("../testdata/report-flaky.json");

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reports_as_written_round_trip() {
        for text in [BASIC, FLAKY] {
            let report = RunReport::from_json(text).unwrap();
            assert_eq!(serde_json::to_value(&report).unwrap(), value(text));
            assert_eq!(report.to_json_pretty(), text);
            let mut written = Vec::new();
            report.to_writer(&mut written).unwrap();
            assert_eq!(String::from_utf8(written).unwrap(), text);
        }
    }

    #[test]
    fn reports_read_as_typed_values() {
        let basic = RunReport::from_json(BASIC).unwrap();
        assert_eq!(basic.dist, DistMode::Load);
        assert!(basic.cancelled && basic.cancel_reason.is_some());
        let by_status = |s| basic.tests.iter().filter(|t| t.status == s).count();
        assert_eq!(by_status(ReportTestStatus::Passed), basic.counts.passed);
        assert_eq!(by_status(ReportTestStatus::Failed), basic.counts.failed);
        assert_eq!(by_status(ReportTestStatus::Ignored), basic.counts.ignored);
        assert_eq!(by_status(ReportTestStatus::NotRun), basic.counts.not_run);
        assert!(basic
            .tests
            .iter()
            .all(|t| t.worker.is_some() == t.start_secs.is_some()));

        let flaky = RunReport::from_json(FLAKY).unwrap();
        assert_eq!(flaky.dist, DistMode::Loadscope);
        let t = flaky.tests.iter().find(|t| t.flaky).unwrap();
        assert_eq!(t.status, ReportTestStatus::Passed);
        assert_eq!(t.previous.len(), 1);
        assert_eq!(t.previous[0].message, "test failed");
    }

    #[test]
    fn another_format_version_is_refused_naming_both() {
        let text = BASIC.replacen("\"format-version\": 1", "\"format-version\": 2", 1);
        let err = RunReport::from_json(&text).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Version {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("run report") && message.contains("version 2"),
            "{message}"
        );
        assert!(message.contains("version 1"), "{message}");
    }

    #[test]
    fn a_report_without_a_version_is_refused() {
        let err = RunReport::from_json(r#"{"dist": "load"}"#).unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("format-version"), "{source}");
    }

    #[test]
    fn unknown_fields_and_dist_modes_are_read() {
        let mut doc = value(FLAKY);
        doc["dist"] = "loadsmart".into();
        doc["new-top-level"] = serde_json::json!({"any": [1, 2]});
        doc["counts"]["skipped"] = 4.into();
        doc["tests"][1]["retries-left"] = 1.into();
        doc["tests"][1]["previous"][0]["worker"] = "gw3".into();
        let report = RunReport::from_json(&doc.to_string()).unwrap();
        assert_eq!(report.dist, DistMode::Other("loadsmart".into()));
        assert_eq!(report.tests.len(), 2);
        // Unknown fields are dropped; an unknown dist is written back as it was.
        let again = RunReport::from_json(&report.to_json_pretty()).unwrap();
        assert_eq!(again, report);
        assert_eq!(serde_json::to_value(&again).unwrap()["dist"], "loadsmart");
    }

    #[test]
    fn an_unknown_status_is_an_error() {
        let text = FLAKY.replacen("\"status\": \"passed\"", "\"status\": \"skipped\"", 1);
        let err = RunReport::from_json(&text).unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("unknown variant `skipped`"), "{source}");
    }
}
