//! `cargo xpar stress`: each selected test run many times, each run a process of its own;
//! as plain stress ([`stress`]), or as named plans held to thresholds ([`stress_plans`]).

use std::time::Duration;

use xpar_metadata::StressPlanReport;

use super::{discover, Reporter};
use crate::cargo::CargoOptions;
use crate::discover::TestList;
use crate::errors::{Error, UsageError};
use crate::execute::{self, execute, CancelHandle, ExecuteOptions, Timeouts};
use crate::exit_codes;
use crate::plan::{self, TestFilter};
use crate::report::{self, PlanSettings, RunRecord, TestStress, Threshold};

/// A stress run, validated.
#[derive(Debug, Clone)]
pub struct StressOptions {
    pub cargo: CargoOptions,
    pub filter: TestFilter,
    pub test_args: Vec<String>,
    pub count: usize,
    pub concurrency: usize,
    pub stop_stable: Option<usize>,
    pub timeout: Option<Duration>,
    /// A handle to stop the runs from outside (an MCP client cancelling its call);
    /// `None` on the command line, which signals stop.
    pub cancel: Option<CancelHandle>,
}

/// How a stress run ended.
pub struct StressEnd {
    pub record: RunRecord,
    /// Each test's statistics; empty when no test was selected.
    pub stats: Vec<TestStress>,
    /// The signal that stopped the run, if one did.
    pub signal: Option<i32>,
    /// The exit code the run asks for.
    pub exit_code: i32,
}

/// Every run is planned up front, and reported: more is a clear error.
pub const MAX_STRESS_RUNS: usize = 10_000_000;

/// Runs every selected test `count` times, each run a process of its own.
pub fn stress(opts: &StressOptions, reporter: &mut dyn Reporter) -> Result<StressEnd, Error> {
    let list = discover(&opts.cargo, opts.concurrency, false, true)?.list;
    let selection = plan::select(&list, &opts.filter);
    if selection.run_count() == 0 {
        return Ok(StressEnd {
            record: RunRecord::default(),
            stats: Vec::new(),
            signal: None,
            exit_code: exit_codes::NO_TESTS_RUN,
        });
    }
    check_run_count(None, selection.run_count(), opts.count)?;
    let runs = Runs {
        count: opts.count,
        concurrency: opts.concurrency,
        timeout: opts.timeout,
        stop_stable: opts.stop_stable,
        run_ignored: opts.filter.run_ignored,
        test_args: &opts.test_args,
        cancel: opts.cancel.clone(),
    };
    let (record, signal) = run_many(&list, selection, &runs, reporter)?;
    let stats = report::summarise(&record.outcomes);
    let exit_code = match signal {
        Some(sig) => exit_codes::interrupted(sig),
        None if stats.iter().any(|t| t.failures > 0) => exit_codes::TEST_RUN_FAILED,
        None => exit_codes::OK,
    };
    Ok(StressEnd {
        record,
        stats,
        signal,
        exit_code,
    })
}

/// One named plan of a stress run, validated.
#[derive(Debug, Clone)]
pub struct StressPlan {
    pub name: String,
    pub filter: TestFilter,
    pub count: usize,
    pub concurrency: usize,
    pub timeout: Option<Duration>,
    pub thresholds: Vec<Threshold>,
}

/// Stress plans, validated: one build for all of them.
#[derive(Debug, Clone)]
pub struct StressPlansOptions {
    pub cargo: CargoOptions,
    /// Extra arguments for every test process.
    pub test_args: Vec<String>,
    /// At least one, names unique.
    pub plans: Vec<StressPlan>,
}

/// How stress plans ended.
pub struct StressPlansEnd {
    /// The plans that ran (none when one of them selects no test).
    pub report: StressPlanReport,
    /// The first plan whose filter selected no test to run: no plan ran.
    pub no_tests: Option<NoTests>,
    /// The signal that stopped the run, if one did; the plans after it did not run.
    pub signal: Option<i32>,
    /// The exit code: a missed threshold is a failed run, failed runs within the
    /// thresholds are not.
    pub exit_code: i32,
}

/// A plan that selects no test to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoTests {
    pub plan: String,
    /// The tests listed, all of them left out by the plan's filter or ignored.
    pub listed: usize,
    /// Those the filter matched that are `#[ignore]`d (the plan has no `include-ignored`).
    pub ignored: usize,
}

