//! The runner's exit code for each way a run can end, each from its own run on a fresh
//! fixture copy: 0 all passed, 4 nothing matched, 101 build failed, 2 bad usage.
//! (100, tests failed, is checked on the full run in `run_basic.rs`.)

use std::fs::OpenOptions;
use std::io::Write;

use xpar_tests::fixture_data::PASSING;
use xpar_tests::{assert_cases_match, run, run_junit, FixtureCopy};

#[test]
fn all_passing_exits_zero() {
    let fixture = FixtureCopy::new("passing");
    let result = run_junit(fixture.path(), &["-j", "2"]);
    assert_eq!(result.run.code(), Some(0), "{}", result.run);
    assert_cases_match(PASSING, &result.cases(), &result.run);
    assert!(
        result.run.stderr.contains("5 passed, 0 failed, 0 ignored"),
        "no summary line\n\n{}",
        result.run
    );
}

#[test]
fn filter_matching_nothing_exits_4() {
    let fixture = FixtureCopy::new("passing");
    let result = run(fixture.path(), &["no_test_has_this_name"]);
    assert_eq!(result.code(), Some(4), "{result}");
}

#[test]
fn build_failure_exits_101_with_compiler_error() {
    let fixture = FixtureCopy::new("basic");
    let lib = fixture.path().join("beta/src/lib.rs");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&lib)
        .expect("open beta's lib.rs");
    writeln!(file, "pub fn broken() -> u32 {{ let x = ; x }}").expect("break beta's lib.rs");
    drop(file);

    let result = run(fixture.path(), &[]);
    assert_eq!(result.code(), Some(101), "{result}");
    assert!(
        result.stderr.contains("expected expression, found `;`"),
        "the compiler error is not shown\n\n{result}"
    );
}

#[test]
fn bad_usage_exits_2_with_one_error_line() {
    let fixture = FixtureCopy::new("passing");
    let result = run(fixture.path(), &["-j", "zero"]);
    assert_eq!(result.code(), Some(2), "{result}");
    let errors: Vec<_> = result
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line\n\n{result}");
    assert!(
        errors[0].contains("zero"),
        "error does not name the bad value\n\n{result}"
    );
    assert!(!result.stderr.contains("panicked"), "{result}");
}
