//! Command suites of the config file (`[[suite]]`) run beside the tests, through the
//! real binary, on `fixtures/suites`, whose config uses every key: a dependency that
//! passes and one that fails, a parallel group, a suite holding two slots, a time
//! limit, a `cwd` and `env`, and an imported JUnit report.

use std::collections::BTreeMap;

use xpar_tests::{run, run_json, FixtureCopy, JsonRun, JsonTest};

/// Each result by `binary id name`.
fn by_name(r: &JsonRun) -> BTreeMap<String, &JsonTest> {
    (r.tests.iter())
        .map(|t| (format!("{} {}", t.binary_id, t.name), t))
        .collect()
}

fn suite<'a>(r: &'a JsonRun, name: &str) -> &'a JsonTest {
    let id = format!("@suite/{name}");
    (r.tests.iter())
        .find(|t| t.binary_id == id && t.name == id)
        .unwrap_or_else(|| panic!("no result for suite {name}\n{}", r.run))
}

/// When `t` ran: (start, end) in seconds from the test phase's start.
fn span(t: &JsonTest) -> (f64, f64) {
    let start = t.start_secs.expect("it ran");
    (start, start + t.duration_secs)
}

/// By more than a millisecond: one after the other on one worker, the second starts
/// where the first ends, which sums of rounded seconds may put a hair apart.
fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 + 1e-3 < b.1 && b.0 + 1e-3 < a.1
}

#[test]
fn suites_run_beside_the_tests_with_dependencies_groups_slots_and_limits() {
    let f = FixtureCopy::new("suites");
    let r = run_json(f.path(), &["-j", "2", "--no-fail-fast"]);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    let all = by_name(&r);
    assert_eq!(all["suites tests::one"].status, "passed");
    assert_eq!(all["suites tests::two"].status, "passed");
    for passed in ["build", "e2e", "migrate", "py", "heavy"] {
        assert_eq!(suite(&r, passed).status, "passed", "{passed}\n{}", r.run);
    }
    assert_eq!(suite(&r, "lint").status, "failed");
    let stuck = suite(&r, "stuck");
    assert_eq!(stuck.status, "failed");
    let why = stuck.message.as_deref().unwrap_or_default();
    assert!(why.contains("timed out after 1."), "{why}\n{}", r.run);
    assert!(stuck.duration_secs < 30.0, "{}", r.run);
    // A failed dependency: not run, with the reason, shown.
    let publish = suite(&r, "publish");
    assert_eq!(publish.status, "not-run");
    assert!(
        r.run.stderr.contains("NOT RUN")
            && r.run.stderr.contains("its dependency `lint` did not pass"),
        "{}",
        r.run
    );
    assert!(publish.worker.is_none());
    // A dependency that passed ran first.
    assert!(span(suite(&r, "build")).1 <= span(suite(&r, "e2e")).0 + 1e-3);
    // One group: never at the same time.
    assert!(!overlap(span(suite(&r, "e2e")), span(suite(&r, "migrate"))));
    // Two slots of two workers: nothing else ran beside it.
    let heavy = span(suite(&r, "heavy"));
    for t in r.tests.iter().filter(|t| t.start_secs.is_some()) {
        if t.binary_id != "@suite/heavy" && t.binary_id != "@suite/py" {
            assert!(!overlap(heavy, span(t)), "{} beside heavy", t.name);
        }
    }
    // The JUnit report the `py` suite wrote joined the run.
    assert_eq!(all["@suite/py test_a::test_ok"].status, "passed");
    assert_eq!(all["@suite/py test_a::test_bad"].status, "failed");
    // Every suite's output in its own log; `cwd` and `env` as given.
    let logs = f.path().join("target/xpar/logs");
    let build = std::fs::read_to_string(logs.join("build.log")).unwrap();
    let web = f.path().join("web").canonicalize().unwrap();
    assert!(
        build.contains(&format!("built in {} with ci", web.display())),
        "{build}"
    );
    let lint = std::fs::read_to_string(logs.join("lint.log")).unwrap();
    assert!(lint.contains("failed: exit status 3") && lint.contains("two warnings"));
    assert!(!logs.join("publish.log").exists(), "it did not run");
    // Suites count in the summary: 2 tests, 7 suites that ran (`lint` and `stuck`
    // failed) and `publish` not run, 2 imported cases (one failed).
    assert!(
        r.run
            .stderr
            .contains("11 tests run: 8 passed, 3 failed, 0 ignored, 1 not run"),
        "{}",
        r.run
    );
}

