//! `cargo xpar stress`: run the selected tests many times and print their statistics; with
//! `--plan`, run each plan and print its figures against its thresholds.

use crate::cargo::ColorChoice;
use crate::cli::{OutputWhen, StressConfig, StressPlansConfig};
use crate::display::{DisplayOptions, Terminal};
use crate::errors::{Error, ReportError};
use crate::exit_codes;
use xpar_runner::report;
use xpar_runner::session;

pub(crate) fn stress(cfg: &StressConfig) -> Result<i32, Error> {
    let mut terminal = terminal(cfg.stress.cargo.color);
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

pub(crate) fn stress_plans(cfg: &StressPlansConfig) -> Result<i32, Error> {
    let mut terminal = terminal(cfg.plans.cargo.color);
    let end = session::stress_plans(&cfg.plans, &mut terminal)?;
    if let Some(none) = &end.no_tests {
        let why = match none.ignored {
            0 => format!("its filter matched none of the {} listed", none.listed),
            n => format!(
                "its filter matched only {n} ignored test{}; set `include-ignored` to run them",
                if n == 1 { "" } else { "s" }
            ),
        };
        eprintln!("error: stress plan `{}` selects no test ({why})", none.plan);
        return Ok(end.exit_code);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    report::write_stress_plans(&end.report, cfg.output, &mut out).map_err(ReportError::Stdout)?;
    Ok(end.exit_code)
}

/// The progress on stderr: no line per run, the summary only; the report says the rest.
fn terminal(color: ColorChoice) -> Terminal {
    Terminal::new(DisplayOptions {
        quiet: true,
        verbose: false,
        color,
        success_output: OutputWhen::Never,
        failure_output: OutputWhen::Never,
        show_failures: false,
        expected: None,
    })
}
