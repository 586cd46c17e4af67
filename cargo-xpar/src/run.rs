//! `cargo xpar [run]`: build, list, plan and run the tests, show them, write the reports
//! and the history, and make the coverage report.

use crate::cli::{self, RunConfig};
use crate::display::{Display, DisplayOptions};
use crate::errors::Error;
use crate::execute::{execute, ExecuteOptions};
use crate::plan::{self, PlanOptions};
use crate::report::log::{self, RunHeader, RunLog};
use crate::report::{self, RunRecord};
use crate::{coverage, discover, exit_codes, history, Discovered};

pub(crate) fn run(cfg: &RunConfig) -> Result<i32, Error> {
    // Without the tools there is no report: say so before building anything.
    let coverage = cfg
        .coverage
        .as_ref()
        .map(coverage::CoverageSession::start)
        .transpose()?;
    let Discovered {
        list,
        target_dir,
        workspace_root,
    } = discover(&cfg.cargo, cfg.jobs, coverage.is_some())?;
    let profile_dir = match &coverage {
        Some(c) => Some(c.profile_dir(&target_dir)?),
        None => None,
    };
    let selection = plan::select(&list, &cfg.filter);
    // With nothing to run the error below says it all: no "Starting 0 tests", no summary.
    // The run still goes through, so that the reports asked for are written (empty) rather
    // than an earlier run's left in their place.
    let show = selection.run_count() > 0;
    // Instrumented tests run slower: their durations are kept apart.
    let history_path = match coverage {
        Some(_) => history::path(&discover::coverage_target_dir(&target_dir)),
        None => history::path(&target_dir),
    };
    let history = history::load(&history_path).unwrap_or_else(|why| {
        eprintln!(
            "warning: ignoring the duration history at {} ({why}); it is rebuilt by this run",
            history_path.display()
        );
        history::History::default()
    });
    let durations = &history.durations;
    let schedule = plan::plan(
        &list,
        &selection,
        durations,
        &PlanOptions {
            mode: cfg.dist,
            workers: cfg.dist.workers(cfg.jobs, selection.run_count()),
            reorder_scopes: cfg.reorder_scopes,
            require_parallel_safe: cfg.require_parallel_safe,
        },
    );
    let mut display = Display::new(DisplayOptions {
        quiet: cfg.cargo.quiet,
        verbose: cfg.cargo.verbose > 0,
        color: cfg.cargo.color,
        success_output: cfg.success_output,
        failure_output: cfg.failure_output,
        show_failures: true,
        expected: expected_time(&list, &selection, durations),
    });
    let mut record = RunRecord {
        flaky_is_failure: cfg.flaky_is_failure,
        ..RunRecord::default()
    };
    let opts = ExecuteOptions {
        max_fail: cfg.max_fail,
        timeouts: cfg.timeouts,
        run_timeout: cfg.run_timeout,
        retry: cfg.retry.clone(),
        pin_retries: cfg.dist == plan::DistMode::Each,
        stop_stable: None,
        max_crashes: cfg.max_worker_restart.unwrap_or(4 * schedule.workers()),
        run_ignored: cfg.filter.run_ignored,
        // Passing tests' output is read only when shown or written to the JSON report;
        // otherwise libtest's own capture spares the pipe (see `execute::batch`).
        capture: cfg.success_output == cli::OutputWhen::Never && cfg.json.is_none(),
        test_args: cfg.test_args.clone(),
        keep_tmp: cfg.keep_tmp,
        profile_dir: profile_dir.clone(),
        process_costs: history.processes.clone(),
    };
    let mut log = start_log(&target_dir, cfg);
    let end = execute(&list, selection, schedule, &opts, &mut |event| {
        if show {
            display.handle(&event);
        }
        if let Some(log) = &mut log {
            log.record(&event);
        }
        record.handle(&event);
    })?;
    if let Some(Err(e)) = log.map(RunLog::finish) {
        eprintln!("warning: could not record the run for `cargo xpar replay`: {e}");
    }
    if show {
        display.finish(&record);
    }
    let processes = end.process_costs.clone();
    if let Err(e) = history::save(&history_path, history, &record, processes) {
        eprintln!(
            "warning: could not update the duration history at {}: {e}",
            history_path.display()
        );
    }
    if let Some(path) = &cfg.junit {
        report::write_junit(&record, path)?;
    }
    if let Some(path) = &cfg.json {
        report::write_json(&record, cfg.dist.as_str(), path)?;
    }
    let mut code = record.exit_code();
    if let Some(sig) = end.signal {
        // Reports are written; coverage of an interrupted run is not made.
        return Ok(exit_codes::interrupted(sig));
    }
    if code == exit_codes::NO_TESTS_RUN {
        eprintln!("error: no tests to run (the filters matched none)");
    }
    if let (Some(session), Some(dir)) = (&coverage, &profile_dir) {
        if code != exit_codes::NO_TESTS_RUN {
            let result = session.finish(&list, dir, &target_dir, &workspace_root)?;
            code = code.max(report_coverage(&result, session.fail_under_lines(), code));
        }
    }
    Ok(code)
}

/// Starts the record of this run's events under the target dir; a warning, not an error,
/// when it cannot.
fn start_log(target_dir: &std::path::Path, cfg: &RunConfig) -> Option<RunLog> {
    let header = RunHeader::new(cfg.dist.as_str(), cfg.flaky_is_failure);
    match RunLog::create(&log::runs_dir(target_dir), &header) {
        Ok(log) => Some(log),
        Err(e) => {
            eprintln!("warning: could not record the run for `cargo xpar replay`: {e}");
            None
        }
    }
}

/// Prints the coverage table and where the reports went; the exit code the threshold
/// asks for when the tests themselves passed.
fn report_coverage(result: &coverage::CoverageResult, fail_under: Option<f64>, code: i32) -> i32 {
    eprintln!(
        "{:>12} merged from {}",
        "Coverage",
        result.profile_dir.display()
    );
    eprint!("{}", coverage::render(&result.summary));
    for f in &result.files {
        eprintln!("{:>12} {}", "Wrote", f.display());
    }
    let lines = result.summary.total.lines.percent();
    match fail_under {
        Some(min) if code == exit_codes::OK && lines < min => {
            eprintln!("error: line coverage {lines:.2}% is below --fail-under-lines {min}");
            exit_codes::COVERAGE_BELOW_THRESHOLD
        }
        _ => code,
    }
}

/// The sum of the expected times of the tests `selection` runs, if the history knows
/// every one of them (an opaque binary under its binary id).
fn expected_time(
    list: &discover::TestList,
    selection: &plan::Selection,
    durations: &plan::Durations,
) -> Option<std::time::Duration> {
    let mut total = 0.0;
    for unit in &selection.units {
        let id = list.binaries[unit.binary].binary.id.as_str();
        match &unit.tests {
            plan::UnitTests::Named(names) => {
                for name in names {
                    total += durations.get(id, name)?;
                }
            }
            plan::UnitTests::Opaque => total += durations.get(id, id)?,
        }
    }
    std::time::Duration::try_from_secs_f64(total).ok()
}
