//! `cargo xpar stress`: run the selected tests many times and print their statistics.

use crate::cli;
use crate::display::{Display, DisplayOptions};
use crate::errors::{Error, ReportError};
use crate::execute::{self, execute, ExecuteOptions};
use crate::report::{self, RunRecord};
use crate::{discover, exit_codes, plan};

pub(crate) fn stress(cfg: &cli::StressConfig) -> Result<i32, Error> {
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
