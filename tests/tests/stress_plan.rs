//! `cargo xpar stress --plan` on `fixtures/flaky` (a test that fails one run in five, a
//! stable one, one that sleeps 25 ms): a plan within its thresholds exits 0 though some
//! runs failed; a missed failure rate, p95 or max exits 100 and names what it missed;
//! the table, JSON and CSV reports say the same; a bad plan is one line naming its JSON
//! path, exit 2, before anything is built; a plan that selects no test exits 4 after
//! listing, before any plan runs.

use xpar_metadata::{Metric, PlanResult, StressPlanReport};
use xpar_tests::{run, FixtureCopy, Run};

const OK: i32 = 0;
const USAGE: i32 = 2;
const NO_TESTS_RUN: i32 = 4;
const TEST_RUN_FAILED: i32 = 100;

fn stress_json(fixture: &FixtureCopy, plan: &str) -> (Run, StressPlanReport) {
    let r = run(
        fixture.path(),
        &["stress", "-j", "2", "--output", "json", "--plan", plan],
    );
    let report = StressPlanReport::from_json(&r.stdout)
        .unwrap_or_else(|e| panic!("stress plan JSON: {e}\n{r}"));
    (r, report)
}

fn plan_of<'a>(report: &'a StressPlanReport, name: &str) -> &'a PlanResult {
    report
        .plans
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no plan {name} in {report:#?}"))
}

/// The verdicts of a plan's thresholds, in metric order.
fn verdicts(p: &PlanResult) -> Vec<(Metric, bool)> {
    p.thresholds.iter().map(|t| (t.metric, t.passed)).collect()
}

#[test]
fn thresholds_met_exit_0_though_some_runs_failed() {
    let fixture = FixtureCopy::new("flaky");
    let file = fixture.path().join("plans.json");
    std::fs::write(
        &file,
        r#"{"plans": [
            {"name": "tolerant", "filter": {"names": ["one_in_five"]}, "count": 100,
             "thresholds": {"failure-rate": "<60%", "p95": "<30s"}},
            {"name": "stable", "filter": {"names": ["tests::stable"], "exact": true},
             "count": 20, "concurrency": 1, "timeout": "20s",
             "thresholds": {"failure-rate": "<=0%", "max": "<30s"}}
        ]}"#,
    )
    .unwrap();
    let (r, report) = stress_json(&fixture, "plans.json");
    assert_eq!(r.code(), Some(OK), "{r}");
    assert!(report.passed, "{report:#?}");
    let tolerant = plan_of(&report, "tolerant");
    // p = 0.2 over 100 runs: no failure at all has a chance of 0.8^100, 2e-10, and 60%
    // or more one far smaller still.
    assert_eq!((tolerant.tests, tolerant.runs), (1, 100), "{tolerant:#?}");
    assert!(tolerant.failures > 0, "{tolerant:#?}");
    assert_eq!(
        tolerant.flake_rate,
        tolerant.failures as f64 / 100.0,
        "{tolerant:#?}"
    );
    assert_eq!(
        verdicts(tolerant),
        [(Metric::FailureRate, true), (Metric::P95, true)]
    );
    let stable = plan_of(&report, "stable");
    assert_eq!((stable.runs, stable.failures), (20, 0), "{stable:#?}");
    assert_eq!((stable.concurrency, stable.timeout_secs), (1, Some(20.0)));
    assert_eq!(stable.per_test[0].name, "tests::stable");
    // Plans run one after another, in the file's order.
    let order: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Plan "))
        .collect();
    assert_eq!(
        order,
        [
            "tolerant: 1 test x 100 runs, 2 at once",
            "stable: 1 test x 20 runs, 1 at once"
        ],
        "{r}"
    );
}

#[test]
fn a_missed_failure_rate_exits_100_and_is_named() {
    let fixture = FixtureCopy::new("flaky");
    let r = run(
        fixture.path(),
        &[
            "stress",
            "-j",
            "2",
            "--plan",
            r#"{"plans": [{"name": "strict", "filter": {"names": ["one_in_five"]},
                "count": 100, "thresholds": {"failure-rate": "<1%"}}]}"#,
        ],
    );
    // 0 failures in 100 runs at p = 0.2: a chance of 2e-10.
    assert_eq!(r.code(), Some(TEST_RUN_FAILED), "{r}");
    let missed = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("failure-rate"))
        .unwrap_or_else(|| panic!("no failure-rate line\n{r}"));
    let words: Vec<&str> = missed.split_whitespace().collect();
    assert_eq!((words[2], words[3]), ("<1%", "MISSED"), "{r}");
    assert!(
        r.stdout
            .ends_with("\n1 of 1 plans missed a threshold: strict\n"),
        "{r}"
    );
    assert!(
        r.stdout.contains("failed: flaky tests::one_in_five: ")
            && r.stdout.contains("x panic: unlucky roll N"),
        "{r}"
    );
}

