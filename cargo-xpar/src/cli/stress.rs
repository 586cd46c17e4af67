//! `cargo xpar stress` validated: plain (`--count N` of the selected tests) into a
//! [`StressConfig`], or `--plan` into a [`StressPlansConfig`], whose plans take their
//! concurrency and timeout from `-j` and `--timeout` (then the config file) where they set
//! none.

use super::args::StressArgs;
use super::config::{build_filter, parse_jobs, parse_limit, Invocation};
use super::config_file;
use super::stress_plan;
use crate::errors::UsageError;
use crate::plan::{RunIgnored, TestFilter};
use crate::report::StressOutput;
use xpar_runner::session::{StressOptions, StressPlansOptions};

/// What `stress` will do, validated: the runner's options and how to print the report.
#[derive(Debug, Clone)]
pub struct StressConfig {
    pub stress: StressOptions,
    pub output: StressOutput,
}

/// What `stress --plan` will do, validated.
#[derive(Debug, Clone)]
pub struct StressPlansConfig {
    pub plans: StressPlansOptions,
    pub output: StressOutput,
}

pub(super) fn stress_invocation(args: StressArgs) -> Result<Invocation, UsageError> {
    let profile = config_file::load(
        args.cargo.manifest_path.as_deref(),
        None,
        args.profile.config_profile.as_deref(),
    )?;
    let (filter, _, test_args) = build_filter(args.filter)?;
    let concurrency = match (args.concurrency, profile.jobs) {
        (Some(c), _) => positive("--concurrency", c)?,
        (None, Some(jobs)) => jobs,
        (None, None) => parse_jobs("auto")?,
    };
    let timeout = match args.timeout.as_deref() {
        Some(t) => parse_limit("--timeout", Some(t))?,
        None => profile.timeout,
    };
    let output = args.output.into();
    let Some(plan) = args.plan else {
        let stress = StressOptions {
            cargo: args.cargo.into_options(),
            filter,
            test_args,
            // clap requires one of --count and --plan.
            count: positive("--count", args.count.unwrap_or_default())?,
            concurrency,
            stop_stable: args
                .stop_stable
                .map(|k| positive("--stop-stable", k))
                .transpose()?,
            timeout,
            cancel: None,
        };
        return Ok(Invocation::Stress(StressConfig { stress, output }));
    };
    if selects(&filter) {
        return Err(UsageError::PlanWithFilters);
    }
    let plans = stress_plan::load(
        &plan,
        &stress_plan::Defaults {
            concurrency,
            timeout,
        },
    )?;
    Ok(Invocation::StressPlans(StressPlansConfig {
        plans: StressPlansOptions {
            cargo: args.cargo.into_options(),
            test_args,
            plans,
        },
        output,
    }))
}

/// Whether the command line selects tests: with `--plan` each plan's filter does.
fn selects(filter: &TestFilter) -> bool {
    !filter.patterns.is_empty()
        || filter.exact
        || !filter.skip.is_empty()
        || filter.run_ignored != RunIgnored::Default
        || filter.markers.is_some()
}

fn positive(flag: &'static str, n: usize) -> Result<usize, UsageError> {
    if n == 0 {
        Err(UsageError::NotPositive { flag })
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_for_test as parse;
    use std::time::Duration;

    #[test]
    fn stress_options() {
        match parse(&[
            "stress",
            "one_in",
            "--count",
            "200",
            "--stop-stable",
            "20",
            "--output",
            "csv",
        ]) {
            Ok(Invocation::Stress(c)) => {
                assert_eq!((c.stress.count, c.stress.stop_stable), (200, Some(20)));
                assert_eq!(c.output, StressOutput::Csv);
                assert_eq!(c.stress.filter.patterns, ["one_in"]);
                assert!(c.stress.concurrency >= 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["stress"]).is_err(), "--count is required");
        let err = parse(&["stress", "--count", "0"]).unwrap_err();
        assert!(err.contains("--count must be at least 1"), "{err}");
    }

    #[test]
    fn stress_plan_options() {
        let plan = r#"{"plans": [{"name": "a", "count": 5}, {"name": "b", "count": 1,
            "concurrency": 1, "timeout": "2s"}]}"#;
        match parse(&[
            "stress",
            "--plan",
            plan,
            "-j",
            "4",
            "--timeout",
            "9s",
            "--",
            "--x",
        ]) {
            Ok(Invocation::StressPlans(c)) => {
                let p = &c.plans.plans;
                assert_eq!(
                    (p[0].concurrency, p[0].timeout),
                    (4, Some(Duration::from_secs(9)))
                );
                assert_eq!(
                    (p[1].concurrency, p[1].timeout),
                    (1, Some(Duration::from_secs(2)))
                );
                assert_eq!(c.plans.test_args, ["--x"]);
                assert_eq!(c.output, StressOutput::Table);
            }
            other => panic!("{other:?}"),
        }
        let table: &[(&[&str], &str)] = &[
            (
                &["stress", "--plan", plan, "--count", "3"],
                "ArgumentConflict",
            ),
            (
                &["stress", "--plan", plan, "--stop-stable", "3"],
                "ArgumentConflict",
            ),
            (&["stress", "--plan", plan, "one_in"], "give no FILTERS"),
            (
                &["stress", "--plan", plan, "--skip", "x"],
                "give no FILTERS",
            ),
            (
                &["stress", "--plan", plan, "--", "--exact"],
                "give no FILTERS",
            ),
            (
                &["stress", "--plan", plan, "-m", "serial"],
                "give no FILTERS",
            ),
            (
                &["stress", "--plan", plan, "-j", "0"],
                "--concurrency must be at least 1",
            ),
            (
                &["stress", "--plan", "{}"],
                "stress plan (inline JSON): missing field `plans`",
            ),
        ];
        for (args, want) in table {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
}
