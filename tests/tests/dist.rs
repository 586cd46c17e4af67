//! Each `--dist` mode keeps its promise on `fixtures/dist`, seen through the real binary:
//! the JSON report says which worker ran each test and when, and each test prints the
//! `XPAR_WORKER_ID` it saw, which must agree.

use std::collections::{BTreeMap, BTreeSet};

use xpar_tests::{history_estimates, run_json, FixtureCopy, JsonRun, JsonTest};

/// The fixture's tests, (binary id, name), in list order (binaries by id, names sorted).
const TESTS: &[(&str, &str)] = &[
    ("dist", "alpha::a1"),
    ("dist", "alpha::a2"),
    ("dist", "alpha::a3"),
    ("dist", "beta::b1"),
    ("dist", "beta::b2"),
    ("dist", "gamma::g1"),
    ("dist", "gamma::g2"),
    ("dist", "gamma::g3"),
    ("dist", "gamma::g4"),
    ("dist", "zz::slow"),
    ("dist::one", "first::x"),
    ("dist::one", "first::y"),
    ("dist::one", "second::z"),
    ("dist::two", "p"),
    ("dist::two", "q"),
];

fn run_mode(args: &[&str]) -> (FixtureCopy, JsonRun) {
    let fixture = FixtureCopy::new("dist");
    let run = run_json(fixture.path(), args);
    assert_eq!(run.run.code(), Some(0), "{}", run.run);
    for t in &run.tests {
        assert_eq!(t.status, "passed", "{t:?}\n{}", run.run);
        let worker = t.worker.as_deref().expect("every test ran on a worker");
        assert_eq!(
            t.output.trim(),
            format!("worker={worker}"),
            "the report and the test disagree on the worker: {t:?}"
        );
    }
    (fixture, run)
}

fn key(t: &JsonTest) -> (String, String) {
    (t.binary_id.clone(), t.name.clone())
}

fn all_once(run: &JsonRun) {
    let mut seen: Vec<(String, String)> = run.tests.iter().map(key).collect();
    seen.sort();
    let mut want: Vec<(String, String)> = TESTS
        .iter()
        .map(|(b, n)| (b.to_string(), n.to_string()))
        .collect();
    want.sort();
    assert_eq!(seen, want, "{}", run.run);
}

/// Tests grouped by `scope`, each group in start order.
fn by_scope(
    run: &JsonRun,
    scope: impl Fn(&JsonTest) -> String,
) -> BTreeMap<String, Vec<&JsonTest>> {
    let mut out: BTreeMap<String, Vec<&JsonTest>> = BTreeMap::new();
    for t in &run.tests {
        out.entry(scope(t)).or_default().push(t);
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.start_secs.partial_cmp(&b.start_secs).unwrap());
    }
    out
}

fn workers_used(run: &JsonRun) -> BTreeSet<String> {
    run.tests.iter().filter_map(|t| t.worker.clone()).collect()
}

/// Each scope ran on one worker, its tests in list order.
fn assert_scopes_whole(run: &JsonRun, scope: impl Fn(&JsonTest) -> String) {
    let position = |t: &JsonTest| {
        TESTS
            .iter()
            .position(|(b, n)| *b == t.binary_id && *n == t.name)
            .expect("a modelled test")
    };
    for (scope, tests) in by_scope(run, scope) {
        let workers: BTreeSet<_> = tests.iter().map(|t| t.worker.clone()).collect();
        assert_eq!(workers.len(), 1, "scope {scope} split: {tests:#?}");
        let order: Vec<usize> = tests.iter().map(|t| position(t)).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "scope {scope} out of order: {tests:#?}"
        );
    }
}

fn module(t: &JsonTest) -> String {
    let m = t.name.rsplit_once("::").map_or("", |(m, _)| m);
    format!("{} {m}", t.binary_id)
}

#[test]
fn loadscope_keeps_each_module_on_one_worker_in_order() {
    let (_f, run) = run_mode(&["--dist", "loadscope", "-j", "2"]);
    all_once(&run);
    assert_scopes_whole(&run, module);
    assert_eq!(workers_used(&run).len(), 2, "{}", run.run);
}

