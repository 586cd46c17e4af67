//! `.config/xpar.toml` through the real binary, on `fixtures/config`, whose tests pass
//! only with what the file sets for them: the default profile's `retries` makes a test
//! that fails once pass, its `timeout` override stops a test that would take two minutes,
//! the `ci` profile's `serial` override keeps two tests apart, its `slots` and `serial`
//! make a test `-m resource_intensive`; the reports go where the profile says; flags and
//! `--config-profile` beat the file and `XPAR_PROFILE`; a bad file or profile is one line
//! with exit 2 before anything is built.

use std::path::Path;

use xpar_tests::{run, run_json_cmd, xpar, FixtureCopy, JsonRun, JsonTest, Run};

const USAGE: i32 = 2;
const TEST_RUN_FAILED: i32 = 100;

/// Where the fixture's profiles put their reports.
const DEFAULT_JSON: &str = "target/reports/default.json";
const DEFAULT_JUNIT: &str = "target/reports/default.xml";
const CI_JUNIT: &str = "target/reports/ci.xml";

/// Runs `cargo xpar ARGS` in `dir` with `vars` set, and reads the JSON report the
/// default profile writes (no run here names another).
fn run_report(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> JsonRun {
    let path = dir.join(DEFAULT_JSON);
    let _ = std::fs::remove_file(&path);
    let mut cmd = xpar(dir);
    cmd.args(args).envs(vars.iter().copied());
    run_json_cmd(&mut cmd, &path)
}

fn test<'a>(run: &'a JsonRun, name: &str) -> &'a JsonTest {
    run.tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the report\n\n{}", run.run))
}

/// Forgets that `flaky::fails_first_time` ran, so that it fails once again.
fn reset_flaky(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("state/flaky-once"));
}

#[test]
fn the_default_profile_retries_and_stops_a_test_by_its_override() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    let r = run_report(dir, &["flaky::", "sleepy::", "heavy::"], &[]);
    assert_eq!(r.run.code(), Some(TEST_RUN_FAILED), "{}", r.run);
    // `retries = 1`: it failed once, then passed.
    assert_eq!(
        test(&r, "flaky::fails_first_time").status,
        "passed",
        "{}",
        r.run
    );
    assert!(r.run.stderr.contains("FLAKY"), "{}", r.run);
    // The override's `timeout = "1s"` and not the profile's "2m" stopped it, and its
    // `retries = 0` kept it from running again.
    let sleepy = test(&r, "sleepy::sleeps_long");
    assert_eq!(sleepy.status, "failed", "{}", r.run);
    let why = sleepy.message.as_deref().unwrap_or_default();
    assert!(why.contains("timed out"), "{why}\n\n{}", r.run);
    assert!(sleepy.duration_secs < 60.0, "{}", r.run);
    let retried = |l: &&str| l.contains("TRY") && l.contains("sleepy");
    assert!(!r.run.stderr.lines().any(|l| retried(&l)), "{}", r.run);
    let flaky_retried = |l: &str| l.contains("TRY") && l.contains("fails_first_time");
    assert!(r.run.stderr.lines().any(flaky_retried), "{}", r.run);
    // `jobs = 3`, and the JUnit report where `junit` says.
    assert_eq!(r.workers, 3, "{}", r.run);
    let junit = std::fs::read_to_string(dir.join(DEFAULT_JUNIT)).unwrap();
    assert!(junit.contains("fails_first_time"), "{junit}");
}

#[test]
fn flags_win_over_the_profile() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    let junit = dir.join("flag.xml");
    let mut cmd = xpar(dir);
    cmd.args(["flaky::", "--retries", "0", "--junit"])
        .arg(&junit);
    let r = run_json_cmd(&mut cmd, &dir.join(DEFAULT_JSON));
    assert_eq!(r.run.code(), Some(TEST_RUN_FAILED), "{}", r.run);
    assert_eq!(test(&r, "flaky::fails_first_time").status, "failed");
    assert!(junit.is_file(), "{}", r.run);
    assert!(!dir.join(DEFAULT_JUNIT).exists(), "{}", r.run);
    // `-j 1` beats `jobs = 3`.
    reset_flaky(dir);
    let r = run_report(dir, &["-j", "1", "flaky::", "heavy::", "pair::first"], &[]);
    assert_eq!(r.workers, 1, "{}", r.run);
}

