//! `cargo xpar stress --plan`: each plan's runs summed up over all its tests (runs,
//! failures, duration percentiles) and held against its thresholds, then written as a
//! table, JSON ([`StressPlanReport`], `docs/stress-plan.md`) or CSV.

use std::io::Write;
use std::time::Duration;

use xpar_metadata::{
    Metric, PlanResult, StressPlanReport, ThresholdOp, ThresholdResult, STRESS_PLAN_FORMAT_VERSION,
};

use super::events::{TestOutcome, TestStatus};
use super::stress::{percentile, summarise, StressOutput};

/// A limit a plan sets on one of its figures: `failure-rate <1%`, `p95 <=200ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub op: ThresholdOp,
    pub limit: Limit,
    /// As written, for the reports.
    pub text: String,
}

/// A threshold's limit, kept in the unit it was written in so that a value equal to it
/// compares equal (a percentage against `failures * 100 / runs`, both rounded once; a
/// duration against the runs' own durations, exactly).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Percent(f64),
    Duration(Duration),
}

impl Threshold {
    /// `<LIMIT` or `<=LIMIT`: a percentage (`<1%`, `<=0.5%`) for `failure-rate`, a
    /// duration in humantime's forms (`<200ms`, `<=1m 30s`) for the others. The error
    /// says what is wrong with `text`, for the caller to place.
    pub fn parse(metric: Metric, text: &str) -> Result<Threshold, String> {
        let example = if metric.is_duration() {
            "`<200ms`"
        } else {
            "`<1%`"
        };
        let (op, rest) = if let Some(rest) = text.trim().strip_prefix("<=") {
            (ThresholdOp::Le, rest)
        } else if let Some(rest) = text.trim().strip_prefix('<') {
            (ThresholdOp::Lt, rest)
        } else {
            return Err(format!(
                "invalid threshold `{text}`: expected `<LIMIT` or `<=LIMIT`, e.g. {example}"
            ));
        };
        let rest = rest.trim();
        let bad = |why: &str| format!("invalid threshold `{text}`: {why}, e.g. {example}");
        let limit = if metric.is_duration() {
            Limit::Duration(
                humantime::parse_duration(rest)
                    .map_err(|e| bad(&format!("`{rest}` is not a duration ({e})")))?,
            )
        } else {
            let number = rest
                .strip_suffix('%')
                .ok_or_else(|| bad("a failure rate is a percentage"))?;
            match number.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Limit::Percent(p),
                _ => return Err(bad("a failure rate is a percentage from 0% to 100%")),
            }
        };
        let zero = match limit {
            Limit::Percent(p) => p == 0.0,
            Limit::Duration(d) => d.is_zero(),
        };
        if zero && op == ThresholdOp::Lt {
            return Err(format!(
                "invalid threshold `{text}`: nothing is below zero, so it can never be met \
                 (`<={rest}` allows none)"
            ));
        }
        Ok(Threshold {
            metric,
            op,
            limit,
            text: text.to_owned(),
        })
    }
}

/// A plan as it ran: what the report says of its settings.
#[derive(Clone, Debug)]
pub struct PlanSettings<'a> {
    pub name: &'a str,
    /// The tests its filter selected.
    pub tests: usize,
    pub count: usize,
    pub concurrency: usize,
    pub timeout: Option<Duration>,
    pub thresholds: &'a [Threshold],
}

/// The durations of a set of runs: min, mean, nearest-rank percentiles, max.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationStats {
    pub min: Duration,
    pub avg: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl DurationStats {
    /// All zero for no runs.
    pub fn of(mut runs: Vec<Duration>) -> DurationStats {
        if runs.is_empty() {
            return DurationStats::default();
        }
        runs.sort();
        let total: Duration = runs.iter().sum();
        DurationStats {
            min: runs[0],
            // At most MAX_STRESS_RUNS runs: the count fits in u32.
            avg: total / u32::try_from(runs.len()).unwrap_or(u32::MAX),
            p50: percentile(&runs, 50.0),
            p90: percentile(&runs, 90.0),
            p95: percentile(&runs, 95.0),
            p99: percentile(&runs, 99.0),
            max: runs[runs.len() - 1],
        }
    }

    fn get(&self, metric: Metric) -> Duration {
        match metric {
            Metric::Min => self.min,
            Metric::Avg => self.avg,
            Metric::P50 => self.p50,
            Metric::P90 => self.p90,
            Metric::P95 => self.p95,
            Metric::P99 => self.p99,
            Metric::Max => self.max,
            // Not a duration: `Threshold::parse` gives it a percentage, never asked here.
            Metric::FailureRate => Duration::ZERO,
        }
    }
}

