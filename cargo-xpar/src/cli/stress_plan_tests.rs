use super::*;
use crate::report::Limit;
use xpar_metadata::ThresholdOp;

const DEFAULTS: Defaults = Defaults {
    concurrency: 3,
    timeout: None,
};

fn plans(text: &str) -> Vec<StressPlan> {
    parse(text, "plan.json", &DEFAULTS).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_full_plan_and_a_minimal_one() {
    let p = plans(
        r#"{"plans": [
            {"name": "flaky", "count": 200, "concurrency": 2, "timeout": "10s",
             "filter": {"names": ["one_in"], "skip": ["stable"], "exact": false,
                        "include-ignored": true, "markers": "not serial"},
             "thresholds": {"p95": "<200ms", "failure-rate": "<=25%", "max": "<1m 30s"}},
            {"name": "all", "count": 1}
        ]}"#,
    );
    assert_eq!(p.len(), 2);
    let f = &p[0];
    assert_eq!((f.name.as_str(), f.count, f.concurrency), ("flaky", 200, 2));
    assert_eq!(f.timeout, Some(Duration::from_secs(10)));
    assert_eq!(f.filter.patterns, ["one_in"]);
    assert_eq!(f.filter.skip, ["stable"]);
    assert_eq!(f.filter.run_ignored, RunIgnored::Include);
    assert!(f.filter.markers.is_some() && !f.filter.exact);
    // In metric order, whatever the order in the file.
    let t: Vec<(Metric, ThresholdOp, Limit)> = f
        .thresholds
        .iter()
        .map(|t| (t.metric, t.op, t.limit))
        .collect();
    assert_eq!(
        t,
        [
            (Metric::FailureRate, ThresholdOp::Le, Limit::Percent(25.0)),
            (
                Metric::P95,
                ThresholdOp::Lt,
                Limit::Duration(Duration::from_millis(200))
            ),
            (
                Metric::Max,
                ThresholdOp::Lt,
                Limit::Duration(Duration::from_secs(90))
            ),
        ]
    );
    // What a plan leaves unset: every test, the defaults, no threshold.
    let all = &p[1];
    assert_eq!((all.concurrency, all.timeout), (3, None));
    assert!(all.filter.patterns.is_empty() && all.thresholds.is_empty());
    assert_eq!(all.filter.run_ignored, RunIgnored::Default);
}

/// Each bad plan is one error naming the JSON path of what is wrong.
#[test]
fn bad_plans_name_the_path() {
    let one = |body: &str| format!(r#"{{"plans": [{{"name": "a", "count": 5{body}}}]}}"#);
    let table: Vec<(String, &str)> =
        vec![
        (
            one(r#", "thresholds": {"p96": "<1s"}"#),
            "stress plan plan.json: plans[0].thresholds.p96: unknown field `p96`, expected one of",
        ),
        (
            one(r#", "repeat": 3"#),
            "plans[0].repeat: unknown field `repeat`",
        ),
        (
            one(r#", "filter": {"name": "x"}"#),
            "plans[0].filter.name: unknown field `name`",
        ),
        (
            one(r#", "concurrency": "2""#),
            "plans[0].concurrency: invalid type: string \"2\", expected usize",
        ),
        (
            one(r#", "thresholds": {"p95": 200}"#),
            "plans[0].thresholds.p95: invalid type: integer `200`, expected a string",
        ),
        (
            one(r#", "filter": {"names": "x"}"#),
            "plans[0].filter.names: invalid type: string \"x\", expected a sequence",
        ),
        (
            r#"{"plans": [{"name": "a", "count": 0}]}"#.into(),
            "plans[0].count: must be at least 1, not 0",
        ),
        (
            r#"{"plans": [{"name": "a", "count": -1}]}"#.into(),
            "plans[0].count: invalid value: integer `-1`, expected usize",
        ),
        (
            one(r#", "concurrency": 0"#),
            "plans[0].concurrency: must be at least 1",
        ),
        (
            one(r#", "timeout": "soon""#),
            "plans[0].timeout: invalid duration `soon`: ",
        ),
        (
            one(r#", "timeout": "0s""#),
            "plans[0].timeout: invalid duration `0s`: a time limit must be longer than zero",
        ),
        (
            one(r#", "thresholds": {"p95": "<fast"}"#),
            "plans[0].thresholds.p95: invalid threshold `<fast`: `fast` is not a duration",
        ),
        (
            one(r#", "thresholds": {"failure-rate": "1%"}"#),
            "plans[0].thresholds.failure-rate: invalid threshold `1%`: expected `<LIMIT`",
        ),
        (
            one(r#", "filter": {"ignored": true, "include-ignored": true}"#),
            "plans[0].filter: `ignored` and `include-ignored` cannot both be true",
        ),
        (
            one(r#", "filter": {"markers": "slow"}"#),
            "plans[0].filter.markers: unknown marker `slow`",
        ),
        (r#"{"plans": []}"#.into(), "stress plan plan.json: plans: no plan"),
        (r#"{}"#.into(), "stress plan plan.json: missing field `plans`"),
        (
            r#"{"plans": [{"count": 1}]}"#.into(),
            "plans[0]: missing field `name`",
        ),
        (
            r#"{"plans": [{"name": " ", "count": 1}]}"#.into(),
            "plans[0].name: a plan's name cannot be empty",
        ),
        (
            r#"{"plans": [{"name": "a", "count": 1}, {"name": "b", "count": 1},
                          {"name": "a", "count": 2}]}"#
                .into(),
            "plans[2].name: duplicate plan name `a` (also plans[0].name)",
        ),
        (
            r#"{"plans": [{"name": "a", "count": 1}"#.into(),
            "EOF while parsing a list at line 1 column",
        ),
        (
            r#"{"plans": [{"name": "a", "count": 1}]} {"#.into(),
            "stress plan plan.json: trailing characters at line 1 column",
        ),
        (r#"[1]"#.into(), "plan.json: not a JSON object: a plan file is {\"plans\": [...]}"),
        (String::new(), "plan.json: not a JSON object"),
    ];
    for (text, want) in &table {
        let err = parse(text, "plan.json", &DEFAULTS)
            .expect_err(text)
            .to_string();
        assert!(err.contains(want), "{text}\n  got: {err}\n want: {want}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("stress plan plan.json: "), "{err}");
    }
}

#[test]
fn inline_json_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, r#"{"plans": [{"name": "f", "count": 2}]}"#).unwrap();
    let from_file = load(path.to_str().unwrap(), &DEFAULTS).unwrap();
    assert_eq!(from_file[0].name, "f");
    let inline = load(r#" {"plans": [{"name": "i", "count": 2}]}"#, &DEFAULTS).unwrap();
    assert_eq!(inline[0].name, "i");
    let err = load(r#"{"plans": []}"#, &DEFAULTS).unwrap_err().to_string();
    assert!(
        err.starts_with("stress plan (inline JSON): plans: "),
        "{err}"
    );
    let missing = dir.path().join("nope.json");
    let err = load(missing.to_str().unwrap(), &DEFAULTS)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("cannot read stress plan {}: ", missing.display())),
        "{err}"
    );
}

/// The example the README and docs/stress-plan.md show stays a valid plan.
#[test]
fn the_documented_example_parses() {
    let text = include_str!("../../../fixtures/flaky/stress-plans.json");
    let p = parse(text, "stress-plans.json", &DEFAULTS).unwrap();
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["smoke", "strict", "latency"]);
    assert_eq!(p[2].timeout, Some(Duration::from_secs(5)));
    assert_eq!(p[2].thresholds.len(), 2);
}