/// Builds once, checks that every plan selects tests, then runs the plans one after
/// another, each its tests `count` times at its concurrency, and holds each to its
/// thresholds.
pub fn stress_plans(
    opts: &StressPlansOptions,
    reporter: &mut dyn Reporter,
) -> Result<StressPlansEnd, Error> {
    let jobs = opts.plans.iter().map(|p| p.concurrency).max().unwrap_or(1);
    let list = discover(&opts.cargo, jobs, false, true)?.list;
    let mut selections = Vec::with_capacity(opts.plans.len());
    for p in &opts.plans {
        let selection = plan::select(&list, &p.filter);
        if selection.run_count() == 0 {
            let ignored = selection.ignored.len();
            return Ok(StressPlansEnd {
                report: report::plans_report(Vec::new()),
                no_tests: Some(NoTests {
                    plan: p.name.clone(),
                    listed: selection.filtered_out + ignored,
                    ignored,
                }),
                signal: None,
                exit_code: exit_codes::NO_TESTS_RUN,
            });
        }
        check_run_count(Some(&p.name), selection.run_count(), p.count)?;
        selections.push(selection);
    }
    let mut results = Vec::with_capacity(opts.plans.len());
    let mut signal = None;
    for (p, selection) in opts.plans.iter().zip(selections) {
        let tests = selection.run_count();
        reporter.note(
            "Plan",
            &format!(
                "{}: {tests} test{} x {} runs, {} at once",
                p.name,
                if tests == 1 { "" } else { "s" },
                p.count,
                p.concurrency
            ),
        );
        let runs = Runs {
            count: p.count,
            concurrency: p.concurrency,
            timeout: p.timeout,
            stop_stable: None,
            run_ignored: p.filter.run_ignored,
            test_args: &opts.test_args,
            cancel: None,
        };
        let (record, stopped) = run_many(&list, selection, &runs, reporter)?;
        reporter.plan_finished(&record);
        let settings = PlanSettings {
            name: &p.name,
            tests,
            count: p.count,
            concurrency: p.concurrency,
            timeout: p.timeout,
            thresholds: &p.thresholds,
        };
        results.push(report::plan_result(&settings, &record.outcomes));
        if stopped.is_some() {
            signal = stopped;
            break;
        }
    }
    let report = report::plans_report(results);
    let exit_code = match signal {
        Some(sig) => exit_codes::interrupted(sig),
        None if !report.passed => exit_codes::TEST_RUN_FAILED,
        None => exit_codes::OK,
    };
    Ok(StressPlansEnd {
        report,
        no_tests: None,
        signal,
        exit_code,
    })
}

/// More runs than can be planned is one clear error, not an allocation failure.
fn check_run_count(plan: Option<&str>, tests: usize, count: usize) -> Result<(), Error> {
    if tests.saturating_mul(count) <= MAX_STRESS_RUNS {
        return Ok(());
    }
    Err(match plan {
        None => UsageError::TooManyStressRuns {
            tests,
            count,
            max: MAX_STRESS_RUNS,
        },
        Some(plan) => UsageError::TooManyPlanRuns {
            plan: plan.to_owned(),
            tests,
            count,
            max: MAX_STRESS_RUNS,
        },
    }
    .into())
}

/// How the tests of one stress run run.
struct Runs<'a> {
    count: usize,
    concurrency: usize,
    timeout: Option<Duration>,
    stop_stable: Option<usize>,
    run_ignored: plan::RunIgnored,
    test_args: &'a [String],
    cancel: Option<CancelHandle>,
}

/// Runs every test of `selection` `count` times, each run a process of its own; the
/// record of every run, and the signal that stopped them, if one did.
fn run_many(
    list: &TestList,
    selection: plan::Selection,
    runs: &Runs,
    reporter: &mut dyn Reporter,
) -> Result<(RunRecord, Option<i32>), Error> {
    let total = selection.run_count().saturating_mul(runs.count);
    let workers = runs.concurrency.min(total);
    let schedule = plan::stress_schedule(list, &selection, runs.count, workers);
    reporter.planned(true, None);
    let mut record = RunRecord::default();
    let exec = ExecuteOptions {
        max_fail: None,
        run_ignored: runs.run_ignored,
        capture: true,
        test_args: runs.test_args.to_vec(),
        keep_tmp: false,
        profile_dir: None,
        timeouts: Timeouts {
            test: runs.timeout,
            grace: Duration::from_secs(5),
            ..Timeouts::default()
        },
        run_timeout: None,
        retry: execute::RetryPolicy::default(),
        pin_retries: false,
        stop_stable: runs.stop_stable,
        // Crashes are what stress is for: never stop for them.
        max_crashes: usize::MAX,
        process_costs: plan::ProcessCosts::new(),
        run_id: None,
        cancel: runs.cancel.clone(),
    };
    let end = execute(list, selection, schedule, &exec, &mut |event| {
        reporter.event(&event);
        record.handle(&event);
    })?;
    Ok((record, end.signal))
}
