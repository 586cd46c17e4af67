//! Shards and their merge: each shard's run writes its results (`--results-dir`), and
//! `cargo xpar merge` makes of them the reports one machine would have written, or
//! refuses, naming why, shards that do not make one run (exit 113).

use std::collections::BTreeSet;
use std::path::Path;

use xpar_metadata::RunReport;
use xpar_tests::{history_estimates, read_junit, run, xpar, FixtureCopy, Run};

/// (binary id, name, status) of every test in a JSON report.
fn verdicts(path: &Path) -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    let report = RunReport::from_json(&text).unwrap();
    report
        .tests
        .into_iter()
        .map(|t| {
            let status = serde_json::to_value(t.status).unwrap();
            (
                t.binary_id.as_str().to_owned(),
                t.name,
                status.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Runs shard `k` of `n` of `kind` into `res-k`, with `extra` arguments.
fn shard(dir: &Path, kind: &str, k: usize, n: usize, extra: &[&str]) -> Run {
    let partition = format!("{kind}:{k}/{n}");
    let results = format!("res-{k}");
    let mut args = vec![
        "-j",
        "2",
        "--no-fail-fast",
        "--partition",
        &partition,
        "--results-dir",
        &results,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn merge(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = xpar(dir);
    cmd.arg("merge").args(args);
    Run::of(&mut cmd)
}

/// The last line of stderr that is an error.
fn error_line(run: &Run) -> String {
    run.stderr
        .lines()
        .rfind(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line\n{run}"))
        .to_owned()
}

#[test]
fn shards_merge_into_what_one_machine_reports() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    let one = run(
        dir,
        &[
            "-j",
            "2",
            "--no-fail-fast",
            "--json",
            "one.json",
            "--junit",
            "one.xml",
            "--durations",
            "base.json",
        ],
    );
    assert_eq!(one.code(), Some(100), "{one}");
    // Every shard plans from the same history, as CI machines restoring one cached
    // `--durations` file do (each shard's run updates its own copy).
    let history = std::fs::read(dir.join("base.json")).unwrap();
    for kind in ["slice", "hash", "time"] {
        for n in [2, 3] {
            for k in 1..=n {
                let copy = format!("durations-{k}.json");
                std::fs::write(dir.join(&copy), &history).unwrap();
                let s = shard(dir, kind, k, n, &["--durations", &copy]);
                assert!(matches!(s.code(), Some(100 | 0 | 4)), "{s}");
            }
            let dirs: Vec<String> = (1..=n).map(|k| format!("res-{k}")).collect();
            let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
            args.extend(["--json", "merged.json", "--junit", "merged.xml"]);
            args.extend(["--durations", "merged-durations.json"]);
            let m = merge(dir, &args);
            assert_eq!(m.code(), one.code(), "{kind} {n}: {m}");
            assert_eq!(
                verdicts(&dir.join("merged.json")),
                verdicts(&dir.join("one.json")),
                "{kind} {n}"
            );
            let cases = |p: &str| {
                let mut c: Vec<(String, String, bool)> = read_junit(&dir.join(p))
                    .into_iter()
                    .map(|c| (c.classname, c.name, c.failure.is_some()))
                    .collect();
                c.sort();
                c
            };
            assert_eq!(cases("merged.xml"), cases("one.xml"), "{kind} {n}");
            let merged =
                RunReport::from_json(&std::fs::read_to_string(dir.join("merged.json")).unwrap())
                    .unwrap();
            assert_eq!(merged.shards.len(), n);
            assert!(merged.tests.iter().all(|t| t.shard.is_some()));
            // Workers of different shards are different lanes.
            let first = &merged.shards[1];
            assert_eq!(first.first_worker, merged.shards[0].workers);
            let history = std::fs::read_to_string(dir.join("merged-durations.json")).unwrap();
            assert!(history.contains("after_crash_a"), "{history}");
        }
    }
    // Time shards run one after the other on one machine plan from one history too, the
    // run history's estimates: a time shard leaves them as they were.
    assert_eq!(run(dir, &["-j", "2", "--no-fail-fast"]).code(), Some(100));
    let before = history_estimates(dir);
    assert!(!before.is_empty());
    for k in 1..=3 {
        shard(dir, "time", k, 3, &[]);
    }
    let after = history_estimates(dir);
    assert!(
        before == after,
        "a time shard changed the history it was cut from"
    );
    let m = merge(
        dir,
        &["res-1", "res-2", "res-3", "--durations", "next.json"],
    );
    assert_eq!(m.code(), one.code(), "{m}");
    // The next history has every shard's measurements.
    let next = std::fs::read_to_string(dir.join("next.json")).unwrap();
    let base = std::fs::read_to_string(dir.join("base.json")).unwrap();
    assert!(next.contains("after_crash_b") && next != base);
    // The merge says what it merged.
    let m = merge(dir, &["res-1", "res-2", "res-3", "-q"]);
    assert!(m.stderr.contains("Merging 3 shards of build"), "{m}");
}

#[test]
fn shards_that_do_not_make_one_run_are_refused() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    for k in 1..=3 {
        shard(dir, "hash", k, 3, &[]);
    }
    let cases: [(&[&str], &str); 5] = [
        (&["res-1", "res-3"], "error: shard 2 of 3 missing"),
        (&["res-1", "res-2"], "error: shard 3 of 3 missing"),
        (
            &["res-1", "res-2", "res-2", "res-3"],
            "error: shard 2 of 3 is given twice: res-2 and res-2",
        ),
        (
            &["res-1", "res-2", "nowhere"],
            "error: nowhere is not a results directory",
        ),
        (
            &["res-1", "res-2", "alpha"],
            "error: alpha is not a results directory",
        ),
    ];
    for (args, said) in cases {
        let m = merge(dir, args);
        assert_eq!(m.code(), Some(113), "{args:?}: {m}");
        assert!(error_line(&m).starts_with(said), "{args:?}: {m}");
        assert!(!dir.join("merged.json").exists());
    }
    // A shard of another partition, or of other filters.
    let other = run(
        dir,
        &[
            "--partition",
            "slice:2/3",
            "--results-dir",
            "res-2",
            "--no-fail-fast",
        ],
    );
    assert!(other.code().is_some(), "{other}");
    let m = merge(dir, &["res-1", "res-2", "res-3"]);
    assert_eq!(m.code(), Some(113), "{m}");
    assert!(
        error_line(&m).contains("are not shards of one partition"),
        "{m}"
    );
    shard(dir, "hash", 2, 3, &["tests::"]);
    let m = merge(dir, &["res-1", "res-2", "res-3"]);
    assert_eq!(m.code(), Some(113), "{m}");
    assert!(error_line(&m).contains("different selections"), "{m}");

    // A shard of another build: the library changed between the shards.
    shard(dir, "hash", 2, 3, &[]);
    assert_eq!(merge(dir, &["res-1", "res-2", "res-3"]).code(), Some(100));
    let lib = dir.join("alpha/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    assert!(src.contains("boom from panics"));
    std::fs::write(
        &lib,
        src.replace("boom from panics", "boom from a new build"),
    )
    .unwrap();
    shard(dir, "hash", 3, 3, &[]);
    let m = merge(dir, &["res-1", "res-2", "res-3", "--json", "merged.json"]);
    assert_eq!(m.code(), Some(113), "{m}");
    assert!(
        error_line(&m).contains("results of different builds"),
        "{m}"
    );
    assert!(!dir.join("merged.json").exists());
}

/// Time shards cut from different histories do not fit together: one test lands in two
/// shards and another in none. The merge names each.
#[test]
fn a_test_in_two_shards_or_in_none_is_named() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    // Measured durations, then one test made far the longest in each of two copies.
    let base = run(dir, &["--no-fail-fast", "--durations", "base.json"]);
    assert_eq!(base.code(), Some(100), "{base}");
    let measured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("base.json")).unwrap()).unwrap();
    for long in ["passes", "prints"] {
        let mut h = measured.clone();
        h["durations"]["alpha"][format!("tests::{long}")] = 30.0.into();
        std::fs::write(dir.join(format!("{long}-long.json")), h.to_string()).unwrap();
    }
    // With `passes` the longest, shard 1 of 2 holds it alone; with `prints`, `prints`.
    shard(dir, "time", 1, 2, &["--durations", "passes-long.json"]);
    let one =
        RunReport::from_json(&std::fs::read_to_string(dir.join("res-1/report.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = one.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["tests::passes"], "{one:?}");
    shard(dir, "time", 2, 2, &["--durations", "prints-long.json"]);
    let m = merge(dir, &["res-1", "res-2"]);
    assert_eq!(m.code(), Some(113), "{m}");
    assert_eq!(
        error_line(&m),
        "error: test `alpha tests::passes` is reported by two shards: res-1 and res-2",
        "{m}"
    );
    // A shard whose report lost a test (written by hand, or cut short): the test is in
    // no shard's results.
    shard(dir, "time", 2, 2, &["--durations", "passes-long.json"]);
    assert_eq!(merge(dir, &["res-1", "res-2"]).code(), Some(100));
    let path = dir.join("res-2/report.json");
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let tests = report["tests"].as_array_mut().unwrap();
    let at = tests
        .iter()
        .position(|t| t["name"] == "tests::prints")
        .unwrap();
    tests.remove(at);
    std::fs::write(&path, report.to_string()).unwrap();
    let m = merge(dir, &["res-1", "res-2"]);
    assert_eq!(m.code(), Some(113), "{m}");
    assert_eq!(
        error_line(&m),
        "error: test `alpha tests::prints` is in no shard's results",
        "{m}"
    );
}

/// Coverage of three shards, merged against the same instrumented build, is the
/// coverage of one run: the lcov files are equal byte for byte. (`zz_aborts` is left
/// out: after a crash the tests of the crashed process that had not finished run again,
/// and which those are depends on how tests were batched, so line counts would differ
/// by the re-runs, though not which lines ran.)
#[test]
fn merged_coverage_equals_one_runs() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let one = run(
        dir,
        &[
            "--no-fail-fast",
            "--skip",
            "zz_aborts",
            "--coverage",
            "--coverage-output",
            "one",
        ],
    );
    assert!(one.stderr.contains("Wrote"), "{one}");
    for k in 1..=3 {
        let s = shard(dir, "slice", k, 3, &["--skip", "zz_aborts", "--coverage"]);
        assert!(
            dir.join(format!("res-{k}/coverage.profdata")).is_file(),
            "{s}"
        );
    }
    let m = merge(
        dir,
        &[
            "res-1",
            "res-2",
            "res-3",
            "--coverage-format",
            "lcov",
            "--coverage-output",
            "merged",
        ],
    );
    assert_eq!(m.code(), one.code(), "{m}");
    let one_lcov = std::fs::read_to_string(dir.join("one/lcov.info")).unwrap();
    let merged_lcov = std::fs::read_to_string(dir.join("merged/lcov.info")).unwrap();
    assert!(one_lcov.contains("DA:"), "{one_lcov}");
    assert_eq!(merged_lcov, one_lcov);
    // One shard's profile alone is not the run's coverage.
    let part = merge(dir, &["res-1", "res-2", "--coverage-output", "part"]);
    assert_eq!(part.code(), Some(113), "{part}");

    // A shard without its profile cannot give coverage: said, with the coverage exit
    // code. (A shard run without --coverage is another build: refused as such.)
    let plain = shard(dir, "slice", 1, 3, &["--skip", "zz_aborts"]);
    assert!(plain.code().is_some());
    let m = merge(
        dir,
        &["res-1", "res-2", "res-3", "--coverage-format", "lcov"],
    );
    assert_eq!(m.code(), Some(113), "{m}");
    assert!(error_line(&m).contains("different builds"), "{m}");
    shard(dir, "slice", 1, 3, &["--skip", "zz_aborts", "--coverage"]);
    std::fs::remove_file(dir.join("res-1/coverage.profdata")).unwrap();
    let m = merge(
        dir,
        &["res-1", "res-2", "res-3", "--coverage-format", "lcov"],
    );
    assert_eq!(m.code(), Some(112), "{m}");
    assert!(
        error_line(&m).contains("res-1 has no coverage profile"),
        "{m}"
    );
}
