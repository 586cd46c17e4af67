//! `cargo xpar replay [RUN-ID|latest]`: a recorded run shown again, and its JUnit, JSON
//! and HTML reports written, from the record alone (`<target-dir>/xpar/runs/<run-id>/`). The
//! exit code is the one the run itself had (coverage aside, which is not recorded).

use crate::cli::ReplayConfig;
use crate::display::{Display, DisplayOptions};
use crate::errors::Error;
use crate::report::log;
use crate::report::{self, RunEvent, RunRecord};
use crate::{discover, exit_codes};

pub(crate) fn replay(cfg: &ReplayConfig) -> Result<i32, Error> {
    let target_dir = discover::target_dir(&cfg.cargo)?;
    let runs = log::runs_dir(&target_dir);
    let (header, events) = log::find(&runs, &cfg.run)
        .and_then(|dir| log::read(&dir))
        .map_err(Error::RunLog)?;
    let mut display = Display::new(DisplayOptions {
        quiet: cfg.cargo.quiet,
        verbose: cfg.cargo.verbose > 0,
        color: cfg.cargo.color,
        success_output: cfg.success_output,
        failure_output: cfg.failure_output,
        show_failures: true,
        expected: None,
    });
    let mut record = RunRecord {
        flaky_is_failure: header.flaky_is_failure,
        ..RunRecord::default()
    };
    // As the run showed it: nothing when it had no test to run.
    let show = events
        .iter()
        .any(|e| matches!(e, RunEvent::RunStarted { to_run, .. } if *to_run > 0));
    let mut signal = None;
    for event in &events {
        if show {
            display.handle(event);
        }
        if let RunEvent::Stopping { signal: s } = event {
            signal = Some(*s);
        }
        record.handle(event);
    }
    if show {
        display.finish(&record);
    }
    if let Some(path) = &cfg.junit {
        report::write_junit(&record, path)?;
    }
    let meta = report::ReportMeta {
        run_id: Some(header.run_id.clone()),
        ..report::ReportMeta::default()
    };
    if let Some(path) = &cfg.json {
        report::write_json(&record, &header.dist, &meta, path)?;
    }
    if let Some(path) = &cfg.html {
        // Coverage is not recorded: the page has no coverage table.
        let r = report::run_report(&record, &header.dist, &meta);
        report::write_html(&r, None, path)?;
    }
    if let Some(sig) = signal {
        return Ok(exit_codes::interrupted(sig));
    }
    let code = record.exit_code();
    if code == exit_codes::NO_TESTS_RUN {
        eprintln!("error: no tests to run (the filters matched none)");
    }
    Ok(code)
}
