//! `cargo xpar stress` on `fixtures/flaky`: a test that fails at random one run in five
//! shows a flake rate within the statistical band over 200 runs; a stable test shows 0;
//! `--stop-stable` stops running a test that passed its first K runs.

use xpar_tests::{run, FixtureCopy};

#[derive(serde::Deserialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct Stress {
    name: String,
    runs: usize,
    failures: usize,
    flake_rate: f64,
    categories: std::collections::BTreeMap<String, usize>,
}

fn stress(fixture: &FixtureCopy, args: &[&str]) -> (xpar_tests::Run, Vec<Stress>) {
    let mut all = vec!["stress", "-j", "2", "--output", "json"];
    all.extend(args);
    let r = run(fixture.path(), &all);
    let report: Vec<Stress> =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stress JSON: {e}\n{r}"));
    (r, report)
}

#[test]
fn flake_rate_of_a_one_in_five_test_and_of_a_stable_one() {
    let fixture = FixtureCopy::new("flaky");
    let (r, report) = stress(&fixture, &["--count", "200"]);
    assert_eq!(r.code(), Some(100), "failures make the exit code: {r}");
    let flaky = report
        .iter()
        .find(|t| t.name == "tests::one_in_five")
        .unwrap();
    assert_eq!(flaky.runs, 200);
    // p = 0.2 over 200 runs: mean 40, standard deviation 5.7; 4.5 of them either way
    // leaves a chance of about 1 in 100,000 of a false alarm.
    assert!(
        (0.07..=0.33).contains(&flaky.flake_rate),
        "{flaky:?} outside the band for p = 0.2"
    );
    assert_eq!(
        flaky.categories.keys().collect::<Vec<_>>(),
        ["panic: unlucky roll N"],
        "failures are grouped under one normalised message"
    );
    assert_eq!(flaky.categories.values().sum::<usize>(), flaky.failures);
    let stable = report.iter().find(|t| t.name == "tests::stable").unwrap();
    assert_eq!(
        (stable.runs, stable.failures, stable.flake_rate),
        (200, 0, 0.0)
    );
}

#[test]
fn stop_stable_ends_a_test_that_passed_its_first_runs() {
    let fixture = FixtureCopy::new("flaky");
    let (r, report) = stress(
        &fixture,
        &["stable", "--count", "100", "--stop-stable", "10"],
    );
    assert_eq!(r.code(), Some(0), "{r}");
    let stable = &report[0];
    // Runs already handed to the other worker when the tenth pass came in still finish.
    assert!((10..=12).contains(&stable.runs), "{stable:?}");
    for format in ["table", "csv"] {
        let out = run(
            fixture.path(),
            &["stress", "stable", "--count", "3", "--output", format],
        );
        assert_eq!(out.code(), Some(0), "{out}");
        assert!(out.stdout.contains("tests::stable"), "{format}: {out}");
    }
    // More runs than can be planned: one clear line, not an allocation failure.
    let huge = run(fixture.path(), &["stress", "--count", "1000000000"]);
    assert_eq!(huge.code(), Some(2), "{huge}");
    assert!(huge.stderr.contains("is more than"), "{huge}");
}