/// What the plan's runs (`outcomes`, every run of every test of the plan) showed, and
/// each threshold against it. Runs that did not happen (a signal stopped the plan) are
/// left out; a threshold of a plan with no run at all is missed, there being nothing to
/// show it was met.
pub fn plan_result(plan: &PlanSettings, outcomes: &[TestOutcome]) -> PlanResult {
    let ran: Vec<&TestOutcome> = outcomes
        .iter()
        .filter(|o| matches!(o.status, TestStatus::Passed | TestStatus::Failed(_)))
        .collect();
    let runs = ran.len();
    let failures = ran
        .iter()
        .filter(|o| matches!(o.status, TestStatus::Failed(_)))
        .count();
    let stats = DurationStats::of(ran.iter().map(|o| o.duration).collect());
    // One rounding of failures * 100 / runs, as of the threshold's percentage.
    let percent = if runs == 0 {
        0.0
    } else {
        failures as f64 * 100.0 / runs as f64
    };
    let thresholds: Vec<ThresholdResult> = plan
        .thresholds
        .iter()
        .map(|t| {
            let (passed, value, limit) = match t.limit {
                Limit::Percent(p) => (t.op.holds(percent, p), percent / 100.0, p / 100.0),
                Limit::Duration(d) => {
                    let v = stats.get(t.metric);
                    let holds = match t.op {
                        ThresholdOp::Lt => v < d,
                        ThresholdOp::Le => v <= d,
                    };
                    (holds, v.as_secs_f64(), d.as_secs_f64())
                }
            };
            ThresholdResult {
                metric: t.metric,
                threshold: t.text.clone(),
                op: t.op,
                limit,
                value,
                passed: passed && runs > 0,
            }
        })
        .collect();
    PlanResult {
        name: plan.name.to_owned(),
        tests: plan.tests,
        count: plan.count,
        concurrency: plan.concurrency,
        timeout_secs: plan.timeout.map(|d| d.as_secs_f64()),
        runs,
        failures,
        flake_rate: percent / 100.0,
        min_secs: stats.min.as_secs_f64(),
        avg_secs: stats.avg.as_secs_f64(),
        p50_secs: stats.p50.as_secs_f64(),
        p90_secs: stats.p90.as_secs_f64(),
        p95_secs: stats.p95.as_secs_f64(),
        p99_secs: stats.p99.as_secs_f64(),
        max_secs: stats.max.as_secs_f64(),
        passed: thresholds.iter().all(|t| t.passed),
        thresholds,
        per_test: summarise(outcomes),
    }
}

/// The report of the plans that ran.
pub fn plans_report(plans: Vec<PlanResult>) -> StressPlanReport {
    StressPlanReport {
        format_version: STRESS_PLAN_FORMAT_VERSION,
        passed: plans.iter().all(|p| p.passed),
        plans,
    }
}

/// The figures of a plan, in [`Metric`] order after `runs` and `failures`, each with its
/// value (a count, a ratio or seconds) and the plan's threshold on it, if any.
fn rows(p: &PlanResult) -> Vec<(&'static str, f64, Option<&ThresholdResult>)> {
    let threshold = |m: Metric| p.thresholds.iter().find(|t| t.metric == m);
    let mut rows = vec![
        ("runs", p.runs as f64, None),
        ("failures", p.failures as f64, None),
    ];
    for m in Metric::ALL {
        let value = match m {
            Metric::FailureRate => p.flake_rate,
            Metric::Min => p.min_secs,
            Metric::Avg => p.avg_secs,
            Metric::P50 => p.p50_secs,
            Metric::P90 => p.p90_secs,
            Metric::P95 => p.p95_secs,
            Metric::P99 => p.p99_secs,
            Metric::Max => p.max_secs,
        };
        rows.push((m.as_str(), value, threshold(m)));
    }
    rows
}

