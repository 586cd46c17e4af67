//! Fail-fast is the default, as for `cargo test` and nextest: after the first failure no
//! new test starts, and every test that did not run is still reported (as not run), so a
//! stop loses no result.

use std::collections::BTreeSet;

use xpar_tests::fixture_data::{select, Outcome, BASIC};
use xpar_tests::{run_junit, FixtureCopy};

#[test]
fn default_stops_after_the_first_failure_and_reports_the_rest_as_not_run() {
    let fixture = FixtureCopy::new("basic");
    // One worker, alpha's unit tests only: libtest runs them in name order, and the first
    // (`tests::aborts`) fails, so everything after it must be left unrun.
    let result = run_junit(fixture.path(), &["-j", "1", "-p", "alpha", "--lib"]);
    assert_eq!(result.run.code(), Some(100), "{}", result.run);

    let cases = result.cases();
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.failure.is_some())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["tests::aborts"], "{}", result.run);

    // Every selected test appears exactly once: ran, ignored, or not run.
    let expected: BTreeSet<&str> = select(BASIC, |e| e.binary_id == "alpha")
        .iter()
        .map(|e| e.name)
        .collect();
    let reported: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let reported_set: BTreeSet<&str> = reported.iter().copied().collect();
    assert_eq!(
        reported.len(),
        reported_set.len(),
        "duplicates in {reported:?}"
    );
    assert_eq!(reported_set, expected, "{}", result.run);

    let not_run = cases
        .iter()
        .filter(|c| c.skipped && !is_ignored_in_model(&c.name))
        .count();
    assert!(
        not_run > 10,
        "expected most tests unrun, got {not_run}\n{}",
        result.run
    );
    assert!(
        result.run.stderr.contains(&format!("{not_run} not run")),
        "summary does not count the unrun tests\n{}",
        result.run
    );
    assert!(
        result.run.stderr.contains("--no-fail-fast"),
        "{}",
        result.run
    );
}

fn is_ignored_in_model(name: &str) -> bool {
    BASIC
        .iter()
        .any(|e| e.binary_id == "alpha" && e.name == name && e.outcome == Outcome::Ignored)
}
