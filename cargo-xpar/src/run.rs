//! `cargo xpar [run]`: the run's options to the runner, the run on the terminal, then the
//! coverage table and the error that explains the exit code.

use crate::cli::{OutputWhen, RunConfig};
use crate::display::{DisplayOptions, Terminal};
use crate::errors::Error;
use crate::exit_codes;
use xpar_runner::coverage;
use xpar_runner::session::{self, RunOptions};

pub(crate) fn run(cfg: &RunConfig) -> Result<i32, Error> {
    let opts = RunOptions {
        cargo: cfg.cargo.clone(),
        filter: cfg.filter.clone(),
        jobs: cfg.jobs,
        dist: cfg.dist,
        reorder_scopes: cfg.reorder_scopes,
        require_parallel_safe: cfg.require_parallel_safe,
        keep_tmp: cfg.keep_tmp,
        max_fail: cfg.max_fail,
        timeouts: cfg.timeouts,
        run_timeout: cfg.run_timeout,
        retry: cfg.retry.clone(),
        flaky_is_failure: cfg.flaky_is_failure,
        max_worker_restart: cfg.max_worker_restart,
        // Shown, or written to the JSON report.
        keep_passing_output: cfg.success_output != OutputWhen::Never || cfg.json.is_some(),
        junit: cfg.junit.clone(),
        json: cfg.json.clone(),
        coverage: cfg.coverage.clone(),
        test_args: cfg.test_args.clone(),
    };
    let mut terminal = Terminal::new(DisplayOptions {
        quiet: cfg.cargo.quiet,
        verbose: cfg.cargo.verbose > 0,
        color: cfg.cargo.color,
        success_output: cfg.success_output,
        failure_output: cfg.failure_output,
        show_failures: true,
        expected: None,
    });
    let end = session::run(&opts, &mut terminal)?;
    terminal.finish(&end.record);
    if end.signal.is_some() {
        return Ok(end.exit_code);
    }
    if end.exit_code == exit_codes::NO_TESTS_RUN {
        eprintln!("error: no tests to run (the filters matched none)");
    }
    if let Some(result) = &end.coverage {
        show_coverage(result);
        if end.exit_code == exit_codes::COVERAGE_BELOW_THRESHOLD {
            let lines = result.summary.total.lines.percent();
            let min = end.fail_under_lines.unwrap_or_default();
            eprintln!("error: line coverage {lines:.2}% is below --fail-under-lines {min}");
        }
    }
    Ok(end.exit_code)
}

/// Prints the coverage table and where the reports went.
fn show_coverage(result: &coverage::CoverageResult) {
    eprintln!(
        "{:>12} merged from {}",
        "Coverage",
        result.profile_dir.display()
    );
    eprint!("{}", coverage::render(&result.summary));
    for f in &result.files {
        eprintln!("{:>12} {}", "Wrote", f.display());
    }
}
