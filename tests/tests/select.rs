//! Which tests a run selects: filters, `--exact`, `--skip`, `--ignored`,
//! `--include-ignored`, `-p`, `--lib` and `--test`. Each test is its own run on a fresh
//! fixture copy, checked against the subset of the model it must select.

use xpar_tests::fixture_data::{select, Expected, Outcome, BASIC, PASSING};
use xpar_tests::{assert_cases_match, run_junit, FixtureCopy};

/// Runs `cargo xpar ARGS` on a copy of `fixture` and checks that it reports exactly
/// `expected`, exiting 0.
fn check_selection(fixture: &str, args: &[&str], expected: &[Expected]) {
    let copy = FixtureCopy::new(fixture);
    let result = run_junit(copy.path(), args);
    assert_eq!(result.run.code(), Some(0), "{}", result.run);
    assert_cases_match(expected, &result.cases(), &result.run);
    // The summary names the opaque binaries that ran, and only those.
    let opaque_ran = expected.iter().any(|e| e.binary_id == "alpha::opaque");
    assert_eq!(
        result
            .run
            .stderr
            .contains("alpha::opaque ran as one opaque test"),
        opaque_ran,
        "{}",
        result.run
    );
}

/// The model's entry for one test of `fixtures/basic`.
fn basic(binary_id: &str, name: &str) -> Expected {
    *BASIC
        .iter()
        .find(|e| e.binary_id == binary_id && e.name == name)
        .unwrap_or_else(|| panic!("{binary_id} {name} is not in the model"))
}

/// An ignored test of the model, as it must end when asked for: it passes.
fn run_anyway(e: Expected) -> Expected {
    match e.outcome {
        Outcome::Ignored => Expected {
            outcome: Outcome::Pass,
            ..e
        },
        _ => e,
    }
}

#[test]
fn exact_selects_only_the_named_test() {
    let expected = [basic("alpha", "tests::pre")];
    check_selection(
        "basic",
        &["-p", "alpha", "--lib", "--exact", "tests::pre"],
        &expected,
    );
}

#[test]
fn exact_does_not_match_a_module_prefix() {
    let expected = [basic("alpha", "tests::modp::t")];
    check_selection(
        "basic",
        &["-p", "alpha", "--lib", "--exact", "tests::modp::t"],
        &expected,
    );
}

#[test]
fn filter_matches_substrings() {
    let expected = select(BASIC, |e| {
        e.binary_id == "alpha" && e.name.starts_with("tests::pre")
    });
    assert_eq!(expected.len(), 3);
    check_selection("basic", &["-p", "alpha", "--lib", "tests::pre"], &expected);
}

#[test]
fn several_filters_select_the_union() {
    let expected = select(BASIC, |e| {
        e.binary_id == "alpha" && e.name.starts_with("tests::modp")
    });
    assert_eq!(expected.len(), 2);
    check_selection(
        "basic",
        &[
            "-p",
            "alpha",
            "--lib",
            "tests::modp::",
            "tests::modp_extra::",
        ],
        &expected,
    );
}

#[test]
fn skip_excludes_matching_tests() {
    // `two` is a substring of both `tests::two` and `it_two`.
    let expected = select(PASSING, |e| !e.name.contains("two"));
    assert_eq!(expected.len(), 3);
    check_selection("passing", &["--skip", "two"], &expected);
}

#[test]
fn ignored_runs_only_ignored_tests() {
    let expected: Vec<_> = select(BASIC, |e| e.outcome == Outcome::Ignored)
        .into_iter()
        .map(run_anyway)
        .collect();
    assert_eq!(expected.len(), 2);
    check_selection("basic", &["--workspace", "--lib", "--ignored"], &expected);
}

#[test]
fn include_ignored_runs_all_tests() {
    let expected: Vec<_> = select(BASIC, |e| e.binary_id == "beta")
        .into_iter()
        .map(run_anyway)
        .collect();
    assert_eq!(expected.len(), 3);
    check_selection("basic", &["-p", "beta", "--include-ignored"], &expected);
}

#[test]
fn package_selects_its_binaries() {
    let expected = select(BASIC, |e| e.binary_id == "beta");
    check_selection("basic", &["-p", "beta"], &expected);
}

#[test]
fn test_flag_selects_one_integration_test() {
    let expected = select(BASIC, |e| e.binary_id == "alpha::env");
    assert_eq!(expected.len(), 5);
    check_selection("basic", &["-p", "alpha", "--test", "env"], &expected);
}
