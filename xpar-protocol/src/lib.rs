//! The contract between `cargo xpar` (the runner) and `xpar-harness` (linked into test
//! binaries), used by both sides so that they cannot drift apart: the environment a test
//! process is given, and the versioned JSON form in which a test binary reports its
//! tests' markers.
//!
//! A format change that an older reader would misread bumps [`FORMAT_VERSION`]; readers
//! refuse a version they do not know rather than guess.

use serde::{Deserialize, Serialize};

/// The version of [`MarkerReport`] this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The slots of a bare `#[resource_intensive]` (no `slots = N`): the fewest that still
/// mean "more than an ordinary test".
pub const DEFAULT_RESOURCE_SLOTS: u32 = 2;

/// Environment variables set by the runner in every test process.
pub mod env {
    /// The worker running the process: `gw0`, `gw1`, ...
    pub const WORKER_ID: &str = "XPAR_WORKER_ID";
    /// The number of workers in the run.
    pub const WORKER_COUNT: &str = "XPAR_WORKER_COUNT";
    /// One id per run, shared by every worker.
    pub const TESTRUN_UID: &str = "XPAR_TESTRUN_UID";
    /// A directory private to the worker (also given as `TMPDIR`).
    pub const TMPDIR: &str = "XPAR_TMPDIR";
    /// A directory shared by every worker of the run (for `once_per_run`).
    pub const RUN_DIR: &str = "XPAR_RUN_DIR";
    /// Set to `1` when the runner itself keeps marked tests apart, so the harness need
    /// not take its cross-process file locks.
    pub const SCHEDULED: &str = "XPAR_SCHEDULED";
    /// Sent only together with `--list`: a file path. A binary linked with the harness
    /// writes its [`MarkerReport`] there before libtest's `main` runs, then lists as
    /// usual; a binary without the harness ignores it and only lists.
    pub const MARKER_QUERY: &str = "XPAR_MARKER_QUERY";
}

/// Every marked test of one test binary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerReport {
    pub format_version: u32,
    /// The marked tests; a test that is not here has no markers.
    pub tests: Vec<TestMarkers>,
}

/// The markers of one test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMarkers {
    /// The test's name as libtest lists it (`module::path::name`, without the crate).
    pub name: String,
    #[serde(default)]
    pub serial: Serial,
    #[serde(default)]
    pub parallel_safe: bool,
    /// `#[resource_intensive(slots = N)]`: worker slots the test occupies while it runs
    /// ([`DEFAULT_RESOURCE_SLOTS`] for a bare `#[resource_intensive]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_slots: Option<u32>,
    /// `#[group("name")]`: tests of one group run on one worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// What `#[serial]` asks of a test.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serial {
    /// No `#[serial]` marker.
    #[default]
    No,
    /// `#[serial]`: no other test runs at the same time.
    All,
    /// `#[serial(a, b)]`: no test sharing one of these keys runs at the same time.
    Keys(Vec<String>),
}

/// Why a marker report could not be read.
#[derive(Debug)]
pub enum ReadError {
    Json(serde_json::Error),
    Version { found: u32 },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Json(e) => write!(f, "the marker report is not valid JSON: {e}"),
            ReadError::Version { found } => write!(
                f,
                "the marker report has format version {found}, this cargo-xpar reads \
                 {FORMAT_VERSION}; use the same version of cargo-xpar and xpar-harness"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

impl MarkerReport {
    pub fn new(tests: Vec<TestMarkers>) -> Self {
        MarkerReport {
            format_version: FORMAT_VERSION,
            tests,
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings, bools and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a report, refusing a format version this side does not know.
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: u32,
        }
        let v: VersionOnly = serde_json::from_str(text).map_err(ReadError::Json)?;
        if v.format_version != FORMAT_VERSION {
            return Err(ReadError::Version {
                found: v.format_version,
            });
        }
        serde_json::from_str(text).map_err(ReadError::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let report = MarkerReport::new(vec![
            TestMarkers {
                name: "db::writes".into(),
                serial: Serial::Keys(vec!["db".into(), "fs".into()]),
                ..Default::default()
            },
            TestMarkers {
                name: "global".into(),
                serial: Serial::All,
                resource_slots: Some(2),
                group: Some("g".into()),
                ..Default::default()
            },
        ]);
        let json = report.to_json();
        assert_eq!(MarkerReport::from_json(&json).unwrap(), report);
        assert!(json.contains(r#""serial":{"keys":["db","fs"]}"#), "{json}");
    }

    #[test]
    fn unknown_version_is_refused() {
        let err = MarkerReport::from_json(r#"{"format_version": 99, "tests": []}"#).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }

    #[test]
    fn missing_fields_default() {
        let r = MarkerReport::from_json(r#"{"format_version":1,"tests":[{"name":"t"}]}"#).unwrap();
        assert_eq!(r.tests[0].serial, Serial::No);
        assert!(!r.tests[0].parallel_safe);
    }
}
