//! `cargo xpar list --format json` on `fixtures/basic`: every binary and test of the
//! model, with its ignored flag, and the `harness = false` binary marked opaque.

use std::path::{Path, PathBuf};

use xpar_metadata::TestListSummary;
use xpar_tests::fixture_data::{Outcome, BASIC, BASIC_BINARIES};
use xpar_tests::{run, FixtureCopy, Run};

/// The list `cargo xpar list --format json` printed, read with the schema it is written
/// with; `from_json` refuses a format version other than the one it reads.
fn read_list(result: &Run) -> TestListSummary {
    TestListSummary::from_json(&result.stdout).unwrap_or_else(|err| {
        let source = std::error::Error::source(&err).map(|s| s.to_string());
        panic!("stdout is not the JSON test list: {err} ({source:?})\n\n{result}")
    })
}

#[test]
fn list_json_describes_every_test() {
    let fixture = FixtureCopy::new("basic");
    let result = run(fixture.path(), &["list", "--format", "json"]);
    assert_eq!(result.code(), Some(0), "{result}");
    let list = read_list(&result);

    let mut ids: Vec<_> = list.binaries.iter().map(|b| b.binary_id.as_str()).collect();
    ids.sort_unstable();
    let mut expected_ids: Vec<_> = BASIC_BINARIES.iter().map(|b| b.id).collect();
    expected_ids.sort_unstable();
    assert_eq!(ids, expected_ids, "{result}");

    for listed in &list.binaries {
        let model = BASIC_BINARIES
            .iter()
            .find(|b| b.id == listed.binary_id.as_str())
            .expect("ids compared above");
        let what = format!("binary {}\n\n{result}", listed.binary_id);
        assert_eq!(listed.package, model.package, "package of {what}");
        let kind = serde_json::to_value(&listed.kind).expect("a kind is a string");
        assert_eq!(kind, model.kind, "kind of {what}");
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
        let mut tests: Vec<_> = listed
            .tests
            .iter()
            .map(|t| (t.name.as_str(), t.ignored))
            .collect();
        tests.sort_unstable();
        let mut expected: Vec<_> = BASIC
            .iter()
            .filter(|e| e.binary_id == model.id)
            .map(|e| (e.name, e.outcome == Outcome::Ignored))
            .collect();
        expected.sort_unstable();
        assert_eq!(tests, expected, "tests of {what}");
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
    let list = read_list(&listed);
    let opaque = list
        .binaries
        .iter()
        .find(|b| b.opaque)
        .expect("the opaque binary");
    assert!(opaque.tests.is_empty(), "{listed}");
    assert_eq!(list.test_count, 0, "{listed}");
    let all = run(fixture.path(), &["list", "--format", "json"]);
    let all = read_list(&all);
    let opaque = all
        .binaries
        .iter()
        .find(|b| b.opaque)
        .expect("the opaque binary");
    assert_eq!(opaque.tests.len(), 1, "without -m it is listed");
}

/// The serial tests `cargo xpar list -m serial` finds in the binary `more` of the
/// `markers` fixture.
fn serial_tests_of_more(fixture: &Path) -> Vec<String> {
    let listed = run(fixture, &["list", "--format", "json", "-m", "serial"]);
    assert_eq!(listed.code(), Some(0), "{listed}");
    let list = read_list(&listed);
    let more = (list.binaries.iter())
        .find(|b| b.binary_id.as_str() == "markers::more")
        .unwrap_or_else(|| panic!("no binary markers::more\n\n{listed}"));
    more.tests.iter().map(|t| t.name.clone()).collect()
}

/// A binary's listing is kept under `target/xpar/lists/` and used again, with its
/// markers, until cargo rebuilds the binary; a rebuilt binary is listed again.
#[test]
fn a_kept_listing_serves_until_the_binary_is_rebuilt() {
    let fixture = FixtureCopy::new("markers");
    let first = serial_tests_of_more(fixture.path());
    assert!(
        first.iter().any(|t| t == "serial_fourth"),
        "the fixture's serial test: {first:?}"
    );
    let kept = fixture.path().join("target/xpar/lists");
    let files = std::fs::read_dir(&kept)
        .unwrap_or_else(|e| panic!("no listings kept at {}: {e}", kept.display()))
        .count();
    assert!(files > 0, "no listing kept in {}", kept.display());
    assert_eq!(
        serial_tests_of_more(fixture.path()),
        first,
        "the kept listing carries the markers"
    );

    let source = fixture.path().join("tests/more.rs");
    let mut text = std::fs::read_to_string(&source).expect("the fixture's test file");
    text.push_str("\n#[serial]\n#[test]\nfn serial_added_later() {}\n");
    std::fs::write(&source, text).expect("the test file written");
    let rebuilt = serial_tests_of_more(fixture.path());
    let mut expected = first.clone();
    expected.push("serial_added_later".to_owned());
    expected.sort();
    let mut found = rebuilt.clone();
    found.sort();
    assert_eq!(found, expected, "the rebuilt binary's listing");
}
