//! Test binaries whose harness is not libtest: `fixtures/mimic` lists like libtest but,
//! built on libtest-mimic, has no JSON events and takes one filter. cargo xpar runs its
//! tests one per process and takes each verdict from the harness's own summary.

use xpar_tests::{run_json, run_json_cmd, xpar, FixtureCopy};

#[test]
fn a_libtest_mimic_binary_runs_test_by_test() {
    let fixture = FixtureCopy::new("mimic");
    let report = run_json(fixture.path(), &["-j", "2", "--no-fail-fast"]);
    let r = &report.run;
    assert_eq!(r.code(), Some(100), "{r}");
    assert!(!r.stderr.contains("opaque"), "listed, not opaque: {r}");
    let expected = [
        ("passes", "passed", ""),
        ("pass", "passed", ""),
        ("fails", "failed", "test failed"),
        ("ignored", "ignored", ""),
        ("aborts", "failed", "SIGABRT"),
        ("exits_zero", "failed", "exited with status 0"),
        ("hangs_if_asked", "passed", ""),
    ];
    assert_eq!(report.tests.len(), expected.len(), "{r}");
    for (name, status, message) in expected {
        let found: Vec<_> = report.tests.iter().filter(|t| t.name == name).collect();
        assert_eq!(found.len(), 1, "{name}: {found:?}\n{r}");
        let t = found[0];
        assert_eq!(t.binary_id, "mimic::trials");
        assert_eq!(t.status, status, "{name}: {t:?}");
        let got = t.message.as_deref().unwrap_or("");
        assert!(got.contains(message), "{name}: {got:?} lacks {message:?}");
    }
    let fails = report.tests.iter().find(|t| t.name == "fails").unwrap();
    assert!(fails.output.contains("wrong answer 43"), "{fails:?}");
    let aborts = report.tests.iter().find(|t| t.name == "aborts").unwrap();
    assert!(aborts.output.contains("output before abort"), "{aborts:?}");

    // An ignored test runs when asked to, alone.
    let report = run_json(fixture.path(), &["--include-ignored", "--exact", "ignored"]);
    assert_eq!(report.run.code(), Some(0), "{}", report.run);
    assert_eq!(report.tests.len(), 1, "{}", report.run);
    assert_eq!(report.tests[0].status, "passed", "{}", report.run);
}

/// A test run in a process of its own (a harness without JSON events) that hangs is
/// ended by its time limit, as a libtest batch's test is.
#[test]
fn a_hanging_test_of_a_stable_harness_times_out() {
    let fixture = FixtureCopy::new("mimic");
    let path = fixture.path().join("report.json");
    let mut cmd = xpar(fixture.path());
    cmd.env("XPAR_FIXTURE_HANG", "1")
        // The run's own limit makes a regression a failure, not a hang.
        .args([
            "--exact",
            "hangs_if_asked",
            "--timeout",
            "1s",
            "--run-timeout",
            "30s",
        ])
        .arg("--json")
        .arg(&path);
    let report = run_json_cmd(&mut cmd, &path);
    assert_eq!(report.run.code(), Some(100), "{}", report.run);
    let t = &report.tests[0];
    assert_eq!(t.status, "failed", "{}", report.run);
    let why = t.message.as_deref().unwrap_or_default();
    assert!(why.contains("timed out after 1."), "{why}\n{}", report.run);
    assert!(t.duration_secs < 30.0);
}
