//! What the tools return, made from the runner's records: a run's summary with its
//! failures ([`run_result`]), its metrics, one test's output, the flakiness a stress
//! run showed, and a failed build's error with cargo's diagnostics. Pure functions,
//! tested on hand-made records.

use std::time::Duration;

use xpar_runner::discover::{BinaryContent, TestList};
use xpar_runner::errors::{BuildError, Error};
use xpar_runner::exit_codes;
use xpar_runner::report::{worker_name, Failure, RunRecord, TestOutcome, TestStatus, TestStress};
use xpar_runner::session::RunEnd;

use super::schema::*;

/// The most lines of a failed test's output a run's result carries (get_test_output
/// gives the rest).
const OUTPUT_LINES: usize = 40;
/// The most bytes of it.
const OUTPUT_BYTES: usize = 4096;
/// The most bytes of cargo's diagnostics a build failure's error carries.
const DIAGNOSTIC_BYTES: usize = 8192;

/// The end of `text`: its last `lines` lines, and at most `bytes` bytes of them, cut
/// at a line boundary where one is near (else at a character's); and whether anything
/// was cut.
pub fn tail(text: &str, lines: usize, bytes: usize) -> (String, bool) {
    let mut start = 0;
    // The newline before the last `lines` lines.
    let mut ends = text.trim_end().rmatch_indices('\n');
    if let Some((i, _)) = ends.nth(lines.saturating_sub(1)) {
        start = i + 1;
    }
    if text.len() - start > bytes {
        let mut cut = text.len() - bytes;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        start = match text[cut..].find('\n') {
            Some(n) if cut + n + 1 < text.len() => cut + n + 1,
            _ => cut,
        };
    }
    (text[start..].to_owned(), start > 0)
}

/// A failure's message: the panic's, else how the test ended.
pub fn failure_message(f: &Failure, output: &str) -> String {
    if *f == Failure::Failed {
        let mut lines = output.lines();
        if lines.by_ref().any(|l| l.contains("panicked at")) {
            let msg: Vec<&str> = lines
                // The message ends where libtest's notes or a backtrace begin.
                .take_while(|l| {
                    !l.is_empty() && !l.starts_with("note: ") && !l.starts_with("stack backtrace:")
                })
                .collect();
            if !msg.is_empty() {
                return msg.join("\n");
            }
        }
    }
    f.message()
}

fn test_name(o: &TestOutcome) -> String {
    format!("{}{}", o.binary_id, o.name_after_id())
}

/// A run's summary: the counts, times and failures.
pub fn run_result(run_id: &str, end: &RunEnd, warnings: Vec<String>) -> RunResult {
    let r = &end.record;
    let outcome = if r.cancelled.as_deref().is_some_and(is_cancel) {
        "cancelled"
    } else if end.exit_code == exit_codes::NO_TESTS_RUN {
        "no_tests"
    } else if end.exit_code == exit_codes::OK {
        "passed"
    } else {
        "failed"
    };
    let failures = r
        .failures()
        .map(|o| {
            let TestStatus::Failed(f) = &o.status else {
                unreachable!("failures() yields failed tests")
            };
            let (output, output_trimmed) = tail(&o.output, OUTPUT_LINES, OUTPUT_BYTES);
            FailedTest {
                binary_id: o.binary_id.to_string(),
                name: o.name.clone(),
                message: failure_message(f, &o.output),
                output,
                output_trimmed,
                attempts: o.previous.len() + 1,
                worker: o.worker.map(worker_name),
            }
        })
        .collect();
    RunResult {
        run_id: run_id.to_owned(),
        outcome: outcome.to_owned(),
        exit_code: end.exit_code,
        counts: Counts {
            selected: r.to_run,
            passed: r.passed(),
            failed: r.failed(),
            flaky: r.flaky(),
            ignored: r.ignored(),
            not_run: r.not_run(),
        },
        wall_secs: secs(r.wall),
        test_secs: secs(r.test_time_sum()),
        speedup: significant(r.speedup()),
        workers: r.workers,
        stopped: r.cancelled.clone(),
        failures,
        flaky_tests: (r.outcomes.iter())
            .filter(|o| o.is_flaky())
            .map(test_name)
            .collect(),
        warnings,
    }
}

