//! One full run of `cargo xpar -j 2 --no-fail-fast --junit` over `fixtures/basic`, shared
//! by every test here: the report must hold each modelled test once with its outcome, and
//! nothing else.

use std::sync::OnceLock;

use xpar_tests::fixture_data::{counts, Outcome, BASIC};
use xpar_tests::{outcome_mismatches, run_junit, unexpected_cases, FixtureCopy, JunitRun};

/// The shared run. It keeps no fixture copy: a static is never dropped, so the copy's
/// temp dir would be left behind; the run has been read whole by then.
fn basic_run() -> &'static JunitRun {
    static RUN: OnceLock<JunitRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let fixture = FixtureCopy::new("basic");
        // Said outright so the run reaches every test whatever the fail-fast default.
        run_junit(fixture.path(), &["-j", "2", "--no-fail-fast"])
    })
}

#[test]
fn every_expected_test_has_one_case_with_its_outcome() {
    let basic = basic_run();
    let problems = outcome_mismatches(BASIC, &basic.cases());
    assert!(
        problems.is_empty(),
        "{} of {} tests not reported as modelled:\n  {}\n\n{}",
        problems.len(),
        BASIC.len(),
        problems.join("\n  "),
        basic.run
    );
}

#[test]
fn no_case_outside_the_model() {
    let basic = basic_run();
    let extra = unexpected_cases(BASIC, &basic.cases());
    assert!(
        extra.is_empty(),
        "the report has tests the fixture does not:\n  {}\n\n{}",
        extra.join("\n  "),
        basic.run
    );
}

#[test]
fn exit_code_is_100_when_tests_fail() {
    let basic = basic_run();
    assert_eq!(basic.run.code(), Some(100), "{}", basic.run);
}

#[test]
fn failing_output_is_shown_on_the_console() {
    let basic = basic_run();
    let console = basic.run.output();
    for e in BASIC {
        if let Outcome::Fail {
            output_contains, ..
        } = e.outcome
        {
            assert!(
                console.contains(output_contains),
                "output {output_contains:?} of failing {} {} not shown\n\n{}",
                e.binary_id,
                e.name,
                basic.run
            );
        }
    }
}

#[test]
fn passing_output_stays_out_of_junit() {
    let basic = basic_run();
    let xml = basic.xml();
    for line in ["stdout line from prints", "stderr line from prints"] {
        assert!(
            !xml.contains(line),
            "passing test output {line:?} is in the JUnit:\n{xml}"
        );
    }
}

#[test]
fn summary_counts_match_the_model() {
    let basic = basic_run();
    let c = counts(BASIC);
    let summary = format!(
        "{} passed, {} failed, {} ignored",
        c.passed, c.failed, c.ignored
    );
    assert!(
        basic.run.stderr.contains(&summary),
        "no {summary:?} in the summary\n\n{}",
        basic.run
    );
}
