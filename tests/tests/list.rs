//! `cargo xpar list --format json` on `fixtures/basic`: every binary and test of the
//! model, with its ignored flag, and the `harness = false` binary marked opaque.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use xpar_tests::fixture_data::{Outcome, BASIC, BASIC_BINARIES};
use xpar_tests::{run, FixtureCopy};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TestList {
    format_version: u32,
    test_count: usize,
    binaries: Vec<ListedBinary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ListedBinary {
    binary_id: String,
    package: String,
    kind: String,
    binary_path: PathBuf,
    cwd: PathBuf,
    opaque: bool,
    tests: Vec<ListedTest>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct ListedTest {
    name: String,
    ignored: bool,
}

#[test]
fn list_json_describes_every_test() {
    let fixture = FixtureCopy::new("basic");
    let result = run(fixture.path(), &["list", "--format", "json"]);
    assert_eq!(result.code(), Some(0), "{result}");
    let list: TestList = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|err| panic!("stdout is not the JSON test list: {err}\n\n{result}"));
    assert_eq!(list.format_version, 1, "{result}");

    let mut ids: Vec<_> = list.binaries.iter().map(|b| b.binary_id.as_str()).collect();
    ids.sort_unstable();
    let mut expected_ids: Vec<_> = BASIC_BINARIES.iter().map(|b| b.id).collect();
    expected_ids.sort_unstable();
    assert_eq!(ids, expected_ids, "{result}");

    for listed in &list.binaries {
        let model = BASIC_BINARIES
            .iter()
            .find(|b| b.id == listed.binary_id)
            .expect("ids compared above");
        let what = format!("binary {}\n\n{result}", listed.binary_id);
        assert_eq!(listed.package, model.package, "package of {what}");
        assert_eq!(listed.kind, model.kind, "kind of {what}");
        assert_eq!(listed.opaque, model.opaque, "opaque flag of {what}");
        assert!(
            listed.binary_path.is_file(),
            "no file at binary-path of {what}"
        );
        let package_root = fixture.path().join(model.package);
        assert_eq!(
            canonical(&listed.cwd),
            canonical(&package_root),
            "cwd of {what}"
        );
        if model.opaque {
            // What an opaque binary lists is the runner's choice; it cannot ask.
            continue;
        }
        let mut tests: Vec<_> = listed.tests.iter().collect();
        tests.sort_unstable();
        let mut expected: Vec<_> = BASIC
            .iter()
            .filter(|e| e.binary_id == model.id)
            .map(|e| ListedTest {
                name: e.name.to_owned(),
                ignored: e.outcome == Outcome::Ignored,
            })
            .collect();
        expected.sort_unstable();
        assert_eq!(
            tests,
            expected.iter().collect::<Vec<_>>(),
            "tests of {what}"
        );
    }

    let listed_tests: usize = list.binaries.iter().map(|b| b.tests.len()).sum();
    assert_eq!(list.test_count, listed_tests, "test-count\n\n{result}");
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|err| panic!("cannot resolve {}: {err}", path.display()))
}

/// A marker expression selects in `list` what it selects in a run: the opaque binary has
/// no markers, so `-m serial` lists none of its tests (a run would not run it either).
#[test]
fn list_selects_by_markers_as_the_run_does() {
    let fixture = FixtureCopy::new("basic");
    let listed = run(
        fixture.path(),
        &["list", "--format", "json", "-m", "serial"],
    );
    assert_eq!(listed.code(), Some(0), "{listed}");
    let list: TestList = serde_json::from_str(&listed.stdout).unwrap();
    let opaque = list
        .binaries
        .iter()
        .find(|b| b.opaque)
        .expect("the opaque binary");
    assert!(opaque.tests.is_empty(), "{listed}");
    assert_eq!(list.test_count, 0, "{listed}");
    let all = run(fixture.path(), &["list", "--format", "json"]);
    let all: TestList = serde_json::from_str(&all.stdout).unwrap();
    let opaque = all
        .binaries
        .iter()
        .find(|b| b.opaque)
        .expect("the opaque binary");
    assert_eq!(opaque.tests.len(), 1, "without -m it is listed");
}