/// Whether a run's stop reason is a cancel from outside (`CancelReason::Requested`).
fn is_cancel(reason: &str) -> bool {
    reason.starts_with("the run was cancelled")
}

fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64())
}

/// Milliseconds are all the precision a reader needs.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A ratio to 4 significant digits: rounding it to decimals would make a small one 0.
fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn status_word(s: &TestStatus) -> &'static str {
    match s {
        TestStatus::Passed => "passed",
        TestStatus::Failed(_) => "failed",
        TestStatus::Ignored => "ignored",
        TestStatus::NotRun(_) => "not_run",
    }
}

fn test_metrics(o: &TestOutcome) -> TestMetrics {
    TestMetrics {
        binary_id: o.binary_id.to_string(),
        name: o.name.clone(),
        status: status_word(&o.status).to_owned(),
        duration_secs: secs(o.duration),
        cpu_secs: o.resources.map(|r| secs(r.cpu)),
        peak_rss_bytes: o.resources.and_then(|r| r.peak_rss),
        attempts: o.previous.len() + 1,
        worker: o.worker.map(worker_name),
    }
}

/// Which test of a run a call names: its name, and its binary and its worker when given.
pub struct TestRef<'a> {
    pub name: &'a str,
    pub binary: Option<&'a str>,
    pub worker: Option<&'a str>,
}