#[test]
fn loadfile_keeps_each_source_file_on_one_worker() {
    let (_f, run) = run_mode(&["--dist", "loadfile", "-j", "2"]);
    all_once(&run);
    // One source file per binary in this fixture: src/lib.rs, tests/one.rs, tests/two.rs.
    assert_scopes_whole(&run, |t| t.binary_id.clone());
}

#[test]
fn each_runs_every_test_on_every_worker() {
    let (_f, run) = run_mode(&["--dist", "each", "-j", "2"]);
    assert_eq!(run.tests.len(), 2 * TESTS.len(), "{}", run.run);
    for w in ["gw0", "gw1"] {
        let mine: BTreeSet<(String, String)> = run
            .tests
            .iter()
            .filter(|t| t.worker.as_deref() == Some(w))
            .map(key)
            .collect();
        assert_eq!(mine.len(), TESTS.len(), "{w} did not run everything once");
    }
    assert!(run.run.stderr.contains("30 tests run"), "{}", run.run);
}

#[test]
fn no_runs_everything_on_one_worker_in_list_order() {
    let (_f, run) = run_mode(&["--dist", "no", "-j", "4"]);
    assert_eq!(run.workers, 1);
    let mut tests: Vec<&JsonTest> = run.tests.iter().collect();
    tests.sort_by(|a, b| a.start_secs.partial_cmp(&b.start_secs).unwrap());
    let order: Vec<(&str, &str)> = tests
        .iter()
        .map(|t| (t.binary_id.as_str(), t.name.as_str()))
        .collect();
    assert_eq!(order, TESTS);
    assert_eq!(workers_used(&run), BTreeSet::from(["gw0".to_string()]));
}

#[test]
fn load_and_worksteal_run_everything_once_on_all_workers() {
    for mode in ["load", "worksteal"] {
        let (_f, run) = run_mode(&["--dist", mode, "-j", "2"]);
        all_once(&run);
        assert_eq!(workers_used(&run).len(), 2, "{mode}: {}", run.run);
    }
}

#[test]
fn maxprocesses_caps_the_workers() {
    let (_f, run) = run_mode(&["-j", "3", "--maxprocesses", "1"]);
    all_once(&run);
    assert_eq!(run.workers, 1);
}

/// The history written by one run makes the next run start the longest test first,
/// where list order had put it last.
#[test]
fn the_duration_history_puts_the_slow_test_first() {
    let fixture = FixtureCopy::new("dist");
    let first_two = |run: &JsonRun| {
        let mut starts: Vec<&JsonTest> = run.tests.iter().collect();
        starts.sort_by(|a, b| a.start_secs.partial_cmp(&b.start_secs).unwrap());
        starts
            .iter()
            .take(2)
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    let first = run_json(fixture.path(), &["-j", "2"]);
    assert_eq!(first.run.code(), Some(0), "{}", first.run);
    assert!(
        !first_two(&first).contains(&"zz::slow".to_string()),
        "without history the slow test is not first: {:?}",
        first_two(&first)
    );
    // What the planner will read: the estimates the run left in the run history.
    let estimates = history_estimates(fixture.path());
    let slow = estimates["dist"].durations["zz::slow"];
    // It works 400 ms; the runner times it from when it reads the test's start to when
    // it reads its result, either of which a loaded machine can make a little late.
    assert!(slow >= 0.3, "{slow}");
    assert_eq!(estimates["dist::two"].durations.len(), 2);
    // What a process of each measured binary costs is kept too, for the next run's chunks.
    let costs: Vec<(f64, f64)> = estimates.values().filter_map(|e| e.process).collect();
    assert!(
        !costs.is_empty()
            && costs
                .iter()
                .all(|&(mean, overhead)| mean > 0.0 && overhead >= 0.0),
        "{estimates:?}"
    );

    let second = run_json(fixture.path(), &["-j", "2"]);
    assert_eq!(second.run.code(), Some(0), "{}", second.run);
    assert!(
        first_two(&second).contains(&"zz::slow".to_string()),
        "with history the slow test starts first: {:?}",
        first_two(&second)
    );
}
