use super::*;
use crate::discover::BinaryKind;
use crate::report::Failure;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn outcome(name: &str, millis: u64, passed: bool) -> TestOutcome {
    TestOutcome {
        binary_id: crate::discover::binary_id("a", BinaryKind::Lib, "a"),
        name: name.into(),
        status: if passed {
            TestStatus::Passed
        } else {
            TestStatus::Failed(Failure::Failed)
        },
        duration: ms(millis),
        output: String::new(),
        worker: Some(0),
        started: None,
        previous: Vec::new(),
        attempt: xpar_metadata::Attempt::FIRST,
        resources: None,
    }
}

fn threshold(metric: Metric, text: &str) -> Threshold {
    Threshold::parse(metric, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Nearest rank on the textbook example (15, 20, 35, 40, 50): the 5th percentile is
/// 15, the 30th and 40th 20, the 50th 35, the 100th 50; never an interpolated value.
#[test]
fn percentiles_by_nearest_rank() {
    let v = [15, 20, 35, 40, 50];
    let at = |p: f64| percentile(&v, p);
    assert_eq!(
        [at(5.0), at(30.0), at(40.0), at(50.0), at(100.0)],
        [15, 20, 20, 35, 50]
    );
    // Out of 100 runs of 1..=100 ms, the 95th percentile is the 95th run, the 99th the
    // 99th; out of 10 runs, p95 and p99 are both the slowest.
    let hundred = DurationStats::of((1..=100).rev().map(ms).collect());
    assert_eq!(
        (
            hundred.min,
            hundred.p50,
            hundred.p90,
            hundred.p95,
            hundred.p99
        ),
        (ms(1), ms(50), ms(90), ms(95), ms(99))
    );
    assert_eq!(
        (hundred.max, hundred.avg),
        (ms(100), Duration::from_micros(50_500))
    );
    let ten = DurationStats::of((1..=10).map(ms).collect());
    assert_eq!((ten.p90, ten.p95, ten.p99), (ms(9), ms(10), ms(10)));
    assert_eq!(DurationStats::of(Vec::new()), DurationStats::default());
}

#[test]
fn thresholds_parse_in_one_form() {
    let t = threshold(Metric::FailureRate, "<1%");
    assert_eq!((t.op, t.limit), (ThresholdOp::Lt, Limit::Percent(1.0)));
    let t = threshold(Metric::FailureRate, "<= 0.5 %");
    assert_eq!((t.op, t.limit), (ThresholdOp::Le, Limit::Percent(0.5)));
    assert_eq!(
        threshold(Metric::FailureRate, "<=0%").limit,
        Limit::Percent(0.0)
    );
    let t = threshold(Metric::P95, "<200ms");
    assert_eq!((t.op, t.limit), (ThresholdOp::Lt, Limit::Duration(ms(200))));
    let t = threshold(Metric::Max, "<=1m 30s");
    assert_eq!(t.limit, Limit::Duration(Duration::from_secs(90)));
    let bad: &[(Metric, &str, &str)] = &[
        (
            Metric::FailureRate,
            "1%",
            "expected `<LIMIT` or `<=LIMIT`, e.g. `<1%`",
        ),
        (Metric::FailureRate, ">1%", "expected `<LIMIT` or `<=LIMIT`"),
        (Metric::FailureRate, "<1", "a failure rate is a percentage"),
        (Metric::FailureRate, "<101%", "from 0% to 100%"),
        (Metric::FailureRate, "<-1%", "from 0% to 100%"),
        (Metric::FailureRate, "<NaN%", "from 0% to 100%"),
        (
            Metric::FailureRate,
            "<0%",
            "can never be met (`<=0%` allows none)",
        ),
        (Metric::P95, "<200", "`200` is not a duration"),
        (Metric::P99, "<fast", "`fast` is not a duration"),
        (Metric::Max, "200ms", "e.g. `<200ms`"),
        (Metric::Max, "<0s", "can never be met"),
        (Metric::Avg, "<1%", "`1%` is not a duration"),
    ];
    for (metric, text, want) in bad {
        let err = Threshold::parse(*metric, text).expect_err(text);
        assert!(
            err.starts_with(&format!("invalid threshold `{text}`")),
            "{err}"
        );
        assert!(err.contains(want), "{text}: {err}");
    }
}

fn plan<'a>(thresholds: &'a [Threshold]) -> PlanSettings<'a> {
    PlanSettings {
        name: "smoke",
        tests: 2,
        count: 10,
        concurrency: 2,
        timeout: None,
        thresholds,
    }
}