#[test]
fn suites_and_categories_choose_suites_with_their_dependencies() {
    let f = FixtureCopy::new("suites");
    // Names that are no suite's, before anything is built.
    for (flag, value, error) in [
        (
            "--suites",
            "nope",
            "error: --suites: no suite is named `nope`",
        ),
        (
            "--categories",
            "docs",
            "error: --categories: no suite has the category `docs`",
        ),
    ] {
        let bad = run(f.path(), &[flag, value]);
        assert_eq!(bad.code(), Some(2), "{bad}");
        assert_eq!(bad.stderr.trim(), error, "{bad}");
    }
    assert!(!f.path().join("target/debug").exists(), "nothing was built");

    let r = run_json(f.path(), &["--suites", "e2e"]);
    assert_eq!(r.run.code(), Some(0), "{}", r.run);
    let ran: Vec<&str> = r.tests.iter().map(|t| t.binary_id.as_str()).collect();
    assert_eq!(ran.len(), 2, "{ran:?}");
    assert!(ran.contains(&"@suite/build") && ran.contains(&"@suite/e2e"));

    let r = run_json(f.path(), &["--categories", "lint,unit", "--no-fail-fast"]);
    let mut ran: Vec<String> = (r.tests.iter())
        .map(|t| format!("{} {}", t.binary_id, t.name))
        .collect();
    ran.sort();
    assert_eq!(
        ran,
        [
            "@suite/lint @suite/lint",
            "@suite/py @suite/py",
            "@suite/py test_a::test_bad",
            "@suite/py test_a::test_ok"
        ]
    );
}

#[test]
fn fail_fast_stops_suites_too_and_list_shows_them() {
    let f = FixtureCopy::new("suites");
    // One worker: `lint`, first in the file, fails while `heavy` waits; fail-fast (the
    // default) leaves `heavy` not run.
    let r = run_json(f.path(), &["--suites", "lint,heavy", "-j", "1"]);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    assert_eq!(suite(&r, "lint").status, "failed");
    assert_eq!(suite(&r, "heavy").status, "not-run", "{}", r.run);

    let list = run(f.path(), &["list"]);
    assert_eq!(list.code(), Some(0), "{list}");
    for line in [
        "@suite/e2e (suite: category integration, after build, group db)",
        "@suite/publish (suite: category release, after lint)",
        "@suite/heavy (suite: category perf)",
        "suites:",
        "    tests::one",
    ] {
        assert!(list.stdout.contains(line), "{line}\n{list}");
    }
}

/// The report of an earlier run is not this run's: a suite that no longer writes it
/// fails `<junit>` instead of passing with the old cases.
#[test]
fn an_earlier_runs_junit_report_is_not_imported() {
    let f = FixtureCopy::new("suites");
    let first = run_json(f.path(), &["--suites", "py", "--no-fail-fast"]);
    assert!(
        first.tests.iter().any(|t| t.name == "test_a::test_ok"),
        "{}",
        first.run
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let config = f.path().join(".config/xpar.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("name = \"py\"").unwrap();
    let line = start + text[start..].find("command =").unwrap();
    let end = line + text[line..].find('\n').unwrap();
    let text = format!("{}command = [\"true\"]{}", &text[..line], &text[end..]);
    std::fs::write(&config, text).unwrap();
    let again = run_json(f.path(), &["--suites", "py", "--no-fail-fast"]);
    assert_eq!(again.run.code(), Some(100), "{}", again.run);
    assert!(
        !again.tests.iter().any(|t| t.name == "test_a::test_ok"),
        "{}",
        again.run
    );
    let junit = (again.tests.iter())
        .find(|t| t.name == "<junit>")
        .expect("a <junit> case");
    let why = junit.message.as_deref().unwrap_or_default();
    assert!(why.contains("an earlier run's"), "{why}");
}

#[test]
fn a_cycle_in_the_config_is_one_line_before_anything_is_built() {
    let f = FixtureCopy::new("suites");
    let config = f.path().join(".config/xpar.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "name = \"build\"\n",
        "name = \"build\"\ndepends-on = [\"e2e\"]\n",
    );
    std::fs::write(&config, text).unwrap();
    let r = run(f.path(), &[]);
    assert_eq!(r.code(), Some(2), "{r}");
    assert_eq!(
        r.stderr.trim(),
        "error: .config/xpar.toml:3: suite dependencies form a cycle: build -> e2e -> build"
    );
    assert!(!f.path().join("target/debug").exists());
}
