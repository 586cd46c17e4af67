//! The runner's exit code for each way a run can end, each from its own run on a fresh
//! fixture copy: 0 all passed, 4 nothing matched, 101 build failed, 2 bad usage (whose
//! cases share one copy, as they stop before any work: cargo refusing the command line and
//! report paths that cannot be written among them), 0 for --help and --version, whose
//! text lists every code. (100, tests failed, is checked on the full run in
//! `run_basic.rs`.)

use std::fs::OpenOptions;
use std::io::Write;

use xpar_tests::fixture_data::PASSING;
use xpar_tests::{assert_cases_match, parse_junit, run, run_junit, FixtureCopy, Run};

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

/// Only the error is shown: no "Starting 0 tests", no summary. The report asked for is
/// still written, empty, so that an earlier run's is not taken for this one's.
#[test]
fn filter_matching_nothing_exits_4_with_only_the_error() {
    let fixture = FixtureCopy::new("passing");
    let result = run_junit(fixture.path(), &["no_test_has_this_name"]);
    let run = &result.run;
    assert_eq!(run.code(), Some(4), "{run}");
    let ours: Vec<&str> = run
        .stderr
        .lines()
        // cargo's own lines (`Compiling`, `Finished`) are indented status words.
        .filter(|l| !l.starts_with("   "))
        .collect();
    assert_eq!(
        ours,
        ["error: no tests to run (the filters matched none)"],
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    let cases = parse_junit(result.xml()).expect("a valid JUnit report");
    assert!(cases.is_empty(), "{cases:?}");
}

/// Counts are spelled for their number ("1 test"), and a speedup is given only when the
/// tests took long enough for it to mean something: not for milliseconds of tests, where
/// the wall time is process starts and "0.02x" would read as a slowdown.
#[test]
fn one_test_and_no_speedup_on_a_tiny_suite() {
    let fixture = FixtureCopy::new("passing");
    let result = run(fixture.path(), &["--exact", "tests::one", "-j", "2"]);
    assert_eq!(result.code(), Some(0), "{result}");
    for want in [
        "Starting 1 test on 1 worker (4 filtered out)",
        "1 test run: 1 passed, 0 failed, 0 ignored, 4 filtered out",
    ] {
        assert!(result.stderr.contains(want), "no {want:?}\n{result}");
    }
    assert!(result.stderr.contains("sum of test times"), "{result}");
    assert!(!result.stderr.contains("1 tests"), "{result}");
    assert!(!result.stderr.contains("speedup"), "{result}");
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
    // Unlike cargo refusing the command line, a failed build shows the command.
    let shown = result.stderr.lines().any(|l| {
        l.starts_with("error: `")
            && l.contains(" test --no-run --message-format=json-render-diagnostics")
            && l.ends_with("failed with exit status 101")
    });
    assert!(shown, "the failed command is not shown\n\n{result}");
}

/// Every misuse of the command line, whether our validation or clap finds it, ends the
/// same way: exit 2 and one `error:` line naming what was wrong, before anything is built.
#[test]
fn bad_usage_exits_2_with_one_error_line() {
    let fixture = FixtureCopy::new("passing");
    // The arguments, and what the error line must name.
    let cases: &[(&[&str], &str)] = &[
        // Refused by the runner's own validation.
        (&["-j", "zero"], "zero"),
        (&["-j", "-3"], "`-3`"),
        (&["stress", "--count", "0"], "--count"),
        (&["--timeout", "0s"], "--timeout"),
        (&["--slow-timeout", "0s"], "--slow-timeout"),
        (&["--run-timeout", "0s"], "--run-timeout"),
        (&["stress", "--count", "3", "--timeout", "0s"], "--timeout"),
        // Would overflow `Instant` (a panic) when the first retry is scheduled.
        (&["--retry-delay", "500000000000y"], "--retry-delay"),
        // Refused by clap.
        (&["--bogus"], "--bogus"),
        (&["--dist", "foo"], "'foo'"),
        (&["--release", "--profile", "dev"], "--profile"),
        (&["stress", "--count", "x"], "'x'"),
        (&["stress"], "--count"),
        (&["--retries", "-1"], "'-1'"),
        (&["--retries", "x"], "'x'"),
        (&["--timeout"], "--timeout"),
        // Report paths that cannot be written (missing parents would be created).
        (
            &["--junit", "src"],
            "cannot write --junit report to src: it is a directory",
        ),
        (
            &["--json", "Cargo.toml/out/report.json"],
            "cannot write --json report to Cargo.toml/out/report.json: Cargo.toml is not a \
             directory",
        ),
        (
            &["--coverage", "--coverage-output", "Cargo.toml"],
            "cannot write --coverage-output reports to Cargo.toml",
        ),
        // Refused by cargo, in cargo's words: a usage error, not a failed build.
        (
            &["-p", "nosuchcrate"],
            "error: package ID specification `nosuchcrate` did not match any packages",
        ),
        (
            &["-F", "nosuchfeat"],
            "error: the package 'passing' does not contain this feature: nosuchfeat",
        ),
        (
            &["--profile", "nosuch"],
            "error: profile `nosuch` is not defined",
        ),
        (&["--bin", "nosuch"], "no bin target named `nosuch`"),
        (&["list", "-p", "nosuchcrate"], "`nosuchcrate`"),
        (
            &["stress", "--count", "2", "-F", "nosuchfeat"],
            "nosuchfeat",
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(args, names)| {
            let result = run(fixture.path(), args);
            usage_error_mismatch(&result, names).map(|why| format!("{why}\n{result}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        !fixture.path().join("target").exists(),
        "a usage error stops before anything is built"
    );
}

/// Outside a cargo project, cargo's one line, exit 2.
#[test]
fn outside_a_cargo_project_exits_2_with_cargos_line() {
    let dir = tempfile::Builder::new()
        .prefix("xpar-no-project-")
        .tempdir()
        .expect("create a temp dir");
    let in_project = dir
        .path()
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file());
    assert!(
        in_project.is_none(),
        "the temp dir is inside a cargo project: {in_project:?}"
    );
    for args in [&[][..], &["list"], &["stress", "--count", "1"]] {
        let result = run(dir.path(), args);
        let why = usage_error_mismatch(&result, "error: could not find `Cargo.toml` in");
        assert!(why.is_none(), "{args:?}: {why:?}\n{result}");
    }
}

/// Missing parent directories of the report paths are created, as `--help` says.
#[test]
fn missing_report_directories_are_created() {
    let fixture = FixtureCopy::new("passing");
    let result = run(
        fixture.path(),
        &[
            "--junit",
            "reports/junit/run.xml",
            "--json",
            "reports/json/run.json",
        ],
    );
    assert_eq!(result.code(), Some(0), "{result}");
    for report in ["reports/junit/run.xml", "reports/json/run.json"] {
        let path = fixture.path().join(report);
        assert!(path.is_file(), "no {}\n{result}", path.display());
    }
}

/// Why `result` is not a usage error naming `names`, if it is not.
fn usage_error_mismatch(result: &Run, names: &str) -> Option<String> {
    let lines: Vec<&str> = result
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        // cargo's own note while another cargo (a test running beside this one) holds
        // the package cache: not part of the error.
        .filter(|l| !l.trim_start().starts_with("Blocking waiting for file lock"))
        .collect();
    if result.code() != Some(2) {
        Some("expected exit code 2".to_owned())
    } else if result.stderr.contains("panicked") {
        Some("the runner panicked".to_owned())
    } else if lines.len() != 1 || !lines[0].starts_with("error: ") {
        Some("expected one line on stderr, starting with `error: `".to_owned())
    } else if !lines[0].contains(names) {
        Some(format!("the error does not name {names}"))
    } else if !result.stdout.is_empty() {
        Some("expected nothing on stdout".to_owned())
    } else {
        None
    }
}

/// clap reports `--help` and `--version` the way it reports errors; they still print in
/// full, on stdout, and exit 0. The help fits in 100 columns and lists every exit code.
#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    let fixture = FixtureCopy::new("passing");
    let cases: &[(&[&str], &str)] = &[
        (&["--help"], "Usage: cargo xpar [OPTIONS]"),
        (&["-h"], "Usage: cargo xpar [OPTIONS]"),
        (
            &["stress", "--help"],
            "Usage: cargo xpar stress [OPTIONS] <--count <N>|--plan <FILE|JSON>>",
        ),
        (&["--version"], "cargo-xpar "),
        (&["-V"], "cargo-xpar "),
    ];
    for (args, want) in cases {
        let result = run(fixture.path(), args);
        assert_eq!(result.code(), Some(0), "{args:?}\n{result}");
        assert!(result.stdout.contains(want), "{args:?}\n{result}");
        assert!(result.stderr.is_empty(), "{args:?}\n{result}");
        let long: Vec<&str> = result
            .stdout
            .lines()
            .filter(|l| l.chars().count() > 100)
            .collect();
        assert!(
            long.is_empty(),
            "{args:?}: lines over 100 columns: {long:#?}"
        );
    }
    let help = run(fixture.path(), &["--help"]).stdout;
    let codes = help
        .split_once("Exit codes:")
        .map(|(_, table)| table)
        .unwrap_or_else(|| panic!("no exit codes in --help:\n{help}"));
    let listed: Vec<&str> = codes
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // Every code of the README's table (xpar-runner/src/exit_codes.rs).
    for code in [
        "0", "2", "4", "96", "100", "101", "110", "111", "112", "128+N",
    ] {
        assert!(
            listed.contains(&code),
            "{code} missing from --help:\n{codes}"
        );
    }
}