/// 20 runs of two tests, 2 of them failed (10%), durations 1..=20 ms: a limit equal to
/// the value is met by `<=` and missed by `<`, for rates and durations alike.
#[test]
fn plan_figures_against_thresholds() {
    let outcomes: Vec<TestOutcome> = (1..=20)
        .map(|n| outcome(if n % 2 == 0 { "a" } else { "b" }, n, n != 7 && n != 13))
        .collect();
    let thresholds = [
        threshold(Metric::FailureRate, "<10%"),
        threshold(Metric::P50, "<=10ms"),
        threshold(Metric::P95, "<19ms"),
        threshold(Metric::Max, "<=20ms"),
        threshold(Metric::Avg, "<11ms"),
    ];
    let r = plan_result(&plan(&thresholds), &outcomes);
    assert_eq!((r.runs, r.failures, r.flake_rate), (20, 2, 0.1));
    assert_eq!((r.p50_secs, r.p95_secs, r.max_secs), (0.010, 0.019, 0.020));
    assert_eq!(r.avg_secs, 0.0105);
    let verdicts: Vec<(Metric, f64, f64, bool)> = r
        .thresholds
        .iter()
        .map(|t| (t.metric, t.value, t.limit, t.passed))
        .collect();
    assert_eq!(
        verdicts,
        [
            (Metric::FailureRate, 0.1, 0.1, false),
            (Metric::P50, 0.010, 0.010, true),
            (Metric::P95, 0.019, 0.019, false),
            (Metric::Max, 0.020, 0.020, true),
            (Metric::Avg, 0.0105, 0.011, true),
        ]
    );
    assert!(!r.passed);
    assert_eq!(r.per_test.len(), 2);
    assert_eq!(r.per_test.iter().map(|t| t.failures).sum::<usize>(), 2);
    let met = [threshold(Metric::FailureRate, "<=10%")];
    assert!(plan_result(&plan(&met), &outcomes).passed);
    // A plan without thresholds only measures; one whose runs never happened (a signal)
    // cannot show that any threshold was met.
    assert!(plan_result(&plan(&[]), &outcomes).passed);
    let nothing = plan_result(&plan(&met), &[]);
    assert_eq!(
        (nothing.runs, nothing.flake_rate, nothing.passed),
        (0, 0.0, false)
    );
}

#[test]
fn every_format_says_the_same() {
    let outcomes: Vec<TestOutcome> = (1..=4).map(|n| outcome("a", n, n != 4)).collect();
    let thresholds = [
        threshold(Metric::FailureRate, "<1%"),
        threshold(Metric::P95, "<200ms"),
    ];
    let report = plans_report(vec![plan_result(&plan(&thresholds), &outcomes)]);
    assert!(!report.passed);
    let text = |format| {
        let mut out = Vec::new();
        write_stress_plans(&report, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let json = text(StressOutput::Json);
    assert_eq!(StressPlanReport::from_json(&json).unwrap(), report);
    let csv = text(StressOutput::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "plan,metric,value,op,limit,passed");
    assert_eq!(lines.len(), 1 + 2 + Metric::ALL.len(), "{csv}");
    assert!(lines.contains(&"smoke,runs,4,,,"), "{csv}");
    assert!(
        lines.contains(&"smoke,failure-rate,0.25,<,0.01,false"),
        "{csv}"
    );
    assert!(lines.contains(&"smoke,p95,0.004,<,0.2,true"), "{csv}");
    assert!(lines.contains(&"smoke,p99,0.004,,,"), "{csv}");
    let table = text(StressOutput::Table);
    assert!(
        table.starts_with("plan smoke: 2 tests x 10 runs, 2 at once\n"),
        "{table}"
    );
    let thresholds = "\
  threshold         value  limit   result
  failure-rate     25.00%  <1%     MISSED
  p95              0.004s  <200ms  met
";
    assert!(table.contains(thresholds), "{table}");
    assert!(table.contains("  failed: a a: 1x failed\n"), "{table}");
    assert!(
        table.ends_with("1 of 1 plans missed a threshold: smoke\n"),
        "{table}"
    );
}
