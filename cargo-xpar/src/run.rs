//! `cargo xpar [run]`: the run's options to the runner, the run on the terminal, then the
//! coverage table and the error that explains the exit code.

use crate::cli::RunConfig;
use crate::display::{DisplayOptions, Terminal};
use crate::errors::Error;
use crate::exit_codes;
use xpar_runner::coverage;
use xpar_runner::session;

pub(crate) fn run(cfg: &RunConfig) -> Result<i32, Error> {
    let mut terminal = Terminal::new(DisplayOptions {
        quiet: cfg.run.cargo.quiet,
        verbose: cfg.run.cargo.verbose > 0,
        color: cfg.run.cargo.color,
        success_output: cfg.success_output,
        failure_output: cfg.failure_output,
        show_failures: true,
        expected: None,
    });
    if let Some(said) = &cfg.partition_source {
        eprintln!("{:>12} {said}", "Partition");
    }
    // Bazel checks that a sharded test runner knew it was sharded.
    if let (Some(_), Some(status)) = (
        cfg.run.partition,
        std::env::var_os("TEST_SHARD_STATUS_FILE"),
    ) {
        if let Err(e) = std::fs::write(&status, b"") {
            eprintln!(
                "warning: could not touch TEST_SHARD_STATUS_FILE {}: {e}",
                std::path::Path::new(&status).display()
            );
        }
    }
    // Windows ends a test's processes at once (a job has no SIGTERM): a grace asked for
    // would silently be none.
    if cfg!(windows) && cfg.run.timeouts.grace != std::time::Duration::from_secs(5) {
        eprintln!(
            "warning: --timeout-grace has no effect on Windows: a test's processes are ended at once"
        );
    }
    let end = session::run(&cfg.run, &mut terminal)?;
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
pub(crate) fn show_coverage(result: &coverage::CoverageResult) {
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
