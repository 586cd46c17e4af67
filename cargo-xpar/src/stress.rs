//! `cargo xpar stress`: run the selected tests many times and print their statistics.

use crate::cli::{OutputWhen, StressConfig};
use crate::display::{DisplayOptions, Terminal};
use crate::errors::{Error, ReportError};
use crate::exit_codes;
use xpar_runner::report;
use xpar_runner::session;

pub(crate) fn stress(cfg: &StressConfig) -> Result<i32, Error> {
    let mut terminal = Terminal::new(DisplayOptions {
        quiet: true,
        verbose: false,
        color: cfg.stress.cargo.color,
        success_output: OutputWhen::Never,
        failure_output: OutputWhen::Never,
        show_failures: false,
        expected: None,
    });
    let end = session::stress(&cfg.stress, &mut terminal)?;
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