/// `slow` sleeps 25 ms in every run: a p95 under 10 ms and a max of at most 10 ms are
/// missed whatever the machine (the runner times a test from when it reads the test's
/// start, which can only shorten it by the delay in reading), its failure rate of 0 is
/// met; `stable` meets its own.
const DURATIONS: &str = r#"{"plans": [
    {"name": "slow", "filter": {"names": ["takes_25ms"]}, "count": 6,
     "thresholds": {"failure-rate": "<=0%", "p95": "<10ms", "max": "<=10ms"}},
    {"name": "stable", "filter": {"names": ["tests::stable"], "exact": true}, "count": 4,
     "thresholds": {"p99": "<30s"}}
]}"#;

#[test]
fn missed_durations_in_every_format() {
    let fixture = FixtureCopy::new("flaky");
    let (r, report) = stress_json(&fixture, DURATIONS);
    assert_eq!(r.code(), Some(TEST_RUN_FAILED), "{r}");
    assert!(!report.passed);
    let slow = plan_of(&report, "slow");
    assert_eq!((slow.runs, slow.failures, slow.passed), (6, 0, false));
    assert_eq!(
        verdicts(slow),
        [
            (Metric::FailureRate, true),
            (Metric::P95, false),
            (Metric::Max, false)
        ]
    );
    for t in &slow.thresholds[1..] {
        assert_eq!(t.limit, 0.01, "{t:?}");
        assert!(t.value > 0.01, "{t:?}");
    }
    assert!(slow.min_secs <= slow.p50_secs && slow.p95_secs <= slow.max_secs);
    assert_eq!(
        slow.p95_secs, slow.max_secs,
        "nearest rank: the 6th of 6 runs"
    );
    let stable = plan_of(&report, "stable");
    assert!(stable.passed && stable.runs == 4, "{stable:#?}");

    // The JSON as docs/stress-plan.md names it.
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["format-version"], 1);
    let t = &v["plans"][0]["thresholds"][1];
    assert_eq!(
        (&t["metric"], &t["threshold"], &t["op"]),
        (&"p95".into(), &"<10ms".into(), &"<".into())
    );
    for key in [
        "runs",
        "failures",
        "flake-rate",
        "avg-secs",
        "p90-secs",
        "p99-secs",
        "per-test",
    ] {
        assert!(v["plans"][0].get(key).is_some(), "{key} missing\n{r}");
    }

    // CSV: one row per plan and figure.
    let csv = run(
        fixture.path(),
        &["stress", "--output", "csv", "--plan", DURATIONS],
    );
    assert_eq!(csv.code(), Some(TEST_RUN_FAILED), "{csv}");
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["plan", "metric", "value", "op", "limit", "passed"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2 * 10, "{csv}");
    let row = |plan: &str, metric: &str| {
        rows.iter()
            .find(|r| &r[0] == plan && &r[1] == metric)
            .unwrap_or_else(|| panic!("no row {plan},{metric}\n{csv}"))
    };
    assert_eq!(&row("slow", "runs")[2], "6");
    assert_eq!(
        row("slow", "failure-rate")
            .iter()
            .skip(3)
            .collect::<Vec<_>>(),
        ["<=", "0", "true"]
    );
    assert_eq!(
        row("slow", "p95").iter().skip(3).collect::<Vec<_>>(),
        ["<", "0.01", "false"]
    );
    assert_eq!(
        row("slow", "max").iter().skip(3).collect::<Vec<_>>(),
        ["<=", "0.01", "false"]
    );
    assert!(
        row("slow", "p95")[2].parse::<f64>().unwrap() > 0.01,
        "{csv}"
    );
    assert_eq!(
        row("slow", "p90").iter().skip(3).collect::<Vec<_>>(),
        ["", "", ""]
    );
    assert_eq!(&row("stable", "p99")[5], "true");

    // The table: each threshold with its value, limit and verdict.
    let table = run(fixture.path(), &["stress", "--plan", DURATIONS]);
    assert_eq!(table.code(), Some(TEST_RUN_FAILED), "{table}");
    let lines: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let threshold = |metric: &str| {
        lines
            .iter()
            .find(|l| l.first() == Some(&metric) && l.len() == 4)
            .unwrap_or_else(|| panic!("no {metric} line\n{table}"))
    };
    assert_eq!(threshold("failure-rate")[1..], ["0.00%", "<=0%", "met"]);
    assert_eq!(threshold("p95")[2..], ["<10ms", "MISSED"]);
    assert_eq!(threshold("max")[2..], ["<=10ms", "MISSED"]);
    assert!(
        table.stdout.starts_with("plan slow: 1 test x 6 runs, "),
        "{table}"
    );
    assert!(
        table
            .stdout
            .ends_with("\n1 of 2 plans missed a threshold: slow\n"),
        "{table}"
    );
}

