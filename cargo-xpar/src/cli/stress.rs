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
