//! `fixtures/wide`: one binary of 20,000 tests whose names are prefixes of one another.
//! Its batches go to libtest as a few name prefixes rather than thousands of `--exact`
//! names: every test must still run exactly once, and a filtered run only what it
//! selects.

use std::collections::BTreeMap;

use xpar_tests::{xpar, FixtureCopy, JunitRun};

/// Runs `cargo xpar --junit ARGS` with every test recording its run in `runs`; returns
/// the report and the names that ran, each as often as it ran.
fn run_recorded(fixture: &FixtureCopy, args: &[&str]) -> (JunitRun, BTreeMap<String, usize>) {
    let runs = fixture.path().join("runs");
    let _ = std::fs::remove_file(&runs);
    let junit = fixture.path().join("junit.xml");
    let mut cmd = xpar(fixture.path());
    cmd.env("XPAR_FIXTURE_RUNS", &runs)
        .arg("--junit")
        .arg(&junit)
        .args(args);
    let run = xpar_tests::Run::of(&mut cmd);
    let xml = std::fs::read_to_string(&junit).map_err(|e| e.to_string());
    let mut ran = BTreeMap::new();
    for name in std::fs::read_to_string(&runs).unwrap_or_default().lines() {
        *ran.entry(name.to_owned()).or_default() += 1;
    }
    (JunitRun { run, xml }, ran)
}

fn counts(cases: &[xpar_tests::JunitCase]) -> BTreeMap<&str, usize> {
    let mut seen = BTreeMap::new();
    for c in cases {
        *seen.entry(c.name.as_str()).or_default() += 1;
    }
    seen
}

#[test]
fn twenty_thousand_tests_run_once_each() {
    let fixture = FixtureCopy::new("wide");
    let (run, ran) = run_recorded(&fixture, &["-j", "2"]);
    assert_eq!(run.run.code(), Some(0), "{}", run.run);
    let cases = run.cases();
    assert_eq!(cases.len(), 20_000, "{}", run.run);
    assert!(cases.iter().all(|c| c.failure.is_none() && !c.skipped));
    let seen = counts(&cases);
    assert_eq!(seen.len(), 20_000, "every name once");
    assert_eq!(ran.len(), 20_000, "every test ran");
    assert!(ran.values().all(|&n| n == 1), "no test ran twice");
    for m in 0..40 {
        for t in 0..500 {
            assert_eq!(seen.get(format!("m{m}::t{t}").as_str()), Some(&1));
        }
    }

    // `m1::` selects 500 tests, not those of m10..m19; `m2::t1` the 111 of t1, t1x, t1xx.
    let (run, ran) = run_recorded(&fixture, &["-j", "2", "m1::", "m2::t1"]);
    assert_eq!(run.run.code(), Some(0), "{}", run.run);
    let cases = run.cases();
    let seen = counts(&cases);
    assert_eq!(cases.len(), 611, "{}", run.run);
    assert_eq!(seen.len(), 611);
    assert!(seen
        .keys()
        .all(|n| n.starts_with("m1::") || n.starts_with("m2::t1")));
    // Nothing ran that was not selected (a prefix that reached too far would run more).
    let ran: Vec<&str> = ran.keys().map(String::as_str).collect();
    let reported: Vec<&str> = seen.keys().copied().collect();
    assert_eq!(ran, reported);
}
