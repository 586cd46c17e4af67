//! cargo-xpar: run a workspace's tests in parallel worker processes, batching many tests
//! into each process and losing no result.
//!
//! The stages, each with one contract to the next:
//! discover (cargo, `--list`) -> plan (pure) -> execute (processes) -> report (events).

pub mod cli;
pub mod coverage;
pub mod discover;
pub mod errors;
pub mod execute;
pub mod exit_codes;
pub mod history;
pub mod plan;
pub mod process;
pub mod report;

use std::ffi::OsString;

use clap::Parser;

use cli::{CargoCli, Invocation, ListConfig, RunConfig};
use errors::{Error, ReportError};
use execute::{execute, ExecuteOptions};
use plan::PlanOptions;
use report::{Display, DisplayOptions, RunRecord};

/// Runs `cargo xpar` with these arguments (the first is the program name) and returns the
/// exit code. Prints errors itself, once.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // Run directly as `cargo-xpar ...` rather than through cargo: supply the `xpar`.
    if args.get(1).is_none_or(|a| a != "xpar") {
        args.insert(1.min(args.len()), "xpar".into());
    }
    let cli = match CargoCli::try_parse_from(&args) {
        Ok(cli) => cli,
        // clap returns --help and --version as errors too: those print as they are.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return exit_codes::OK;
        }
        Err(e) => {
            eprintln!("{}", cli::clap_error_line(&e));
            return exit_codes::USAGE;
        }
    };
    let CargoCli::Xpar(app) = cli;
    let result = app
        .into_invocation()
        .map_err(Error::from)
        .and_then(|inv| match inv {
            Invocation::Run(cfg) => run(&cfg),
            Invocation::List(cfg) => list(&cfg),
            Invocation::Stress(cfg) => stress(&cfg),
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            e.exit_code()
        }
    }
}

fn print_error(e: &Error) {
    if e.already_shown() {
        return;
    }
    let mut text = format!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text += &format!("\n  caused by: {s}");
        source = s.source();
    }
    eprintln!("{text}");
}

/// The built and listed tests, and where the workspace and its target dir are.
struct Discovered {
    list: discover::TestList,
    target_dir: std::path::PathBuf,
    workspace_root: std::path::PathBuf,
}

fn discover(cargo: &cli::CargoOptions, jobs: usize, coverage: bool) -> Result<Discovered, Error> {
    let build = discover::build_test_binaries(cargo, coverage)?;
    let mut list = discover::list_all(build.binaries, jobs)?;
    // Build order depends on which crate finished compiling first; ids do not.
    list.binaries.sort_by(|a, b| a.binary.id.cmp(&b.binary.id));
    Ok(Discovered {
        list,
        target_dir: build.target_dir,
        workspace_root: build.workspace_root,
    })
}

fn run(cfg: &RunConfig) -> Result<i32, Error> {
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
    let history = history::load(&history_path);
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
    let end = execute(&list, selection, schedule, &opts, &mut |event| {
        if show {
            display.handle(&event);
        }
        record.handle(&event);
    })?;
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
        report::write_json(&record, cfg.dist, path)?;
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

fn stress(cfg: &cli::StressConfig) -> Result<i32, Error> {
    let list = discover(&cfg.cargo, cfg.concurrency, false)?.list;
    let selection = plan::select(&list, &cfg.filter);
    if selection.run_count() == 0 {
        eprintln!("error: no tests to run (the filters matched none)");
        return Ok(exit_codes::NO_TESTS_RUN);
    }
    // Every run is planned up front, and reported: bound them, as a clear error.
    const MAX_STRESS_RUNS: usize = 10_000_000;
    let runs = selection.run_count().saturating_mul(cfg.count);
    if runs > MAX_STRESS_RUNS {
        eprintln!(
            "error: {} tests x --count {} is more than {MAX_STRESS_RUNS} runs; select fewer tests \
             or lower --count",
            selection.run_count(),
            cfg.count
        );
        return Ok(exit_codes::USAGE);
    }
    let workers = cfg.concurrency.min(runs);
    let schedule = plan::stress_schedule(&list, &selection, cfg.count, workers);
    let mut display = Display::new(DisplayOptions {
        quiet: true,
        verbose: false,
        color: cfg.cargo.color,
        success_output: cli::OutputWhen::Never,
        failure_output: cli::OutputWhen::Never,
        show_failures: false,
        expected: None,
    });
    let mut record = RunRecord::default();
    let opts = ExecuteOptions {
        max_fail: None,
        run_ignored: cfg.filter.run_ignored,
        capture: true,
        test_args: cfg.test_args.clone(),
        keep_tmp: false,
        profile_dir: None,
        timeouts: execute::Timeouts {
            test: cfg.timeout,
            grace: std::time::Duration::from_secs(5),
            ..execute::Timeouts::default()
        },
        run_timeout: None,
        retry: execute::RetryPolicy::default(),
        pin_retries: false,
        stop_stable: cfg.stop_stable,
        // Crashes are what stress is for: never stop for them.
        max_crashes: usize::MAX,
        process_costs: plan::ProcessCosts::new(),
    };
    let end = execute(&list, selection, schedule, &opts, &mut |event| {
        display.handle(&event);
        record.handle(&event);
    })?;
    display.finish(&record);
    let stats = report::summarise(&record.outcomes);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    report::write_stress(&stats, cfg.output, &mut out).map_err(ReportError::Stdout)?;
    Ok(match end.signal {
        Some(sig) => exit_codes::interrupted(sig),
        None if stats.iter().any(|t| t.failures > 0) => exit_codes::TEST_RUN_FAILED,
        None => exit_codes::OK,
    })
}

fn list(cfg: &ListConfig) -> Result<i32, Error> {
    let jobs = cli::parse_jobs("auto")?;
    let list = discover(&cfg.cargo, jobs, false)?.list;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    report::write_list(&list, &cfg.filter, cfg.format, &mut out).map_err(ReportError::Stdout)?;
    Ok(exit_codes::OK)
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
