//! The report of `cargo xpar stress --plan ... --output json`, documented in
//! `docs/stress-plan.md`: per plan, its runs, failures and durations, and each threshold
//! with the value measured, its limit and whether it was met.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::versioned::{read_versioned, to_pretty, write_pretty};
use crate::ReadError;

/// The version of [`StressPlanReport`] this crate reads and writes.
pub const STRESS_PLAN_FORMAT_VERSION: u32 = 1;

/// Every plan that ran, in the order they ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StressPlanReport {
    /// [`STRESS_PLAN_FORMAT_VERSION`] in a report this crate writes or reads.
    pub format_version: u32,
    /// Every threshold of every plan was met.
    pub passed: bool,
    pub plans: Vec<PlanResult>,
}

/// What one plan's runs showed, over all its tests together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlanResult {
    pub name: String,
    /// The tests its filter selected.
    pub tests: usize,
    /// Runs of each test asked for.
    pub count: usize,
    /// Runs at once.
    pub concurrency: usize,
    /// The time limit of one run, in seconds; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<f64>,
    /// Runs that finished (tests x count, unless a signal stopped the plan).
    pub runs: usize,
    pub failures: usize,
    /// failures / runs (0 when nothing ran).
    pub flake_rate: f64,
    /// Durations of every run, failed ones too; percentiles by nearest rank.
    pub min_secs: f64,
    pub avg_secs: f64,
    pub p50_secs: f64,
    pub p90_secs: f64,
    pub p95_secs: f64,
    pub p99_secs: f64,
    pub max_secs: f64,
    /// In the order of [`Metric`].
    pub thresholds: Vec<ThresholdResult>,
    /// Every threshold of the plan was met (true for a plan without thresholds).
    pub passed: bool,
    /// Each selected test's own figures, in list order.
    pub per_test: Vec<StressTest>,
}

/// One threshold of a plan, and what was measured against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ThresholdResult {
    pub metric: Metric,
    /// As the plan wrote it: `<1%`, `<=200ms`.
    pub threshold: String,
    pub op: ThresholdOp,
    /// A ratio (`failure-rate`: 0.01 for 1%) or seconds.
    pub limit: f64,
    /// The measured value, in the unit of `limit`.
    pub value: f64,
    pub passed: bool,
}

/// What a threshold limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    FailureRate,
    Min,
    Avg,
    P50,
    P90,
    P95,
    P99,
    Max,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::FailureRate,
        Metric::Min,
        Metric::Avg,
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::Max,
    ];

    /// The name a plan and the reports use: `failure-rate`, `p95`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FailureRate => "failure-rate",
            Metric::Min => "min",
            Metric::Avg => "avg",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Max => "max",
        }
    }

    /// Whether the metric is a duration (the others: a ratio).
    pub fn is_duration(self) -> bool {
        self != Metric::FailureRate
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the measured value must compare with the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl ThresholdOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdOp::Lt => "<",
            ThresholdOp::Le => "<=",
        }
    }

    /// Whether `value` meets a limit of `limit`.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            ThresholdOp::Lt => value < limit,
            ThresholdOp::Le => value <= limit,
        }
    }
}

/// One test's figures within a plan (as plain `cargo xpar stress` gives them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StressTest {
    pub binary_id: String,
    pub name: String,
    pub runs: usize,
    pub failures: usize,
    pub flake_rate: f64,
    pub min_secs: f64,
    pub median_secs: f64,
    pub p95_secs: f64,
    pub max_secs: f64,
    /// The failures by kind: the panic message with numbers blanked out, `timeout`,
    /// `signal 11 (SIGSEGV)`, ... -> how many.
    pub categories: BTreeMap<String, usize>,
}

impl StressPlanReport {
    /// Parses a report, refusing a format version other than
    /// [`STRESS_PLAN_FORMAT_VERSION`].
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        read_versioned(text, "stress plan report", STRESS_PLAN_FORMAT_VERSION)
    }

    /// The report as cargo-xpar writes it: pretty-printed, ending in a newline.
    pub fn to_json_pretty(&self) -> String {
        to_pretty(self)
    }

    /// Writes the report as [`StressPlanReport::to_json_pretty`] does.
    pub fn to_writer(&self, out: impl Write) -> io::Result<()> {
        write_pretty(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> StressPlanReport {
        StressPlanReport {
            format_version: STRESS_PLAN_FORMAT_VERSION,
            passed: false,
            plans: vec![PlanResult {
                name: "smoke".into(),
                tests: 1,
                count: 2,
                concurrency: 2,
                timeout_secs: None,
                runs: 2,
                failures: 1,
                flake_rate: 0.5,
                min_secs: 0.1,
                avg_secs: 0.15,
                p50_secs: 0.1,
                p90_secs: 0.2,
                p95_secs: 0.2,
                p99_secs: 0.2,
                max_secs: 0.2,
                thresholds: vec![ThresholdResult {
                    metric: Metric::FailureRate,
                    threshold: "<1%".into(),
                    op: ThresholdOp::Lt,
                    limit: 0.01,
                    value: 0.5,
                    passed: false,
                }],
                passed: false,
                per_test: Vec::new(),
            }],
        }
    }

    #[test]
    fn round_trips_with_the_documented_names() {
        let r = report();
        let text = r.to_json_pretty();
        assert_eq!(StressPlanReport::from_json(&text).unwrap(), r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let t = &v["plans"][0]["thresholds"][0];
        assert_eq!(t["metric"], "failure-rate");
        assert_eq!(t["op"], "<");
        assert_eq!(v["plans"][0]["p95-secs"], 0.2);
        assert!(v["plans"][0].get("timeout-secs").is_none());
    }

    #[test]
    fn another_version_is_refused() {
        let text = report()
            .to_json_pretty()
            .replace("\"format-version\": 1", "\"format-version\": 2");
        let err = StressPlanReport::from_json(&text).unwrap_err();
        assert!(err.to_string().contains("format version 2"), "{err}");
    }
}
