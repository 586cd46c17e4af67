//! `cargo xpar stress`: run the selected tests many times and print their statistics.

use crate::cli::{OutputWhen, StressConfig};
use crate::display::{DisplayOptions, Terminal};
use crate::errors::{Error, ReportError};
use crate::exit_codes;
use xpar_runner::report;
use xpar_runner::session::{self, StressOptions};

pub(crate) fn stress(cfg: &StressConfig) -> Result<i32, Error> {
    let opts = StressOptions {
        cargo: cfg.cargo.clone(),
        filter: cfg.filter.clone(),
        test_args: cfg.test_args.clone(),
        count: cfg.count,
        concurrency: cfg.concurrency,
        stop_stable: cfg.stop_stable,
        timeout: cfg.timeout,
    };
    let mut terminal = Terminal::new(DisplayOptions {
        quiet: true,
        verbose: false,
        color: cfg.cargo.color,
        success_output: OutputWhen::Never,
        failure_output: OutputWhen::Never,
        show_failures: false,
        expected: None,
    });
    let end = session::stress(&opts, &mut terminal)?;
    if end.exit_code == exit_codes::NO_TESTS_RUN {
        eprintln!("error: no tests to run (the filters matched none)");
        return Ok(end.exit_code);
    }
    terminal.finish(&end.record);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    report::write_stress(&end.stats, cfg.output, &mut out).map_err(ReportError::Stdout)?;
    Ok(end.exit_code)
}
