//! The test list (`cargo xpar list --format json`), documented in `docs/list-format.md`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

use crate::versioned::{read_versioned, to_pretty, write_pretty};
use crate::{BinaryId, ReadError};

/// The version of [`TestListSummary`] this crate reads and writes.
pub const LIST_FORMAT_VERSION: u32 = 1;

/// Every test binary of a build and the tests it lists, after filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TestListSummary {
    /// [`LIST_FORMAT_VERSION`] in a list this crate writes or reads.
    pub format_version: u32,
    /// The tests listed, over all binaries.
    pub test_count: usize,
    /// Binaries whose tests are all filtered out are kept, with no tests.
    pub binaries: Vec<ListBinary>,
}

/// One test binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListBinary {
    pub binary_id: BinaryId,
    /// The cargo package it belongs to.
    pub package: String,
    pub kind: BinaryKind,
    /// The test executable.
    #[serde(serialize_with = "lossy_path")]
    pub binary_path: PathBuf,
    /// Where its tests run: the package root, as under `cargo test`.
    #[serde(serialize_with = "lossy_path")]
    pub cwd: PathBuf,
    /// It did not answer `--list` as libtest does, and runs as one test named after its
    /// binary id.
    pub opaque: bool,
    /// For an opaque binary: the command tried and what it printed, or why it was not
    /// asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque_reason: Option<String>,
    /// In the order the binary lists them.
    pub tests: Vec<ListTest>,
    /// For a command suite (`kind: suite`): what the config file says of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<ListSuite>,
}

/// A command suite as `cargo xpar list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListSuite {
    /// The program and its arguments.
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_group: Option<String>,
}

/// What kind of cargo target a test binary was built from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryKind {
    Lib,
    ProcMacro,
    Bin,
    Test,
    Example,
    Bench,
    /// A command suite of the config file (`[[suite]]`).
    Suite,
    /// A library's doctests (binary id `@doc/PACKAGE`).
    Doctest,
    /// A kind added after this crate: kept as written, so a list read and written again
    /// is unchanged.
    #[serde(untagged)]
    Other(String),
}

/// One test of a binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListTest {
    pub name: String,
    /// `#[ignore]`d.
    pub ignored: bool,
    /// The file defining the test, relative to the workspace root, when libtest's JSON
    /// listing gives it.
    #[serde(
        default,
        serialize_with = "lossy_opt_path",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_path: Option<PathBuf>,
}

impl TestListSummary {
    /// Parses a list, refusing a format version other than [`LIST_FORMAT_VERSION`].
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        read_versioned(text, "test list", LIST_FORMAT_VERSION)
    }

    /// The list as cargo-xpar writes it: pretty-printed, ending in a newline.
    pub fn to_json_pretty(&self) -> String {
        to_pretty(self)
    }

    /// Writes the list as [`TestListSummary::to_json_pretty`] does.
    pub fn to_writer(&self, out: impl Write) -> io::Result<()> {
        write_pretty(self, out)
    }
}

// serde refuses to serialise a path that is not UTF-8; the list has always shown such a
// path lossily (as `Path::display` does) rather than fail.
fn lossy_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

fn lossy_opt_path<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => lossy_path(path, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Written by `cargo xpar list --format json` (at commit 4329215) in `fixtures/basic`:
    /// lib, bin and test binaries, an opaque one, ignored tests, source paths.
    const BASIC: &str = include_str!("../testdata/list-basic.json");
    /// The same in `fixtures/mimic`: a binary with no tests, tests with no source path.
    const MIMIC: &str = include_str!("../testdata/list-mimic.json");

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn lists_as_written_round_trip() {
        for text in [BASIC, MIMIC] {
            let list = TestListSummary::from_json(text).unwrap();
            assert_eq!(serde_json::to_value(&list).unwrap(), value(text));
            assert_eq!(list.to_json_pretty(), text);
            let mut written = Vec::new();
            list.to_writer(&mut written).unwrap();
            assert_eq!(String::from_utf8(written).unwrap(), text);
        }
    }

    #[test]
    fn lists_read_as_typed_values() {
        let list = TestListSummary::from_json(BASIC).unwrap();
        let tests: usize = list.binaries.iter().map(|b| b.tests.len()).sum();
        assert_eq!(tests, list.test_count);
        let opaque = list.binaries.iter().find(|b| b.opaque).unwrap();
        assert_eq!(opaque.kind, BinaryKind::Test);
        assert!(opaque.opaque_reason.is_some());
        assert_eq!(opaque.tests[0].name, opaque.binary_id.as_str());
        assert!(list.binaries.iter().any(|b| b.kind == BinaryKind::Bin));
        let lib = &list.binaries[0];
        assert_eq!(
            (lib.binary_id.as_str(), &lib.kind),
            ("alpha", &BinaryKind::Lib)
        );
        assert_eq!(
            lib.tests[0].source_path.as_deref(),
            Some(Path::new("alpha/src/lib.rs"))
        );
        assert!(lib.tests.iter().any(|t| t.ignored));
    }

    #[test]
    fn another_format_version_is_refused_naming_both() {
        let text = BASIC.replacen("\"format-version\": 1", "\"format-version\": 7", 1);
        let err = TestListSummary::from_json(&text).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Version {
                    found: 7,
                    supported: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("test list")
                && message.contains("version 7")
                && message.contains("version 1"),
            "{message}"
        );
    }

    #[test]
    fn unknown_fields_and_kinds_are_read() {
        let mut doc = value(MIMIC);
        doc["platform"] = "x86_64-unknown-linux-gnu".into();
        doc["binaries"][0]["kind"] = "build-script".into();
        doc["binaries"][0]["env"] = serde_json::json!({"A": "1"});
        doc["binaries"][1]["tests"][0]["start-line"] = 3.into();
        let list = TestListSummary::from_json(&doc.to_string()).unwrap();
        assert_eq!(
            list.binaries[0].kind,
            BinaryKind::Other("build-script".into())
        );
        assert_eq!(list.binaries[1].tests.len(), 6);
        let again = TestListSummary::from_json(&list.to_json_pretty()).unwrap();
        assert_eq!(again, list);
        assert_eq!(
            serde_json::to_value(&again).unwrap()["binaries"][0]["kind"],
            "build-script"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_written_lossily() {
        use std::os::unix::ffi::OsStrExt;
        let mut list = TestListSummary::from_json(MIMIC).unwrap();
        list.binaries[0].cwd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/w/\xff"));
        let doc = serde_json::to_value(&list).unwrap();
        assert_eq!(doc["binaries"][0]["cwd"], "/w/\u{fffd}");
    }
}
