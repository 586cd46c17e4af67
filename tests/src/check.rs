//! Compares the test cases of a JUnit report with a model from [`crate::fixture_data`],
//! listing every difference at once so a failing test shows the whole picture.

use crate::fixture_data::{Expected, Outcome};
use crate::junit::JunitCase;
use crate::xpar::Run;

/// For each expected test: problems with its case in `cases` (missing, duplicated,
/// wrong outcome, message or output). Empty when all match.
pub fn outcome_mismatches(expected: &[Expected], cases: &[JunitCase]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in expected {
        let found: Vec<_> = cases
            .iter()
            .filter(|c| c.classname == e.binary_id && c.name == e.name)
            .collect();
        match found.as_slice() {
            [] => problems.push(format!("{} {}: no testcase", e.binary_id, e.name)),
            [case] => {
                if let Err(why) = check_case(e, case) {
                    problems.push(format!("{} {}: {why}", e.binary_id, e.name));
                }
            }
            many => problems.push(format!(
                "{} {}: {} testcases, expected one",
                e.binary_id,
                e.name,
                many.len()
            )),
        }
    }
    problems
}

/// The cases in `cases` that no test of `expected` accounts for.
pub fn unexpected_cases(expected: &[Expected], cases: &[JunitCase]) -> Vec<String> {
    cases
        .iter()
        .filter(|c| {
            !expected
                .iter()
                .any(|e| c.classname == e.binary_id && c.name == e.name)
        })
        .map(|c| format!("{} {}: not in the model: {c:?}", c.classname, c.name))
        .collect()
}

/// Panics, showing the run, unless `cases` are exactly the tests of `expected`, each
/// with its expected outcome.
pub fn assert_cases_match(expected: &[Expected], cases: &[JunitCase], run: &Run) {
    let mut problems = outcome_mismatches(expected, cases);
    problems.extend(unexpected_cases(expected, cases));
    assert!(
        problems.is_empty(),
        "the JUnit report does not match the model:\n  {}\n\n{run}",
        problems.join("\n  ")
    );
}

fn check_case(e: &Expected, case: &JunitCase) -> Result<(), String> {
    if case.suite != e.binary_id {
        return Err(format!("in testsuite {:?}", case.suite));
    }
    if !(case.time.is_finite() && case.time >= 0.0) {
        return Err(format!("bad time {}", case.time));
    }
    match (e.outcome, &case.failure) {
        (Outcome::Pass, None) if !case.skipped => Ok(()),
        (Outcome::Ignored, None) if case.skipped => Ok(()),
        (
            Outcome::Fail {
                message_contains,
                output_contains,
            },
            Some(failure),
        ) if !case.skipped => {
            if failure.kind != "failure" {
                Err(format!("reported as <{}>, not <failure>", failure.kind))
            } else if !failure.message.contains(message_contains) {
                Err(format!(
                    "message {:?} lacks {message_contains:?}",
                    failure.message
                ))
            } else if !failure.text.contains(output_contains) {
                Err(format!(
                    "failure text lacks {output_contains:?}:\n{}",
                    failure.text
                ))
            } else {
                Ok(())
            }
        }
        (outcome, failure) => Err(format!(
            "expected {outcome:?}, got skipped={} failure={failure:?}",
            case.skipped
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture_data::{Expected, Outcome};
    use crate::junit::JunitFailure;

    const MODEL: &[Expected] = &[
        Expected {
            binary_id: "a",
            name: "ok",
            outcome: Outcome::Pass,
        },
        Expected {
            binary_id: "a",
            name: "skip",
            outcome: Outcome::Ignored,
        },
        Expected {
            binary_id: "a::it",
            name: "bad",
            outcome: Outcome::Fail {
                message_contains: "signal 6",
                output_contains: "before abort",
            },
        },
    ];

    fn case(classname: &str, name: &str) -> JunitCase {
        JunitCase {
            suite: classname.to_owned(),
            classname: classname.to_owned(),
            name: name.to_owned(),
            time: 0.5,
            failure: None,
            skipped: false,
        }
    }

    fn matching_report() -> Vec<JunitCase> {
        let failure = JunitFailure {
            kind: "failure".to_owned(),
            message: "test aborted with signal 6 (SIGABRT)".to_owned(),
            text: "output before abort\n".to_owned(),
        };
        vec![
            case("a", "ok"),
            JunitCase {
                skipped: true,
                ..case("a", "skip")
            },
            JunitCase {
                failure: Some(failure),
                ..case("a::it", "bad")
            },
        ]
    }

    #[test]
    fn matching_report_has_no_problems() {
        let cases = matching_report();
        assert_eq!(outcome_mismatches(MODEL, &cases), Vec::<String>::new());
        assert_eq!(unexpected_cases(MODEL, &cases), Vec::<String>::new());
    }

    #[test]
    fn finds_missing_duplicated_and_wrong_cases() {
        let mut cases = matching_report();
        cases[0].skipped = true;
        cases[2].failure.as_mut().unwrap().text = "other output".to_owned();
        cases.remove(1);
        cases.push(case("a::it", "bad"));
        cases.push(case("b", "ok"));
        let problems = outcome_mismatches(MODEL, &cases);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with("a ok: expected Pass"),
            "{problems:#?}"
        );
        assert_eq!(problems[1], "a skip: no testcase");
        assert_eq!(problems[2], "a::it bad: 2 testcases, expected one");
        let extra = unexpected_cases(MODEL, &cases);
        assert_eq!(extra.len(), 1, "{extra:#?}");
        assert!(extra[0].starts_with("b ok: not in the model"));
    }

    #[test]
    fn checks_failure_message_and_output() {
        let mut cases = matching_report();
        cases[2].failure.as_mut().unwrap().text = "other output".to_owned();
        let problems = outcome_mismatches(MODEL, &cases);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("lacks \"before abort\""),
            "{problems:#?}"
        );

        let mut cases = matching_report();
        cases[2].failure.as_mut().unwrap().message = "test failed".to_owned();
        let problems = outcome_mismatches(MODEL, &cases);
        assert!(problems[0].contains("lacks \"signal 6\""), "{problems:#?}");

        let mut cases = matching_report();
        cases[2].suite = "a".to_owned();
        let problems = outcome_mismatches(MODEL, &cases);
        assert!(problems[0].contains("in testsuite \"a\""), "{problems:#?}");
    }
}