/// Run apart, the two tests of `pair::` pass; run at the same time, one sees the other.
#[test]
fn the_ci_profile_keeps_the_pair_apart() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    // The default profile has no serial override: on two workers they overlap, which
    // shows the tests can tell.
    let r = run_report(dir, &["pair::", "--retries", "0"], &[]);
    assert_eq!(r.run.code(), Some(TEST_RUN_FAILED), "{}", r.run);
    assert!(
        r.run.output().contains("ran at the same time as"),
        "{}",
        r.run
    );
    for (args, vars) in [
        (&["pair::", "--config-profile", "ci"][..], &[][..]),
        (&["pair::"][..], &[("XPAR_PROFILE", "ci")][..]),
        // The flag names the profile before the variable does.
        (
            &["pair::", "--config-profile", "ci"][..],
            &[("XPAR_PROFILE", "nightly")][..],
        ),
    ] {
        let _ = std::fs::remove_file(dir.join(CI_JUNIT));
        let r = run_report(dir, args, vars);
        assert_eq!(r.run.code(), Some(0), "{args:?} {vars:?}\n{}", r.run);
        let (a, b) = (test(&r, "pair::first"), test(&r, "pair::second"));
        assert_eq!((a.status.as_str(), b.status.as_str()), ("passed", "passed"));
        let (a0, b0) = (a.start_secs.unwrap(), b.start_secs.unwrap());
        // A millisecond of slack: one after the other on one worker, the second starts
        // where the first ends, which sums of rounded seconds may put a hair apart.
        let apart = a0 + a.duration_secs <= b0 + 1e-3 || b0 + b.duration_secs <= a0 + 1e-3;
        assert!(apart, "{a:?}\n{b:?}\n{}", r.run);
        // ci's own `junit`; `json` it inherits from default.
        assert!(dir.join(CI_JUNIT).is_file(), "{}", r.run);
    }
}

#[test]
fn the_ci_profile_has_its_own_retries_and_markers() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    // ci's `retries = 0` replaces default's 1.
    let r = run_report(dir, &["flaky::", "--config-profile", "ci"], &[]);
    assert_eq!(test(&r, "flaky::fails_first_time").status, "failed");
    // `slots` and `serial = true` make it a test `-m` selects by those markers.
    for expr in ["resource_intensive", "serial and resource_intensive"] {
        let r = run_report(dir, &["--config-profile", "ci", "-m", expr], &[]);
        let ran: Vec<&str> = r.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(ran, ["heavy::takes_two_slots"], "{}", r.run);
    }
    let r = run_report(dir, &["-m", "resource_intensive"], &[]);
    assert!(
        r.tests.is_empty(),
        "the default profile marks none\n{}",
        r.run
    );
}

/// The run's stderr is exactly one line, `error: ` then `want`, and nothing was built.
fn assert_refused(dir: &Path, r: &Run, want: &str) {
    assert_eq!(r.code(), Some(USAGE), "{r}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{r}");
    assert!(lines[0].starts_with("error: "), "{r}");
    assert!(lines[0].contains(want), "wanted {want:?}\n{r}");
    assert!(!dir.join("target").exists(), "a build started\n{r}");
}

#[test]
fn a_bad_file_or_profile_is_one_line_and_exit_2_before_building() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    let file = dir.join(".config/xpar.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    // Named as from where the command runs, the workspace root.
    let place = ".config/xpar.toml:";
    for (args, want) in [
        (
            &["--config-profile", "nightly"][..],
            "unknown config profile `nightly`",
        ),
        (
            &["list", "--config-profile", "nightly"][..],
            "defines the profiles ci, default",
        ),
    ] {
        assert_refused(dir, &run(dir, args), want);
    }
    let mut cmd = xpar(dir);
    cmd.env("XPAR_PROFILE", "nightly");
    assert_refused(dir, &Run::of(&mut cmd), "(from XPAR_PROFILE)");
    // From elsewhere, the file of `--manifest-path`'s workspace, named in full.
    let elsewhere = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let mut cmd = xpar(elsewhere.path());
    cmd.arg("--manifest-path")
        .arg(&manifest)
        .args(["--config-profile", "nightly"]);
    let want = format!("{} defines the profiles ci", file.display());
    assert_refused(dir, &Run::of(&mut cmd), &want);
    let bad = good.replacen("retries = 1", "retires = 1", 1);
    let line = bad.lines().position(|l| l.starts_with("retires")).unwrap() + 1;
    std::fs::write(&file, &bad).unwrap();
    let want = format!("{place}{line}: unknown field `retires`, expected one of");
    for args in [&[][..], &["list"], &["stress", "--count", "2"]] {
        assert_refused(dir, &run(dir, args), &want);
    }
    let bad = good.replacen("timeout = \"1s\"", "timeout = \"1 fortnight\"", 1);
    let line = bad.lines().position(|l| l.contains("fortnight")).unwrap() + 1;
    std::fs::write(&file, &bad).unwrap();
    let want = format!("{place}{line}: timeout: invalid value `1 fortnight` for --timeout");
    assert_refused(dir, &run(dir, &[]), &want);
}
