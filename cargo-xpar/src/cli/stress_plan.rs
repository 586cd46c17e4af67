//! `cargo xpar stress --plan FILE.json` (or the JSON itself, when the value starts with
//! `{`): the plans read and validated into the runner's [`StressPlan`]s before anything
//! is built. Every error is one line naming the JSON path of what is wrong
//! (`plans[0].thresholds.p96: unknown field ...`). The format is `docs/stress-plan.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::config::limit_value;
use crate::errors::UsageError;
use crate::plan::{MarkerExpr, RunIgnored, TestFilter};
use crate::report::Threshold;
use xpar_metadata::Metric;
use xpar_runner::session::StressPlan;

/// What a plan that sets no `concurrency` or `timeout` takes (`-j`, `--timeout`, the
/// config file).
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub concurrency: usize,
    pub timeout: Option<Duration>,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    plans: Vec<RawPlan>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    #[serde(default)]
    filter: RawFilter,
    count: usize,
    concurrency: Option<usize>,
    timeout: Option<String>,
    #[serde(default)]
    thresholds: RawThresholds,
}

/// The selection flags of `cargo xpar`, by their names there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFilter {
    /// `FILTERS`: substrings of test names (whole names with `exact`).
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    skip: Vec<String>,
    #[serde(default)]
    ignored: bool,
    #[serde(default)]
    include_ignored: bool,
    /// `-m EXPR`.
    markers: Option<String>,
}

/// One field per [`Metric`], by its name; an unknown key is refused with the names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawThresholds {
    failure_rate: Option<String>,
    min: Option<String>,
    avg: Option<String>,
    p50: Option<String>,
    p90: Option<String>,
    p95: Option<String>,
    p99: Option<String>,
    max: Option<String>,
}

impl RawThresholds {
    fn get(&self, metric: Metric) -> Option<&String> {
        match metric {
            Metric::FailureRate => self.failure_rate.as_ref(),
            Metric::Min => self.min.as_ref(),
            Metric::Avg => self.avg.as_ref(),
            Metric::P50 => self.p50.as_ref(),
            Metric::P90 => self.p90.as_ref(),
            Metric::P95 => self.p95.as_ref(),
            Metric::P99 => self.p99.as_ref(),
            Metric::Max => self.max.as_ref(),
        }
    }
}

/// Reads `--plan`'s value: the JSON itself when it starts with `{`, else a file's path.
pub fn load(value: &str, defaults: &Defaults) -> Result<Vec<StressPlan>, UsageError> {
    if value.trim_start().starts_with('{') {
        return parse(value, "(inline JSON)", defaults);
    }
    let path = Path::new(value);
    let text = std::fs::read_to_string(path).map_err(|e| UsageError::StressPlanRead {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    parse(&text, value, defaults)
}

/// Parses and validates a plan document; `source` names it in errors.
pub fn parse(text: &str, source: &str, defaults: &Defaults) -> Result<Vec<StressPlan>, UsageError> {
    let bad = |path: String, message: String| UsageError::StressPlan {
        origin: source.to_owned(),
        path,
        message,
    };
    // serde would take an array for the struct's fields in order, and then name its
    // elements in its errors: confusing for a document that is not a plan at all.
    if !text.trim_start().starts_with('{') {
        return Err(bad(
            ".".into(),
            "not a JSON object: a plan file is {\"plans\": [...]}".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawFile = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| bad(e.path().to_string(), e.inner().to_string()))?;
    // Text after the document: a second document, a stray brace.
    de.end().map_err(|e| bad(".".into(), e.to_string()))?;
    if raw.plans.is_empty() {
        return Err(bad(
            "plans".into(),
            "no plan: give at least one, e.g. {\"name\": \"smoke\", \"count\": 100}".into(),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut plans = Vec::with_capacity(raw.plans.len());
    for (i, p) in raw.plans.iter().enumerate() {
        let at = |field: &str| format!("plans[{i}].{field}");
        if p.name.trim().is_empty() {
            return Err(bad(at("name"), "a plan's name cannot be empty".into()));
        }
        if let Some(first) = seen.insert(&p.name, i) {
            return Err(bad(
                at("name"),
                format!(
                    "duplicate plan name `{}` (also plans[{first}].name)",
                    p.name
                ),
            ));
        }
        plans.push(plan(p, defaults).map_err(|(field, why)| bad(at(&field), why))?);
    }
    Ok(plans)
}

/// One plan validated, or the field under the plan that is wrong and why.
fn plan(p: &RawPlan, defaults: &Defaults) -> Result<StressPlan, (String, String)> {
    let at_least_one = |field: &str, n: usize| {
        if n == 0 {
            Err((field.to_owned(), format!("must be at least 1, not {n}")))
        } else {
            Ok(n)
        }
    };
    let timeout = match &p.timeout {
        Some(t) => Some(limit_value(t).map_err(|why| {
            (
                "timeout".to_owned(),
                format!("invalid duration `{t}`: {why} (e.g. `30s`, `2m`, `1m 30s`)"),
            )
        })?),
        None => defaults.timeout,
    };
    let mut thresholds = Vec::new();
    for metric in Metric::ALL {
        if let Some(text) = p.thresholds.get(metric) {
            let t = Threshold::parse(metric, text)
                .map_err(|why| (format!("thresholds.{metric}"), why))?;
            thresholds.push(t);
        }
    }
    Ok(StressPlan {
        name: p.name.clone(),
        filter: filter(&p.filter)?,
        count: at_least_one("count", p.count)?,
        concurrency: match p.concurrency {
            Some(c) => at_least_one("concurrency", c)?,
            None => defaults.concurrency,
        },
        timeout,
        thresholds,
    })
}

fn filter(f: &RawFilter) -> Result<TestFilter, (String, String)> {
    let run_ignored = match (f.ignored, f.include_ignored) {
        (true, true) => {
            return Err((
                "filter".into(),
                "`ignored` and `include-ignored` cannot both be true".into(),
            ))
        }
        (true, false) => RunIgnored::Only,
        (false, true) => RunIgnored::Include,
        (false, false) => RunIgnored::Default,
    };
    let markers = f
        .markers
        .as_deref()
        .map(MarkerExpr::parse)
        .transpose()
        .map_err(|e| ("filter.markers".to_owned(), e.to_string()))?;
    Ok(TestFilter {
        patterns: f.names.clone(),
        exact: f.exact,
        skip: f.skip.clone(),
        run_ignored,
        markers,
    })
}

#[cfg(test)]
#[path = "stress_plan_tests.rs"]
mod tests;