/// Writes the report in `format`. CSV is one row per plan and figure:
/// `plan,metric,value,op,limit,passed`, the last three empty where the plan sets no
/// threshold on that figure.
pub fn write_stress_plans(
    report: &StressPlanReport,
    format: StressOutput,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        StressOutput::Json => report.to_writer(out),
        StressOutput::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["plan", "metric", "value", "op", "limit", "passed"])?;
            for p in &report.plans {
                for (metric, value, t) in rows(p) {
                    let (op, limit, passed) = match t {
                        Some(t) => (t.op.as_str(), t.limit.to_string(), t.passed.to_string()),
                        None => ("", String::new(), String::new()),
                    };
                    w.write_record([&p.name, metric, &value.to_string(), op, &limit, &passed])?;
                }
            }
            w.flush()
        }
        StressOutput::Table => write_table(report, out),
    }
}

fn write_table(report: &StressPlanReport, out: &mut dyn Write) -> std::io::Result<()> {
    for p in &report.plans {
        let tests = if p.tests == 1 { "test" } else { "tests" };
        let limit = p
            .timeout_secs
            .map(|t| format!(", timeout {t}s"))
            .unwrap_or_default();
        writeln!(
            out,
            "plan {}: {} {tests} x {} runs, {} at once{limit}",
            p.name, p.tests, p.count, p.concurrency
        )?;
        writeln!(
            out,
            "  {:>6}  {:>6}  {:>7}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
            "runs", "fail", "rate", "min", "avg", "p50", "p90", "p95", "p99", "max"
        )?;
        writeln!(
            out,
            "  {:>6}  {:>6}  {:>6.2}%  {:>7.3}s  {:>7.3}s  {:>7.3}s  {:>7.3}s  {:>7.3}s  {:>7.3}s  {:>7.3}s",
            p.runs,
            p.failures,
            100.0 * p.flake_rate,
            p.min_secs,
            p.avg_secs,
            p.p50_secs,
            p.p90_secs,
            p.p95_secs,
            p.p99_secs,
            p.max_secs
        )?;
        let width = p
            .thresholds
            .iter()
            .map(|t| t.threshold.trim().len())
            .max()
            .unwrap_or(0)
            .max("limit".len());
        if p.thresholds.is_empty() {
            writeln!(out, "  no thresholds")?;
        } else {
            writeln!(
                out,
                "  {:<12}  {:>9}  {:<width$}  result",
                "threshold", "value", "limit"
            )?;
        }
        for t in &p.thresholds {
            let value = if t.metric.is_duration() {
                format!("{:.3}s", t.value)
            } else {
                format!("{:.2}%", 100.0 * t.value)
            };
            let verdict = if t.passed { "met" } else { "MISSED" };
            writeln!(
                out,
                "  {:<12}  {value:>9}  {:<width$}  {verdict}",
                t.metric.as_str(),
                t.threshold.trim()
            )?;
        }
        for t in p.per_test.iter().filter(|t| t.failures > 0) {
            let kinds: Vec<String> = t
                .categories
                .iter()
                .map(|(k, n)| format!("{n}x {k}"))
                .collect();
            writeln!(
                out,
                "  failed: {} {}: {}",
                t.binary_id,
                t.name,
                kinds.join("; ")
            )?;
        }
        writeln!(out)?;
    }
    let missed: Vec<&str> = report
        .plans
        .iter()
        .filter(|p| !p.passed)
        .map(|p| p.name.as_str())
        .collect();
    let plans = report.plans.len();
    if missed.is_empty() {
        writeln!(out, "{plans} of {plans} plans met their thresholds")
    } else {
        writeln!(
            out,
            "{} of {plans} plans missed a threshold: {}",
            missed.len(),
            missed.join(", ")
        )
    }
}

#[cfg(test)]
#[path = "stress_plan_tests.rs"]
mod tests;