/// The one outcome of `record` that `test` names; an error that says what there is when
/// there is not exactly one.
pub fn find_test<'a>(
    record: &'a RunRecord,
    run_id: &str,
    test: &TestRef<'_>,
) -> Result<&'a TestOutcome, String> {
    let name = test.name;
    let found: Vec<&TestOutcome> = (record.outcomes.iter())
        .filter(|o| o.name == name)
        .filter(|o| test.binary.is_none_or(|b| o.binary_id.as_str() == b))
        .filter(|o| {
            test.worker
                .is_none_or(|w| o.worker.map(worker_name).as_deref() == Some(w))
        })
        .collect();
    match found[..] {
        [one] => Ok(one),
        [] => {
            let close: Vec<String> = (record.outcomes.iter())
                .filter(|o| o.name.contains(name))
                .take(5)
                .map(|o| with_worker(o, test.worker.is_some()))
                .collect();
            let hint = match close.is_empty() {
                true => "list_tests gives the names".to_owned(),
                false => format!("tests with such a name: {}", close.join(", ")),
            };
            Err(format!("no test named `{name}` in run {run_id}; {hint}"))
        }
        _ => {
            // Under `dist: "each"` one test ran on every worker: the worker tells them
            // apart where the binary cannot.
            let binaries: std::collections::BTreeSet<&str> =
                found.iter().map(|o| o.binary_id.as_str()).collect();
            let hint = match binaries.len() {
                1 => "give worker too",
                _ => "give binary_id (or worker) too",
            };
            Err(format!(
                "{} tests are named `{name}` in run {run_id}: {}; {hint}",
                found.len(),
                found
                    .iter()
                    .map(|o| with_worker(o, true))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// A test's binary and name, and its worker when `worker` (and it ran).
fn with_worker(o: &TestOutcome, worker: bool) -> String {
    match o.worker.filter(|_| worker) {
        Some(w) => format!("{} (worker {})", test_name(o), worker_name(w)),
        None => test_name(o),
    }
}

/// A run's metrics; with `test`, of that test.
pub fn metrics(
    run_id: &str,
    record: &RunRecord,
    test: Option<&TestOutcome>,
) -> Result<MetricsResult, String> {
    let mut ran: Vec<&TestOutcome> = (record.outcomes.iter())
        .filter(|o| o.worker.is_some())
        .collect();
    ran.sort_by_key(|o| std::cmp::Reverse(o.duration));
    let cpu: Duration = ran.iter().filter_map(|o| o.resources.map(|r| r.cpu)).sum();
    Ok(MetricsResult {
        run_id: run_id.to_owned(),
        wall_secs: secs(record.wall),
        test_secs: secs(record.test_time_sum()),
        speedup: significant(record.speedup()),
        workers: record.workers,
        cpu_secs: secs(cpu),
        max_peak_rss_bytes: ran
            .iter()
            .filter_map(|o| o.resources.and_then(|r| r.peak_rss))
            .max(),
        slowest: match test {
            Some(_) => Vec::new(),
            None => ran.iter().take(10).map(|o| test_metrics(o)).collect(),
        },
        test: test.map(test_metrics),
    })
}

pub fn test_output(run_id: &str, o: &TestOutcome) -> TestOutputResult {
    TestOutputResult {
        run_id: run_id.to_owned(),
        binary_id: o.binary_id.to_string(),
        name: o.name.clone(),
        status: status_word(&o.status).to_owned(),
        output: o.output.clone(),
        previous_attempts: o.previous.iter().map(|p| p.output.clone()).collect(),
    }
}

/// The listed tests the filter matches.
pub fn listed(list: &TestList, filter: &xpar_runner::plan::TestFilter) -> ListTestsResult {
    let mut tests = Vec::new();
    for b in &list.binaries {
        let id = b.binary.id.to_string();
        match &b.content {
            BinaryContent::Tests(ts) => {
                for t in ts.iter().filter(|t| filter.matches(t)) {
                    tests.push(ListedTest {
                        binary_id: id.clone(),
                        name: t.name.clone(),
                        ignored: t.ignored,
                        markers: markers(&t.markers),
                        opaque: false,
                    });
                }
            }
            BinaryContent::Opaque { .. } if filter.matches_name(&id) => tests.push(ListedTest {
                binary_id: id.clone(),
                name: id.clone(),
                ignored: false,
                markers: Vec::new(),
                opaque: true,
            }),
            BinaryContent::Opaque { .. } => {}
        }
    }
    let runnable = tests.iter().filter(|t| !t.ignored).count();
    ListTestsResult { tests, runnable }
}

fn markers(m: &xpar_runner::discover::Markers) -> Vec<String> {
    use xpar_runner::plan::Serial;
    let mut out = Vec::new();
    match &m.serial {
        Serial::No => {}
        Serial::All => out.push("serial".to_owned()),
        Serial::Keys(keys) => out.push(format!("serial({})", keys.join(", "))),
    }
    if m.parallel_safe {
        out.push("parallel_safe".to_owned());
    }
    if let Some(n) = m.resource_slots {
        out.push(format!("resource_intensive(slots = {n})"));
    }
    if let Some(g) = &m.group {
        out.push(format!("group({g})"));
    }
    out
}

/// What a stress run showed, flakiest first, with what to do about it.
pub fn flakiness(
    stats: &[TestStress],
    runs: usize,
    threshold: f64,
    interrupted: bool,
) -> DetectFlakyResult {
    let mut tests: Vec<FlakyTest> = stats
        .iter()
        .map(|s| FlakyTest {
            binary_id: s.binary_id.clone(),
            name: s.name.clone(),
            runs: s.runs,
            failures: s.failures,
            flake_rate: round(s.flake_rate),
            verdict: match s.failures {
                0 => "stable",
                f if f == s.runs => "failing",
                _ if s.flake_rate > threshold => "flaky",
                _ => "below_threshold",
            }
            .to_owned(),
            categories: s.categories.clone(),
            median_secs: round(s.median_secs),
            max_secs: round(s.max_secs),
        })
        .collect();
    tests.sort_by(|a, b| b.flake_rate.total_cmp(&a.flake_rate));
    let recommendation = recommend(&tests, interrupted);
    DetectFlakyResult {
        runs_per_test: runs,
        threshold,
        tests,
        recommendation,
        interrupted,
    }
}

fn recommend(tests: &[FlakyTest], interrupted: bool) -> String {
    let named = |verdict: &str| -> Vec<String> {
        (tests.iter())
            .filter(|t| t.verdict == verdict)
            .map(|t| {
                let kinds: Vec<&str> = t.categories.keys().map(String::as_str).collect();
                format!(
                    "{} ({:.0}% of runs: {})",
                    t.name,
                    t.flake_rate * 100.0,
                    kinds.join("; ")
                )
            })
            .collect()
    };
    let (flaky, failing) = (named("flaky"), named("failing"));
    let mut out = Vec::new();
    if !failing.is_empty() {
        out.push(format!(
            "Failing every run, not flaky: fix these first: {}.",
            failing.join(", ")
        ));
    }
    if !flaky.is_empty() {
        out.push(format!(
            "Flaky: {}. Look for shared state, timing and ordering assumptions in them; \
             until fixed, run them with retries (run_tests retries) or serially (#[serial]).",
            flaky.join(", ")
        ));
    }
    if out.is_empty() {
        out.push(match tests.len() {
            0 => "No test was selected: check the filters with list_tests.".to_owned(),
            n => format!(
                "No flakiness found in {n} tests at these runs; more runs find rarer flakes."
            ),
        });
    }
    if interrupted {
        out.push("The runs were stopped before the end: the rates are of fewer runs.".into());
    }
    out.join(" ")
}

/// A runner error as one tool error message: what failed and why, and for a failed
/// build the end of cargo's diagnostics.
pub fn error_message(e: &Error, build_log: &str) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    // A refusal of the command line (`-p` naming no package) is cargo's one line already.
    if let Error::Build(BuildError::Failed { .. }) = e {
        let diagnostics = diagnostics(build_log);
        if !diagnostics.is_empty() {
            text = format!("the build failed: {text}\n\n{diagnostics}");
        }
    }
    text
}

/// Cargo's stderr without its progress lines, from its first error on (warnings before
/// it are noise here), trimmed to its end.
pub fn diagnostics(log: &str) -> String {
    let lines: Vec<&str> = (log.lines())
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("Compiling ")
                || t.starts_with("Checking ")
                || t.starts_with("Building ")
                || t.starts_with("Blocking ")
                || t.starts_with("Locking ")
                || t.starts_with("Downloaded ")
                || t.starts_with("Downloading "))
        })
        .collect();
    let first_error = lines.iter().position(|l| l.starts_with("error"));
    let text = lines[first_error.unwrap_or(0)..].join("\n");
    tail(text.trim(), 200, DIAGNOSTIC_BYTES).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_end_at_a_line() {
        assert_eq!(tail("a\nb\nc\n", 5, 100), ("a\nb\nc\n".to_owned(), false));
        assert_eq!(tail("a\nb\nc\nd", 2, 100), ("c\nd".to_owned(), true));
        let (kept, cut) = tail("0123456789\nabc", 10, 5);
        assert!(cut && kept == "abc", "{kept:?}");
        // Never in the middle of a character.
        let (kept, cut) = tail("ééééé", 10, 3);
        assert!(cut && kept == "é", "{kept:?}");
    }

    #[test]
    fn a_failure_says_its_panic() {
        let output = "running 1 test\nthread 'tests::adds' panicked at src/lib.rs:5:9:\n\
                      assertion `left == right` failed: sum\n  left: 4\n right: 5\n\
                      note: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            failure_message(&Failure::Failed, output),
            "assertion `left == right` failed: sum\n  left: 4\n right: 5"
        );
        let with_backtrace =
            "thread 't' panicked at src/lib.rs:1:1:\nboom\nstack backtrace:\n   0: x\n";
        assert_eq!(failure_message(&Failure::Failed, with_backtrace), "boom");
        assert_eq!(failure_message(&Failure::Failed, "no panic"), "test failed");
        let timed_out = Failure::TimedOut {
            after: Duration::from_secs(2),
            run: false,
        };
        assert_eq!(
            failure_message(&timed_out, ""),
            "test timed out after 2.000s"
        );
    }

    #[test]
    fn diagnostics_start_at_the_first_error() {
        let log = "   Compiling fixture v0.1.0 (/w)\nwarning: unused variable\n\
                   error[E0425]: cannot find value `x` in this scope\n --> src/lib.rs:3:5\n\
                   error: could not compile `fixture` (lib test) due to 1 previous error\n";
        let d = diagnostics(log);
        assert!(d.starts_with("error[E0425]: cannot find value `x`"), "{d}");
        assert!(d.ends_with("due to 1 previous error"), "{d}");
        assert!(
            !d.contains("Compiling") && !d.contains("unused variable"),
            "{d}"
        );
    }

    #[test]
    fn a_failed_build_carries_its_diagnostics_and_a_refusal_its_line() {
        let log = "   Compiling b v0.1.0\nerror[E0308]: mismatched types\n";
        let failed = Error::Build(BuildError::Failed {
            command: "`cargo test --no-run`".into(),
            status: "exit status 101".into(),
        });
        assert_eq!(
            error_message(&failed, log),
            "the build failed: `cargo test --no-run` failed with exit status 101\n\n\
             error[E0308]: mismatched types"
        );
        let refused = Error::Build(BuildError::Refused {
            message: "package ID specification `x` did not match any packages".into(),
            shown: true,
        });
        assert_eq!(
            error_message(&refused, log),
            "package ID specification `x` did not match any packages"
        );
    }

    #[test]
    fn a_small_speedup_is_not_rounded_to_nothing() {
        assert_eq!(significant(0.000_123_456), 0.000_123_5);
        assert_eq!(significant(3.456_78), 3.457);
        assert_eq!(significant(1234.5), 1235.0);
        assert_eq!(significant(0.0), 0.0);
    }

    fn ran(binary: &str, name: &str, worker: usize) -> TestOutcome {
        TestOutcome {
            binary_id: xpar_runner::discover::binary_id(
                binary,
                xpar_runner::discover::BinaryKind::Lib,
                binary,
            ),
            name: name.into(),
            status: TestStatus::Passed,
            duration: Duration::from_millis(10),
            output: format!("on gw{worker}"),
            worker: Some(worker),
            started: None,
            previous: vec![],
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        }
    }

    #[test]
    fn under_dist_each_the_worker_names_one_of_a_tests_runs() {
        let record = RunRecord {
            outcomes: vec![ran("a", "t", 0), ran("a", "t", 1), ran("b", "u", 0)],
            ..RunRecord::default()
        };
        let t = |binary, worker| TestRef {
            name: "t",
            binary,
            worker,
        };
        let ambiguous = find_test(&record, "r1", &t(Some("a"), None)).unwrap_err();
        assert_eq!(
            ambiguous,
            "2 tests are named `t` in run r1: a t (worker gw0), a t (worker gw1); give \
             worker too"
        );
        let one = find_test(&record, "r1", &t(None, Some("gw1"))).unwrap();
        assert_eq!(one.output, "on gw1");
        let none = find_test(&record, "r1", &t(None, Some("gw7"))).unwrap_err();
        assert!(
            none.contains("a t (worker gw0), a t (worker gw1)"),
            "{none}"
        );
    }

    fn stress(name: &str, runs: usize, failures: usize) -> TestStress {
        TestStress {
            binary_id: "f::lib".into(),
            name: name.into(),
            runs,
            failures,
            flake_rate: failures as f64 / runs as f64,
            min_secs: 0.0,
            median_secs: 0.0,
            p95_secs: 0.0,
            max_secs: 0.0,
            categories: match failures {
                0 => Default::default(),
                n => [("panic: unlucky roll N".to_owned(), n)].into(),
            },
        }
    }

    #[test]
    fn flakiness_verdicts_and_recommendation() {
        let stats = [
            stress("stable", 10, 0),
            stress("sometimes", 10, 3),
            stress("rarely", 10, 1),
            stress("always", 10, 10),
        ];
        let r = flakiness(&stats, 10, 0.2, false);
        let verdicts: Vec<(&str, &str)> = (r.tests.iter())
            .map(|t| (t.name.as_str(), t.verdict.as_str()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("always", "failing"),
                ("sometimes", "flaky"),
                ("rarely", "below_threshold"),
                ("stable", "stable")
            ]
        );
        assert!(r.recommendation.contains("fix these first: always"));
        assert!(r
            .recommendation
            .contains("Flaky: sometimes (30% of runs: panic: unlucky roll N)"));
        let calm = flakiness(&[stress("stable", 5, 0)], 5, 0.0, false);
        assert!(calm
            .recommendation
            .starts_with("No flakiness found in 1 tests"));
    }
}