/// Each bad plan, from a file or inline: exit 2, one line naming where in the plan, and
/// nothing built.
#[test]
fn bad_plans_exit_2_before_anything_is_built() {
    let fixture = FixtureCopy::new("flaky");
    let dir = fixture.path();
    let one = |body: &str| format!(r#"{{"plans": [{{"name": "a", "count": 5{body}}}]}}"#);
    std::fs::write(
        dir.join("typo.json"),
        one(r#", "thresholds": {"p96": "<1s"}"#),
    )
    .unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            "typo.json".into(),
            "error: stress plan typo.json: plans[0].thresholds.p96: unknown field `p96`",
        ),
        (
            one(r#", "count": 5"#),
            "error: stress plan (inline JSON): plans[0]: duplicate field `count`",
        ),
        (
            one(r#", "concurrency": "2""#),
            "plans[0].concurrency: invalid type: string \"2\", expected usize",
        ),
        (
            r#"{"plans": [{"name": "a", "count": 0}]}"#.into(),
            "plans[0].count: must be at least 1, not 0",
        ),
        (
            one(r#", "timeout": "soon""#),
            "plans[0].timeout: invalid duration `soon`",
        ),
        (
            one(r#", "thresholds": {"p95": "<fast"}"#),
            "plans[0].thresholds.p95: invalid threshold `<fast`",
        ),
        (
            one(r#", "thresholds": {"failure-rate": "<1"}"#),
            "plans[0].thresholds.failure-rate: invalid threshold `<1`: a failure rate is a \
             percentage",
        ),
        (r#"{"plans": []}"#.into(), "(inline JSON): plans: no plan"),
        (
            r#"{"plans": [{"name": "a", "count": 1}, {"name": "a", "count": 2}]}"#.into(),
            "plans[1].name: duplicate plan name `a` (also plans[0].name)",
        ),
        (
            "missing.json".into(),
            "error: cannot read stress plan missing.json: ",
        ),
    ];
    for (plan, want) in &cases {
        let r = run(dir, &["stress", "--plan", plan]);
        assert_eq!(r.code(), Some(USAGE), "{plan}\n{r}");
        assert!(r.stderr.contains(want), "{plan}: want {want}\n{r}");
        assert_eq!(r.stderr.lines().count(), 1, "{plan}\n{r}");
        assert!(r.stderr.starts_with("error: "), "{r}");
        assert!(r.stdout.is_empty(), "{r}");
        assert!(!r.stderr.contains("Compiling"), "{r}");
        assert!(
            !dir.join("target").exists(),
            "{plan}: something was built\n{r}"
        );
    }
}

#[test]
fn a_plan_that_selects_no_test_exits_4_before_any_plan_runs() {
    let fixture = FixtureCopy::new("flaky");
    let r = run(
        fixture.path(),
        &[
            "stress",
            "--plan",
            r#"{"plans": [{"name": "fine", "count": 3},
                {"name": "empty", "count": 3, "filter": {"names": ["no_such_test"]}}]}"#,
        ],
    );
    assert_eq!(r.code(), Some(NO_TESTS_RUN), "{r}");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(
        errors,
        ["error: stress plan `empty` selects no test (its filter matched none of the 4 listed)"],
        "{r}"
    );
    // Listed (built), but no plan ran, not even the one before it.
    assert!(r.stderr.contains("Finished"), "{r}");
    assert!(!r.stderr.contains("Plan fine"), "{r}");
    assert!(r.stdout.is_empty(), "{r}");
}

/// An ignored test runs only with `include-ignored`; a plan that matches nothing else
/// says so.
#[test]
fn ignored_tests_run_only_with_include_ignored() {
    let fixture = FixtureCopy::new("flaky");
    let plan = |filter: &str| {
        format!(
            r#"{{"plans": [{{"name": "ig", "count": 2, "filter": {{"names": ["ignored_by_default"]{filter}}}}}]}}"#
        )
    };
    let r = run(fixture.path(), &["stress", "--plan", &plan("")]);
    assert_eq!(r.code(), Some(NO_TESTS_RUN), "{r}");
    assert!(
        r.stderr.contains(
            "error: stress plan `ig` selects no test (its filter matched only 1 ignored test; \
             set `include-ignored` to run them)"
        ),
        "{r}"
    );
    let (r, report) = stress_json(&fixture, &plan(r#", "include-ignored": true"#));
    assert_eq!(r.code(), Some(OK), "{r}");
    let ig = plan_of(&report, "ig");
    assert_eq!((ig.tests, ig.runs, ig.failures), (1, 2, 0), "{ig:#?}");
    assert_eq!(ig.per_test[0].name, "tests::ignored_by_default");
}
